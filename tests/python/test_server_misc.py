"""TIME, LASTSAVE, respd's `worker-threads 1` (a single-threaded runtime) and CONFIG SET of a
parameter that was given as a command-line flag; compared with redis-server where both have it."""

import threading
import time

import pytest

from conftest import STARTERS, start_respd


def test_time_is_the_wall_clock(each_server):
    r = each_server.client()
    before = time.time()
    secs, micros = r.execute_command("TIME")
    after = time.time()
    t = int(secs) + int(micros) / 1e6
    assert 0 <= int(micros) < 1_000_000
    assert before - 1 <= t <= after + 1, (before, t, after)  # same clock, not a speed bound
    later = [r.execute_command("TIME") for _ in range(50)]
    stamps = [int(s) * 1_000_000 + int(u) for s, u in [(secs, micros)] + later]
    assert stamps == sorted(stamps)  # never goes back


def test_lastsave_is_startup_time_without_saves(each_server):
    r = each_server.client()
    started = time.time() - server_age(r)
    last = r.lastsave()
    assert abs(last.timestamp() - started) <= 2, (last, started)
    assert r.info("persistence")["rdb_last_save_time"] == int(last.timestamp())
    assert r.lastsave() == last  # nothing saved since


def server_age(r):
    return r.info("server")["uptime_in_seconds"]


def test_worker_threads_1_runs_a_single_threaded_runtime():
    s = start_respd("--worker-threads", "1")
    multi = start_respd("--worker-threads", "4")
    try:
        r = s.client()
        assert r.config_get("worker-threads") == {"worker-threads": "1"}
        # Every connection runs on the one thread: a blocked client must not stop the others,
        # and a write from another client must wake it.
        got = {}
        waiter = threading.Thread(target=lambda: got.update(v=s.client().blpop(["q"], 30)), daemon=True)
        waiter.start()
        deadline = time.monotonic() + 20
        while r.info("clients")["blocked_clients"] != 1:
            assert time.monotonic() < deadline, "BLPOP did not block"
            time.sleep(0.02)
        for i in range(100):
            assert r.incr("n") == i + 1
        r.rpush("q", "x")
        waiter.join(20)
        assert got.get("v") == (b"q", b"x")
        # No worker pool: four fewer threads than the same binary with four workers.
        assert threads(s) + 3 <= threads(multi), (threads(s), threads(multi))
    finally:
        s.stop()
        multi.stop()


def threads(server):
    with open(f"/proc/{server.proc.pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("Threads:"))


@pytest.mark.parametrize("name", list(STARTERS))
def test_config_set_overrides_a_command_line_flag(name):
    s = STARTERS[name]("--maxmemory", "1mb", "--maxmemory-policy", "noeviction",
                      "--slowlog-log-slower-than", "-1")
    try:
        r = s.client()
        assert r.config_get("maxmemory") == {"maxmemory": str(1 << 20)}
        # The check comes before a write: the first may pass while the server is under 1 MiB.
        with pytest.raises(Exception, match="command not allowed when used memory"):
            for i in range(8):
                r.set(f"fill{i}", b"x" * (2 << 20))
        r.config_set("maxmemory", 0)
        assert r.config_get("maxmemory") == {"maxmemory": "0"}
        assert r.set("big", b"x" * (2 << 20))  # the flag's limit is gone
        r.config_set("slowlog-log-slower-than", 0)
        r.slowlog_reset()
        r.get("big")
        assert r.slowlog_len() >= 1  # the flag said never log; CONFIG SET says log everything
        assert r.config_get("slowlog-log-slower-than") == {"slowlog-log-slower-than": "0"}
    finally:
        s.stop()
