#!/usr/bin/python3
"""Sessions (issue 5): /v1/session/* shapes and validation, invalidation by
checks, node deregistration and TTL expiry, lock-delay, blocking queries.

One dev agent serves the whole file. The slow TTL expiry (10 s TTL, 2x
grace) runs in a background thread started by the first test and is
checked by the last, so it overlaps the others."""
import json
import threading
import time

from cairn_test import Agent, eq, main, test, wait_until

A = None
TTL = {}


def agent():
    global A
    if A is None:
        A = Agent()
        A.start()
        ready(A)
    return A


def ready(a):
    """The agent's node is in the catalog with serfHealth (sessions need it)."""
    node = a.get("/v1/agent/self").json()["Config"]["NodeName"]
    wait_until(lambda: any(c["CheckID"] == "serfHealth"
                           for c in a.get(f"/v1/health/node/{node}").json()),
               what="node registered")


def create(body=None, **kw):
    r = agent().put("/v1/session/create", json.dumps(body) if body is not None else None, **kw)
    eq(200, r.status, r.text)
    return r.json()["ID"]


def info(sid):
    r = agent().get(f"/v1/session/info/{sid}")
    eq(200, r.status)
    return r.json()


def kv(key):
    r = agent().get(f"/v1/kv/{key}")
    return r.json()[0] if r.status == 200 else None


def acquire(key, sid, value="v"):
    r = agent().put(f"/v1/kv/{key}?acquire={sid}", value)
    eq(200, r.status, r.text)
    return r.json()


@test
def ttl_expiry_starts():
    """Create a 10 s TTL session holding a key and another one kept alive by
    renewals; the last test checks the outcome (invalidated within 2 x TTL)."""
    dead = create({"TTL": "10s", "LockDelay": "1s", "Name": "expires"})
    live = create({"TTL": "10s", "Name": "renewed"})
    eq(True, acquire("ttl/held", dead))
    TTL.update(dead=dead, live=live, start=time.time(), stop=False)

    def renew():
        while not TTL["stop"]:
            r = agent().put(f"/v1/session/renew/{live}")
            if r.status != 200:
                TTL["renew_error"] = r.status
            time.sleep(3)
    t = threading.Thread(target=renew, daemon=True)
    t.start()
    TTL["thread"] = t


@test
def create_defaults_and_shape():
    sid = create()
    s = info(sid)
    eq(1, len(s))
    s = s[0]
    eq(["ID", "Name", "Node", "LockDelay", "Behavior", "TTL", "NodeChecks", "ServiceChecks",
        "CreateIndex", "ModifyIndex"], list(s.keys()))
    eq(sid, s["ID"])
    eq(36, len(sid))
    node = agent().get("/v1/agent/self").json()["Config"]["NodeName"]
    eq(node, s["Node"])
    eq(15000000000, s["LockDelay"])
    eq("release", s["Behavior"])
    eq("", s["TTL"])
    eq(["serfHealth"], s["NodeChecks"])
    eq(None, s["ServiceChecks"])
    eq(s["CreateIndex"], s["ModifyIndex"])
    r = agent().get(f"/v1/session/info/{sid}")
    assert int(r.header("X-Consul-Index")) >= s["CreateIndex"]
    eq("true", r.header("X-Consul-KnownLeader"))
    eq([], agent().get("/v1/session/info/00000000-0000-0000-0000-000000000000").json())
    assert any(x["ID"] == sid for x in agent().get("/v1/session/list").json())
    assert any(x["ID"] == sid for x in agent().get(f"/v1/session/node/{node}").json())
    eq([], agent().get("/v1/session/node/no-such-node").json())
    eq(True, agent().put(f"/v1/session/destroy/{sid}").json())
    eq(True, agent().put(f"/v1/session/destroy/{sid}").json())  # idempotent
    eq([], info(sid))


@test
def create_body_fields():
    # python3-consul / patroni spelling: lower-case keys, fractional durations
    sid = create({"name": "S-N", "checks": [], "lockdelay": "0.001s", "behavior": "delete",
                  "ttl": "10.0s"})
    s = info(sid)[0]
    eq("S-N", s["Name"])
    eq([], s["NodeChecks"])
    eq(1000000, s["LockDelay"])
    eq("delete", s["Behavior"])
    eq("10.0s", s["TTL"])
    # LockDelay as a number: < 1000 means seconds, else nanoseconds; capped at 60 s
    eq(5000000000, info(create({"LockDelay": 5}))[0]["LockDelay"])
    eq(2500, info(create({"LockDelay": 2500}))[0]["LockDelay"])
    eq(60000000000, info(create({"LockDelay": "2m"}))[0]["LockDelay"])
    eq(0, info(create({"LockDelay": 0}))[0]["LockDelay"])
    eq("release", info(create({"Behavior": ""}))[0]["Behavior"])
    # NodeChecks replaces the default; Checks is its legacy alias
    eq([], info(create({"NodeChecks": []}))[0]["NodeChecks"])
    eq(["serfHealth"], info(create({"Checks": ["serfHealth"]}))[0]["NodeChecks"])


@test
def create_validation_errors():
    cases = [
        ({"TTL": "5s"}, "Invalid Session TTL '5000000000', must be between [10s=24h0m0s]"),
        ({"TTL": "25h"}, "Invalid Session TTL '90000000000000', must be between [10s=24h0m0s]"),
        ({"TTL": "abc"}, "Session TTL 'abc' invalid: time: invalid duration \"abc\""),
        ({"Behavior": "x"}, "Invalid Behavior setting 'x'"),
        ({"Node": "no-such-node"}, "Missing node registration"),
        ({"NodeChecks": ["nope"]}, "Missing check 'nope' registration"),
    ]
    for body, text in cases:
        r = agent().put("/v1/session/create", json.dumps(body))
        eq(500, r.status, body)
        eq(text, r.text.strip(), body)
    r = agent().put("/v1/session/create", '{"Bogus": 1}')
    eq(400, r.status)
    assert "unknown field" in r.text, r.text
    eq(400, agent().put("/v1/session/destroy/").status)


@test
def renew_and_its_404():
    sid = create({"TTL": "15s"})
    r = agent().put(f"/v1/session/renew/{sid}")
    eq(200, r.status)
    eq(sid, r.json()[0]["ID"])
    eq("15s", r.json()[0]["TTL"])
    agent().put(f"/v1/session/destroy/{sid}")
    r = agent().put(f"/v1/session/renew/{sid}")
    eq(404, r.status)
    eq(f"Session id '{sid}' not found", r.text.strip())


@test
def acquire_release_lock_index_and_flags():
    s1, s2 = create({"LockDelay": 0}), create({"LockDelay": 0})
    r = agent().put("/v1/kv/lock/a?acquire=nope", "x")
    eq(500, r.status)
    eq('invalid session "nope"', r.text.strip())
    eq(True, agent().put(f"/v1/kv/lock/a?flags=42&acquire={s1}", "x").json())
    e = kv("lock/a")
    eq(1, e["LockIndex"])
    eq(s1, e["Session"])
    eq(42, e["Flags"])
    eq(False, acquire("lock/a", s2))  # held by another
    eq(True, acquire("lock/a", s1, "again"))  # the holder may rewrite
    eq(1, kv("lock/a")["LockIndex"])
    eq(False, agent().put(f"/v1/kv/lock/a?release={s2}").json())
    eq(True, agent().put(f"/v1/kv/lock/a?release={s1}", "rel").json())
    e = kv("lock/a")
    assert "Session" not in e
    eq(1, e["LockIndex"])
    eq(True, acquire("lock/a", s2))
    eq(2, kv("lock/a")["LockIndex"])


def register_ttl_check(check_id):
    r = agent().put("/v1/agent/check/register", json.dumps({"Name": check_id, "ID": check_id,
                                                            "TTL": "1h"}))
    eq(200, r.status, r.text)
    eq(200, agent().put(f"/v1/agent/check/pass/{check_id}").status)
    node = agent().get("/v1/agent/self").json()["Config"]["NodeName"]
    wait_until(lambda: any(c["CheckID"] == check_id and c["Status"] == "passing"
                           for c in agent().get(f"/v1/health/node/{node}").json()),
               what="check in catalog")


@test
def check_critical_invalidates_release():
    register_ttl_check("guard-rel")
    r = agent().put("/v1/session/create", json.dumps({"NodeChecks": ["serfHealth", "guard-rel"],
                                                      "LockDelay": "1s"}))
    sid = r.json()["ID"]
    eq(True, acquire("guarded/rel", sid, "keep-me"))
    eq(200, agent().put("/v1/agent/check/fail/guard-rel").status)
    wait_until(lambda: info(sid) == [], what="session invalidated")
    e = kv("guarded/rel")
    assert "Session" not in e, e
    eq("keep-me", __import__("base64").b64decode(e["Value"]).decode())
    eq(1, e["LockIndex"])
    # a critical check refuses new sessions bound to it
    r = agent().put("/v1/session/create", json.dumps({"NodeChecks": ["guard-rel"]}))
    eq(500, r.status)
    eq("Check 'guard-rel' is in critical state", r.text.strip())
    # lock-delay: the released key refuses acquisition for 1 s
    other = create({"LockDelay": 0})
    eq(False, acquire("guarded/rel", other))
    wait_until(lambda: acquire("guarded/rel", other), timeout=5, what="lock-delay over")


@test
def check_critical_invalidates_delete():
    register_ttl_check("guard-del")
    sid = create({"NodeChecks": ["guard-del"], "Behavior": "delete"})
    eq(True, acquire("guarded/del", sid))
    eq(True, acquire("guarded/del2", sid))
    eq(200, agent().put("/v1/agent/check/fail/guard-del").status)
    wait_until(lambda: kv("guarded/del") is None and kv("guarded/del2") is None,
               what="keys deleted")
    eq([], info(sid))


@test
def check_deregistered_invalidates():
    register_ttl_check("guard-gone")
    sid = create({"NodeChecks": ["guard-gone"]})
    eq(200, agent().put("/v1/agent/check/deregister/guard-gone").status)
    wait_until(lambda: info(sid) == [], what="session invalidated")


@test
def node_deregistration_invalidates():
    reg = {"Node": "ext-1", "Address": "10.1.1.1",
           "Check": {"CheckID": "ext-check", "Name": "ext", "Status": "passing"}}
    eq(200, agent().put("/v1/catalog/register", json.dumps(reg)).status)
    sid = create({"Node": "ext-1", "NodeChecks": ["ext-check"], "Behavior": "delete"})
    eq(True, acquire("ext/key", sid))
    eq(200, agent().put("/v1/catalog/deregister", json.dumps({"Node": "ext-1"})).status)
    eq([], info(sid))
    eq(None, kv("ext/key"))


@test
def service_checks_bind():
    svc = {"Name": "bound-svc", "ID": "bound-svc", "Check": {"TTL": "1h", "CheckID": "bound-chk"}}
    eq(200, agent().put("/v1/agent/service/register", json.dumps(svc)).status)
    eq(200, agent().put("/v1/agent/check/pass/bound-chk").status)
    node = agent().get("/v1/agent/self").json()["Config"]["NodeName"]
    wait_until(lambda: any(c["CheckID"] == "bound-chk" and c["Status"] == "passing"
                           for c in agent().get(f"/v1/health/node/{node}").json()),
               what="service check in catalog")
    sid = create({"NodeChecks": [], "ServiceChecks": [{"ID": "bound-chk", "Namespace": ""}]})
    eq([{"ID": "bound-chk", "Namespace": ""}], info(sid)[0]["ServiceChecks"])
    eq(200, agent().put("/v1/agent/check/fail/bound-chk").status)
    wait_until(lambda: info(sid) == [], what="session invalidated")


@test
def explicit_destroy_applies_lock_delay():
    s1 = create({"LockDelay": "2s"})
    s2 = create({"LockDelay": 0})
    eq(True, acquire("delay/k", s1))
    agent().put(f"/v1/session/destroy/{s1}")
    t0 = time.time()
    eq(False, acquire("delay/k", s2))
    eq(True, agent().put("/v1/kv/delay/k", "plain writes are fine").json())
    wait_until(lambda: acquire("delay/k", s2), timeout=6, interval=0.1, what="acquire after delay")
    waited = time.time() - t0
    assert 1.5 < waited < 4, waited


@test
def blocking_session_list_wakes_on_create():
    r = agent().get("/v1/session/list")
    idx = int(r.header("X-Consul-Index"))
    out = {}

    def block():
        t = time.time()
        rr = agent().get(f"/v1/session/list?index={idx}&wait=10s")
        out.update(t=time.time() - t, idx=int(rr.header("X-Consul-Index")), n=len(rr.json()))
    th = threading.Thread(target=block)
    th.start()
    time.sleep(0.3)
    sid = create()
    th.join()
    assert out["t"] < 5, out
    assert out["idx"] > idx, out
    assert int(agent().get(f"/v1/session/info/{sid}").header("X-Consul-Index")) == out["idx"]
    # a timeout answers with the same index
    t = time.time()
    rr = agent().get(f"/v1/session/list?index={out['idx']}&wait=300ms")
    assert time.time() - t >= 0.25
    eq(out["idx"], int(rr.header("X-Consul-Index")))


@test
def ttl_expiry_outcome():
    """2 x TTL grace: the unrenewed 10 s session dies within ~20 s, not before
    10 s; its key is released; the renewed one lives."""
    dead = TTL["dead"]
    wait_until(lambda: info(dead) == [], timeout=max(1, 28 - (time.time() - TTL["start"])),
               interval=0.2, what="TTL invalidation")
    gone_after = time.time() - TTL["start"]
    TTL["stop"] = True
    assert gone_after > 10, gone_after
    e = kv("ttl/held")
    assert e is not None and "Session" not in e, e
    eq(1, len(info(TTL["live"])))
    assert "renew_error" not in TTL, TTL


if __name__ == "__main__":
    try:
        main()
    finally:
        if A is not None:
            A.cleanup()
