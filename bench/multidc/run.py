#!/usr/bin/python3
"""bench/multidc: two datacenters of 3 servers and a client, in network
namespaces, joined by a WAN link delayed 20 ms each way (the test suite's
MultiDC: a TUN relay in a router namespace). Figures:

- cross-DC read latency from dc1's client to dc2 (stale and default), p50 and
  p99, and the overhead above the link's round trip (local read latency on
  the same connection shown for reference);
- WAN gossip bandwidth per server at idle (bytes in + out on port 8302,
  counted by iptables in each server's namespace);
- time from starting a third datacenter's servers to their datacenter
  appearing in dc1's /v1/catalog/datacenters.

With CONSUL_BIN set to a reference Consul build, the same topology runs it
beside cairn in the same run (Consul accepts the same flags).
usage: CAIRN_BUILD=build-release bench/multidc/run.py [reads]   (needs root)
"""
import http.client
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench"))
sys.path.insert(0, os.path.join(ROOT, "tests/integration"))
import benchlib as B  # noqa: E402
import cairn_test  # noqa: E402

READS = int(sys.argv[1]) if len(sys.argv) > 1 else 500
DELAY_MS = 20
IDLE_S = 30


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p / 100))]


def latencies(agent, path, n):
    c = http.client.HTTPConnection(agent.ip, agent.http_port, timeout=30)
    out = []
    for _ in range(n):
        t = time.perf_counter()
        c.request("GET", path)
        r = c.getresponse()
        r.read()
        if r.status != 200:
            raise RuntimeError(f"{path}: {r.status}")
        out.append((time.perf_counter() - t) * 1000)
    c.close()
    return out


ECHO = r"""
import socket, sys, time
mode, host, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
if mode == "serve":
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, 9999)); s.listen(1); print("ready", flush=True)
    c, _ = s.accept(); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while True:
        b = c.recv(64)
        if not b: break
        c.sendall(b)
else:
    c = socket.create_connection((host, 9999)); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    out = []
    for _ in range(n):
        t = time.perf_counter(); c.sendall(b"x" * 32); c.recv(64)
        out.append((time.perf_counter() - t) * 1000)
    print(" ".join(f"{x:.3f}" for x in out))
"""


def link_rtts(src, dst, n):
    """Round trips of a raw TCP echo across the WAN link, server to server:
    what the relay itself costs, to subtract from the reads."""
    srv = subprocess.Popen(["ip", "netns", "exec", dst.netns, sys.executable, "-c", ECHO, "serve",
                            dst.ip, "0"], stdout=subprocess.PIPE, text=True)
    srv.stdout.readline()
    out = subprocess.run(["ip", "netns", "exec", src.netns, sys.executable, "-c", ECHO, "ping",
                          dst.ip, str(n)], capture_output=True, text=True, timeout=300).stdout
    srv.kill()
    srv.wait()
    return [float(x) for x in out.split()]


def count_wan(ns, add=True):
    for chain, flag in (("INPUT", "--dport"), ("OUTPUT", "--sport")):
        for proto in ("udp", "tcp"):
            rule = [chain, "-p", proto, flag, "8302", "-j", "ACCEPT"]
            subprocess.run(["ip", "netns", "exec", ns, "iptables", "-I" if add else "-D"] + rule,
                           check=add, capture_output=True)


def wan_bytes(ns):
    out = subprocess.run(["ip", "netns", "exec", ns, "iptables", "-L", "-v", "-x", "-n"],
                         capture_output=True, text=True).stdout
    total = 0
    for line in out.splitlines():
        if "8302" in line:
            f = line.split()
            if len(f) > 2 and f[1].isdigit():
                total += int(f[1])
    return total


def run(label, binary):
    if binary:
        cairn_test.BIN = binary
    from netns_wan import MultiDC
    M = MultiDC(dcs=("dc1", "dc2", "dc3"), servers=3, clients=1, delay_ms=DELAY_MS)
    rows = {}
    try:
        for dc in ("dc1", "dc2"):
            for a in M.dcs[dc]["servers"] + M.dcs[dc]["clients"]:
                a.start()
        for dc in ("dc1", "dc2"):
            cairn_test.wait_until(lambda: M.leader(dc) is not None, timeout=60, what=dc)
        c1, c2 = M.client("dc1"), M.client("dc2")
        cairn_test.wait_until(lambda: c1.get("/v1/catalog/datacenters").json() == ["dc1", "dc2"],
                              timeout=60, what="dc2 in dc1's datacenters")
        c2.put("/v1/kv/bench", "x" * 100)
        cairn_test.wait_until(lambda: c1.get("/v1/kv/bench?dc=dc2&stale").status == 200,
                              what="the key across")
        latencies(c1, "/v1/kv/bench?dc=dc2&stale", 50)  # warm the links
        c1.put("/v1/kv/bench", "x" * 100)
        cairn_test.wait_until(lambda: all(s.get("/v1/kv/bench?stale").status == 200
                                          for s in M.servers("dc1")), what="the key in dc1")
        local = latencies(c1, "/v1/kv/bench?stale", READS // 5)
        stale = latencies(c1, "/v1/kv/bench?dc=dc2&stale", READS)
        default = latencies(c1, "/v1/kv/bench?dc=dc2", READS)
        link = link_rtts(M.servers("dc1")[0], M.servers("dc2")[0], READS)
        lp50, lp99 = pct(link, 50), pct(link, 99)
        rows["lat"] = [(label, "raw TCP echo across the link", f"{lp50:.2f}", f"{lp99:.2f}", "-",
                        "-"),
                       (label, "dc1 stale (local)", f"{pct(local, 50):.2f}",
                        f"{pct(local, 99):.2f}", "-", "-")]
        for name, v in (("dc2 stale", stale), ("dc2 default", default)):
            rows["lat"].append((label, name, f"{pct(v, 50):.2f}", f"{pct(v, 99):.2f}",
                                f"{pct(v, 50) - lp50:.2f}", f"{pct(v, 99) - lp99:.2f}"))
        # idle WAN gossip per server
        servers = M.servers("dc1") + M.servers("dc2")
        for s in servers:
            count_wan(s.netns)
        before = {s.name: wan_bytes(s.netns) for s in servers}
        time.sleep(IDLE_S)
        after = {s.name: wan_bytes(s.netns) for s in servers}
        per = [(after[k] - before[k]) / IDLE_S for k in before]
        rows["wan"] = [(label, len(servers), f"{sum(per) / len(per):.0f}", f"{max(per):.0f}")]
        # a third datacenter appears
        t0 = time.monotonic()
        for a in M.dcs["dc3"]["servers"]:
            a.start()
        cairn_test.wait_until(lambda: "dc3" in c1.get("/v1/catalog/datacenters").json(),
                              timeout=120, interval=0.05, what="dc3 in dc1's datacenters")
        rows["appear"] = [(label, f"{time.monotonic() - t0:.2f}")]
    finally:
        M.cleanup()
    return rows


def main():
    if os.geteuid() != 0 or not cairn_test.netns_available():
        print("bench/multidc needs root with network namespaces; skipped")
        return 0
    results = [run("cairn", B.CAIRN)]
    if B.CONSUL and os.path.exists(B.CONSUL):
        results.append(run("consul", B.CONSUL))
    B.table(f"cross-DC reads from dc1's client, link delayed {DELAY_MS} ms each way, {READS} "
            "sequential reads (ms)", ["agent", "read", "p50", "p99", "p50 over the link", "p99 over the link"],
            [r for res in results for r in res["lat"]])
    B.table(f"idle WAN gossip per server over {IDLE_S} s (bytes/s, in + out, port 8302)",
            ["agent", "servers", "mean", "max"], [r for res in results for r in res["wan"]])
    B.table("a new datacenter's 3 servers started -> listed in dc1's /v1/catalog/datacenters",
            ["agent", "seconds"], [r for res in results for r in res["appear"]])
    return 0


if __name__ == "__main__":
    sys.exit(main())
