#!/usr/bin/python3
"""bench/memory: what a durable single server costs in memory, idle and
holding N keys of 100 bytes, and how long after kill -9 it answers a read of
the last key written -- cairn beside the reference Consul (CONSUL_BIN) in the
same run. Both are real servers with a data directory (not dev mode), so
the restart reads the data back from disk.

usage: CAIRN_BUILD=build-release [CONSUL_BIN=...] bench/memory/run.py [keys] [peer-keys]
"""
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

KEYS = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
PEER_KEYS = int(sys.argv[2]) if len(sys.argv) > 2 else KEYS
SIZE = 100


class Server:
    def __init__(self, kind):
        self.kind = kind
        self.tmp = tempfile.mkdtemp(prefix=f"bench-mem-{kind}-")
        self.port = B.free_port()
        ports = ["-http-port", str(self.port), "-dns-port", str(B.free_port()),
                 "-server-port", str(B.free_port()), "-serf-lan-port", str(B.free_port()),
                 "-serf-wan-port", str(B.free_port())]
        binary = B.CAIRN if kind == "cairn" else B.CONSUL
        self.args = [binary, "agent", "-server", "-bootstrap", "-node", "m1",
                     "-data-dir", os.path.join(self.tmp, "data"), "-bind", "127.0.0.1",
                     "-log-level", "warn"] + ports
        if kind == "consul":
            self.args += ["-grpc-port", str(B.free_port())]
        self.p = None

    def start(self):
        self.log = open(os.path.join(self.tmp, "log"), "ab")
        self.t0 = time.time()
        self.p = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT)

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_leader(self):
        B.wait_http(self.url("/v1/status/leader"), timeout=60, ok=lambda b: len(b) > 2)

    def readable_after(self, key):
        """Seconds from start() until GET of key answers 200."""
        while time.time() - self.t0 < 120:
            try:
                with urllib.request.urlopen(self.url(f"/v1/kv/{key}"), timeout=1) as r:
                    if r.status == 200:
                        return time.time() - self.t0
            except OSError:
                pass
            time.sleep(0.01)
        raise RuntimeError(f"{self.kind}: {key} not readable after restart")

    def count(self):
        with urllib.request.urlopen(self.url("/v1/kv/bench/?keys"), timeout=60) as r:
            return r.read().count(b'"bench/')

    def rss_mib(self):
        return B.rss_kb(self.p.pid) / 1024

    def kill9(self):
        self.p.send_signal(signal.SIGKILL)
        self.p.wait()
        self.log.close()

    def cleanup(self):
        if self.p and self.p.poll() is None:
            self.kill9()
        shutil.rmtree(self.tmp, ignore_errors=True)


def run(kind, keys):
    s = Server(kind)
    try:
        s.start()
        s.wait_leader()
        time.sleep(5)
        idle = s.rss_mib()
        t = time.time()
        r = B.loadgen(s.port, "PUT", "/v1/kv/{KEY}", "{VAL}", conns=64, seconds=3600,
                      size=SIZE, keys=keys, sequential=True, extra=["-n", str(keys)])
        load_s = time.time() - t
        time.sleep(3)
        loaded = s.rss_mib()
        n = s.count()
        last = f"bench/{keys - 1:08d}"
        s.kill9()
        s.start()
        back = s.readable_after(last)
        after = s.rss_mib()  # before the listing below, whose 17 MB answer would count
        n2 = s.count()
        return [kind, keys, f"{idle:.1f}", f"{loaded:.1f}", f"{loaded * 1048576 / keys:.0f}",
                f"{r['ops_per_s']:.0f}", f"{load_s:.0f}", r["errors"], f"{back:.2f}",
                f"{after:.1f}", "yes" if n == n2 == keys else f"no ({n}, {n2})"]
    finally:
        s.cleanup()


def main():
    rows = [run("cairn", KEYS)]
    if B.CONSUL and os.path.exists(B.CONSUL):
        rows.append(run("consul", PEER_KEYS))
    B.table(f"{SIZE}-byte values, one durable server, loaded at c=64",
            ["server", "keys", "idle RSS MiB", "loaded RSS MiB", "bytes/key", "load PUT/s",
             "load s", "errors", "readable after kill -9 (s)", "RSS after restart MiB",
             "all keys back"], rows)


if __name__ == "__main__":
    main()
