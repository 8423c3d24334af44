#!/usr/bin/env bash
# A real gateway under a 10,000-node fleet: generates a compound of 20
# buildings x 25 floors x 20 devices, registers it, runs `gridsense run` and
# `gridsense-sim deploy/scenarios/fire-big.toml` (60 s ramp, heartbeat 30 s,
# fire at 110 s), then prints both processes' CPU time and peak memory.
# Usage: bash scripts/bench-fleet.sh [WORKDIR]   (traffic on 127.0.0.1 only)
#        GRIDSENSE_BIN_DIR=DIR bash scripts/bench-fleet.sh [WORKDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=${1:-$(mktemp -d)}
mkdir -p "$work"
# GRIDSENSE_BIN_DIR: a directory holding gridsense and gridsense-sim
# already built (nothing is built then).
if [ -n "${GRIDSENSE_BIN_DIR:-}" ]; then
    bin=$GRIDSENSE_BIN_DIR
else
    cargo build --release -q -p gridsense-gateway -p gridsense-sim
    bin="${CARGO_TARGET_DIR:-$root/target}/release"
fi
cd "$work"
rm -f gw.db gw.db-wal gw.db-shm devices.creds.csv
{
    echo "id,parent,level,name,city,district,street,community,cell,fire_zone"
    for b in $(seq 1 20); do
        echo "b$b,,building,Building $b,foshan,chancheng,zumiao,lianhua,lianhua-g$(( (b - 1) / 5 + 1 )),"
        for f in $(seq 1 25); do echo "b$b-f$f,b$b,floor,Floor $f,,,,,,b$b-f$f"; done
    done
} > site.csv
{
    echo "id,profile,location,fire_zone,escape_route,installed"
    for b in $(seq 1 20); do for f in $(seq 1 25); do for k in $(seq -w 0 19); do
        case $k in 1[6-7]) p=lock ;; 18) p=gas ;; 19) p=door-contact ;; *) p=smoke ;; esac
        echo "$p-b$b-f$f-$k,$p,b$b-f$f,,,2026-11-01"
    done; done; done
} > devices.csv
cat > gw.toml <<'TOML'
[gateway]
id = "gw01"
site = "big"
[mqtt]
listen = "127.0.0.1:18831"
max_connections = 12000
[store]
path = "gw.db"
[api]
listen = "127.0.0.1:18081"
TOML
"$bin/gridsense" site import --config gw.toml site.csv
"$bin/gridsense" device import --config gw.toml devices.csv
# 10,000 sockets on each side: raise the open-file limit as far as allowed.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
/usr/bin/time -v "$bin/gridsense" run --config gw.toml > gw.log 2> gw.time &
timed=$!
# Stop only what this script started: the gateway under `time` (never by name).
stop_gateway() {
    local gw
    gw=$(pgrep -P "$timed" -x gridsense || true)
    [ -n "$gw" ] && kill -TERM "$gw" 2>/dev/null
    wait "$timed" 2>/dev/null || true
}
trap stop_gateway EXIT
sleep 2
/usr/bin/time -v "$bin/gridsense-sim" "$root/deploy/scenarios/fire-big.toml" --broker 127.0.0.1:18831 \
    --devices devices.creds.csv --heartbeat-s 30 --ramp-s 60 --progress-s 15 2> sim.time | tail -3
stop_gateway
trap - EXIT
for f in gw.time sim.time; do
    echo "== ${f%.time}"
    grep -E "User time|System time|Percent of CPU|Elapsed|Maximum resident" "$f"
done
