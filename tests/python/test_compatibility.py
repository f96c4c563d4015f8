"""docs/compatibility.md stays true: its lists of the Redis 7.0 commands respd does not have, and
of the few it has that redis-server 7.0 does not, equal what COMMAND says on the two servers."""

import re

import redis

from conftest import ROOT

DOC = ROOT / "docs" / "compatibility.md"


def listed(block):
    text = DOC.read_text()
    m = re.search(rf"<!-- {block} -->(.*?)<!-- /{block} -->", text, re.S)
    assert m, f"docs/compatibility.md has no {block} block"
    return set(re.findall(r"`([a-z][a-z0-9_|-]*)`", m.group(1)))


def command_names(server):
    """Every command and subcommand name in COMMAND's raw reply (redis-py reshapes it)."""
    c = redis.Connection(host=server.host, port=server.port)
    c.connect()
    try:
        c.send_command("COMMAND")
        reply = c.read_response()
    finally:
        c.disconnect()
    text = lambda x: (x.decode() if isinstance(x, bytes) else x).lower()  # noqa: E731
    names = set()
    for info in reply:
        names.add(text(info[0]))
        for sub in (info[9] if len(info) > 9 else None) or []:
            names.add(text(sub[0]))
    return names


def test_missing_commands_are_listed_exactly(respd, redis_server):
    ours = command_names(respd)
    theirs = command_names(redis_server)
    assert ours - theirs == listed("extra-commands"), sorted(ours - theirs)
    missing = theirs - ours
    doc = listed("missing-commands")
    assert doc == missing, (
        f"docs/compatibility.md lists as missing but respd has: {sorted(doc - missing)}; "
        f"missing but not listed: {sorted(missing - doc)}")
