"""Active expiry: keys whose TTL passed go away by themselves, without any client touching them
(the 100 ms expiry task), the way Redis's own tests check it: the key count falls (DBSIZE, INFO
keyspace) and INFO stats counts them in `expired_keys`. Same scenario on respd and redis-server."""

import time


def test_expired_keys_go_without_being_touched(each_server):
    r = each_server.client()
    p = r.pipeline(transaction=False)
    for i in range(1000):
        p.set(f"short:{i}", "v", px=100)
    for i in range(10):
        p.set(f"long:{i}", "v", ex=10_000)
        p.set(f"plain:{i}", "v")
    p.execute()
    # Only counters are read from here on: DBSIZE and INFO never look a key up, so nothing
    # expires lazily and only the active cycle can make the count fall.
    deadline = time.monotonic() + 30
    while r.dbsize() != 20:
        assert time.monotonic() < deadline, f"DBSIZE stayed {r.dbsize()}: no active expiry"
        time.sleep(0.05)
    assert r.info("stats")["expired_keys"] == 1000
    assert r.info("keyspace")["db0"]["keys"] == 20
    assert r.info("keyspace")["db0"]["expires"] == 10
    assert r.exists(*[f"long:{i}" for i in range(10)], *[f"plain:{i}" for i in range(10)]) == 20


def test_active_expiry_in_every_database(each_server):
    r = each_server.client()
    for db in (0, 5):
        c = each_server.client(db=db)
        for i in range(50):
            c.set(f"k{i}", "v", px=50)
    deadline = time.monotonic() + 30
    while r.info("keyspace"):
        assert time.monotonic() < deadline, f"keys left: {r.info('keyspace')}"
        time.sleep(0.05)
    assert r.info("stats")["expired_keys"] == 100
