"""Honest configuration: a parameter respd accepts either works, is refused, or is warned about by
name in the log (README.md, "What is not implemented"); and settings read on every request follow a
CONFIG SET at once."""

from pathlib import Path
import subprocess
import time

import pytest
import redis

from conftest import respd_bin, start_respd

WARN = "respd does not implement '{}'"


def wait_for_log(server, text, count=1, timeout=20):
    """Waits until the server's log holds `text` at least `count` times; returns the log."""
    deadline = time.monotonic() + timeout
    while True:
        log = server.log_text()
        if log.count(text) >= count:
            return log
        assert time.monotonic() < deadline, f"no {text!r} (x{count}) in the log:\n{log[-3000:]}"
        time.sleep(0.05)


def test_an_ignored_flag_is_named_in_the_log_at_startup():
    s = start_respd("--activedefrag", "yes", "--lazyfree-lazy-expire", "no", "--maxmemory", "1gb")
    try:
        log = wait_for_log(s, WARN.format("activedefrag"))
        # Set to its default, or implemented: no warning.
        assert "lazyfree-lazy-expire" not in log
        assert "'maxmemory'" not in log
        assert s.client().config_get("activedefrag") == {"activedefrag": "yes"}
    finally:
        s.stop()


def test_config_set_of_an_ignored_parameter_warns_once_per_set(respd):
    r = respd.client()
    assert r.config_set("lazyfree-lazy-eviction", "yes")
    wait_for_log(respd, WARN.format("lazyfree-lazy-eviction"))
    # Back to the default: no warning. The next warning is for another parameter, and once it is
    # there the first one's count must still be one.
    assert r.config_set("lazyfree-lazy-eviction", "no")
    r.execute_command("CONFIG", "SET", "hz", "50", "maxmemory", "10mb")
    log = wait_for_log(respd, WARN.format("hz"))
    assert log.count(WARN.format("lazyfree-lazy-eviction")) == 1
    assert "'maxmemory'" not in log
    assert r.config_get("hz") == {"hz": "50"}
    # Of client-output-buffer-limit, respd enforces the normal and pubsub classes: only the
    # replica class warns.
    assert r.config_set("client-output-buffer-limit", "pubsub 64mb 16mb 60")
    assert r.config_set("client-output-buffer-limit", "normal 1mb 0 0")
    assert r.config_set("client-output-buffer-limit", "replica 1mb 0 0")
    log = wait_for_log(respd, "only the normal and pubsub classes of 'client-output-buffer-limit'")
    assert log.count("only the normal and pubsub classes") == 1, log


def test_a_startup_only_parameter_says_when_it_takes_effect(respd):
    r = respd.client()
    assert r.config_set("bind", "127.0.0.1 -::1")
    wait_for_log(respd, "respd reads 'bind' only at startup")
    assert r.config_get("bind") == {"bind": "127.0.0.1 -::1"}
    assert r.ping()


def test_appendonly_and_save_follow_config_set(respd):
    r = respd.client()
    # The "off" values clients and test fixtures set keep working.
    assert r.config_set("save", "")
    assert r.config_set("appendonly", "no")
    # The AOF exists (test_persist_aof.py): on and off at runtime, as Redis.
    assert r.config_set("appendonly", "yes")
    assert r.info("persistence")["aof_enabled"] == 1
    assert r.config_set("appendonly", "no")
    assert r.info("persistence")["aof_enabled"] == 0
    # save rules work since SAVE/BGSAVE exist (test_persist_rdb.py): checked as Redis does.
    assert r.config_set("save", "3600 1")
    with pytest.raises(redis.ResponseError, match="Invalid save parameters"):
        r.config_set("save", "3600")
    # Refused as a whole: the good pair before it is not applied either.
    with pytest.raises(redis.ResponseError, match="argument 'save'"):
        r.execute_command("CONFIG", "SET", "maxmemory", "5mb", "save", "3600")
    assert r.config_get("maxmemory") == {"maxmemory": "0"}
    assert r.config_get("appendonly") == {"appendonly": "no"}
    # Type errors keep Redis's text.
    with pytest.raises(redis.ResponseError, match="argument must be 'yes' or 'no'"):
        r.config_set("appendonly", "maybe")


def test_persistence_flags_at_startup():
    s = start_respd("--appendonly", "yes")
    try:
        assert s.client().info("persistence")["aof_enabled"] == 1
        assert (Path(s.workdir) / "appendonlydir" / "appendonly.aof.manifest").exists()
    finally:
        s.stop()
    s = start_respd("--save", "", "--appendonly", "no")
    try:
        assert s.client().config_get("save") == {"save": ""}
        assert "does not implement" not in s.log_text()
    finally:
        s.stop()


def test_hot_settings_follow_config_set_at_once(respd):
    r = respd.client()
    # Encoding limits, read on every write of their type.
    r.config_set("zset-max-listpack-entries", 2)
    r.zadd("z", {"a": 1, "b": 2})
    assert r.object("encoding", "z") == b"listpack"
    r.zadd("z", {"c": 3})
    assert r.object("encoding", "z") == b"skiplist"
    r.config_set("hash-max-listpack-value", 4)
    r.hset("h", "f", "long value")
    assert r.object("encoding", "h") == b"hashtable"
    r.config_set("set-max-intset-entries", 1)
    r.sadd("s", 1, 2)
    assert r.object("encoding", "s") == b"hashtable"
    # The protocol limit, read by the parser.
    r.config_set("proto-max-bulk-len", "1mb")
    with pytest.raises(redis.ResponseError, match="invalid bulk length"):
        respd.client().set("big", b"x" * ((1 << 20) + 1))
    r.config_set("proto-max-bulk-len", "512mb")
    assert respd.client().set("big", b"x" * ((1 << 20) + 1))
    # The password, checked on every request of an unauthenticated client.
    r.config_set("requirepass", "s3cret")
    with pytest.raises(redis.AuthenticationError):
        respd.client().get("big")
    ok = respd.client(password="s3cret")
    assert ok.strlen("big") == (1 << 20) + 1
    ok.config_set("requirepass", "")
    assert respd.client().exists("big") == 1
    # The eviction policy, read by OBJECT FREQ.
    with pytest.raises(redis.ResponseError, match="LFU maxmemory policy is not selected"):
        r.object("freq", "big")
    r.config_set("maxmemory-policy", "allkeys-lfu")
    assert isinstance(r.object("freq", "big"), int)


def test_config_file_errors_name_file_line_and_a_close_name(tmp_path):
    """A typo in the YAML file names the file, the line and the parameter meant; a mapping where
    a value belongs is shown as YAML; a missing file is reported once."""
    def start(*args):
        return subprocess.run([respd_bin(), *args], capture_output=True, text=True, timeout=20)

    f = tmp_path / "respd.yaml"
    f.write_text("port: 0\nbind: 127.0.0.1\n# the memory cap\nmaxmemroy: 1gb\n")
    p = start(str(f))
    assert p.returncode == 2, p
    assert f"unknown configuration key 'maxmemroy' in {f} line 4 (did you mean 'maxmemory'?)" \
        in p.stderr, p.stderr
    f.write_text("port:\n  a: 1\n")
    p = start(str(f))
    assert p.returncode == 2 and "line 1" in p.stderr and "not {a: 1}" in p.stderr, p.stderr
    assert "Mapping" not in p.stderr and "Number(" not in p.stderr, p.stderr
    p = start("--port", "0", "--maxmemroy", "1gb")
    assert p.returncode == 2 and "on the command line (did you mean 'maxmemory'?)" in p.stderr, p
    p = start(str(tmp_path / "missing.yaml"))
    assert p.returncode == 2 and p.stderr.count("No such file or directory") == 1, p.stderr


def test_loglevel_verbose_differs_from_notice_and_config_set_takes_effect():
    """As Redis: `verbose` adds clients accepted and closed, `notice` does not; CONFIG SET
    loglevel changes what is logged at once."""
    s = start_respd("--loglevel", "notice")
    try:
        r = s.client()
        r.ping()
        c = s.client()
        c.ping()
        c.close()
        time.sleep(0.3)
        assert "Accepted 127.0.0.1:" not in s.log_text()
        r.config_set("loglevel", "verbose")
        assert r.config_get("loglevel") == {"loglevel": "verbose"}
        c = s.client()
        c.ping()
        c.close()
        wait_for_log(s, "Accepted 127.0.0.1:")
        wait_for_log(s, "Client closed connection")
        r.config_set("loglevel", "warning")
        n = s.log_text().count("Accepted")
        for _ in range(3):
            c = s.client()
            c.ping()
            c.close()
        r.config_set("maxmemory", "5mb")  # a notice-level line would be written here... none is
        time.sleep(0.3)
        assert s.log_text().count("Accepted") == n
    finally:
        s.stop()


def test_journald_priorities_when_stdout_is_the_journal(tmp_path):
    """Under systemd (JOURNAL_STREAM names stdout's device:inode) every line is `<priority>text`,
    without a timestamp of its own; otherwise lines keep respd's own timestamps."""
    import os
    import re
    log = tmp_path / "journal.log"
    with open(log, "wb") as out:
        st = os.fstat(out.fileno())
        env = {**os.environ, "JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}
        env.pop("RESPD_LOG", None)
        p = subprocess.Popen([respd_bin(), "--port", "0", "--bind", "127.0.0.1", "--save", "",
                              "--maxmemory-policy", "allkeys-lru", "--lazyfree-lazy-eviction", "yes"],
                             stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
        try:
            deadline = time.monotonic() + 20
            while "ready to accept connections" not in log.read_text(errors="replace"):
                assert time.monotonic() < deadline and p.poll() is None, log.read_text()
                time.sleep(0.05)
        finally:
            p.terminate()
            p.wait(timeout=20)
    lines = [line for line in log.read_text().splitlines() if line]
    assert lines and all(re.match(r"<[3-7]>", line) for line in lines), lines
    assert any(line.startswith("<5>") and "ready to accept connections" in line for line in lines)
    assert not any(re.match(r"<\d>\d{4}-\d\d-\d\d", line) for line in lines), lines
    # A stale JOURNAL_STREAM (another file's inode) is not believed.
    s = start_respd()
    try:
        assert re.match(r"\d{4}-\d\d-\d\dT", s.log_text().splitlines()[0]), s.log_text()[:300]
    finally:
        s.stop()


@pytest.mark.parametrize("name", ["shutdown-on-sigterm", "shutdown-on-sigint"])
def test_shutdown_on_signal_flags_are_checked_and_printed_as_redis(respd, redis_server, name):
    """Redis's flag words (any case, one space apart), printed in its order, `default` for
    none; unknown words, empty words and SAVE with NOSAVE are refused with its texts."""
    values = ["save now", "bogus", "save nosave", "NOW  save", "default save", "",
              "force now save", "NoSave", "default"]
    got = {}
    for which, s in (("respd", respd), ("redis", redis_server)):
        r = s.client()
        out = []
        for v in values:
            try:
                r.config_set(name, v)
                out.append(r.config_get(name)[name])
            except redis.ResponseError as e:
                out.append(f"error: {e}")
        got[which] = out
    assert got["respd"] == got["redis"], got
    assert got["respd"][6] == "save now force"
