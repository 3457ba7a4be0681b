#!/usr/bin/python3
"""bench/gossip: gossip convergence, failure detection, bandwidth and memory.

1. The simulator's table (virtual time): sim_gossip --table, N = 100, 1,000,
   10,000, plus its Lifeguard table.
2. Real processes on loopback: 16, 64 and 128 members of cairn's gossip_node
   and of a HashiCorp memberlist peer (Debian's
   golang-github-hashicorp-memberlist-dev, built here in GOPATH mode), both on
   memberlist's DefaultLANConfig timing. Measured: join convergence (every
   member knows every member, counted from the last start), failure detection
   after kill -9 (first and last member to declare it), bytes and packets sent
   per member per second while idle, resident memory per process.

usage: bench/gossip/run.py [--build build-release] [--sizes 16,64,128]
                           [--sim-sizes 100,1000,10000] [--lifeguard-sizes 100] [--no-sim] [--no-real]
                           [--impls cairn,cairn-coords,memberlist] [--window 30] [--kills 5]
"""
import argparse
import glob
import math
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def build_memberlist_peer(dest):
    """GOPATH-mode build against /usr/share/gocode; nothing is downloaded."""
    if not shutil.which("go") or not os.path.isdir(
            "/usr/share/gocode/src/github.com/hashicorp/memberlist"):
        print("# memberlist peer skipped: install golang-go and "
              "golang-github-hashicorp-memberlist-dev (apt-get)")
        return None
    gopath = tempfile.mkdtemp(prefix="cairn-gopath-")
    os.makedirs(os.path.join(gopath, "src"))
    os.symlink(os.path.join(ROOT, "bench/gossip/memberlist_peer"),
               os.path.join(gopath, "src/memberlist_peer"))
    env = dict(os.environ, GOPATH=gopath + ":/usr/share/gocode", GO111MODULE="off",
               GOFLAGS="", GOPROXY="off")
    out = os.path.join(dest, "memberlist_peer")
    r = subprocess.run(["go", "build", "-o", out, "."], cwd=os.path.join(gopath, "src/memberlist_peer"),
                       env=env, capture_output=True, text=True)
    shutil.rmtree(gopath, ignore_errors=True)
    if r.returncode != 0:
        print("# memberlist peer failed to build:\n" + r.stderr)
        return None
    return out


ALL_PROCS = []


def kill_everything(*_):
    for p in ALL_PROCS:
        if p.poll() is None:
            p.kill()
    sys.exit(1)


class Cluster:
    def __init__(self, binary, extra, n, base_port, workdir):
        self.binary, self.extra, self.n = binary, extra, n
        self.base_port, self.workdir = base_port, workdir
        self.procs, self.logs = [], []

    def name(self, i):
        return f"g{i}"

    def start(self):
        """Start all; returns the wall-clock ms just before the last one started."""
        seed = f"127.0.0.1:{self.base_port}"
        t_last = 0
        for i in range(self.n):
            t_last = time.time() * 1000
            log = os.path.join(self.workdir, f"{self.name(i)}.log")
            cmd = [self.binary, "--name", self.name(i), "--bind", f"127.0.0.1:{self.base_port + i}",
                   "--profile", "lan"] + self.extra
            if i > 0:
                cmd += ["--join", seed]
            f = open(log, "w")
            p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT)
            self.procs.append(p)
            ALL_PROCS.append(p)
            self.logs.append(log)
            if i == 0:
                time.sleep(0.3)
        return t_last

    def lines(self, i):
        try:
            with open(self.logs[i]) as f:
                return [l.split() for l in f if l.strip()]
        except OSError:
            return []

    def signal_all(self, sig, skip=()):
        for i, p in enumerate(self.procs):
            if i not in skip and p.poll() is None:
                p.send_signal(sig)

    def stop(self):
        self.signal_all(signal.SIGKILL)
        for p in self.procs:
            p.wait()


def wait_for(pred, timeout, step=0.2):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v is not None:
            return v
        time.sleep(step)
    return None


def join_converged(c):
    """ms timestamp when the last member got to know all n, or None."""
    done = []
    for i in range(c.n):
        seen, when = set(), None
        for l in c.lines(i):
            if len(l) >= 3 and l[1] == "member-join":
                seen.add(l[2])
                if len(seen) == c.n:
                    when = int(l[0])
                    break
        if when is None:
            return None
        done.append(when)
    return max(done)


def failure_seen(c, victim, t_kill, dead):
    """(first, last) ms after t_kill at which the live members declared victim gone."""
    times = []
    vname = c.name(victim)
    for i in range(c.n):
        if i == victim or i in dead:
            continue
        t = None
        for l in c.lines(i):
            if len(l) >= 3 and l[1] in ("member-failed", "member-leave") and l[2] == vname \
                    and int(l[0]) >= t_kill:
                t = int(l[0])
                break
        if t is None:
            return None
        times.append(t - t_kill)
    return (min(times), max(times))


def last_stats(c, i):
    st = None
    for l in c.lines(i):
        if len(l) >= 3 and l[1] == "stats":
            st = {k: int(v) for k, v in (kv.split("=") for kv in l[2:])}
    return st


def measure(label, binary, extra, n, base_port, window, kills):
    work = tempfile.mkdtemp(prefix=f"cairn-gossip-{label}-{n}-")
    c = Cluster(binary, extra, n, base_port, work)
    res = {"impl": label, "n": n}
    try:
        t_last = c.start()
        conv = wait_for(lambda: join_converged(c), 120)
        res["join_s"] = (conv - t_last) / 1000.0 if conv else None
        # Idle bandwidth at its steady rate: both implementations stagger each
        # member's first push-pull over the first 30 s, then push-pull every
        # 30 s * (ceil(log2 N - 5) + 1); measure after the stagger, over a
        # whole period, or the full-state exchanges are over-counted.
        period = 30 * (max(0, math.ceil(math.log2(n) - 5)) + 1 if n > 32 else 1)
        window = max(window, period)
        time.sleep(max(0.0, t_last / 1000.0 + 35 - time.time()))
        c.signal_all(signal.SIGUSR1)
        time.sleep(1)
        before = [last_stats(c, i) for i in range(n)]
        time.sleep(window)
        c.signal_all(signal.SIGUSR1)
        time.sleep(1)
        after = [last_stats(c, i) for i in range(n)]
        outs = [(a["bytes_out"] - b["bytes_out"]) / window for a, b in zip(after, before) if a and b]
        pkts = [(a["packets_out"] - b["packets_out"]) / window for a, b in zip(after, before) if a and b]
        rss = [a["rss_kb"] for a in after if a]
        res["bytes_s"] = statistics.mean(outs) if outs else None
        res["pkts_s"] = statistics.mean(pkts) if pkts else None
        res["rss_mb"] = statistics.mean(rss) / 1024 if rss else None
        # kill -9 members one after another (never the seed); each detection
        # is measured separately and the medians reported
        victims = random.Random(n).sample(range(1, n), min(kills, n - 2))
        dead, firsts, alls = set(), [], []
        for v in victims:
            t_kill = int(time.time() * 1000)
            c.procs[v].send_signal(signal.SIGKILL)
            det = wait_for(lambda: failure_seen(c, v, t_kill, dead), 180)
            dead.add(v)
            if det:
                firsts.append(det[0] / 1000.0)
                alls.append(det[1] / 1000.0)
            time.sleep(2)
        res["detect_first_s"] = statistics.median(firsts) if firsts else None
        res["detect_all_s"] = statistics.median(alls) if alls else None
        res["detect_all_list"] = alls
    finally:
        c.stop()
        shutil.rmtree(work, ignore_errors=True)
    return res


def fmt(v, spec):
    return "n/a" if v is None else format(v, spec)


def real_runs(args, build):
    node = os.path.join(build, "bench/gossip/gossip_node")
    impls = []
    tmp = tempfile.mkdtemp(prefix="cairn-gossip-bin-")
    for impl in args.impls.split(","):
        if impl == "cairn":
            impls.append(("cairn", node, ["--no-coords"]))
        elif impl == "cairn-coords":
            impls.append(("cairn+coords", node, []))
        elif impl == "memberlist":
            peer = build_memberlist_peer(tmp)
            if peer:
                impls.append(("memberlist", peer, []))
    print("\n## real processes on loopback (memberlist DefaultLANConfig timing on both)\n")
    print(f"| impl | N | join converged s | detect first s (median of {args.kills}) | "
          f"detect all s (median of {args.kills}) | bytes/s/member | packets/s/member | "
          "RSS MB/process |")
    print("|---|---|---|---|---|---|---|---|")
    details = []
    port = 21000
    for n in [int(s) for s in args.sizes.split(",")]:
        for label, binary, extra in impls:
            r = measure(label, binary, extra, n, port, args.window, args.kills)
            port += n + 7
            print(f"| {label} | {n} | {fmt(r.get('join_s'), '.2f')} | "
                  f"{fmt(r.get('detect_first_s'), '.2f')} | {fmt(r.get('detect_all_s'), '.2f')} | "
                  f"{fmt(r.get('bytes_s'), '.0f')} | {fmt(r.get('pkts_s'), '.1f')} | "
                  f"{fmt(r.get('rss_mb'), '.1f')} |", flush=True)
            details.append(f"{label} N={n}: detect-all per kill " +
                           ", ".join(f"{x:.2f}" for x in r.get("detect_all_list", [])))
    print("\n" + "\n".join(details))
    shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.environ.get("CAIRN_BUILD", os.path.join(ROOT, "build-release")))
    ap.add_argument("--sizes", default="16,64,128")
    ap.add_argument("--sim-sizes", default="100,1000,10000")
    ap.add_argument("--lifeguard-sizes", default="100",
                    help="sizes for the Lifeguard false-failure table (1000 adds ~25 min)")
    ap.add_argument("--impls", default="cairn,cairn-coords,memberlist")
    ap.add_argument("--window", type=int, default=30,
                    help="least idle bandwidth window, seconds (at least one push-pull period)")
    ap.add_argument("--kills", type=int, default=5, help="members killed one by one per run")
    ap.add_argument("--no-sim", action="store_true")
    ap.add_argument("--no-real", action="store_true")
    args = ap.parse_args()
    signal.signal(signal.SIGINT, kill_everything)
    signal.signal(signal.SIGTERM, kill_everything)
    build = args.build if os.path.isabs(args.build) else os.path.join(ROOT, args.build)
    if not args.no_sim:
        sim = os.path.join(build, "tests/sim/gossip/sim_gossip")
        print(f"# {sim} --table --sizes {args.sim_sizes} --lifeguard-sizes {args.lifeguard_sizes}",
              flush=True)
        subprocess.run([sim, "--table", "--sizes", args.sim_sizes, "--lifeguard-sizes",
                        args.lifeguard_sizes], check=False)
    if not args.no_real:
        real_runs(args, build)
    return 0


if __name__ == "__main__":
    sys.exit(main())
