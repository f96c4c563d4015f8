"""maxmemory: noeviction refuses writes with Redis's OOM error; the LRU/LFU/random policies evict
keys so writes keep succeeding and memory stays near the limit."""

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
