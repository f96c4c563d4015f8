"""The site's workflow through redis-py and NumPy, as in the original deployment note: strings,
a 4096x4096 float64 image (134,217,728 bytes) with one SET and one GET, the 512 MiB limit."""

import numpy
import pytest
import redis


def test_string_round_trip(respd):
    r = redis.StrictRedis(host=respd.host, port=respd.port)
    assert r.set("NameX", "Igor Gaponenko") is True
    assert r.get("NameX") == b"Igor Gaponenko"


def test_numpy_image_round_trip(respd):
    r = redis.StrictRedis(host=respd.host, port=respd.port)
    d = numpy.random.default_rng(1).random((4096, 4096))
    assert r.set("numpy_1MB", d.tobytes()) is True
    back = r.get("numpy_1MB")
    assert len(back) == 134217728
    d1 = numpy.frombuffer(back, dtype=numpy.float64).reshape(4096, 4096)
    assert d1.dtype == numpy.float64 and d1.size == 16777216
    assert numpy.array_equal(d, d1)
    assert r.strlen("numpy_1MB") == 134217728


def test_512_mib_value_round_trip_and_one_byte_more_refused(respd):
    r = redis.StrictRedis(host=respd.host, port=respd.port, socket_timeout=120)
    r.set("keep", "intact")
    limit = 512 * 1024 * 1024
    big = numpy.full(limit, 7, dtype=numpy.uint8)
    assert r.set("big", big.tobytes()) is True
    back = r.get("big")
    assert len(back) == limit and back[:1] == b"\x07" and back[-1:] == b"\x07"
    del back
    too_big = b"\x01" * (limit + 1)
    with pytest.raises((redis.exceptions.ResponseError, redis.exceptions.ConnectionError)) as e:
        r.set("too_big", too_big)
    if isinstance(e.value, redis.exceptions.ResponseError):
        assert "invalid bulk length" in str(e.value)
    # The server stays up and keeps its data.
    r2 = redis.StrictRedis(host=respd.host, port=respd.port)
    assert r2.ping()
    assert r2.get("keep") == b"intact"
    assert r2.strlen("big") == limit
    assert r2.exists("too_big") == 0


def test_pipeline_and_transaction(respd):
    r = redis.StrictRedis(host=respd.host, port=respd.port)
    with r.pipeline(transaction=True) as p:
        p.set("a", 1).incr("a").get("a")
        assert p.execute() == [True, 2, b"2"]
    with r.pipeline(transaction=False) as p:
        for i in range(1000):
            p.set(f"k{i}", i)
        assert all(p.execute())
    assert r.dbsize() == 1001


def test_resp3_client(respd):
    r = redis.Redis(host=respd.host, port=respd.port, protocol=3)
    r.set("x", "1")
    assert r.get("x") == b"1"
    assert r.config_get("maxmemory-policy") == {b"maxmemory-policy": b"noeviction"} or \
        r.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
    assert r.incrbyfloat("f", 1.5) == 1.5


def test_scan_iter_sees_every_key(respd):
    r = redis.StrictRedis(host=respd.host, port=respd.port)
    with r.pipeline(transaction=False) as p:
        for i in range(2000):
            p.set(f"exp:run1:det:{i}", i)
        p.set("other", 1)
        p.execute()
    seen = set(r.scan_iter(match="exp:run1:*", count=100))
    assert len(seen) == 2000
    assert len(set(r.scan_iter())) == 2001
