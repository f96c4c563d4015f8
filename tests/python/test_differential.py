"""Differential suite: the same command sequences go to Debian's redis-server and to respd, and
every byte of every reply is compared.

Each file in tests/diff/ is one sequence, run on fresh connections after FLUSHALL. A line is a
command, split as redis-cli splits its arguments: double-quoted args understand `\\xHH`, `\\n`,
`\\r`, `\\t`, `\\b`, `\\a`, `\\"` and `\\\\` (so values can hold NUL, CR LF and high bytes),
single-quoted ones only `\\'`. Or a line is a directive:
  # ...              a comment
  !sort CMD ...      each reply's elements may come in any order (SMEMBERS, KEYS, RESP3 maps, ...);
                     every element's encoding (simple/bulk/verbatim, null kind, `*` vs `~`) must
                     still match byte for byte
  !sortpairs CMD ... the same for a flat RESP2 array of pairs (HGETALL, CONFIG GET, WITHSCORES):
                     a pair moves as a whole
  !type CMD ...      a structural comparison (ids, times, random picks): the same RESP type at every
                     level, the same lengths, map keys and the field names of field/value arrays
                     exact, other scalars by type only (null or not); errors exact
  !skip CMD ...      send to both; compare only the number of replies (values differ, CLIENT ID)
  !sleep SECONDS     pause (expiry)
  !reconnect         open new connections on both servers

How a command's replies are collected, exactly and fast: the runner sends the command and right
behind it a sentinel whose reply it recognizes, then reads complete replies until the sentinel's.
A server answers a connection's commands in order, so everything before the sentinel's reply
belongs to the command: an extra or a missing reply is a mismatch at its own line instead of
shifting the rest of the file, with no quiet window per command. The sentinel is `PING <nonce>`
(a bulk nonce, or `pong`+nonce in a RESP2 subscribed context), except inside MULTI, where PING
would be queued: there it is `MULTI`, whose nested-MULTI error changes nothing. Whether the
connection is in MULTI is followed from redis-server's replies: MULTI, EXEC, DISCARD and RESET go
out alone, and their first reply from redis-server picks the sentinel sent after them (one extra
round trip for those lines). A wrong guess shows as a sentinel that never answers, which stops the
file with a runner error instead of comparing garbage; CLIENT REPLY OFF/SKIP would hide the
sentinel, so the files do not use it. The sentinel replies are compared too. Bytes a server sends
after a sentinel's reply belong to the next command's stream (a mismatch there); before
`!reconnect` and at the end of a file the runner waits DRAIN_WAIT once and compares whatever else
arrived. A connection the server closes (QUIT) ends its stream with `<connection closed>`; the
next command needs `!reconnect`.
"""

import socket
import threading
import time

import pytest

from conftest import ROOT
from resp_raw import elements, encode, reply_end

DIFF_DIR = ROOT / "tests" / "diff"
FILES = sorted(DIFF_DIR.glob("*.txt"))

REFERENCE_TIMEOUT = 20.0
"""How long redis-server may take for one command and its sentinel (blocking cases wait ~1 s)."""
RESPD_GRACE = 10.0
"""How long respd may lag behind redis-server's complete answer before its stream is cut short:
generous, for a loaded machine; only a respd that never answers the sentinel waits it out."""
RESPD_TIMEOUTS_PER_FILE = 3
"""After this many commands whose sentinel respd never answered, the file stops (all would wait)."""
DRAIN_WAIT = 0.05
"""The one wait per connection for late bytes after its last reply."""

CLOSED = "<connection closed>"
NESTED_MULTI = b"-ERR MULTI calls can not be nested\r\n"


class RunnerError(Exception):
    """The case file, not respd, is wrong: bad quoting, or the runner lost track of redis-server."""


# --- splitting a line like redis-cli (sdssplitargs) ---

ESCAPES = {"n": b"\n", "r": b"\r", "t": b"\t", "b": b"\b", "a": b"\a"}
HEX = "0123456789abcdefABCDEF"


def split_args(line):
    """The arguments of one line as bytes, with redis-cli's quoting; ValueError on bad quotes."""
    out, i, n = [], 0, len(line)
    while True:
        while i < n and line[i] in " \t\n\r\v\f":
            i += 1
        if i >= n:
            return out
        tok, inq, insq = bytearray(), False, False
        while True:
            c = line[i] if i < n else ""
            if inq:
                if not c:
                    raise ValueError("unbalanced double quotes")
                if c == "\\" and line[i + 1:i + 2] == "x" and len(line[i + 2:i + 4]) == 2 and all(
                        h in HEX for h in line[i + 2:i + 4]):
                    tok.append(int(line[i + 2:i + 4], 16))
                    i += 3
                elif c == "\\" and i + 1 < n:
                    i += 1
                    tok += ESCAPES.get(line[i], line[i].encode())
                elif c == '"':
                    # like redis-cli, a closing quote must end the argument
                    if i + 1 < n and line[i + 1] not in " \t\n\r":
                        raise ValueError("closing quote must be followed by a space")
                    i += 1
                    break
                else:
                    tok += c.encode()
            elif insq:
                if not c:
                    raise ValueError("unbalanced single quotes")
                if c == "\\" and line[i + 1:i + 2] == "'":
                    i += 1
                    tok += b"'"
                elif c == "'":
                    if i + 1 < n and line[i + 1] not in " \t\n\r":
                        raise ValueError("closing quote must be followed by a space")
                    i += 1
                    break
                else:
                    tok += c.encode()
            else:
                if not c or c in " \t\n\r":
                    break
                if c == '"':
                    inq = True
                elif c == "'":
                    insq = True
                else:
                    tok += c.encode()
            i += 1
        out.append(bytes(tok))


# --- comparing one command's replies ---

def order_free(raw, pairs):
    """A reply with its top-level elements sorted by their raw encodings (pairs kept together)."""
    parts = elements(raw)
    if parts is None:
        return raw
    header, elems = parts
    if pairs and raw[:1] == b"*":
        if len(elems) % 2:
            return raw
        elems = [elems[i] + elems[i + 1] for i in range(0, len(elems), 2)]
    return header, sorted(elems)


def _is_name(raw):
    return raw[:1] in (b"+", b"$") and not raw.startswith(b"$-1")


def shape(raw):
    """What `!type` compares of a reply: its structure, without the values that may differ."""
    kind = raw[:1]
    if kind == b"-" or raw in (b"$-1\r\n", b"*-1\r\n", b"_\r\n"):
        return raw
    parts = elements(raw)
    if parts is None:
        return kind
    header, elems = parts
    if kind in (b"%", b"|"):
        entries = []
        for e in elems:
            k = reply_end(e)
            entries.append((e[:k], shape(e[k:])))
        return header, entries
    # A RESP2 field/value list (XINFO, COMMAND key specs): names at the even places, and a value
    # that is not a string among them (a flat list of strings is members or pairs of data).
    if (len(elems) >= 4 and len(elems) % 2 == 0 and all(_is_name(e) for e in elems[::2])
            and not all(_is_name(e) for e in elems[1::2])):
        return header, "fields", [(elems[i], shape(elems[i + 1])) for i in range(0, len(elems), 2)]
    return header, [shape(e) for e in elems]


def same(mode, ra, rb):
    """Whether two streams (the command's replies, then the sentinel's or CLOSED) agree in mode."""
    if len(ra) != len(rb) or ra[-1:] != rb[-1:]:
        return False
    if mode == "skip":
        return True
    norm = {
        None: lambda r: r,
        "sort": lambda r: order_free(r, False),
        "sortpairs": lambda r: order_free(r, True),
        "type": shape,
    }[mode]
    try:
        return all(x == y if CLOSED in (x, y) else norm(x) == norm(y)
                   for x, y in zip(ra[:-1], rb[:-1]))
    except ValueError:
        return False  # bytes that are not RESP, from respd: differ from redis-server's anyway


def show(stream):
    """A stream for a mismatch report, each reply cut at 300 bytes."""
    return "[" + ", ".join(r if r is CLOSED else repr(r[:300]) for r in stream) + "]"


# --- the two connections ---

class Side:
    """The runner's connection to one server: its socket, unread bytes, and whether it closed."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=REFERENCE_TIMEOUT)
        self.buf = b""
        self.closed = False

    def close(self):
        self.sock.close()

    def send(self, data):
        try:
            self.sock.sendall(data)
        except OSError:
            self.closed = True  # what the server sent before closing is still read

    def read_until(self, is_sentinel, need, timeout):
        """Complete replies up to the need-th that is_sentinel accepts (included); ends early with
        CLOSED when the server closes (after the bytes of any partial reply), or at the timeout."""
        out, seen = [], 0
        deadline = time.monotonic() + timeout
        while True:
            try:
                end = reply_end(self.buf)
            except ValueError:
                end = len(self.buf)  # not RESP: compared as one item
            if end:
                r, self.buf = self.buf[:end], self.buf[end:]
                out.append(r)
                if is_sentinel(r):
                    seen += 1
                    if seen == need:
                        return out
                continue
            if self.closed:
                if self.buf:
                    out.append(self.buf)
                    self.buf = b""
                return out + [CLOSED]
            left = deadline - time.monotonic()
            if left <= 0:
                return out
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(1 << 16)
            except socket.timeout:
                return out
            except OSError:
                chunk = b""
            if chunk:
                self.buf += chunk
            else:
                self.closed = True

    def drain(self):
        """Whatever arrived unasked since the last sentinel's reply, without waiting."""
        self.sock.setblocking(False)
        try:
            while not self.closed:
                chunk = self.sock.recv(1 << 16)
                if not chunk:
                    self.closed = True
                self.buf += chunk
        except BlockingIOError:
            pass
        except OSError:
            self.closed = True
        self.sock.settimeout(REFERENCE_TIMEOUT)
        extra, self.buf = self.buf, b""
        return extra


STATE_VERBS = (b"MULTI", b"EXEC", b"DISCARD", b"RESET")
"""Commands that may enter or leave MULTI, which changes the sentinel that fits."""


def multi_after(in_multi, verb, first):
    """Whether the connection is in MULTI after verb, given its first reply (from redis-server)."""
    if verb == b"MULTI":
        return in_multi or first == b"+OK\r\n"
    if verb == b"EXEC":
        return False  # even a refused EXEC (EXECABORT, also for a wrong arity) ends it
    # DISCARD and RESET end a transaction unless their arity is wrong
    return in_multi and first.startswith(b"-ERR wrong number of arguments")


def sentinel_for(in_multi, lineno):
    """The sentinel command for a line, and the test that recognizes its reply."""
    if in_multi:
        return [b"MULTI"], lambda r: r == NESTED_MULTI
    nonce = b"diff-sentinel-%d" % lineno
    bulk = b"$%d\r\n%s\r\n" % (len(nonce), nonce)
    subscribed = b"*2\r\n$4\r\npong\r\n" + bulk
    return [b"PING", nonce], lambda r: r in (bulk, subscribed)


def run_lines(name, lines, respd_port, redis_port):
    """Runs one case file's lines on both servers; returns the mismatches as readable text."""
    mismatches = []
    a, b = Side(respd_port), Side(redis_port)
    in_multi = False
    respd_timeouts = 0

    def drain(lineno):
        time.sleep(DRAIN_WAIT)
        ea, eb = a.drain(), b.drain()
        if ea != eb:
            mismatches.append(f"{name}:{lineno}: bytes after the last reply\n"
                              f"   respd: {ea[:300]!r}\n   redis: {eb[:300]!r}")

    numbered = [(0, "FLUSHALL")] + list(enumerate(lines, 1))
    for lineno, line in numbered:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        mode = None
        if line.startswith("!"):
            word, _, rest = line.partition(" ")
            word = word[1:]
            if word == "sleep":
                time.sleep(float(rest))
                continue
            if word == "reconnect":
                drain(lineno)
                a.close(), b.close()
                a, b = Side(respd_port), Side(redis_port)
                in_multi = False
                continue
            if word not in ("sort", "sortpairs", "type", "skip"):
                raise RunnerError(f"{name}:{lineno}: unknown directive !{word}")
            mode, line = word, rest
        if b.closed:
            raise RunnerError(f"{name}:{lineno}: the connection is closed: add !reconnect")
        try:
            args = split_args(line)
        except ValueError as e:
            raise RunnerError(f"{name}:{lineno}: {e}") from None
        verb = args[0].upper() if args else b""
        data, rb = encode(args), []
        if verb in STATE_VERBS:
            # The sentinel must suit the state this command leaves, so learn it from redis-server's
            # first reply before sending one (the only extra round trip).
            a.send(data), b.send(data)
            data, rb = b"", b.read_until(lambda r: True, 1, REFERENCE_TIMEOUT)
            if not rb:
                raise RunnerError(f"{name}:{lineno}: {line}: no reply from redis-server")
            in_multi = multi_after(in_multi, verb, rb[0] if rb[0] is not CLOSED else b"")
        sentinel, is_sentinel = sentinel_for(in_multi, lineno)
        if rb[-1:] != [CLOSED]:
            a.send(data + encode(sentinel)), b.send(data + encode(sentinel))
            rb += b.read_until(is_sentinel, 1, REFERENCE_TIMEOUT)
        if rb[-1] is not CLOSED and not is_sentinel(rb[-1]):
            raise RunnerError(f"{name}:{lineno}: {line}: no reply to the sentinel {sentinel} from "
                              f"redis-server (the runner lost track of MULTI?): {show(rb)}")
        # (MULTI inside MULTI answers just as the sentinel does: respd's stream has both)
        ra = a.read_until(is_sentinel, sum(1 for r in rb if r is not CLOSED and is_sentinel(r)),
                          RESPD_GRACE)
        cut = not ra or (ra[-1] is not CLOSED and not is_sentinel(ra[-1]))
        if not same(mode, ra, rb):
            note = " (cut short: respd did not answer the sentinel)" if cut else ""
            mismatches.append(
                f"{name}:{lineno}: {line}{note}\n   respd: {show(ra)}\n   redis: {show(rb)}")
        if cut:
            respd_timeouts += 1
            if respd_timeouts >= RESPD_TIMEOUTS_PER_FILE:
                mismatches.append(f"{name}:{lineno}: {respd_timeouts} sentinels unanswered, stop")
                break
    else:
        drain(len(lines) + 1)
    a.close(), b.close()
    return mismatches


def run_file(path, respd_port, redis_port):
    lines = path.read_text(encoding="utf-8").splitlines()
    return run_lines(path.name, lines, respd_port, redis_port)


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_same_replies_as_redis(path, respd_shared, redis_shared):
    mismatches = run_file(path, respd_shared.port, redis_shared.port)
    assert respd_shared.alive()
    assert not mismatches, "replies differ from redis-server:\n" + "\n".join(mismatches)


# --- tests of the runner itself ---

@pytest.mark.parametrize("line,args", [
    ('SET k "a b"', [b"SET", b"k", b"a b"]),
    (r'SET "\x00\xff\x7f" "\r\n\t\"\\"', [b"SET", b"\x00\xff\x7f", b'\r\n\t"\\']),
    (r'"\xzz" "\q"', [b"xzz", b"q"]),
    (r"'it\'s' '\x00'", [b"it's", b"\\x00"]),
    ('a"b c" ""', [b"ab c", b""]),
    ("é", ["é".encode()]),
])
def test_split_args_like_redis_cli(line, args):
    assert split_args(line) == args


@pytest.mark.parametrize("line", ['SET "a', "SET 'a", 'SET "a"b', "SET 'a'b"])
def test_split_args_refuses_bad_quotes(line):
    with pytest.raises(ValueError):
        split_args(line)


S = b"$3\r\nend\r\n"  # a sentinel's reply, for the comparisons below


def arr(*items, kind=b"*"):
    return b"%s%d\r\n" % (kind, len(items)) + b"".join(items)


def bulk(s):
    return b"$%d\r\n%s\r\n" % (len(s), s)


PAIRS = arr(*map(bulk, [b"f1", b"v1", b"f2", b"v2"]))


@pytest.mark.parametrize("mode,respd,redis,ok", [
    ("sort", arr(bulk(b"a"), bulk(b"b")), arr(bulk(b"b"), bulk(b"a")), True),
    ("sort", arr(b"+a\r\n", bulk(b"b")), arr(bulk(b"b"), bulk(b"a")), False),
    ("sort", arr(bulk(b"a"), kind=b"~"), arr(bulk(b"a")), False),
    ("sort", arr(b"$-1\r\n", bulk(b"a")), arr(bulk(b"a"), b"_\r\n"), False),
    ("sort", arr(bulk(b"a"), bulk(b"a")), arr(bulk(b"a")), False),
    ("sort", b"=7\r\ntxt:abc\r\n", bulk(b"abc"), False),
    # field/value pairs: !sort would let values change places, !sortpairs does not
    ("sort", arr(*map(bulk, [b"f1", b"v2", b"f2", b"v1"])), PAIRS, True),
    ("sortpairs", arr(*map(bulk, [b"f1", b"v2", b"f2", b"v1"])), PAIRS, False),
    ("sortpairs", arr(*map(bulk, [b"f2", b"v2", b"f1", b"v1"])), PAIRS, True),
    ("sort", b"%2\r\n" + bulk(b"b") + b":2\r\n" + bulk(b"a") + b":1\r\n",
     b"%2\r\n" + bulk(b"a") + b":1\r\n" + bulk(b"b") + b":2\r\n", True),
    ("sort", b"%2\r\n" + bulk(b"b") + b":1\r\n" + bulk(b"a") + b":2\r\n",
     b"%2\r\n" + bulk(b"a") + b":1\r\n" + bulk(b"b") + b":2\r\n", False),
    # !type: values by type, structure and names exact
    ("type", bulk(b"1-0"), bulk(b"2-0"), True),
    ("type", b":1\r\n", bulk(b"1"), False),
    ("type", b"$-1\r\n", bulk(b"a"), False),
    ("type", b"-ERR a\r\n", b"-ERR b\r\n", False),
    ("type", arr(bulk(b"a"), bulk(b"b")), arr(bulk(b"c"), bulk(b"d")), True),
    ("type", arr(bulk(b"a"), arr(bulk(b"b"))), arr(bulk(b"a"), arr(bulk(b"b"), bulk(b"c"))), False),
    ("type", arr(bulk(b"length"), b":3\r\n", bulk(b"groups"), b":0\r\n"),
     arr(bulk(b"length"), b":5\r\n", bulk(b"groups"), b":1\r\n"), True),
    ("type", arr(bulk(b"length"), b":3\r\n", bulk(b"groupz"), b":0\r\n"),
     arr(bulk(b"length"), b":3\r\n", bulk(b"groups"), b":0\r\n"), False),
    ("type", b"%1\r\n" + bulk(b"idle") + b":5\r\n", b"%1\r\n" + bulk(b"idle") + b":7\r\n", True),
    ("type", b"%1\r\n" + bulk(b"idle") + b":5\r\n", b"%1\r\n" + bulk(b"time") + b":5\r\n", False),
    ("type", b"%1\r\n" + bulk(b"idle") + b":5\r\n", b"*2\r\n" + bulk(b"idle") + b":5\r\n", False),
    ("skip", bulk(b"1"), b":2\r\n", True),
    ("sort", b"*x\r\n", arr(bulk(b"a")), False),
    ("type", b"*2\r\n:1\r\n?\r\n", arr(b":1\r\n", b":2\r\n"), False),
    (None, bulk(b"a"), b"+a\r\n", False),
])
def test_comparison_modes(mode, respd, redis, ok):
    assert same(mode, [respd, S], [redis, S]) is ok


def test_comparison_counts_replies_and_sentinel():
    for mode in (None, "sort", "type", "skip"):
        assert not same(mode, [b"+OK\r\n", b"+OK\r\n", S], [b"+OK\r\n", S])
        assert not same(mode, [b"+OK\r\n", CLOSED], [b"+OK\r\n", S])


def payloads(raw):
    _, elems = elements(raw)
    return tuple(e[e.index(b"\r\n") + 2:-2] for e in elems)


class FakeServer:
    """A scripted RESP server on a free port, to stand in for respd: it answers the runner's
    sentinel PINGs and FLUSHALL itself and every other command from `replies` (command tuple →
    bytes, or CLOSE to hang up); `late` (command → bytes) goes after the next sentinel's reply."""

    CLOSE = object()

    def __init__(self, replies, late=None):
        self.replies, self.late = replies, late or {}
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.listener.close()

    def _accept(self):
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock):
        buf, pending = b"", b""
        with sock:
            while True:
                end = reply_end(buf)
                if end is None:
                    chunk = sock.recv(1 << 16)
                    if not chunk:
                        return
                    buf += chunk
                    continue
                args, buf = payloads(buf[:end]), buf[end:]
                if args[0] == b"PING" and len(args) == 2:
                    out, pending = bulk(args[1]) + pending, b""
                elif args == (b"FLUSHALL",):
                    out = b"+OK\r\n"
                else:
                    out = self.replies.get(args, b"-ERR unknown command\r\n")
                    if out is self.CLOSE:
                        return
                    pending += self.late.get(args, b"")
                sock.sendall(out)


UNSUB_A = arr(bulk(b"unsubscribe"), bulk(b"a"), b":0\r\n")
UNSUB_B = arr(bulk(b"unsubscribe"), bulk(b"b"), b":0\r\n")
SCRIPT = ["SET k v", "GET k", "UNSUBSCRIBE a b", "GET k"]
AS_REDIS = {
    (b"SET", b"k", b"v"): b"+OK\r\n",
    (b"GET", b"k"): bulk(b"v"),
    (b"UNSUBSCRIBE", b"a", b"b"): UNSUB_A + UNSUB_B,
}


@pytest.mark.parametrize("script,change,late,bad_lines", [
    (SCRIPT, {}, {}, []),
    # one reply of two: the old runner shifted every later line by one instead
    (SCRIPT, {(b"UNSUBSCRIBE", b"a", b"b"): UNSUB_A}, {}, [3]),
    (SCRIPT, {(b"SET", b"k", b"v"): b"+OK\r\n+OK\r\n"}, {}, [1]),
    # a simple string for a bulk one, on the last line too (which the old runner never read)
    (SCRIPT, {(b"GET", b"k"): b"+v\r\n"}, {}, [2, 4]),
    (SCRIPT, {(b"GET", b"k"): FakeServer.CLOSE}, {}, [2, 3, 4]),
    # a reply sent after the sentinel's: at the next line, after the last line, before !reconnect
    (SCRIPT, {}, {(b"SET", b"k", b"v"): b"+OK\r\n"}, [2]),
    (SCRIPT, {}, {(b"GET", b"k"): b":1\r\n"}, [3, 5]),
    (["SET k v", "!reconnect", "GET k"], {}, {(b"SET", b"k", b"v"): b"+OK\r\n"}, [2]),
], ids=["same", "missing", "extra", "simple-for-bulk", "closes", "late", "late-at-end",
        "late-reconnect"])
def test_runner_reports_each_difference_at_its_line(redis_shared, script, change, late, bad_lines):
    fake = FakeServer({**AS_REDIS, **change}, late)
    try:
        mismatches = run_lines("fake", script, fake.port, redis_shared.port)
    finally:
        fake.close()
    assert [int(m.split(":")[1]) for m in mismatches] == bad_lines, "\n".join(mismatches)


def test_runner_needs_reconnect_after_quit(redis_shared):
    # After QUIT the connection is gone: a later command without !reconnect is a case-file error.
    with pytest.raises(RunnerError, match="add !reconnect"):
        run_lines("quit", ["QUIT", "PING"], redis_shared.port, redis_shared.port)
