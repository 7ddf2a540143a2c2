#!/bin/sh
# Installs what tcpka needs to build on Debian/Ubuntu: libpcap's headers
# (package libpcap-dev). Does nothing when they are already there.
#
# With CI set (as .ci/run runs), also the tools the tests use that a
# developer's machine may lack: prometheus and promtool (the metrics test
# scrapes tcpka live with a real Prometheus server) and tcpreplay (bench/live.sh).
# Not without CI: Debian's prometheus package starts a server on port 9090
# where systemd runs, which a developer may not want.
set -eu
need=""
if [ ! -e /usr/include/pcap.h ] && [ ! -e /usr/include/pcap/pcap.h ]; then
    need=" libpcap-dev"
fi
if [ -n "${CI:-}" ]; then
    { command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; } || need="$need prometheus"
    command -v tcpreplay >/dev/null 2>&1 || need="$need tcpreplay"
fi
[ -n "$need" ] || exit 0
if ! command -v apt-get >/dev/null 2>&1; then
    echo "deps.sh: missing: $need; install them (e.g. libpcap-devel, or brew install libpcap) and retry" >&2
    exit 1
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "deps.sh: installing:$need" | tr -s " " >&2
$SUDO apt-get update -qq
# shellcheck disable=SC2086 # $need is a list of package names
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need >/dev/null
