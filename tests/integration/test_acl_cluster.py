#!/usr/bin/python3
"""ACLs on a client agent (default deny): the client has no ACL tables, so it
resolves each token through a server and caches the answer for
acl.token_ttl (2 s here); its anti-entropy writes carry their token to a
server, which vets them. When no server answers, acl.down_policy
(extend-cache) keeps cached tokens working."""
import json
import os
import shutil
import time

from cairn_test import Cluster, eq, main, test, wait_until

ROOT_SECRET = "5b0e4a1c-2d3f-4e5a-8b6c-7d8e9f0a1b2c"
AGENT_SECRET = "9c8b7a6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
ROOT = {"X-Consul-Token": ROOT_SECRET}
TTL_S = 2

_shared = None


def tok(secret):
    return {"X-Consul-Token": secret}


class AclCluster(Cluster):
    """One server and one client agent (c1); the client's agent token
    exists on the server before the client starts."""

    def __init__(self):
        acl = {"acl": {"enabled": True, "default_policy": "deny", "token_ttl": f"{TTL_S}s",
                       "tokens": {"initial_management": ROOT_SECRET}}}
        super().__init__(servers=1, clients=0)
        path = os.path.join(self.tmp, "acl.json")
        with open(path, "w") as f:
            json.dump(acl, f)
        client_path = os.path.join(self.tmp, "client.json")
        with open(client_path, "w") as f:
            json.dump({"acl": {"tokens": {"agent": AGENT_SECRET}},
                       "node_meta": {"role": "client"},
                       "services": [{"name": "cfgsvc", "port": 7000}]}, f)
        self.server = self.servers[0]
        self.server.args += ["-config-file", path]
        # a client like the ones Cluster makes, with the ACL files
        client = Cluster(servers=0, clients=1, extra=("-config-file", path,
                                                      "-config-file", client_path))
        self.client = client.clients[0]
        self.clients.append(self.client)
        self._other_tmp = client.tmp

    def start(self, timeout=20):
        s, c = self.server, self.client
        s.start()
        wait_until(lambda: self.leader() is not None, timeout=timeout, what="a leader")
        wait_until(lambda: s.get("/v1/acl/token/self", headers=ROOT).status == 200,
                   timeout=timeout, what="the initial management token")
        policy(s, "agent-c1", 'node "c1" { policy = "write" }\n'
                              'service "cfgsvc" { policy = "write" }')
        token(s, "agent-c1", SecretID=AGENT_SECRET)
        i = c.args.index("-retry-join")
        c.args[i + 1] = f"127.0.0.1:{s.serf_lan_port}"
        c.start()
        wait_until(lambda: len(s.get("/v1/agent/members", headers=ROOT).json()) == 2,
                   timeout=timeout, what="the client joining")
        return self

    def cleanup(self):
        super().cleanup()
        shutil.rmtree(self._other_tmp, ignore_errors=True)


def cluster():
    global _shared
    if _shared is None:
        _shared = AclCluster().start()
    return _shared


def policy(a, name, rules):
    r = a.put("/v1/acl/policy", {"Name": name, "Rules": rules}, headers=ROOT)
    eq(200, r.status, f"create policy {name}: {r.text}")
    return r.json()


def token(a, *policies, **extra):
    body = {"Description": "test", "Policies": [{"Name": p} for p in policies]}
    body.update(extra)
    r = a.put("/v1/acl/token", body, headers=ROOT)
    eq(200, r.status, f"create token: {r.text}")
    return r.json()


def catalog_nodes_of(s, service):
    r = s.get("/v1/catalog/service/" + service, headers=ROOT)
    return [x["Node"] for x in r.json()] if r.status == 200 else []


@test
def anti_entropy_syncs_with_the_agent_token():
    cl = cluster()
    s = cl.server
    # a service from the client's config file: synced with acl.tokens.agent,
    # which has service:write on it and node:write on c1
    wait_until(lambda: catalog_nodes_of(s, "cfgsvc") == ["c1"], timeout=20,
               what="cfgsvc from c1 in the catalog")
    node = s.get("/v1/catalog/node/c1", headers=ROOT).json()
    eq("client", node["Node"]["Meta"].get("role"), "node meta synced by anti-entropy")


@test
def a_service_write_token_registers_through_the_client():
    cl = cluster()
    s, c = cl.server, cl.client
    policy(s, "web-write", 'service "web" { policy = "write" }')
    t = token(s, "web-write")
    # a token the client has never seen: it asks the server, then decides
    r = c.put("/v1/agent/service/register", {"Name": "web", "Port": 8080},
              headers=tok(t["SecretID"]))
    eq(200, r.status, f"register web: {r.text}")
    wait_until(lambda: catalog_nodes_of(s, "web") == ["c1"], timeout=20,
               what="web from c1 in the catalog")
    r = c.get("/v1/agent/services", headers=tok(t["SecretID"]))
    eq(200, r.status, "agent services")
    assert "web" in r.json(), r.json()
    # the same token may not register another service
    r = c.put("/v1/agent/service/register", {"Name": "db", "Port": 5432},
              headers=tok(t["SecretID"]))
    eq(403, r.status, "db with a web token")
    assert "Permission denied" in r.text, r.text
    # and the anonymous token sees nothing of it
    r = c.get("/v1/agent/services")
    eq(200, r.status, "anonymous agent services")
    eq({}, r.json(), "filtered for anonymous")


@test
def anonymous_and_unknown_tokens_are_refused_on_the_client():
    c = cluster().client
    r = c.put("/v1/agent/service/register", {"Name": "anon-svc", "Port": 1})
    eq(403, r.status, "anonymous register")
    assert "Permission denied" in r.text, r.text
    r = c.get("/v1/agent/self")
    eq(403, r.status, "anonymous agent/self")
    assert "Permission denied" in r.text, r.text
    unknown = "0d1c2b3a-4f5e-4d6c-9b8a-7f6e5d4c3b2a"
    for path in ("/v1/agent/self", "/v1/agent/services"):
        r = c.get(path, headers=tok(unknown))
        eq(403, r.status, f"unknown token on {path}")
        eq("ACL not found", r.text.strip(), f"unknown token text on {path}")
    # a management token, resolved through the server
    r = c.get("/v1/agent/self", headers=tok(ROOT_SECRET))
    eq(200, r.status, "management token")


@test
def a_deleted_token_stops_working_after_token_ttl():
    cl = cluster()
    s, c = cl.server, cl.client
    policy(s, "c1-read", 'agent "c1" { policy = "read" }')
    t = token(s, "c1-read")
    h = tok(t["SecretID"])
    r = c.get("/v1/agent/self", headers=h)
    fetched = time.time()
    eq(200, r.status, f"agent/self with agent:read: {r.text}")
    eq(200, s.delete("/v1/acl/token/" + t["AccessorID"], headers=ROOT).status, "delete")
    r = c.get("/v1/agent/self", headers=h)
    if time.time() - fetched < TTL_S * 0.75:
        # still inside token_ttl: the client answers from its cache
        eq(200, r.status, "cached within token_ttl")

    def refused():
        x = c.get("/v1/agent/self", headers=h)
        return x if x.status == 403 else None

    r = wait_until(refused, timeout=TTL_S + 10, what="the token to stop")
    assert time.time() - fetched >= TTL_S * 0.9, "refused before token_ttl ran out"
    eq("ACL not found", r.text.strip(), "deleted token")


@test
def servers_down_extend_cache_keeps_cached_tokens():
    cl = cluster()
    s, c = cl.server, cl.client
    policy(s, "c1-read-2", 'agent "c1" { policy = "read" }')
    t = token(s, "c1-read-2")
    never = token(s, "c1-read-2")  # valid, but the client never asks about it
    h = tok(t["SecretID"])
    eq(200, c.get("/v1/agent/self", headers=h).status, "fetched while the server is up")
    s.kill()
    time.sleep(TTL_S + 0.5)
    # expired and no server to ask: extend-cache keeps the cached answer
    r = c.get("/v1/agent/self", headers=h, timeout=30)
    eq(200, r.status, f"extend-cache: {r.text}")
    # a token never seen gets the default policy (deny)
    r = c.get("/v1/agent/self", headers=tok(never["SecretID"]), timeout=30)
    eq(403, r.status, "never seen, servers down")
    assert "Permission denied" in r.text, r.text


if __name__ == "__main__":
    try:
        main()
    finally:
        if _shared is not None:
            _shared.cleanup()
