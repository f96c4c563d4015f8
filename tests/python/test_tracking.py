"""Client-side caching (CLIENT TRACKING, CACHING, GETREDIR, TRACKINGINFO): every scenario runs
against respd and redis-server 7.0 and their bytes are compared, pushes and replies in the order
each connection received them; then redis-py's own client-side cache against each."""

import re
import time

import pytest
import redis
from redis.cache import CacheConfig

from resp_raw import RawClient

PONG = b"+PONG\r\n"


def talk(c, *args):
    """Sends a command, reads up to its reply (pushes that come first included), then sends
    PING and reads up to the PONG: every frame in the order the server wrote them. The PING
    goes once the reply is in, so Redis has run its `beforeSleep` (BCAST messages) between."""
    c.send_raw(_enc(args))
    got = []
    while True:
        r = c.read_reply()
        got.append(r)
        if not r.startswith(b">"):
            break
    c.send_raw(_enc(["PING"]))
    while True:
        r = c.read_reply()
        if r == PONG:
            return got
        got.append(r)


def one(c, *args):
    """One command and its one reply (inside MULTI, where a PING would be queued)."""
    c.send_raw(_enc(args))
    return [c.read_reply()]


def _enc(args):
    from resp_raw import encode
    return encode(list(args))


def sync(c):
    """What reached `c` so far (pushes another client's command caused)."""
    return talk(c, "ECHO", "sync")[:-1]


def scenario_default(port):
    t, w = RawClient(port), RawClient(port)
    out = [talk(t, "HELLO", "3")[0][:0]]  # the greeting differs (server name, version)
    out.append(talk(t, "CLIENT", "TRACKING", "on"))
    out.append(talk(t, "GET", "a"))
    out.append(talk(t, "MGET", "b", "c"))
    out.append(talk(t, "HGET", "h", "f"))
    out.append(talk(w, "SET", "a", "1"))
    out.append(sync(t))
    out.append(talk(w, "SET", "a", "2"))  # forgotten after one message
    out.append(sync(t))
    out.append(talk(w, "MSET", "b", "1", "c", "2"))
    out.append(talk(w, "HSET", "h", "f", "v"))
    out.append(sync(t))
    # Its own change: the reply first, then the invalidation.
    out.append(talk(t, "GET", "d"))
    out.append(talk(t, "SET", "d", "x"))
    out.append(talk(t, "GET", "d"))
    out.append(talk(t, "INCR", "n"))  # not read, not tracked
    out.append(talk(t, "APPEND", "d", "y"))
    # A transaction: the invalidation after EXEC's reply; its GET tracks the key again.
    out.append(talk(t, "GET", "k"))
    out.append(one(t, "MULTI"))
    out.append(one(t, "SET", "k", "1"))
    out.append(one(t, "GET", "k"))
    out.append(talk(t, "EXEC"))
    out.append(talk(w, "DEL", "k"))
    out.append(sync(t))
    # A script's reads are its caller's; its writes invalidate after its reply.
    out.append(talk(t, "EVAL", "return redis.call('get', KEYS[1])", "1", "s"))
    out.append(talk(w, "SET", "s", "1"))
    out.append(sync(t))
    out.append(talk(t, "GET", "s"))
    out.append(talk(t, "EVAL", "return redis.call('set', KEYS[1], 'x')", "1", "s"))
    # A failed write changes nothing; a read of the wrong type still tracks.
    out.append(talk(t, "LLEN", "s"))
    out.append(talk(w, "SADD", "s", "m"))
    out.append(talk(w, "SET", "s", "2"))
    out.append(sync(t))
    out.append(talk(t, "CLIENT", "TRACKING", "off"))
    out.append(talk(t, "GET", "z"))
    out.append(talk(w, "SET", "z", "1"))
    out.append(sync(t))
    return out


def scenario_noloop_flush(port):
    t, w = RawClient(port), RawClient(port)
    talk(t, "HELLO", "3")
    out = [talk(t, "CLIENT", "TRACKING", "on", "NOLOOP")]
    out.append(talk(t, "GET", "k"))
    out.append(talk(t, "SET", "k", "1"))
    out.append(talk(w, "SET", "k", "2"))  # forgotten by the loop it skipped
    out.append(sync(t))
    out.append(talk(t, "GET", "k"))
    out.append(talk(w, "FLUSHALL"))
    out.append(sync(t))
    out.append(talk(t, "FLUSHDB"))
    out.append(talk(w, "SET", "k", "3"))  # the flush emptied the table
    out.append(sync(t))
    return out


def scenario_bcast(port):
    t, u, w = RawClient(port), RawClient(port), RawClient(port)
    talk(t, "HELLO", "3")
    talk(u, "HELLO", "3")
    out = [talk(t, "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a:", "PREFIX", "b:")]
    out.append(talk(u, "CLIENT", "TRACKING", "on", "BCAST", "NOLOOP"))
    out.append(talk(t, "CLIENT", "TRACKINGINFO"))
    out.append(talk(w, "MSET", "a:2", "x", "b:1", "y", "c:1", "z", "a:1", "w"))
    out.append(sync(t))
    out.append(sync(u))
    out.append(talk(u, "SET", "a:3", "1"))  # NOLOOP: not for u
    out.append(sync(t))
    out.append(talk(t, "DEL", "b:1", "zz"))  # its own: after the reply
    out.append(sync(u))
    out.append(talk(t, "GET", "a:1"))  # BCAST reads track nothing more
    out.append(talk(t, "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "c"))
    out.append(talk(w, "SET", "cc", "1"))
    out.append(sync(t))
    out.append(sync(u))
    out.append(talk(t, "CLIENT", "TRACKINGINFO"))
    return out


def scenario_opt(port):
    t, w = RawClient(port), RawClient(port)
    talk(t, "HELLO", "3")
    out = [talk(t, "CLIENT", "TRACKING", "on", "OPTIN")]
    out.append(talk(t, "GET", "a"))
    out.append(talk(t, "CLIENT", "CACHING", "yes"))
    out.append(talk(t, "CLIENT", "TRACKINGINFO"))
    out.append(talk(t, "GET", "b"))
    out.append(talk(t, "GET", "c"))  # CACHING covered one command
    out.append(talk(t, "CLIENT", "CACHING", "yes"))
    out.append(one(t, "MULTI"))
    out.append(one(t, "GET", "d"))
    out.append(one(t, "GET", "e"))
    out.append(talk(t, "EXEC"))  # ... or one transaction
    out.append(talk(w, "MSET", "a", "1", "b", "1", "c", "1", "d", "1", "e", "1"))
    out.append(sync(t))
    out.append(talk(t, "CLIENT", "TRACKING", "off"))
    out.append(talk(t, "CLIENT", "TRACKING", "on", "OPTOUT"))
    out.append(talk(t, "CLIENT", "CACHING", "no"))
    out.append(talk(t, "CLIENT", "TRACKINGINFO"))
    out.append(talk(t, "GET", "a"))
    out.append(talk(t, "GET", "b"))
    out.append(talk(w, "MSET", "a", "2", "b", "2"))
    out.append(sync(t))
    return out


def scenario_redirect(port):
    r, t, w = RawClient(port), RawClient(port), RawClient(port)
    rid = talk(r, "CLIENT", "ID")[0]
    rid_n = rid[1:-2].decode()
    r.send_raw(_enc(["SUBSCRIBE", "__redis__:invalidate"]))
    out = [r.read_reply()]
    out.append(talk(t, "CLIENT", "TRACKING", "on", "REDIRECT", rid_n))
    out.append(talk(t, "CLIENT", "GETREDIR"))
    out.append(talk(t, "GET", "a"))
    out.append(talk(w, "SET", "a", "1"))
    out.append(talk(t, "GET", "a"))
    out.append(talk(t, "DEL", "a"))  # its own change: to the redirect target
    r.send_raw(_enc(["PING"]))
    got = []
    while True:
        x = r.read_reply()
        if x.startswith(b"*2\r\n$4\r\npong"):
            break
        got.append(x)
    out.append(got)
    out.append(talk(w, "FLUSHALL"))
    r.send_raw(_enc(["PING"]))
    got = []
    while True:
        x = r.read_reply()
        if x.startswith(b"*2\r\n$4\r\npong"):
            break
        got.append(x)
    out.append(got)
    # A RESP3 client whose redirect target left.
    talk(t, "HELLO", "3")
    out.append(talk(t, "GET", "b"))
    r.close()
    deadline = time.monotonic() + 10
    while b"id=" + rid_n.encode() + b" " in talk(w, "CLIENT", "LIST")[0]:
        assert time.monotonic() < deadline, "the redirect target did not go"
        time.sleep(0.02)
    out.append(talk(w, "SET", "b", "1"))
    out.append(sync(t))
    out.append(talk(t, "CLIENT", "TRACKINGINFO"))
    line = talk(t, "CLIENT", "INFO")[0]
    out.append(re.search(rb"flags=\S+", line).group(0) + re.search(rb" redir=\S+", line).group(0))
    out.append(talk(t, "CLIENT", "GETREDIR"))
    # Client ids differ between the servers.
    return [repr(x).replace(rid_n, "<rid>") for x in out]


ERRORS = [
    ["CLIENT", "TRACKING", "maybe"],
    ["CLIENT", "TRACKING", "on", "BOGUS"],
    ["CLIENT", "TRACKING", "on", "PREFIX"],
    ["CLIENT", "TRACKING", "on", "PREFIX", "a"],
    ["CLIENT", "TRACKING", "on", "REDIRECT", "x"],
    ["CLIENT", "TRACKING", "on", "REDIRECT", "0"],
    ["CLIENT", "TRACKING", "on", "REDIRECT", "999999"],
    ["CLIENT", "TRACKING", "on", "BCAST", "OPTIN"],
    ["CLIENT", "TRACKING", "on", "OPTIN", "OPTOUT"],
    ["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "ab", "PREFIX", "a"],
    ["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a", "PREFIX", "a"],
    ["CLIENT", "TRACKING"],
    ["CLIENT", "CACHING", "yes"],
    ["CLIENT", "CACHING"],
    ["CLIENT", "TRACKINGINFO", "x"],
    ["CLIENT", "GETREDIR", "x"],
    ["CLIENT", "TRACKING", "on", "OPTIN"],
    ["CLIENT", "CACHING", "no"],
    ["CLIENT", "CACHING", "maybe"],
    ["CLIENT", "TRACKING", "on", "OPTOUT"],
    ["CLIENT", "TRACKING", "on", "BCAST"],
    ["CLIENT", "TRACKING", "off"],
    ["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "ab"],
    ["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "abc"],
    ["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "b"],
    ["CLIENT", "TRACKING", "on"],
    ["CLIENT", "TRACKINGINFO"],
]


def scenario_errors(port):
    out = []
    for resp in ("2", "3"):
        c = RawClient(port)
        talk(c, "HELLO", resp)
        out += [talk(c, *e) for e in ERRORS]
        c.close()
    return out


def scenario_info(port):
    c, d = RawClient(port), RawClient(port)
    fields = ("tracking_clients", "tracking_total_keys", "tracking_total_items",
              "tracking_total_prefixes")

    def info():
        text = talk(d, "INFO", "everything")[0].decode()
        return [l for l in text.split("\r\n") if l.split(":")[0] in fields]
    out = [info()]
    talk(c, "CLIENT", "TRACKING", "on")
    talk(c, "MGET", "a", "b", "c")
    talk(d, "CLIENT", "TRACKING", "on")
    talk(d, "GET", "a")
    out.append(info())
    talk(c, "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "x")  # refused: no BCAST switch
    talk(d, "CLIENT", "TRACKING", "off")
    e = RawClient(port)
    talk(e, "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "p", "PREFIX", "q")
    out.append(info())
    e.close()
    c.close()
    deadline = time.monotonic() + 10
    while info()[0] != "tracking_clients:0":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    out.append(info())  # the keys stay until changed, as Redis forgets lazily
    talk(d, "SET", "a", "1")
    out.append(info())
    return out


def expiry_invalidations(port):
    """Two tracked keys expire: one is found by a lookup, the other by the active cycle (or
    both by either); each is invalidated once."""
    t, w = RawClient(port), RawClient(port)
    talk(t, "HELLO", "3")
    talk(t, "CLIENT", "TRACKING", "on")
    talk(w, "SET", "lazy", "1", "PX", "30")
    talk(w, "SET", "active", "1", "PX", "30")
    assert talk(t, "MGET", "lazy", "active") == [b"*2\r\n$1\r\n1\r\n$1\r\n1\r\n"]
    time.sleep(0.1)
    assert talk(w, "EXISTS", "lazy") == [b":0\r\n"]
    got = []
    deadline = time.monotonic() + 10
    while len(got) < 2:
        assert time.monotonic() < deadline, f"expired keys not invalidated: {got}"
        got += sync(t)
        time.sleep(0.02)
    time.sleep(0.1)
    got += sync(t)
    return sorted(got)


@pytest.mark.parametrize("scenario", [
    scenario_default, scenario_noloop_flush, scenario_bcast, scenario_opt, scenario_redirect,
    scenario_errors, scenario_info,
])
def test_same_bytes_as_redis(servers, scenario):
    got = []
    for s in servers:
        RawClient(s.port).cmd("FLUSHALL")
        got.append(scenario(s.port))
    mine, theirs = got
    for i, (m, t) in enumerate(zip(mine, theirs)):
        assert m == t, f"step {i}: respd {m!r} redis {t!r}"
    assert len(mine) == len(theirs)


def test_expired_keys_invalidate(servers):
    for s in servers:
        RawClient(s.port).cmd("FLUSHALL")
    mine = expiry_invalidations(servers[0].port)
    assert mine == expiry_invalidations(servers[1].port)
    assert mine == sorted(b">2\r\n$10\r\ninvalidate\r\n*1\r\n$%d\r\n%s\r\n" % (len(k), k)
                          for k in (b"active", b"lazy"))


def test_table_max_keys_evicts_and_invalidates(each_server):
    t, w = RawClient(each_server.port), RawClient(each_server.port)
    talk(w, "CONFIG", "SET", "tracking-table-max-keys", "2")
    talk(t, "HELLO", "3")
    talk(t, "CLIENT", "TRACKING", "on")
    # The next command (the PING after it) finds the table over its limit: two keys go, each
    # invalidated (before that PING's reply in Redis, after it in respd).
    got = talk(t, "MGET", "a", "b", "c", "d")
    assert got[0].startswith(b"*4\r\n")
    got = got[1:] + sync(t)
    assert len(got) == 2
    assert all(g.startswith(b">2\r\n$10\r\ninvalidate\r\n*1\r\n") for g in got)
    info = talk(w, "INFO", "stats")[0]
    assert b"tracking_total_keys:2\r\n" in info
    talk(w, "CONFIG", "SET", "tracking-table-max-keys", "0")
    assert len(talk(t, "MGET", "e", "f", "g")) == 1
    talk(w, "PING")
    assert sync(t) == []
    assert b"tracking_total_keys:5\r\n" in talk(w, "INFO", "stats")[0]


def test_evicted_keys_invalidate(each_server):
    t, w = RawClient(each_server.port), RawClient(each_server.port)
    talk(w, "SET", "big", "x" * 100000)
    talk(t, "HELLO", "3")
    talk(t, "CLIENT", "TRACKING", "on")
    talk(t, "GET", "big")
    talk(w, "CONFIG", "SET", "maxmemory-policy", "allkeys-random")
    talk(w, "CONFIG", "SET", "maxmemory", "1")
    try:
        talk(w, "SET", "other", "1")  # evicts what it can, then may answer OOM
    finally:
        talk(w, "CONFIG", "SET", "maxmemory", "0")
    assert b">2\r\n$10\r\ninvalidate\r\n*1\r\n$3\r\nbig\r\n" in sync(t)
    assert b"evicted_keys:0\r\n" not in talk(w, "INFO", "stats")[0]


def commandstats_calls(c, cmd):
    line = c.info("commandstats").get(f"cmdstat_{cmd}")
    return line["calls"] if line else 0


def test_redis_py_client_side_cache(each_server, monkeypatch):
    """redis-py 8's own cache over RESP3, on each server: a repeated GET is served locally (the
    server counts one call), another client's SET invalidates it, and the next GET asks the
    server again. redis-py enables its cache only for servers that say 7.4 or later (a policy of its own: it
    refuses redis-server 7.0.15 too, though 7.0 speaks the same protocol); lowered here."""
    import redis.connection
    monkeypatch.setattr(redis.connection.CacheProxyConnection, "MIN_ALLOWED_VERSION", "7.0.0")
    server = each_server
    admin = server.client()
    cached = redis.Redis(host=server.host, port=server.port, protocol=3,
                         cache_config=CacheConfig())
    try:
        admin.set("k", "v1")
        assert cached.get("k") == b"v1"
        assert cached.get("k") == b"v1"
        assert cached.get("k") == b"v1"
        assert commandstats_calls(admin, "get") == 1
        assert any("t" in c["flags"] for c in admin.client_list())
        admin.set("k", "v2")
        deadline = time.monotonic() + 10
        while True:
            v = cached.get("k")
            if v == b"v2":
                break
            assert time.monotonic() < deadline, "the cached value was never invalidated"
            time.sleep(0.02)
        assert commandstats_calls(admin, "get") == 2
        assert cached.get("k") == b"v2"
        assert commandstats_calls(admin, "get") == 2
        admin.flushall()
        deadline = time.monotonic() + 10
        while cached.get("k") is not None:
            assert time.monotonic() < deadline, "FLUSHALL did not empty the cache"
            time.sleep(0.02)
    finally:
        cached.close()
        admin.close()


def test_cache_stays_true_under_concurrent_writes(each_server):
    """A client caching what it reads, and dropping what it is told to, against another client
    writing the same keys all along: once the writer stops, every value still cached is the
    server's. (respd serves the two clients on different threads: a read and a write can cross;
    an invalidation must never reach the reader before the value it invalidates.)"""
    import threading
    port = each_server.port
    t = RawClient(port)
    talk(t, "HELLO", "3")
    talk(t, "CLIENT", "TRACKING", "on")
    keys = [f"k{i}" for i in range(4)]
    stop = threading.Event()

    def write():
        w = RawClient(port)
        n = 0
        end = time.monotonic() + 2.0
        while time.monotonic() < end and n < 200_000:
            w.cmd("INCR", keys[n % len(keys)])
            n += 1
        stop.set()
    th = threading.Thread(target=write)
    th.start()
    cache = {}

    def absorb(frame):
        """Applies an invalidation; returns False for anything else."""
        if not frame.startswith(b">2\r\n$10\r\ninvalidate\r\n"):
            return False
        body = frame[len(b">2\r\n$10\r\ninvalidate\r\n"):]
        if body.startswith(b"_"):
            cache.clear()
        else:
            for k in re.findall(rb"\$\d+\r\n(k\d+)\r\n", body):
                cache.pop(k.decode(), None)
        return True
    reads = 0
    try:
        # Bounded by the writer's time and count, and by a count of our own.
        for i in range(1_000_000):
            if stop.is_set():
                break
            k = keys[i % len(keys)]
            if k not in cache:
                reads += 1
                t.send_raw(_enc(["GET", k]))
                while True:
                    f = t.read_reply()
                    if not absorb(f):
                        cache[k] = f
                        break
            # Pushes already here are applied before the next read.
            t.send_raw(_enc(["PING"]))
            while (f := t.read_reply()) != PONG:
                assert absorb(f), f
    finally:
        th.join()
    t.send_raw(_enc(["PING"]))
    while (f := t.read_reply()) != PONG:
        assert absorb(f), f
    check = RawClient(port)
    for k, v in cache.items():
        assert check.cmd("GET", k) == v, f"{k}: cached {v!r} after {reads} reads"
