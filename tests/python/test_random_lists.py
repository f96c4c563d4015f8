"""Randomized differential test of the list commands: seeded random sequences on a small key
space go to respd and redis-server, and every reply must be byte-for-byte the same."""

import random

import pytest

from resp_raw import RawClient

KEYS = ["l1", "l2", "l3", "str"]
ELEMS = ["a", "b", "c", "d", "1", "2", ""]
STEPS = 1000


def idx(r):
    return str(r.choice([0, 1, 2, -1, -2, -3, 5, -7, 100, -100, r.randint(-10, 10)]))


def side(r):
    return r.choice(["LEFT", "RIGHT", "left", "Right"])


def gen(r):
    k = r.choice(KEYS)
    k2 = r.choice(KEYS)
    e = r.choice(ELEMS)
    many = [r.choice(ELEMS) for _ in range(r.randint(1, 4))]
    choices = [
        (6, lambda: ["LPUSH", k, *many]),
        (6, lambda: ["RPUSH", k, *many]),
        (2, lambda: ["LPUSHX", k, *many]),
        (2, lambda: ["RPUSHX", k, *many]),
        (3, lambda: ["LPOP", k]),
        (3, lambda: ["RPOP", k, str(r.randint(0, 4))]),
        (2, lambda: ["LLEN", k]),
        (3, lambda: ["LINDEX", k, idx(r)]),
        (2, lambda: ["LSET", k, idx(r), e]),
        (5, lambda: ["LRANGE", k, idx(r), idx(r)]),
        (2, lambda: ["LTRIM", k, idx(r), idx(r)]),
        (2, lambda: ["LREM", k, str(r.randint(-3, 3)), e]),
        (2, lambda: ["LINSERT", k, r.choice(["BEFORE", "AFTER"]), e, r.choice(ELEMS)]),
        (3, lambda: ["LPOS", k, e]
            + (["RANK", str(r.choice([1, 2, -1, -2, 3]))] if r.random() < 0.5 else [])
            + (["COUNT", str(r.randint(0, 3))] if r.random() < 0.5 else [])
            + (["MAXLEN", str(r.randint(0, 5))] if r.random() < 0.3 else [])),
        (3, lambda: ["LMOVE", k, k2, side(r), side(r)]),
        (1, lambda: ["RPOPLPUSH", k, k2]),
        (2, lambda: ["LMPOP", "2", k, k2, side(r)]
            + (["COUNT", str(r.randint(1, 3))] if r.random() < 0.5 else [])),
        (1, lambda: ["BLPOP", k, k2, "0.001"]),
        (1, lambda: ["BRPOP", k, "0.001"]),
        (1, lambda: ["BLMOVE", k, k2, side(r), side(r), "0.001"]),
        (1, lambda: ["BLMPOP", "0.001", "1", k, side(r), "COUNT", "2"]),
        (1, lambda: ["SET", "str", e]),
        (1, lambda: ["DEL", k]),
        (1, lambda: ["EXISTS", k]),
        (1, lambda: ["TYPE", k]),
    ]
    total = sum(w for w, _ in choices)
    x = r.uniform(0, total)
    for w, f in choices:
        x -= w
        if x <= 0:
            return f()
    return choices[0][1]()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_list_sequences(seed, respd_shared, redis_shared):
    r = random.Random(seed)
    a, b = RawClient(respd_shared.port), RawClient(redis_shared.port)
    try:
        for c in (a, b):
            c.cmd("FLUSHALL")
        history = []
        for _ in range(STEPS):
            cmd = gen(r)
            history.append(cmd)
            ra, rb = a.cmd(*cmd), b.cmd(*cmd)
            assert ra == rb, f"seed {seed}: {cmd}: respd {ra!r} redis {rb!r}; last: {history[-8:]}"
        for k in KEYS:
            assert a.cmd("LRANGE", k, "0", "-1") == b.cmd("LRANGE", k, "0", "-1")
    finally:
        a.close()
        b.close()
