#!/usr/bin/env python3
"""The misses of one `govassist chat eval` run, for reading before any change.

    scripts/eval-misses.py RESULT.txt eval/SET.jsonl [--data ../shared/data]

RESULT.txt is the run's standard output (one JSON line per question, the summary last). Prints each
decline question answered, each in-scope question declined, and each citation miss with the expected
and cited entries' names, so that a miss reads without opening the data.
"""
import argparse
import json
from pathlib import Path


def entry_names(data: Path) -> dict:
    names = {}
    for line in open(data / "service-items/guangdong_service_items.jsonl", encoding="utf-8"):
        record = json.loads(line)
        names[record["id"]] = record.get("事项名称", "")
    for line in open(data / "faq/taipei_faq.jsonl", encoding="utf-8"):
        record = json.loads(line)
        names[record["id"]] = record.get("question", "")
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("result", type=Path)
    parser.add_argument("questions", type=Path)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data")
    args = parser.parse_args()
    questions = {}
    for line in open(args.questions, encoding="utf-8"):
        if line.strip():
            question = json.loads(line)
            questions[question["id"]] = question
    names = entry_names(args.data)
    named = lambda ids: [(i, names.get(i, "?")) for i in ids[:3]]
    for line in open(args.result, encoding="utf-8"):
        if not line.startswith('{"id"'):
            continue
        outcome = json.loads(line)
        question = questions[outcome["id"]]
        text = question["question"]
        if question.get("expected") == "decline":
            if not outcome["declined"]:
                print(f"ANSWERED {outcome['id']} [{question.get('category')}] {text}")
                print(f"   route={outcome['route']} reply={outcome['reply'][:80]!r}")
        elif outcome["declined"]:
            print(f"DECLINED {outcome['id']} [{question.get('trap', '')}] {text}")
            print(f"   reply={outcome['reply'][:100]!r}")
        elif not outcome["citation_ok"]:
            print(f"CITATION {outcome['id']} {text}")
            print(f"   want {named(question['expected_ids'])} evidence={question.get('evidence')!r}")
            print(f"   got  {named(outcome['cited'])} route={outcome['route']}")


if __name__ == "__main__":
    main()
