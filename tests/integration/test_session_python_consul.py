#!/usr/bin/python3
"""python3-consul 0.7.1 session and KV lock calls, and a patroni-style leader
election (issue 5, shared/spec/clients.md §1 and §4)."""
import json
import threading
import time
import urllib.error
import urllib.request

import consul

from cairn_test import Agent, eq, main, test, wait_until

A = None


def agent():
    global A
    if A is None:
        A = Agent()
        A.start()
        node = A.get("/v1/agent/self").json()["Config"]["NodeName"]
        wait_until(lambda: any(c["CheckID"] == "serfHealth"
                               for c in A.get(f"/v1/health/node/{node}").json()),
                   what="node registered")
    return A


def client():
    return consul.Consul(port=agent().http_port)


@test
def session_calls():
    c = client()
    node = c.agent.self()["Config"]["NodeName"]
    sid = c.session.create(name="py", ttl=10, behavior="delete", lock_delay=0)
    index, s = c.session.info(sid)
    eq("py", s["Name"])
    eq("10s", s["TTL"])
    eq("delete", s["Behavior"])
    eq(0, s["LockDelay"])
    assert int(index) > 0
    assert any(x["ID"] == sid for x in c.session.list()[1])
    assert any(x["ID"] == sid for x in c.session.node(node)[1])
    eq(sid, c.session.renew(sid)["ID"])
    eq(None, c.session.info("00000000-0000-0000-0000-000000000000")[1])
    assert c.session.destroy(sid)
    try:
        c.session.renew(sid)
        raise AssertionError("renew of a destroyed session succeeded")
    except consul.NotFound:
        pass
    empty = c.session.create()  # empty body
    eq(["serfHealth"], c.session.info(empty)[1]["NodeChecks"])


@test
def kv_acquire_release():
    c = client()
    s1, s2 = c.session.create(lock_delay=0), c.session.create(lock_delay=0)
    eq(True, c.kv.put("py/lock", "me", acquire=s1))
    eq(False, c.kv.put("py/lock", "you", acquire=s2))
    index, e = c.kv.get("py/lock")
    eq(s1, e["Session"])
    eq(b"me", e["Value"])
    eq(1, e["LockIndex"])
    eq(False, c.kv.put("py/lock", "x", release=s2))
    eq(True, c.kv.put("py/lock", "free", release=s1))
    eq(None, c.kv.get("py/lock")[1].get("Session"))
    eq(True, c.kv.put("py/lock", "you", acquire=s2))
    try:
        c.kv.put("py/lock", "x", acquire="nope")
        raise AssertionError("acquire with an unknown session succeeded")
    except consul.ConsulException as e:
        assert "invalid session" in str(e), e


class Member:
    """What patroni's consul DCS does, over python3-consul: a TTL session
    (ttl/2 as a fractional string, behavior delete, no checks, lock-delay
    0.001s), renewed each loop (404 -> new session), a leader race with
    ?acquire, and a blocking GET on the leader key with a fractional wait."""

    def __init__(self, name, port):
        self.name, self.port = name, port
        self.c = consul.Consul(port=port)
        self.sid = None
        self.leader_since = None
        self.alive = True
        self.thread = threading.Thread(target=self.run, daemon=True)

    def create_session(self):
        body = json.dumps({"name": f"demo-{self.name}", "checks": [], "lockdelay": "0.001s",
                           "behavior": "delete", "ttl": "10.0s"})
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/v1/session/create",
                                     data=body.encode(), method="PUT")
        with urllib.request.urlopen(req) as r:
            self.sid = json.loads(r.read())["ID"]

    def run(self):
        try:
            self.loop()
        except (OSError, consul.ConsulException):
            if self.alive:
                raise

    def loop(self):
        while self.alive:
            try:
                if self.sid:
                    self.c.session.renew(self.sid)
            except consul.NotFound:
                self.sid = None
            if not self.sid:
                self.create_session()
            if self.c.kv.put("service/demo/leader", self.name, acquire=self.sid):
                if self.leader_since is None:
                    self.leader_since = time.time()
            index, e = self.c.kv.get("service/demo/leader")
            if not self.alive:
                break
            # patroni's HA loop wait: a blocking GET with a fractional wait
            url = (f"http://127.0.0.1:{self.port}/v1/kv/service/demo/leader"
                   f"?index={index}&wait=0.994s")
            try:
                with urllib.request.urlopen(url) as r:
                    r.read()
            except urllib.error.HTTPError as err:
                if err.code != 404:  # the key was deleted: race for it again
                    raise


@test
def patroni_style_failover():
    port = agent().http_port
    a = Member("a", port)
    a.thread.start()
    wait_until(lambda: a.leader_since is not None, what="a leads")
    b = Member("b", port)
    b.thread.start()
    time.sleep(1.5)
    eq(None, b.leader_since)
    eq(b"a", client().kv.get("service/demo/leader")[1]["Value"])
    a.alive = False  # kill -9: no more renewals, nothing released
    killed = time.time()
    wait_until(lambda: b.leader_since is not None, timeout=40, interval=0.2, what="b takes over")
    took = b.leader_since - killed
    assert 8 < took < 30, took  # 10 s TTL: invalidated 2 x TTL after the last renew
    eq(b"b", client().kv.get("service/demo/leader")[1]["Value"])
    b.alive = False


if __name__ == "__main__":
    try:
        main()
    finally:
        if A is not None:
            A.cleanup()
