#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what the tests need
# (the wasm toolchain route, the SmolLM2 test model, headless Chromium), builds
# the skills, then runs every test of the workspace and the browser tests.
# Safe to run again: each step is idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "Formatting (rustfmt defaults, both workspaces)"
if cargo fmt --version >/dev/null 2>&1; then
    cargo fmt --all --check
    cargo fmt --all --check --manifest-path skills/Cargo.toml
else
    echo "rustfmt is not installed; skipping the format check"
fi

step "WebAssembly toolchain for skills"
scripts/install-wasm-toolchain.sh

step "Building govassist (debug, dependencies optimised)"
cargo build --locked -p govassist

export GOVASSIST_TEST_SKILLS="$PWD/target/test-skills"
step "Building the bundled skills into $GOVASSIST_TEST_SKILLS"
target/debug/govassist skill build --skills-root skills --out "$GOVASSIST_TEST_SKILLS"

step "Test models (cached after the first run)"
target/debug/govassist models fetch smollm2-135m
# The knowledge base's own tests load the embedding model from this path.
GOVASSIST_EMBED_MODEL="$(target/debug/govassist models fetch multilingual-e5-small | tail -n 1)"
export GOVASSIST_EMBED_MODEL

step "The official openai Python client (for the OpenAI-compatible API test)"
scripts/install-openai-client.sh

step "Native unit tests of the skills"
cargo test --manifest-path skills/Cargo.toml --workspace

step "Tests"
cargo test --locked --workspace

step "Browser tests of the chat widget (headless Chromium)"
scripts/install-test-browser.sh
(cd tests/browser && node --test)
