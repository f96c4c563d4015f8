"""Randomized differential test of the core (string and key) commands: seeded random sequences on
a small key space go to redis-server and respd, and every reply is compared byte for byte."""

import random

import pytest

from resp_raw import RawClient

KEYS = ["a", "b", "c", "n", "f"]
VALUES = ["", "x", "hello", "10", "-3", "3.5", "1e3", "9223372036854775807", "abc def", "\x00\xff"]


def random_command(rng):
    k = rng.choice(KEYS)
    k2 = rng.choice(KEYS)
    v = rng.choice(VALUES)
    i = str(rng.choice([-5, -1, 0, 1, 2, 3, 100, 9223372036854775807]))
    cmds = [
        ["SET", k, v], ["SET", k, v, "NX"], ["SET", k, v, "XX"], ["SET", k, v, "GET"],
        ["SET", k, v, "EX", "1000"], ["SET", k, v, "KEEPTTL"], ["GET", k], ["GETSET", k, v],
        ["GETDEL", k], ["GETEX", k, "PERSIST"], ["GETEX", k, "EX", "500"], ["SETNX", k, v],
        ["MSET", k, v, k2, v], ["MSETNX", k, v, k2, v], ["MGET", k, k2, "nokey"], ["APPEND", k, v],
        ["STRLEN", k], ["GETRANGE", k, i, str(rng.randint(-5, 5))], ["SETRANGE", k, str(rng.randint(0, 6)), v],
        ["INCR", k], ["DECR", k], ["INCRBY", k, i], ["DECRBY", k, i], ["INCRBYFLOAT", k, rng.choice(["1.5", "-0.25", "x", "2"])],
        ["DEL", k, k2], ["UNLINK", k], ["EXISTS", k, k2, k], ["TYPE", k], ["EXPIRE", k, str(rng.randint(1000, 10**6))],
        ["EXPIRE", k, str(rng.randint(1000, 10**6)), rng.choice(["NX", "XX", "GT", "LT"])], ["PERSIST", k], ["TTL", k],
        ["RENAME", k, k2], ["RENAMENX", k, k2], ["COPY", k, k2], ["COPY", k, k2, "REPLACE"],
        ["MOVE", k, "1"], ["TOUCH", k, k2], ["DBSIZE"], ["SELECT", rng.choice(["0", "0", "1"])],
        ["OBJECT", "ENCODING", k], ["SETEX", k, rng.choice(["100", "0", "-1"]), v],
        ["EXPIRETIME", k], ["SWAPDB", "0", "1"],
    ]
    return rng.choice(cmds)


@pytest.mark.parametrize("seed", range(8))
def test_random_sequences_match_redis(seed, respd_shared, redis_shared):
    rng = random.Random(seed)
    a, b = RawClient(respd_shared.port), RawClient(redis_shared.port)
    for c in (a, b):
        assert c.cmd("FLUSHALL") == b"+OK\r\n"
    history = []
    for _ in range(400):
        cmd = random_command(rng)
        ra, rb = a.cmd(*cmd), b.cmd(*cmd)
        history.append(cmd)
        if cmd[0] == "TTL" and ra[:1] == rb[:1] == b":":
            # A second may tick between the two servers.
            assert abs(int(ra[1:-2]) - int(rb[1:-2])) <= 1
            continue
        if cmd[0] == "EXPIRETIME" and ra[:1] == rb[:1] == b":":
            assert abs(int(ra[1:-2]) - int(rb[1:-2])) <= 1
            continue
        assert ra == rb, f"seed {seed}, after {history[-5:]}: respd {ra!r} redis {rb!r}"
    a.close(), b.close()
