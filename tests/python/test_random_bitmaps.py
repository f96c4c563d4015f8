"""Randomized differential test of the bitmap commands: seeded random SETBIT, BITFIELD (every
width, signedness and overflow mode, `#` offsets), BITCOUNT, BITPOS and BITOP sequences go to
redis-server and respd, and every reply is compared byte for byte."""

import random

import pytest

from resp_raw import RawClient

KEYS = ["a", "b", "c"]


def field_type(rng):
    if rng.random() < 0.5:
        return f"i{rng.choice([1, 2, 3, 7, 8, 13, 16, 31, 32, 33, 63, 64])}"
    return f"u{rng.choice([1, 2, 3, 7, 8, 13, 16, 31, 32, 33, 62, 63])}"


def value(rng):
    return str(rng.choice([
        0, 1, -1, 2, 7, 100, -100, 127, 128, -128, 255, 256, 65535, 2**31, -(2**31),
        2**62, 2**63 - 1, -(2**63), rng.randint(-(2**63), 2**63 - 1), rng.randint(-300, 300),
    ]))


def offset(rng):
    if rng.random() < 0.2:
        return f"#{rng.randint(0, 12)}"
    return str(rng.randint(0, 200))


def random_command(rng):
    k, k2, k3 = (rng.choice(KEYS) for _ in range(3))
    r = lambda: str(rng.randint(-30, 30))  # noqa: E731
    bf = ["BITFIELD", k]
    for _ in range(rng.randint(1, 4)):
        op = rng.choice(["GET", "SET", "INCRBY", "INCRBY", "OVERFLOW"])
        if op == "OVERFLOW":
            bf += ["OVERFLOW", rng.choice(["WRAP", "SAT", "FAIL"])]
        elif op == "GET":
            bf += ["GET", field_type(rng), offset(rng)]
        else:
            bf += [op, field_type(rng), offset(rng), value(rng)]
    cmds = [
        ["SETBIT", k, str(rng.randint(0, 300)), str(rng.randint(0, 1))],
        ["GETBIT", k, str(rng.randint(0, 300))],
        bf, bf,
        ["BITFIELD_RO", k, "GET", field_type(rng), offset(rng)],
        ["BITCOUNT", k], ["BITCOUNT", k, r(), r()], ["BITCOUNT", k, r(), r(), rng.choice(["BIT", "BYTE"])],
        ["BITPOS", k, str(rng.randint(0, 1))], ["BITPOS", k, str(rng.randint(0, 1)), r()],
        ["BITPOS", k, str(rng.randint(0, 1)), r(), r()],
        ["BITPOS", k, str(rng.randint(0, 1)), r(), r(), rng.choice(["BIT", "BYTE"])],
        ["BITOP", rng.choice(["AND", "OR", "XOR"]), k, k2, k3], ["BITOP", "NOT", k, k2],
        ["GET", k], ["STRLEN", k], ["SETRANGE", k, str(rng.randint(0, 40)), "\xff\x00"],
        ["APPEND", k, "ab"], ["DEL", k], ["SET", k, str(rng.randint(-99, 99))],
        ["OBJECT", "ENCODING", k],
    ]
    return rng.choice(cmds)


@pytest.mark.parametrize("seed", range(8))
def test_random_bitmap_sequences_match_redis(seed, respd_shared, redis_shared):
    rng = random.Random(seed)
    a, b = RawClient(respd_shared.port), RawClient(redis_shared.port)
    for c in (a, b):
        assert c.cmd("FLUSHALL") == b"+OK\r\n"
    history = []
    for _ in range(500):
        cmd = random_command(rng)
        ra, rb = a.cmd(*cmd), b.cmd(*cmd)
        history.append(cmd)
        assert ra == rb, f"seed {seed}, after {history[-5:]}: respd {ra!r} redis {rb!r}"
    for k in KEYS:
        assert a.cmd("GET", k) == b.cmd("GET", k)
    a.close(), b.close()
