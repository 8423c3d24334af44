#!/usr/bin/env bash
# Installs what GridSense needs on a fresh Debian/Ubuntu machine: the pinned
# Rust toolchain with its components and the Cortex-M target, and the Debian
# packages the tests use as real peers. Safe to run again: it installs only
# what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: real peers and emulators used by tests; python3 for
# scripts/module-cycles.py.
APT_PACKAGES=(mosquitto mosquitto-clients socat qemu-system-arm python3 chromium chromium-driver fonts-wqy-microhei)

missing=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The broker is a test peer, not a service of this machine.
if command -v systemctl >/dev/null && systemctl is-active --quiet mosquitto 2>/dev/null; then
    systemctl disable --now mosquitto >/dev/null 2>&1 || true
fi

if ! command -v rustup >/dev/null; then
    echo "setup: rustup is required (https://rustup.rs)" >&2
    exit 1
fi
# Installs the toolchain, components and targets named in rust-toolchain.toml.
rustup toolchain install >/dev/null 2>&1 || rustup show active-toolchain >/dev/null
rustup component add rustfmt clippy >/dev/null 2>&1
rustup target add thumbv7em-none-eabihf >/dev/null 2>&1
echo "setup: ok ($(rustc --version))"
