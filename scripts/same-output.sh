#!/usr/bin/env bash
# Proves that a change did not change what tcpka prints: runs the binary of a
# base revision and the one of the working tree on every fixture and every
# public capture (../shared/corpus), in every output mode, and compares the
# outputs byte for byte.
#
#   scripts/same-output.sh [BASE_REV]      (default: HEAD)
#   scripts/same-output.sh PATH/TO/tcpka    (a base binary built before)
#
# Exit 0 when every output is identical; 1 with the list of differences
# (and a diff of the first few) otherwise. Dev-only: CI runs the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:-HEAD}
work=$(mktemp -d /tmp/tcpka-same-output.XXXXXX)
trap 'git worktree remove --force "$work/base" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

if [ -f "$base" ] && [ -x "$base" ]; then
    old=$(realpath "$base")
else
    git worktree add --detach -q "$work/base" "$base"
    echo "building $base ..." >&2
    (cd "$work/base" && cargo build --release -q --bin tcpka)
    old="$work/base/target/release/tcpka"
fi
echo "building the working tree ..." >&2
cargo build --release -q --bin tcpka
new="target/release/tcpka"

captures=(fixtures/*.pcap fixtures/public/*/*.pcap*)
if [ -d ../shared/corpus ]; then
    while IFS= read -r f; do captures+=("$f"); done < <(find ../shared/corpus -name '*.pcap*' | sort)
fi

run() { # binary, output file, args... ($columns, when set, is the width the table wraps at)
    local bin=$1 out=$2
    shift 2
    set +e
    if [ -n "$columns" ]; then
        COLUMNS=$columns "$bin" "$@" >"$out" 2>"$out.err"
    else
        "$bin" "$@" >"$out" 2>"$out.err"
    fi
    echo "exit $?" >>"$out.err"
    set -e
}

differ=()
columns=
compare() { # label, args...
    local label=$1
    shift
    run "$old" "$work/old" "$@"
    run "$new" "$work/new" "$@"
    if ! cmp -s "$work/old" "$work/new" || ! cmp -s "$work/old.err" "$work/new.err"; then
        differ+=("$label")
        if [ ${#differ[@]} -le 3 ]; then
            echo "=== $label" >&2
            diff "$work/old" "$work/new" | head -20 >&2 || true
            diff "$work/old.err" "$work/new.err" | head -10 >&2 || true
        fi
    fi
}

n=0
for f in "${captures[@]}"; do
    compare "table $f" analyze "$f"
    compare "table --all $f" analyze --all "$f"
    compare "json $f" analyze --format json "$f"
    compare "ndjson $f" analyze --format ndjson "$f"
    compare "html $f" analyze --format html "$f"
    # The table wraps at the terminal's width: the narrowest it allows (60,
    # below the 80 of a pipe) and a wide one, drawn in ASCII and coloured.
    columns=60 compare "table --all COLUMNS=60 $f" analyze --all "$f"
    columns=132 compare "table --all --ascii --color COLUMNS=132 $f" analyze --all --ascii --color always "$f"
    n=$((n + 7))
done
# Several captures in one run: the cross-connection findings span them.
compare "json all fixtures" analyze --format json fixtures/*.pcap
compare "table all fixtures" analyze --all fixtures/*.pcap
n=$((n + 2))

if [ ${#differ[@]} -eq 0 ]; then
    echo "same output: $n runs on ${#captures[@]} captures are byte-identical ($base vs working tree)"
    exit 0
fi
echo "different output in ${#differ[@]} of $n runs:" >&2
printf '  %s\n' "${differ[@]}" >&2
exit 1
