#!/usr/bin/python3
"""Check runners against real things: an HTTP service in a subprocess and a
TCP listener whose health flips when they stop, the HTTP request itself
(method, headers, body, recorded by the service), the 4 KiB output cap,
HTTPS with a self-signed certificate (TLSSkipVerify), a script that hangs and
is killed at its timeout, enable_local_script_checks (files yes, API no), TTL
expiry, thresholds, alias checks, and deregister_critical_service_after
(reaper minimum shortened through CAIRN_TEST_REAP_MIN, a test-only hook)."""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

from cairn_test import Agent, eq, free_port, main, test, wait_until

A = Agent(config={"enable_script_checks": True},
          env={"CAIRN_TEST_REAP_MIN": "1s", "CAIRN_TEST_REAP_INTERVAL": "200ms"}).start()

SERVER = r'''
import gzip, http.server, json, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    # every method (POST, PUT, HEAD, a custom one...) lands in handle_any
    def __getattr__(self, name):
        if name.startswith("do_"):
            return self.handle_any
        raise AttributeError(name)
    def handle_any(self):
        p = self.path
        n = int(self.headers.get("Content-Length") or 0)
        got = self.rfile.read(n) if n else b""
        if p.startswith("/redirect"):
            self.send_response(302); self.send_header("Location", "/ok"); self.end_headers(); return
        code = {"/ok": 200, "/busy": 429, "/broken": 500}.get(p, 200)
        body = (b"x" * 5000 + b"TAIL") if p == "/big" else (b"hello from " + p.encode())
        if p == "/huge":  # numbered lines: where the output starts shows what was kept
            body = b"".join(b"line %05d\n" % i for i in range(1000)) + b"END"
        if p == "/gzip" and "gzip" in self.headers.get("Accept-Encoding", ""):
            body = gzip.compress(b"inflated hello")
            self.send_response(200); self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body))); self.end_headers()
            self.wfile.write(body); return
        if p == "/agent":
            body = self.headers.get("User-Agent", "").encode()
        if p == "/echo":  # what the check sent: method, header lines in order, body
            body = json.dumps({"method": self.command, "headers": list(self.headers.items()),
                               "body": got.decode("latin-1")}).encode()
        self.send_response(code); self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
    def log_message(self, *a): pass
class S(http.server.ThreadingHTTPServer):
    daemon_threads = True
    def handle_error(self, *a): pass  # refused TLS handshakes are expected
srv = S(("127.0.0.1", int(sys.argv[1])), H)
if len(sys.argv) > 2:  # HTTPS with the given certificate and key
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[2], sys.argv[3])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
srv.serve_forever()
'''


class HttpService:
    def __init__(self, tls=None):
        self.port = free_port(udp_too=False)
        self.tls = tls  # (certfile, keyfile) or None
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([sys.executable, "-c", SERVER, str(self.port)] +
                                     list(self.tls or ()))
        wait_until(lambda: socket.create_connection(("127.0.0.1", self.port), 0.2).close() or True,
                   what="http service up")

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def self_signed_cert(where):
    """A throwaway self-signed certificate for 127.0.0.1 (IP SAN, so only
    the unknown issuer can fail verification), made with the openssl CLI."""
    cert, key = os.path.join(where, "cert.pem"), os.path.join(where, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


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


def echo_of(cid):
    """What the /echo endpoint saw for check `cid`, read back from its Output."""
    return json.loads(checks()[cid]["Output"].split(" Output: ", 1)[1])


def header_lines(seen):
    """The request's header lines as (lowercased name, value), grouped by name
    (Go sorts them, curl does not) with each name's values in sent order."""
    return sorted(((k.lower(), v) for k, v in seen["headers"]), key=lambda kv: kv[0])


# What Go's client adds to every Consul HTTP check (keep-alives off, gzip asked for).
GO_DEFAULTS = [("accept", "text/plain, text/*, */*"), ("accept-encoding", "gzip"),
               ("connection", "close")]


@test
def http_check_sends_its_method_headers_and_body():
    # The full request is compared with what Consul sends (checked against the
    # reference binary, /work/ref/consul): the method verbatim, every header
    # value, the body, and no header of curl's own (Content-Type, Expect).
    url = f"http://127.0.0.1:{H.port}/echo"
    host = ("host", f"127.0.0.1:{H.port}")
    body = '{"probe": "deep", "note": "caf\u00e9"}\nsecond line'
    register({"Name": "echoes", "Checks": [
        {"CheckID": "post", "HTTP": url, "Interval": "1s", "Method": "POST", "Body": body,
         "Header": {"X-Multi": ["one", "two", "three"], "X-Single": ["only"],
                    "User-Agent": ["probe/1.0"]}},
        {"CheckID": "put", "HTTP": url, "Interval": "1s", "Method": "PUT"},
        {"CheckID": "custom", "HTTP": url, "Interval": "1s", "Method": "PURGE", "Body": "gone"},
        {"CheckID": "lower", "HTTP": url, "Interval": "1s", "Method": "post"},
        {"CheckID": "head", "HTTP": url, "Interval": "1s", "Method": "HEAD"},
        {"CheckID": "get", "HTTP": url, "Interval": "1s",
         "Header": {"Host": ["example.com"], "Accept-Encoding": ["identity"]}},
        {"CheckID": "gzip", "HTTP": f"http://127.0.0.1:{H.port}/gzip", "Interval": "1s"},
    ]})
    ids = ("post", "put", "custom", "lower", "head", "get", "gzip")
    wait_until(lambda: all(status(k) == "passing" for k in ids), timeout=6,
               what="echo checks passing")
    c = checks()

    assert c["post"]["Output"].startswith(f"HTTP POST {url}: 200 OK Output: "), c["post"]
    seen = echo_of("post")
    eq("POST", seen["method"])
    eq(body.encode().decode("latin-1"), seen["body"])
    eq(sorted([host, ("user-agent", "probe/1.0"), ("content-length", str(len(body.encode()))),
               ("x-multi", "one"), ("x-multi", "two"), ("x-multi", "three"),
               ("x-single", "only")] + GO_DEFAULTS, key=lambda kv: kv[0]),
       header_lines(seen), "every header value, in order, and nothing of curl's")

    # Go gives an empty POST/PUT/PATCH "Content-Length: 0", other methods none
    seen = echo_of("put")
    eq(("PUT", ""), (seen["method"], seen["body"]))
    eq(sorted([host, ("user-agent", "Consul Health Check"), ("content-length", "0")] +
              GO_DEFAULTS), header_lines(seen))
    seen = echo_of("custom")
    eq(("PURGE", "gone"), (seen["method"], seen["body"]))
    eq(sorted([host, ("user-agent", "Consul Health Check"), ("content-length", "4")] +
              GO_DEFAULTS), header_lines(seen))
    # the method goes out as written, and the output says so
    assert c["lower"]["Output"].startswith(f"HTTP post {url}: 200 OK Output: "), c["lower"]
    seen = echo_of("lower")
    eq(("post", ""), (seen["method"], seen["body"]))
    eq(sorted([host, ("user-agent", "Consul Health Check")] + GO_DEFAULTS), header_lines(seen))
    # a Host header sets the request's host; the check's Accept-Encoding replaces gzip
    seen = echo_of("get")
    eq("GET", seen["method"])
    eq(sorted([("host", "example.com"), ("user-agent", "Consul Health Check"),
               ("accept", "text/plain, text/*, */*"), ("accept-encoding", "identity"),
               ("connection", "close")]), header_lines(seen))
    # HEAD: no body comes back, so the output stops after "Output: "
    eq(f"HTTP HEAD {url}: 200 OK Output: ", c["head"]["Output"])
    # a gzip answer to Go's Accept-Encoding is inflated before it is shown
    assert c["gzip"]["Output"].endswith("Output: inflated hello"), c["gzip"]
    A.put("/v1/agent/service/deregister/echoes")


@test
def http_output_keeps_the_last_4k_by_default():
    # Consul reads the body into a 4 KiB circular buffer (checks.DefaultBufSize):
    # the output keeps the body's last 4096 bytes, with no truncation marker.
    url = f"http://127.0.0.1:{H.port}/huge"
    body = b"".join(b"line %05d\n" % i for i in range(1000)) + b"END"
    register({"Name": "huge", "Check": {"HTTP": url, "Interval": "1s"}})
    wait_until(lambda: status("service:huge") == "passing", timeout=5, what="huge passing")
    want = f"HTTP GET {url}: 200 OK Output: " + body[-4096:].decode()
    eq(want, checks()["service:huge"]["Output"])
    wait_until(lambda: A.get("/v1/health/checks/huge").json()[0]["Output"] == want, timeout=5,
               what="the capped output in the catalog")
    A.put("/v1/agent/service/deregister/huge")


@test
def https_check_verifies_the_certificate_unless_told_to_skip():
    tmp = tempfile.mkdtemp(prefix="cairn-tls-")
    hs = HttpService(tls=self_signed_cert(tmp))
    hs.start()
    try:
        url = f"https://127.0.0.1:{hs.port}/ok"
        register({"Name": "tls", "Checks": [
            {"CheckID": "tls-skip", "HTTP": url, "Interval": "1s", "TLSSkipVerify": True},
            {"CheckID": "tls-verify", "HTTP": url, "Interval": "1s", "Status": "passing"},
        ]})
        wait_until(lambda: status("tls-skip") == "passing" and status("tls-verify") == "critical",
                   timeout=6, what="skip passing, verify critical")
        c = checks()
        eq(f"HTTP GET {url}: 200 OK Output: hello from /ok", c["tls-skip"]["Output"])
        eq(f'Get "{url}": x509: certificate signed by unknown authority',
           c["tls-verify"]["Output"])
    finally:
        A.put("/v1/agent/service/deregister/tls")
        hs.stop()
        shutil.rmtree(tmp, ignore_errors=True)


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


REMOTE_SCRIPTS_OFF = ("Scripts are disabled on this agent from remote calls; to enable, "
                      "configure 'enable_script_checks' to true")
LOCAL_SCRIPTS_OFF = ("Scripts are disabled on this agent; to enable, configure "
                     "'enable_script_checks' or 'enable_local_script_checks' to true")


@test
def local_script_checks_run_from_config_files_only():
    cfg = {"enable_local_script_checks": True,
           "checks": [{"ID": "from-file", "Name": "from-file", "Interval": "1s",
                       "Args": ["/bin/sh", "-c", "echo ran from a file"]}],
           "services": [{"Name": "filesvc", "Check": {
               "Args": ["/bin/sh", "-c", "echo service script; exit 1"], "Interval": "1s"}}]}
    with Agent(config=cfg) as B:
        def st(cid):
            return B.get("/v1/agent/checks").json()[cid]["Status"]
        wait_until(lambda: st("from-file") == "passing" and st("service:filesvc") == "warning",
                   timeout=6, what="file script checks ran")
        c = B.get("/v1/agent/checks").json()
        eq("ran from a file\n", c["from-file"]["Output"])
        eq("service script\n", c["service:filesvc"]["Output"])
        # the same kind of check through the HTTP API is refused
        r = B.put("/v1/agent/check/register",
                  {"Name": "api-script", "Args": ["/bin/true"], "Interval": "10s"})
        eq(500, r.status, r.text)
        eq(REMOTE_SCRIPTS_OFF, r.text)
        r = B.put("/v1/agent/service/register",
                  {"Name": "apisvc", "Check": {"Args": ["/bin/true"], "Interval": "10s"}})
        eq(500, r.status, r.text)
        eq(REMOTE_SCRIPTS_OFF, r.text)
        assert "api-script" not in B.get("/v1/agent/checks").json()
        assert "apisvc" not in B.get("/v1/agent/services").json()
        # other checks still register through the API
        eq(200, B.put("/v1/agent/check/register", {"Name": "api-ttl", "TTL": "10s"}).status)


@test
def enable_local_script_checks_defaults_to_enable_script_checks():
    # Consul: enable_local_script_checks defaults to enable_script_checks, and
    # an explicit false refuses scripts from files even when API scripts are on.
    script = {"ID": "from-file", "Name": "from-file", "Interval": "1s",
              "Args": ["/bin/sh", "-c", "echo ran"]}
    with Agent(config={"enable_script_checks": True, "checks": [script]}) as B:
        wait_until(lambda: B.get("/v1/agent/checks").json()["from-file"]["Status"] == "passing",
                   timeout=6, what="file script check ran")
    B = Agent(config={"enable_script_checks": True, "enable_local_script_checks": False,
                      "checks": [script]})
    try:
        try:
            B.start()
        except RuntimeError as e:
            assert LOCAL_SCRIPTS_OFF in str(e), str(e)
        else:
            raise AssertionError("the agent started with a refused script check")
    finally:
        B.cleanup()


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
