"""Randomized differential test of LCS: seeded random strings over small alphabets (many ties,
so the walk back must choose as Redis's does) and every option, compared byte for byte with
redis-server."""

import random

import pytest

from resp_raw import RawClient


@pytest.mark.parametrize("seed", range(4))
def test_random_lcs_matches_redis(seed, respd_shared, redis_shared):
    rng = random.Random(seed)
    a, b = RawClient(respd_shared.port), RawClient(redis_shared.port)
    for _ in range(150):
        alphabet = rng.choice(["ab", "abc", "acgt", "abcdefghij"])
        s1 = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
        s2 = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
        for c in (a, b):
            c.cmd("MSET", "s1", s1, "s2", s2)
        opts = rng.choice([[], ["LEN"], ["IDX"], ["IDX", "WITHMATCHLEN"],
                           ["IDX", "MINMATCHLEN", str(rng.randint(0, 4)), "WITHMATCHLEN"]])
        cmd = ["LCS", "s1", "s2", *opts]
        assert a.cmd(*cmd) == b.cmd(*cmd), (s1, s2, opts)
    a.close(), b.close()
