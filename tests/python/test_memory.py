"""Memory held for large values: a stored 128 MiB value costs close to its size, and receiving it
does not need a second copy (peak RSS while it arrives)."""

import socket
import time

from resp_raw import RawClient

MIB = 1 << 20


def status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if v.strip().endswith("kB"):
                out[k] = int(v.split()[0]) * 1024
    return out


def test_128_mib_value_memory(respd):
    n = 128 * MIB
    c = RawClient(respd.port)
    assert c.cmd("PING") == b"+PONG\r\n"
    idle = status(respd.proc.pid)
    # Send in 64 KiB writes, as a client on a network would.
    s = socket.create_connection(("127.0.0.1", respd.port))
    payload = b"\xab" * (64 * 1024)
    s.sendall(b"*3\r\n$3\r\nSET\r\n$5\r\nimage\r\n$%d\r\n" % n)
    for _ in range(n // len(payload)):
        s.sendall(payload)
    s.sendall(b"\r\n")
    assert s.recv(16) == b"+OK\r\n"
    s.close()
    after = status(respd.proc.pid)
    held = after["VmRSS"] - idle["VmRSS"]
    peak = after["VmHWM"] - idle["VmRSS"]
    assert held <= 1.05 * n, f"stored value holds {held / n:.3f}x its size"
    assert peak <= 1.10 * n, f"peak while arriving {peak / n:.3f}x its size"
    # Reading it back does not copy it either.
    s = socket.create_connection(("127.0.0.1", respd.port))
    s.sendall(b"GET image\r\n")
    got = 0
    while got < n + len(b"$%d\r\n\r\n" % n):
        chunk = s.recv(1 << 20)
        assert chunk
        got += len(chunk)
    s.close()
    after_get = status(respd.proc.pid)
    assert after_get["VmHWM"] - idle["VmRSS"] <= 1.10 * n
    # Deleting it gives the memory back: the buffer is kept for reuse for 2 s, then freed.
    assert c.cmd("DEL", "image") == b":1\r\n"
    deadline = time.time() + 10
    while status(respd.proc.pid)["VmRSS"] - idle["VmRSS"] >= 0.1 * n and time.time() < deadline:
        time.sleep(0.2)
    assert status(respd.proc.pid)["VmRSS"] - idle["VmRSS"] < 0.1 * n
