#!/usr/bin/python3
"""Three servers and two client agents as processes on loopback: Raft through
gossip discovery, forwarding, consistency modes, failover, restarts."""
import base64
import signal
import time

import dns.message
import dns.query

from cairn_test import Cluster, eq, main, test, wait_until

# a short anti-entropy interval so the full-sync test need not wait a minute
C = Cluster(servers=3, clients=2, env={"CAIRN_TEST_AE_INTERVAL": "1s"}).start()


def kv(key):
    return "/v1/kv/" + key


@test
def every_agent_agrees_on_the_leader_and_peers():
    leader = C.leader()
    assert leader is not None
    for a in C.agents():
        eq(f"127.0.0.1:{leader.server_port}", a.get("/v1/status/leader").json(), a.args[3])
    peers = sorted(C.servers[0].get("/v1/status/peers").json())
    eq(sorted(f"127.0.0.1:{s.server_port}" for s in C.servers), peers)


@test
def writes_through_any_agent_are_read_everywhere():
    for i, a in enumerate(C.agents()):
        eq(True, a.put(kv(f"w/{i}"), f"v{i}").json())
    n = len(C.agents())
    for a in C.agents():
        keys = a.get(kv("w/?keys")).json()
        eq([f"w/{i}" for i in range(n)], keys)


@test
def consistency_modes_and_headers():
    C.servers[0].put(kv("mode"), "m")
    for s in C.followers():
        # stale reads are served by the follower itself: it may lag a moment
        r = wait_until(lambda: (lambda x: x if x.status == 200 else None)(s.get(kv("mode?stale"))),
                       what="the follower to apply the write")
        assert int(r.header("X-Consul-Lastcontact")) >= 0
        eq("true", r.header("X-Consul-Knownleader"))
        eq(b"m", s.get(kv("mode?consistent&raw")).body)
        eq(b"m", s.get(kv("mode?raw")).body)
    eq(b"m", C.clients[0].get(kv("mode?stale&raw")).body)


@test
def blocking_query_through_a_client_is_woken_by_a_write_elsewhere():
    client = C.clients[0]
    client.put(kv("bq"), "1")
    idx = int(client.get(kv("bq")).header("X-Consul-Index"))
    import threading
    threading.Timer(0.3, lambda: C.servers[1].put(kv("bq"), "2")).start()
    start = time.time()
    r = client.get(kv(f"bq?index={idx}&wait=10s"))
    assert time.time() - start < 5
    eq(b"2", base64.b64decode(r.json()[0]["Value"]))


@test
def cas_races_across_agents_lose_nothing():
    import threading
    C.servers[0].put(kv("ctr"), "0")
    wins = []

    def worker(agent, n):
        done = 0
        while done < n:
            e = agent.get(kv("ctr")).json()[0]
            v = int(base64.b64decode(e["Value"]))
            if agent.put(kv(f"ctr?cas={e['ModifyIndex']}"), str(v + 1)).json():
                done += 1
        wins.append(done)

    ts = [threading.Thread(target=worker, args=(a, 10)) for a in C.agents()]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    eq(10 * len(C.agents()), sum(wins))
    eq(str(sum(wins)).encode(), C.servers[2].get(kv("ctr?raw")).body)


@test
def leader_kill_9_fails_over_and_writes_continue():
    old = C.leader()
    old.kill()
    start = time.time()
    survivor = [s for s in C.servers if s is not old][0]
    wait_until(lambda: survivor.put(kv("after-failover"), "x").json() is True, timeout=15,
               what="a write after failover")
    took = time.time() - start
    new = C.leader()
    assert new is not None and new is not old
    print(f"    failover: {took * 1000:.0f} ms to the first accepted write")
    # the old leader comes back and catches up
    old.start()
    wait_until(lambda: old.get(kv("after-failover?stale&raw")).body == b"x", timeout=15,
               what="the restarted server to catch up")


@test
def restarting_every_server_loses_nothing_acknowledged():
    for i in range(50):
        r = C.servers[i % 3].put(kv(f"durable/{i}"), str(i))
        eq((200, True), (r.status, r.json() if r.status == 200 else r.body), f"write {i}")
    for s in C.servers:
        s.kill()
    for s in C.servers:
        s.start()
    wait_until(lambda: C.leader() is not None, timeout=20, what="a leader after full restart")
    keys = wait_until(lambda: C.servers[0].get(kv("durable/?keys")).json(), what="keys back")
    eq(50, len(keys))
    # the member snapshot rejoins the clients at once, not after a 30 s push-pull
    def alive():
        return sorted(m["Name"] for m in C.servers[0].get("/v1/agent/members").json()
                      if m["Status"] == 1)
    wait_until(lambda: alive() == ["c1", "c2", "s1", "s2", "s3"], timeout=8,
               what="every member alive in a restarted server's view")


@test
def gossip_members_are_reconciled_into_the_catalog():
    names = sorted(a.args[a.args.index("-node") + 1] for a in C.agents())
    def catalog_nodes():
        return sorted(n["Node"] for n in C.servers[0].get("/v1/catalog/nodes").json())
    wait_until(lambda: catalog_nodes() == names, timeout=15, what="every member in the catalog")
    checks = C.servers[0].get("/v1/health/state/any").json()
    serf = {c["Node"]: c for c in checks if c["CheckID"] == "serfHealth"}
    for n in names:
        eq("passing", serf[n]["Status"], n)
        eq("Agent alive and reachable", serf[n]["Output"])
    consul = sorted(e["Node"] for e in C.servers[0].get("/v1/catalog/service/consul").json())
    eq(sorted(n for n in names if n.startswith("s")), consul)


def dns_answers(agent, name):
    """(SRV (target, port) pairs, A addresses) the agent's DNS answers for name."""
    out = []
    for rdtype in ("SRV", "A"):
        q = dns.message.make_query(name, rdtype)
        r = dns.query.udp(q, "127.0.0.1", port=agent.dns_port, timeout=5)
        out.append(sorted((str(x.target), x.port) if rdtype == "SRV" else x.address
                          for rrset in r.answer for x in rrset))
    return tuple(out)


@test
def a_killed_client_goes_critical_and_its_services_leave_passing_and_dns():
    c1, c2 = C.clients
    eq(200, c2.put("/v1/agent/service/register", {"Name": "web2", "Port": 80}).status)
    # a second instance on c1, at an address of its own: DNS goes on answering
    # for it, so what leaves the answers is c2 and nothing else
    eq(200, c1.put("/v1/agent/service/register", {"ID": "web2-c1", "Name": "web2", "Port": 81,
                                                 "Address": "127.0.0.21"}).status)
    wait_until(lambda: len(C.servers[0].get("/v1/health/service/web2?passing").json()) == 2,
               what="web2 passing on c1 and c2")
    on_c1 = ("7f000015.addr.dc1.consul.", 81)
    both = ([on_c1, ("c2.node.dc1.consul.", 80)], ["127.0.0.1", "127.0.0.21"])
    for name, a in (("s1", C.servers[0]), ("c1", c1)):
        wait_until(lambda a=a: dns_answers(a, "web2.service.consul") == both,
                   what=f"web2 on c1 and c2 in {name}'s DNS")
    c2.kill()
    def serf_status():
        for ch in C.servers[0].get("/v1/health/node/c2").json():
            if ch["CheckID"] == "serfHealth":
                return ch["Status"]
    wait_until(lambda: serf_status() == "critical", timeout=20, what="serfHealth critical")
    eq(["c1"], [e["Node"]["Node"] for e in
                C.servers[0].get("/v1/health/service/web2?passing").json()])
    # a server answers from its own (stale) state, a client through a server
    for name, a in (("s1", C.servers[0]), ("c1", c1)):
        wait_until(lambda a=a: dns_answers(a, "web2.service.consul") == ([on_c1], ["127.0.0.21"]),
                   timeout=5, what=f"c2 to leave web2's SRV and A answers in {name}'s DNS")
    # still registered (failed, not left)
    eq(2, len(C.servers[0].get("/v1/catalog/service/web2").json()))
    c2.start()
    wait_until(lambda: serf_status() == "passing", timeout=20, what="serfHealth passing again")
    eq(200, c1.put("/v1/agent/service/deregister/web2-c1").status)


@test
def a_client_agents_full_sync_repairs_the_catalog_through_the_servers():
    c1 = C.clients[0]
    s = C.servers[0]
    eq(200, c1.put("/v1/agent/service/register", {"ID": "ae-web", "Name": "ae-web", "Port": 81}).status)
    def ids():
        return sorted(s.get("/v1/catalog/node/c1").json()["Services"])
    wait_until(lambda: "ae-web" in ids(), what="the client's service in the catalog")
    # removed behind the agent's back: the agent puts it back
    eq(True, s.put("/v1/catalog/deregister", {"Node": "c1", "ServiceID": "ae-web"}).json())
    eq(False, "ae-web" in ids())
    wait_until(lambda: "ae-web" in ids(), timeout=15, what="the full sync to re-register ae-web")
    # added behind its back: the agent takes it out
    eq(True, s.put("/v1/catalog/register", {"Node": "c1", "Address": "127.0.0.1",
                                            "Service": {"ID": "ghost", "Service": "ghost"}}).json())
    wait_until(lambda: "ghost" not in ids(), timeout=15, what="the full sync to remove ghost")
    eq(True, "ae-web" in ids())
    eq(200, c1.put("/v1/agent/service/deregister/ae-web").status)


@test
def a_client_retries_reads_on_the_next_server_when_one_dies():
    C.servers[0].put(kv("retry"), "r")
    wait_until(lambda: all(s.get(kv("retry?stale")).status == 200 for s in C.servers),
               what="every server to have the key")
    victims = C.servers[:2]
    for s in victims:
        s.kill()
    try:
        # gossip still shows them alive: reads sent there must move on
        for i in range(10):
            r = C.clients[0].get(kv("retry?stale&raw"))
            eq(200, r.status, f"read {i}: {r.body!r}")
            eq(b"r", r.body)
        assert "retrying the request on server" in C.clients[0].output(), \
            "no read needed a retry: nothing was tested"
    finally:
        for s in victims:
            s.start()
    wait_until(lambda: C.leader() is not None, timeout=20, what="a leader again")


if __name__ == "__main__":
    try:
        main()
    finally:
        C.cleanup()
