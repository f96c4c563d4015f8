"""Blocking sorted set pops (BZPOPMIN, BZPOPMAX, BZMPOP) with real concurrent clients. Each test
runs against respd and against redis-server, so the expectations are checked on Redis too.
Every test has its own server, so the blocked-client count is exactly what the test blocked."""

import threading
import time

import pytest

from conftest import start_redis, start_respd


@pytest.fixture(params=["respd", "redis"])
def server(request):
    s = start_respd() if request.param == "respd" else start_redis()
    try:
        yield s
    finally:
        s.stop()


class Waiter(threading.Thread):
    """Runs one blocking call in its own connection and keeps the result."""

    def __init__(self, server, fn):
        super().__init__(daemon=True)
        self.client = server.client()
        self.fn = fn
        self.result = "unset"
        self.started = time.monotonic()
        self.elapsed = None

    def run(self):
        try:
            self.result = self.fn(self.client)
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.result = e
        self.elapsed = time.monotonic() - self.started


def wait_blocked(server, n, timeout=20.0):
    """Waits until exactly `n` clients are blocked (INFO clients), bounded."""
    c = server.client()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if int(c.info("clients")["blocked_clients"]) == n:
            return
        time.sleep(0.02)
    raise AssertionError(f"{n} clients did not block within {timeout}s")


def test_bzpopmin_served_by_zadd(server):
    c = server.client()
    c.delete("bz1")
    w = Waiter(server, lambda cl: cl.bzpopmin("bz1", timeout=30))
    w.start()
    wait_blocked(server, 1)
    c.zadd("bz1", {"a": 2, "b": 1})
    w.join(20)
    assert w.result == (b"bz1", b"b", 1.0)
    assert c.zrange("bz1", 0, -1) == [b"a"]


def test_bzpopmax_second_key_and_timeout(server):
    c = server.client()
    c.delete("bk1", "bk2")
    w = Waiter(server, lambda cl: cl.bzpopmax(["bk1", "bk2"], timeout=30))
    w.start()
    wait_blocked(server, 1)
    c.zadd("bk2", {"x": 5, "y": 7})
    w.join(20)
    assert w.result == (b"bk2", b"y", 7.0)
    t = time.monotonic()
    assert c.bzpopmax(["bk1"], timeout=0.3) is None
    assert 0.25 <= time.monotonic() - t < 10  # the upper bound only catches a lost timeout


def test_bzmpop_count(server):
    c = server.client()
    c.delete("bm")
    w = Waiter(server, lambda cl: cl.execute_command("BZMPOP", 30, 1, "bm", "MIN", "COUNT", 2))
    w.start()
    wait_blocked(server, 1)
    c.zadd("bm", {"a": 1, "b": 2, "c": 3})
    w.join(20)
    assert w.result == [b"bm", [[b"a", b"1"], [b"b", b"2"]]]


def test_fifo_wakeup(server):
    c = server.client()
    c.delete("bf")
    first = Waiter(server, lambda cl: cl.bzpopmin("bf", timeout=30))
    first.start()
    wait_blocked(server, 1)
    second = Waiter(server, lambda cl: cl.bzpopmin("bf", timeout=30))
    second.start()
    wait_blocked(server, 2)
    c.zadd("bf", {"one": 1})
    first.join(20)
    assert first.result == (b"bf", b"one", 1.0)
    c.zadd("bf", {"two": 2})
    second.join(20)
    assert second.result == (b"bf", b"two", 2.0)


def test_store_wakes_blocked_client(server):
    c = server.client()
    c.delete("bs", "src")
    c.zadd("src", {"m": 3})
    w = Waiter(server, lambda cl: cl.bzpopmin("bs", timeout=30))
    w.start()
    wait_blocked(server, 1)
    c.zunionstore("bs", ["src"])
    w.join(20)
    assert w.result == (b"bs", b"m", 3.0)


def test_inside_multi_does_not_block(server):
    c = server.client()
    c.delete("bmulti")
    p = c.pipeline(transaction=True)
    p.bzpopmin("bmulti", timeout=0)
    p.execute_command("BZMPOP", 0, 1, "bmulti", "MAX")
    t = time.monotonic()
    assert p.execute() == [None, None]
    assert time.monotonic() - t < 10  # timeout 0 would block forever: any return proves it did not
