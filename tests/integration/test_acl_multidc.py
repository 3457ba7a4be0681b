#!/usr/bin/python3
"""ACLs across two datacenters (Consul's ACL replication): dc1 is the
primary, dc2 replicates policies and tokens from it with a replication
token. One server (CAIRN_ACL_MDC_SERVERS=3 for three) and one client agent
each, in network namespaces joined by a WAN link with 10 ms of delay each
way; default-deny ACLs everywhere.

The tests run in order and build on each other: bootstrap in dc1, then
tokens and policies made in one datacenter are checked in the other."""
import json
import os
import sys
import tempfile

from cairn_test import eq, main, netns_available, test, wait_until

if not netns_available():
    print("1..0 # SKIP needs root with network namespaces and iptables")
    print("0 passed, 0 failed")
    sys.exit(0)

from netns_wan import MultiDC  # noqa: E402

RECOVERY = "7a8b0c1d-0000-4000-8000-00000000000a"  # agent endpoints, no servers needed
REPL = "7a8b0c1d-0000-4000-8000-00000000000b"      # the replication token's secret

CONF = tempfile.mkdtemp(prefix="cairn-aclmdc-")


def conf_file(name, body):
    path = os.path.join(CONF, name)
    with open(path, "w") as f:
        json.dump(body, f)
    return path


common = conf_file("acl.json", {
    "primary_datacenter": "dc1",
    "acl": {"enabled": True, "default_policy": "deny",
            "tokens": {"agent_recovery": RECOVERY, "replication": REPL}}})
dc2_only = conf_file("dc2.json", {"acl": {"enable_token_replication": True}})

SERVERS = int(os.environ.get("CAIRN_ACL_MDC_SERVERS", "1"))
M = MultiDC(servers=SERVERS, clients=1, delay_ms=10, extra=["-config-file", common],
            dc_extra={"dc2": ["-config-file", dc2_only]}, token=RECOVERY).start()
c1, c2 = M.client("dc1"), M.client("dc2")
s2 = M.servers("dc2")[0]


def set_replication_token(secret):
    for s in M.servers("dc2"):
        r = s.put("/v1/agent/token/replication", {"Token": secret}, headers=mgmt())
        eq(200, r.status, r.text)
S = {}  # what earlier tests made: tokens, policy IDs


def h(token):
    return {"X-Consul-Token": token}


def mgmt():
    return h(S["mgmt"])


def create_policy(agent, name, rules):
    r = agent.put("/v1/acl/policy", {"Name": name, "Rules": rules}, headers=mgmt())
    eq(200, r.status, r.text)
    return r.json()["ID"]


def create_token(agent, body):
    r = agent.put("/v1/acl/token", body, headers=mgmt())
    eq(200, r.status, r.text)
    return r.json()


def kv_status(agent, key, token):
    return agent.get(f"/v1/kv/{key}", headers=h(token)).status


@test
def bootstrap_happens_in_the_primary_only():
    r = c2.put("/v1/acl/bootstrap")
    eq(500, r.status, "bootstrap in dc2")
    eq("ACL support disabled", r.text.strip())
    r = wait_until(lambda: (lambda x: x if x.status == 200 else None)(c1.put("/v1/acl/bootstrap")),
                   timeout=20, what="bootstrap in dc1")
    S["mgmt"] = r.json()["SecretID"]
    # the replication token: a policy with acl write, under the configured secret
    pid = create_policy(c1, "replication", 'acl = "write"\noperator = "read"')
    create_token(c1, {"SecretID": REPL, "Description": "replication",
                      "Policies": [{"ID": pid}]})


@test
def the_bootstrap_token_replicates_and_works_in_dc2():
    # dc2's servers resolve tokens from their replicated tables only
    wait_until(lambda: c2.get("/v1/acl/token/self", headers=mgmt()).status == 200, timeout=90,
               what="the management token in dc2")
    eq(200, c2.put("/v1/kv/app/x", "in-dc2", headers=mgmt()).status)
    eq(200, c2.put("/v1/kv/other", "secret", headers=mgmt()).status)


@test
def a_token_made_in_dc1_works_in_dc2_by_its_policy():
    pid = create_policy(c1, "app-read", 'key_prefix "app/" { policy = "read" }')
    t = create_token(c1, {"Description": "app reader", "Policies": [{"ID": pid}]})
    S["app"], S["app_acc"], S["app_pol"] = t["SecretID"], t["AccessorID"], pid
    wait_until(lambda: kv_status(c2, "app/x", t["SecretID"]) == 200, timeout=30,
               what="the app token allowed in dc2")
    eq(403, kv_status(c2, "other", t["SecretID"]), "outside its policy")
    eq(403, c2.put("/v1/kv/app/x", "no", headers=h(t["SecretID"])).status, "read only")
    # what dc2 holds is dc1's token: same accessor, secret, hash, policy link
    r1 = c1.get(f"/v1/acl/token/{t['AccessorID']}", headers=mgmt()).json()
    r2 = c2.get(f"/v1/acl/token/{t['AccessorID']}", headers=mgmt()).json()
    for k in ("AccessorID", "SecretID", "Description", "Hash", "Local", "Policies"):
        eq(r1[k], r2[k], k)


@test
def a_policy_written_through_dc2_lands_in_dc1_and_replicates_back():
    pid = create_policy(c2, "made-in-dc2", 'key "other" { policy = "read" }')
    eq(200, c1.get(f"/v1/acl/policy/{pid}", headers=mgmt()).status, "in dc1 at once")
    r = wait_until(lambda: (lambda x: x if x.status == 200 else None)(
        s2.get(f"/v1/acl/policy/{pid}?stale", headers=mgmt())), timeout=30,
        what="the policy replicated into dc2")
    eq("made-in-dc2", r.json()["Name"])
    # an update through dc2 goes the same way
    r = c2.put(f"/v1/acl/policy/{pid}", {"Name": "made-in-dc2", "Description": "v2",
                                         "Rules": 'key "other" { policy = "read" }'},
               headers=mgmt())
    eq(200, r.status, r.text)
    eq("v2", c1.get(f"/v1/acl/policy/{pid}", headers=mgmt()).json()["Description"])
    wait_until(lambda: s2.get(f"/v1/acl/policy/{pid}?stale", headers=mgmt()).json()
               ["Description"] == "v2", timeout=30, what="the update in dc2")
    # and a global token made through dc2 is a dc1 token
    t = create_token(c2, {"Description": "global via dc2", "Policies": [{"ID": pid}]})
    eq(False, t["Local"])
    eq(200, c1.get(f"/v1/acl/token/{t['AccessorID']}", headers=mgmt()).status)
    wait_until(lambda: kv_status(c2, "other", t["SecretID"]) == 200, timeout=30,
               what="the token made through dc2 working there")
    S["global_via_dc2"] = t["AccessorID"]
    # cloning a global token through dc2 clones it in dc1
    r = c2.put(f"/v1/acl/token/{t['AccessorID']}/clone", {"Description": "clone"},
               headers=mgmt())
    eq(200, r.status, r.text)
    eq(200, c1.get(f"/v1/acl/token/{r.json()['AccessorID']}", headers=mgmt()).status)


@test
def a_local_token_made_in_dc2_stays_in_dc2():
    t = create_token(c2, {"Description": "dc2 only", "Local": True,
                          "Policies": [{"ID": S["app_pol"]}]})
    eq(True, t["Local"])
    eq(200, kv_status(c2, "app/x", t["SecretID"]))
    eq(200, c2.get(f"/v1/acl/token/{t['AccessorID']}", headers=mgmt()).status)
    assert c1.get(f"/v1/acl/token/{t['AccessorID']}", headers=mgmt()).status != 200
    eq(403, kv_status(c1, "app/x", t["SecretID"]), "unknown in dc1")
    listed = [x["AccessorID"] for x in c2.get("/v1/acl/tokens", headers=mgmt()).json()]
    assert t["AccessorID"] in listed and S["app_acc"] in listed, listed
    # it survives rounds of replication (a policy change in dc1 makes one)
    before = c2.get("/v1/acl/replication").json()["ReplicatedIndex"]
    create_policy(c1, "nudge", 'key "n" { policy = "read" }')
    wait_until(lambda: c2.get("/v1/acl/replication").json()["ReplicatedIndex"] > before,
               timeout=30, what="another replication round")
    eq(200, kv_status(c2, "app/x", t["SecretID"]))
    # a clone of a local token is another local token of dc2
    r = c2.put(f"/v1/acl/token/{t['AccessorID']}/clone", {}, headers=mgmt())
    eq(200, r.status, r.text)
    eq(True, r.json()["Local"])
    assert c1.get(f"/v1/acl/token/{r.json()['AccessorID']}", headers=mgmt()).status != 200
    # updates and deletes of a local token are dc2's own business
    r = c2.put(f"/v1/acl/token/{t['AccessorID']}",
               {"Description": "dc2 only v2", "Local": True, "Policies": [{"ID": S["app_pol"]}]},
               headers=mgmt())
    eq(200, r.status, r.text)
    eq(True, c2.delete(f"/v1/acl/token/{t['AccessorID']}", headers=mgmt()).json())
    eq(403, kv_status(c2, "app/x", t["SecretID"]), "deleted")


@test
def legacy_acls_are_made_in_the_primary():
    r = c2.put("/v1/acl/create", {"Name": "legacy", "Type": "client",
                                  "Rules": 'key "app/" { policy = "read" }'}, headers=mgmt())
    eq(200, r.status, r.text)
    secret = r.json()["ID"]
    eq(1, len(c1.get(f"/v1/acl/info/{secret}", headers=mgmt()).json()), "in dc1")
    wait_until(lambda: kv_status(c2, "app/x", secret) == 200, timeout=30,
               what="the legacy token working in dc2")


@test
def deleting_in_dc1_removes_it_in_dc2():
    # deleted through dc2: a global token is deleted in the primary
    eq(True, c2.delete(f"/v1/acl/token/{S['global_via_dc2']}", headers=mgmt()).json())
    assert c1.get(f"/v1/acl/token/{S['global_via_dc2']}", headers=mgmt()).status != 200
    # deleted in dc1
    eq(True, c1.delete(f"/v1/acl/token/{S['app_acc']}", headers=mgmt()).json())
    wait_until(lambda: kv_status(c2, "app/x", S["app"]) == 403, timeout=30,
               what="the app token gone from dc2")
    eq("ACL not found", c2.get("/v1/kv/app/x", headers=h(S["app"])).text.strip())
    eq(True, c1.delete(f"/v1/acl/policy/{S['app_pol']}", headers=mgmt()).json())
    wait_until(lambda: s2.get(f"/v1/acl/policy/{S['app_pol']}?stale", headers=mgmt()).status
               == 404, timeout=30, what="the policy gone from dc2")


@test
def replication_status_in_each_datacenter():
    for a in (c2, s2):
        st = a.get("/v1/acl/replication").json()
        eq(True, st["Enabled"], a.name)
        eq(True, st["Running"], a.name)
        eq("dc1", st["SourceDatacenter"])
        eq("tokens", st["ReplicationType"])
        assert st["ReplicatedIndex"] > 0 and st["ReplicatedTokenIndex"] > 0, st
        assert st["ReplicatedRoleIndex"] > 0, st
        assert st["LastSuccess"] != "0001-01-01T00:00:00Z" and st["LastSuccess"].endswith("Z"), st
        assert set(st) == {"Enabled", "Running", "SourceDatacenter", "ReplicationType",
                           "ReplicatedIndex", "ReplicatedRoleIndex", "ReplicatedTokenIndex",
                           "LastSuccess", "LastError"}, st
    st = c1.get("/v1/acl/replication", headers=h("bogus-token-needs-no-check")).json()
    eq(False, st["Enabled"])
    eq("", st["ReplicationType"])
    eq("0001-01-01T00:00:00Z", st["LastSuccess"])


@test
def without_a_replication_token_dc2_has_no_local_tokens():
    set_replication_token("")
    try:
        r = c2.put("/v1/acl/token", {"Description": "x", "Local": True}, headers=mgmt())
        eq(500, r.status)
        eq("Local tokens are disabled", r.text.strip())
        # token reads go to the primary, which knows nothing of dc2's local tokens
        listed = c2.get("/v1/acl/tokens", headers=mgmt()).json()
        assert all(not t["Local"] for t in listed), listed
    finally:
        set_replication_token(REPL)


@test
def a_bad_replication_token_is_an_error_until_it_is_fixed():
    set_replication_token("00000000-0000-4000-8000-0000000000ff")
    try:
        # a change in dc1 ends the round parked with the old token
        create_policy(c1, "nudge-bad", 'key "n" { policy = "read" }')
        st = wait_until(lambda: (lambda x: x if x["LastError"] != "0001-01-01T00:00:00Z" else None)(
            c2.get("/v1/acl/replication").json()), timeout=40, what="a replication error")
        eq(True, st["Running"])
    finally:
        set_replication_token(REPL)
    pid = create_policy(c1, "after-fix", 'key "n" { policy = "read" }')
    wait_until(lambda: s2.get(f"/v1/acl/policy/{pid}?stale", headers=mgmt()).status == 200,
               timeout=30, what="replication working again")


def a_new_dc2_leader_takes_over_replication():
    old = M.leader("dc2")
    old.kill()
    try:
        wait_until(lambda: M.leader("dc2") not in (None, old), timeout=30, what="a new dc2 leader")
        pid = create_policy(c1, "kv-n", 'key "n" { policy = "read" }')
        t = create_token(c1, {"Description": "after failover", "Policies": [{"ID": pid}]})
        wait_until(lambda: kv_status(c2, "n", t["SecretID"]) in (200, 404), timeout=30,
                   what="the new token working in dc2")
        st = c2.get("/v1/acl/replication").json()
        eq(True, st["Running"])
        assert st["ReplicatedTokenIndex"] > 0, st
    finally:
        old.start()


if SERVERS >= 3:  # leadership moves only where there is another server
    test(a_new_dc2_leader_takes_over_replication)


if __name__ == "__main__":
    try:
        main()
    finally:
        M.cleanup()
        import shutil
        shutil.rmtree(CONF, ignore_errors=True)
