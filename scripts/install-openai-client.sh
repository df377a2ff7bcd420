#!/usr/bin/env bash
# The official `openai` Python client, in a virtualenv at target/openai-venv, for the test that
# talks to /v1/chat/completions as a real OpenAI client would. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${CARGO_TARGET_DIR:-target}/openai-venv"
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import openai' 2>/dev/null; then
    exit 0
fi
python3 -m venv "$VENV" || {
    echo "error: cannot create a Python virtualenv; install it with: sudo apt-get install -y python3-venv" >&2
    exit 1
}
"$VENV/bin/pip" install --quiet --disable-pip-version-check 'openai>=1.40,<2'
"$VENV/bin/python" -c 'import openai; print("openai client", openai.__version__, "installed in '"$VENV"'")'
