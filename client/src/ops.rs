//! The operations [`crate::Client`] and [`crate::AsyncClient`] share, written once.
//!
//! `client_ops!` expands to one impl block per face. The bodies are the same; each request and
//! each call of a sibling method goes through the face's `run` macro: `run_sync!` calls
//! `query`/`exec`, `run_async!` calls `query_async`/`exec_async` and awaits, so the expansion is
//! the plain code a hand-written face would have (no boxing, no dynamic dispatch).

/// Requests of the blocking face.
macro_rules! run_sync {
    (query, $conn:expr, $cmd:expr) => {
        $cmd.query(&mut $conn)
    };
    (exec, $conn:expr, $cmd:expr) => {
        $cmd.exec(&mut $conn)
    };
    (call, $e:expr) => {
        $e
    };
}

/// Requests of the async face.
macro_rules! run_async {
    (query, $conn:expr, $cmd:expr) => {
        $cmd.query_async(&mut $conn).await
    };
    (exec, $conn:expr, $cmd:expr) => {
        $cmd.exec_async(&mut $conn).await
    };
    (call, $e:expr) => {
        $e.await
    };
}

/// The shared methods of a client type `$ty` whose `conn` is a `$conn` (an enum with a
/// `Cluster` variant), `[async]` or `[]` before each `fn`, and its `run` macro.
macro_rules! client_ops {
    ($ty:ident, $conn:ident, [$($kw:tt)*], $run:ident) => {
        impl $ty {
            /// Connect to a URL (`redis://host:port/db`, `rediss://`, or a comma-separated
            /// cluster list).
            pub $($kw)* fn connect(url: &str) -> $crate::error::Result<Self> {
                $run!(call, Self::open($crate::config::Target::from_url(url)?))
            }

            /// Connect as configured: `RESPD_URL`, else the site YAML file, else localhost.
            pub $($kw)* fn from_env() -> $crate::error::Result<Self> {
                $run!(call, Self::open($crate::config::Target::resolve(None)?))
            }

            /// The target this client connected to.
            pub fn target(&self) -> &$crate::config::Target {
                &self.target
            }

            /// Split values above `n` bytes (instead of the server's bulk limit).
            pub fn set_chunk_size(&mut self, n: usize) {
                self.limit = Some(n.max(1));
            }

            /// The split size: configured, else the server's `proto-max-bulk-len`, else 512 MiB.
            pub $($kw)* fn chunk_size(&mut self) -> usize {
                if let Some(l) = self.limit {
                    return l;
                }
                let r: redis::RedisResult<Vec<String>> = $run!(
                    query,
                    self.conn,
                    redis::cmd("CONFIG").arg("GET").arg("proto-max-bulk-len")
                );
                let l = r
                    .ok()
                    .and_then(|v| v.get(1).and_then(|s| s.parse().ok()))
                    .unwrap_or($crate::chunk::DEFAULT_LIMIT);
                self.limit = Some(l);
                l
            }

            /// PING; returns `PONG`.
            pub $($kw)* fn ping(&mut self) -> $crate::error::Result<String> {
                Ok($run!(query, self.conn, redis::cmd("PING"))?)
            }

            /// Store bytes at `key`, chunked when larger than the split size.
            pub $($kw)* fn put(&mut self, key: &[u8], value: &[u8]) -> $crate::error::Result<()> {
                $run!(call, self.put_with(key, value, &mut |_| {}))
            }

            #[doc = concat!("[`", stringify!($ty), "::put`] with a progress callback.")]
            pub $($kw)* fn put_with(
                &mut self,
                key: &[u8],
                value: &[u8],
                progress: $crate::client::Progress<'_>,
            ) -> $crate::error::Result<()> {
                $run!(call, self.put_expiring(key, value, None, progress))
            }

            /// Store `value` at `key` to expire after `ttl` (`None`: never), with a progress
            /// callback. The chunks of a chunked value outlive the manifest by the grace period,
            /// so a reader that found the manifest still finds its chunks.
            pub $($kw)* fn put_expiring(
                &mut self,
                key: &[u8],
                value: &[u8],
                ttl: Option<std::time::Duration>,
                progress: $crate::client::Progress<'_>,
            ) -> $crate::error::Result<()> {
                let limit = $run!(call, self.chunk_size());
                let old = $run!(call, self.peek_manifest(key))?;
                let ttl_ms = ttl.map(|t| t.as_millis().max(1) as u64);
                if value.len() <= limit {
                    $run!(call, self.set(key, value, ttl_ms))?;
                } else {
                    let m = $crate::chunk::Manifest::new(value.len(), limit);
                    let grace = self.target.grace.as_millis() as u64;
                    let chunk_ttl = ttl_ms.map(|t| t.saturating_add(grace));
                    let mut done = 0u64;
                    for (i, part) in value.chunks(limit).enumerate() {
                        $run!(call, self.set(&m.chunk_key(key, i as u64), part, chunk_ttl))?;
                        done += part.len() as u64;
                        progress(done);
                    }
                    $run!(call, self.set(key, &m.encode(), ttl_ms))?;
                }
                progress(value.len() as u64);
                if let Some(old) = old {
                    $run!(call, self.retire(key, &old))?;
                }
                Ok(())
            }

            $($kw)* fn set(
                &mut self,
                key: &[u8],
                value: &[u8],
                ttl_ms: Option<u64>,
            ) -> $crate::error::Result<()> {
                let mut cmd = redis::cmd("SET");
                cmd.arg(key).arg(value);
                if let Some(ms) = ttl_ms {
                    cmd.arg("PX").arg(ms);
                }
                $run!(exec, self.conn, cmd)
                    .map_err(|e| $crate::error::Error::from(e).at_key(key))
            }

            /// The manifest at `key`, if it holds one (anything else, including other types:
            /// `None`).
            $($kw)* fn peek_manifest(
                &mut self,
                key: &[u8],
            ) -> $crate::error::Result<Option<$crate::chunk::Manifest>> {
                let r: redis::RedisResult<Vec<u8>> = $run!(
                    query,
                    self.conn,
                    redis::cmd("GETRANGE").arg(key).arg(0).arg($crate::chunk::PEEK - 1)
                );
                match r {
                    Ok(v) => Ok($crate::chunk::Manifest::decode(key, &v).ok().flatten()),
                    Err(e) if e.code() == Some("WRONGTYPE") => Ok(None),
                    Err(e) => Err(e.into()),
                }
            }

            /// Let the chunks of a replaced version expire after the grace period.
            $($kw)* fn retire(
                &mut self,
                key: &[u8],
                old: &$crate::chunk::Manifest,
            ) -> $crate::error::Result<()> {
                let ms = self.target.grace.as_millis().max(1) as u64;
                for i in 0..old.chunks {
                    $run!(exec, self.conn, redis::cmd("PEXPIRE").arg(old.chunk_key(key, i)).arg(ms))?;
                }
                Ok(())
            }

            /// Read the bytes at `key`, reassembling a chunked value.
            pub $($kw)* fn get(&mut self, key: &[u8]) -> $crate::error::Result<Vec<u8>> {
                $run!(call, self.get_with(key, &mut |_| {}))
            }

            #[doc = concat!("[`", stringify!($ty), "::get`] with a progress callback.")]
            pub $($kw)* fn get_with(
                &mut self,
                key: &[u8],
                progress: $crate::client::Progress<'_>,
            ) -> $crate::error::Result<Vec<u8>> {
                use $crate::error::Error;
                for _ in 0..4 {
                    let v: Option<Vec<u8>> = $run!(query, self.conn, redis::cmd("GET").arg(key))
                        .map_err(|e| Error::from(e).at_key(key))?;
                    let v = v.ok_or_else(|| Error::NotFound($crate::client::key_str(key)))?;
                    let Some(m) = $crate::chunk::Manifest::decode(key, &v)? else {
                        progress(v.len() as u64);
                        return Ok(v);
                    };
                    if let Some(out) = $run!(call, self.read_chunks(key, &m, progress))? {
                        return Ok(out);
                    }
                }
                Err(Error::BadChunks {
                    key: $crate::client::key_str(key),
                    reason: "chunks kept disappearing (rewritten faster than read)".into(),
                })
            }

            /// The chunks of `m` in one buffer; `None` when one has expired (the value was
            /// replaced).
            $($kw)* fn read_chunks(
                &mut self,
                key: &[u8],
                m: &$crate::chunk::Manifest,
                progress: $crate::client::Progress<'_>,
            ) -> $crate::error::Result<Option<Vec<u8>>> {
                use $crate::error::Error;
                let size = usize::try_from(m.size).map_err(|_| Error::BadChunks {
                    key: $crate::client::key_str(key),
                    reason: "too large".into(),
                })?;
                let mut out = Vec::with_capacity(size);
                for i in 0..m.chunks {
                    let c: Option<Vec<u8>> =
                        $run!(query, self.conn, redis::cmd("GET").arg(m.chunk_key(key, i)))?;
                    let Some(c) = c else { return Ok(None) };
                    if c.len() as u64 != m.chunk_len(i) {
                        return Err(Error::BadChunks {
                            key: $crate::client::key_str(key),
                            reason: format!("chunk {i} has {} bytes", c.len()),
                        });
                    }
                    if out.is_empty() && m.chunks == 1 {
                        return Ok(Some(c));
                    }
                    out.extend_from_slice(&c);
                    progress(out.len() as u64);
                }
                Ok(Some(out))
            }

            /// Store an array as `.npy`.
            pub $($kw)* fn put_array(
                &mut self,
                key: &[u8],
                a: &$crate::npy::NpyArray,
            ) -> $crate::error::Result<()> {
                let total = a.header().len() + a.data.len();
                if total <= $run!(call, self.chunk_size())
                    && $run!(call, self.peek_manifest(key))?.is_none()
                {
                    // Header and data go straight into the command buffer.
                    return $run!(exec, self.conn, redis::cmd("SET").arg(key).arg(a))
                        .map_err(|e| $crate::error::Error::from(e).at_key(key));
                }
                $run!(call, self.put(key, &a.to_npy()))
            }

            /// Load a `.npy` array.
            pub $($kw)* fn get_array(
                &mut self,
                key: &[u8],
            ) -> $crate::error::Result<$crate::npy::NpyArray> {
                let v = bytes::Bytes::from($run!(call, self.get(key))?);
                $crate::npy::NpyArray::from_npy(v)
                    .map_err(|e| $crate::client::bad_format(key, "a .npy array", e))
            }

            /// Store a histogram or plot bundle.
            pub $($kw)* fn put_bundle(
                &mut self,
                key: &[u8],
                b: &$crate::bundle::Bundle,
            ) -> $crate::error::Result<()> {
                $run!(call, self.put(key, &b.encode()))
            }

            /// Load a histogram or plot bundle.
            pub $($kw)* fn get_bundle(
                &mut self,
                key: &[u8],
            ) -> $crate::error::Result<$crate::bundle::Bundle> {
                let v = bytes::Bytes::from($run!(call, self.get(key))?);
                $crate::bundle::Bundle::decode(v)
                    .map_err(|e| $crate::client::bad_format(key, "a histogram/plot bundle", e))
            }

            /// What `key` holds.
            pub $($kw)* fn info(&mut self, key: &[u8]) -> $crate::error::Result<$crate::chunk::KeyInfo> {
                use $crate::chunk::{self, Manifest};
                let t: String = $run!(query, self.conn, redis::cmd("TYPE").arg(key))?;
                let size_cmd = match t.as_str() {
                    "none" => {
                        return Err($crate::error::Error::NotFound($crate::client::key_str(key)))
                    }
                    "string" => {
                        let prefix: Vec<u8> = $run!(
                            query,
                            self.conn,
                            redis::cmd("GETRANGE").arg(key).arg(0).arg(chunk::PEEK - 1)
                        )?;
                        if let Some(m) = Manifest::decode(key, &prefix)? {
                            let first: Vec<u8> = $run!(
                                query,
                                self.conn,
                                redis::cmd("GETRANGE")
                                    .arg(m.chunk_key(key, 0))
                                    .arg(0)
                                    .arg(chunk::PEEK - 1)
                            )?;
                            return Ok(chunk::classify(&first, m.size, Some(m.chunks)));
                        }
                        let len: u64 = $run!(query, self.conn, redis::cmd("STRLEN").arg(key))?;
                        return Ok(chunk::classify(&prefix, len, None));
                    }
                    "list" => "LLEN",
                    "hash" => "HLEN",
                    "set" => "SCARD",
                    "zset" => "ZCARD",
                    "stream" => "XLEN",
                    _ => "",
                };
                let size = if size_cmd.is_empty() {
                    0
                } else {
                    $run!(query, self.conn, redis::cmd(size_cmd).arg(key)).unwrap_or(0)
                };
                Ok(chunk::KeyInfo::Other {
                    redis_type: t,
                    size,
                })
            }

            /// Delete `key` and the chunks of a chunked value; true if it existed.
            pub $($kw)* fn delete(&mut self, key: &[u8]) -> $crate::error::Result<bool> {
                if let Some(m) = $run!(call, self.peek_manifest(key))? {
                    for i in 0..m.chunks {
                        $run!(exec, self.conn, redis::cmd("DEL").arg(m.chunk_key(key, i)))?;
                    }
                }
                let n: u64 = $run!(query, self.conn, redis::cmd("DEL").arg(key))?;
                Ok(n > 0)
            }

            /// Every key starting with `prefix` (chunk keys hidden), found with SCAN.
            pub $($kw)* fn list(&mut self, prefix: &[u8]) -> $crate::error::Result<Vec<Vec<u8>>> {
                let mut keys: Vec<Vec<u8>> = $run!(call, self.scan_all(prefix))?
                    .into_iter()
                    .filter(|k| !$crate::chunk::is_chunk_key(k))
                    .collect();
                keys.sort();
                Ok(keys)
            }

            /// Delete every key starting with `prefix` (chunks included); returns how many were
            /// deleted.
            pub $($kw)* fn delete_prefix(&mut self, prefix: &[u8]) -> $crate::error::Result<u64> {
                let keys = $run!(call, self.scan_all(prefix))?;
                let mut n = 0;
                for batch in keys.chunks(512) {
                    let d: u64 = $run!(query, self.conn, redis::cmd("DEL").arg(batch))?;
                    n += d;
                }
                Ok(n)
            }

            /// Every key starting with `prefix`, including chunk keys.
            $($kw)* fn scan_all(&mut self, prefix: &[u8]) -> $crate::error::Result<Vec<Vec<u8>>> {
                if matches!(self.conn, $conn::Cluster(_)) {
                    return Err($crate::error::Error::Unsupported(
                        "listing by prefix across a cluster; connect to each node".into(),
                    ));
                }
                let pattern = $crate::namespace::glob_prefix(prefix);
                let mut cursor = 0u64;
                let mut out = Vec::new();
                loop {
                    let (next, keys): (u64, Vec<Vec<u8>>) = $run!(
                        query,
                        self.conn,
                        redis::cmd("SCAN")
                            .arg(cursor)
                            .arg("MATCH")
                            .arg(&pattern)
                            .arg("COUNT")
                            .arg(1000)
                    )?;
                    out.extend(keys);
                    if next == 0 {
                        break;
                    }
                    cursor = next;
                }
                // SCAN may return a key twice; keep one.
                out.sort();
                out.dedup();
                Ok(out)
            }

            /// Publish bytes; returns how many subscribers received them.
            pub $($kw)* fn publish(&mut self, channel: &[u8], payload: &[u8]) -> $crate::error::Result<u64> {
                Ok($run!(query, self.conn, redis::cmd("PUBLISH").arg(channel).arg(payload))?)
            }

            /// Publish an array as `.npy` bytes.
            pub $($kw)* fn publish_array(
                &mut self,
                channel: &[u8],
                a: &$crate::npy::NpyArray,
            ) -> $crate::error::Result<u64> {
                Ok($run!(query, self.conn, redis::cmd("PUBLISH").arg(channel).arg(a))?)
            }
        }
    };
}

pub(crate) use {client_ops, run_async, run_sync};
