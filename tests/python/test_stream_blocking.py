"""XREAD / XREADGROUP with BLOCK, with real concurrent clients, on respd and on redis-server.
A writer writes only once the reader is blocked (INFO blocked_clients), never after a fixed sleep;
every wait is bounded."""

import threading
import time

import pytest
import redis


@pytest.fixture(params=["respd", "redis"])
def server(request, respd, redis_server):
    return respd if request.param == "respd" else redis_server


def wait_blocked(server, n, timeout=20.0):
    """Waits until exactly `n` clients are blocked (each test has its own server), bounded."""
    c = server.client()
    deadline = time.monotonic() + timeout
    while int(c.info("clients")["blocked_clients"]) != n:
        assert time.monotonic() < deadline, f"{n} clients did not block within {timeout}s"
        time.sleep(0.02)


def in_thread(fn):
    """Runs fn in a thread; returns a getter that waits (bounded) for its result or exception."""
    box = {}

    def run():
        try:
            box["value"] = fn()
        except Exception as e:  # noqa: BLE001 - handed to the test
            box["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()

    def result(timeout=20.0):
        t.join(timeout)
        assert not t.is_alive(), "blocked client was not served in time"
        if "error" in box:
            raise box["error"]
        return box["value"]

    return result


def test_xread_block_gets_only_new_entries(server):
    r = server.client(decode_responses=True, socket_timeout=60)
    r.xadd("s", {"old": "1"}, id="1-0")
    waiter = server.client(decode_responses=True, socket_timeout=60)
    res = in_thread(lambda: waiter.xread({"s": "$"}, block=30000))
    wait_blocked(server, 1)
    r.xadd("s", {"new": "1"}, id="2-0")
    assert res() == [["s", [("2-0", {"new": "1"})]]]


def test_xread_dollar_on_missing_key(server):
    # `$` is the stream's last ID as of the first call (0-0 for a missing key), not at wake-up.
    r = server.client(decode_responses=True, socket_timeout=60)
    waiter = server.client(decode_responses=True, socket_timeout=60)
    res = in_thread(lambda: waiter.xread({"other": "0", "s": "$"}, block=0))
    wait_blocked(server, 1)
    r.xadd("s", {"a": "1"}, id="5-0")
    assert res() == [["s", [("5-0", {"a": "1"})]]]


def test_xread_block_times_out(server):
    r = server.client(socket_timeout=60)
    t0 = time.monotonic()
    assert r.xread({"s": "$"}, block=200) in (None, [], {})
    assert 0.15 <= time.monotonic() - t0 < 10  # the upper bound only catches a lost timeout


def test_xreadgroup_block(server):
    r = server.client(decode_responses=True, socket_timeout=60)
    r.xgroup_create("s", "g", id="$", mkstream=True)
    waiter = server.client(decode_responses=True, socket_timeout=60)
    res = in_thread(lambda: waiter.xreadgroup("g", "c", {"s": ">"}, block=30000))
    wait_blocked(server, 1)
    r.xadd("s", {"a": "1"}, id="1-0")
    assert res() == [["s", [("1-0", {"a": "1"})]]]
    assert r.xpending("s", "g")["consumers"] == [{"name": "c", "pending": 1}]


def test_xgroup_destroy_wakes_with_nogroup(server):
    r = server.client(decode_responses=True, socket_timeout=60)
    r.xgroup_create("s", "g", id="$", mkstream=True)
    waiter = server.client(decode_responses=True, socket_timeout=60)
    res = in_thread(lambda: waiter.xreadgroup("g", "c", {"s": ">"}, block=30000))
    wait_blocked(server, 1)
    r.xgroup_destroy("s", "g")
    with pytest.raises(redis.ResponseError, match="NOGROUP"):
        res()


def test_two_readers_both_served(server):
    r = server.client(decode_responses=True, socket_timeout=60)
    waiters = [server.client(decode_responses=True, socket_timeout=60) for _ in range(2)]
    results = [in_thread(lambda w=w: w.xread({"s": "$"}, block=30000)) for w in waiters]
    wait_blocked(server, 2)
    r.xadd("s", {"a": "1"}, id="1-0")
    for res in results:
        assert res() == [["s", [("1-0", {"a": "1"})]]]


def test_woken_reader_gets_the_ready_stream_only(server):
    # Redis 7.0 answers a woken XREAD with the stream that became ready, even if another of its
    # streams got entries in the same transaction.
    r = server.client(decode_responses=True, socket_timeout=60)
    waiter = server.client(decode_responses=True, socket_timeout=60)
    res = in_thread(lambda: waiter.xread({"a": "$", "b": "$"}, block=30000))
    wait_blocked(server, 1)
    p = r.pipeline(transaction=True)
    p.xadd("b", {"x": "1"}, id="1-0")
    p.xadd("a", {"y": "2"}, id="1-0")
    p.execute()
    assert res() == [["b", [("1-0", {"x": "1"})]]]
