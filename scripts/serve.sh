#!/usr/bin/env bash
# Build everything and run the assistant on its embedded defaults:
# http://127.0.0.1:8080/, data in ./data (or $GOVASSIST_DATA), the bundled
# knowledge base and skills, and the default model (fetched and cached on the
# first run, with a progress bar). Extra arguments go to `govassist serve`.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-wasm-toolchain.sh
cargo build --locked --release -p govassist
target/release/govassist skill build --skills-root skills
exec target/release/govassist serve "$@"
