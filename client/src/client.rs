//! The blocking client: one connection (or a cluster connection), large values chunked.

use std::time::Duration;

use bytes::Bytes;
use redis::ConnectionLike;

use crate::bundle::Bundle;
use crate::chunk::{self, KeyInfo, Manifest};
use crate::config::Target;
use crate::error::{Error, Result};
use crate::npy::NpyArray;

/// A single-server or cluster connection behind one type.
pub(crate) enum SyncConn {
    Single(redis::Connection),
    Cluster(Box<redis::cluster::ClusterConnection>),
}

impl ConnectionLike for SyncConn {
    fn req_packed_command(&mut self, cmd: &[u8]) -> redis::RedisResult<redis::Value> {
        match self {
            SyncConn::Single(c) => c.req_packed_command(cmd),
            SyncConn::Cluster(c) => c.req_packed_command(cmd),
        }
    }
    fn req_packed_commands(
        &mut self,
        cmd: &[u8],
        offset: usize,
        count: usize,
    ) -> redis::RedisResult<Vec<redis::Value>> {
        match self {
            SyncConn::Single(c) => c.req_packed_commands(cmd, offset, count),
            SyncConn::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }
    fn req_command(&mut self, cmd: &redis::Cmd) -> redis::RedisResult<redis::Value> {
        match self {
            SyncConn::Single(c) => c.req_command(cmd),
            SyncConn::Cluster(c) => c.req_command(cmd),
        }
    }
    fn get_db(&self) -> i64 {
        match self {
            SyncConn::Single(c) => c.get_db(),
            SyncConn::Cluster(c) => c.get_db(),
        }
    }
    fn check_connection(&mut self) -> bool {
        match self {
            SyncConn::Single(c) => c.check_connection(),
            SyncConn::Cluster(c) => c.check_connection(),
        }
    }
    fn is_open(&self) -> bool {
        match self {
            SyncConn::Single(c) => c.is_open(),
            SyncConn::Cluster(c) => c.is_open(),
        }
    }
}

/// A blocking client.
pub struct Client {
    conn: SyncConn,
    target: Target,
    limit: Option<usize>,
}

/// Progress callback: called with the bytes moved so far.
pub type Progress<'a> = &'a mut dyn FnMut(u64);

pub(crate) fn key_str(key: &[u8]) -> String {
    String::from_utf8_lossy(key).into_owned()
}

pub(crate) fn install_tls() {
    #[cfg(feature = "tls")]
    {
        // Several clients may race to install it; the first one wins and that is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

impl Client {
    /// Connect to a URL (`redis://host:port/db`, `rediss://`, or a comma-separated cluster list).
    pub fn connect(url: &str) -> Result<Self> {
        Self::open(Target::from_url(url)?)
    }

    /// Connect as configured: `RESPD_URL`, else the site YAML file, else localhost.
    pub fn from_env() -> Result<Self> {
        Self::open(Target::resolve(None)?)
    }

    /// Connect to a resolved target.
    pub fn open(target: Target) -> Result<Self> {
        install_tls();
        let conn = if target.is_cluster() {
            let c = redis::cluster::ClusterClientBuilder::new(target.nodes.clone())
                .connection_timeout(Duration::from_secs(5))
                .build()?;
            SyncConn::Cluster(Box::new(c.get_connection()?))
        } else {
            let c = redis::Client::open(target.nodes[0].as_str())?;
            SyncConn::Single(c.get_connection_with_timeout(Duration::from_secs(5))?)
        };
        let limit = target_limit(&target);
        Ok(Client {
            conn,
            target,
            limit,
        })
    }

    /// The target this client connected to.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Split values above `n` bytes (instead of the server's bulk limit).
    pub fn set_chunk_size(&mut self, n: usize) {
        self.limit = Some(n.max(1));
    }

    /// The split size: configured, else the server's `proto-max-bulk-len`, else 512 MiB.
    pub fn chunk_size(&mut self) -> usize {
        if let Some(l) = self.limit {
            return l;
        }
        let r: redis::RedisResult<Vec<String>> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("proto-max-bulk-len")
            .query(&mut self.conn);
        let l = r
            .ok()
            .and_then(|v| v.get(1).and_then(|s| s.parse().ok()))
            .unwrap_or(chunk::DEFAULT_LIMIT);
        self.limit = Some(l);
        l
    }

    /// The raw connection, for commands this crate does not wrap.
    pub fn connection(&mut self) -> &mut dyn ConnectionLike {
        &mut self.conn
    }

    /// PING; returns `PONG`.
    pub fn ping(&mut self) -> Result<String> {
        Ok(redis::cmd("PING").query(&mut self.conn)?)
    }

    /// Store bytes at `key`, chunked when larger than the split size.
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.put_with(key, value, &mut |_| {})
    }

    /// [`Client::put`] with a progress callback.
    pub fn put_with(&mut self, key: &[u8], value: &[u8], progress: Progress<'_>) -> Result<()> {
        let limit = self.chunk_size();
        let old = self.peek_manifest(key)?;
        if value.len() <= limit {
            self.set(key, value)?;
        } else {
            let m = Manifest::new(value.len(), limit);
            let mut done = 0u64;
            for (i, part) in value.chunks(limit).enumerate() {
                self.set(&m.chunk_key(key, i as u64), part)?;
                done += part.len() as u64;
                progress(done);
            }
            self.set(key, &m.encode())?;
        }
        progress(value.len() as u64);
        if let Some(old) = old {
            self.retire(key, &old)?;
        }
        Ok(())
    }

    fn set(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        redis::cmd("SET")
            .arg(key)
            .arg(value)
            .exec(&mut self.conn)
            .map_err(|e| Error::from(e).at_key(key))
    }

    /// The manifest at `key`, if it holds one (anything else, including other types: `None`).
    fn peek_manifest(&mut self, key: &[u8]) -> Result<Option<Manifest>> {
        let r: redis::RedisResult<Vec<u8>> = redis::cmd("GETRANGE")
            .arg(key)
            .arg(0)
            .arg(chunk::PEEK - 1)
            .query(&mut self.conn);
        match r {
            Ok(v) => Ok(Manifest::decode(key, &v).ok().flatten()),
            Err(e) if e.code() == Some("WRONGTYPE") => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Let the chunks of a replaced version expire after the grace period.
    fn retire(&mut self, key: &[u8], old: &Manifest) -> Result<()> {
        let ms = self.target.grace.as_millis().max(1) as u64;
        for i in 0..old.chunks {
            redis::cmd("PEXPIRE")
                .arg(old.chunk_key(key, i))
                .arg(ms)
                .exec(&mut self.conn)?;
        }
        Ok(())
    }

    /// Read the bytes at `key`, reassembling a chunked value.
    pub fn get(&mut self, key: &[u8]) -> Result<Vec<u8>> {
        self.get_with(key, &mut |_| {})
    }

    /// [`Client::get`] with a progress callback.
    pub fn get_with(&mut self, key: &[u8], progress: Progress<'_>) -> Result<Vec<u8>> {
        for _ in 0..4 {
            let v: Option<Vec<u8>> = redis::cmd("GET")
                .arg(key)
                .query(&mut self.conn)
                .map_err(|e| Error::from(e).at_key(key))?;
            let v = v.ok_or_else(|| Error::NotFound(key_str(key)))?;
            let Some(m) = Manifest::decode(key, &v)? else {
                progress(v.len() as u64);
                return Ok(v);
            };
            if let Some(out) = self.read_chunks(key, &m, progress)? {
                return Ok(out);
            }
        }
        Err(Error::BadChunks {
            key: key_str(key),
            reason: "chunks kept disappearing (rewritten faster than read)".into(),
        })
    }

    /// The chunks of `m` in one buffer; `None` when one has expired (the value was replaced).
    fn read_chunks(
        &mut self,
        key: &[u8],
        m: &Manifest,
        progress: Progress<'_>,
    ) -> Result<Option<Vec<u8>>> {
        let size = usize::try_from(m.size).map_err(|_| Error::BadChunks {
            key: key_str(key),
            reason: "too large".into(),
        })?;
        let mut out = Vec::with_capacity(size);
        for i in 0..m.chunks {
            let c: Option<Vec<u8>> = redis::cmd("GET")
                .arg(m.chunk_key(key, i))
                .query(&mut self.conn)?;
            let Some(c) = c else { return Ok(None) };
            if c.len() as u64 != m.chunk_len(i) {
                return Err(Error::BadChunks {
                    key: key_str(key),
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
    pub fn put_array(&mut self, key: &[u8], a: &NpyArray) -> Result<()> {
        let total = a.header().len() + a.data.len();
        if total <= self.chunk_size() && self.peek_manifest(key)?.is_none() {
            // Header and data go straight into the command buffer.
            return redis::cmd("SET")
                .arg(key)
                .arg(a)
                .exec(&mut self.conn)
                .map_err(|e| Error::from(e).at_key(key));
        }
        self.put(key, &a.to_npy())
    }

    /// Load a `.npy` array.
    pub fn get_array(&mut self, key: &[u8]) -> Result<NpyArray> {
        let v = Bytes::from(self.get(key)?);
        NpyArray::from_npy(v).map_err(|e| bad_format(key, "a .npy array", e))
    }

    /// Store a histogram or plot bundle.
    pub fn put_bundle(&mut self, key: &[u8], b: &Bundle) -> Result<()> {
        self.put(key, &b.encode())
    }

    /// Load a histogram or plot bundle.
    pub fn get_bundle(&mut self, key: &[u8]) -> Result<Bundle> {
        let v = Bytes::from(self.get(key)?);
        Bundle::decode(v).map_err(|e| bad_format(key, "a histogram/plot bundle", e))
    }

    /// What `key` holds.
    pub fn info(&mut self, key: &[u8]) -> Result<KeyInfo> {
        let t: String = redis::cmd("TYPE").arg(key).query(&mut self.conn)?;
        let size_cmd = match t.as_str() {
            "none" => return Err(Error::NotFound(key_str(key))),
            "string" => {
                let prefix: Vec<u8> = redis::cmd("GETRANGE")
                    .arg(key)
                    .arg(0)
                    .arg(chunk::PEEK - 1)
                    .query(&mut self.conn)?;
                if let Some(m) = Manifest::decode(key, &prefix)? {
                    let first: Vec<u8> = redis::cmd("GETRANGE")
                        .arg(m.chunk_key(key, 0))
                        .arg(0)
                        .arg(chunk::PEEK - 1)
                        .query(&mut self.conn)?;
                    return Ok(chunk::classify(&first, m.size, Some(m.chunks)));
                }
                let len: u64 = redis::cmd("STRLEN").arg(key).query(&mut self.conn)?;
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
            redis::cmd(size_cmd)
                .arg(key)
                .query(&mut self.conn)
                .unwrap_or(0)
        };
        Ok(KeyInfo::Other {
            redis_type: t,
            size,
        })
    }

    /// Delete `key` and the chunks of a chunked value; true if it existed.
    pub fn delete(&mut self, key: &[u8]) -> Result<bool> {
        if let Some(m) = self.peek_manifest(key)? {
            for i in 0..m.chunks {
                redis::cmd("DEL")
                    .arg(m.chunk_key(key, i))
                    .exec(&mut self.conn)?;
            }
        }
        let n: u64 = redis::cmd("DEL").arg(key).query(&mut self.conn)?;
        Ok(n > 0)
    }

    /// Every key starting with `prefix` (chunk keys hidden), found with SCAN.
    pub fn list(&mut self, prefix: &[u8]) -> Result<Vec<Vec<u8>>> {
        let mut keys: Vec<Vec<u8>> = self
            .scan_all(prefix)?
            .into_iter()
            .filter(|k| !chunk::is_chunk_key(k))
            .collect();
        keys.sort();
        Ok(keys)
    }

    /// Every key starting with `prefix`, including chunk keys.
    fn scan_all(&mut self, prefix: &[u8]) -> Result<Vec<Vec<u8>>> {
        if matches!(self.conn, SyncConn::Cluster(_)) {
            return Err(Error::Unsupported(
                "listing by prefix across a cluster; connect to each node".into(),
            ));
        }
        let pattern = crate::namespace::glob_prefix(prefix);
        let mut cursor = 0u64;
        let mut out = Vec::new();
        loop {
            let (next, keys): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query(&mut self.conn)?;
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

    /// Delete every key starting with `prefix` (chunks included); returns how many were deleted.
    pub fn delete_prefix(&mut self, prefix: &[u8]) -> Result<u64> {
        let keys = self.scan_all(prefix)?;
        let mut n = 0;
        for batch in keys.chunks(512) {
            let d: u64 = redis::cmd("DEL").arg(batch).query(&mut self.conn)?;
            n += d;
        }
        Ok(n)
    }

    /// Publish bytes; returns how many subscribers received them.
    pub fn publish(&mut self, channel: &[u8], payload: &[u8]) -> Result<u64> {
        Ok(redis::cmd("PUBLISH")
            .arg(channel)
            .arg(payload)
            .query(&mut self.conn)?)
    }

    /// Publish an array as `.npy` bytes.
    pub fn publish_array(&mut self, channel: &[u8], a: &NpyArray) -> Result<u64> {
        Ok(redis::cmd("PUBLISH")
            .arg(channel)
            .arg(a)
            .query(&mut self.conn)?)
    }
}

fn target_limit(t: &Target) -> Option<usize> {
    t.chunk_size
}

/// A format error at a key, as a wrong-type error naming what was expected.
pub(crate) fn bad_format(key: &[u8], expected: &str, e: Error) -> Error {
    match e {
        Error::BadArray(reason) => Error::WrongType {
            key: key_str(key),
            expected: expected.into(),
            found: reason,
        },
        other => other,
    }
}
