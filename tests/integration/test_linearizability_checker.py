#!/usr/bin/python3
"""The checker itself: it must accept linearizable histories and reject the
classic violations (a stale read, a lost write, a CAS that saw the past)."""
from cairn_test import eq, main, test
from linearizability import check


def op(kind, arg, ret, a, b, key="k"):
    return {"key": key, "kind": kind, "arg": arg, "ret": ret, "t_inv": a, "t_ret": b}


@test
def sequential_history_is_linearizable():
    h = [op("write", 1, True, 0, 1), op("read", None, 1, 2, 3), op("write", 2, True, 4, 5),
         op("read", None, 2, 6, 7)]
    eq(True, check(h)[0])


@test
def overlapping_read_may_see_either_value():
    h = [op("write", 1, True, 0, 1), op("write", 2, True, 2, 10), op("read", None, 1, 3, 4),
         op("read", None, 2, 5, 6), op("read", None, 2, 11, 12)]
    eq(True, check(h)[0])


@test
def stale_read_after_a_completed_write_is_rejected():
    h = [op("write", 1, True, 0, 1), op("write", 2, True, 2, 3), op("read", None, 1, 4, 5)]
    eq(False, check(h)[0])


@test
def read_that_goes_back_in_time_is_rejected():
    # two reads, the second started after the first returned, see values in
    # the wrong order while the writes overlapped both
    h = [op("write", 1, True, 0, 1), op("write", 2, True, 2, 20), op("read", None, 2, 3, 4),
         op("read", None, 1, 5, 6)]
    eq(False, check(h)[0])


@test
def cas_results_must_match_the_state():
    ok = [op("write", 1, True, 0, 1), op("cas", (1, 2), True, 2, 3), op("cas", (1, 3), False, 4, 5),
          op("read", None, 2, 6, 7)]
    eq(True, check(ok)[0])
    bad = [op("write", 1, True, 0, 1), op("cas", (1, 2), True, 2, 3), op("cas", (1, 3), True, 4, 5)]
    eq(False, check(bad)[0])


@test
def unknown_outcomes_may_or_may_not_have_happened():
    h = [op("write", 1, True, 0, 1), op("write", 2, None, 2, None), op("read", None, 1, 3, 4),
         op("read", None, 2, 5, 6)]
    eq(True, check(h)[0])
    h2 = [op("write", 1, True, 0, 1), op("write", 2, None, 2, None), op("read", None, 1, 3, 4)]
    eq(True, check(h2)[0])


@test
def long_histories_are_checked_in_windows():
    h, t = [], 0
    for i in range(1, 400):
        h.append(op("write", i, True, t, t + 1))
        h.append(op("read", None, i, t + 2, t + 3))
        t += 4
    eq(True, check(h)[0])
    h[301]["ret"] = 5  # one stale read deep in the history
    eq(False, check(h)[0])


@test
def many_concurrent_clients_with_lost_writes_are_checked_not_skipped():
    # six clients, overlapping ops, a few writes with unknown outcomes
    import random
    rng = random.Random(7)
    h, value, t = [], "init", 0.0
    for i in range(3000):
        t += rng.uniform(0.0005, 0.002)
        if rng.random() < 0.5:
            h.append(op("read", None, value, t - 0.003, t + 0.001))
        else:
            value = f"v{i}"
            lost = rng.random() < 0.01
            h.append(op("write", value, True, t - 0.002, None if lost else t + 0.0005))
    eq(True, check(h, initial="init")[0])
    # a read of a value long overwritten must be caught
    h[2500] = dict(h[2500], kind="read", arg=None, ret="v3", t_ret=h[2500]["t_inv"] + 0.001)
    eq(False, check(h, initial="init")[0])


if __name__ == "__main__":
    main()
