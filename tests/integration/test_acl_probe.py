#!/usr/bin/python3
"""The route-coverage probe: every route in the binary's table (read from
`cairn acl routes`, i.e. http_routes()) that is not flagged ROUTE_NO_ACL must
refuse an anonymous token under default_policy=deny: 403, or (reads) an
answer filtered to nothing. A route added later is probed without anyone
editing this file.

Each (route, method) is first tried anonymously; anything but a refusal is
then compared with the same request under the management token. A route
where both fail the same way (the probe's input is wrong for it, e.g. a 400
for a body it cannot guess) is reported as inconclusive, not passed. Routes
the probe must not run as management (they stop the agent) are listed."""
import json
import subprocess

from cairn_test import BIN, Agent, main, test, wait_until

ROOT = "7c1e2d3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f"

# Suffixes for prefix routes: names that exist once the probe has seeded them
# (a route missing here gets "probe").
SUFFIX = {
    "/v1/kv/": "probe/key",
    "/v1/catalog/service/": "probe-svc",
    "/v1/catalog/connect/": "probe-svc",
    "/v1/catalog/gateway-services/": "probe-svc",
    "/v1/health/service/": "probe-svc",
    "/v1/health/checks/": "probe-svc",
    "/v1/health/connect/": "probe-svc",
    "/v1/health/ingress/": "probe-svc",
    "/v1/catalog/node/": "probe-node",
    "/v1/catalog/node-services/": "probe-node",
    "/v1/internal/cairn/node-dump/": "probe-node",
    "/v1/health/node/": "probe-node",
    "/v1/health/state/": "any",
    "/v1/agent/token/": "default",
    "/v1/agent/service/": "probe-svc",
    "/v1/agent/service/deregister/": "probe-svc",
    "/v1/agent/service/maintenance/": "probe-svc?enable=true&reason=probe",
    "/v1/agent/check/": "probe-check",
    "/v1/agent/check/deregister/": "probe-check",
    "/v1/agent/check/pass/": "probe-check",
    "/v1/agent/check/warn/": "probe-check",
    "/v1/agent/check/fail/": "probe-check",
    "/v1/agent/check/update/": "probe-check",
    "/v1/agent/health/service/id/": "probe-svc",
    "/v1/agent/health/service/name/": "probe-svc",
    "/v1/agent/force-leave/": "probe-node",
    "/v1/agent/join/": "127.0.0.1:1",
    "/v1/event/fire/": "probe-event",
    "/v1/acl/policy/": "00000000-0000-0000-0000-000000000001",
    "/v1/acl/token/": "00000000-0000-0000-0000-000000000002",
    "/v1/acl/info/": ROOT,
}

# Query strings for exact routes.
QUERY = {"/v1/agent/maintenance": "?enable=false"}

BODY = {
    ("PUT", "/v1/agent/check/update/"): {"Status": "passing", "Output": "probe"},
    ("PUT", "/v1/kv/"): "value",
    ("PUT", "/v1/catalog/register"): {"Node": "probe-node2", "Address": "127.0.0.2",
                                      "Service": {"Service": "probe-svc2", "Port": 1}},
    ("PUT", "/v1/catalog/deregister"): {"Node": "probe-node2"},
    ("PUT", "/v1/agent/service/register"): {"Name": "probe-svc3", "Port": 2},
    ("PUT", "/v1/agent/check/register"): {"Name": "probe-check", "TTL": "10s"},
    ("PUT", "/v1/acl/token/"): {"Description": "probe"},
    ("PUT", "/v1/acl/policy/"): {"Name": "global-management"},
    ("PUT", "/v1/acl/create"): {"Name": "probe"},
    ("PUT", "/v1/acl/update"): {"ID": "probe-legacy", "Name": "probe"},
    ("PUT", "/v1/agent/token/"): {"Token": ""},
    ("PUT", "/v1/session/create"): {},
    ("PUT", "/v1/txn"): [{"KV": {"Verb": "get", "Key": "probe/key"}}],
    ("PUT", "/v1/coordinate/update"): {"Node": "probe-node", "Coord": {"Vec": [0] * 8}},
}

# Sent last with the management token: they remove what other probes read.
DESTRUCTIVE = ("/v1/agent/service/deregister/", "/v1/agent/check/deregister/",
               "/v1/agent/force-leave/", "/v1/catalog/deregister")

# Never sent with the management token: they end the agent or its data.
NO_MANAGEMENT = {("PUT", "/v1/agent/leave"), ("GET", "/v1/agent/leave"),
                 ("PUT", "/v1/snapshot"), ("GET", "/v1/agent/monitor")}


def routes():
    out = subprocess.run([BIN, "acl", "routes"], capture_output=True, check=True, text=True)
    table = []
    for line in out.stdout.splitlines():
        methods, path, acl = line.split()
        table.append((methods.split(","), path, acl == "acl"))
    return table


def target(method, path):
    url = path + SUFFIX.get(path, "probe") if path.endswith("/") else path + QUERY.get(path, "")
    body = BODY.get((method, path))
    if body is None and method in ("PUT", "POST"):
        body = {}
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    return url, body


def send(a, method, url, body, token=None):
    headers = {"X-Consul-Token": token} if token else {}
    try:
        return a.request(method, url, body=body, headers=headers, timeout=3)
    except OSError as e:  # a timeout or a reset: the route did not answer
        return e


def filtered_empty(r):
    if isinstance(r, Exception) or r.status not in (200, 404):
        return False
    text = r.body.strip()
    try:
        return json.loads(text or b"null") in ([], {}, None, "")
    except ValueError:
        return False


def describe(r):
    if isinstance(r, Exception):
        return f"no answer ({r.__class__.__name__})"
    return f"{r.status} {r.body[:80]!r}"


def seed(a):
    h = {"X-Consul-Token": ROOT}
    wait_until(lambda: a.get("/v1/acl/token/self", headers=h).status == 200,
               what="the initial management token")
    a.put("/v1/kv/probe/key", "secret", headers=h)
    a.put("/v1/catalog/register", {"Node": "probe-node", "Address": "127.0.0.3",
                                   "Service": {"Service": "probe-svc", "Port": 3},
                                   "Check": {"CheckID": "probe-check", "Name": "c",
                                             "Status": "passing", "ServiceID": "probe-svc"}},
           headers=h)
    a.put("/v1/acl/create", {"ID": "probe-legacy", "Name": "probe"}, headers=h)
    a.put("/v1/agent/service/register", {"ID": "probe-svc", "Name": "probe-svc", "Port": 4},
          headers=h)
    a.put("/v1/agent/check/register", {"ID": "probe-check", "Name": "probe-check", "TTL": "60s",
                                       "ServiceID": "probe-svc"}, headers=h)
    # A session on probe-node: destroy/renew/info of it need session:write/read there.
    r = a.put("/v1/session/create", {"Node": "probe-node", "NodeChecks": []}, headers=h)
    if r.status == 200:
        for route in ("/v1/session/destroy/", "/v1/session/renew/", "/v1/session/info/"):
            SUFFIX[route] = r.json()["ID"]
        SUFFIX["/v1/session/node/"] = "probe-node"


def refused(r):
    """403, a transaction rolled back with Permission denied (Consul's 409), or
    the keyring's 500 refusals."""
    if isinstance(r, Exception):
        return False
    if r.status == 403:
        return True
    # Consul 1.7's keyring endpoint refuses with 500 and these texts
    if r.status == 500 and r.body in (b"Reading keyring denied by ACLs",
                                      b"Modifying keyring denied due to ACLs"):
        return True
    if r.status == 409:
        try:
            return all(e["What"] == "Permission denied" for e in json.loads(r.body)["Errors"])
        except (ValueError, KeyError, TypeError):
            return False
    return False


@test
def every_route_refuses_an_anonymous_token_under_default_deny():
    table = routes()
    assert len(table) >= 10, table
    failures, inconclusive, filtered, checked = [], [], [], 0
    with Agent(config={"acl": {"enabled": True, "default_policy": "deny",
                               "tokens": {"initial_management": ROOT}}}) as a:
        seed(a)
        anon = []
        for methods, path, acl in table:
            if not acl:
                continue
            for m in methods:
                url, body = target(m, path)
                anon.append((m, path, url, body, send(a, m, url, body)))
        # Management second, reads before writes so the seeded data stays.
        anon.sort(key=lambda x: (x[1] in DESTRUCTIVE, x[0] != "GET"))
        for m, path, url, body, r in anon:
            checked += 1
            if refused(r):
                continue
            if (m, path) in NO_MANAGEMENT:
                failures.append(f"{m} {url}: anonymous got {describe(r)}")
                continue
            mr = send(a, m, url, body, ROOT)
            if m == "GET" and filtered_empty(r) and not filtered_empty(mr):
                # filtered: management sees rows the anonymous token does not
                filtered.append(f"{m} {url}: anonymous {describe(r)}")
                continue
            if (not isinstance(r, Exception) and not isinstance(mr, Exception)
                    and 400 <= r.status < 500 and r.status == mr.status):
                inconclusive.append(f"{m} {url}: {describe(r)} for both anonymous and management")
                continue
            if m == "GET" and filtered_empty(r) and filtered_empty(mr):
                inconclusive.append(f"{m} {url}: empty for both anonymous and management")
                continue
            failures.append(f"{m} {url}: anonymous got {describe(r)}, management {describe(mr)}")
    print(f"# probed {checked} route/method pairs: {len(failures)} failing, "
          f"{len(inconclusive)} inconclusive")
    for line in filtered:
        print("# filtered: " + line)
    for line in inconclusive:
        print("# inconclusive: " + line)
    for line in failures:
        print("# FAIL: " + line)
    assert not failures, f"{len(failures)} route(s) not covered by an ACL check"


@test
def no_acl_routes_are_the_ones_consul_leaves_open():
    open_routes = {path for methods, path, acl in routes() if not acl}
    allowed = {"/v1/status/leader", "/v1/status/peers", "/v1/acl/bootstrap",
               "/v1/catalog/datacenters", "/v1/coordinate/datacenters", "/v1/agent/host",
               "/v1/agent/version",
               "/v1/acl/replication"}  # ACL.ReplicationStatus: "no ACL token required"
    extra = open_routes - allowed
    assert not extra, f"routes flagged ROUTE_NO_ACL that Consul checks: {sorted(extra)}"


if __name__ == "__main__":
    main()
