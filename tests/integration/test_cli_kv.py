#!/usr/bin/python3
"""`cairn kv` and `cairn version`: output lines and exit codes as Consul's CLI."""
import json
import os
import tempfile

from cairn_test import BIN, Agent, eq, main, test

A = Agent().start()


def ok(r):
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    return r.stdout.decode()


@test
def put_get_delete():
    eq("Success! Data written to: cli/a\n", ok(A.cli("kv", "put", "cli/a", "hello")))
    eq("hello\n", ok(A.cli("kv", "get", "cli/a")))
    eq("Success! Deleted key: cli/a\n", ok(A.cli("kv", "delete", "cli/a")))
    r = A.cli("kv", "get", "cli/a")
    eq(1, r.returncode)
    eq(b"Error! No key exists at: cli/a\n", r.stderr)


@test
def put_from_file_stdin_and_base64():
    with tempfile.NamedTemporaryFile() as f:
        f.write(b"from-file")
        f.flush()
        ok(A.cli("kv", "put", "cli/f", "@" + f.name))
    eq("from-file\n", ok(A.cli("kv", "get", "cli/f")))
    ok(A.cli("kv", "put", "cli/s", "-", input=b"from-stdin"))
    eq("from-stdin\n", ok(A.cli("kv", "get", "cli/s")))
    ok(A.cli("kv", "put", "-base64", "cli/b", "aGk="))
    eq("hi\n", ok(A.cli("kv", "get", "cli/b")))
    eq("aGk=\n", ok(A.cli("kv", "get", "-base64", "cli/b")))


@test
def flags_detailed_and_cas():
    ok(A.cli("kv", "put", "-flags=42", "cli/d", "v"))
    out = ok(A.cli("kv", "get", "-detailed", "cli/d"))
    lines = out.splitlines()
    eq(["CreateIndex", "Flags", "Key", "LockIndex", "ModifyIndex", "Session", "Value"],
       [l.split()[0] for l in lines])
    eq("Flags            42", lines[1])
    eq("Session          -", lines[5])
    idx = int(lines[4].split()[1])
    r = A.cli("kv", "put", "-cas", f"-modify-index={idx + 5}", "cli/d", "w")
    eq(1, r.returncode)
    eq(b"Error! Did not write to cli/d: CAS failed\n", r.stderr)
    eq("Success! Data written to: cli/d\n", ok(A.cli("kv", "put", "-cas", f"-modify-index={idx}", "cli/d", "w")))
    r = A.cli("kv", "put", "-cas", "cli/d", "w")
    eq(1, r.returncode)
    eq(b"Must specify -modify-index with -cas!\n", r.stderr)


@test
def recurse_keys_and_delete_recurse():
    for k in ["cli/t/a", "cli/t/b/c"]:
        ok(A.cli("kv", "put", k, k.upper()))
    eq("cli/t/a:CLI/T/A\ncli/t/b/c:CLI/T/B/C\n", ok(A.cli("kv", "get", "-recurse", "cli/t/")))
    eq("cli/t/a\ncli/t/b/\n", ok(A.cli("kv", "get", "-keys", "cli/t/")))
    eq("Success! Deleted keys with prefix: cli/t/\n", ok(A.cli("kv", "delete", "-recurse", "cli/t/")))
    eq("", ok(A.cli("kv", "get", "-recurse", "cli/t/")))


@test
def export_then_import_round_trips():
    ok(A.cli("kv", "put", "-flags=3", "exp/a", "one"))
    ok(A.cli("kv", "put", "exp/b", "two"))
    out = ok(A.cli("kv", "export", "exp/"))
    assert "\t{" in out  # tab-indented like consul kv export
    data = json.loads(out)
    eq([{"key": "exp/a", "flags": 3, "value": "b25l"}, {"key": "exp/b", "flags": 0, "value": "dHdv"}], data)
    ok(A.cli("kv", "delete", "-recurse", "exp/"))
    out = ok(A.cli("kv", "import", "-prefix=new/", "-", input=json.dumps(data).encode()))
    eq("Imported: new/exp/a\nImported: new/exp/b\n", out)
    eq("one\n", ok(A.cli("kv", "get", "new/exp/a")))


@test
def addresses_from_flags_and_env():
    ok(A.cli("kv", "put", "cli/env", "1"))
    # the flag beats the environment
    r = A.cli("kv", "get", "-http-addr", A.addr, "cli/env", env={"CONSUL_HTTP_ADDR": "127.0.0.1:1"})
    eq("1\n", ok(r))
    r = A.cli("kv", "get", "cli/env", env={"CONSUL_HTTP_ADDR": f"http://{A.addr}"})
    eq("1\n", ok(r))
    e = {"CONSUL_HTTP_ADDR": "", "CAIRN_HTTP_ADDR": A.addr}
    eq("1\n", ok(A.cli("kv", "get", "cli/env", env=e)))
    r = A.cli("kv", "get", "cli/env", env={"CONSUL_HTTP_ADDR": "127.0.0.1:1"})
    eq(1, r.returncode)
    assert b"Error querying Consul agent" in r.stderr, r.stderr


@test
def usage_errors_exit_1():
    r = A.cli("kv", "put")
    eq((1, b"Error! Missing KEY argument\n"), (r.returncode, r.stderr))
    r = A.cli("kv", "get", "-bogus")
    eq(1, r.returncode)
    r = A.cli("nonsense")
    assert r.returncode != 0


@test
def version_prints_consul_shaped_lines():
    out = ok(A.cli("version")).splitlines()
    assert out[0].startswith("Cairn v"), out
    assert out[1].startswith("Revision "), out
    assert out[3].startswith("Protocol 2 spoken by default"), out


if __name__ == "__main__":
    try:
        main()
    finally:
        A.cleanup()
