"""The last observability commands of issue #17 (MEMORY MALLOC-STATS, LOLWUT, DEBUG, MODULE),
compared with redis-server 7.0.15 in RESP2 and RESP3."""

from resp_raw import RawClient


def raw(server, proto, *args):
    c = RawClient(server.port)
    if proto == 3:
        assert c.cmd("HELLO", "3").startswith(b"%")
    try:
        return c.cmd(*args)
    finally:
        c.close()


def test_memory_malloc_stats_reply_type(each_server):
    # Debian's redis-server uses jemalloc: a verbatim text in RESP3, a bulk string in RESP2.
    assert raw(each_server, 2, "MEMORY", "MALLOC-STATS").startswith(b"$")
    r3 = raw(each_server, 3, "MEMORY", "MALLOC-STATS")
    assert r3.startswith(b"=") and b"\r\ntxt:" in r3[:16]
    assert raw(each_server, 2, "MEMORY", "MALLOC-STATS", "x").startswith(
        b"-ERR wrong number of arguments for 'memory|malloc-stats' command\r\n")


def test_memory_help_lists_malloc_stats(servers):
    a, b = (s.client() for s in servers)
    assert a.execute_command("MEMORY", "HELP") == b.execute_command("MEMORY", "HELP")


def lolwut_pair(servers, *args, proto=2):
    return [raw(s, proto, "LOLWUT", *args) for s in servers]


def bulk_text(r):
    # `$n\r\n...` or `=n\r\ntxt:...`
    head, _, body = r.partition(b"\r\n")
    assert body.endswith(b"\r\n")
    body = body[:-2]
    assert int(head[1:]) == len(body)
    return body


def test_lolwut_version_line(servers):
    for args in [(), ("VERSION", "7"), ("VERSION", "4"), ("VERSION", "-1"), ("VERSION",),
                 ("foo", "bar"), ("version", "59")]:
        a, b = lolwut_pair(servers, *args)
        assert a == b == b"$18\r\nRedis ver. 7.0.15\n\r\n", args
        a, b = lolwut_pair(servers, *args, proto=3)
        assert a == b == b"=22\r\ntxt:Redis ver. 7.0.15\n\r\n", args


def test_lolwut_errors(servers):
    for args in [("VERSION", "x"), ("VERSION", "5", "x"), ("VERSION", "6", "1", "x"),
                 ("VERSION", "5", "10", "2", "1.5"), ("VERSION", "99999999999999999999")]:
        a, b = lolwut_pair(servers, *args)
        assert a == b == b"-ERR value is not an integer or out of range\r\n", args


def test_lolwut5_deterministic_rows(servers):
    # Only rows of squares below the second are rotated at random: one or two rows, and the
    # unsigned wrap of the version (2^32 + 5 is 5), are byte for byte.
    for args in [("VERSION", "5", "66", "8", "2"), ("VERSION", "5", "20", "3", "1"),
                 ("VERSION", "5", "1", "1", "1"), ("VERSION", "5", "0", "-3", "2"),
                 ("VERSION", "4294967301", "33", "4", "2"), ("VERSION", "5", "1000", "200", "1")]:
        a, b = lolwut_pair(servers, *args)
        assert a == b, args
        a, b = lolwut_pair(servers, *args, proto=3)
        assert a == b and a.startswith(b"="), args


def test_lolwut5_random_shape(servers):
    for args in [("VERSION", "5"), ("VERSION", "5", "40", "5", "9")]:
        a, b = (bulk_text(r).decode() for r in lolwut_pair(servers, *args))
        la, lb = a.split("\n"), b.split("\n")
        assert len(la) == len(lb) and [len(x) for x in la] == [len(x) for x in lb]
        assert la[-2:] == lb[-2:] == ["Georg Nees - schotter, plotter on paper, 1968. Redis ver. 7.0.15", ""]
        # The first rows of squares are not rotated.
        assert la[:2] == lb[:2]


def test_lolwut6_shape(servers):
    for args in [("VERSION", "6"), ("VERSION", "6", "30", "7"), ("VERSION", "6", "1", "1")]:
        for proto in (2, 3):
            a, b = (bulk_text(r) for r in lolwut_pair(servers, *args, proto=proto))
            la, lb = a.split(b"\n"), b.split(b"\n")
            assert len(la) == len(lb)
            assert [x.count(b"\x1b[0m") for x in la] == [x.count(b"\x1b[0m") for x in lb]
            assert la[-3:] == lb[-3:]
            assert la[-2] == b"Original 8 bit image from Plaguemon by hikikomori. Redis ver. 7.0.15"
    # No building reaches the top row of the default 80 x 20: all white on both.
    a, b = (bulk_text(r).split(b"\n")[0] for r in lolwut_pair(servers, "VERSION", "6"))
    assert a == b == b"\x1b[0;97;107m \x1b[0m" * 80


def test_lolwut5_bounded(respd):
    # redis-server draws 800 MB of canvas and answers 300 MB here; respd refuses and stays up.
    assert raw(respd, 2, "LOLWUT", "VERSION", "5", "1000", "1", "200") == b"-ERR LOLWUT canvas too large\r\n"
    assert raw(respd, 2, "PING") == b"+PONG\r\n"


import re
import time

import pytest
import redis

from conftest import start_redis, start_respd

REFUSED = ('{} command not allowed. If the {} option is set to "local", you can run it from a '
           'local connection, otherwise you need to set this option in the configuration file, '
           'and then restart the server.')
DEBUG_REFUSED = REFUSED.format("DEBUG", "enable-debug-command")
MODULE_REFUSED = REFUSED.format("MODULE", "enable-module-command")


def both(*extra):
    return [start_respd(*extra), start_redis(*extra)]


def stop_all(servers):
    for s in servers:
        s.stop()


def err(c, *args):
    with pytest.raises(redis.ResponseError) as e:
        c.execute_command(*args)
    return str(e.value)


def test_debug_module_refused_by_default():
    servers = both()
    try:
        for s in servers:
            c = s.client()
            assert err(c, "DEBUG", "HELP") == DEBUG_REFUSED, s.name
            assert err(c, "DEBUG", "SLEEP", "0") == DEBUG_REFUSED, s.name
            for args in [("LOAD", "/nonexistent.so"), ("LOADEX", "/x.so", "ARGS", "a"), ("UNLOAD", "m")]:
                assert err(c, "MODULE", *args) == MODULE_REFUSED, (s.name, args)
            # Not protected: LIST and HELP answer.
            assert c.execute_command("MODULE", "LIST") == []
            # Refused at queue time: EXEC is aborted.
            p = c.pipeline(transaction=True)
            p.set("k", "v")
            p.execute_command("DEBUG", "SLEEP", "0")
            with pytest.raises(redis.ResponseError):
                p.execute()
            assert c.exists("k") == 0
            assert err(c, "DEBUG") == "wrong number of arguments for 'debug' command"
            assert err(c, "MODULE", "LOAD") == "wrong number of arguments for 'module|load' command"
            assert c.info("errorstats")["errorstat_ERR"]["count"] >= 4
        a, b = (s.client() for s in servers)
        assert a.execute_command("MODULE", "HELP") == b.execute_command("MODULE", "HELP")
        assert err(a, "MODULE", "FOO") == err(b, "MODULE", "FOO")
        ca, cb = (c.execute_command("COMMAND", "INFO", "debug", "module|list", "module|load",
                                    "module|unload", "module|help") for c in (a, b))
        assert ca == cb
        assert all(s.alive() for s in servers)
    finally:
        stop_all(servers)


@pytest.mark.parametrize("mode", ["local", "yes"])
def test_debug_module_allowed(mode):
    servers = both("--enable-debug-command", mode, "--enable-module-command", mode)
    try:
        replies = []
        for s in servers:
            c = s.client()
            assert c.config_get("enable-debug-command") == {"enable-debug-command": mode}
            assert c.execute_command("MODULE", "LIST") == []
            assert err(c, "MODULE", "LOAD", "/nonexistent/respd-test.so") == \
                "Error loading the extension. Please check the server logs."
            assert err(c, "MODULE", "LOADEX", "/nonexistent/respd-test.so", "CONFIG", "a", "b") == \
                "Error loading the extension. Please check the server logs."
            assert err(c, "MODULE", "UNLOAD", "nosuch") == \
                "Error unloading module: no such module with that name"
            assert c.execute_command("DEBUG", "SLEEP", "0") in (b"OK", "OK", True)
            assert c.execute_command("DEBUG", "SLEEP", "abc") in (b"OK", "OK", True)
            t = time.monotonic()
            c.execute_command("DEBUG", "SLEEP", "0.2")
            assert time.monotonic() - t >= 0.19
            assert c.execute_command("DEBUG", "LOG", "hello from the test") in (b"OK", "OK", True)
            assert c.execute_command("DEBUG", "CHANGE-REPL-ID") in (b"OK", "OK", True)
            assert err(c, "DEBUG", "ERROR", "MYERR some\r\ntext") == "MYERR some  text"
            assert err(c, "DEBUG", "OBJECT", "nosuch") == "no such key"
            assert err(c, "DEBUG", "NOSUCHSUB") == \
                "unknown subcommand or wrong number of arguments for 'NOSUCHSUB'. Try DEBUG HELP."
            assert err(c, "DEBUG", "OBJECT") == \
                "unknown subcommand or wrong number of arguments for 'OBJECT'. Try DEBUG HELP."
            c.set("s", "hello world")
            c.set("n", "12345")
            c.rpush("l", "a", "b")
            objs = {k: c.execute_command("DEBUG", "OBJECT", k) for k in ("s", "n", "l")}
            rows = {}
            for k, v in objs.items():
                v = v.decode() if isinstance(v, bytes) else v
                m = re.fullmatch(r"Value at:0x[0-9a-f]+ refcount:\d+ encoding:(\S+) "
                                 r"serializedlength:(\d+) lru:\d+ lru_seconds_idle:(\d+)( .*)?", v)
                assert m, (s.name, v)
                rows[k] = (m[1], int(m[2]), int(m[3]) < 5)
            replies.append(rows)
            help_lines = c.execute_command("DEBUG", "HELP")
            replies.append(help_lines)
        ra, help_a, rb, help_b = replies
        # Encodings and serialized lengths as Redis's for these (the list's quicklist aside).
        assert ra["s"] == rb["s"] and ra["n"] == rb["n"]
        assert ra["l"][0] == rb["l"][0] == "quicklist"
        # respd's DEBUG HELP is Redis's, keeping the subcommands it has.
        assert help_a[0] == help_b[0] and help_a[-2:] == help_b[-2:]
        it = iter(help_b)
        assert all(line in it for line in help_a)
        assert all(s.alive() for s in servers)
    finally:
        stop_all(servers)
