#!/usr/bin/env bash
# Fuzzes tcpka with libFuzzer on stable Rust (dev-only, like tools/gencap).
#
#   fuzz/run.sh [SECONDS] [TARGET...]    (default: 60 s for each of capture_reader, pipeline)
#
# Builds the targets with SanitizerCoverage through RUSTFLAGS (what
# cargo-fuzz passes, minus -Zsanitizer, which needs nightly), seeds each
# target's corpus (fuzz/corpus/TARGET, kept between runs, not committed)
# with the fixtures' captures, and runs it for SECONDS with a 5 s timeout
# and a 1 GiB memory cap per input. A crash, a hang or the cap is a finding:
# libFuzzer saves the input as fuzz/artifacts/TARGET/crash-* (or timeout-*,
# oom-*), and this script exits 1. Reproduce one with
#   fuzz/target/x86_64-unknown-linux-gnu/release/TARGET fuzz/artifacts/TARGET/crash-...
# Environment: FUZZ_JOBS (parallel jobs per target, default 1), FUZZ_RUNS
# (stop after this many executions instead of SECONDS).
set -euo pipefail
cd "$(dirname "$0")"

seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(capture_reader pipeline)
jobs=${FUZZ_JOBS:-1}

# SanitizerCoverage on stable: inline 8-bit counters, the PC table and
# comparison tracing (libFuzzer's value profile), as cargo-fuzz sets them.
# With an explicit --target, RUSTFLAGS do not reach build scripts.
triple=$(rustc -vV | sed -n 's/^host: //p')
export RUSTFLAGS="${RUSTFLAGS:-} -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cforce-frame-pointers"
cargo build --release --quiet --target "$triple" --bins

# The seeds: every small capture among the fixtures.
seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT
find ../fixtures -type f \( -name '*.pcap' -o -name '*.pcapng' \) -size -64k -exec cp {} "$seeds/" \;

status=0
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target" "artifacts/$target"
    opts=(-timeout=5 -rss_limit_mb=1024 -max_len=65536 -artifact_prefix="artifacts/$target/" -print_final_stats=1)
    if [ -n "${FUZZ_RUNS:-}" ]; then opts+=(-runs="$FUZZ_RUNS"); else opts+=(-max_total_time="$seconds"); fi
    # Parallel jobs run as child processes, each logging to fuzz-N.log.
    [ "$jobs" -le 1 ] || opts+=(-jobs="$jobs" -workers="$jobs")
    echo "== fuzz $target (${FUZZ_RUNS:-$seconds s}${FUZZ_RUNS:+ runs}, $jobs job(s))"
    log="artifacts/$target/log.txt"
    if ! "target/$triple/release/$target" "corpus/$target" "$seeds" "${opts[@]}" >"$log" 2>&1; then
        status=1
    fi
    for f in fuzz-*.log; do
        if [ -e "$f" ]; then cat "$f" >>"$log"; rm -f "$f"; fi
    done
    # The totals, and on a finding what it was and where its input is.
    grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb|Done|==[0-9]+== ERROR|SUMMARY|thread .* panicked|.*Test unit written)' "$log" || true
done
[ $status -eq 0 ] && echo "fuzz: no finding" || echo "fuzz: FINDING (see fuzz/artifacts/)"
exit $status
