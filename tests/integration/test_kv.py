#!/usr/bin/python3
"""The KV API end to end over HTTP: shapes, indexes, errors, blocking, CAS races."""
import base64
import re
import resource
import socket
import threading
import time

from cairn_test import Agent, eq, main, test

A = Agent().start()


def kv(key):
    return "/v1/kv/" + key


@test
def put_then_get_returns_consul_shape():
    r = A.put(kv("shape/a"), "hello")
    eq(200, r.status)
    eq(True, r.json())
    r = A.get(kv("shape/a"))
    eq(200, r.status)
    (e,) = r.json()
    eq(["LockIndex", "Key", "Flags", "Value", "CreateIndex", "ModifyIndex"], list(e))
    eq("shape/a", e["Key"])
    eq(b"hello", base64.b64decode(e["Value"]))
    eq(0, e["Flags"])
    eq(str(e["ModifyIndex"]), r.header("X-Consul-Index"))
    eq("true", r.header("X-Consul-KnownLeader"))
    eq("0", r.header("X-Consul-LastContact"))
    eq("application/json", r.header("Content-Type"))


@test
def empty_value_is_null_and_raw_is_exact():
    A.put(kv("shape/empty"), b"")
    eq(None, A.get(kv("shape/empty")).json()[0]["Value"])
    A.put(kv("shape/bin"), bytes(range(256)))
    r = A.get(kv("shape/bin?raw"))
    eq(bytes(range(256)), r.body)
    eq("nosniff", r.header("X-Content-Type-Options"))
    eq("256", r.header("Content-Length"))


@test
def missing_key_is_404_with_index_headers():
    r = A.get(kv("nope/never"))
    eq(404, r.status)
    eq(b"", r.body)
    assert int(r.header("X-Consul-Index")) >= 1
    eq("true", r.header("X-Consul-KnownLeader"))


@test
def identical_rewrite_keeps_modify_index():
    A.put(kv("same"), "v")
    first = A.get(kv("same")).json()[0]["ModifyIndex"]
    A.put(kv("same"), "v")
    eq(first, A.get(kv("same")).json()[0]["ModifyIndex"])
    A.put(kv("same"), "w")
    assert A.get(kv("same")).json()[0]["ModifyIndex"] > first


@test
def flags_are_stored_and_reset_by_a_put_without_them():
    A.put(kv("fl?flags=42"), "x")
    eq(42, A.get(kv("fl")).json()[0]["Flags"])
    A.put(kv("fl?flags=18446744073709551615"), "x")
    eq(18446744073709551615, A.get(kv("fl")).json()[0]["Flags"])
    A.put(kv("fl"), "x")
    eq(0, A.get(kv("fl")).json()[0]["Flags"])


@test
def recurse_and_keys_with_separator():
    for k in ["tree/a", "tree/b/c", "tree/b/d", "tree/e/f/g", "treex"]:
        A.put(kv(k), k)
    r = A.get(kv("tree/?recurse"))
    eq(["tree/a", "tree/b/c", "tree/b/d", "tree/e/f/g"], [e["Key"] for e in r.json()])
    eq(["tree/a", "tree/b/", "tree/e/"], A.get(kv("tree/?keys&separator=/")).json())
    eq(["tree/a", "tree/b/c", "tree/b/d", "tree/e/f/g"], A.get(kv("tree/?keys")).json())
    eq(["tree/a", "tree/b/", "tree/e/"], A.get(kv("tree/?keys&seperator=/")).json())
    eq(404, A.get(kv("zzz/?recurse")).status)
    eq(404, A.get(kv("zzz/?keys")).status)
    r = A.get("/v1/kv/?keys")
    eq(200, r.status)
    assert "tree/a" in r.json()


@test
def cas_zero_creates_once_and_index_must_match():
    eq(True, A.put(kv("cas/k?cas=0"), "1").json())
    eq(False, A.put(kv("cas/k?cas=0"), "2").json())
    idx = A.get(kv("cas/k")).json()[0]["ModifyIndex"]
    eq(False, A.put(kv(f"cas/k?cas={idx + 1000}"), "3").json())
    eq(True, A.put(kv(f"cas/k?cas={idx}"), "4").json())
    eq(b"4", A.get(kv("cas/k?raw")).body)


@test
def delete_variants():
    A.put(kv("del/a"), "1")
    A.put(kv("del/b"), "1")
    A.put(kv("del/c/d"), "1")
    eq(True, A.delete(kv("del/a")).json())
    eq(404, A.get(kv("del/a")).status)
    eq(True, A.delete(kv("del/absent")).json())
    idx = A.get(kv("del/b")).json()[0]["ModifyIndex"]
    eq(False, A.delete(kv(f"del/b?cas={idx + 7}")).json())
    eq(True, A.delete(kv(f"del/b?cas={idx}")).json())
    eq(True, A.delete(kv("del/?recurse")).json())
    eq(404, A.get(kv("del/?recurse")).status)


@test
def index_after_delete_never_goes_back():
    A.put(kv("idx/a"), "1")
    before = int(A.get(kv("idx/?recurse")).header("X-Consul-Index"))
    A.delete(kv("idx/a"))
    r = A.get(kv("idx/?recurse"))
    eq(404, r.status)
    assert int(r.header("X-Consul-Index")) > before


@test
def bad_requests_get_consul_errors():
    r = A.get("/v1/kv/")
    eq((400, "Missing key name"), (r.status, r.text))
    r = A.put("/v1/kv/", "x")
    eq((400, "Missing key name"), (r.status, r.text))
    r = A.put(kv("x?cas=1&acquire=abc"), "1")
    eq((400, "Conflicting flags: acquire=abc&cas=1"), (r.status, r.text))
    r = A.delete(kv("x?recurse&cas=1"))
    eq((400, "Conflicting flags: cas=1&recurse="), (r.status, r.text))
    r = A.put(kv("x?flags=abc"), "1")
    eq((500, 'strconv.ParseUint: parsing "abc": invalid syntax'), (r.status, r.text))
    r = A.get(kv("x?index=abc"))
    eq((400, "Invalid index"), (r.status, r.text))
    r = A.get(kv("x?wait=abc"))
    eq((400, "Invalid wait time"), (r.status, r.text))
    r = A.get(kv("x?stale&consistent"))
    eq((400, "Cannot specify ?stale with ?consistent, conflicting semantics."), (r.status, r.text))
    r = A.get(kv("x?max_stale=zz"))
    eq((400, 'Invalid max_stale value "zz"'), (r.status, r.text))
    # unknown parameters are ignored, as Go's handlers do
    eq(404, A.get(kv("never/seen?bogus=1&also")).status)
    # non-printable bytes in the path, even escaped
    eq(400, A.get("/v1/kv/a%0ab").status)


@test
def acquire_without_sessions_is_refused_like_an_unknown_session():
    r = A.put(kv("lockme?acquire=9c5d1f94-1b3a-4b6e-8f35-0a4c1d7e2b11"), "x")
    eq((500, 'invalid session "9c5d1f94-1b3a-4b6e-8f35-0a4c1d7e2b11"'), (r.status, r.text))
    r = A.put(kv("lockme?release=9c5d1f94-1b3a-4b6e-8f35-0a4c1d7e2b11"), "x")
    eq(False, r.json())


@test
def oversized_value_is_413_and_limit_value_fits():
    big = b"x" * (1024 * 1024)
    r = A.put(kv("big"), big)
    eq(413, r.status)
    assert "too large, max size: 524288 bytes" in r.text, r.text
    eq(True, A.put(kv("big"), b"y" * 524288).json())
    eq(524288, len(A.get(kv("big?raw")).body))


@test
def methods_options_and_unknown_routes():
    r = A.request("POST", kv("a"))
    eq(405, r.status)
    eq("method POST not allowed", r.text)
    eq("OPTIONS,GET,PUT,DELETE", r.header("Allow"))
    r = A.request("OPTIONS", kv("a"))
    eq((200, "OPTIONS,GET,PUT,DELETE"), (r.status, r.header("Allow")))
    r = A.get("/v1/nope")
    eq((404, "Invalid URL path: not a recognized HTTP API endpoint\n"), (r.status, r.text))
    r = A.get("/nope")
    eq(404, r.status)
    assert "ensure the path starts with '/v1/'" in r.text


@test
def status_endpoints():
    leader = A.get("/v1/status/leader").json()
    eq(f"127.0.0.1:{A.server_port}", leader)
    eq([leader], A.get("/v1/status/peers").json())


@test
def blocking_get_is_woken_by_a_put():
    A.put(kv("block/k"), "1")
    idx = int(A.get(kv("block/k")).header("X-Consul-Index"))

    def writer():
        time.sleep(0.3)
        A.put(kv("block/k"), "2")

    t = threading.Thread(target=writer)
    t.start()
    start = time.time()
    r = A.get(kv(f"block/k?index={idx}&wait=10s"))
    took = time.time() - start
    t.join()
    eq(b"2", base64.b64decode(r.json()[0]["Value"]))
    assert int(r.header("X-Consul-Index")) > idx
    assert 0.2 < took < 5, took


@test
def blocking_get_ignores_other_keys_and_times_out_after_wait():
    A.put(kv("block/quiet"), "1")
    idx = int(A.get(kv("block/quiet")).header("X-Consul-Index"))

    def noise():
        for i in range(5):
            time.sleep(0.05)
            A.put(kv("block/noise"), str(i))

    t = threading.Thread(target=noise)
    t.start()
    start = time.time()
    r = A.get(kv(f"block/quiet?index={idx}&wait=1s"))
    took = time.time() - start
    t.join()
    eq(200, r.status)
    eq(str(idx), r.header("X-Consul-Index"))
    # wait plus at most wait/16 of jitter
    assert 0.95 < took < 1.0 + 1.0 / 16 + 0.3, took


@test
def blocking_get_on_missing_key_wakes_when_it_appears():
    r = A.get(kv("block/later"))
    eq(404, r.status)
    idx = int(r.header("X-Consul-Index"))
    threading.Timer(0.3, lambda: A.put(kv("block/later"), "now")).start()
    r = A.get(kv(f"block/later?index={idx}&wait=10s"))
    eq(200, r.status)
    eq(b"now", base64.b64decode(r.json()[0]["Value"]))


@test
def blocking_recurse_wakes_on_a_key_beneath():
    A.put(kv("brec/a"), "1")
    idx = int(A.get(kv("brec/?recurse")).header("X-Consul-Index"))
    threading.Timer(0.2, lambda: A.put(kv("brec/deep/x"), "1")).start()
    r = A.get(kv(f"brec/?recurse&index={idx}&wait=10s"))
    eq(["brec/a", "brec/deep/x"], [e["Key"] for e in r.json()])


@test
def cas_race_from_many_clients_loses_no_update():
    A.put(kv("race/counter"), "0")
    wins = []

    def worker(n):
        done = 0
        while done < n:
            e = A.get(kv("race/counter")).json()[0]
            v = int(base64.b64decode(e["Value"]))
            if A.put(kv(f"race/counter?cas={e['ModifyIndex']}"), str(v + 1)).json():
                done += 1
        wins.append(done)

    threads = [threading.Thread(target=worker, args=(25,)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    eq(200, sum(wins))
    eq(b"200", A.get(kv("race/counter?raw")).body)


def raw_exchange(payload, read_until_close=True):
    s = socket.create_connection(("127.0.0.1", A.http_port), timeout=10)
    s.sendall(payload)
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            break  # the server answered and closed while we were still sending
        if not chunk:
            break
        data += chunk
    s.close()
    return data


@test
def pipelined_requests_are_answered_in_order():
    payload = (b"PUT /v1/kv/pipe/a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
               b"GET /v1/kv/pipe/a?raw HTTP/1.1\r\nHost: x\r\n\r\n"
               b"DELETE /v1/kv/pipe/a HTTP/1.1\r\nHost: x\r\n\r\n"
               b"GET /v1/kv/pipe/a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = raw_exchange(payload)
    statuses = re.findall(rb"HTTP/1.1 (\d{3}) ", data)
    eq([b"200", b"200", b"200", b"404"], statuses)
    assert b"\r\n\r\nabc" in data


@test
def chunked_body_is_accepted():
    payload = (b"PUT /v1/kv/chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
               b"Connection: close\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n")
    data = raw_exchange(payload)
    assert data.startswith(b"HTTP/1.1 200"), data
    eq(b"abcdefg", A.get(kv("chunked?raw")).body)


@test
def garbage_gets_400_and_the_agent_lives_on():
    data = raw_exchange(b"THIS IS NOT HTTP\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 400"), data
    data = raw_exchange(b"GET /v1/kv/x HTTP/1.1\r\n" + b"X-Long: " + b"a" * 200000 + b"\r\n\r\n")
    assert data == b"" or data.startswith(b"HTTP/1.1 431"), data[:100]
    eq(200, A.get("/v1/status/leader").status)


@test
def client_leaving_a_blocking_query_frees_it():
    idx = int(A.get(kv("gone?recurse")).header("X-Consul-Index"))
    socks = []
    for _ in range(50):
        s = socket.create_connection(("127.0.0.1", A.http_port))
        s.sendall(f"GET /v1/kv/gone?index={idx + 100000}&wait=60s HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        socks.append(s)
    time.sleep(0.2)
    for s in socks:
        s.close()
    time.sleep(0.2)
    # the agent still answers, and a write wakes nothing left over
    A.put(kv("gone"), "1")
    eq(200, A.get(kv("gone")).status)


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


@test
def many_idle_connections_are_held():
    # thousands, held cheaply: the agent's RSS growth per idle connection
    n = 3000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 200), hard))
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    n = min(n, soft - 100)
    before = rss_kb(A.proc.pid)
    socks = [socket.create_connection(("127.0.0.1", A.http_port)) for _ in range(n)]
    # every connection accepted and answering
    eq(200, A.get("/v1/status/leader").status)
    for s in socks[:: max(1, n // 20)]:
        s.sendall(b"GET /v1/status/leader HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 200")
    per_conn = (rss_kb(A.proc.pid) - before) * 1024 / n
    assert per_conn < 16 * 1024, f"{per_conn:.0f} bytes of RSS per idle connection"
    for s in socks:
        s.close()


if __name__ == "__main__":
    try:
        main()
    finally:
        A.cleanup()
