"""Concurrent multi-key commands against respd's shard locks: several clients run MSET, RENAME,
SMOVE, LMOVE and MULTI/EXEC over the same keys, each naming them in its own order, on a server with
several worker threads (on a 2-core machine the default is one worker, where locks never contend).
Nothing may deadlock (every client finishes within a generous bound) and the invariants hold.

Every load loop is bounded in count and in time."""

import random
import threading
import time

import pytest
import redis

from conftest import start_respd

ROUNDS = 400  # per client
DEADLINE = 120  # seconds for the whole load; only a bound, never a speed check
SETS = [f"s{i}" for i in range(4)]
LISTS = [f"l{i}" for i in range(4)]
STRS = [f"m{i}" for i in range(6)]
NAMES = [f"r{i}" for i in range(6)]
COUNTERS = [f"c{i}" for i in range(6)]
TOKENS = 40


@pytest.fixture
def busy_respd():
    s = start_respd("--worker-threads", "4")
    try:
        yield s
        assert s.alive(), "respd died"
    finally:
        s.stop()


def worker(server, seed, errors, stop_at):
    rng = random.Random(seed)
    r = server.client(socket_timeout=30)
    try:
        for n in range(ROUNDS):
            if time.monotonic() > stop_at:
                break
            op = rng.randrange(6)
            if op == 0:
                keys = rng.sample(STRS, len(STRS))  # every order
                r.mset({k: f"{seed}:{n}" for k in keys})
            elif op == 1:
                a, b = rng.sample(SETS, 2)
                r.smove(a, b, f"t{rng.randrange(TOKENS)}")
            elif op == 2:
                a, b = rng.sample(LISTS, 2)
                r.lmove(a, b, rng.choice(["LEFT", "RIGHT"]), rng.choice(["LEFT", "RIGHT"]))
            elif op == 3:
                a, b = rng.sample(NAMES, 2)
                try:
                    r.rename(a, b)
                except redis.ResponseError as e:
                    assert "no such key" in str(e), e  # the token is elsewhere: fine
            elif op == 4:
                a, b = rng.sample(COUNTERS, 2)
                s1, s2 = rng.sample(SETS, 2)
                p = r.pipeline(transaction=True)
                p.incr(a)
                p.decr(b)
                p.smove(s1, s2, f"t{rng.randrange(TOKENS)}")
                p.lmove(rng.choice(LISTS), rng.choice(LISTS), "LEFT", "RIGHT")
                p.mset({k: f"{seed}:{n}" for k in rng.sample(STRS, len(STRS))})
                p.execute()
            else:
                # Readers see no half-done multi-key write.
                vals = r.mget(rng.sample(STRS, len(STRS)))
                assert len(set(vals)) == 1, f"MSET seen half done: {vals}"
                p = r.pipeline(transaction=True)
                p.mget(COUNTERS)
                for k in SETS:
                    p.scard(k)
                for k in LISTS:
                    p.llen(k)
                got = p.execute()
                assert sum(int(v or 0) for v in got[0]) == 0, got[0]
                assert sum(got[1:5]) == TOKENS, got[1:5]
                assert sum(got[5:9]) == TOKENS, got[5:9]
    except Exception as e:  # noqa: BLE001 - reported by the test
        errors.append(e)


def test_multi_key_commands_in_any_order_do_not_deadlock(busy_respd):
    r = busy_respd.client()
    assert r.config_get("worker-threads") == {"worker-threads": "4"}
    r.sadd(SETS[0], *[f"t{i}" for i in range(TOKENS)])
    r.rpush(LISTS[0], *[f"e{i}" for i in range(TOKENS)])
    r.mset({k: "start" for k in STRS})
    r.set(NAMES[0], "token")
    errors = []
    stop_at = time.monotonic() + DEADLINE
    threads = [threading.Thread(target=worker, args=(busy_respd, seed, errors, stop_at), daemon=True)
               for seed in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max(1.0, stop_at + 30 - time.monotonic()))
    assert not any(t.is_alive() for t in threads), "a client hung: deadlock?"
    assert not errors, errors
    # Invariants after the load: nothing lost, nothing duplicated.
    members = [m for k in SETS for m in r.smembers(k)]
    assert sorted(members) == sorted(f"t{i}".encode() for i in range(TOKENS))
    elems = [e for k in LISTS for e in r.lrange(k, 0, -1)]
    assert sorted(elems) == sorted(f"e{i}".encode() for i in range(TOKENS))
    assert sum(int(v or 0) for v in r.mget(COUNTERS)) == 0
    assert len(set(r.mget(STRS))) == 1
    assert [r.get(k) for k in NAMES].count(b"token") == 1
    assert r.exists(*NAMES) == 1
    assert r.ping()
