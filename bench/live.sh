#!/usr/bin/env bash
# Live-capture benchmark for tcpka (issue 12). See bench/README.md.
#
#   sudo bench/live.sh [--connections N] [--concurrent C] [--seed S]
#
# Replays the bench capture (target/bench/capture-N-C.pcap, made by
# tools/gencap as bench/run.sh makes it) with `tcpreplay --topspeed` into a
# veth pair between two network namespaces it creates, while three captures
# run at once on the receiving end:
#   tcpdump -i IF -n -w /dev/null                 (the reference)
#   target/release/tcpka live -i IF               (table)
#   target/release/tcpka live -i IF --format json (JSON)
# then stops them with SIGINT and reports the packets each kept (tcpka:
# packets analysed; tcpdump: packets captured) and each one's drops.
# PASS when tcpka keeps at least 99% of what tcpdump keeps, in both modes.
# Exit status: 0 on PASS, 1 otherwise, 2 when it cannot run.
set -euo pipefail

CONNECTIONS=100000
CONCURRENT=2000
SEED=1

usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
    case "$1" in
        --connections) CONNECTIONS="${2:?}"; shift 2 ;;
        --concurrent) CONCURRENT="${2:?}"; shift 2 ;;
        --seed) SEED="${2:?}"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "bench/live.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done
for v in "$CONNECTIONS" "$CONCURRENT" "$SEED"; do
    [[ "$v" =~ ^[0-9]+$ ]] || { echo "bench/live.sh: not a number: $v" >&2; exit 2; }
done

say() { printf '%s\n' "$*" >&2; }
[[ $(id -u) -eq 0 ]] || { say "bench/live.sh: needs root (network namespaces, capture)"; exit 2; }
for tool in ip tcpreplay tcpdump python3; do
    command -v "$tool" >/dev/null || { say "bench/live.sh: $tool is needed (Debian: apt-get install -y iproute2 tcpreplay tcpdump python3)"; exit 2; }
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="$ROOT/target/bench"
mkdir -p "$OUT"

say "== building tcpka and gencap (release) ..."
cargo build --release >"$OUT/build-tcpka.log" 2>&1 || { tail -20 "$OUT/build-tcpka.log" >&2; exit 2; }
cargo build --release --manifest-path tools/gencap/Cargo.toml >"$OUT/build-gencap.log" 2>&1 \
    || { tail -20 "$OUT/build-gencap.log" >&2; exit 2; }
TCPKA="$ROOT/target/release/tcpka"
GENCAP="$ROOT/tools/gencap/target/release/gencap"

NAME="capture-$CONNECTIONS-$CONCURRENT"
[[ $SEED != 1 ]] && NAME+="-s$SEED"
FILE="$OUT/$NAME.pcap"
if [[ ! -s "$FILE" ]]; then
    say "== generating $FILE ..."
    "$GENCAP" --connections "$CONNECTIONS" --concurrent "$CONCURRENT" --seed "$SEED" --out "$OUT/.tmp-$NAME.pcap"
    rm -f "$OUT/.tmp-$NAME.pcap.truth.json"
    mv "$OUT/.tmp-$NAME.pcap" "$FILE"
else
    say "== reusing $FILE"
fi
cat "$FILE" >/dev/null # into the page cache: tcpreplay reads it at top speed

# ------------------------------------------------------------------ lab
TAG=$$
RNS="tkm-blive-r-$TAG" CNS="tkm-blive-c-$TAG"
RIF="tkmbr$TAG" CIF="tkmbc$TAG"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    ip netns del "$RNS" 2>/dev/null || true
    ip netns del "$CNS" 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$RNS"
ip netns add "$CNS"
ip link add "$RIF" netns "$RNS" type veth peer name "$CIF" netns "$CNS"
for ns_if in "$RNS $RIF" "$CNS $CIF"; do
    set -- $ns_if
    # Room for any frame in the capture; nothing else talks on this link.
    ip -n "$1" link set "$2" mtu 9000 up
    ip netns exec "$1" sysctl -qw "net.ipv6.conf.$2.disable_ipv6=1"
done

# ------------------------------------------------------------------ captures
ip netns exec "$CNS" tcpdump -i "$CIF" -n -w /dev/null 2>"$OUT/live-tcpdump.err" &
PIDS+=($!)
ip netns exec "$CNS" "$TCPKA" live -i "$CIF" >/dev/null 2>"$OUT/live-tcpka-table.err" &
PIDS+=($!)
ip netns exec "$CNS" "$TCPKA" live -i "$CIF" --format json >/dev/null 2>"$OUT/live-tcpka-json.err" &
PIDS+=($!)
for f in live-tcpdump.err live-tcpka-table.err live-tcpka-json.err; do
    for _ in $(seq 100); do grep -q "listening on" "$OUT/$f" 2>/dev/null && break; sleep 0.1; done
    grep -q "listening on" "$OUT/$f" || { say "!! a capture did not start:"; cat "$OUT/$f" >&2; exit 2; }
done

say "== replaying $FILE with tcpreplay --topspeed into $RIF ..."
ip netns exec "$RNS" tcpreplay -i "$RIF" --topspeed "$FILE" >"$OUT/live-tcpreplay.out" 2>&1
# The last blocks reach every capture; then each capture's analysis works
# through what it queued during the burst (a stop would count the rest as
# not analysed): wait until no capture has used CPU for a second.
# (`ip netns exec` execs the command: these pids are the captures.)
cpu_of() { local t=0 p; for p in "${PIDS[@]}"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo "$t"; }
sleep 2
before=-1
for _ in $(seq 120); do
    now=$(cpu_of)
    [[ $now == "$before" ]] && break
    before=$now
    sleep 1
done
for p in "${PIDS[@]}"; do kill -INT "$p"; done
for p in "${PIDS[@]}"; do wait "$p" || true; done
PIDS=()

# ------------------------------------------------------------------ report
python3 - "$OUT" "$FILE" "$ROOT" <<'EOF'
import os, platform, re, subprocess, sys, datetime
out, file, root = sys.argv[1:4]

def count(path, what):
    text = open(os.path.join(out, path)).read()
    m = re.search(r"^(\d+) packets? " + what + r"$", text, re.M)
    return int(m.group(1)) if m else 0

replay = open(os.path.join(out, "live-tcpreplay.out")).read()
sent = int(re.search(r"Actual: (\d+) packets", replay).group(1))
rate = re.search(r"Rated: [\d.]+ Bps, [\d.]+ Mbps, ([\d.]+) pps", replay)
secs = re.search(r"Actual: \d+ packets \(\d+ bytes\) sent in ([\d.]+) seconds", replay)
rows = []
for label, err in [("tcpdump -w /dev/null", "live-tcpdump.err"),
                   ("tcpka live (table)", "live-tcpka-table.err"),
                   ("tcpka live --format json", "live-tcpka-json.err")]:
    rows.append((label, count(err, "captured"), count(err, "dropped by kernel"),
                 count(err, "dropped by interface"), count(err, r"not analysed \(the analysis fell behind\)")))
reference = rows[0][1]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print()
print(f"## tcpka live benchmark — {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}")
print()
print(f"- machine: {os.cpu_count()} CPUs ({cpu}), {platform.system()} {platform.release()}")
print(f"- replayed: `{os.path.relpath(file, root)}`, {sent:,} packets by `tcpreplay --topspeed` "
      f"in {float(secs.group(1)) if secs else float('nan'):.2f} s ({float(rate.group(1)) if rate else float('nan'):,.0f} pps) "
      "into a veth; the three captures ran at once on its other end")
print()
print("| capture | packets kept | of those sent | of tcpdump's | dropped by kernel | not analysed |")
print("|---|---:|---:|---:|---:|---:|")
ok = True
for label, kept, dropped, ifdrop, behind in rows:
    share = kept / reference if reference else 0
    if label.startswith("tcpka") and share < 0.99:
        ok = False
    print(f"| {label} | {kept:,} | {kept / sent:.2%} | {share:.2%} | {dropped:,} | {behind:,} |")
print()
print("tcpka keeps = packets analysed (its \"packets captured\" line); tcpdump keeps = its \"packets captured\".")
print()
print(f"RESULT: {'PASS' if ok else 'FAIL'} (tcpka keeps at least 99% of what tcpdump keeps, in both modes)")
sys.exit(0 if ok else 1)
EOF
