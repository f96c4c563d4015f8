"""Fixtures: real servers on free ports. Every test starts what it needs; none assumes a server runs.

`respd` is the release binary of this workspace (RESPD_BIN overrides); `redis_server` is Debian's
redis-server (REDIS_SERVER overrides). Both fixtures yield a `Server` with host, port and a
`client()` factory (redis-py).
"""

import functools
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import redis

ROOT = Path(__file__).resolve().parents[2]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StartError(RuntimeError):
    """A server did not come up; `bind_failed` says whether its port was taken meanwhile."""

    def __init__(self, msg, bind_failed=False):
        super().__init__(msg)
        self.bind_failed = bind_failed


class Server:
    """A server process we started. It is up once its log has a line matching `ready` (written
    after it listens: a connection alone could reach another process that took the port). With
    `port=None` (respd binds port 0) the first group of `ready` is the port it got, so no other
    process can take the port between choosing and binding it."""

    def __init__(self, name, argv, port, workdir, ready, own_workdir=False, timeout=20.0):
        self.name = name
        self.ready = ready
        self.host = "127.0.0.1"
        self.port = port
        self.workdir = workdir
        self.own_workdir = own_workdir
        self.log_path = Path(workdir) / f"{name}.log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, cwd=workdir)
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop(keep_workdir=True)
            raise

    def log_text(self):
        return self.log_path.read_text(errors="replace")

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                text = self.log_text()
                raise StartError(f"{self.name} exited with {self.proc.returncode} (log: {self.log_path}):"
                                 f"\n{text[-2000:]}", bind_failed="in use" in text)
            m = re.search(self.ready, self.log_text())
            if m:
                if self.port is None:
                    self.port = int(m.group(1))
                try:
                    with socket.create_connection((self.host, self.port), timeout=0.2):
                        return
                except OSError:
                    pass
            time.sleep(0.05)
        raise StartError(f"{self.name} did not start within {timeout}s (log: {self.log_path}):\n"
                         f"{self.log_text()[-2000:]}")

    def client(self, **kw):
        return redis.Redis(host=self.host, port=self.port, **kw)

    def alive(self):
        return self.proc.poll() is None

    def stop(self, keep_workdir=False):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self.log.closed:
            self.log.close()
        # A failed start keeps its directory (the log says why); its path is in the error.
        if self.own_workdir and not keep_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


@functools.cache
def cargo_build():
    """Builds once per session, so a test never runs a stale binary. The same command as ci/test
    (other flags unify features differently and would rebuild respd back and forth), so after it,
    or on an unchanged tree, cargo has nothing to do."""
    subprocess.run(["cargo", "build", "--workspace", "--release", "--locked", "--all-targets"],
                   cwd=ROOT, check=True)


def respd_bin():
    if os.environ.get("RESPD_BIN"):
        return os.environ["RESPD_BIN"]
    cargo_build()
    return str(ROOT / "target" / "release" / "respd")


def start_respd(*extra, workdir=None, prefix=()):
    """`prefix` goes before the binary: a wrapper such as `prlimit --nofile=256:256`."""
    wd = workdir or tempfile.mkdtemp(prefix="respd-")
    # No save rules unless a test gives some (as start_redis): the embedded defaults have Redis's,
    # which would save at every stop.
    argv = [*prefix, respd_bin(), "--port", "0", "--bind", "127.0.0.1", "--save", "", *extra]
    return Server("respd", argv, None, wd, r"ready to accept connections on 127\.0\.0\.1:(\d+)",
                  own_workdir=workdir is None)


def start_redis(*extra, workdir=None, prefix=()):
    exe = os.environ.get("REDIS_SERVER") or shutil.which("redis-server") or "/usr/bin/redis-server"
    # redis-server's port 0 means no TCP listener: pick a free port, and pick again if another
    # process took it before redis-server bound it.
    for attempt in range(5):
        port = free_port()
        wd = workdir or tempfile.mkdtemp(prefix="redis-")
        argv = [*prefix, exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", wd, *extra]
        try:
            return Server("redis", argv, port, wd, r"Ready to accept connections",
                          own_workdir=workdir is None)
        except StartError as e:
            if not e.bind_failed or attempt == 4:
                raise
            if workdir is None:
                shutil.rmtree(wd, ignore_errors=True)
    raise AssertionError("unreachable")


def pin_process(pid, cpu):
    """Pins every thread of a running process to one CPU (the benchmark scripts give the server
    one core and the client the other). `sched_setaffinity(pid)` alone moves only the main thread."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            os.sched_setaffinity(int(tid), {cpu})
        except ProcessLookupError:
            pass  # a thread that ended meanwhile


# A hung server must not hang the run: every test gets this timeout unless --timeout says otherwise.
DEFAULT_TIMEOUT = 300


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    if config.pluginmanager.hasplugin("timeout") and config.getoption("timeout", None) is None:
        config.option.timeout = DEFAULT_TIMEOUT


# A skip hides whatever the skipped test would have caught, so a run with any skip fails (set
# RESPD_ALLOW_SKIPS=1 to run a deliberate subset that skips). Reasons are listed with `-rs`.
_skipped = []


def pytest_runtest_logreport(report):
    if report.skipped and not hasattr(report, "wasxfail"):
        _skipped.append(report.nodeid)


def _dumps_in_checkout():
    """Dump files in the checkout (outside target/): a server started there wrote them."""
    found = set()
    for pattern in ("dump.rdb", "temp-*.rdb"):
        found.update(p for p in ROOT.rglob(pattern) if "target" not in p.relative_to(ROOT).parts)
    return found


_dumps_before = set()


def pytest_sessionstart(session):
    _dumps_before.update(_dumps_in_checkout())


def pytest_sessionfinish(session, exitstatus):
    if _skipped and exitstatus == 0 and os.environ.get("RESPD_ALLOW_SKIPS") != "1":
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    # A test must keep its servers' files in a temporary directory, never in the checkout.
    left = sorted(_dumps_in_checkout() - _dumps_before)
    if left:
        print(f"\nFAILED: the tests left dump files in the checkout: {', '.join(map(str, left))}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter):
    if _skipped and os.environ.get("RESPD_ALLOW_SKIPS") != "1":
        terminalreporter.write_line(
            f"FAILED: {len(_skipped)} skipped test(s); a skip would hide a regression "
            f"(RESPD_ALLOW_SKIPS=1 allows them): " + ", ".join(_skipped), red=True)


@pytest.fixture
def respd():
    s = start_respd()
    try:
        yield s
        assert s.alive(), "respd died during the test"
    finally:
        s.stop()


@pytest.fixture
def redis_server():
    s = start_redis()
    try:
        yield s
    finally:
        s.stop()


STARTERS = {"respd": start_respd, "redis": start_redis}


@pytest.fixture(params=list(STARTERS))
def each_server(request):
    """The test once against a fresh respd and once against a fresh redis-server."""
    s = STARTERS[request.param]()
    try:
        yield s
    finally:
        s.stop()


def keyspace_events(server, cmds, pattern="__key*__:*", events="KEA"):
    """Runs `cmds` with every keyspace event on and returns the (channel, key) events they
    published, in order. A final `SET end` is the marker that ends the collection (not a silence);
    the time bound only catches a marker that never comes."""
    c = server.client()
    c.flushall()
    c.config_set("notify-keyspace-events", events)
    p = c.pubsub()
    p.psubscribe(pattern)
    deadline = time.monotonic() + 10
    while True:
        assert time.monotonic() < deadline, "no psubscribe confirmation"
        m = p.get_message(timeout=0.1)
        if m and m["type"] == "psubscribe":
            break
    for cmd in cmds:
        c.execute_command(*cmd)
    c.set("end", "1")
    got = []
    deadline = time.monotonic() + 20
    while True:
        assert time.monotonic() < deadline, f"no event for `set end`; got {got}"
        m = p.get_message(timeout=0.2)
        if not m or m["type"] != "pmessage":
            continue
        ev = (m["channel"].decode(), m["data"].decode())
        if ev == ("__keyevent@0__:set", "end"):
            break
        got.append(ev)
    p.close()
    return got


@pytest.fixture(scope="module")
def respd_shared():
    s = start_respd()
    try:
        yield s
        assert s.alive(), "respd died during the module"
    finally:
        s.stop()


@pytest.fixture(scope="module")
def redis_shared():
    s = start_redis()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def servers():
    """A respd and a redis-server for a whole module, as (respd, redis); respd must still be
    alive at the end."""
    a, b = start_respd(), start_redis()
    try:
        yield a, b
        assert a.alive()
    finally:
        a.stop()
        b.stop()
