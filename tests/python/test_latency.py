"""LATENCY and INFO latencystats against redis-server 7.0: the same replies where they do not
depend on timing (errors, empty states, DOCTOR's texts, HELP), the same events and call counts
where they do (a slow script with latency-monitor-threshold set)."""

import re

import pytest

from resp_raw import RawClient, parse

SLOW = "local t = redis.call('time'); local s = t[1] * 1000000 + t[2]; " \
       "repeat t = redis.call('time') until t[1] * 1000000 + t[2] - s > 60000; return 1"


@pytest.fixture
def pair(respd, redis_server):
    a, b = RawClient(respd.port), RawClient(redis_server.port)
    yield a, b
    a.close()
    b.close()


@pytest.mark.parametrize("proto", [2, 3])
def test_latency_replies_as_redis(pair, proto):
    a, b = pair
    for c in pair:
        c.cmd("HELLO", str(proto))
    for args in (["LATENCY", "LATEST"], ["LATENCY", "HISTORY", "command"], ["LATENCY", "RESET"],
                 ["LATENCY", "RESET", "command", "x"], ["LATENCY", "GRAPH", "command"],
                 ["LATENCY", "DOCTOR"], ["LATENCY", "HELP"], ["LATENCY", "NOSUCH"], ["LATENCY"],
                 ["LATENCY", "HISTOGRAM", "nosuchcmd"], ["LATENCY", "HISTORY"]):
        assert a.cmd(*args) == b.cmd(*args), args
    for c in pair:
        c.cmd("CONFIG", "SET", "latency-monitor-threshold", "1")
    assert a.cmd("LATENCY", "DOCTOR") == b.cmd("LATENCY", "DOCTOR")


def test_latency_events_and_histograms(pair):
    a, b = pair
    out = {}
    for name, c in (("respd", a), ("redis", b)):
        c.cmd("HELLO", "3")
        c.cmd("CONFIG", "SET", "latency-monitor-threshold", "20")
        c.cmd("CONFIG", "RESETSTAT")
        assert c.cmd("EVAL", SLOW, "0") == b":1\r\n"
        for i in range(3):
            c.cmd("SET", f"k{i}", "v")
        c.cmd("GET", "k0")
        # Only the slow script's class: on a loaded machine a fast command may pass 20 ms too.
        latest = [e for e in parse(c.cmd("LATENCY", "LATEST")) if e[0] == b"command"]
        history = parse(c.cmd("LATENCY", "HISTORY", "command"))
        hist = parse(c.cmd("LATENCY", "HISTOGRAM", "set", "get", "config"))
        info = parse(c.cmd("INFO", "latencystats")).decode()
        graph = parse(c.cmd("LATENCY", "GRAPH", "command")).decode()
        out[name] = dict(
            events=[e[0] for e in latest],
            slow=[e[2] >= 55 and e[3] >= e[2] for e in latest],
            history=len(history),
            # parse() keys a RESP3 map by the repr of each key.
            calls={k: v["b'calls'"] for k, v in hist.items()},
            cumulative_ok=all(max(v["b'histogram_usec'"].values()) == v["b'calls'"] for v in hist.values()),
            info=sorted(re.findall(r"latency_percentiles_usec_([a-z|]+):p50=[\d.]+,p99=[\d.]+,p99\.9=[\d.]+", info)),
            graph=graph.split("\n")[0].startswith("command - high "),
            reset=parse(c.cmd("LATENCY", "RESET")) >= 1,
        )
        assert c.cmd("LATENCY", "LATEST") == b"*0\r\n"
    assert out["respd"] == out["redis"]
    assert out["redis"]["events"] == [b"command"] and out["redis"]["calls"]["b'set'"] == 3
