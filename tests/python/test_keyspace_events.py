"""Keyspace notifications of hash, list and set commands and of SORT: the same command sequence on
respd and redis-server must publish the same events (keyspace and keyevent channels, in order).
The sequences include no-op writes, which publish nothing, and writes that empty a key (`del`)."""

import time

import pytest

from conftest import keyspace_events

HASHES = [
    ["HSET", "h", "f", "1", "g", "2"],
    ["HSET", "h", "f", "1"],
    ["HSETNX", "h", "f", "x"],
    ["HSETNX", "h", "n", "1"],
    ["HMSET", "h", "m", "1"],
    ["HINCRBY", "h", "c", "1"],
    ["HINCRBYFLOAT", "h", "d", "1.5"],
    ["HDEL", "h", "nosuch"],
    ["HDEL", "h", "f"],
    ["HGET", "h", "g"],
    ["HDEL", "h", "g", "n", "m", "c", "d"],
    ["HSET", "h2", "a", "1"],
    ["RENAME", "h2", "h3"],
    ["EXPIRE", "h3", "100"],
    ["DEL", "h3"],
]

LISTS = [
    ["RPUSH", "l", "a", "b", "c"],
    ["LPUSH", "l", "z"],
    ["LPUSHX", "nokey", "a"],
    ["RPUSHX", "l", "d"],
    ["LINSERT", "l", "BEFORE", "a", "y"],
    ["LINSERT", "l", "BEFORE", "nosuch", "y"],
    ["LSET", "l", "0", "q"],
    ["LREM", "l", "0", "nosuch"],
    ["LREM", "l", "1", "a"],
    ["LTRIM", "l", "0", "2"],
    ["LPOP", "l"],
    ["RPOP", "l", "5"],
    ["RPUSH", "l2", "1", "2", "3", "4", "5"],
    ["LMOVE", "l2", "l3", "LEFT", "RIGHT"],
    ["RPOPLPUSH", "l2", "l3"],
    ["LMOVE", "l3", "l3", "LEFT", "RIGHT"],
    ["LMPOP", "1", "l2", "LEFT", "COUNT", "5"],
    ["BLPOP", "l3", "0"],
    ["BLMOVE", "l3", "l4", "LEFT", "LEFT", "0"],
    ["BRPOPLPUSH", "l4", "l4", "0"],
    ["BLMPOP", "0", "1", "l4", "RIGHT"],
    ["LPOS", "l4", "x"],
]

SETS = [
    ["SADD", "s", "a", "b", "c", "d"],
    ["SADD", "s", "a"],
    ["SREM", "s", "nosuch"],
    ["SREM", "s", "a"],
    ["SMOVE", "s", "t", "b"],
    ["SMOVE", "s", "t", "nosuch"],
    ["SMOVE", "t", "t", "b"],
    ["SPOP", "s"],
    ["SADD", "s2", "x", "y", "z"],
    ["SPOP", "s2", "1"],
    ["SPOP", "s2", "5"],
    ["SADD", "s3", "x", "y"],
    ["SINTERSTORE", "d", "s3", "t"],
    ["SUNIONSTORE", "d", "s3", "t"],
    ["SDIFFSTORE", "d", "t", "t"],
    ["SINTERSTORE", "d2", "s3", "nokey"],
    ["SREM", "s", "c", "d"],
    ["SREM", "s3", "x", "y"],
]

SORTS = [
    ["RPUSH", "sl", "3", "1", "2"],
    ["SADD", "ss", "b", "a"],
    ["SORT", "sl"],
    ["SORT", "sl", "STORE", "sd"],
    ["SORT", "ss", "ALPHA", "STORE", "sd"],
    ["SORT", "nokey", "STORE", "sd"],
    ["SORT", "sl", "LIMIT", "0", "0", "STORE", "sd2"],
    ["SORT_RO", "sl"],
]


@pytest.mark.parametrize("name, cmds", [("hashes", HASHES), ("lists", LISTS), ("sets", SETS),
                                        ("sort", SORTS)])
def test_events_same_as_redis(name, cmds, respd_shared, redis_shared):
    want = keyspace_events(redis_shared, cmds)
    assert len(want) > len(cmds)  # the scenario publishes something on Redis
    assert keyspace_events(respd_shared, cmds) == want


# Key misses (`m`: every read lookup of a missing key, also inside write commands and EXEC)
# and new keys (`n`: every key added, also over an existing one by RENAME/COPY/RESTORE).
MISS_NEW = [
    ["GET", "nokey"],
    ["SET", "a", "1"],
    ["SET", "a", "2"],
    ["SET", "b", "1", "GET"],
    ["SET", "b", "2", "GET"],
    ["GETDEL", "nokey"],
    ["GETEX", "nokey"],
    ["GETSET", "c", "1"],
    ["MGET", "a", "nokey", "nokey2"],
    ["EXISTS", "nokey", "a"],
    ["TYPE", "nokey"],
    ["TTL", "nokey"],
    ["STRLEN", "nokey"],
    ["OBJECT", "ENCODING", "nokey"],
    ["MEMORY", "USAGE", "nokey"],
    ["LRANGE", "nokey", "0", "-1"],
    ["LPUSH", "l", "x"],
    ["LPOP", "nokey"],
    ["HSET", "h", "f", "v"],
    ["HGET", "nokey", "f"],
    ["SADD", "s", "m"],
    ["SUNIONSTORE", "d", "s", "nokey"],
    ["SUNIONSTORE", "d", "s", "nokey"],
    ["SINTERCARD", "2", "s", "nokey"],
    ["ZADD", "z", "1", "m"],
    ["ZRANGESTORE", "zd", "nokey", "0", "-1"],
    ["ZUNIONSTORE", "zd", "2", "z", "nokey"],
    ["XADD", "x", "1-1", "f", "v"],
    ["XLEN", "nokey"],
    ["XGROUP", "CREATE", "x2", "g", "$", "MKSTREAM"],
    ["PFADD", "p", "a"],
    ["PFCOUNT", "p", "nokey"],
    ["PFMERGE", "p2", "p", "nokey"],
    ["SETBIT", "bits", "7", "1"],
    ["BITFIELD", "nokey", "GET", "u8", "0"],
    ["BITFIELD", "bf", "SET", "u8", "0", "1"],
    ["BITOP", "OR", "bo", "bits", "nokey"],
    ["BITCOUNT", "nokey"],
    ["GEOADD", "g", "13.361389", "38.115556", "Palermo"],
    ["APPEND", "ap", "x"],
    ["INCR", "i"],
    ["SETRANGE", "sr", "2", "x"],
    ["MSET", "m1", "1", "a", "3"],
    ["RENAME", "m1", "a"],
    ["RENAME", "a", "fresh"],
    ["COPY", "fresh", "cp"],
    ["COPY", "fresh", "cp", "REPLACE"],
    ["COPY", "nokey", "cp"],
    ["LMOVE", "l", "l2", "LEFT", "LEFT"],
    ["SMOVE", "s", "s2", "m"],
    ["SORT", "nokey"],
    ["SORT", "l2", "ALPHA", "STORE", "so"],
    ["MOVE", "so", "3"],
    ["LCS", "nokey", "fresh"],
    ["TOUCH", "nokey", "fresh"],
    ["DUMP", "nokey"],
    ["DEL", "nokey"],
    ["EXPIRE", "nokey", "10"],
]


def test_key_miss_and_new_key_events_same_as_redis(respd_shared, redis_shared):
    want = keyspace_events(redis_shared, MISS_NEW, events="KEAmn")
    assert ("__keyevent@0__:keymiss", "nokey") in want
    assert ("__keyevent@0__:new", "fresh") in want
    assert keyspace_events(respd_shared, MISS_NEW, events="KEAmn") == want


def test_key_miss_and_new_key_events_alone_and_in_exec(respd_shared, redis_shared):
    """Only `m`/`n` asked for (keyspace channels only), and the same commands inside MULTI."""
    def run(server, events):
        c = server.client()
        c.flushall()
        c.config_set("notify-keyspace-events", events)
        p = c.pubsub()
        p.psubscribe("__key*__:*")
        got, deadline = [], time.monotonic() + 10
        while True:
            assert time.monotonic() < deadline
            m = p.get_message(timeout=0.1)
            if m and m["type"] == "psubscribe":
                break
        tx = c.pipeline(transaction=True)
        tx.get("k1")
        tx.set("k1", "v")
        tx.set("k1", "w")
        tx.hget("nh", "f")
        tx.exists("k1", "k2")
        tx.execute()
        c.set("k1", "again")
        c.get("missing")
        c.config_set("notify-keyspace-events", "KEA")
        c.set("end", "1")
        deadline = time.monotonic() + 20
        while True:
            assert time.monotonic() < deadline, got
            m = p.get_message(timeout=0.2)
            if not m or m["type"] != "pmessage":
                continue
            ev = (m["channel"].decode(), m["data"].decode())
            if ev == ("__keyevent@0__:set", "end"):
                break
            got.append(ev)
        p.close()
        return got
    for events in ["Km", "En", "KEmn"]:
        want = run(redis_shared, events)
        assert want, events
        assert run(respd_shared, events) == want, events
