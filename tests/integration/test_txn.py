#!/usr/bin/python3
"""PUT /v1/txn (issue 5): KV verbs all-or-nothing at one index, Consul's 409
errors, limits (413), read-only transactions."""
import base64
import json

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


def b64(s):
    return base64.b64encode(s.encode()).decode()


def txn(ops, query=""):
    return agent().put("/v1/txn" + query, json.dumps(ops))


def kv(verb, key, **kw):
    op = {"Verb": verb, "Key": key}
    op.update(kw)
    return {"KV": op}


@test
def mixed_writes_share_one_index():
    r = txn([kv("set", "t/a", Value=b64("1"), Flags=7), kv("set", "t/b", Value=b64("2")),
             kv("get", "t/a"), kv("delete", "t/none"), kv("check-not-exists", "t/none")])
    eq(200, r.status, r.text)
    body = r.json()
    eq(None, body["Errors"])
    res = body["Results"]
    eq(3, len(res))  # delete and check-not-exists add nothing
    eq(None, res[0]["KV"]["Value"])
    eq(7, res[0]["KV"]["Flags"])
    eq(b64("1"), res[2]["KV"]["Value"])
    eq(res[0]["KV"]["ModifyIndex"], res[1]["KV"]["ModifyIndex"])
    eq(["LockIndex", "Key", "Flags", "Value", "CreateIndex", "ModifyIndex"],
       list(res[0]["KV"].keys()))


@test
def failing_check_index_leaves_nothing():
    agent().put("/v1/kv/t/guard", "x")
    before = int(agent().get("/v1/kv/t/guard").header("X-Consul-Index"))
    r = txn([kv("set", "t/new", Value=b64("n")), kv("delete", "t/guard"),
             kv("set", "t/guard2", Value=b64("g")), kv("check-index", "t/a", Index=1)])
    eq(409, r.status)
    body = r.json()
    eq(None, body["Results"])
    eq(1, len(body["Errors"]))
    eq(3, body["Errors"][0]["OpIndex"])
    assert body["Errors"][0]["What"].startswith('failed index check for key "t/a", current modify '
                                                'index '), body
    eq(404, agent().get("/v1/kv/t/new").status)
    eq(404, agent().get("/v1/kv/t/guard2").status)
    eq(200, agent().get("/v1/kv/t/guard").status)
    eq(before, int(agent().get("/v1/kv/t/guard").header("X-Consul-Index")))


@test
def cas_and_delete_cas():
    agent().put("/v1/kv/t/c", "1")
    idx = agent().get("/v1/kv/t/c").json()[0]["ModifyIndex"]
    eq(409, txn([kv("cas", "t/c", Value=b64("x"), Index=idx + 100)]).status)
    r = txn([kv("cas", "t/c", Value=b64("2"), Index=idx)])
    eq(200, r.status, r.text)
    idx2 = r.json()["Results"][0]["KV"]["ModifyIndex"]
    r = txn([kv("delete-cas", "t/c", Index=idx)])
    eq(409, r.status)
    eq('failed to delete key "t/c", index is stale', r.json()["Errors"][0]["What"])
    eq(200, txn([kv("delete-cas", "t/c", Index=idx2)]).status)
    eq(404, agent().get("/v1/kv/t/c").status)


@test
def lock_unlock_check_session():
    sid = agent().put("/v1/session/create", "{}").json()["ID"]
    r = txn([kv("lock", "t/lock", Value=b64("me"), Session=sid),
             kv("check-session", "t/lock", Session=sid)])
    eq(200, r.status, r.text)
    eq(sid, r.json()["Results"][0]["KV"]["Session"])
    eq(1, r.json()["Results"][0]["KV"]["LockIndex"])
    other = agent().put("/v1/session/create", "{}").json()["ID"]
    r = txn([kv("lock", "t/lock", Session=other)])
    eq(409, r.status)
    eq('failed to lock key "t/lock", lock is already held', r.json()["Errors"][0]["What"])
    r = txn([kv("unlock", "t/lock", Session=sid)])
    eq(200, r.status)
    assert "Session" not in r.json()["Results"][0]["KV"]
    eq(409, txn([kv("lock", "t/lock", Session="bogus")]).status)


@test
def read_only_transactions():
    agent().put("/v1/kv/ro/a", "1")
    agent().put("/v1/kv/ro/b", "2")
    r = txn([kv("get-tree", "ro/"), kv("get-or-empty", "ro/none"), kv("check-index", "ro/a",
             Index=agent().get("/v1/kv/ro/a").json()[0]["ModifyIndex"])], "?stale")
    eq(200, r.status, r.text)
    eq("true", r.header("X-Consul-KnownLeader"))
    assert r.header("X-Consul-LastContact") is not None
    res = r.json()["Results"]
    eq(["ro/a", "ro/b", "ro/none", "ro/a"], [x["KV"]["Key"] for x in res])
    eq(b64("2"), res[1]["KV"]["Value"])
    eq(None, res[2]["KV"]["Value"])
    eq(None, res[3]["KV"]["Value"])
    eq(True, r.json()["KnownLeader"])
    r = txn([kv("get", "ro/missing")])
    eq(409, r.status)
    eq('key "ro/missing" doesn\'t exist', r.json()["Errors"][0]["What"])
    eq(400, txn([], "?stale&consistent").status)


@test
def limits_and_bad_bodies():
    ops = [kv("set", f"lim/{i}", Value=b64("x")) for i in range(129)]
    r = txn(ops)
    eq(413, r.status)
    eq("Transaction contains too many operations (129 > 128)", r.text.strip())
    eq(200, txn(ops[:128]).status)
    big = base64.b64encode(b"x" * (512 * 1024)).decode()
    r = txn([kv("set", "lim/big", Value=big)])
    eq(413, r.status)  # the whole body is over txn_max_req_len first
    with Agent(config={"limits": {"kv_max_value_size": 1000}}) as small:
        r = small.put("/v1/txn", json.dumps([kv("set", "lim/big", Value=b64("x" * 1001))]))
        eq(413, r.status)
        eq('Value for key "lim/big" is too large (1001 > 1000 bytes)', r.text.strip())
    r = agent().put("/v1/txn", "not json")
    eq(400, r.status)
    assert r.text.startswith("Failed to parse body: "), r.text
    r = txn([kv("bogus", "x")])
    eq(409, r.status)
    eq('unknown KV verb "bogus"', r.json()["Errors"][0]["What"])


@test
def delete_tree_and_python_consul2_shape():
    for k in ("tree/a", "tree/b/c"):
        agent().put(f"/v1/kv/{k}", "v")
    # python-consul2's txn.put body: [{"KV": {"Verb", "Key", "Value", "Flags", "Index", "Session"}}]
    r = txn([{"KV": {"Verb": "delete-tree", "Key": "tree/", "Value": None, "Flags": None,
                     "Index": None, "Session": None}}])
    eq(200, r.status, r.text)
    eq(None, r.json()["Results"])
    eq(404, agent().get("/v1/kv/tree/?recurse").status)


if __name__ == "__main__":
    try:
        main()
    finally:
        if A is not None:
            A.cleanup()
