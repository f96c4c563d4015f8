"""respd-client (Rust) and redis-py + NumPy agree on what is stored.

The Rust side runs as binaries: target/release/respd-cli and the examples `npy_interop` and
`store_array` (cargo builds the workspace once per session: a no-op when fresh).
"""

import hashlib
import io
import json
import os
import subprocess
import time

import numpy as np
import pytest

from conftest import ROOT, cargo_build

REL = ROOT / "target" / "release"
SHAPE = (3, 4, 5)
DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float32", "float64", "complex64", "complex128"]


@pytest.fixture(scope="module")
def bins():
    cargo_build()  # never a stale binary
    need = [REL / "respd-cli", REL / "examples" / "npy_interop", REL / "examples" / "store_array"]
    return {p.name: str(p) for p in need}


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, timeout=120, **kw)


def expected(dt):
    """The pattern the Rust example `npy_interop` uses (see pattern() there)."""
    k = np.arange(np.prod(SHAPE), dtype=np.int64)
    signed = (k * 7 % 100) - 50
    unsigned = (k * 7 % 100).astype(np.uint64) + np.uint64(150)
    v = {
        "bool": k % 3 == 0,
        "int8": signed.astype(np.int8),
        "int16": (signed * 300).astype(np.int16),
        "int32": (signed * 40_000_000).astype(np.int32),
        "int64": signed * 100_000_000_000,
        "uint8": unsigned.astype(np.uint8),
        "uint16": (unsigned * np.uint64(300)).astype(np.uint16),
        "uint32": (unsigned * np.uint64(16_000_000)).astype(np.uint32),
        "uint64": unsigned * np.uint64(100_000_000_000_000_000),
        "float32": k.astype(np.float32) * np.float32(0.5) - np.float32(3.0),
        "float64": k * 0.1 - 3.0,
        "complex64": (k.astype(np.float32) * np.float32(0.5) - 1j * k.astype(np.float32)).astype(np.complex64),
        "complex128": k * 0.1 - 1j * k,
    }[dt]
    return np.asarray(v).reshape(SHAPE)


def url(server):
    return f"redis://{server.host}:{server.port}"


@pytest.mark.parametrize("server_kind", ["respd", "redis"])
def test_rust_writes_numpy_reads(bins, server_kind, respd, redis_server):
    s = respd if server_kind == "respd" else redis_server
    out = run([bins["npy_interop"], "--url", url(s), "write", "rs:"])
    assert out.returncode == 0, out.stderr.decode()
    r = s.client()
    n = 0
    for dt in DTYPES:
        want = expected(dt)
        for order in "CF":
            for endian in ["little", "big"]:
                raw = r.get(f"rs:{dt}:{order}:{endian}")
                a = np.load(io.BytesIO(raw))
                assert a.dtype.name == dt
                if a.dtype.itemsize > 1:
                    assert a.dtype.byteorder == ("<" if endian == "little" else ">") or (
                        a.dtype.byteorder == "=" and endian == "little"), (dt, a.dtype)
                assert a.shape == SHAPE
                assert a.flags.f_contiguous == (order == "F") and a.flags.c_contiguous == (order == "C")
                np.testing.assert_array_equal(a, want, err_msg=f"{dt} {order} {endian}")
                n += 1
    assert n == 52


@pytest.mark.parametrize("server_kind", ["respd", "redis"])
def test_numpy_writes_rust_reads(bins, server_kind, respd, redis_server):
    s = respd if server_kind == "respd" else redis_server
    r = s.client()
    versions = [(1, 0), (2, 0), (3, 0)]
    i = 0
    for dt in DTYPES:
        for order in "CF":
            for endian in ["little", "big"]:
                a = expected(dt)
                if a.dtype.itemsize > 1:
                    a = a.astype(a.dtype.newbyteorder("<" if endian == "little" else ">"))
                a = np.asfortranarray(a) if order == "F" else np.ascontiguousarray(a)
                f = io.BytesIO()
                # Every format version NumPy writes, in turn.
                np.lib.format.write_array(f, a, version=versions[i % 3])
                i += 1
                r.set(f"py:{dt}:{order}:{endian}", f.getvalue())
                if dt == "float64" and order == "C" and endian == "little":
                    g = io.BytesIO()
                    np.save(g, a)
                    r.set("plain:save", g.getvalue())
    out = run([bins["npy_interop"], "--url", url(s), "check", "py:"])
    assert out.returncode == 0, out.stderr.decode()
    assert out.stdout.decode().strip() == "ok 52"
    # `info` says dtype and shape as NumPy does.
    info = run([bins["respd-cli"], "--url", url(s), "info", "py:complex64:F:big"])
    assert info.stdout.decode().startswith("complex64 (3, 4, 5) ("), info
    info = run([bins["respd-cli"], "--url", url(s), "info", "plain:save"])
    assert info.stdout.decode().startswith("float64 (3, 4, 5) ("), info


def test_store_array_example(bins, respd):
    out = run([bins["store_array"], "--url", url(respd), "--key", "big:array"])
    assert out.returncode == 0, out.stderr.decode()
    a = np.load(io.BytesIO(respd.client().get("big:array")))
    assert a.shape == (4096, 4096) and a.dtype == np.float64
    assert a[0, 0] == 0 and a[1, 2] == 4098 and a[4095, 4095] == 4096 * 4096 - 1
    np.testing.assert_array_equal(a[17], np.arange(17 * 4096, 18 * 4096, dtype=np.float64))
    info = run([bins["respd-cli"], "--url", url(respd), "info", "big:array"])
    assert info.stdout.decode().startswith("float64 (4096, 4096) ("), info


def test_histogram_bundle_reads_with_numpy_alone(bins, respd, tmp_path):
    # Python writes a bundle following the documented layout; Rust recognises it; NumPy reads it.
    meta = {"format": "respd.bundle", "version": 1, "kind": "histogram",
            "arrays": ["counts", "edges_0"], "attrs": {"title": "adc"}}
    f = io.BytesIO()
    np.save(f, np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
    np.save(f, np.array([3, 1, 4], dtype=np.int64))
    np.save(f, np.array([0.0, 1.0, 2.0, 3.0]))
    r = respd.client()
    r.set("h", f.getvalue())
    info = run([bins["respd-cli"], "--url", url(respd), "info", "h"])
    assert info.stdout.decode().startswith("histogram bundle ("), info
    g = io.BytesIO(r.get("h"))
    m = json.loads(np.load(g).tobytes())
    arrays = {name: np.load(g) for name in m["arrays"]}
    np.testing.assert_array_equal(arrays["counts"], [3, 1, 4])


def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 24):
            h.update(block)
    return h.hexdigest()


def test_chunked_put_get_lowered_server_limit(bins, redis_server, tmp_path):
    # The client splits at the server's own proto-max-bulk-len (1 MiB here, Redis's minimum).
    r = redis_server.client()
    r.config_set("proto-max-bulk-len", "1mb")
    src = tmp_path / "in"
    src.write_bytes(np.random.default_rng(1).integers(0, 256, 5 * 2**20 + 17, dtype=np.uint8).tobytes())
    assert run([bins["respd-cli"], "--url", url(redis_server), "put", "f", str(src)]).returncode == 0
    info = run([bins["respd-cli"], "--url", url(redis_server), "info", "f"]).stdout.decode()
    assert info.strip() == f"chunked value: {5 * 2**20 + 17} bytes in 6 parts", info
    dst = tmp_path / "out"
    assert run([bins["respd-cli"], "--url", url(redis_server), "get", "f", str(dst)]).returncode == 0
    assert sha(src) == sha(dst)


def test_600mb_file_through_put_get(bins, respd, tmp_path):
    # Above the 512 MiB default bulk limit: two chunks, byte-exact, in a few seconds.
    size = 600 * 10**6
    src = tmp_path / "in"
    block = np.random.default_rng(2).integers(0, 256, 2**20, dtype=np.uint8).tobytes()
    with open(src, "wb") as f:
        for i in range(size // len(block)):
            f.write(block[i % 7:] + block[: i % 7])
        f.write(block[: size % len(block)])
    t = time.time()
    out = run([bins["respd-cli"], "--url", url(respd), "put", "big", str(src)])
    assert out.returncode == 0, out.stderr.decode()
    info = run([bins["respd-cli"], "--url", url(respd), "info", "big"]).stdout.decode()
    assert info.strip() == f"chunked value: {size} bytes in 2 parts", info
    dst = tmp_path / "out"
    out = run([bins["respd-cli"], "--url", url(respd), "get", "big", str(dst)])
    assert out.returncode == 0, out.stderr.decode()
    elapsed = time.time() - t
    assert os.path.getsize(dst) == size
    assert sha(src) == sha(dst)
    print(f"600 MB put+get in {elapsed:.1f} s")


def test_reader_during_rewrite_sees_old_or_new(bins, respd, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"a" * (3 * 2**20 + 5))
    b.write_bytes(b"b" * (3 * 2**20 + 9))
    cli = [bins["respd-cli"], "--url", url(respd), "--chunk-size", str(256 * 1024)]
    assert run(cli + ["put", "v", str(a)]).returncode == 0
    stop = tmp_path / "stop"
    # The writer alternates the two values until told to stop (at most 200 rounds).
    writer = subprocess.Popen(
        ["bash", "-c", f'for i in $(seq 200); do [ -e {stop} ] && exit 0; '
                       f'"$0" "$@" put v {b} && "$0" "$@" put v {a} || exit 1; done', *cli])
    try:
        seen = set()
        # Read until both values were seen (so the reads did overlap the rewrites), bounded.
        for _ in range(200):
            out = run(cli + ["get", "v", "-"])
            assert out.returncode == 0, out.stderr.decode()
            v = out.stdout
            assert v in (a.read_bytes(), b.read_bytes()), f"mixed read: {len(v)} bytes"
            seen.add(v[:1])
            if len(seen) == 2:
                break
    finally:
        stop.touch()
        assert writer.wait(timeout=120) == 0
    assert seen == {b"a", b"b"}, f"reads saw only {seen}: they never overlapped a rewrite"
