#!/bin/sh
# Installs what tcpka needs to build on Debian/Ubuntu: libpcap's headers
# (package libpcap-dev). Does nothing when they are already there.
set -eu
if [ -e /usr/include/pcap.h ] || [ -e /usr/include/pcap/pcap.h ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "deps.sh: libpcap's headers are missing; install libpcap (e.g. libpcap-devel, or brew install libpcap) and retry" >&2
    exit 1
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "deps.sh: installing libpcap-dev" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libpcap-dev >/dev/null
