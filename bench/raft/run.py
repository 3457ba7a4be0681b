#!/usr/bin/python3
"""bench/raft: figures for the pure Raft core.

Runs build/bench/raft/bench_raft (CAIRN_BUILD, default build-release) and
prints two tables: election timing (cold start and leader failover) on a
simulated LAN at raft_multiplier 1 and 5, and commits per CPU-second of a
3-server cluster in one process at several batch sizes.
usage: bench/raft/run.py [--build DIR] [--quick]
"""
import argparse
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(exe, *args):
    out = subprocess.run([exe, *args], check=True, capture_output=True, text=True).stdout
    kv = {}
    for line in out.splitlines():
        k, _, v = line.partition(" ")
        kv[k] = v
    return kv


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.environ.get("CAIRN_BUILD",
                                                      os.path.join(ROOT, "build-release")))
    ap.add_argument("--quick", action="store_true", help="fewer runs and entries")
    a = ap.parse_args()
    exe = os.path.join(a.build, "bench", "raft", "bench_raft")
    if not os.access(exe, os.X_OK):
        print(f"bench/raft: {exe} not built", file=sys.stderr)
        return 1
    runs = "200" if a.quick else "1000"
    entries = "200000" if a.quick else "2000000"

    print("Raft elections, simulated LAN (0.1-0.5 ms one way, 0.5-2 ms fsync), "
          f"{runs} runs each; tick = heartbeat interval = E/10")
    hdr = ("mult", "servers", "E ms", "boot p50", "boot p99", "failover p50", "failover p99",
           "failover max", "p50/p99 ticks")
    print("| " + " | ".join(hdr) + " |")
    print("|" + "---|" * len(hdr))
    for mult, servers in (("1", "3"), ("1", "5"), ("5", "3")):
        r = run(exe, "elections", "--mult", mult, "--servers", servers, "--runs", runs)
        print(f"| {mult} | {servers} | {r['election_ms']} | {r['boot_p50_ms']} ms | "
              f"{r['boot_p99_ms']} ms | {r['failover_p50_ms']} ms | {r['failover_p99_ms']} ms | "
              f"{r['failover_max_ms']} ms | {r['failover_p50_ticks']}/{r['failover_p99_ticks']} |")
    r = run(exe, "elections", "--mult", "1", "--servers", "1", "--runs", runs)
    print(f"| 1 | 1 (dev) | {r['election_ms']} | {r['boot_p50_ms']} ms | {r['boot_p99_ms']} ms "
          "| - | - | - | - |")
    print()
    print(f"Pure-core commits, {entries} entries of 100 bytes, every message encoded and "
          "decoded, storage instant, one CPU")
    hdr = ("servers", "batch", "commits/s", "ns/entry")
    print("| " + " | ".join(hdr) + " |")
    print("|" + "---|" * len(hdr))
    for servers, batch in (("3", "1"), ("3", "16"), ("3", "64"), ("5", "64"), ("1", "64")):
        n = str(int(entries) // 10) if batch == "1" else entries
        r = run(exe, "commits", "--servers", servers, "--batch", batch, "--entries", n)
        print(f"| {servers} | {batch} | {int(float(r['commits_per_s'])):,} | {r['ns_per_entry']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
