"""Persistence as a service runs it, side by side with redis-server 7.0.15: -LOADING while a
200 MB dump loads (bind first, then load), the save at SIGTERM/SIGINT when save rules are set
(and staying up when it fails), stop-writes-on-bgsave-error's -MISCONF, INFO persistence's field
names, and redis-server's default save rules."""

import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

import pytest

from conftest import Server, free_port, respd_bin, start_redis, start_respd
from resp_raw import RawClient

REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"
KEYS = 20_000
VALUE = 10_000  # 20,000 x 10,000 random bytes: a 200 MB dump
LOAD_DELAY_US = "100"  # key-load-delay (both servers): the load lasts seconds, not 0.5 s


@pytest.fixture
def tmpdir_():
    d = tempfile.mkdtemp(prefix="ops-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def fill(r, size):
    """KEYS keys `key:<i>` of `size` random (incompressible) bytes."""
    pool = os.urandom(1 << 20)
    for start in range(0, KEYS, 500):
        p = r.pipeline(transaction=False)
        for i in range(start, start + 500):
            off = (i * 7919) % (len(pool) - size)
            p.set(f"key:{i}", pool[off:off + size])
        p.execute()


@pytest.fixture(scope="module")
def bigdump():
    """A 200 MB dump.rdb written by respd (random, so incompressible, values)."""
    d = tempfile.mkdtemp(prefix="ops-big-")
    # No save rules: on a loaded machine the fill can outlast the default `60 10000` rule,
    # whose background save would make SAVE below fail as "already in progress".
    s = start_respd("--dir", d, "--save", "")
    try:
        r = s.client()
        fill(r, VALUE)
        assert r.save()
    finally:
        s.proc.send_signal(signal.SIGKILL)
        s.stop()
    path = Path(d) / "dump.rdb"
    assert path.stat().st_size > 200_000_000
    yield path
    shutil.rmtree(d, ignore_errors=True)


def start_loading(which, wd, *extra):
    """Starts a server on a copy of the big dump, returning once it listens (before it has
    loaded: respd says "listening on" when bound, redis-server "Server initialized")."""
    if which == "respd":
        argv = [respd_bin(), "--port", "0", "--bind", "127.0.0.1", "--save", "", "--dir", wd,
                "--key-load-delay", LOAD_DELAY_US, *extra]
        return Server("respd", argv, None, wd, r"listening on 127\.0\.0\.1:(\d+)")
    port = free_port()
    argv = [REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", wd, "--key-load-delay", LOAD_DELAY_US, *extra]
    return Server("redis", argv, port, wd, r"Server initialized")


# Commands asked during the load: those Redis flags `loading` answer, the others get -LOADING.
DURING_LOAD = [
    ("PING",), ("GET", "key:1"), ("SET", "x", "1"), ("DBSIZE",), ("ECHO", "hi"),
    ("SELECT", "1"), ("CONFIG", "GET", "port"), ("COMMAND", "COUNT"), ("LASTSAVE",),
    ("SAVE",), ("BGSAVE",), ("FLUSHALL",), ("KEYS", "*"), ("CLIENT", "SETNAME", "x"),
    ("EXISTS", "key:1"), ("TYPE", "key:1"), ("MULTI",), ("GET", "key:1"), ("EXEC",),
]


def parse_info(text):
    return dict(l.split(":", 1) for l in text.split("\r\n")[2:] if ":" in l)


def observe_loading(s):
    """What a client sees while `s` loads: per command, the error text or "reply"; INFO's
    loading fields three times (the first INFO that said loading:1, then two more 0.3 s apart:
    progress moves); then, once loaded, the data."""
    c = RawClient(s.port)
    seen = []
    info_lines = []
    deadline = time.monotonic() + 60
    info = ""
    while "loading:1" not in info and time.monotonic() < deadline:
        info = c.cmd("INFO", "persistence").decode()
    assert "loading:1" in info, info
    info_lines.append(parse_info(info))
    for cmd in DURING_LOAD:
        r = c.cmd(*cmd)
        seen.append((cmd, r.decode() if r.startswith(b"-") else "reply"))
    for _ in range(2):
        info_lines.append(parse_info(c.cmd("INFO", "persistence").decode()))
        time.sleep(0.3)
    deadline = time.monotonic() + 120
    while b"loading:1" in c.cmd("INFO", "persistence") and time.monotonic() < deadline:
        time.sleep(0.1)
    c.close()
    return seen, info_lines


@pytest.mark.timeout(600)
def test_a_client_gets_loading_while_a_200mb_dump_loads_as_from_redis(bigdump, tmpdir_):
    out = {}
    for which in ("respd", "redis"):
        wd = Path(tmpdir_) / which
        wd.mkdir()
        shutil.copy(bigdump, wd / "dump.rdb")
        s = start_loading(which, str(wd))
        try:
            seen, infos = observe_loading(s)
            out[which] = seen
            _, first, second = infos
            assert first["loading"] == "1" and first["async_loading"] == "0"
            assert int(first["loading_total_bytes"]) == bigdump.stat().st_size
            # The reader's progress is real: it moves between two INFOs and stays in bounds.
            assert 0 < int(first["loading_loaded_bytes"]) < int(second["loading_loaded_bytes"])
            assert int(second["loading_loaded_bytes"]) <= bigdump.stat().st_size
            assert 0 < float(second["loading_loaded_perc"]) < 100
            assert int(first["loading_eta_seconds"]) >= 0
            assert abs(int(first["loading_start_time"]) - time.time()) < 120
            # Then the data is there, and INFO says so.
            r = s.client()
            assert r.dbsize() == KEYS
            assert len(r.get("key:19999")) == VALUE
            info = r.info("persistence")
            assert info["loading"] == 0 and "loading_total_bytes" not in info
            assert info["rdb_last_load_keys_loaded"] == KEYS
            assert r.set("after", "load")
        finally:
            s.stop()
    assert out["respd"] == out["redis"]
    errors = [e for _, e in out["respd"] if e != "reply"]
    assert "-LOADING Redis is loading the dataset in memory\r\n" in errors
    assert ("-EXECABORT Transaction discarded because of previous errors.\r\n") in errors


@pytest.fixture(scope="module")
def bigaof():
    """An appendonlydir written by respd: an empty base and 20,000 SETs of 1,000 bytes in its
    incremental file (commands, so the load replays them one by one)."""
    d = tempfile.mkdtemp(prefix="ops-aof-")
    s = start_respd("--dir", d, "--appendonly", "yes", "--aof-use-rdb-preamble", "no",
                    workdir=d)
    try:
        fill(s.client(), 1000)
    finally:
        s.stop()
    yield Path(d) / "appendonlydir"
    shutil.rmtree(d, ignore_errors=True)


@pytest.mark.timeout(600)
def test_a_client_gets_loading_while_the_aof_replays_as_from_redis(bigaof, tmpdir_):
    """With appendonly yes respd binds first and answers -LOADING while the AOF replays (the
    replay's own commands pass), as redis-server does; then the data is there."""
    out = {}
    for which in ("respd", "redis"):
        wd = Path(tmpdir_) / which
        shutil.copytree(bigaof, wd / "appendonlydir")
        s = start_loading(which, str(wd), "--appendonly", "yes")
        try:
            seen, infos = observe_loading(s)
            out[which] = seen
            # INFO's progress counts every file of the manifest, as Redis's does.
            size = sum(f.stat().st_size for f in (wd / "appendonlydir").iterdir()
                       if ".aof." in f.name and not f.name.endswith(".manifest"))
            # The replay can end before the later INFOs on a busy machine: the first one was
            # taken while loading.
            during = [i for i in infos if i.get("loading") == "1"]
            assert int(during[0]["loading_total_bytes"]) == size, (during[0], size)
            assert all(0 <= int(i["loading_loaded_bytes"]) <= size for i in during), during
            r = s.client()
            assert r.dbsize() == KEYS
            assert len(r.get(f"key:{KEYS - 1}")) == 1000
            assert r.info("persistence")["loading"] == 0
            # Appending goes on after the load: a write made now survives a restart.
            assert r.set("after", "load")
        finally:
            s.stop()
        again = start(which, str(wd), "--appendonly", "yes")
        try:
            assert again.client().get("after") == b"load"
        finally:
            again.stop()
    assert out["respd"] == out["redis"]
    assert ("GET", "key:1") in [c for c, e in out["respd"]
                                if e == "-LOADING Redis is loading the dataset in memory\r\n"]


@pytest.mark.timeout(600)
def test_a_damaged_dump_found_while_clients_wait_exits_1_and_closes_them(bigdump, tmpdir_):
    wd = Path(tmpdir_)
    data = bytearray(bigdump.read_bytes())
    cut = len(data) - 30_000_000  # damage far in, after clients have connected
    del data[cut:]
    (wd / "dump.rdb").write_bytes(data)
    del data
    s = start_loading("respd", str(wd))
    try:
        c = RawClient(s.port)
        assert c.cmd("GET", "key:1") == b"-LOADING Redis is loading the dataset in memory\r\n"
        assert s.proc.wait(120) == 1
        assert c.closed_by_peer(10)
        log = s.log_text()
        assert "dump.rdb" in log and "offset" in log, log[-2000:]
    finally:
        s.stop()


def sig_stop(s, sig, timeout=30):
    s.proc.send_signal(sig)
    return s.proc.wait(timeout)


def start(which, wd, *extra):
    if which == "respd":
        return start_respd("--dir", wd, *extra, workdir=wd)
    return start_redis(*extra, workdir=wd)


@pytest.mark.parametrize("which", ["respd", "redis"])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_saves_when_save_rules_are_set(tmpdir_, which, sig):
    dump = Path(tmpdir_) / "dump.rdb"
    # With rules: the signal saves, then the process exits 0.
    s = start(which, tmpdir_, "--save", "3600 1")
    s.client().set("k", "1")
    assert sig_stop(s, sig) == 0
    s.stop()
    assert dump.exists()
    # Without rules: nothing is saved.
    s = start(which, tmpdir_)
    assert s.client().get("k") == b"1"
    s.client().set("k", "2")
    assert sig_stop(s, sig) == 0
    s.stop()
    # shutdown-on-sig... nosave: rules, but no save.
    name = "--shutdown-on-sigterm" if sig == signal.SIGTERM else "--shutdown-on-sigint"
    s = start(which, tmpdir_, "--save", "3600 1", name, "nosave")
    assert s.client().get("k") == b"1"
    s.client().set("k", "3")
    assert sig_stop(s, sig) == 0
    s.stop()
    # ... save: no rules, still a save.
    s = start(which, tmpdir_, name, "save")
    assert s.client().get("k") == b"1"
    s.client().set("k", "4")
    assert sig_stop(s, sig) == 0
    s.stop()
    s = start(which, tmpdir_)
    try:
        assert s.client().get("k") == b"4"
    finally:
        s.stop()


@pytest.mark.parametrize("which", ["respd", "redis"])
def test_a_failed_save_at_sigterm_keeps_the_server_running(tmpdir_, which):
    dump = Path(tmpdir_) / "dump.rdb"
    s = start(which, tmpdir_, "--save", "3600 1")
    try:
        s.client().set("k", "v")
        dump.mkdir()  # the dump's name taken by a directory: the save cannot rename onto it
        s.proc.send_signal(signal.SIGTERM)
        time.sleep(2)
        assert s.alive(), "exited although its final save failed"
        assert s.client().get("k") == b"v"
        assert "Errors trying to shut down the server" in s.log_text()
        dump.rmdir()
        assert sig_stop(s, signal.SIGTERM) == 0  # now the save works and the server exits
        assert dump.is_file()
    finally:
        s.stop()


def misconf_session(s, dump):
    """Replies around a failed background save, with save rules set."""
    r = RawClient(s.port)
    out = [r.cmd("SET", "a", "1")]
    dump.mkdir()
    out.append(r.cmd("BGSAVE"))
    deadline = time.monotonic() + 30
    while b"rdb_last_bgsave_status:err" not in r.cmd("INFO", "persistence"):
        assert time.monotonic() < deadline, "the background save did not fail"
        time.sleep(0.05)
    while b"rdb_bgsave_in_progress:0" not in r.cmd("INFO", "persistence"):
        time.sleep(0.05)
    for cmd in [("SET", "a", "2"), ("GET", "a"), ("PING",), ("INCR", "n"), ("DEL", "a"),
                ("EXISTS", "a"), ("DBSIZE",), ("LPUSH", "l", "x"), ("FLUSHALL",),
                ("MULTI",), ("SET", "a", "3"), ("EXEC",),
                ("MULTI",), ("GET", "a"), ("EXEC",)]:
        out.append(r.cmd(*cmd))
    # stop-writes-on-bgsave-error no lets writes through; yes refuses them again.
    out.append(r.cmd("CONFIG", "SET", "stop-writes-on-bgsave-error", "no"))
    out.append(r.cmd("SET", "a", "4"))
    out.append(r.cmd("CONFIG", "SET", "stop-writes-on-bgsave-error", "yes"))
    out.append(r.cmd("SET", "a", "5"))
    # No save rules: no refusal, as Redis checks `save` too.
    out.append(r.cmd("CONFIG", "SET", "save", ""))
    out.append(r.cmd("SET", "a", "6"))
    out.append(r.cmd("CONFIG", "SET", "save", "3600 1"))
    out.append(r.cmd("SET", "a", "7"))
    # A successful save ends it.
    dump.rmdir()
    out.append(r.cmd("BGSAVE"))
    deadline = time.monotonic() + 30
    while b"rdb_last_bgsave_status:ok" not in r.cmd("INFO", "persistence"):
        assert time.monotonic() < deadline, "the background save did not succeed"
        time.sleep(0.05)
    out.append(r.cmd("SET", "a", "8"))
    out.append(r.cmd("GET", "a"))
    r.close()
    return out


def test_stop_writes_on_bgsave_error_refuses_writes_as_redis(tmpdir_):
    out = {}
    for which in ("respd", "redis"):
        wd = Path(tmpdir_) / which
        wd.mkdir()
        s = start(which, str(wd), "--save", "3600 1")
        try:
            out[which] = misconf_session(s, wd / "dump.rdb")
            assert s.alive()
        finally:
            s.stop()
    assert out["respd"] == out["redis"]
    misconf = (b"-MISCONF Redis is configured to save RDB snapshots, but it's currently unable to "
               b"persist to disk. Commands that may modify the data set are disabled, because "
               b"this instance is configured to report errors during writes if RDB snapshotting "
               b"fails (stop-writes-on-bgsave-error option). Please check the Redis logs for "
               b"details about the RDB error.\r\n")
    assert out["respd"][2] == misconf
    assert out["respd"][3] == b"$1\r\n1\r\n"  # reads still work
    assert out["respd"][-1] == b"$1\r\n8\r\n"


def test_a_failed_background_save_is_logged(tmpdir_):
    s = start_respd("--dir", tmpdir_, "--save", "3600 1", workdir=tmpdir_)
    try:
        (Path(tmpdir_) / "dump.rdb").mkdir()
        s.client().bgsave()
        deadline = time.monotonic() + 30
        while "Background saving error" not in s.log_text():
            assert time.monotonic() < deadline, s.log_text()[-2000:]
            time.sleep(0.05)
    finally:
        s.stop()


def persistence_fields(s):
    c = RawClient(s.port)
    text = c.cmd("INFO", "persistence").decode()
    c.close()
    return [l.split(":", 1)[0] for l in text.split("\r\n")[2:] if ":" in l]


def test_info_persistence_has_redis_fields_in_redis_order(respd, redis_server):
    assert persistence_fields(respd) == persistence_fields(redis_server)
    for s in (respd, redis_server):
        r = s.client()
        before = r.info("persistence")["rdb_saves"]
        r.save()
        r.bgsave()
        deadline = time.monotonic() + 30
        while r.info("persistence")["rdb_bgsave_in_progress"]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        info = r.info("persistence")
        assert info["rdb_saves"] == before + 2
        assert info["rdb_last_cow_size"] == 0 or s is redis_server
        assert info["rdb_current_bgsave_time_sec"] == -1


def test_default_save_rules_are_redis_servers(tmpdir_):
    """With no config file and no --save, both servers have Redis's default rules."""
    port = free_port()
    redis_ = Server("redis", [REDIS, "--port", str(port), "--bind", "127.0.0.1", "--dir", tmpdir_],
                    port, tmpdir_, r"Ready to accept connections")
    try:
        want = redis_.client().config_get("save")
        want_aof = redis_.client().config_get("appendonly")
    finally:
        redis_.stop()
    respd_ = Server("respd", [respd_bin(), "--port", "0", "--bind", "127.0.0.1", "--dir", tmpdir_],
                    None, tmpdir_, r"ready to accept connections on 127\.0\.0\.1:(\d+)")
    try:
        assert respd_.client().config_get("save") == want == {"save": "3600 1 300 100 60 10000"}
        assert respd_.client().config_get("appendonly") == want_aof == {"appendonly": "no"}
    finally:
        respd_.stop()


@pytest.mark.timeout(600)
def test_sigterm_during_the_load_exits_0_without_saving(bigdump, tmpdir_):
    """As Redis: a stop while loading never saves (it would write a half-loaded keyspace)."""
    wd = Path(tmpdir_)
    shutil.copy(bigdump, wd / "dump.rdb")
    before = (wd / "dump.rdb").stat().st_mtime_ns
    s = start_loading("respd", str(wd), "--save", "3600 1")
    try:
        c = RawClient(s.port)
        assert c.cmd("GET", "key:1") == b"-LOADING Redis is loading the dataset in memory\r\n"
        assert sig_stop(s, signal.SIGTERM) == 0
        assert (wd / "dump.rdb").stat().st_mtime_ns == before
        assert "received during loading" in s.log_text()
    finally:
        s.stop()
