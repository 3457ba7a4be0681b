#!/usr/bin/python3
"""Run every libFuzzer harness over its corpus for a bounded time.

usage: tests/fuzz/run.py --build build-fuzz [--seconds 30] [target...]
New inputs that raise coverage are kept in a scratch dir, not the repo; a
crash leaves its reproducer in tests/fuzz/<target>/ (git-ignored) and fails.
"""
import argparse
import glob
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build-fuzz")
    ap.add_argument("--seconds", type=int, default=int(os.environ.get("FUZZ_SECONDS", "30")))
    ap.add_argument("targets", nargs="*")
    a = ap.parse_args()
    build = os.path.join(ROOT, a.build)
    passed = failed = 0
    for exe in sorted(glob.glob(os.path.join(build, "tests/fuzz/*/fuzz_*"))):
        if not os.path.isfile(exe) or not os.access(exe, os.X_OK):
            continue
        name = os.path.basename(exe)[len("fuzz_"):]
        if a.targets and name not in a.targets:
            continue
        src = os.path.join(ROOT, "tests/fuzz", name)
        corpus = os.path.join(src, "corpus")
        scratch = tempfile.mkdtemp(prefix=f"cairn-fuzz-{name}-")
        cmd = [exe, f"-max_total_time={a.seconds}", "-timeout=10", "-rss_limit_mb=2048",
               f"-artifact_prefix={src}/", scratch, corpus]
        dict_path = os.path.join(src, f"{name}.dict")
        if os.path.exists(dict_path):
            cmd.insert(1, f"-dict={dict_path}")
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                           errors="replace")
        if r.returncode == 0:
            passed += 1
            stats = [l for l in r.stderr.splitlines() if l.startswith("#") and "DONE" in l]
            print(f"ok fuzz_{name} {stats[-1] if stats else ''}")
        else:
            failed += 1
            print(f"not ok fuzz_{name} (exit {r.returncode})")
            print("\n".join(r.stderr.splitlines()[-30:]))
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
