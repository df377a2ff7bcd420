#!/usr/bin/env python3
"""Appends one measured round of unseen sets to the scope banks (see eval/WRITING.md).

    scripts/bank-eval-sets.py --stop 51 --round 90 --devmix 72

Adds eval/in_scope_R and eval/devmix_D to runtime/data/scope_in.txt and eval/chat_decline_R to
runtime/data/scope_out.tsv (reasons mapped stock_tips → investment, injection → prompt_injection),
each under a `# Stop S: …` header naming the sets to measure next; the previous last header loses its
"Measure …" clause. Questions already banked are skipped. Run it from the repository root, and only
after the round's first measurement: banked questions are no longer unseen.
"""
import argparse
import json
import re
from pathlib import Path

REASONS = {"stock_tips": "investment", "injection": "prompt_injection"}


def questions(name: str) -> list:
    lines = open(f"eval/{name}.jsonl", encoding="utf-8").read().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def one_line(text: str) -> str:
    return text.replace("\n", " ").replace("\t", " ").strip()


def without_last_measure(text: str, clause: str) -> str:
    start = text.rfind("\n# Stop ")
    end = text.index("\n", start + 1)
    return text[:start] + re.sub(rf" {clause} .*", "", text[start:end]) + text[end:]


def append(path: Path, header: str, lines: list, clause: str) -> int:
    text = without_last_measure(path.read_text(encoding="utf-8"), clause)
    banked = set(text.splitlines())
    new = []
    for line in lines:
        if line not in banked:
            new.append(line)
            banked.add(line)
    path.write_text(text.rstrip("\n") + "\n" + "\n".join([header] + new) + "\n", encoding="utf-8")
    return len(new)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stop", type=int, required=True)
    parser.add_argument("--round", type=int, required=True, help="the in_scope / chat_decline number")
    parser.add_argument("--devmix", type=int, required=True)
    args = parser.parse_args()
    r, d = args.round, args.devmix
    header = (f"# Stop {args.stop}: eval/in_scope_{r} and devmix_{d}. "
              f"Measure false declines on in_scope_{r + 1}, devmix_{d + 1} and later.")
    lines = [one_line(q["question"]) for q in questions(f"in_scope_{r}") + questions(f"devmix_{d}")]
    added = append(Path("runtime/data/scope_in.txt"), header, lines, "Measure false declines on")
    print(f"scope_in.txt: +{added}")
    header = f"# Stop {args.stop}: eval/chat_decline_{r}. Measure on chat_decline_{r + 1} and later."
    lines = [REASONS.get(q["category"], q["category"]) + "\t" + one_line(q["question"])
             for q in questions(f"chat_decline_{r}")]
    added = append(Path("runtime/data/scope_out.tsv"), header, lines, "Measure on")
    print(f"scope_out.tsv: +{added}")


if __name__ == "__main__":
    main()
