#!/usr/bin/python3
"""/v1/health: CheckServiceNode rows, ?passing, states, and blocking
queries on one service that wake only for changes to that service."""
import threading
import time

from cairn_test import Agent, eq, main, test, wait_until

A = Agent().start()
wait_until(lambda: A.get("/v1/catalog/nodes").json(), what="self registration")
NODE = A.get("/v1/agent/self").json()["Config"]["NodeName"]


def reg(body):
    r = A.put("/v1/catalog/register", body)
    assert r.status == 200, r


def ttl_service(name, sid, status="passing", tags=None):
    r = A.put("/v1/agent/service/register",
              {"Name": name, "ID": sid, "Tags": tags or [], "Port": 80,
               "Check": {"TTL": "60s", "Status": status}})
    assert r.status == 200, r


ttl_service("web", "web1", tags=["blue"])
ttl_service("web", "web2", status="critical", tags=["green"])
ttl_service("db", "db1")


@test
def check_service_node_rows_node_checks_first():
    r = A.get("/v1/health/service/web")
    rows = r.json()
    eq(["web1", "web2"], [x["Service"]["ID"] for x in rows])
    eq(["Node", "Service", "Checks"], list(rows[0]))
    eq(["serfHealth", "service:web1"], [c["CheckID"] for c in rows[0]["Checks"]])
    eq("leader", r.header("X-Consul-Effective-Consistency"))
    eq("true", r.header("X-Consul-Knownleader"))
    eq("0", r.header("X-Consul-Lastcontact"))


@test
def passing_param_variants():
    eq(["web1"], [x["Service"]["ID"] for x in A.get("/v1/health/service/web?passing").json()])
    eq(["web1"], [x["Service"]["ID"] for x in A.get("/v1/health/service/web?passing=1").json()])
    eq(2, len(A.get("/v1/health/service/web?passing=false").json()))
    r = A.get("/v1/health/service/web?passing=maybe")
    eq(400, r.status)
    eq("Invalid value for ?passing", r.text)
    eq(["web2"], [x["Service"]["ID"] for x in A.get("/v1/health/service/web?tag=GREEN").json()])


@test
def states_nodes_and_checks_lists():
    any_ = A.get("/v1/health/state/any").json()
    assert {"serfHealth", "service:web1", "service:web2", "service:db1"} <= {c["CheckID"] for c in any_}
    eq(["service:web2"], [c["CheckID"] for c in A.get("/v1/health/state/critical").json()])
    eq([], A.get("/v1/health/state/warning").json())
    r = A.get("/v1/health/state/")
    eq(400, r.status)
    eq("Missing check state", r.text)
    eq(["service:web1", "service:web2"],
       [c["CheckID"] for c in A.get("/v1/health/checks/web").json()])
    node = A.get("/v1/health/node/" + NODE).json()
    eq(sorted(c["CheckID"] for c in node), [c["CheckID"] for c in node])
    eq([], A.get("/v1/health/node/nobody").json())
    eq([], A.get("/v1/health/service/nothing-here").json())
    eq([], A.get("/v1/health/checks/nothing-here").json())


@test
def filter_over_check_service_nodes():
    q = "Checks.Status%20%3D%3D%20critical"
    eq(["web2"], [x["Service"]["ID"] for x in A.get("/v1/health/service/web?filter=" + q).json()])
    q = "Service.Tags%20contains%20blue"
    eq(["web1"], [x["Service"]["ID"] for x in A.get("/v1/health/service/web?filter=" + q).json()])
    q = "Status%20%3D%3D%20passing%20and%20ServiceName%20%3D%3D%20web"
    eq(["service:web1"], [c["CheckID"] for c in A.get("/v1/health/state/any?filter=" + q).json()])


def blocking(path, idx, wait="8s"):
    out = {}

    def run():
        t0 = time.time()
        out["r"] = A.get(f"{path}{'&' if '?' in path else '?'}index={idx}&wait={wait}")
        out["t"] = time.time() - t0

    th = threading.Thread(target=run)
    th.start()
    return th, out


@test
def blocking_health_service_ignores_kv_and_other_services():
    idx = A.get("/v1/health/service/web").header("X-Consul-Index")
    th, out = blocking("/v1/health/service/web", idx)
    time.sleep(0.3)
    A.put("/v1/kv/unrelated", "1")
    A.put("/v1/agent/check/warn/service:db1?note=db%20noise")
    ttl_service("cache", "cache1")
    reg({"Node": "elsewhere", "Address": "10.0.0.1", "Service": {"Service": "webby"}})
    time.sleep(0.5)
    assert "r" not in out, f"woke up for an unrelated write: {out}"
    # a change to one of web's checks wakes it
    A.put("/v1/agent/check/fail/service:web1?note=down")
    th.join(5)
    assert out["t"] < 4, out
    new_idx = int(out["r"].header("X-Consul-Index"))
    assert new_idx > int(idx)
    eq("critical", out["r"].json()[0]["Checks"][1]["Status"])
    A.put("/v1/agent/check/pass/service:web1")


@test
def blocking_health_service_wakes_on_node_level_checks_and_new_instances():
    idx = A.get("/v1/health/service/db?passing").header("X-Consul-Index")
    th, out = blocking("/v1/health/service/db?passing", idx)
    time.sleep(0.2)
    A.put("/v1/agent/maintenance?enable=true")  # a node check: every service's health
    th.join(5)
    eq([], out["r"].json())
    A.put("/v1/agent/maintenance?enable=false")
    idx = A.get("/v1/health/service/newbie").header("X-Consul-Index")
    th, out = blocking("/v1/health/service/newbie", idx)
    time.sleep(0.2)
    ttl_service("newbie", "newbie1")
    th.join(5)
    eq(["newbie1"], [x["Service"]["ID"] for x in out["r"].json()])


@test
def blocking_times_out_with_the_same_index():
    idx = A.get("/v1/health/service/web").header("X-Consul-Index")
    t0 = time.time()
    r = A.get(f"/v1/health/service/web?index={idx}&wait=400ms")
    dt = time.time() - t0
    assert 0.35 < dt < 2, dt
    eq(idx, r.header("X-Consul-Index"))


@test
def per_service_index_is_not_moved_by_other_services():
    a = A.get("/v1/health/service/web").header("X-Consul-Index")
    ttl_service("unrelated", "unrelated1")
    A.put("/v1/kv/more", "2")
    eq(a, A.get("/v1/health/service/web").header("X-Consul-Index"))
    eq(a, A.get("/v1/catalog/service/web").header("X-Consul-Index"))


if __name__ == "__main__":
    try:
        main()
    finally:
        A.cleanup()
