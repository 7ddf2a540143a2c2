#!/usr/bin/env bash
# Makes the README's two pictures from bundled fixtures, with the tcpka of
# this tree:
#   - the terminal report of fixtures/ka-sysctl-sll2.pcap (a real Linux
#     keepalive kill) at 80 columns, ladder diagram included, written into
#     README.md between the <!-- readme-images:table --> markers;
#   - a screenshot of the HTML report of that fixture and rst-middlebox.pcap,
#     rendered by headless Chromium: docs/html-report.png.
# tests/readme.rs checks that the README's ladder is the one tcpka draws now.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v chromium >/dev/null || { echo "readme-images.sh: chromium is needed (scripts/deps.sh)" >&2; exit 2; }
cargo build -q --bin tcpka
tcpka=target/debug/tcpka
mkdir -p target/readme

# The story of the one connection: its heading, ladder, diagnosis, evidence, filter.
COLUMNS=80 "$tcpka" analyze fixtures/ka-sysctl-sll2.pcap --color never |
    sed -n '/^\[1\] /,$p' >target/readme/table.txt
python3 - target/readme/table.txt <<'PY'
import sys
story = open(sys.argv[1]).read().rstrip("\n")
readme = open("README.md").read()
begin, end = "<!-- readme-images:table -->\n", "<!-- readme-images:table end -->"
head, rest = readme.split(begin, 1)
_, tail = rest.split(end, 1)
open("README.md", "w").write(head + begin + "```\n" + story + "\n```\n" + end + tail)
PY

"$tcpka" analyze --format html fixtures/ka-sysctl-sll2.pcap fixtures/rst-middlebox.pcap >target/readme/report.html
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
    --screenshot="$PWD/docs/html-report.png" --window-size=1000,1900 \
    "file://$PWD/target/readme/report.html" 2>/dev/null
echo "readme-images.sh: README.md and docs/html-report.png updated" >&2
