"""redis-cli and redis-benchmark, unchanged, against respd; and respd-bench's own habits."""

import os
import re
import subprocess
from pathlib import Path

from conftest import respd_bin, start_respd


def cli(srv, *args, input=None):
    return subprocess.run(["redis-cli", "-p", str(srv.port), *args], input=input,
                          capture_output=True, timeout=60, check=True).stdout


def test_redis_cli_commands_and_inline(respd):
    assert cli(respd, "PING") == b"PONG\n"
    assert cli(respd, "SET", "greeting", "hello world") == b"OK\n"
    assert cli(respd, "GET", "greeting") == b"hello world\n"
    assert cli(respd, "--no-raw", "MGET", "greeting", "nope") == b'1) "hello world"\n2) (nil)\n'
    assert b"redis_version:" in cli(respd, "INFO", "server")
    assert cli(respd, "-3", "HELLO", "3").startswith(b"server redis\nversion 7.0.15\nproto 3\n")
    # Commands piped on stdin, one per line (inline protocol through redis-cli).
    out = cli(respd, input=b"SET a 1\nINCR a\nGET a\n")
    assert out == b"OK\n2\n2\n"


def test_redis_cli_pipe_mode(respd):
    proto = b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\nk%d\r\n$1\r\nv\r\n" % (len(str(i)) + 1, i) for i in range(5000))
    out = cli(respd, "--pipe", input=proto)
    assert b"errors: 0, replies: 5000" in out
    assert cli(respd, "DBSIZE") == b"5000\n"


def test_redis_cli_scan_and_bigkeys(respd):
    for i in range(50):
        cli(respd, "SET", f"scan:{i}", "x" * i)
    keys = cli(respd, "--scan", "--pattern", "scan:*").split()
    assert len(keys) == 50
    out = cli(respd, "--bigkeys")
    assert b"Biggest string found" in out and b"scan:49" in out


def test_redis_benchmark_runs_without_errors(respd):
    out = subprocess.run(
        ["redis-benchmark", "-p", str(respd.port), "-t", "ping,set,get,incr,mset", "-n", "20000",
         "-c", "20", "-P", "8", "-q"], capture_output=True, timeout=120, check=True)
    text = out.stdout.decode() + out.stderr.decode()
    assert "ERR" not in text and "error" not in text.lower(), text
    rates = re.findall(r"([A-Z_]+)[A-Za-z0-9 ()]*: ([0-9.]+) requests per second", text)
    names = {n for n, _ in rates}
    assert {"PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "MSET"} <= names, text
    assert all(float(r) > 0 for _, r in rates)
    # Large values through redis-benchmark too.
    out = subprocess.run(["redis-benchmark", "-p", str(respd.port), "-t", "set,get", "-n", "200",
                          "-c", "4", "-d", str(1 << 20), "-q"], capture_output=True, timeout=120, check=True)
    assert out.stdout.count(b"requests per second") == 2


def bench(srv, *args, env=None):
    exe = Path(respd_bin()).with_name("respd-bench")
    return subprocess.run([str(exe), "-p", str(srv.port), "-n", "500", "--quiet", *args],
                          capture_output=True, text=True, timeout=120, env=env)


def test_respd_bench_logs_in_and_fails_on_error_replies():
    """respd-bench against a password-protected server: -a (or REDISCLI_AUTH, as redis-cli) logs
    every connection in; without it, or when requests get error replies, it exits non-zero
    with the first error, instead of reporting a run that measured nothing."""
    s = start_respd("--requirepass", "sekret")
    try:
        out = bench(s)
        assert out.returncode != 0 and "NOAUTH" in out.stderr, out
        out = bench(s, "-a", "wrong")
        assert out.returncode != 0 and "WRONGPASS" in out.stderr, out
        out = bench(s, "-a", "sekret")
        assert out.returncode == 0 and ", 0 error(s)" in out.stdout, out
        out = bench(s, env={**os.environ, "REDISCLI_AUTH": "sekret"})
        assert out.returncode == 0, out
        r = s.client(password="sekret")
        r.set("str", "x")
        out = bench(s, "-a", "sekret", "--command", "LPUSH str __data__")
        assert out.returncode != 0, out
        assert "500 request(s) got an error reply" in out.stderr and "WRONGTYPE" in out.stderr, out
    finally:
        s.stop()


def test_respd_bench_redis_benchmark_flags_and_exports(respd, tmp_path):
    """redis-benchmark's flags mean the same (-h host, -t tests, -q, --csv); the latency
    histograms export as HdrHistogram percentile distributions; the charts have a panel per
    operation (a mixed workload its own) and one per latency percentile."""
    exe = Path(respd_bin()).with_name("respd-bench")
    out = subprocess.run([str(exe), "-h", "127.0.0.1", "-p", str(respd.port), "-n", "500", "-q",
                          "-t", "set,get", "-d", "100", "--threads", "1", "--csv",
                          "--hist", str(tmp_path / "hist")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out
    rows = out.stdout.strip().splitlines()
    assert rows[0].startswith("target,link,workload,value_size,"), rows
    assert [r.split(",")[2] for r in rows[1:]] == ["SET P1", "GET P1"], rows
    assert all(int(r.split(",")[7]) == 500 for r in rows[1:]), rows
    hists = sorted(p.name for p in (tmp_path / "hist").iterdir())
    assert len(hists) == 2 and all(h.endswith(".hgrm") for h in hists), hists
    text = (tmp_path / "hist" / hists[0]).read_text()
    assert text.startswith("       Value     Percentile TotalCount 1/(1-Percentile)")
    last = [line for line in text.splitlines() if line and not line.startswith("#")][-1]
    assert last.split()[1].startswith("1.0") and last.split()[2] == "500", last
    assert "#[Max     =" in text and "Total count    =          500]" in text
    out = bench(respd, "--ratio", "1:1", "-d", "1000", "--csv", str(tmp_path / "r.csv"),
                "--plot", str(tmp_path / "t.svg"), "--latency-plot", str(tmp_path / "l.svg"))
    assert out.returncode == 0, out
    assert "SET:GET 1:1 P1" in (tmp_path / "r.csv").read_text()
    svg = (tmp_path / "t.svg").read_text()
    assert ">SET:GET 1:1</text>" in svg and ">SET</text>" not in svg, svg[:2000]
    lat = (tmp_path / "l.svg").read_text()
    assert all(f">{p}</text>" in lat for p in ("p50", "p99", "p99.9")), lat[:2000]
    assert bench(respd, "-t", "lpush").returncode != 0


def test_respd_shell_completion_offers_parameters_and_their_values():
    """`respd --completions bash` (what the RPM installs) completes parameter names from the
    parameter table and the values of enum and yes/no parameters."""
    script = subprocess.run([respd_bin(), "--completions", "bash"], capture_output=True,
                            text=True, check=True, timeout=30).stdout

    def complete(*words):
        prog = (script + f"\nCOMP_WORDS=({' '.join(words)}); COMP_CWORD={len(words) - 1}; "
                "_respd; echo \"${COMPREPLY[*]}\"")
        return subprocess.run(["bash", "-c", prog], capture_output=True, text=True,
                              check=True, timeout=30).stdout.split()

    assert complete("respd", "--maxmemory-p") == ["--maxmemory-policy"]
    assert complete("respd", "--appendfsync", "e") == ["everysec"]
    assert complete("respd", "--appendonly", "") == ["yes", "no"]
    assert complete("respd", "--rdb-key-save") == []  # hidden test settings are not offered
    bad = subprocess.run([respd_bin(), "--completions", "csh"], capture_output=True, text=True,
                         timeout=30)
    assert bad.returncode == 2 and "csh" in bad.stderr
