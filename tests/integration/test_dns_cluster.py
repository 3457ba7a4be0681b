#!/usr/bin/python3
"""DNS on a client agent (no -server): lookups go through the agent's own
HTTP API, which forwards them to a server; and on a non-dev server."""
import dns.message
import dns.query
import dns.rcode

from cairn_test import Cluster, eq, main, test, wait_until

C = Cluster(servers=1, clients=1).start()
S, CL = C.servers[0], C.clients[0]


def ask(agent, name, rdtype="A", tcp=False):
    m = dns.message.make_query(name, rdtype, use_edns=0, payload=4096)
    if tcp:
        return dns.query.tcp(m, "127.0.0.1", port=agent.dns_port, timeout=5)
    return dns.query.udp(m, "127.0.0.1", port=agent.dns_port, timeout=5)


def srv(agent, name):
    r = ask(agent, name, "SRV")
    if r.rcode() != dns.rcode.NOERROR:
        return r.rcode()
    return sorted((str(x.target), x.port) for rrset in r.answer for x in rrset)


r = CL.put("/v1/agent/service/register", {"Name": "web", "ID": "web1", "Port": 8080,
                                           "Check": {"TTL": "600s", "Status": "passing"}})
assert r.status == 200, r
r = CL.put("/v1/agent/service/register", {"Name": "web", "ID": "web2", "Port": 8081,
                                           "Address": "127.0.0.9"})
assert r.status == 200, r


@test
def client_agent_answers_through_the_servers():
    want = [("7f000009.addr.dc1.consul.", 8081), ("c1.node.dc1.consul.", 8080)]
    wait_until(lambda: srv(CL, "web.service.consul") == want, what="client DNS sees web")
    eq(want, srv(S, "web.service.consul"))
    r = ask(CL, "web.service.consul", "SRV", tcp=True)
    eq(2, len(r.answer[0]))
    eq(dns.rcode.NXDOMAIN, ask(CL, "nosuch.service.consul").rcode())


@test
def client_agent_nodes_apex_and_health():
    r = ask(CL, "c1.node.consul")
    eq(["127.0.0.1"], [x.to_text() for rrset in r.answer for x in rrset])
    eq(dns.rcode.NXDOMAIN, ask(CL, "nosuch.node.consul").rcode())
    # NS lists the `consul` service's instances, which the servers register
    # for themselves (with their node) once the cluster work does so.
    nodes = [n["Node"] for n in S.get("/v1/catalog/nodes").json()]
    r = ask(CL, "consul", "NS")
    want = ["s1.node.dc1.consul."] if "s1" in nodes else []
    eq(want, [x.to_text() for rrset in r.answer for x in rrset])
    eq(dns.rcode.NOERROR, r.rcode())
    r = CL.put("/v1/agent/check/fail/service:web1")
    assert r.status == 200, r
    wait_until(lambda: srv(CL, "web.service.consul") == [("7f000009.addr.dc1.consul.", 8081)],
               what="critical instance gone on the client")
    eq(dns.rcode.REFUSED, ask(CL, "example.com").rcode())


if __name__ == "__main__":
    try:
        main()
    finally:
        C.cleanup()
