#!/usr/bin/python3
"""`cairn catalog`, `cairn services` and `cairn maint` against a dev agent:
output lines and exit codes of agent-config-and-cli.md §5.3."""
import json
import os

from cairn_test import Agent, eq, main, test, wait_until

A = Agent().start()
wait_until(lambda: A.get("/v1/catalog/nodes").json(), what="self registration")
NODE = A.get("/v1/agent/self").json()["Config"]["NodeName"]


def run(*args):
    r = A.cli(*args)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


@test
def services_register_from_flags_and_files():
    rc, out, err = run("services", "register", "-name", "web", "-id", "web1", "-port", "80",
                       "-tag", "b", "-tag", "a", "-meta", "k=v")
    eq((0, "Registered service: web\n"), (rc, out), err)
    s = A.get("/v1/agent/services").json()["web1"]
    eq((["b", "a"], {"k": "v"}, 80), (s["Tags"], s["Meta"], s["Port"]))
    path = os.path.join(A.tmp, "svc.json")
    with open(path, "w") as f:
        json.dump({"services": [{"name": "api", "id": "api1", "port": 90, "tags": ["x"]},
                                {"name": "db", "port": 5432}]}, f)
    rc, out, _ = run("services", "register", path)
    eq((0, "Registered service: api\nRegistered service: db\n"), (rc, out))
    rc, _, err = run("services", "register")
    eq(1, rc)
    assert "-name" in err, err


@test
def catalog_listings():
    rc, out, _ = run("catalog", "datacenters")
    eq((0, "dc1\n"), (rc, out))
    rc, out, _ = run("catalog", "services")
    eq((0, "api\nconsul\ndb\nweb\n"), (rc, out))
    rc, out, _ = run("catalog", "services", "-tags")
    lines = out.splitlines()
    eq(0, rc)
    eq(["api         x", "consul", "db", "web         a,b"], lines)
    rc, out, _ = run("catalog", "services", "-node", NODE)
    eq((0, "api\nconsul\ndb\nweb\n"), (rc, out))
    rc, out, _ = run("catalog", "nodes")
    lines = out.splitlines()
    eq(0, rc)
    eq(["Node", "ID", "Address", "DC"], lines[0].split())
    node_id = A.get("/v1/agent/self").json()["Config"]["NodeID"]
    eq([NODE, node_id.split("-")[0], "127.0.0.1", "dc1"], lines[1].split())
    rc, out, _ = run("catalog", "nodes", "-detailed")
    assert node_id in out and "lan_ipv4=127.0.0.1" in out and "consul-network-segment=" in out, out
    rc, out, _ = run("catalog", "nodes", "-service", "api")
    eq(2, len(out.splitlines()))
    rc, out, err = run("catalog", "nodes", "-node-meta", "rack=none")
    eq((0, ""), (rc, out))
    assert "No nodes match" in err
    rc, out, err = run("catalog", "nodes", "-filter", "Node == nobody")
    assert "No nodes match" in err
    rc, _, err = run("catalog", "nodes", "-filter", "Bogus == 1")
    eq(1, rc)
    assert "Selector" in err, err


@test
def maintenance_commands():
    rc, out, _ = run("maint", "-enable", "-reason", "kernel update")
    eq((0, "Node maintenance is now enabled\n"), (rc, out))
    rc, out, _ = run("maint", "-enable", "-service", "web1")
    eq((0, 'Service maintenance is now enabled for "web1"\n'), (rc, out))
    rc, out, _ = run("maint")
    eq(0, rc)
    assert out.startswith(f"Node:\n  Name:   {NODE}\n  Reason: kernel update\n\n"), out
    assert "Service:\n  ID:     web1\n  Reason: Maintenance mode is enabled for this service" in out
    eq((0, "Node maintenance is now disabled\n"), run("maint", "-disable")[:2])
    eq((0, 'Service maintenance is now disabled for "web1"\n'),
       run("maint", "-disable", "-service", "web1")[:2])
    eq((0, ""), run("maint")[:2])
    rc, _, err = run("maint", "-enable", "-service", "nope")
    eq(1, rc)
    assert 'No service registered with ID "nope"' in err, err
    eq(1, run("maint", "-enable", "-disable")[0])


@test
def services_deregister():
    path = os.path.join(A.tmp, "svc.json")
    rc, out, _ = run("services", "deregister", path)
    eq((0, "Deregistered service: api1\nDeregistered service: db\n"), (rc, out))
    rc, out, _ = run("services", "deregister", "-id", "web1")
    eq((0, "Deregistered service: web1\n"), (rc, out))
    rc, _, err = run("services", "deregister", "-id", "web1")
    eq(1, rc)
    assert "Unknown service ID" in err, err
    eq([], A.get("/v1/catalog/service/web").json())


if __name__ == "__main__":
    try:
        main()
    finally:
        A.cleanup()
