#!/usr/bin/env python3
"""Side-by-side table of two `kb eval`-style outputs, for scripts/bench-kb.sh.

Usage: compare.py GOVASSIST_STDOUT BASELINE_STDOUT

Each file is the captured stdout of `govassist kb eval` or of baseline_bm25.py: a per-language table
(header line starting with `lang`, rows `lang n recall@1 recall@k mrr p50_ms p95_ms`) and, as the
last JSON line, the summary object {"n","recall@1","recall@5","mrr","p50_ms","p95_ms"}. Prints one
row per figure (plus recall@k per language seen) with both systems and the ratio
govassist/baseline (above 1 is better for recall and MRR, below 1 is better for latency), then, as
its last line, {"govassist":{...summary...},"baseline":{...summary...}}. Standard library only.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

SUMMARY_KEYS = ["n", "recall@1", "recall@5", "mrr", "p50_ms", "p95_ms"]


def summary(lines: list[str], what: str) -> dict:
    """The last line that is a JSON object with the summary keys."""
    for line in reversed(lines):
        line = line.strip()
        if line.startswith("{"):
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(obj, dict) and all(key in obj for key in SUMMARY_KEYS):
                return obj
    sys.exit(f"error: no summary JSON line in the output of {what}")


def recall_by_lang(lines: list[str]) -> tuple[str, dict[str, float]]:
    """The table's recall@k column name and recall@k per language (the `all` row left out)."""
    label, by_lang, in_table = "recall@k", {}, False
    for line in lines:
        cells = line.split()
        if cells[:2] == ["lang", "n"] and len(cells) == 7:
            label, in_table = cells[3], True
            continue
        if in_table and len(cells) == 7 and cells[1].isdigit():
            if cells[0] != "all":
                by_lang[cells[0]] = float(cells[3])
        elif in_table:
            in_table = False
    return label, by_lang


def cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return str(value)
    return f"{value:.3f}"


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    outputs = {name: Path(path).read_text(encoding="utf-8").splitlines()
               for name, path in zip(["govassist", "baseline"], sys.argv[1:])}
    # Both summaries with the keys in the contract's order.
    summaries = {name: {key: summary(lines, name)[key] for key in SUMMARY_KEYS}
                 for name, lines in outputs.items()}
    label, ours_by_lang = recall_by_lang(outputs["govassist"])
    _, theirs_by_lang = recall_by_lang(outputs["baseline"])

    # The summary's "recall@5" is recall at the run's k (kb eval's contract); show it under that name.
    rows = [(label if key == "recall@5" else key, summaries["govassist"][key], summaries["baseline"][key])
            for key in SUMMARY_KEYS]
    for lang in sorted(set(ours_by_lang) | set(theirs_by_lang)):
        rows.append((f"{label} {lang}", ours_by_lang.get(lang), theirs_by_lang.get(lang)))

    print(f"{'':<18} {'govassist':>10} {'baseline':>10} {'ratio':>8}")
    for name, ours, theirs in rows:
        ratio = ours / theirs if name != "n" and ours is not None and theirs else None
        shown = "-" if ratio is None else f"{ratio:.2f}x" if ratio >= 0.1 else f"{ratio:.3f}x"
        print(f"{name:<18} {cell(ours):>10} {cell(theirs):>10} {shown:>8}")
    print("(ratio = govassist / baseline: higher is better for recall and mrr, lower for latency)")
    print(json.dumps(summaries, separators=(",", ":")))


if __name__ == "__main__":
    main()
