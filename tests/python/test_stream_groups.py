"""Consumer-group flow with redis-py: a producer, two consumers sharing the work, acknowledgements,
the pending list, and a third consumer claiming what a stopped consumer left behind."""

import time

import pytest
import redis


@pytest.fixture(params=["respd", "redis"])
def server(request, respd, redis_server):
    return respd if request.param == "respd" else redis_server


def test_group_flow(server):
    r = server.client(decode_responses=True)
    ids = [r.xadd("jobs", {"n": str(i), "payload": "x" * i}) for i in range(20)]
    assert r.xlen("jobs") == 20
    assert r.xgroup_create("jobs", "workers", id="0") is True

    # Two consumers take turns; each gets distinct entries.
    seen = {"alice": [], "bob": []}
    for _ in range(4):
        for name in ("alice", "bob"):
            got = r.xreadgroup("workers", name, {"jobs": ">"}, count=3)
            for _stream, entries in got:
                seen[name].extend(eid for eid, _ in entries)
    assert not set(seen["alice"]) & set(seen["bob"])
    assert sorted(seen["alice"] + seen["bob"]) == sorted(ids)

    # Alice acknowledges her work; bob stops without acknowledging.
    assert r.xack("jobs", "workers", *seen["alice"]) == len(seen["alice"])
    summary = r.xpending("jobs", "workers")
    assert summary["pending"] == len(seen["bob"])
    assert summary["min"] == min(seen["bob"], key=lambda i: tuple(map(int, i.split("-"))))
    assert summary["consumers"] == [{"name": "bob", "pending": len(seen["bob"])}]
    detail = r.xpending_range("jobs", "workers", "-", "+", 100)
    assert [d["message_id"] for d in detail] == sorted(seen["bob"], key=lambda i: tuple(map(int, i.split("-"))))
    assert all(d["consumer"] == "bob" and d["times_delivered"] == 1 for d in detail)

    # Carol claims bob's entries once they have been idle long enough.
    time.sleep(0.05)
    claimed = r.xclaim("jobs", "workers", "carol", 20, seen["bob"][:2])
    assert [c[0] for c in claimed] == seen["bob"][:2]
    cursor, rest, deleted = r.xautoclaim("jobs", "workers", "carol", 20, "0-0", count=100)
    assert cursor == "0-0" and deleted == []
    assert len(rest) == len(seen["bob"]) - 2
    detail = r.xpending_range("jobs", "workers", "-", "+", 100)
    assert all(d["consumer"] == "carol" and d["times_delivered"] == 2 for d in detail)
    assert r.xack("jobs", "workers", *seen["bob"]) == len(seen["bob"])
    assert r.xpending("jobs", "workers")["pending"] == 0

    groups = r.xinfo_groups("jobs")
    assert groups[0]["name"] == "workers" and groups[0]["pending"] == 0
    assert groups[0]["last-delivered-id"] == ids[-1]
    assert groups[0]["lag"] == 0 and groups[0]["entries-read"] == 20
    consumers = {c["name"]: c for c in r.xinfo_consumers("jobs", "workers")}
    assert set(consumers) == {"alice", "bob", "carol"}
    info = r.xinfo_stream("jobs")
    assert info["length"] == 20 and info["groups"] == 1
    assert info["first-entry"][0] == ids[0] and info["last-entry"][0] == ids[-1]
    assert r.xgroup_delconsumer("jobs", "workers", "bob") == 0
    assert r.xgroup_destroy("jobs", "workers") == 1


def test_trim_and_read(server):
    r = server.client(decode_responses=True)
    for i in range(1, 11):
        r.xadd("s", {"i": i}, id=f"{i}-0", maxlen=5, approximate=False)
    assert r.xlen("s") == 5
    assert [e[0] for e in r.xrange("s")] == [f"{i}-0" for i in range(6, 11)]
    assert [e[0] for e in r.xrevrange("s", count=2)] == ["10-0", "9-0"]
    assert r.xread({"s": "8-0"}) == [["s", [("9-0", {"i": "9"}), ("10-0", {"i": "10"})]]]
    assert r.xtrim("s", minid="8-0", approximate=False) == 2
    assert r.xdel("s", "8-0", "99-0") == 1
    with pytest.raises(redis.ResponseError, match="equal or smaller"):
        r.xadd("s", {"a": 1}, id="3-0")


def test_resp3_read(respd):
    r = respd.client(protocol=3, decode_responses=True)
    r.xadd("s", {"a": "1"}, id="1-0")
    got = r.xread({"s": "0"})
    assert got == {"s": [[("1-0", {"a": "1"})]]} or got == {"s": [("1-0", {"a": "1"})]}


def test_keyspace_events(server):
    r = server.client(decode_responses=True)
    p = r.pubsub()
    r.config_set("notify-keyspace-events", "KEA")
    p.psubscribe("__keyevent@0__:*")
    deadline = time.time() + 10
    while True:
        assert time.time() < deadline, "no psubscribe confirmation"
        m = p.get_message(timeout=0.2)
        if m and m["type"] == "psubscribe":
            break
    r.xadd("s", {"a": 1}, id="1-0", maxlen=0)
    r.xgroup_create("s", "g", id="$")
    r.xgroup_createconsumer("s", "g", "c")
    r.xgroup_setid("s", "g", id="0")
    r.xgroup_delconsumer("s", "g", "c")
    r.xgroup_destroy("s", "g")
    r.xadd("s", {"a": 1}, id="2-0")
    r.xdel("s", "2-0")
    r.execute_command("XSETID", "s", "5-0")
    r.xtrim("s", maxlen=0, approximate=False)  # nothing left to trim: no event
    r.delete("s")
    r.set("end", "1")  # the last event: an extra event before it shows as a mismatch
    want = ["xadd", "xtrim", "xgroup-create", "xgroup-createconsumer", "xgroup-setid",
            "xgroup-delconsumer", "xgroup-destroy", "xadd", "xdel", "xsetid", "del", "set"]
    events = []
    deadline = time.time() + 20  # only a bound: the loop ends when every expected event came
    while len(events) < len(want) and time.time() < deadline:
        m = p.get_message(timeout=0.2)
        if m and m["type"] == "pmessage":
            events.append(m["channel"].split(":", 1)[1])
    assert events == want


def test_watch_sees_entry_changes_only(server):
    # Redis signals WATCHers for XADD and actual XDEL/XTRIM deletions, not for group bookkeeping.
    a, b = server.client(), server.client()
    a.xadd("s", {"a": 1}, id="1-0")
    a.xgroup_create("s", "g", id="0")

    def aborted(change):
        p = a.pipeline()
        p.watch("s")
        change()
        p.multi()
        p.get("x")
        try:
            p.execute()
            return False
        except redis.WatchError:
            return True

    assert not aborted(lambda: b.xreadgroup("g", "c", {"s": ">"}))
    assert not aborted(lambda: b.xack("s", "g", "1-0"))
    assert not aborted(lambda: b.xclaim("s", "g", "d", 0, ["1-0"], force=True))
    assert not aborted(lambda: b.xautoclaim("s", "g", "e", 0))
    assert not aborted(lambda: b.xgroup_createconsumer("s", "g", "z"))
    assert not aborted(lambda: b.xgroup_setid("s", "g", "0"))
    assert not aborted(lambda: b.xdel("s", "9-0"))
    assert not aborted(lambda: b.execute_command("XSETID", "s", "99-0"))
    assert aborted(lambda: b.xadd("s", {"a": 1}, id="100-0"))
    assert aborted(lambda: b.xdel("s", "1-0"))
    assert aborted(lambda: b.xtrim("s", maxlen=0, approximate=False))
