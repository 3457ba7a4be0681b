#!/usr/bin/python3
"""The KV API driven with curl, the way the README and most users do."""
import subprocess
import threading
import time

from cairn_test import Agent, eq, main, test

A = Agent().start()


def curl(*args):
    r = subprocess.run(["curl", "-s", "-S", "-w", "\n%{http_code}"] + list(args),
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    body, _, code = r.stdout.rpartition(b"\n")
    return int(code), body


@test
def put_get_delete_with_curl():
    # -dev pretty-prints, as Consul's dev agent does: "true" plus a newline
    eq((200, b"true\n"), curl("-X", "PUT", "--data-binary", "curl-value", f"{A.url}/v1/kv/c/k"))
    eq((200, b"curl-value"), curl(f"{A.url}/v1/kv/c/k?raw"))
    code, body = curl(f"{A.url}/v1/kv/c/?recurse")
    eq(200, code)
    assert b'"Key": "c/k"' in body
    eq((200, b"true\n"), curl("-X", "DELETE", f"{A.url}/v1/kv/c/k"))
    eq(404, curl(f"{A.url}/v1/kv/c/k")[0])


@test
def curl_blocking_query_returns_on_change():
    curl("-X", "PUT", "-d", "1", f"{A.url}/v1/kv/c/b")
    r = subprocess.run(["curl", "-s", "-D", "-", "-o", "/dev/null", f"{A.url}/v1/kv/c/b"],
                       capture_output=True)
    idx = [l.split(b":")[1].strip() for l in r.stdout.splitlines() if l.lower().startswith(b"x-consul-index")][0]
    threading.Timer(0.3, lambda: curl("-X", "PUT", "-d", "2", f"{A.url}/v1/kv/c/b")).start()
    start = time.time()
    code, body = curl(f"{A.url}/v1/kv/c/b?raw&index={idx.decode()}&wait=20s")
    eq((200, b"2"), (code, body))
    assert time.time() - start < 5


@test
def curl_big_upload_gets_413():
    data = b"z" * (700 * 1024)
    r = subprocess.run(["curl", "-s", "-w", "\n%{http_code}", "-X", "PUT", "--data-binary", "@-",
                        f"{A.url}/v1/kv/c/big"], input=data, capture_output=True, timeout=30)
    assert r.stdout.endswith(b"413"), r.stdout[-200:]


if __name__ == "__main__":
    try:
        main()
    finally:
        A.cleanup()
