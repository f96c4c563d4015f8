#!/usr/bin/env python3
"""No-stall measurement (issue #21): 1 KiB GETs at a fixed rate from respd-bench while another
client removes a 512 MiB string or a 10-million-member set (DEL, UNLINK, overwrite, expiry,
eviction, FLUSHALL SYNC/ASYNC); prints the small GETs' p99.9 and max (latency from each
request's scheduled time) per server and operation.

    bench/stall.py --server respd=target/release/respd --server redis=/usr/bin/redis-server \
        [--ops del-str,unlink-set] [--members 10000000] [--json out.json]

Each server is started on a free port (cwd a temporary directory, no persistence) and stopped
at the end. Loopback only; every loop is bounded."""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

import redis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "target", "release", "respd-bench")
STR = 512 << 20


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(binary, port, tmp):
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", tmp]
    if binary.endswith("redis-server"):
        args[1:1] = ["--daemonize", "no"]
    p = subprocess.Popen(args, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    r = redis.Redis(port=port, socket_timeout=120)
    for _ in range(200):
        try:
            r.ping()
            return p, r
        except redis.exceptions.ConnectionError:
            time.sleep(0.05)
    p.kill()
    sys.exit(f"{binary} did not start")


def fill_set(port, key, members, tmp):
    """SADD in batches of 1000 through redis-cli --pipe (fast, one pass)."""
    path = os.path.join(tmp, f"fill-{members}.resp")
    if not os.path.exists(path):
        with open(path, "wb") as f:
            for base in range(0, members, 1000):
                n = min(1000, members - base)
                parts = [b"*%d\r\n$4\r\nSADD\r\n$%d\r\n%s\r\n" % (n + 2, len(key), key)]
                for i in range(base, base + n):
                    m = b"m%d" % i
                    parts.append(b"$%d\r\n%s\r\n" % (len(m), m))
                f.write(b"".join(parts))
    with open(path, "rb") as f:
        subprocess.run(["redis-cli", "-p", str(port), "--pipe"], stdin=f,
                       stdout=subprocess.DEVNULL, check=True, timeout=600)


OPS = {
    "idle-str": ("str", lambda r: r.ping()),
    # name: (what to build, what to run meanwhile)
    "del-str": ("str", lambda r: r.delete("big")),
    "unlink-str": ("str", lambda r: r.unlink("big")),
    "overwrite-str": ("str", lambda r: r.set("big", "small")),
    "rename-onto-str": ("str", lambda r: (r.set("other", "x"), r.rename("other", "big"))),
    "expire-str": ("str", lambda r: r.pexpire("big", 1)),
    "evict-str": ("str", lambda r: (r.config_set("maxmemory-policy", "allkeys-random"),
                                    r.config_set("maxmemory", 256 << 20),
                                    r.set("trigger", "x"))),
    "flushall-sync-str": ("str", lambda r: r.flushall()),
    "flushall-async-str": ("str", lambda r: r.flushall(asynchronous=True)),
    "del-set": ("set", lambda r: r.delete("bigset")),
    "unlink-set": ("set", lambda r: r.unlink("bigset")),
    "overwrite-set": ("set", lambda r: r.set("bigset", "small")),
    "expire-set": ("set", lambda r: r.pexpire("bigset", 1)),
    "flushall-sync-set": ("set", lambda r: r.flushall()),
    "flushall-async-set": ("set", lambda r: r.flushall(asynchronous=True)),
}


def run_one(name, binary, op, members, rate, tmp):
    port = free_port()
    proc, r = start(binary, port, tmp)
    try:
        kind, action = OPS[op]
        if kind == "str":
            r.set("big", b"x" * STR)
        else:
            fill_set(port, b"bigset", members, tmp)
        out = os.path.join(tmp, f"{name}-{op}.json")
        bench = subprocess.Popen(
            [BENCH, "-p", str(port), "--ratio", "0:1", "-d", "1KiB", "--keys", "1000",
             "--key-prefix", "small:", "-c", "4", "--threads", "1", "--rate", str(rate),
             "--duration", "4", "--warmup", "0.5", "--json", out, "-q"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(2.5)  # prefill, warm-up, a measured second and more
        t0 = time.monotonic()
        action(r)
        took = time.monotonic() - t0
        _, err = bench.communicate(timeout=120)
        res = [x for x in json.load(open(out)) if "p999_us" in x]
        if not res:
            sys.exit(f"respd-bench gave no result: {err.decode()[-500:]}")
        # Memory given back once the server says nothing is pending.
        for _ in range(600):
            info = r.info("memory")
            if info.get("lazyfree_pending_objects", 0) == 0:
                break
            time.sleep(0.05)
        return {"server": name, "op": op, "op_ms": round(took * 1000, 1),
                "p999_ms": res[0]["p999_us"] / 1000, "max_ms": res[0]["max_us"] / 1000,
                "used_memory_after": info["used_memory"],
                "lazyfreed_objects": info.get("lazyfreed_objects")}
    finally:
        proc.kill()
        proc.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", action="append", required=True, help="name=path")
    ap.add_argument("--ops", default=",".join(OPS))
    ap.add_argument("--members", type=int, default=10_000_000)
    ap.add_argument("--rate", type=int, default=20000)
    ap.add_argument("--json")
    a = ap.parse_args()
    # A TERM (timeout) still stops the servers this script started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    results = []
    with tempfile.TemporaryDirectory(prefix="respd-stall-") as tmp:
        for op in a.ops.split(","):
            for s in a.server:
                name, path = s.split("=", 1)
                res = run_one(name, path, op, a.members, a.rate, tmp)
                results.append(res)
                print(f"{op:20} {name:12} op {res['op_ms']:9.1f} ms   small GET p99.9 "
                      f"{res['p999_ms']:8.2f} ms  max {res['max_ms']:8.2f} ms", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
