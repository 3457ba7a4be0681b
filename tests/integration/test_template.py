#!/usr/bin/python3
"""`cairn template`: the contract's haproxy template rendered from a dev agent,
rewritten on KV and health changes, commands, -once/-dry, config files,
signals and exit codes, the agent going away, and a real haproxy reloaded by
the command with requests reaching only healthy backends.

Tests that need /v1/health/service print `ok N name # SKIP ...` when the
agent answers it with 404 (catalog not built yet)."""
import http.server
import json
import os
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import traceback

from cairn_test import BIN, Agent, eq, free_port, wait_until

HAPROXY_CTMPL = (
    "global\n"
    "    daemon\n"
    "    maxconn {{key \"service/haproxy/maxconn\"}}\n"
    "\n"
    "defaults\n"
    "    mode {{key \"service/haproxy/mode\"}}{{range ls \"service/haproxy/timeouts\"}}\n"
    "    timeout {{.Key}} {{.Value}}{{end}}\n"
    "\n"
    "listen http-in\n"
    "    bind *:8000{{range service \"release.web\"}}\n"
    "    server {{.Node}} {{.Address}}:{{.Port}}{{end}}\n")

EXPECTED = ("global\n    daemon\n    maxconn 4096\n\ndefaults\n    mode http\n    timeout client 50s\n"
            "    timeout connect 5s\n    timeout server 50s\n\nlisten http-in\n    bind *:8000\n"
            "    server node-c 10.0.0.13:8080\n")


class Skip(Exception):
    pass


_tests = []


def test(fn):
    _tests.append(fn)
    return fn


A = None
TMP = tempfile.mkdtemp(prefix="cairn-tmpl-it-")


def path(name):
    return os.path.join(TMP, name)


def write(name, text):
    with open(path(name), "w") as f:
        f.write(text)
    return path(name)


def read(name):
    try:
        with open(path(name)) as f:
            return f.read()
    except FileNotFoundError:
        return None


def kv(key, value):
    eq(200, A.put("/v1/kv/" + key, value).status, "kv put " + key)


def kv_del(key):
    A.delete("/v1/kv/" + key)


def need_health():
    r = A.get("/v1/health/service/nothing-here")
    if r.status == 404:
        raise Skip("/v1/health/service answers 404 (catalog not in this build)")


def register(node, addr, sid, port, tags, status, svc_addr="", service="web"):
    body = {"Node": node, "Address": addr,
            "Service": {"ID": sid, "Service": service, "Tags": tags, "Address": svc_addr, "Port": port},
            # not "serfHealth": the leader reaps catalog nodes that carry one
            # but are not gossip members, as Consul's does
            "Checks": [{"CheckID": "node-health", "Name": "Node Health", "Status": "passing"},
                       {"CheckID": "service:" + sid, "Name": "svc", "Status": status, "ServiceID": sid}]}
    r = A.put("/v1/catalog/register", body)
    eq(200, r.status, "register %s: %s" % (sid, r.text))


def set_check(node, sid, status):
    r = A.put("/v1/catalog/register", {
        "Node": node, "SkipNodeUpdate": True, "Address": "",
        "Check": {"CheckID": "service:" + sid, "Name": "svc", "Status": status, "ServiceID": sid}})
    eq(200, r.status, "check %s: %s" % (sid, r.text))


def deregister(node):
    A.put("/v1/catalog/deregister", {"Node": node})


def haproxy_state(prefix="service/haproxy"):
    kv(prefix + "/maxconn", "4096")
    kv(prefix + "/mode", "http")
    kv(prefix + "/timeouts/connect", "5s")
    kv(prefix + "/timeouts/client", "50s")
    kv(prefix + "/timeouts/server", "50s")
    kv(prefix + "/timeouts/extra/queue", "10s")


def haproxy_services():
    need_health()
    for n in ("node-a", "node-b", "node-c"):
        deregister(n)
    register("node-c", "10.0.0.13", "web-1", 8080, ["release"], "passing")
    register("node-a", "10.0.0.11", "web-2", 8081, ["release", "v2"], "critical", "10.1.0.11")
    register("node-b", "10.0.0.12", "web-3", 8080, [], "passing")


def env():
    e = dict(os.environ)
    for k in ("CONSUL_HTTP_ADDR", "CONSUL_HTTP_TOKEN", "CT_LOCAL_CONFIG"):
        e.pop(k, None)
    return e


def run_ct(*args, timeout=20, input=None, extra_env=None):
    e = env()
    e.update(extra_env or {})
    return subprocess.run([BIN, "template"] + list(args), capture_output=True, timeout=timeout,
                          cwd=TMP, env=e, input=input)


class Template:
    """A long-running `cairn template` process."""

    def __init__(self, *args, extra_env=None):
        self.log_path = path("ct-%d.log" % time.monotonic_ns())
        self.log = open(self.log_path, "wb")
        e = env()
        e.update(extra_env or {})
        self.proc = subprocess.Popen([BIN, "template"] + list(args), stdout=self.log,
                                     stderr=subprocess.STDOUT, cwd=TMP, env=e)

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self, sig=signal.SIGINT, timeout=10):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def lines_of(name):
    t = read(name)
    return 0 if t is None else len(t.splitlines())


# ---- tests ----------------------------------------------------------------

@test
def once_kv_only():
    kv("once/a", "hello")
    kv("once/list/x", "1")
    kv("once/list/y", "2")
    src = write("once.tpl", '{{key "once/a"}}:{{range ls "once/list"}}{{.Key}}={{.Value}},{{end}}\n')
    r = run_ct("-consul-addr", A.addr, "-template", src + ":" + path("once.out"), "-once")
    eq(0, r.returncode, r.stderr.decode())
    eq("hello:x=1,y=2,\n", read("once.out"))


@test
def haproxy_worked_example_and_changes():
    haproxy_state()
    haproxy_services()
    src = write("haproxy.ctmpl", HAPROXY_CTMPL)
    out = path("haproxy.cfg")
    if os.path.exists(out):
        os.unlink(out)
    cmds = path("haproxy.cmds")
    with Template("-consul-addr", A.addr, "-template",
                  "%s:%s:echo reload >> %s" % (src, out, cmds)) as t:
        wait_until(lambda: read("haproxy.cfg") == EXPECTED, timeout=5, what="first render")
        eq(193, len(read("haproxy.cfg")))
        wait_until(lambda: lines_of("haproxy.cmds") == 1, timeout=5, what="command once")

        # a KV change to maxconn rewrites the file
        start = time.monotonic()
        kv("service/haproxy/maxconn", "8192")
        wait_until(lambda: "maxconn 8192\n" in read("haproxy.cfg"), timeout=5, what="maxconn")
        assert time.monotonic() - start < 1.0, "KV change took %.3fs" % (time.monotonic() - start)
        wait_until(lambda: lines_of("haproxy.cmds") == 2, timeout=5, what="command after KV")

        # a new healthy instance appears within a second (follow-up 1)
        start = time.monotonic()
        set_check("node-a", "web-2", "passing")
        wait_until(lambda: "node-a" in read("haproxy.cfg"), timeout=5, what="web-2 in file")
        took = time.monotonic() - start
        assert took < 1.0, "new instance took %.3fs" % took
        assert read("haproxy.cfg").endswith("    bind *:8000\n    server node-a 10.1.0.11:8081\n"
                                            "    server node-c 10.0.0.13:8080\n"), read("haproxy.cfg")
        eq(226, len(read("haproxy.cfg").replace("8192", "4096")))

        # a failing check removes it
        start = time.monotonic()
        set_check("node-c", "web-1", "critical")
        wait_until(lambda: "node-c" not in read("haproxy.cfg"), timeout=5, what="web-1 removed")
        assert time.monotonic() - start < 1.0, "removal took %.3fs" % (time.monotonic() - start)

        # no passing release instance: the empty list is data (follow-up 2)
        set_check("node-a", "web-2", "critical")
        wait_until(lambda: read("haproxy.cfg").endswith("listen http-in\n    bind *:8000\n"),
                   timeout=5, what="no servers")
        kv("service/haproxy/maxconn", "4096")
        wait_until(lambda: len(read("haproxy.cfg")) == 160, timeout=5, what="160 bytes")
        # one command per rewrite: first render, maxconn, web-2 up, web-1 down, web-2 down,
        # maxconn back
        wait_until(lambda: lines_of("haproxy.cmds") == 6, timeout=5, what="six commands")
        n = lines_of("haproxy.cmds")
    # the same file already on disk at start: no write, no command (follow-up 4)
    set_check("node-c", "web-1", "passing")
    mtime = os.stat(out).st_mtime_ns
    r = run_ct("-consul-addr", A.addr, "-template", "%s:%s:echo reload >> %s" % (src, out, cmds),
               "-once")
    eq(0, r.returncode, r.stderr.decode())
    eq(EXPECTED, read("haproxy.cfg"))
    n2 = lines_of("haproxy.cmds")
    eq(n + 1, n2, "command ran for the changed file")
    mtime = os.stat(out).st_mtime_ns
    r = run_ct("-consul-addr", A.addr, "-template", "%s:%s:echo reload >> %s" % (src, out, cmds),
               "-once")
    eq(0, r.returncode, r.stderr.decode())
    eq(mtime, os.stat(out).st_mtime_ns, "identical file not rewritten")
    eq(n2, lines_of("haproxy.cmds"), "no command for an identical file")


@test
def absent_key_waits_then_renders():
    kv_del("wait/k")
    src = write("wait.tpl", 'v={{key "wait/k"}}\n')
    with Template("-consul-addr", A.addr, "-template", src + ":" + path("wait.out")) as t:
        time.sleep(0.5)
        eq(None, read("wait.out"), "nothing written while the key is absent")
        assert t.proc.poll() is None, t.output()
        kv("wait/k", "now")
        wait_until(lambda: read("wait.out") == "v=now\n", timeout=5, what="render after key appears")
        kv_del("wait/k")
        time.sleep(0.5)
        eq("v=now\n", read("wait.out"), "deleted key keeps the last value")


@test
def perms_backup_and_create_dirs():
    kv("perm/v", "1")
    cfg = write("perm.hcl", """
consul {
  address = "%s"
}
template {
  contents = "v={{key \\"perm/v\\"}}\\n"
  destination = "%s"
  perms = 0640
  backup = true
}
""" % (A.addr, path("sub/dir/perm.out")))
    r = run_ct("-config", cfg, "-once")
    eq(0, r.returncode, r.stderr.decode())
    eq("v=1\n", read("sub/dir/perm.out"))
    eq(0o640, os.stat(path("sub/dir/perm.out")).st_mode & 0o7777)
    kv("perm/v", "2")
    r = run_ct("-config", cfg, "-once")
    eq(0, r.returncode, r.stderr.decode())
    eq("v=2\n", read("sub/dir/perm.out"))
    eq("v=1\n", read("sub/dir/perm.out.bak"))
    # without perms the existing mode is kept
    os.chmod(path("sub/dir/perm.out"), 0o600)
    kv("perm/v", "3")
    r = run_ct("-consul-addr", A.addr, "-template",
               write("perm2.tpl", 'v={{key "perm/v"}}\n') + ":" + path("sub/dir/perm.out"), "-once")
    eq(0, r.returncode, r.stderr.decode())
    eq(0o600, os.stat(path("sub/dir/perm.out")).st_mode & 0o7777)


@test
def dry_and_parse_only():
    kv("dry/v", "x")
    src = write("dry.tpl", '[{{key "dry/v"}}]')
    r = run_ct("-consul-addr", A.addr, "-template", src + ":" + path("dry.out"), "-once", "-dry")
    eq(0, r.returncode, r.stderr.decode())
    eq("> %s\n[x]" % path("dry.out"), r.stdout.decode())
    assert not os.path.exists(path("dry.out"))
    r = run_ct("-template", src + ":" + path("dry.out"), "-parse-only")
    eq(0, r.returncode, r.stderr.decode())


@test
def config_file_hcl_and_json_with_wait_and_commands():
    kv("cfg/a", "A")
    hcl = write("ct.hcl", """
# consul-template config
consul {
  address = "%s"
  retry { attempts = 3 }
}
wait { min = "50ms" max = "200ms" }
template {
  source      = "%s"
  destination = "%s"
  command     = ["sh", "-c", "echo ran >> %s"]
  command_timeout = "5s"
}
""" % (A.addr, write("cfg.tpl", '{{key "cfg/a"}}'), path("cfg.out"), path("cfg.cmds")))
    r = run_ct("-config", hcl, "-once")
    eq(0, r.returncode, r.stderr.decode())
    eq("A", read("cfg.out"))
    eq(1, lines_of("cfg.cmds"))
    js = write("ct.json", json.dumps({
        "consul": {"address": A.addr},
        "template": [{"contents": "{{key \"cfg/a\"}}-json", "destination": path("cfg2.out")}]}))
    r = run_ct("-config", js, "-once")
    eq(0, r.returncode, r.stderr.decode())
    eq("A-json", read("cfg2.out"))
    # quiescence: a burst of changes is rendered once, after the burst
    cmds = path("q.cmds")
    with Template("-config", hcl, "-wait", "300ms:2s", "-template",
                  "%s:%s:echo q >> %s" % (write("q.tpl", '{{key "cfg/a"}}'), path("q.out"), cmds)) as t:
        wait_until(lambda: read("q.out") == "A", timeout=5, what="first render (not delayed)")
        wait_until(lambda: lines_of("q.cmds") == 1, timeout=5, what="first command")
        for i in range(5):
            kv("cfg/a", "B%d" % i)
            time.sleep(0.05)
        time.sleep(0.1)
        eq("A", read("q.out"), "not rendered during the burst")
        wait_until(lambda: read("q.out") == "B4", timeout=5, what="render after quiet")
        time.sleep(0.4)
        eq(2, lines_of("q.cmds"))


@test
def env_address_token_and_cairn_flags():
    kv("envt/a", "1")
    src = write("envt.tpl", '{{key "envt/a"}}{{env "CT_TEST_VAR"}}')
    r = run_ct("-template", src + ":" + path("envt.out"), "-once",
               extra_env={"CONSUL_HTTP_ADDR": A.addr, "CT_TEST_VAR": "-x",
                          "CONSUL_HTTP_TOKEN": "anything"})
    eq(0, r.returncode, r.stderr.decode())
    eq("1-x", read("envt.out"))
    r = run_ct("-http-addr", A.addr, "-token", "t", "-template",
               src + ":" + path("envt2.out"), "-once")
    eq(0, r.returncode, r.stderr.decode())
    eq("1", read("envt2.out"))


@test
def exit_codes():
    r = run_ct("-v")
    eq(0, r.returncode)
    assert r.stdout.decode().startswith("consul-template v0.42.1 ("), r.stdout
    eq(0, run_ct("-h").returncode)
    eq(13, run_ct("-no-such-flag").returncode)
    r = run_ct("-once", "false")
    eq(13, r.returncode)
    assert b"cli: extra args: [false]" in r.stderr, r.stderr
    eq(13, run_ct("-wait", "5s:1s").returncode)
    eq(15, run_ct("-config", write("bad.hcl", "template {\n  nonsense = 1\n}\n")).returncode)
    eq(15, run_ct("-config", path("does-not-exist.hcl")).returncode)
    eq(15, run_ct("-log-level", "loud", "-template", "a:b").returncode)
    r = run_ct("-config", write("both.hcl", 'template {\n source = "a"\n contents = "b"\n}\n'))
    eq(15, r.returncode)
    assert b"cannot specify both 'source' and 'contents'" in r.stderr, r.stderr
    r = run_ct("-consul-addr", A.addr, "-template", path("missing.tpl") + ":" + path("x.out"), "-once")
    eq(14, r.returncode)
    assert b"failed to read template: open " in r.stderr, r.stderr
    src = write("bad.tpl", "line1\n{{foo}}\n")
    r = run_ct("-consul-addr", A.addr, "-template", src + ":" + path("x.out"), "-once")
    eq(14, r.returncode)
    last = r.stderr.decode().strip().splitlines()[-1]
    assert last.endswith('[ERR] (cli) %s: parse: template: :2: function "foo" not defined' % src), last
    assert ("%s:2:3:" % src) in r.stderr.decode(), r.stderr
    src = write("exec.tpl", 'x\n  {{service "a b"}}')
    r = run_ct("-consul-addr", A.addr, "-template", src + ":" + path("x.out"), "-once")
    eq(14, r.returncode)
    assert ('execute: template: :2:4: executing "" at <service "a b">: error calling service: '
            'health.service: invalid format: "a b"') in r.stderr.decode(), r.stderr


@test
def failing_command_exits_14_and_error_fatal_false_keeps_running():
    kv("cmd/a", "1")
    src = write("cmd.tpl", '{{key "cmd/a"}}')
    r = run_ct("-consul-addr", A.addr, "-template", src + ":" + path("cmd.out") + ":exit 3", "-once")
    eq(14, r.returncode, r.stderr.decode())
    assert b"command exited with a non-zero exit status" in r.stderr, r.stderr
    r = run_ct("-consul-addr", A.addr, "-template",
               src + ":" + path("cmd2.out") + ":sleep 5", "-once",
               "-config", write("cto.hcl", 'template {\n contents = "x"\n destination = "%s"\n '
                                           'command = "sleep 5"\n command_timeout = "200ms"\n}\n'
                                % path("cmd3.out")))
    eq(14, r.returncode)
    assert b'command did not exit within time limit ("200ms")' in r.stderr, r.stderr
    cmds = path("cmdf.cmds")
    with Template("-consul-addr", A.addr, "-template-error-fatal=false", "-template",
                  "%s:%s:echo run >> %s; exit 1" % (src, path("cmd4.out"), cmds)) as t:
        wait_until(lambda: lines_of("cmdf.cmds") == 1, timeout=5, what="first failing command")
        kv("cmd/a", "2")
        wait_until(lambda: lines_of("cmdf.cmds") == 2, timeout=5, what="retried at next change")
        assert t.proc.poll() is None, t.output()


@test
def signals():
    kv("sig/a", "1")
    src = write("sig.tpl", '{{key "sig/a"}}')
    with Template("-consul-addr", A.addr, "-template", src + ":" + path("sig.out")) as t:
        wait_until(lambda: read("sig.out") == "1", timeout=5, what="render")
        t.proc.send_signal(signal.SIGTERM)  # not the kill signal: ignored
        time.sleep(0.3)
        assert t.proc.poll() is None, "SIGTERM must not stop it by default"
        # the reload signal re-reads the template files
        write("sig.tpl", 'reloaded {{key "sig/a"}}')
        t.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: read("sig.out") == "reloaded 1", timeout=5, what="reload")
        assert "Reloading configuration..." in t.output()
        eq(12, t.stop(signal.SIGINT))
        assert "Cleaning up..." in t.output()
    with Template("-consul-addr", A.addr, "-kill-signal", "SIGTERM", "-template",
                  src + ":" + path("sig2.out")) as t:
        wait_until(lambda: read("sig2.out") is not None, timeout=5, what="render")
        eq(12, t.stop(signal.SIGTERM))


@test
def agent_away_retries_then_gives_up_keeping_the_file():
    B = Agent().start()
    try:
        eq(200, B.put("/v1/kv/away/a", "kept").status)
        src = write("away.tpl", '{{key "away/a"}}')
        with Template("-consul-addr", B.addr, "-consul-retry-backoff", "50ms",
                      "-consul-retry-max-backoff", "100ms", "-consul-retry-attempts", "4",
                      "-template", src + ":" + path("away.out")) as t:
            wait_until(lambda: read("away.out") == "kept", timeout=5, what="render")
            B.kill()
            rc = t.proc.wait(10)
            eq(14, rc, t.output())
            out = t.output()
            assert "[WARN] (view) kv.block(away/a)" in out and "retry attempt 1 after \"50ms\"" in out, out
            assert "(exceeded maximum retries)" in out, out
            eq("kept", read("away.out"))
    finally:
        B.cleanup()


# ---- a real haproxy -----------------------------------------------------------

class Backend(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def start_backend(name):
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = name.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = Backend(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def fetch(port):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    c.request("GET", "/", headers={"Connection": "close"})
    r = c.getresponse()
    body = r.read().decode()
    c.close()
    return r.status, body


@test
def real_haproxy_reloaded_reaches_only_healthy_backends():
    need_health()
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not os.path.exists(haproxy):
        raise Skip("haproxy not installed (scripts/deps.sh test)")
    be1, be2 = start_backend("be1"), start_backend("be2")
    port = free_port(udp_too=False)
    prefix = "service/hap-it"
    haproxy_state(prefix)
    for n in ("hap-n1", "hap-n2"):
        deregister(n)
    register("hap-n1", "127.0.0.1", "hap-1", be1.server_address[1], ["release"], "passing",
             service="hapweb")
    register("hap-n2", "127.0.0.1", "hap-2", be2.server_address[1], ["release"], "passing",
             service="hapweb")
    tpl = HAPROXY_CTMPL.replace("service/haproxy", prefix).replace(
        "*:8000", "127.0.0.1:%d" % port).replace('"release.web"', '"release.hapweb"')
    tpl = tpl.replace("    daemon\n", "    daemon\n    pidfile %s\n" % path("haproxy.pid"))
    src = write("real.ctmpl", tpl)
    cfg = path("real-haproxy.cfg")
    reload_sh = write("reload.sh", """#!/bin/sh
# start haproxy, or reload it gracefully (-sf: old workers finish their requests)
set -e
if [ -s %(pid)s ] && kill -0 "$(cat %(pid)s)" 2>/dev/null; then
    exec %(bin)s -f %(cfg)s -p %(pid)s -sf $(cat %(pid)s)
fi
exec %(bin)s -f %(cfg)s -p %(pid)s
""" % {"pid": path("haproxy.pid"), "bin": haproxy, "cfg": cfg})
    os.chmod(reload_sh, 0o755)
    try:
        with Template("-consul-addr", A.addr, "-template", "%s:%s:%s" % (src, cfg, reload_sh)) as t:
            def seen(n=20):
                got = set()
                for _ in range(n):
                    try:
                        st, body = fetch(port)
                        if st == 200:
                            got.add(body)
                    except OSError:
                        pass
                return got

            wait_until(lambda: seen() == {"be1", "be2"}, timeout=10, what="both backends via haproxy")
            set_check("hap-n2", "hap-2", "critical")
            wait_until(lambda: "hap-n2" not in (read("real-haproxy.cfg") or ""), timeout=5,
                       what="be2 out of the file")
            # after the reload only be1 answers (old workers may finish first)
            wait_until(lambda: seen(10) == {"be1"}, timeout=10, what="only the healthy backend")
            eq({"be1"}, seen(30))
            set_check("hap-n2", "hap-2", "passing")
            wait_until(lambda: seen() == {"be1", "be2"}, timeout=10, what="be2 back")
            assert t.proc.poll() is None, t.output()
    finally:
        try:
            with open(path("haproxy.pid")) as f:
                for pid in f.read().split():
                    try:
                        os.kill(int(pid), signal.SIGTERM)
                    except (ProcessLookupError, ValueError):
                        pass
        except FileNotFoundError:
            pass
        be1.shutdown()
        be2.shutdown()


def main():
    global A
    only = sys.argv[1] if len(sys.argv) > 1 else None
    passed = failed = 0
    try:
        A = Agent().start()
        n = 0
        for fn in _tests:
            if only and only not in fn.__name__:
                continue
            n += 1
            start = time.time()
            try:
                fn()
                passed += 1
                print("ok %d %s (%.0f ms)" % (n, fn.__name__, (time.time() - start) * 1000), flush=True)
            except Skip as s:
                passed += 1
                print("ok %d %s # SKIP %s" % (n, fn.__name__, s), flush=True)
            except Exception:  # noqa: BLE001 - a failing test reports and the file goes on
                failed += 1
                print("not ok %d %s (%.0f ms)" % (n, fn.__name__, (time.time() - start) * 1000),
                      flush=True)
                for line in traceback.format_exc().rstrip().splitlines():
                    print("    " + line, flush=True)
    finally:
        if A:
            A.cleanup()
        shutil.rmtree(TMP, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed), flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
