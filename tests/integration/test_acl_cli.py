#!/usr/bin/python3
"""`cairn acl ...`: bootstrap, tokens, policies, set-agent-token, with the
token from -token and from CONSUL_HTTP_TOKEN, in pretty and JSON formats."""
import json
import os
import re
import tempfile

from cairn_test import Agent, eq, main, test

A = Agent(config={"acl": {"enabled": True, "default_policy": "deny"}}).start()
BOOT = {}


def cli(*args, token=None, env_token=None):
    env = {"CONSUL_HTTP_TOKEN": env_token} if env_token else {}
    argv = list(args) + (["-token", token] if token else [])
    r = A.cli(*argv, env=env)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def field(text, name):
    m = re.search(rf"^{re.escape(name)}:\s+(.*)$", text, re.M)
    return m.group(1) if m else None


def root():
    if not BOOT:
        rc, out, err = cli("acl", "bootstrap", "-format", "json")
        eq(0, rc, err)
        BOOT.update(json.loads(out))
    return BOOT["SecretID"]


@test
def bootstrap_pretty_then_refused():
    rc, out, err = cli("acl", "bootstrap")
    eq(0, rc, err)
    BOOT["SecretID"] = field(out, "SecretID")
    BOOT["AccessorID"] = field(out, "AccessorID")
    eq("Bootstrap Token (Global Management)", field(out, "Description"), "description")
    eq("false", field(out, "Local"), "local")
    assert field(out, "Create Time").endswith("+0000 UTC"), out
    assert "Policies:\n   00000000-0000-0000-0000-000000000001 - global-management" in out, out
    rc, out, err = cli("acl", "bootstrap")
    eq(1, rc, "second bootstrap fails")
    assert "Failed ACL bootstrapping: Unexpected response code: 403 (Permission denied: ACL " \
           "bootstrap no longer allowed (reset index: " in err, err


@test
def policy_create_from_a_file_read_update_list_delete():
    tok = root()
    with tempfile.NamedTemporaryFile("w", suffix=".hcl", delete=False) as f:
        f.write('key_prefix "cli/" {\n  policy = "write"\n}\n')
        path = f.name
    try:
        rc, out, err = cli("acl", "policy", "create", "-name", "cli-write", "-description", "d",
                           "-rules", "@" + path, token=tok)
    finally:
        os.unlink(path)
    eq(0, rc, err)
    pid = field(out, "ID")
    eq("cli-write", field(out, "Name"), "name")
    assert 'key_prefix "cli/"' in out.split("Rules:\n", 1)[1], out
    rc, out, err = cli("acl", "policy", "read", "-name", "cli-write", env_token=tok)
    eq(0, rc, err)
    eq(pid, field(out, "ID"), "read by name with CONSUL_HTTP_TOKEN")
    rc, out, err = cli("acl", "policy", "update", "-id", pid, "-description", "new",
                       "-valid-datacenter", "dc1", token=tok)
    eq(0, rc, err)
    eq("new", field(out, "Description"), "updated")
    eq("dc1", field(out, "Datacenters"), "datacenters")
    rc, out, err = cli("acl", "policy", "list", token=tok)
    eq(0, rc, err)
    assert "cli-write:\n   ID:           " + pid in out, out
    assert "global-management:" in out, out
    rc, out, err = cli("acl", "policy", "list", "-format", "json", token=tok)
    assert any(p["Name"] == "cli-write" for p in json.loads(out)), out
    rc, out, err = cli("acl", "policy", "create", "-name", "cli-bad", "-rules",
                       'key "x" { policy = "bogus" }', token=tok)
    eq(1, rc, "bad rules")
    assert "400" in err and "At 1:20" in err, err
    rc, out, err = cli("acl", "policy", "create", "-name", "nope", "-rules", "")
    eq(1, rc, "anonymous cannot create")
    assert "403 (Permission denied)" in err, err
    rc, out, err = cli("acl", "policy", "delete", "-name", "cli-write", token=tok)
    eq(0, rc, err)
    eq(f'Policy "{pid}" deleted successfully', out.strip(), "delete")


@test
def token_create_read_update_clone_list_delete():
    tok = root()
    cli("acl", "policy", "create", "-name", "cli-kv", "-rules",
        'key_prefix "cli/" { policy = "write" }', token=tok)
    rc, out, err = cli("acl", "token", "create", "-description", "cli token", "-policy-name",
                       "cli-kv", "-service-identity", "web:dc1", "-node-identity", "n1:dc1",
                       token=tok)
    eq(0, rc, err)
    acc, sec = field(out, "AccessorID"), field(out, "SecretID")
    assert re.search(r"^   [0-9a-f-]{36} - cli-kv$", out, re.M), out
    assert "Service Identities:\n   web (Datacenters: dc1)" in out, out
    assert "Node Identities:\n   n1 (Datacenter: dc1)" in out, out
    # the new token works through the KV CLI
    r = A.cli("kv", "put", "cli/x", "1", env={"CONSUL_HTTP_TOKEN": sec})
    eq(0, r.returncode, r.stderr)
    r = A.cli("kv", "put", "other/x", "1", env={"CONSUL_HTTP_TOKEN": sec})
    eq(1, r.returncode, "outside the prefix")
    rc, out, err = cli("acl", "token", "read", "-id", acc, token=tok)
    eq(0, rc, err)
    eq(sec, field(out, "SecretID"), "read")
    rc, out, err = cli("acl", "token", "read", "-self", token=sec)
    eq(acc, field(out, "AccessorID"), "self")
    rc, out, err = cli("acl", "token", "update", "-id", acc, "-description", "renamed", token=tok)
    eq(0, rc, err)
    assert out.startswith("Token updated successfully.\n"), out
    eq("renamed", field(out, "Description"), "renamed")
    assert " - cli-kv" in out, "policies kept without policy flags: " + out
    rc, out, err = cli("acl", "token", "clone", "-id", acc, "-description", "twin", token=tok)
    eq(0, rc, err)
    twin = field(out, "AccessorID")
    assert twin and twin != acc, out
    rc, out, err = cli("acl", "token", "list", token=tok)
    eq(0, rc, err)
    for a in (acc, twin, BOOT["AccessorID"], "00000000-0000-0000-0000-000000000002"):
        assert "AccessorID:       " + a in out, (a, out)
    rc, out, err = cli("acl", "token", "list", "-format", "json", token=tok)
    assert len(json.loads(out)) >= 4, out
    rc, out, err = cli("acl", "token", "delete", "-id", twin, token=tok)
    eq(0, rc, err)
    eq(f'Token "{twin}" deleted successfully', out.strip(), "delete")
    rc, out, err = cli("acl", "token", "read", "-id", twin, token=tok)
    eq(1, rc, "deleted")


@test
def set_agent_token_default():
    tok = root()
    rc, out, err = cli("acl", "token", "create", "-description", "dflt", "-policy-name", "cli-kv",
                       "-format", "json", token=tok)
    eq(0, rc, err)
    sec = json.loads(out)["SecretID"]
    rc, out, err = cli("acl", "set-agent-token", "default", sec, env_token=tok)
    eq(0, rc, err)
    eq('ACL token "default" set successfully', out.strip(), "message")
    r = A.cli("kv", "put", "cli/by-default", "1")
    eq(0, r.returncode, r.stderr)
    rc, out, err = cli("acl", "set-agent-token", "default", "")
    eq(1, rc, "the default token (no acl:write) cannot set tokens")
    assert "403" in err, err
    rc, out, err = cli("acl", "set-agent-token", "bogus", "x", env_token=tok)
    eq(1, rc, "unknown type")


if __name__ == "__main__":
    try:
        main()
    finally:
        A.cleanup()
