#!/usr/bin/python3
"""cairn's suite runner: unit binaries, simulators, integration tests.

Every part prints `ok ...` / `not ok ...` lines; this runner streams them,
counts them, and ends with the one line CI reads: `N passed, N failed`.
"""
import argparse
import glob
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OK = re.compile(r"^ok\b")
NOT_OK = re.compile(r"^not ok\b")
SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed$")


class Tally:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.failures = []

    def run(self, label, cmd, env=None, timeout=1800):
        """Run one part; count its ok/not ok lines. A part that crashes or
        reports nothing counts as one failure, so it can never pass silently."""
        print(f"# {label}", flush=True)
        start = time.time()
        seen_ok = seen_bad = 0
        summary = None
        try:
            p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 env=env, cwd=ROOT, text=True, errors="replace")
            deadline = start + timeout
            for line in p.stdout:
                line = line.rstrip("\n")
                if SUMMARY.match(line):
                    summary = line
                    continue
                print("  " + line, flush=True)
                if NOT_OK.match(line):
                    seen_bad += 1
                    self.failures.append(f"{label}: {line}")
                elif OK.match(line):
                    seen_ok += 1
                if time.time() > deadline:
                    p.kill()
                    break
            rc = p.wait()
        except OSError as e:
            print(f"  not ok {label}: {e}")
            self.failed += 1
            self.failures.append(f"{label}: {e}")
            return
        self.passed += seen_ok
        self.failed += seen_bad
        if rc != 0 and seen_bad == 0:
            self.failed += 1
            self.failures.append(f"{label}: exited {rc} without reporting a failure")
            print(f"  not ok {label}: exit status {rc}")
        elif seen_ok + seen_bad == 0:
            self.failed += 1
            self.failures.append(f"{label}: reported no tests")
            print(f"  not ok {label}: reported no tests")
        print(f"# {label}: {summary or ''} ({time.time() - start:.1f}s)", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--parts", default="unit,sim,integration",
                    help="comma-separated subset of unit,sim,integration")
    ap.add_argument("--sim-seeds", type=int, default=300)
    ap.add_argument("--filter", default="", help="substring of a part's label")
    args = ap.parse_args()
    build = os.path.join(ROOT, args.build) if not os.path.isabs(args.build) else args.build
    t = Tally()
    env = dict(os.environ)
    env["CAIRN_BIN"] = os.path.join(build, "cairn")
    env["CAIRN_BUILD"] = build

    def want(label):
        return args.filter in label

    parts = set(args.parts.split(","))

    def executables(pattern):
        return [e for e in sorted(glob.glob(os.path.join(build, pattern)))
                if os.path.isfile(e) and os.access(e, os.X_OK)]

    if "unit" in parts:
        for exe in executables("tests/unit/*/unit_*"):
            if want(os.path.basename(exe)):
                t.run(os.path.basename(exe), [exe], env=env)
    if "sim" in parts:
        for exe in executables("tests/sim/*/sim_*"):
            if want(os.path.basename(exe)):
                t.run(f"{os.path.basename(exe)} ({args.sim_seeds} seeds)",
                      [exe, "--seeds", str(args.sim_seeds)], env=env)
    if "integration" in parts:
        for f in sorted(glob.glob(os.path.join(ROOT, "tests/integration/test_*.py"))):
            label = "integration/" + os.path.basename(f)
            if want(label):
                t.run(label, ["/usr/bin/python3", f], env=env)

    if t.failures:
        print("# failures:")
        for f in t.failures:
            print("#   " + f)
    print(f"{t.passed} passed, {t.failed} failed", flush=True)
    return 1 if t.failed else 0


if __name__ == "__main__":
    sys.exit(main())
