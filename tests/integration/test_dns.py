#!/usr/bin/python3
"""DNS interface (shared/spec/dns.md) against running agents, with dig and
dnspython: every name form, health filtering as TTL checks flip, truncation
and the TCP retry, EDNS0, negative answers, recursors, reload."""
import json
import os
import signal
import socket
import struct
import subprocess
import threading
import time

import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset

from cairn_test import Agent, eq, main, test, wait_until


# ---- a loopback upstream resolver for the recursor tests -----------------------------

class Upstream:
    """Answers example.com A (and a big TXT at big.example.com, truncated over
    UDP) on UDP and TCP; rcode= makes it answer everything with that code."""

    def __init__(self, rcode=dns.rcode.NOERROR, silent=False):
        self.rcode = rcode
        self.silent = silent
        self.seen = []  # (transport, qname)
        # one port free for both UDP and TCP: the UDP port the kernel picks
        # may be taken for TCP, so try again until both bind
        for _ in range(100):
            self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.udp.bind(("127.0.0.1", 0))
            self.port = self.udp.getsockname()[1]
            self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                self.tcp.bind(("127.0.0.1", self.port))
                break
            except OSError:
                self.udp.close()
                self.tcp.close()
        self.tcp.listen(16)
        for fn in (self._serve_udp, self._serve_tcp):
            threading.Thread(target=fn, daemon=True).start()

    @property
    def addr(self):
        return f"127.0.0.1:{self.port}"

    def answer(self, wire, transport):
        q = dns.message.from_wire(wire)
        self.seen.append((transport, str(q.question[0].name)))
        r = dns.message.make_response(q)
        r.flags |= dns.flags.RA
        r.set_rcode(self.rcode)
        if self.rcode != dns.rcode.NOERROR:
            return r.to_wire()
        name = q.question[0].name
        if str(name).lower() == "example.com.":
            r.answer.append(dns.rrset.from_text(name, 60, "IN", "A", "93.184.216.34"))
        elif str(name).lower() == "big.example.com.":
            r.answer.append(dns.rrset.from_text(name, 60, "IN", "TXT",
                                                *[f'"{"x" * 200}{i}"' for i in range(10)]))
        else:
            r.set_rcode(dns.rcode.NXDOMAIN)
        limit = 65535 if transport == "tcp" else max(512, q.payload if q.edns >= 0 else 512)
        try:
            return r.to_wire(max_size=limit)
        except dns.exception.TooBig:
            r.answer = []
            r.flags |= dns.flags.TC
            return r.to_wire()

    def _serve_udp(self):
        while True:
            wire, peer = self.udp.recvfrom(65535)
            if self.silent:
                continue
            self.udp.sendto(self.answer(wire, "udp"), peer)

    def _serve_tcp(self):
        while True:
            c, _ = self.tcp.accept()
            try:
                n = struct.unpack("!H", c.recv(2))[0]
                wire = b""
                while len(wire) < n:
                    wire += c.recv(n - len(wire))
                if not self.silent:
                    out = self.answer(wire, "tcp")
                    c.sendall(struct.pack("!H", len(out)) + out)
            except OSError:
                pass
            c.close()


UP = Upstream()
BAD_UP = Upstream(rcode=dns.rcode.SERVFAIL)
DEAD_UP = Upstream(silent=True)

# ---- agents ------------------------------------------------------------------------

A = Agent().start()
B_CONFIG = {
    "alt_domain": "cairn.test",
    "recursors": [BAD_UP.addr, UP.addr],
    # allow_stale off: B, a server, reads through its HTTP API as client agents do
    "dns_config": {"allow_stale": False, "only_passing": True, "enable_truncate": True,
                   "node_ttl": "10s",
                   "service_ttl": {"*": "5s", "web": "30s", "we*": "20s", "bi*": "7.9s"},
                   "udp_answer_limit": 2, "recursor_timeout": "500ms"},
}
B = Agent(config=B_CONFIG).start()
NODE_A = A.get("/v1/agent/self").json()["Config"]["NodeName"]


def setup(agent):
    def svc(body):
        r = agent.put("/v1/agent/service/register", body)
        assert r.status == 200, r

    svc({"Name": "web", "ID": "web1", "Tags": ["v1", "primary"], "Port": 8080,
         "Check": {"TTL": "600s", "Status": "passing"}})
    svc({"Name": "web", "ID": "web2", "Tags": ["v2"], "Port": 8081,
         "Check": {"TTL": "600s", "Status": "warning"}})
    svc({"Name": "web", "ID": "web3", "Tags": ["v3"], "Port": 8082,
         "Check": {"TTL": "600s", "Status": "critical"}})
    svc({"Name": "own", "ID": "own1", "Port": 9000, "Address": "127.0.0.2"})
    svc({"Name": "six", "ID": "six1", "Port": 9001, "Address": "2001:db8::5"})
    svc({"Name": "flip", "ID": "flip1", "Port": 7000,
         "Check": {"TTL": "600s", "Status": "passing"}})
    for i in range(30):
        r = agent.put("/v1/catalog/register", {
            "Node": f"big-{i:02d}", "Address": f"10.1.0.{i + 1}",
            "NodeMeta": {"rack": f"r{i % 3}"},
            "Service": {"Service": "big", "ID": "big", "Port": 9100 + i}})
        assert r.status == 200, r
    r = agent.put("/v1/catalog/register", {"Node": "meta-node", "Address": "10.2.0.1",
                                            "NodeMeta": {"env": "prod", "a=b": "c"}})
    assert r.status == 200, r


setup(A)
setup(B)


def ask(name, rdtype="A", agent=A, tcp=False, edns=None, payload=1232):
    if edns is None:
        m = dns.message.make_query(name, rdtype, use_edns=False)
    else:
        m = dns.message.make_query(name, rdtype, use_edns=edns, payload=payload)
    if tcp:
        return dns.query.tcp(m, "127.0.0.1", port=agent.dns_port, timeout=5)
    return dns.query.udp(m, "127.0.0.1", port=agent.dns_port, timeout=5)


def records(resp, section="answer", rdtype=None):
    out = []
    for rrset in getattr(resp, section):
        if rdtype and rrset.rdtype != dns.rdatatype.from_text(rdtype):
            continue
        out += [(str(rrset.name), dns.rdatatype.to_text(rrset.rdtype), rrset.ttl, r.to_text())
                for r in rrset]
    return out


def dig(*args, agent=A):
    p = subprocess.run(["dig", "@127.0.0.1", "-p", str(agent.dns_port), *args], capture_output=True,
                       text=True, timeout=20)
    return p.stdout


def srv_ports(resp):
    return sorted(int(r[3].split()[2]) for r in records(resp, rdtype="SRV"))


# ---- services -------------------------------------------------------------------------

@test
def dig_srv_returns_healthy_instances_with_ports_and_addresses():
    out = dig("web.service.consul", "SRV")
    assert "status: NOERROR" in out and "flags: qr aa rd;" in out, out
    lines = dig("web.service.consul", "SRV", "+short").split("\n")
    eq([f"1 1 8080 {NODE_A}.node.dc1.consul.", f"1 1 8081 {NODE_A}.node.dc1.consul."],
       sorted(l for l in lines if l))
    r = ask("web.service.consul", "SRV", edns=0)
    eq([8080, 8081], srv_ports(r))
    eq([(f"{NODE_A}.node.dc1.consul.", "A", 0, "127.0.0.1")], records(r, "additional", "A"))
    assert r.flags & dns.flags.AA
    assert not r.flags & dns.flags.RA


@test
def a_any_and_aaaa_for_services():
    r = ask("web.service.consul", "A")
    eq([("web.service.consul.", "A", 0, "127.0.0.1")], records(r))  # deduplicated
    eq(records(r), records(ask("web.service.consul", "ANY")))
    r = ask("web.service.consul", "AAAA")
    eq(dns.rcode.NOERROR, r.rcode())
    eq([], r.answer)
    eq("SOA", records(r, "authority")[0][1])
    eq([("six.service.consul.", "AAAA", 0, "2001:db8::5")], records(ask("six.service.consul", "AAAA")))
    eq([], ask("six.service.consul", "A").answer)
    r = ask("web.service.consul", "TXT")
    eq((dns.rcode.NOERROR, []), (r.rcode(), r.answer))


@test
def tags_and_rfc2782_forms():
    eq([8080], srv_ports(ask("v1.web.service.consul", "SRV")))
    eq([8080], srv_ports(ask("PRIMARY.web.service.consul", "SRV")))
    eq([8081], srv_ports(ask("_web._v2.service.consul", "SRV")))
    eq([8080, 8081], srv_ports(ask("_web._tcp.service.consul", "SRV")))
    eq([8080, 8081], srv_ports(ask("_web._tcp.consul", "SRV")))  # `service` left out
    eq(dns.rcode.NXDOMAIN, ask("v3.web.service.consul", "SRV").rcode())  # critical only
    eq(dns.rcode.NXDOMAIN, ask("nosuchtag.web.service.consul", "SRV").rcode())


@test
def datacenter_suffixes():
    eq([8080, 8081], srv_ports(ask("web.service.dc1.consul", "SRV")))
    eq([8080, 8081], srv_ports(ask("web.service.dc1.dc.consul", "SRV")))
    r = ask("web.service.dc1.extra.consul", "SRV")
    eq(dns.rcode.NXDOMAIN, r.rcode())
    eq("SOA", records(r, "authority")[0][1])
    # a datacenter nobody knows is an RPC error ("No path to datacenter"):
    # Consul answers SERVFAIL, not a negative answer a resolver would cache
    for name in ("web.service.dc2.consul", "x.node.dc9.consul"):
        eq(dns.rcode.SERVFAIL, ask(name, "SRV").rcode(), name)


@test
def service_address_targets_use_addr_names():
    r = ask("own.service.consul", "SRV", edns=0)
    eq([("own.service.consul.", "SRV", 0, "1 1 9000 7f000002.addr.dc1.consul.")], records(r))
    eq([("7f000002.addr.dc1.consul.", "A", 0, "127.0.0.2")], records(r, "additional", "A"))
    r = ask("six.service.consul", "SRV", edns=0)
    eq("1 1 9001 20010db8000000000000000000000005.addr.dc1.consul.", records(r)[0][3])
    eq("AAAA", records(r, "additional")[0][1])
    eq(["127.0.0.2"], [x[3] for x in records(ask("own.service.consul", "A"))])


@test
def case_insensitive_names_echo_the_question():
    r = ask("WeB.SeRvIcE.CoNsUl", "SRV")
    eq([8080, 8081], srv_ports(r))
    eq("WeB.SeRvIcE.CoNsUl.", str(r.question[0].name))
    eq("WeB.SeRvIcE.CoNsUl.", records(r)[0][0])
    eq(1, len(records(ask(f"{NODE_A.upper()}.NODE.consul", "A"))))


# ---- nodes, addr, apex ----------------------------------------------------------------

@test
def node_answers():
    r = ask(f"{NODE_A}.node.consul", "A")
    eq([(f"{NODE_A}.node.consul.", "A", 0, "127.0.0.1")], records(r))
    r = ask("meta-node.node.dc1.consul", "TXT")
    eq(sorted(['"a`=b=c"', '"env=prod"']), sorted(x[3] for x in records(r)))
    r = ask("meta-node.node.consul", "ANY")
    eq(["A", "TXT", "TXT"], sorted(x[1] for x in records(r)))
    r = ask("meta-node.node.consul", "A")
    eq(2, len(records(r, "additional", "TXT")))  # enable_additional_node_meta_txt
    r = ask("meta-node.node.consul", "AAAA")
    eq((dns.rcode.NOERROR, []), (r.rcode(), r.answer))
    eq("SOA", records(r, "authority")[0][1])
    r = ask("nosuch.node.consul", "A")
    eq(dns.rcode.NXDOMAIN, r.rcode())
    eq("SOA", records(r, "authority")[0][1])
    out = dig(f"{NODE_A}.node.consul", "+short")
    eq("127.0.0.1\n", out)


@test
def addr_names():
    eq([("7f000001.addr.dc1.consul.", "A", 0, "127.0.0.1")],
       records(ask("7f000001.addr.dc1.consul", "A")))
    eq([("20010db8000000000000000000000001.addr.consul.", "AAAA", 0, "2001:db8::1")],
       records(ask("20010db8000000000000000000000001.addr.consul", "AAAA")))
    r = ask("7f000001.addr.consul", "SRV")
    eq([], r.answer)
    eq(["127.0.0.1"], [x[3] for x in records(r, "additional")])
    eq(dns.rcode.NXDOMAIN, ask("7f0001.addr.consul", "A").rcode())
    eq(dns.rcode.NXDOMAIN, ask("q.query.consul", "A").rcode())


@test
def ptr_lookups():
    eq([("1.0.2.10.in-addr.arpa.", "PTR", 0, "meta-node.node.dc1.consul.")],
       records(ask("1.0.2.10.in-addr.arpa", "PTR")))
    eq([("2.0.0.127.in-addr.arpa.", "PTR", 0, "own.service.dc1.consul.")],
       records(ask("2.0.0.127.in-addr.arpa", "PTR")))
    eq("meta-node.node.dc1.consul.\n", dig("-x", "10.2.0.1", "+short"))
    r = ask("99.99.99.10.in-addr.arpa", "PTR")
    eq(dns.rcode.NXDOMAIN, r.rcode())
    eq(dns.rcode.REFUSED, ask("0.10.in-addr.arpa", "PTR").rcode())  # not an address
    # B reads through HTTP (nodes only) and forwards misses to its recursors
    eq([("1.0.2.10.in-addr.arpa.", "PTR", 10, "meta-node.node.dc1.consul.")],
       records(ask("1.0.2.10.in-addr.arpa", "PTR", agent=B)))
    eq(dns.rcode.NXDOMAIN, ask("99.99.99.10.in-addr.arpa", "PTR", agent=B).rcode())
    assert ("udp", "99.99.99.10.in-addr.arpa.") in UP.seen


@test
def soa_and_ns_at_the_apex():
    r = ask("consul", "SOA")
    soa = records(r)
    eq(1, len(soa))
    name, typ, ttl, data = soa[0]
    eq(("consul.", "SOA", 0), (name, typ, ttl))
    mname, rname, serial, refresh, retry, expire, minimum = data.split()
    eq(("ns.consul.", "hostmaster.consul.", "3600", "600", "86400", "0"),
       (mname, rname, refresh, retry, expire, minimum))
    assert abs(int(serial) - time.time()) < 60
    eq([("consul.", "NS", 0, f"{NODE_A}.node.dc1.consul.")], records(r, "authority"))
    eq([(f"{NODE_A}.node.dc1.consul.", "A", 0, "127.0.0.1")], records(r, "additional"))
    r = ask("consul", "NS")
    eq([("consul.", "NS", 0, f"{NODE_A}.node.dc1.consul.")], records(r))
    eq(1, len(records(r, "additional")))
    eq(dns.rcode.NXDOMAIN, ask("consul", "A").rcode())


@test
def unknown_names_are_nxdomain_with_soa():
    for name in ("nosuch.service.consul", "service.consul", "x.y.consul", "web.ingress.consul"):
        r = ask(name, "A")
        eq(dns.rcode.NXDOMAIN, r.rcode(), name)
        eq([("consul.", "SOA")], [x[:2] for x in records(r, "authority")], name)
        eq(name + ".", str(r.question[0].name))
    out = dig("nosuch.service.consul")
    assert "status: NXDOMAIN" in out and "hostmaster.consul." in out, out


# ---- health as checks flip --------------------------------------------------------------

def flip(agent, how):
    r = agent.put(f"/v1/agent/check/{how}/service:flip1")
    assert r.status == 200, r


@test
def health_filtering_follows_ttl_checks():
    eq([7000], srv_ports(ask("flip.service.consul", "SRV")))
    flip(A, "fail")
    wait_until(lambda: ask("flip.service.consul", "SRV").rcode() == dns.rcode.NXDOMAIN,
               what="critical instance gone")
    flip(A, "warn")
    wait_until(lambda: srv_ports(ask("flip.service.consul", "SRV")) == [7000],
               what="warning instance back")
    # B has only_passing: warning is not enough there
    eq([7000], srv_ports(ask("flip.service.consul", "SRV", agent=B)))
    flip(B, "warn")
    wait_until(lambda: ask("flip.service.consul", "SRV", agent=B).rcode() == dns.rcode.NXDOMAIN,
               what="warning instance gone with only_passing")
    eq([8080], srv_ports(ask("web.service.consul", "SRV", agent=B)))
    flip(B, "pass")
    flip(A, "pass")
    wait_until(lambda: srv_ports(ask("flip.service.consul", "SRV", agent=B)) == [7000],
               what="passing again")


@test
def node_level_critical_check_drops_instances():
    r = A.put("/v1/catalog/register", {
        "Node": "sick", "Address": "10.9.0.1", "Service": {"Service": "sickly", "Port": 1},
        "Check": {"CheckID": "node-down", "Name": "node-down", "Status": "critical"}})
    assert r.status == 200, r
    eq(dns.rcode.NXDOMAIN, ask("sickly.service.consul", "SRV").rcode())
    eq(1, len(ask("sick.node.consul", "A").answer))  # node answers do not filter on health


# ---- size, truncation, EDNS ----------------------------------------------------------------

@test
def udp_without_edns_keeps_three_answers_silently():
    r = ask("big.service.consul", "SRV")
    eq(3, len(records(r)))
    eq(3, len(records(r, "additional", "A")))
    assert not r.flags & dns.flags.TC
    assert len(r.to_wire()) <= 512
    eq(3, len(records(ask("big.service.consul", "A"))))


@test
def edns_and_tcp_get_everything():
    r = ask("big.service.consul", "SRV", edns=0, payload=4096)
    eq(30, len(records(r)))
    eq(30, len(records(r, "additional", "A")))
    eq(4096, r.payload)  # OPT echoed with the client's size
    assert not r.flags & dns.flags.TC
    r = ask("big.service.consul", "SRV", tcp=True)
    eq(30, len(records(r)))
    eq(list(range(9100, 9130)), srv_ports(r))
    r = ask("big.service.consul", "SRV", edns=0, payload=1232)
    n = len(records(r))
    assert 3 < n < 30, n
    assert len(r.to_wire()) <= 1232


@test
def enable_truncate_sets_tc_and_dig_retries_over_tcp():
    r = ask("big.service.consul", "SRV", agent=B)
    eq(2, len(records(r)))  # udp_answer_limit 2
    assert r.flags & dns.flags.TC
    r = ask("big.service.consul", "SRV", agent=B, edns=0, payload=1232)
    assert r.flags & dns.flags.TC
    out = dig("big.service.consul", "SRV", agent=B)
    assert "Truncated, retrying in TCP mode" in out, out
    assert "ANSWER: 30," in out, out
    assert "(TCP)" in out, out
    # without enable_truncate dig keeps the UDP answer
    out = dig("big.service.consul", "SRV", "+noedns")
    assert "ANSWER: 3," in out and "Truncated" not in out, out


@test
def dig_default_edns_cookie_is_answered():
    out = dig("web.service.consul", "SRV")  # dig 9.18 sends a COOKIE option
    assert "status: NOERROR" in out, out
    assert "EDNS: version: 0" in out and "udp: 1232" in out, out
    out = dig("web.service.consul", "SRV", "+noedns")
    assert "OPT PSEUDOSECTION" not in out, out


# ---- TTLs and the alt domain ---------------------------------------------------------------

@test
def ttls_from_config():
    def ttls(name, rdtype, section="answer"):
        return {x[2] for x in records(ask(name, rdtype, agent=B, edns=0), section)}
    eq({30}, ttls("web.service.consul", "SRV"))  # exact name
    eq({30}, ttls("web.service.consul", "SRV", "additional"))
    eq({7}, ttls("big.service.consul", "SRV"))  # longest prefix
    eq({5}, ttls("own.service.consul", "A"))  # "*"
    eq({10}, ttls("meta-node.node.consul", "A"))  # node_ttl
    eq({10}, ttls("7f000001.addr.consul", "A"))
    eq({10}, ttls("consul", "NS"))
    eq({0}, {x[2] for x in records(ask("web.service.consul", "SRV", edns=0))})  # defaults


@test
def alt_domain_answers_with_its_own_names():
    r = ask("web.service.cairn.test", "SRV", agent=B, edns=0)
    eq([8080], srv_ports(r))
    assert records(r)[0][3].endswith(".node.dc1.cairn.test."), records(r)
    assert records(r, "additional")[0][0].endswith(".cairn.test.")
    r = ask("nosuch.service.cairn.test", "A", agent=B)
    eq(dns.rcode.NXDOMAIN, r.rcode())
    eq("cairn.test.", records(r, "authority")[0][0])
    eq("consul.", records(ask("nosuch.service.consul", "A", agent=B), "authority")[0][0])


# ---- recursors ---------------------------------------------------------------------------

@test
def refused_outside_the_zone_without_recursors():
    r = ask("example.com", "A")
    eq(dns.rcode.REFUSED, r.rcode())
    assert not r.flags & dns.flags.RA
    out = dig("example.com")
    assert "status: REFUSED" in out, out


@test
def forwarded_to_recursors_over_the_same_transport():
    r = ask("example.com", "A", agent=B)
    eq(dns.rcode.NOERROR, r.rcode())
    eq([("example.com.", "A", 60, "93.184.216.34")], records(r))
    assert ("udp", "example.com.") in BAD_UP.seen  # tried first, SERVFAIL: next one
    r = ask("example.com", "A", agent=B, tcp=True)
    eq([("example.com.", "A", 60, "93.184.216.34")], records(r))
    assert ("tcp", "example.com.") in UP.seen
    r = ask("nosuch.example.com", "A", agent=B)
    eq(dns.rcode.NXDOMAIN, r.rcode())
    out = dig("example.com", "+short", agent=B)
    eq("93.184.216.34\n", out)
    out = dig("example.com", agent=B)
    assert "flags: qr rd ra;" in out, out
    # a truncated upstream answer is relayed; dig then asks again over TCP
    out = dig("big.example.com", "TXT", "+noedns", agent=B)
    assert "Truncated, retrying in TCP mode" in out and "ANSWER: 10," in out, out


@test
def reload_changes_dns_config_and_recursors():
    path = os.path.join(B.tmp, "config.json")
    conf = json.loads(json.dumps(B_CONFIG))
    conf["recursors"] = [DEAD_UP.addr, BAD_UP.addr]
    conf["dns_config"]["only_passing"] = False
    with open(path, "w") as f:
        json.dump(conf, f)
    B.signal(signal.SIGHUP)
    wait_until(lambda: srv_ports(ask("web.service.consul", "SRV", agent=B)) == [8080, 8081],
               what="only_passing off after reload")
    t0 = time.time()
    r = ask("example.com", "A", agent=B)
    eq(dns.rcode.SERVFAIL, r.rcode())  # one times out (500ms), the other fails
    assert r.flags & dns.flags.RA
    assert time.time() - t0 >= 0.45
    with open(path, "w") as f:
        json.dump(B_CONFIG, f)
    B.signal(signal.SIGHUP)
    wait_until(lambda: ask("example.com", "A", agent=B).rcode() == dns.rcode.NOERROR,
               what="recursors back")


# ---- hostile input -------------------------------------------------------------------------

@test
def malformed_packets_never_stop_the_server():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.3)
    good = dns.message.make_query("web.service.consul", "A").to_wire()
    samples = [b"", b"\x00", good[:11], good[:15], good + b"\xff" * 10,
               good[:2] + b"\x81\x00" + good[4:],  # a response
               good[:12] + b"\xc0\x0c\x00\x01\x00\x01",  # pointer loop in the question
               good[:4] + b"\x00\x00" + good[6:],  # no question
               good[:6] + b"\x00\x05" + good[8:],  # answers promised, none there
               bytes(range(256)) * 4]
    replies = 0
    for pkt in samples:
        s.sendto(pkt, ("127.0.0.1", A.dns_port))
        try:
            data = s.recv(4096)
            replies += 1
            m = dns.message.from_wire(data, question_only=True) if len(data) >= 12 else None
            assert m is None or m.rcode() in (dns.rcode.FORMERR, dns.rcode.NOERROR,
                                                dns.rcode.NXDOMAIN), m
        except (socket.timeout, dns.exception.DNSException):
            pass
    assert replies >= 3, replies
    # TCP: garbage length prefix, then a half message and a hang-up
    for blob in (b"\x00", b"\x00\x00", b"\xff\xff" + b"x" * 100, b"\x00\x20" + good[:10]):
        c = socket.create_connection(("127.0.0.1", A.dns_port))
        c.sendall(blob)
        c.close()
    eq([8080, 8081], srv_ports(ask("web.service.consul", "SRV")))
    eq([8080, 8081], srv_ports(ask("web.service.consul", "SRV", tcp=True)))


@test
def tcp_pipelined_queries_on_one_connection():
    c = socket.create_connection(("127.0.0.1", A.dns_port))
    names = ["web.service.consul", "nosuch.service.consul", "example.com"]
    wire = b""
    for i, n in enumerate(names):
        q = dns.message.make_query(n, "A")
        q.id = 100 + i
        w = q.to_wire()
        wire += struct.pack("!H", len(w)) + w
    c.sendall(wire)
    got = {}
    buf = b""
    c.settimeout(5)
    while len(got) < 3:
        buf += c.recv(4096)
        while len(buf) >= 2 and len(buf) >= 2 + struct.unpack("!H", buf[:2])[0]:
            n = struct.unpack("!H", buf[:2])[0]
            m = dns.message.from_wire(buf[2:2 + n])
            got[m.id] = m.rcode()
            buf = buf[2 + n:]
    c.close()
    eq({100: dns.rcode.NOERROR, 101: dns.rcode.NXDOMAIN, 102: dns.rcode.REFUSED}, got)


if __name__ == "__main__":
    try:
        main()
    finally:
        A.cleanup()
        B.cleanup()
