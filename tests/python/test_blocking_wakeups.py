"""What wakes (or does not wake) a blocked client when its key is deleted, replaced, flushed,
swapped away, expired or its group destroyed: each case run on respd and redis-server, the
blocked client's reply (or that it still waits) compared."""

import time

import pytest

from resp_raw import RawClient, encode

STILL_BLOCKED = "still blocked"

XRG = ["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "k", ">"]
GROUP = [["XGROUP", "CREATE", "k", "g", "$", "MKSTREAM"]]
FILL_DEL_SET = [["MULTI"], None, ["DEL", "k"], ["SET", "k", "foo"], ["EXEC"]]


def fill(cmd):
    return [cmd if c is None else c for c in FILL_DEL_SET]


CASES = {
    "bzpopmin-tx": (["BZPOPMIN", "k", "0"], [], fill(["ZADD", "k", "1", "a"])),
    "bzmpop-tx": (["BZMPOP", "0", "1", "k", "MIN"], [], fill(["ZADD", "k", "1", "a"])),
    "blpop-tx": (["BLPOP", "k", "0"], [], fill(["LPUSH", "k", "a"])),
    "xread-tx": (["XREAD", "BLOCK", "0", "STREAMS", "k", "$"], [], fill(["XADD", "k", "1-1", "f", "v"])),
    "xread-del": (["XREAD", "BLOCK", "0", "STREAMS", "k", "$"], [["XADD", "k", "1-1", "f", "v"]], [["DEL", "k"]]),
    "xread-swap": (["XREAD", "BLOCK", "0", "STREAMS", "k", "$"], [["XADD", "k", "1-1", "f", "v"]], [["SWAPDB", "0", "1"]]),
    "xrg-del": (XRG, GROUP, [["DEL", "k"]]),
    "xrg-unlink": (XRG, GROUP, [["UNLINK", "k"]]),
    "xrg-type": (XRG, GROUP, [["MULTI"], ["DEL", "k"], ["SET", "k", "x"], ["EXEC"]]),
    "xrg-set": (XRG, GROUP, [["SET", "k", "x"]]),
    "xrg-flushall": (XRG, GROUP, [["FLUSHALL"]]),
    "xrg-flushdb": (XRG, GROUP, [["FLUSHDB"]]),
    "xrg-swapdb": (XRG, GROUP, [["SWAPDB", "0", "1"]]),
    "xrg-destroy": (XRG, GROUP, [["XGROUP", "DESTROY", "k", "g"]]),
    "xrg-rename": (XRG, GROUP, [["RENAME", "k", "k2"]]),
    "xrg-move": (XRG, GROUP, [["MOVE", "k", "1"]]),
    "xrg-expire": (XRG, GROUP, [["PEXPIRE", "k", "300"], ["SLEEP", "0.9"]]),
    "xrg-recreate": (XRG, GROUP, [["MULTI"], ["DEL", "k"], ["XADD", "k", "1-1", "f", "v"], ["EXEC"]]),
    "xrg-other-write": (XRG, GROUP, [["XGROUP", "CREATE", "k", "g2", "$"], ["PEXPIRE", "k", "100000"]]),
}


def run(port, block, setup, trigger, waiters=1):
    c = RawClient(port)
    c.cmd("FLUSHALL")
    for s in setup:
        c.cmd(*s)
    bs = []
    for _ in range(waiters):
        b = RawClient(port, timeout=1.5)
        b.send_raw(encode(block))
        bs.append(b)
    time.sleep(0.2)
    for t in trigger:
        if t[0] == "SLEEP":
            time.sleep(float(t[1]))
        else:
            c.cmd(*t)
    out = []
    for b in bs:
        try:
            out.append(b.read_reply())
        except OSError:
            out.append(STILL_BLOCKED)
        b.close()
    c.close()
    return out


@pytest.mark.parametrize("name", sorted(CASES))
def test_wakeup_same_as_redis(name, servers):
    a, b = servers
    want = run(b.port, *CASES[name])
    assert run(a.port, *CASES[name]) == want


def test_every_group_reader_is_told_also_behind_a_plain_reader(servers):
    """An XREAD waiter that keeps waiting does not hide the XREADGROUP waiters queued after it."""
    out = {}
    for s in servers:
        c = RawClient(s.port)
        c.cmd("FLUSHALL")
        c.cmd("XGROUP", "CREATE", "k", "g", "$", "MKSTREAM")
        plain = RawClient(s.port, timeout=1.5)
        plain.send_raw(encode(["XREAD", "BLOCK", "0", "STREAMS", "k", "$"]))
        time.sleep(0.1)
        grp = [RawClient(s.port, timeout=1.5) for _ in range(2)]
        for i, g in enumerate(grp):
            g.send_raw(encode(["XREADGROUP", "GROUP", "g", f"c{i}", "BLOCK", "0", "STREAMS", "k", ">"]))
        time.sleep(0.2)
        c.cmd("DEL", "k")
        got = [g.read_reply() for g in grp]
        try:
            plain.read_reply()
            got.append("plain woken")
        except OSError:
            got.append(STILL_BLOCKED)
        out[s] = got
        for x in [c, plain, *grp]:
            x.close()
    a, b = servers
    assert out[b][0].startswith(b"-UNBLOCKED")
    assert out[a] == out[b]
