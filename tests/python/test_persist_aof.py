"""The append-only file (Redis 7.0's multi-part AOF), checked against Debian's redis-server
7.0.15 and redis-check-aof: respd's appendonlydir is accepted by redis-check-aof and loaded by
redis-server key for key, and the other way round; kill -9 under `appendfsync always` loses no
acknowledged write; torn tails are truncated as Redis does, worse damage refuses the start;
BGREWRITEAOF under writes keeps everything and leaves only the manifest's files."""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
import redis

from conftest import respd_bin, start_redis, start_respd
from test_persist_rdb import assert_same, populate, snapshot

CHECK_AOF = shutil.which("redis-check-aof") or "/usr/bin/redis-check-aof"
MANIFEST_LINE = re.compile(r"^file \S+ seq \d+ type [bhi]$")


@pytest.fixture
def tmpdir_():
    d = tempfile.mkdtemp(prefix="aof-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def shutdown(s, *args):
    try:
        s.client().execute_command("SHUTDOWN", *args)
    except redis.ConnectionError:
        pass  # the server closes the connection instead of replying
    s.proc.wait(30)


def aof_dir(d):
    return Path(d) / "appendonlydir"


def manifest_files(d):
    text = (aof_dir(d) / "appendonly.aof.manifest").read_text()
    lines = [l for l in text.splitlines() if l]
    for l in lines:
        assert MANIFEST_LINE.match(l), l
    return [l.split()[1] for l in lines], lines


def check_aof(d):
    p = subprocess.run([CHECK_AOF, str(aof_dir(d) / "appendonly.aof.manifest")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and "valid" in p.stdout, p.stdout + p.stderr


def wait_rewrite_done(r, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = r.info("persistence")
        if not info["aof_rewrite_in_progress"] and not info["aof_rewrite_scheduled"]:
            return info
        time.sleep(0.05)
    raise AssertionError("the AOF rewrite did not end")


def copy_dir(src):
    d = tempfile.mkdtemp(prefix="aof-copy-")
    shutil.copytree(aof_dir(src), aof_dir(d))
    return d


def assert_redis_loads(d, want):
    """redis-server, started on a copy of `d`'s appendonlydir, holds `want` (db 0)."""
    copy = copy_dir(d)
    try:
        red = start_redis("--dir", copy, "--appendonly", "yes")
        try:
            assert_same(want, snapshot(red, dbs=[0]))
        finally:
            red.stop()
    finally:
        shutil.rmtree(copy, ignore_errors=True)


def more_writes(s):
    """What Redis rewrites before it reaches the AOF: relative expiries, SPOP, INCRBYFLOAT,
    transactions, blocking pops served at once, XADD with `*` and approximate trims."""
    r = s.client()
    r.set("ex", "v", ex=1000)
    r.set("px", "v", px=900_000)
    r.setex("setex", 500, "v")
    r.psetex("psetex", 700_000, "v")
    r.set("exp", "v")
    r.expire("exp", 2000)
    r.set("getex", "v")
    r.getex("getex", ex=3000)
    r.set("persist", "v", ex=100)
    r.persist("persist")
    r.set("gone", "v")
    r.pexpireat("gone", 1000)  # in the past: deleted
    r.sadd("spop", *range(50))
    r.spop("spop")
    r.spop("spop", 10)
    r.sadd("spop-all", "a", "b")
    r.spop("spop-all", 5)
    r.set("float", "10.5")
    r.incrbyfloat("float", 0.1)
    r.hset("hfloat", "f", "1.5")
    r.hincrbyfloat("hfloat", "f", 2.25)
    p = r.pipeline(transaction=True)
    p.set("tx1", "a")
    p.incr("tx-counter")
    p.lpush("tx-list", "x", "y")
    p.execute()
    r.rpush("bl", "a", "b", "c")
    r.blpop(["bl-empty", "bl"], timeout=1)
    r.brpop(["bl"], timeout=1)
    r.blmove("bl", "bl-dst", 1, "LEFT", "RIGHT")
    r.zadd("bz", {"a": 1, "b": 2, "c": 3})
    r.bzpopmin("bz", timeout=1)
    r.bzpopmax("bz", timeout=1)
    for i in range(30):
        r.xadd("xtrimmed", {"i": i}, maxlen=10, approximate=True)
    r.xtrim("xtrimmed", maxlen=5, approximate=False)
    r5 = redis.Redis(host=s.host, port=s.port, db=5)
    r5.set("db5", "v")
    r5.swapdb(5, 6)


@pytest.mark.parametrize("preamble", ["yes", "no"])
def test_respd_aof_is_checked_and_loaded_by_redis(tmpdir_, preamble):
    s = start_respd("--dir", tmpdir_, "--appendonly", "yes", "--aof-use-rdb-preamble", preamble)
    try:
        r = s.client()
        populate(r)
        more_writes(s)
        # A rewrite in the middle: the base holds what came before, the new incr the rest.
        assert r.bgrewriteaof() in (True, b"Background append only file rewriting started")
        wait_rewrite_done(r)
        r.set("after-rewrite", "v", ex=5000)
        r.sadd("spop", "back")
        r.lpush("bl", "z")
        want = snapshot(s)
    finally:
        shutdown(s, "NOSAVE")
    assert not (Path(tmpdir_) / "dump.rdb").exists()
    check_aof(tmpdir_)
    names, _ = manifest_files(tmpdir_)
    assert sorted(names) == sorted(p.name for p in aof_dir(tmpdir_).iterdir()
                                   if p.name != "appendonly.aof.manifest")
    assert names[0].endswith(".base.rdb" if preamble == "yes" else ".base.aof")
    copy = copy_dir(tmpdir_)
    try:
        red = start_redis("--dir", copy, "--appendonly", "yes", "--aof-use-rdb-preamble", preamble)
        try:
            assert_same(want, snapshot(red))
        finally:
            red.stop()
    finally:
        shutil.rmtree(copy, ignore_errors=True)
    # And respd loads its own.
    s2 = start_respd("--dir", tmpdir_, "--appendonly", "yes")
    try:
        assert_same(want, snapshot(s2))
    finally:
        s2.stop()


@pytest.mark.parametrize("preamble", ["yes", "no"])
def test_redis_aof_is_loaded_by_respd(tmpdir_, preamble):
    red = start_redis("--dir", tmpdir_, "--appendonly", "yes", "--aof-use-rdb-preamble", preamble)
    try:
        r = red.client()
        populate(r)
        r.bgrewriteaof()
        wait_rewrite_done(r)
        more_writes(red)
        # XREADGROUP after the rewrite: Redis writes it as XCLAIM ... and XGROUP SETID.
        r.xadd("stream", {"late": "1"})
        r.xreadgroup("g1", "carol", {"stream": ">"}, count=5)
        live = snapshot(red)
    finally:
        shutdown(red, "NOSAVE")
    # The reference is what redis-server itself loads from the directory: from its XCLAIM
    # ... LASTID lines Redis restores a group's last ID but not its entries-read counter.
    copy = copy_dir(tmpdir_)
    try:
        red = start_redis("--dir", copy, "--appendonly", "yes")
        try:
            want = snapshot(red)
        finally:
            red.stop()
    finally:
        shutil.rmtree(copy, ignore_errors=True)
    assert sorted(want) == sorted(live)
    s = start_respd("--dir", tmpdir_, "--appendonly", "yes", "--aof-use-rdb-preamble", preamble)
    try:
        assert_same(want, snapshot(s))
    finally:
        s.stop()


def test_kill_9_with_appendfsync_always_keeps_every_acknowledged_write(tmpdir_):
    s = start_respd("--dir", tmpdir_, "--appendonly", "yes", "--appendfsync", "always")
    acked = [[] for _ in range(4)]
    stop = threading.Event()

    def writer(i):
        r = s.client(socket_timeout=5)
        n = 0
        try:
            while not stop.is_set() and n < 200_000:
                r.set(f"w{i}:{n}", n)
                acked[i].append(n)  # recorded only once the reply arrived
                r.rpush(f"list{i}", n)
                acked[i].append(-n - 1)
                n += 1
        except (redis.ConnectionError, redis.TimeoutError):
            pass

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    os.kill(s.proc.pid, signal.SIGKILL)
    s.proc.wait(10)
    stop.set()
    for t in threads:
        t.join(30)
    assert all(len(a) > 10 for a in acked), [len(a) for a in acked]

    def check(server):
        r = server.client()
        for i, a in enumerate(acked):
            sets = [n for n in a if n >= 0]
            pushes = [-n - 1 for n in a if n < 0]
            got = r.mget([f"w{i}:{n}" for n in sets])
            assert all(g is not None for g in got), f"writer {i} lost an acknowledged SET"
            lst = [int(x) for x in r.lrange(f"list{i}", 0, -1)]
            assert lst[:len(pushes)] == pushes, f"writer {i} lost an acknowledged RPUSH"

    copy = copy_dir(tmpdir_)
    try:
        s2 = start_respd("--dir", tmpdir_, "--appendonly", "yes")
        try:
            check(s2)
        finally:
            s2.stop()
        red = start_redis("--dir", copy, "--appendonly", "yes")
        try:
            check(red)
        finally:
            red.stop()
    finally:
        shutil.rmtree(copy, ignore_errors=True)


def run_expecting_exit(argv, timeout=15):
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
        return None, out
    return p.returncode, out


def write_small_aof(d):
    """An AOF whose last incremental file ends with a SET of a 40-byte value."""
    s = start_respd("--dir", d, "--appendonly", "yes")
    try:
        r = s.client()
        for i in range(20):
            r.set(f"k{i}", i)
        r.rpush("list", "a", "b")
        r.set("last", "x" * 40)
    finally:
        shutdown(s, "NOSAVE")
    names, _ = manifest_files(d)
    incr = aof_dir(d) / names[-1]
    data = incr.read_bytes()
    last = data.rindex(b"*3\r\n$3\r\nSET\r\n$4\r\nlast")
    return incr.name, data, last


def keys_of(server):
    r = server.client()
    return sorted(r.keys("*"))


def test_a_torn_tail_is_truncated_as_redis_does(tmpdir_):
    name, data, last = write_small_aof(tmpdir_)
    cuts = sorted(set(range(last + 1, len(data), 3)) | {last + 1, len(data) - 1, len(data) - 2})
    compare_with_redis = set(cuts[:: max(1, len(cuts) // 5)])
    for cut in cuts:
        d = tempfile.mkdtemp(prefix="aof-cut-")
        try:
            shutil.copytree(aof_dir(tmpdir_), aof_dir(d))
            (aof_dir(d) / name).write_bytes(data[:cut])
            # `no`: refused, naming the file.
            code, out = run_expecting_exit([respd_bin(), "--port", "0", "--bind", "127.0.0.1",
                                            "--dir", d, "--appendonly", "yes",
                                            "--aof-load-truncated", "no"])
            assert code == 1, out[-2000:]
            assert name in out and "panick" not in out, out[-2000:]
            assert (aof_dir(d) / name).stat().st_size == cut
            # `yes`: starts, the file cut back to the last whole command.
            s = start_respd("--dir", d, "--appendonly", "yes", "--aof-load-truncated", "yes")
            try:
                got = keys_of(s)
                assert b"last" not in got and b"k19" in got and b"list" in got
                assert "Truncating the AOF" in s.log_text()
            finally:
                s.stop()
            assert (aof_dir(d) / name).read_bytes() == data[:last]
            if cut in compare_with_redis:
                rd = tempfile.mkdtemp(prefix="aof-cut-redis-")
                try:
                    shutil.copytree(aof_dir(tmpdir_), aof_dir(rd))
                    (aof_dir(rd) / name).write_bytes(data[:cut])
                    red = start_redis("--dir", rd, "--appendonly", "yes",
                                      "--aof-load-truncated", "yes")
                    try:
                        assert keys_of(red) == got
                    finally:
                        red.stop()
                    # Both cut the file at the same offset (respd appended nothing since).
                    assert (aof_dir(rd) / name).read_bytes()[:last] == data[:last]
                    assert (aof_dir(rd) / name).stat().st_size == last
                finally:
                    shutil.rmtree(rd, ignore_errors=True)
        finally:
            shutil.rmtree(d, ignore_errors=True)


def test_damage_in_the_middle_or_a_missing_file_refuses_the_start(tmpdir_):
    name, data, last = write_small_aof(tmpdir_)
    middle = data.index(b"*3\r\n$3\r\nSET\r\n$2\r\nk5")
    cases = {
        "flipped '*'": lambda d: (aof_dir(d) / name).write_bytes(
            data[:middle] + b"x" + data[middle + 1:]),
        "flipped '$'": lambda d: (aof_dir(d) / name).write_bytes(
            data[:middle + 4] + b"?" + data[middle + 5:]),
        "unknown command": lambda d: (aof_dir(d) / name).write_bytes(
            data[:middle + 8] + b"SEX" + data[middle + 11:]),
        "missing file": lambda d: (aof_dir(d) / name).unlink(),
        "bad manifest": lambda d: (aof_dir(d) / "appendonly.aof.manifest").write_text(
            "file x seq 1\n"),
    }
    for what, damage in cases.items():
        for server in ("respd", "redis"):
            d = tempfile.mkdtemp(prefix="aof-bad-")
            try:
                shutil.copytree(aof_dir(tmpdir_), aof_dir(d))
                damage(d)
                if server == "respd":
                    code, out = run_expecting_exit([respd_bin(), "--port", "0", "--bind",
                                                    "127.0.0.1", "--dir", d, "--appendonly", "yes"])
                    assert code == 1, (what, out[-2000:])
                    assert "panick" not in out
                    assert (name in out or "manifest" in out), (what, out[-2000:])
                else:
                    exe = shutil.which("redis-server") or "/usr/bin/redis-server"
                    code, out = run_expecting_exit([exe, "--port", "0", "--dir", d,
                                                    "--appendonly", "yes"])
                    assert code not in (0, None), (what, out[-2000:])
            finally:
                shutil.rmtree(d, ignore_errors=True)


def test_bgrewriteaof_while_clients_write(tmpdir_):
    s = start_respd("--dir", tmpdir_, "--appendonly", "yes")
    stop = threading.Event()
    errors = []

    def writer(i):
        r = s.client()
        n = 0
        while not stop.is_set() and n < 100_000:
            try:
                r.set(f"w{i}:{n}", n)
                r.hset(f"h{i}", n, n)
                r.zadd(f"z{i}", {n: n})
            except redis.RedisError as e:
                errors.append(e)
                return
            n += 1

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(3)]
    try:
        r = s.client()
        for t in threads:
            t.start()
        for _ in range(3):
            time.sleep(0.3)
            assert r.bgrewriteaof() in (True, b"Background append only file rewriting started")
            wait_rewrite_done(r)
        stop.set()
        for t in threads:
            t.join(30)
        assert not errors, errors
        info = r.info("persistence")
        assert info["aof_enabled"] == 1 and info["aof_last_bgrewrite_status"] == "ok"
        assert info["aof_current_size"] >= info["aof_base_size"] > 0
        want = snapshot(s, dbs=[0])
    finally:
        stop.set()
        shutdown(s, "NOSAVE")
    names, lines = manifest_files(tmpdir_)
    assert [l.split()[-1] for l in lines] == ["b", "i"], lines
    assert names == ["appendonly.aof.4.base.rdb", "appendonly.aof.4.incr.aof"], names
    on_disk = sorted(p.name for p in aof_dir(tmpdir_).iterdir())
    assert on_disk == sorted(names + ["appendonly.aof.manifest"]), on_disk
    check_aof(tmpdir_)
    assert_redis_loads(tmpdir_, want)
    s2 = start_respd("--dir", tmpdir_, "--appendonly", "yes")
    try:
        assert_same(want, snapshot(s2, dbs=[0]))
    finally:
        s2.stop()


def test_bgrewriteaof_replies_as_redis(respd, redis_server):
    for s in (respd, redis_server):
        r = s.client()
        r.set_response_callback("BGREWRITEAOF", lambda x, **kw: x)  # the status text itself
        r.set("k", "v")
        p = r.pipeline(transaction=True)
        p.execute_command("BGREWRITEAOF")
        assert p.execute() == [b"Background append only file rewriting scheduled"], s.name
        wait_rewrite_done(r)
        assert r.execute_command("BGREWRITEAOF") == b"Background append only file rewriting started"
        wait_rewrite_done(r)
        with pytest.raises(redis.ResponseError, match="wrong number of arguments"):
            r.execute_command("BGREWRITEAOF", "x")


@pytest.mark.parametrize("preamble", ["yes", "no"])
def test_a_slow_rewrite_serves_clients_and_holds_bgsave_back_as_redis(tmpdir_, preamble):
    """The rewrite writes its base from the copy-free snapshot BGSAVE uses, on a thread: while
    it runs (slowed by rdb-key-save-delay, which Redis's rewrite honours too) clients read and
    write, BGSAVE is refused or scheduled with Redis's replies (one snapshot at a time, as Redis
    has one child at a time), and the scheduled save runs after it."""
    replies = {}
    for which in ("respd", "redis"):
        d = Path(tmpdir_) / which
        d.mkdir()
        args = ("--dir", str(d), "--appendonly", "yes", "--aof-use-rdb-preamble", preamble)
        s = start_respd(*args) if which == "respd" else start_redis(*args)
        try:
            r = s.client()
            r.set_response_callback("BGSAVE", lambda x, **kw: x)
            p = r.pipeline(transaction=False)
            for i in range(2000):
                p.set(f"k{i}", i)
            p.rpush("list", *range(300))
            p.execute()
            r.config_set("rdb-key-save-delay", 1000)  # ~2 s of rewrite
            assert r.bgrewriteaof()
            got = []
            for cmd in (("BGSAVE",), ("BGSAVE", "SCHEDULE")):
                try:
                    got.append(r.execute_command(*cmd))
                except redis.ResponseError as e:
                    got.append(f"error: {e}")
            t0 = time.monotonic()
            r.set("k0", "during")
            r.rpush("list", "during")
            assert r.get("k1") == b"1"
            assert time.monotonic() - t0 < 1.5, "a client waited for the rewrite"
            assert r.info("persistence")["aof_rewrite_in_progress"] == 1
            replies[which] = got
            wait_rewrite_done(r, timeout=120)
            r.config_set("rdb-key-save-delay", 0)
            deadline = time.monotonic() + 30
            while not (d / "dump.rdb").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert (d / "dump.rdb").exists(), "the scheduled BGSAVE did not run"
            want = snapshot(s, dbs=[0])
        finally:
            shutdown(s, "NOSAVE")
        if which == "respd":
            check_aof(str(d))
            assert_redis_loads(str(d), want)
    assert replies["respd"] == replies["redis"], replies


def test_everysec_reaches_the_file_within_two_seconds(tmpdir_):
    s = start_respd("--dir", tmpdir_, "--appendonly", "yes", "--appendfsync", "everysec")
    try:
        r = s.client()
        names, _ = manifest_files(tmpdir_)
        incr = aof_dir(tmpdir_) / names[-1]
        before = incr.stat().st_size
        r.set("k", "v" * 1000)
        deadline = time.monotonic() + 2.0
        while incr.stat().st_size <= before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert incr.stat().st_size >= before + 1000
    finally:
        s.stop()


def test_config_set_appendonly_at_runtime(tmpdir_):
    s = start_respd("--dir", tmpdir_)
    try:
        r = s.client()
        r.set("before", "1")
        r.rpush("list", *range(100))
        assert r.info("persistence")["aof_enabled"] == 0
        assert r.config_set("appendonly", "yes")
        r.set("after", "2")
        wait_rewrite_done(r)
        assert r.info("persistence")["aof_enabled"] == 1
        r.incr("after")
        r.config_set("appendonly", "no")
        r.set("not-in-aof", "3")
        assert r.info("persistence")["aof_enabled"] == 0
    finally:
        shutdown(s, "NOSAVE")
    check_aof(tmpdir_)
    s2 = start_respd("--dir", tmpdir_, "--appendonly", "yes")
    try:
        r = s2.client()
        assert r.get("before") == b"1" and r.get("after") == b"3"
        assert r.llen("list") == 100 and r.get("not-in-aof") is None
    finally:
        s2.stop()


def test_config_set_appendonly_inside_multi_as_redis(tmpdir_):
    """CONFIG SET appendonly yes inside MULTI/EXEC turns the AOF on, as in Redis (whose rewrite
    forks at that point): the writes of the same EXEC and those after it are in the AOF, which
    each server then loads."""
    for which in ("respd", "redis"):
        d = Path(tmpdir_) / which
        d.mkdir()
        s = start_respd("--dir", str(d)) if which == "respd" else start_redis("--dir", str(d))
        try:
            r = s.client()
            r.set("before", "1")
            p = r.pipeline(transaction=True)
            p.config_set("appendonly", "yes")
            p.set("inside", "2")
            assert p.execute() == [True, True], which
            r.set("after", "3")
            wait_rewrite_done(r)
            assert r.info("persistence")["aof_enabled"] == 1, which
            r.incr("after")
        finally:
            shutdown(s, "NOSAVE")
        check_aof(str(d))
        for loader in ("respd", "redis"):
            copy = copy_dir(str(d))
            try:
                args = ("--dir", copy, "--appendonly", "yes")
                t = start_respd(*args) if loader == "respd" else start_redis(*args)
                try:
                    r = t.client()
                    got = r.get("before"), r.get("inside"), r.get("after")
                    assert got == (b"1", b"2", b"4"), (which, loader, got)
                finally:
                    t.stop()
            finally:
                shutil.rmtree(copy, ignore_errors=True)


def test_config_set_appendonly_that_fails_is_reverted_as_redis_does(tmpdir_):
    """When the AOF cannot start (here its directory's name is taken by a file), CONFIG SET
    fails and every value it set is put back, as Redis's restoreBackupConfig does."""
    for which in ("respd", "redis"):
        d = Path(tmpdir_) / which
        d.mkdir()
        (d / "appendonlydir").write_text("not a directory")
        s = start_respd("--dir", str(d)) if which == "respd" else start_redis("--dir", str(d))
        try:
            r = s.client()
            with pytest.raises(redis.ResponseError, match="Unable to turn on AOF"):
                r.execute_command("CONFIG", "SET", "appendonly", "yes", "appendfsync", "always",
                                  "maxmemory", "7mb")
            got = r.config_get("appendonly")["appendonly"], r.config_get("appendfsync")[
                "appendfsync"], r.config_get("maxmemory")["maxmemory"]
            assert got == ("no", "everysec", "0"), (which, got)
            assert r.info("persistence")["aof_enabled"] == 0
            assert r.set("k", "v")
        finally:
            s.stop()


def test_dump_rdb_becomes_the_base_when_there_is_no_aof(tmpdir_):
    s = start_respd("--dir", tmpdir_)
    try:
        s.client().set("from-dump", "1")
        s.client().save()
    finally:
        shutdown(s, "NOSAVE")
    s = start_respd("--dir", tmpdir_, "--appendonly", "yes")
    try:
        r = s.client()
        assert r.get("from-dump") == b"1"
        r.set("new", "2")
    finally:
        shutdown(s, "NOSAVE")
    names, _ = manifest_files(tmpdir_)
    assert names == ["appendonly.aof.1.base.rdb", "appendonly.aof.1.incr.aof"]
    copy = copy_dir(tmpdir_)
    try:
        red = start_redis("--dir", copy, "--appendonly", "yes")
        try:
            r = red.client()
            assert r.get("from-dump") == b"1" and r.get("new") == b"2"
        finally:
            red.stop()
    finally:
        shutil.rmtree(copy, ignore_errors=True)


def aof_commands(d):
    """The commands of the AOF's incremental file(s), in order, arguments as bytes."""
    out = []
    for name in manifest_files(d)[0]:
        if ".incr." not in name:
            continue
        data = (aof_dir(d) / name).read_bytes()
        i = 0
        while i < len(data):
            assert data[i:i + 1] == b"*", data[i:i + 40]
            j = data.index(b"\r\n", i)
            count = int(data[i + 1:j])
            argv = []
            i = j + 2
            for _ in range(count):
                j = data.index(b"\r\n", i)
                n = int(data[i + 1:j])
                argv.append(data[j + 2:j + 2 + n])
                i = j + 2 + n + 2
            out.append(argv)
    return out


def test_xreadgroup_is_written_as_redis_writes_it(tmpdir_):
    """XREADGROUP is never written as given (re-running a read would deliver other entries):
    Redis 7.0 writes an XCLAIM ... FORCE JUSTID LASTID per entry delivered (several in one
    MULTI/EXEC), XGROUP SETID ... ENTRIESREAD after a NOACK read and XGROUP CREATECONSUMER for a
    consumer a NOACK read made; a history read writes nothing. Same commands as redis-server's
    (delivery times aside), and the PEL comes back after a restart."""
    seqs = [
        ("XADD", "s", "1-1", "f", "a"), ("XADD", "s", "1-2", "f", "b"),
        ("XADD", "s", "1-3", "f", "c"), ("XADD", "s", "1-4", "f", "d"),
        ("XGROUP", "CREATE", "s", "g", "0"),
        ("XREADGROUP", "GROUP", "g", "c1", "COUNT", "2", "STREAMS", "s", ">"),
        ("XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", "0"),
        ("XREADGROUP", "GROUP", "g", "c2", "NOACK", "COUNT", "1", "STREAMS", "s", ">"),
        ("XREADGROUP", "GROUP", "g", "c3", "COUNT", "1", "STREAMS", "s", ">"),
    ]
    written, reloaded = {}, {}
    for which in ("respd", "redis"):
        d = Path(tmpdir_) / which
        d.mkdir()
        args = ("--dir", str(d), "--appendonly", "yes", "--appendfsync", "always")
        s = start_respd(*args) if which == "respd" else start_redis(*args)
        try:
            r = s.client()
            for c in seqs:
                r.execute_command(*c)
            pending = r.xpending_range("s", "g", "-", "+", 10)
        finally:
            shutdown(s, "NOSAVE")
        cmds = [c for c in aof_commands(str(d)) if c[0].upper() != b"SELECT"]
        for c in cmds:
            if c[0].upper() == b"XCLAIM":
                c[7] = b"<time>"
        written[which] = cmds
        again = start_respd(*args) if which == "respd" else start_redis(*args)
        try:
            got = again.client().xpending_range("s", "g", "-", "+", 10)
            # Who holds what comes back; the history read's second delivery does not (Redis
            # does not write history reads either): compared between the servers below.
            assert [(p["message_id"], p["consumer"]) for p in got] == \
                [(p["message_id"], p["consumer"]) for p in pending]
            reloaded[which] = [(p["message_id"], p["consumer"], p["times_delivered"])
                               for p in got]
            info = again.client().xinfo_groups("s")[0]
            assert info["last-delivered-id"] == b"1-4", info
        finally:
            again.stop()
    assert written["respd"] == written["redis"], written
    assert reloaded["respd"] == reloaded["redis"], reloaded
    assert [b"XCLAIM", b"s", b"g", b"c1", b"0", b"1-1", b"TIME", b"<time>", b"RETRYCOUNT", b"1",
            b"FORCE", b"JUSTID", b"LASTID", b"1-1"] in written["respd"]


def test_xclaim_and_xautoclaim_are_written_as_redis_writes_them(tmpdir_):
    """XCLAIM and XAUTOCLAIM are written as their effects (an XCLAIM ... TIME <absolute>
    RETRYCOUNT n FORCE JUSTID LASTID per entry claimed or dropped, XGROUP SETID when only LASTID
    moved), never as given: replayed later, a min-idle-time would pick other entries. Here an
    XAUTOCLAIM with min-idle 200 ms took only the older two of four entries; a replay of the
    command as given, after the restart, would take all four. Same commands as redis-server's."""
    written, reloaded = {}, {}
    for which in ("respd", "redis"):
        d = Path(tmpdir_) / which
        d.mkdir()
        args = ("--dir", str(d), "--appendonly", "yes", "--appendfsync", "always")
        s = start_respd(*args) if which == "respd" else start_redis(*args)
        try:
            r = s.client()
            for i in range(1, 6):
                r.execute_command("XADD", "s", f"1-{i}", "f", str(i))
            r.execute_command("XGROUP", "CREATE", "s", "g", "0")
            r.execute_command("XREADGROUP", "GROUP", "g", "a", "COUNT", "2", "STREAMS", "s", ">")
            time.sleep(0.3)
            r.execute_command("XREADGROUP", "GROUP", "g", "a", "COUNT", "2", "STREAMS", "s", ">")
            auto = r.execute_command("XAUTOCLAIM", "s", "g", "b", "200", "0", "JUSTID",
                                     parse_justid=True)
            assert auto == [b"1-1", b"1-2"], auto
            r.execute_command("XDEL", "s", "1-3")
            assert r.execute_command("XCLAIM", "s", "g", "c", "0", "1-3", "1-4", "JUSTID",
                                     parse_justid=True) \
                == [b"1-4"]
            assert r.execute_command("XCLAIM", "s", "g", "c", "0", "1-5", "LASTID", "1-5") == []
            r.execute_command("XCLAIM", "s", "g", "d", "0", "1-1", "IDLE", "10000")
            pending = r.xpending_range("s", "g", "-", "+", 10)
            group = r.xinfo_groups("s")[0]
        finally:
            shutdown(s, "NOSAVE")
        cmds = [c for c in aof_commands(str(d)) if c[0].upper() != b"SELECT"]
        for c in cmds:
            if c[0].upper() == b"XCLAIM":
                c[7] = b"<time>"
        written[which] = cmds
        time.sleep(0.5)
        again = start_respd(*args) if which == "respd" else start_redis(*args)
        try:
            got = again.client().xpending_range("s", "g", "-", "+", 10)
            assert [(p["message_id"], p["consumer"], p["times_delivered"]) for p in got] == \
                [(p["message_id"], p["consumer"], p["times_delivered"]) for p in pending]
            # The IDLE 10000 claim's delivery time is absolute in the file.
            idle = {p["message_id"]: p["time_since_delivered"] for p in got}
            assert idle[b"1-1"] >= 10000, got
            info = again.client().xinfo_groups("s")[0]
            assert info["last-delivered-id"] == group["last-delivered-id"] == b"1-5", info
            reloaded[which] = [(p["message_id"], p["consumer"]) for p in got]
        finally:
            again.stop()
    assert written["respd"] == written["redis"], written
    assert reloaded["respd"] == reloaded["redis"], reloaded
    assert not any(c[0].upper() == b"XAUTOCLAIM" for c in written["respd"])


def incr_lines(d):
    """The lines of the AOF's incremental files, `#TS:` seconds replaced by `<t>`."""
    out = []
    for name in manifest_files(d)[0]:
        if ".incr." in name:
            for l in (aof_dir(d) / name).read_bytes().split(b"\r\n"):
                out.append(b"#TS:<t>" if l.startswith(b"#TS:") else l)
    return out


def test_aof_timestamp_enabled_annotates_as_redis(tmpdir_):
    """`aof-timestamp-enabled yes`: a `#TS:<unix seconds>` line before the first command of each
    new second, and at the head of a rewritten base; redis-check-aof accepts the files and both
    servers load them. The same lines as redis-server's for the same commands."""
    lines = {}
    for which in ("respd", "redis"):
        d = Path(tmpdir_) / which
        d.mkdir()
        args = ("--dir", str(d), "--appendonly", "yes", "--aof-timestamp-enabled", "yes",
                "--aof-use-rdb-preamble", "no")
        s = start_respd(*args) if which == "respd" else start_redis(*args)
        try:
            r = s.client()
            # Start at the beginning of a second, so that both commands fall within it.
            time.sleep(1 - time.time() % 1 + 0.05)
            r.set("a", "1")
            r.set("b", "2")
            time.sleep(1.1)
            r.set("c", "3")
            deadline = time.monotonic() + 5  # everysec: respd's writer runs beside the reply
            while b"c" not in incr_lines(str(d)) and time.monotonic() < deadline:
                time.sleep(0.02)
            lines[which] = incr_lines(str(d))
            before = time.time()
            assert r.bgrewriteaof()
            wait_rewrite_done(r)
            base = [n for n in manifest_files(str(d))[0] if ".base." in n][0]
            head = (aof_dir(d) / base).read_bytes().split(b"\r\n")[0]
            assert head.startswith(b"#TS:") and int(head[4:]) >= int(before), head
        finally:
            shutdown(s, "NOSAVE")
        check_aof(str(d))
        again = start_respd(*args) if which == "respd" else start_redis(*args)
        try:
            assert again.client().mget("a", "b", "c") == [b"1", b"2", b"3"]
        finally:
            again.stop()
    assert lines["respd"] == lines["redis"], lines
    assert lines["respd"].count(b"#TS:<t>") == 2, lines["respd"]


def test_aof_disable_auto_gc_keeps_history_until_set_back_as_redis(tmpdir_):
    """`aof-disable-auto-gc yes`: a rewrite keeps the files it replaced, listed in the manifest
    as history (`type h`); `CONFIG SET aof-disable-auto-gc no` deletes them. The manifest reads
    as redis-server's at each step."""
    manifests = {}
    for which in ("respd", "redis"):
        d = Path(tmpdir_) / which
        d.mkdir()
        args = ("--dir", str(d), "--appendonly", "yes", "--aof-disable-auto-gc", "yes")
        s = start_respd(*args) if which == "respd" else start_redis(*args)
        try:
            r = s.client()
            r.set("a", "1")
            assert r.bgrewriteaof()
            wait_rewrite_done(r)
            r.set("b", "2")
            assert r.bgrewriteaof()
            wait_rewrite_done(r)
            names, kept = manifest_files(str(d))
            hist = [l.split()[1] for l in kept if l.endswith("type h")]
            assert len(hist) >= 2 and all((aof_dir(d) / h).exists() for h in hist), kept
            r.config_set("aof-disable-auto-gc", "no")
            deadline = time.monotonic() + 10
            while any((aof_dir(d) / h).exists() for h in hist) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not any((aof_dir(d) / h).exists() for h in hist)
            _, after = manifest_files(str(d))
            assert not any(l.endswith("type h") for l in after), after
            manifests[which] = (kept, after)
            assert r.get("b") == b"2"
        finally:
            shutdown(s, "NOSAVE")
    assert manifests["respd"] == manifests["redis"], manifests


def test_no_appendfsync_on_rewrite_skips_fsyncs_while_a_save_writes(tmpdir_):
    """`appendfsync always` fsyncs for each round of writes; with `no-appendfsync-on-rewrite
    yes` it does not while a background save runs (Redis's rule; the replies still come after
    the write). Counted with strace on respd's threads, writes during a slow BGSAVE."""
    counts = {}
    for skip in ("no", "yes"):
        d = Path(tmpdir_) / skip
        d.mkdir()
        s = start_respd("--dir", str(d), "--appendonly", "yes", "--appendfsync", "always",
                        "--no-appendfsync-on-rewrite", skip)
        try:
            r = s.client()
            for i in range(300):
                r.set(f"k{i}", i)
            r.config_set("rdb-key-save-delay", 10000)  # ~3 s of save
            r.bgsave()
            def writes():
                for i in range(50):
                    assert r.set(f"during{i}", i)
                assert r.info("persistence")["rdb_bgsave_in_progress"] == 1
            counts[skip] = strace_count(s.proc.pid, writes, ("fsync", "fdatasync"))
            r.config_set("rdb-key-save-delay", 0)
        finally:
            s.stop()
    assert counts["no"] >= 50 and counts["yes"] == 0, counts


def strace_count(pid, action, calls=("fdatasync",)):
    """How many of `calls` respd's threads make while `action()` runs."""
    tr = subprocess.Popen(["strace", "-f", "-c", "-e", "trace=" + ",".join(calls), "-p",
                           str(pid)], stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)  # strace attaches
    action()
    tr.send_signal(signal.SIGINT)
    out = tr.communicate(timeout=30)[1]
    return sum(int(l.split()[3]) for l in out.splitlines()
               if l.strip().endswith(calls) and len(l.split()) >= 5)


@pytest.mark.parametrize("what", ["rdb-save-incremental-fsync", "aof-rewrite-incremental-fsync"])
def test_incremental_fsync_syncs_every_4_mib_as_redis(tmpdir_, what):
    """`rdb-save-incremental-fsync` / `aof-rewrite-incremental-fsync yes` (the defaults): a save
    or a rewrite of 24 MiB fsyncs its file every 4 MiB as it goes (Redis's rioSetAutoSync), so
    the kernel never holds the whole file's dirty pages; `no`: one fsync at the end."""
    counts = {}
    for on in ("yes", "no"):
        d = Path(tmpdir_) / on
        d.mkdir()
        s = start_respd("--dir", str(d), "--appendonly", "yes", "--appendfsync", "no",
                        "--rdbcompression", "no", f"--{what}", on)
        try:
            r = s.client()
            for i in range(24):
                r.set(f"big{i}", os.urandom(1 << 20))
            if what.startswith("rdb"):
                counts[on] = strace_count(s.proc.pid, lambda: r.save())
            else:
                def rewrite():
                    assert r.bgrewriteaof()
                    wait_rewrite_done(r)
                counts[on] = strace_count(s.proc.pid, rewrite)
        finally:
            s.stop()
    assert counts["yes"] >= 5 and counts["no"] <= 1, counts
