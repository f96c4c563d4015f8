"""Keyspace notifications of sorted set commands: the same commands on respd and redis-server must
publish the same `__keyevent@0__` events in the same order."""

from conftest import keyspace_events

CMDS = [
    ["ZADD", "z", "1", "a", "2", "b", "3", "c"],
    ["ZADD", "z", "1", "a"],
    ["ZADD", "z", "INCR", "1", "a"],
    ["ZINCRBY", "z", "1", "b"],
    ["ZREM", "z", "nosuch"],
    ["ZREM", "z", "a"],
    ["ZADD", "z", "4", "d", "5", "e", "6", "f"],
    ["ZREMRANGEBYRANK", "z", "0", "0"],
    ["ZREMRANGEBYSCORE", "z", "4", "4"],
    ["ZADD", "lex", "0", "a", "0", "b"],
    ["ZREMRANGEBYLEX", "lex", "-", "+"],
    ["ZPOPMIN", "z"],
    ["ZPOPMAX", "z", "1"],
    ["ZMPOP", "1", "z", "MIN"],
    ["ZADD", "u", "1", "x"],
    ["ZUNIONSTORE", "dst", "1", "u"],
    ["ZINTERSTORE", "dst", "1", "u"],
    ["ZDIFFSTORE", "dst", "1", "u"],
    ["ZRANGESTORE", "dst2", "u", "0", "-1"],
    ["ZRANGESTORE", "dst2", "nosuch", "0", "-1"],
    ["ZDIFFSTORE", "dst", "2", "u", "u"],
    ["BZPOPMIN", "u", "0"],
    ["ZADD", "w", "1", "m"],
    ["ZREM", "w", "m"],
]


def events(server):
    """The (event, key) pairs the zset commands publish."""
    return [(ch.split(":", 1)[1], key) for ch, key in keyspace_events(server, CMDS, "__keyevent@0__:*")]


def test_zset_keyspace_events(respd, redis_server):
    want = events(redis_server)
    assert ("zadd", "z") in want and ("del", "dst") in want
    assert events(respd) == want
