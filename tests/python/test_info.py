"""INFO carries the fields clients and monitoring read, with values that follow what happened."""


def test_info_fields_follow_activity(respd):
    r = respd.client()
    other = respd.client()
    other.ping()
    r.set("a", 1)
    r.set("b", 2, ex=100)
    r.get("a")
    r.get("missing")
    info = r.info("everything")
    assert info["redis_version"] == "7.0.15"
    assert info["redis_mode"] == "standalone"
    assert info["tcp_port"] == respd.port
    assert info["connected_clients"] >= 2
    assert info["blocked_clients"] == 0
    assert info["used_memory"] > 0
    assert info["maxmemory_policy"] == "noeviction"
    assert info["keyspace_hits"] >= 1 and info["keyspace_misses"] >= 1
    assert info["db0"] == {"keys": 2, "expires": 1, "avg_ttl": 0}
    assert info["role"] == "master"
    assert "cmdstat_set" in info and info["cmdstat_set"]["calls"] >= 2
    assert info["total_commands_processed"] >= 4
    assert info["total_connections_received"] >= 2
    assert set(r.info("server")) >= {"redis_version", "uptime_in_seconds", "process_id", "run_id"}
    assert "db0" not in r.info("server")


def test_client_list_and_kill(respd):
    r = respd.client()
    victim = respd.client()
    victim.client_setname("victim")
    clients = {c["name"]: c for c in r.client_list()}
    assert "victim" in clients and clients["victim"]["db"] == "0"
    assert r.client_kill_filter(_id=clients["victim"]["id"]) == 1
    assert "victim" not in {c["name"] for c in r.client_list()}


def test_slowlog_records_slow_commands(respd):
    r = respd.client()
    r.config_set("slowlog-log-slower-than", 0)
    r.slowlog_reset()
    r.set("x", "y")
    entries = r.slowlog_get(10)
    assert any(e["command"] == b"SET x y" for e in entries), entries
    r.config_set("slowlog-log-slower-than", -1)
    r.slowlog_reset()
    r.set("x", "y")
    assert r.slowlog_len() == 0


def test_memory_usage_tracks_value_size(respd):
    r = respd.client()
    r.set("small", "x")
    r.set("big", b"x" * 1_000_000)
    assert r.memory_usage("nokey") is None
    assert r.memory_usage("small") < 200
    assert 1_000_000 <= r.memory_usage("big") < 1_010_000


def test_mem_allocator_names_the_allocators_in_use(respd):
    # mimalloc serves blocks under 256 KiB and the system allocator the large values (alloc.rs).
    assert respd.client().info("memory")["mem_allocator"] == "mimalloc+libc"
