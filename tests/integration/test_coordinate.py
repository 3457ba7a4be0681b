#!/usr/bin/python3
"""Network coordinates end to end (issue 13): agents send their LAN
coordinate to the servers, servers batch them into Raft, /v1/coordinate
reads them back, ?near sorts by them (with _agent meaning the agent that was
asked, also when it forwards), `cairn rtt` estimates from them, blocking
queries on coordinate/nodes wake, ACLs filter them.

The cluster: 3 servers and 2 clients with short intervals
(CAIRN_TEST_COORD_SYNC_INTERVAL, CAIRN_TEST_COORD_UPDATE_PERIOD). Client c2
has disable_coordinates, so the coordinate the test writes for it stays put:
orderings that depend on it are exact, not left to loopback jitter."""
import json
import os
import re
import threading
import time

from cairn_test import Agent, Cluster, eq, main, test, wait_until

ENV = {"CAIRN_TEST_COORD_SYNC_INTERVAL": "300ms", "CAIRN_TEST_COORD_UPDATE_PERIOD": "200ms",
       "CAIRN_TEST_AE_INTERVAL": "1s"}
_cluster = None


def coord(x, height=1e-05, error=0.2):
    return {"Vec": [x, 0, 0, 0, 0, 0, 0, 0], "Error": error, "Adjustment": 0, "Height": height}


def cluster():
    """One cluster for the whole file (started on first use)."""
    global _cluster
    if _cluster is None:
        cl = Cluster(servers=3, clients=2, env=ENV)
        path = os.path.join(cl.tmp, "nocoord.json")
        with open(path, "w") as f:
            json.dump({"disable_coordinates": True}, f)
        cl.clients[1].args += ["-config-file", path]
        # servers meet in the WAN pool when told to: s2 and s3 join s1's
        for s in cl.servers[1:]:
            s.args += ["-retry-join-wan", f"127.0.0.1:{cl.servers[0].serf_wan_port}"]
        _cluster = cl.start()
        # every agent registered in the catalog (anti-entropy)
        s1 = cl.servers[0]
        wait_until(lambda: len(s1.get("/v1/catalog/nodes").json()) == 5, timeout=20,
                   what="five nodes in the catalog")
    return _cluster


def names(rows):
    return [r["Node"] if isinstance(r["Node"], str) else r["Node"]["Node"] for r in rows]


@test
def every_agent_reports_its_coordinate():
    cl = cluster()
    c1 = cl.clients[0]

    def synced():
        r = c1.get("/v1/coordinate/nodes")
        return r.status == 200 and {"s1", "s2", "s3", "c1"} <= set(names(r.json()))
    wait_until(synced, timeout=15, what="coordinates of s1-s3 and c1")
    r = c1.get("/v1/coordinate/nodes")
    eq(200, r.status)
    assert int(r.header("X-Consul-Index")) > 0, r.headers
    eq("true", r.header("X-Consul-KnownLeader"))
    rows = r.json()
    eq(names(rows), sorted(names(rows)), "ordered by node")
    assert "c2" not in names(rows), "c2 has disable_coordinates: it sends none"
    for row in rows:
        eq({"Node", "Segment", "Coord"}, set(row), "row fields")
        eq("", row["Segment"])
        eq({"Vec", "Error", "Adjustment", "Height"}, set(row["Coord"]), "coord fields")
        eq(8, len(row["Coord"]["Vec"]))
        assert 0 < row["Coord"]["Error"] <= 1.5, row
        assert row["Coord"]["Height"] >= 1e-05, row
    # gossip between the agents has moved them off the origin
    moved = [row for row in rows if any(v != 0 for v in row["Coord"]["Vec"])]
    assert moved, rows
    # one node, through a client (forwarded) and a server, name as asked
    for a in (c1, cl.servers[1]):
        r = a.get("/v1/coordinate/node/S2")
        eq(200, r.status, r.text)
        eq(["S2"], names(r.json()))
    r = c1.get("/v1/coordinate/node/nosuch")
    eq(404, r.status)
    eq(b"", r.body)
    eq(404, c1.get("/v1/coordinate/node/s1?segment=other").status, "segment filter")
    # the agent that disabled coordinates refuses the endpoints itself
    r = cl.clients[1].get("/v1/coordinate/nodes")
    eq(401, r.status)
    eq("Coordinate support disabled", r.text)


@test
def datacenters_lists_the_wan_pool():
    cl = cluster()
    def listed(a):
        r = a.get("/v1/coordinate/datacenters")
        return r.status == 200 and len(r.json()) == 1 and \
            names(r.json()[0]["Coordinates"]) == ["s1", "s2", "s3"]
    # the coordinate of a WAN peer is known once it answered a probe
    wait_until(lambda: listed(cl.clients[0]), timeout=20, what="three servers with coordinates")
    for a in (cl.clients[0], cl.servers[2]):
        r = a.get("/v1/coordinate/datacenters")
        eq(200, r.status, r.text)
        dcs = r.json()
        eq(["dc1"], [d["Datacenter"] for d in dcs])
        eq("wan", dcs[0]["AreaID"])
        eq(["s1", "s2", "s3"], names(dcs[0]["Coordinates"]), "servers, without .dc1")
        for c in dcs[0]["Coordinates"]:
            eq({"Node", "Segment", "Coord"}, set(c))
            eq("", c["Segment"])
            eq(8, len(c["Coord"]["Vec"]))
    r = cl.clients[0].cli("rtt", "-wan", "s1.dc1", "s3.dc1")
    eq(0, r.returncode, r.stderr)
    assert re.fullmatch(r"Estimated s1\.dc1 <-> s3\.dc1 rtt: \d+\.\d{3} ms "
                        r"\(using WAN coordinates\)\n", r.stdout.decode()), r.stdout


def put_coord(a, node, x):
    r = a.put("/v1/coordinate/update", {"Node": node, "Coord": coord(x)})
    eq(200, r.status, r.text)
    eq(b"", r.body)


def far_nodes(cl):
    """c2 and three catalog-only nodes far from the loopback agents (which sit
    within a millisecond of the origin): c2 at 500 ms, f1 at 510, f2 at 530,
    f3 at 560, all serving "far"."""
    s1 = cl.servers[0]
    for n in ("f1", "f2", "f3"):
        r = s1.put("/v1/catalog/register", {"Node": n, "Address": "10.9.9.9",
                                            "Service": {"Service": "far"},
                                            "Check": {"Name": "up", "Status": "passing",
                                                      "ServiceID": "far"}})
        eq(200, r.status, r.text)
    for n, x in (("f3", 0.56), ("f1", 0.51), ("f2", 0.53)):
        put_coord(s1, n, x)
    put_coord(cl.clients[0], "c2", 0.5)  # through a client: forwarded to the leader

    def placed():
        rows = s1.get("/v1/coordinate/nodes").json()
        got = {r["Node"]: r["Coord"]["Vec"][0] for r in rows}
        return got.get("c2") == 0.5 and got.get("f3") == 0.56
    wait_until(placed, timeout=10, what="the written coordinates")


@test
def near_agent_sorts_from_the_agent_asked():
    cl = cluster()
    far_nodes(cl)
    c2, s1 = cl.clients[1], cl.servers[0]
    # c2 forwards to a server; _agent must still mean c2
    r = c2.get("/v1/catalog/nodes?near=_agent")
    eq(200, r.status, r.text)
    order = names(r.json())
    eq(["c2", "f1", "f2", "f3"], order[:4], "c2 first, then by distance")
    eq({"c1", "s1", "s2", "s3"}, set(order[4:]))
    eq(order, names(c2.get("/v1/catalog/nodes?near=c2").json()), "same as naming it")
    # asked at s1, _agent is s1: the loopback agents come before the far ones
    order = names(s1.get("/v1/catalog/nodes?near=_agent").json())
    eq({"c1", "s1", "s2", "s3"}, set(order[:4]), order)
    eq(["c2", "f1", "f2", "f3"], order[4:], order)
    # no ?near: by name; a node without a coordinate: as if no ?near
    eq(sorted(order), names(s1.get("/v1/catalog/nodes").json()))
    eq(sorted(order), names(s1.get("/v1/catalog/nodes?near=nosuch").json()))
    # the other endpoints Consul sorts
    eq(["f2", "f1", "f3"], names(c2.get("/v1/catalog/service/far?near=f2").json()))
    eq(["f3", "f2", "f1"], names(c2.get("/v1/health/service/far?near=f3").json()))
    rows = c2.get("/v1/health/checks/far?near=_agent").json()
    eq(["f1", "f2", "f3"], [c["Node"] for c in rows])
    rows = c2.get("/v1/health/state/passing?near=_agent&filter=ServiceName==\"far\"").json()
    eq(["f1", "f2", "f3"], [c["Node"] for c in rows])


@test
def rtt_prints_consuls_line():
    cl = cluster()
    far_nodes(cl)
    c1 = cl.clients[0]
    r = c1.cli("rtt", "c2", "f1")
    eq(0, r.returncode, r.stderr)
    eq("Estimated c2 <-> f1 rtt: 10.020 ms (using LAN coordinates)\n", r.stdout.decode())
    r = c1.cli("rtt", "s1")  # second node: the agent's own
    eq(0, r.returncode, r.stderr)
    assert re.fullmatch(r"Estimated s1 <-> c1 rtt: \d+\.\d{3} ms \(using LAN coordinates\)\n",
                        r.stdout.decode()), r.stdout
    r = c1.cli("rtt", "nosuch", "s1")
    eq(1, r.returncode)
    eq('Could not find a coordinate for node "nosuch"\n', r.stderr.decode())
    r = c1.cli("rtt")
    eq(1, r.returncode)
    assert r.stderr.startswith(b"One or two node names must be specified\n"), r.stderr


@test
def blocking_query_on_nodes_wakes():
    cl = cluster()
    s2 = cl.servers[1]
    far_nodes(cl)
    r = s2.get("/v1/coordinate/nodes")
    idx = int(r.header("X-Consul-Index"))
    out = {}

    def block():
        t0 = time.time()
        # stale: a follower answers and parks the query itself
        out["r"] = s2.get(f"/v1/coordinate/nodes?stale&index={idx}&wait=20s", timeout=30)
        out["t"] = time.time() - t0
    th = threading.Thread(target=block)
    th.start()
    time.sleep(0.3)
    put_coord(cl.servers[0], "c2", 0.75)
    th.join(30)
    r = out["r"]
    eq(200, r.status)
    assert int(r.header("X-Consul-Index")) > idx, (idx, r.headers)
    assert out["t"] < 10, out["t"]
    # and it wakes for our write in particular, within an update period or two
    wait_until(lambda: {x["Node"]: x["Coord"]["Vec"][0] for x in
                        s2.get("/v1/coordinate/nodes?stale").json()}.get("c2") == 0.75,
               timeout=5, what="c2's new coordinate on a follower")


@test
def deregistering_a_node_drops_its_coordinate():
    cl = cluster()
    far_nodes(cl)
    s1 = cl.servers[0]
    eq(200, s1.put("/v1/catalog/deregister", {"Node": "f3"}).status)
    wait_until(lambda: "f3" not in names(s1.get("/v1/coordinate/nodes").json()), timeout=5,
               what="f3's coordinate gone")
    # an update for a node the catalog does not know is accepted and dropped
    put_coord(s1, "f3", 0.56)
    time.sleep(0.6)
    assert "f3" not in names(s1.get("/v1/coordinate/nodes").json())


@test
def update_errors_are_consuls():
    a = cluster().servers[0]
    cases = [
        ("", 400, "Request decode failed: EOF"),
        ("null", 500, "invalid coordinate"),
        ('{"Node":"s1","Bogus":1}', 400, 'Request decode failed: json: unknown field "Bogus"'),
        ('{"Node":5}', 400, "Request decode failed: json: cannot unmarshal number into Go "
                            "struct field CoordinateUpdateRequest.Node of type string"),
        ('{"Node":"s1","Coord":{"Vec":["x"]}}', 400, "Request decode failed: json: cannot "
         "unmarshal string into Go struct field Coordinate.Coord.Vec of type float64"),
        ('{"Node":"s1","Coord":{"Vec":[1,2]}}', 500, "incompatible coordinate"),
        ('{"Node":"s1"}', 500, "invalid coordinate"),
        ('{"Node":"s1","Coord":{"Vec":[0,0,0,0,0,0,0,0]},"Datacenter":"dc9"}', 500,
         "No path to datacenter"),
        ('{"Node":"%s","Coord":{"Vec":[0,0,0,0,0,0,0,0]}}' % ("n" * 5000), 400,
         "Request decode failed: Node or Segment longer than 4096 bytes"),
    ]
    for body, status, text in cases:
        r = a.request("PUT", "/v1/coordinate/update", body.encode())
        eq(status, r.status, body)
        eq(text, r.text, body)
    eq(405, a.get("/v1/coordinate/update").status)


@test
def python_consul_reads_coordinates_and_sorts_near():
    import consul  # Debian's python3-consul 0.7.1 (the suite runs /usr/bin/python3)
    cl = cluster()
    far_nodes(cl)
    c = consul.Consul(host="127.0.0.1", port=cl.clients[1].http_port)
    dcs = consul.Consul(host="127.0.0.1", port=cl.servers[0].http_port).coordinate.datacenters()
    eq(["dc1"], [d["Datacenter"] for d in dcs])
    assert "s1" in names(dcs[0]["Coordinates"]), dcs
    index, rows = consul.Consul(host="127.0.0.1", port=cl.clients[0].http_port).coordinate.nodes()
    assert int(index) > 0 and {"c2", "f1"} <= set(names(rows)), (index, rows)
    _, nodes = c.catalog.nodes(near="_agent")
    eq(["c2", "f1", "f2", "f3"], names(nodes)[:4])
    _, rows = c.health.service("far", near="f3")
    eq(["f3", "f2", "f1"], names(rows))


@test
def acl_filters_and_guards_coordinates():
    root = "5c1d3a7e-2b4f-4d6a-8e9c-0a1b2c3d4e5f"
    cfg = {"acl": {"enabled": True, "default_policy": "deny",
                   "tokens": {"initial_management": root}}}
    with Agent("-node", "solo", config=cfg, env=ENV) as a:
        hdr = {"X-Consul-Token": root}
        wait_until(lambda: a.get("/v1/acl/token/self", headers=hdr).status == 200,
                   what="the management token")
        for n in ("web-1", "db-1"):
            eq(200, a.put("/v1/catalog/register", {"Node": n, "Address": "10.0.0.1"},
                          headers=hdr).status)
            r = a.put("/v1/coordinate/update", {"Node": n, "Coord": coord(0.01)}, headers=hdr)
            eq(200, r.status, r.text)
        wait_until(lambda: {"web-1", "db-1"} <= set(
            names(a.get("/v1/coordinate/nodes", headers=hdr).json())), what="both rows")
        r = a.put("/v1/acl/policy", {"Name": "web", "Rules": 'node_prefix "web-" { policy = "write" }'},
                  headers=hdr)
        eq(200, r.status, r.text)
        r = a.put("/v1/acl/token", {"Policies": [{"Name": "web"}]}, headers=hdr)
        web = {"X-Consul-Token": r.json()["SecretID"]}
        r = a.get("/v1/coordinate/nodes", headers=web)
        eq(["web-1"], names(r.json()))
        eq("true", r.header("X-Consul-Results-Filtered-By-ACLs"))
        eq(200, a.get("/v1/coordinate/node/web-1", headers=web).status)
        r = a.get("/v1/coordinate/node/db-1", headers=web)
        eq(403, r.status)
        eq("Permission denied", r.text)
        eq([], a.get("/v1/coordinate/nodes").json(), "anonymous sees nothing")
        r = a.put("/v1/coordinate/update", {"Node": "db-1", "Coord": coord(0.02)}, headers=web)
        eq(403, r.status)
        r = a.put("/v1/coordinate/update", {"Node": "web-1", "Coord": coord(0.02)}, headers=web)
        eq(200, r.status)
        # datacenters needs no token, as in Consul
        eq(200, a.get("/v1/coordinate/datacenters").status)


if __name__ == "__main__":
    try:
        main()
    finally:
        if _cluster is not None:
            _cluster.cleanup()
