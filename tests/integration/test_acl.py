#!/usr/bin/python3
"""ACLs end to end with acl { enabled = true, default_policy = "deny" }:
tokens, policies, bootstrap, enforcement on KV, list filtering, blocking
queries that outlive their token, agent tokens and their persistence."""
import json
import os
import shutil
import signal
import tempfile
import threading
import time

from cairn_test import Agent, eq, main, test, wait_until

ROOT_SECRET = "d3f1a7c2-0b4e-4c8a-9e21-5a6b7c8d9e0f"
DENY = {"acl": {"enabled": True, "default_policy": "deny",
                "tokens": {"initial_management": ROOT_SECRET}}}
ROOT = {"X-Consul-Token": ROOT_SECRET}

_shared = None


class AclAgent(Agent):
    """An agent whose initial management token is usable: the leader creates
    it once its leadership is established, a moment after it answers."""

    def start(self, timeout=10):
        super().start(timeout)
        wait_until(lambda: self.get("/v1/acl/token/self", headers=ROOT).status == 200,
                   timeout=timeout, what="the initial management token")
        return self


def agent():
    """One deny-by-default agent for the tests that do not need their own."""
    global _shared
    if _shared is None:
        _shared = AclAgent(config=DENY).start()
    return _shared


def tok(secret):
    return {"X-Consul-Token": secret}


def make_policy(a, name, rules):
    r = a.put("/v1/acl/policy", {"Name": name, "Rules": rules}, headers=ROOT)
    eq(200, r.status, f"create policy {name}: {r.text}")
    return r.json()


def make_token(a, *policies, **extra):
    body = {"Description": extra.pop("description", "test"),
            "Policies": [{"Name": p} for p in policies]}
    body.update(extra)
    r = a.put("/v1/acl/token", body, headers=ROOT)
    eq(200, r.status, f"create token: {r.text}")
    return r.json()


@test
def anonymous_is_refused_on_kv_and_agent():
    a = agent()
    eq(200, a.put("/v1/kv/seed/x", "1", headers=ROOT).status, "root write")
    r = a.get("/v1/kv/seed/x")
    eq(403, r.status, "anonymous read")
    eq("Permission denied", r.text.strip(), "body")
    eq(403, a.put("/v1/kv/seed/y", "1").status, "anonymous write")
    eq(403, a.delete("/v1/kv/seed/x").status, "anonymous delete")
    eq(403, a.delete("/v1/kv/seed/?recurse").status, "anonymous recurse delete")
    eq(403, a.get("/v1/agent/self").status, "agent self")
    # lists filter to nothing
    r = a.get("/v1/kv/?recurse")
    eq(404, r.status, "anonymous recurse read")
    eq(None, r.header("X-Consul-Results-Filtered-By-ACLs"), "no filtered header for anonymous")
    eq("deny", r.header("X-Consul-Default-ACL-Policy"), "default policy header")
    # status stays open, as in Consul
    eq(200, a.get("/v1/status/leader").status, "status leader")
    # ACL endpoints need acl:read
    eq(403, a.get("/v1/acl/tokens").status, "token list")
    eq(403, a.get("/v1/acl/policies").status, "policy list")


@test
def unknown_token_is_acl_not_found_from_every_source():
    a = agent()
    bogus = "00000000-1111-2222-3333-444444444444"
    for r in (a.get("/v1/kv/x", headers=tok(bogus)),
              a.get("/v1/kv/x?token=" + bogus),
              a.get("/v1/kv/x", headers={"Authorization": "Bearer " + bogus})):
        eq(403, r.status, "status")
        eq("ACL not found", r.text.strip(), "body")


@test
def key_prefix_write_token():
    a = agent()
    make_policy(a, "app-write", 'key_prefix "app/" { policy = "write" }')
    t = make_token(a, "app-write")
    h = tok(t["SecretID"])
    eq(200, a.put("/v1/kv/app/x", "v", headers=h).status, "write app/x")
    eq(b"v", a.get("/v1/kv/app/x?raw", headers=h).body, "read back")
    r = a.put("/v1/kv/other/x", "v", headers=h)
    eq(403, r.status, "write other/x")
    eq(403, a.get("/v1/kv/other/x", headers=h).status, "read other/x")
    # the token sent as ?token= and as Bearer works the same
    eq(200, a.put("/v1/kv/app/y?token=" + t["SecretID"], "v").status, "?token=")
    eq(200, a.put("/v1/kv/app/z", "v", headers={"Authorization": "bearer " + t["SecretID"]}).status,
       "bearer")


@test
def kv_lists_are_filtered_with_the_header():
    a = agent()
    for k in ("list/a/1", "list/a/2", "list/b/1", "list/c"):
        eq(200, a.put("/v1/kv/" + k, "x", headers=ROOT).status, "seed " + k)
    make_policy(a, "list-a", 'key_prefix "list/a/" { policy = "read" }\n'
                             'key "list/c" { policy = "read" }')
    h = tok(make_token(a, "list-a")["SecretID"])
    r = a.get("/v1/kv/list/?recurse", headers=h)
    eq(200, r.status, "recurse")
    eq(["list/a/1", "list/a/2", "list/c"], [e["Key"] for e in r.json()], "filtered recurse")
    eq("true", r.header("X-Consul-Results-Filtered-By-ACLs"), "filtered header")
    r = a.get("/v1/kv/list/?keys&separator=/", headers=h)
    eq(["list/a/", "list/c"], r.json(), "filtered keys")
    eq("true", r.header("X-Consul-Results-Filtered-By-ACLs"), "filtered header on keys")
    r = a.get("/v1/kv/list/a/?recurse", headers=h)
    eq(None, r.header("X-Consul-Results-Filtered-By-ACLs"), "nothing filtered, no header")
    # management sees everything
    eq(4, len(a.get("/v1/kv/list/?recurse", headers=ROOT).json()), "root sees all")


@test
def catalog_health_and_members_lists_are_filtered_with_the_header():
    a = agent()
    for node, svc in (("flt-web", "flt-web-svc"), ("flt-db", "flt-db-svc")):
        body = {"Node": node, "Address": "10.9.9.9",
                "Service": {"Service": svc, "Port": 80},
                "Check": {"Name": "up", "Status": "passing", "ServiceID": svc}}
        eq(200, a.put("/v1/catalog/register", body, headers=ROOT).status, "register " + node)
    # the web service also runs on the db node, which this token cannot read
    body = {"Node": "flt-db", "Address": "10.9.9.9", "Service": {"Service": "flt-web-svc",
                                                                  "ID": "web2", "Port": 81}}
    eq(200, a.put("/v1/catalog/register", body, headers=ROOT).status, "register web on db")
    make_policy(a, "flt-web", 'node "flt-web" { policy = "read" }\n'
                              'service "flt-web-svc" { policy = "read" }')
    h = tok(make_token(a, "flt-web")["SecretID"])
    header = "X-Consul-Results-Filtered-By-ACLs"
    r = a.get("/v1/catalog/nodes", headers=h)
    eq(["flt-web"], [n["Node"] for n in r.json()], "nodes")
    eq("true", r.header(header), "nodes header")
    r = a.get("/v1/catalog/services", headers=h)
    eq(["flt-web-svc"], list(r.json()), "services")
    eq("true", r.header(header), "services header")
    r = a.get("/v1/catalog/service/flt-web-svc", headers=h)
    eq(["flt-web"], [n["Node"] for n in r.json()], "service instances")
    eq("true", r.header(header), "service header")
    r = a.get("/v1/health/service/flt-web-svc", headers=h)
    eq(["flt-web"], [e["Node"]["Node"] for e in r.json()], "health service")
    eq("true", r.header(header), "health header")
    # the agent's own node is not readable: members filters it out
    r = a.get("/v1/agent/members", headers=h)
    eq(200, r.status, "members")
    eq([], r.json(), "members filtered")
    eq("true", r.header(header), "members header")
    # management sees all and gets no header
    r = a.get("/v1/health/service/flt-web-svc", headers=ROOT)
    eq(2, len(r.json()), "root sees both instances")
    eq(None, r.header(header), "no header for management")
    eq(None, a.get("/v1/agent/members", headers=ROOT).header(header), "members, management")


@test
def a_lock_held_by_a_token_that_is_then_deleted():
    a = agent()
    make_policy(a, "locker", 'session_prefix "" { policy = "write" }\n'
                             'key_prefix "lockd/" { policy = "write" }')
    t = make_token(a, "locker")
    h = tok(t["SecretID"])
    r = a.put("/v1/session/create", {"Name": "held", "TTL": "60s"}, headers=h)
    eq(200, r.status, f"session create: {r.text}")
    sid = r.json()["ID"]
    eq(True, a.put(f"/v1/kv/lockd/k?acquire={sid}", "me", headers=h).json(), "acquire")
    eq(200, a.delete(f"/v1/acl/token/{t['AccessorID']}", headers=ROOT).status, "delete token")
    # the deleted token can do nothing more, not even renew or release
    r = a.put(f"/v1/session/renew/{sid}", headers=h)
    eq((403, "ACL not found"), (r.status, r.text.strip()), "renew with the deleted token")
    r = a.put(f"/v1/kv/lockd/k?release={sid}", "x", headers=h)
    eq((403, "ACL not found"), (r.status, r.text.strip()), "release with the deleted token")
    # the session and its lock live on (as in Consul, a session does not
    # belong to its token) until an operator destroys the session
    eq(sid, a.get("/v1/kv/lockd/k", headers=ROOT).json()[0].get("Session"), "still held")
    eq(200, a.put(f"/v1/session/destroy/{sid}", headers=ROOT).status, "destroy")
    eq(None, a.get("/v1/kv/lockd/k", headers=ROOT).json()[0].get("Session"), "released")


@test
def recursive_delete_needs_write_on_the_whole_prefix():
    a = agent()
    for k in ("tree/a", "tree/keep/b"):
        a.put("/v1/kv/" + k, "x", headers=ROOT)
    make_policy(a, "tree-mostly", 'key_prefix "tree/" { policy = "write" }\n'
                                  'key_prefix "tree/keep/" { policy = "read" }')
    h = tok(make_token(a, "tree-mostly")["SecretID"])
    eq(403, a.delete("/v1/kv/tree/?recurse", headers=h).status, "deny below the prefix")
    eq(200, a.delete("/v1/kv/tree/a", headers=h).status, "single delete allowed")
    eq(200, a.get("/v1/kv/tree/keep/b", headers=ROOT).status, "kept")
    make_policy(a, "tree-all", 'key_prefix "tree/" { policy = "write" }')
    h2 = tok(make_token(a, "tree-all")["SecretID"])
    eq(200, a.delete("/v1/kv/tree/?recurse", headers=h2).status, "whole prefix writable")
    eq(404, a.get("/v1/kv/tree/keep/b", headers=ROOT).status, "gone")


@test
def token_crud_secrets_and_self():
    a = agent()
    make_policy(a, "crud-p", 'service_prefix "" { policy = "read" }')
    t = make_token(a, "crud-p", description="crud")
    acc = t["AccessorID"]
    eq("crud-p", t["Policies"][0]["Name"], "link by name resolved")
    r = a.get("/v1/acl/token/" + acc, headers=ROOT)
    eq(t["SecretID"], r.json()["SecretID"], "secret shown to acl:write")
    # acl:read only: secrets hidden
    make_policy(a, "acl-read", 'acl = "read"')
    reader = make_token(a, "acl-read")
    r = a.get("/v1/acl/token/" + acc, headers=tok(reader["SecretID"]))
    eq(200, r.status, "read with acl:read")
    eq("<hidden>", r.json()["SecretID"], "hidden")
    listed = a.get("/v1/acl/tokens", headers=tok(reader["SecretID"])).json()
    assert all(x["SecretID"] == "<hidden>" for x in listed), listed
    eq(403, a.put("/v1/acl/token", {"Description": "x"}, headers=tok(reader["SecretID"])).status,
       "acl:read cannot write")
    # self needs no permission
    r = a.get("/v1/acl/token/self", headers=tok(t["SecretID"]))
    eq(acc, r.json()["AccessorID"], "self")
    eq(t["SecretID"], r.json()["SecretID"], "self shows its secret")
    # filters
    ids = [x["AccessorID"] for x in
           a.get("/v1/acl/tokens?policy=" + t["Policies"][0]["ID"], headers=ROOT).json()]
    eq([acc], ids, "policy filter")
    # update: description, accessor mismatch, secret immutable
    r = a.put("/v1/acl/token/" + acc, {"Description": "renamed", "Policies": []}, headers=ROOT)
    eq(200, r.status, r.text)
    eq("renamed", r.json()["Description"], "updated")
    eq(t["SecretID"], r.json()["SecretID"], "secret kept")
    eq(t["CreateIndex"], r.json()["CreateIndex"], "create index kept")
    assert "Policies" not in r.json(), r.json()
    r = a.put("/v1/acl/token/" + acc, {"AccessorID": reader["AccessorID"]}, headers=ROOT)
    eq(400, r.status, "accessor mismatch")
    eq("Token Accessor ID in URL and payload do not match", r.text.strip(), "mismatch text")
    r = a.put("/v1/acl/token/" + acc, {"SecretID": "6a0f0b48-1111-2222-3333-444444444444"},
              headers=ROOT)
    eq(400, r.status, "secret change")
    # clone
    r = a.put("/v1/acl/token/" + reader["AccessorID"] + "/clone", {"Description": "copy"},
              headers=ROOT)
    eq(200, r.status, r.text)
    c = r.json()
    assert c["AccessorID"] != reader["AccessorID"] and c["SecretID"] != reader["SecretID"]
    eq("copy", c["Description"], "clone description")
    eq(reader["Policies"], c["Policies"], "clone links")
    # delete
    r = a.delete("/v1/acl/token/" + acc, headers=ROOT)
    eq(200, r.status, "delete")
    eq(True, r.json(), "delete answer")
    eq(404, a.get("/v1/acl/token/" + acc, headers=ROOT).status, "gone")
    eq(404, a.delete("/v1/acl/token/" + acc, headers=ROOT).status, "delete missing")
    eq(403, a.get("/v1/kv/x", headers=tok(t["SecretID"])).status, "deleted token unusable")
    r = a.delete("/v1/acl/token/00000000-0000-0000-0000-000000000002", headers=ROOT)
    eq(400, r.status, "anonymous cannot be deleted")


@test
def policy_crud_and_errors_with_positions():
    a = agent()
    r = a.put("/v1/acl/policy", {"Name": "bad", "Rules": 'key_prefix "a/" {\n  policy = "wrte"\n}'},
              headers=ROOT)
    eq(400, r.status, "bad rules")
    assert "At 2:12" in r.text and "wrte" in r.text, r.text
    r = a.put("/v1/acl/policy", {"Name": "bad2", "Rules": 'nosuch "x" { policy = "read" }'},
              headers=ROOT)
    eq(400, r.status, "unknown resource")
    assert "At 1:1" in r.text, r.text
    r = a.put("/v1/acl/policy", {"Name": "bad name!", "Rules": ""}, headers=ROOT)
    eq(400, r.status, "bad name")
    r = a.put("/v1/acl/policy", {"ID": "x", "Name": "n"}, headers=ROOT)
    eq("Cannot specify the ID when creating a new policy", r.text.strip(), "ID on create")
    p = make_policy(a, "crud-policy", '{"key_prefix": {"j/": {"policy": "read"}}}')
    eq(400, a.put("/v1/acl/policy", {"Name": "crud-policy"}, headers=ROOT).status,
       "duplicate name")
    r = a.get("/v1/acl/policy/name/crud-policy", headers=ROOT)
    eq(p["ID"], r.json()["ID"], "by name")
    r = a.put("/v1/acl/policy/" + p["ID"], {"Name": "crud-policy", "Description": "d",
                                            "Rules": 'key "j" { policy = "write" }',
                                            "Datacenters": ["dc1"]}, headers=ROOT)
    eq(200, r.status, r.text)
    eq(["dc1"], r.json()["Datacenters"], "datacenters")
    r = a.put("/v1/acl/policy/" + p["ID"], {"ID": "other", "Name": "x"}, headers=ROOT)
    eq("Policy ID in URL and payload do not match", r.text.strip(), "id mismatch")
    listed = a.get("/v1/acl/policies", headers=ROOT).json()
    names = [x["Name"] for x in listed]
    assert "global-management" in names and "crud-policy" in names, names
    assert all("Rules" not in x for x in listed), "stubs have no rules"
    # the built-in policy
    gm = "00000000-0000-0000-0000-000000000001"
    r = a.get("/v1/acl/policy/" + gm, headers=ROOT)
    eq("global-management", r.json()["Name"], "builtin")
    eq(400, a.delete("/v1/acl/policy/" + gm, headers=ROOT).status, "builtin not deletable")
    r = a.put("/v1/acl/policy/" + gm, {"Name": "global-management", "Rules": "acl = \"read\""},
              headers=ROOT)
    eq(400, r.status, "builtin rules immutable")
    eq(200, a.delete("/v1/acl/policy/" + p["ID"], headers=ROOT).status, "delete")
    eq(404, a.get("/v1/acl/policy/" + p["ID"], headers=ROOT).status, "gone")
    eq(404, a.delete("/v1/acl/policy/" + p["ID"], headers=ROOT).status, "delete missing")


@test
def policy_changes_apply_at_once_and_deny_wins():
    a = agent()
    p = make_policy(a, "live", 'key_prefix "live/" { policy = "read" }')
    make_policy(a, "live-deny", 'key_prefix "live/secret/" { policy = "deny" }')
    t = make_token(a, "live", "live-deny")
    h = tok(t["SecretID"])
    eq(403, a.put("/v1/kv/live/x", "1", headers=h).status, "read only")
    r = a.put("/v1/acl/policy/" + p["ID"], {"Name": "live",
                                            "Rules": 'key_prefix "live/" { policy = "write" }'},
              headers=ROOT)
    eq(200, r.status, r.text)
    eq(200, a.put("/v1/kv/live/x", "1", headers=h).status, "now write")
    eq(403, a.put("/v1/kv/live/secret/x", "1", headers=h).status, "deny wins")


@test
def blocking_query_ends_when_its_token_is_deleted():
    a = agent()
    make_policy(a, "block", 'key_prefix "block/" { policy = "read" }')
    t = make_token(a, "block")
    a.put("/v1/kv/block/k", "1", headers=ROOT)
    idx = a.get("/v1/kv/block/k", headers=tok(t["SecretID"])).header("X-Consul-Index")
    out = {}

    def waiter():
        out["r"] = a.get(f"/v1/kv/block/k?index={idx}&wait=20s", headers=tok(t["SecretID"]))

    th = threading.Thread(target=waiter)
    th.start()
    time.sleep(0.3)
    start = time.time()
    eq(200, a.delete("/v1/acl/token/" + t["AccessorID"], headers=ROOT).status, "delete token")
    th.join(10)
    assert not th.is_alive(), "blocking query still parked"
    assert time.time() - start < 5, "woke late"
    eq(403, out["r"].status, "woken query")
    eq("ACL not found", out["r"].text.strip(), "body")


@test
def bootstrap_once_then_403_with_the_reset_index_and_the_reset_file():
    tmp_cfg = {"server": True, "bootstrap": True, "bind_addr": "127.0.0.1",
               "acl": {"enabled": True, "default_policy": "deny"}}
    a = Agent(dev=False, config=tmp_cfg)
    a.args += ["-data-dir", os.path.join(a.tmp, "data")]
    with a:
        r = a.put("/v1/acl/bootstrap")
        eq(200, r.status, r.text)
        b = r.json()
        eq(b["SecretID"], b["ID"], "legacy ID field")
        eq("Bootstrap Token (Global Management)", b["Description"], "description")
        eq("global-management", b["Policies"][0]["Name"], "policy")
        r = a.put("/v1/acl/bootstrap")
        eq(403, r.status, "second bootstrap")
        text = r.text.strip()
        assert text.startswith("Permission denied: ACL bootstrap no longer allowed (reset index: "), text
        reset = text.rsplit(" ", 1)[1].rstrip(")")
        with open(os.path.join(a.tmp, "data", "acl-bootstrap-reset"), "w") as f:
            f.write("999999")
        eq(403, a.put("/v1/acl/bootstrap").status, "wrong reset index")
        with open(os.path.join(a.tmp, "data", "acl-bootstrap-reset"), "w") as f:
            f.write(reset + "\n")
        r = a.put("/v1/acl/bootstrap")
        eq(200, r.status, "bootstrap after reset: " + r.text)
        assert not os.path.exists(os.path.join(a.tmp, "data", "acl-bootstrap-reset")), "file used up"
        eq(403, a.put("/v1/acl/bootstrap").status, "and once only again")
        # both bootstrap tokens are management
        eq(200, a.get("/v1/acl/tokens", headers=tok(b["SecretID"])).status, "first still works")
        eq(200, a.get("/v1/acl/tokens", headers=tok(r.json()["SecretID"])).status, "second works")


@test
def acls_disabled_answer_401_and_allow_everything():
    with Agent() as a:
        r = a.get("/v1/acl/tokens")
        eq(401, r.status, "tokens")
        eq("ACL support disabled", r.text.strip(), "body")
        eq(401, a.put("/v1/acl/bootstrap").status, "bootstrap")
        eq(401, a.put("/v1/agent/token/default", {"Token": "x"}).status, "agent token")
        eq("allow", r.header("X-Consul-Default-ACL-Policy"), "header")
        eq(200, a.put("/v1/kv/free", "1", headers=tok("whatever")).status, "any token works")


@test
def default_token_agent_tokens_and_persistence():
    cfg = json.loads(json.dumps(DENY))
    cfg.update({"server": True, "bootstrap": True, "bind_addr": "127.0.0.1"})
    cfg["acl"]["enable_token_persistence"] = True
    data = tempfile.mkdtemp(prefix="cairn-acl-data-")
    try:
        persisted_tokens_survive_a_restart(cfg, data)
    finally:
        shutil.rmtree(data, ignore_errors=True)


def persisted_tokens_survive_a_restart(cfg, data):
    a = AclAgent(dev=False, config=cfg)
    a.args += ["-data-dir", data]
    with a:
        make_policy(a, "dflt", 'key_prefix "pub/" { policy = "read" }')
        t = make_token(a, "dflt")
        a.put("/v1/kv/pub/x", "1", headers=ROOT)
        eq(403, a.get("/v1/kv/pub/x").status, "before the default token")
        eq(403, a.put("/v1/agent/token/default", {"Token": t["SecretID"]},
                       headers=tok(t["SecretID"])).status, "needs acl:write")
        eq(200, a.put("/v1/agent/token/default", {"Token": t["SecretID"]}, headers=ROOT).status,
           "set default")
        eq(200, a.get("/v1/kv/pub/x").status, "requests without a token use it")
        eq(404, a.put("/v1/agent/token/bogus", {"Token": "x"}, headers=ROOT).status, "bad type")
        eq(200, a.put("/v1/agent/token/acl_agent_master_token", {"Token": "rec-0001"},
                      headers=ROOT).status, "legacy type name")
        with open(os.path.join(data, "acl-tokens.json")) as f:
            saved = json.load(f)
        eq(t["SecretID"], saved["default"], "persisted default")
        eq("rec-0001", saved["agent_recovery"], "persisted recovery")
    # the persisted tokens come back after a restart
    b = AclAgent(dev=False, config=cfg)
    b.args += ["-data-dir", data]
    with b:
        # the recovery token needs no store
        eq(200, b.get("/v1/agent/self", headers=tok("rec-0001")).status, "recovery token")
        eq(403, b.get("/v1/kv/pub/x", headers=tok("rec-0001")).status, "recovery is agent-only")
        # the default token applies again if the server kept its state
        # (durable storage), and resolves to nothing if it did not
        kept = b.get("/v1/kv/pub/x", headers=ROOT).status == 200
        eq(200 if kept else 403, b.get("/v1/kv/pub/x").status, "persisted default token")


@test
def agent_recovery_from_config():
    cfg = json.loads(json.dumps(DENY))
    cfg["acl"]["tokens"]["agent_recovery"] = "recovery-secret"
    with AclAgent(config=cfg) as a:
        eq(200, a.get("/v1/agent/self", headers=tok("recovery-secret")).status, "agent self")
        eq(403, a.get("/v1/kv/x", headers=tok("recovery-secret")).status, "not KV")
        eq(403, a.get("/v1/agent/self").status, "anonymous")


@test
def key_list_policy_gates_recursive_reads():
    cfg = json.loads(json.dumps(DENY))
    cfg["acl"]["enable_key_list_policy"] = True
    with AclAgent(config=cfg) as a:
        a.put("/v1/kv/lp/a", "1", headers=ROOT)
        make_policy(a, "lp-list", 'key_prefix "lp/" { policy = "list" }')
        make_policy(a, "lp-read", 'key_prefix "lp/" { policy = "read" }')
        lister, reader = make_token(a, "lp-list"), make_token(a, "lp-read")
        eq(200, a.get("/v1/kv/lp/?recurse", headers=tok(lister["SecretID"])).status, "list")
        eq(200, a.get("/v1/kv/lp/?keys", headers=tok(lister["SecretID"])).status, "keys")
        eq(403, a.get("/v1/kv/lp/?recurse", headers=tok(reader["SecretID"])).status, "read only")
        eq(200, a.get("/v1/kv/lp/a", headers=tok(reader["SecretID"])).status, "single read")
        eq(403, a.put("/v1/kv/lp/a", "2", headers=tok(lister["SecretID"])).status, "list is no write")


@test
def reload_rereads_configured_tokens():
    cfg = json.loads(json.dumps(DENY))
    cfg["acl"]["tokens"]["agent_recovery"] = "recovery-one"
    with AclAgent(config=cfg) as a:
        eq(200, a.get("/v1/agent/self", headers=tok("recovery-one")).status, "before")
        cfg["acl"]["tokens"]["agent_recovery"] = "recovery-two"
        with open(os.path.join(a.tmp, "config.json"), "w") as f:
            json.dump(cfg, f)
        a.signal(signal.SIGHUP)
        wait_until(lambda: a.get("/v1/agent/self", headers=tok("recovery-two")).status == 200,
                   what="new recovery token")
        eq(403, a.get("/v1/agent/self", headers=tok("recovery-one")).status, "old one gone")


@test
def legacy_config_names_are_read():
    cfg = {"acl_datacenter": "dc1", "acl_default_policy": "deny",
           "acl_master_token": ROOT_SECRET, "acl": {"enabled": True}}
    with AclAgent(config=cfg) as a:
        eq("deny", a.get("/v1/status/leader").header("X-Consul-Default-ACL-Policy"), "policy")
        eq(200, a.get("/v1/acl/tokens", headers=ROOT).status, "master token")
        eq(403, a.get("/v1/acl/tokens").status, "anonymous")


if __name__ == "__main__":
    try:
        main()
    finally:
        if _shared is not None:
            _shared.cleanup()
