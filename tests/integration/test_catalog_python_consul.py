#!/usr/bin/python3
"""python3-consul 0.7.1 (Debian's package, a real third-party client)
against cairn's agent, catalog and health APIs: lowercase keys, GET on the
deregister/pass/warn/fail routes, legacy "script", WriteRequest."""
import consul

from cairn_test import Agent, eq, main, test, wait_until

A = Agent(config={"enable_script_checks": True}).start()
C = consul.Consul(host="127.0.0.1", port=A.http_port)
NODE = C.agent.self()["Config"]["NodeName"]


@test
def agent_service_register_lists_and_reaches_the_catalog_at_once():
    eq(True, C.agent.service.register("web", service_id="web1", address="127.0.0.1", port=8080,
                                      tags=["v1", "blue"], enable_tag_override=True))
    svcs = C.agent.services()
    eq("web", svcs["web1"]["Service"])
    eq(["v1", "blue"], svcs["web1"]["Tags"])
    eq(8080, svcs["web1"]["Port"])
    eq(True, svcs["web1"]["EnableTagOverride"])
    # synchronous push: the catalog has it when register returned
    index, nodes = C.catalog.service("web")
    eq(["web1"], [n["ServiceID"] for n in nodes])
    assert int(index) > 1
    _, rows = C.health.service("web")
    eq(NODE, rows[0]["Node"]["Node"])
    eq("web1", rows[0]["Service"]["ID"])
    eq(["serfHealth"], [c["CheckID"] for c in rows[0]["Checks"]])


@test
def ttl_check_pass_warn_fail_with_notes_over_get():
    eq(True, C.agent.service.register("api", service_id="api1", port=9000,
                                      check=consul.Check.ttl("30s")))
    checks = C.agent.checks()
    eq("critical", checks["service:api1"]["Status"])
    eq("Service 'api' check", checks["service:api1"]["Name"])
    eq(True, C.agent.check.ttl_pass("service:api1", "all good"))
    eq("passing", C.agent.checks()["service:api1"]["Status"])
    eq("all good", C.agent.checks()["service:api1"]["Output"])
    _, rows = C.health.service("api", passing=True)
    eq(1, len(rows))
    eq(True, C.agent.check.ttl_warn("service:api1", "meh"))
    _, rows = C.health.service("api", passing=True)
    eq([], rows)
    _, checks = C.health.checks("api")
    eq("warning", checks[0]["Status"])
    eq(True, C.agent.check.ttl_fail("service:api1"))
    _, crit = C.health.state("critical")
    assert "service:api1" in [c["CheckID"] for c in crit]
    # pass on a check that is not a TTL check: Consul's 500 text
    eq(True, C.agent.check.register("notttl", check=consul.Check.tcp("127.0.0.1", 1, "10s")))
    try:
        C.agent.check.ttl_pass("notttl")
        raise AssertionError("expected an error")
    except consul.ConsulException as e:
        assert 'CheckID "notttl" does not have associated TTL' in str(e), e
    eq(True, C.agent.check.deregister("notttl"))


@test
def check_register_with_lowercase_keys_and_deregister_over_get():
    eq(True, C.agent.check.register("disk", check=consul.Check.ttl("10s"), check_id="disk1",
                                    notes="watch the disk"))
    c = C.agent.checks()["disk1"]
    eq("disk", c["Name"])
    eq("watch the disk", c["Notes"])
    eq("", c["ServiceID"])
    eq(True, C.agent.check.register("apicheck", check=consul.Check.ttl("10s"),
                                    service_id="api1"))
    eq("api1", C.agent.checks()["apicheck"]["ServiceID"])
    eq(False, C.agent.check.register("orphan", check=consul.Check.ttl("10s"),
                                     service_id="no-such-service"))
    eq(True, C.agent.check.deregister("disk1"))
    eq(True, C.agent.check.deregister("apicheck"))
    assert "disk1" not in C.agent.checks()
    _, node_checks = C.health.node(NODE)
    assert "disk1" not in [x["CheckID"] for x in node_checks]


@test
def legacy_script_check_runs_through_the_shell():
    eq(True, C.agent.service.register("scripted", check=consul.Check.script("echo hi; exit 1",
                                                                          "1s")))
    wait_until(lambda: C.agent.checks()["service:scripted"]["Status"] == "warning", timeout=5,
               what="script check result")
    eq("hi\n", C.agent.checks()["service:scripted"]["Output"])
    eq(True, C.agent.service.deregister("scripted"))


@test
def service_deregister_over_get_removes_service_and_checks():
    eq(True, C.agent.service.register("gone", check=consul.Check.ttl("10s")))
    eq(True, C.agent.service.deregister("gone"))
    assert "gone" not in C.agent.services()
    assert "service:gone" not in C.agent.checks()
    eq([], C.catalog.service("gone")[1])
    # unknown: 404 -> False
    eq(False, C.agent.service.deregister("never-was"))


@test
def maintenance_modes():
    eq(True, C.agent.service.register("maint-svc", port=1))
    eq(True, C.agent.service.maintenance("maint-svc", "true", "upgrading"))
    c = C.agent.checks()["_service_maintenance:maint-svc"]
    eq("critical", c["Status"])
    eq("upgrading", c["Notes"])
    eq("Service Maintenance Mode", c["Name"])
    _, rows = C.health.service("maint-svc", passing=True)
    eq([], rows)
    eq(True, C.agent.service.maintenance("maint-svc", "false"))
    assert "_service_maintenance:maint-svc" not in C.agent.checks()
    eq(True, C.agent.maintenance("true"))
    c = C.agent.checks()["_node_maintenance"]
    assert c["Notes"].startswith("Maintenance mode is enabled for this node"), c
    _, rows = C.health.service("web", passing=True)
    eq([], rows)  # a node check critical takes every instance out
    eq(True, C.agent.maintenance("false"))
    _, rows = C.health.service("web", passing=True)
    eq(1, len(rows))


@test
def catalog_register_deregister_with_python_consul():
    eq(True, C.catalog.register("ext-node", "10.0.0.9",
                                service={"Service": "extsvc", "ID": "e1", "Tags": ["x"],
                                         "Port": 123},
                                check={"Node": "ext-node", "CheckID": "e1-check",
                                       "Name": "ext check", "Notes": "", "Status": "passing",
                                       "ServiceID": "e1"}))
    index, nodes = C.catalog.nodes()
    assert "ext-node" in [n["Node"] for n in nodes]
    _, svcs = C.catalog.services()
    eq(["x"], svcs["extsvc"])
    _, node = C.catalog.node("ext-node")
    eq(123, node["Services"]["e1"]["Port"])
    _, rows = C.health.service("extsvc", passing=True)
    eq(1, len(rows))
    eq(True, C.catalog.deregister("ext-node", service_id="e1"))
    eq([], C.catalog.service("extsvc")[1])
    eq(True, C.catalog.deregister("ext-node"))
    eq(None, C.catalog.node("ext-node")[1])
    eq(["dc1"], C.catalog.datacenters())


@test
def members_join_and_force_leave():
    members = C.agent.members()
    eq([NODE], [m["Name"] for m in members])
    eq(1, members[0]["Status"])
    # no gossip yet: join fails the way a failed join does (500 -> exception)
    try:
        C.agent.join("127.0.0.1:1")
        raise AssertionError("join should fail")
    except consul.ConsulException as e:
        assert "Failed to join" in str(e), e


@test
def blocking_health_service_with_python_consul():
    index, _ = C.health.service("web")
    import threading
    out = {}

    def waiter():
        out["r"] = C.health.service("web", index=index, wait="5s")

    t = threading.Thread(target=waiter)
    t.start()
    C.agent.service.register("web", service_id="web2", port=8081)
    t.join(6)
    new_index, rows = out["r"]
    assert int(new_index) > int(index)
    eq(["web1", "web2"], sorted(r["Service"]["ID"] for r in rows))


if __name__ == "__main__":
    try:
        main()
    finally:
        A.cleanup()
