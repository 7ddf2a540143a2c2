#!/bin/sh
# Installs what tcpka needs on Debian/Ubuntu: to build, libpcap's headers
# (libpcap-dev); for the tests that check tcpka against real tools, tshark
# (Community IDs, frame numbers), chromium with a monospaced font that has the
# box-drawing characters and pdftotext (the HTML report rendered and printed
# headless, its text read back; DejaVu Sans Mono, poppler-utils) and
# tcpreplay (bench/live.sh). Installs only what is missing.
#
# With CI set (as .ci/run runs), also prometheus and promtool (the metrics
# test scrapes tcpka live with a real Prometheus server). Not without CI:
# Debian's prometheus package starts a server on port 9090 where systemd
# runs, which a developer may not want; without it that test says so and
# skips (under CI it fails instead).
set -eu
need=""
if ! [ -e /usr/include/pcap.h ] && ! [ -e /usr/include/pcap/pcap.h ]; then
    need="$need libpcap-dev"
fi
command -v tshark >/dev/null 2>&1 || need="$need tshark"
command -v chromium >/dev/null 2>&1 || need="$need chromium"
command -v pdftotext >/dev/null 2>&1 || need="$need poppler-utils"
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf ] || need="$need fonts-dejavu-core"
command -v tcpreplay >/dev/null 2>&1 || need="$need tcpreplay"
if [ -n "${CI:-}" ]; then
    { command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; } || need="$need prometheus"
fi
if [ -z "$need" ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "deps.sh: missing:$need; install them (libpcap-devel, or brew install libpcap, for libpcap-dev) and retry" >&2
    exit 1
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "deps.sh: installing$need" >&2
$SUDO apt-get update -qq
# shellcheck disable=SC2086 # one word per package
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need >/dev/null
