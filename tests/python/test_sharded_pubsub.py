"""Sharded pub/sub on a single node (SSUBSCRIBE, SUNSUBSCRIBE, SPUBLISH, PUBSUB SHARDCHANNELS /
SHARDNUMSUB): raw RESP2 and RESP3 conversations compared byte for byte with redis-server, and
CLIENT LIST's `ssub` field."""

import re

import pytest

from resp_raw import RawClient, parse


def flow(port, proto):
    sub, pub = RawClient(port), RawClient(port)
    out = []
    if proto == 3:
        sub.cmd("HELLO", "3")
    out.append(sub.cmd("SUNSUBSCRIBE"))
    out.append(sub.cmd("SSUBSCRIBE", "news"))
    out.append(sub.cmd("SSUBSCRIBE", "news", "sport"))
    out.append(sub.read_reply())
    out.append(sub.cmd("SUBSCRIBE", "plain"))
    out.append(sub.cmd("PSUBSCRIBE", "*"))
    out.append(sub.cmd("PING"))
    out.append(sub.cmd("GET", "k"))
    out.append(pub.cmd("SPUBLISH", "news", "one"))
    out.append(sub.read_reply())
    # A shard message does not reach channel or pattern subscribers, nor the reverse.
    out.append(pub.cmd("SPUBLISH", "plain", "x"))
    out.append(pub.cmd("PUBLISH", "news", "y"))
    out.append(sub.read_reply())  # the pattern's message of PUBLISH news
    out.append(pub.cmd("SPUBLISH", "nobody", "z"))
    out.append(pub.cmd("PUBSUB", "SHARDNUMSUB", "news", "sport", "plain", "nope"))
    out.append(pub.cmd("PUBSUB", "SHARDNUMSUB"))
    out.append(sorted(parse(pub.cmd("PUBSUB", "SHARDCHANNELS"))))
    out.append(pub.cmd("PUBSUB", "SHARDCHANNELS", "s*"))
    out.append(pub.cmd("PUBSUB", "NUMSUB", "news", "plain"))
    out.append(pub.cmd("PUBSUB", "CHANNELS", "news"))
    out.append(sub.cmd("SUNSUBSCRIBE", "sport", "never"))
    out.append(sub.read_reply())
    out.append(sub.cmd("UNSUBSCRIBE"))
    out.append(sub.cmd("PUNSUBSCRIBE"))
    out.append(sub.cmd("PING"))  # still in the subscribed context: a shard channel is left
    out.append(sub.cmd("SUNSUBSCRIBE"))
    out.append(sub.cmd("SUNSUBSCRIBE"))
    out.append(sub.cmd("PING"))
    out.append(pub.cmd("PUBSUB", "SHARDCHANNELS"))
    out.append(pub.cmd("MULTI"))
    out.append(pub.cmd("SSUBSCRIBE", "t"))
    out.append(pub.cmd("EXEC"))
    out.append(pub.cmd("SSUBSCRIBE"))
    out.append(pub.cmd("SPUBLISH", "only"))
    out.append(pub.cmd("COMMAND", "GETKEYS", "SPUBLISH", "ch", "m"))
    out.append(pub.cmd("COMMAND", "GETKEYS", "SSUBSCRIBE", "a", "b"))
    out.append(sub.cmd("SSUBSCRIBE", "again"))
    out.append(sub.cmd("RESET"))
    out.append(pub.cmd("PUBSUB", "SHARDNUMSUB", "again"))
    sub.close(), pub.close()
    return out


@pytest.mark.parametrize("proto", [2, 3])
def test_raw_flow_same_as_redis(proto, servers):
    a, b = servers
    want = flow(b.port, proto)
    assert b"smessage" in want[9]
    assert flow(a.port, proto) == want


def test_client_list_ssub_and_info(servers):
    for s in servers:
        sub, c = RawClient(s.port), RawClient(s.port)
        sub.cmd("SSUBSCRIBE", "a", "b")
        line = [ln for ln in parse(c.cmd("CLIENT", "LIST")).decode().splitlines() if "ssub=2" in ln]
        assert len(line) == 1 and " flags=P " in line[0] and " sub=0 psub=0 " in line[0], line
        assert b"id=" in parse(c.cmd("CLIENT", "LIST", "TYPE", "pubsub"))
        info = parse(c.cmd("INFO", "stats")).decode()
        assert re.search(r"pubsubshard_channels:2\r\n", info), info
        sub.close(), c.close()
