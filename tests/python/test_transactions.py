"""Transactions with two concurrent clients, replies compared with redis-server: WATCH aborts on
another client's write, on expiry (active or lazy), on FLUSHALL/SWAPDB, and not for another db."""

import time

import pytest

from resp_raw import RawClient


def scenario(port, name):
    a, b = RawClient(port), RawClient(port)
    a.cmd("FLUSHALL")
    out = []
    if name == "other_client_write":
        a.cmd("SET", "k", "1")
        out.append(a.cmd("WATCH", "k"))
        out.append(b.cmd("SET", "k", "1"))
    elif name == "other_client_reads":
        a.cmd("SET", "k", "1")
        out.append(a.cmd("WATCH", "k"))
        out.append(b.cmd("GET", "k"))
        out.append(b.cmd("TTL", "k"))
    elif name == "active_expiry":
        a.cmd("SET", "k", "1", "PX", "50")
        out.append(a.cmd("WATCH", "k"))
        # Wait for the expiry task to remove the key (DBSIZE counts expired keys until then and
        # never looks one up), so EXEC meets an actively expired key, not a lazily expired one.
        deadline = time.monotonic() + 20
        while b.cmd("DBSIZE") != b":0\r\n":
            assert time.monotonic() < deadline, "the key was not actively expired"
            time.sleep(0.02)
    elif name == "watched_missing_then_created":
        out.append(a.cmd("WATCH", "k"))
        out.append(b.cmd("SET", "k", "x"))
    elif name == "other_db":
        out.append(a.cmd("WATCH", "k"))
        out.append(b.cmd("SELECT", "3"))
        out.append(b.cmd("SET", "k", "x"))
    elif name == "flushall_by_other":
        a.cmd("SET", "k", "1")
        out.append(a.cmd("WATCH", "k"))
        out.append(b.cmd("FLUSHALL"))
    elif name == "swapdb_brings_key":
        b.cmd("SELECT", "1")
        b.cmd("SET", "k", "1")
        out.append(a.cmd("WATCH", "k"))
        out.append(b.cmd("SWAPDB", "0", "1"))
    elif name == "del_by_other_in_multi":
        a.cmd("SET", "k", "1")
        out.append(a.cmd("WATCH", "k"))
        out.append(a.cmd("MULTI"))
        out.append(a.cmd("INCR", "k"))
        out.append(b.cmd("DEL", "k"))
        out.append(a.cmd("EXEC"))
        out.append(a.cmd("GET", "k"))
        a.close(), b.close()
        return out
    out.append(a.cmd("MULTI"))
    out.append(a.cmd("SET", "k", "mine"))
    out.append(a.cmd("EXEC"))
    out.append(a.cmd("GET", "k"))
    a.close(), b.close()
    return out


@pytest.mark.parametrize("name", [
    "other_client_write", "other_client_reads", "active_expiry", "watched_missing_then_created",
    "other_db", "flushall_by_other", "swapdb_brings_key", "del_by_other_in_multi",
])
def test_watch_same_as_redis(name, respd_shared, redis_shared):
    assert scenario(respd_shared.port, name) == scenario(redis_shared.port, name)
