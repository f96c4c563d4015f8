"""Randomized differential test of the geo commands: seeded random points (clustered, spread,
near the poles and the antimeridian) and random searches of every shape, unit and option go to
redis-server and respd, and every reply is compared byte for byte (members, their order,
distances, hashes and coordinates as printed), in RESP2 and RESP3."""

import random

import pytest

from resp_raw import RawClient

UNITS = ["m", "km", "mi", "ft"]


def point(rng):
    kind = rng.random()
    if kind < 0.2:  # a cluster
        return rng.uniform(12, 16), rng.uniform(36, 39)
    if kind < 0.4:  # a region, searched across several boxes
        return rng.uniform(-20, 40), rng.uniform(20, 60)
    if kind < 0.55:  # near the antimeridian
        return rng.choice([-1, 1]) * rng.uniform(175, 180), rng.uniform(-60, 60)
    if kind < 0.7:  # near the poles
        return rng.uniform(-180, 180), rng.choice([-1, 1]) * rng.uniform(70, 85.05)
    return rng.uniform(-180, 180), rng.uniform(-85.05, 85.05)


def fmt(x):
    return f"{x:.6f}"


def options(rng, store_ok):
    opts = []
    for o in ["WITHDIST", "WITHCOORD", "WITHHASH"]:
        if rng.random() < 0.4 and not store_ok:
            opts.append(o)
    r = rng.random()
    if r < 0.3:
        opts.append(rng.choice(["ASC", "DESC"]))
    if rng.random() < 0.4:
        opts += ["COUNT", str(rng.randint(1, 12))]
        if rng.random() < 0.3:
            opts.append("ANY")
    rng.shuffle(opts)
    # COUNT's argument must follow it.
    if "COUNT" in opts:
        n = next(x for x in opts if x.isdigit())
        opts.remove(n)
        opts.insert(opts.index("COUNT") + 1, n)
    return opts


def random_command(rng, members):
    m = rng.choice(members)
    x, y = point(rng)
    unit = rng.choice(UNITS)
    radius = str(rng.choice([0, 1, 50, 500, 2000, 8000, 20000]) * (1000 if unit == "m" else 1) * rng.random())
    w, h = (str(rng.uniform(0, 3000)) for _ in range(2))
    frm = ["FROMMEMBER", m] if rng.random() < 0.5 else ["FROMLONLAT", fmt(x), fmt(y)]
    by = ["BYRADIUS", radius, unit] if rng.random() < 0.5 else ["BYBOX", w, h, "km"]
    cmds = [
        ["GEOSEARCH", "g", *frm, *by, *options(rng, False)],
        ["GEOSEARCH", "g", *frm, *by, *options(rng, False)],
        ["GEOSEARCHSTORE", "dst", "g", *frm, *by, *options(rng, True)] + (["STOREDIST"] if rng.random() < 0.5 else []),
        ["GEORADIUS", "g", fmt(x), fmt(y), radius, unit, *options(rng, False)],
        ["GEORADIUSBYMEMBER", "g", m, radius, unit, *options(rng, False)],
        ["GEORADIUS_RO", "g", fmt(x), fmt(y), radius, unit, *options(rng, False)],
        ["GEODIST", "g", m, rng.choice(members), unit],
        ["GEOPOS", "g", m, rng.choice(members), "nobody"],
        ["GEOHASH", "g", m, rng.choice(members)],
        ["ZRANGE", "dst", "0", "-1", "WITHSCORES"],
    ]
    return rng.choice(cmds)


@pytest.mark.parametrize("seed", range(6))
def test_random_geo_sequences_match_redis(seed, respd_shared, redis_shared):
    rng = random.Random(seed)
    proto = 3 if seed % 2 else 2
    a, b = RawClient(respd_shared.port), RawClient(redis_shared.port)
    for c in (a, b):
        assert c.cmd("FLUSHALL") == b"+OK\r\n"
        c.cmd("HELLO", str(proto))
    members = [f"p{i}" for i in range(rng.choice([30, 200]))]
    args = []
    for name in members:
        x, y = point(rng)
        args += [fmt(x), fmt(y), name]
    assert a.cmd("GEOADD", "g", *args) == b.cmd("GEOADD", "g", *args)
    history, found = [], 0
    for _ in range(300):
        cmd = random_command(rng, members)
        ra, rb = a.cmd(*cmd), b.cmd(*cmd)
        history.append(cmd)
        assert ra == rb, f"seed {seed}, after {history[-3:]}: respd {ra!r} redis {rb!r}"
        found += cmd[0].startswith("GEO") and len(ra) > 40
    # The searches found things (the comparison is not only of empty replies).
    assert found > 50, found
    a.close(), b.close()


@pytest.mark.parametrize("seed", range(3))
def test_unsorted_searches_visit_boxes_in_redis_order(seed, respd_shared, redis_shared):
    """A dense grid, so that most searches take members from several of the nine boxes: an
    unsorted reply (and ANY's early stop) shows the order the boxes were visited in."""
    rng = random.Random(100 + seed)
    a, b = RawClient(respd_shared.port), RawClient(redis_shared.port)
    lon0, lat0 = rng.uniform(-170, 150), rng.uniform(-70, 60)
    args = []
    for i in range(-30, 31):
        for j in range(-15, 16):
            args += [fmt(lon0 + i * 0.5), fmt(lat0 + j * 0.5), f"m{i}_{j}"]
    for c in (a, b):
        assert c.cmd("FLUSHALL") == b"+OK\r\n"
        c.cmd("GEOADD", "grid", *args)
    for _ in range(150):
        x, y = fmt(lon0 + rng.uniform(-12, 12)), fmt(lat0 + rng.uniform(-6, 6))
        by = (["BYRADIUS", str(rng.uniform(5, 900)), "km"] if rng.random() < 0.6
              else ["BYBOX", str(rng.uniform(5, 1500)), str(rng.uniform(5, 1500)), "km"])
        extra = ["COUNT", str(rng.randint(1, 40)), "ANY"] if rng.random() < 0.3 else []
        cmd = ["GEOSEARCH", "grid", "FROMLONLAT", x, y, *by, *extra]
        assert a.cmd(*cmd) == b.cmd(*cmd), cmd
    a.close(), b.close()
