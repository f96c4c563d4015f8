"""ACL users (issue #16), compared with redis-server 7.0: the same sequence runs on a fresh respd
and a fresh redis-server and what each answers must be equal. Where the order of single-command
rules depends on Redis's hash table (ACL LIST, GETUSER's `commands`), those rules are compared as
a set."""

import os
import re
import tempfile
import time

import pytest
import redis

from conftest import start_redis, start_respd
from resp_raw import RawClient


def both(fn, *extra):
    """fn(server) on a fresh respd and a fresh redis-server started with `extra`; both results."""
    out = []
    for start in (start_respd, start_redis):
        s = start(*extra)
        try:
            out.append(fn(s))
        finally:
            s.stop()
    return out


def same(fn, *extra):
    a, b = both(fn, *extra)
    assert a == b, f"respd: {a!r}\nredis: {b!r}"
    return a


def err(c, *args):
    """The error text a command gets (None if it succeeds)."""
    try:
        c.execute_command(*args)
    except redis.exceptions.ResponseError as e:
        return str(e)
    except redis.exceptions.AuthenticationError as e:
        return "AUTH:" + str(e)
    except redis.exceptions.NoPermissionError as e:
        return "NOPERM:" + str(e)
    except redis.exceptions.AuthenticationWrongNumberOfArgsError as e:
        return "ARGS:" + str(e)
    return None


_respd_commands = None


def respd_commands():
    """Every command and subcommand respd has (COMMAND LIST), asked once."""
    global _respd_commands
    if _respd_commands is None:
        s = start_respd()
        try:
            _respd_commands = set(s.client(decode_responses=True).command_list())
        finally:
            s.stop()
    return _respd_commands


def norm_rules(s):
    """A rule string with its single-command rules as a sorted list (their order is Redis's hash
    order), the rest in place; a rule naming a command respd does not have (see
    docs/compatibility.md) is left out, as redis-server adds those to categories."""
    toks = s.split()
    single = lambda t: t[:1] in "+-" and not t.startswith(("+@", "-@"))
    fixed = [t for t in toks if not single(t)]
    have = respd_commands()
    # `+select|0` (a first-arg rule) is kept where its command is one respd has.
    cmds = sorted(t for t in toks if single(t) and (t[1:] in have or t[1:].split("|")[0] in have))
    return fixed + cmds


def norm_list(lines):
    return [norm_rules(x.decode() if isinstance(x, bytes) else x) for x in lines]


def norm_getuser(g):
    g = dict(g)
    g["commands"] = norm_rules(g["commands"])
    for s in g["selectors"]:
        s["commands"] = norm_rules(s["commands"])
    return g


SETUSER_SEQUENCE = [
    ["alice", "on", ">p1", ">p2", "~k*", "%R~r*", "%W~w*", "+get", "+set", "+@hash"],
    ["alice", "<p1", "-hset", "+config|get", "&news.*", "&x"],
    ["bob", "on", "nopass", "allkeys", "allchannels", "allcommands", "-@dangerous"],
    ["carol", "on", "#" + "a" * 64, "resetkeys", "~a", "~b", "(+get ~sel*)", "(+set %W~w2*)"],
    ["carol", "clearselectors", "+@read", "-@string", "+@list"],
    ["dave"],
    ["dave", "on", "reset"],
    ["erin", "on", "+@all", "-@write", "-client|kill", "+client|list"],
]


def setuser_sequence(s):
    c = s.client(decode_responses=True)
    replies = [c.execute_command("ACL", "SETUSER", *a) for a in SETUSER_SEQUENCE]
    users = c.execute_command("ACL", "USERS")
    listing = norm_list(c.execute_command("ACL", "LIST"))
    gets = {}
    for u in users:
        raw = c.execute_command("ACL", "GETUSER", u)
        gets[u] = norm_getuser(raw if isinstance(raw, dict) else dict(zip(raw[::2], raw[1::2])))
        for sel in gets[u]["selectors"]:
            pass
    return replies, users, listing, gets


def test_setuser_getuser_list_users():
    replies, users, listing, gets = same(lambda s: _decode_getuser(setuser_sequence(s)))
    assert users == ["alice", "bob", "carol", "dave", "default", "erin"]
    assert any("%R~r*" in line for line in listing)


def _decode_getuser(r):
    replies, users, listing, gets = r
    out = {}
    for u, g in gets.items():
        g = dict(g)
        g["selectors"] = [
            norm_getuser_sel(x) for x in g["selectors"]
        ]
        out[u] = g
    return replies, users, listing, out


def norm_getuser_sel(x):
    if isinstance(x, list):
        x = dict(zip(x[::2], x[1::2]))
    x = dict(x)
    if isinstance(x.get("commands"), str):
        x["commands"] = norm_rules(x["commands"])
    return x


SETUSER_ERRORS = [
    ["u", "+nosuchcmd"],
    ["u", "+@nosuchcat"],
    ["u", "-@nosuchcat"],
    ["u", "%X~k"],
    ["u", "~a b"],
    ["u", "<neverset"],
    ["u", "#abc"],
    ["u", "#" + "A" * 64],
    ["u", "allkeys", "~k"],
    ["u", "allchannels", "&c"],
    ["u", "+config|get|x"],
    ["u", "(+get", "~k"],
    ["u", "(+nosuch)"],
    ["u", "bogus"],
    ["a b", "on"],
]


def test_setuser_errors():
    def run(s):
        c = s.client(decode_responses=True)
        out = [err(c, "ACL", "SETUSER", *a) for a in SETUSER_ERRORS]
        # A refused SETUSER creates nothing.
        out.append(c.execute_command("ACL", "USERS"))
        return out

    same(run)


def test_acl_cat_per_category():
    """ACL CAT <category> lists the same commands, among those both servers have."""
    r, d = start_respd(), start_redis()
    try:
        rc, dc = r.client(decode_responses=True), d.client(decode_responses=True)
        common = set(rc.command_list()) & set(dc.command_list())
        cats = rc.execute_command("ACL", "CAT")
        assert cats == dc.execute_command("ACL", "CAT")
        for cat in cats:
            a = set(rc.execute_command("ACL", "CAT", cat))
            b = set(dc.execute_command("ACL", "CAT", cat))
            # Subcommands are listed by COMMAND LIST too; compare only what both servers have.
            assert a & common == b & common, cat
            assert a - common == set() or all("|" in x or x not in common for x in a - common)
        assert err(rc, "ACL", "CAT", "nope") == err(dc, "ACL", "CAT", "nope")
    finally:
        r.stop()
        d.stop()


def permission_sequence(s):
    admin = s.client(decode_responses=True)
    admin.execute_command("ACL", "SETUSER", "alice", "on", ">pw", "~k*", "%R~r*", "&news.*",
                          "+get", "+set", "+publish", "+subscribe", "+psubscribe", "+mget",
                          "+acl|whoami")
    c = s.client(decode_responses=True)
    out = [
        err(c, "AUTH", "alice", "nope"),
        err(c, "AUTH", "nouser", "pw"),
        c.execute_command("AUTH", "alice", "pw"),
        c.execute_command("ACL", "WHOAMI"),
        c.set("k1", "v"),
        c.get("k1"),
        err(c, "SET", "other", "v"),
        err(c, "GET", "r1"),
        err(c, "SET", "r1", "v"),
        err(c, "MGET", "k1", "x1"),
        err(c, "DEL", "k1"),
        err(c, "CONFIG", "GET", "maxmemory"),
        c.execute_command("PUBLISH", "news.a", "m"),
        err(c, "PUBLISH", "sports", "m"),
        err(c, "ACL", "LIST"),
        err(c, "PING"),
    ]
    log = admin.execute_command("ACL", "LOG")
    entries = []
    for e in log:
        e = e if isinstance(e, dict) else dict(zip(e[::2], e[1::2]))
        assert float(e["age-seconds"]) < 30
        assert "id=" in e["client-info"] and "user=" in e["client-info"]
        entries.append({k: e[k] for k in ("count", "reason", "context", "object", "username")})
    out.append(entries)
    out.append(len(admin.execute_command("ACL", "LOG", "2")))
    out.append(admin.execute_command("ACL", "LOG", "RESET"))
    out.append(admin.execute_command("ACL", "LOG"))
    return out


def test_auth_noperm_and_the_log():
    out = same(permission_sequence)
    assert out[6].startswith("NOPERM") or "no permissions" in out[6]


def test_dryrun():
    def run(s):
        c = s.client(decode_responses=True)
        c.execute_command("ACL", "SETUSER", "u", "on", "nopass", "~k*", "%R~r*", "+@read", "+set",
                          "&ch*", "+publish", "(+del ~d*)")
        cases = [
            ["u", "GET", "k1"], ["u", "GET", "r1"], ["u", "SET", "r1", "v"], ["u", "SET", "k1", "v"],
            ["u", "DEL", "d1"], ["u", "DEL", "k1"], ["u", "HSET", "k", "f", "v"],
            ["u", "PUBLISH", "ch1", "m"], ["u", "PUBLISH", "x", "m"], ["u", "GET"],
            ["nouser", "GET", "k"], ["u", "NOSUCH", "k"], ["u", "CONFIG", "GET", "x"],
            ["u", "SORT", "k1", "STORE", "zz"], ["u", "LMOVE", "k1", "r2", "LEFT", "LEFT"],
        ]
        return [err(c, "ACL", "DRYRUN", *a) or c.execute_command("ACL", "DRYRUN", *a) for a in cases]

    same(run)


def test_multi_exec_and_changed_permissions():
    def run(s):
        admin = s.client(decode_responses=True)
        admin.execute_command("ACL", "SETUSER", "m", "on", ">pw", "~*", "+@all", "-del")
        c = s.client(username="m", password="pw", decode_responses=True)
        out = []
        p = c.pipeline(transaction=True)
        p.set("a", 1)
        p.delete("a")
        try:
            p.execute()
        except redis.exceptions.RedisError as e:
            out.append(type(e).__name__ + ":" + str(e))
        # Allowed when queued, refused by EXEC after the rules changed.
        c.execute_command("MULTI")
        c.execute_command("SET", "b", "1")
        c.execute_command("GET", "b")
        admin.execute_command("ACL", "SETUSER", "m", "-get")
        out.append(c.execute_command("EXEC", **{}))
        entries = [dict(zip(e[::2], e[1::2])) if isinstance(e, list) else e
                   for e in admin.execute_command("ACL", "LOG")]
        out.append([(e["reason"], e["context"], e["object"]) for e in entries])
        return out

    a, b = both(run)
    # redis-py wraps errors inside EXEC's reply: compare their texts.
    norm = lambda r: [[str(x) for x in v] if isinstance(v, list) else str(v) for v in r]
    assert norm(a) == norm(b), f"respd: {a!r}\nredis: {b!r}"


def test_script_calls_follow_the_caller():
    def run(s):
        admin = s.client(decode_responses=True)
        admin.execute_command("ACL", "SETUSER", "s", "on", ">pw", "~k*", "+eval", "+get")
        c = s.client(username="s", password="pw", decode_responses=True)
        out = [c.eval("return redis.call('get', 'k1')", 0)]
        for script in ("return redis.call('set', 'k1', 'v')", "return redis.call('get', 'other')",
                       "return redis.pcall('set', 'k1', 'v')"):
            try:
                out.append(repr(c.eval(script, 0)))
            except redis.exceptions.ResponseError as e:
                out.append(str(e).split(" script:")[0])
        entries = [dict(zip(e[::2], e[1::2])) if isinstance(e, list) else e
                   for e in admin.execute_command("ACL", "LOG")]
        out.append([(e["reason"], e["context"], e["object"]) for e in entries])
        return out

    same(run)


def test_deluser_and_acl_load_disconnect_and_setuser_applies_at_once():
    def run(s):
        admin = s.client(decode_responses=True)
        admin.execute_command("ACL", "SETUSER", "v", "on", ">pw", "~*", "+@all")
        c = s.client(username="v", password="pw", decode_responses=True, retry_on_timeout=False)
        c.set("x", "1")
        out = [c.get("x")]
        admin.execute_command("ACL", "SETUSER", "v", "-get")
        out.append(err(c, "GET", "x"))
        admin.execute_command("ACL", "SETUSER", "v", "off")
        # As Redis 7.0: off keeps open connections (a new AUTH fails).
        out.append(c.execute_command("ACL", "WHOAMI"))
        out.append(err(s.client(), "AUTH", "v", "pw"))
        before = admin.execute_command("CLIENT", "LIST")
        out.append(sum(1 for l in before.splitlines() if "user=v " in l))
        out.append(admin.execute_command("ACL", "DELUSER", "v", "nobody"))
        out.append(err(admin, "ACL", "DELUSER", "default"))
        time.sleep(0.2)
        after = admin.execute_command("CLIENT", "LIST")
        out.append(sum(1 for l in after.splitlines() if "user=v " in l))
        return out

    same(run)


def test_pubsub_subscriber_loses_channels():
    def run(s):
        admin = s.client(decode_responses=True)
        admin.execute_command("ACL", "SETUSER", "p", "on", ">pw", "resetchannels", "&a*", "&b",
                              "+@all")
        keep = s.client(username="p", password="pw")
        ps_keep = keep.pubsub()
        ps_keep.subscribe("b")
        lose = s.client(username="p", password="pw")
        ps_lose = lose.pubsub()
        ps_lose.subscribe("a1")
        for ps in (ps_keep, ps_lose):
            ps.get_message(timeout=1)
        out = [err(s.client(username="p", password="pw"), "SUBSCRIBE", "c")]
        time.sleep(0.1)
        listed = admin.execute_command("CLIENT", "LIST")
        out.append(sum(1 for l in listed.splitlines() if "user=p " in l and "flags=P" in l))
        admin.execute_command("ACL", "SETUSER", "p", "resetchannels", "&b")
        time.sleep(0.2)
        listed = admin.execute_command("CLIENT", "LIST")
        out.append(sum(1 for l in listed.splitlines() if "user=p " in l and "flags=P" in l))
        out.append(admin.publish("b", "still"))
        return out

    assert same(run)[1:] == [2, 1, 1]


def test_hello_auth_reset_and_client_kill_user():
    def run(s):
        admin = s.client(decode_responses=True)
        admin.execute_command("ACL", "SETUSER", "h", "on", ">pw", "+@all", "~*")
        c = s.client(decode_responses=True)
        out = [err(c, "HELLO", "3", "AUTH", "h", "bad")]
        r = c.execute_command("HELLO", "2", "AUTH", "h", "pw")
        out.append(r[:4] if isinstance(r, list) else r)
        out.append(c.execute_command("ACL", "WHOAMI"))
        out.append(c.execute_command("RESET"))
        out.append(c.execute_command("ACL", "WHOAMI"))
        c.execute_command("AUTH", "h", "pw")
        out.append(err(admin, "CLIENT", "KILL", "USER", "nobody"))
        out.append(admin.execute_command("CLIENT", "KILL", "USER", "h"))
        out.append(err(admin, "AUTH", "onlypass"))
        return out

    same(run)


def test_requirepass_is_the_default_users_password():
    def run(s):
        admin = s.client(decode_responses=True)
        admin.config_set("requirepass", "sekret")
        c = RawClient(s.port)
        out = [c.cmd("GET", "x"), c.cmd("AUTH", "wrong"), c.cmd("AUTH", "sekret"),
               c.cmd("AUTH", "default", "sekret"), c.cmd("ACL", "GETUSER", "default"),
               c.cmd("ACL", "LIST"), c.cmd("CONFIG", "GET", "requirepass")]
        c.cmd("CONFIG", "SET", "requirepass", "")
        out.append(c.cmd("ACL", "LIST"))
        out.append(RawClient(s.port).cmd("AUTH", "x"))
        c.close()
        return out

    same(run)


def test_aclfile_round_trip():
    def run(s):
        c = s.client(decode_responses=True)
        out = [norm_list(c.execute_command("ACL", "LIST"))]
        c.execute_command("ACL", "SETUSER", "new", "on", ">x", "~n*", "+@read", "(+set ~s*)")
        out.append(c.execute_command("ACL", "SAVE"))
        path = s.acl_path
        with open(path) as f:
            saved = f.read()
        out.append(sorted(norm_rules(l) for l in saved.splitlines()))
        with open(path, "a") as f:
            f.write("user broken on +nosuch\n")
        out.append(err(c, "ACL", "LOAD"))
        with open(path, "w") as f:
            f.write(saved.replace("user new", "user renamed"))
        keep = s.client(username="new", password="x", decode_responses=True)
        keep.get("n1")
        out.append(c.execute_command("ACL", "LOAD"))
        out.append(c.execute_command("ACL", "USERS"))
        time.sleep(0.2)
        try:
            keep.get("n1")
            out.append("still connected")
        except redis.exceptions.RedisError as e:
            out.append(type(e).__name__)
        return out

    results = []
    for start in (start_respd, start_redis):
        d = tempfile.mkdtemp(prefix="acl-")
        path = os.path.join(d, "users.acl")
        with open(path, "w") as f:
            f.write("user alice on #" + "b" * 64 + " ~a* &c +get\nuser default on nopass ~* &* +@all\n")
        s = start("--aclfile", path)
        s.acl_path = path
        try:
            results.append(run(s))
        finally:
            s.stop()
    a, b = results
    # The error names the file, which differs: compare what follows it.
    a[3], b[3] = a[3].split(":", 2)[-1], b[3].split(":", 2)[-1]
    assert a == b, f"respd: {a!r}\nredis: {b!r}"


def test_config_users_and_aclfile_together_is_an_error(tmp_path):
    path = tmp_path / "u.acl"
    path.write_text("user default on nopass ~* &* +@all\n")
    with pytest.raises(Exception):
        s = start_respd("--aclfile", str(path), "--user", "bob on >x +@all")
        s.stop()


def test_config_file_users():
    def run(s):
        c = s.client(decode_responses=True)
        u = s.client(username="bob", password="x", decode_responses=True)
        return [norm_list(c.execute_command("ACL", "LIST")), u.execute_command("ACL", "WHOAMI"),
                err(u, "SET", "k", "v")]

    a = run_with(start_respd, "--user", "bob on >x ~b* +get +acl|whoami")
    # redis-server takes the rules as separate words after --user.
    b = run_with(start_redis, "--user", "bob", "on", ">x", "~b*", "+get", "+acl|whoami")
    assert a(run) == b(run)


def run_with(start, *extra):
    def go(fn):
        s = start(*extra)
        try:
            return fn(s)
        finally:
            s.stop()
    return go


def test_redis_py_acl_helpers():
    def run(s):
        c = s.client(decode_responses=True)
        out = [c.acl_setuser("py", enabled=True, passwords=["+secret"], keys=["py:*"],
                             commands=["+get", "+set", "+@connection"], channels=["chan"])]
        u = redis.Redis(host=s.host, port=s.port, username="py", password="secret",
                        decode_responses=True)
        out.append(u.set("py:1", "v"))
        out.append(u.get("py:1"))
        try:
            u.get("other")
        except redis.exceptions.NoPermissionError as e:
            out.append(str(e))
        g = c.acl_getuser("py")
        out.append((sorted(g["flags"]), g["keys"], g["channels"], sorted(g["commands"])))
        out.append(c.acl_whoami())
        out.append(c.acl_deluser("py"))
        out.append(len(c.acl_genpass()))
        out.append(len(c.acl_genpass(5)))
        return out

    same(run)


def test_protected_mode_follows_the_default_users_password():
    """Only loopback clients here, so protected mode never refuses: what is checked is that a
    default user with a password needs AUTH, and one made nopass again does not."""
    def run(s):
        admin = RawClient(s.port)
        out = [admin.cmd("ACL", "SETUSER", "default", ">pw")]
        c = RawClient(s.port)
        out += [c.cmd("PING"), c.cmd("AUTH", "pw"), c.cmd("ACL", "SETUSER", "default", "nopass"),
                RawClient(s.port).cmd("PING"), c.cmd("ACL", "SETUSER", "default", "off")]
        out.append(RawClient(s.port).cmd("PING"))
        return out

    same(run)


# Redis 7.0's deprecated first-arg rule: `+cmd|arg` for a command without subcommands allows it
# only with that first argument (compared case-insensitively); a rule on the command drops them.
FIRST_ARG_SEQUENCE = [
    ["fa", "on", "nopass", "~*", "-@all", "+select|0", "+SELECT|1", "+select|0", "+get"],
    ["fb", "on", "nopass", "~*", "+@all", "-select", "+select|0"],
    ["fc", "on", "nopass", "~*", "+select|0", "(+select|2 +get)"],
    # Each of these drops what came before it for select.
    ["fd", "+select|0", "-select"],
    ["fe", "+select|0", "+select"],
    ["ff", "+select|0", "allcommands"],
    ["fg", "+select|0", "nocommands"],
    ["fh", "+select|0", "+@connection"],
    ["fi", "+select|0", "-@keyspace"],
    ["fj", "+select|0", "reset"],
    # A category not holding select keeps them.
    ["fk", "+select|0", "+@string", "-@write"],
    # Kept but not shown while the command itself is allowed.
    ["fl", "allcommands", "+select|0"],
]

FIRST_ARG_ERRORS = [
    ["x", "-select|0"],
    ["x", "+select|"],
    ["x", "+client|kill|x"],
    ["x", "+config|get|x"],
    ["x", "+config|nosuch"],
    ["x", "+nosuch|0"],
    ["x", "-config|nosuch"],
]


def norm_line_by_selector(line):
    """An ACL LIST line as its root rules and each `(...)` selector's rules, each normalized."""
    sels = re.findall(r"\(([^)]*)\)", line)
    return [norm_rules(re.sub(r"\([^)]*\)", "", line))] + [norm_rules(x) for x in sels]


def test_first_arg_rule_setuser_getuser_list():
    def run(s):
        c = s.client(decode_responses=True)
        out = [c.execute_command("ACL", "SETUSER", *a) for a in FIRST_ARG_SEQUENCE]
        out += [err(c, "ACL", "SETUSER", *a) for a in FIRST_ARG_ERRORS]
        out.append(c.execute_command("ACL", "USERS"))
        out.append([norm_line_by_selector(x) for x in c.execute_command("ACL", "LIST")])
        for u in [a[0] for a in FIRST_ARG_SEQUENCE]:
            raw = c.execute_command("ACL", "GETUSER", u)
            g = raw if isinstance(raw, dict) else dict(zip(raw[::2], raw[1::2]))
            g = norm_getuser(g)
            g["selectors"] = [norm_getuser_sel(x) for x in g["selectors"]]
            out.append((u, g))
        return out

    out = same(run)
    got = dict(x for x in out if isinstance(x, tuple))
    # Shown as given (first spelling kept, a repeat not added), after the command.
    assert got["fa"]["commands"] == ["-@all", "+get", "+select|0", "+select|1"]
    assert got["fb"]["commands"] == ["+@all", "+select|0", "-select"]  # (sorted)
    assert got["fd"]["commands"] == ["-@all"]
    assert got["fl"]["commands"] == ["+@all"]
    assert out[len(FIRST_ARG_SEQUENCE)] == "Error in ACL SETUSER modifier '-select|0': Unknown command or category name in ACL"
    assert "Allowing first-arg of a subcommand is not supported" in out[len(FIRST_ARG_SEQUENCE) + 2]


def test_first_arg_rule_is_checked_on_dispatch():
    def run(s):
        admin = s.client(decode_responses=True)
        admin.execute_command("ACL", "SETUSER", "fa", "on", ">pw", "~*", "-@all", "+select|0",
                              "+SELECT|Db", "+get", "(+config|get ~x)", "+ping")
        c = s.client(username="fa", password="pw", decode_responses=True)
        out = [
            err(c, "SELECT", "0") or c.execute_command("SELECT", "0"),
            err(c, "select", "1"),
            err(c, "SELECT"),
            err(c, "SELECT", "DB"),
            err(c, "CONFIG", "GET", "maxmemory") or "ok",
            err(c, "CONFIG", "SET", "maxmemory", "0"),
        ]
        cases = [["fa", "SELECT", "0"], ["fa", "SELECT", "1"], ["fa", "select", "db"],
                 ["fa", "SELECT", "00"]]
        out += [err(admin, "ACL", "DRYRUN", *a) or admin.execute_command("ACL", "DRYRUN", *a)
                for a in cases]
        # A later rule on the command takes the first args away from open connections too.
        admin.execute_command("ACL", "SETUSER", "fa", "-select")
        out.append(err(c, "SELECT", "0"))
        admin.execute_command("ACL", "SETUSER", "fa", "+select|0")
        out.append(err(c, "SELECT", "0") or "ok")
        log = admin.execute_command("ACL", "LOG")
        entries = []
        for e in log:
            e = e if isinstance(e, dict) else dict(zip(e[::2], e[1::2]))
            entries.append({k: e[k] for k in ("count", "reason", "context", "object", "username")})
        out.append(entries)
        return out

    out = same(run)
    assert out[0] is True
    assert "no permissions to run the 'select' command" in out[1]
    assert "not an integer" in out[3]  # the ACL let it through: `Db` matches `DB`
    assert out[4] == "ok"
    assert out[6:9] == ["OK", "This user has no permissions to run the 'select' command", "OK"]
    assert out[-3] is not None and out[-2] == "ok"


def test_first_arg_rule_survives_acl_save_and_load(tmp_path):
    def run(s):
        c = s.client(decode_responses=True)
        c.execute_command("ACL", "SETUSER", "fa", "on", "nopass", "~*", "-@all", "+select|0")
        c.execute_command("ACL", "SAVE")
        c.execute_command("ACL", "SETUSER", "fa", "-select")
        c.execute_command("ACL", "LOAD")
        line = [x for x in c.execute_command("ACL", "LIST") if x.startswith("user fa ")]
        f = c.execute_command("CONFIG", "GET", "aclfile")["aclfile"]
        text = [x for x in open(f).read().splitlines() if x.startswith("user fa ")]
        return line, text

    def with_file(kind):
        d = tempfile.mkdtemp(dir=tmp_path)
        path = os.path.join(d, "users.acl")
        open(path, "w").write("")
        return ["--aclfile", path]

    r = start_respd(*with_file("respd"))
    try:
        a = run(r)
        # As Redis, each first-arg rule set (by SETUSER or the file) logs the deprecation.
        assert "Deprecation warning: Allowing a first arg" in r.log_text()
    finally:
        r.stop()
    d = start_redis(*with_file("redis"))
    try:
        b = run(d)
    finally:
        d.stop()
    assert a == b
    assert a[0] == ["user fa on nopass ~* resetchannels -@all +select|0"]
