"""A linearizability checker for single-key registers, for the histories the
cluster tests record: Wing & Gong's search over orders that respect real
time, with Lowe's memoisation of (linearized set, register value).

An operation is a dict: key, kind ('read' | 'write' | 'cas'), arg (write:
value; cas: (expected, new)), ret (read: value or None for absent; write:
True; cas: True/False/None), t_inv, t_ret (None when the outcome is unknown:
a timeout or a connection lost mid-call). Written values are unique, so a
value identifies the write (and its ModifyIndex): an index-based CAS is
checked as a value-based one.

An operation with a known outcome takes effect between its invocation and
its response. One with an unknown outcome takes effect at some point after
its invocation or never; to keep the search finite we assume "some point"
is within UNKNOWN_WINDOW seconds (a Raft entry orphaned by a dead leader is
committed by the next one within an election or two, or not at all).

Known-outcome and unknown-outcome ops are tracked apart, each as a
watermark (every op before it is done) plus the few done ops after it, so
the memo stays small while concurrency is low, whatever the history's
length; an unknown op that is never linearized does not pin the watermark. The search is an explicit stack: histories of
thousands of operations do not recurse.
"""
from collections import defaultdict

UNKNOWN_WINDOW = 5.0


def _apply(op, state):
    kind = op["kind"]
    if kind == "read":
        return op["ret"] == state, state
    if kind == "write":
        return True, op["arg"]
    expected, new = op["arg"]
    if op["ret"] is None:
        return True, (new if state == expected else state)
    if op["ret"]:
        return state == expected, new
    return state != expected, state


def _simplify(ops):
    """Two sound rewrites of unknown-outcome writes (and CAS) that keep the
    search small:
    - one whose value some op observed certainly took effect, before the
      first observer completed (a read's response, or the invocation of a
      CAS that expected the value: its preparing read saw it first): it
      becomes a known-outcome op ending there;
    - one whose value nobody observed can only matter by making a failed CAS
      fail; drop it, and free every failed CAS in its window of its
      constraint. That can hide a violation inside such a window, never
      report one that is not there.
    """
    first_seen = {}
    for o in ops:
        if o["kind"] == "read" and o["t_ret"] is not None:
            t = o["t_ret"]
            first_seen[o["ret"]] = min(first_seen.get(o["ret"], t), t)
        elif o["kind"] == "cas":
            v, t = o["arg"][0], o["t_inv"]
            first_seen[v] = min(first_seen.get(v, t), t)
    kept, windows = [], []
    for o in ops:
        if o["t_ret"] is None and o["kind"] in ("write", "cas"):
            value = o["arg"] if o["kind"] == "write" else o["arg"][1]
            if value in first_seen and first_seen[value] >= o["t_inv"]:
                o = dict(o, t_ret=first_seen[value], ret=True)
            else:
                windows.append((o["t_inv"], o["t_inv"] + UNKNOWN_WINDOW))
                continue
        kept.append(o)
    out = []
    for o in kept:
        if o["kind"] == "cas" and o["ret"] is False and o["t_ret"] is not None:
            if any(lo <= o["t_ret"] and o["t_inv"] <= hi for lo, hi in windows):
                continue
        out.append(o)
    return out


def check_key(ops, initial=None):
    ops = [o for o in ops if not (o["kind"] == "read" and o["t_ret"] is None)]
    ops = _simplify(ops)
    req = sorted((o for o in ops if o["t_ret"] is not None), key=lambda o: o["t_inv"])
    opt = sorted((o for o in ops if o["t_ret"] is None), key=lambda o: o["t_inv"])
    nr, no = len(req), len(opt)
    rinv = [o["t_inv"] for o in req]
    rret = [o["t_ret"] for o in req]
    oinv = [o["t_inv"] for o in opt]
    odl = [o["t_inv"] + UNKNOWN_WINDOW for o in opt]

    def advance(w, done):
        while w in done:
            done = done - {w}
            w += 1
        return w, done

    # State: (watermark over known-outcome ops, the done ones beyond it,
    # watermark over unknown-outcome ops, the resolved ones beyond it, value).
    seen = set()
    stack = [(0, frozenset(), 0, frozenset(), initial)]
    while stack:
        wr, dr, wo, do, state = stack.pop()
        # An unknown op whose window closed before every pending known op was
        # even invoked can no longer take effect: it never did.
        first_inv = rinv[wr] if wr < nr else float("inf")
        while wo < no and (wo in do or odl[wo] < first_inv):
            do = do - {wo}
            wo += 1
        if wr == nr:
            return True, ""
        key = (wr, dr, wo, do, state)
        if key in seen:
            continue
        seen.add(key)
        horizon = float("inf")
        i = wr
        while i < nr and rinv[i] <= horizon:
            if i not in dr:
                horizon = min(horizon, rret[i])
            i += 1
        for j in range(wr, i):
            if j in dr or rinv[j] > horizon:
                continue
            ok, new = _apply(req[j], state)
            if ok:
                w2, d2 = advance(wr, dr | {j})
                stack.append((w2, d2, wo, do, new))
        k = wo
        while k < no and oinv[k] <= horizon:
            if k not in do and odl[k] >= first_inv:
                ok, new = _apply(opt[k], state)
                if ok and new != state:
                    w2, d2 = advance(wo, do | {k})
                    stack.append((wr, dr, w2, d2, new))
            k += 1
    return False, f"no linearization of {nr} ops ({no} with unknown outcome)"


def check(history, initial=None):
    """Check every key of a history; returns (ok, explanation)."""
    by_key = defaultdict(list)
    for o in history:
        by_key[o["key"]].append(o)
    for key, ops in sorted(by_key.items()):
        ok, why = check_key(ops, initial)
        if not ok:
            return False, f"key {key}: {why}"
    return True, ""
