#!/usr/bin/python3
"""python3-consul 0.7.1 (Debian's package, a real third-party client) against
cairn's KV API: every call behaves as it does against Consul."""
import threading
import time

import consul

from cairn_test import Agent, eq, main, test

A = Agent().start()
C = consul.Consul(host="127.0.0.1", port=A.http_port)


@test
def put_get_roundtrip_with_index():
    eq(True, C.kv.put("py/a", "value-a"))
    index, data = C.kv.get("py/a")
    eq(b"value-a", data["Value"])
    eq("py/a", data["Key"])
    eq(0, data["Flags"])
    assert int(index) == data["ModifyIndex"]


@test
def missing_key_returns_none_with_an_index():
    index, data = C.kv.get("py/missing")
    eq(None, data)
    assert int(index) >= 1


@test
def flags_cas_and_delete():
    eq(True, C.kv.put("py/f", "x", flags=7))
    _, d = C.kv.get("py/f")
    eq(7, d["Flags"])
    eq(False, C.kv.put("py/f", "y", cas=d["ModifyIndex"] + 99))
    eq(True, C.kv.put("py/f", "y", cas=d["ModifyIndex"]))
    eq(True, C.kv.put("py/new", "n", cas=0))
    eq(False, C.kv.put("py/new", "n2", cas=0))
    eq(True, C.kv.delete("py/f"))
    eq(None, C.kv.get("py/f")[1])
    _, d = C.kv.get("py/new")
    eq(False, C.kv.delete("py/new", cas=d["ModifyIndex"] + 1))
    eq(True, C.kv.delete("py/new", cas=d["ModifyIndex"]))


@test
def recurse_keys_and_separator():
    for k in ["py/t/a", "py/t/b/c", "py/t/b/d"]:
        C.kv.put(k, k)
    _, items = C.kv.get("py/t/", recurse=True)
    eq(["py/t/a", "py/t/b/c", "py/t/b/d"], [i["Key"] for i in items])
    _, keys = C.kv.get("py/t/", keys=True, separator="/")
    eq(["py/t/a", "py/t/b/"], keys)
    eq(True, C.kv.delete("py/t/", recurse=True))
    eq(None, C.kv.get("py/t/", recurse=True)[1])


@test
def empty_value_reads_back_as_none():
    C.kv.put("py/empty", "")
    _, d = C.kv.get("py/empty")
    eq(None, d["Value"])


@test
def consistency_modes_are_accepted():
    C.kv.put("py/c", "1")
    eq(b"1", C.kv.get("py/c", consistency="consistent")[1]["Value"])
    eq(b"1", C.kv.get("py/c", consistency="stale")[1]["Value"])


@test
def blocking_get_returns_when_the_key_changes():
    C.kv.put("py/block", "1")
    index, _ = C.kv.get("py/block")
    threading.Timer(0.3, lambda: C.kv.put("py/block", "2")).start()
    start = time.time()
    index2, d = C.kv.get("py/block", index=index, wait="10s")
    assert time.time() - start < 5
    eq(b"2", d["Value"])
    assert int(index2) > int(index)


@test
def acquire_with_unknown_session_raises_like_consul():
    try:
        C.kv.put("py/lock", "x", acquire="9c5d1f94-1b3a-4b6e-8f35-0a4c1d7e2b11")
    except consul.ConsulException as e:
        assert "invalid session" in str(e), e
    else:
        raise AssertionError("expected ConsulException")


if __name__ == "__main__":
    try:
        main()
    finally:
        A.cleanup()
