#!/usr/bin/python3
"""Concurrent KV reads, writes and CAS from several clients through every
agent of a 3-server cluster while the leader is killed (kill -9) and
restarted; the recorded history must be linearizable for default-mode and
consistent reads alike (stale reads are not expected to be)."""
import base64
import http.client
import json
import random
import threading
import time

from cairn_test import Cluster, eq, main, test, wait_until
from linearizability import check

KEYS = ["lin/a", "lin/b", "lin/c"]


def call(agent, method, path, body=None, timeout=2.0):
    c = http.client.HTTPConnection("127.0.0.1", agent.http_port, timeout=timeout)
    try:
        c.request(method, path, body=body)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def refused(status, body):
    """A definite refusal: the write never entered a Raft log. A lost
    connection ("rpc error making call") is not one."""
    return status == 500 and body.startswith(b"No cluster leader")


def worker(agent, wid, mode, history, stop, rng):
    n = 0
    while not stop.is_set():
        # a few hundred ops per second in all: enough overlap to test, few
        # enough to search exhaustively
        time.sleep(rng.uniform(0.005, 0.02))
        key = rng.choice(KEYS)
        kind = rng.choice(["read", "read", "write", "cas"])
        t0 = time.monotonic()
        rec = {"key": key, "kind": kind, "t_inv": t0}
        try:
            if kind == "read":
                q = "?consistent" if mode == "consistent" else ""
                st, body = call(agent, "GET", f"/v1/kv/{key}{q}")
                if st == 404:
                    rec["ret"] = None
                elif st == 200:
                    rec["ret"] = base64.b64decode(json.loads(body)[0]["Value"] or "").decode()
                else:
                    continue  # refused (no leader): no constraint
                rec["arg"] = None
            elif kind == "write":
                n += 1
                v = f"w{wid}-{n}"
                st, body = call(agent, "PUT", f"/v1/kv/{key}", v.encode())
                if refused(st, body):
                    continue  # refused before reaching any log: never applied
                if st != 200:
                    rec["t_ret"] = None  # may still have been applied
                rec["arg"], rec["ret"] = v, True
            else:
                st, body = call(agent, "GET", f"/v1/kv/{key}?consistent")
                if st != 200:
                    continue
                e = json.loads(body)[0]
                old = base64.b64decode(e["Value"] or "").decode()
                n += 1
                v = f"c{wid}-{n}"
                t0 = time.monotonic()
                rec["t_inv"] = t0
                rec["arg"] = (old, v)
                st, body = call(agent, "PUT", f"/v1/kv/{key}?cas={e['ModifyIndex']}", v.encode())
                if refused(st, body):
                    continue
                if st == 200:
                    rec["ret"] = json.loads(body)
                else:
                    rec["ret"], rec["t_ret"] = None, None
        except (OSError, http.client.HTTPException):
            if kind == "read" or (kind == "cas" and "arg" not in rec and "t_ret" not in rec):
                # a read, or a CAS whose preparing read failed: nothing was written
                if kind == "read" or "arg" not in rec:
                    continue
            rec.setdefault("arg", None)
            rec["ret"], rec["t_ret"] = (True if kind == "write" else None), None
        rec.setdefault("t_ret", time.monotonic())
        history.append(rec)


def run(mode):
    with Cluster(servers=3, clients=1) as c:
        # every key starts with a value, so the initial state is known
        for k in KEYS:
            eq(True, c.servers[0].put(f"/v1/kv/{k}", "init").json())
        history, stop = [], threading.Event()
        agents = c.agents()
        ts = [threading.Thread(target=worker, args=(agents[i % len(agents)], i, mode, history, stop,
                                                    random.Random(i))) for i in range(6)]
        for t in ts:
            t.start()
        time.sleep(1.5)
        old = c.leader()
        old.kill()
        wait_until(lambda: c.leader() is not None and c.leader() is not old, timeout=15,
                   what="a new leader")
        time.sleep(1.0)
        old.start()
        time.sleep(1.5)
        stop.set()
        for t in ts:
            t.join()
        hist = [dict(h, ret=h["ret"]) for h in history]
        import os
        if os.environ.get("CAIRN_SAVE_HISTORY"):
            with open(os.environ["CAIRN_SAVE_HISTORY"] + "." + mode, "w") as f:
                json.dump(hist, f)
        ok, why = check(hist, initial="init")
        writes = sum(1 for h in hist if h["kind"] != "read")
        print(f"    {mode}: {len(hist)} ops ({writes} writes/cas) checked")
        assert ok, why


@test
def default_mode_reads_stay_linearizable_through_a_leader_kill():
    run("default")


@test
def consistent_reads_stay_linearizable_through_a_leader_kill():
    run("consistent")


if __name__ == "__main__":
    main()
