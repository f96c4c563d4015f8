"""Fixtures: real servers on free ports. Every test starts what it needs; none assumes a server runs.

`respd` is the release binary of this workspace (RESPD_BIN overrides); `redis_server` is Debian's
redis-server (REDIS_SERVER overrides). Both fixtures yield a `Server` with host, port and a
`client()` factory (redis-py).
"""

import os
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


def wait_port(port, proc, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not start")


class Server:
    """A server process we started."""

    def __init__(self, name, argv, port, workdir):
        self.name = name
        self.host = "127.0.0.1"
        self.port = port
        self.workdir = workdir
        self.log = open(Path(workdir) / f"{name}.log", "wb")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, cwd=workdir)
        wait_port(port, self.proc)

    def client(self, **kw):
        return redis.Redis(host=self.host, port=self.port, **kw)

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def respd_bin():
    b = os.environ.get("RESPD_BIN") or str(ROOT / "target" / "release" / "respd")
    if not Path(b).exists():
        subprocess.run(["cargo", "build", "--release", "-p", "respd"], cwd=ROOT, check=True)
    return b


def start_respd(*extra, workdir=None):
    port = free_port()
    wd = workdir or tempfile.mkdtemp(prefix="respd-")
    return Server("respd", [respd_bin(), "--port", str(port), "--bind", "127.0.0.1", *extra], port, wd)


def start_redis(*extra, workdir=None):
    exe = os.environ.get("REDIS_SERVER") or shutil.which("redis-server") or "/usr/bin/redis-server"
    port = free_port()
    wd = workdir or tempfile.mkdtemp(prefix="redis-")
    argv = [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", wd, *extra]
    return Server("redis", argv, port, wd)


def pin_process(pid, cpu):
    """Pins every thread of a running process to one CPU (the benchmark scripts give the server
    one core and the client the other). `sched_setaffinity(pid)` alone moves only the main thread."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            os.sched_setaffinity(int(tid), {cpu})
        except ProcessLookupError:
            pass  # a thread that ended meanwhile


@pytest.fixture
def respd():
    s = start_respd()
    yield s
    assert s.alive(), "respd died during the test"
    s.stop()


@pytest.fixture
def redis_server():
    s = start_redis()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def respd_shared():
    s = start_respd()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def redis_shared():
    s = start_redis()
    yield s
    s.stop()
