#!/usr/bin/env bash
# Installs what GridSense needs on a fresh Debian/Ubuntu machine: the pinned
# Rust toolchain with its components and targets (Cortex-M, aarch64), the
# Debian packages the tests use as real peers, the aarch64 cross linker and
# cargo-deb. Safe to run again: it installs only what is missing. It installs
# only: it never stops, disables or kills anything (a mosquitto service
# already running on the host keeps running; tests start their own brokers
# on free loopback ports).
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: real peers and emulators used by tests; python3 for
# scripts/module-cycles.py; the aarch64 cross linker and its libc
# (.cargo/config.toml); python3-yaml to parse deploy/compose.yaml in CI;
# systemd for `systemd-analyze verify` of the packaged unit (not started).
APT_PACKAGES=(mosquitto mosquitto-clients socat qemu-system-arm python3 rabbitmq-server)
APT_PACKAGES+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross python3-yaml)
APT_PACKAGES+=(systemd)
# openssl: self-signed certificates for the installer tests (gateway/tests/).
APT_PACKAGES+=(openssl)
# chromium, its driver and a CJK font: the console's browser tests.
APT_PACKAGES+=(chromium chromium-driver fonts-wqy-microhei)

missing=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    # Installing a server package (mosquitto, rabbitmq-server) must not
    # start its service on this machine: tests start their own instances.
    policy=/usr/sbin/policy-rc.d
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
        $SUDO chmod 755 "$policy"
        trap '$SUDO rm -f "$policy"' EXIT
    fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v rustup >/dev/null; then
    echo "setup: rustup is required (https://rustup.rs)" >&2
    exit 1
fi
# Installs the toolchain, components and targets named in rust-toolchain.toml.
rustup toolchain install >/dev/null 2>&1 || rustup show active-toolchain >/dev/null
rustup component add rustfmt clippy >/dev/null 2>&1
rustup target add thumbv7em-none-eabihf aarch64-unknown-linux-gnu >/dev/null 2>&1
# The Debian package builder (.ci/run, deploy/README.md); ~/.cargo/bin keeps it.
if ! cargo deb --version >/dev/null 2>&1; then
    echo "setup: installing cargo-deb"
    cargo install cargo-deb --locked --quiet
fi
# Security tooling, pinned (SECURITY.md): the licence and duplicate-crate
# policy (deny.toml), the software bill of materials next to the .deb. (The
# fuzz targets need no tool: scripts/fuzz.sh builds them with cargo.)
for tool in cargo-deny@0.20.2 cargo-cyclonedx@0.5.9; do
    name=${tool%@*}
    if ! cargo "${name#cargo-}" --version 2>/dev/null | grep -qF "${tool#*@}"; then
        echo "setup: installing $tool"
        cargo install "$tool" --locked --quiet
    fi
done
echo "setup: ok ($(rustc --version))"
