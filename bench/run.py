#!/usr/bin/python3
"""Run the benchmarks: bench/<name>/run.py for each name (or those given).

Each bench prints its figures beside its peer's from the same run; copy the
tables into docs/benchmarks.md with the command that produced them.
usage: bench/run.py --build build-release [name...]
"""
import argparse
import glob
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build-release")
    ap.add_argument("names", nargs="*")
    a = ap.parse_args()
    env = dict(os.environ, CAIRN_BUILD=os.path.join(ROOT, a.build),
               CAIRN_BIN=os.path.join(ROOT, a.build, "cairn"))
    rc = 0
    for script in sorted(glob.glob(os.path.join(ROOT, "bench/*/run.py"))):
        name = os.path.basename(os.path.dirname(script))
        if a.names and name not in a.names:
            continue
        print(f"==> bench/{name}", flush=True)
        r = subprocess.run(["/usr/bin/python3", script], env=env, cwd=ROOT)
        rc = rc or r.returncode
    return rc


if __name__ == "__main__":
    sys.exit(main())
