#!/usr/bin/python3
"""/v1/agent services and checks: shapes, validation errors, hash
blocking, config-file services (restart and reload), data_dir
persistence, anti-entropy's authority over the node, and the rest of the
agent surface this issue covers (members, metrics, maintenance, leave)."""
import json
import os
import signal
import threading
import time

from cairn_test import Agent, eq, main, test, wait_until

FILE_CFG = {
    "services": [
        {"name": "filesvc", "id": "filesvc1", "port": 7000, "tags": ["f"],
         "enable_tag_override": True,
         "checks": [{"ttl": "60s", "status": "passing"}]},
    ],
    "service": {"name": "single", "port": 7001},
    "checks": [{"id": "filecheck", "name": "file check", "ttl": "60s"}],
}

A = Agent(config=FILE_CFG, env={"CAIRN_TEST_AE_INTERVAL": "1s"}).start()
wait_until(lambda: A.get("/v1/catalog/nodes").json(), what="self registration")
NODE = A.get("/v1/agent/self").json()["Config"]["NodeName"]


def register(body, query=""):
    return A.put("/v1/agent/service/register" + query, body)


@test
def config_file_services_and_checks_are_registered():
    svcs = A.get("/v1/agent/services").json()
    eq(7000, svcs["filesvc1"]["Port"])
    eq(True, svcs["filesvc1"]["EnableTagOverride"])
    eq(7001, svcs["single"]["Port"])
    checks = A.get("/v1/agent/checks").json()
    eq("passing", checks["service:filesvc1"]["Status"])
    eq("file check", checks["filecheck"]["Name"])
    wait_until(lambda: A.get("/v1/catalog/service/filesvc").json(), what="file service synced")


@test
def agent_service_shapes_and_content_hash():
    r = register({"Name": "shop", "ID": "shop1", "Tags": ["t"], "Port": 81,
                  "Address": "10.0.0.7", "Meta": {"k": "v"}, "Weights": {"Passing": 3, "Warning": 2},
                  "TaggedAddresses": {"lan": {"address": "10.0.0.7", "port": 81}}})
    eq(200, r.status)
    eq(b"", r.body)
    s = A.get("/v1/agent/services").json()["shop1"]
    eq(["ID", "Service", "Tags", "Meta", "Port", "Address", "TaggedAddresses", "Weights",
        "EnableTagOverride", "Datacenter"], list(s))
    eq({"Passing": 3, "Warning": 2}, s["Weights"])
    eq(["lan", "lan_ipv4", "wan_ipv4"], list(s["TaggedAddresses"]))
    r = A.get("/v1/agent/service/shop1")
    one = r.json()
    eq(one["ContentHash"], r.header("X-Consul-Contenthash"))
    eq(["ID", "Service", "Tags", "Meta", "Port", "Address", "TaggedAddresses", "Weights",
        "EnableTagOverride", "ContentHash", "Datacenter"], list(one))
    r = A.get("/v1/agent/service/nope")
    eq(404, r.status)
    eq("unknown service ID: nope", r.text)
    row = A.get("/v1/catalog/service/shop").json()[0]
    eq({"Passing": 3, "Warning": 2}, row["ServiceWeights"])
    eq("10.0.0.7", row["ServiceAddress"])


@test
def hash_blocking_waits_for_a_change():
    h = A.get("/v1/agent/service/shop1").json()["ContentHash"]
    t0 = time.time()
    r = A.get(f"/v1/agent/service/shop1?hash={h}&wait=300ms")
    assert time.time() - t0 >= 0.28
    eq(h, r.json()["ContentHash"])
    out = {}

    def waiter():
        out["r"] = A.get(f"/v1/agent/service/shop1?hash={h}&wait=5s")

    th = threading.Thread(target=waiter)
    th.start()
    time.sleep(0.2)
    register({"Name": "shop", "ID": "shop1", "Tags": ["t", "new"], "Port": 81})
    th.join(5)
    assert out["r"].json()["ContentHash"] != h
    eq(["t", "new"], out["r"].json()["Tags"])


@test
def validation_errors():
    cases = [
        ({"Port": 1}, 400, "Missing service name"),
        ({"Name": "x", "Address": "0.0.0.0"}, 400, "Invalid service address"),
        ({"Name": "x", "Weights": {"Passing": 0, "Warning": 1}}, 400,
         "Invalid Weights: Passing must be greater than 0"),
        ({"Name": "x", "Meta": {"consul-x": "1"}}, 400,
         "Invalid Service Meta: Key prefix 'consul-' is reserved for internal use"),
        ({"Name": "x", "Check": {"HTTP": "http://x/"}}, 400,
         "Invalid check: Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks"),
        ({"Name": "x", "Check": {}}, 400, "Invalid check: TTL must be > 0 for TTL checks"),
        ({"Name": "x", "Check": {"TTL": "10s", "Status": "bad"}}, 400,
         "Status for checks must 'passing', 'warning', 'critical'"),
        ({"Name": "x", "Bogus": 1}, 400, 'Request decode failed: json: unknown field "Bogus"'),
        ({"Name": "x", "Check": {"Args": ["/bin/true"], "Interval": "10s"}}, 500, None),
    ]
    for body, code, text in cases:
        r = register(body)
        eq(code, r.status, f"{body} -> {r.text}")
        if text:
            eq(text, r.text, str(body))
    r = register({"Name": "x", "Check": {"Args": ["/bin/true"], "Interval": "10s"}})
    assert "enable_script_checks" in r.text, r.text
    r = A.put("/v1/agent/check/register", {"TTL": "10s"})
    eq(400, r.status)
    eq("Missing check name", r.text)
    r = A.put("/v1/agent/check/register", {"Name": "c", "TTL": "10s", "Status": "meh"})
    eq("Bad check status", r.text)
    r = A.put("/v1/agent/check/register", {"Name": "c", "TTL": "10s", "ServiceID": "none"})
    eq(404, r.status)
    eq('ServiceID "none" does not exist', r.text)
    r = A.put("/v1/agent/service/deregister/none")
    eq(404, r.status)
    eq('Unknown service ID "none". Ensure that the service ID is passed, not the service name.',
       r.text)
    r = A.put("/v1/agent/check/update/none", {"Status": "passing"})
    eq(404, r.status)
    r = A.put("/v1/agent/check/update/filecheck", {"Status": "fine"})
    eq(400, r.status)
    eq("Invalid check status: 'fine'", r.text)
    r = A.put("/v1/agent/service/maintenance/none?enable=true")
    eq(404, r.status)
    eq('No service registered with ID "none"', r.text)
    eq(405, A.get("/v1/agent/service/register").status)


@test
def check_update_and_snake_case_definitions():
    r = A.put("/v1/agent/check/update/filecheck", {"Status": "warning", "Output": "hmm"})
    eq(200, r.status)
    c = A.get("/v1/agent/checks").json()["filecheck"]
    eq(("warning", "hmm"), (c["Status"], c["Output"]))
    eq("warning", [x for x in A.get(f"/v1/health/node/{NODE}").json()
                   if x["CheckID"] == "filecheck"][0]["Status"])
    r = register({"name": "snake", "enable_tag_override": True,
                  "check": {"ttl": "10s", "deregister_critical_service_after": "90s",
                            "success_before_passing": 1, "status": "passing"}})
    eq(200, r.status, r.text)
    eq(True, A.get("/v1/agent/services").json()["snake"]["EnableTagOverride"])
    d = A.get("/v1/health/checks/snake").json()[0]["Definition"]
    eq("1m30s", d["DeregisterCriticalServiceAfter"])


@test
def embedded_check_ids_and_replace_existing_checks():
    eq(200, register({"Name": "multi", "Checks": [{"TTL": "10s"}, {"TTL": "20s", "Name": "two"}]}).status)
    checks = A.get("/v1/agent/checks").json()
    eq("Service 'multi' check", checks["service:multi:1"]["Name"])
    eq("two", checks["service:multi:2"]["Name"])
    eq(200, A.put("/v1/agent/check/register", {"Name": "extra", "TTL": "10s",
                                               "ServiceID": "multi"}).status)
    # without the flag, checks not listed stay
    eq(200, register({"Name": "multi", "Check": {"TTL": "10s"}}).status)
    assert "extra" in A.get("/v1/agent/checks").json()
    eq(200, register({"Name": "multi", "Check": {"TTL": "10s"}}, "?replace-existing-checks").status)
    ids = sorted(k for k, v in A.get("/v1/agent/checks").json().items() if v["ServiceID"] == "multi")
    eq(["service:multi"], ids)
    eq(["service:multi"], [c["CheckID"] for c in A.get("/v1/health/checks/multi").json()])


@test
def anti_entropy_is_authoritative_for_the_node():
    # an entry for this node the agent does not know is removed
    r = A.put("/v1/catalog/register", {"Node": NODE, "Address": "127.0.0.1",
                                       "Service": {"Service": "intruder"},
                                       "Check": {"CheckID": "intruder-check", "Name": "x"}})
    eq(200, r.status)
    eq(1, len(A.get("/v1/catalog/service/intruder").json()))
    wait_until(lambda: A.get("/v1/catalog/service/intruder").json() == [], timeout=5,
               what="unknown service removed")
    wait_until(lambda: "intruder-check" not in
               [c["CheckID"] for c in A.get(f"/v1/health/node/{NODE}").json()], timeout=5,
               what="unknown check removed")
    # an agent service deleted from the catalog comes back
    A.put("/v1/catalog/deregister", {"Node": NODE, "ServiceID": "shop1"})
    wait_until(lambda: A.get("/v1/catalog/service/shop").json(), timeout=5, what="service restored")
    # serfHealth and the consul service are left alone
    assert "serfHealth" in [c["CheckID"] for c in A.get(f"/v1/health/node/{NODE}").json()]
    eq(1, len(A.get("/v1/catalog/service/consul").json()))
    # enable_tag_override: tags edited in the catalog win
    A.put("/v1/catalog/register", {"Node": NODE, "Address": "127.0.0.1",
                                   "Service": {"ID": "filesvc1", "Service": "filesvc",
                                               "Tags": ["edited"], "Port": 7000,
                                               "EnableTagOverride": True}})
    time.sleep(2.5)
    eq(["edited"], A.get("/v1/catalog/service/filesvc").json()[0]["ServiceTags"])


@test
def reload_follows_the_config_files():
    cfg = dict(FILE_CFG)
    cfg["services"] = [{"name": "filesvc", "id": "filesvc1", "port": 7002}]
    cfg["service"] = {"name": "added", "port": 7003}
    cfg["checks"] = []
    with open(os.path.join(A.tmp, "config.json"), "w") as f:
        json.dump(cfg, f)
    A.signal(signal.SIGHUP)
    wait_until(lambda: "added" in A.get("/v1/agent/services").json(), timeout=5, what="reload")
    svcs = A.get("/v1/agent/services").json()
    assert "single" not in svcs
    eq(7002, svcs["filesvc1"]["Port"])
    assert "filecheck" not in A.get("/v1/agent/checks").json()
    wait_until(lambda: A.get("/v1/catalog/service/single").json() == [], timeout=5,
               what="removed from the catalog")
    eq(7003, A.get("/v1/catalog/service/added").json()[0]["ServicePort"])
    # PUT /v1/agent/reload does the same
    eq(200, A.put("/v1/agent/reload").status)


@test
def members_metrics_and_leave_routes():
    m = A.get("/v1/agent/members").json()
    eq([NODE], [x["Name"] for x in m])
    eq(m, A.get("/v1/agent/members?filter=Tags.role%20%3D%3D%20consul").json())
    eq([], A.get("/v1/agent/members?filter=Name%20%3D%3D%20other").json())
    j = A.get("/v1/agent/metrics").json()
    eq(["Timestamp", "Gauges", "Points", "Counters", "Samples"], list(j))
    assert any(g["Name"] == "consul.state.services" for g in j["Gauges"])
    r = A.get("/v1/agent/metrics?format=prometheus")
    eq(415, r.status)
    eq("Prometheus is not enabled since its retention time is not positive", r.text)
    eq(500, A.put("/v1/agent/join/127.0.0.1:1").status)
    eq(500, A.put("/v1/agent/force-leave/ghost").status)


@test
def api_services_survive_a_restart_and_file_services_come_back():
    data = os.path.join(A.tmp, "data-restart")
    B = Agent("-server", "-bootstrap", "-data-dir", data, "-node", "restart-node", dev=False,
              config={"services": [{"name": "fromfile", "port": 1}],
                      "telemetry": {"prometheus_retention_time": "60s"}})
    try:
        B.start()
        r = B.put("/v1/agent/service/register",
                  {"Name": "persisted", "Port": 4242, "Tags": ["p"],
                   "Check": {"TTL": "1h", "Status": "critical"}})
        eq(200, r.status, r.text)
        eq(200, B.put("/v1/agent/check/pass/service:persisted?note=up").status)
        eq(200, B.put("/v1/agent/maintenance?enable=true&reason=rebooting").status)
        r = B.get("/v1/agent/metrics?format=prometheus")
        eq(200, r.status)
        assert "consul_state_services" in r.text
        B.stop()
        B.start()
        wait_until(lambda: B.get("/v1/catalog/service/persisted").json(), timeout=5,
                   what="restored service synced")
        svcs = B.get("/v1/agent/services").json()
        eq(4242, svcs["persisted"]["Port"])
        assert "fromfile" in svcs
        checks = B.get("/v1/agent/checks").json()
        eq(("passing", "up"), (checks["service:persisted"]["Status"],
                               checks["service:persisted"]["Output"]))
        eq("rebooting", checks["_node_maintenance"]["Notes"])
        # leave: answered, then the agent stops
        eq(200, B.put("/v1/agent/leave").status)
        B.proc.wait(5)
        eq(0, B.proc.returncode)
    finally:
        B.cleanup()


if __name__ == "__main__":
    try:
        main()
    finally:
        A.cleanup()
