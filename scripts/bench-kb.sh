#!/usr/bin/env bash
# Benchmark: govassist's knowledge-base search against a typical Python BM25 baseline
# (jieba search mode + OpenCC t2s + rank_bm25, knowledge-base/bench/baseline_bm25.py), on the same
# questions in one run, printed side by side.
#
# Usage: scripts/bench-kb.sh [QUESTIONS.jsonl] [extra `kb eval` args, e.g. --k 10]
#   QUESTIONS defaults to ../shared/data/eval/dev_retrieval.jsonl next to the repository, if present.
#   GOVASSIST_BIN   use this govassist binary instead of building one (default: cargo build --release)
#   GOVASSIST_DATA  data directory for govassist (default: a fresh one under target/, removed after,
#                   into which the bundled knowledge base is imported)
#
# Steps: (1) a virtualenv at target/bench-venv with jieba, opencc-python-reimplemented, rank_bm25
# and numpy (created and filled only when something is missing), (2) the release build,
# (3) `govassist kb eval`, (4) the baseline, (5) a side-by-side table whose last line is
# {"govassist":{...summary...},"baseline":{...summary...}}. Every step can be run again.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CALLER_PWD="$PWD"
# Relative paths given by the caller (arguments, GOVASSIST_BIN, GOVASSIST_DATA) are relative to
# where the script was started; everything else is relative to the repository root.
abspath() { if [[ "$1" == /* ]]; then printf '%s\n' "$1"; else printf '%s\n' "$CALLER_PWD/$1"; fi; }
cd "$REPO"
TARGET="${CARGO_TARGET_DIR:-$REPO/target}"

# --- arguments ----------------------------------------------------------------------------------
if [[ $# -ge 1 && "$1" != -* ]]; then
    QUESTIONS="$(abspath "$1")"
    shift
elif [[ -f "$REPO/../shared/data/eval/dev_retrieval.jsonl" ]]; then
    QUESTIONS="$REPO/../shared/data/eval/dev_retrieval.jsonl"
else
    echo "usage: $0 QUESTIONS.jsonl [extra kb eval args]" >&2
    echo "(no default question file at $REPO/../shared/data/eval/dev_retrieval.jsonl)" >&2
    exit 2
fi
[[ -f "$QUESTIONS" ]] || { echo "error: no question file $QUESTIONS" >&2; exit 2; }
QUESTIONS="$(cd "$(dirname "$QUESTIONS")" && pwd)/$(basename "$QUESTIONS")"

# The same k for both systems: 5 unless the extra arguments say otherwise (--k N or --k=N).
EVAL_ARGS=("$@")
K=5
K_ARGS=(--k 5)
for ((i = 0; i < ${#EVAL_ARGS[@]}; i++)); do
    case "${EVAL_ARGS[i]}" in
        --k) K="${EVAL_ARGS[i + 1]:-5}"; K_ARGS=() ;;
        --k=*) K="${EVAL_ARGS[i]#--k=}"; K_ARGS=() ;;
    esac
done

# --- (1) the baseline's Python environment --------------------------------------------------------
VENV="$TARGET/bench-venv"
PY="$VENV/bin/python"
if ! "$PY" -c 'import jieba, opencc, rank_bm25, numpy' 2>/dev/null; then
    echo "==> setting up the baseline's virtualenv in $VENV"
    [[ -x "$PY" ]] || python3 -m venv "$VENV"
    "$PY" -m pip install --quiet --disable-pip-version-check \
        jieba opencc-python-reimplemented rank_bm25 numpy
fi

# --- (2) govassist --------------------------------------------------------------------------------
if [[ -n "${GOVASSIST_BIN:-}" ]]; then
    BIN="$(abspath "$GOVASSIST_BIN")"
    [[ -x "$BIN" ]] || { echo "error: GOVASSIST_BIN=$BIN is not an executable" >&2; exit 2; }
else
    echo "==> building govassist (release; the first build takes 15-25 minutes on 2 cores)"
    cargo build --locked --release -p govassist
    BIN="$TARGET/release/govassist"
fi

# --- (3) govassist kb eval ------------------------------------------------------------------------
mkdir -p "$TARGET"
WORK="$(mktemp -d "$TARGET/bench-kb.XXXXXX")"   # captured outputs, and the default data directory
trap 'rm -rf "$WORK"' EXIT
DATA="$WORK/data"
[[ -z "${GOVASSIST_DATA:-}" ]] || DATA="$(abspath "$GOVASSIST_DATA")"
if [[ ! -d "$DATA/index" ]]; then
    echo "==> govassist will first import the bundled knowledge base into $DATA"
    echo "    (this may take minutes when the import computes embeddings)"
fi
echo "==> $BIN kb eval --questions $QUESTIONS ${K_ARGS[*]:-} ${EVAL_ARGS[*]:-}"
GOVASSIST_DATA="$DATA" "$BIN" --data-dir "$DATA" kb eval --questions "$QUESTIONS" \
    ${K_ARGS[@]+"${K_ARGS[@]}"} ${EVAL_ARGS[@]+"${EVAL_ARGS[@]}"} | tee "$WORK/govassist.out"

# --- (4) the baseline -----------------------------------------------------------------------------
echo "==> baseline (jieba + OpenCC t2s + rank_bm25) on the same questions"
"$PY" "$REPO/knowledge-base/bench/baseline_bm25.py" --questions "$QUESTIONS" --k "$K" \
    --data "$REPO/knowledge-base/data" | tee "$WORK/baseline.out"

# --- (5) side by side -----------------------------------------------------------------------------
echo "==> side by side ($(basename "$QUESTIONS"), k=$K)"
"$PY" "$REPO/knowledge-base/bench/compare.py" "$WORK/govassist.out" "$WORK/baseline.out"
