#!/usr/bin/python3
"""Sessions and events on a 3-server cluster with 2 client agents (issue 5):
a session created through one client is used through another; an event
fired on one agent reaches every agent's /v1/event/list; a new leader
re-arms the TTL timers of the sessions it inherits."""
import json
import time

from cairn_test import Cluster, eq, main, test, wait_until

CL = None


def cluster():
    global CL
    if CL is None:
        CL = Cluster(servers=3, clients=2)
        CL.start()
        # The leader's gossip reconciliation registers members in the catalog;
        # register c1 with serfHealth here so the test does not depend on it.
        reg = {"Node": "c1", "Address": "127.0.0.1",
               "Check": {"CheckID": "serfHealth", "Name": "Serf Health Status",
                         "Status": "passing"}}
        wait_until(lambda: CL.clients[1].put("/v1/catalog/register", json.dumps(reg)).status
                   == 200, what="c1 registered")
    return CL


@test
def session_through_one_client_lock_through_another():
    c1, c2 = cluster().clients
    r = c1.put("/v1/session/create", json.dumps({"LockDelay": "1s"}))
    eq(200, r.status, r.text)
    sid = r.json()["ID"]
    s = c2.get(f"/v1/session/info/{sid}").json()
    eq("c1", s[0]["Node"])  # the default node is the receiving agent's
    eq(True, c2.put(f"/v1/kv/cl/lock?acquire={sid}", "x").json())
    other = c2.put("/v1/session/create", json.dumps({"Node": "c1", "LockDelay": 0})).json()["ID"]
    eq(False, c1.put(f"/v1/kv/cl/lock?acquire={other}", "y").json())
    f = cluster().followers()[0]
    wait_until(lambda: f.get("/v1/kv/cl/lock?stale").status == 200, what="replicated")
    eq(sid, f.get("/v1/kv/cl/lock?stale").json()[0]["Session"])
    eq(200, f.put(f"/v1/session/renew/{sid}").status)  # forwarded to the leader
    eq(404, c1.put("/v1/session/renew/00000000-0000-0000-0000-000000000000").status)
    eq(True, c1.put(f"/v1/session/destroy/{sid}").json())
    eq(False, c2.put(f"/v1/kv/cl/lock?acquire={other}", "y").json())  # lock-delay
    wait_until(lambda: c2.put(f"/v1/kv/cl/lock?acquire={other}", "y").json(), timeout=5,
               what="acquired after lock-delay")


@test
def event_reaches_every_agent():
    c1, c2 = cluster().clients
    r = c2.put("/v1/event/fire/cluster-wide", "hi")
    eq(200, r.status, r.text)
    eid = r.json()["ID"]
    for a in cluster().agents():
        wait_until(lambda: any(e["ID"] == eid for e in a.get("/v1/event/list").json()),
                   what=f"event on {a.http_port}")
    r = c1.put("/v1/event/fire/only-c1?node=^c1$")
    eid = r.json()["ID"]
    wait_until(lambda: any(e["ID"] == eid for e in c1.get("/v1/event/list").json()),
               what="filtered event on c1")
    time.sleep(0.5)
    for a in cluster().servers + [c2]:
        assert not any(e["ID"] == eid for e in a.get("/v1/event/list").json())


@test
def new_leader_rearms_ttl_timers():
    c1, _ = cluster().clients
    sid = c1.put("/v1/session/create", json.dumps({"TTL": "10s"})).json()["ID"]
    old = cluster().leader()
    old.kill()
    t = time.time()
    wait_until(lambda: cluster().leader() not in (None, old), timeout=20, what="a new leader")
    wait_until(lambda: c1.get(f"/v1/session/info/{sid}").json() == [], timeout=30, interval=0.3,
               what="session expired under the new leader")
    assert time.time() - t > 8


if __name__ == "__main__":
    try:
        main()
    finally:
        if CL is not None:
            CL.cleanup()
