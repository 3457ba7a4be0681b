#!/usr/bin/python3
"""Snapshots for users: GET/PUT /v1/snapshot and `cairn snapshot`.

The archive is checked with Python's own tarfile/gzip/hashlib (the format is
Consul's: meta.json, state.bin, SHA256SUMS); restores are checked for the old
data coming back everywhere, indexes that never go backwards, blocked
queries waking, refusal of damaged archives with nothing changed, ACLs,
durability across a kill -9, and a 3-server cluster restored through a
follower."""
import base64
import hashlib
import io
import json
import os
import signal
import tarfile
import tempfile
import threading
import time

from cairn_test import Agent, Cluster, eq, main, test, wait_until

_dev = None


def dev():
    global _dev
    if _dev is None:
        _dev = Agent().start()
    return _dev


def kv_index(a, path="/v1/kv/?recurse", **kw):
    return int(a.get(path, **kw).header("X-Consul-Index"))


def raw(a, key, stale=False):
    r = a.get(f"/v1/kv/{key}?raw" + ("&stale" if stale else ""))
    return r.body.decode() if r.status == 200 else None


def values(entries):
    return {e["Key"]: base64.b64decode(e["Value"]).decode() for e in entries}


def members(archive):
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as t:
        return [(m.name, t.extractfile(m).read()) for m in t.getmembers()]


def save(a, query=""):
    r = a.get("/v1/snapshot" + query)
    eq(200, r.status, r.text if r.status != 200 else "")
    return r


@test
def archive_is_consuls_layout_and_verifies_with_python():
    a = dev()
    a.put("/v1/kv/layout/a", "1")
    r = save(a)
    eq("application/x-gzip", r.header("Content-Type"))
    eq("true", r.header("X-Consul-Knownleader"))
    files = members(r.body)
    eq(["meta.json", "state.bin", "SHA256SUMS"], [n for n, _ in files])
    content = dict(files)
    meta = json.loads(content["meta.json"])
    eq(1, meta["Version"])
    eq(len(content["state.bin"]), meta["Size"])
    eq(int(r.header("X-Consul-Index")), meta["Index"])
    assert meta["ID"].startswith(f"{meta['Term']}-{meta['Index']}-"), meta["ID"]
    eq(1, len(meta["Configuration"]["Servers"]))
    assert content["meta.json"].endswith(b"}\n")
    assert content["state.bin"].startswith(b"CNST")
    sums = {}
    for line in content["SHA256SUMS"].decode().splitlines():
        digest, name = line.split("  ")
        sums[name] = digest
    eq({"meta.json": hashlib.sha256(content["meta.json"]).hexdigest(),
        "state.bin": hashlib.sha256(content["state.bin"]).hexdigest()}, sums)


@test
def dev_agent_save_write_restore_brings_the_old_data_back():
    a = dev()
    a.put("/v1/kv/r/a", "old-a")
    a.put("/v1/kv/r/b", "old-b")
    a.put("/v1/agent/service/register", {"Name": "saved-svc", "Port": 1})
    wait_until(lambda: "saved-svc" in a.get("/v1/catalog/services").json(), what="service synced")
    archive = save(a).body
    snap_index = json.loads(dict(members(archive))["meta.json"])["Index"]

    a.put("/v1/kv/r/a", "new-a")
    a.delete("/v1/kv/r/b")
    a.put("/v1/kv/r/c", "new-c")
    before = kv_index(a)
    assert before > snap_index
    # a query blocked on r/a's current index must wake with the restored value
    idx_a = int(a.get("/v1/kv/r/a").header("X-Consul-Index"))
    woke = {}

    def blocked():
        r = a.get(f"/v1/kv/r/a?index={idx_a}&wait=30s")
        woke["r"], woke["t"] = r, time.time()

    t = threading.Thread(target=blocked)
    t.start()
    time.sleep(0.3)
    r = a.put("/v1/snapshot", archive)
    eq((200, b""), (r.status, r.body))
    t.join(10)
    assert "r" in woke, "the blocked query did not wake"
    eq(200, woke["r"].status)
    eq({"r/a": "old-a"}, values(woke["r"].json()))
    assert int(woke["r"].header("X-Consul-Index")) > idx_a

    eq("old-a", raw(a, "r/a"))
    eq("old-b", raw(a, "r/b"))
    eq(None, raw(a, "r/c"))
    after = kv_index(a)
    assert after > before, (after, before)
    # writes continue above every index seen before
    a.put("/v1/kv/r/d", "d")
    d = a.get("/v1/kv/r/d").json()[0]
    assert d["ModifyIndex"] > after, (d, after)
    assert "saved-svc" in a.get("/v1/catalog/services").json()


@test
def damaged_archives_are_refused_and_nothing_changes():
    a = dev()
    a.put("/v1/kv/damage/k", "v1")
    archive = save(a).body
    a.put("/v1/kv/damage/k", "v2")
    index = kv_index(a)
    flipped = bytearray(archive)
    flipped[len(flipped) // 2] ^= 0x10
    cases = [
        (b"", "failed to decompress snapshot: EOF"),
        (b"garbage", "failed to decompress snapshot: unexpected EOF"),
        (b"x" * 100, "failed to decompress snapshot: gzip: invalid header"),
        (archive[:len(archive) // 2], "failed to read snapshot file: "),
        (bytes(flipped), "failed to read snapshot file: "),
    ]
    # an archive whose state.bin no longer matches its SHA256SUMS
    buf = io.BytesIO()
    files = members(archive)
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for name, data in files:
            if name == "state.bin":
                data = data[:-1] + bytes([data[-1] ^ 1])
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    cases.append((buf.getvalue(), "failed to read snapshot file: failed checking integrity of "
                                  "snapshot: hash check failed for \"state.bin\""))
    for body, want in cases:
        r = a.put("/v1/snapshot", body)
        eq(500, r.status, want)
        assert r.text.startswith(want), (r.text, want)
    eq("v2", raw(a, "damage/k"))
    eq(index, kv_index(a))
    r = a.put("/v1/snapshot?stale", archive)
    eq((500, "stale not allowed for restore"), (r.status, r.text))


@test
def snapshots_need_acl_write():
    root = "2b1c7a3e-55f0-4c1e-9a7d-0c3e5f6a7b8c"
    conf = {"acl": {"enabled": True, "default_policy": "deny",
                    "tokens": {"initial_management": root}}}
    with Agent(config=conf) as a:
        h = {"X-Consul-Token": root}
        wait_until(lambda: a.get("/v1/acl/token/self", headers=h).status == 200,
                   what="the management token")
        eq(403, a.get("/v1/snapshot").status)
        r = a.put("/v1/acl/policy", {"Name": "kv", "Rules": 'key_prefix "" { policy = "write" }'},
                  headers=h)
        eq(200, r.status, r.text)
        tok = a.put("/v1/acl/token", {"Policies": [{"Name": "kv"}]}, headers=h).json()["SecretID"]
        eq(403, a.get("/v1/snapshot", headers={"X-Consul-Token": tok}).status)
        r = a.get("/v1/snapshot", headers=h)
        eq(200, r.status)
        eq(403, a.put("/v1/snapshot", r.body, headers={"X-Consul-Token": tok}).status)
        eq(200, a.put("/v1/snapshot", r.body, headers=h).status)
        # the restored ACL state still knows the management token
        eq(200, a.get("/v1/acl/token/self", headers=h).status)


@test
def cli_save_inspect_restore_round_trip():
    a = dev()
    a.put("/v1/kv/cli/k", "before")
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "backup.snap")
        r = a.cli("snapshot", "save", path)
        eq(0, r.returncode, r.stderr)
        out = r.stdout.decode()
        assert out.startswith("Saved and verified snapshot to index "), out
        index = int(out.split()[-1])
        meta = json.loads(dict(members(open(path, "rb").read()))["meta.json"])
        eq(meta["Index"], index)

        r = a.cli("snapshot", "inspect", path)
        eq(0, r.returncode, r.stderr)
        want = (f"ID           {meta['ID']}\nSize         {meta['Size']}\n"
                f"Index        {meta['Index']}\nTerm         {meta['Term']}\nVersion      1\n\n")
        eq(want, r.stdout.decode())

        a.put("/v1/kv/cli/k", "after")
        r = a.cli("snapshot", "restore", path)
        eq((0, b"Restored snapshot\n"), (r.returncode, r.stdout), r.stderr)
        eq("before", raw(a, "cli/k"))

        bad = os.path.join(d, "bad.snap")
        with open(bad, "wb") as f:
            f.write(open(path, "rb").read()[:-20])
        r = a.cli("snapshot", "inspect", bad)
        eq(1, r.returncode)
        assert r.stderr.decode().startswith("Error verifying snapshot: failed to read snapshot "
                                            "file: "), r.stderr
        r = a.cli("snapshot", "restore", bad)
        eq(1, r.returncode)
        assert r.stderr.decode().startswith("Error restoring snapshot: Unexpected response code: "
                                            "500 (failed to read snapshot file: "), r.stderr
        r = a.cli("snapshot", "inspect", os.path.join(d, "missing.snap"))
        eq((1, f"Error opening snapshot file: open {d}/missing.snap: no such file or "
               "directory\n"), (r.returncode, r.stderr.decode()))
        eq((1, "Missing FILE argument\n"),
           (a.cli("snapshot", "save").returncode, a.cli("snapshot", "save").stderr.decode()))
        r = a.cli("snapshot", "save", "-stale", os.path.join(d, "stale.snap"))
        eq(0, r.returncode, r.stderr)


@test
def restore_is_durable_across_kill_9():
    with tempfile.TemporaryDirectory() as d:
        args = ["-server", "-bootstrap", "-data-dir", d, "-bind", "127.0.0.1"]
        a = Agent(*args, dev=False)
        try:
            a.start()
            a.put("/v1/kv/dur", "saved")
            archive = save(a).body
            a.put("/v1/kv/dur", "overwritten")
            before = kv_index(a)
            eq(200, a.put("/v1/snapshot", archive).status)
            restored = kv_index(a)
            a.kill()  # SIGKILL right after the answer
            a.log.close()
            a.start()
            eq("saved", raw(a, "dur"))
            assert kv_index(a) >= restored > before
            a.put("/v1/kv/dur2", "x")
            assert a.get("/v1/kv/dur2").json()[0]["ModifyIndex"] > restored
        finally:
            a.cleanup()


@test
def three_servers_restore_through_a_follower_and_a_client():
    with Cluster(servers=3, clients=1) as c:
        leader = c.leader()
        for i in range(20):
            eq(True, leader.put(f"/v1/kv/c/{i}", f"v{i}").json())
        follower = c.followers()[0]
        # a default save on a follower is forwarded to the leader
        archive = save(follower).body
        meta = json.loads(dict(members(archive))["meta.json"])
        eq(3, len(meta["Configuration"]["Servers"]))
        # ?stale is answered by the follower itself
        stale = save(follower, "?stale").body
        assert dict(members(stale))["state.bin"].startswith(b"CNST")
        # a client agent forwards it to a server
        via_client = members(save(c.clients[0]).body)
        assert json.loads(dict(via_client)["meta.json"])["Index"] >= meta["Index"]

        for i in range(20):
            leader.put(f"/v1/kv/c/{i}", f"changed{i}")
        leader.put("/v1/kv/c/extra", "x")
        before = max(kv_index(s, "/v1/kv/?recurse&stale") for s in c.servers)

        r = follower.put("/v1/snapshot", archive)
        eq((200, b""), (r.status, r.body))
        for s in c.servers:
            wait_until(lambda s=s: raw(s, "c/extra", stale=True) is None and
                       raw(s, "c/7", stale=True) == "v7", what=f"{s.server_port} to serve the restore")
            r = s.get("/v1/kv/c/?recurse&stale")
            eq({f"c/{i}": f"v{i}" for i in range(20)}, values(r.json()))
            assert int(r.header("X-Consul-Index")) > before
        # writes continue, through any server, and reach every server
        for i, s in enumerate(c.servers):
            eq(True, s.put(f"/v1/kv/c/after{i}", "y").json())
        for s in c.servers:
            wait_until(lambda s=s: all(raw(s, f"c/after{i}", stale=True) == "y" for i in range(3)),
                       what="writes after the restore everywhere")
        # a server restarted after the restore comes back with it
        # (kill -9: a graceful leave would take it out of Raft, and s1, the
        # seed, retry-joins only itself, as a left Consul server would)
        victim = c.followers()[0]
        victim.kill()
        victim.log.close()
        victim.start()
        wait_until(lambda: raw(victim, "c/after2", stale=True) == "y" and
                   raw(victim, "c/3", stale=True) == "v3",
                   what="the restarted server to serve the restored state")
        # and once more through a client agent (forwarded to a server, then
        # to the leader if it reached a follower), once every server knows
        # the leader again
        seen = []

        def all_know_leader():
            seen[:] = [(s.http_port, s.get("/v1/status/leader").json()) for s in c.servers]
            return all(l for _, l in seen)
        try:
            wait_until(all_know_leader, what="every server to know the leader")
        except AssertionError:
            raise AssertionError(f"leaders as seen by each server: {seen}")
        r = c.clients[0].put("/v1/snapshot", archive)
        eq((200, b""), (r.status, r.body))
        for s in c.servers:
            wait_until(lambda s=s: raw(s, "c/after0", stale=True) is None and
                       raw(s, "c/5", stale=True) == "v5", what="the second restore everywhere")


if __name__ == "__main__":
    try:
        main()
    finally:
        if _dev:
            _dev.cleanup()
