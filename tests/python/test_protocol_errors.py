"""Bad input, sent byte for byte to redis-server and respd: the same error reply, the same closed
connection, and afterwards the server answers other clients with their data intact."""

import socket
import time

import pytest

from resp_raw import RawClient

CASES = {
    "garbage_multibulk_count": b"*abc\r\n",
    "negative_bulk_length": b"*1\r\n$-5\r\n",
    "absurd_bulk_length": b"*1\r\n$999999999999\r\n",
    "bulk_over_proto_max": b"*2\r\n$3\r\nSET\r\n$536870913\r\n",
    "huge_multibulk_count": b"*3000000000\r\n",
    "expected_dollar": b"*1\r\n+PING\r\n",
    # Found by cargo fuzz: respd's decoder panicked on a bare line end in a bulk header's place.
    "empty_bulk_header": b"*1\r\n\r\n",
    "bulk_count_not_number": b"*1\r\n$abc\r\n",
    "unbalanced_double_quote": b'SET k "abc\r\n',
    "unbalanced_single_quote": b"SET k 'abc\r\n",
    "quote_not_followed_by_space": b'SET k "abc"x\r\n',
    "too_big_inline": b"A" * (64 * 1024 + 10),
    "too_big_mbulk_count_string": b"*" + b"1" * (64 * 1024 + 10),
    "too_big_bulk_count_string": b"*1\r\n$" + b"1" * (64 * 1024 + 10),
    "negative_multibulk_is_ignored": b"*-1\r\nPING\r\n",
    "empty_lines_are_ignored": b"\r\n\r\n\nPING\r\n",
    "inline_with_quotes": b'ECHO "a\\x41\\n" \'b c\'\r\n',
    "unknown_command": b"*2\r\n$7\r\nNOTACMD\r\n$1\r\nx\r\n",
    "empty_bulk_name": b"*1\r\n$0\r\n\r\n",
    "wrong_arity_inline": b"GET\r\n",
    "binary_key": b"*3\r\n$3\r\nSET\r\n$3\r\n\x00\xff\r\r\n$1\r\nv\r\nGET \"\\x00\\xff\\r\"\r\n",
    "pipelined_with_error_in_middle": b"PING\r\n*1\r\n$4\r\nPING\r\n*1\r\n+X\r\nPING\r\n",
}


def exchange(port, data):
    """Sends data, returns (all bytes received, whether the server closed the connection)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass
    got = b""
    closed = False
    s.settimeout(0.5)
    deadline = time.time() + 5
    while time.time() < deadline:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            closed = True
            break
        if not chunk:
            closed = True
            break
        got += chunk
    s.close()
    return got, closed


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_same_as_redis(name, respd_shared, redis_shared):
    for srv in (respd_shared, redis_shared):
        RawClient(srv.port).cmd("SET", "keep", "intact")
    data = CASES[name]
    ours = exchange(respd_shared.port, data)
    theirs = exchange(redis_shared.port, data)
    assert ours == theirs, f"respd {ours!r}\nredis {theirs!r}"
    # The server is still up, other clients are served and stored data is untouched.
    c = RawClient(respd_shared.port)
    assert c.cmd("PING") == b"+PONG\r\n"
    assert c.cmd("GET", "keep") == b"$6\r\nintact\r\n"
    assert respd_shared.alive()


def memory(c):
    """(used_memory, used_memory_rss) from INFO memory."""
    info = c.cmd("INFO", "memory").decode()
    fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
    return int(fields["used_memory"]), int(fields["used_memory_rss"])


def wait_for(pred, c, secs=30):
    """Polls INFO memory until pred(used, rss) holds; (whether it did, the last figures)."""
    deadline = time.time() + secs
    while True:
        m = memory(c)
        if pred(*m):
            return True, m
        if time.time() > deadline:
            return False, m
        time.sleep(0.05)


def test_client_vanishing_mid_value_frees_it(respd):
    """respd (its own process, with its counting allocator) gives back the buffers of half-sent
    values: while they arrive INFO memory shows them, so the check after could fail, and once the
    clients vanish used_memory and the resident set fall back near where they were."""
    clients, declared, sent = 3, 100_000_000, 48 << 20
    c = RawClient(respd.port)
    c.cmd("SET", "keep", "intact")
    used0, rss0 = memory(c)
    socks = []
    for _ in range(clients):
        s = socket.create_connection(("127.0.0.1", respd.port))
        s.sendall(b"*3\r\n$3\r\nSET\r\n$4\r\nhalf\r\n$%d\r\n" % declared + b"x" * sent)
        socks.append(s)
    ok, during = wait_for(
        lambda u, r: u >= used0 + clients * declared and r >= rss0 + clients * sent * 9 // 10, c)
    assert ok, f"half-sent values never showed: before {(used0, rss0)}, during {during}"
    for s in socks:
        s.close()
    ok, after = wait_for(lambda u, r: u <= used0 + (8 << 20) and r <= rss0 + (24 << 20), c)
    assert ok, f"memory not given back: before {(used0, rss0)}, during {during}, after {after}"
    assert c.cmd("EXISTS", "half") == b":0\r\n"
    assert c.cmd("GET", "keep") == b"$6\r\nintact\r\n"
    assert c.cmd("PING") == b"+PONG\r\n"


AUTH_CASES = {
    "multibulk_over_10_before_auth": b"*11\r\n",
    "bulk_over_16k_before_auth": b"*2\r\n$3\r\nSET\r\n$16385\r\n",
    "noauth": b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
    "wrongpass": b"*2\r\n$4\r\nAUTH\r\n$5\r\nwrong\r\n",
    "wrong_user": b"*3\r\n$4\r\nAUTH\r\n$3\r\nbob\r\n$6\r\nsecret\r\n",
    "auth_then_get": b"*2\r\n$4\r\nAUTH\r\n$6\r\nsecret\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
    "hello_without_auth": b"*2\r\n$5\r\nHELLO\r\n$1\r\n2\r\n",
    "hello_with_bad_auth": b"HELLO 2 AUTH default nope\r\n",
    "ping_before_auth": b"PING\r\n",
    "quit_before_auth": b"QUIT\r\n",
}


@pytest.fixture(scope="module")
def auth_pair():
    from conftest import start_redis, start_respd
    a = start_respd("--requirepass", "secret")
    b = start_redis("--requirepass", "secret")
    yield a, b
    a.stop()
    b.stop()


@pytest.mark.parametrize("name", sorted(AUTH_CASES))
def test_unauthenticated_clients_same_as_redis(name, auth_pair):
    a, b = auth_pair
    ours = exchange(a.port, AUTH_CASES[name])
    theirs = exchange(b.port, AUTH_CASES[name])
    assert ours == theirs, f"respd {ours!r}\nredis {theirs!r}"
    assert a.alive()
