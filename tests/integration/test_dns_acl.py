#!/usr/bin/python3
"""DNS under ACLs (default deny): answers follow the agent's DNS token
(acl.tokens.dns, else the default token, else anonymous); names the token
may not read are answered as if they did not exist."""
import dns.message
import dns.query
import dns.rcode

from cairn_test import Agent, eq, main, test, wait_until

ROOT_SECRET = "0b7c5d1e-3f2a-4c6b-8d9e-1a2b3c4d5e6f"
ROOT = {"X-Consul-Token": ROOT_SECRET}
A = Agent(config={"acl": {"enabled": True, "default_policy": "deny",
                          "tokens": {"initial_management": ROOT_SECRET}}}).start()
wait_until(lambda: A.get("/v1/acl/token/self", headers=ROOT).status == 200,
           what="the initial management token")

for node, addr, svc, port in (("n1", "10.0.0.1", "web", 8080), ("n2", "10.0.0.2", "secret", 9090)):
    r = A.put("/v1/catalog/register", {"Node": node, "Address": addr,
                                        "Service": {"Service": svc, "Port": port}}, headers=ROOT)
    assert r.status == 200, r


def token(rules):
    r = A.put("/v1/acl/policy", {"Name": f"p{abs(hash(rules))}", "Rules": rules}, headers=ROOT)
    assert r.status == 200, r
    r = A.put("/v1/acl/token", {"Policies": [{"Name": r.json()["Name"]}]}, headers=ROOT)
    assert r.status == 200, r
    return r.json()["SecretID"]


def set_dns_token(secret):
    r = A.put("/v1/agent/token/dns", {"Token": secret}, headers=ROOT)
    assert r.status == 200, r


def rcode(name, rdtype="SRV"):
    m = dns.message.make_query(name, rdtype)
    return dns.query.udp(m, "127.0.0.1", port=A.dns_port, timeout=5).rcode()


@test
def anonymous_sees_nothing():
    eq(dns.rcode.NXDOMAIN, rcode("web.service.consul"))
    eq(dns.rcode.NXDOMAIN, rcode("n1.node.consul", "A"))
    eq(dns.rcode.NOERROR, rcode("7f000001.addr.consul", "A"))  # no data read


@test
def the_dns_token_decides():
    set_dns_token(token('service "web" { policy = "read" }\nnode_prefix "" { policy = "read" }'))
    eq(dns.rcode.NOERROR, rcode("web.service.consul"))
    eq(dns.rcode.NXDOMAIN, rcode("secret.service.consul"))
    eq(dns.rcode.NOERROR, rcode("n2.node.consul", "A"))
    # service:read without node:read on the instance's node hides the instance
    set_dns_token(token('service_prefix "" { policy = "read" }\nnode "n1" { policy = "read" }'))
    eq(dns.rcode.NOERROR, rcode("web.service.consul"))
    eq(dns.rcode.NXDOMAIN, rcode("secret.service.consul"))
    eq(dns.rcode.NXDOMAIN, rcode("n2.node.consul", "A"))
    set_dns_token("")
    eq(dns.rcode.NXDOMAIN, rcode("web.service.consul"))


if __name__ == "__main__":
    try:
        main()
    finally:
        A.cleanup()
