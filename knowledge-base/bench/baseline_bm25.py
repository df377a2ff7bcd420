#!/usr/bin/env python3
"""Reference baseline for `govassist kb eval`: a typical Python BM25 stack.

What the project's benchmark issue calls "a typical Python stack": jieba search-mode tokens after
OpenCC t2s conversion, ranked with rank_bm25's BM25Okapi, top-k picked with numpy over
`get_scores`. It exists so that `scripts/bench-kb.sh` can run it and our own search on the same
questions and print both side by side; it is a yardstick, not something the product uses.

Documents (from --data, default knowledge-base/data of this repository):
  * service items (service-items/*.jsonl): id = the item's id; text = 事项名称 followed by the other
    text fields (目录名称, 事项类型, 实施主体, 行政区划, 受理条件, 申请材料, 办理地点, time limits,
    咨询电话, 联办部门, 办理平台, 服务对象, 主题分类). URLs and yes/no flags are left out.
  * FAQ entries (faq/*.jsonl): id = the entry's id; text = question + answer.
  * staff documents (staff-docs/*.txt): split into passages `FILE#N` (N from 1) of whole sentences,
    a passage closed once it reaches ~300 characters (sentences end at 。！？；!?; or a line break).
    The document id of a passage is the file name, as in govassist. --no-staff-docs leaves them out
    (service items + FAQ only: the 4,129 documents the issue's figures were measured on).

Text is folded before tokenizing, for documents and queries alike: OpenCC t2s, full-width ASCII and
the ideographic space to half-width, lowercase. Tokens are `jieba.cut_for_search` output, without
tokens that contain no letter or digit (punctuation, spaces).

Evaluation follows `govassist kb eval` exactly: question file lines are
{"id","question","expected_ids":[...], "lang"?, "answer"?}; a hit is correct when its document id
(the id without `#N`) is in expected_ids and, if `answer` is given, the folded passage contains the
folded answer. Latency per query is wall clock (time.perf_counter) over tokenize + score + top-k.
Percentiles are nearest-rank. Output: a per-language table, then as the LAST line one JSON object
{"n","recall@1","recall@5","mrr","p50_ms","p95_ms"} (recall@5 is recall at --k, as in kb eval).

Needs: jieba, opencc-python-reimplemented, rank_bm25, numpy (scripts/bench-kb.sh installs them in a
virtualenv under target/).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

import jieba
import numpy as np
from opencc import OpenCC
from rank_bm25 import BM25Okapi

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = REPO_ROOT / "knowledge-base" / "data"

# Service-item fields that make up a document's text, in this order (事项名称 first).
SERVICE_ITEM_FIELDS = [
    "事项名称", "目录名称", "事项类型", "实施主体", "行政区划", "受理条件", "申请材料", "办理地点",
    "法定办结时限", "承诺办结时限", "咨询电话", "联办部门", "办理平台", "服务对象", "主题分类",
]
PASSAGE_TARGET_CHARS = 300
SENTENCE_END = re.compile(r"(?<=[。！？；!?;\n])")

_T2S = OpenCC("t2s")
_FULL_TO_HALF = {0x3000: " ", **{c: chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)}}


def fold(text: str) -> str:
    """Traditional → Simplified, full-width → half-width, lowercase (as govassist's `fold`)."""
    return _T2S.convert(text.translate(_FULL_TO_HALF)).lower()


def tokenize(text: str) -> list[str]:
    return [t for t in jieba.cut_for_search(fold(text)) if any(ch.isalnum() for ch in t)]


def field_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return " ".join(str(v) for v in value if v)
    return str(value)


def split_passages(text: str, target: int = PASSAGE_TARGET_CHARS) -> list[str]:
    """Whole sentences gathered into passages; a passage is closed once it reaches `target` chars."""
    passages, current = [], ""
    for sentence in SENTENCE_END.split(text):
        sentence = sentence.strip()
        if not sentence:
            continue
        current += sentence
        if len(current) >= target:
            passages.append(current)
            current = ""
    if current:
        passages.append(current)
    return passages


def load_documents(data: Path, staff_docs: bool = True) -> list[tuple[str, str]]:
    """(hit id, text) pairs of everything that is indexed."""
    docs: list[tuple[str, str]] = []
    for path in sorted((data / "service-items").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                item = json.loads(line)
                parts = (field_text(item.get(f)) for f in SERVICE_ITEM_FIELDS)
                docs.append((item["id"], "\n".join(p for p in parts if p)))
    for path in sorted((data / "faq").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                entry = json.loads(line)
                docs.append((entry["id"], f"{entry['question']}\n{entry['answer']}"))
    if staff_docs:
        for path in sorted((data / "staff-docs").glob("*.txt")):
            text = path.read_text(encoding="utf-8").lstrip("\ufeff")
            for i, passage in enumerate(split_passages(text), start=1):
                docs.append((f"{path.name}#{i}", passage))
    if not docs:
        sys.exit(f"error: no documents found under {data}")
    return docs


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile, as kb eval computes it."""
    if not sorted_values:
        return 0.0
    rank = math.ceil(p / 100.0 * len(sorted_values))
    return sorted_values[min(max(rank, 1), len(sorted_values)) - 1]


def metrics(outcomes: list[tuple[int | None, float]]) -> dict:
    """Figures over (rank of first correct hit or None, latency ms) pairs."""
    n = len(outcomes)
    if n == 0:
        return {"n": 0, "recall@1": 0.0, "recall@k": 0.0, "mrr": 0.0, "p50_ms": 0.0, "p95_ms": 0.0}
    ranks = [r for r, _ in outcomes if r is not None]
    latencies = sorted(ms for _, ms in outcomes)
    return {
        "n": n,
        "recall@1": sum(1 for r in ranks if r == 1) / n,
        "recall@k": len(ranks) / n,
        "mrr": sum(1.0 / r for r in ranks) / n,
        "p50_ms": percentile(latencies, 50.0),
        "p95_ms": percentile(latencies, 95.0),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--questions", required=True, type=Path, help="question file (JSON lines)")
    ap.add_argument("--k", type=int, default=5, help="hits kept per question (default 5)")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help=f"data directory (default {DEFAULT_DATA})")
    ap.add_argument("--no-staff-docs", action="store_true", help="index service items and FAQ only")
    args = ap.parse_args()
    if args.k < 1:
        ap.error("--k must be at least 1")

    jieba.setLogLevel(60)  # silence jieba's "Building prefix dict" chatter on stderr
    started = time.perf_counter()
    docs = load_documents(args.data, staff_docs=not args.no_staff_docs)
    ids = [doc_id for doc_id, _ in docs]
    folded_passages = [fold(text) for _, text in docs]
    bm25 = BM25Okapi([tokenize(text) for _, text in docs])
    print(f"baseline: indexed {len(docs)} documents/passages in {time.perf_counter() - started:.1f} s",
          file=sys.stderr)

    outcomes: dict[str, list[tuple[int | None, float]]] = defaultdict(list)
    everything: list[tuple[int | None, float]] = []
    k = min(args.k, len(docs))
    for lineno, line in enumerate(args.questions.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        q = json.loads(line)
        expected = set(q.get("expected_ids") or [])
        if not expected:
            sys.exit(f"error: {args.questions}:{lineno}: `expected_ids` is empty")
        answer = fold(q["answer"]) if q.get("answer") else None

        t0 = time.perf_counter()
        scores = bm25.get_scores(tokenize(q["question"]))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        latency_ms = (time.perf_counter() - t0) * 1e3

        rank = None
        for position, i in enumerate(top, start=1):
            doc_id = ids[i].split("#", 1)[0]
            if doc_id in expected and (answer is None or answer in folded_passages[i]):
                rank = position
                break
        outcomes[q.get("lang") or "unknown"].append((rank, latency_ms))
        everything.append((rank, latency_ms))

    print(f"{'lang':<10} {'n':>4} {'recall@1':>9} {f'recall@{args.k}':>9} {'mrr':>7} {'p50_ms':>8} {'p95_ms':>8}")
    for lang, m in [*((lang, metrics(o)) for lang, o in sorted(outcomes.items())), ("all", metrics(everything))]:
        print(f"{lang:<10} {m['n']:>4} {m['recall@1']:>9.3f} {m['recall@k']:>9.3f} {m['mrr']:>7.3f} "
              f"{m['p50_ms']:>8.2f} {m['p95_ms']:>8.2f}")
    m = metrics(everything)
    print(json.dumps({
        "n": m["n"],
        "recall@1": round(m["recall@1"], 4),
        "recall@5": round(m["recall@k"], 4),
        "mrr": round(m["mrr"], 4),
        "p50_ms": round(m["p50_ms"], 3),
        "p95_ms": round(m["p95_ms"], 3),
    }, separators=(",", ":")))


if __name__ == "__main__":
    main()
