"""Randomized differential test: seeded sequences of sorted set commands on a small key space go
to respd and redis-server, and every reply must be byte-for-byte the same.

Lexicographic commands only touch `lex`, whose members all score 0 (Redis leaves lex ranges over
mixed scores unspecified). Scores are halves and infinities so sums are exact in any order."""

import random

import pytest

from resp_raw import RawClient

KEYS = ["z1", "z2", "z3"]
MEMBERS = [f"m{i}" for i in range(12)]
SCORES = ["0", "1", "-1", "2.5", "-3.5", "7", "+inf", "-inf", "(1", "(2.5"]
ROUNDS = 2500


def score(rng):
    return rng.choice(["0", "1", "-1", "2.5", "-3.5", "7", "10", "0.5"])


def bound(rng):
    return rng.choice(SCORES)


def lexbound(rng):
    return rng.choice(["-", "+", "[m3", "(m3", "[m7", "(m10", "[m", "(m5"])


def gen(rng):
    k = rng.choice(KEYS)
    m = rng.choice(MEMBERS)
    c = rng.randrange(30)
    if c < 6:
        flags = rng.sample(["NX", "XX", "GT", "LT", "CH", "INCR"], rng.randrange(3))
        n = 1 if "INCR" in flags else rng.randrange(1, 4)
        args = []
        for _ in range(n):
            args += [score(rng), rng.choice(MEMBERS)]
        return ["ZADD", k, *flags, *args]
    if c == 6:
        return ["ZINCRBY", k, score(rng), m]
    if c == 7:
        return ["ZREM", k, *rng.sample(MEMBERS, rng.randrange(1, 4))]
    if c == 8:
        return rng.choice([["ZSCORE", k, m], ["ZMSCORE", k, m, rng.choice(MEMBERS)], ["ZCARD", k]])
    if c == 9:
        return ["ZCOUNT", k, bound(rng), bound(rng)]
    if c == 10:
        return [rng.choice(["ZRANK", "ZREVRANK"]), k, m]
    if c in (11, 12):
        kind = rng.choice(["", "BYSCORE"])
        if kind:
            lo, hi = bound(rng), bound(rng)
        else:
            lo, hi = str(rng.randrange(-8, 8)), str(rng.randrange(-8, 8))
        opts = [kind] if kind else []
        if rng.random() < 0.4:
            opts.append("REV")
        if kind and rng.random() < 0.4:
            opts += ["LIMIT", str(rng.randrange(-1, 4)), str(rng.randrange(-1, 5))]
        if rng.random() < 0.5:
            opts.append("WITHSCORES")
        return ["ZRANGE", k, lo, hi, *opts]
    if c == 13:
        return rng.choice([
            ["ZRANGEBYSCORE", k, bound(rng), bound(rng), "WITHSCORES"],
            ["ZREVRANGEBYSCORE", k, bound(rng), bound(rng)],
            ["ZREVRANGE", k, "0", str(rng.randrange(-3, 5)), "WITHSCORES"],
        ])
    if c == 14:
        return ["ZRANGESTORE", rng.choice(KEYS), k, str(rng.randrange(-4, 4)), str(rng.randrange(-4, 6))]
    if c == 15:
        return rng.choice([
            ["ZREMRANGEBYRANK", k, str(rng.randrange(-5, 5)), str(rng.randrange(-5, 5))],
            ["ZREMRANGEBYSCORE", k, bound(rng), bound(rng)],
        ])
    if c == 16:
        cmd = rng.choice(["ZPOPMIN", "ZPOPMAX"])
        return [cmd, k] + ([str(rng.randrange(0, 4))] if rng.random() < 0.6 else [])
    if c == 17:
        n = rng.randrange(1, 3)
        keys = rng.sample(KEYS + ["nosuch"], n)
        return ["ZMPOP", str(n), *keys, rng.choice(["MIN", "MAX"]), "COUNT", str(rng.randrange(1, 4))]
    if c in (18, 19):
        op = rng.choice(["ZUNION", "ZINTER", "ZDIFF"])
        n = rng.randrange(1, 4)
        keys = [rng.choice(KEYS + ["nosuch"]) for _ in range(n)]
        opts = []
        if op != "ZDIFF" and rng.random() < 0.5:
            opts += ["WEIGHTS", *[str(rng.randrange(-2, 3)) for _ in range(n)]]
        if op != "ZDIFF" and rng.random() < 0.5:
            opts += ["AGGREGATE", rng.choice(["SUM", "MIN", "MAX"])]
        if rng.random() < 0.5:
            return [op + "STORE", rng.choice(KEYS), str(n), *keys, *opts]
        return [op, str(n), *keys, *opts, "WITHSCORES"]
    if c == 20:
        n = rng.randrange(1, 4)
        return ["ZINTERCARD", str(n), *[rng.choice(KEYS) for _ in range(n)], "LIMIT", str(rng.randrange(0, 3))]
    if c == 21:
        return ["ZSCAN", k, "0"] + (["MATCH", rng.choice(["m1*", "*", "m?"])] if rng.random() < 0.5 else [])
    if c == 22:
        return ["ZADD", "lex", "0", m, "0", rng.choice(MEMBERS)]
    if c == 23:
        return rng.choice([
            ["ZRANGEBYLEX", "lex", lexbound(rng), lexbound(rng)],
            ["ZREVRANGEBYLEX", "lex", lexbound(rng), lexbound(rng), "LIMIT", "0", str(rng.randrange(-1, 4))],
            ["ZLEXCOUNT", "lex", lexbound(rng), lexbound(rng)],
            ["ZRANGE", "lex", lexbound(rng), lexbound(rng), "BYLEX"],
        ])
    if c == 24:
        return ["ZREMRANGEBYLEX", "lex", lexbound(rng), lexbound(rng)]
    if c == 25:
        return rng.choice([["EXISTS", k], ["TYPE", k], ["OBJECT", "ENCODING", k]])
    if c == 26:
        return ["ZRANDMEMBER", k, "100", "WITHSCORES"]  # whole set: compared sorted below
    return ["ZADD", k, score(rng), m]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_zset_commands(seed, respd_shared, redis_shared):
    rng = random.Random(seed)
    a, b = RawClient(respd_shared.port), RawClient(redis_shared.port)
    try:
        for c in (a, b):
            c.cmd("FLUSHALL")
        for i in range(ROUNDS):
            args = gen(rng)
            ra, rb = a.cmd(*args), b.cmd(*args)
            if args[0] == "ZRANDMEMBER":
                ra, rb = sorted(ra.split(b"\r\n")), sorted(rb.split(b"\r\n"))
            assert ra == rb, f"seed {seed} step {i}: {' '.join(args)}\n respd {ra!r}\n redis {rb!r}"
        for k in KEYS + ["lex"]:
            assert a.cmd("ZRANGE", k, "0", "-1", "WITHSCORES") == b.cmd("ZRANGE", k, "0", "-1", "WITHSCORES")
    finally:
        a.close(), b.close()


def gen_thresholds(rng):
    """A command of `gen`, a score of -0 now and then, or a change of the listpack limits, so
    sets cross them both ways: grown past, shrunk below, rebuilt by a STORE or a reload."""
    c = rng.randrange(40)
    if c == 0:
        return ["CONFIG", "SET", "zset-max-listpack-entries", str(rng.choice([0, 1, 2, 3, 5, 8, 128]))]
    if c == 1:
        return ["CONFIG", "SET", "zset-max-listpack-value", str(rng.choice([0, 1, 2, 3, 64]))]
    if c == 2:
        return ["ZADD", rng.choice(KEYS), "-0", rng.choice(MEMBERS)]
    if c == 3:
        k = rng.choice(KEYS)
        return ["RESTORE", k + "r", "0", "(DUMP)", "REPLACE"]
    args = gen(rng)
    # A skiplist's ZSCAN walks Redis's dict order, which respd does not copy.
    return ["ZCARD", args[1]] if args[0] == "ZSCAN" else args


@pytest.mark.parametrize("seed", [11, 12])
def test_random_zset_encodings(seed, respd_shared, redis_shared):
    """Differential run across the encoding thresholds: after every command each key's OBJECT
    ENCODING must be redis-server's, and so must every reply (a -0 score shows which form held it)."""
    rng = random.Random(seed)
    a, b = RawClient(respd_shared.port), RawClient(redis_shared.port)
    try:
        for c in (a, b):
            c.cmd("FLUSHALL")
        for i in range(1500):
            args = gen_thresholds(rng)
            if args[0] == "RESTORE":
                dumps = [c.cmd("DUMP", args[1][:-1]) for c in (a, b)]
                if dumps[0].startswith(b"$-1") != dumps[1].startswith(b"$-1"):
                    raise AssertionError(f"seed {seed} step {i}: DUMP {dumps!r}")
                if dumps[1].startswith(b"$-1"):
                    continue
                # Each server restores its own payload: the encodings, not the bytes, are compared.
                ra, rb = (c.cmd(*args[:3], d[d.index(b"\r\n") + 2:-2], "REPLACE") for c, d in zip((a, b), dumps))
            else:
                ra, rb = a.cmd(*args), b.cmd(*args)
            if args[0] == "ZRANDMEMBER":
                ra, rb = sorted(ra.split(b"\r\n")), sorted(rb.split(b"\r\n"))
            assert ra == rb, f"seed {seed} step {i}: {' '.join(map(str, args))}\n respd {ra!r}\n redis {rb!r}"
            for k in KEYS + [x + "r" for x in KEYS]:
                ea, eb = a.cmd("OBJECT", "ENCODING", k), b.cmd("OBJECT", "ENCODING", k)
                assert ea == eb, f"seed {seed} step {i} after {' '.join(map(str, args))}: {k} respd {ea!r} redis {eb!r}"
        for k in KEYS:
            assert a.cmd("ZRANGE", k, "0", "-1", "WITHSCORES") == b.cmd("ZRANGE", k, "0", "-1", "WITHSCORES")
    finally:
        for c in (a, b):
            c.cmd("CONFIG", "SET", "zset-max-listpack-entries", "128")
            c.cmd("CONFIG", "SET", "zset-max-listpack-value", "64")
        a.close(), b.close()
