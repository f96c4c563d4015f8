"""Sorted set algebra with plain sets as inputs (each member scores 1), compared with redis-server."""

from resp_raw import RawClient

CMDS = [
    "ZADD u1 1 a 2 b 3 c",
    "ZADD u2 10 b 20 c 30 d",
    "SADD s1 a d x",
    "ZUNION 3 u1 u2 s1 WITHSCORES",
    "ZUNION 3 u1 nosuch s1 WITHSCORES",
    "ZUNION 2 u1 s1 WEIGHTS 1 5 WITHSCORES",
    "ZINTER 2 u1 s1 WITHSCORES",
    "ZDIFF 2 u2 s1 WITHSCORES",
    "ZDIFF 2 s1 u1 WITHSCORES",
    "ZINTERCARD 2 u1 s1",
    "ZUNIONSTORE d 2 s1 u1",
    "ZRANGE d 0 -1 WITHSCORES",
    "ZINTERSTORE d 2 s1 s1 AGGREGATE MAX",
    "ZRANGE d 0 -1 WITHSCORES",
]


def test_sets_as_inputs(respd_shared, redis_shared):
    a, b = RawClient(respd_shared.port), RawClient(redis_shared.port)
    try:
        for c in (a, b):
            c.cmd("FLUSHALL")
        for line in CMDS:
            args = line.split()
            assert a.cmd(*args) == b.cmd(*args), line
    finally:
        a.close(), b.close()
