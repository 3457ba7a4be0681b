"""Shared bench helpers: start cairn / etcd / the reference Consul on free
ports, run the load generator, read RSS, print tables."""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("CAIRN_BUILD", os.path.join(ROOT, "build-release"))
CAIRN = os.environ.get("CAIRN_BIN", os.path.join(BUILD, "cairn"))
LOADGEN = os.path.join(BUILD, "bench/kv/loadgen")
# The reference Consul is a development aid, never required: set CONSUL_BIN.
CONSUL = os.environ.get("CONSUL_BIN", "")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_http(url, timeout=20, ok=lambda body: True):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                body = r.read()
                if ok(body):
                    return True
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} not ready")


def rss_kb(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class Proc:
    def __init__(self, name, args, env=None):
        self.name = name
        self.tmp = tempfile.mkdtemp(prefix=f"bench-{name}-")
        self.log = open(os.path.join(self.tmp, "log"), "wb")
        self.p = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, cwd=self.tmp,
                                  env=dict(os.environ, **(env or {})))

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    @property
    def pid(self):
        return self.p.pid


def start_cairn(*extra, dev=True):
    port = free_port()
    args = [CAIRN, "agent", "-http-port", str(port), "-dns-port", str(free_port()),
            "-server-port", str(free_port()), "-serf-lan-port", str(free_port()),
            "-serf-wan-port", str(free_port()), "-log-level", "warn"]
    args += ["-dev"] if dev else []
    p = Proc("cairn", args + list(extra))
    wait_http(f"http://127.0.0.1:{port}/v1/status/leader", ok=lambda b: len(b) > 2)
    p.port = port
    return p


def start_consul(*extra):
    if not CONSUL or not os.path.exists(CONSUL):
        return None
    port = free_port()
    args = [CONSUL, "agent", "-dev", "-http-port", str(port), "-dns-port", str(free_port()),
            "-server-port", str(free_port()), "-serf-lan-port", str(free_port()),
            "-serf-wan-port", str(free_port()), "-grpc-port", str(free_port()), "-log-level", "warn"]
    p = Proc("consul", args + list(extra))
    wait_http(f"http://127.0.0.1:{port}/v1/status/leader", ok=lambda b: len(b) > 2)
    p.port = port
    return p


def start_etcd():
    etcd = shutil.which("etcd")
    if not etcd:
        return None
    port, peer = free_port(), free_port()
    p = Proc("etcd", [etcd, "--data-dir", "data", "--listen-client-urls", f"http://127.0.0.1:{port}",
                      "--advertise-client-urls", f"http://127.0.0.1:{port}",
                      "--listen-peer-urls", f"http://127.0.0.1:{peer}",
                      "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
                      "--initial-cluster", f"default=http://127.0.0.1:{peer}",
                      "--log-level", "error"], env={"ETCD_UNSUPPORTED_ARCH": ""})
    wait_http(f"http://127.0.0.1:{port}/health")
    p.port = port
    return p


def loadgen(port, method, path, body="", conns=16, seconds=5, size=100, keys=1000, sequential=False,
            extra=()):
    out = subprocess.run([LOADGEN, "-p", str(port), "-c", str(conns), "-d", str(seconds),
                          "-m", method, "-u", path, "-b", body, "-s", str(size), "-k", str(keys)]
                         + (["-q"] if sequential else []) + list(extra),
                         capture_output=True, text=True, timeout=seconds + 60)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout)


def table(title, header, rows):
    print(f"\n### {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in rows:
        print("| " + " | ".join(str(x) for x in r) + " |")
    print(flush=True)
