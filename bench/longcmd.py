#!/usr/bin/env python3
"""Who waits for a long command (issue #21): KEYS * over a large keyspace, or SORT of a large
list, runs in database 0 while two probe clients GET in a loop, one in database 0 (another key,
another shard most likely), one in database 1. Prints each probe's worst GET during the long
commands and the long command's own time. Give respd twice, with --worker-threads 1 and 2, to
see what sharing the worker adds.

    bench/longcmd.py --server respd=target/release/respd --server redis=/usr/bin/redis-server \
        [--keys 1000000] [--list 1000000] [--rounds 3]
"""

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import multiprocessing as mp
import time

import redis


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(binary, extra, tmp):
    port = free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", tmp] + extra
    p = subprocess.Popen(args, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    r = redis.Redis(port=port, socket_timeout=300)
    for _ in range(200):
        try:
            r.ping()
            return p, port
        except redis.exceptions.ConnectionError:
            time.sleep(0.05)
    p.kill()
    sys.exit(f"{binary} did not start")


def probe(port, db, stop, reset, worst):
    """A process of its own: the long command's reply, parsed in this script, holds the GIL."""
    r = redis.Redis(port=port, db=db, socket_timeout=300)
    r.set("probe", "x")
    n = 0
    while not stop.is_set() and n < 10_000_000:
        if reset.is_set():
            worst.value = 0.0
        t = time.monotonic()
        r.get("probe")
        worst.value = max(worst.value, time.monotonic() - t)
        n += 1


def measure(port, cmd, rounds):
    r = redis.Redis(port=port, socket_timeout=300)
    stop, reset = mp.Event(), mp.Event()
    worst = {0: mp.Value("d", 0.0), 1: mp.Value("d", 0.0)}
    ts = [mp.Process(target=probe, args=(port, db, stop, reset, worst[db])) for db in (0, 1)]
    for t in ts:
        t.start()
    reset.set()
    time.sleep(1.0)  # connected, past their first GETs
    reset.clear()
    time.sleep(0.1)
    took = 0.0
    for _ in range(rounds):
        t = time.monotonic()
        r.execute_command(*cmd)
        took = max(took, time.monotonic() - t)
    stop.set()
    for t in ts:
        t.join()
    return took, worst[0].value, worst[1].value


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", action="append", required=True, help="name=path[,extra args]")
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--list", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    with tempfile.TemporaryDirectory(prefix="respd-longcmd-") as tmp:
        for s in a.server:
            name, rest = s.split("=", 1)
            binary, *extra = rest.split(",")
            proc, port = start(binary, extra, tmp)
            try:
                r = redis.Redis(port=port, socket_timeout=300)
                pipe = r.pipeline(transaction=False)
                for i in range(a.keys):
                    pipe.set(f"k{i}", "v")
                    if i % 10000 == 9999:
                        pipe.execute()
                pipe.execute()
                for base in range(0, a.list, 10000):
                    r.rpush("biglist", *range(base, min(a.list, base + 10000)))
                for label, cmd in [("KEYS *", ["KEYS", "*"]), ("SORT biglist", ["SORT", "biglist"])]:
                    took, w0, w1 = measure(port, cmd, a.rounds)
                    print(f"{name:22} {label:13} command {took * 1000:8.1f} ms   worst GET: "
                          f"same db {w0 * 1000:8.1f} ms, other db {w1 * 1000:8.1f} ms", flush=True)
            finally:
                proc.kill()
                proc.wait()


if __name__ == "__main__":
    main()
