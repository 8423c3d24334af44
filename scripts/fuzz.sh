#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets/*.rs) one after another and
# prints a table: target, executions, corpus size, coverage, crashes.
#
#   scripts/fuzz.sh smoke [SECONDS]   each target for SECONDS (default 10): CI
#   scripts/fuzz.sh long [RUNS]       each target for RUNS executions (default
#                                     10,000,000), growing fuzz/corpus/
#   scripts/fuzz.sh build             only build the targets
#
# FUZZ_MAX_SECS=N also stops each long-run target after N seconds (the
# table says how far it got).
# FUZZ_TARGETS="a b" runs only those. Builds with cargo-fuzz (libFuzzer) on
# the stable toolchain: RUSTC_BOOTSTRAP=1 lets it pass its -Z flags. No
# sanitizer (GridSense forbids unsafe code; the dependencies' unsafe is
# theirs), but release code with debug assertions and overflow checks on,
# so an arithmetic overflow is a crash. A crash's input is kept in
# fuzz/artifacts/TARGET/; the script exits non-zero if any target crashed.
# SECURITY.md ("Fuzzing") holds the last long run's table.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-smoke}"
root=$PWD
export RUSTC_BOOTSTRAP=1
tdir="${FUZZ_TARGET_DIR:-${CARGO_TARGET_DIR:-$root/target}/fuzz}"
bin_dir="$tdir/x86_64-unknown-linux-gnu/release"
targets=${FUZZ_TARGETS:-$(cd fuzz/fuzz_targets && ls *.rs | sed 's/\.rs$//')}

# Longest input per target: the largest seed with room to grow.
max_len() {
    case "$1" in
        config) echo 16384 ;;
        csv_import | creds | profile) echo 8192 ;;
        *) echo 4096 ;;
    esac
}

(cd fuzz && cargo fuzz build -O --debug-assertions --sanitizer none --target-dir "$tdir")
[ "$mode" = build ] && exit 0

case "$mode" in
    smoke)
        limit=(-max_total_time="${2:-10}")
        corpus_root=$(mktemp -d)
        trap 'rm -rf "$corpus_root"' EXIT
        ;;
    long)
        limit=(-runs="${2:-10000000}")
        [ -z "${FUZZ_MAX_SECS:-}" ] || limit+=(-max_total_time="$FUZZ_MAX_SECS")
        corpus_root="$root/fuzz/corpus"
        ;;
    *)
        echo "usage: scripts/fuzz.sh smoke [SECONDS] | long [RUNS] | build" >&2
        exit 2
        ;;
esac
python3 fuzz/seeds.py "$corpus_root" >/dev/null

logs=$(mktemp -d)
rows=()
failed=0
for t in $targets; do
    mkdir -p "fuzz/artifacts/$t" "$corpus_root/$t"
    touch "$logs/$t.stamp"
    start=$(date +%s)
    rc=0
    "$bin_dir/$t" "${limit[@]}" -max_len="$(max_len "$t")" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="fuzz/artifacts/$t/" \
        "$corpus_root/$t" >"$logs/$t.log" 2>&1 &
    pid=$!
    wait "$pid" || rc=$?
    # csv_import's scratch store (fuzz_targets/csv_import.rs).
    rm -rf "/dev/shm/gridsense-fuzz-csv-$pid" "${TMPDIR:-/tmp}/gridsense-fuzz-csv-$pid"
    secs=$(( $(date +%s) - start ))
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$logs/$t.log" | grep -o '[0-9]*$' | tail -n1 || true)
    cov=$(grep -oE '^#[0-9]+.*cov: [0-9]+' "$logs/$t.log" | tail -n1 | grep -oE '[0-9]+$' || true)
    ft=$(grep -oE '^#[0-9]+.*ft: [0-9]+' "$logs/$t.log" | tail -n1 | grep -oE '[0-9]+$' || true)
    corpus=$(find "$corpus_root/$t" -type f | wc -l)
    crashes=$(find "fuzz/artifacts/$t" -type f -newer "$logs/$t.stamp" | wc -l)
    if [ "$rc" -ne 0 ]; then
        failed=1
        echo "--- $t failed (exit $rc); its log:" >&2
        tail -n 40 "$logs/$t.log" >&2
        [ "$crashes" -gt 0 ] || crashes=1
    fi
    rows+=("$(printf '| %-17s | %11s | %6s | %5s | %8s | %4ss | %7s |' "$t" "${execs:-?}" "$corpus" "${cov:-?}" "${ft:-?}" "$secs" "$crashes")")
    echo "fuzz: $t: ${execs:-?} runs in ${secs}s, corpus $corpus, cov ${cov:-?}, crashes $crashes" >&2
done
echo
echo "| target            |  executions | corpus |   cov | features |  time | crashes |"
echo "|-------------------|-------------|--------|-------|----------|-------|---------|"
printf '%s\n' "${rows[@]}"
rm -rf "$logs"
exit "$failed"
