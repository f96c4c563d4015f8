"""Randomized differential test of the stream commands: seeded sequences of XADD (explicit IDs),
XDEL, XTRIM, XRANGE, XREAD and consumer-group commands on a few keys, sent to respd and to
redis-server and compared reply by reply. Times (idle, delivery time) are masked out."""

import random

import pytest

from resp_raw import RawClient, parse

KEYS = ["s1", "s2", "s3"]
GROUPS = ["g1", "g2"]
CONSUMERS = ["c1", "c2", "c3"]
STEPS = 1500


def rid(rng):
    """A random ID or bound: explicit, ms only, or special."""
    r = rng.random()
    if r < 0.1:
        return rng.choice(["-", "+"])
    if r < 0.25:
        return str(rng.randint(0, 60))
    if r < 0.3:
        return "(" + f"{rng.randint(0, 60)}-{rng.randint(0, 3)}"
    return f"{rng.randint(0, 60)}-{rng.randint(0, 3)}"


def exact_id(rng):
    return f"{rng.randint(0, 60)}-{rng.randint(0, 3)}"


def command(rng, tick):
    key = rng.choice(KEYS)
    grp = rng.choice(GROUPS)
    cons = rng.choice(CONSUMERS)
    r = rng.randrange(100)
    if r < 25:
        # Mostly increasing IDs so that most XADDs succeed.
        ms = tick // 3 + rng.randint(-2, 2)
        idv = rng.choice([f"{ms}-{rng.randint(0, 3)}", f"{ms}-*", str(ms)])
        args = ["XADD", key]
        t = rng.randrange(10)
        if t == 0:
            args += ["MAXLEN", rng.choice(["=", "~"]), str(rng.randint(0, 8))]
        elif t == 1:
            args += ["MINID", str(max(0, ms - rng.randint(0, 10)))]
        elif t == 2:
            args += ["NOMKSTREAM"]
        nfields = rng.randint(1, 3)
        args.append(idv)
        for i in range(nfields):
            args += [f"f{i}", f"v{rng.randint(0, 99)}"]
        return args
    if r < 30:
        return ["XDEL", key] + [exact_id(rng) for _ in range(rng.randint(1, 3))]
    if r < 34:
        if rng.random() < 0.5:
            return ["XTRIM", key, "MAXLEN", rng.choice(["=", "~"]), str(rng.randint(0, 10))]
        return ["XTRIM", key, "MINID", exact_id(rng)]
    if r < 42:
        args = [rng.choice(["XRANGE", "XREVRANGE"]), key, rid(rng), rid(rng)]
        if rng.random() < 0.5:
            args += ["COUNT", str(rng.randint(0, 5))]
        return args
    if r < 45:
        return ["XLEN", key]
    if r < 50:
        keys = rng.sample(KEYS, rng.randint(1, 2))
        args = ["XREAD"]
        if rng.random() < 0.5:
            args += ["COUNT", str(rng.randint(1, 4))]
        return args + ["STREAMS"] + keys + [rng.choice([exact_id(rng), "$", "0"]) for _ in keys]
    if r < 55:
        return ["XGROUP", "CREATE", key, grp, rng.choice(["0", "$", exact_id(rng)])] + (
            ["MKSTREAM"] if rng.random() < 0.5 else [])
    if r < 57:
        return ["XGROUP", "SETID", key, grp, rng.choice(["0", "$", exact_id(rng)])]
    if r < 58:
        return ["XGROUP", "DESTROY", key, grp]
    if r < 60:
        return ["XGROUP", rng.choice(["CREATECONSUMER", "DELCONSUMER"]), key, grp, cons]
    if r < 72:
        args = ["XREADGROUP", "GROUP", grp, cons]
        if rng.random() < 0.5:
            args += ["COUNT", str(rng.randint(1, 4))]
        if rng.random() < 0.1:
            args += ["NOACK"]
        return args + ["STREAMS", key, rng.choice([">", ">", "0", exact_id(rng)])]
    if r < 78:
        return ["XACK", key, grp] + [exact_id(rng) for _ in range(rng.randint(1, 3))]
    if r < 82:
        return ["XPENDING", key, grp]
    if r < 85:
        args = ["XPENDING", key, grp, rid(rng), rid(rng), str(rng.randint(0, 5))]
        if rng.random() < 0.3:
            args.append(cons)
        return args
    if r < 89:
        args = ["XCLAIM", key, grp, cons, "0"] + [exact_id(rng) for _ in range(rng.randint(1, 3))]
        args += ["TIME", "1000"]
        if rng.random() < 0.3:
            args.append("JUSTID")
        if rng.random() < 0.2:
            args.append("FORCE")
        if rng.random() < 0.2:
            args += ["RETRYCOUNT", str(rng.randint(0, 5))]
        return args
    if r < 93:
        args = ["XAUTOCLAIM", key, grp, cons, "0", rid(rng).replace("+", "0")]
        if rng.random() < 0.5:
            args += ["COUNT", str(rng.randint(1, 4))]
        if rng.random() < 0.5:
            args.append("JUSTID")
        return args
    if r < 96:
        return ["XINFO", "GROUPS", key]
    if r < 98:
        return ["XINFO", "STREAM", key]
    return ["XSETID", key, exact_id(rng)]


def masked(cmd, raw):
    """The reply, with wall-clock fields removed where the command shows them."""
    v = parse(raw)
    if cmd[0] == "XPENDING" and len(cmd) > 3 and isinstance(v, list):
        return [[e[0], e[1], e[3]] for e in v]
    return raw


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_stream_sequences(seed, respd_shared, redis_shared):
    rng = random.Random(seed)
    a, b = RawClient(respd_shared.port), RawClient(redis_shared.port)
    for c in (a, b):
        c.cmd("FLUSHALL")
    history = []
    for tick in range(STEPS):
        cmd = command(rng, tick)
        ra, rb = a.cmd(*cmd), b.cmd(*cmd)
        history.append(" ".join(cmd))
        if masked(cmd, ra) != masked(cmd, rb):
            keys = [k for k in KEYS if k in cmd]
            recent = "\n".join(h for h in history[-80:] if any(k in h.split() for k in keys))
            pytest.fail(f"seed {seed} step {tick}: {cmd}\n respd {ra!r}\n redis {rb!r}\n"
                        f"recent commands on these keys:\n{recent}")
    for key in KEYS:
        ra, rb = a.cmd("XRANGE", key, "-", "+"), b.cmd("XRANGE", key, "-", "+")
        assert ra == rb
    a.close()
    b.close()
    assert respd_shared.alive()


def trim_command(rng, tick):
    """XADD/XTRIM with approximate trimming (MAXLEN/MINID ~, LIMIT), XDEL and XLEN."""
    key = rng.choice(KEYS[:2])
    r = rng.randrange(100)
    if r < 60:
        args = ["XADD", key]
        t = rng.randrange(4)
        if t == 0:
            args += ["MAXLEN", "~", str(rng.randint(0, 40))]
        elif t == 1:
            args += ["MINID", "~", str(max(0, tick - rng.randint(0, 60)))]
        if t < 2 and rng.random() < 0.5:
            args += ["LIMIT", str(rng.randint(0, 30))]
        fields = [x for i in range(rng.randint(1, 3)) for x in (f"f{i}", f"v{rng.randint(0, 9)}")]
        return args + [f"{tick}-1"] + fields
    if r < 75:
        how = rng.choice([["MAXLEN", "~", str(rng.randint(0, 40))],
                          ["MINID", "~", str(max(0, tick - rng.randint(0, 60)))]])
        args = ["XTRIM", key] + how
        if rng.random() < 0.6:
            args += ["LIMIT", str(rng.randint(0, 30))]
        return args
    if r < 85:
        return ["XDEL", key] + [f"{rng.randint(max(0, tick - 80), tick)}-1" for _ in range(3)]
    return ["XLEN", key]


# Not with `stream-node-max-entries 0`: nodes then end by bytes, which respd estimates (no
# listpacks), so its nodes may end elsewhere than Redis's.
@pytest.mark.parametrize("entries, seed", [(1, 1), (3, 2), (7, 3), (100, 4)])
def test_approximate_trimming_removes_whole_nodes_as_redis(entries, seed, respd_shared,
                                                           redis_shared):
    """`stream-node-max-entries` decides where nodes end, hence what `~` trimming removes and
    its default LIMIT (100 nodes' worth); XLEN and every reply equal redis-server's."""
    rng = random.Random(seed)
    a, b = RawClient(respd_shared.port), RawClient(redis_shared.port)
    try:
        for c in (a, b):
            c.cmd("FLUSHALL")
            assert c.cmd("CONFIG", "SET", "stream-node-max-entries", str(entries)) == b"+OK\r\n"
        for tick in range(1, 1200):
            cmd = trim_command(rng, tick)
            ra, rb = a.cmd(*cmd), b.cmd(*cmd)
            assert ra == rb, f"entries {entries} seed {seed} step {tick}: {cmd}"
        for k in KEYS[:2]:
            assert a.cmd("XLEN", k) == b.cmd("XLEN", k)
        assert a.cmd("XLEN", KEYS[0]) != b":0\r\n" or a.cmd("XLEN", KEYS[1]) != b":0\r\n"
    finally:
        for c in (a, b):
            c.cmd("CONFIG", "SET", "stream-node-max-entries", "100")
            c.close()
