#!/usr/bin/python3
"""bench/acl: what enforcement costs. KV PUT and GET at concurrency 64
against two dev agents of the same build in the same run: ACLs off, and ACLs
on with default_policy=deny and a token linked to 20 policies of 50 rules
each (key, key_prefix, service_prefix, node_prefix; the grant for the
benchmark keys sits in the last policy). The token goes as ?token= to both,
so both parse the same requests.

The machine is shared, so throughput alone swings by 2x from one point to
the next. Rounds alternate off/on in short points, and besides ops/s each
point records the server's CPU time per request (utime+stime from
/proc/<pid>/stat over the point): work done per request hardly moves with
other tenants' load, so the cost is judged on it (median over rounds), with
the throughput medians beside it. bench_authz adds the authorizer's own
nanoseconds per request, measured without I/O.

usage: CAIRN_BUILD=build-acl-rel bench/acl/run.py [seconds-per-point] [rounds]
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import urllib.request

# A relative CAIRN_BUILD (as typed by hand) is taken from the current directory.
for var in ("CAIRN_BUILD", "CAIRN_BIN"):
    if os.environ.get(var):
        os.environ[var] = os.path.abspath(os.environ[var])
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import benchlib as B  # noqa: E402

SECONDS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 8
CONC = 64
KEYS = 10000
SIZE = 100
ROOT = "0b5e6a1c-2d3e-4f50-8a6b-7c8d9e0f1a2b"
POLICIES, RULES = 20, 50


def http(port, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                 headers={"X-Consul-Token": ROOT})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"null")


def policy_rules(i):
    """50 rules: 30 key_prefix, 10 key, 5 service_prefix, 5 node_prefix."""
    out = []
    for j in range(30):
        out.append(f'key_prefix "app{i:02d}/part{j:02d}/" {{ policy = "{"write" if j % 3 else "read"}" }}')
    for j in range(10):
        out.append(f'key "cfg/{i:02d}/{j:02d}" {{ policy = "read" }}')
    for j in range(5):
        out.append(f'service_prefix "svc{i:02d}-{j}" {{ policy = "read" }}')
    for j in range(5 if i < POLICIES - 1 else 4):
        out.append(f'node_prefix "node{i:02d}-{j}" {{ policy = "read" }}')
    if i == POLICIES - 1:
        out.append('key_prefix "bench/" { policy = "write" }')
    assert len(out) == RULES
    return "\n".join(out)


def setup_acl(port):
    ids = []
    for i in range(POLICIES):
        p = http(port, "PUT", "/v1/acl/policy", {"Name": f"bench-{i:02d}", "Rules": policy_rules(i)})
        ids.append({"ID": p["ID"]})
    t = http(port, "PUT", "/v1/acl/token", {"Description": "bench", "Policies": ids})
    return t["SecretID"]


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_ticks(pid):
    """utime + stime of a process, in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def start(acl):
    if not acl:
        return B.start_cairn()
    cfg = {"acl": {"enabled": True, "default_policy": "deny",
                   "tokens": {"initial_management": ROOT}}}
    fd, path = tempfile.mkstemp(suffix=".json", prefix="bench-acl-")
    with os.fdopen(fd, "w") as f:
        json.dump(cfg, f)
    p = B.start_cairn("-config-file", path)
    os.unlink(path)
    return p


def main():
    off, on = start(False), start(True)
    try:
        secret = setup_acl(on.port)
        put = ("PUT", "/v1/kv/{KEY}?token=" + secret, "{VAL}")
        get = ("GET", "/v1/kv/{KEY}?token=" + secret, "")
        for p in (off, on):  # every key once, so reads hit
            w = B.loadgen(p.port, *put, conns=16, seconds=2, size=SIZE, keys=KEYS, sequential=True)
            if w["errors"]:
                raise RuntimeError(f"populate: {w}")
        results = {(n, op): [] for n in ("off", "on") for op in ("PUT", "GET")}
        cpu = {(n, op): [] for n in ("off", "on") for op in ("PUT", "GET")}
        rows = []
        for rnd in range(ROUNDS):
            for name, p in (("off", off), ("on", on)):
                for op, spec in (("PUT", put), ("GET", get)):
                    t0 = cpu_ticks(p.pid)
                    r = B.loadgen(p.port, *spec, conns=CONC, seconds=SECONDS, size=SIZE, keys=KEYS)
                    used = (cpu_ticks(p.pid) - t0) / TICKS
                    if r["errors"]:
                        raise RuntimeError(f"{name} {op}: {r['errors']} non-2xx answers")
                    us_per_op = used / max(r["ops"], 1) * 1e6
                    results[(name, op)].append(r["ops_per_s"])
                    cpu[(name, op)].append(us_per_op)
                    rows.append((rnd + 1, f"ACLs {name}", op, f"{r['ops_per_s']:.0f}",
                                 f"{us_per_op:.2f}", r["p50_us"], r["p99_us"]))
        B.table(f"KV at concurrency {CONC}, {SECONDS}s per point, {ROUNDS} rounds "
                f"(ACLs on: default deny, token with {POLICIES} policies x {RULES} rules)",
                ["round", "agent", "op", "ops/s", "server CPU µs/op", "p50 µs", "p99 µs"], rows)
        summary = []
        for op in ("PUT", "GET"):
            c_off, c_on = statistics.median(cpu[("off", op)]), statistics.median(cpu[("on", op)])
            t_off = statistics.median(results[("off", op)])
            t_on = statistics.median(results[("on", op)])
            summary.append((op, f"{c_off:.2f}", f"{c_on:.2f}", f"{(c_on / c_off - 1) * 100:+.1f}%",
                            f"{t_off:.0f}", f"{t_on:.0f}", f"{(1 - t_on / t_off) * 100:+.1f}%"))
        B.table("The cost of enforcement (medians; positive = more work / slower with ACLs on)",
                ["op", "CPU µs/op off", "CPU µs/op on", "cost (CPU/op)", "ops/s off", "ops/s on",
                 "cost (ops/s)"], summary)
        authz = os.path.join(B.BUILD, "bench/acl/bench_authz")
        if os.path.exists(authz):
            r = json.loads(subprocess.run([authz], capture_output=True, text=True, check=True).stdout)
            B.table("The authorizer alone (bench/acl/bench_authz, no I/O)",
                    ["policies", "rules", "first resolve (compile) µs", "resolve + allow ns",
                     "allow ns"],
                    [(r["policies"], r["rules"], r["first_resolve_us"], r["resolve_and_allow_ns"],
                      r["allow_ns"])])
    finally:
        off.stop()
        on.stop()


if __name__ == "__main__":
    main()
