"""Bad clients against both servers: one whose query buffer grows past
`client-query-buffer-limit`, idle ones under `timeout`, ones that never read their replies under
`client-output-buffer-limit normal`, and a slowloris (a byte a second). Each is closed (or held at
a bounded cost), the server still answers, and data stored before is intact. (maxclients,
tcp-backlog and tcp-keepalive are sent for real in test_connections.py.)"""

import os
import re
import socket
import time

import pytest

from conftest import STARTERS, start_respd


def status(pid):
    """/proc/PID/status's kB fields, in bytes."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if v.strip().endswith("kB"):
                out[k] = int(v.split()[0]) * 1024
    return out


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def raw(server, rcvbuf=None):
    """A plain socket to `server`; a small receive buffer makes the server's writes stall early."""
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect((server.host, server.port))
    return s


def cmd(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def client_ids(r):
    return {int(m) for m in re.findall(r"id=(\d+)", r.execute_command("CLIENT", "LIST").decode())}


def wait_gone(r, cid, secs):
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        if cid not in client_ids(r):
            return True
        time.sleep(0.1)
    return False


def own_id(sock):
    sock.sendall(cmd("CLIENT", "ID"))
    buf = b""
    while not buf.endswith(b"\r\n"):
        buf += sock.recv(64)
    return int(buf[1:-2])


def closed_by_peer(sock, secs):
    """Reads and discards until the server closes the connection (True) or `secs` pass."""
    sock.settimeout(0.2)
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        try:
            if not sock.recv(1 << 20):
                return True
        except socket.timeout:
            continue
        except ConnectionResetError:
            return True
    return False


@pytest.fixture(params=list(STARTERS))
def server(request):
    s = STARTERS[request.param]()
    try:
        r = s.client()
        r.set("keep", "stored before")
        yield s
        assert s.alive(), "the server died"
        r = s.client()
        assert r.ping()
        assert r.get("keep") == b"stored before"
    finally:
        s.stop()


def test_query_buffer_limit_closes_without_reply(server):
    r = server.client()
    r.config_set("client-query-buffer-limit", "1mb")
    r.config_set("proto-max-bulk-len", "8mb")
    c = raw(server)
    c.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$4194304\r\n")
    try:
        c.sendall(b"x" * (2 << 20))
    except (BrokenPipeError, ConnectionResetError):
        pass
    c.settimeout(5)
    try:
        got = c.recv(100)
    except ConnectionResetError:
        got = b""
    assert got == b"", got
    assert r.exists("x") == 0
    assert re.search(r"[Cc]losing client.* that reached max query buffer length", server.log_text())


def test_idle_client_closed_after_timeout(server):
    r = server.client()
    r.config_set("timeout", "1")
    c = raw(server)
    cid = own_id(c)
    t = time.monotonic()
    assert closed_by_peer(c, 5)
    assert time.monotonic() - t >= 0.9
    assert wait_gone(r, cid, 2)
    # A client that keeps talking is not idle.
    r.config_set("timeout", "2")
    d = raw(server)
    for _ in range(4):
        d.sendall(cmd("PING"))
        assert d.recv(64) == b"+PONG\r\n"
        time.sleep(1)


def pipeline_unread(server, n, key="big"):
    """A client with a small receive buffer that sends `n` GETs of `key` and reads nothing."""
    c = raw(server, rcvbuf=4096)
    cid = own_id(c)
    c.sendall(cmd("GET", key) * n)
    return c, cid


def test_never_reading_client_closed_at_hard_limit(server):
    r = server.client()
    r.set("big", b"v" * (256 << 10))
    r.config_set("client-output-buffer-limit", "normal 1mb 0 0")
    c, cid = pipeline_unread(server, 200)  # 50 MiB of replies
    assert wait_gone(r, cid, 10), "the client was not closed"
    assert "scheduled to be closed ASAP for overcoming of output buffer limits" in server.log_text()
    assert closed_by_peer(c, 10)
    # A client that reads its replies under the same limit is served.
    assert server.client().get("big") == b"v" * (256 << 10)


def test_never_reading_client_closed_after_soft_limit_seconds(server):
    r = server.client()
    r.set("big", b"v" * (256 << 10))
    r.config_set("client-output-buffer-limit", "normal 0 512kb 1")
    c, cid = pipeline_unread(server, 100)
    t = time.monotonic()
    # Redis checks the soft limit when output is added: keep asking (respd checks on a timer).
    while time.monotonic() - t < 8 and cid in client_ids(r):
        try:
            c.sendall(cmd("GET", "big"))
        except OSError:
            break
        time.sleep(0.3)
    assert cid not in client_ids(r), "the client was not closed"
    assert time.monotonic() - t >= 1.0
    assert "overcoming of output buffer limits" in server.log_text()


def test_client_list_shows_unread_output(server):
    r = server.client()
    r.set("big", b"v" * (1 << 20))
    c, cid = pipeline_unread(server, 20)
    deadline = time.monotonic() + 5
    omem = 0
    while time.monotonic() < deadline and omem == 0:
        line = [x for x in r.execute_command("CLIENT", "LIST").decode().splitlines() if f"id={cid} " in x]
        omem = int(re.search(r"omem=(\d+)", line[0]).group(1))
        time.sleep(0.1)
    assert omem > 0
    c.close()


def test_never_reading_client_closed_by_timeout(server):
    """Redis counts a client whose replies make no progress as idle; so does respd."""
    r = server.client()
    r.set("big", b"v" * (1 << 20))
    r.config_set("timeout", "1")
    c, cid = pipeline_unread(server, 20)
    assert wait_gone(r, cid, 6), "the client was not closed"


def test_slowloris_holds_one_small_buffer(server):
    """20 clients each declare a 500 MB argument and send a byte a second: neither server
    closes them (Redis's `timeout` counts every read as activity, and so does respd's), and
    neither holds the declared size in memory; the server answers meanwhile. maxclients bounds
    how many there can be."""
    r = server.client()
    r.config_set("proto-max-bulk-len", "1gb")
    r.config_set("timeout", "2")
    rss0 = status(server.proc.pid)["VmRSS"]
    socks = [raw(server) for _ in range(20)]
    for s in socks:
        s.sendall(b"*3\r\n$3\r\nSET\r\n$4\r\nslow\r\n$500000000\r\n")
    for _ in range(4):
        for s in socks:
            s.sendall(b"x")
        t = time.monotonic()
        assert r.ping()
        assert time.monotonic() - t < 1.0
        time.sleep(1)
    held = status(server.proc.pid)["VmRSS"] - rss0
    print(f"{server.name}: 20 slowloris clients hold {held / 1e6:.1f} MB of RSS")
    assert held < 64 << 20
    assert len(client_ids(r)) >= 21  # still connected: only maxclients bounds them
    for s in socks:
        s.close()


def test_unread_large_replies_share_the_value():
    """respd only (Redis copies each reply: 50 unread GETs of 16 MiB cost it 800 MiB): the reply
    is the stored value's `Bytes`, and a connection whose socket is full reads no more requests,
    so 50 unread GETs of a 16 MiB value hold the value once more at most."""
    s = start_respd()
    try:
        r = s.client()
        r.set("big", b"v" * (16 << 20))
        pid = s.proc.pid
        rss0, fd0 = status(pid)["VmRSS"], fds(pid)
        c, cid = pipeline_unread(s, 50)
        time.sleep(2)
        held = status(pid)["VmRSS"] - rss0
        print(f"respd: 50 unread GETs of 16 MiB hold {held / 1e6:.1f} MB of RSS")
        assert held < 24 << 20
        assert r.delete("big") == 1
        c.close()
        assert wait_gone(r, cid, 5)
        deadline = time.monotonic() + 5
        while fds(pid) > fd0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert fds(pid) == fd0
    finally:
        s.stop()
