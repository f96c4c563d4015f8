"""Pub/sub with real concurrent clients: raw RESP2/RESP3 flows compared byte for byte with
redis-server, redis-py's PubSub (RESP2 and RESP3), large messages, the pubsub output buffer limit,
and keyspace notifications."""

import time

import pytest
import redis

from resp_raw import RawClient, parse


def flow(port, proto):
    """Runs one subscribe/publish/unsubscribe conversation and returns every reply's raw bytes."""
    sub, pub = RawClient(port), RawClient(port)
    out = []
    if proto == 3:
        sub.cmd("HELLO", "3")
    out.append(sub.cmd("UNSUBSCRIBE"))
    out.append(sub.cmd("PUNSUBSCRIBE"))
    out.append(sub.cmd("SUBSCRIBE", "news", "sport"))
    out.append(sub.read_reply())
    out.append(sub.cmd("SUBSCRIBE", "news"))
    out.append(sub.cmd("PSUBSCRIBE", "n*", "x?z"))
    out.append(sub.read_reply())
    out.append(sub.cmd("PING"))
    out.append(sub.cmd("PING", "hi"))
    out.append(sub.cmd("GET", "k"))
    out.append(pub.cmd("PUBLISH", "news", "one"))
    out.append(sub.read_reply())
    out.append(sub.read_reply())
    out.append(pub.cmd("PUBLISH", "xyz", "two"))
    out.append(sub.read_reply())
    out.append(pub.cmd("PUBLISH", "nobody", ""))
    out.append(sub.read_reply())
    out.append(pub.cmd("PUBLISH", "other", "x"))
    out.append(pub.cmd("PUBSUB", "NUMSUB", "news", "sport", "nope"))
    out.append(pub.cmd("PUBSUB", "NUMPAT"))
    out.append(sorted(parse(pub.cmd("PUBSUB", "CHANNELS"))))
    out.append(pub.cmd("PUBSUB", "CHANNELS", "n*"))
    out.append(sub.cmd("UNSUBSCRIBE", "sport", "never"))
    out.append(sub.read_reply())
    out.append(sub.cmd("PUNSUBSCRIBE", "x?z"))
    out.append(sub.cmd("PUNSUBSCRIBE"))
    out.append(sub.cmd("UNSUBSCRIBE"))
    out.append(sub.cmd("UNSUBSCRIBE"))
    out.append(sub.cmd("PING"))
    out.append(pub.cmd("PUBSUB", "NUMPAT"))
    out.append(pub.cmd("PUBSUB", "CHANNELS"))
    out.append(sub.cmd("SUBSCRIBE", "again"))
    out.append(sub.cmd("RESET"))
    out.append(pub.cmd("PUBSUB", "NUMSUB", "again"))
    sub.close(), pub.close()
    return out


@pytest.mark.parametrize("proto", [2, 3])
def test_raw_flow_same_as_redis(proto, respd_shared, redis_shared):
    assert flow(respd_shared.port, proto) == flow(redis_shared.port, proto)


def wait_msg(p, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = p.get_message(ignore_subscribe_messages=True, timeout=0.2)
        if m is not None:
            return m
    raise AssertionError("no message within timeout")


@pytest.mark.parametrize("proto", [2, 3])
def test_redis_py_pubsub(proto, respd_shared):
    r = respd_shared.client(protocol=proto)
    p = r.pubsub()
    p.subscribe("ch1")
    p.psubscribe("pat.*")
    for _ in range(2):
        m = p.get_message(timeout=2)
        assert m is not None and m["type"] in ("subscribe", "psubscribe")
    assert p.get_message(timeout=0.1) is None
    assert r.publish("ch1", b"a") == 1
    assert r.publish("pat.x", b"b") == 1
    assert r.publish("none", b"c") == 0
    m = wait_msg(p)
    assert (m["type"], m["channel"], m["data"]) == ("message", b"ch1", b"a")
    m = wait_msg(p)
    assert (m["type"], m["pattern"], m["channel"], m["data"]) == ("pmessage", b"pat.*", b"pat.x", b"b")
    assert r.pubsub_numsub("ch1") == [(b"ch1", 1)]
    assert r.pubsub_numpat() == 1
    p.unsubscribe()
    p.punsubscribe()
    p.close()
    eventually(lambda: r.pubsub_numsub("ch1") == [(b"ch1", 0)])
    assert r.pubsub_numpat() == 0


def test_16mib_message_to_three_subscribers(respd_shared):
    r = respd_shared.client()
    subs = [r.pubsub() for _ in range(3)]
    for p in subs:
        p.subscribe("big")
        assert p.get_message(timeout=2)["type"] == "subscribe"
    payload = bytes(range(256)) * (16 * 4096)
    assert len(payload) == 16 << 20
    assert r.publish("big", payload) == 3
    for p in subs:
        m = wait_msg(p, timeout=20)
        assert m["data"] == payload
        p.close()


def eventually(check, timeout=5.0):
    deadline = time.time() + timeout
    while not check():
        if time.time() > deadline:
            raise AssertionError("condition not met within timeout")
        time.sleep(0.02)


def vm_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_slow_subscriber_is_cut_off_and_memory_stays_bounded():
    from conftest import start_respd

    srv = start_respd()
    try:
        pid = srv.proc.pid
        slow = RawClient(srv.port)
        assert parse(slow.cmd("SUBSCRIBE", "feed"))[0] == b"subscribe"
        other = srv.client()
        other.set("k", "v")
        payload = b"x" * (1 << 20)
        base = vm_rss_kib(pid)
        peak = base
        for i in range(200):
            other.publish("feed", payload)
            if i % 10 == 0:
                peak = max(peak, vm_rss_kib(pid))
        peak = max(peak, vm_rss_kib(pid))
        # 200 MiB published; the hard limit (32 MiB) bounds what is held for the slow client.
        assert (peak - base) < 100 * 1024, f"RSS grew by {(peak - base) // 1024} MiB"
        # Cut off while it never read: the server forgot it before the client drained anything.
        eventually(lambda: other.pubsub_numsub("feed") == [(b"feed", 0)])
        assert b"sub=1" not in other.execute_command("CLIENT", "LIST")
        assert other.get("k") == b"v"
        assert slow.closed_by_peer(timeout=10)
        assert srv.alive()
    finally:
        srv.stop()


def test_output_buffer_limit_is_configurable(respd_shared):
    r = respd_shared.client()
    old = r.config_get("client-output-buffer-limit")["client-output-buffer-limit"]
    try:
        r.config_set("client-output-buffer-limit", "pubsub 64kb 0 0")
        assert r.config_get("client-output-buffer-limit")["client-output-buffer-limit"] == (
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 65536 0 0"
        )
        slow = RawClient(respd_shared.port)
        slow.cmd("SUBSCRIBE", "lim")
        for _ in range(64):
            r.publish("lim", b"y" * 65536)
        assert slow.closed_by_peer(timeout=10)
        # A subscriber that reads keeps up and stays.
        p = r.pubsub()
        p.subscribe("lim2")
        assert p.get_message(timeout=2)["type"] == "subscribe"
        for i in range(50):
            r.publish("lim2", b"z" * 1000)
            assert wait_msg(p)["data"] == b"z" * 1000
        p.close()
    finally:
        r.config_set("client-output-buffer-limit", old)


def test_soft_limit_after_seconds():
    from conftest import start_respd

    srv = start_respd("--client-output-buffer-limit", "pubsub 0 64kb 1")
    try:
        r = srv.client()
        slow = RawClient(srv.port)
        slow.cmd("SUBSCRIBE", "soft")
        for _ in range(100):
            r.publish("soft", b"s" * 65536)
        # Over the soft limit, but not for a whole second yet: still subscribed.
        assert r.pubsub_numsub("soft") == [(b"soft", 1)]
        time.sleep(1.2)
        r.publish("soft", b"s")
        time.sleep(0.1)
        r.publish("soft", b"s")
        assert slow.closed_by_peer(timeout=10)
    finally:
        srv.stop()


def keyspace_events(port, flags):
    """Subscribes to every keyspace channel and returns the notifications a fixed sequence causes."""
    r = redis.Redis(port=port)
    r.flushall()
    r.config_set("notify-keyspace-events", flags)
    p = r.pubsub()
    p.psubscribe("__key*__:*")
    assert p.get_message(timeout=2)["type"] == "psubscribe"
    r.set("a", "1")
    r.set("b", "2")
    r.append("a", "x")
    r.incr("n")
    r.delete("a", "nokey")
    r.expire("b", 100)
    r.persist("b")
    r.set("t", "1", px=50)
    r.rename("b", "c")
    r.pexpire("c", 30)
    time.sleep(0.3)
    r.get("c")  # Lazy expiry, if the active cycle did not get there first.
    r.get("t")
    # The end is a message on a plain channel to the same subscriber: it comes after every event
    # the commands above published, so a quiet spell is never mistaken for the end.
    p.subscribe("zz-end")
    got = []
    deadline = time.time() + 20
    while True:
        assert time.time() < deadline, f"no end marker; got {got}"
        m = p.get_message(timeout=0.2)
        if m is None:
            continue
        if m["type"] == "subscribe":
            assert r.publish("zz-end", "1") == 1  # only once the subscription is in place
            continue
        if m["type"] == "message" and m["channel"] == b"zz-end":
            break
        got.append((m["channel"], m["data"]))
    p.close()
    r.config_set("notify-keyspace-events", "")
    return got


@pytest.mark.parametrize("flags", ["KEA", "Kg", "E$", "Ex", "KA"])
def test_keyspace_notifications_as_redis(flags, respd_shared, redis_shared):
    mine = keyspace_events(respd_shared.port, flags)
    theirs = keyspace_events(redis_shared.port, flags)
    # Expiry order between two keys may differ (active vs lazy), so compare as multisets too.
    assert sorted(mine) == sorted(theirs)
    def ordered(events):
        return [e for e in events if not any(b"expired" in x for x in e)]

    assert ordered(mine) == ordered(theirs)


def test_evicted_events_and_info_counts():
    from conftest import start_respd

    srv = start_respd("--maxmemory-policy", "allkeys-random", "--notify-keyspace-events", "Ee")
    try:
        r = srv.client()
        p = r.pubsub()
        p.subscribe("__keyevent@0__:evicted")
        p.psubscribe("x*", "y*")
        for _ in range(3):
            assert p.get_message(timeout=2) is not None
        info = r.info("stats")
        assert (info["pubsub_channels"], info["pubsub_patterns"]) == (1, 2)
        used = r.info("memory")["used_memory"]
        r.config_set("maxmemory", used + (4 << 20))
        for i in range(40):
            r.set(f"k{i}", b"v" * (256 << 10))
        m = wait_msg(p)
        assert m["channel"] == b"__keyevent@0__:evicted" and m["data"].startswith(b"k")
        assert r.info("stats")["evicted_keys"] > 0
    finally:
        srv.stop()
