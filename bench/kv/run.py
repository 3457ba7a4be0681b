#!/usr/bin/python3
"""bench/kv: KV PUT and GET throughput and latency at several concurrencies,
cairn's dev agent beside etcd 3.4 (JSON gateway) and, when CONSUL_BIN points
at a reference build, Consul's dev agent; idle and peak RSS of each.

usage: CAIRN_BUILD=build-release bench/kv/run.py [seconds-per-point]
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import benchlib as B  # noqa: E402

SECONDS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
CONCURRENCY = [1, 16, 64, 256]
KEYS = 10000
SIZE = 100

WORKLOADS = {
    # name: (PUT method, path, body), (GET method, path, body)
    "cairn": (("PUT", "/v1/kv/{KEY}", "{VAL}"), ("GET", "/v1/kv/{KEY}", "")),
    "consul": (("PUT", "/v1/kv/{KEY}", "{VAL}"), ("GET", "/v1/kv/{KEY}", "")),
    "etcd": (("POST", "/v3/kv/put", '{"key":"{KEY64}","value":"{VAL64}"}'),
             ("POST", "/v3/kv/range", '{"key":"{KEY64}"}')),
}


def measure(name, proc):
    put, get = WORKLOADS[name]
    idle = B.rss_kb(proc.pid)
    rows = []
    # populate every key once so reads hit
    B.loadgen(proc.port, put[0], put[1], put[2], conns=1, seconds=2, size=SIZE, keys=KEYS,
              sequential=True)
    for c in CONCURRENCY:
        w = B.loadgen(proc.port, put[0], put[1], put[2], conns=c, seconds=SECONDS, size=SIZE, keys=KEYS)
        r = B.loadgen(proc.port, get[0], get[1], get[2], conns=c, seconds=SECONDS, size=SIZE, keys=KEYS)
        rows.append((name, c, w["ops_per_s"], w["p50_us"], w["p99_us"], w["errors"],
                     r["ops_per_s"], r["p50_us"], r["p99_us"], r["errors"]))
    peak = B.rss_kb(proc.pid, "VmHWM")
    return rows, idle, peak


def main():
    results, mem = [], []
    starters = [("cairn", lambda: B.start_cairn()), ("etcd", B.start_etcd), ("consul", B.start_consul)]
    for name, start in starters:
        proc = start()
        if proc is None:
            print(f"# {name}: not available, skipped")
            continue
        time.sleep(0.5)
        try:
            rows, idle, peak = measure(name, proc)
            results += rows
            mem.append((name, f"{idle / 1024:.1f}", f"{peak / 1024:.1f}"))
        finally:
            proc.stop()
    B.table(f"KV, {SIZE}-byte values over {KEYS} keys, {SECONDS}s per point (ops/s, latency in µs)",
            ["server", "conc", "PUT ops/s", "PUT p50", "PUT p99", "PUT err",
             "GET ops/s", "GET p50", "GET p99", "GET err"], results)
    B.table("Memory (MiB)", ["server", "idle RSS", "peak RSS"], mem)


if __name__ == "__main__":
    main()
