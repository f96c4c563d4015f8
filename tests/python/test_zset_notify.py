"""Keyspace notifications of sorted set commands: the same commands on respd and redis-server must
publish the same `__keyevent@0__` events in the same order."""

import time

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
    c = server.client()
    c.config_set("notify-keyspace-events", "KEA")
    c.flushall()
    p = c.pubsub()
    p.psubscribe("__keyevent@0__:*")
    deadline = time.monotonic() + 10
    while True:
        assert time.monotonic() < deadline, "no psubscribe confirmation"
        m = p.get_message(timeout=0.1)
        if m and m["type"] == "psubscribe":
            break
    for cmd in CMDS:
        c.execute_command(*cmd)
    c.execute_command("SET", "end", "1")
    got = []
    deadline = time.monotonic() + 20  # only a bound: the `end` marker ends the collection
    while time.monotonic() < deadline:
        m = p.get_message(timeout=0.2)
        if not m or m["type"] != "pmessage":
            continue
        ev = (m["channel"].decode().split(":", 1)[1], m["data"].decode())
        if ev == ("set", "end"):
            break
        got.append(ev)
    else:
        raise AssertionError(f"no `set end` event; got {got}")
    p.close()
    return got


def test_zset_keyspace_events(respd, redis_server):
    want = events(redis_server)
    assert ("zadd", "z") in want and ("del", "dst") in want
    assert events(respd) == want
