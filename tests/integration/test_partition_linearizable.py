#!/usr/bin/python3
"""Concurrent KV reads, writes and CAS from several clients, each op sent to
a random agent of a 3-server cluster (plus a client agent) whose agents live
in their own network namespaces, while the leader is cut off from the
majority and later healed, twice. The recorded history must be linearizable for
default-mode and ?consistent reads alike (each mode has its own keys, so a
violation names the mode); during the partition the isolated server must
acknowledge no write and no consistent read while the majority serves both;
after healing every server converges on the same values.

An op that timed out or lost its connection is recorded with an unknown
outcome (it may or may not have taken effect); a read that failed, or a write
refused with "No cluster leader" (it never entered a log that can commit), is
left out. Needs root (network namespaces, veth, bridge, iptables)."""
import base64
import http.client
import json
import os
import random
import signal
import sys
import tempfile
import threading
import time

from cairn_test import NetnsCluster, eq, main, netns_available, test, wait_until
from linearizability import check

KEYS = {"default": ["plin/d/a", "plin/d/b"], "consistent": ["plin/c/a", "plin/c/b"]}
WORKERS = 8
OP_TIMEOUT = 2.0
CYCLES = 2         # the leader is cut off and healed this many times
PARTITIONED_S = 3  # how long the majority serves after electing a leader

C = None
RUN = None  # what the workload recorded: the ops, and when which server was cut off


def call(agent, method, path, body=None):
    c = http.client.HTTPConnection(agent.ip, agent.http_port, timeout=OP_TIMEOUT)
    try:
        c.request(method, path, body=body)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def value_of(body):
    return base64.b64decode(json.loads(body)[0]["Value"] or "").decode()


def refused(status, body):
    """A definite refusal: the write is in no log that can still commit it
    (never proposed, or its index taken by another leader's entry)."""
    return status == 500 and body.startswith(b"No cluster leader")


def one_op(agents, wid, seq, rng):
    """One random op; returns its history record, with "outcome" one of ok,
    unknown (kept for the checker) or failed, refused (left out)."""
    mode = rng.choice(sorted(KEYS))
    key = rng.choice(KEYS[mode])
    agent = rng.choice(agents)
    kind = rng.choice(("read", "read", "write", "cas"))
    rec = {"key": key, "kind": kind, "mode": mode, "agent": agent.name, "arg": None}
    body = None
    if kind == "read":
        method, path = "GET", f"/v1/kv/{key}" + ("?consistent" if mode == "consistent" else "")
    elif kind == "write":
        rec["arg"] = f"w{wid}-{seq}"
        method, path, body = "PUT", f"/v1/kv/{key}", rec["arg"].encode()
    else:
        # the value to replace and its ModifyIndex, from a consistent read
        try:
            st, b = call(agent, "GET", f"/v1/kv/{key}?consistent")
        except (OSError, http.client.HTTPException):
            st = None
        if st != 200:
            return dict(rec, outcome="failed", t_inv=time.monotonic(), t_ret=time.monotonic())
        rec["arg"] = (value_of(b), f"c{wid}-{seq}")
        index = json.loads(b)[0]["ModifyIndex"]
        method, path, body = "PUT", f"/v1/kv/{key}?cas={index}", rec["arg"][1].encode()
    rec["t_inv"] = time.monotonic()
    try:
        st, b = call(agent, method, path, body)
    except (OSError, http.client.HTTPException):
        st, b = None, b""
    rec["t_ret"] = time.monotonic()
    if kind == "read":
        if st == 200:
            return dict(rec, ret=value_of(b), outcome="ok")
        if st == 404:
            return dict(rec, ret=None, outcome="ok")
        return dict(rec, outcome="failed")  # a read that failed changed nothing
    if st == 200:
        ret = json.loads(b)
        if kind == "write" and ret is not True:
            raise AssertionError(f"a plain PUT answered {b!r}")
        return dict(rec, ret=ret, outcome="ok")
    if refused(st, b):
        return dict(rec, outcome="refused")
    # a timeout, a lost connection, "rpc error making call": it may yet apply
    return dict(rec, ret=True if kind == "write" else None, t_ret=None, outcome="unknown")


def worker(agents, wid, out, stop, errors):
    rng = random.Random(wid)
    seq = 0
    try:
        while not stop.is_set():
            # a few hundred ops per second in all: overlap enough to test,
            # few enough for the checker's exhaustive search
            time.sleep(rng.uniform(0.005, 0.02))
            seq += 1
            out.append(one_op(agents, wid, seq, rng))
    except Exception as e:  # noqa: BLE001 - reported by the test
        errors.append(e)


def setup():
    global C
    C = NetnsCluster(servers=3, clients=1)
    C.start(timeout=30)


def leader_among(servers):
    """The leader every one of servers names (ip:port), or None."""
    addrs = set()
    for s in servers:
        r = s.get("/v1/status/leader", timeout=2)
        if r.status != 200 or not r.json():
            return None
        addrs.add(r.json())
    return addrs.pop() if len(addrs) == 1 else None


def in_window(r, lo, hi):
    return r["t_inv"] >= lo and r["t_ret"] is not None and r["t_ret"] <= hi


def partition_cycle():
    """Cut the leader off from everyone else, let the majority elect and serve
    for a while, heal; returns the isolated server and the phase times."""
    old = wait_until(C.leader, timeout=15, what="a leader")
    majority = [s for s in C.servers if s is not old]
    C.isolate([old])
    t_iso = time.monotonic()
    wait_until(lambda: leader_among(majority) not in (None, f"{old.ip}:8300"), timeout=15,
               what="a leader in the majority")
    t_elected = time.monotonic()
    time.sleep(PARTITIONED_S)
    t_heal = time.monotonic()
    C.heal()
    wait_until(lambda: leader_among(C.servers), timeout=20, what="every server to follow one leader")
    print(f"    {old.name} cut off: a new leader {(t_elected - t_iso) * 1000:.0f} ms later, "
          f"healed after {(t_heal - t_iso) * 1000:.0f} ms, one leader again "
          f"{(time.monotonic() - t_heal) * 1000:.0f} ms later")
    return {"old": old.name, "t_iso": t_iso, "t_elected": t_elected, "t_heal": t_heal}


def check_cut(ops, cut):
    old = cut["old"]
    # the minority acknowledged no write and no consistent read once cut off
    sent = [r for r in ops if r["agent"] == old and cut["t_iso"] <= r["t_inv"] < cut["t_heal"]]
    assert sent, f"no op was sent to the isolated {old}: nothing was tested there"
    bad = [r for r in sent if r["outcome"] == "ok" and in_window(r, cut["t_iso"], cut["t_heal"])
           and (r["kind"] != "read" or r["mode"] == "consistent")]
    assert not bad, f"the isolated {old} acknowledged {bad[:3]}"
    # while the majority served writes, CAS and both kinds of reads
    served = [r for r in ops if r["agent"] != old and r["outcome"] == "ok"
              and in_window(r, cut["t_elected"], cut["t_heal"])]
    for kind, mode in (("write", None), ("cas", None), ("read", "default"), ("read", "consistent")):
        assert any(r["kind"] == kind and (mode is None or r["mode"] == mode) for r in served), \
            f"the majority served no {mode or ''} {kind} while {old} was cut off"
    outcomes = {}
    for r in sent:
        outcomes[r["outcome"]] = outcomes.get(r["outcome"], 0) + 1
    print(f"    while {old} was cut off: {len(served)} ops acknowledged by the majority; "
          f"{len(sent)} sent to {old}: {dict(sorted(outcomes.items()))}")


@test
def a_concurrent_workload_runs_through_leader_partitions_and_heals():
    global RUN
    leader = C.leader()
    for keys in KEYS.values():
        for k in keys:
            eq(True, leader.put(f"/v1/kv/{k}", "init", timeout=10).json(), k)
    agents = C.agents()
    stop, errors, outs = threading.Event(), [], [[] for _ in range(WORKERS)]
    ts = [threading.Thread(target=worker, args=(agents, i, outs[i], stop, errors))
          for i in range(WORKERS)]
    for t in ts:
        t.start()
    cuts = []
    try:
        time.sleep(1.5)
        for _ in range(CYCLES):
            cuts.append(partition_cycle())
            time.sleep(1.5)
    finally:
        stop.set()
        for t in ts:
            t.join()
        # an agent that died is the first thing to know about a failure
        for a in C.agents():
            if a.proc.poll() is not None:
                print(f"    {a.name} exited {a.proc.returncode}; its log ends:\n" +
                      "\n".join("      " + l for l in a.output().splitlines()[-40:]))
    assert not errors, errors
    ops = [r for out in outs for r in out]
    RUN = {"ops": ops, "cuts": cuts}
    for cut in cuts:
        check_cut(ops, cut)
    # healing converges: every server ends with the values a consistent read sees
    leader = C.leader()
    for keys in KEYS.values():
        for k in keys:
            want = leader.get(f"/v1/kv/{k}?consistent&raw", timeout=5)
            eq(200, want.status, k)
            for s in C.servers:
                wait_until(lambda s=s, k=k: s.get(f"/v1/kv/{k}?stale&raw", timeout=2).body == want.body,
                           timeout=10, what=f"{s.name} to converge on {k}")


def check_mode(mode):
    assert RUN is not None, "the workload did not run"
    ops = [r for r in RUN["ops"] if r["mode"] == mode]
    hist = [r for r in ops if r["outcome"] in ("ok", "unknown")]
    ok, why = check(hist, initial="init")
    n = lambda **kw: sum(1 for r in ops if all(r[k] == v for k, v in kw.items()))  # noqa: E731
    print(f"    {mode}: {len(hist)} ops checked ({n(kind='read', outcome='ok')} reads, "
          f"{n(kind='write', outcome='ok')} writes, {n(kind='cas', outcome='ok')} CAS acknowledged, "
          f"{n(outcome='unknown')} unknown; {n(outcome='failed')} failed reads or CAS and "
          f"{n(outcome='refused')} refused writes left out)")
    if not ok:
        fd, path = tempfile.mkstemp(prefix=f"cairn-partition-lin-{mode}-", suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump({k: v for k, v in RUN.items() if k != "ops"} | {"ops": hist}, f)
        raise AssertionError(f"{mode} reads: not linearizable: {why} (history in {path})")


@test
def default_mode_reads_stay_linearizable_through_a_partition():
    check_mode("default")


@test
def consistent_reads_stay_linearizable_through_a_partition():
    check_mode("consistent")


if __name__ == "__main__":
    if not netns_available():
        print("ok 1 partition linearizability # SKIP needs root with network namespaces and iptables")
        print("1 passed, 0 failed")
    else:
        # a runner's SIGTERM still removes the namespaces (finally below)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        try:
            setup()
            main()
        finally:
            if C:
                C.cleanup()
