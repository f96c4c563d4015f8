//! The async (tokio) client: the same operations as [`crate::Client`] on a multiplexed connection.

use std::time::Duration;

use bytes::Bytes;
use redis::aio::ConnectionLike;

use crate::bundle::Bundle;
use crate::chunk::{self, KeyInfo, Manifest};
use crate::client::{bad_format, install_tls, key_str, Progress};
use crate::config::Target;
use crate::error::{Error, Result};
use crate::npy::NpyArray;

/// A single-server or cluster async connection behind one type (both are cheap to clone).
#[derive(Clone)]
pub(crate) enum AsyncConn {
    Single(redis::aio::MultiplexedConnection),
    Cluster(redis::cluster_async::ClusterConnection),
}

impl ConnectionLike for AsyncConn {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        match self {
            AsyncConn::Single(c) => c.req_packed_command(cmd),
            AsyncConn::Cluster(c) => c.req_packed_command(cmd),
        }
    }
    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        match self {
            AsyncConn::Single(c) => c.req_packed_commands(cmd, offset, count),
            AsyncConn::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }
    fn get_db(&self) -> i64 {
        match self {
            AsyncConn::Single(c) => c.get_db(),
            AsyncConn::Cluster(c) => c.get_db(),
        }
    }
}

/// An async client. Clones share the connection.
#[derive(Clone)]
pub struct AsyncClient {
    conn: AsyncConn,
    target: Target,
    limit: Option<usize>,
}

impl AsyncClient {
    /// Connect to a URL (`redis://host:port/db`, `rediss://`, or a comma-separated cluster list).
    pub async fn connect(url: &str) -> Result<Self> {
        Self::open(Target::from_url(url)?).await
    }

    /// Connect as configured: `RESPD_URL`, else the site YAML file, else localhost.
    pub async fn from_env() -> Result<Self> {
        Self::open(Target::resolve(None)?).await
    }

    /// Connect to a resolved target.
    pub async fn open(target: Target) -> Result<Self> {
        install_tls();
        let conn = if target.is_cluster() {
            let c = redis::cluster::ClusterClientBuilder::new(target.nodes.clone())
                .connection_timeout(Duration::from_secs(5))
                // Large values take longer than the default half second.
                .response_timeout(Duration::from_secs(3600))
                .build()?;
            AsyncConn::Cluster(c.get_async_connection().await?)
        } else {
            let c = redis::Client::open(target.nodes[0].as_str())?;
            let cfg = redis::AsyncConnectionConfig::new()
                .set_connection_timeout(Some(Duration::from_secs(5)))
                .set_response_timeout(None);
            AsyncConn::Single(c.get_multiplexed_async_connection_with_config(&cfg).await?)
        };
        let limit = target.chunk_size;
        Ok(AsyncClient {
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
    pub async fn chunk_size(&mut self) -> usize {
        if let Some(l) = self.limit {
            return l;
        }
        let r: redis::RedisResult<Vec<String>> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("proto-max-bulk-len")
            .query_async(&mut self.conn)
            .await;
        let l = r
            .ok()
            .and_then(|v| v.get(1).and_then(|s| s.parse().ok()))
            .unwrap_or(chunk::DEFAULT_LIMIT);
        self.limit = Some(l);
        l
    }

    /// PING; returns `PONG`.
    pub async fn ping(&mut self) -> Result<String> {
        Ok(redis::cmd("PING").query_async(&mut self.conn).await?)
    }

    /// Store bytes at `key`, chunked when larger than the split size.
    pub async fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.put_with(key, value, &mut |_| {}).await
    }

    /// [`AsyncClient::put`] with a progress callback.
    pub async fn put_with(
        &mut self,
        key: &[u8],
        value: &[u8],
        progress: Progress<'_>,
    ) -> Result<()> {
        let limit = self.chunk_size().await;
        let old = self.peek_manifest(key).await?;
        if value.len() <= limit {
            self.set(key, value).await?;
        } else {
            let m = Manifest::new(value.len(), limit);
            let mut done = 0u64;
            for (i, part) in value.chunks(limit).enumerate() {
                self.set(&m.chunk_key(key, i as u64), part).await?;
                done += part.len() as u64;
                progress(done);
            }
            self.set(key, &m.encode()).await?;
        }
        progress(value.len() as u64);
        if let Some(old) = old {
            let ms = self.target.grace.as_millis().max(1) as u64;
            for i in 0..old.chunks {
                redis::cmd("PEXPIRE")
                    .arg(old.chunk_key(key, i))
                    .arg(ms)
                    .exec_async(&mut self.conn)
                    .await?;
            }
        }
        Ok(())
    }

    async fn set(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        redis::cmd("SET")
            .arg(key)
            .arg(value)
            .exec_async(&mut self.conn)
            .await
            .map_err(|e| Error::from(e).at_key(key))
    }

    async fn peek_manifest(&mut self, key: &[u8]) -> Result<Option<Manifest>> {
        let r: redis::RedisResult<Vec<u8>> = redis::cmd("GETRANGE")
            .arg(key)
            .arg(0)
            .arg(chunk::PEEK - 1)
            .query_async(&mut self.conn)
            .await;
        match r {
            Ok(v) => Ok(Manifest::decode(key, &v).ok().flatten()),
            Err(e) if e.code() == Some("WRONGTYPE") => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Read the bytes at `key`, reassembling a chunked value.
    pub async fn get(&mut self, key: &[u8]) -> Result<Vec<u8>> {
        self.get_with(key, &mut |_| {}).await
    }

    /// [`AsyncClient::get`] with a progress callback.
    pub async fn get_with(&mut self, key: &[u8], progress: Progress<'_>) -> Result<Vec<u8>> {
        'again: for _ in 0..4 {
            let v: Option<Vec<u8>> = redis::cmd("GET")
                .arg(key)
                .query_async(&mut self.conn)
                .await
                .map_err(|e| Error::from(e).at_key(key))?;
            let v = v.ok_or_else(|| Error::NotFound(key_str(key)))?;
            let Some(m) = Manifest::decode(key, &v)? else {
                progress(v.len() as u64);
                return Ok(v);
            };
            let size = usize::try_from(m.size).map_err(|_| Error::BadChunks {
                key: key_str(key),
                reason: "too large".into(),
            })?;
            let mut out = Vec::with_capacity(size);
            for i in 0..m.chunks {
                let c: Option<Vec<u8>> = redis::cmd("GET")
                    .arg(m.chunk_key(key, i))
                    .query_async(&mut self.conn)
                    .await?;
                let Some(c) = c else { continue 'again };
                if c.len() as u64 != m.chunk_len(i) {
                    return Err(Error::BadChunks {
                        key: key_str(key),
                        reason: format!("chunk {i} has {} bytes", c.len()),
                    });
                }
                if m.chunks == 1 {
                    return Ok(c);
                }
                out.extend_from_slice(&c);
                progress(out.len() as u64);
            }
            return Ok(out);
        }
        Err(Error::BadChunks {
            key: key_str(key),
            reason: "chunks kept disappearing (rewritten faster than read)".into(),
        })
    }

    /// Store an array as `.npy`.
    pub async fn put_array(&mut self, key: &[u8], a: &NpyArray) -> Result<()> {
        let total = a.header().len() + a.data.len();
        if total <= self.chunk_size().await && self.peek_manifest(key).await?.is_none() {
            return redis::cmd("SET")
                .arg(key)
                .arg(a)
                .exec_async(&mut self.conn)
                .await
                .map_err(|e| Error::from(e).at_key(key));
        }
        self.put(key, &a.to_npy()).await
    }

    /// Load a `.npy` array.
    pub async fn get_array(&mut self, key: &[u8]) -> Result<NpyArray> {
        let v = Bytes::from(self.get(key).await?);
        NpyArray::from_npy(v).map_err(|e| bad_format(key, "a .npy array", e))
    }

    /// Store a histogram or plot bundle.
    pub async fn put_bundle(&mut self, key: &[u8], b: &Bundle) -> Result<()> {
        self.put(key, &b.encode()).await
    }

    /// Load a histogram or plot bundle.
    pub async fn get_bundle(&mut self, key: &[u8]) -> Result<Bundle> {
        let v = Bytes::from(self.get(key).await?);
        Bundle::decode(v).map_err(|e| bad_format(key, "a histogram/plot bundle", e))
    }

    /// What `key` holds (string values only are inspected; other types report their type).
    pub async fn info(&mut self, key: &[u8]) -> Result<KeyInfo> {
        let t: String = redis::cmd("TYPE")
            .arg(key)
            .query_async(&mut self.conn)
            .await?;
        if t == "none" {
            return Err(Error::NotFound(key_str(key)));
        }
        if t != "string" {
            return Ok(KeyInfo::Other {
                redis_type: t,
                size: 0,
            });
        }
        let prefix: Vec<u8> = redis::cmd("GETRANGE")
            .arg(key)
            .arg(0)
            .arg(chunk::PEEK - 1)
            .query_async(&mut self.conn)
            .await?;
        if let Some(m) = Manifest::decode(key, &prefix)? {
            let first: Vec<u8> = redis::cmd("GETRANGE")
                .arg(m.chunk_key(key, 0))
                .arg(0)
                .arg(chunk::PEEK - 1)
                .query_async(&mut self.conn)
                .await?;
            return Ok(chunk::classify(&first, m.size, Some(m.chunks)));
        }
        let len: u64 = redis::cmd("STRLEN")
            .arg(key)
            .query_async(&mut self.conn)
            .await?;
        Ok(chunk::classify(&prefix, len, None))
    }

    /// Delete `key` and the chunks of a chunked value; true if it existed.
    pub async fn delete(&mut self, key: &[u8]) -> Result<bool> {
        if let Some(m) = self.peek_manifest(key).await? {
            for i in 0..m.chunks {
                redis::cmd("DEL")
                    .arg(m.chunk_key(key, i))
                    .exec_async(&mut self.conn)
                    .await?;
            }
        }
        let n: u64 = redis::cmd("DEL")
            .arg(key)
            .query_async(&mut self.conn)
            .await?;
        Ok(n > 0)
    }

    /// Every key starting with `prefix` (chunk keys hidden), found with SCAN.
    pub async fn list(&mut self, prefix: &[u8]) -> Result<Vec<Vec<u8>>> {
        if matches!(self.conn, AsyncConn::Cluster(_)) {
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
                .query_async(&mut self.conn)
                .await?;
            out.extend(keys.into_iter().filter(|k| !chunk::is_chunk_key(k)));
            if next == 0 {
                break;
            }
            cursor = next;
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Publish bytes; returns how many subscribers received them.
    pub async fn publish(&mut self, channel: &[u8], payload: &[u8]) -> Result<u64> {
        Ok(redis::cmd("PUBLISH")
            .arg(channel)
            .arg(payload)
            .query_async(&mut self.conn)
            .await?)
    }

    /// Publish an array as `.npy` bytes.
    pub async fn publish_array(&mut self, channel: &[u8], a: &NpyArray) -> Result<u64> {
        Ok(redis::cmd("PUBLISH")
            .arg(channel)
            .arg(a)
            .query_async(&mut self.conn)
            .await?)
    }
}
