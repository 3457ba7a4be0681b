#!/usr/bin/python3
"""DNS bench: an SRV lookup of a 10-instance service (web.service.consul with
EDNS0 1232: 10 SRV answers + 10 A records in ADDITIONAL), cairn beside nsd
serving the same records from a static zone, in the same run, on this machine.

Per server and round: queries/s and latency percentiles from bench/dns/dnsload
(100 queries outstanding), the server's CPU time per query (from /proc: robust
when the machine is shared), dnsperf's queries/s as a cross-check, and
latency at a fixed 20k queries/s (open loop: no queueing in the client).
Rounds alternate the servers; tables show medians.

usage: CAIRN_BUILD=build-dns-rel bench/dns/run.py [--seconds 5] [--rounds 3]
The reference Consul joins when CONSUL_BIN is set (a development aid).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import benchlib  # noqa: E402
from benchlib import Proc, free_port, table, wait_http  # noqa: E402

DNSLOAD = os.path.join(benchlib.BUILD, "bench/dns/dnsload")
N = 10


def put(port, path, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(),
                                 method="PUT")
    with urllib.request.urlopen(req, timeout=10) as r:
        r.read()


def register(port):
    for i in range(N):
        put(port, "/v1/catalog/register", {
            "Node": f"web-{i}", "Address": f"10.0.0.{i + 1}",
            "Service": {"Service": "web", "ID": "web", "Port": 8080 + i}})


def start_cairn():
    http, dnsp = free_port(), free_port()
    p = Proc("cairn", [benchlib.CAIRN, "agent", "-dev", "-log-level", "warn", "-http-port", str(http),
                       "-dns-port", str(dnsp), "-server-port", str(free_port()),
                       "-serf-lan-port", str(free_port()), "-serf-wan-port", str(free_port())])
    wait_http(f"http://127.0.0.1:{http}/v1/status/leader", ok=lambda b: len(b) > 2)
    register(http)
    p.dns_port = dnsp
    return p


def start_consul():
    if not benchlib.CONSUL or not os.path.exists(benchlib.CONSUL):
        return None
    http, dnsp = free_port(), free_port()
    p = Proc("consul", [benchlib.CONSUL, "agent", "-dev", "-log-level", "warn",
                        "-http-port", str(http), "-dns-port", str(dnsp), "-server-port", str(free_port()),
                        "-serf-lan-port", str(free_port()), "-serf-wan-port", str(free_port()),
                        "-grpc-port", str(free_port())])
    wait_http(f"http://127.0.0.1:{http}/v1/status/leader", ok=lambda b: len(b) > 2)
    register(http)
    p.dns_port = dnsp
    return p


def start_nsd():
    nsd = shutil.which("nsd") or "/usr/sbin/nsd"
    if not os.path.exists(nsd):
        return None
    d = tempfile.mkdtemp(prefix="bench-nsd-")
    port = free_port()
    lines = ["$ORIGIN consul.", "$TTL 0",
             "@ IN SOA ns.consul. hostmaster.consul. 1 3600 600 86400 0",
             "@ IN NS ns.consul.", "ns IN A 127.0.0.1"]
    for i in range(N):
        lines.append(f"web.service IN SRV 1 1 {8080 + i} web-{i}.node.dc1.consul.")
        lines.append(f"web-{i}.node.dc1 IN A 10.0.0.{i + 1}")
    with open(os.path.join(d, "consul.zone"), "w") as f:
        f.write("\n".join(lines) + "\n")
    # One server process, as cairn answers from one loop; no response rate limiting.
    # (nsd also puts its NS record in AUTHORITY and that NS's A in ADDITIONAL: a
    # reply ~40 bytes longer than cairn's; minimal-responses would drop the
    # targets' A records as well.)
    conf = f"""server:
  ip-address: 127.0.0.1@{port}
  server-count: 1
  username: ""
  chroot: ""
  zonesdir: "{d}"
  pidfile: "{d}/nsd.pid"
  database: ""
  xfrdfile: "{d}/xfrd.state"
  zonelistfile: "{d}/zone.list"
  verbosity: 0
  hide-version: yes
  rrl-ratelimit: 0
  rrl-whitelist-ratelimit: 0
remote-control:
  control-enable: no
zone:
  name: consul
  zonefile: consul.zone
"""
    with open(os.path.join(d, "nsd.conf"), "w") as f:
        f.write(conf)
    p = Proc("nsd", [nsd, "-d", "-c", os.path.join(d, "nsd.conf")])
    p.dns_port = port
    p.zone_dir = d
    deadline = time.time() + 10
    while time.time() < deadline:
        if answers(port):
            return p
        time.sleep(0.1)
    raise RuntimeError("nsd did not answer")


def answers(port):
    """Sorted SRV (port, target) and ADDITIONAL A records, or None."""
    try:
        import dns.message
        import dns.query
        import dns.rdatatype
        m = dns.message.make_query("web.service.consul", "SRV", use_edns=0, payload=1232)
        r = dns.query.udp(m, "127.0.0.1", port=port, timeout=1)
    except Exception:  # noqa: BLE001 - not up yet
        return None
    srv = sorted((x.port, str(x.target)) for rrset in r.answer for x in rrset)
    extra = sorted((str(rrset.name), x.to_text()) for rrset in r.additional for x in rrset
                   if rrset.rdtype == dns.rdatatype.A and str(rrset.name) != "ns.consul.")
    return srv, extra


def tree_cpu_ticks(pid):
    """utime + stime of pid and its descendants (clock ticks)."""
    total, pids = 0, {pid}
    procs = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        procs[int(name)] = (int(rest[1]), int(rest[11]) + int(rest[12]))
    changed = True
    while changed:
        changed = False
        for p, (ppid, _) in procs.items():
            if ppid in pids and p not in pids:
                pids.add(p)
                changed = True
    for p in pids:
        total += procs.get(p, (0, 0))[1]
    return total


def dnsload(port, seconds, *extra):
    out = subprocess.run([DNSLOAD, "-p", str(port), "-d", str(seconds), "-w", "1", *extra],
                         capture_output=True, text=True, timeout=seconds + 30)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout)


def dnsperf(port, seconds):
    if not shutil.which("dnsperf"):
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("web.service.consul SRV\n")
        path = f.name
    out = subprocess.run(["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", path, "-l", str(seconds),
                          "-e", "-q", "100"], capture_output=True, text=True, timeout=seconds + 30)
    os.unlink(path)
    for line in out.stdout.splitlines():
        if "Queries per second" in line:
            return float(line.split()[-1])
    return None


def measure(srv, seconds):
    tick = os.sysconf("SC_CLK_TCK")
    t0 = tree_cpu_ticks(srv.pid)
    r = dnsload(srv.dns_port, seconds)
    t1 = tree_cpu_ticks(srv.pid)
    # dnsload's first second is warm-up: count its queries too, at the same rate
    queries = r["completed"] * (seconds + 1) / seconds
    r["cpu_us_per_query"] = (t1 - t0) / tick * 1e6 / max(queries, 1)
    r["dnsperf_qps"] = dnsperf(srv.dns_port, seconds)
    r["fixed"] = dnsload(srv.dns_port, min(seconds, 3), "-r", "20000")
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    if not os.path.exists(DNSLOAD):
        sys.exit(f"{DNSLOAD} missing: build it (ninja -C <build> bench/dns/dnsload)")
    servers = []
    try:
        servers.append(("cairn", start_cairn()))
        nsd = start_nsd()
        if nsd:
            servers.append(("nsd", nsd))
        consul = start_consul()
        if consul:
            servers.append(("consul 1.7", consul))
        want = answers(servers[0][1].dns_port)
        for name, s in servers:
            got = answers(s.dns_port)
            if got != want:
                raise RuntimeError(f"{name} answers differently:\n{got}\nvs\n{want}")
        print(f"all servers answer {len(want[0])} SRV + {len(want[1])} A records", flush=True)
        results = {name: [] for name, _ in servers}
        for rnd in range(a.rounds):
            order = servers if rnd % 2 == 0 else list(reversed(servers))
            for name, s in order:
                r = measure(s, a.seconds)
                results[name].append(r)
                print(f"round {rnd + 1} {name}: {json.dumps(r)}", flush=True)
        med = {name: {k: statistics.median(x[k] for x in rs)
                      for k in ("qps", "p50_us", "p99_us", "cpu_us_per_query")}
               for name, rs in results.items()}
        for name, rs in results.items():
            vals = [x["dnsperf_qps"] for x in rs if x["dnsperf_qps"]]
            med[name]["dnsperf_qps"] = statistics.median(vals) if vals else 0
            med[name]["fixed_p50_us"] = statistics.median(x["fixed"]["p50_us"] for x in rs)
            med[name]["fixed_p99_us"] = statistics.median(x["fixed"]["p99_us"] for x in rs)
        base = med.get("nsd")
        rows = []
        for name, m in med.items():
            rel = f"{100 * m['qps'] / base['qps']:.0f}%" if base else "-"
            rows.append([name, f"{m['qps']:,.0f}", rel, f"{m['dnsperf_qps']:,.0f}",
                         f"{m['p50_us']:.0f}", f"{m['p99_us']:.0f}",
                         f"{m['cpu_us_per_query']:.2f}",
                         f"{m['fixed_p50_us']:.0f} / {m['fixed_p99_us']:.0f}"])
        table(f"SRV web.service.consul, 10 instances, EDNS 1232, UDP ({a.rounds} rounds of "
              f"{a.seconds:g} s, medians; {os.cpu_count()} CPUs, load avg "
              f"{os.getloadavg()[0]:.1f})",
              ["server", "queries/s (dnsload, 100 outstanding)", "vs nsd", "dnsperf q/s",
               "p50 µs", "p99 µs", "CPU µs/query", "p50 / p99 µs at 20k q/s"], rows)
        print(json.dumps({"dns_srv_10": med}), flush=True)
    finally:
        for _, s in servers:
            s.stop()
            if getattr(s, "zone_dir", None):
                shutil.rmtree(s.zone_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
