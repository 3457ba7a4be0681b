#!/usr/bin/python3
"""Two datacenters of 3 servers and a client each, in network namespaces,
joined by a WAN link with 20 ms of delay each way (40 ms round trip):
forwarding by ?dc, DNS across datacenters, separate state, a cut WAN link,
and failover when a remote server dies."""
import base64
import sys
import time

import dns.message
import dns.query
import dns.rdatatype

from cairn_test import eq, main, netns_available, test, wait_until

if not netns_available():
    print("1..0 # SKIP needs root with network namespaces and iptables")
    print("0 passed, 0 failed")
    sys.exit(0)

from netns_wan import MultiDC  # noqa: E402

RTT = 0.040
M = MultiDC(servers=3, clients=1, delay_ms=RTT * 1000 / 2).start()
c1, c2 = M.client("dc1"), M.client("dc2")


def timed(fn):
    t = time.monotonic()
    r = fn()
    return r, time.monotonic() - t


@test
def every_agent_lists_both_datacenters_its_own_first():
    for a in M.agents():
        other = "dc2" if a.dc == "dc1" else "dc1"
        # servers that were never told about the WAN got there by flood join
        wait_until(lambda: a.get("/v1/catalog/datacenters").json() == [a.dc, other], timeout=10,
                   what=f"{a.name} to list both datacenters")
    for s in M.servers("dc2"):
        names = sorted(m["Name"] for m in s.get("/v1/agent/members?wan=1").json()
                       if m["Status"] == 1)
        eq([f"dc{d}s{i}.dc{d}" for d in (1, 2) for i in (1, 2, 3)], names, s.name)


@test
def kv_writes_and_reads_cross_by_dc_and_stay_separate():
    eq(True, c1.put("/v1/kv/where?dc=dc2", "in-dc2").json())
    eq(b"in-dc2", c2.get("/v1/kv/where?raw").body)
    eq(404, c1.get("/v1/kv/where").status)  # dc1 has its own KV
    for mode in ("", "&consistent", "&stale"):
        r = c1.get(f"/v1/kv/where?dc=dc2{mode}")
        eq(200, r.status, mode)
        eq(b"in-dc2", base64.b64decode(r.json()[0]["Value"]), mode)
        assert r.header("X-Consul-Index"), mode
    # a cross-DC read pays the link's round trip; a local one does not
    _, remote = timed(lambda: c1.get("/v1/kv/where?dc=dc2&stale"))
    _, local = timed(lambda: c1.get("/v1/kv/nothing"))
    assert remote >= RTT, f"remote read took {remote * 1000:.1f} ms, link RTT is 40 ms"
    assert local < RTT, f"local read took {local * 1000:.1f} ms"


@test
def blocking_query_across_datacenters_is_woken():
    idx = int(c1.get("/v1/kv/bq?dc=dc2").header("X-Consul-Index"))
    import threading
    threading.Timer(0.3, lambda: c2.put("/v1/kv/bq", "v")).start()
    r, took = timed(lambda: c1.get(f"/v1/kv/bq?dc=dc2&index={idx}&wait=20s"))
    eq(200, r.status)
    assert took < 10, took


@test
def catalog_and_health_of_the_other_datacenter():
    eq(200, c2.put("/v1/agent/service/register", {"Name": "web", "Port": 8080}).status)
    rows = wait_until(lambda: c1.get("/v1/health/service/web?dc=dc2&passing").json(),
                      what="web in dc2's catalog")
    eq("dc2c1", rows[0]["Node"]["Node"])
    eq("dc2", rows[0]["Node"]["Datacenter"])
    eq([], c1.get("/v1/health/service/web").json())
    nodes = sorted(n["Node"] for n in c1.get("/v1/catalog/nodes?dc=dc2").json())
    eq(["dc2c1", "dc2s1", "dc2s2", "dc2s3"], nodes)


def ask(agent, name, rdtype="A"):
    q = dns.message.make_query(name, rdtype)
    return dns.query.udp(q, agent.ip, port=agent.dns_port, timeout=5)


@test
def dns_answers_for_the_other_datacenter():
    wait_until(lambda: c1.get("/v1/catalog/service/web?dc=dc2").json(), what="web in dc2")
    r = ask(c1, "web.service.dc2.consul.")
    addrs = [rr.address for rrset in r.answer for rr in rrset if rrset.rdtype == dns.rdatatype.A]
    eq([c2.ip], addrs)
    r = ask(c1, "dc2c1.node.dc2.consul.")
    addrs = [rr.address for rrset in r.answer for rr in rrset]
    eq([c2.ip], addrs)
    # and not in our own datacenter
    eq([], ask(c1, "web.service.consul.").answer)


@test
def events_fire_into_the_other_datacenter():
    eq(200, c1.put("/v1/event/fire/deploy?dc=dc2", "v2").status)
    def names(agent):
        return [e["Name"] for e in agent.get("/v1/event/list").json()]
    wait_until(lambda: "deploy" in names(c2), what="the event in dc2")
    assert "deploy" not in names(c1)


@test
def sessions_txn_and_the_cli_across_datacenters():
    # a session made in dc2 from dc1 lives in dc2 only
    r = c1.put("/v1/session/create?dc=dc2", {"Name": "remote", "Node": "dc2c1", "Checks": []})
    eq(200, r.status, r.body)
    sid = r.json()["ID"]
    eq([sid], [x["ID"] for x in c1.get(f"/v1/session/info/{sid}?dc=dc2").json()])
    eq([sid], [x["ID"] for x in c2.get(f"/v1/session/info/{sid}").json()])
    eq([], c1.get(f"/v1/session/info/{sid}").json() or [])
    eq(True, c1.put(f"/v1/kv/held?dc=dc2&acquire={sid}", "x").json())
    eq(sid, c2.get("/v1/kv/held").json()[0]["Session"])
    # a transaction read in dc2
    eq(True, c2.put("/v1/kv/txn-k", "txn-v").json())
    r = c1.put("/v1/txn?dc=dc2", [{"KV": {"Verb": "get", "Key": "txn-k"}}])
    eq(200, r.status, r.body)
    eq(b"txn-v", base64.b64decode(r.json()["Results"][0]["KV"]["Value"]))
    eq(409, c1.put("/v1/txn", [{"KV": {"Verb": "get", "Key": "txn-k"}}]).status)  # not in dc1
    # the CLI: -datacenter, and members -wan on a server
    r = c1.cli("kv", "get", "-datacenter=dc2", "txn-k")
    eq((0, b"txn-v\n"), (r.returncode, r.stdout), r.stderr)
    s1 = M.servers("dc1")[0]
    r = s1.cli("members", "-wan")
    eq(0, r.returncode, r.stderr)
    for d in (1, 2):
        for i in (1, 2, 3):
            assert f"dc{d}s{i}.dc{d}" in r.stdout.decode(), r.stdout


@test
def an_unknown_datacenter_is_no_path():
    r = c1.get("/v1/kv/x?dc=dc9")
    eq(500, r.status)
    eq(b"No path to datacenter", r.body.strip())


@test
def a_cut_wan_link_leaves_each_datacenter_serving_itself_then_heals():
    M.cut()
    try:
        for a in (c1, c2):
            r, took = timed(lambda: a.put("/v1/kv/local-during-cut", "ok"))
            eq(True, r.json())
            assert took < 1.0, took
        # remote requests fail (with Consul's error) instead of hanging
        r, took = timed(lambda: c1.get("/v1/kv/where?dc=dc2&stale", timeout=90))
        eq(500, r.status)
        assert r.body.startswith((b"No path to datacenter", b"rpc error")), r.body
    finally:
        M.heal()
    wait_until(lambda: c1.get("/v1/kv/where?dc=dc2&stale", timeout=30).status == 200, timeout=90,
               interval=1, what="forwarding to resume after the link heals")
    # and every server sees every other alive in the WAN pool again (the
    # next test counts on any dc1 server reaching any dc2 server)
    want = sorted(f"dc{d}s{i}.dc{d}" for d in (1, 2) for i in (1, 2, 3))
    for s in M.servers("dc1") + M.servers("dc2"):
        wait_until(lambda s=s: sorted(m["Name"] for m in s.get("/v1/agent/members?wan=1").json()
                                      if m["Status"] == 1) == want,
                   timeout=90, interval=0.5, what=f"{s.name} to see the whole WAN pool alive")


@test
def a_dead_remote_server_is_failed_over():
    eq(True, c2.put("/v1/kv/where", "in-dc2").json())
    wait_until(lambda: all(s.get("/v1/kv/where?stale").status == 200 for s in M.servers("dc2")),
               what="every dc2 server to have the key")
    victims = M.servers("dc2")[:2]
    for s in victims:
        s.kill()
    try:
        # gossip has not noticed yet: requests that reach a dead server
        # must move on to the live one. Each dc1 server tries the nearest
        # dc2 server first, which may be the live one: read until some
        # request needed a retry (before gossip marks the dead failed).
        def retried():
            return any("retrying the request for datacenter dc2" in s.output()
                       for s in M.servers("dc1"))
        for i in range(40):
            r = c1.get("/v1/kv/where?dc=dc2&stale")
            eq(200, r.status, f"read {i}: {r.body!r}")
            if i >= 9 and retried():
                break
        assert retried(), "no request needed a retry: nothing was tested"
    finally:
        for s in victims:
            s.start()
    wait_until(lambda: M.leader("dc2") is not None, timeout=30, what="dc2 leader again")


if __name__ == "__main__":
    try:
        main()
    finally:
        M.cleanup()
