#!/usr/bin/python3
"""Check runners against real things: an HTTP service in a subprocess and a
TCP listener whose health flips when they stop, a script that hangs and is
killed at its timeout, TTL expiry, thresholds, alias checks, and
deregister_critical_service_after (reaper minimum shortened through
CAIRN_TEST_REAP_MIN, a test-only hook)."""
import os
import socket
import subprocess
import sys
import time

from cairn_test import Agent, eq, free_port, main, test, wait_until

A = Agent(config={"enable_script_checks": True},
          env={"CAIRN_TEST_REAP_MIN": "1s", "CAIRN_TEST_REAP_INTERVAL": "200ms"}).start()

SERVER = r'''
import http.server, sys, time
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        p = self.path
        if p.startswith("/redirect"):
            self.send_response(302); self.send_header("Location", "/ok"); self.end_headers(); return
        code = {"/ok": 200, "/busy": 429, "/broken": 500}.get(p, 200)
        body = (b"x" * 5000 + b"TAIL") if p == "/big" else (b"hello from " + p.encode())
        if p == "/agent":
            body = self.headers.get("User-Agent", "").encode()
        self.send_response(code); self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
'''


class HttpService:
    def __init__(self):
        self.port = free_port(udp_too=False)
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([sys.executable, "-c", SERVER, str(self.port)])
        wait_until(lambda: socket.create_connection(("127.0.0.1", self.port), 0.2).close() or True,
                   what="http service up")

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def checks():
    return A.get("/v1/agent/checks").json()


def status(cid):
    return checks()[cid]["Status"]


def register(body):
    r = A.put("/v1/agent/service/register", body)
    assert r.status == 200, r


H = HttpService()
H.start()


@test
def http_check_shows_in_passing_only_while_the_service_is_up():
    url = f"http://127.0.0.1:{H.port}/ok"
    register({"Name": "web", "Port": H.port, "Check": {"HTTP": url, "Interval": "1s"}})
    wait_until(lambda: A.get("/v1/health/service/web?passing").json(), timeout=5,
               what="web passing")
    out = checks()["service:web"]["Output"]
    eq(f"HTTP GET {url}: 200 OK Output: hello from /ok", out)
    H.stop()
    wait_until(lambda: A.get("/v1/health/service/web?passing").json() == [], timeout=5,
               what="web out of ?passing")
    eq("critical", A.get("/v1/health/checks/web").json()[0]["Status"])
    eq(1, len(A.get("/v1/health/service/web").json()))  # still listed without ?passing
    H.start()
    wait_until(lambda: A.get("/v1/health/service/web?passing").json(), timeout=5,
               what="web back")


@test
def http_status_mapping_output_limit_and_headers():
    base = f"http://127.0.0.1:{H.port}"
    register({"Name": "codes", "Checks": [
        {"ID": "busy", "HTTP": base + "/busy", "Interval": "1s"},
        {"ID": "broken", "HTTP": base + "/broken", "Interval": "1s"},
        {"ID": "big", "HTTP": base + "/big", "Interval": "1s", "OutputMaxSize": 10},
        {"ID": "redir", "HTTP": base + "/redirect", "Interval": "1s"},
        {"ID": "noredir", "HTTP": base + "/redirect", "Interval": "1s", "DisableRedirects": True},
        {"ID": "ua", "HTTP": base + "/agent", "Interval": "1s", "Status": "critical"},
        {"ID": "refused", "HTTP": "http://127.0.0.1:1/", "Interval": "1s", "Status": "passing"},
    ]})
    want = {"busy": "warning", "broken": "critical", "big": "passing", "redir": "passing",
            "noredir": "critical", "ua": "passing", "refused": "critical"}
    wait_until(lambda: all(status(k) == v for k, v in want.items()), timeout=6,
               what=f"statuses {want}")
    c = checks()
    assert c["big"]["Output"].endswith("Output: xxxxxxTAIL"), c["big"]["Output"]
    assert c["busy"]["Output"].endswith("429 Too Many Requests Output: hello from /busy"), c["busy"]
    assert c["ua"]["Output"].endswith("Output: Consul Health Check"), c["ua"]["Output"]
    assert "dial tcp 127.0.0.1:1: connect: connection refused" in c["refused"]["Output"], c["refused"]
    assert c["refused"]["Output"].startswith('Get "http://127.0.0.1:1/"'), c["refused"]


@test
def tcp_check_flips_with_a_real_listener():
    port = free_port(udp_too=False)
    lst = socket.socket()
    lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lst.bind(("127.0.0.1", port))
    lst.listen(16)
    register({"Name": "tcpsvc", "Check": {"TCP": f"127.0.0.1:{port}", "Interval": "1s",
                                           "Timeout": "1s"}})
    wait_until(lambda: status("service:tcpsvc") == "passing", timeout=5, what="tcp passing")
    eq(f"TCP connect 127.0.0.1:{port}: Success", checks()["service:tcpsvc"]["Output"])
    lst.close()
    wait_until(lambda: status("service:tcpsvc") == "critical", timeout=5, what="tcp critical")
    assert "connection refused" in checks()["service:tcpsvc"]["Output"]


@test
def hanging_script_is_killed_at_its_timeout():
    marker = "31.4159"
    register({"Name": "hang", "Check": {"Args": ["/bin/sh", "-c", f"echo started; sleep {marker}"],
                                         "Interval": "10s", "Timeout": "1s",
                                         "Status": "passing"}})
    t0 = time.time()
    wait_until(lambda: status("service:hang") == "critical", timeout=6, what="script timeout")
    assert time.time() - t0 < 4
    eq("Timed out (1s) running check", checks()["service:hang"]["Output"])
    # the whole process group went with it
    time.sleep(0.2)
    ps = subprocess.run(["pgrep", "-f", f"sleep {marker}"], capture_output=True)
    eq(b"", ps.stdout)
    A.put("/v1/agent/service/deregister/hang")


@test
def script_exit_codes_and_captured_output():
    register({"Name": "scripts", "Checks": [
        {"ID": "ok", "Args": ["/bin/sh", "-c", "echo out; echo err >&2"], "Interval": "1s"},
        {"ID": "warn", "Args": ["/bin/sh", "-c", "exit 1"], "Interval": "1s"},
        {"ID": "crit", "Args": ["/bin/sh", "-c", "exit 3"], "Interval": "1s",
         "Status": "passing"},
        {"ID": "nofile", "Args": ["/no/such/binary"], "Interval": "1s", "Status": "passing"},
    ]})
    want = {"ok": "passing", "warn": "warning", "crit": "critical", "nofile": "critical"}
    wait_until(lambda: all(status(k) == v for k, v in want.items()), timeout=6,
               what=f"script statuses {want}")
    eq("out\nerr\n", checks()["ok"]["Output"])
    assert "no such file or directory" in checks()["nofile"]["Output"], checks()["nofile"]


@test
def ttl_check_expires():
    register({"Name": "beat", "Check": {"TTL": "1s"}})
    A.put("/v1/agent/check/pass/service:beat")
    eq("passing", status("service:beat"))
    wait_until(lambda: status("service:beat") == "critical", timeout=4, what="ttl expiry")
    eq("TTL expired", checks()["service:beat"]["Output"])


@test
def thresholds_delay_status_changes():
    port = free_port(udp_too=False)
    lst = socket.socket()
    lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lst.bind(("127.0.0.1", port))
    lst.listen(16)
    register({"Name": "thresh", "Check": {"TCP": f"127.0.0.1:{port}", "Interval": "1s",
                                           "SuccessBeforePassing": 2,
                                           "FailuresBeforeCritical": 2}})
    t0 = time.time()
    wait_until(lambda: status("service:thresh") == "passing", timeout=6, what="passing after 2")
    assert time.time() - t0 > 0.9, "passed after a single success"
    lst.close()
    t0 = time.time()
    wait_until(lambda: status("service:thresh") == "critical", timeout=6, what="critical after 2")
    assert time.time() - t0 > 0.9, "failed after a single failure"
    assert "has not reached success threshold" in A.output()


@test
def alias_check_mirrors_a_local_service():
    register({"Name": "primary", "Check": {"TTL": "60s", "Status": "passing"}})
    register({"Name": "follower", "Check": {"AliasService": "primary"}})
    wait_until(lambda: status("service:follower") == "passing", timeout=3, what="alias passing")
    A.put("/v1/agent/check/fail/service:primary?note=boom")
    wait_until(lambda: status("service:follower") == "critical", timeout=3, what="alias critical")
    assert "boom" in checks()["service:follower"]["Output"]
    A.put("/v1/agent/service/deregister/primary")
    wait_until(lambda: "could not be found" in checks()["service:follower"]["Output"], timeout=3,
               what="alias target gone")


@test
def deregister_critical_service_after_removes_the_service():
    register({"Name": "doomed", "Check": {"TTL": "30s", "DeregisterCriticalServiceAfter": "1s"}})
    register({"Name": "healthy", "Check": {"TTL": "30s", "Status": "passing",
                                            "DeregisterCriticalServiceAfter": "1s"}})
    eq(1, len(A.get("/v1/catalog/service/doomed").json()))
    wait_until(lambda: "doomed" not in A.get("/v1/agent/services").json(), timeout=6,
               what="reaped")
    wait_until(lambda: A.get("/v1/catalog/service/doomed").json() == [], timeout=3,
               what="gone from the catalog")
    assert "healthy" in A.get("/v1/agent/services").json()


if __name__ == "__main__":
    try:
        main()
    finally:
        H.stop()
        A.cleanup()
