"""respd's command table against Redis 7.0's: for every command (and subcommand) both servers
have, COMMAND's arity, flags, key positions and ACL categories are the same as redis-server's.
This is how respd's flags are derived from Redis's table (no_multi among them) and kept so."""

from resp_raw import RawClient, parse


def rows(port):
    c = RawClient(port)
    out = {}

    def add(row):
        name = row[0].decode()
        out[name] = {
            "arity": row[1],
            "flags": [f.decode() for f in row[2]],
            "keys": tuple(row[3:6]),
            "acl": sorted(a.decode() for a in row[6]),
        }

    for row in parse(c.cmd("COMMAND")):
        add(row)
        for sub in row[9]:
            add(sub)
    c.close()
    return out


def test_command_rows_as_redis(respd, redis_server):
    ours, theirs = rows(respd.port), rows(redis_server.port)
    assert len(ours) > 200
    differ = [
        f"{name}: respd {ours[name]} redis {theirs[name]}"
        for name in sorted(ours)
        if name in theirs and ours[name] != theirs[name]
    ]
    assert not differ, f"{len(differ)} rows differ:\n" + "\n".join(differ)


def test_only_redis_7_2_extras(respd, redis_server):
    """Commands respd has that Redis 7.0 has not: only what newer clients send on connect."""
    extra = set(rows(respd.port)) - set(rows(redis_server.port))
    assert extra == {"client|no-touch", "client|setinfo"}
