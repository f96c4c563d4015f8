"""MONITOR against redis-server 7.0: the same command stream gives the same monitor lines
(timestamps and the client's port aside): commands as they ran, MULTI/EXEC's commands at EXEC,
a script's commands after it as `[0 lua]`, admin commands and refused ones left out, AUTH and
HELLO passwords redacted, arguments quoted as Redis quotes them."""

import re
import time

import pytest

from conftest import start_redis, start_respd
from resp_raw import RawClient

STREAM = [
    ["SET", "k", "v"],
    ["GET", "k"],
    ["SET", "bin", b"a\"b\\c\r\n\t\x07\x08\x00\xff\x7f ok"],
    ["INCR", "k"],  # an error reply: still shown
    ["NOSUCHCOMMAND", "x"],  # refused before it runs: not shown
    ["GET"],  # wrong arity: not shown
    ["CONFIG", "GET", "maxmemory"],  # admin: not shown
    ["CLIENT", "SETNAME", "watched"],
    ["CLIENT", "LIST"],  # admin
    ["SELECT", "1"],
    ["SET", "in1", "x"],
    ["SELECT", "0"],
    ["MULTI"],
    ["SET", "t", "1"],
    ["INCR", "t"],
    ["EXEC"],
    ["MULTI"],
    ["NOSUCH"],
    ["EXEC"],
    ["EVAL", "redis.call('set', KEYS[1], ARGV[1]); return redis.call('get', KEYS[1])", "1", "sk", "sv"],
    ["EVAL", "redis.call('select', 2); return redis.pcall('incr', 'sk')", "0"],
    ["EVALSHA", "0" * 40, "0"],
    ["AUTH", "secret"],
    ["AUTH", "user", "secret"],
    ["AUTH", "a", "b", "c"],
    ["HELLO", "2", "AUTH", "default", "pw", "SETNAME", "n2"],
    ["HELLO", "9", "AUTH", "default", "pw"],
    ["BLPOP", "nolist", "0.01"],
    ["DEL", "k", "bin", "t"],
    ["PING", "end"],
]


def monitor_lines(server):
    mon = RawClient(server.port)
    assert mon.cmd("MONITOR") == b"+OK\r\n"
    c = RawClient(server.port)
    port = c.sock.getsockname()[1]
    for args in STREAM:
        c.cmd(*args)
    lines = []
    deadline = time.monotonic() + 10
    while not lines or lines[-1] != '[0 CLIENT] "PING" "end"':
        assert time.monotonic() < deadline, lines
        raw = mon.read_reply().decode("latin-1")
        assert re.match(r"^\+\d+\.\d{6} \[", raw), raw
        line = raw[1:].rstrip("\r\n").split(" ", 1)[1]
        lines.append(line.replace(f"127.0.0.1:{port}]", "CLIENT]"))
    c.close()
    mon.close()
    return lines


def test_monitor_lines_as_redis():
    got = {}
    for name, start in (("respd", start_respd), ("redis", start_redis)):
        s = start()
        try:
            got[name] = monitor_lines(s)
        finally:
            s.stop()
    assert got["respd"] == got["redis"], "\n".join(
        f"{a!r:70} {b!r}" for a, b in zip(got["respd"], got["redis"]))
    # The stream's notable cases are in it, so the comparison covers them.
    text = "\n".join(got["redis"])
    assert '[0 lua] "set" "sk" "sv"' in text and '[2 lua] "incr" "sk"' in text
    assert '"AUTH" "(redacted)" "(redacted)"' in text and '[1 CLIENT] "SET" "in1" "x"' in text
    assert '"CONFIG"' not in text and '"NOSUCH' not in text


@pytest.mark.parametrize("server", ["respd", "redis"])
def test_monitor_modes(server):
    s = (start_respd if server == "respd" else start_redis)()
    try:
        c = RawClient(s.port)
        assert c.cmd("MULTI") == b"+OK\r\n"
        assert c.cmd("MONITOR") == b"+QUEUED\r\n"
        assert c.cmd("EXEC") == b"*1\r\n-ERR MONITOR isn't allowed for DENY BLOCKING client\r\n"
        assert c.cmd("MONITOR") == b"+OK\r\n"
        # A second MONITOR is ignored without a reply: the next reply is PING's, and then the
        # monitor line of that PING.
        c.send_raw(b"MONITOR\r\nPING\r\n")
        assert c.read_reply() == b"+PONG\r\n"
        assert c.read_reply().endswith(b'"PING"\r\n')
        assert c.cmd("RESET") == b"+RESET\r\n"
        other = RawClient(s.port)
        other.cmd("SET", "a", "1")
        assert c.cmd("PING") == b"+PONG\r\n", "RESET ends MONITOR mode"
        other.close()
        c.close()
    finally:
        s.stop()
