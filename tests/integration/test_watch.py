#!/usr/bin/python3
"""`cairn watch` and the agent's `watches` (issue 5): each type, a handler run
once per change with the JSON on stdin and CONSUL_INDEX, JSON on stdout
without a handler."""
import json
import os
import signal
import subprocess
import time

from cairn_test import BIN, Agent, eq, main, test, wait_until

A = None


def agent():
    global A
    if A is None:
        A = Agent()
        A.start()
    return A


def watch(*args):
    env = dict(os.environ, CONSUL_HTTP_ADDR=agent().addr)
    return subprocess.Popen([BIN, "watch", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def recorder(name):
    """A handler appending one JSON line {"index", "data"} per run."""
    path = os.path.join(agent().tmp, name + ".log")
    script = os.path.join(agent().tmp, name + ".sh")
    with open(script, "w") as f:
        f.write("#!/bin/sh\n"
                f"data=$(cat)\nprintf '{{\"index\": %s, \"data\": %s}}\\n' \"$CONSUL_INDEX\" "
                f"\"$data\" >> {path}\n")
    os.chmod(script, 0o755)
    return path, script


def runs(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def stop(p):
    p.send_signal(signal.SIGTERM)
    p.communicate(timeout=10)


@test
def key_handler_runs_once_per_change():
    path, script = recorder("key")
    p = watch("-type=key", "-key=w/k", script)
    try:
        wait_until(lambda: len(runs(path)) == 1, what="first run")
        eq(None, runs(path)[0]["data"])  # missing key: null
        agent().put("/v1/kv/w/k", "v1")
        wait_until(lambda: len(runs(path)) == 2, what="second run")
        agent().put("/v1/kv/w/k", "v1")  # identical rewrite: no change
        agent().put("/v1/kv/w/other", "x")  # another key
        time.sleep(0.5)
        eq(2, len(runs(path)))
        agent().put("/v1/kv/w/k", "v2")
        wait_until(lambda: len(runs(path)) == 3, what="third run")
        time.sleep(0.3)
        r = runs(path)
        eq(3, len(r))
        eq("w/k", r[2]["data"]["Key"])
        eq(r[2]["data"]["ModifyIndex"], r[2]["index"])
    finally:
        stop(p)


@test
def keyprefix_and_stdout_mode():
    p = watch("-type=keyprefix", "-prefix=wp/")
    try:
        line = p.stdout.readline()
        eq(b"null\n", line)
        agent().put("/v1/kv/wp/a", "1")
        doc = b""
        while True:
            line = p.stdout.readline()
            doc += line
            if line == b"]\n":
                break
        got = json.loads(doc)
        eq(["wp/a"], [e["Key"] for e in got])
    finally:
        stop(p)


@test
def catalog_and_health_types():
    specs = [("services", ["-type=services"]), ("nodes", ["-type=nodes"]),
             ("service", ["-type=service", "-service=wsvc"]),
             ("checks", ["-type=checks", "-service=wsvc"]),
             ("state", ["-type=checks", "-state=critical"])]
    procs = []
    try:
        for name, args in specs:
            path, script = recorder(name)
            procs.append((name, path, watch(*args, script)))
        for name, path, _ in procs:
            wait_until(lambda: len(runs(path)) >= 1, what=f"{name} first run")
        svc = {"Name": "wsvc", "ID": "wsvc1", "Port": 9, "Check": {"TTL": "1h"}}
        eq(200, agent().put("/v1/agent/service/register", json.dumps(svc)).status)
        for name, path, _ in procs:
            if name != "nodes":
                wait_until(lambda: len(runs(path)) >= 2, what=f"{name} saw the service")
        eq(True, "wsvc" in runs(dict((n, p) for n, p, _ in procs)["services"])[-1]["data"])
        last = runs(dict((n, p) for n, p, _ in procs)["service"])[-1]["data"]
        eq("wsvc1", last[0]["Service"]["ID"])
    finally:
        for _, _, p in procs:
            stop(p)


@test
def event_type_gets_only_new_events():
    agent().put("/v1/event/fire/before")
    wait_until(lambda: agent().get("/v1/event/list?name=before").json(), what="first event")
    path, script = recorder("event")
    p = watch("-type=event", "-name=deploy", script)
    try:
        wait_until(lambda: len(runs(path)) == 1, what="first run")
        eq([], runs(path)[0]["data"])
        agent().put("/v1/event/fire/deploy", "one")
        wait_until(lambda: len(runs(path)) == 2, what="second run")
        agent().put("/v1/event/fire/other")
        agent().put("/v1/event/fire/deploy", "two")
        wait_until(lambda: len(runs(path)) == 3, what="third run")
        r = runs(path)
        eq(["deploy"], [e["Name"] for e in r[1]["data"]])
        eq(1, len(r[2]["data"]))  # only the new one
        eq("dHdv", r[2]["data"][0]["Payload"])
    finally:
        stop(p)


@test
def bad_arguments():
    for args in (["-type=nope"], [], ["-type=key"], ["-type=checks", "-service=a", "-state=b"]):
        p = watch(*args)
        p.communicate(timeout=10)
        eq(1, p.returncode, args)


@test
def agent_config_watches():
    tmp = agent().tmp
    out1 = os.path.join(tmp, "cfg-args.log")
    out2 = os.path.join(tmp, "cfg-handler.log")
    conf = {"watches": [
        {"type": "key", "key": "cfg/k", "args": ["sh", "-c", f"cat >> {out1}; echo >> {out1}"]},
        {"type": "keyprefix", "prefix": "cfg/", "handler_type": "script",
         "handler": f"echo $CONSUL_INDEX >> {out2}"},
    ]}
    with Agent(config=conf) as b:
        wait_until(lambda: os.path.exists(out1) and os.path.exists(out2), what="first runs")
        b.put("/v1/kv/cfg/k", "hello")
        wait_until(lambda: "cfg/k" in open(out1).read(), what="key watch fired")
        wait_until(lambda: len(open(out2).read().split()) == 2, what="prefix watch fired")
        time.sleep(0.5)
        eq(2, len(open(out2).read().split()))
        pids = subprocess.run(["pgrep", "-P", str(b.proc.pid)], capture_output=True).stdout.split()
        eq(2, len(pids))
    for pid in pids:  # the watch processes went with the agent
        wait_until(lambda: not os.path.exists(f"/proc/{int(pid)}"), what="watch process gone")
    bad = Agent(config={"watches": [{"type": "key", "key": "x"}]})
    try:
        try:
            bad.start()
            raise AssertionError("agent started with a watch lacking a handler")
        except RuntimeError as e:
            assert "handler" in str(e), e
    finally:
        bad.cleanup()


if __name__ == "__main__":
    try:
        main()
    finally:
        if A is not None:
            A.cleanup()
