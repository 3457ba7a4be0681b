#!/usr/bin/python3
"""User events (issue 5): /v1/event/fire and /v1/event/list through the
gossip layer, receive filters, the 512-byte limit, blocking list with the
XOR-UUID index, `cairn event`, python3-consul's event calls."""
import base64
import json
import threading
import time

import consul

from cairn_test import Agent, eq, main, test, wait_until

A = None


def agent():
    global A
    if A is None:
        A = Agent()
        A.start()
    return A


def fire(name, payload="", query=""):
    return agent().put(f"/v1/event/fire/{name}{query}", payload)


def names():
    return [e["Name"] for e in agent().get("/v1/event/list").json()]


def xor_index(uuid):
    h = uuid.replace("-", "")
    return int(h[:16], 16) ^ int(h[16:], 16)


@test
def fire_and_list():
    r = fire("deploy", "v1.2")
    eq(200, r.status, r.text)
    e = r.json()
    eq(["ID", "Name", "Payload", "NodeFilter", "ServiceFilter", "TagFilter", "Version", "LTime"],
       list(e.keys()))
    eq("deploy", e["Name"])
    eq(base64.b64encode(b"v1.2").decode(), e["Payload"])
    eq(1, e["Version"])
    eq(0, e["LTime"])
    wait_until(lambda: "deploy" in names(), what="event delivered")
    r = agent().get("/v1/event/list")
    got = [x for x in r.json() if x["ID"] == e["ID"]]
    eq(1, len(got))
    assert got[0]["LTime"] >= 1
    eq(str(xor_index(r.json()[-1]["ID"])), r.header("X-Consul-Index"))
    eq(None, fire("empty").json()["Payload"])
    wait_until(lambda: "empty" in names(), what="second event")
    r = agent().get("/v1/event/list?name=deploy")
    eq(["deploy"], [x["Name"] for x in r.json()])


@test
def filters_on_receive():
    node = agent().get("/v1/agent/self").json()["Config"]["NodeName"]
    svc = {"Name": "web", "ID": "web1", "Tags": ["v2", "blue"], "Port": 80}
    eq(200, agent().put("/v1/agent/service/register", json.dumps(svc)).status)
    fire("nomatch-node", query="?node=^no-such-node$")
    fire("nomatch-svc", query="?service=^api$")
    fire("nomatch-tag", query="?service=web&tag=^green$")
    fire("match-all", query=f"?node=^{node}$&service=^web$&tag=^blue$")
    wait_until(lambda: "match-all" in names(), what="matching event")
    time.sleep(0.2)
    got = names()
    for n in ("nomatch-node", "nomatch-svc", "nomatch-tag"):
        assert n not in got, (n, got)


@test
def fire_errors():
    r = fire("x", query="?tag=a")
    eq(500, r.status)
    eq("Cannot provide tag filter without service filter", r.text.strip())
    r = fire("x", query="?node=((")
    eq(500, r.status)
    assert r.text.startswith("Invalid node filter"), r.text
    r = fire("big", "a" * 600)
    eq(500, r.status)
    assert "exceeds" in r.text and "limit of 512 bytes" in r.text, r.text
    eq(405, agent().get("/v1/event/fire/x").status)
    eq(400, agent().put("/v1/event/fire/").status)


@test
def blocking_list_wakes_on_event():
    idx = agent().get("/v1/event/list").header("X-Consul-Index")
    out = {}

    def block():
        t = time.time()
        r = agent().get(f"/v1/event/list?index={idx}&wait=10s")
        out.update(t=time.time() - t, idx=r.header("X-Consul-Index"), last=r.json()[-1]["Name"])
    th = threading.Thread(target=block)
    th.start()
    time.sleep(0.3)
    fire("wake-up")
    th.join()
    assert out["t"] < 5, out
    eq("wake-up", out["last"])
    assert out["idx"] != idx
    t = time.time()
    r = agent().get(f"/v1/event/list?index={out['idx']}&wait=300ms")
    assert time.time() - t >= 0.25
    eq(out["idx"], r.header("X-Consul-Index"))
    # no matching events: index 1, never 0
    eq("1", agent().get("/v1/event/list?name=never-fired").header("X-Consul-Index"))


@test
def ring_keeps_the_last_256():
    for i in range(270):
        eq(200, fire(f"ring-{i}").status)
    wait_until(lambda: names()[-1] == "ring-269", what="ring filled")
    got = names()
    eq(256, len(got))
    eq("ring-269", got[-1])


@test
def cli_event():
    out = agent().cli("event", "-name=from-cli", "-node=.*", "hello")
    eq(0, out.returncode, out.stderr)
    text = out.stdout.decode()
    assert text.startswith("Event ID: "), text
    eid = text.split()[-1]
    wait_until(lambda: any(e["ID"] == eid for e in agent().get("/v1/event/list").json()),
               what="cli event delivered")
    out = agent().cli("event", "-tag=x", "-name=n")
    eq(1, out.returncode)
    out = agent().cli("event")
    eq(1, out.returncode)


@test
def python_consul_event_calls():
    c = consul.Consul(port=agent().http_port)
    ok = c.event.fire("py-event", body="py-payload")
    assert ok, ok
    wait_until(lambda: any(e["Name"] == "py-event" for e in c.event.list()[1]), what="py event")
    index, events = c.event.list(name="py-event")
    eq(b"py-payload", events[-1]["Payload"])
    out = {}

    def block():
        out["r"] = c.event.list(name="py-event", index=index)
    th = threading.Thread(target=block)
    th.start()
    time.sleep(0.2)
    c.event.fire("py-event", body="second")
    th.join(10)
    eq(b"second", out["r"][1][-1]["Payload"])


if __name__ == "__main__":
    try:
        main()
    finally:
        if A is not None:
            A.cleanup()
