//! Reads from the server: SCAN pages with each key's type, size, TTL and (for `.npy` values)
//! dtype and shape; arrays for the image and plot views (only the bytes a view needs where the
//! value allows: one slice of a 3-D array by GETRANGE); strings and the Redis types a page at a
//! time. Read commands only.
//!
//! One multiplexed connection is shared by every request; when it breaks (the server went away)
//! it is dropped and the next request connects again, so the page recovers on its own.

use bytes::Bytes;
use respd_client::chunk::{self, KeyInfo, Manifest};
use respd_client::npy::HeaderInfo;
use respd_client::{AsyncClient, Bundle, NpyArray, Order, Target};
use serde::Serialize;
use tokio::sync::Mutex;

/// Why a read failed, as the page shows it.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// The key does not exist.
    #[error("no such key: {0}")]
    NotFound(String),
    /// The value is not what the view needs (not `.npy`, truncated, wrong dimensions).
    #[error("{0}")]
    Unreadable(String),
    /// The value is larger than `--max-bytes`.
    #[error("too large: {size} bytes, more than --max-bytes {limit}")]
    TooLarge {
        /// The value's size.
        size: u64,
        /// The configured limit.
        limit: u64,
    },
    /// The server cannot be reached.
    #[error("server unreachable: {0}")]
    Down(String),
    /// Another error from the server or the client library.
    #[error("{0}")]
    Other(String),
}

/// Result of a read.
pub type Result<T> = std::result::Result<T, ViewError>;

impl From<respd_client::Error> for ViewError {
    fn from(e: respd_client::Error) -> Self {
        use respd_client::Error as E;
        // The chain, so that the server's own words show.
        let mut text = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            text.push_str(": ");
            text.push_str(&s.to_string());
            src = s.source();
        }
        match e {
            E::NotFound(k) => ViewError::NotFound(k),
            E::Connection { .. } => ViewError::Down(text),
            E::BadArray(_) | E::BadChunks { .. } | E::WrongType { .. } => {
                ViewError::Unreadable(text)
            }
            _ => ViewError::Other(text),
        }
    }
}

impl From<crate::render::RenderError> for ViewError {
    fn from(e: crate::render::RenderError) -> Self {
        ViewError::Unreadable(e.to_string())
    }
}

/// The server and how to read it.
pub struct Store {
    /// Where to connect.
    pub target: Target,
    /// Refuse to read values larger than this many bytes.
    pub max_bytes: u64,
    conn: Mutex<Option<AsyncClient>>,
}

/// One key of a listing.
#[derive(Clone, Debug, Serialize)]
pub struct KeyRow {
    /// The key as text (invalid UTF-8 replaced).
    pub key: String,
    /// The key's bytes in hex: how the page names it in requests.
    pub id: String,
    /// Redis type (`string`, `hash`, ...).
    pub kind: String,
    /// Milliseconds to live; -1 without expiry.
    pub ttl_ms: i64,
    /// Bytes of a string (the whole value for a chunked one), elements of an aggregate.
    pub size: u64,
    /// What the value is: `float64 (4096, 4096)`, `histogram bundle`, ...
    pub detail: String,
    /// Parts of a chunked value.
    pub chunks: Option<u64>,
    /// The view the page opens: image, stack, line, histogram, plot, bundle, text, table.
    pub view: String,
    /// dtype and shape of an array.
    pub dtype: Option<String>,
    /// See `dtype`.
    pub shape: Option<Vec<usize>>,
}

/// A page of a namespace listing.
#[derive(Debug, Serialize)]
pub struct Listing {
    /// The SCAN cursor for the next page (0: done).
    pub cursor: u64,
    /// Child namespaces on this page (full prefix, ending in the separator) and how many keys
    /// of this page are below each.
    pub children: Vec<(String, u64)>,
    /// The keys directly in the namespace, on this page.
    pub keys: Vec<KeyRow>,
}

/// Hex of bytes.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Bytes of hex; None when it is not hex.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn key_text(k: &[u8]) -> String {
    String::from_utf8_lossy(k).into_owned()
}

impl Store {
    /// A store for `target`; nothing connects until the first read.
    pub fn new(target: Target, max_bytes: u64) -> Self {
        Store {
            target,
            max_bytes,
            conn: Mutex::new(None),
        }
    }

    /// The shared connection, connecting when there is none.
    pub async fn client(&self) -> Result<AsyncClient> {
        let mut g = self.conn.lock().await;
        if let Some(c) = g.as_ref() {
            return Ok(c.clone());
        }
        let c = AsyncClient::open(self.target.clone()).await?;
        *g = Some(c.clone());
        Ok(c)
    }

    /// Run `f` on the shared connection; a connection error drops it for the next call.
    pub async fn with<T, F, Fut>(&self, f: F) -> Result<T>
    where
        F: FnOnce(AsyncClient) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let c = self.client().await?;
        let r = f(c).await;
        if let Err(ViewError::Down(_)) = &r {
            *self.conn.lock().await = None;
        }
        r
    }

    /// A page of the keys under `prefix`.
    pub async fn list(&self, prefix: &[u8], cursor: u64, count: usize) -> Result<Listing> {
        self.with(|mut c| async move {
            let pattern = respd_client::namespace::glob_prefix(prefix);
            let (next, keys): (u64, Vec<Vec<u8>>) = c
                .query(
                    redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(&pattern)
                        .arg("COUNT")
                        .arg(count),
                )
                .await?;
            let mut children: std::collections::BTreeMap<String, u64> = Default::default();
            let mut leaves = Vec::new();
            for k in keys {
                if chunk::is_chunk_key(&k) {
                    continue;
                }
                let rest = &k[prefix.len().min(k.len())..];
                match rest.iter().position(|&b| b == b':') {
                    Some(i) => {
                        *children
                            .entry(key_text(&k[..prefix.len() + i + 1]))
                            .or_default() += 1
                    }
                    None => leaves.push(k),
                }
            }
            leaves.sort();
            let rows = describe_keys(&mut c, &leaves).await?;
            Ok(Listing {
                cursor: next,
                children: children.into_iter().collect(),
                keys: rows,
            })
        })
        .await
    }

    /// One key's row (`NotFound` when it does not exist).
    pub async fn key(&self, key: &[u8]) -> Result<KeyRow> {
        self.with(|mut c| async move {
            describe_keys(&mut c, &[key.to_vec()])
                .await?
                .pop()
                .ok_or_else(|| ViewError::NotFound(key_text(key)))
        })
        .await
    }

    /// The array at `key`, or only plane `slice` of a C-order 3-D array (fetched alone).
    pub async fn array(&self, key: &[u8], slice: Option<usize>) -> Result<NpyArray> {
        let limit = self.max_bytes;
        self.with(|mut c| async move {
            let head: Vec<u8> = c
                .query(redis::cmd("GETRANGE").arg(key).arg(0).arg(chunk::PEEK - 1))
                .await
                .map_err(|e| wrong_type(e, key))?;
            let len: u64 = c.query(redis::cmd("STRLEN").arg(key)).await?;
            if head.is_empty() {
                return Err(ViewError::NotFound(key_text(key)));
            }
            let size = match Manifest::decode(key, &head)? {
                Some(m) => m.size,
                None => len,
            };
            if Manifest::decode(key, &head)?.is_none() {
                let h =
                    HeaderInfo::parse(&head).map_err(|e| ViewError::Unreadable(e.to_string()))?;
                let want = (h.data_offset + h.data_len) as u64;
                if want > len {
                    return Err(ViewError::Unreadable(format!(
                        "truncated .npy: the header ({}) needs {want} bytes, the value has {len}",
                        h.describe()
                    )));
                }
                if let (Some(i), [n, r, cl], Order::C) = (slice, &h.shape[..], h.order) {
                    if i >= *n {
                        return Err(ViewError::Unreadable(format!(
                            "slice {i} of {n} does not exist"
                        )));
                    }
                    let plane = (r * cl * h.dtype.size()) as u64;
                    if plane > limit {
                        return Err(ViewError::TooLarge { size: plane, limit });
                    }
                    let start = h.data_offset as u64 + i as u64 * plane;
                    let bytes: Vec<u8> = if plane == 0 {
                        Vec::new()
                    } else {
                        c.query(
                            redis::cmd("GETRANGE")
                                .arg(key)
                                .arg(start)
                                .arg(start + plane - 1),
                        )
                        .await?
                    };
                    return Ok(NpyArray::from_raw(
                        h.dtype,
                        h.endian,
                        Order::C,
                        vec![*r, *cl],
                        Bytes::from(bytes),
                    )?);
                }
            }
            if size > limit {
                return Err(ViewError::TooLarge { size, limit });
            }
            Ok(c.get_array(key).await?)
        })
        .await
    }

    /// The histogram or plot bundle at `key`.
    pub async fn bundle(&self, key: &[u8]) -> Result<Bundle> {
        let limit = self.max_bytes;
        self.with(|mut c| async move {
            let len: u64 = c
                .query(redis::cmd("STRLEN").arg(key))
                .await
                .map_err(|e| wrong_type(e, key))?;
            if len > limit {
                return Err(ViewError::TooLarge { size: len, limit });
            }
            Ok(c.get_bundle(key).await?)
        })
        .await
    }

    /// Up to `len` bytes of the string at `key` from `offset`, and its whole length.
    pub async fn string(&self, key: &[u8], offset: u64, len: u64) -> Result<(Vec<u8>, u64)> {
        self.with(|mut c| async move {
            let total: u64 = c
                .query(redis::cmd("STRLEN").arg(key))
                .await
                .map_err(|e| wrong_type(e, key))?;
            if len == 0 || offset >= total {
                return Ok((Vec::new(), total));
            }
            let b: Vec<u8> = c
                .query(
                    redis::cmd("GETRANGE")
                        .arg(key)
                        .arg(offset)
                        .arg(offset + len - 1),
                )
                .await?;
            Ok((b, total))
        })
        .await
    }

    /// A page of a hash, list, set, sorted set or stream: column names, rows, next cursor.
    pub async fn items(&self, key: &[u8], cursor: &str, count: usize) -> Result<Items> {
        self.with(|mut c| async move { crate::items::page(&mut c, key, cursor, count).await })
            .await
    }
}

/// A page of an aggregate's elements.
#[derive(Debug, Serialize)]
pub struct Items {
    /// Column headings.
    pub columns: Vec<&'static str>,
    /// Cells as text.
    pub rows: Vec<Vec<String>>,
    /// Where the next page starts (None: this was the last).
    pub next: Option<String>,
}

/// A WRONGTYPE reply said as the page needs it.
fn wrong_type(e: respd_client::Error, key: &[u8]) -> ViewError {
    match e {
        respd_client::Error::WrongType { .. } => ViewError::Unreadable(format!(
            "{} is not a string (no array or text view)",
            key_text(key)
        )),
        e => e.into(),
    }
}

/// Type, TTL, size and content description of each key (two or three round trips in all).
async fn describe_keys(c: &mut AsyncClient, keys: &[Vec<u8>]) -> Result<Vec<KeyRow>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut p = redis::pipe();
    for k in keys {
        p.cmd("TYPE").arg(k).cmd("PTTL").arg(k);
    }
    let tt: Vec<redis::Value> = c.query_pipe(&p).await?;
    let mut p = redis::pipe();
    let mut kinds = Vec::with_capacity(keys.len());
    for (i, k) in keys.iter().enumerate() {
        let kind: String = redis::from_redis_value(tt[2 * i].clone()).unwrap_or_default();
        let ttl: i64 = redis::from_redis_value(tt[2 * i + 1].clone()).unwrap_or(-2);
        match kind.as_str() {
            "string" => p
                .cmd("STRLEN")
                .arg(k)
                .cmd("GETRANGE")
                .arg(k)
                .arg(0)
                .arg(chunk::PEEK - 1),
            "hash" => p.cmd("HLEN").arg(k).cmd("PING"),
            "list" => p.cmd("LLEN").arg(k).cmd("PING"),
            "set" => p.cmd("SCARD").arg(k).cmd("PING"),
            "zset" => p.cmd("ZCARD").arg(k).cmd("PING"),
            "stream" => p.cmd("XLEN").arg(k).cmd("PING"),
            _ => p.cmd("PING").cmd("PING"),
        };
        kinds.push((kind, ttl));
    }
    let sizes: Vec<redis::Value> = c.query_pipe(&p).await?;
    let mut rows = Vec::with_capacity(keys.len());
    for (i, k) in keys.iter().enumerate() {
        let (kind, ttl) = &kinds[i];
        if kind == "none" || kind.is_empty() {
            continue; // Deleted between SCAN and TYPE.
        }
        let size: u64 = redis::from_redis_value(sizes[2 * i].clone()).unwrap_or(0);
        let mut row = KeyRow {
            key: key_text(k),
            id: hex(k),
            kind: kind.clone(),
            ttl_ms: *ttl,
            size,
            detail: String::new(),
            chunks: None,
            view: "table".into(),
            dtype: None,
            shape: None,
        };
        if kind == "string" {
            let head: Vec<u8> =
                redis::from_redis_value(sizes[2 * i + 1].clone()).unwrap_or_default();
            describe_string(c, k, head, &mut row).await?;
        } else {
            row.detail = format!("{kind} ({size} elements)");
        }
        rows.push(row);
    }
    Ok(rows)
}

/// Fill in what a string holds (through the client's classification of the first bytes).
async fn describe_string(
    c: &mut AsyncClient,
    k: &[u8],
    head: Vec<u8>,
    row: &mut KeyRow,
) -> Result<()> {
    let (head, size, chunks) = match Manifest::decode(k, &head) {
        Ok(Some(m)) => {
            // The first chunk tells what the value is.
            let first: Vec<u8> = c
                .query(
                    redis::cmd("GETRANGE")
                        .arg(m.chunk_key(k, 0))
                        .arg(0)
                        .arg(chunk::PEEK - 1),
                )
                .await?;
            (first, m.size, Some(m.chunks))
        }
        Ok(None) => (head, row.size, None),
        Err(e) => {
            row.detail = e.to_string();
            row.view = "text".into();
            return Ok(());
        }
    };
    row.size = size;
    row.chunks = chunks;
    let info = chunk::classify(&head, size, chunks);
    row.detail = info.to_string();
    row.view = match &info {
        KeyInfo::Array { .. } => match HeaderInfo::parse(&head) {
            Ok(h) => {
                row.dtype = Some(h.dtype.name().into());
                let v = match h.shape.len() {
                    1 => "line",
                    2 => "image",
                    3 => "stack",
                    _ => "array",
                };
                row.shape = Some(h.shape);
                v.into()
            }
            Err(_) => "text".into(),
        },
        KeyInfo::Bundle { kind, .. } if kind == "histogram" => "histogram".into(),
        KeyInfo::Bundle { kind, .. } if kind == "plot" => "plot".into(),
        KeyInfo::Bundle { .. } => "bundle".into(),
        // A .npy header whose data is not all there: the array view says why it cannot draw it.
        _ => match HeaderInfo::parse(&head) {
            Ok(h) => {
                row.detail = format!(
                    "unreadable .npy {}: the header needs {} bytes, the value has {size}",
                    h.describe(),
                    h.data_offset + h.data_len
                );
                if h.shape.len() == 1 { "line" } else { "image" }.into()
            }
            Err(_) => "text".into(),
        },
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let k = b"exp:\x00\xffrun".to_vec();
        assert_eq!(unhex(&hex(&k)), Some(k));
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
    }
}
