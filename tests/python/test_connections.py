"""Many clients at once, as when a DAQ farm starts: the listen backlog is `tcp-backlog`, the
open-files limit is raised for `maxclients` (or `maxclients` lowered to fit, with Redis's numbers),
and thousands of connections opened together are all served; `tcp-keepalive` probes idle peers.
Each case on respd and redis-server."""

import re
import resource
import selectors
import socket
import subprocess
import time

import pytest

from conftest import STARTERS


def listen_backlog(port):
    """The backlog of the socket listening on 127.0.0.1:port (`ss` shows it as Send-Q)."""
    out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True,
                         check=True).stdout
    rows = [line.split() for line in out.splitlines() if f"127.0.0.1:{port}" in line]
    assert len(rows) == 1, out
    return int(rows[0][2])


@pytest.mark.parametrize("name", list(STARTERS))
def test_tcp_backlog_is_the_listen_backlog(name):
    for backlog in ("511", "300"):
        s = STARTERS[name]("--tcp-backlog", backlog)
        try:
            assert listen_backlog(s.port) == int(backlog)
            assert s.client().config_get("tcp-backlog") == {"tcp-backlog": backlog}
        finally:
            s.stop()


def nofile_soft(pid):
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                return int(line.split()[3])
    raise AssertionError("no open-files line")


@pytest.mark.parametrize("name", list(STARTERS))
def test_low_file_limit_lowers_maxclients_as_redis(name):
    # A hard limit of 256 cannot be raised: maxclients becomes 256 - 32, as Redis computes it.
    s = STARTERS[name]("--maxclients", "1000", prefix=("prlimit", "--nofile=256:256"))
    try:
        assert s.client().config_get("maxclients") == {"maxclients": "224"}
        assert re.search(r"maxclients has been reduced to 224", s.log_text()), s.log_text()
    finally:
        s.stop()


@pytest.mark.parametrize("name", list(STARTERS))
def test_file_limit_raised_for_maxclients(name):
    s = STARTERS[name]("--maxclients", "1000", prefix=("prlimit", "--nofile=100:4096"))
    try:
        assert s.client().config_get("maxclients") == {"maxclients": "1000"}
        assert nofile_soft(s.proc.pid) == 1032  # maxclients + 32 reserved
    finally:
        s.stop()


def need_files(n):
    """Raises this process's open-files limit to n when the hard limit allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n), hard))
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= n, f"this test needs {n} open files"


def storm(port, n, bound=120.0):
    """Opens n connections at once (non-blocking connects), sends each PING and returns the
    replies, leaving the sockets open. The bound catches a hang, it is no speed limit."""
    sel = selectors.DefaultSelector()
    socks = []
    for i in range(n):
        c = socket.socket()
        c.setblocking(False)
        c.connect_ex(("127.0.0.1", port))
        sel.register(c, selectors.EVENT_WRITE, i)
        socks.append(c)
    replies = [b""] * n
    pending = n
    deadline = time.monotonic() + bound
    while pending:
        assert time.monotonic() < deadline, f"{pending} of {n} connections unanswered"
        for key, ev in sel.select(timeout=1.0):
            c, i = key.fileobj, key.data
            if ev & selectors.EVENT_WRITE:
                if c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                    replies[i] = b"connect failed"
                    sel.unregister(c)
                    pending -= 1
                    continue
                c.send(b"PING\r\n")
                sel.modify(c, selectors.EVENT_READ, i)
            else:
                data = c.recv(64)
                replies[i] += data
                if not data or replies[i].endswith(b"\r\n"):
                    sel.unregister(c)
                    pending -= 1
    sel.close()
    return socks, replies


@pytest.mark.parametrize("name", list(STARTERS))
def test_connection_storm_all_served(name):
    n = 3000
    need_files(n + 200)
    s = STARTERS[name]("--maxclients", str(n + 10))
    socks = []
    try:
        socks, replies = storm(s.port, n)
        assert replies.count(b"+PONG\r\n") == n, set(replies) - {b"+PONG\r\n"}
        r = s.client()
        assert r.info("clients")["connected_clients"] == n + 1
        # With r still open, nine more fit: the tenth gets Redis's refusal, not a hang or a reset.
        more, extra = storm(s.port, 10)
        socks += more
        assert extra.count(b"-ERR max number of clients reached\r\n") == 1, extra
        assert extra.count(b"+PONG\r\n") == 9, extra
        r.close()
    finally:
        for c in socks:
            c.close()
        s.stop()


def test_idle_clients_hold_no_more_memory_than_redis():
    """2,000 clients that sent one PING each: respd's used_memory per client at most Redis's
    (Redis 7.0 keeps a 16 KiB query buffer and a reply buffer for each). respd used to read
    into 64 KiB from the first request: 70 KB a client against Redis's 38 KB; now 6 KB."""
    need_files(2200)
    per_client = {}
    for name, start in STARTERS.items():
        s = start("--maxclients", "3000")
        socks = []
        try:
            r = s.client()
            before = r.info("memory")["used_memory"]
            socks, replies = storm(s.port, 2000)
            assert replies.count(b"+PONG\r\n") == 2000
            per_client[name] = (r.info("memory")["used_memory"] - before) / 2000
        finally:
            for c in socks:
                c.close()
            s.stop()
    print(f"used_memory per idle client: {per_client}")  # the figure docs/performance.md gives
    assert per_client["respd"] <= per_client["redis"], per_client


def keepalive_timer(port, client_port):
    """The timer `ss` shows on the server's side of one connection ('' when none runs)."""
    out = subprocess.run(["ss", "-Htno", "state", "established", f"( sport = :{port} and dport = :{client_port} )"],
                         capture_output=True, text=True, check=True).stdout
    m = re.search(r"timer:\((\w+),([^,]+),", out)
    return (m.group(1), m.group(2)) if m else ("", "")


@pytest.mark.parametrize("name", list(STARTERS))
def test_tcp_keepalive(name):
    for secs, want in (("300", "keepalive"), ("0", "")):
        s = STARTERS[name]("--tcp-keepalive", secs)
        try:
            with socket.create_connection(("127.0.0.1", s.port)) as c:
                c.sendall(b"PING\r\n")
                assert c.recv(64) == b"+PONG\r\n"
                kind, left = keepalive_timer(s.port, c.getsockname()[1])
                assert kind == want, (secs, kind, left)
                if want:
                    # 300 s, or a moment less: ss prints "5min" within the first second.
                    assert left == "5min" or left.startswith("4min"), left
        finally:
            s.stop()
