#!/usr/bin/python3
"""Gossip encryption: a cluster started with `encrypt` (a key from `cairn
keygen`), an agent with the wrong key or none kept out, the keyring listed,
installed, used and removed through /v1/operator/keyring and `cairn keyring`
across every member of both pools, the keyring files surviving a restart,
and a second datacenter answering for its own LAN pool."""
import json
import os
import subprocess
import tempfile
import time

from cairn_test import BIN, Agent, Cluster, eq, main, test, wait_until


def keygen():
    r = subprocess.run([BIN, "keygen"], capture_output=True, check=True)
    key = r.stdout.decode().strip()
    eq(44, len(key), "keygen output")
    return key


K1, K2, K3 = keygen(), keygen(), keygen()
C = Cluster(servers=3, clients=1, extra=("-encrypt", K1)).start()
S1, C1 = C.servers[0], C.clients[0]


def alive(agent, wan=False):
    r = agent.get("/v1/agent/members" + ("?wan=1" if wan else ""))
    return sorted(m["Name"] for m in r.json() if m["Status"] == 1)


def lan_formed(agent=None):
    return alive(agent or S1) == ["c1", "s1", "s2", "s3"]


def keyring(agent=None, query=""):
    r = (agent or S1).get("/v1/operator/keyring" + query)
    eq(200, r.status, r.text)
    return r.json()


def pools(agent=None):
    """{"WAN" or "dc1 (LAN)": (Keys, NumNodes)}"""
    return {("WAN" if p["WAN"] else f"{p['Datacenter']} (LAN)"): (p["Keys"], p["NumNodes"])
            for p in keyring(agent)}


def stranger(key, name):
    """An agent outside the cluster trying to join it (key None: plaintext)."""
    data = tempfile.mkdtemp(prefix="cairn-stranger-")
    args = ["-node", name, "-data-dir", data, "-bind", "127.0.0.1",
            "-retry-join", f"127.0.0.1:{S1.serf_lan_port}", "-retry-interval", "1s"]
    if key:
        args += ["-encrypt", key]
    return Agent(*args, dev=False, wait_leader=False).start()


@test
def an_encrypted_cluster_forms():
    wait_until(lan_formed, timeout=20, what="four members")
    wait_until(lambda: alive(S1, wan=True) == ["s1.dc1", "s2.dc1", "s3.dc1"], timeout=20,
               what="three WAN members")
    eq(True, C1.put("/v1/kv/through-encrypted-gossip", "x").json())


@test
def a_wrong_key_or_no_key_cannot_join():
    wait_until(lan_formed, timeout=20, what="four members")
    for key, name in ((keygen(), "wrong-key"), (None, "no-key")):
        a = stranger(key, name)
        try:
            r = a.cli("join", f"127.0.0.1:{S1.serf_lan_port}")
            eq(1, r.returncode, f"{name} join: {r.stdout!r} {r.stderr!r}")
            time.sleep(2.5)  # its -retry-join (every second) keeps knocking
            eq([name], alive(a), f"{name} sees")
            eq(["c1", "s1", "s2", "s3"], alive(S1), f"s1 sees with {name} around")
        finally:
            a.cleanup()


@test
def keyring_list_through_http_and_cli():
    wait_until(lan_formed, timeout=20, what="four members")
    body = keyring()
    eq([True, False], [p["WAN"] for p in body])
    eq({"WAN": True, "Datacenter": "dc1", "Segment": "", "Keys": {K1: 3}, "NumNodes": 3}, body[0])
    eq({"WAN": False, "Datacenter": "dc1", "Segment": "", "Keys": {K1: 4}, "NumNodes": 4}, body[1])
    # ?local-only is checked, then every pool is listed anyway (Consul 1.7)
    eq(body, keyring(query="?local-only=true"))
    r = C.servers[1].cli("keyring", "-list")
    eq(0, r.returncode, r.stderr)
    eq("==> Gathering installed encryption keys...\n\nWAN:\n"
       f"  {K1} [3/3]\n\ndc1 (LAN):\n  {K1} [4/4]\n", r.stdout.decode())
    # a client agent does not run keyring operations (Consul's answer)
    r = C1.get("/v1/operator/keyring")
    eq((500, "keyring operations must run against a server node"), (r.status, r.text))
    r = C1.cli("keyring", "-list")
    eq(1, r.returncode)
    eq("error: Unexpected response code: 500 (keyring operations must run against a server "
       "node)\n", r.stderr.decode())


@test
def keyring_requests_are_checked_as_consul_checks_them():
    cases = [
        ("POST", "/v1/operator/keyring", b"", 400, "Request decode failed: EOF"),
        ("POST", "/v1/operator/keyring", b'{"Key": 1}', 400,
         "Request decode failed: json: cannot unmarshal number into Go struct field "
         "keyringArgs.Key of type string"),
        ("POST", "/v1/operator/keyring", b'{"Kee": "x"}', 400,
         'Request decode failed: json: unknown field "Kee"'),
        ("POST", "/v1/operator/keyring", b'[]', 400,
         "Request decode failed: json: cannot unmarshal array into Go value of type "
         "agent.keyringArgs"),
        ("GET", "/v1/operator/keyring?relay-factor=9", b"", 400,
         "Invalid relay-factor: Relay factor must be in range: [0, 5]"),
        ("GET", "/v1/operator/keyring?relay-factor=x", b"", 400,
         'Error parsing relay factor: strconv.Atoi: parsing "x": invalid syntax'),
        ("GET", "/v1/operator/keyring?local-only=maybe", b"", 400,
         'Error parsing local-only: strconv.ParseBool: parsing "maybe": invalid syntax'),
        ("PUT", "/v1/operator/keyring?local-only=true", json.dumps({"Key": K1}).encode(), 400,
         "Invalid use of local-only: local-only can only be set for list requests"),
    ]
    for method, path, body, status, text in cases:
        r = S1.request(method, path, body=body)
        eq(status, r.status, f"{method} {path} {body!r}: {r.text}")
        eq("Bad request: " + text, r.text, f"{method} {path} {body!r}")
    # not base64: every pool says so, nothing changes
    r = S1.request("POST", "/v1/operator/keyring", body={"Key": "not base64!"})
    eq((500, "2 errors occurred:\n\t* WAN error: illegal base64 data at input byte 3\n"
             "\t* dc1 (LAN) error: illegal base64 data at input byte 3\n\n"), (r.status, r.text))
    # a key of the wrong size: every member refuses it
    r = S1.request("POST", "/v1/operator/keyring", body={"Key": "AAAA"})
    eq(500, r.status)
    assert r.text.startswith("9 errors occurred:\n\t* WAN error: 3/3 nodes reported failure\n"), r.text
    assert "\t* c1: key size must be 16, 24 or 32 bytes\n" in r.text, r.text
    assert "\t* dc1 (LAN) error: 4/4 nodes reported failure\n" in r.text, r.text
    eq({"WAN": ({K1: 3}, 3), "dc1 (LAN)": ({K1: 4}, 4)}, pools())


@test
def install_use_remove_rotate_every_member_and_survive_a_restart():
    wait_until(lan_formed, timeout=20, what="four members")
    # install K2 (HTTP), on every member of both pools
    r = S1.request("POST", "/v1/operator/keyring", body={"Key": K2})
    eq((200, b""), (r.status, r.body))
    eq({"WAN": ({K1: 3, K2: 3}, 3), "dc1 (LAN)": ({K1: 4, K2: 4}, 4)}, pools(C.servers[2]))
    # the primary cannot be removed
    r = C.servers[1].cli("keyring", "-remove", K1)
    eq(1, r.returncode)
    eq("==> Removing gossip encryption key...\n", r.stdout.decode())
    err = r.stderr.decode()
    assert err.startswith("error: Unexpected response code: 500 (9 errors occurred:\n"
                          "\t* WAN error: 3/3 nodes reported failure\n"), err
    assert "\t* s2: Removing the primary key is not allowed\n" in err, err
    # use K2 (CLI), then remove K1 (HTTP)
    r = C.servers[1].cli("keyring", "-use", K2)
    eq((0, b"==> Changing primary gossip encryption key...\n", b""),
       (r.returncode, r.stdout, r.stderr))
    r = S1.request("DELETE", "/v1/operator/keyring", body={"Key": K1})
    eq((200, b""), (r.status, r.body))
    eq({"WAN": ({K2: 3}, 3), "dc1 (LAN)": ({K2: 4}, 4)}, pools())
    # install and remove K3 through the CLI
    r = S1.cli("keyring", "-install", K3)
    eq((0, b"==> Installing new gossip encryption key...\n"), (r.returncode, r.stdout))
    eq({"WAN": ({K2: 3, K3: 3}, 3), "dc1 (LAN)": ({K2: 4, K3: 4}, 4)}, pools())
    r = S1.cli("keyring", "-remove", K3)
    eq((0, b"==> Removing gossip encryption key...\n"), (r.returncode, r.stdout))
    eq(True, C1.put("/v1/kv/after-rotation", "y").json())
    # the keyring files hold the new key, primary first
    for a in C.agents():
        data = a.args[a.args.index("-data-dir") + 1]
        with open(os.path.join(data, "serf", "local.keyring")) as f:
            eq([K2], json.load(f), f"{a.args[a.args.index('-node') + 1]} local.keyring")
        wan = os.path.join(data, "serf", "remote.keyring")
        if a in C.servers:
            with open(wan) as f:
                eq([K2], json.load(f), "remote.keyring")
        else:
            assert not os.path.exists(wan), "a client has no WAN keyring"
    # restart a server and the client with `-encrypt K1` still in their
    # arguments: the keyring files win and they rejoin on K2
    for a in (C.servers[2], C1):
        a.kill()
        a.start()
    wait_until(lan_formed, timeout=30, what="the restarted agents to rejoin")
    wait_until(lambda: pools() == {"WAN": ({K2: 3}, 3), "dc1 (LAN)": ({K2: 4}, 4)}, timeout=20,
               what="one key everywhere after the restart")
    assert "keyring doesn't include key provided with -encrypt" in C1.output(), C1.output()
    # the old key no longer opens the door
    a = stranger(K1, "old-key")
    try:
        eq(1, a.cli("join", f"127.0.0.1:{S1.serf_lan_port}").returncode)
        eq(["c1", "s1", "s2", "s3"], alive(S1))
    finally:
        a.cleanup()


@test
def another_datacenter_answers_for_its_lan_pool():
    wait_until(lan_formed, timeout=20, what="four members")
    key = pools()["dc1 (LAN)"][0]
    primary = [k for k in key][0]
    data = tempfile.mkdtemp(prefix="cairn-dc2-")
    d2 = Agent("-node", "d2s1", "-datacenter", "dc2", "-server", "-bootstrap-expect=1",
               "-data-dir", data, "-bind", "127.0.0.1", "-encrypt", primary,
               "-retry-join-wan", f"127.0.0.1:{S1.serf_wan_port}", "-retry-interval-wan", "1s",
               dev=False)
    try:
        d2.start(timeout=20)
        wait_until(lambda: "d2s1.dc2" in alive(S1, wan=True), timeout=20, what="dc2 in the WAN")
        body = keyring()
        eq([(True, "dc1", 4), (False, "dc1", 4), (False, "dc2", 1)],
           [(p["WAN"], p["Datacenter"], p["NumNodes"]) for p in body])
        eq([{primary: 4}, {primary: 4}, {primary: 1}], [p["Keys"] for p in body])
        # install reaches dc2's pool too, then remove it again
        r = S1.request("POST", "/v1/operator/keyring", body={"Key": K3})
        eq((200, b""), (r.status, r.body))
        # dc2's server lists the WAN pool, its own LAN pool, then dc1's
        body = keyring(d2)
        eq([(True, "dc2"), (False, "dc2"), (False, "dc1")],
           [(p["WAN"], p["Datacenter"]) for p in body])
        eq([{primary: 4, K3: 4}, {primary: 1, K3: 1}, {primary: 4, K3: 4}],
           [p["Keys"] for p in body])
        r = d2.request("DELETE", "/v1/operator/keyring", body={"Key": K3})
        eq((200, b""), (r.status, r.body))
        eq([{primary: 4}, {primary: 4}, {primary: 1}], [p["Keys"] for p in keyring()])
    finally:
        d2.cleanup()


if __name__ == "__main__":
    try:
        main()
    finally:
        C.cleanup()
