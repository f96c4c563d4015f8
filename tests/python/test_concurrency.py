"""Concurrent multi-key commands against respd's shard locks: several clients run MSET, RENAME,
SMOVE, LMOVE and MULTI/EXEC over the same keys, each naming them in its own order, on a server with
several worker threads (on a 2-core machine the default is one worker, where locks never contend).
Nothing may deadlock (every client finishes within a generous bound) and the invariants hold.

Every load loop is bounded in count and in time."""

import random
import threading
import time

import pytest

from conftest import start_respd

ROUNDS = 100  # pipelines per client
BATCH = 50  # commands per pipeline
DEADLINE = 60  # seconds for the whole load; only a bound, never a speed check
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


def queue_writes(p, rng, tag):
    """Queues one random multi-key write on `p`, naming its keys in a random order."""
    op = rng.randrange(5)
    if op == 0:
        p.mset({k: tag for k in rng.sample(STRS, len(STRS))})
    elif op == 1:
        a, b = rng.sample(SETS, 2)
        p.smove(a, b, f"t{rng.randrange(TOKENS)}")
    elif op == 2:
        a, b = rng.sample(LISTS, 2)
        p.lmove(a, b, rng.choice(["LEFT", "RIGHT"]), rng.choice(["LEFT", "RIGHT"]))
    elif op == 3:
        p.rename(*rng.sample(NAMES, 2))  # fails with "no such key" where the token is not
    else:
        a, b = rng.sample(COUNTERS, 2)
        p.execute_command("INCRBY", a, 1)
        p.execute_command("DECRBY", b, 1)  # not atomic with the INCRBY: checked only at the end


def worker(server, seed, errors, stop_at):
    rng = random.Random(seed)
    r = server.client(socket_timeout=20)
    try:
        for n in range(ROUNDS):
            if time.monotonic() > stop_at:
                break
            # A pipeline keeps this client's commands arriving together, so the server's worker
            # threads run many multi-key commands at once, each locking its shards.
            p = r.pipeline(transaction=False)
            for _ in range(BATCH):
                queue_writes(p, rng, f"{seed}:{n}")
            for res in p.execute(raise_on_error=False):
                if isinstance(res, Exception):
                    assert "no such key" in str(res), res  # RENAME of a name without the token
            # A transaction: EXEC locks every shard while the others lock a few.
            t = r.pipeline(transaction=True)
            a, b = rng.sample(COUNTERS, 2)
            t.incr(a)
            t.decr(b)
            for _ in range(3):
                queue_writes(t, rng, f"{seed}:{n}:x")
            t.mget(STRS)
            t.mget(COUNTERS)
            for k in SETS:
                t.scard(k)
            for k in LISTS:
                t.llen(k)
            got = t.execute(raise_on_error=False)
            sizes = got[-8:]
            assert sum(sizes[:4]) == TOKENS and sum(sizes[4:]) == TOKENS, sizes
            # Readers see no half-done MSET.
            vals = r.mget(rng.sample(STRS, len(STRS)))
            assert len(set(vals)) == 1, f"MSET seen half done: {vals}"
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
