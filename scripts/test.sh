#!/usr/bin/env bash
# Runs the whole GridSense test suite (what README and CI call).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo test --workspace --all-targets --locked
cargo test --workspace --doc --locked
