#!/usr/bin/python3
"""The agent process: flags, config files, signals, banner, /v1/agent/self."""
import json
import os
import signal
import subprocess
import tempfile
import time

from cairn_test import BIN, Agent, eq, main, test, wait_until


def run_agent(*args, timeout=5):
    return subprocess.run([BIN, "agent"] + list(args), capture_output=True, timeout=timeout)


@test
def unknown_config_key_is_an_error_naming_it():
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "c.json")
        with open(p, "w") as f:
            json.dump({"datacenter": "dc9", "ports": {"htttp": 1}}, f)
        r = run_agent("-dev", "-config-file", p)
        eq(1, r.returncode)
        assert b"invalid config key ports.htttp" in r.stderr, r.stderr


@test
def bad_json_and_bad_types_are_errors():
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "c.json")
        with open(p, "w") as f:
            f.write('{"datacenter": ')
        r = run_agent("-dev", "-config-file", p)
        eq(1, r.returncode)
        assert b"Error parsing" in r.stderr, r.stderr
        with open(p, "w") as f:
            json.dump({"server": "maybe"}, f)
        r = run_agent("-dev", "-config-file", p)
        eq(1, r.returncode)
        assert b"'server' expected type 'bool'" in r.stderr, r.stderr


@test
def flag_errors_and_consistency_checks():
    r = run_agent("-dev", "-no-such-flag")
    eq(1, r.returncode)
    assert b"flag provided but not defined: -no-such-flag" in r.stderr
    r = run_agent("-server", "-bootstrap", "-bootstrap-expect=3", "-data-dir=/tmp/x")
    eq(1, r.returncode)
    assert b"mutually exclusive" in r.stderr, r.stderr
    r = run_agent("-server")
    eq(1, r.returncode)
    assert b"data_dir cannot be empty" in r.stderr, r.stderr
    r = run_agent("-h")
    eq(0, r.returncode)


@test
def files_and_dirs_merge_in_order_and_flags_win():
    with tempfile.TemporaryDirectory() as d:
        os.mkdir(os.path.join(d, "conf.d"))
        with open(os.path.join(d, "a.json"), "w") as f:
            json.dump({"datacenter": "from-file", "node_meta": {"a": "1"}}, f)
        with open(os.path.join(d, "conf.d", "10.json"), "w") as f:
            json.dump({"datacenter": "from-dir-10", "node_meta": {"b": "2"}}, f)
        with open(os.path.join(d, "conf.d", "20.json"), "w") as f:
            json.dump({"node_name": "node-from-dir"}, f)
        with open(os.path.join(d, "conf.d", "ignored.txt"), "w") as f:
            f.write("not json")
        a = Agent("-config-file", os.path.join(d, "a.json"), "-config-dir",
                  os.path.join(d, "conf.d"), "-node-meta", "c:3")
        with a:
            cfg = a.get("/v1/agent/self").json()
            eq("from-dir-10", cfg["Config"]["Datacenter"])
            eq("node-from-dir", cfg["Config"]["NodeName"])
            eq({"a": "1", "b": "2", "c": "3", "consul-network-segment": ""}, cfg["Meta"])
        a = Agent("-config-file", os.path.join(d, "a.json"), "-datacenter", "from-flag")
        with a:
            eq("from-flag", a.get("/v1/agent/self").json()["Config"]["Datacenter"])


@test
def dev_agent_self_reports_what_clients_read():
    with Agent("-node", "n1") as a:
        s = a.get("/v1/agent/self").json()
        c = s["Config"]
        eq("dc1", c["Datacenter"])
        eq("n1", c["NodeName"])
        eq(True, c["Server"])
        eq(10000000000, c["SessionTTLMin"])
        assert c["Version"].startswith("1."), c
        eq(36, len(c["NodeID"]))
        m = s["Member"]
        eq("n1", m["Name"])
        eq(1, m["Status"])
        eq("consul", m["Tags"]["role"])
        eq("dc1", m["Tags"]["dc"])
        assert "agent running!" in a.output()


@test
def sigterm_and_sigint_exit_cleanly():
    for sig in (signal.SIGTERM, signal.SIGINT):
        a = Agent().start()
        eq(0, a.stop(sig))
        a.cleanup()


@test
def sighup_reloads_the_log_level():
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "c.json")
        with open(p, "w") as f:
            json.dump({"log_level": "info"}, f)
        a = Agent("-config-file", p, dev=False, wait_leader=True)
        a.args += ["-server", "-bootstrap", "-data-dir", os.path.join(d, "data"),
                   "-bind", "127.0.0.1"]
        with a:
            with open(p, "w") as f:
                json.dump({"log_level": "debug"}, f)
            a.signal(signal.SIGHUP)
            wait_until(lambda: "Reloaded configuration" in a.output(), what="reload")
            # a broken file is reported and the agent keeps running on the old one
            with open(p, "w") as f:
                f.write("{broken")
            a.signal(signal.SIGHUP)
            wait_until(lambda: "Failed to reload configs" in a.output(), what="reload error")
            eq(200, a.get("/v1/status/leader").status)


@test
def node_id_persists_in_data_dir():
    with tempfile.TemporaryDirectory() as d:
        args = ["-server", "-bootstrap", "-data-dir", d, "-bind", "127.0.0.1"]
        with Agent(*args, dev=False) as a:
            first = a.get("/v1/agent/self").json()["Config"]["NodeID"]
        with Agent(*args, dev=False) as a:
            eq(first, a.get("/v1/agent/self").json()["Config"]["NodeID"])


@test
def client_agent_without_servers_says_so():
    with tempfile.TemporaryDirectory() as d:
        a = Agent("-data-dir", d, "-bind", "127.0.0.1", dev=False, wait_leader=False)
        with a:
            # Status.Leader is a server RPC: a client with no server cannot ask
            r = a.get("/v1/status/leader")
            eq((500, "No known Consul servers"), (r.status, r.text))
            r = a.get("/v1/kv/x")
            eq((500, "No known Consul servers"), (r.status, r.text))


@test
def pretty_only_when_asked_outside_dev():
    with tempfile.TemporaryDirectory() as d:
        args = ["-server", "-bootstrap", "-data-dir", d, "-bind", "127.0.0.1"]
        with Agent(*args, dev=False) as a:
            a.put("/v1/kv/p", "1")
            assert b"\n" not in a.get("/v1/kv/p").body
            assert a.get("/v1/kv/p?pretty").body.endswith(b"]\n")


if __name__ == "__main__":
    main()
