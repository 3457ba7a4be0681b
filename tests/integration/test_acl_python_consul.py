#!/usr/bin/python3
"""python3-consul 0.7.1's ACL calls (the legacy /v1/acl/create|update|destroy|
info|clone|list API, token passed as ?token=) against a deny-by-default agent."""
import consul

from cairn_test import Agent, eq, main, test, wait_until

ROOT = "5e0b3c1d-7a2f-4e6b-8c9d-0a1b2c3d4e5f"
A = Agent(config={"acl": {"enabled": True, "default_policy": "deny",
                          "tokens": {"initial_management": ROOT}}}).start()
# The leader creates the initial management token once leadership is set up.
wait_until(lambda: A.get("/v1/acl/token/self", headers={"X-Consul-Token": ROOT}).status == 200,
           what="the initial management token")
C = consul.Consul(host="127.0.0.1", port=A.http_port, token=ROOT)
ANON = consul.Consul(host="127.0.0.1", port=A.http_port)

RULES = 'key "py/" { policy = "write" }\nkey "py/ro/" { policy = "read" }'


@test
def create_info_and_use_a_client_token():
    tid = C.acl.create(name="py-client", rules=RULES)
    assert isinstance(tid, str) and tid, tid
    info = C.acl.info(tid)
    eq(tid, info["ID"], "ID is the secret")
    eq("py-client", info["Name"], "name")
    eq("client", info["Type"], "type")
    eq(RULES, info["Rules"], "rules kept")
    assert info["CreateIndex"] > 0 and info["ModifyIndex"] >= info["CreateIndex"]
    user = consul.Consul(host="127.0.0.1", port=A.http_port, token=tid)
    # legacy segment rules are prefix rules
    eq(True, user.kv.put("py/a", "1"), "write under py/")
    eq(True, user.kv.put("py/deeper/b", "1"), "prefix semantics")
    try:
        user.kv.put("py/ro/x", "1")
        raise AssertionError("write under py/ro/ allowed")
    except consul.ACLPermissionDenied:
        pass
    try:
        user.kv.put("other", "1")
        raise AssertionError("write outside py/ allowed")
    except consul.ACLPermissionDenied:
        pass
    eq(None, C.acl.info("00000000-aaaa-bbbb-cccc-000000000000"), "unknown id: None")


@test
def update_clone_list_destroy():
    tid = C.acl.create(name="py-upd", type="client", rules='key "u/" { policy = "read" }')
    eq(tid, C.acl.update(tid, name="py-upd2", rules='key "u/" { policy = "write" }'), "update")
    info = C.acl.info(tid)
    eq("py-upd2", info["Name"], "renamed")
    user = consul.Consul(host="127.0.0.1", port=A.http_port, token=tid)
    eq(True, user.kv.put("u/x", "1"), "new rules apply")
    cid = C.acl.clone(tid)
    assert cid and cid != tid, cid
    eq("py-upd2", C.acl.info(cid)["Name"], "clone keeps name")
    ids = [x["ID"] for x in C.acl.list()]
    assert tid in ids and cid in ids and ROOT in ids, ids
    eq(True, C.acl.destroy(cid), "destroy")
    eq(None, C.acl.info(cid), "destroyed")
    eq(True, C.acl.destroy(cid), "destroy again is fine")


@test
def management_type_and_given_id():
    want = "a1b2c3d4-0000-4000-8000-00000000abcd"
    tid = C.acl.create(name="py-mgmt", type="management", acl_id=want)
    eq(want, tid, "given ID kept")
    eq("management", C.acl.info(tid)["Type"], "type")
    mgmt = consul.Consul(host="127.0.0.1", port=A.http_port, token=tid)
    eq(True, mgmt.kv.put("anything", "1"), "management writes anywhere")
    assert len(mgmt.acl.list()) >= 3


@test
def anonymous_and_bad_rules_are_refused():
    for call in (lambda: ANON.acl.list(), lambda: ANON.acl.create(name="x"),
                 lambda: ANON.kv.put("k", "v")):
        try:
            call()
            raise AssertionError("anonymous call allowed")
        except consul.ACLPermissionDenied:
            pass
    try:
        C.acl.create(name="bad", rules='key "x" { policy = "nope" }')
        raise AssertionError("bad rules accepted")
    except consul.base.BadRequest as e:
        assert "At 1:20" in str(e), str(e)


@test
def acls_disabled_is_acl_disabled():
    with Agent() as b:
        c = consul.Consul(host="127.0.0.1", port=b.http_port)
        try:
            c.acl.list()
            raise AssertionError("list worked with ACLs off")
        except consul.ACLDisabled:
            pass


if __name__ == "__main__":
    try:
        main()
    finally:
        A.cleanup()
