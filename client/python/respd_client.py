"""respd_client: read and write what respd-client (Rust) and respd-cli store, with redis-py.

Pure Python, NumPy only. It follows the layouts documented in client/README.md:

- arrays are `.npy` bytes (numpy.save / numpy.load);
- bundles (histograms, plots) are `.npy` arrays one after another, the first a uint8 array of
  UTF-8 JSON `{"format": "respd.bundle", "version": 1, "kind": ..., "arrays": [...], "attrs": {...}}`;
- values above the server's bulk limit are chunks at `<key>\\0chunk\\0<id>\\0<i>` and a manifest at
  `<key>`: `\\0respd.chunked\\0` + JSON `{"version":1,"id":..,"size":N,"chunks":K,"chunk_size":C}`,
  written last, so a reader sees one whole version.

    import redis, numpy as np, respd_client as rc
    r = redis.Redis()
    rc.put_array(r, "run42:image", np.zeros((4096, 4096)))
    img = rc.get_array(r, "run42:image")
    rc.put_bundle(r, "run42:spectrum", rc.histogram(counts, [edges]))
    kind, arrays, attrs = rc.get_bundle(r, "run42:spectrum")

Every function takes a `redis.Redis` connection (decode_responses must be False).
"""

import io
import json
import os

import numpy as np

__all__ = ["put", "get", "put_array", "get_array", "put_bundle", "get_bundle", "histogram",
           "plot", "info", "delete_prefix", "NotFound", "BadChunks"]

MAGIC = b"\x00respd.chunked\x00"
FORMAT = "respd.bundle"
DEFAULT_LIMIT = 512 * 1024 * 1024
GRACE_MS = 60_000
RETRIES = 4


class NotFound(KeyError):
    """The key does not exist."""


class BadChunks(ValueError):
    """A chunked value whose parts do not add up (deleted or rewritten while read)."""


def _b(key):
    return key.encode() if isinstance(key, str) else bytes(key)


def _chunk_key(key, ident, i):
    return key + b"\x00chunk\x00" + ident.encode() + b"\x00" + str(i).encode()


def _manifest(raw):
    """The manifest dict when `raw` is one, else None."""
    if raw is None or not raw.startswith(MAGIC):
        return None
    try:
        m = json.loads(raw[len(MAGIC):])
    except ValueError:
        return None
    if not isinstance(m, dict) or m.get("version") != 1:
        return None
    return m


def chunk_limit(r):
    """The split size: the server's proto-max-bulk-len, else 512 MiB."""
    try:
        v = r.config_get("proto-max-bulk-len")
        return int(v.get(b"proto-max-bulk-len", v.get("proto-max-bulk-len")))
    except Exception:  # CONFIG refused (ACL, managed Redis): the Rust client's fallback too
        return DEFAULT_LIMIT


def put(r, key, data, chunk_size=None, ttl=None):
    """Store bytes at `key`, chunked above `chunk_size` (default: the server's limit).

    `ttl` (seconds) expires the value; the chunks outlive the manifest by the grace period.
    The chunks of a replaced chunked value are retired with the grace period as TTL.
    """
    key = _b(key)
    data = memoryview(data).cast("B")
    limit = chunk_size or chunk_limit(r)
    old = _manifest(r.getrange(key, 0, 4095)) if r.type(key) == b"string" else None
    px = None if ttl is None else max(1, int(ttl * 1000))
    if len(data) <= limit:
        r.set(key, bytes(data), px=px)
    else:
        ident = os.urandom(8).hex()
        chunks = (len(data) + limit - 1) // limit
        chunk_px = None if px is None else px + GRACE_MS
        for i in range(chunks):
            r.set(_chunk_key(key, ident, i), bytes(data[i * limit:(i + 1) * limit]), px=chunk_px)
        m = {"version": 1, "id": ident, "size": len(data), "chunks": chunks, "chunk_size": limit}
        r.set(key, MAGIC + json.dumps(m, separators=(",", ":")).encode(), px=px)
    if old is not None:
        for i in range(int(old["chunks"])):
            r.pexpire(_chunk_key(key, old["id"], i), GRACE_MS)


def get(r, key):
    """The bytes at `key`, a chunked value reassembled. Raises NotFound, BadChunks."""
    key = _b(key)
    for _ in range(RETRIES + 1):
        raw = r.get(key)
        if raw is None:
            raise NotFound(key)
        m = _manifest(raw)
        if m is None:
            return raw
        parts = r.mget([_chunk_key(key, m["id"], i) for i in range(int(m["chunks"]))])
        if all(p is not None for p in parts):
            out = b"".join(parts)
            if len(out) != int(m["size"]):
                raise BadChunks(f"{key!r}: {len(out)} bytes where the manifest says {m['size']}")
            return out
        # A chunk expired: the value was replaced meanwhile; read the new manifest.
    raise BadChunks(f"{key!r}: chunks kept vanishing (rewritten faster than it can be read)")


def put_array(r, key, array, **kw):
    """Store a NumPy array as `.npy` (numpy.save's format)."""
    f = io.BytesIO()
    np.save(f, np.asanyarray(array), allow_pickle=False)
    put(r, key, f.getbuffer(), **kw)


def get_array(r, key):
    """Load a `.npy` array."""
    return np.load(io.BytesIO(get(r, key)), allow_pickle=False)


def histogram(counts, edges, **attrs):
    """A histogram bundle: `counts` (N-D) and one edge vector of n_i + 1 values per axis."""
    counts = np.asarray(counts)
    if len(edges) != counts.ndim:
        raise ValueError(f"{len(edges)} edge vectors for {counts.ndim} axes")
    arrays = [("counts", counts)]
    for ax, e in enumerate(edges):
        e = np.asarray(e, dtype=np.float64)
        if e.shape != (counts.shape[ax] + 1,):
            raise ValueError(f"axis {ax}: {counts.shape[ax]} bins need {counts.shape[ax] + 1} edges")
        arrays.append((f"edges_{ax}", e))
    return ("histogram", arrays, attrs)


def plot(series, **attrs):
    """A plot bundle from {name: (x, y)}."""
    arrays = []
    for name, (x, y) in series.items():
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        if x.shape != y.shape:
            raise ValueError(f"series {name}: {x.size} x values, {y.size} y values")
        arrays += [(f"x_{name}", x), (f"y_{name}", y)]
    return ("plot", arrays, attrs)


def put_bundle(r, key, bundle, **kw):
    """Store `(kind, [(name, array), ...], attrs)` (as `histogram()`/`plot()` return)."""
    kind, arrays, attrs = bundle
    meta = {"format": FORMAT, "version": 1, "kind": kind,
            "arrays": [n for n, _ in arrays], "attrs": attrs}
    f = io.BytesIO()
    np.save(f, np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), allow_pickle=False)
    for _, a in arrays:
        np.save(f, np.asarray(a), allow_pickle=False)
    put(r, key, f.getbuffer(), **kw)


def get_bundle(r, key):
    """`(kind, {name: array}, attrs)` of a bundle."""
    f = io.BytesIO(get(r, key))
    head = np.load(f, allow_pickle=False)
    if head.dtype != np.uint8 or head.ndim != 1:
        raise ValueError(f"{key!r} is not a bundle: first array is not uint8 metadata")
    meta = json.loads(head.tobytes())
    if meta.get("format") != FORMAT:
        raise ValueError(f"{key!r} is not a bundle: format {meta.get('format')!r}")
    arrays = {name: np.load(f, allow_pickle=False) for name in meta["arrays"]}
    return meta["kind"], arrays, meta.get("attrs", {})


def info(r, key):
    """What `key` holds, as a dict: `kind` is "chunked" (with `size`, `chunks`), "bundle" (with
    `bundle_kind`), "array" (with `dtype`, `shape`), "string" (with `size`), or the Redis type."""
    key = _b(key)
    t = r.type(key).decode()
    if t == "none":
        raise NotFound(key)
    if t != "string":
        return {"kind": t}
    head = r.getrange(key, 0, 4095)
    m = _manifest(head)
    if m is not None:
        out = {"kind": "chunked", "size": int(m["size"]), "chunks": int(m["chunks"])}
        first = _npy_header(r.getrange(_chunk_key(key, m["id"], 0), 0, 4095))
        if first is not None:  # a chunked array: its dtype and shape too
            out.update(dtype=str(first[0]), shape=tuple(first[1]))
        return out
    size = r.strlen(key)
    h = _npy_header(head)
    if h is None:
        return {"kind": "string", "size": size}
    dtype, shape, end = h
    if dtype == np.uint8 and len(shape) == 1 and len(head) >= end + shape[0]:
        try:
            j = json.loads(head[end:end + shape[0]])
            if isinstance(j, dict) and j.get("format") == FORMAT:
                return {"kind": "bundle", "bundle_kind": j.get("kind"), "size": size}
        except ValueError:
            pass
    return {"kind": "array", "dtype": str(dtype), "shape": tuple(shape), "size": size}


def _npy_header(head):
    """(dtype, shape, header end) of `.npy` bytes, or None."""
    try:
        f = io.BytesIO(head)
        version = np.lib.format.read_magic(f)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, _, dtype = read_header(f)
    except Exception:  # not .npy (or a header longer than what was read)
        return None
    return dtype, shape, f.tell()


def delete_prefix(r, prefix):
    """Delete every key starting with `prefix` (chunks included, glob characters literal)."""
    prefix = _b(prefix)
    pattern = b"".join(b"\\" + bytes([c]) if c in b"*?[]\\" else bytes([c]) for c in prefix) + b"*"
    n = 0
    batch = []
    for k in r.scan_iter(match=pattern, count=1000):
        batch.append(k)
        if len(batch) == 512:
            n += r.delete(*batch)
            batch = []
    if batch:
        n += r.delete(*batch)
    return n
