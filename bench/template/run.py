#!/usr/bin/python3
"""bench/template: `cairn template` against a dev agent.

1. Change-to-file latency: one template renders the healthy instances of a
   service; 100 times a check flips (catalog) -- or a KV value changes when the
   agent has no /v1/health -- and we time from the agent's answer to the write
   until the rewritten file is on disk (p50/p99).
2. The agent's cost of 1,000 templates watching 100 services (10 templates per
   service; identical dependencies share one blocking query): held queries
   (established connections to the agent), agent CPU and RSS while holding
   them idle and during churn, time to the first full render, and the
   template process's own CPU and RSS.

usage: bench/template/run.py [--build build-tmpl-rel] [--changes 100]
The build defaults to $CAIRN_BUILD, else build-tmpl-rel (meson setup
build-tmpl-rel --buildtype=release && ninja -C build-tmpl-rel cairn).
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

CLK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def proc_cpu(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK  # utime + stime, seconds


def proc_rss_mib(pid):
    with open("/proc/%d/statm" % pid) as f:
        return int(f.read().split()[1]) * PAGE / (1 << 20)


def established_to(port):
    """Established TCP connections whose remote end is 127.0.0.1:port."""
    n = 0
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    rem, st = parts[2], parts[3]
                    if st == "01" and int(rem.split(":")[1], 16) == port:
                        n += 1
        except FileNotFoundError:
            pass
    return n


def pct(xs, p):
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, int(round(p / 100.0 * (len(xs) - 1)))))
    return xs[k]


def wait_for(fn, timeout=30, interval=0.0005):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(interval)
    raise TimeoutError("condition not met")


def read(p):
    try:
        with open(p) as f:
            return f.read()
    except FileNotFoundError:
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.environ.get("CAIRN_BUILD", os.path.join(ROOT, "build-tmpl-rel")))
    ap.add_argument("--changes", type=int, default=100)
    ap.add_argument("--templates", type=int, default=1000)
    ap.add_argument("--services", type=int, default=100)
    a = ap.parse_args()
    a.build = os.path.abspath(a.build)
    os.environ["CAIRN_BIN"] = os.path.join(a.build, "cairn")
    import cairn_test
    cairn_test.BIN = os.environ["CAIRN_BIN"]
    from cairn_test import Agent

    tmp = tempfile.mkdtemp(prefix="cairn-bench-tmpl-")
    A = Agent().start()
    procs = []
    try:
        health = A.get("/v1/health/service/none").status != 404
        env = dict(os.environ)
        env.pop("CONSUL_HTTP_ADDR", None)

        # ---- 1. latency ------------------------------------------------------
        def register(node, sid, svc, port, status):
            body = {"Node": node, "Address": "127.0.0.1",
                    "Service": {"ID": sid, "Service": svc, "Port": port},
                    "Checks": [{"CheckID": "service:" + sid, "Name": "c", "Status": status,
                                "ServiceID": sid}]}
            r = A.put("/v1/catalog/register", body)
            assert r.status == 200, r

        out = os.path.join(tmp, "lat.out")
        if health:
            register("lat-n1", "lat-1", "lat", 1001, "passing")
            register("lat-n2", "lat-2", "lat", 1002, "passing")
            src = '{{range service "lat"}}{{.ID}} {{end}}\n'
            what = "catalog check flip (PUT /v1/catalog/register) -> file"
        else:
            A.put("/v1/kv/lat/v", "0")
            src = '{{key "lat/v"}}\n'
            what = "KV write (PUT /v1/kv) -> file (no /v1/health in this build)"
        with open(os.path.join(tmp, "lat.tpl"), "w") as f:
            f.write(src)
        p = subprocess.Popen([a.build + "/cairn", "template", "-consul-addr", A.addr, "-template",
                              os.path.join(tmp, "lat.tpl") + ":" + out],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        procs.append(p)
        wait_for(lambda: read(out))
        def series(gap):
            lat = []
            for i in range(a.changes):
                if health:
                    up = i % 2 == 1
                    want = (lambda t: "lat-2" in t) if up else (lambda t: "lat-2" not in t)
                    body = {"Node": "lat-n2", "SkipNodeUpdate": True, "Address": "",
                            "Check": {"CheckID": "service:lat-2", "Name": "c", "ServiceID": "lat-2",
                                      "Status": "passing" if up else "critical"}}
                    t0 = time.monotonic()
                    r = A.put("/v1/catalog/register", body)
                else:
                    val = "%s-%d" % (gap, i)
                    want = (lambda v: (lambda t: t == v + "\n"))(val)
                    t0 = time.monotonic()
                    r = A.put("/v1/kv/lat/v", val)
                assert r.status == 200, r
                wait_for(lambda: want(read(out) or ""))
                lat.append((time.monotonic() - t0) * 1000)
                time.sleep(gap)
            return lat

        # changes 250 ms apart: each one finds a blocking query held at the agent
        spaced = series(0.25)
        # back to back (20 ms apart): consul-template's 100 ms minimum between two
        # requests of one watch paces the updates
        burst = series(0.02)
        p.send_signal(signal.SIGINT)
        p.wait(10)
        print("## change -> rewritten file (%s), %d changes per row" % (what, a.changes))
        print()
        print("| changes | p50 ms | p90 ms | p99 ms | max ms |")
        print("|---|---|---|---|---|")
        for name, lat in (("250 ms apart (query held)", spaced), ("20 ms apart (paced by the 100 ms minimum)", burst)):
            print("| %s | %.2f | %.2f | %.2f | %.2f |" % (name, pct(lat, 50), pct(lat, 90), pct(lat, 99), max(lat)))
        print(flush=True)

        # ---- 2. 1,000 templates over 100 services -----------------------------------
        nsvc, ntpl = a.services, a.templates
        if health:
            for s in range(nsvc):
                register("bn-%d" % s, "bs-%d" % s, "bsvc-%d" % s, 2000 + s, "passing")
        else:
            for s in range(nsvc):
                A.put("/v1/kv/bsvc/%d" % s, "v")
        cfg = []
        outdir = os.path.join(tmp, "out")
        os.makedirs(outdir)
        for t in range(ntpl):
            s = t % nsvc
            contents = ('{{range service "bsvc-%d"}}server {{.Node}} {{.Address}}:{{.Port}}\n{{end}}' % s
                        if health else '{{key "bsvc/%d"}}\n' % s)
            cfg.append({"contents": contents, "destination": os.path.join(outdir, "t%04d.cfg" % t)})
        cfg_path = os.path.join(tmp, "many.json")
        with open(cfg_path, "w") as f:
            json.dump({"consul": {"address": A.addr}, "template": cfg}, f)
        apid = A.proc.pid
        base_conn = established_to(A.http_port)
        a_cpu0, a_rss0 = proc_cpu(apid), proc_rss_mib(apid)
        t0 = time.monotonic()
        p = subprocess.Popen([a.build + "/cairn", "template", "-config", cfg_path],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        procs.append(p)
        last = os.path.join(outdir, "t%04d.cfg" % (ntpl - 1))
        wait_for(lambda: all(os.path.exists(os.path.join(outdir, "t%04d.cfg" % t)) for t in (0, ntpl // 2, ntpl - 1)) and
                 len(os.listdir(outdir)) >= ntpl, timeout=60, interval=0.005)
        first_render = time.monotonic() - t0
        time.sleep(1.0)
        held = established_to(A.http_port) - base_conn
        # idle holding: 10 s
        a_cpu1, t_cpu1 = proc_cpu(apid), proc_cpu(p.pid)
        time.sleep(10)
        a_cpu2, t_cpu2 = proc_cpu(apid), proc_cpu(p.pid)
        a_rss_idle, t_rss_idle = proc_rss_mib(apid), proc_rss_mib(p.pid)
        # churn: 100 changes, one service each, every change rewrites 10 files
        c0 = time.monotonic()
        for i in range(100):
            s = i % nsvc
            if health:
                body = {"Node": "bn-%d" % s, "SkipNodeUpdate": True, "Address": "",
                        "Check": {"CheckID": "service:bs-%d" % s, "Name": "c", "ServiceID": "bs-%d" % s,
                                  "Status": "critical" if (i // nsvc) % 2 == 0 else "passing"}}
                A.put("/v1/catalog/register", body)
            else:
                A.put("/v1/kv/bsvc/%d" % s, "w%d" % i)
        expect = "" if health else None
        if health:
            wait_for(lambda: read(os.path.join(outdir, "t%04d.cfg" % (99 + (ntpl // nsvc - 1) * nsvc))) == "",
                     timeout=30, interval=0.005)
        else:
            wait_for(lambda: read(os.path.join(outdir, "t%04d.cfg" % 99)) == "w99\n", timeout=30,
                     interval=0.005)
        churn_s = time.monotonic() - c0
        time.sleep(0.5)
        a_cpu3, t_cpu3 = proc_cpu(apid), proc_cpu(p.pid)
        a_rss_churn, t_rss_churn = proc_rss_mib(apid), proc_rss_mib(p.pid)
        p.send_signal(signal.SIGINT)
        p.wait(10)
        print("## %d templates watching %d services (%s), one `cairn template` process" %
              (ntpl, nsvc, "health.service" if health else "kv.block"))
        print()
        print("| measure | value |")
        print("|---|---|")
        print("| first render of all %d files | %.2f s |" % (ntpl, first_render))
        print("| held blocking queries at the agent | %d |" % held)
        print("| agent CPU while holding them idle (10 s) | %.1f %% of a core |" %
              ((a_cpu2 - a_cpu1) / 10 * 100))
        print("| agent RSS before / holding / after churn | %.1f / %.1f / %.1f MiB |" %
              (a_rss0, a_rss_idle, a_rss_churn))
        print("| agent CPU for 100 changes (1,000 file rewrites) | %.2f s CPU in %.2f s |" %
              (a_cpu3 - a_cpu2, churn_s))
        print("| cairn template CPU idle (10 s) / for the churn | %.2f s / %.2f s |" %
              (t_cpu2 - t_cpu1, t_cpu3 - t_cpu2))
        print("| cairn template RSS idle / after churn | %.1f / %.1f MiB |" % (t_rss_idle, t_rss_churn))
        print(flush=True)

        # ---- 3. the same 1,000 templates in 10 processes: 1,000 held queries ----------
        nproc = 10
        per = ntpl // nproc
        sub = []
        base_conn = established_to(A.http_port)
        a_rss0 = proc_rss_mib(apid)
        for k in range(nproc):
            part = os.path.join(tmp, "part%d.json" % k)
            with open(part, "w") as f:
                json.dump({"consul": {"address": A.addr}, "template": [
                    dict(c, destination=c["destination"] + ".p%d" % k) for c in cfg[k * per:(k + 1) * per]]}, f)
            q = subprocess.Popen([a.build + "/cairn", "template", "-config", part],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
            procs.append(q)
            sub.append(q)
        wait_for(lambda: established_to(A.http_port) - base_conn >= nproc * min(per, nsvc), timeout=60,
                 interval=0.01)
        time.sleep(1.0)
        held = established_to(A.http_port) - base_conn
        a_cpu1 = proc_cpu(apid)
        time.sleep(10)
        a_cpu2 = proc_cpu(apid)
        a_rss_idle = proc_rss_mib(apid)
        c0 = time.monotonic()
        for i in range(100):
            s = i % nsvc
            if health:
                body = {"Node": "bn-%d" % s, "SkipNodeUpdate": True, "Address": "",
                        "Check": {"CheckID": "service:bs-%d" % s, "Name": "c", "ServiceID": "bs-%d" % s,
                                  "Status": "passing" if (i // nsvc) % 2 == 0 else "critical"}}
                A.put("/v1/catalog/register", body)
            else:
                A.put("/v1/kv/bsvc/%d" % s, "x%d" % i)
        time.sleep(2.0)
        a_cpu3 = proc_cpu(apid)
        t_rss = sum(proc_rss_mib(q.pid) for q in sub)
        for q in sub:
            q.send_signal(signal.SIGINT)
            q.wait(10)
        print("## the same %d templates in %d `cairn template` processes (no sharing across them)" %
              (ntpl, nproc))
        print()
        print("| measure | value |")
        print("|---|---|")
        print("| held blocking queries at the agent | %d |" % held)
        print("| agent CPU while holding them idle (10 s) | %.1f %% of a core |" % ((a_cpu2 - a_cpu1) / 10 * 100))
        print("| agent RSS before / holding | %.1f / %.1f MiB |" % (a_rss0, a_rss_idle))
        print("| agent CPU for 100 changes (each wakes 10 queries) | %.2f s |" % (a_cpu3 - a_cpu2))
        print("| the 10 processes' RSS together | %.1f MiB |" % t_rss)
        print(flush=True)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        A.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
