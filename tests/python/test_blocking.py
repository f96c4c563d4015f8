"""Blocking list commands with real concurrent redis-py clients. Every test runs against respd and
against redis-server, so the assertions themselves are checked against Redis."""

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

WAIT = 5.0  # Upper bound for anything that should happen "at once".


@pytest.fixture(params=["respd", "redis"])
def srv(request):
    s = request.getfixturevalue("respd_shared" if request.param == "respd" else "redis_shared")
    c = s.client()
    c.flushall()
    # No blocked client may be left over from an earlier test.
    wait_blocked(c, 0)
    return s


def client(s):
    # No retries: a killed connection must surface, not be silently reopened.
    return s.client(socket_timeout=WAIT * 3, retry=Retry(NoBackoff(), 0))


def blocked(c):
    return int(c.info("clients")["blocked_clients"])


def wait_blocked(c, n, timeout=WAIT):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if blocked(c) == n:
            return
        time.sleep(0.01)
    raise AssertionError(f"blocked_clients stayed {blocked(c)}, wanted {n}")


@pytest.fixture
def pool():
    with ThreadPoolExecutor(max_workers=8) as ex:
        yield ex


def test_blpop_wakes_on_push(srv, pool):
    c = client(srv)
    waiter = client(srv)
    f = pool.submit(waiter.blpop, ["q"], 0)
    wait_blocked(c, 1)
    t0 = time.time()
    assert c.rpush("q", "job") == 1
    assert f.result(WAIT) == (b"q", b"job")
    assert time.time() - t0 < WAIT
    assert blocked(c) == 0
    assert c.exists("q") == 0


def test_brpop_serves_the_key_that_got_data(srv, pool):
    c = client(srv)
    f = pool.submit(client(srv).brpop, ["a", "b", "c"], 0)
    wait_blocked(c, 1)
    c.rpush("b", "x", "y")
    assert f.result(WAIT) == (b"b", b"y")
    assert c.lrange("b", 0, -1) == [b"x"]


def test_timeout_returns_none_in_bounded_time(srv):
    c = client(srv)
    for timeout in (0.2, 1):
        t0 = time.time()
        assert c.blpop(["nothing"], timeout) is None
        took = time.time() - t0
        # The upper bound only catches a timeout that never fires: a loaded runner is slow.
        assert timeout * 0.9 <= took < timeout + 5, took
    t0 = time.time()
    assert c.blmove("nothing", "dst", 0.1, "LEFT", "RIGHT") is None
    assert c.blmpop(0.1, 2, "x", "y", direction="LEFT") is None
    assert time.time() - t0 < 10
    assert blocked(c) == 0


def test_fifo_order_of_three_blocked_clients(srv, pool):
    c = client(srv)
    futures = []
    for i in range(3):
        futures.append(pool.submit(client(srv).blpop, ["fifo"], 0))
        wait_blocked(c, i + 1)
    # One push of three elements: each client, in the order they blocked, gets the next one.
    assert c.rpush("fifo", "1", "2", "3") == 3
    assert [f.result(WAIT)[1] for f in futures] == [b"1", b"2", b"3"]
    assert c.exists("fifo") == 0

    futures = []
    for i in range(3):
        futures.append(pool.submit(client(srv).brpop, ["fifo2"], 0))
        wait_blocked(c, i + 1)
    for i, f in enumerate(futures):
        c.rpush("fifo2", f"v{i}")
        assert f.result(WAIT) == (b"fifo2", f"v{i}".encode())
        for later in futures[i + 1:]:
            assert not later.done()


def test_pushed_element_is_consumed_before_the_pushers_next_command(srv, pool):
    c = client(srv)
    f = pool.submit(client(srv).blpop, ["k"], 0)
    wait_blocked(c, 1)
    p = c.pipeline(transaction=False)
    p.rpush("k", "v")
    p.llen("k")
    p.lpop("k")
    # As in Redis: RPUSH answers the length with the element, which the blocked client then
    # takes before LLEN runs.
    assert p.execute() == [1, 0, None]
    assert f.result(WAIT) == (b"k", b"v")


def test_push_inside_multi_serves_after_exec(srv, pool):
    c = client(srv)
    f = pool.submit(client(srv).blpop, ["k"], 0)
    wait_blocked(c, 1)
    p = c.pipeline(transaction=True)
    p.rpush("k", "a", "b")
    p.llen("k")
    p.lrange("k", 0, -1)
    assert p.execute() == [2, 2, [b"a", b"b"]]
    assert f.result(WAIT) == (b"k", b"a")
    assert c.lrange("k", 0, -1) == [b"b"]


def test_blmove_and_chained_wakeups(srv, pool):
    c = client(srv)
    f = pool.submit(client(srv).blmove, "src", "dst", 0, "RIGHT", "LEFT")
    wait_blocked(c, 1)
    c.rpush("src", "a", "b")
    assert f.result(WAIT) == b"b"
    assert c.lrange("src", 0, -1) == [b"a"]
    assert c.lrange("dst", 0, -1) == [b"b"]
    c.delete("src", "dst")

    # A moves from src to dst; B waits on dst: one push on src serves both.
    fa = pool.submit(client(srv).blmove, "src", "dst", 0, "LEFT", "RIGHT")
    wait_blocked(c, 1)
    fb = pool.submit(client(srv).blpop, ["dst"], 0)
    wait_blocked(c, 2)
    c.lpush("src", "x")
    assert fa.result(WAIT) == b"x"
    assert fb.result(WAIT) == (b"dst", b"x")
    assert c.exists("src", "dst") == 0

    fc = pool.submit(client(srv).brpoplpush, "s2", "d2", 0)
    wait_blocked(c, 1)
    c.rpush("s2", "y")
    assert fc.result(WAIT) == b"y"
    assert c.lrange("d2", 0, -1) == [b"y"]


def test_blmpop_wakes_with_count(srv, pool):
    c = client(srv)
    f = pool.submit(client(srv).blmpop, 0, 2, "m1", "m2", direction="RIGHT", count=2)
    wait_blocked(c, 1)
    c.rpush("m2", "a", "b", "c")
    assert f.result(WAIT) == [b"m2", [b"c", b"b"]]


def test_blocking_inside_multi_never_blocks(srv):
    c = client(srv)
    p = c.pipeline(transaction=True)
    p.blpop(["none"], 0)
    p.brpop(["none"], 0)
    p.blmove("none", "x", 0, "LEFT", "LEFT")
    p.brpoplpush("none", "x", 0)
    p.blmpop(0, 1, "none", direction="LEFT")
    p.rpush("l", "v")
    p.blpop(["l"], 0)
    t0 = time.time()
    assert p.execute() == [None, None, None, None, None, 1, (b"l", b"v")]
    assert time.time() - t0 < 10  # timeout 0 would block forever: any return proves it did not
    assert blocked(c) == 0


def test_client_kill_of_a_blocked_client(srv, pool):
    c = client(srv)
    waiter = client(srv)
    wid = waiter.client_id()
    f = pool.submit(waiter.blpop, ["k"], 0)
    wait_blocked(c, 1)
    assert c.client_kill_filter(_id=wid) == 1
    with pytest.raises(redis.ConnectionError):
        f.result(WAIT)
    wait_blocked(c, 0)
    c.rpush("k", "kept")
    assert c.lrange("k", 0, -1) == [b"kept"]


def test_client_unblock(srv, pool):
    c = client(srv)
    waiter = client(srv)
    wid = waiter.client_id()
    assert c.client_unblock(wid) == 0  # Not blocked yet.
    f = pool.submit(waiter.blpop, ["k"], 0)
    wait_blocked(c, 1)
    flags = {int(x["id"]): x["flags"] for x in c.client_list()}
    assert flags[wid] == "b"
    assert flags[c.client_id()] == "N"
    assert c.client_unblock(wid) == 1
    assert f.result(WAIT) is None
    wait_blocked(c, 0)

    f = pool.submit(waiter.blmove, "k", "d", 0, "LEFT", "LEFT")
    wait_blocked(c, 1)
    assert c.client_unblock(wid, error=True) == 1
    with pytest.raises(redis.ResponseError, match="UNBLOCKED client unblocked via CLIENT UNBLOCK"):
        f.result(WAIT)
    wait_blocked(c, 0)
    # The connection lives on.
    assert waiter.ping()


def test_disconnect_while_blocked_leaves_no_stale_waiter(srv, pool):
    c = client(srv)
    s = socket.create_connection((srv.host, srv.port), timeout=WAIT)
    s.sendall(b"*3\r\n$5\r\nBLPOP\r\n$1\r\nk\r\n$1\r\n0\r\n")
    wait_blocked(c, 1)
    s.close()
    wait_blocked(c, 0)
    # The push goes to no one: the element stays.
    assert c.rpush("k", "v") == 1
    assert c.lrange("k", 0, -1) == [b"v"]
    # And a live waiter queued behind a vanished one is served.
    s = socket.create_connection((srv.host, srv.port), timeout=WAIT)
    s.sendall(b"*3\r\n$5\r\nBLPOP\r\n$2\r\nk2\r\n$1\r\n0\r\n")
    wait_blocked(c, 1)
    f = pool.submit(client(srv).blpop, ["k2"], 0)
    wait_blocked(c, 2)
    s.close()
    wait_blocked(c, 1)
    c.rpush("k2", "w")
    assert f.result(WAIT) == (b"k2", b"w")


def test_commands_after_a_blocking_one_wait_for_it(srv):
    c = client(srv)
    s = socket.create_connection((srv.host, srv.port), timeout=WAIT)
    try:
        # BLPOP then PING in one write: PING is answered only after BLPOP is served.
        s.sendall(b"*3\r\n$5\r\nBLPOP\r\n$1\r\nk\r\n$1\r\n0\r\n*1\r\n$4\r\nPING\r\n")
        wait_blocked(c, 1)
        s.settimeout(0.2)
        with pytest.raises(socket.timeout):
            s.recv(100)
        s.settimeout(WAIT)
        c.rpush("k", "v")
        want = b"*2\r\n$1\r\nk\r\n$1\r\nv\r\n+PONG\r\n"
        got = b""
        deadline = time.time() + WAIT
        while len(got) < len(want) and time.time() < deadline:
            got += s.recv(100)
        assert got == want
    finally:
        s.close()


def test_rename_feeds_a_blocked_client(srv, pool):
    c = client(srv)
    f = pool.submit(client(srv).blpop, ["target"], 0)
    wait_blocked(c, 1)
    c.rpush("other", "r")
    c.rename("other", "target")
    assert f.result(WAIT) == (b"target", b"r")


def test_many_waiters_many_pushes(srv, pool):
    """Every pushed element reaches exactly one waiter, none is lost or duplicated."""
    c = client(srv)
    n = 6
    futures = [pool.submit(client(srv).blpop, ["work"], 0) for _ in range(n)]
    wait_blocked(c, n)
    pushers = [threading.Thread(target=lambda i=i: client(srv).rpush("work", f"j{i}"))
               for i in range(n)]
    for t in pushers:
        t.start()
    for t in pushers:
        t.join(WAIT)
    got = sorted(f.result(WAIT)[1] for f in futures)
    assert got == sorted(f"j{i}".encode() for i in range(n))
    assert c.exists("work") == 0


def test_served_from_the_key_that_became_ready_first(srv, pool):
    c = client(srv)
    f = pool.submit(client(srv).blpop, ["k1", "k2"], 0)
    wait_blocked(c, 1)
    p = c.pipeline(transaction=True)
    p.rpush("k2", "x")
    p.rpush("k1", "y")
    p.execute()
    # Redis serves from k2, signalled first, though BLPOP names k1 first.
    assert f.result(WAIT) == (b"k2", b"x")
    assert c.lrange("k1", 0, -1) == [b"y"]
