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
