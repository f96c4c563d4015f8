"""Keyspace notifications of hash, list and set commands and of SORT: the same command sequence on
respd and redis-server must publish the same events (keyspace and keyevent channels, in order).
The sequences include no-op writes, which publish nothing, and writes that empty a key (`del`)."""

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
