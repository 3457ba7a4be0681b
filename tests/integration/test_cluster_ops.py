#!/usr/bin/python3
"""Operating a cluster: members, join, leave, force-leave, operator raft,
through the HTTP API and the CLI."""
import re
import time

from cairn_test import Cluster, eq, main, test, wait_until

C = Cluster(servers=3, clients=1).start()


def members(agent, *args):
    r = agent.cli("members", *args)
    return r.returncode, r.stdout.decode()


@test
def members_lists_every_agent_servers_first():
    code, out = members(C.clients[0])
    eq(0, code)
    lines = out.splitlines()
    eq(["Node", "Address", "Status", "Type", "Build", "Protocol", "DC", "Partition", "Segment"],
       lines[0].split())
    rows = [l.split() for l in lines[1:]]
    eq(["s1", "s2", "s3", "c1"], [r[0] for r in rows])
    eq(["server", "server", "server", "client"], [r[3] for r in rows])
    assert all(r[2] == "alive" for r in rows)
    api = C.servers[0].get("/v1/agent/members").json()
    eq(4, len(api))
    m = [x for x in api if x["Name"] == "s1"][0]
    eq("consul", m["Tags"]["role"])
    eq(str(C.servers[0].server_port), m["Tags"]["port"])
    eq(1, m["Status"])
    code, out = members(C.clients[0], "-status", "failed")
    eq(2, code)  # nothing matched


@test
def operator_raft_list_peers_and_configuration():
    r = C.servers[1].cli("operator", "raft", "list-peers")
    eq(0, r.returncode, r.stderr)
    lines = r.stdout.decode().splitlines()
    eq(["Node", "ID", "Address", "State", "Voter", "RaftProtocol"], lines[0].split())
    eq(1, sum(1 for l in lines[1:] if " leader " in l))
    cfg = C.clients[0].get("/v1/operator/raft/configuration").json()
    eq(3, len(cfg["Servers"]))
    assert cfg["Index"] > 0


@test
def force_leave_moves_a_failed_client_to_left_and_out_of_the_catalog():
    c1 = C.clients[0]
    c1.kill()
    def status(name):
        for m in C.servers[0].get("/v1/agent/members").json():
            if m["Name"] == name:
                return m["Status"]
    wait_until(lambda: status("c1") == 4, timeout=20, what="c1 failed")
    r = C.servers[0].cli("force-leave", "c1")
    eq(0, r.returncode, r.stderr)
    wait_until(lambda: status("c1") == 3, timeout=10, what="c1 left")
    wait_until(lambda: "c1" not in [n["Node"] for n in C.servers[0].get("/v1/catalog/nodes").json()],
               timeout=10, what="c1 deregistered")
    r = C.servers[0].put("/v1/agent/force-leave/nobody")
    eq(500, r.status)


@test
def a_server_that_leaves_is_removed_from_raft_and_can_join_again():
    s3 = C.servers[2]
    r = s3.cli("leave")
    eq((0, b"Graceful leave complete\n"), (r.returncode, r.stdout))
    s3.proc.wait(10)
    def voters():
        return len(C.servers[0].get("/v1/operator/raft/configuration").json()["Servers"])
    wait_until(lambda: voters() == 2, timeout=15, what="s3 removed from Raft")
    eq(True, C.servers[0].put("/v1/kv/after-leave", "x").json())
    # it comes back: the leader adds it as a learner and promotes it
    s3.start()
    r = s3.cli("join", f"127.0.0.1:{C.servers[0].serf_lan_port}")
    eq(0, r.returncode, r.stderr)
    wait_until(lambda: voters() == 3, timeout=20, what="s3 back in Raft")
    wait_until(lambda: s3.get("/v1/kv/after-leave?stale&raw").body == b"x", timeout=15,
               what="s3 caught up")


@test
def autopilot_removes_a_dead_server_from_raft_and_it_can_come_back():
    s3 = C.servers[2]
    def peers():
        l = next(s for s in C.servers if s is not s3)
        return sorted(x["Node"] for x in l.get("/v1/operator/raft/configuration").json()["Servers"])
    wait_until(lambda: peers() == ["s1", "s2", "s3"], timeout=20, what="three voters")
    s3.kill()
    # gossip declares it failed, autopilot (every 10 s) force-leaves it, the
    # leader removes it from Raft: two voters now make a quorum on their own
    wait_until(lambda: peers() == ["s1", "s2"], timeout=45, interval=0.5,
               what="autopilot to remove the dead server")
    eq(True, C.servers[0].put("/v1/kv/after-autopilot", "y").json())
    s3.start()
    s3.cli("join", f"127.0.0.1:{C.servers[0].serf_lan_port}")
    wait_until(lambda: peers() == ["s1", "s2", "s3"], timeout=30, what="s3 back in Raft")


if __name__ == "__main__":
    try:
        main()
    finally:
        C.cleanup()
