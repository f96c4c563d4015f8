"""A raw RESP client: sends commands and returns each reply's exact bytes, for byte-level comparison."""

import socket


def encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class RawClient:
    def __init__(self, port, host="127.0.0.1", timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def close(self):
        self.sock.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("connection closed")
        self.buf += chunk

    def _line(self, pos):
        while True:
            i = self.buf.find(b"\r\n", pos)
            if i >= 0:
                return i
            self._fill()

    def _reply_end(self, pos):
        """Index just past the complete reply starting at pos (reads more as needed)."""
        while len(self.buf) <= pos:
            self._fill()
        kind = self.buf[pos:pos + 1]
        eol = self._line(pos)
        head = self.buf[pos + 1:eol]
        if kind in (b"+", b"-", b":", b"_", b",", b"#", b"("):
            return eol + 2
        if kind in (b"$", b"=", b"!"):
            n = int(head)
            if n < 0:
                return eol + 2
            end = eol + 2 + n + 2
            while len(self.buf) < end:
                self._fill()
            return end
        if kind in (b"*", b"~", b">", b"%", b"|"):
            n = int(head)
            if kind in (b"%", b"|"):
                n *= 2
            p = eol + 2
            for _ in range(max(n, 0)):
                p = self._reply_end(p)
            return p
        raise ValueError(f"bad reply type {kind!r} in {self.buf[pos:pos + 40]!r}")

    def read_reply(self):
        end = self._reply_end(0)
        r, self.buf = self.buf[:end], self.buf[end:]
        return r

    def cmd(self, *args):
        self.sock.sendall(encode(args))
        return self.read_reply()

    def closed_by_peer(self, timeout=5.0):
        """True if the server closes the connection (after any pending bytes) within timeout."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False


def parse(data):
    """Parses one raw reply into Python values (bytes, int, list, dict, None, errors as Exception)."""
    val, _ = _parse(data, 0)
    return val


class Err(Exception):
    def __eq__(self, other):
        return isinstance(other, Err) and self.args == other.args

    def __hash__(self):
        return hash(self.args)


def _parse(d, p):
    kind = d[p:p + 1]
    eol = d.index(b"\r\n", p)
    head = d[p + 1:eol]
    p2 = eol + 2
    if kind == b"+":
        return head, p2
    if kind == b"-":
        return Err(head), p2
    if kind == b":":
        return int(head), p2
    if kind == b"_":
        return None, p2
    if kind == b",":
        return float(head), p2
    if kind == b"#":
        return head == b"t", p2
    if kind in (b"$", b"=", b"!"):
        n = int(head)
        if n < 0:
            return None, p2
        return d[p2:p2 + n], p2 + n + 2
    if kind in (b"*", b"~", b">"):
        n = int(head)
        if n < 0:
            return None, p2
        out = []
        for _ in range(n):
            v, p2 = _parse(d, p2)
            out.append(v)
        return out, p2
    if kind == b"%":
        n = int(head)
        out = {}
        for _ in range(n):
            k, p2 = _parse(d, p2)
            v, p2 = _parse(d, p2)
            out[repr(k)] = v
        return out, p2
    raise ValueError(kind)
