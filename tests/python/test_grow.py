"""APPEND and SETRANGE change a string in place (as Redis's sds grows): the results, the memory
a grown value holds, and a reply in flight that still shares the old bytes."""

from resp_raw import RawClient


def test_grown_by_pieces_like_redis(respd, redis_server):
    for srv in (respd, redis_server):
        c = srv.client()
        for i in range(300):
            c.append("v", bytes([i % 251]) * 1000)
        c.setrange("v", 150_000, b"middle")
        c.setrange("v", 299_998, b"past the end")
        c.setrange("w", 5, b"new")
        c.expire("v", 1000)
        c.append("v", b"tail")
    a, b = respd.client(), redis_server.client()
    assert a.get("v") == b.get("v")
    assert a.get("w") == b.get("w") == b"\0" * 5 + b"new"
    assert a.ttl("v") == b.ttl("v") == 1000


def test_grown_value_holds_at_most_a_mebibyte_spare(respd):
    c = respd.client()
    base = c.info("memory")["used_memory"]
    for _ in range(1024):
        c.append("v", b"x" * 32768)
    held = c.info("memory")["used_memory"] - base
    size = 1024 * 32768
    assert size <= held <= size + (1 << 20) + (256 << 10), held


def test_a_reply_in_flight_keeps_the_old_bytes(respd):
    n = 64 << 20
    c = respd.client()
    c.set("v", b"a" * n)
    reader = RawClient(respd.port)
    reader.send_raw(b"GET v\r\n")
    # Wait until the reply is being written: 64 MiB is far more than the sockets buffer, so
    # the rest of it, sharing the stored bytes, waits for the reader while they are changed.
    head = b""
    while len(head) < 64:
        chunk = reader.sock.recv(64 - len(head))
        assert chunk, "the connection closed"
        head += chunk
    c.setrange("v", 0, b"b" * 1000)
    c.append("v", b"c")
    reader.buf = head
    got = reader.read_reply()
    assert got == b"$%d\r\n" % n + b"a" * n + b"\r\n"
    assert c.getrange("v", 0, 1) == b"bb"
    assert c.strlen("v") == n + 1
    reader.close()
