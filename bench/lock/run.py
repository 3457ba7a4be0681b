#!/usr/bin/python3
"""bench/lock: sessions and locks on one dev agent (issue 5).

  1. Lock handoff over the HTTP API (what api.Lock and patroni do): two
     contenders, each with its own session and keep-alive connection; the
     waiter parks a blocking GET on the key, the holder releases it, the
     waiter sees Session empty and acquires. Latency = release sent ->
     acquire answered true. p50/p99 over N handoffs.
  2. The same through `cairn lock` processes: two loops of `cairn lock`
     contending for one prefix; handoff = one child's end -> the next
     child's start (release, wake, acquire, spawn).
  3. Sessions with a TTL kept alive at once: N sessions with TTL 10s renewed
     every 5s (TTL/2) by a pipelined driver for 25s (> 2 x TTL, so any miss
     would invalidate); reports whether all N survived, renew throughput and
     the agent's RSS.

usage: CAIRN_BUILD=build-sess-rel bench/lock/run.py [handoffs] [sessions,...]
       (CONSUL_BIN=/path/to/consul adds Consul beside cairn for parts 1 and 3)
"""
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import benchlib as B  # noqa: E402

HANDOFFS = int(sys.argv[1]) if len(sys.argv) > 1 else 300
SESSIONS = [int(x) for x in sys.argv[2].split(",")] if len(sys.argv) > 2 else [1000, 10000, 30000]
CLI_ROUNDS = 15
KEEP_SECONDS = 25


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p / 100))]


def ms(x):
    return f"{x * 1000:.2f}"


class Conn:
    def __init__(self, port):
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def req(self, method, path, body=None):
        self.c.request(method, path, body=body)
        r = self.c.getresponse()
        data = r.read()
        return r.status, dict(r.getheaders()), data


def create_session(conn, body):
    st, _, data = conn.req("PUT", "/v1/session/create", json.dumps(body))
    if st != 200:
        raise RuntimeError(data)
    return json.loads(data)["ID"]


def wait_node(port):
    c = Conn(port)
    node = json.loads(c.req("GET", "/v1/agent/self")[2])["Config"]["NodeName"]
    for _ in range(200):
        checks = json.loads(c.req("GET", f"/v1/health/node/{node}")[2])
        if any(x["CheckID"] == "serfHealth" for x in checks):
            return
        time.sleep(0.05)
    raise RuntimeError("agent node never registered")


# ---- 1. handoff over the HTTP API ----------------------------------------------

def api_handoff(port, n):
    key = "/v1/kv/bench/lock/.lock"
    members = []
    for _ in range(2):
        c = Conn(port)
        members.append({"c": c, "sid": create_session(c, {"TTL": "30s", "LockDelay": 0})})
    assert members[0]["c"].req("PUT", f"{key}?acquire={members[0]['sid']}")[2].strip() == b"true"
    lat = []
    for i in range(n):
        holder, waiter = members[i % 2], members[(i + 1) % 2]
        st, h, _ = waiter["c"].req("GET", key)
        index = h.get("X-Consul-Index")
        got = {}

        def wait():
            idx = index
            while True:
                _, hh, body = waiter["c"].req("GET", f"{key}?index={idx}&wait=10s")
                idx = hh.get("X-Consul-Index")
                e = json.loads(body)[0] if body.strip().startswith(b"[") else None
                if e is None or not e.get("Session"):
                    ok = waiter["c"].req("PUT", f"{key}?acquire={waiter['sid']}")[2].strip()
                    if ok == b"true":
                        got["t"] = time.perf_counter()
                        return
        th = threading.Thread(target=wait)
        th.start()
        time.sleep(0.003)  # let the waiter park its blocking GET
        t0 = time.perf_counter()
        holder["c"].req("PUT", f"{key}?release={holder['sid']}")
        th.join()
        lat.append(got["t"] - t0)
    return lat


# ---- 2. handoff through `cairn lock` processes -----------------------------------

def cli_handoff(port, rounds):
    tmp = tempfile.mkdtemp(prefix="bench-lock-")
    log = os.path.join(tmp, "log")
    env = dict(os.environ, CONSUL_HTTP_ADDR=f"127.0.0.1:{port}")
    child = (f"echo start $(date +%s.%N) >> {log}; sleep 0.05; "
             f"echo end $(date +%s.%N) >> {log}")

    def loop():
        for _ in range(rounds):
            subprocess.run([B.CAIRN, "lock", "bench/cli", child], env=env, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ts = [threading.Thread(target=loop) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    events = [line.split() for line in open(log)]
    lat = []
    for (k1, t1), (k2, t2) in zip(events, events[1:]):
        if k1 == "end" and k2 == "start":
            lat.append(float(t2) - float(t1))
    return lat


# ---- 3. sessions kept alive ----------------------------------------------------

def pipelined(port, reqs, batch=200):
    """Send requests in batches on one connection; returns statuses."""
    s = socket.create_connection(("127.0.0.1", port))
    f = s.makefile("rb")
    out = []
    for i in range(0, len(reqs), batch):
        chunk = reqs[i:i + batch]
        s.sendall(b"".join(chunk))
        for _ in chunk:
            status = int(f.readline().split()[1])
            length = 0
            while True:
                line = f.readline()
                if line in (b"\r\n", b"\n", b""):
                    break
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    length = int(v)
            body = f.read(length)
            out.append((status, body))
    s.close()
    return out


def keep_alive(port, n, conns=8):
    body = json.dumps({"TTL": "10s", "LockDelay": 0, "NodeChecks": []}).encode()
    create = (b"PUT /v1/session/create HTTP/1.1\r\nHost: x\r\nContent-Length: "
              + str(len(body)).encode() + b"\r\n\r\n" + body)
    ids = []
    lock = threading.Lock()
    t0 = time.time()

    def mk(k):
        res = pipelined(port, [create] * k)
        with lock:
            ids.extend(json.loads(b)["ID"] for st, b in res if st == 200)
    per = [n // conns + (1 if i < n % conns else 0) for i in range(conns)]
    ts = [threading.Thread(target=mk, args=(k,)) for k in per]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    created_in = time.time() - t0
    assert len(ids) == n, (len(ids), n)
    renews = [b"PUT /v1/session/renew/" + i.encode() + b" HTTP/1.1\r\nHost: x\r\n"
              b"Content-Length: 0\r\n\r\n" for i in ids]
    parts = [renews[i::conns] for i in range(conns)]
    done, failures, rounds, worst = 0, 0, 0, 0.0
    start = time.time()
    while time.time() - start < KEEP_SECONDS:
        r0 = time.time()
        results = [None] * conns

        def rn(i):
            results[i] = pipelined(port, parts[i])
        ts = [threading.Thread(target=rn, args=(i,)) for i in range(conns)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        took = time.time() - r0
        worst = max(worst, took)
        rounds += 1
        for res in results:
            done += len(res)
            failures += sum(1 for st, _ in res if st != 200)
        time.sleep(max(0.0, 5.0 - took))
    c = Conn(port)
    alive = len(json.loads(c.req("GET", "/v1/session/list")[2]))
    return {"created_per_s": n / created_in, "alive": alive, "failures": failures,
            "renew_round_worst_s": worst, "renews_per_s": done / (time.time() - start),
            "rounds": rounds}


def run_target(name, proc, rows1, rows3):
    wait_node(proc.port)
    lat = api_handoff(proc.port, HANDOFFS)
    rows1.append([name, "HTTP API", len(lat), ms(statistics.median(lat)), ms(pct(lat, 99)),
                  ms(max(lat))])
    if name == "cairn":
        lat = cli_handoff(proc.port, CLI_ROUNDS)
        rows1.append([name, "`cairn lock` processes", len(lat), ms(statistics.median(lat)),
                      ms(pct(lat, 99)), ms(max(lat))])


def main():
    rows1, rows3 = [], []
    targets = [("cairn", B.start_cairn)]
    if B.CONSUL:
        targets.append(("consul", B.start_consul))
    for name, start in targets:
        p = start()
        if p is None:
            continue
        try:
            run_target(name, p, rows1, rows3)
        finally:
            p.stop()
        for n in SESSIONS:
            p = start()
            try:
                wait_node(p.port)
                rss0 = B.rss_kb(p.pid)
                r = keep_alive(p.port, n)
                rows3.append([name, n, f"{r['created_per_s']:.0f}", r["alive"], r["failures"],
                              f"{r['renews_per_s']:.0f}", f"{r['renew_round_worst_s']:.2f}",
                              f"{(B.rss_kb(p.pid) - rss0) / 1024:.1f}"])
            finally:
                p.stop()
    B.table("Lock handoff latency (ms), 2 contenders", ["server", "via", "handoffs", "p50", "p99",
                                                         "max"], rows1)
    B.table(f"TTL sessions kept alive (TTL 10s, renew every 5s for {KEEP_SECONDS}s)",
            ["server", "sessions", "created/s", "alive at end", "renew errors", "renews/s",
             "worst renew round (s)", "RSS growth (MiB)"], rows3)


if __name__ == "__main__":
    main()
