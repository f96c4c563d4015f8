"""Data-type behaviours where respd differed from Redis 7.0 (issue #17), each compared with
redis-server: SMOVE touches its destination only when the member is added to it, and the
keyspace events of the bitmap, HyperLogLog and geo commands."""

import pytest

from conftest import keyspace_events
from resp_raw import RawClient


def smove_watch(port, dst_has_member):
    a, b = RawClient(port), RawClient(port)
    a.cmd("FLUSHALL")
    a.cmd("SADD", "src", "m", "other")
    a.cmd("SADD", "dst", "x", *(["m"] if dst_has_member else []))
    out = [a.cmd("WATCH", "dst"), b.cmd("SMOVE", "src", "dst", "m"), a.cmd("MULTI"),
           a.cmd("SET", "k", "v"), a.cmd("EXEC"), a.cmd("SMEMBERS", "src")]
    a.close(), b.close()
    return out


@pytest.mark.parametrize("dst_has_member", [True, False])
def test_smove_touches_destination_only_when_added(dst_has_member, respd, redis_server):
    ours = smove_watch(respd.port, dst_has_member)
    assert ours == smove_watch(redis_server.port, dst_has_member)
    # The EXEC runs when the destination already held the member, and is aborted otherwise.
    assert (ours[4] == b"*-1\r\n") is not dst_has_member


def test_smove_events_as_redis(respd, redis_server):
    cmds = [("SADD", "src", "m", "n"), ("SADD", "dst", "m"), ("SMOVE", "src", "dst", "m"),
            ("SMOVE", "src", "dst", "n")]
    assert keyspace_events(respd, cmds) == keyspace_events(redis_server, cmds)


def test_new_commands_events_as_redis(respd, redis_server):
    cmds = [
        ("SETBIT", "b", "7", "1"), ("SETBIT", "b", "7", "1"), ("SETBIT", "b", "100", "0"),
        ("BITFIELD", "b", "SET", "u8", "0", "1"), ("BITFIELD", "b", "SET", "u8", "0", "1"),
        ("BITFIELD", "b", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "9"),
        ("BITOP", "OR", "d", "b"), ("BITOP", "OR", "d", "nokey"),
        ("PFADD", "h", "a"), ("PFADD", "h", "a"), ("PFCOUNT", "h"), ("PFMERGE", "h2", "h"),
        ("GEOADD", "g", "1", "2", "p"), ("GEOADD", "g", "1", "2", "p"),
        ("GEOSEARCHSTORE", "gs", "g", "FROMLONLAT", "1", "2", "BYRADIUS", "10", "km"),
        ("GEORADIUS", "g", "1", "2", "10", "km", "STORE", "gr"),
        ("GEOSEARCHSTORE", "gs", "g", "FROMLONLAT", "50", "50", "BYRADIUS", "10", "km"),
    ]
    assert keyspace_events(respd, cmds) == keyspace_events(redis_server, cmds)
