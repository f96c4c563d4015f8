"""client/python/respd_client.py (pure Python + NumPy) and the Rust client read each other's values.

Both directions, on respd and on redis-server: arrays, bundles, chunked values (a lowered chunk
size so that chunking happens at test sizes), TTLs, and the consistency rules of the layout.
"""

import subprocess
import sys

import numpy as np
import pytest
import redis

from conftest import ROOT, cargo_build

sys.path.insert(0, str(ROOT / "client" / "python"))
import respd_client as rc  # noqa: E402

REL = ROOT / "target" / "release"


@pytest.fixture(scope="module")
def bins():
    cargo_build()
    return {"cli": str(REL / "respd-cli"), "interop": str(REL / "examples" / "npy_interop")}


def run(argv, **kw):
    p = subprocess.run(argv, capture_output=True, timeout=120, **kw)
    return p


def url(s):
    return f"redis://{s.host}:{s.port}"


def conn(s):
    return redis.Redis(host=s.host, port=s.port)


def test_rust_writes_python_reads(bins, each_server, tmp_path):
    s = each_server
    r = conn(s)
    data = np.random.default_rng(1).integers(0, 256, 300_000, dtype=np.uint8).tobytes()
    src = tmp_path / "in.bin"
    src.write_bytes(data)
    # A chunked value (chunks of 64 KiB) and a plain one, written by respd-cli.
    p = run([bins["cli"], "--url", url(s), "--chunk-size", "65536", "put", "c", str(src)])
    assert p.returncode == 0, p.stderr
    p = run([bins["cli"], "--url", url(s), "put", "plain", str(src)])
    assert p.returncode == 0, p.stderr
    assert rc.get(r, "c") == data
    assert rc.get(r, "plain") == data
    assert rc.info(r, "c") == {"kind": "chunked", "size": len(data), "chunks": 5}
    # Arrays of every dtype × order × endianness from the Rust example.
    p = run([bins["interop"], "--url", url(s), "write", "arr:"])
    assert p.returncode == 0, p.stderr
    a = rc.get_array(r, "arr:float64:F:big")
    assert a.shape == (3, 4, 5) and a.dtype == np.dtype(">f8") and np.isfortran(a)
    assert np.array_equal(a.ravel(order="C"), np.arange(60) * 0.1 - 3.0)
    assert rc.info(r, "arr:int16:C:little")["kind"] == "array"
    assert rc.info(r, "arr:int16:C:little")["shape"] == (3, 4, 5)
    # Bundles from the Rust client.
    p = run([bins["interop"], "--url", url(s), "write-bundles", "b:"])
    assert p.returncode == 0, p.stderr
    kind, arrays, attrs = rc.get_bundle(r, "b:hist")
    assert (kind, attrs) == ("histogram", {"unit": "keV"})
    assert np.array_equal(arrays["counts"], np.arange(12).reshape(3, 4))
    assert np.array_equal(arrays["edges_1"], np.arange(5) * 0.5)
    kind, arrays, _ = rc.get_bundle(r, "b:plot")
    assert kind == "plot" and np.array_equal(arrays["y_a"], [0.0, 1.0, 4.0])
    assert rc.info(r, "b:hist") == {"kind": "bundle", "bundle_kind": "histogram",
                                    "size": r.strlen("b:hist")}
    with pytest.raises(rc.NotFound):
        rc.get(r, "missing")


def test_python_writes_rust_reads(bins, each_server, tmp_path):
    s = each_server
    r = conn(s)
    data = np.random.default_rng(2).integers(0, 256, 250_001, dtype=np.uint8).tobytes()
    rc.put(r, "c", data, chunk_size=65536)
    assert r.strlen("c") < 200  # the manifest, not the value
    dst = tmp_path / "out.bin"
    p = run([bins["cli"], "--url", url(s), "get", "c", str(dst)])
    assert p.returncode == 0, p.stderr
    assert dst.read_bytes() == data
    info = run([bins["cli"], "--url", url(s), "info", "c"]).stdout.decode()
    assert info.startswith("chunked value: 250001 bytes in 4 parts"), info
    # A chunked .npy array: the Rust client reads it as an array.
    img = np.arange(4096 * 64, dtype=np.float64).reshape(4096, 64)
    rc.put_array(r, "img", img, chunk_size=1 << 20)
    info = run([bins["cli"], "--url", url(s), "info", "img"]).stdout.decode()
    assert info.startswith("float64 (4096, 64) (2097280 bytes, npy, chunked in 3 parts)"), info
    assert rc.info(r, "img") == {"kind": "chunked", "size": 2097280, "chunks": 3,
                                 "dtype": "float64", "shape": (4096, 64)}
    assert np.array_equal(rc.get_array(r, "img"), img)
    # Bundles the Rust example checks value by value.
    rc.put_bundle(r, "b:hist", rc.histogram(np.arange(12, dtype=np.int64).reshape(3, 4),
                                            [np.arange(4) * 0.5, np.arange(5) * 0.5], unit="keV"))
    rc.put_bundle(r, "b:plot", rc.plot({"a": ([0, 1, 2], [0, 1, 4]), "b": ([0, 1], [0, -1])}))
    p = run([bins["interop"], "--url", url(s), "check-bundles", "b:"])
    assert p.returncode == 0 and p.stdout.decode().strip() == "ok 2", (p.stdout, p.stderr)
    # Arrays of every dtype, numpy-written, through the module.
    for key in r.keys("arr:*"):
        r.delete(key)
    p = run([bins["interop"], "--url", url(s), "write", "arr:"])
    for key in sorted(r.keys("arr:*")):
        a = rc.get_array(r, key)
        rc.put_array(r, b"py" + key, a)
    p = run([bins["interop"], "--url", url(s), "check", "pyarr:"])
    assert p.returncode == 0 and p.stdout.decode().startswith("ok 52"), (p.stdout, p.stderr)


def test_rewrite_retires_old_chunks_and_ttl(each_server):
    r = conn(each_server)
    rc.put(r, "v", b"a" * 300_000, chunk_size=100_000)
    old = [k for k in r.keys("v\x00chunk\x00*")]
    assert len(old) == 3 and all(r.ttl(k) == -1 for k in old)
    rc.put(r, "v", b"b" * 250_000, chunk_size=100_000)
    # The old version's chunks stay readable for the grace period, then go.
    assert all(0 < r.pttl(k) <= rc.GRACE_MS for k in old)
    assert rc.get(r, "v") == b"b" * 250_000
    rc.put(r, "t", b"x" * 300_000, chunk_size=100_000, ttl=100)
    assert 90 <= r.ttl("t") <= 100
    chunks = [k for k in r.keys("t\x00chunk\x00*")]
    assert len(chunks) == 3 and all(r.ttl(k) >= r.ttl("t") for k in chunks)
    # A chunk lost under a manifest: a clear error, never a short value.
    m = rc._manifest(r.get("v"))
    r.delete(rc._chunk_key(b"v", m["id"], 1))
    with pytest.raises(rc.BadChunks):
        rc.get(r, "v")
    # delete_prefix takes the chunks too and treats glob characters literally.
    r.set("v*", "other")
    assert rc.delete_prefix(r, "v") >= 4
    assert r.keys("v*") == []
