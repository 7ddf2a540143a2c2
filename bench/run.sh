#!/usr/bin/env bash
# One-command benchmark for tcpka (issues 5, 11 and 14). See bench/README.md.
#
#   bench/run.sh [--rounds R] [--no-tshark] [--no-sweep] [--record]
#
# Builds tcpka and tools/gencap in release mode and bench/pcap_read.c (a bare
# libpcap read loop), generates the captures that are missing under
# target/bench/, then runs every command below once per round, the rounds
# one after the other (interleaved: a load that comes and goes hits every
# tool alike), each under /usr/bin/time -v (wall clock, peak RSS):
#
#   on the bench capture (100,000 connections, 2,000 concurrent):
#     cat FILE                                   (reading the file: the limit)
#     pcap-read FILE                             (the bare libpcap read loop)
#     tcpdump -r FILE -w /dev/null               (the reference for ratios)
#     tshark -r FILE -Y tcp.analysis.keep_alive  (the usual analyser)
#     tcpka analyze FILE                         (table)
#     tcpka analyze --all FILE                   (table, every connection)
#     tcpka analyze --format json FILE           (JSON)
#     tcpka analyze --format ndjson FILE         (when this build has it)
#   the concurrency sweep (200,000 connections, 2k / 20k / 200k concurrent):
#     tcpdump, tcpka table and JSON on each: cost per packet
#   the port scan (300,000 SYNs nobody answered):
#     tcpka table and JSON: peak memory
#
# Prints a markdown report (medians over the rounds; each ratio is the
# median of the per-round ratios, so both sides of it ran within seconds of
# each other) with the machine and its load, checks tcpka's verdicts on the
# bench capture against the generator's truth (PASS/FAIL), and with
# --record appends the report to bench/results.md.
# Exit status: 0 on PASS, 1 otherwise, 2 on a usage or setup error.
set -euo pipefail

CONNECTIONS=100000
CONCURRENT=2000
SWEEP_CONNECTIONS=200000
SWEEP_CONCURRENT=(2000 20000 200000)
SCAN_SYNS=300000
ROUNDS=3
TSHARK=1
SWEEP=1
RECORD=0
SEED=1

usage() {
    sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'
    cat <<EOF
Options:
  --rounds R             rounds of every command (default $ROUNDS; --runs is the same)
  --connections N        connections in the bench capture (default $CONNECTIONS)
  --concurrent C         concurrent connections in it (default $CONCURRENT)
  --sweep-connections N  connections in each sweep capture (default $SWEEP_CONNECTIONS)
  --seed S               generator seed (default $SEED; changes the file names)
  --no-tshark            do not run tshark
  --no-sweep             no concurrency sweep and no scan
  --record               append the report to bench/results.md
EOF
}

num() { [[ "$2" =~ ^[0-9]+$ ]] || { echo "bench/run.sh: $1 needs a number, not '$2'" >&2; exit 2; }; printf '%s' "$2"; }
while [[ $# -gt 0 ]]; do
    case "$1" in
        --rounds|--runs) ROUNDS=$(num "$1" "${2:-}"); shift 2 ;;
        --rounds=*|--runs=*) ROUNDS=$(num "${1%%=*}" "${1#*=}"); shift ;;
        --connections) CONNECTIONS=$(num "$1" "${2:-}"); shift 2 ;;
        --connections=*) CONNECTIONS=$(num --connections "${1#*=}"); shift ;;
        --concurrent) CONCURRENT=$(num "$1" "${2:-}"); shift 2 ;;
        --concurrent=*) CONCURRENT=$(num --concurrent "${1#*=}"); shift ;;
        --sweep-connections) SWEEP_CONNECTIONS=$(num "$1" "${2:-}"); shift 2 ;;
        --sweep-connections=*) SWEEP_CONNECTIONS=$(num --sweep-connections "${1#*=}"); shift ;;
        --seed) SEED=$(num "$1" "${2:-}"); shift 2 ;;
        --seed=*) SEED=$(num --seed "${1#*=}"); shift ;;
        --no-tshark) TSHARK=0; shift ;;
        --no-sweep) SWEEP=0; shift ;;
        --record) RECORD=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "bench/run.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done
(( ROUNDS >= 1 )) || ROUNDS=1

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="$ROOT/target/bench"
mkdir -p "$OUT"
INVOCATION="bench/run.sh --rounds $ROUNDS"
[[ $CONNECTIONS != 100000 || $CONCURRENT != 2000 ]] && INVOCATION+=" --connections $CONNECTIONS --concurrent $CONCURRENT"
[[ $SWEEP_CONNECTIONS != 200000 ]] && INVOCATION+=" --sweep-connections $SWEEP_CONNECTIONS"
[[ $SEED != 1 ]] && INVOCATION+=" --seed $SEED"
[[ $TSHARK == 0 ]] && INVOCATION+=" --no-tshark"
[[ $SWEEP == 0 ]] && INVOCATION+=" --no-sweep"

say() { printf '%s\n' "$*" >&2; }
need() { command -v "$1" >/dev/null || { say "bench/run.sh: $1 is needed ($2)"; exit 2; }; }

if [[ ! -x /usr/bin/time ]] || ! /usr/bin/time -v true >/dev/null 2>&1; then
    say "bench/run.sh: GNU time is needed at /usr/bin/time (Debian: apt-get install -y time)"
    exit 2
fi
need python3 "apt-get install -y python3"
need tcpdump "apt-get install -y tcpdump"
need cc "apt-get install -y gcc libpcap-dev"
TSHARK_NOTE=""
if (( TSHARK )) && ! command -v tshark >/dev/null; then
    TSHARK=0
    TSHARK_NOTE="tshark not installed (apt-get install -y tshark): its row is skipped"
    say "!! $TSHARK_NOTE"
elif (( ! TSHARK )); then
    TSHARK_NOTE="tshark skipped (--no-tshark)"
fi

# ------------------------------------------------------------------ build
TCPKA="$ROOT/target/release/tcpka"
say "== building tcpka (cargo build --release) ..."
if ! cargo build --release >"$OUT/build-tcpka.log" 2>&1; then
    say "!! tcpka does not build (log: target/bench/build-tcpka.log):"
    tail -20 "$OUT/build-tcpka.log" >&2
    exit 2
fi
say "== building tools/gencap (cargo build --release) ..."
if ! cargo build --release --manifest-path tools/gencap/Cargo.toml >"$OUT/build-gencap.log" 2>&1; then
    say "!! gencap does not build (log: target/bench/build-gencap.log)"
    tail -20 "$OUT/build-gencap.log" >&2
    exit 2
fi
GENCAP="$ROOT/tools/gencap/target/release/gencap"
PCAP_READ="$OUT/pcap-read"
say "== building bench/pcap_read.c ..."
if ! cc -O2 -o "$PCAP_READ" bench/pcap_read.c -lpcap 2>"$OUT/build-pcap-read.log"; then
    say "!! bench/pcap_read.c does not build (needs libpcap-dev; log: target/bench/build-pcap-read.log)"
    exit 2
fi
NDJSON_NOTE=""
if ! "$TCPKA" analyze --help | grep -q ndjson; then
    NDJSON_NOTE="no NDJSON row: this build's \`tcpka analyze --format\` has no ndjson"
    say "!! $NDJSON_NOTE"
fi

# ------------------------------------------------------------------ captures
# capture NAME GENCAP-ARGS...: target/bench/NAME.pcap and its truth sidecar,
# generated when missing (the same arguments always give the same bytes).
capture() {
    local name="$1"; shift
    local file="$OUT/$name.pcap" tmp="$OUT/.tmp-$name.pcap"
    if [[ -s "$file" && -s "$file.truth.json" ]]; then
        say "== reusing target/bench/$name.pcap"
        return
    fi
    say "== generating target/bench/$name.pcap ..."
    rm -f "$file" "$file.truth.json" "$tmp" "$tmp.truth.json"
    "$GENCAP" "$@" --out "$tmp"
    # the sidecar records the path it was written for; fix it up after the move
    python3 - "$tmp.truth.json" "$file.truth.json" "$file" <<'EOF'
import json, sys
t = json.load(open(sys.argv[1]))
t["file"] = sys.argv[3]
json.dump(t, open(sys.argv[2], "w"), indent=2, sort_keys=True)
open(sys.argv[2], "a").write("\n")
EOF
    rm -f "$tmp.truth.json"
    mv "$tmp" "$file"
}

suffix=""
[[ $SEED != 1 ]] && suffix="-s$SEED"
MAIN="capture-$CONNECTIONS-$CONCURRENT$suffix"
capture "$MAIN" --connections "$CONNECTIONS" --concurrent "$CONCURRENT" --seed "$SEED"
SWEEP_NAMES=()
SCAN=""
if (( SWEEP )); then
    for c in "${SWEEP_CONCURRENT[@]}"; do
        name="capture-$SWEEP_CONNECTIONS-$c$suffix"
        capture "$name" --connections "$SWEEP_CONNECTIONS" --concurrent "$c" --seed "$SEED"
        SWEEP_NAMES+=("$name")
    done
    SCAN="scan-$SCAN_SYNS"
    capture "$SCAN" --syn-scan "$SCAN_SYNS"
fi

# ------------------------------------------------------------------ jobs
# Every job: a label, the capture it reads, and its command (stdout to /dev/null).
JOB_LABEL=()
JOB_FILE=()
JOB_CMD=()
job() {
    local label="$1" name="$2"; shift 2
    JOB_LABEL+=("$label")
    JOB_FILE+=("$name")
    JOB_CMD+=("$(printf '%q ' "$@")")
}
F="$OUT/$MAIN.pcap"
job cat "$MAIN" cat "$F"
job pcap-read "$MAIN" "$PCAP_READ" "$F"
job tcpdump "$MAIN" tcpdump -r "$F" -w /dev/null
(( TSHARK )) && job tshark "$MAIN" tshark -r "$F" -Y tcp.analysis.keep_alive
job table "$MAIN" "$TCPKA" analyze "$F"
job table-all "$MAIN" "$TCPKA" analyze --all "$F"
job json "$MAIN" "$TCPKA" analyze --format json "$F"
[[ -z $NDJSON_NOTE ]] && job ndjson "$MAIN" "$TCPKA" analyze --format ndjson "$F"
for name in "${SWEEP_NAMES[@]}"; do
    F="$OUT/$name.pcap"
    job tcpdump "$name" tcpdump -r "$F" -w /dev/null
    job table "$name" "$TCPKA" analyze "$F"
    job json "$name" "$TCPKA" analyze --format json "$F"
done
if [[ -n $SCAN ]]; then
    job table "$SCAN" "$TCPKA" analyze "$OUT/$SCAN.pcap"
    job json "$SCAN" "$TCPKA" analyze --format json "$OUT/$SCAN.pcap"
fi

# ------------------------------------------------------------------ timing
RESULTS="$OUT/results.tsv"
LOAD="$OUT/load.tsv"
: >"$RESULTS"
: >"$LOAD"
UPTIME_BEFORE="$(uptime)"
# warm the page cache so every tool reads the files from memory
for name in "$MAIN" "${SWEEP_NAMES[@]}" $SCAN; do cat "$OUT/$name.pcap" >/dev/null; done
say "== ${#JOB_LABEL[@]} commands x $ROUNDS rounds, interleaved; load before: $UPTIME_BEFORE"
for ((round = 1; round <= ROUNDS; round++)); do
    printf '%s\t%s\n' "$round" "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$LOAD"
    for i in "${!JOB_LABEL[@]}"; do
        label="${JOB_LABEL[$i]}" name="${JOB_FILE[$i]}"
        log="$OUT/time.log" err="$OUT/stderr-$label-$name.log"
        t0=$EPOCHREALTIME
        status=0
        eval "/usr/bin/time -v -o \"\$log\" -- ${JOB_CMD[$i]}" >/dev/null 2>"$err" || status=$?
        t1=$EPOCHREALTIME
        rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")
        wall=$(python3 -c "print(f'{$t1-$t0:.4f}')")
        if (( status != 0 )); then
            say "!! round $round: $label on $name exited with $status (stderr: ${err#"$ROOT"/})"
            tail -3 "$err" >&2 || true
        fi
        say "   round $round/$ROUNDS: $label on $name: $wall s, peak RSS $rss KiB"
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$label" "$name" "$wall" "$rss" "$status" "${JOB_CMD[$i]}" >>"$RESULTS"
    done
done
UPTIME_AFTER="$(uptime)"

# ------------------------------------------------------------------ check
CHECK_JSON="$OUT/tcpka-$MAIN.json"
say "== verdict check: tcpka analyze --format json on $MAIN"
CHECK_STATUS=RAN
"$TCPKA" analyze --format json "$OUT/$MAIN.pcap" >"$CHECK_JSON" 2>"$OUT/stderr-check.log" || CHECK_STATUS=FAILED

# ------------------------------------------------------------------ report
REPORT="$OUT/report.md"
status=0
python3 - "$RESULTS" "$LOAD" "$OUT" "$MAIN" "$SCAN" "$CHECK_JSON" "$CHECK_STATUS" "$INVOCATION" "$ROUNDS" \
    "$TSHARK_NOTE" "$NDJSON_NOTE" "$UPTIME_BEFORE" "$UPTIME_AFTER" "$ROOT" "${SWEEP_NAMES[@]}" >"$REPORT" <<'EOF' || status=$?
import datetime, json, os, platform, statistics, subprocess, sys
(results, load_path, out, main, scan, check_json, check_status, invocation, rounds,
 tshark_note, ndjson_note, uptime_before, uptime_after, root, *sweep) = sys.argv[1:]
rounds = int(rounds)

truth = {n: json.load(open(f"{out}/{n}.pcap.truth.json")) for n in [main, *sweep] + ([scan] if scan else [])}
runs = {}   # (label, name) -> {round: (wall, rss_kib)}
cmds = {}
failed = set()
for line in open(results):
    rnd, label, name, wall, rss, status, cmd = line.rstrip("\n").split("\t")
    if status != "0":
        failed.add((label, name))
        continue
    runs.setdefault((label, name), {})[int(rnd)] = (float(wall), int(rss or 0))
    cmds[(label, name)] = cmd.strip()
loads = [tuple(map(float, l.split("\t")[1].split())) for l in open(load_path)]

def med(xs):
    return statistics.median(xs) if xs else None

def wall(label, name):
    return med([w for w, _ in runs.get((label, name), {}).values()])

def rss_mib(label, name):
    r = [k for _, k in runs.get((label, name), {}).values()]
    return max(r) / 1024 if r else None

def ratio(a, b):
    """Median over the rounds of a's time / b's time in the same round."""
    ra, rb = runs.get(a, {}), runs.get(b, {})
    return med([ra[r][0] / rb[r][0] for r in ra if r in rb and rb[r][0] > 0])

def cpu_model():
    try:
        for l in open("/proc/cpuinfo"):
            if l.startswith("model name"):
                return l.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"

def mem_gib():
    try:
        for l in open("/proc/meminfo"):
            if l.startswith("MemTotal"):
                return f"{int(l.split()[1]) / 2**20:.0f} GiB RAM"
    except OSError:
        pass
    return "RAM unknown"

def version(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
        return (out.stdout + out.stderr).strip().splitlines()[0]
    except Exception:
        return "n/a"

def git(*args):
    try:
        return subprocess.run(["git", "-C", root, *args], capture_output=True, text=True).stdout.strip()
    except Exception:
        return "?"

def fmt(v, spec, none="—", x=False):
    return none if v is None else format(v, spec) + ("×" if x else "")

t = truth[main]
print()
print(f"## {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}: `{invocation}`")
print()
print(f"- machine: {os.cpu_count()} CPUs ({cpu_model()}), {mem_gib()}, {platform.system()} {platform.release()}")
dirty = " (uncommitted changes)" if git("status", "--porcelain", "--untracked-files=no") else ""
print(f"- tcpka: release build of {git('rev-parse', '--short', 'HEAD')}{dirty}; "
      f"{version(['tcpdump', '--version'])}; "
      + (version(['tshark', '--version']) if ("tshark", main) in runs else "tshark not run"))
one = [l[0] for l in loads]
print(f"- load: 1-minute load average {min(one):.2f}–{max(one):.2f} at the start of the rounds "
      f"(`uptime` before: `{uptime_before.strip()}`; after: `{uptime_after.strip()}`)")
print(f"- {rounds} interleaved rounds (every command once per round, in turn); times are medians, "
      "ratios the median of the per-round ratios, peak RSS the largest of the rounds; "
      "page cache warm, stdout to /dev/null")
print(f"- bench capture `target/bench/{main}.pcap`: {t['packets']:,} packets, {t['file_bytes']/1e6:.1f} MB, "
      f"{t['connections']:,} connections, at most {t['max_concurrent']:,} open at once")
print()

names = {
    "cat": "`cat F > /dev/null`",
    "pcap-read": "bare libpcap read loop (bench/pcap_read.c)",
    "tcpdump": "`tcpdump -r F -w /dev/null`",
    "tshark": "`tshark -r F -Y tcp.analysis.keep_alive`",
    "table": "tcpka (table)",
    "table-all": "tcpka `--all` (table)",
    "json": "tcpka `--format json`",
    "ndjson": "tcpka `--format ndjson`",
}
print("| command | wall s | packets/s | peak RSS MiB | time ÷ tcpdump | time ÷ cat | tshark ÷ time |")
print("|---|---:|---:|---:|---:|---:|---:|")
for label in names:
    key = (label, main)
    if key in failed:
        print(f"| {names[label]} | FAILED | | | | | |")
        continue
    w = wall(*key)
    if w is None:
        continue
    print(f"| {names[label]} | {w:.3f} | {t['packets'] / w:,.0f} | {fmt(rss_mib(*key), '.1f')} "
          f"| {fmt(ratio(key, ('tcpdump', main)), '.2f', x=True)} | {fmt(ratio(key, ('cat', main)), '.1f', x=True)} "
          f"| {fmt(ratio(('tshark', main), key), '.1f', x=True)} |")
for note in (tshark_note, ndjson_note):
    if note:
        print(f"\n_Note: {note}._")

if sweep:
    base = sweep[0]
    print()
    print("Concurrency sweep: the same model, more connections open at once. Cost per packet "
          "= median wall ÷ packets; growth = the per-round ratio to the first capture's cost.")
    print()
    print("| capture | packets | open at most | tcpdump ns/pkt | table ns/pkt | growth | JSON ns/pkt | growth | table peak MiB | JSON peak MiB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in sweep:
        s = truth[name]
        p = s["packets"]
        ns = lambda label: fmt(None if wall(label, name) is None else wall(label, name) / p * 1e9, ".0f")
        def growth(label):
            # per-packet cost relative to the first capture's, round by round
            a, b = runs.get((label, name), {}), runs.get((label, base), {})
            pb = truth[base]["packets"]
            return fmt(med([(a[r][0] / p) / (b[r][0] / pb) for r in a if r in b]), ".2f", x=True)
        print(f"| `{name}` | {p:,} | {s['max_concurrent']:,} | {ns('tcpdump')} | {ns('table')} | {growth('table')} "
              f"| {ns('json')} | {growth('json')} | {fmt(rss_mib('table', name), '.1f')} | {fmt(rss_mib('json', name), '.1f')} |")
    lo, hi = sweep[0], sweep[-1]
    open_lo, open_hi = truth[lo]["max_concurrent"], truth[hi]["max_concurrent"]
    r_lo, r_hi = rss_mib("table", lo), rss_mib("table", hi)
    if r_lo is not None and r_hi is not None and open_hi > open_lo:
        per = (r_hi - r_lo) * 2**20 / (open_hi - open_lo)
        print(f"\nMemory per open connection (table): ({r_hi:.1f} − {r_lo:.1f} MiB) ÷ "
              f"({open_hi:,} − {open_lo:,} open) = **{per:,.0f} bytes**.")
if scan:
    s = truth[scan]
    print(f"\nPort scan `target/bench/{scan}.pcap` ({s['packets']:,} SYNs nobody answered): peak RSS "
          f"{fmt(rss_mib('table', scan), '.1f')} MiB (table), {fmt(rss_mib('json', scan), '.1f')} MiB (JSON); "
          f"wall {fmt(wall('table', scan), '.3f')} s / {fmt(wall('json', scan), '.3f')} s.")

# issue 14's targets (and issue 11's scan), each measured above
targets = []
def target(what, value, limit, unit, fmt_spec, at_least=False):
    bound = f"{'≥' if at_least else '≤'} {limit:{fmt_spec}}{unit}"
    if value is None:
        targets.append((what, "not measured", bound, "—"))
    else:
        met = value >= limit if at_least else value <= limit
        off = limit / value if at_least else value / limit
        targets.append((what, f"{value:{fmt_spec}}{unit}", bound, "met" if met else f"**not met** (off by {off:.2f}×)"))
for label in ("table", "json", "ndjson"):
    if (label, main) in runs:
        target(f"{names[label]}: time ÷ tcpdump", ratio((label, main), ("tcpdump", main)), 1.0, "×", ".2f")
for label in ("table", "json", "ndjson"):
    if (label, main) in runs and ("tshark", main) in runs:
        target(f"{names[label]}: tshark's time ÷ its", ratio(("tshark", main), (label, main)), 100, "×", ".0f", True)
if sweep:
    a, b = runs.get(("table", sweep[-1]), {}), runs.get(("table", sweep[0]), {})
    pa, pb = truth[sweep[-1]]["packets"], truth[sweep[0]]["packets"]
    g = med([(a[r][0] / pa) / (b[r][0] / pb) for r in a if r in b])
    target(f"table: cost per packet, {truth[sweep[-1]]['args']['concurrent']:,} ÷ "
           f"{truth[sweep[0]]['args']['concurrent']:,} concurrent", g, 1.5, "×", ".2f")
    r_lo, r_hi = rss_mib("table", sweep[0]), rss_mib("table", sweep[-1])
    o_lo, o_hi = truth[sweep[0]]["max_concurrent"], truth[sweep[-1]]["max_concurrent"]
    per = None if r_lo is None or r_hi is None or o_hi <= o_lo else (r_hi - r_lo) * 2**20 / (o_hi - o_lo)
    target("memory per open connection", per, 400, " B", ",.0f")
for label in ("table-all", "json", "ndjson"):
    if (label, main) in runs:
        target(f"{names[label]}: peak RSS, {t['connections']:,} connections", rss_mib(label, main), 64, " MiB", ".1f")
for label in ("table", "json"):
    if (label, main) in runs:
        target(f"{names[label]}: peak RSS at {t['max_concurrent']:,} open", rss_mib(label, main), 16, " MiB", ".1f")
if scan:
    for label in ("table", "json"):
        target(f"{names[label]}: peak RSS on the {truth[scan]['packets']:,}-SYN scan", rss_mib(label, scan), 64, " MiB", ".1f")
print()
print("Targets (issue 14; the scan: issue 11):")
print()
print("| target | measured | limit | |")
print("|---|---:|---:|---|")
for row in targets:
    print("| " + " | ".join(row) + " |")

print()
print("Commands (each as `/usr/bin/time -v CMD > /dev/null`; F = the capture named in its row):")
print()
seen = set()
for (label, name), cmd in cmds.items():
    c = cmd.replace(root + "/", "")
    if c not in seen:
        seen.add(c)
        print(f"    {c}")

print()
print("### Verdict check (tcpka JSON vs generator truth)")
print()
ok = True
if check_status != "RAN":
    print("tcpka analyze --format json failed; see target/bench/stderr-check.log")
    print("\nRESULT: FAIL")
    sys.exit(1)
try:
    doc = json.load(open(check_json))
except Exception as e:
    print(f"tcpka's JSON does not parse: {e}\n\nRESULT: FAIL")
    sys.exit(1)

def line(what, want, got):
    global ok
    good = want == got
    ok &= good
    print(f"| {what} | {want} | {got} | {'ok' if good else 'MISMATCH'} |")

print("| quantity | truth | tcpka | |")
print("|---|---:|---:|---|")
summary = doc.get("summary") or {}
by = summary.get("by_end_reason") or {}
line("connections", t["connections"], summary.get("connections"))
for reason in sorted(set(t["by_end_reason"]) | set(by)):
    line(f"end_reason {reason}", t["by_end_reason"].get(reason, 0), by.get(reason, 0))
line("packets", t["packets"], sum(c.get("packets", 0) for c in doc.get("captures") or []))
sent = sum(ka.get("probes_sent", 0) for c in doc.get("connections") or [] for ka in c.get("keepalive") or [])
answered = sum(ka.get("probes_answered", 0) for c in doc.get("connections") or [] for ka in c.get("keepalive") or [])
line("keepalive probes sent", t["keepalive"]["probes"], sent)
line("keepalive probes answered", t["keepalive"]["probes_answered"], answered)
if failed:
    ok = False
    print(f"\nFailed commands: {', '.join(f'{l} on {n}' for l, n in sorted(failed))}")
print()
print(f"RESULT: {'PASS' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
EOF
cat "$REPORT"
if (( RECORD )); then
    cat "$REPORT" >>"$ROOT/bench/results.md"
    say "== appended to bench/results.md"
fi
exit "$status"
