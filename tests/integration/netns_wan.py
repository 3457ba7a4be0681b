"""Datacenters in network namespaces joined by a WAN link with added delay.

Layout (all names carry a per-process tag, removed by cleanup()):
  router namespace R: one bridge per datacenter (10.N.S+k.254/24), a TUN
      device whose relay (wan_delay.py) holds every packet for the one-way
      delay, and policy routes that send traffic between datacenters
      through it; traffic within a datacenter is bridged, undelayed.
  one namespace per agent, its veth on its datacenter's bridge.
  the test process reaches every agent through a management veth into R.
cut()/heal() drop and restore everything crossing the WAN link.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

from cairn_test import Agent, _sh, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))


class MultiDC:
    """extra: agent flags for every agent; dc_extra: {dc: flags} for the
    agents of one datacenter (e.g. its own -config-file); token: sent with
    the readiness checks of start() (needed under ACL default deny).
    delay_ms: the one-way delay between datacenters; pair_delay_ms:
    {(dcA, dcB): ms} for pairs at another distance (either way)."""

    def __init__(self, dcs=("dc1", "dc2"), servers=3, clients=1, delay_ms=20,
                 raft_multiplier=1, extra=(), dc_extra=None, token=None, pair_delay_ms=None):
        self.token = token
        pid = os.getpid()
        self.tag = f"cw{pid % 100000}"
        net = 150 + pid % 50
        base = ((pid // 50) % 60) * 4
        self.router = f"{self.tag}r"
        self.namespaces, self.host_links = [self.router], []
        self.tmp = tempfile.mkdtemp(prefix="cairn-wan-")
        self.dcs = {}
        self.relay = None
        R = ["ip", "netns", "exec", self.router]
        _sh("ip", "netns", "add", self.router)
        _sh(*R, "ip", "link", "set", "lo", "up")
        for k in ("net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0",
                  "net.ipv4.conf.default.rp_filter=0"):
            _sh(*R, "sysctl", "-qw", k)
        # management link: the test process reaches every agent through R
        mgmt = f"10.{net}.{base + 3}"
        _sh("ip", "link", "add", f"{self.tag}m", "type", "veth", "peer", "name", f"{self.tag}n")
        self.host_links.append(f"{self.tag}m")
        _sh("ip", "link", "set", f"{self.tag}n", "netns", self.router)
        _sh("ip", "addr", "add", f"{mgmt}.1/24", "dev", f"{self.tag}m")
        _sh("ip", "link", "set", f"{self.tag}m", "up")
        _sh(*R, "ip", "addr", "add", f"{mgmt}.2/24", "dev", f"{self.tag}n")
        _sh(*R, "ip", "link", "set", f"{self.tag}n", "up")
        conf = os.path.join(self.tmp, "perf.json")
        with open(conf, "w") as f:
            json.dump({"performance": {"raft_multiplier": raft_multiplier}}, f)
        prefixes = [f"10.{net}.{base + k}" for k in range(len(dcs))]
        wan_seed = f"{prefixes[0]}.1"
        for k, dc in enumerate(dcs):
            prefix, br = prefixes[k], f"b{k}"
            _sh("ip", "route", "add", f"{prefix}.0/24", "via", f"{mgmt}.2")
            _sh(*R, "ip", "link", "add", br, "type", "bridge")
            _sh(*R, "ip", "addr", "add", f"{prefix}.254/24", "dev", br)
            _sh(*R, "ip", "link", "set", br, "up")
            agents = {"servers": [], "clients": []}
            for i in range(servers + clients):
                server = i < servers
                name = f"{dc}s{i + 1}" if server else f"{dc}c{i - servers + 1}"
                ns, ip = f"{self.tag}{k}{i}", f"{prefix}.{i + 1}"
                host, inner = f"{self.tag}{k}{i}h", f"{self.tag}{k}{i}i"
                _sh("ip", "netns", "add", ns)
                self.namespaces.append(ns)
                _sh("ip", "link", "add", host, "type", "veth", "peer", "name", inner)
                _sh("ip", "link", "set", inner, "netns", ns)
                _sh("ip", "link", "set", host, "netns", self.router)
                _sh(*R, "ip", "link", "set", host, "master", br)
                _sh(*R, "ip", "link", "set", host, "up")
                N = ["ip", "netns", "exec", ns]
                _sh(*N, "ip", "addr", "add", f"{ip}/24", "dev", inner)
                _sh(*N, "ip", "link", "set", inner, "up")
                _sh(*N, "ip", "link", "set", "lo", "up")
                _sh(*N, "ip", "route", "add", "default", "via", f"{prefix}.254")
                data = os.path.join(self.tmp, name)
                os.makedirs(data)
                args = ["-node", name, "-datacenter", dc, "-data-dir", data, "-bind", ip,
                        "-client", ip, "-config-file", conf, "-retry-interval", "1s",
                        "-retry-join", f"{prefix}.1", *extra, *(dc_extra or {}).get(dc, ())]
                if server:
                    args += ["-server", f"-bootstrap-expect={servers}"]
                    # one server per datacenter is told about the WAN; the
                    # flood join brings the others
                    if i == 0:
                        args += ["-retry-join-wan", wan_seed]
                a = Agent(*args, dev=False, wait_leader=False, netns=ns, ip=ip)
                a.http_port, a.dns_port, a.server_port = 8500, 8600, 8300
                a.serf_lan_port, a.serf_wan_port = 8301, 8302
                a.args = a.args[:a.args.index("-http-port")] + \
                    a.args[a.args.index("-serf-wan-port") + 2:]
                a.name, a.dc = name, dc
                agents["servers" if server else "clients"].append(a)
            self.dcs[dc] = agents
        # the WAN link: traffic between datacenters goes through the relay
        _sh(*R, "ip", "tuntap", "add", "dev", "wan0", "mode", "tun")
        _sh(*R, "ip", "link", "set", "wan0", "up")
        _sh(*R, "sysctl", "-qw", "net.ipv4.conf.wan0.rp_filter=0")
        _sh(*R, "ip", "route", "add", "default", "dev", "wan0", "table", "100")
        for k in range(len(dcs)):
            for j in range(len(dcs)):
                if j != k:
                    _sh(*R, "ip", "rule", "add", "iif", f"b{k}", "to", f"{prefixes[j]}.0/24",
                        "lookup", "100")
        pairs = [f"{prefixes[dcs.index(a)]}:{prefixes[dcs.index(b)]}={ms}"
                 for (a, b), ms in (pair_delay_ms or {}).items()]
        self.relay = subprocess.Popen(
            R + [sys.executable, os.path.join(HERE, "wan_delay.py"), "wan0", str(delay_ms),
                 *pairs],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.relay.stdout.readline()  # "ready"

    def agents(self):
        return [a for d in self.dcs.values() for a in d["servers"] + d["clients"]]

    def servers(self, dc):
        return self.dcs[dc]["servers"]

    def client(self, dc):
        return self.dcs[dc]["clients"][0]

    def leader(self, dc):
        addrs = set()
        for s in self.servers(dc):
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
        return next((s for s in self.servers(dc) if addr == f"{s.ip}:8300"), None)

    def start(self, timeout=40):
        try:
            return self._start(timeout)
        except BaseException:
            # a half-started topology must not outlive the test: its agents
            # and routes would disturb the next one
            self.cleanup()
            raise

    def _start(self, timeout):
        for a in self.agents():
            a.start()
        for dc in self.dcs:
            wait_until(lambda: self.leader(dc) is not None, timeout=timeout, what=f"{dc} leader")
        n = sum(len(d["servers"]) for d in self.dcs.values())
        s0 = next(iter(self.dcs.values()))["servers"][0]
        hdr = {"X-Consul-Token": self.token} if self.token else {}
        # Usually a second; a gossip packet the relay dropped leaves a member
        # to the next WAN push-pull (up to a minute), hence the long bound.
        wait_until(lambda: sum(m["Status"] == 1 for m in
                               s0.get("/v1/agent/members?wan=1", headers=hdr).json())
                   == n, timeout=max(timeout, 100), what="every server in the WAN pool")
        return self

    def cut(self):
        _sh("ip", "netns", "exec", self.router, "iptables", "-I", "FORWARD", "-i", "wan0",
            "-j", "DROP")

    def heal(self):
        _sh("ip", "netns", "exec", self.router, "iptables", "-D", "FORWARD", "-i", "wan0",
            "-j", "DROP", check=False)

    def cleanup(self):
        for a in self.agents():
            a.cleanup()
        if self.relay:
            self.relay.kill()
            self.relay.wait()
        for ns in self.namespaces:
            _sh("ip", "netns", "del", ns, check=False)
        for link in self.host_links:
            _sh("ip", "link", "del", link, check=False)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()
