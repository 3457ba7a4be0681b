"""Integration-test helpers: start the real cairn binary on free ports and
talk to it the way users do (raw HTTP, python3-consul, the CLI).

Each test file registers functions with @test and calls main(); every test
prints `ok N name` or `not ok N name` and the file ends with the runner's
`N passed, N failed` line.
"""
import http.client
import json
import os
import shutil
import signal as _signal
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("CAIRN_BIN", os.path.join(ROOT, "build", "cairn"))

_tests = []


def test(fn):
    _tests.append(fn)
    return fn


def free_port(udp_too=True):
    """A port free for TCP (and UDP) on 127.0.0.1 right now.

    Drawn at random below the kernel's ephemeral range (32768+): a port the
    kernel hands out for bind(0) is also what outgoing connections of other
    test processes get, so two suites running at once would collide there.
    """
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randrange(20000, 32000)
        ok = True
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            ok = False
        if ok and udp_too:
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                u.bind(("127.0.0.1", port))
            except OSError:
                ok = False
            u.close()
        s.close()
        if ok:
            return port
    raise RuntimeError("no free port")


class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body

    def json(self):
        return json.loads(self.body)

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def header(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return f"<Resp {self.status} {self.body[:200]!r}>"


class Agent:
    """A cairn agent process. dev=True runs `agent -dev` on free ports."""

    def __init__(self, *extra, dev=True, config=None, env=None, wait_leader=True, netns=None,
                 ip="127.0.0.1"):
        self.tmp = tempfile.mkdtemp(prefix="cairn-it-")
        self.netns, self.ip = netns, ip
        self.http_port = free_port()
        self.dns_port = free_port()
        self.server_port = free_port()
        self.serf_lan_port = free_port()
        self.serf_wan_port = free_port()
        args = (["ip", "netns", "exec", netns] if netns else []) + [BIN, "agent"]
        if dev:
            args.append("-dev")
        args += ["-http-port", str(self.http_port), "-dns-port", str(self.dns_port),
                 "-server-port", str(self.server_port), "-serf-lan-port", str(self.serf_lan_port),
                 "-serf-wan-port", str(self.serf_wan_port)]
        if config is not None:
            path = os.path.join(self.tmp, "config.json")
            with open(path, "w") as f:
                f.write(config if isinstance(config, str) else json.dumps(config))
            args += ["-config-file", path]
        args += list(extra)
        self.args = args
        self.log_path = os.path.join(self.tmp, "agent.log")
        self.env = dict(os.environ, **(env or {}))
        self.proc = None
        self.wait_leader = wait_leader

    def start(self, timeout=10, _tries=3):
        try:
            return self._start(timeout)
        except RuntimeError as e:
            # Another test process may have taken a port between free_port()
            # and the agent's bind: draw new ports and try again.
            if "address already in use" not in str(e) or _tries <= 1:
                raise
            self.kill()
            self.log.close()
            self.repick_ports()
            return self.start(timeout, _tries - 1)

    def repick_ports(self):
        for attr, flag in (("http_port", "-http-port"), ("dns_port", "-dns-port"),
                           ("server_port", "-server-port"), ("serf_lan_port", "-serf-lan-port"),
                           ("serf_wan_port", "-serf-wan-port")):
            if flag not in self.args:
                continue
            port = free_port()
            setattr(self, attr, port)
            self.args[self.args.index(flag) + 1] = str(port)

    def _start(self, timeout):
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=self.env, cwd=self.tmp)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"agent exited {self.proc.returncode}:\n{self.output()}")
            if "agent running!" in self.output():
                if not self.wait_leader:
                    return self
                try:
                    r = self.get("/v1/status/leader")
                    if r.status == 200 and r.json():
                        return self
                except OSError:
                    pass
            time.sleep(0.02)
        raise RuntimeError(f"agent did not start:\n{self.output()}")

    def output(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    @property
    def addr(self):
        return f"{self.ip}:{self.http_port}"

    @property
    def url(self):
        return f"http://{self.addr}"

    def request(self, method, path, body=None, headers=None, timeout=30):
        c = http.client.HTTPConnection(self.ip, self.http_port, timeout=timeout)
        if isinstance(body, str):
            body = body.encode()
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        resp = Resp(r.status, r.getheaders(), r.read())
        c.close()
        return resp

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body=body if body is not None else b"", **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def cli(self, *args, input=None, env=None, timeout=30):
        e = dict(os.environ, CONSUL_HTTP_ADDR=self.addr)
        e.pop("CONSUL_HTTP_TOKEN", None)
        e.update(env or {})
        return subprocess.run([BIN] + list(args), input=input, capture_output=True, env=e,
                              timeout=timeout)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=_signal.SIGTERM, timeout=10):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def cleanup(self):
        self.kill()
        if getattr(self, "log", None):
            self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()


def eq(expected, actual, what=""):
    if expected != actual:
        raise AssertionError(f"{what}: expected {expected!r}, got {actual!r}")


def wait_until(fn, timeout=10, interval=0.05, what="condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = fn()
            if last:
                return last
        except Exception as e:  # noqa: BLE001 - keep polling through transient errors
            last = e
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def main():
    only = sys.argv[1] if len(sys.argv) > 1 else None
    passed = failed = 0
    n = 0
    for fn in _tests:
        if only and only not in fn.__name__:
            continue
        n += 1
        start = time.time()
        try:
            fn()
            passed += 1
            print(f"ok {n} {fn.__name__} ({(time.time() - start) * 1000:.0f} ms)", flush=True)
        except Exception:  # noqa: BLE001 - a failing test reports and the file goes on
            failed += 1
            print(f"not ok {n} {fn.__name__} ({(time.time() - start) * 1000:.0f} ms)", flush=True)
            for line in traceback.format_exc().rstrip().splitlines():
                print("    " + line, flush=True)
    print(f"{passed} passed, {failed} failed", flush=True)
    sys.exit(1 if failed else 0)


class Cluster:
    """n servers (bootstrap_expect=n) and m client agents on loopback, all
    joined through the first server's LAN gossip port."""

    def __init__(self, servers=3, clients=0, extra=(), raft_multiplier=1, env=None):
        self.tmp = tempfile.mkdtemp(prefix="cairn-cluster-")
        self.servers, self.clients = [], []
        conf = os.path.join(self.tmp, "perf.json")
        with open(conf, "w") as f:
            json.dump({"performance": {"raft_multiplier": raft_multiplier}}, f)
        seed_port = None
        for i in range(servers + clients):
            server = i < servers
            name = f"s{i + 1}" if server else f"c{i - servers + 1}"
            data = os.path.join(self.tmp, name)
            os.makedirs(data)
            args = ["-node", name, "-data-dir", data, "-bind", "127.0.0.1", "-config-file", conf,
                    "-retry-interval", "1s", "-log-level", "debug"]
            if server:
                args += ["-server", f"-bootstrap-expect={servers}"]
            a = Agent(*args, *extra, dev=False, wait_leader=False, env=env)
            if seed_port is None:
                seed_port = a.serf_lan_port
            a.args += ["-retry-join", f"127.0.0.1:{seed_port}"]
            (self.servers if server else self.clients).append(a)

    def start(self, timeout=20):
        agents = self.servers + self.clients
        for a in agents:
            # the seed may have moved to other ports (Agent.start)
            i = a.args.index("-retry-join")
            a.args[i + 1] = f"127.0.0.1:{agents[0].serf_lan_port}"
            a.start()
        wait_until(lambda: self.leader() is not None, timeout=timeout, what="a leader")
        return self

    def agents(self):
        return self.servers + self.clients

    def leader(self):
        """The server that says it is the leader (by its RPC address)."""
        addrs = set()
        for s in self.servers:
            if s.proc.poll() is not None:
                continue
            try:
                r = s.get("/v1/status/leader", timeout=2)
            except OSError:
                continue
            if r.status == 200 and r.json():
                addrs.add(r.json())
        if len(addrs) != 1:
            return None
        addr = addrs.pop()
        for s in self.servers:
            if addr.endswith(f":{s.server_port}"):
                return s
        return None

    def followers(self):
        l = self.leader()
        return [s for s in self.servers if s is not l and s.proc.poll() is None]

    def cleanup(self):
        for a in self.agents():
            a.cleanup()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()


def _sh(*args, check=True):
    r = subprocess.run(list(args), capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {r.stderr.strip()}")
    return r


def netns_available():
    """Root with network namespaces, veth, bridges and iptables."""
    if os.geteuid() != 0:
        return False
    name = f"cnprobe{os.getpid()}"
    ok = _sh("ip", "netns", "add", name, check=False).returncode == 0
    if ok:
        ok = _sh("ip", "netns", "exec", name, "iptables", "-L", "-n", check=False).returncode == 0
        _sh("ip", "netns", "del", name, check=False)
    return ok


class NetnsCluster(Cluster):
    """A cluster whose agents each run in their own network namespace on one
    bridge (10.X.Y.0/24), so a partition is a set of iptables DROP rules.
    config: more agent configuration for every agent (a dict)."""

    def __init__(self, servers=3, clients=0, raft_multiplier=1, config=None):
        self.tag = f"cn{os.getpid() % 100000}"
        net = 200 + os.getpid() % 50
        sub = (os.getpid() // 50) % 250
        self.prefix = f"10.{net}.{sub}"
        self.bridge = f"{self.tag}br"
        self.namespaces = []
        self.tmp = tempfile.mkdtemp(prefix="cairn-netns-")
        self.servers, self.clients = [], []
        try:
            self._create(servers, clients, raft_multiplier, config)
        except BaseException:
            # a half-built cluster leaves no namespace, veth or bridge behind
            self.cleanup()
            raise

    def _create(self, servers, clients, raft_multiplier, config):
        _sh("ip", "link", "add", self.bridge, "type", "bridge")
        _sh("ip", "addr", "add", f"{self.prefix}.254/24", "dev", self.bridge)
        _sh("ip", "link", "set", self.bridge, "up")
        conf = os.path.join(self.tmp, "perf.json")
        with open(conf, "w") as f:
            json.dump({"performance": {"raft_multiplier": raft_multiplier}, **(config or {})}, f)
        for i in range(servers + clients):
            server = i < servers
            name = f"s{i + 1}" if server else f"c{i - servers + 1}"
            ns, ip = f"{self.tag}{name}", f"{self.prefix}.{i + 1}"
            host, inner = f"{self.tag}{name}h", f"{self.tag}{name}i"
            _sh("ip", "netns", "add", ns)
            self.namespaces.append(ns)
            _sh("ip", "link", "add", host, "type", "veth", "peer", "name", inner)
            _sh("ip", "link", "set", inner, "netns", ns)
            _sh("ip", "link", "set", host, "master", self.bridge)
            _sh("ip", "link", "set", host, "up")
            _sh("ip", "netns", "exec", ns, "ip", "addr", "add", f"{ip}/24", "dev", inner)
            _sh("ip", "netns", "exec", ns, "ip", "link", "set", inner, "up")
            _sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
            data = os.path.join(self.tmp, name)
            os.makedirs(data)
            args = ["-node", name, "-data-dir", data, "-bind", ip, "-client", ip,
                    "-config-file", conf, "-retry-interval", "1s",
                    "-retry-join", f"{self.prefix}.1"]
            if server:
                args += ["-server", f"-bootstrap-expect={servers}"]
            a = Agent(*args, dev=False, wait_leader=False, netns=ns, ip=ip)
            # one address per agent: Consul's default ports
            a.http_port, a.dns_port, a.server_port = 8500, 8600, 8300
            a.serf_lan_port, a.serf_wan_port = 8301, 8302
            a.args = a.args[:a.args.index("-http-port")] + a.args[a.args.index("-serf-wan-port") + 2:]
            a.name = name
            (self.servers if server else self.clients).append(a)

    def start(self, timeout=20):
        # every agent has its own address and Consul's ports: the seed
        # (s1's) cannot move, unlike Cluster's on loopback
        for a in self.agents():
            a.start()
        wait_until(lambda: self.leader() is not None, timeout=timeout, what="a leader")
        return self

    def leader(self):
        addrs = set()
        for s in self.servers:
            if s.proc.poll() is not None:
                continue
            try:
                r = s.get("/v1/status/leader", timeout=2)
            except OSError:
                continue
            if r.status == 200 and r.json():
                addrs.add(r.json())
        if len(addrs) != 1:
            return None
        addr = addrs.pop()
        for s in self.servers:
            if addr == f"{s.ip}:8300":
                return s
        return None

    def isolate(self, group):
        """Cut every agent of group off from every agent outside it."""
        inside = {a.ip for a in group}
        for a in self.agents():
            others = [b.ip for b in self.agents() if (b.ip in inside) != (a.ip in inside)]
            for ip in others:
                _sh("ip", "netns", "exec", a.netns, "iptables", "-A", "INPUT", "-s", ip, "-j", "DROP")
                _sh("ip", "netns", "exec", a.netns, "iptables", "-A", "OUTPUT", "-d", ip, "-j", "DROP")

    def heal(self):
        for a in self.agents():
            _sh("ip", "netns", "exec", a.netns, "iptables", "-F")

    def cleanup(self):
        for a in self.agents():
            a.cleanup()
        for ns in self.namespaces:
            _sh("ip", "netns", "del", ns, check=False)
            # gone with its peer unless that never moved into the namespace
            _sh("ip", "link", "del", f"{ns}h", check=False)
        _sh("ip", "link", "del", self.bridge, check=False)
        shutil.rmtree(self.tmp, ignore_errors=True)
