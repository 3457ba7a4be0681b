#!/usr/bin/python3
"""/v1/catalog over raw HTTP: registration semantics, the JSON shapes of
shared/spec/http-api.md §2, index rules, ?node-meta, ?tag, ?filter."""
import json
import threading
import time

from cairn_test import Agent, eq, main, test, wait_until

A = Agent().start()


def node_name():
    return A.get("/v1/agent/self").json()["Config"]["NodeName"]


def reg(body):
    r = A.put("/v1/catalog/register", body)
    assert r.status == 200, r
    eq(True, r.json())


wait_until(lambda: A.get("/v1/catalog/nodes").json(), what="self registration")


@test
def self_registration_node_serf_health_and_consul_service():
    r = A.get("/v1/catalog/nodes")
    assert int(r.header("X-Consul-Index")) > 1
    nodes = r.json()
    me = [n for n in nodes if n["Node"] == node_name()][0]
    eq(["ID", "Node", "Address", "Datacenter", "TaggedAddresses", "Meta", "CreateIndex",
        "ModifyIndex"], list(me))
    eq("127.0.0.1", me["TaggedAddresses"]["lan_ipv4"])
    eq("", me["Meta"]["consul-network-segment"])
    svc = A.get("/v1/catalog/service/consul").json()
    eq(1, len(svc))
    eq(A.server_port, svc[0]["ServicePort"])
    eq([], svc[0]["ServiceTags"])
    checks = A.get("/v1/health/node/" + node_name()).json()
    serf = [c for c in checks if c["CheckID"] == "serfHealth"][0]
    eq("passing", serf["Status"])
    eq("Agent alive and reachable", serf["Output"])
    eq("Serf Health Status", serf["Name"])
    eq({"consul": []}, {k: v for k, v in A.get("/v1/catalog/services").json().items() if k == "consul"})


@test
def register_node_service_and_check_shapes():
    reg({"Node": "ext1", "Address": "10.1.1.1", "NodeMeta": {"env": "prod"},
         "TaggedAddresses": {"wan": "1.2.3.4"},
         "Service": {"Service": "db", "Port": 5432, "Tags": ["primary", "v1"],
                     "Meta": {"version": "14"}},
         "Check": {"CheckID": "db-alive", "Name": "db alive", "Status": "passing",
                   "ServiceID": "db", "Definition": {"TCP": "10.1.1.1:5432", "Interval": "5s"}}})
    rows = A.get("/v1/catalog/service/db").json()
    eq(1, len(rows))
    row = rows[0]
    eq(["ID", "Node", "Address", "Datacenter", "TaggedAddresses", "NodeMeta", "ServiceKind",
        "ServiceID", "ServiceName", "ServiceTags", "ServiceAddress", "ServiceWeights",
        "ServiceMeta", "ServicePort", "ServiceSocketPath", "ServiceEnableTagOverride",
        "ServiceProxy", "ServiceConnect", "CreateIndex", "ModifyIndex"], list(row))
    eq("db", row["ServiceID"])  # ID defaults to the name
    eq({"Passing": 1, "Warning": 1}, row["ServiceWeights"])
    eq({"MeshGateway": {}, "Expose": {}}, row["ServiceProxy"])
    eq({"env": "prod"}, row["NodeMeta"])
    node = A.get("/v1/catalog/node/ext1").json()
    eq(["Node", "Services"], list(node))
    ns = node["Services"]["db"]
    eq(["ID", "Service", "Tags", "Address", "Meta", "Port", "Weights", "EnableTagOverride",
        "Proxy", "Connect", "PeerName", "CreateIndex", "ModifyIndex"], list(ns))
    lst = A.get("/v1/catalog/node-services/ext1").json()
    eq("db", lst["Services"][0]["ID"])
    chk = A.get("/v1/health/checks/db").json()[0]
    eq(["Node", "CheckID", "Name", "Status", "Notes", "Output", "ServiceID", "ServiceName",
        "ServiceTags", "Type", "Interval", "Timeout", "ExposedPort", "Definition",
        "CreateIndex", "ModifyIndex"], list(chk))
    eq("tcp", chk["Type"])
    eq(["primary", "v1"], chk["ServiceTags"])
    eq({"Interval": "5s", "TCP": "10.1.1.1:5432"}, chk["Definition"])


@test
def a_node_without_maps_prints_null_and_unknown_node_is_null():
    reg({"Node": "bare", "Address": "10.9.9.9"})
    n = A.get("/v1/catalog/node/bare").json()["Node"]
    eq(None, n["TaggedAddresses"])
    eq(None, n["Meta"])
    r = A.get("/v1/catalog/node/no-such-node")
    eq(200, r.status)
    eq(None, r.json())
    assert int(r.header("X-Consul-Index")) >= 1
    r = A.get("/v1/catalog/node-services/no-such-node")
    eq(None, r.json())


@test
def identical_reregistration_keeps_indexes():
    body = {"Node": "same", "Address": "10.2.2.2",
            "Service": {"ID": "s1", "Service": "same-svc", "Port": 1}}
    reg(body)
    first = A.get("/v1/catalog/service/same-svc")
    reg(body)
    second = A.get("/v1/catalog/service/same-svc")
    eq(first.json()[0]["ModifyIndex"], second.json()[0]["ModifyIndex"])
    eq(first.header("X-Consul-Index"), second.header("X-Consul-Index"))
    body["Service"]["Port"] = 2
    reg(body)
    third = A.get("/v1/catalog/service/same-svc").json()[0]
    assert third["ModifyIndex"] > first.json()[0]["ModifyIndex"]
    eq(first.json()[0]["CreateIndex"], third["CreateIndex"])


@test
def services_map_unions_tags_and_tag_filters_are_case_insensitive_and_anded():
    reg({"Node": "t1", "Address": "10.3.0.1",
         "Service": {"ID": "api1", "Service": "api", "Tags": ["b", "a"]}})
    reg({"Node": "t2", "Address": "10.3.0.2",
         "Service": {"ID": "api2", "Service": "api", "Tags": ["a", "c"]}})
    eq(["a", "b", "c"], A.get("/v1/catalog/services").json()["api"])
    eq(2, len(A.get("/v1/catalog/service/api?tag=A").json()))
    eq(["api1"], [s["ServiceID"] for s in A.get("/v1/catalog/service/api?tag=a&tag=b").json()])
    eq([], A.get("/v1/catalog/service/api?tag=zzz").json())
    eq(2, len(A.get("/v1/catalog/service/API").json()))  # names match case-insensitively


@test
def node_meta_filters():
    reg({"Node": "m1", "Address": "10.4.0.1", "NodeMeta": {"rack": "r1"},
         "Service": {"Service": "metasvc"}})
    reg({"Node": "m2", "Address": "10.4.0.2", "NodeMeta": {"rack": "r2"},
         "Service": {"Service": "metasvc"}})
    eq(["m1"], [n["Node"] for n in A.get("/v1/catalog/nodes?node-meta=rack:r1").json()])
    eq(["m2"], [s["Node"] for s in A.get("/v1/catalog/service/metasvc?node-meta=rack:r2").json()])
    eq([], A.get("/v1/catalog/nodes?node-meta=rack:r1&node-meta=rack:r2").json())
    eq(["m1"], [r["Node"]["Node"] for r in
                A.get("/v1/health/service/metasvc?node-meta=rack:r1").json()])


@test
def filter_expressions_and_their_errors():
    eq(["m1"], [n["Node"] for n in
                A.get('/v1/catalog/nodes?filter=Meta.rack%20%3D%3D%20r1').json()])
    eq(["api1"], [s["ServiceID"] for s in
                  A.get('/v1/catalog/service/api?filter=%22b%22%20in%20ServiceTags').json()])
    q = 'ServiceTags contains "a" and not (Node == t1)'
    eq(["api2"], [s["ServiceID"] for s in
                  A.get("/v1/catalog/service/api?filter=" + q.replace(" ", "%20")
                        .replace('"', "%22")).json()])
    eq(["t1", "t2"], sorted(n["Node"] for n in A.get(
        "/v1/catalog/nodes?filter=Node%20matches%20%22%5Et%5B0-9%5D%24%22").json()))
    r = A.get("/v1/catalog/nodes?filter=Nope%20%3D%3D%201")
    eq(400, r.status)
    assert r.text.startswith("Failed to create boolean expression evaluator"), r.text
    assert 'Selector "Nope" is not valid' in r.text, r.text
    r = A.get("/v1/catalog/nodes?filter=Node%20%3D%3D")
    eq(400, r.status)
    r = A.get("/v1/catalog/service/api?filter=ServiceTags%20%3D%3D%20a")
    eq(400, r.status)
    assert "Invalid match operator" in r.text, r.text
    r = A.get("/v1/catalog/service/api?filter=ServicePort%20%3D%3D%20abc")
    eq(400, r.status)
    assert "Failed to coerce value" in r.text, r.text


@test
def deregistration_scopes_and_extinction_index():
    reg({"Node": "d1", "Address": "10.5.0.1", "Service": {"ID": "x1", "Service": "xsvc"},
         "Checks": [{"CheckID": "nodecheck", "Name": "n", "Status": "passing"},
                    {"CheckID": "svccheck", "Name": "s", "ServiceID": "x1",
                     "Status": "passing"}]})
    before = int(A.get("/v1/catalog/service/xsvc").header("X-Consul-Index"))
    r = A.put("/v1/catalog/deregister", {"Node": "d1", "CheckID": "nodecheck"})
    eq(True, r.json())
    eq(["svccheck"], [c["CheckID"] for c in A.get("/v1/health/node/d1").json()])
    eq(True, A.put("/v1/catalog/deregister", {"Node": "d1", "ServiceID": "x1"}).json())
    eq([], A.get("/v1/health/node/d1").json())  # its checks went with it
    r = A.get("/v1/catalog/service/xsvc")
    eq([], r.json())
    assert int(r.header("X-Consul-Index")) > before  # never goes backwards
    eq(True, A.put("/v1/catalog/deregister", {"Node": "d1"}).json())
    eq(None, A.get("/v1/catalog/node/d1").json())
    # absent things: no-ops
    eq(True, A.put("/v1/catalog/deregister", {"Node": "d1", "ServiceID": "nothing"}).json())


@test
def register_errors_are_consuls():
    r = A.put("/v1/catalog/register", {"Address": "1.2.3.4"})
    eq(500, r.status)
    eq("Must provide node", r.text)
    r = A.put("/v1/catalog/register", {"Node": "noaddr"})
    eq(500, r.status)
    eq("Must provide address if SkipNodeUpdate is not set", r.text)
    r = A.put("/v1/catalog/register", {"Node": "n", "Address": "1.1.1.1", "Bogus": 1})
    eq(400, r.status)
    eq('Request decode failed: json: unknown field "Bogus"', r.text)
    r = A.put("/v1/catalog/register", "{not json")
    eq(400, r.status)
    assert r.text.startswith("Request decode failed: "), r.text
    r = A.put("/v1/catalog/register", {"Node": "n9", "Address": "1.1.1.1",
                                       "Check": {"Name": "c", "ServiceID": "nope"}})
    eq(500, r.status)
    r = A.put("/v1/catalog/register", {"Node": "n9", "Address": "1.1.1.1",
                                       "Service": {"Service": "s", "Address": "0.0.0.0"}})
    eq(500, r.status)
    eq("Invalid service address", r.text)
    r = A.get("/v1/catalog/service/")
    eq(400, r.status)
    eq("Missing service name", r.text)
    eq(405, A.get("/v1/catalog/register").status)
    r = A.put("/v1/catalog/deregister", {"ServiceID": "x"})
    eq(500, r.status)
    # python3-consul's lowercase keys and WriteRequest
    r = A.put("/v1/catalog/register", {"node": "lower", "address": "10.6.0.1",
                                       "service": {"service": "lowsvc", "port": 9},
                                       "WriteRequest": {"Token": ""}})
    eq(200, r.status, r.text)
    eq(9, A.get("/v1/catalog/service/lowsvc").json()[0]["ServicePort"])


@test
def datacenters_and_mesh_stubs():
    eq(["dc1"], A.get("/v1/catalog/datacenters").json())
    eq([], A.get("/v1/catalog/connect/db").json())


@test
def blocking_service_query_wakes_for_its_service_only():
    reg({"Node": "b1", "Address": "10.7.0.1", "Service": {"Service": "blocked"}})
    idx = A.get("/v1/catalog/service/blocked").header("X-Consul-Index")
    out = {}

    def waiter():
        t0 = time.time()
        out["r"] = A.get(f"/v1/catalog/service/blocked?index={idx}&wait=5s")
        out["t"] = time.time() - t0

    th = threading.Thread(target=waiter)
    th.start()
    time.sleep(0.3)
    A.put("/v1/kv/noise", "x")
    reg({"Node": "b2", "Address": "10.7.0.2", "Service": {"Service": "other"}})
    time.sleep(0.3)
    assert "r" not in out, "woke up for an unrelated write"
    reg({"Node": "b3", "Address": "10.7.0.3", "Service": {"Service": "blocked"}})
    th.join(5)
    assert out["t"] < 3, out
    eq(2, len(out["r"].json()))
    assert int(out["r"].header("X-Consul-Index")) > int(idx)


if __name__ == "__main__":
    try:
        main()
    finally:
        A.cleanup()
