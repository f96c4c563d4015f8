"""Large values freed in the background: the INFO counters as redis-server keeps them, values
really gone, memory given back, and the keyspace usable at once after FLUSHALL ASYNC."""

import time

import pytest


def settle(r, timeout=30.0):
    """Waits until the lazyfree thread has freed everything queued; returns INFO memory."""
    deadline = time.monotonic() + timeout
    while True:
        mem = r.info("memory")
        if mem["lazyfree_pending_objects"] == 0:
            return mem
        assert time.monotonic() < deadline, "lazyfree_pending_objects never reached 0"
        time.sleep(0.02)


def freed(r):
    return settle(r)["lazyfreed_objects"]


def test_unlink_and_flush_async_count_as_redis_does(each_server):
    r = each_server.client()
    assert freed(r) == 0
    # 64 elements is Redis's threshold: not above it, freed at once, not counted.
    r.sadd("small", *(f"m{i}" for i in range(64)))
    r.unlink("small")
    assert freed(r) == 0
    # Shapes whose effort both servers count in elements (Redis counts a list in quicklist
    # nodes and an intset as one allocation; respd's lists and sets hold one per element).
    r.hset("big", mapping={f"f{i}": i for i in range(1000)})
    r.sadd("bigset", *(f"m{i}" for i in range(1000)))
    assert r.unlink("big", "bigset") == 2
    assert freed(r) == 2
    assert r.exists("big", "bigset") == 0
    # FLUSHALL ASYNC hands every key over, whatever its size (Redis's emptyDbAsync).
    r.mset({"a": 1, "b": 2, "c": 3})
    r.flushall(asynchronous=True)
    assert freed(r) == 5
    # A plain small FLUSHALL is synchronous: nothing counted.
    r.mset({"a": 1, "b": 2})
    r.flushall()
    assert freed(r) == 5
    # lazyfree-lazy-user-flush makes FLUSHDB without a mode asynchronous; SYNC overrides it.
    r.config_set("lazyfree-lazy-user-flush", "yes")
    r.mset({"a": 1, "b": 2})
    r.flushdb()
    assert freed(r) == 7
    r.mset({"a": 1, "b": 2})
    r.execute_command("FLUSHDB", "SYNC")
    assert freed(r) == 7
    r.config_resetstat()
    assert freed(r) == 0


def test_flushall_async_then_writes(each_server):
    r = each_server.client()
    pipe = r.pipeline(transaction=False)
    for i in range(20000):
        pipe.set(f"k{i}", i)
    pipe.rpush("list", *range(5000))
    pipe.execute()
    r.flushall(asynchronous=True)
    # The new keyspace is empty and writable while the old one is still being freed.
    assert r.dbsize() == 0
    assert r.get("k1") is None
    r.set("k1", "new")
    r.rpush("list", "x")
    assert r.get("k1") == b"new"
    assert r.lrange("list", 0, -1) == [b"x"]
    settle(r)
    assert r.dbsize() == 2 and r.get("k1") == b"new"


@pytest.mark.parametrize("how", ["del", "unlink", "overwrite", "expire", "flushdb"])
def test_a_deleted_big_value_is_gone_and_its_memory_given_back(respd, how):
    r = respd.client()
    base = settle(r)["used_memory"]
    size = 64 << 20
    r.set("big", b"x" * size)
    r.rpush("list", *range(10000))
    assert r.info("memory")["used_memory"] >= base + size
    if how == "del":
        assert r.delete("big", "list") == 2
    elif how == "unlink":
        assert r.unlink("big", "list") == 2
    elif how == "overwrite":
        r.set("big", "small")
        r.set("list", "small")
    elif how == "expire":
        r.pexpire("big", 1)
        r.pexpire("list", 1)
        deadline = time.monotonic() + 10
        # Active expiry, not a lookup, reclaims them.
        while r.dbsize() and time.monotonic() < deadline:
            time.sleep(0.05)
    else:
        r.flushdb()
    # Read once, this failed one run of the suite under heavy load (FLUSHDB: the 64 MiB still
    # counted after the lazyfree queue emptied; not reproduced in 14 runs since, and the pool's
    # idle buffers are not in used_memory). So it waits up to 10 s; memory never given back
    # still fails it.
    deadline = time.monotonic() + 10
    while True:
        mem = settle(r)
        if mem["used_memory"] < base + size // 4 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert mem["used_memory"] < base + size // 4, (base, mem["used_memory"])
    if how == "overwrite":
        assert r.get("big") == b"small" and r.get("list") == b"small"
    else:
        assert r.exists("big", "list") == 0
    # The 64 MiB string and the 10,000-element list both went through the thread.
    assert mem["lazyfreed_objects"] >= 2
