"""Glob patterns: one command must not stop the server (issue: CVE-2022-36021's class).

Every place respd takes a pattern (KEYS, SCAN MATCH, PSUBSCRIBE, PUBSUB CHANNELS, CONFIG GET) is
compared with redis-server on the same inputs: the pathological pattern from Redis's regression
history, then a seeded random corpus of patterns (stars, classes, ranges, escapes, malformed ones)
against random binary keys. And a command that really runs long no longer makes SIGTERM hang.
"""

import os
import random
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis

from conftest import start_respd

# From Redis's tests (keyspace.tcl, "Regression for pattern matching long nested loops").
LONG_KEY = b"a" * 55
NESTED = b"a*" * 31 + b"b"
# Generous: a test that the call ends, not a timing benchmark (both answer in milliseconds).
ANSWER_WITHIN = 30


def clients(*servers):
    return [s.client(socket_timeout=ANSWER_WITHIN) for s in servers]


@pytest.mark.parametrize("which", ["respd", "redis"])
def test_nested_stars_answer_at_once_and_the_server_stays_up(which, respd, redis_server):
    srv = respd if which == "respd" else redis_server
    c, other = clients(srv, srv)
    c.set(LONG_KEY, b"1")
    c.set(b"kept", b"data")
    assert c.keys(NESTED) == []
    assert c.scan(0, match=NESTED, count=1000) == (0, [])
    # PSUBSCRIBE stores the pattern; every PUBLISH matches the channel against it.
    p = srv.client(socket_timeout=ANSWER_WITHIN).pubsub()
    p.psubscribe(NESTED)
    assert p.get_message(timeout=ANSWER_WITHIN)["type"] == "psubscribe"
    assert c.publish(LONG_KEY, b"m") == 0
    p.subscribe(LONG_KEY)
    assert p.get_message(timeout=ANSWER_WITHIN)["type"] == "subscribe"
    assert c.execute_command("PUBSUB", "CHANNELS", NESTED) == []
    assert c.publish(LONG_KEY, b"m") == 1
    assert other.ping() is True
    assert other.get(b"kept") == b"data"
    assert other.get(LONG_KEY) == b"1"
    p.close()


ALPHABET_PAT = [b"a", b"b", b"A", b"-", b"*", b"*", b"?", b"[", b"]", b"^", b"\\", b"\xff", b"\x00", b"z"]
ALPHABET_KEY = [b"a", b"b", b"A", b"B", b"-", b"]", b"[", b"\\", b"*", b"\xff", b"\x80", b"\x00", b"z"]


def corpus(seed, n, alphabet, max_len):
    rng = random.Random(seed)
    return [b"".join(rng.choice(alphabet) for _ in range(rng.randint(0, max_len))) for _ in range(n)]


def test_random_patterns_match_like_redis(respd, redis_server):
    keys = set(corpus(1, 400, ALPHABET_KEY, 7)) | {b"", LONG_KEY}
    patterns = corpus(2, 2500, ALPHABET_PAT, 10) + [
        b"[", b"[a-", b"a\\", b"\\", b"[^", b"[]", b"[^]", b"[a-]", b"[\\", b"**", b"*[a-\xff]*",
        NESTED,
    ]
    a, b = clients(respd, redis_server)
    for c in (a, b):
        c.mset({k: b"v" for k in keys})
    differ = []
    for pat in patterns:
        ra, rb = sorted(a.keys(pat)), sorted(b.keys(pat))
        if ra != rb:
            differ.append((pat, ra[:5], rb[:5]))
    assert not differ, f"{len(differ)} patterns differ from redis-server, e.g. {differ[:5]}"
    # SCAN MATCH filters with the same matcher (a full iteration, in pages).
    for pat in patterns[:300]:
        got = [sorted(set(c.scan_iter(match=pat, count=50))) for c in (a, b)]
        assert got[0] == got[1], pat


def test_random_channel_patterns_like_redis(respd, redis_server):
    channels = sorted(set(corpus(3, 60, ALPHABET_KEY, 5)) - {b""})
    patterns = corpus(4, 400, ALPHABET_PAT, 7)
    subs, pubs = [], []
    for srv in (respd, redis_server):
        p = srv.client(socket_timeout=ANSWER_WITHIN).pubsub()
        p.subscribe(*channels)
        subs.append(p)
        pubs.append(srv.client(socket_timeout=ANSWER_WITHIN))
    for p in subs:
        for _ in channels:
            assert p.get_message(timeout=ANSWER_WITHIN)["type"] == "subscribe"
    for pat in patterns:
        got = [sorted(c.execute_command("PUBSUB", "CHANNELS", pat)) for c in pubs]
        assert got[0] == got[1], pat
    # PSUBSCRIBE: how many pattern subscribers each PUBLISH reaches.
    for p in subs:
        p.psubscribe(*patterns[:100])
    for p in subs:
        for _ in range(len(set(patterns[:100]))):
            assert p.get_message(timeout=ANSWER_WITHIN)["type"] == "psubscribe"
    for ch in channels:
        got = [c.publish(ch, b"m") for c in pubs]
        assert got[0] == got[1], ch
    for p in subs:
        p.close()


def test_config_get_patterns_ignore_case_like_redis(respd, redis_server):
    names = b"abcdefhilmnoprstuxyABCDEFHILMNOPRSTUXY-"
    rng = random.Random(5)
    patterns = [b"*"] + [
        b"".join(rng.choice([bytes([names[rng.randrange(len(names))]]), b"*", b"?", b"[", b"]", b"-", b"^"])
                 for _ in range(rng.randint(1, 9)))
        for _ in range(400)
    ]
    a, b = clients(respd, redis_server)
    for pat in patterns:
        ga = a.config_get(pat)
        ga.pop("worker-threads", None)  # respd's own parameter, which Redis has not
        gb = b.config_get(pat)
        assert sorted(ga) == sorted(gb), pat


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_long_keys(s):
    """Sends a KEYS over a 4 MB key name with a 100,000-byte literal after a star, which costs
    pattern × key steps in respd as in Redis (minutes): a legitimate long command. Returns once
    the server is burning CPU on it (the state, not a time), with the socket that sent it."""
    s.client(socket_timeout=ANSWER_WITHIN).set(b"a" * 4_000_000, b"v")
    busy_from = cpu_seconds(s.proc.pid)
    sock = socket.create_connection((s.host, s.port))
    pat = b"*" + b"a" * 100_000 + b"b"
    sock.sendall(b"*2\r\n$4\r\nKEYS\r\n$%d\r\n%s\r\n" % (len(pat), pat))
    deadline = time.time() + 60
    while cpu_seconds(s.proc.pid) - busy_from < 1.0:
        assert time.time() < deadline, "the KEYS never started"
        time.sleep(0.05)
    return sock


@pytest.mark.parametrize("threads", ["1", "2"])
def test_sigterm_stops_the_server_while_a_command_runs_long(threads):
    """SIGTERM must stop the process while a command runs for minutes: the stop watchdog exits
    it once the grace window (10 s) has passed."""
    s = start_respd("--worker-threads", threads)
    try:
        sock = start_long_keys(s)
        s.proc.send_signal(signal.SIGTERM)
        try:
            rc = s.proc.wait(10 + 30)
        except subprocess.TimeoutExpired:
            pytest.fail("respd did not stop within 40 s of SIGTERM")
        assert rc == 0
        log = (Path(s.workdir) / "respd.log").read_bytes()
        assert b"SIGTERM received" in log
        assert b"exiting now" in log
        sock.close()
    finally:
        s.stop()


def test_a_second_sigint_exits_at_once():
    s = start_respd("--worker-threads", "1")
    try:
        sock = start_long_keys(s)
        s.proc.send_signal(signal.SIGINT)
        log = Path(s.workdir) / "respd.log"
        deadline = time.time() + 30
        while b"SIGINT received" not in log.read_bytes():
            assert time.time() < deadline, "the first SIGINT was not seen"
            time.sleep(0.05)
        s.proc.send_signal(signal.SIGINT)
        # Well inside the 10 s grace window the first SIGINT would have waited for.
        assert s.proc.wait(8) == 1
        assert b"SIGINT received again" in log.read_bytes()
        sock.close()
    finally:
        s.stop()


def test_shutdown_inside_multi_is_refused_and_the_server_stays_up(respd, redis_server):
    """Redis 7.0 refuses a `no-multi` command when it is queued and aborts the EXEC."""
    for srv in (respd, redis_server):
        c = srv.client(socket_timeout=ANSWER_WITHIN)
        c.set("k", "v")
        p = c.pipeline(transaction=False)
        p.execute_command("MULTI")
        p.execute_command("SET", "k", "changed")
        p.execute_command("SHUTDOWN", "NOSAVE")
        p.execute_command("EXEC")
        out = p.execute(raise_on_error=False)
        assert out[0] in (b"OK", "OK", True)
        assert isinstance(out[2], redis.ResponseError)
        assert str(out[2]) == "Command not allowed inside a transaction"
        assert isinstance(out[3], redis.ResponseError)
        assert str(out[3]).startswith("Transaction discarded because of previous errors")
        assert c.ping() is True
        assert c.get("k") == b"v"
