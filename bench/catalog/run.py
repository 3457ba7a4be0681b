#!/usr/bin/python3
"""bench/catalog: one dev agent with 10,000 services registered through its
agent API (each with a passing TTL check), then

  1. GET /v1/health/service/<name>?passing under closed-loop load (random
     service per request) at several concurrencies: ops/s and latency;
  2. 5,000 blocking queries on /v1/health/service/<name> held at once:
     memory per held query (RSS growth / 5,000) and wake-up latency when a
     check flips -- (a) each query on its own service, one flips: only its
     waiter answers; (b) all on one service: every waiter answers.

usage: CAIRN_BUILD=build-catalog-rel bench/catalog/run.py [seconds-per-point]
"""
import http.client
import json
import os
import resource
import selectors
import socket
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import benchlib as B  # noqa: E402

SECONDS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
SERVICES = 10000
HELD = 5000
CONCURRENCY = [1, 16, 64]


def name(i):
    return "bench/%08d" % i  # the load generator's {KEY}


def register_all(port):
    """10,000 agent registrations over 8 keep-alive connections."""
    def worker(lo, hi):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for i in range(lo, hi):
            body = json.dumps({"Name": name(i), "ID": name(i), "Port": 8000 + i % 1000,
                               "Tags": ["bench"], "Check": {"TTL": "1h", "Status": "passing"}})
            c.request("PUT", "/v1/agent/service/register", body=body)
            r = c.getresponse()
            r.read()
            assert r.status == 200, r.status
        c.close()
    t0 = time.time()
    n = 8
    ths = [threading.Thread(target=worker, args=(k * SERVICES // n, (k + 1) * SERVICES // n))
           for k in range(n)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    return time.time() - t0


def get(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r, body


def put(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("PUT", path, body=b"")
    r = c.getresponse()
    r.read()
    c.close()
    return r.status


class Held:
    """Many blocking GETs on raw non-blocking sockets, one selector."""

    def __init__(self, port, paths):
        self.sel = selectors.DefaultSelector()
        self.socks = []
        self.done_at = {}
        for i, p in enumerate(paths):
            s = socket.socket()
            s.connect(("127.0.0.1", port))
            s.setblocking(False)
            s.sendall(f"GET {p} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            self.sel.register(s, selectors.EVENT_READ, i)
            self.socks.append(s)

    def collect(self, expect, timeout):
        deadline = time.time() + timeout
        while len(self.done_at) < expect and time.time() < deadline:
            for key, _ in self.sel.select(0.05):
                i = key.data
                data = key.fileobj.recv(65536)
                if i not in self.done_at and data:
                    self.done_at[i] = time.time()
        return self.done_at

    def close(self):
        for s in self.socks:
            self.sel.unregister(s)
            s.close()


def held_round(proc, paths, flip, expect):
    # the services table index is at least every service's own index, so
    # every query blocks (a per-service index at or below it)
    index = max(int(get(proc.port, "/v1/catalog/services")[0].getheader("X-Consul-Index")),
                int(get(proc.port, "/v1/health/service/" + flip)[0].getheader("X-Consul-Index")))
    before = B.rss_kb(proc.pid)
    h = Held(proc.port, [p + f"?index={index}&wait=5m" for p in paths])
    # wait until every query is parked (the metric counts them)
    deadline = time.time() + 30
    while time.time() < deadline:
        m = json.loads(get(proc.port, "/v1/agent/metrics")[1])
        parked = [g["Value"] for g in m["Gauges"] if g["Name"] == "consul.rpc.queries_blocking"][0]
        if parked >= len(paths):
            break
        time.sleep(0.1)
    after = B.rss_kb(proc.pid)
    t0 = time.time()
    assert put(proc.port, f"/v1/agent/check/fail/service:{flip}") == 200
    done = h.collect(expect, 30)
    lat = sorted((t - t0) * 1000 for t in done.values())
    time.sleep(0.3)
    extra = len(h.collect(len(paths), 0.2)) - len(done)
    h.close()
    put(proc.port, f"/v1/agent/check/pass/service:{flip}")
    per_query = (after - before) * 1024 / len(paths)
    return parked, per_query, lat, extra


def pct(v, p):
    return v[min(len(v) - 1, int(len(v) * p))] if v else float("nan")


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    cfg = os.path.join(tempfile.mkdtemp(prefix="bench-catalog-"), "c.json")
    with open(cfg, "w") as f:
        json.dump({"limits": {"http_max_conns_per_client": 20000}}, f)
    proc = B.start_cairn("-config-file", cfg)
    try:
        idle = B.rss_kb(proc.pid)
        secs = register_all(proc.port)
        n = len(json.loads(get(proc.port, "/v1/agent/services")[1]))
        rows = len(json.loads(get(proc.port, "/v1/health/service/" + name(42) + "?passing")[1]))
        loaded = B.rss_kb(proc.pid)
        B.table("Registering 10,000 services (agent API, 8 connections, each answered after "
                "the catalog write)", ["services", "seconds", "registrations/s", "RSS idle MiB",
                                       "RSS with 10k services MiB"],
                [(n, f"{secs:.2f}", f"{SERVICES / secs:.0f}", f"{idle / 1024:.1f}",
                  f"{loaded / 1024:.1f}")])
        assert n == SERVICES and rows == 1, (n, rows)
        res = []
        for c in CONCURRENCY:
            r = B.loadgen(proc.port, "GET", "/v1/health/service/{KEY}?passing", conns=c,
                          seconds=SECONDS, keys=SERVICES)
            res.append((c, f"{r['ops_per_s']:.0f}", r["p50_us"], r["p99_us"], r["errors"]))
        B.table(f"GET /v1/health/service/<random of 10k>?passing, {SECONDS}s per point",
                ["connections", "ops/s", "p50 µs", "p99 µs", "errors"], res)
        out = []
        parked, per, lat, extra = held_round(proc, ["/v1/health/service/" + name(i)
                                                    for i in range(HELD)], name(7), 1)
        out.append(("5,000 queries, one per service; one check flips", int(parked),
                    f"{per:.0f}", len(lat), f"{pct(lat, 0.5):.1f}", f"{pct(lat, 0.99):.1f}",
                    f"{lat[-1] if lat else float('nan'):.1f}", extra))
        parked, per, lat, extra = held_round(proc, ["/v1/health/service/" + name(7)] * HELD,
                                             name(7), HELD)
        out.append(("5,000 queries on one service; its check flips", int(parked), f"{per:.0f}",
                    len(lat), f"{pct(lat, 0.5):.1f}", f"{pct(lat, 0.99):.1f}",
                    f"{lat[-1] if lat else float('nan'):.1f}", extra))
        B.table("Blocking /v1/health/service queries held by one agent",
                ["case", "parked", "bytes/held query (RSS)", "answered", "wake p50 ms",
                 "wake p99 ms", "wake max ms", "woken wrongly"], out)
    finally:
        proc.stop()


if __name__ == "__main__":
    main()
