#!/usr/bin/env bash
# Builds llama.cpp's `llama-bench` once, as the reference for `govassist bench llm`, from the
# llama.cpp that the `llama-cpp-python` source package on PyPI vendors (`vendor/llama.cpp`).
#
# Usage: scripts/build-llama-cpp.sh
#   LLAMA_CPP_DIR              where everything goes (default: target/llama.cpp in the repository,
#                              or $CARGO_TARGET_DIR/llama.cpp)
#   LLAMA_CPP_PYTHON_VERSION   the llama-cpp-python sdist to build from (default 0.3.36)
#   JOBS                       parallel compile jobs (default 2)
#
# Idempotent: the sdist, the extracted sources and the build are kept under LLAMA_CPP_DIR; a run
# that finds llama-bench built only prints its path. Progress goes to stderr, the compiler's output
# to LLAMA_CPP_DIR/build.log; the last line on stdout is the path of llama-bench.
# Needs pip, a C++ compiler and cmake (installed with apt-get when missing and running as root).
# Takes 10–20 min on a 2-core machine.
#
# CPU flags as in shared/MODELS.md: AVX2/FMA/F16C/AVX-512/VNNI on, AMX off (these CPUs advertise
# AMX but fault on it), no native detection, no curl.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$REPO/target}"
DIR="${LLAMA_CPP_DIR:-$TARGET/llama.cpp}"
VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
JOBS="${JOBS:-2}"
BIN="$DIR/build/bin/llama-bench"

say() { printf '[build-llama-cpp] %s\n' "$*" >&2; }

if [[ -x "$BIN" ]]; then
    say "already built"
    echo "$BIN"
    exit 0
fi

mkdir -p "$DIR"

# --- tools ----------------------------------------------------------------------------------------
if ! command -v cmake >/dev/null 2>&1; then
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
        say "installing cmake with apt-get"
        apt-get install -y cmake >&2 || { apt-get update >&2 && apt-get install -y cmake >&2; }
    else
        say "cmake is missing: install it (e.g. apt-get install cmake) and run again"
        exit 1
    fi
fi
for tool in c++ pip; do
    command -v "$tool" >/dev/null 2>&1 || { say "$tool is missing"; exit 1; }
done

# --- sources ----------------------------------------------------------------------------------------
SDIST="$DIR/llama_cpp_python-$VERSION.tar.gz"
if [[ ! -f "$SDIST" ]]; then
    say "downloading the llama-cpp-python $VERSION source package"
    # --no-binary for this package only: its build backend's own requirements (ninja, cmake) may
    # come as wheels; `--no-binary :all:` would compile them from source too.
    tmp="$(mktemp -d "$DIR/download.XXXXXX")"
    pip download --no-deps --no-binary llama-cpp-python "llama-cpp-python==$VERSION" -d "$tmp" >&2
    mv "$tmp/llama_cpp_python-$VERSION.tar.gz" "$SDIST"
    rm -rf "$tmp"
fi
SRC="$DIR/src"
if [[ ! -f "$SRC/CMakeLists.txt" ]]; then
    say "extracting vendor/llama.cpp"
    tmp="$(mktemp -d "$DIR/extract.XXXXXX")"
    tar -xzf "$SDIST" -C "$tmp" "llama_cpp_python-$VERSION/vendor/llama.cpp"
    rm -rf "$SRC"
    mv "$tmp/llama_cpp_python-$VERSION/vendor/llama.cpp" "$SRC"
    rm -rf "$tmp"
fi

# --- build ----------------------------------------------------------------------------------------
say "configuring (log: $DIR/build.log)"
cmake -S "$SRC" -B "$DIR/build" \
    -DCMAKE_BUILD_TYPE=Release \
    -DBUILD_SHARED_LIBS=OFF \
    -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
    -DGGML_AVX512=ON -DGGML_AVX512_VNNI=ON \
    -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF \
    -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF \
    >"$DIR/build.log" 2>&1 || { tail -30 "$DIR/build.log" >&2; exit 1; }
say "building llama-bench with $JOBS jobs (10–20 min on 2 cores)"
cmake --build "$DIR/build" --config Release --target llama-bench -j "$JOBS" \
    >>"$DIR/build.log" 2>&1 || { tail -30 "$DIR/build.log" >&2; exit 1; }
[[ -x "$BIN" ]] || { say "built, but $BIN is missing"; exit 1; }
say "done"
echo "$BIN"
