#!/usr/bin/python3
"""max_stale (issue 9): three servers and a client agent, each in its own
network namespace, with discovery_max_stale and dns_config.max_stale at 2 s.

A stale read is answered by whichever server it reaches, with that server's
X-Consul-LastContact; one that carries a max_stale (?max_stale, or
discovery_max_stale on a catalog or health read that names no mode) is asked
again in default mode when the server last heard from the leader longer ago
than that, as Consul's catalog, health and prepared-query handlers and its
DNS do: the leader answers, or, for a server cut off from the leader, the
read fails with `No cluster leader` (DNS: SERVFAIL) instead of serving data
older than the client accepts. Needs root (network namespaces, iptables)."""
import time

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

from cairn_test import NetnsCluster, eq, main, netns_available, test, wait_until

C = F = CL = None
WEB = "/v1/catalog/service/web"


def setup():
    global C, F, CL
    C = NetnsCluster(servers=3, clients=1, config={"discovery_max_stale": "2s",
                                                   "dns_config": {"max_stale": "2s"}})
    C.start(timeout=30)
    F, CL = C.followers()[0], C.clients[0]


def ask(agent, name="web.service.consul."):
    q = dns.message.make_query(name, "A")
    return dns.query.udp(q, agent.ip, port=agent.dns_port, timeout=5)


def addrs(r):
    return [rr.address for rrset in r.answer for rr in rrset if rrset.rdtype == dns.rdatatype.A]


def no_leader(r):
    return r.status == 500 and b"No cluster leader" in r.body


@test
def a_follower_in_touch_answers_bounded_reads_itself():
    L = C.leader()
    eq(200, L.put("/v1/catalog/register", {"Node": "ext", "Address": "10.0.0.9",
                                           "Service": {"Service": "web", "Port": 80}}).status)
    eq(True, L.put("/v1/kv/k", "v").json())
    for a in (F, CL):
        wait_until(lambda a=a: a.get(f"{WEB}?stale").json(), what=f"web on {a.name}")
        wait_until(lambda a=a: a.get("/v1/kv/k?stale").status == 200, what=f"k on {a.name}")
    # discovery_max_stale makes a plain catalog read a bounded stale one
    r = F.get(WEB)
    eq((200, "stale"), (r.status, r.header("X-Consul-Effective-Consistency")))
    assert int(r.header("X-Consul-Lastcontact")) < 2000, r.headers
    eq(200, CL.get(WEB).status)
    # a bound below the gap between heartbeats (50 ms): the follower's own
    # answer is too stale unless it heard from the leader this very
    # millisecond, so the leader answers (in default mode)
    seen = set()
    for _ in range(20):
        r = F.get(f"{WEB}?max_stale=1ns")
        eq(200, r.status)
        seen.add((r.header("X-Consul-Effective-Consistency"), r.header("X-Consul-Lastcontact")))
    assert ("leader", "0") in seen, seen
    assert seen <= {("leader", "0"), ("stale", "0")}, seen
    # KV is not re-asked (Consul's KV handler has no retry): ?max_stale is ?stale
    lcs = {F.get("/v1/kv/k?max_stale=1ns").header("X-Consul-Lastcontact") for _ in range(20)}
    assert lcs - {"0"}, lcs
    eq(["10.0.0.9"], addrs(ask(F)))
    eq(["10.0.0.9"], addrs(ask(CL)))


@test
def a_cut_off_follower_serves_stale_reads_but_none_older_than_max_stale():
    C.isolate([F, CL])
    def lastcontact_past(ms):
        r = F.get(f"{WEB}?stale", timeout=5)
        eq(200, r.status)
        lc = int(r.header("X-Consul-Lastcontact"))
        return lc if lc > ms else None
    lc1 = wait_until(lambda: lastcontact_past(2500), timeout=15,
                     what="the follower's last contact to pass 2.5 s")
    time.sleep(0.3)
    r = F.get(f"{WEB}?stale", timeout=5)
    eq("web", r.json()[0]["ServiceName"])  # its own data
    assert int(r.header("X-Consul-Lastcontact")) > lc1, (lc1, r.headers)
    wait_until(lambda: F.get(f"{WEB}?stale").header("X-Consul-Knownleader") == "false",
               what="the follower to know no leader")
    # within the caller's bound: still answered from what it has
    eq(200, F.get(f"{WEB}?max_stale=1h", timeout=5).status)
    eq(200, F.get("/v1/health/service/web?stale", timeout=5).status)
    # past it: asked again in default mode, which has no leader to answer
    for path in (WEB, f"{WEB}?max_stale=1s", "/v1/health/service/web",
                 "/v1/catalog/nodes?max_stale=2s"):
        r = F.get(path, timeout=10)
        assert no_leader(r), (path, r)
    eq(200, F.get("/v1/kv/k?max_stale=1s", timeout=5).status)  # KV: no retry
    eq(dns.rcode.SERVFAIL, ask(F).rcode())
    # the client agent, with only the cut-off follower left to ask
    def client_sees_only_f():
        alive = {m["Name"] for m in CL.get("/v1/agent/members", timeout=5).json()
                 if m["Status"] == 1}
        return alive == {F.name, CL.name}
    wait_until(client_sees_only_f, timeout=45, interval=0.5,
               what="the client's gossip to mark the other servers failed")
    r = CL.get(f"{WEB}?stale", timeout=15)
    eq(200, r.status)
    assert int(r.header("X-Consul-Lastcontact")) > 2000, r.headers
    assert no_leader(CL.get(WEB, timeout=15))  # its discovery_max_stale
    eq(dns.rcode.SERVFAIL, ask(CL).rcode())  # its dns_config.max_stale


@test
def healed_the_follower_answers_bounded_reads_again():
    C.heal()
    wait_until(lambda: F.get(WEB, timeout=5).status == 200, timeout=30,
               what="the follower to hear from the leader again")
    wait_until(lambda: CL.get(WEB, timeout=5).status == 200, timeout=30,
               what="the client's reads to pass again")
    eq(["10.0.0.9"], addrs(ask(F)))
    wait_until(lambda: addrs(ask(CL)) == ["10.0.0.9"], timeout=10, what="DNS on the client")


if __name__ == "__main__":
    if not netns_available():
        print("ok 1 max_stale tests # SKIP needs root with network namespaces and iptables")
        print("1 passed, 0 failed")
    else:
        try:
            setup()
            main()
        finally:
            if C:
                C.cleanup()
