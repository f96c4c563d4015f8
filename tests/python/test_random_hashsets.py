"""Randomized differential test for hashes, sets and SORT: seeded random command sequences on a
small key space go to redis-server and respd, and the replies are compared one by one (in any
order where Redis's order is unspecified). Random commands (SPOP, SRANDMEMBER, HRANDFIELD) are
checked for their properties on respd instead, since no two servers pick the same members."""

import random

import pytest
import redis

from resp_raw import RawClient, parse

SEEDS = [1, 2, 3, 4]
STEPS = 400

HASHES = ["h0", "h1", "h2"]
SETS = ["s0", "s1", "s2", "s3"]
OTHER = ["str", "nokey"]
FIELDS = [f"f{i}" for i in range(8)]
MEMBERS = [str(i) for i in range(-3, 12)] + ["a", "b", "c", "x"]


def gen(rng):
    """One random command and how to compare its reply: exact, unordered or pairs."""
    hk = lambda: rng.choice(HASHES + OTHER[:1] if rng.random() < 0.05 else HASHES)
    sk = lambda: rng.choice(SETS + OTHER if rng.random() < 0.05 else SETS)
    f = lambda: rng.choice(FIELDS)
    m = lambda: rng.choice(MEMBERS)
    val = lambda: rng.choice(["1", "2", "-5", "0.5", "abc", "10", "1e3", ""])
    ops = [
        lambda: (["HSET", hk()] + sum(([f(), val()] for _ in range(rng.randint(1, 3))), []), "exact"),
        lambda: (["HSETNX", hk(), f(), val()], "exact"),
        lambda: (["HMSET", hk(), f(), val()], "exact"),
        lambda: (["HGET", hk(), f()], "exact"),
        lambda: (["HMGET", hk(), f(), f()], "exact"),
        lambda: (["HDEL", hk()] + [f() for _ in range(rng.randint(1, 4))], "exact"),
        lambda: (["HEXISTS", hk(), f()], "exact"),
        lambda: (["HLEN", hk()], "exact"),
        lambda: (["HSTRLEN", hk(), f()], "exact"),
        # Small hashes are listpacks in Redis: their order is insertion order, compared exactly.
        lambda: (["HKEYS", hk()], "exact"),
        lambda: (["HVALS", hk()], "exact"),
        lambda: (["HGETALL", hk()], "exact"),
        lambda: (["HSCAN", hk(), "0"], "exact"),
        lambda: (["HSCAN", hk(), "0", "MATCH", "f[0-3]"], "exact"),
        lambda: (["HINCRBY", hk(), f(), str(rng.randint(-5, 5))], "exact"),
        lambda: (["HINCRBYFLOAT", hk(), f(), rng.choice(["0.1", "-0.3", "1.5", "2", "1e-3"])], "exact"),
        lambda: (["SADD", sk()] + [m() for _ in range(rng.randint(1, 4))], "exact"),
        lambda: (["SREM", sk()] + [m() for _ in range(rng.randint(1, 4))], "exact"),
        lambda: (["SISMEMBER", sk(), m()], "exact"),
        lambda: (["SMISMEMBER", sk(), m(), m()], "exact"),
        lambda: (["SCARD", sk()], "exact"),
        lambda: (["SMEMBERS", sk()], "unordered"),
        lambda: (["SINTER", sk(), sk()], "unordered"),
        lambda: (["SUNION", sk(), sk(), sk()], "unordered"),
        lambda: (["SDIFF", sk(), sk()], "unordered"),
        lambda: (["SINTERSTORE", sk(), sk(), sk()], "exact"),
        lambda: (["SUNIONSTORE", sk(), sk(), sk()], "exact"),
        lambda: (["SDIFFSTORE", sk(), sk(), sk()], "exact"),
        lambda: (["SINTERCARD", "2", sk(), sk(), "LIMIT", str(rng.randint(0, 3))], "exact"),
        lambda: (["SMOVE", sk(), sk(), m()], "exact"),
        lambda: (["SPOP", sk(), "100"], "unordered"),
        lambda: (["SSCAN", sk(), "0"], "scan"),
        lambda: (["OBJECT", "ENCODING", rng.choice(SETS + HASHES)], "exact"),
        lambda: (["SORT", sk()], "exact"),
        lambda: (["SORT", sk(), "ALPHA", "DESC", "LIMIT", "1", "3"], "exact"),
        lambda: (["SORT", sk(), "BY", "h*->f0", "GET", "#", "GET", "h*->f1"], "exact"),
        lambda: (["SORT", sk(), "ALPHA", "STORE", "sorted"], "exact"),
        lambda: (["SORT", "sorted", "BY", "nosort", "DESC"], "exact"),
        lambda: (["TYPE", rng.choice(SETS + HASHES)], "exact"),
        lambda: (["EXISTS"] + SETS + HASHES, "exact"),
    ]
    return rng.choice(ops)()


def normalize(raw, mode):
    v = parse(raw)
    if mode == "unordered" and isinstance(v, list):
        return sorted(repr(x) for x in v)
    if mode == "scan" and isinstance(v, list) and len(v) == 2 and isinstance(v[1], list):
        return (v[0], sorted(repr(x) for x in v[1]))
    return raw


@pytest.mark.parametrize("seed", SEEDS)
def test_random_sequences_match_redis(seed, respd_shared, redis_shared):
    rng = random.Random(seed)
    a, b = RawClient(respd_shared.port), RawClient(redis_shared.port)
    try:
        for c in (a, b):
            c.cmd("FLUSHALL")
            c.cmd("SET", "str", "x")
        for step in range(STEPS):
            args, mode = gen(rng)
            ra, rb = a.cmd(*args), b.cmd(*args)
            assert normalize(ra, mode) == normalize(rb, mode), (
                f"seed {seed} step {step}: {args}\n respd: {ra[:300]!r}\n redis: {rb[:300]!r}"
            )
    finally:
        a.close(), b.close()


def test_random_commands_properties(respd):
    r = respd.client()
    members = {str(i) for i in range(20)} | {"a", "b"}
    r.sadd("s", *members)
    r.hset("h", mapping={f"f{i}": str(i) for i in range(10)})
    for _ in range(50):
        got = r.srandmember("s", 5)
        assert len(got) == 5 and len(set(got)) == 5 and {x.decode() for x in got} <= members
        got = r.srandmember("s", -30)
        assert len(got) == 30 and {x.decode() for x in got} <= members
        assert {x.decode() for x in r.srandmember("s", 100)} == members
        assert r.srandmember("s").decode() in members
        f = r.hrandfield("h", 4, withvalues=True)
        assert len(f) == 8 and len(set(f[0::2])) == 4
        assert all(b"f" + v == k for k, v in zip(f[0::2], f[1::2]))
        f = r.hrandfield("h", -25)
        assert len(f) == 25 and all(x.startswith(b"f") for x in f)
        assert len(r.hrandfield("h", 100)) == 10
    popped = set()
    while r.scard("s") > 3:
        got = r.spop("s", 3)
        assert len(got) == 3 and not (set(got) & popped)
        popped |= set(got)
    rest = set(r.spop("s", 10))
    assert not r.exists("s")
    assert {x.decode() for x in popped | rest} == members
    assert r.spop("s") is None


def test_big_collections_scan_and_encoding(respd):
    """Past the listpack/intset limits: table encodings, cursors that cover everything once."""
    r = respd.client()
    r.hset("h", mapping={f"field:{i}": i for i in range(1000)})
    r.sadd("s", *[f"m{i}" for i in range(1000)])
    r.sadd("i", *range(600))
    assert r.object("encoding", "h") == b"hashtable"
    assert r.object("encoding", "s") == b"hashtable"
    assert r.object("encoding", "i") == b"hashtable"
    calls, cursor, seen = 0, 0, []
    while True:
        cursor, part = r.hscan("h", cursor, count=10)
        seen.extend(part)
        calls += 1
        if cursor == 0 or calls > 10_000:
            break
    assert calls > 1 and sorted(seen) == sorted(f"field:{i}".encode() for i in range(1000))
    got = list(r.sscan_iter("s", count=7))
    assert len(got) == 1000 and len(set(got)) == 1000
    # Elements present for the whole scan are returned even while others are removed.
    cursor, part = r.sscan("s", 0, count=50)
    seen = set(part)
    r.srem("s", *[f"m{i}" for i in range(0, 1000, 2)])
    while cursor:
        cursor, part = r.sscan("s", cursor, count=50)
        seen |= set(part)
    assert {f"m{i}".encode() for i in range(1, 1000, 2)} <= seen


@pytest.mark.parametrize(
    "noop, change",
    [
        (("SADD", "s", "a"), ("SADD", "s", "new")),
        (("SREM", "s", "zz"), ("SREM", "s", "a")),
        (("SPOP", "s", "0"), ("SPOP", "s")),
        (("SMOVE", "s", "t", "zz"), ("SMOVE", "s", "t", "a")),
        (("HDEL", "h", "zz"), ("HDEL", "h", "f")),
        (("HSETNX", "h", "f", "x"), ("HSETNX", "h", "g", "x")),
    ],
)
def test_writes_that_change_nothing_leave_watch_alone(respd, redis_server, noop, change):
    """Redis marks a WATCHed key modified only when a command really changed it."""
    for srv in (respd, redis_server):
        r, other = srv.client(), srv.client()
        r.flushall()
        r.sadd("s", "a", "b")
        r.hset("h", "f", "v")
        for cmd, committed in ((noop, True), (change, False)):
            with r.pipeline() as p:
                p.watch(noop[1])
                other.execute_command(*cmd)
                p.multi()
                p.ping()
                # Only an aborted EXEC may count as "not committed": any other error fails the test.
                try:
                    p.execute()
                    ok = True
                except redis.WatchError:
                    ok = False
            assert ok == committed, (srv.name, cmd)


INT_MEMBERS = ["0", "1", "-3", "12", "300", "-32768", "32767", "32768", "-40000", "70000",
               "2147483648", "-5000000000", "9223372036854775807", "-9223372036854775808",
               "007", "+5", "a"]


def gen_set_thresholds(rng):
    """A set command over integers of every intset width (and a few non-integers), a change of
    `set-max-intset-entries`, or a RESTORE of a DUMP (own or the other server's)."""
    c = rng.randrange(30)
    k = lambda: rng.choice(SETS)
    m = lambda: rng.choice(INT_MEMBERS[:-3] if rng.random() < 0.9 else INT_MEMBERS)
    if c == 0:
        return ["CONFIG", "SET", "set-max-intset-entries", str(rng.choice([0, 1, 2, 3, 5, 8, 512]))]
    if c in (1, 2):
        return ["RESTORE", k(), "0", "(DUMP)", "REPLACE", rng.choice(["own", "cross"])]
    ops = [
        lambda: ["SADD", k()] + [m() for _ in range(rng.randint(1, 4))],
        lambda: ["SADD", k()] + [m() for _ in range(rng.randint(1, 4))],
        lambda: ["SREM", k()] + [m() for _ in range(rng.randint(1, 3))],
        lambda: ["SISMEMBER", k(), m()],
        lambda: ["SMISMEMBER", k(), m(), m()],
        lambda: ["SCARD", k()],
        lambda: ["SINTERSTORE", k(), k(), k()],
        lambda: ["SUNIONSTORE", k(), k(), k()],
        lambda: ["SDIFFSTORE", k(), k(), k()],
        lambda: ["SMOVE", k(), k(), m()],
        lambda: ["SORT", k()],
    ]
    return rng.choice(ops)()


def restore_both(a, b, args, where):
    """A RESTORE step of the encodings runs: each server DUMPs the key, then RESTOREs its own
    payload or (args[5] == "cross") the other's. None when the key is missing on both; else
    the two replies and the payloads as each server restored them."""
    dumps = [c.cmd("DUMP", args[1]) for c in (a, b)]
    assert dumps[0].startswith(b"$-1") == dumps[1].startswith(b"$-1"), (where, dumps)
    if dumps[1].startswith(b"$-1"):
        return None
    payloads = [d[d.index(b"\r\n") + 2:-2] for d in dumps]
    if args[5] == "cross":
        payloads.reverse()
    ra, rb = (c.cmd(*args[:3], p, "REPLACE") for c, p in zip((a, b), payloads))
    return ra, rb, payloads


@pytest.mark.parametrize("seed", [21, 22])
def test_random_set_encodings(seed, respd_shared, redis_shared):
    """Differential run across the intset threshold and widths: after every command each set's
    OBJECT ENCODING is redis-server's; an intset's SMEMBERS (ascending) and DUMP bytes are too,
    and either server restores the other's payload."""
    rng = random.Random(seed)
    a, b = RawClient(respd_shared.port), RawClient(redis_shared.port)
    try:
        for c in (a, b):
            c.cmd("FLUSHALL")
        for i in range(1200):
            args = gen_set_thresholds(rng)
            if args[0] == "RESTORE":
                step = restore_both(a, b, args, (seed, i))
                if step is None:
                    continue
                ra, rb, payloads = step
            else:
                ra, rb = a.cmd(*args), b.cmd(*args)
            assert ra == rb, f"seed {seed} step {i}: {' '.join(args)}\n respd {ra!r}\n redis {rb!r}"
            for k in SETS:
                ea, eb = a.cmd("OBJECT", "ENCODING", k), b.cmd("OBJECT", "ENCODING", k)
                assert ea == eb, f"seed {seed} step {i} after {' '.join(args)}: {k} respd {ea!r} redis {eb!r}"
                if ea == b"$6\r\nintset\r\n":
                    for cmd in (["SMEMBERS", k], ["SSCAN", k, "0"]):
                        assert a.cmd(*cmd) == b.cmd(*cmd), f"seed {seed} step {i}: {cmd}"
                    # Same bytes (width, order) unless Redis LZF-compressed the blob (0xc3), which
                    # respd's DUMP never does.
                    da, db = a.cmd("DUMP", k), b.cmd("DUMP", k)
                    if db[db.index(b"\r\n") + 3] != 0xC3:
                        assert da == db, f"seed {seed} step {i}: DUMP {k}"
                    got = parse(a.cmd("SRANDMEMBER", k, "3"))
                    assert set(got) <= set(parse(b.cmd("SMEMBERS", k))) and len(set(got)) == len(got)
        for k in SETS:
            assert normalize(a.cmd("SMEMBERS", k), "unordered") == normalize(b.cmd("SMEMBERS", k), "unordered")
    finally:
        for c in (a, b):
            c.cmd("CONFIG", "SET", "set-max-intset-entries", "512")
        a.close(), b.close()


def test_intset_width_survives_restore(respd_shared, redis_shared):
    """Redis never narrows an intset: after the wide member goes, DUMP still has 8-byte integers,
    and a RESTORE (of either server's payload) keeps them, so the bytes stay Redis's."""
    a, b = RawClient(respd_shared.port), RawClient(redis_shared.port)
    try:
        for c in (a, b):
            c.cmd("DEL", "w", "w2")
            c.cmd("SADD", "w", "1", "5000000000")
            c.cmd("SREM", "w", "5000000000")
        da, db = a.cmd("DUMP", "w"), b.cmd("DUMP", "w")
        assert da == db and b"\x08\x00\x00\x00\x01\x00\x00\x00" in da
        for c in (a, b):
            for d in (da, db):
                assert c.cmd("RESTORE", "w2", "0", d[d.index(b"\r\n") + 2:-2], "REPLACE") == b"+OK\r\n"
                assert c.cmd("DUMP", "w2") == db
                assert c.cmd("OBJECT", "ENCODING", "w2") == b"$6\r\nintset\r\n"
    finally:
        a.close(), b.close()


HASH_VALUES = ["1", "-5", "0.5", "abc", "", "007", "9223372036854775807", "x" * 9]
LONG_VALUES = ["y" * 64, "z" * 65, "w" * 200]


def gen_hash_thresholds(rng):
    """A hash command whose fields and values sit on both sides of `hash-max-listpack-value`,
    a change of either `hash-max-listpack-*` limit, or a RESTORE of a DUMP (own or the other
    server's)."""
    c = rng.randrange(30)
    k = lambda: rng.choice(HASHES)
    f = lambda: rng.choice(FIELDS if rng.random() < 0.95 else FIELDS + ["F" * 70])
    # Long values are rare and DEL is common, so keys keep coming back as listpacks.
    v = lambda: rng.choice(HASH_VALUES if rng.random() < 0.93 else LONG_VALUES)
    if c == 0:
        return ["CONFIG", "SET", "hash-max-listpack-entries", str(rng.choice([0, 1, 2, 3, 5, 8, 512]))]
    if c == 1:
        return ["CONFIG", "SET", "hash-max-listpack-value", str(rng.choice([1, 3, 8, 19, 64, 64, 100]))]
    if c in (2, 3):
        return ["RESTORE", k(), "0", "(DUMP)", "REPLACE", rng.choice(["own", "cross"])]
    ops = [
        lambda: ["HSET", k()] + [x for _ in range(rng.randint(1, 3)) for x in (f(), v())],
        lambda: ["HSET", k(), f(), v()],
        lambda: ["HSETNX", k(), f(), v()],
        lambda: ["HDEL", k()] + [f() for _ in range(rng.randint(1, 3))],
        lambda: ["HDEL", k(), f()],
        lambda: ["DEL", k()],
        lambda: ["HINCRBY", k(), f(), str(rng.choice([1, -7, 1000, 2**40]))],
        # Increments that print in 60+ digits grow a value past 64 bytes.
        lambda: ["HINCRBYFLOAT", k(), f(), rng.choice(["1.5", "-2", "1e20", "1e70", "-1e66"])],
        lambda: ["HGET", k(), f()],
        lambda: ["HMGET", k(), f(), f()],
        lambda: ["HSTRLEN", k(), f()],
        lambda: ["HEXISTS", k(), f()],
        lambda: ["HLEN", k()],
    ]
    return rng.choice(ops)()


@pytest.mark.parametrize("seed", [31, 32, 33])
def test_random_hash_encodings(seed, respd_shared, redis_shared):
    """Differential run across the listpack thresholds in both directions (grow past, CONFIG
    SET of either limit mid-run, HINCRBYFLOAT growing a value past 64 bytes, RESTORE): after
    every command each hash's OBJECT ENCODING is redis-server's, a listpack's HGETALL, HKEYS,
    HVALS and HSCAN are in Redis's order, and its DUMP bytes are Redis's. A table's order is
    each server's own, so a listpack restored from a table's payload is compared unordered
    until the key goes."""
    rng = random.Random(seed)
    unordered = set()
    a, b = RawClient(respd_shared.port), RawClient(redis_shared.port)
    try:
        for c in (a, b):
            c.cmd("FLUSHALL")
        for i in range(1000):
            args = gen_hash_thresholds(rng)
            if args[0] == "RESTORE":
                step = restore_both(a, b, args, (seed, i))
                if step is None:
                    continue
                ra, rb, payloads = step
                # Type 4 is RDB_TYPE_HASH, a table's fields in its own order (a listpack's payload
                # carries the order of the key it came from).
                if payloads[0][0] == 4:
                    unordered.add(args[1])
            else:
                ra, rb = a.cmd(*args), b.cmd(*args)
            assert ra == rb, f"seed {seed} step {i}: {' '.join(args)}\n respd {ra!r}\n redis {rb!r}"
            for k in HASHES:
                if b.cmd("EXISTS", k) == b":0\r\n":
                    unordered.discard(k)
                ea, eb = a.cmd("OBJECT", "ENCODING", k), b.cmd("OBJECT", "ENCODING", k)
                assert ea == eb, f"seed {seed} step {i} after {' '.join(args)}: {k} respd {ea!r} redis {eb!r}"
                if ea == b"$8\r\nlistpack\r\n" and k not in unordered:
                    for cmd in (["HGETALL", k], ["HKEYS", k], ["HVALS", k], ["HSCAN", k, "0"]):
                        assert a.cmd(*cmd) == b.cmd(*cmd), f"seed {seed} step {i}: {cmd}"
                    da, db = a.cmd("DUMP", k), b.cmd("DUMP", k)
                    if db[db.index(b"\r\n") + 3] != 0xC3:
                        assert da == db, f"seed {seed} step {i}: DUMP {k}"
                else:
                    assert normalize(a.cmd("HGETALL", k), "unordered") == normalize(
                        b.cmd("HGETALL", k), "unordered"), f"seed {seed} step {i}: HGETALL {k}"
    finally:
        for c in (a, b):
            c.cmd("CONFIG", "SET", "hash-max-listpack-entries", "512")
            c.cmd("CONFIG", "SET", "hash-max-listpack-value", "64")
        a.close(), b.close()
