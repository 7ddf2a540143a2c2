#!/usr/bin/env bash
# One-command benchmark for tcpka (issue 5). See bench/README.md.
#
#   bench/run.sh [--connections N] [--concurrent C] [--runs R] [--no-tshark]
#
# Builds tcpka and tools/gencap in release mode, generates
# target/bench/capture-N-C.pcap (+ .truth.json) if it is missing, then times on
# that one file, each under /usr/bin/time -v (wall clock, peak RSS):
#   tcpdump -r FILE -w /dev/null                          (the floor: read + write back)
#   target/release/tcpka analyze FILE                     (table)
#   target/release/tcpka analyze --format json FILE       (JSON)
#   tshark -r FILE -Y tcp.analysis.keep_alive             (reference analyser)
# tcpdump and tcpka: best of R runs (default 3); tshark: one run.
# Prints a markdown table and checks tcpka's JSON verdict counts against the
# generator's truth sidecar (PASS/FAIL). Exit status: 0 on PASS, 1 otherwise.
set -euo pipefail

CONNECTIONS=100000
CONCURRENT=2000
RUNS=3
TSHARK=1
SEED=1

usage() {
    sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
    cat <<EOF
Options:
  --connections N   connections in the generated capture (default $CONNECTIONS)
  --concurrent C    connections open at any time (default $CONCURRENT)
  --runs R          runs of the fast tools, best one reported (default $RUNS)
  --no-tshark       do not run tshark
  --seed S          generator seed (default $SEED; changes the file name)
EOF
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --connections) CONNECTIONS="${2:?--connections needs a value}"; shift 2 ;;
        --connections=*) CONNECTIONS="${1#*=}"; shift ;;
        --concurrent) CONCURRENT="${2:?--concurrent needs a value}"; shift 2 ;;
        --concurrent=*) CONCURRENT="${1#*=}"; shift ;;
        --runs) RUNS="${2:?--runs needs a value}"; shift 2 ;;
        --runs=*) RUNS="${1#*=}"; shift ;;
        --seed) SEED="${2:?--seed needs a value}"; shift 2 ;;
        --seed=*) SEED="${1#*=}"; shift ;;
        --no-tshark) TSHARK=0; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "bench/run.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done
for v in "$CONNECTIONS" "$CONCURRENT" "$RUNS" "$SEED"; do
    [[ "$v" =~ ^[0-9]+$ ]] || { echo "bench/run.sh: not a number: $v" >&2; exit 2; }
done
(( RUNS >= 1 )) || RUNS=1

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="$ROOT/target/bench"
mkdir -p "$OUT"
INVOCATION="bench/run.sh --connections $CONNECTIONS --concurrent $CONCURRENT --runs $RUNS"
[[ $SEED != 1 ]] && INVOCATION+=" --seed $SEED"
[[ $TSHARK == 0 ]] && INVOCATION+=" --no-tshark"

say() { printf '%s\n' "$*" >&2; }

if [[ ! -x /usr/bin/time ]] || ! /usr/bin/time -v true >/dev/null 2>&1; then
    say "bench/run.sh: GNU time is needed at /usr/bin/time (Debian: apt-get install -y time)"
    exit 2
fi
command -v python3 >/dev/null || { say "bench/run.sh: python3 is needed"; exit 2; }
command -v tcpdump >/dev/null || { say "bench/run.sh: tcpdump is needed (apt-get install -y tcpdump)"; exit 2; }
TCPDUMP="$(command -v tcpdump)"

# ------------------------------------------------------------------ build
TCPKA="$ROOT/target/release/tcpka"
TCPKA_OK=1
say "== building tcpka (cargo build --release) ..."
if ! cargo build --release >"$OUT/build-tcpka.log" 2>&1; then
    TCPKA_OK=0
    say "!! tcpka does not build; its rows are skipped (log: target/bench/build-tcpka.log):"
    grep -E '^(error|warning: unused)' "$OUT/build-tcpka.log" | head -5 >&2 || true
elif [[ ! -x "$TCPKA" ]]; then
    TCPKA_OK=0
    say "!! tcpka built but $TCPKA is missing; its rows are skipped"
fi

say "== building gencap (tools/gencap) ..."
if ! cargo build --release --manifest-path tools/gencap/Cargo.toml >"$OUT/build-gencap.log" 2>&1; then
    say "!! gencap does not build (log: target/bench/build-gencap.log)"
    tail -20 "$OUT/build-gencap.log" >&2
    exit 2
fi
GENCAP="$ROOT/tools/gencap/target/release/gencap"

# ------------------------------------------------------------------ capture
NAME="capture-$CONNECTIONS-$CONCURRENT"
[[ $SEED != 1 ]] && NAME+="-s$SEED"
FILE="$OUT/$NAME.pcap"
TRUTH="$FILE.truth.json"
if [[ ! -s "$FILE" || ! -s "$TRUTH" ]]; then
    say "== generating $FILE ..."
    rm -f "$FILE" "$TRUTH"
    TMP="$OUT/.tmp-$NAME.pcap"
    rm -f "$TMP" "$TMP.truth.json"
    t0=$EPOCHREALTIME
    "$GENCAP" --connections "$CONNECTIONS" --concurrent "$CONCURRENT" --seed "$SEED" --out "$TMP"
    t1=$EPOCHREALTIME
    # the sidecar records the path it was written for; fix it up after the move
    python3 - "$TMP.truth.json" "$TRUTH" "$FILE" <<'EOF'
import json, sys
t = json.load(open(sys.argv[1]))
t["file"] = sys.argv[3]
json.dump(t, open(sys.argv[2], "w"), indent=2, sort_keys=True)
open(sys.argv[2], "a").write("\n")
EOF
    rm -f "$TMP.truth.json"
    mv "$TMP" "$FILE"
    say "   generated in $(python3 -c "print(f'{$t1-$t0:.1f}')") s"
else
    say "== reusing $FILE"
fi
PACKETS=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["packets"])' "$TRUTH")
SIZE=$(stat -c %s "$FILE")

# warm the page cache so every tool reads the file from memory
cat "$FILE" >/dev/null

# ------------------------------------------------------------------ timing
RESULTS="$OUT/results-$NAME.tsv"
: >"$RESULTS"

# measure LABEL RUNS CMD... : runs CMD (stdout to /dev/null) RUNS times under
# /usr/bin/time -v; records the fastest run's wall time and its peak RSS.
measure() {
    local label="$1" runs="$2"; shift 2
    local best="" best_rss="" status=0 i t0 t1 wall rss log="$OUT/time-$label.log"
    for ((i = 1; i <= runs; i++)); do
        t0=$EPOCHREALTIME
        if /usr/bin/time -v -o "$log.$i" -- "$@" >/dev/null 2>"$OUT/stderr-$label.log"; then
            status=0
        else
            status=$?
        fi
        t1=$EPOCHREALTIME
        if (( status != 0 )); then
            say "!! $label exited with status $status (stderr: target/bench/stderr-$label.log):"
            tail -3 "$OUT/stderr-$label.log" >&2 || true
            printf '%s\tFAILED(exit %s)\t\t%s\n' "$label" "$status" "$*" >>"$RESULTS"
            return 1
        fi
        wall=$(python3 -c "print(f'{$t1-$t0:.3f}')")
        rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log.$i")
        say "   $label run $i/$runs: ${wall} s, peak RSS ${rss} KiB"
        if [[ -z "$best" ]] || python3 -c "import sys; sys.exit(0 if $wall < $best else 1)"; then
            best=$wall; best_rss=$rss
        fi
    done
    printf '%s\t%s\t%s\t%s\n' "$label" "$best" "$best_rss" "$*" >>"$RESULTS"
}

say "== timing on $FILE ($PACKETS packets, $SIZE bytes)"
measure tcpdump "$RUNS" "$TCPDUMP" -r "$FILE" -w /dev/null || true

if (( TCPKA_OK )); then
    measure "tcpka-table" "$RUNS" "$TCPKA" analyze "$FILE" || true
    measure "tcpka-json" "$RUNS" "$TCPKA" analyze --format json "$FILE" || true
else
    printf '%s\tSKIPPED(build failed)\t\t%s\n' "tcpka-table" "target/release/tcpka analyze $FILE" >>"$RESULTS"
    printf '%s\tSKIPPED(build failed)\t\t%s\n' "tcpka-json" "target/release/tcpka analyze --format json $FILE" >>"$RESULTS"
fi

TSHARK_NOTE=""
if (( TSHARK )); then
    if command -v tshark >/dev/null; then
        measure tshark 1 "$(command -v tshark)" -r "$FILE" -Y tcp.analysis.keep_alive || true
    else
        TSHARK_NOTE="tshark not installed (apt-get install -y tshark); tshark row skipped"
        say "!! $TSHARK_NOTE"
    fi
else
    TSHARK_NOTE="tshark skipped (--no-tshark)"
fi

# ------------------------------------------------------------------ check
CHECK_JSON="$OUT/tcpka-$NAME.json"
CHECK_STATUS="SKIPPED"
rm -f "$CHECK_JSON"
if (( TCPKA_OK )); then
    say "== verdict check: target/release/tcpka analyze --format json --all FILE"
    if "$TCPKA" analyze --format json --all "$FILE" >"$CHECK_JSON" 2>"$OUT/stderr-check.log"; then
        CHECK_STATUS="RAN"
    else
        say "!! tcpka analyze --format json --all failed (stderr: target/bench/stderr-check.log)"
        tail -3 "$OUT/stderr-check.log" >&2 || true
        CHECK_STATUS="FAILED"
    fi
fi

# ------------------------------------------------------------------ report
python3 - "$RESULTS" "$TRUTH" "$CHECK_JSON" "$CHECK_STATUS" "$PACKETS" "$SIZE" "$FILE" "$INVOCATION" "$RUNS" "$TSHARK_NOTE" "$ROOT" <<'EOF'
import json, os, platform, subprocess, sys, datetime
(results, truth_path, check_json, check_status, packets, size, file, invocation,
 runs, tshark_note, root) = sys.argv[1:12]
packets, size, runs = int(packets), int(size), int(runs)
truth = json.load(open(truth_path))

rows = []
for line in open(results):
    label, wall, rss, cmd = (line.rstrip("\n").split("\t") + ["", "", ""])[:4]
    rows.append((label, wall, rss, cmd))
walls = {}
for label, wall, rss, cmd in rows:
    try:
        walls[label] = float(wall)
    except ValueError:
        pass

def rel(p):
    return os.path.relpath(p, root) if p.startswith(root) else p

def cpu_model():
    try:
        for l in open("/proc/cpuinfo"):
            if l.startswith("model name"):
                return l.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"

def version(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
        return (out.stdout + out.stderr).strip().splitlines()[0]
    except Exception:
        return "n/a"

print()
print(f"## tcpka benchmark — {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}")
print()
print(f"- machine: {os.cpu_count()} CPUs ({cpu_model()}), {platform.system()} {platform.release()}")
print(f"- capture: `{rel(file)}`: {packets:,} packets, {size/1e6:.1f} MB, "
      f"{truth['connections']:,} connections, {truth['args']['concurrent']:,} concurrent, "
      f"{truth['span_seconds']/3600:.2f} h of traffic, seed {truth['args']['seed']}")
print(f"- runs: tcpdump and tcpka best of {runs}" + (", tshark 1 run" if "tshark" in walls else "")
      + "; page cache warm; stdout to /dev/null")
print(f"- versions: {version(['tcpdump', '--version'])}; "
      f"{version(['tshark', '--version']) if 'tshark' in walls else 'tshark n/a'}")
print()
print("| tool | wall s | packets/s | peak RSS MiB | throughput vs tshark | time vs tcpdump floor |")
print("|---|---:|---:|---:|---:|---:|")
names = {"tcpdump": "tcpdump -r (floor)", "tcpka-table": "tcpka analyze (table)",
         "tcpka-json": "tcpka analyze --format json", "tshark": "tshark -Y tcp.analysis.keep_alive"}
for label, wall, rss, cmd in rows:
    name = names.get(label, label)
    if label not in walls:
        print(f"| {name} | {wall} | | | | |")
        continue
    w = walls[label]
    pps = packets / w if w > 0 else float("inf")
    mib = int(rss) / 1024 if rss else float("nan")
    vs_tshark = f"{walls['tshark'] / w:.1f}×" if "tshark" in walls else "n/a"
    vs_floor = f"{w / walls['tcpdump']:.1f}×" if "tcpdump" in walls else "n/a"
    print(f"| {name} | {w:.3f} | {pps:,.0f} | {mib:.1f} | {vs_tshark} | {vs_floor} |")
if tshark_note:
    print(f"\n_Note: {tshark_note}._")
print()
print("Commands (each run as `/usr/bin/time -v CMD > /dev/null`):")
print()
for label, wall, rss, cmd in rows:
    print(f"    {' '.join(rel(a) for a in cmd.split(' '))}")
print()
print(f"Benchmark command: `{invocation}`")
print()

# verdict check
print("### Verdict check (tcpka JSON vs generator truth)")
print()
ok = True
if check_status == "SKIPPED":
    print("SKIPPED: tcpka did not build, nothing to check.")
    print("\nRESULT: FAIL (tcpka not available)")
    sys.exit(1)
if check_status != "RAN":
    print("tcpka analyze --format json --all failed; see target/bench/stderr-check.log")
    print("\nRESULT: FAIL")
    sys.exit(1)
try:
    doc = json.load(open(check_json))
except Exception as e:
    print(f"tcpka's JSON does not parse: {e}")
    print("\nRESULT: FAIL")
    sys.exit(1)

def line(what, want, got, required=True):
    global ok
    good = want == got
    if required and not good:
        ok = False
    tag = "ok" if good else ("MISMATCH" if required else "differs (info)")
    print(f"| {what} | {want} | {got} | {tag} |")

print("| quantity | truth | tcpka | |")
print("|---|---:|---:|---|")
summary = doc.get("summary") or {}
by = summary.get("by_end_reason")
if not isinstance(by, dict):
    # fall back to counting connections[].end_reason
    by = {}
    for c in doc.get("connections") or []:
        by[c.get("end_reason")] = by.get(c.get("end_reason"), 0) + 1
    print("| (summary.by_end_reason missing: counted connections[].end_reason) | | | |")
line("connections", truth["connections"], summary.get("connections", len(doc.get("connections") or [])))
want_by = truth["by_end_reason"]
for reason in sorted(set(want_by) | set(by)):
    line(f"end_reason {reason}", want_by.get(reason, 0), by.get(reason, 0))
caps = doc.get("captures") or []
line("packets", truth["packets"], sum(c.get("packets", 0) for c in caps))
conns = doc.get("connections") or []
sent = answered = 0
for c in conns:
    for ka in c.get("keepalive") or []:
        sent += ka.get("probes_sent", 0) or 0
        answered += ka.get("probes_answered", 0) or 0
line("keepalive probes sent", truth["keepalive"]["probes"], sent)
line("keepalive probes answered", truth["keepalive"]["probes_answered"], answered)
print()
print(f"RESULT: {'PASS' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
EOF
