"""maxmemory: noeviction refuses writes with Redis's OOM error; the LRU/LFU/random policies evict
keys so writes keep succeeding and memory stays near the limit; and each policy evicts the keys it
should (compared with redis-server on the same scenario)."""

import random
import time

import pytest
import redis

from conftest import start_respd

MIB = 1 << 20


def used(r):
    return r.info("memory")["used_memory"]


def test_noeviction_answers_oom():
    s = start_respd()
    try:
        r = s.client()
        limit = used(r) + 8 * MIB
        r.config_set("maxmemory", limit)
        with pytest.raises(redis.exceptions.ResponseError, match="command not allowed when used memory"):
            for i in range(100):
                r.set(f"k{i}", b"x" * MIB)
        assert r.get("k0") is not None  # reads still work
        assert r.delete("k0") == 1  # and deletes
    finally:
        s.stop()


@pytest.mark.parametrize("policy", ["allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-ttl"])
def test_policies_evict_to_stay_under_the_limit(policy):
    s = start_respd()
    try:
        r = s.client()
        limit = used(r) + 16 * MIB
        r.config_set("maxmemory", limit)
        r.config_set("maxmemory-policy", policy)
        for i in range(100):
            if policy.startswith("volatile"):
                r.set(f"k{i}", b"x" * MIB, ex=1000 + i)
            else:
                r.set(f"k{i}", b"x" * MIB)
        assert used(r) <= limit + 2 * MIB
        assert r.info("stats")["evicted_keys"] > 50
        assert r.exists("k99") == 1  # the newest write stayed
    finally:
        s.stop()


# Policies told apart: each scenario fills a server without a limit, then sets the limit a little
# above what it uses and writes more, so every eviction happens after the keys were read (or not).
# The same scenario runs on respd and on redis-server. Eviction samples keys on both, so the
# checks compare groups of keys, never single ones.
VALUE = b"v" * (16 << 10)
def limit_from_now(r, policy, mib=2):
    r.config_set("maxmemory-policy", policy)
    r.config_set("maxmemory", used(r) + mib * MIB)


def gone(r, keys):
    p = r.pipeline(transaction=False)
    for k in keys:
        p.exists(k)
    return [k for k, e in zip(keys, p.execute()) if not e]


def wait_idle(r, key, seconds, timeout=20.0):
    """Waits until the server's clock has `key` idle for `seconds` (OBJECT IDLETIME does not touch)."""
    deadline = time.monotonic() + timeout
    while r.object("idletime", key) < seconds:
        assert time.monotonic() < deadline, "server clock did not advance"
        time.sleep(0.05)


def write_new(r, n=256, **kw):
    for i in range(n):
        r.set(f"new:{i}", VALUE, **kw)


def test_allkeys_lru_keeps_recently_used_keys(each_server):
    r = each_server.client()
    old = [f"old:{i}" for i in range(512)]
    for k in old:
        r.set(k, VALUE)
    # The LRU clock counts seconds: the reads below must fall in a later second than the writes.
    wait_idle(r, old[-1], 1)
    # A quarter is read again. respd samples 5 keys of one shard per eviction (no candidate pool
    # as Redis has), so most of each shard must be old for nearly every sample to hold one.
    touched = set(old[::4])
    untouched = [k for k in old if k not in touched]
    for k in touched:
        assert r.get(k) == VALUE
    limit_from_now(r, "allkeys-lru", mib=1)
    write_new(r, 128)  # 2 MiB over a 1 MiB margin: some 64 keys must go
    assert r.info("stats")["evicted_keys"] >= 32
    lost_touched, lost_untouched = len(gone(r, list(touched))), len(gone(r, untouched))
    # Least recently used first: untouched keys go, read ones stay. Random would lose a third as
    # many read keys as others; evicting the newest would lose the read ones first.
    assert lost_untouched >= 32 and lost_touched * 10 <= lost_untouched, (lost_touched, lost_untouched)


def test_allkeys_lfu_keeps_frequently_used_keys(each_server):
    r = each_server.client()
    old = [f"old:{i}" for i in range(512)]
    for k in old:
        r.set(k, VALUE)
    r.config_set("maxmemory-policy", "allkeys-lfu")
    hot = set(old[::4])  # a quarter is read often (see the LRU test for why a quarter)
    cold = [k for k in old if k not in hot]
    for _ in range(10):
        p = r.pipeline(transaction=False)
        for k in hot:
            p.get(k)
        p.execute()
    limit_from_now(r, "allkeys-lfu", mib=1)
    write_new(r, 128)
    assert r.info("stats")["evicted_keys"] >= 32
    lost_hot, lost_cold = len(gone(r, list(hot))), len(gone(r, cold))
    assert lost_cold >= 32 and lost_hot * 10 <= lost_cold, (lost_hot, lost_cold)


@pytest.mark.parametrize("policy", ["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"])
def test_volatile_policies_evict_only_keys_with_a_ttl(each_server, policy):
    r = each_server.client()
    keep = [f"keep:{i}" for i in range(256)]
    vol = [f"vol:{i}" for i in range(256)]
    for k, v in zip(keep, vol):
        r.set(k, VALUE)
        r.set(v, VALUE, ex=10_000)
    limit_from_now(r, policy)
    write_new(r, ex=10_000)
    assert r.info("stats")["evicted_keys"] >= 64
    assert gone(r, keep) == []
    assert len(gone(r, vol)) >= 32
    # Once no key has a TTL, nothing is evictable: writes get the OOM error, reads still work.
    r.delete(*vol, *[f"new:{i}" for i in range(256)])
    with pytest.raises(redis.exceptions.ResponseError, match="command not allowed when used memory"):
        for i in range(2048):
            r.set(f"more:{i}", VALUE)
    assert gone(r, keep) == []


def test_volatile_ttl_evicts_the_shortest_ttl_first(each_server):
    r = each_server.client()
    order = list(range(512))
    random.Random(7).shuffle(order)  # written in random order: TTL, not age, must decide
    for i in order:
        r.set(f"t:{i}", VALUE, ex=10_000 + 10 * i)
    limit_from_now(r, "volatile-ttl")
    write_new(r, ex=100_000)
    lost = [int(k.split(":")[1]) for k in gone(r, [f"t:{i}" for i in range(512)])]
    assert 64 <= len(lost) <= 256, len(lost)
    # Most evicted keys are among the half with the shortest TTLs: respd takes the nearest expiry
    # of a random shard, so a bit more than the globally shortest go (random: half of them).
    short = sum(1 for i in lost if i < 256)
    assert short >= 0.75 * len(lost), (short, len(lost), sorted(lost)[-10:])
