#!/usr/bin/python3
"""bench/cluster: a 3-server cairn cluster beside a 3-server reference
Consul (CONSUL_BIN, when given) and a 3-member etcd 3.4 cluster on the same
machine, in the same run: KV write throughput and latency at several
concurrencies, read throughput in every consistency mode, and leader
failover time (kill -9 of the leader to the first accepted write) at
raft_multiplier 1 and at the default timing (Consul's default is 5).

usage: CAIRN_BUILD=build-release [CONSUL_BIN=...] bench/cluster/run.py [seconds-per-point]
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import benchlib as B  # noqa: E402

SECONDS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
CONCURRENCY = [1, 16, 64, 256]
KEYS, SIZE = 10000, 100


class CairnCluster:
    def __init__(self, multiplier=1, binary=None):
        binary = binary or B.CAIRN
        self.tmp = tempfile.mkdtemp(prefix="bench-cluster3-")
        conf = os.path.join(self.tmp, "perf.json")
        with open(conf, "w") as f:
            json.dump({"performance": {"raft_multiplier": multiplier}}, f)
        self.nodes = []
        seed = None
        for i in range(3):
            ports = {k: B.free_port() for k in ("http", "dns", "server", "lan", "wan")}
            data = os.path.join(self.tmp, f"s{i}")
            os.makedirs(data)
            if seed is None:
                seed = ports["lan"]
            args = [binary, "agent", "-server", "-bootstrap-expect=3", "-node", f"s{i}",
                    "-data-dir", data, "-bind", "127.0.0.1", "-config-file", conf,
                    "-http-port", str(ports["http"]), "-dns-port", str(ports["dns"]),
                    "-server-port", str(ports["server"]), "-serf-lan-port", str(ports["lan"]),
                    "-serf-wan-port", str(ports["wan"]), "-retry-join", f"127.0.0.1:{seed}",
                    "-retry-interval", "1s", "-log-level", "warn"]
            if binary == B.CONSUL:
                args += ["-grpc-port", str(B.free_port())]
            self.nodes.append({"args": args, "ports": ports, "p": None})
        for n in self.nodes:
            self.start(n)
        self.wait_leader()

    def start(self, n):
        n["p"] = subprocess.Popen(n["args"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def leader(self):
        for n in self.nodes:
            if n["p"].poll() is not None:
                continue
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{n['ports']['http']}/v1/status/leader",
                                            timeout=1) as r:
                    addr = json.loads(r.read())
            except OSError:
                continue
            for m in self.nodes:
                if addr.endswith(f":{m['ports']['server']}") and m["p"].poll() is None:
                    return m
        return None

    def wait_leader(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            l = self.leader()
            if l:
                return l
            time.sleep(0.05)
        raise RuntimeError("no leader")

    def put_ok(self, n, key):
        req = urllib.request.Request(f"http://127.0.0.1:{n['ports']['http']}/v1/kv/{key}",
                                     data=b"x", method="PUT")
        try:
            with urllib.request.urlopen(req, timeout=1) as r:
                return r.read().strip() == b"true"
        except OSError:
            return False

    def failover_ms(self):
        old = self.wait_leader()
        survivors = [n for n in self.nodes if n is not old]
        old["p"].send_signal(signal.SIGKILL)
        old["p"].wait()
        start = time.time()
        while not any(self.put_ok(n, "failover") for n in survivors):
            time.sleep(0.01)
        took = (time.time() - start) * 1000
        self.start(old)
        self.wait_leader()
        return took

    def stop(self):
        for n in self.nodes:
            if n["p"].poll() is None:
                n["p"].send_signal(signal.SIGTERM)
                try:
                    n["p"].wait(10)
                except subprocess.TimeoutExpired:
                    n["p"].kill()
        shutil.rmtree(self.tmp, ignore_errors=True)


class EtcdCluster:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="bench-etcd3-")
        names = ["e0", "e1", "e2"]
        self.ports = [(B.free_port(), B.free_port()) for _ in names]
        cluster = ",".join(f"{n}=http://127.0.0.1:{p[1]}" for n, p in zip(names, self.ports))
        self.procs = []
        for n, (client, peer) in zip(names, self.ports):
            args = [shutil.which("etcd"), "--name", n, "--data-dir", os.path.join(self.tmp, n),
                    "--listen-client-urls", f"http://127.0.0.1:{client}",
                    "--advertise-client-urls", f"http://127.0.0.1:{client}",
                    "--listen-peer-urls", f"http://127.0.0.1:{peer}",
                    "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
                    "--initial-cluster", cluster, "--initial-cluster-state", "new",
                    "--log-level", "error"]
            self.procs.append(subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for client, _ in self.ports:
            B.wait_http(f"http://127.0.0.1:{client}/health", timeout=30,
                        ok=lambda b: b'"true"' in b)

    def leader_port(self):
        for client, _ in self.ports:
            try:
                req = urllib.request.Request(f"http://127.0.0.1:{client}/v3/maintenance/status",
                                             data=b"{}", method="POST")
                with urllib.request.urlopen(req, timeout=2) as r:
                    st = json.loads(r.read())
                if st.get("leader") == st.get("header", {}).get("member_id"):
                    return client
            except OSError:
                pass
        return self.ports[0][0]

    def stop(self):
        for p in self.procs:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)


def run_points(name, port, put, reads):
    rows = []
    B.loadgen(port, *put, conns=1, seconds=2, size=SIZE, keys=KEYS, sequential=True)
    for c in CONCURRENCY:
        w = B.loadgen(port, *put, conns=c, seconds=SECONDS, size=SIZE, keys=KEYS)
        rows.append((name, "write", c, w["ops_per_s"], w["p50_us"], w["p99_us"], w["errors"]))
    for label, rd in reads:
        r = B.loadgen(port, *rd, conns=64, seconds=SECONDS, size=SIZE, keys=KEYS)
        rows.append((name, label, 64, r["ops_per_s"], r["p50_us"], r["p99_us"], r["errors"]))
    return rows


CONSUL_READS = [("read default", ("GET", "/v1/kv/{KEY}", "")),
                ("read consistent", ("GET", "/v1/kv/{KEY}?consistent", "")),
                ("read stale", ("GET", "/v1/kv/{KEY}?stale", ""))]


def consul_like(name, binary, rows, fail):
    cl = CairnCluster(binary=binary)
    try:
        port = cl.wait_leader()["ports"]["http"]
        rows += run_points(name, port, ("PUT", "/v1/kv/{KEY}", "{VAL}"), CONSUL_READS)
        times = [cl.failover_ms() for _ in range(3)]
        fail.append((f"{name} (raft_multiplier 1)", *[f"{t:.0f}" for t in times]))
    finally:
        cl.stop()
    cl = CairnCluster(multiplier=5, binary=binary)
    try:
        times = [cl.failover_ms() for _ in range(3)]
        fail.append((f"{name} (default timing, multiplier 5)", *[f"{t:.0f}" for t in times]))
    finally:
        cl.stop()


def main():
    rows, fail = [], []
    consul_like("cairn", B.CAIRN, rows, fail)
    if B.CONSUL and os.path.exists(B.CONSUL):
        consul_like("consul", B.CONSUL, rows, fail)
    if shutil.which("etcd"):
        ec = EtcdCluster()
        try:
            port = ec.leader_port()
            rows += run_points("etcd", port,
                               ("POST", "/v3/kv/put", '{"key":"{KEY64}","value":"{VAL64}"}'),
                               [("read linearizable", ("POST", "/v3/kv/range", '{"key":"{KEY64}"}')),
                                ("read serializable",
                                 ("POST", "/v3/kv/range", '{"key":"{KEY64}","serializable":true}'))])
        finally:
            ec.stop()
    B.table(f"3-server KV, {SIZE}-byte values over {KEYS} keys, {SECONDS}s per point (µs)",
            ["cluster", "op", "conc", "ops/s", "p50", "p99", "errors"], rows)
    B.table("Leader failover: kill -9 to the first accepted write (ms), three runs",
            ["cluster", "1", "2", "3"], fail)


if __name__ == "__main__":
    main()
