"""respd scraped by the Prometheus redis exporter (Debian's prometheus-redis-exporter, which
reads INFO and CONFIG): the metrics a site dashboard uses come out with the values INFO gives,
for respd as for redis-server."""

import re
import shutil
import subprocess
import time
import urllib.request

import pytest

from conftest import STARTERS, free_port

EXPORTER = shutil.which("prometheus-redis-exporter") or "/usr/bin/prometheus-redis-exporter"


def scrape(url, bound=20.0):
    """The exporter's metrics as {name or name{labels}: value}. The bound catches an exporter
    that never starts; it is no speed limit."""
    deadline = time.monotonic() + bound
    while True:
        try:
            text = urllib.request.urlopen(url, timeout=10).read().decode()
            break
        except OSError:
            assert time.monotonic() < deadline, "exporter did not answer"
            time.sleep(0.1)
    out = {}
    for line in text.splitlines():
        m = re.match(r"^(redis_\w+(?:\{[^}]*\})?) (\S+)$", line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


@pytest.mark.parametrize("name", list(STARTERS))
def test_dashboard_metrics_match_info(name):
    s = STARTERS[name]("--maxmemory", "0")
    port = free_port()
    exporter = subprocess.Popen(
        [EXPORTER, "-web.listen-address", f"127.0.0.1:{port}",
         "-redis.addr", f"redis://127.0.0.1:{s.port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        r = s.client()
        r.mset({f"k{i}": i for i in range(25)})
        r.expire("k0", 1000)
        r3 = s.client(db=3)
        r3.set("other", "x")
        for i in range(7):
            r.get(f"k{i}")  # hits
        for i in range(4):
            r.get(f"missing{i}")  # misses
        info_before = r.info("all")
        m = scrape(f"http://127.0.0.1:{port}/metrics")
        info_after = r.info("all")

        assert m["redis_up"] == 1
        assert m['redis_db_keys{db="db0"}'] == 25
        assert m['redis_db_keys_expiring{db="db0"}'] == 1
        assert m['redis_db_keys{db="db3"}'] == 1
        assert m['redis_db_keys{db="db1"}'] == 0
        assert m["redis_keyspace_hits_total"] == info_after["keyspace_hits"] == 7
        assert m["redis_keyspace_misses_total"] == info_after["keyspace_misses"] == 4
        assert m["redis_evicted_keys_total"] == info_after["evicted_keys"] == 0
        assert m["redis_expired_keys_total"] == info_after["expired_keys"]
        # Counters that the scrape itself moves: between the readings taken around it.
        for metric, field in (("redis_commands_processed_total", "total_commands_processed"),
                              ("redis_connections_received_total", "total_connections_received")):
            assert info_before[field] <= m[metric] <= info_after[field], (metric, m[metric])
        assert m["redis_connected_clients"] >= 2  # this test's two clients and the exporter's
        assert m["redis_connected_clients"] <= info_after["connected_clients"] + 1
        used = m["redis_memory_used_bytes"]
        assert 0.5 * info_before["used_memory"] <= used <= 2 * info_after["used_memory"], used
        assert m["redis_uptime_in_seconds"] == pytest.approx(info_after["uptime_in_seconds"], abs=2)
        assert m["redis_config_maxclients"] == 10000
        # Commands per type, from INFO commandstats (what dashboards plot as ops by command).
        assert m['redis_commands_total{cmd="mset"}'] == 1
        assert m['redis_commands_total{cmd="get"}'] == 11
    finally:
        exporter.terminate()
        exporter.wait(10)
        s.stop()
