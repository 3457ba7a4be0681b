#!/usr/bin/python3
"""bench/wal: durable appends of 256-byte entries through cairn's log at 1, 16
and 64 concurrent appenders, beside the disk's raw write+fdatasync rate and
etcd 3.4's put rate (when /usr/bin/etcd exists) measured in the same run, on
the same disk; plus snapshot write/read throughput.

Builds nothing: $CAIRN_BUILD names a meson build dir holding
bench/wal/bench_wal (make bench sets it; by hand:
CAIRN_BUILD=build-release /usr/bin/python3 bench/wal/run.py).
Environment: BENCH_SECONDS (per run, default 3), BENCH_ROUNDS (default 3: the
configurations run round-robin and each row is its median round, because the
disk is shared), BENCH_DIR (where data goes, default /var/tmp: a real disk, not
tmpfs), BENCH_SNAPSHOT_MB (default 120).
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("CAIRN_BUILD", os.path.join(ROOT, "build-release"))
EXE = os.path.join(BUILD, "bench/wal/bench_wal")
SECONDS = float(os.environ.get("BENCH_SECONDS", "3"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
BASE = os.environ.get("BENCH_DIR", "/var/tmp")
SNAP_MB = int(os.environ.get("BENCH_SNAPSHOT_MB", "120"))
CONCURRENCY = [1, 16, 64]


def run(*args):
    """Run bench_wal; return its JSON line."""
    out = subprocess.run([EXE, *map(str, args)], capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"bench_wal {' '.join(map(str, args))}: {out.stderr.strip()}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_etcd(datadir):
    client, peer = free_port(), free_port()
    cmd = ["etcd", "--name", "bench", "--data-dir", datadir,
           "--listen-client-urls", f"http://127.0.0.1:{client}",
           "--advertise-client-urls", f"http://127.0.0.1:{client}",
           "--listen-peer-urls", f"http://127.0.0.1:{peer}",
           "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
           "--initial-cluster", f"bench=http://127.0.0.1:{peer}",
           "--log-level", "error"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{client}/health", timeout=1) as r:
                if b"true" in r.read():
                    return proc, client
        except OSError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("etcd did not become healthy")


LOAD = " ".join(open("/proc/loadavg").read().split()[:3])


def median_run(results, key):
    """The run whose key is the median (its latencies come along)."""
    ordered = sorted(results, key=lambda r: r[key])
    return ordered[len(ordered) // 2]


def main():
    if not os.access(EXE, os.X_OK):
        print(f"bench/wal: {EXE} missing (build it: ninja -C {BUILD} bench/wal/bench_wal)")
        return 1
    work = tempfile.mkdtemp(prefix="cairn-bench-wal-", dir=BASE)
    raws, wal, etcd = [], {n: [] for n in CONCURRENCY}, {n: [] for n in CONCURRENCY}
    proc = None
    try:
        if shutil.which("etcd"):
            proc, port = start_etcd(os.path.join(work, "etcd"))
            run("etcd", "--port", port, "--clients", 1, "--seconds", 1)  # warm-up
        # Round-robin: the disk is shared, so contention bursts should hit every
        # configuration alike; each row reports its median round.
        for _ in range(ROUNDS):
            raws.append(run("raw", "--dir", work, "--seconds", SECONDS))
            for n in CONCURRENCY:
                d = os.path.join(work, f"wal{n}")
                os.makedirs(d)
                wal[n].append(run("wal", "--dir", d, "--appenders", n, "--seconds", SECONDS,
                                  "--size", 256))
                shutil.rmtree(d)
            if proc:
                for n in CONCURRENCY:
                    etcd[n].append(run("etcd", "--port", port, "--clients", n,
                                       "--seconds", SECONDS))
        snap = run("snapshot", "--dir", os.path.join(work, "snap"), "--mb", SNAP_MB)
    finally:
        if proc:
            proc.terminate()
            proc.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)

    raw = median_run(raws, "fsyncs_per_s")
    base = raw["fsyncs_per_s"]
    rows = [("raw write+fdatasync, 256 B", base, raw, "1")]
    for n in CONCURRENCY:
        r = median_run(wal[n], "appends_per_s")
        rows.append((f"cairn log, {n} appender{'s' if n > 1 else ''}", r["appends_per_s"], r,
                     f"{r['entries_per_wakeup']:.1f}"))
    for n in CONCURRENCY:
        if etcd[n]:
            r = median_run(etcd[n], "puts_per_s")
            rows.append((f"etcd 3.4 put, {n} client{'s' if n > 1 else ''}", r["puts_per_s"], r,
                         "-"))
    print(f"load average at start: {LOAD}; {ROUNDS} rounds of {SECONDS:g} s, medians; "
          f"raw per round: {', '.join(str(int(r['fsyncs_per_s'])) for r in raws)}")
    print(f"{'256-byte durable writes':<30} {'ops/s':>9} {'x raw':>7} {'p50 ms':>8} "
          f"{'p99 ms':>8} {'per sync':>9}")
    for name, rate, r, batch in rows:
        print(f"{name:<30} {rate:>9.0f} {rate / base:>7.1f} {r['p50_ms']:>8.3f} "
              f"{r['p99_ms']:>8.3f} {batch:>9}")
    if not proc:
        print("etcd: not installed (apt-get install etcd-server): no comparison this run")
    print(f"snapshot {snap['mb']:.0f} MB ({snap['entries']} entries of 120 B): "
          f"write+fsync {snap['write_mb_s']:.0f} MB/s, verified read {snap['read_cold_mb_s']:.0f} "
          f"MB/s cold ({snap['read_cold_s']:.2f} s), {snap['read_warm_mb_s']:.0f} MB/s warm")
    ratios = [w["appends_per_s"] / r["fsyncs_per_s"] for w, r in zip(wal[64], raws)]
    ratio = median_run([{"x": x} for x in ratios], "x")["x"]
    verdict = "met" if ratio >= 20 else "NOT met"
    print(f"target (64 appenders >= 20x raw fdatasync): median per-round ratio {ratio:.1f}x "
          f"({', '.join(f'{x:.1f}' for x in ratios)}), {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
