#!/usr/bin/env bash
# Make sure skills (skills/) can be built for wasm32-unknown-unknown.
#
# Idempotent. Either the rustup target is installed (nothing to do), or we
# use Debian's rustc-web with its standard-library source, which builds std
# for wasm32 offline (`rustup target add` cannot download on air-gapped
# machines). See runtime/skill-host/src/build.rs for how the build uses it.
set -euo pipefail

target=wasm32-unknown-unknown

# The Debian route links with the rustup toolchain's rust-lld (Debian's own
# /usr/bin/rust-lld points to an lld that is usually not installed).
check_linker() {
    local sysroot host
    sysroot="$(rustc --print sysroot 2>/dev/null || true)"
    host="$(rustc -vV 2>/dev/null | sed -n 's/^host: //p')"
    if [ -z "$sysroot" ] || [ ! -x "$sysroot/lib/rustlib/$host/bin/rust-lld" ]; then
        echo "warning: no rust-lld in the rustup toolchain ($sysroot); skill builds will fail to link" >&2
    fi
}

if command -v rustup >/dev/null 2>&1 && rustup target list --installed 2>/dev/null | grep -qx "$target"; then
    echo "wasm toolchain: rustup target $target is installed"
    exit 0
fi

if [ -x /usr/bin/rustc ] && [ -x /usr/bin/cargo ] && [ -d /usr/lib/rustlib/src/rust/library ] \
    && [ -d /usr/lib/wasm32-wasi ]; then
    echo "wasm toolchain: Debian rustc-web with rust-web-src is installed"
    check_linker
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "wasm toolchain missing; run this script as root (it installs Debian packages), or run: rustup target add $target" >&2
    exit 1
fi

echo "wasm toolchain: installing rustc-web cargo-web rust-web-src wasi-libc"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends rustc-web cargo-web rust-web-src wasi-libc >/dev/null
echo "wasm toolchain: installed ($(/usr/bin/rustc --version))"
check_linker
