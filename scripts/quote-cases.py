#!/usr/bin/env python3
"""Turn question sets into cases for `runtime/examples/quote_eval.rs`: each question with the passages
a running govassist retrieves for it (the chat's pool of five), its expected ids, and its answer
string when the set has one (staff sets). Service questions, without answers, are scored there by
whether the quoted passage is an expected one.

    target/release/govassist serve --no-model --bind 127.0.0.1:8099 &
    scripts/quote-cases.py --url http://127.0.0.1:8099 knowledge-base/eval/staff_factual_5.jsonl \\
        | target/release/examples/quote_eval

Standard library only. English questions are searched as written: the chat translates them first,
so their figures here understate the chat's.
"""
import argparse
import json
import urllib.parse
import urllib.request


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    args = parser.parse_args()
    for path in args.files:
        with open(path, encoding="utf-8") as lines:
            for line in lines:
                if not line.strip():
                    continue
                question = json.loads(line)
                if question.get("expected") == "decline":
                    continue
                query = urllib.parse.urlencode({"q": question["question"], "k": 5})
                with urllib.request.urlopen(f"{args.url}/v1/kb/search?{query}") as response:
                    hits = json.load(response)["hits"]
                case = {
                    "id": question["id"],
                    "question": question["question"],
                    "answer": question.get("answer", ""),
                    "expected_ids": question.get("expected_ids", []),
                    "hit_ids": [hit["doc_id"] for hit in hits],
                    "passages": [hit["passage"] for hit in hits],
                }
                print(json.dumps(case, ensure_ascii=False))


if __name__ == "__main__":
    main()
