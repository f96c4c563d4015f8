"""EVAL and SCRIPT against redis-server 7.0.15: the same scripts on both servers, replies (values
and exact error texts) compared; redis-py's Lock on respd; bad scripts answered without harm."""

import threading
import time

import pytest
import redis

from conftest import start_redis, start_respd

# Each script runs on a fresh pair of servers, in order, with KEYS = ["k", "h"] and ARGV = ["5"].
SCRIPTS = [
    # Conversions Lua -> RESP2: floats truncate, false is nil, arrays stop at the first nil.
    "return {1, 2, 3.9, -3.9, 'a', false, true, nil, 5}",
    "return redis.status_reply('FINE')",
    "return redis.error_reply('MYCODE went wrong')",
    "return redis.error_reply('nocode')",
    "return {err='oops'}",
    "return {ok='fine'}",
    "return {double=3.5}",
    # Conversions RESP -> Lua, round trip.
    "redis.call('set', KEYS[1], ARGV[1]) return redis.call('incr', KEYS[1])",
    "return redis.call('get', 'missing')",
    "return type(redis.call('get', 'missing'))",
    "redis.call('hset', KEYS[2], 'a', '1') return redis.call('hgetall', KEYS[2])",
    "return redis.call('ping')",
    "return redis.call('ping')['ok']",
    "return redis.call('set', 'x', 1.5)",
    "return redis.call('get', 'x')",
    "redis.setresp(3) redis.call('hset', KEYS[2], 'a', '1') return redis.call('hgetall', KEYS[2])['map']['a']",
    "redis.setresp(3) return redis.call('get', 'missing') == nil",
    # Errors as Redis words them.
    "return redis.call('nosuch')",
    "return redis.call('get')",
    "return redis.call('multi')",
    "return redis.call('blpop', 'l', 0)",
    "return redis.call('get', {})",
    "return redis.call()",
    "return redis.pcall('nosuch')",
    "return redis.pcall('incr', 'a', 'b')",
    "redis.call('set', 's', 'x') return redis.pcall('incr', 's')",
    "redis.call('set', 's', 'x') return redis.call('incr', 's')",
    "return {pcall(function() return redis.call('nosuch') end)}",
    "error('boom')",
    "error({err='MY thing'})",
    "return 1 +",
    "local t = nil\nreturn t.x",
    # The sandbox.
    "x = 1",
    "return y",
    "redis.call = 1",
    "string.x = 1",
    "return _G.x",
    "rawset(_G, 'x', 1)",
    "return loadstring('x=1')()",
    "return type(os)",
    "return type(io)",
    "return type(debug)",
    "return type(require)",
    "return type(loadfile)",
    "return type(dofile)",
    "return type(print)",
    "return pcall(function() x = 1 end)",
    "local t = {} t.x = 1 return t.x",
    "return string.len('abc') .. table.concat({'a','b'}) .. math.floor(2.5)",
    # The redis library.
    "return redis.sha1hex('')",
    "return redis.sha1hex('return 1')",
    "return redis.replicate_commands()",
    "return redis.breakpoint()",
    "return redis.set_repl(redis.REPL_ALL)",
    "return redis.set_repl(99)",
    "return redis.setresp(4)",
    "return redis.log(redis.LOG_NOTICE, 'hello', 'from', 'a', 'script')",
    "return redis.log(99, 'x')",
    "return redis.log(1)",
    "return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING}",
    "return {redis.REPL_NONE, redis.REPL_AOF, redis.REPL_REPLICA, redis.REPL_SLAVE, redis.REPL_ALL}",
    "return redis.REDIS_VERSION",
    "return redis.acl_check_cmd('get', 'x')",
    # Redis's own generator, seeded and not.
    "math.randomseed(42) return {math.random(100), math.random(1, 6), math.random(1000)}",
    "return math.random(0)",
    # The bit library (LuaBitOp): 32-bit conversion, operations, argument errors by name.
    'return bit.tobit(1)',
    'return bit.tobit(2^32 + 5)',
    'return bit.tobit(-1)',
    'return bit.tobit(3.5)',
    'return bit.tobit(2.5)',
    "return bit.tobit('12')",
    "return bit.tobit('x')",
    'return bit.tobit()',
    'return bit.tobit({})',
    'return bit.tohex(255)',
    'return bit.tohex(-1, -4)',
    'return bit.tohex(1234, 12)',
    'return bit.tohex(0x12345678, 3)',
    'return bit.tohex(5, 0)',
    'return {bit.band(0xff, 0x0f, 0x3), bit.bor(1, 2, 4), bit.bxor(7, 2), bit.bnot(0)}',
    'return {bit.lshift(1, 31), bit.rshift(-1, 28), bit.arshift(-256, 4), bit.lshift(1, 33)}',
    'return {bit.rol(0x12345678, 8), bit.ror(0x12345678, 8), bit.rol(5, 0), bit.bswap(0x12345678)}',
    'return bit.band()',
    "return bit.band(1, 'x')",
    "return bit.tohex(1, 'x')",
    "local f = bit.band return f('y')",
    'return type(bit)',
    'bit.x = 1',
    "return bit.tobit(0/0) .. bit.tobit(1/0) .. bit.tobit(-2^31) .. bit.tobit(2^31)",
    "return {bit.tobit(' 0x10 '), bit.tobit('1e3'), bit.arshift(-1, 40), bit.rshift(1, -1)}",
    "return bit.tohex(-1, 100) .. bit.tohex(-1, -100)",
    # The struct library: formats, alignment, byte order, and its errors (quirks included).
    "return struct.pack('>I2', 258)",
    "return struct.pack('<i4', -2)",
    "return struct.pack('bBhHlLT', -1, 255, -2, 65535, -3, 7, 9)",
    "return struct.pack('!4 b i4', 1, 2)",
    "return struct.pack('!b d', 1, 1.5)",
    "return struct.pack('>d', 1.5)",
    "return struct.pack('<f', 0.25)",
    "return struct.pack('s', 'hi')",
    "return struct.pack('c3', 'abcdef')",
    "return struct.pack('c0', 'abc')",
    "return struct.pack('xxb', 7)",
    "return struct.pack('i3', 1000000)",
    "return struct.pack('I9', 1)",
    "return struct.pack('c5', 'ab')",
    "return struct.pack('z', 1)",
    "return struct.pack('i', 'x')",
    "return struct.pack('i')",
    "return struct.pack('i40', 1)",
    "return struct.pack('!3 i', 1)",
    "return struct.pack('i99999999999', 1)",
    'return struct.pack(12, 1)',
    'return struct.pack()',
    "return {struct.unpack('>I2', '\\1\\2')}",
    "return {struct.unpack('<i4', struct.pack('<i4', -2))}",
    "return {struct.unpack('bBhHlL', struct.pack('bBhHlL', -1, 255, -2, 65535, -3, 7))}",
    "return {struct.unpack('>d<f', struct.pack('>d<f', 1.5, 0.25))}",
    "return {struct.unpack('s s', 'ab\\0cd\\0')}",
    "return {struct.unpack('b c0', '\\3abcdef')}",
    "return {struct.unpack('c2', 'abcd', 3)}",
    "return {struct.unpack('c2', 'abcd', 4)}",
    "return {struct.unpack('c2', 'abcd', 0)}",
    "return {struct.unpack('c2', 'abcd', -1)}",
    "return {struct.unpack('s', 'abc')}",
    "return {struct.unpack('c0', 'abc')}",
    "return {struct.unpack('!4 b i4', struct.pack('!4 b i4', 1, 2))}",
    "return {struct.unpack('', 'abc', 2)}",
    "return {struct.unpack('i', 'ab')}",
    "return struct.size('bhi')",
    "return struct.size('!8 b d')",
    "return struct.size('s')",
    "return struct.size('c0')",
    "return struct.size('bz')",
    "return struct.size('b?')",
    "return struct.size('c10 i2')",
    "local s = struct.pack('>i8', 1234567890123) return {struct.unpack('>i8', s)}",
    "return struct.pack('>I4', -1)",
    "return struct.pack('>i2', 70000.7)",
    "return struct.pack('>i4', '12')",
    # Shebang flags.
    "#!lua flags=no-writes\nreturn redis.call('set', 'a', 'b')",
    "#!lua flags=no-writes\nreturn redis.call('get', 'a')",
    "#!lua flags=bogus\nreturn 1",
    "#!lua nope\nreturn 1",
    "#!python\nreturn 1",
    "#!lua",
]


def run_all(port):
    c = redis.Redis(port=port)
    out = []
    for s in SCRIPTS:
        try:
            out.append(c.eval(s, 2, "k", "h", "5"))
        except redis.ResponseError as e:
            out.append(("error", str(e)))
        c.flushall()
    c.close()
    return out


# Errors raised by helpers the sandbox writes in Lua: respd's message is Redis's, but a
# `return helper(...)` is a Lua tail call, so the position Redis appends is lost (docs/scripting.md).
TAIL_CALL_POSITION = {
    "return redis.set_repl(99)",
    "return redis.setresp(4)",
    "return redis.log(99, 'x')",
    "return redis.log(1)",
    "return math.random(0)",
}


def message(reply):
    """An error's text without its position ("user_script:1: " and " script: ... on ...")."""
    text = reply[1].split(" script: ")[0]
    return text.removeprefix("user_script:1: ")


def test_scripts_reply_as_redis(respd, redis_server):
    ours, theirs = run_all(respd.port), run_all(redis_server.port)
    differ = [
        f"{s!r}:\n  respd {o!r}\n  redis {t!r}"
        for s, o, t in zip(SCRIPTS, ours, theirs)
        if o != t and not (s in TAIL_CALL_POSITION and message(o) == message(t))
    ]
    assert not differ, f"{len(differ)} scripts differ:\n" + "\n".join(differ)


def replies(port, cmds):
    c = redis.Redis(port=port)
    out = []
    for args in cmds:
        try:
            out.append(c.execute_command(*args))
        except redis.ResponseError as e:
            out.append(("error", str(e)))
    c.close()
    return out


def test_script_commands_as_redis(respd, redis_server):
    body = "return ARGV[1]"
    sha = "e7b7ef5c1c4e8a7c8a7c0d4ba0cb5b3e6b7e9cb1"
    cmds = [
        ("SCRIPT", "LOAD", body),
        ("SCRIPT", "EXISTS", "98cd4a7d2ea1bc9f1c0e7a5fe4b8c1c0e3b5c7aa", sha),
        ("EVALSHA", "98CD4A7D2EA1BC9F1C0E7A5FE4B8C1C0E3B5C7AA", 0, "x"),
        ("EVALSHA", "abc", 0),
        ("EVAL", body, 0, "direct"),
        ("EVAL", body, "x"),
        ("EVAL", body, 3, "a"),
        ("EVAL", body, -1),
        ("EVAL_RO", "return redis.call('set', 'a', 'b')", 0),
        ("EVAL_RO", "#!lua\nreturn 1", 0),
        ("EVAL_RO", "return redis.call('get', 'a')", 0),
        ("SCRIPT", "FLUSH", "BAD"),
        ("SCRIPT", "FLUSH", "ASYNC"),
        ("SCRIPT", "FLUSH"),
        ("SCRIPT", "KILL"),
        ("SCRIPT", "HELP"),
        ("SCRIPT", "NOPE"),
        ("MULTI",),
        ("EVAL", "return redis.call('incr', 'n')", 0),
        ("EVAL", "return redis.call('incr', 'n')", 0),
        ("EXEC",),
    ]
    ours, theirs = replies(respd.port, cmds), replies(redis_server.port, cmds)
    for cmd, o, t in zip(cmds, ours, theirs):
        assert o == t, f"{cmd}: respd {o!r}, redis {t!r}"
    # The cache: a loaded script runs by its digest, and FLUSH forgets it.
    c = redis.Redis(port=respd.port)
    sha = c.script_load("return 'cached'")
    assert c.evalsha(sha, 0) == b"cached"
    assert c.script_exists(sha) == [True]
    c.script_flush()
    with pytest.raises(redis.exceptions.NoScriptError):
        c.evalsha(sha, 0)


def test_redis_py_lock_excludes_across_threads(respd):
    """redis-py's Lock is Lua: many threads, one lock, and never two holders at once."""
    holders, overlaps, acquired = [0], [0], [0]
    guard = threading.Lock()
    deadline = time.monotonic() + 60

    def worker():
        c = redis.Redis(port=respd.port)
        for _ in range(20):
            if time.monotonic() > deadline:
                break
            lock = c.lock("the-lock", timeout=10, blocking_timeout=30)
            if not lock.acquire():
                continue
            with guard:
                holders[0] += 1
                acquired[0] += 1
                if holders[0] > 1:
                    overlaps[0] += 1
            assert lock.extend(5)
            assert lock.reacquire()
            with guard:
                holders[0] -= 1
            lock.release()
        c.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert overlaps[0] == 0
    assert acquired[0] > 0
    c = redis.Redis(port=respd.port)
    assert c.get("the-lock") is None
    # A lock held by another owner cannot be released or extended by this one.
    a = c.lock("l2", timeout=10)
    assert a.acquire(blocking=False)
    b = c.lock("l2", timeout=10)
    assert not b.acquire(blocking_timeout=0.2)
    with pytest.raises(redis.exceptions.LockNotOwnedError):
        b.do_release(b"not-the-token")
    a.release()
    assert b.acquire(blocking=False)


def test_bad_scripts_are_bounded_and_the_server_stays_up(respd):
    c = redis.Redis(port=respd.port, socket_timeout=60)
    with pytest.raises(redis.ResponseError, match="Error compiling script"):
        c.eval("return (" * 100000, 0)
    with pytest.raises(redis.ResponseError, match="stack overflow"):
        c.eval("local function f(n) return 1 + f(n + 1) end return f(1)", 0)
    with pytest.raises(redis.ResponseError, match="not enough memory"):
        c.eval("local s = string.rep('x', 1024 * 1024) local t = {} for i = 1, 4096 do t[i] = s .. i end", 0)
    big = "return '" + "x" * (8 * 1024 * 1024) + "'"
    assert len(c.eval(big, 0)) == 8 * 1024 * 1024
    assert c.ping()
    assert c.eval("return 1", 0) == 1


def test_a_runaway_script_is_busy_for_others_and_script_kill_ends_it():
    """Past busy-reply-threshold other clients get -BUSY; SCRIPT KILL stops a script that has not
    written, UNKILLABLE one that has; the server then serves as before. With the default workers
    (at least two) the script holds one (docs/scripting.md)."""
    s = start_respd("--busy-reply-threshold", "200")  # default workers: at least two
    try:
        for loop, killable in [("while true do end", True),
                               ("redis.call('set', 'w', 1) local i = 0 while i < 3e7 do i = i + 1 end return i", False)]:
            result = {}

            def runaway():
                c = redis.Redis(port=s.port, socket_timeout=120)
                try:
                    result["reply"] = c.eval(loop, 0)
                except redis.ResponseError as e:
                    result["error"] = str(e)
                c.close()

            t = threading.Thread(target=runaway)
            t.start()
            other = redis.Redis(port=s.port, socket_timeout=30)
            deadline = time.monotonic() + 30
            while True:
                try:
                    other.get("k")
                except redis.exceptions.BusyLoadingError as e:
                    assert "busy running a script" in str(e)
                    break
                except redis.ResponseError as e:
                    assert "Redis is busy running a script. You can only call SCRIPT KILL" in str(e), e
                    break
                assert time.monotonic() < deadline, "never BUSY"
                time.sleep(0.05)
            if killable:
                assert other.script_kill()
                t.join(30)
                assert not t.is_alive()
                assert result["error"].startswith("Script killed by user with SCRIPT KILL..."), result
            else:
                with pytest.raises(redis.ResponseError, match="UNKILLABLE"):
                    other.script_kill()
                t.join(120)
                assert result["reply"] == 30000000
            with pytest.raises(redis.ResponseError, match="NOTBUSY"):
                other.script_kill()
            assert other.set("after", "1") and other.get("after") == b"1"
            other.close()
        assert s.alive()
    finally:
        s.stop()


def test_scripts_in_parallel_stay_atomic_with_undeclared_keys(respd):
    """Scripts lock their declared keys' shards and take an undeclared key's shard (or start again
    with every shard) when they reach it (docs/scripting.md, "Locks"): read-modify-write scripts
    from many clients, on declared keys, undeclared ones and both, lose no update."""
    scripts = [
        # Declared: one counter per client and a shared one.
        ("local v = tonumber(redis.call('get', KEYS[1]) or '0') redis.call('set', KEYS[1], v + 1)"
         " return redis.call('incr', KEYS[2])", lambda i: ["own:%d" % i, "shared"]),
        # Undeclared: a read, then a write of a key the script never names in KEYS.
        ("local v = tonumber(redis.call('get', 'undeclared') or '0') return redis.call('set', 'undeclared', v + 1)",
         lambda i: []),
        # Both: a declared write first, then an undeclared read-modify-write (no restart possible).
        ("redis.call('incr', KEYS[1]) local v = tonumber(redis.call('get', 'late') or '0')"
         " return redis.call('set', 'late', v + 1)", lambda i: ["own:%d" % i]),
    ]
    runs, clients = 150, 8
    errors = []
    deadline = time.monotonic() + 120

    def worker(i):
        c = redis.Redis(port=respd.port, socket_timeout=60)
        try:
            for n in range(runs):
                if time.monotonic() > deadline:
                    errors.append("deadline")
                    return
                body, keys = scripts[n % len(scripts)]
                k = keys(i)
                c.eval(body, len(k), *k)
        except redis.RedisError as e:
            errors.append(str(e))
        finally:
            c.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(150)
    assert not errors, errors[:3]
    c = redis.Redis(port=respd.port)
    per = len(range(0, runs, 3))
    assert int(c.get("shared")) == clients * per
    assert int(c.get("undeclared")) == clients * len(range(1, runs, 3))
    assert int(c.get("late")) == clients * len(range(2, runs, 3))
    for i in range(clients):
        assert int(c.get("own:%d" % i)) == per + len(range(2, runs, 3))


def test_a_script_reaching_a_busy_undeclared_key_runs_again_with_every_shard(respd):
    """A script that reads a key it did not declare while another script holds that key's shard
    either waits for it (in lock order) or, having had no effect yet, starts again with every
    shard: either way it sees the other script's writes whole, never half of them."""
    c = redis.Redis(port=respd.port, socket_timeout=60)
    c.set("a", 0)
    after = 0
    hold = ("redis.call('incr', KEYS[1]) local i = 0 while i < tonumber(ARGV[1]) do i = i + 1 end"
            " return redis.call('incr', KEYS[1])")
    for i in range(12):
        result = {}

        def holder():
            h = redis.Redis(port=respd.port, socket_timeout=60)
            result["a"] = h.eval(hold, 1, "a", 3_000_000)
            h.close()

        t = threading.Thread(target=holder)
        t.start()
        time.sleep(0.1)
        # A body never run before: not yet known to reach undeclared keys, so it starts with
        # its declared key's shard only.
        seen = c.eval(f"-- run {i}\nlocal v = redis.call('get', 'a') redis.call('set', KEYS[1], v) return v",
                      1, f"b:{i}")
        t.join(60)
        assert result["a"] == 2 * (i + 1)
        # Before the other script or after it (it may not have started yet), never between.
        assert int(seen) in (2 * i, 2 * (i + 1)), f"run {i} saw {seen!r}"
        after += int(seen) == 2 * (i + 1)
    assert after > 0, "no run reached the key while the other script held it"


def lib(name, body):
    return f"#!lua name={name}\n{body}"


FUNCTION_CMDS = [
    ("FUNCTION", "LOAD", lib("x", "redis.register_function('a b', function() end)")),
    ("FUNCTION", "LOAD", lib("x", "redis.register_function(1)")),
    ("FUNCTION", "LOAD", lib("x", "redis.register_function()")),
    ("FUNCTION", "LOAD", lib("x", "redis.register_function('q', 1)")),
    ("FUNCTION", "LOAD", lib("x", "redis.register_function{callback=function() end}")),
    ("FUNCTION", "LOAD", lib("x", "redis.register_function{function_name='q'}")),
    ("FUNCTION", "LOAD", lib("x", "redis.register_function{function_name='q', callback=function() end, foo=1}")),
    ("FUNCTION", "LOAD", lib("x", "redis.register_function{function_name='q', callback=function() end, flags={'bad'}}")),
    ("FUNCTION", "LOAD", lib("x", "redis.register_function('g', function() end)\nredis.register_function('g', function() end)")),
    # Loading code sees only `redis` (register_function, log, the version): no other global.
    ("FUNCTION", "LOAD", lib("x", "local s = string.len('a')")),
    ("FUNCTION", "LOAD", lib("x", "redis.call('ping')")),
    ("FUNCTION", "LOAD", lib("x", "redis.setresp(3)")),
    ("FUNCTION", "LOAD", lib("x", "x = 1")),
    ("FUNCTION", "LOAD", lib("x", "local a = nil + 1")),
    ("FUNCTION", "LOAD", lib("x", "local a = 1")),
    ("FUNCTION", "LOAD", lib("x", "local a = (")),
    ("FUNCTION", "LOAD", lib("x", "while true do end")),
    ("FUNCTION", "LOAD", "#!lua\nreturn 1"),
    ("FUNCTION", "LOAD", "#!lua name=a foo=b\nreturn 1"),
    ("FUNCTION", "LOAD", "#!lua name=a name=b\nreturn 1"),
    ("FUNCTION", "LOAD", "#!py name=a\nreturn 1"),
    ("FUNCTION", "LOAD", "#!lua name=a-b\nreturn 1"),
    ("FUNCTION", "LOAD", "name=a\nreturn 1"),
    ("FUNCTION", "LOAD", "#!lua name=a"),
    ("FUNCTION", "LOAD", "FOO", lib("x", "return 1")),
    ("FUNCTION", "LOAD"),
    # A library of several functions, both forms, with flags and a description.
    ("FUNCTION", "LOAD", lib("mylib", "\n".join([
        "redis.log(redis.LOG_NOTICE, 'loading')",
        "local v = redis.REDIS_VERSION",
        "redis.register_function('setget', function(keys, args)",
        "  redis.call('set', keys[1], args[1]) return {keys[1], args[1], #keys, #args, redis.call('get', keys[1])} end)",
        "redis.register_function{function_name='ro', description='reads', flags={'no-writes', 'ALLOW-OOM', 'allow-stale', 'no-cluster', 'allow-cross-slot-keys'},",
        "  callback=function(keys, args) return redis.call('get', keys[1]) end}",
        "redis.register_function('globals', function() return KEYS end)",
        "redis.register_function('undef', function() return nosuch.field end)",
        "redis.register_function('noreg', function() return redis.register_function('z', function() end) end)",
        "redis.register_function('writes', function() return redis.call('set', 'w', 1) end)",
        "redis.register_function('fails', function() return redis.call('nosuch') end)",
        "redis.register_function('version', function() return v end)",
    ]))),
    ("FUNCTION", "LOAD", lib("mylib", "redis.register_function('other', function() return 1 end)")),
    ("FUNCTION", "LOAD", lib("lib2", "redis.register_function('setget', function() return 1 end)")),
    ("FCALL", "setget", 1, "k", "v"),
    ("FCALL", "setget", 0),
    ("FCALL_RO", "ro", 1, "k"),
    ("FCALL_RO", "setget", 1, "k", "v"),
    ("FCALL_RO", "noreg", 0),
    ("FCALL", "globals", 0),
    ("FCALL", "undef", 0),
    ("FCALL", "noreg", 0),
    ("FCALL", "fails", 0),
    ("FCALL", "version", 0),
    ("FCALL", "nosuch", 0),
    ("FCALL", "setget", "x"),
    ("FCALL", "setget", 5),
    ("FCALL", "setget", -1),
    ("FUNCTION", "LIST"),
    ("FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "my*"),
    ("FUNCTION", "LIST", "LIBRARYNAME", "nomatch"),
    ("FUNCTION", "LIST", "LIBRARYNAME"),
    ("FUNCTION", "LIST", "FOO"),
    ("FUNCTION", "LIST", "WITHCODE", "WITHCODE"),
    ("FUNCTION", "STATS"),
    ("FUNCTION", "KILL"),
    ("FUNCTION", "LOAD", "REPLACE", lib("mylib", "redis.register_function('other', function(k, a) return a end)")),
    ("FCALL", "other", 0, "x", "y"),
    ("FCALL", "setget", 1, "k", "v"),
    ("MULTI",),
    ("FCALL", "other", 0, "1"),
    ("FCALL", "other", 0, "2"),
    ("EXEC",),
    ("FUNCTION", "DELETE", "nosuch"),
    ("FUNCTION", "DELETE", "mylib"),
    ("FCALL", "other", 0),
    ("FUNCTION", "STATS"),
    ("FUNCTION", "FLUSH", "BAD"),
    ("FUNCTION", "FLUSH", "A", "B"),
    ("FUNCTION", "RESTORE", "xx", "BAD"),
    ("FUNCTION", "RESTORE", "xxxxxxxxxxxxxxxxxxxx"),
    ("FUNCTION", "RESTORE", "a", "b", "c"),
    ("FUNCTION", "FLUSH", "SYNC"),
    ("FUNCTION", "LIST"),
    ("FUNCTION", "HELP"),
    ("FUNCTION", "NOPE"),
]


def test_function_commands_as_redis(respd, redis_server):
    """FUNCTION's subcommands, FCALL, FCALL_RO and redis.register_function: the same replies,
    error texts included (libraries in one reply are compared in name order: Redis's is its
    dict's)."""
    def norm(cmd, r):
        if cmd[:2] == ("FUNCTION", "LIST") and isinstance(r, list):
            # Functions within a library too are in dict order.
            return sorted(({**l, b"functions": sorted(l[b"functions"], key=repr)} for l in r), key=repr)
        return r
    ours, theirs = replies(respd.port, FUNCTION_CMDS), replies(redis_server.port, FUNCTION_CMDS)
    differ = [f"{cmd}:\n  respd {norm(cmd, o)!r}\n  redis {norm(cmd, t)!r}"
              for cmd, o, t in zip(FUNCTION_CMDS, ours, theirs) if norm(cmd, o) != norm(cmd, t)]
    assert not differ, f"{len(differ)} commands differ:\n" + "\n".join(differ)


def test_function_dump_restores_across_servers(respd, redis_server):
    """FUNCTION DUMP's payload is Redis's: a dump of either server restores into the other, with
    RESTORE's policies and its checks of the payload."""
    libs = [lib("one", "redis.register_function('f1', function(k, a) return 'one ' .. string.rep('x', 40) end)"),
            lib("two", "redis.register_function{function_name='f2', callback=function() return 2 end, flags={'no-writes'}}")]
    a, b = redis.Redis(port=redis_server.port), redis.Redis(port=respd.port)
    for src, dst in [(a, b), (b, a)]:
        for c in (a, b):
            c.function_flush()
        for code in libs:
            src.function_load(code)
        payload = src.function_dump()
        assert dst.function_restore(payload)
        assert dst.fcall("f1", 0) == b"one " + b"x" * 40 and dst.fcall_ro("f2", 0) == 2
        assert sorted(l[b"library_name"] if isinstance(l, dict) else l[1] for l in dst.function_list()) == [b"one", b"two"]
        with pytest.raises(redis.ResponseError, match="^Library (one|two) already exists$"):
            dst.function_restore(payload)
        assert dst.function_restore(payload, "REPLACE")
        dst.function_load(lib("three", "redis.register_function('f3', function() return 3 end)"))
        assert dst.function_restore(payload, "FLUSH")
        with pytest.raises(redis.ResponseError, match="Function not found"):
            dst.fcall("f3", 0)
        bad = payload[:-1] + bytes([payload[-1] ^ 1])
        with pytest.raises(redis.ResponseError, match="DUMP payload version or checksum are wrong"):
            dst.function_restore(bad)
    a.close()
    b.close()


def test_a_busy_function_answers_function_stats_and_function_kill():
    """A function past busy-reply-threshold: FUNCTION STATS names it, SCRIPT KILL points to
    FUNCTION KILL, which ends it; the server then serves as before."""
    s = start_respd("--busy-reply-threshold", "200")
    try:
        c = redis.Redis(port=s.port, socket_timeout=60)
        c.function_load(lib("spin", "redis.register_function('spin', function(k, a) while true do end end)"))
        result = {}

        def runaway():
            r = redis.Redis(port=s.port, socket_timeout=60)
            try:
                result["reply"] = r.fcall("spin", 0, "arg")
            except redis.ResponseError as e:
                result["error"] = str(e)
            r.close()

        t = threading.Thread(target=runaway)
        t.start()
        deadline = time.monotonic() + 30
        while True:
            try:
                c.get("k")
            except redis.ResponseError as e:
                assert "You can only call FUNCTION KILL or SHUTDOWN NOSAVE" in str(e), e
                break
            assert time.monotonic() < deadline, "never BUSY"
            time.sleep(0.05)
        stats = c.execute_command("FUNCTION", "STATS")
        pairs = lambda x: x if isinstance(x, dict) else dict(zip(x[::2], x[1::2]))
        running = pairs(pairs(stats)[b"running_script"])
        assert running[b"name"] == b"spin" and running[b"command"][0].lower() == b"fcall" and running[b"command"][1:] == [b"spin", b"0", b"arg"]
        with pytest.raises(redis.ResponseError, match="FUNCTION KILL"):
            c.script_kill()
        assert c.execute_command("FUNCTION", "KILL")
        t.join(30)
        assert not t.is_alive()
        assert result["error"].startswith("Script killed by user with SCRIPT KILL..."), result
        with pytest.raises(redis.ResponseError, match="NOTBUSY"):
            c.execute_command("FUNCTION", "KILL")
        assert c.set("after", "1") and c.get("after") == b"1"
        c.close()
        assert s.alive()
    finally:
        s.stop()


PERSISTED_LIBS = [
    lib("keep", "redis.register_function('keep', function(k, a) return 'kept ' .. string.rep('y', 30) end)"),
    lib("keep2", "redis.register_function{function_name='keep2', callback=function() return 2 end, flags={'no-writes'}}"),
]


def check_libs(s):
    c = redis.Redis(port=s.port)
    names = [l[b"library_name"] if isinstance(l, dict) else l[1] for l in c.function_list()]
    assert sorted(names) == [b"keep", b"keep2"]
    assert c.fcall("keep", 0) == b"kept " + b"y" * 30 and c.fcall_ro("keep2", 0) == 2
    assert c.get("k") == b"v"
    c.close()


def test_functions_persist_in_rdb_files_both_ways(tmp_path):
    """Libraries are saved in the RDB (RDB_OPCODE_FUNCTION2): redis-server loads respd's file with
    them and respd loads redis-server's; respd loads its own again."""
    for first, then in [("respd", "redis"), ("redis", "respd"), ("respd", "respd")]:
        d = tmp_path / f"{first}-{then}"
        d.mkdir()
        start = {"respd": lambda: start_respd("--dir", str(d), workdir=str(d)),
                 "redis": lambda: start_redis(workdir=str(d))}
        s = start[first]()
        try:
            c = redis.Redis(port=s.port)
            for code in PERSISTED_LIBS:
                c.function_load(code)
            c.set("k", "v")
            assert c.save()
            c.close()
        finally:
            s.stop()
        s = start[then]()
        try:
            check_libs(s)
        finally:
            s.stop()


@pytest.mark.parametrize("preamble", ["yes", "no"])
def test_functions_persist_in_the_aof_and_its_rewrite(tmp_path, preamble):
    """FUNCTION commands go to the AOF; a rewrite writes the libraries into its base (RDB opcode
    or FUNCTION LOAD commands); a restart has them either way."""
    args = ("--dir", str(tmp_path), "--appendonly", "yes", "--aof-use-rdb-preamble", preamble)
    s = start_respd(*args, workdir=str(tmp_path))
    try:
        c = redis.Redis(port=s.port)
        for code in PERSISTED_LIBS:
            c.function_load(code)
        c.function_load(lib("gone", "redis.register_function('gone', function() return 0 end)"))
        c.function_delete("gone")
        c.set("k", "v")
        c.close()
    finally:
        s.stop()
    for rewrite in (True, False):
        s = start_respd(*args, workdir=str(tmp_path))
        try:
            check_libs(s)
            c = redis.Redis(port=s.port)
            if rewrite:
                assert c.bgrewriteaof()
                deadline = time.monotonic() + 30
                while c.info("persistence")["aof_rewrite_in_progress"] or c.info("persistence")["aof_rewrite_scheduled"]:
                    assert time.monotonic() < deadline
                    time.sleep(0.05)
                assert c.info("persistence")["aof_last_bgrewrite_status"] == "ok"
            c.close()
        finally:
            s.stop()


RESP3_SCRIPTS = [
    # Lua -> RESP3: big numbers and verbatim strings (Redis's addReplyBigNum/addReplyVerbatim:
    # line breaks become spaces, the format is three bytes, spaces for missing ones).
    "return {big_number='1234567890123456789012345678901234567890'}",
    "return {big_number='12\\r\\n34'}",
    "return {big_number=12}",
    "return {verbatim_string={format='mkd', string='hello'}}",
    "return {verbatim_string={format='txt', string='a\\r\\nb'}}",
    "return {verbatim_string={format='mk', string='x'}}",
    "return {verbatim_string={format='mkdd', string='x'}}",
    "return {verbatim_string={format='mkd'}}",
    "return {double=1.5}",
    "return {map={a=1}}",
    "return {set={a=true}}",
    "return true",
    "return false",
    "return {1, {ok='fine'}, {err='ERR bad'}, {double=0.25}, {big_number='7'}}",
    # RESP3 -> Lua: a verbatim string (INFO), maps, doubles, booleans, null.
    "redis.setresp(3) local t = redis.call('info', 'server') return {t.verbatim_string.format, type(t.verbatim_string.string)}",
    "redis.setresp(3) redis.call('hset', 'h', 'a', '1') local t = redis.call('hgetall', 'h') return {t.map.a, type(t.map)}",
    "redis.setresp(3) return redis.call('hgetall', 'h')",
    "redis.setresp(3) redis.call('zadd', 'z', '1.5', 'm') local d = redis.call('zscore', 'z', 'm') return {type(d), d.double}",
    "redis.setresp(3) return redis.call('zscore', 'z', 'm')",
    "redis.setresp(3) return type(redis.call('get', 'nokey'))",
    "redis.setresp(3) return redis.call('smembers', 'nokey')",
]


def raw_replies(port, protocol, scripts):
    """Each script's reply as the bytes the server sent, after HELLO <protocol>."""
    def cmd(*a):
        out = b"*%d\r\n" % len(a)
        for x in a:
            x = x.encode() if isinstance(x, str) else x
            out += b"$%d\r\n%s\r\n" % (len(x), x)
        return out

    import socket
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(cmd("HELLO", str(protocol)))
    buf = b""
    while b"modules\r\n*0\r\n" not in buf:
        buf += s.recv(65536)
    out = []
    for body in scripts:
        s.sendall(cmd("EVAL", body, "0") + cmd("PING", "end-of-reply"))
        buf = b""
        end = b"$12\r\nend-of-reply\r\n"
        while not buf.endswith(end):
            chunk = s.recv(65536)
            assert chunk, "connection closed"
            buf += chunk
        out.append(buf[: -len(end)])
    s.close()
    return out


@pytest.mark.parametrize("protocol", [2, 3])
def test_resp3_conversions_byte_for_byte(respd, redis_server, protocol):
    ours = raw_replies(respd.port, protocol, RESP3_SCRIPTS)
    theirs = raw_replies(redis_server.port, protocol, RESP3_SCRIPTS)
    differ = [f"{s!r}:\n  respd {o!r}\n  redis {t!r}"
              for s, o, t in zip(RESP3_SCRIPTS, ours, theirs) if o != t]
    assert not differ, f"{len(differ)} replies differ:\n" + "\n".join(differ)


# The cjson library: encode and decode as Redis's lua_cjson (numbers `%.14g`, `/` escaped, sparse
# arrays, depth limits, error texts with their positions). Objects of several keys come out in
# Lua's hash order, which is the same Lua 5.1 table code on both servers. Settings are changed on
# a `cjson.new()` copy: the global table's settings outlive the script (per Lua state).
CJSON_SCRIPTS = [
    "return cjson.encode({1, 2, 3, 'x', true, false})",
    "return cjson.encode({})",
    "return cjson.encode({a = 1})",
    "return cjson.encode({a = {b = {c = {1, {d = 'e'}}}}})",
    "return cjson.encode({[1] = 1, [2] = 2, [4] = 4})",
    "return cjson.encode({[1] = 1, [11] = 2})",
    "return cjson.encode({[10] = 1})",
    "return cjson.encode({[11] = 1})",
    "return cjson.encode({[1] = 'a', x = 'b'})",
    "return cjson.encode({[1.5] = 'a'})",
    "return cjson.encode({[0] = 'a'})",
    "return cjson.encode({[-1] = 'a'})",
    "return cjson.encode({[2^40] = 1})",
    "return cjson.encode({[2^31] = 1})",
    "return cjson.encode({[true] = 1})",
    "return cjson.encode({f = function() end})",
    "return cjson.encode(function() end)",
    "return cjson.encode(coroutine.create(function() end))",
    "return cjson.encode(nil)",
    "return cjson.encode(cjson.null)",
    "return cjson.encode({1, nil, 3})",
    "return cjson.encode({1, cjson.null, 3})",
    "return cjson.encode(0)",
    "return cjson.encode(-0)",
    "return cjson.encode(42)",
    "return cjson.encode(-17)",
    "return cjson.encode(3.14159)",
    "return cjson.encode(0.1)",
    "return cjson.encode(1/3)",
    "return cjson.encode(1e100)",
    "return cjson.encode(-1.5e-7)",
    "return cjson.encode(123456789012345678)",
    "return cjson.encode(12345678901234)",
    "return cjson.encode(2^53)",
    "return cjson.encode(1/0)",
    "return cjson.encode(-1/0)",
    "return cjson.encode(0/0)",
    "return cjson.encode({x = 1/0})",
    "return cjson.encode({[1/0] = 1})",
    "return cjson.encode('a/b\"c\\\\d')",
    "return cjson.encode('\\0\\1\\8\\9\\10\\11\\12\\13\\31\\127 ~')",
    "return cjson.encode('h\\195\\169llo \\226\\130\\172 \\240\\159\\152\\128 \\255')",
    "return cjson.encode({['k/1'] = 'v\\n'})",
    "return cjson.encode()",
    "return cjson.encode(1, 2)",
    "local t = {} t.t = t return cjson.encode(t)",
    "local t = {} for i = 1, 999 do t = {t} end return cjson.encode(t)",
    "local t = {} for i = 1, 1000 do t = {t} end return cjson.encode(t)",
    "local t = {} for i = 1, 1000 do t = {a = t} end return cjson.encode(t)",
    "local j = cjson.new() j.encode_max_depth(3) return j.encode({{{}}})",
    "local j = cjson.new() j.encode_max_depth(3) return j.encode({{{{}}}})",
    "local j = cjson.new() return {j.encode_sparse_array(true)}",
    "local j = cjson.new() j.encode_sparse_array(true) return j.encode({[1] = 1, [20] = 2})",
    "local j = cjson.new() j.encode_sparse_array(false, 0) return j.encode({[1] = 1, [20] = 2})",
    "local j = cjson.new() j.encode_sparse_array(nil, 3, 1) return j.encode({[1] = 1, [4] = 2})",
    "local j = cjson.new() return {j.encode_sparse_array('on', 5, 6)}",
    "local j = cjson.new() return j.encode_sparse_array('maybe')",
    "local j = cjson.new() return j.encode_sparse_array(1, 2, 3, 4)",
    "local j = cjson.new() return j.encode_sparse_array(nil, -1)",
    "local j = cjson.new() return j.encode_sparse_array(nil, 'x')",
    "local j = cjson.new() j.encode_number_precision(3) return j.encode({1/3, 1234.5, 2})",
    "local j = cjson.new() return j.encode_number_precision(15)",
    "local j = cjson.new() return j.encode_number_precision(0)",
    "local j = cjson.new() return j.encode_number_precision()",
    "local j = cjson.new() j.encode_invalid_numbers(true) return j.encode({1/0, -1/0, 0/0})",
    "local j = cjson.new() j.encode_invalid_numbers('null') return j.encode({1/0, -1/0, 0/0})",
    "local j = cjson.new() return {j.encode_invalid_numbers('null')}",
    "local j = cjson.new() return {j.encode_invalid_numbers('on')}",
    "local j = cjson.new() return {j.encode_invalid_numbers()}",
    "local j = cjson.new() return j.encode_invalid_numbers('yes')",
    "local j = cjson.new() return {j.encode_keep_buffer(false), j.encode({1})}",
    "local j = cjson.new() return {j.encode_keep_buffer()}",
    "local j = cjson.new() return {j.encode_max_depth(), j.decode_max_depth()}",
    "local j = cjson.new() return j.encode_max_depth(0)",
    "local j = cjson.new() return j.decode_max_depth(5.7)",
    "local j = cjson.new() return {j.decode_invalid_numbers()}",
    "return {cjson._NAME, cjson._VERSION, type(cjson.null), type(cjson.new)}",
    "cjson.encode = 1",
    "return cjson.nope",
    # Decoding: every type, escapes, numbers as strtod reads them, and the errors.
    "local t = cjson.decode('[1, 2.5, \"x\", true, false, null, [], {}]') "
    "return {#t, t[1], t[2] * 2, t[3], tostring(t[4]), tostring(t[5]), t[6] == cjson.null, "
    "type(t[7]), type(t[8])}",
    "return cjson.decode('\"abc\"')",
    "return cjson.decode('  17  ')",
    "return cjson.decode('-1.5e3')",
    "return tostring(cjson.decode('1e400'))",
    "return cjson.decode('0x1F')",
    "return cjson.decode('-0x10')",
    "return cjson.decode('017')",
    "return cjson.decode('+5')",
    "return tostring(cjson.decode('Infinity'))",
    "return tostring(cjson.decode('-inf'))",
    "return tostring(cjson.decode('nan'))",
    "return cjson.decode('true')",
    "return cjson.decode('null') == cjson.null",
    "return cjson.decode('{\"a\": {\"b\": [1, {\"c\": \"d\"}]}}').a.b[2].c",
    "return cjson.encode(cjson.decode('{\"k\":[1,2,{\"x\":null}]}'))",
    "return cjson.decode('\"\\\\u00e9\\\\u20ac\\\\ud83d\\\\ude00\\\\n\\\\t\\\\/\\\\\\\\\\\\\"\\\\b\\\\f\\\\r\"')",
    "return cjson.decode('\"\\\\u0041\\\\u0000z\"')",
    "return cjson.decode('\"\\\\ud83d\"')",
    "return cjson.decode('\"\\\\ude00\"')",
    "return cjson.decode('\"\\\\ud83d\\\\u0041\"')",
    "return cjson.decode('\"\\\\u12G4\"')",
    "return cjson.decode('\"\\\\x\"')",
    "return cjson.decode('\"abc')",
    "return cjson.decode('')",
    "return cjson.decode('   ')",
    "return cjson.decode('[1, 2')",
    "return cjson.decode('[1 2]')",
    "return cjson.decode('{\"a\" 1}')",
    "return cjson.decode('{\"a\": 1,}')",
    "return cjson.decode('{1: 2}')",
    "return cjson.decode('{\"a\": 1 \"b\": 2}')",
    "return cjson.decode('[1] x')",
    "return cjson.decode('tru')",
    "return cjson.decode('nul')",
    "return cjson.decode('-')",
    "return cjson.decode('@')",
    "return cjson.decode(']')",
    "return cjson.decode('[,]')",
    "return cjson.decode('1\\0garbage')",
    "return cjson.decode('\\0a')",
    "return cjson.decode('a\\0')",
    "return cjson.decode('\"a\\0b\"')",
    "return cjson.decode(12)",
    "return cjson.decode({})",
    "return cjson.decode()",
    "return cjson.decode('1', '2')",
    "return #cjson.decode(string.rep('[', 999) .. string.rep(']', 999))",
    "return cjson.decode(string.rep('[', 1000) .. string.rep(']', 1000))",
    "return cjson.decode(string.rep('[', 1001) .. string.rep(']', 1001))",
    "return cjson.decode(string.rep('{\"a\":', 1001) .. '1' .. string.rep('}', 1001))",
    "local j = cjson.new() j.decode_max_depth(2) return j.decode('[[1]]')[1][1]",
    "local j = cjson.new() j.decode_max_depth(2) return j.decode('[[[1]]]')",
    "local j = cjson.new() j.decode_invalid_numbers(false) return j.decode('0x10')",
    "local j = cjson.new() j.decode_invalid_numbers(false) return j.decode('nan')",
    "local j = cjson.new() j.decode_invalid_numbers(false) return j.decode('+1')",
    "local j = cjson.new() j.decode_invalid_numbers(false) return j.decode('-12.5')",
    "local j = cjson.new() j.decode_invalid_numbers(false) return j.decode('007')",
    # Round trips.
    "local s = '{\"a\":[1,2,3,[4,5,{\"b\":\"c\\\\/d\"}]]}' return cjson.encode(cjson.decode(s)) == s",
    "return cjson.encode(cjson.decode(cjson.encode({1.5, -2, 'q\\1', {x = {true}}})))",
    "return cjson.encode(cjson.decode('[1e300,-1e-300,0.30000000000000004]'))",
    "local ok, e = pcall(cjson.decode, '[') return e",
    "local ok, e = pcall(cjson.encode, {1/0}) return e",
    "local ok, e = pcall(bit.band, 'x') return e",
    "local ok, e = pcall(struct.pack, 'i') return e",
    "local ok, e = pcall(function() return cjson.decode('x') end) return e",
    # Nesting past 1000 when the script allows it: Lua's C stack (8000 slots) is the limit.
    "local j = cjson.new() j.encode_max_depth(100000) local t = {} "
    "for i = 1, 10000 do t = {t} end return j.encode(t)",
    "local j = cjson.new() j.encode_max_depth(100000) local t = {} "
    "for i = 1, 10000 do t = {a = t} end return j.encode(t)",
    "local j = cjson.new() j.encode_max_depth(100000) local t = {} "
    "for i = 1, 7990 do t = {t} end return #j.encode(t)",
    "local j = cjson.new() j.decode_max_depth(100000) "
    "return j.decode(string.rep('[', 10000) .. string.rep(']', 10000))",
    "local j = cjson.new() j.decode_max_depth(100000) "
    "return j.decode(string.rep('{\"a\":', 10000) .. '1' .. string.rep('}', 10000))",
    "local j = cjson.new() j.decode_max_depth(100000) "
    "return #j.decode(string.rep('[', 3990) .. string.rep(']', 3990))",
    # Wide tables (more entries than Lua has C stack slots).
    "local t = {} for i = 1, 20000 do t['k' .. i] = i end "
    "local d = cjson.decode(cjson.encode(t)) local n = 0 "
    "for k, v in pairs(d) do n = n + 1 assert(t[k] == v) end return n",
    "local t = {} for i = 1, 20000 do t[i] = {i} end local s = cjson.encode(t) "
    "return {#s, #cjson.decode(s), cjson.decode(s)[20000][1]}",
]


@pytest.mark.parametrize("protocol", [2])
def test_cjson_as_redis(respd, redis_server, protocol):
    ours = raw_replies(respd.port, protocol, CJSON_SCRIPTS)
    theirs = raw_replies(redis_server.port, protocol, CJSON_SCRIPTS)
    differ = [f"{s!r}:\n  respd {o!r}\n  redis {t!r}"
              for s, o, t in zip(CJSON_SCRIPTS, ours, theirs) if o != t]
    assert not differ, f"{len(differ)} replies differ:\n" + "\n".join(differ)


def test_cjson_in_functions_as_redis(respd, redis_server):
    """Functions see cjson when they run, not while their library loads (Redis 7.0)."""
    cmds = [
        ("FUNCTION", "LOAD", "REPLACE", "#!lua name=lj\nredis.register_function('jf', "
         "function(keys, args) return cjson.encode({1, 'a/b', cjson.decode(args[1])}) end)"),
        ("FCALL", "jf", "0", '{"x":[true,null]}'),
        ("FUNCTION", "LOAD", "REPLACE", "#!lua name=lk\nlocal x = cjson.encode({1})\n"
         "redis.register_function('kf', function() return x end)"),
    ]
    assert replies(respd.port, cmds) == replies(redis_server.port, cmds)


# The cmsgpack library: pack's bytes (integers in their smallest form, float32 when lossless,
# doubles, strings by length, tables of keys 1..N as arrays, others as maps, nesting past 16 as
# nil), unpack/unpack_one/unpack_limit with their offsets, and the errors of bad input, compared
# byte for byte. Maps of several keys are compared after a round trip (their order is Lua's).
def _hex(expr):
    return f"return redis.sha1hex(cmsgpack.pack({expr})) .. ' ' .. #cmsgpack.pack({expr})"


CMSGPACK_SCRIPTS = [
    "return cmsgpack.pack(1, 2, 3)",
    "return cmsgpack.pack({1, 2, 3, 'x', true, false})",
    "return cmsgpack.pack({})",
    "return cmsgpack.pack({a = 1})",
    "return cmsgpack.pack({[1] = 1, [2] = 2, [4] = 4})",
    "return cmsgpack.pack({[1] = 'a', [3] = 'c'})",
    "return cmsgpack.pack({[0] = 'a'})",
    "return cmsgpack.pack({[1.5] = 'a'})",
    "return cmsgpack.pack({[-1] = 'a'})",
    "return cmsgpack.pack({[2^31] = 'a'})",
    "return cmsgpack.pack({[2^31 - 1] = 'a'})",
    "return cmsgpack.pack({[true] = 'a'})",
    "return cmsgpack.pack({a = {b = {c = {1, {d = 'e'}}}}})",
    "return cmsgpack.pack(nil)",
    "return cmsgpack.pack(nil, 1)",
    "return cmsgpack.pack(function() end, coroutine.create(function() end))",
    "return cmsgpack.pack(cjson.null)",
    "return cmsgpack.pack(0, 127, 128, 255, 256, 65535, 65536, 2^32 - 1, 2^32, 2^53, 2^63 - 1)",
    "return cmsgpack.pack(-1, -32, -33, -128, -129, -32768, -32769, -2^31, -2^31 - 1, -2^53)",
    "return cmsgpack.pack(-2^63, 2^63, 2^64, -2^64, 1e300, -1e300)",
    "return cmsgpack.pack(1.5, -0.25, 0.1, 1/3, 3.4028234663852886e38, 1e-45, 1e-320)",
    "return cmsgpack.pack(1/0, -1/0, 0/0, -0.0)",
    "return cmsgpack.pack('', 'a', string.rep('x', 31), string.rep('x', 32))",
    _hex("string.rep('y', 255)"),
    _hex("string.rep('y', 256)"),
    _hex("string.rep('y', 65535)"),
    _hex("string.rep('y', 65536)"),
    _hex("(function() local t = {} for i = 1, 15 do t[i] = i end return t end)()"),
    _hex("(function() local t = {} for i = 1, 16 do t[i] = i end return t end)()"),
    _hex("(function() local t = {} for i = 1, 65535 do t[i] = i end return t end)()"),
    _hex("(function() local t = {} for i = 1, 65536 do t[i] = i end return t end)()"),
    "local t = {} for i = 1, 16 do t['k' .. i] = i end return #cmsgpack.pack(t)",
    "local t = {} for i = 1, 65536 do t['k' .. i] = i end return #cmsgpack.pack(t)",
    "return cmsgpack.pack({1, nil, 3})",
    "return cmsgpack.pack({nil, nil, 3})",
    "return cmsgpack.pack(12, 'x', {y = {}})",
    # Nesting: a table 16 levels down packs as nil, so a table containing itself packs.
    "local t = {} local c = t for i = 1, 20 do c[1] = {} c = c[1] end return cmsgpack.pack(t)",
    "local t = {} t[1] = t return cmsgpack.pack(t)",
    "local t = {} t.a = t return cmsgpack.pack(t)",
    "return cmsgpack.pack()",
    "local ok, e = pcall(cmsgpack.pack) return e",
    # Unpacking.
    "return cmsgpack.unpack(cmsgpack.pack(1, 'a', {2, 3}, true, false))",
    "return {cmsgpack.unpack(cmsgpack.pack(1, 'a', {2, 3}, {4, {5}}))}",
    "return {cmsgpack.unpack('')}",
    "return {cmsgpack.unpack('\\192\\1\\192\\2')}",
    "local a, b = cmsgpack.unpack('\\192\\1') return {type(a), b}",
    "return cmsgpack.unpack('\\195')",
    "return cmsgpack.unpack('\\194')",
    "return {cmsgpack.unpack('\\204\\255\\205\\255\\255\\206\\255\\255\\255\\255')}",
    "return {cmsgpack.unpack('\\208\\128\\209\\128\\0\\210\\128\\0\\0\\0\\255\\224')}",
    "return tostring(cmsgpack.unpack('\\207\\255\\255\\255\\255\\255\\255\\255\\255'))",
    "return tostring(cmsgpack.unpack('\\207\\128\\0\\0\\0\\0\\0\\0\\1'))",
    "return tostring(cmsgpack.unpack('\\211\\128\\0\\0\\0\\0\\0\\0\\1'))",
    "return tostring(cmsgpack.unpack(cmsgpack.pack(0.1)))",
    "return tostring(cmsgpack.unpack(cmsgpack.pack(1.5)))",
    "return tostring(cmsgpack.unpack('\\202\\127\\192\\0\\0'))",
    "return tostring(cmsgpack.unpack('\\203\\127\\240\\0\\0\\0\\0\\0\\0'))",
    "return cmsgpack.unpack('\\217\\3abc')",
    "return cmsgpack.unpack('\\218\\0\\3abc')",
    "return cmsgpack.unpack('\\219\\0\\0\\0\\3abc')",
    "return cmsgpack.unpack('\\163abc')",
    "return cmsgpack.unpack('\\129\\161a\\1').a",
    "local t = cmsgpack.unpack('\\130\\161a\\1\\161a\\2') return t.a",
    "return cmsgpack.unpack('\\220\\0\\2\\1\\2')",
    "return cmsgpack.unpack('\\221\\0\\0\\0\\2\\1\\2')",
    "return cmsgpack.unpack('\\222\\0\\1\\1\\2')[1]",
    "return cmsgpack.unpack('\\223\\0\\0\\0\\1\\1\\2')[1]",
    "return #cmsgpack.unpack('\\147\\192\\192\\3')",
    "local t = cmsgpack.unpack('\\129\\1\\192') return next(t) == nil",
    "return cmsgpack.unpack('\\129\\192\\1')",
    "return cmsgpack.unpack('\\129\\203\\255\\248\\0\\0\\0\\0\\0\\0\\1')",
    "return cmsgpack.unpack(123)",
    "return cmsgpack.unpack()",
    "return cmsgpack.unpack({})",
    # Bad and truncated input, huge lengths.
    "return cmsgpack.unpack('\\193')",
    "return cmsgpack.unpack('\\196\\1a')",
    "return cmsgpack.unpack('\\212\\1\\1')",
    "return cmsgpack.unpack('\\1\\193')",
    "return cmsgpack.unpack('\\204')",
    "return cmsgpack.unpack('\\207\\1\\2')",
    "return cmsgpack.unpack('\\163ab')",
    "return cmsgpack.unpack('\\217')",
    "return cmsgpack.unpack('\\219\\255\\255\\255\\255abc')",
    "return cmsgpack.unpack('\\221\\255\\255\\255\\255\\1\\2')",
    "return cmsgpack.unpack('\\223\\255\\255\\255\\255\\1\\2')",
    "return cmsgpack.unpack('\\147\\1\\2')",
    "return cmsgpack.unpack('\\147\\1\\2\\193')",
    "local ok, e = pcall(cmsgpack.unpack, '\\193') return e",
    "local ok, e = pcall(cmsgpack.unpack, '\\204') return e",
    "return cmsgpack.unpack(string.rep('\\145', 100000))",
    "local t = cmsgpack.unpack(string.rep('\\145', 3990) .. '\\1') local n = 0 "
    "while type(t) == 'table' do t = t[1] n = n + 1 end return {n, t}",
    "return cmsgpack.unpack(string.rep('\\145', 4000) .. '\\1')",
    "return cmsgpack.unpack(string.rep('\\129\\1', 4000) .. '\\1')",
    "local t = cmsgpack.unpack(string.rep('\\129\\1', 3990) .. '\\1') local n = 0 "
    "while type(t) == 'table' do t = t[1] n = n + 1 end return {n, t}",
    "return cmsgpack.unpack(string.rep('\\129\\145', 3000) .. '\\1')",
    "return select('#', cmsgpack.unpack(string.rep('\\1', 7999)))",
    "return select('#', cmsgpack.unpack(string.rep('\\1', 8000)))",
    "return select('#', cmsgpack.unpack(string.rep('\\161a', 7999)))",
    "return select('#', cmsgpack.unpack(string.rep('\\192', 100)))",
    "return select('#', cmsgpack.unpack(string.rep('\\1', 100000)))",
    # unpack_one and unpack_limit: the next offset first (-1 at the end), then the values.
    "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3))}",
    "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 1)}",
    "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 2)}",
    "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 3)}",
    "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 4)}",
    "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), -1)}",
    "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), '1')}",
    "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 1.9)}",
    "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 'x')}",
    "return {cmsgpack.unpack_one('')}",
    "return {cmsgpack.unpack_one('\\1\\204', 1)}",
    "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2)}",
    "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2, 1)}",
    "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 5)}",
    "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 0)}",
    "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 0, 1)}",
    "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), -1)}",
    "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3))}",
    "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 1, 99)}",
    "return {cmsgpack.unpack_limit({}, 1)}",
    "return select('#', cmsgpack.unpack_limit(string.rep('\\1', 8000), 7998))",
    "return select('#', cmsgpack.unpack_limit(string.rep('\\1', 8000), 7999))",
    # Round trips (maps of several keys, whose byte order is Lua's table order).
    "local t = {a = 1, b = {1, 2, {c = 'd'}}, [5] = 'five', [true] = false} "
    "local u = cmsgpack.unpack(cmsgpack.pack(t)) "
    "return {u.a, u.b[1], u.b[3].c, u[5], tostring(u[true])}",
    "local t = {} for i = 1, 1000 do t['k' .. i] = i end local u = cmsgpack.unpack(cmsgpack.pack(t)) "
    "local n = 0 for k, v in pairs(u) do n = n + 1 assert(t[k] == v) end return n",
    "return cmsgpack.unpack(cmsgpack.pack(cmsgpack.pack({1, {2}}, 'x')))",
    "return {cmsgpack._NAME, cmsgpack._VERSION, cmsgpack._COPYRIGHT, cmsgpack._DESCRIPTION}",
    "cmsgpack.x = 1",
    "return type(cmsgpack_safe)",
]


@pytest.mark.parametrize("protocol", [2, 3])
def test_cmsgpack_as_redis(respd, redis_server, protocol):
    ours = raw_replies(respd.port, protocol, CMSGPACK_SCRIPTS)
    theirs = raw_replies(redis_server.port, protocol, CMSGPACK_SCRIPTS)
    differ = [f"{s!r}:\n  respd {o!r}\n  redis {t!r}"
              for s, o, t in zip(CMSGPACK_SCRIPTS, ours, theirs) if o != t]
    assert not differ, f"{len(differ)} replies differ:\n" + "\n".join(differ)


def test_cmsgpack_in_functions_as_redis(respd, redis_server):
    """Functions see cmsgpack when they run; a cmsgpack error in one is Redis's."""
    cmds = [
        ("FUNCTION", "LOAD", "REPLACE", "#!lua name=lm\nredis.register_function('mf', "
         "function(keys, args) return {cmsgpack.pack({1, 'a', args[1]}), "
         "cmsgpack.unpack(args[2])} end)"),
        ("FCALL", "mf", "0", "x", "\x93\x01\x02\x03"),
        ("FCALL", "mf", "0", "x", "\xc1"),
    ]
    assert replies(respd.port, cmds) == replies(redis_server.port, cmds)


def test_keys_argv_and_call_arguments_across_runs_as_redis(respd, redis_server):
    """KEYS and ARGV are refilled for each run (a shorter list after a longer one, entries a
    script added), and redis.call's number arguments are written as Redis writes them."""
    grow = "ARGV[7] = 'x' KEYS[9] = 'y' return {#KEYS, #ARGV}"
    show = "return {#KEYS, #ARGV, KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], tostring(ARGV[7])}"
    nums = ("redis.call('del', 'n') redis.call('rpush', 'n', 0, -0.0, 7, -7, 2^31, 2^53, 2^62, "
            "1e20, 1.5, -2.25, 1/3, 1e-5) return redis.call('lrange', 'n', 0, -1)")
    cmds = [
        ("EVAL", show, "2", "k1", "k2", "a1", "a2", "a3"),
        ("EVAL", show, "1", "k1", "a1"),
        ("EVAL", show, "0"),
        ("EVAL", grow, "1", "k", "a", "b"),
        ("EVAL", show, "1", "k", "a"),
        ("EVAL", show, "2", "k1", "k2", "a1", "a2", "a3"),
        ("EVAL", show, "0", "a1"),
        ("EVAL", "ARGV.foo = 1 setmetatable(KEYS, {__index = function() return 'm' end})", "0"),
        ("EVAL", "return {tostring(ARGV.foo), tostring(KEYS[3]), tostring(getmetatable(KEYS))}",
         "1", "k"),
        ("EVAL", "ARGV[1] = 'changed' ARGV[2] = nil", "0", "a", "b", "c"),
        ("EVAL", show, "0", "a1", "a2", "a3"),
        ("EVAL", nums, "0"),
        ("EVAL", "return redis.call('set', 'x', {})", "0"),
        ("EVAL", "return redis.pcall('set', 'x', true)", "0"),
        ("EVAL", "return redis.call()", "0"),
    ]
    assert replies(respd.port, cmds) == replies(redis_server.port, cmds)
