#!/usr/bin/python3
"""`cairn lock` (issue 5): mutual exclusion between processes, semaphores,
lock loss, timeouts, exit codes, cleanup on interrupt."""
import os
import signal
import subprocess
import time

from cairn_test import BIN, Agent, eq, main, test, wait_until

A = None
LOCK_FLAGS = 0x2ddccbc058a50c18


def agent():
    global A
    if A is None:
        A = Agent()
        A.start()
        node = A.get("/v1/agent/self").json()["Config"]["NodeName"]
        wait_until(lambda: any(c["CheckID"] == "serfHealth"
                               for c in A.get(f"/v1/health/node/{node}").json()),
                   what="node registered")
    return A


def lock(*args, **kw):
    env = dict(os.environ, CONSUL_HTTP_ADDR=agent().addr)
    return subprocess.Popen([BIN, "lock", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, **kw)


def intervals(path):
    """[(start, end)] per holder from 'start <t>' / 'end <t>' lines."""
    out, open_ = [], {}
    with open(path) as f:
        for line in f:
            what, who, t = line.split()
            if what == "start":
                open_[who] = float(t)
            else:
                out.append((open_.pop(who), float(t)))
    return sorted(out)


def child(path, who, secs):
    return (f'echo start {who} $(date +%s.%N) >> {path}; test "$CONSUL_LOCK_HELD" = true || '
            f'exit 9; sleep {secs}; echo end {who} $(date +%s.%N) >> {path}')


@test
def two_processes_one_holder_at_a_time():
    path = os.path.join(agent().tmp, "mutex.log")
    procs = [lock("jobs/mutex", child(path, f"p{i}", 0.7)) for i in range(3)]
    for p in procs:
        out, err = p.communicate(timeout=30)
        eq(0, p.returncode, err)
    iv = intervals(path)
    eq(3, len(iv))
    for (s1, e1), (s2, e2) in zip(iv, iv[1:]):
        assert e1 <= s2, iv  # never two holders at once
    eq(404, agent().get("/v1/kv/jobs/mutex/.lock").status)  # cleaned up
    eq([], [s for s in agent().get("/v1/session/list").json() if "jobs/mutex" in s["Name"]])


@test
def lock_key_flags_and_session():
    p = lock("jobs/flags", "sleep 5")
    try:
        wait_until(lambda: agent().get("/v1/kv/jobs/flags/.lock").status == 200, what="lock held")
        e = agent().get("/v1/kv/jobs/flags/.lock").json()[0]
        eq(LOCK_FLAGS, e["Flags"])
        s = agent().get(f"/v1/session/info/{e['Session']}").json()[0]
        eq("15s", s["TTL"])
        eq("Consul lock for 'sleep 5' at 'jobs/flags'", s["Name"])
    finally:
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=15)
    eq(0, p.returncode, err)
    assert b"Shutdown triggered, killing child" in err, err
    eq(404, agent().get("/v1/kv/jobs/flags/.lock").status)


@test
def semaphore_limits_holders():
    path = os.path.join(agent().tmp, "sem.log")
    procs = [lock("-n=2", "jobs/sem", child(path, f"p{i}", 0.8)) for i in range(4)]
    for p in procs:
        out, err = p.communicate(timeout=30)
        eq(0, p.returncode, err)
    iv = intervals(path)
    eq(4, len(iv))
    points = sorted([(s, 1) for s, _ in iv] + [(e, -1) for _, e in iv])
    level = peak = 0
    for _, d in points:
        level += d
        peak = max(peak, level)
    eq(2, peak)
    eq(404, agent().get("/v1/kv/jobs/sem/?recurse").status)


@test
def lost_lock_terminates_child():
    path = os.path.join(agent().tmp, "lost.log")
    script = f'trap "echo term >> {path}; exit 0" TERM; echo up >> {path}; sleep 60 & wait'
    p = lock("jobs/lost", script)
    wait_until(lambda: os.path.exists(path), what="child running")
    sid = agent().get("/v1/kv/jobs/lost/.lock").json()[0]["Session"]
    t = time.time()
    agent().put(f"/v1/session/destroy/{sid}")
    out, err = p.communicate(timeout=15)
    assert time.time() - t < 5
    assert b"Lock lost, killing child" in err, err
    eq(["up", "term"], open(path).read().split())


@test
def lost_lock_kills_stubborn_child():
    path = os.path.join(agent().tmp, "stubborn.log")
    p = lock("jobs/stubborn", f'trap "" TERM; echo up >> {path}; while true; do sleep 0.1; done')
    wait_until(lambda: os.path.exists(path), what="child running")
    sid = agent().get("/v1/kv/jobs/stubborn/.lock").json()[0]["Session"]
    t = time.time()
    agent().put(f"/v1/session/destroy/{sid}")
    p.communicate(timeout=20)
    took = time.time() - t
    assert 4.5 < took < 9, took  # SIGKILL after the 5 s grace


@test
def timeout_while_held():
    holder = lock("jobs/busy", "sleep 6")
    wait_until(lambda: agent().get("/v1/kv/jobs/busy/.lock").status == 200, what="held")
    t = time.time()
    p = lock("-timeout=500ms", "jobs/busy", "echo never")
    out, err = p.communicate(timeout=10)
    eq(1, p.returncode)
    assert time.time() - t < 5
    assert b"Shutdown triggered or timeout during lock acquisition" in err, err
    assert b"never" not in out
    holder.communicate(timeout=15)
    eq(0, holder.returncode)


@test
def exit_codes():
    p = lock("jobs/exit", "exit 3")
    p.communicate(timeout=10)
    eq(0, p.returncode)
    p = lock("-child-exit-code", "jobs/exit", "exit 3")
    p.communicate(timeout=10)
    eq(2, p.returncode)
    p = lock("-shell=false", "jobs/exit", "/bin/echo", "a b")
    out, _ = p.communicate(timeout=10)
    eq(b"a b\n", out)
    p = lock("jobs/only-prefix")
    p.communicate(timeout=10)
    eq(1, p.returncode)


if __name__ == "__main__":
    try:
        main()
    finally:
        if A is not None:
            A.cleanup()
