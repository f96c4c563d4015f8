"""CLIENT REPLY, CLIENT PAUSE/UNPAUSE and CLIENT LIST's fields, the same on respd and
redis-server 7.0 (each test runs against both, or compares their bytes)."""

import re
import threading
import time

from conftest import start_redis, start_respd
from resp_raw import RawClient, encode, parse


def replies_until_marker(c, cmds):
    """Sends `cmds` in one write, then PING marker-pong; every byte before the marker's reply."""
    c.send_raw(b"".join(encode(a) for a in cmds) + encode(["PING", "marker-pong"]))
    got = b""
    deadline = time.monotonic() + 10
    while not got.endswith(b"$11\r\nmarker-pong\r\n"):
        assert time.monotonic() < deadline, got
        got += c.read_reply()
    return got


REPLY_CASES = [
    [["CLIENT", "REPLY", "OFF"], ["SET", "a", "1"], ["GET", "a"], ["INCR", "nonint"], ["CLIENT", "REPLY", "ON"], ["GET", "a"]],
    [["CLIENT", "REPLY", "SKIP"], ["SET", "b", "2"], ["GET", "b"], ["CLIENT", "REPLY", "SKIP"], ["CLIENT", "REPLY", "SKIP"], ["GET", "b"], ["GET", "b"]],
    [["CLIENT", "REPLY", "OFF"], ["CLIENT", "REPLY", "SKIP"], ["GET", "a"], ["CLIENT", "REPLY", "ON"], ["GET", "a"]],
    [["CLIENT", "REPLY", "MAYBE"], ["CLIENT", "REPLY"], ["CLIENT", "REPLY", "on", "x"]],
    [["SET", "nonint", "x"], ["CLIENT", "REPLY", "OFF"], ["SUBSCRIBE", "ch"], ["PUBLISH", "ch", "m"], ["UNSUBSCRIBE"], ["CLIENT", "REPLY", "ON"]],
    [["HELLO", "3"], ["CLIENT", "REPLY", "OFF"], ["SUBSCRIBE", "ch"], ["PUBLISH", "ch", "m"], ["UNSUBSCRIBE"], ["CLIENT", "REPLY", "ON"]],
    # Not compared: CLIENT REPLY OFF inside MULTI, where Redis writes EXEC's array header and
    # then leaves out its elements (a reply no client can parse); respd leaves out all of it.
]


def run_reply_cases(server):
    out = []
    for case in REPLY_CASES:
        c = RawClient(server.port)
        got = replies_until_marker(c, case)
        # HELLO's map differs between the servers (versions, ids): keep its length only.
        out.append(b"\n".join(x for x in got.split(b"\r\n") if not x.startswith((b"$5\r\nredis",))))
        c.close()
    return out


def test_client_reply_as_redis():
    got = {}
    for name, start in (("respd", start_respd), ("redis", start_redis)):
        s = start()
        try:
            got[name] = run_reply_cases(s)
        finally:
            s.stop()
    for case, a, b in zip(REPLY_CASES, got["respd"], got["redis"]):
        if case[0] == ["HELLO", "3"]:
            # Skip HELLO's own replies: compare what follows the first map.
            a, b = a[a.index(b"\n>3") if b"\n>3" in a else 0:], b[b.index(b"\n>3") if b"\n>3" in b else 0:]
        assert a == b, f"{case}\nrespd {a!r}\nredis {b!r}"
    assert got["redis"][0].count(b"\n") < 6, "OFF left the replies out"


def timed(port, *args):
    c = RawClient(port)
    t = time.monotonic()
    r = c.cmd(*args)
    c.close()
    return r, time.monotonic() - t


def test_client_pause(each_server):
    port = each_server.port
    a = RawClient(port)
    assert a.cmd("CLIENT", "PAUSE", "x") == b"-ERR timeout is not an integer or out of range\r\n"
    assert a.cmd("CLIENT", "PAUSE", "-1") == b"-ERR timeout is negative\r\n"
    assert a.cmd("CLIENT", "PAUSE", "10", "SOME") == b"-ERR CLIENT PAUSE mode must be WRITE or ALL\r\n"
    # WRITE: reads go on, writes wait for the pause to end.
    assert a.cmd("CLIENT", "PAUSE", "400", "WRITE") == b"+OK\r\n"
    r, took = timed(port, "GET", "k")
    assert r == b"$-1\r\n" and took < 0.3
    r, took = timed(port, "SET", "k", "v")
    assert r == b"+OK\r\n" and took >= 0.2
    # Lifted by UNPAUSE long before its end.
    assert a.cmd("CLIENT", "PAUSE", "20000", "WRITE") == b"+OK\r\n"
    res = {}
    t = threading.Thread(target=lambda: res.update(r=timed(port, "INCR", "n")))
    t.start()
    time.sleep(0.3)
    assert "r" not in res, "a write waits during a WRITE pause"
    assert a.cmd("CLIENT", "UNPAUSE") == b"+OK\r\n"
    t.join(10)
    assert res["r"][0] == b":1\r\n" and res["r"][1] < 10
    # ALL: every command waits, reads too.
    assert a.cmd("CLIENT", "PAUSE", "300") == b"+OK\r\n"
    r, took = timed(port, "GET", "k")
    assert r == b"$1\r\nv\r\n" and took >= 0.15
    a.close()


def client_fields(port, name):
    c = RawClient(port)
    text = parse(c.cmd("CLIENT", "LIST"))
    c.close()
    text = text.decode() if isinstance(text, bytes) else text
    for line in text.splitlines():
        f = dict(kv.split("=", 1) for kv in line.split(" "))
        if f["name"] == name:
            return f
    raise AssertionError(f"no client {name} in {text}")


def test_client_list_fields(each_server):
    port = each_server.port
    sub = RawClient(port)
    sub.cmd("CLIENT", "SETNAME", "sub")
    sub.cmd("SUBSCRIBE", "ch")
    f = client_fields(port, "sub")
    assert f["cmd"] == "subscribe" and f["flags"] == "P" and f["sub"] == "1"
    me = RawClient(port)
    me.cmd("CLIENT", "SETNAME", "me")
    info = parse(me.cmd("CLIENT", "INFO")).decode()
    f = dict(kv.split("=", 1) for kv in info.strip().split(" "))
    assert f["cmd"] == "client|info" and int(f["argv-mem"]) > 0 and int(f["tot-mem"]) > 0
    # A half-sent large argument fills the query buffer, which empties once it completes.
    big = RawClient(port)
    big.cmd("CLIENT", "SETNAME", "big")
    big.send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$200000\r\n" + b"x" * 100000)
    deadline = time.monotonic() + 10
    while int(client_fields(port, "big")["qbuf"]) < 50000:
        assert time.monotonic() < deadline, client_fields(port, "big")
        time.sleep(0.05)
    f = client_fields(port, "big")
    assert int(f["tot-mem"]) > 100000 and f["cmd"] == "client|setname"
    big.send_raw(b"x" * 100000 + b"\r\n")
    assert big.read_reply() == b"+OK\r\n"
    deadline = time.monotonic() + 10
    while int(client_fields(port, "big")["qbuf"]) != 0:
        assert time.monotonic() < deadline, client_fields(port, "big")
        time.sleep(0.05)
    f = client_fields(port, "big")
    assert f["cmd"] == "set" and int(f["qbuf-free"]) >= 0
    for c in (sub, me, big):
        c.close()


STATS_STREAM = [
    ["SET", "k", "v"], ["INCR", "k"], ["NOSUCH"], ["GET"], ["MULTI"], ["SET", "a", "1"], ["INCR", "k"],
    ["EXEC"], ["MULTI"], ["GET"], ["EXEC"],
    ["EVAL", "redis.call('set','x','1'); return redis.pcall('incr','k')", "0"],
    ["EVAL", "return redis.call('nosuch')", "0"], ["LPUSH", "k", "x"], ["MULTI"], ["SAVE"], ["EXEC"],
    ["SUBSCRIBE", "c"], ["GET", "k"], ["UNSUBSCRIBE"],
]


def stats_lines(server):
    c = RawClient(server.port)
    c.cmd("CONFIG", "RESETSTAT")
    for a in STATS_STREAM:
        c.cmd(*a)
    text = c.cmd("INFO", "commandstats", "errorstats", "stats").decode()
    c.close()
    keep = ("cmdstat", "errorstat", "total_error", "unexpected")
    # Times differ: calls, rejected_calls, failed_calls and error counts are compared.
    return sorted(re.sub(r"usec=\d+,usec_per_call=[\d.]+", "", line)
                  for line in text.split("\r\n") if line.startswith(keep))


def test_commandstats_and_errorstats_as_redis():
    got = {}
    for name, start in (("respd", start_respd), ("redis", start_redis)):
        s = start()
        try:
            got[name] = stats_lines(s)
        finally:
            s.stop()
    assert got["respd"] == got["redis"]
    assert any(re.search("rejected_calls=[1-9]", x) for x in got["redis"]) and "errorstat_WRONGTYPE:count=1" in got["redis"]
