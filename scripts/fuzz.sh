#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets/*.rs) and prints a table:
# target, executions, executions per second, corpus size, coverage,
# crashes.
#
#   scripts/fuzz.sh smoke [SECONDS]   each target for SECONDS (default 10): CI
#   scripts/fuzz.sh long [RUNS]       each target for RUNS executions (default
#                                     10,000,000), growing fuzz/corpus/
#   scripts/fuzz.sh build             only build the targets
#
# FUZZ_MAX_SECS=N also stops each long-run target after N seconds (the
# table says how far it got). FUZZ_TARGETS="a b" runs only those.
# FUZZ_JOBS=N runs N targets at a time (smoke: one per core; long: 1).
#
# The build is cargo-fuzz's (libFuzzer through libfuzzer-sys, the same
# instrumentation flags) done with plain cargo, so that fuzz/Cargo.toml's
# per-package profile applies: the project's crates with debug assertions
# and overflow checks (an arithmetic overflow is a crash) in one codegen
# unit, the dependencies without their debug assertions and, but for the
# parsers every input runs through, in parallel codegen units. No
# sanitizer (GridSense forbids unsafe code; the dependencies' unsafe is
# theirs), so no nightly flag either. A crash's input is kept in
# fuzz/artifacts/TARGET/; the script exits non-zero if any target crashed.
# SECURITY.md ("Fuzzing") holds the last long run's table.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-smoke}"
root=$PWD
tdir="${FUZZ_TARGET_DIR:-${CARGO_TARGET_DIR:-$root/target}/fuzz}"
host=$(rustc -vV | sed -n 's/^host: //p')
bin_dir="$tdir/$host/release"
targets=${FUZZ_TARGETS:-$(cd fuzz/fuzz_targets && ls *.rs | sed 's/\.rs$//')}

# Longest input per target: the largest seed with room to grow.
max_len() {
    case "$1" in
        config) echo 16384 ;;
        csv_import | creds | profile) echo 8192 ;;
        *) echo 4096 ;;
    esac
}

# cargo-fuzz 0.13's flags for `cargo fuzz build -O --sanitizer none`, less
# its global -Cdebug-assertions and -Ccodegen-units=1 (fuzz/Cargo.toml sets
# both per package).
sancov=(
    -Cpasses=sancov-module
    -Cllvm-args=-sanitizer-coverage-level=4
    -Cllvm-args=-sanitizer-coverage-inline-8bit-counters
    -Cllvm-args=-sanitizer-coverage-pc-table
    -Cllvm-args=-sanitizer-coverage-trace-compares
    --cfg fuzzing
    -Cllvm-args=-simplifycfg-branch-fold-threshold=0
    -Cllvm-args=-sanitizer-coverage-stack-depth
)
# --target keeps the flags off build scripts and proc macros.
RUSTFLAGS="${sancov[*]} ${RUSTFLAGS:-}" cargo build --manifest-path fuzz/Cargo.toml \
    --release --target "$host" --bins --target-dir "$tdir" ${FUZZ_CARGO_ARGS:-}
[ "$mode" = build ] && exit 0

case "$mode" in
    smoke)
        limit=(-max_total_time="${2:-10}")
        jobs=${FUZZ_JOBS:-$(nproc)}
        corpus_root=$(mktemp -d)
        ;;
    long)
        limit=(-runs="${2:-10000000}")
        [ -z "${FUZZ_MAX_SECS:-}" ] || limit+=(-max_total_time="$FUZZ_MAX_SECS")
        jobs=${FUZZ_JOBS:-1}
        corpus_root="$root/fuzz/corpus"
        ;;
    *)
        echo "usage: scripts/fuzz.sh smoke [SECONDS] | long [RUNS] | build" >&2
        exit 2
        ;;
esac
logs=$(mktemp -d)
trap 'rm -rf "$logs"; [ "$mode" != smoke ] || rm -rf "$corpus_root"' EXIT
python3 fuzz/seeds.py "$corpus_root" >/dev/null

# One target: its run, then its row in $logs/TARGET.row (status in .rc).
run() {
    local t=$1 start rc=0 pid secs execs cov ft corpus crashes rate
    mkdir -p "fuzz/artifacts/$t" "$corpus_root/$t"
    touch "$logs/$t.stamp"
    start=$(date +%s)
    "$bin_dir/$t" "${limit[@]}" -max_len="$(max_len "$t")" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="fuzz/artifacts/$t/" \
        "$corpus_root/$t" >"$logs/$t.log" 2>&1 &
    pid=$!
    wait "$pid" || rc=$?
    # The targets' scratch stores (fuzz/src/compound.rs).
    rm -rf "/dev/shm/gridsense-fuzz-$pid-"* "${TMPDIR:-/tmp}/gridsense-fuzz-$pid-"*
    secs=$(( $(date +%s) - start ))
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$logs/$t.log" | grep -o '[0-9]*$' | tail -n1 || true)
    cov=$(grep -oE '^#[0-9]+.*cov: [0-9]+' "$logs/$t.log" | tail -n1 | grep -oE '[0-9]+$' || true)
    ft=$(grep -oE '^#[0-9]+.*ft: [0-9]+' "$logs/$t.log" | tail -n1 | grep -oE '[0-9]+$' || true)
    corpus=$(find "$corpus_root/$t" -type f | wc -l)
    crashes=$(find "fuzz/artifacts/$t" -type f -newer "$logs/$t.stamp" | wc -l)
    rate=$(( ${execs:-0} / (secs > 0 ? secs : 1) ))
    if [ "$rc" -ne 0 ]; then
        echo "--- $t failed (exit $rc); its log:" >&2
        tail -n 40 "$logs/$t.log" >&2
        [ "$crashes" -gt 0 ] || crashes=1
    fi
    echo "$rc" >"$logs/$t.rc"
    printf '| %-17s | %11s | %8s | %6s | %5s | %8s | %5ss | %7s |\n' "$t" "${execs:-?}" "$rate" \
        "$corpus" "${cov:-?}" "${ft:-?}" "$secs" "$crashes" >"$logs/$t.row"
    echo "fuzz: $t: ${execs:-?} runs in ${secs}s ($rate/s), corpus $corpus, cov ${cov:-?}, crashes $crashes" >&2
}

running=0
for t in $targets; do
    if [ "$running" -ge "$jobs" ]; then
        wait -n || true
        running=$((running - 1))
    fi
    run "$t" &
    running=$((running + 1))
done
wait || true

failed=0
echo
echo "| target            |  executions | execs/s  | corpus |   cov | features |  time  | crashes |"
echo "|-------------------|-------------|----------|--------|-------|----------|--------|---------|"
for t in $targets; do
    cat "$logs/$t.row" 2>/dev/null || echo "| $t | did not run |"
    [ "$(cat "$logs/$t.rc" 2>/dev/null || echo 1)" = 0 ] || failed=1
done
exit "$failed"
