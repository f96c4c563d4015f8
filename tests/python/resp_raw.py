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


AGGREGATES = b"*~>%|"
"""Type bytes of aggregate replies; `%` (map) and `|` (attribute) count their length in pairs."""


def reply_end(data, pos=0):
    """Index just past the complete reply starting at data[pos], or None if data ends before it.

    The pure counterpart of `RawClient._reply_end` for buffers filled elsewhere; a bad type byte
    raises ValueError (the stream cannot be resynchronized after it)."""
    if len(data) <= pos:
        return None
    kind = data[pos:pos + 1]
    eol = data.find(b"\r\n", pos)
    if eol < 0:
        return None
    if kind in (b"+", b"-", b":", b"_", b",", b"#", b"("):
        return eol + 2
    head = data[pos + 1:eol]
    if kind in (b"$", b"=", b"!"):
        n = int(head)
        end = eol + 2 if n < 0 else eol + 2 + n + 2
        return end if len(data) >= end else None
    if kind in AGGREGATES:
        n = int(head)
        if kind in (b"%", b"|"):
            n *= 2
        p = eol + 2
        for _ in range(max(n, 0)):
            p = reply_end(data, p)
            if p is None:
                return None
        return p
    raise ValueError(f"bad reply type {kind!r} in {data[pos:pos + 40]!r}")


def elements(raw):
    """The raw encodings of an aggregate reply's elements, after its header line: (header, [bytes]).

    A map's or attribute's element is one key and its value together, so they stay a pair.
    None for a scalar or a null aggregate (`*-1`)."""
    kind = raw[:1]
    if kind not in AGGREGATES:
        return None
    eol = raw.index(b"\r\n")
    n = int(raw[1:eol])
    if n < 0:
        return None
    p, out = eol + 2, []
    for _ in range(n):
        q = reply_end(raw, p)
        if kind in (b"%", b"|"):
            q = reply_end(raw, q)
        out.append(raw[p:q])
        p = q
    return raw[:eol + 2], out
