#!/usr/bin/env python3
"""Mutation campaign (dev-only): tcpka must never hang, panic or lie on a broken capture.

Takes the fixtures as seeds and runs `tcpka analyze --format json` on mutated
copies: bit flips, truncations at every record boundary, corrupted pcap/pcapng
headers and blocks, corrupted link/IP/TCP headers, clock jumps. Each run is
capped at 5 s and 1 GiB of address space. A run fails when it

  - panics (exit 101, or "panicked" on stderr) or dies of a signal,
  - hangs (hits the time cap) or hits the memory cap,
  - exits 0 or 1 without a valid JSON document on stdout,
  - exits with anything but 0, 1 or 2.

    scripts/mutate.py [--runs N] [--jobs J] [--seed S] [--bin PATH] [--keep DIR]

Prints one line of totals; failing inputs are kept in DIR (default
/tmp/tcpka-mutate-failures). Exit 0 when nothing failed.
"""
import argparse
import concurrent.futures as cf
import glob
import json
import os
import random
import resource
import shutil
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIME_CAP_S = 5
MEMORY_CAP = 1 << 30


def records(data):
    """Offsets of the record (pcap) or block (pcapng) starts, and the byte order."""
    out = []
    if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        off = 24
        while off + 16 <= len(data):
            out.append(off)
            caplen = struct.unpack_from(endian + "I", data, off + 8)[0]
            off += 16 + caplen
        return "pcap", endian, out
    if data[:4] == b"\x0a\x0d\x0d\x0a" and len(data) >= 12:
        endian = "<" if data[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
        off = 0
        while off + 12 <= len(data):
            out.append(off)
            length = struct.unpack_from(endian + "I", data, off + 4)[0]
            if length < 12:
                break
            off += length
        return "pcapng", endian, out
    return None, "<", out


def mutate(data, rng):
    """One mutated copy of `data` and the name of what was done."""
    data = bytearray(data)
    kind, endian, recs = records(bytes(data))
    choice = rng.randrange(9)
    if choice == 0 or not recs:  # flip a few bits anywhere
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
        return bytes(data), "bit-flips"
    if choice == 1:  # truncate at a record boundary, or just inside one
        cut = rng.choice(recs) + rng.choice([0, 1, 4, 8, 12, 15, 16, 17, 20, 40])
        return bytes(data[: min(cut, len(data))]), "truncate-at-boundary"
    if choice == 2:  # truncate anywhere
        return bytes(data[: rng.randrange(len(data))]), "truncate"
    if choice == 3:  # corrupt the file header
        i = rng.randrange(min(len(data), 28 if kind == "pcapng" else 24))
        data[i] = rng.randrange(256)
        return bytes(data), "file-header"
    if choice == 4:  # a record/block length field: huge, zero, off by a little
        r = rng.choice(recs)
        field = r + (8 if kind == "pcap" else 4)
        if field + 4 <= len(data):
            old = struct.unpack_from(endian + "I", data, field)[0]
            new = rng.choice([0, 1, 0xFFFFFFFF, 0x7FFFFFFF, old + 1, max(old - 1, 0), old * 2, 65536])
            struct.pack_into(endian + "I", data, field, new & 0xFFFFFFFF)
        return bytes(data), "record-length"
    if choice == 5 and kind == "pcap":  # clock jumps: zero, far future, backwards
        r = rng.choice(recs)
        old = struct.unpack_from(endian + "I", data, r)[0]
        new = rng.choice([0, 1, 0xFFFFFFFF, 0x7FFFFFFF, max(old - 86400 * 365, 0), old + 86400 * 3650, old - 1])
        struct.pack_into(endian + "I", data, r, new & 0xFFFFFFFF)
        if rng.random() < 0.3:  # sub-second field out of range
            struct.pack_into(endian + "I", data, r + 4, rng.choice([999999999, 0xFFFFFFFF, 1000000]))
        return bytes(data), "clock-jump"
    # Link, IP and TCP headers: bytes near the start of a packet's data.
    r = rng.choice(recs)
    start = r + (16 if kind == "pcap" else 28)
    span = {6: 14, 7: 40, 8: 60}.get(choice, 60)
    for _ in range(rng.randint(1, 4)):
        i = start + rng.randrange(span + 20)
        if i < len(data):
            data[i] = rng.choice([0, 0xFF, rng.randrange(256), data[i] ^ 0x40, data[i] ^ 0x0F])
    return bytes(data), "packet-headers"


def limit():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def run_one(binary, path):
    try:
        p = subprocess.run(
            [binary, "analyze", "--format", "json", path],
            capture_output=True,
            timeout=TIME_CAP_S,
            preexec_fn=limit,
        )
    except subprocess.TimeoutExpired:
        return "hang"
    err = p.stderr.decode("utf-8", "replace")
    if "memory allocation" in err or "out of memory" in err.lower():
        return "memory-cap"
    if p.returncode == 101 or "panicked" in err:
        return "panic"
    if p.returncode < 0:
        return "signal %d" % -p.returncode
    if p.returncode not in (0, 1, 2):
        return "exit %d" % p.returncode
    if p.returncode in (0, 1):
        try:
            json.loads(p.stdout)
        except ValueError:
            return "invalid-json"
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=50000)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release/tcpka"))
    ap.add_argument("--keep", default="/tmp/tcpka-mutate-failures")
    args = ap.parse_args()
    seeds = sorted(glob.glob(os.path.join(ROOT, "fixtures/*.pcap")) + glob.glob(os.path.join(ROOT, "fixtures/public/*/*.pcap*")))
    seed_data = [open(s, "rb").read() for s in seeds]
    work = tempfile.mkdtemp(prefix="tcpka-mutate-")
    os.makedirs(args.keep, exist_ok=True)
    totals = {}
    failures = {}
    kinds = {}

    def job(i):
        r = random.Random(args.seed * 1_000_003 + i)
        data, kind = mutate(r.choice(seed_data), r)
        path = os.path.join(work, "m%d.pcap" % i)
        with open(path, "wb") as f:
            f.write(data)
        result = run_one(args.bin, path)
        if result:
            shutil.copy(path, os.path.join(args.keep, "%s-%d.pcap" % (result.replace(" ", "-"), i)))
        os.unlink(path)
        return kind, result

    done = 0
    with cf.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for kind, result in pool.map(job, range(args.runs), chunksize=64):
            done += 1
            kinds[kind] = kinds.get(kind, 0) + 1
            key = result or "ok"
            totals[key] = totals.get(key, 0) + 1
            if result:
                failures[result] = failures.get(result, 0) + 1
            if done % 5000 == 0:
                print("%d runs ..." % done, file=sys.stderr)
    shutil.rmtree(work, ignore_errors=True)
    print("mutate: %d runs (%s) on %d seeds: %d ok, %d failed %s" % (
        done,
        ", ".join("%s %d" % kv for kv in sorted(kinds.items())),
        len(seeds),
        totals.get("ok", 0),
        sum(failures.values()),
        json.dumps(failures, sort_keys=True),
    ))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
