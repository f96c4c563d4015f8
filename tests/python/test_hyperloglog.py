"""HyperLogLog against redis-server: the same elements give the same bytes (sparse, promoted
to dense at hll-sparse-max-bytes, merged), the same PFCOUNT, and a value DUMPed by either
server RESTOREs on the other and counts the same there."""

import random

import pytest


def both(respd, redis_server):
    return respd.client(), redis_server.client()


def add_batches(c, key, elements, batch=500):
    for i in range(0, len(elements), batch):
        c.pfadd(key, *elements[i:i + batch])


@pytest.mark.parametrize("seed,n", [(1, 50), (2, 700), (3, 3000), (4, 20000), (5, 150000)])
def test_same_bytes_and_counts_as_redis(seed, n, respd, redis_server):
    rng = random.Random(seed)
    elements = [f"e{rng.getrandbits(48)}" for _ in range(n)]
    a, b = both(respd, redis_server)
    for c in (a, b):
        add_batches(c, "h", elements)
        add_batches(c, "g", elements[: n // 3] + [f"x{i}" for i in range(n // 4)])
    assert a.get("h") == b.get("h")
    assert a.execute_command("PFDEBUG", "ENCODING", "h") == b.execute_command("PFDEBUG", "ENCODING", "h")
    assert a.pfcount("h") == b.pfcount("h")
    assert a.get("h") == b.get("h")  # with the cached count
    assert a.pfcount("h", "g") == b.pfcount("h", "g")
    for c in (a, b):
        c.pfmerge("m", "g", "h")
    assert a.get("m") == b.get("m")
    assert a.pfcount("m") == b.pfcount("m")


def test_sparse_limit_is_the_setting(respd, redis_server):
    a, b = both(respd, redis_server)
    for c in (a, b):
        c.config_set("hll-sparse-max-bytes", 200)
        c.pfadd("h", *[str(i) for i in range(40)])
        c.pfadd("h2", *[str(i) for i in range(150)])
    try:
        assert a.execute_command("PFDEBUG", "ENCODING", "h") == b"sparse"
        assert a.execute_command("PFDEBUG", "ENCODING", "h2") == b"dense"
        assert a.get("h") == b.get("h")
        assert a.get("h2") == b.get("h2")
    finally:
        for c in (a, b):
            c.config_set("hll-sparse-max-bytes", 3000)


def test_dump_restore_both_ways(respd, redis_server):
    a, b = both(respd, redis_server)
    rng = random.Random(7)
    for n, key in [(10, "small"), (2000, "mid"), (40000, "large")]:
        elements = [str(rng.getrandbits(40)) for _ in range(n)]
        add_batches(b, key, elements)
        add_batches(a, key + "-r", elements)
        # redis-server to respd
        a.restore(key, 0, b.dump(key))
        assert a.pfcount(key) == b.pfcount(key)
        a.pfadd(key, "one more")
        b.pfadd(key, "one more")
        assert a.get(key) == b.get(key)
        # respd to redis-server
        b.restore(key + "-r", 0, a.dump(key + "-r"))
        assert b.pfcount(key + "-r") == a.pfcount(key + "-r")
        assert b.get(key + "-r") == a.get(key + "-r")


def test_pfselftest(respd):
    assert respd.client().execute_command("PFSELFTEST") == b"OK"
