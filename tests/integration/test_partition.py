#!/usr/bin/python3
"""Three servers and a client agent, each in its own network namespace:
a leader cut off from the majority stops serving consistent reads and
writes while the majority elects a new leader and goes on; healing
converges. Needs root (network namespaces, veth, bridge, iptables)."""
import time

from cairn_test import NetnsCluster, eq, main, netns_available, test, wait_until

C = None


def setup():
    global C
    C = NetnsCluster(servers=3, clients=1).start(timeout=30)


@test
def an_isolated_leader_steps_down_and_the_majority_goes_on():
    old = C.leader()
    majority = [s for s in C.servers if s is not old]
    eq(True, old.put("/v1/kv/before", "1").json())
    C.isolate([old])
    # the majority elects a leader among themselves
    def majority_leader():
        for s in majority:
            r = s.get("/v1/status/leader", timeout=2)
            if r.status == 200 and r.json() and r.json() != f"{old.ip}:8300":
                return r.json()
    new = wait_until(majority_leader, timeout=15, what="a leader in the majority")
    assert new in {f"{s.ip}:8300" for s in majority}
    eq(True, majority[0].put("/v1/kv/during", "2", timeout=5).json())
    eq(b"2", majority[1].get("/v1/kv/during?consistent&raw", timeout=5).body)
    # the old leader, alone, has lost its quorum: no consistent reads or writes
    def refuses():
        r = old.get("/v1/kv/before?consistent", timeout=5)
        return r.status == 500 and b"No cluster leader" in r.body
    wait_until(refuses, timeout=15, what="the isolated server to refuse consistent reads")
    r = old.put("/v1/kv/isolated", "x", timeout=15)
    eq(500, r.status)
    # but it still serves stale reads from what it has
    r = old.get("/v1/kv/before?stale&raw", timeout=5)
    eq((200, b"1"), (r.status, r.body))
    eq("false", r.header("X-Consul-Knownleader"))


@test
def healing_brings_the_old_leader_back_as_a_follower():
    C.heal()
    for s in C.servers:
        wait_until(lambda s=s: s.get("/v1/kv/during?stale&raw", timeout=2).body == b"2", timeout=20,
                   what=f"{s.name} to catch up")
    leaders = {s.get("/v1/status/leader").json() for s in C.servers}
    eq(1, len(leaders))
    eq(404, C.servers[0].get("/v1/kv/isolated").status)  # the refused write never happened
    eq(True, C.clients[0].put("/v1/kv/after", "3", timeout=5).json())


@test
def a_client_cut_off_from_every_server_fails_fast_and_recovers():
    client = C.clients[0]
    C.isolate([client])
    r = client.get("/v1/kv/after", timeout=15)
    assert r.status == 500, r
    C.heal()
    wait_until(lambda: client.get("/v1/kv/after?raw", timeout=5).body == b"3", timeout=20,
               what="the client to reach the servers again")


if __name__ == "__main__":
    if not netns_available():
        print("ok 1 partition tests # SKIP needs root with network namespaces and iptables")
        print("1 passed, 0 failed")
    else:
        try:
            setup()
            main()
        finally:
            if C:
                C.cleanup()
