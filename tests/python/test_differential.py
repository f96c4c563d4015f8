"""Differential suite: the same command sequences go to Debian's redis-server and to respd, and the
replies are compared byte for byte.

Each file in tests/diff/ is one sequence, run on fresh connections after FLUSHALL. A line is a
command in redis-cli quoting (shlex), or a directive:
  # ...              a comment
  !sort CMD ...      compare the reply with array elements sorted (SMEMBERS, KEYS, HKEYS, ...)
  !type CMD ...      compare only the reply's type byte and, for arrays, their length
  !skip CMD ...      send to both, do not compare (values that differ legitimately, e.g. CLIENT ID)
  !sleep SECONDS     pause (expiry)
  !reconnect         open new connections on both servers
"""

import shlex
import time
from pathlib import Path

import pytest

from conftest import ROOT
from resp_raw import RawClient, parse

DIFF_DIR = ROOT / "tests" / "diff"
FILES = sorted(DIFF_DIR.glob("*.txt"))


def normalize(raw, mode):
    if mode == "sort":
        v = parse(raw)
        if isinstance(v, list):
            return sorted(repr(x) for x in v)
        return repr(v)
    if mode == "type":
        v = parse(raw)
        return (raw[:1], len(v) if isinstance(v, list) else None)
    return raw


def run_file(path, respd_port, redis_port):
    a, b = RawClient(respd_port), RawClient(redis_port)
    for c in (a, b):
        c.cmd("FLUSHALL")
    mismatches = []
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        mode = None
        if line.startswith("!"):
            word, _, rest = line.partition(" ")
            word = word[1:]
            if word == "sleep":
                time.sleep(float(rest))
                continue
            if word == "reconnect":
                a.close(), b.close()
                a, b = RawClient(respd_port), RawClient(redis_port)
                continue
            if word not in ("sort", "type", "skip"):
                raise ValueError(f"{path.name}:{lineno}: unknown directive !{word}")
            mode, line = word, rest
        args = shlex.split(line)
        ra, rb = a.cmd(*args), b.cmd(*args)
        if mode == "skip":
            continue
        if normalize(ra, mode) != normalize(rb, mode):
            mismatches.append(f"{path.name}:{lineno}: {line}\n   respd: {ra[:300]!r}\n   redis: {rb[:300]!r}")
    a.close(), b.close()
    return mismatches


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_same_replies_as_redis(path, respd_shared, redis_shared):
    mismatches = run_file(path, respd_shared.port, redis_shared.port)
    assert respd_shared.alive()
    assert not mismatches, "replies differ from redis-server:\n" + "\n".join(mismatches)
