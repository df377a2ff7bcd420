#!/usr/bin/env python3
"""Fit the weights of the search's second look (`knowledge-base/src/title_match.rs`, `WEIGHTS`).

Input: the output of `knowledge-base/examples/hits.rs --signals` for question sets, one file per set.
Each question's first service items and FAQ entries carry their signals (fused score, name cosine,
qualifier evidence, ...). The model is a softmax over those candidates of weights . signals, fitted to
put the expected entry first (log-likelihood, L2 penalty, Adam on standardised signals); the fused
score's weight is then scaled to 1, as `WEIGHTS` holds it. Questions whose expected entry is not among
the candidates, or that are all expected, teach nothing and are skipped.

    cargo build --release -p govassist-kb --example hits
    for set in eval/retrieval_holdout*.jsonl eval/devmix_1.jsonl ...; do
        target/release/examples/hits DATA/index $set --signals > signals/$(basename $set)
    done
    scripts/fit-rerank.py signals/*.jsonl [--test signals/devmix_4.jsonl]

Prints recall@1 of the current `WEIGHTS` (parsed from title_match.rs) and of the fitted weights on
each set left out in turn (leave-one-set-out), then on the --test sets (never fitted on), and the
fitted weights as Rust. Standard library only.
"""
import argparse
import json
import math
import os
import re

ITERATIONS = 300
L2 = 1e-3
STEP = 0.05


def load(path):
    """[(expected flags, signal rows)] for the questions that have signals."""
    questions = []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            case = json.loads(line)
            expected = set(case.get("expected_ids") or [])
            rows = [(hit["id"] in expected, hit["signals"]) for hit in case["hits"] if hit.get("signals")]
            if expected and rows:
                questions.append(([e for e, _ in rows], [s for _, s in rows]))
    return questions


def current_weights():
    path = os.path.join(os.path.dirname(__file__), "..", "knowledge-base", "src", "title_match.rs")
    with open(path, encoding="utf-8") as source:
        text = source.read()
    body = re.search(r"pub const WEIGHTS: \[f32; \d+\] =\s*\[([^\]]*)\]", text).group(1)
    return [float(x) for x in body.replace("\n", " ").split(",") if x.strip()]


def first_is_right(question, weights):
    expected, rows = question
    scores = [sum(w * x for w, x in zip(weights, row)) for row in rows]
    best = max(range(len(rows)), key=lambda i: (scores[i], -i))  # ties keep the fused order
    return expected[best]


def fit(questions, dim):
    usable = [(e, r) for e, r in questions if any(e) and not all(e)]
    # Standardise each signal over all candidates; centre per question (softmax ignores shifts).
    flat = [row for _, rows in usable for row in rows]
    mean = [sum(row[j] for row in flat) / len(flat) for j in range(dim)]
    scale = [math.sqrt(sum((row[j] - mean[j]) ** 2 for row in flat) / len(flat)) or 1.0 for j in range(dim)]
    data = []
    for expected, rows in usable:
        z = [[(row[j] - mean[j]) / scale[j] for j in range(dim)] for row in rows]
        centre = [sum(r[j] for r in z) / len(z) for j in range(dim)]
        data.append((expected, [[r[j] - centre[j] for j in range(dim)] for r in z]))
    w, m, v = [0.0] * dim, [0.0] * dim, [0.0] * dim
    for t in range(1, ITERATIONS + 1):
        grad = [0.0] * dim
        for expected, rows in data:
            scores = [sum(a * b for a, b in zip(w, r)) for r in rows]
            top = max(scores)
            p = [math.exp(s - top) for s in scores]
            total = sum(p)
            p = [x / total for x in p]
            right = sum(x for x, e in zip(p, expected) if e)
            for x, e, r in zip(p, expected, rows):
                coefficient = x - (x / right if e else 0.0)
                for j in range(dim):
                    grad[j] += coefficient * r[j]
        for j in range(dim):
            g = grad[j] / len(data) + L2 * w[j]
            m[j] = 0.9 * m[j] + 0.1 * g
            v[j] = 0.999 * v[j] + 0.001 * g * g
            w[j] -= STEP * (m[j] / (1 - 0.9**t)) / (math.sqrt(v[j] / (1 - 0.999**t)) + 1e-8)
    raw = [w[j] / scale[j] for j in range(dim)]
    return [x / raw[0] for x in raw]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="+", help="hits --signals outputs to fit on")
    parser.add_argument("--test", nargs="*", default=[], help="hits --signals outputs to score only")
    args = parser.parse_args()
    sets = {os.path.basename(path): load(path) for path in args.sets}
    current = current_weights()
    dim = len(current)
    print(f"{'left out':28} {'n':>5} {'current':>8} {'fitted':>8}")
    totals = [0, 0, 0]
    for name, questions in sets.items():
        rest = [q for other, qs in sets.items() if other != name for q in qs]
        fitted = fit(rest, dim)
        now = sum(first_is_right(q, current) for q in questions)
        new = sum(first_is_right(q, fitted) for q in questions)
        totals = [totals[0] + len(questions), totals[1] + now, totals[2] + new]
        print(f"{name:28} {len(questions):5} {now:8} {new:8}")
    print(f"{'all (each left out)':28} {totals[0]:5} {totals[1]:8} {totals[2]:8}")
    fitted = fit([q for qs in sets.values() for q in qs], dim)
    for path in args.test:
        questions = load(path)
        now = sum(first_is_right(q, current) for q in questions)
        new = sum(first_is_right(q, fitted) for q in questions)
        print(f"{'test ' + os.path.basename(path):28} {len(questions):5} {now:8} {new:8}")
    print("pub const WEIGHTS: [f32; %d] = [%s];" % (dim, ", ".join(f"{x:.4}" for x in fitted)))


if __name__ == "__main__":
    main()
