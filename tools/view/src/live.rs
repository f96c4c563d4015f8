//! Following a key and watching a channel, as server-sent events to the page.
//!
//! A key is followed through keyspace notifications (`__keyspace@<db>__:<key>`) when the
//! server's `notify-keyspace-events` has `K` and a class that covers the key (`A`, or the type's
//! own letter), else by polling a fingerprint twice a second: type, length and content (the whole
//! value up to 1 MiB, a sample of it beyond). Events: `mode` (`notify` or `poll`), `change`,
//! `down` (the server went away; data: why) and `up` (it is back; the page redraws).

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use axum::response::sse::Event;
use futures_util::StreamExt;
use tokio::sync::mpsc;

use crate::store::{Result, Store};

/// Whole values up to this size go into the polling fingerprint; larger ones by samples.
const WHOLE: u64 = 1 << 20;
/// Poll period.
const POLL: Duration = Duration::from_millis(500);
/// Wait before reconnecting after the server went away.
const RETRY: Duration = Duration::from_secs(1);

/// The database number of a `redis://host:port/N` URL (0 when absent).
pub fn db_of(url: &str) -> i64 {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    rest.split_once('/')
        .and_then(|(_, p)| p.split(['?', '/']).next())
        .and_then(|d| d.parse().ok())
        .unwrap_or(0)
}

/// The notification class letter of a Redis type.
fn class_of(kind: &str) -> char {
    match kind {
        "list" => 'l',
        "set" => 's',
        "hash" => 'h',
        "zset" => 'z',
        "stream" => 't',
        _ => '$',
    }
}

/// Would the server's `notify-keyspace-events` setting announce writes to a key of `kind`?
pub fn notifies(setting: &str, kind: &str) -> bool {
    setting.contains('K') && (setting.contains('A') || setting.contains(class_of(kind)))
}

async fn send(tx: &mpsc::Sender<Event>, name: &str, data: &str) -> bool {
    // A browser drops an event without data (EventSource dispatches none), so never send one.
    let data = if data.is_empty() { "-" } else { data };
    tx.send(Event::default().event(name).data(data))
        .await
        .is_ok()
}

/// Follow `key` until the page goes away (the receiver is dropped).
pub async fn watch(store: Arc<Store>, key: Vec<u8>, tx: mpsc::Sender<Event>) {
    let mut down = false;
    loop {
        if tx.is_closed() {
            return;
        }
        let setting = store
            .with(|mut c| {
                let key = key.clone();
                async move {
                    let cfg: Vec<String> = c
                        .query(
                            redis::cmd("CONFIG")
                                .arg("GET")
                                .arg("notify-keyspace-events"),
                        )
                        .await
                        .unwrap_or_default();
                    let kind: String = c.query(redis::cmd("TYPE").arg(&key)).await?;
                    Ok((cfg.get(1).cloned().unwrap_or_default(), kind))
                }
            })
            .await;
        let (setting, kind) = match setting {
            Ok(s) => s,
            Err(e) => {
                if !down && !send(&tx, "down", &e.to_string()).await {
                    return;
                }
                down = true;
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        if down {
            // Every path below returns or sets `down` again.
            if !send(&tx, "up", "").await {
                return;
            }
        }
        let r = if notifies(&setting, &kind) {
            follow_notifications(&store, &key, &tx).await
        } else {
            follow_polling(&store, &key, &tx).await
        };
        match r {
            Ok(()) => return, // The page went away.
            Err(e) => {
                if !send(&tx, "down", &e.to_string()).await {
                    return;
                }
                down = true;
                tokio::time::sleep(RETRY).await;
            }
        }
    }
}

/// Ok when the page went away, Err when the server did.
async fn follow_notifications(store: &Store, key: &[u8], tx: &mpsc::Sender<Event>) -> Result<()> {
    let mut chan = format!("__keyspace@{}__:", db_of(&store.target.nodes[0])).into_bytes();
    chan.extend_from_slice(key);
    let mut sub = respd_client::pubsub::subscribe(&store.target, &[chan.as_slice()]).await?;
    if !send(tx, "mode", "notify").await {
        return Ok(());
    }
    loop {
        tokio::select! {
            m = sub.next() => match m {
                Some(_) => {
                    if !send(tx, "change", "").await {
                        return Ok(());
                    }
                }
                None => return Err(crate::store::ViewError::Down("subscription closed".into())),
            },
            _ = tx.closed() => return Ok(()),
        }
    }
}

async fn follow_polling(store: &Store, key: &[u8], tx: &mpsc::Sender<Event>) -> Result<()> {
    if !send(tx, "mode", "poll").await {
        return Ok(());
    }
    let mut last = fingerprint(store, key).await?;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = tx.closed() => return Ok(()),
        }
        let now = fingerprint(store, key).await?;
        if now != last {
            last = now;
            if !send(tx, "change", "").await {
                return Ok(());
            }
        }
    }
}

/// A hash of what the key holds, cheap enough to take twice a second.
async fn fingerprint(store: &Store, key: &[u8]) -> Result<u64> {
    store
        .with(|mut c| async move {
            let mut h = DefaultHasher::new();
            let kind: String = c.query(redis::cmd("TYPE").arg(key)).await?;
            kind.hash(&mut h);
            let ttl_set: i64 = c.query(redis::cmd("PTTL").arg(key)).await?;
            (ttl_set >= 0).hash(&mut h);
            match kind.as_str() {
                "string" => {
                    let len: u64 = c.query(redis::cmd("STRLEN").arg(key)).await?;
                    len.hash(&mut h);
                    // A chunked value's manifest (at the start) changes with every write.
                    let spans: Vec<(u64, u64)> = if len <= WHOLE {
                        vec![(0, len)]
                    } else {
                        (0..16)
                            .map(|i| (len / 16 * i, 4096))
                            .chain([(len - 4096, 4096)])
                            .collect()
                    };
                    let mut p = redis::pipe();
                    for (at, n) in &spans {
                        p.cmd("GETRANGE").arg(key).arg(*at).arg(at + n.max(&1) - 1);
                    }
                    let parts: Vec<Vec<u8>> = c.query_pipe(&p).await?;
                    parts.hash(&mut h);
                }
                "none" => {}
                other => {
                    let (size, ends) = match other {
                        "hash" => ("HLEN", None),
                        "set" => ("SCARD", None),
                        "list" => (
                            "LLEN",
                            Some(redis::cmd("LRANGE").arg(key).arg(-1).arg(-1).clone()),
                        ),
                        "zset" => (
                            "ZCARD",
                            Some(
                                redis::cmd("ZRANGE")
                                    .arg(key)
                                    .arg(-1)
                                    .arg(-1)
                                    .arg("WITHSCORES")
                                    .clone(),
                            ),
                        ),
                        _ => (
                            "XLEN",
                            Some(
                                redis::cmd("XREVRANGE")
                                    .arg(key)
                                    .arg("+")
                                    .arg("-")
                                    .arg("COUNT")
                                    .arg(1)
                                    .clone(),
                            ),
                        ),
                    };
                    let n: u64 = c.query(redis::cmd(size).arg(key)).await?;
                    n.hash(&mut h);
                    if let Some(cmd) = ends {
                        let v: redis::Value = c.query(&cmd).await?;
                        format!("{v:?}").hash(&mut h);
                    }
                }
            }
            Ok(h.finish())
        })
        .await
}

/// Forward the messages of `channel` until the page goes away; reconnects when the server
/// returns.
pub async fn channel(store: Arc<Store>, channel: Vec<u8>, tx: mpsc::Sender<Event>) {
    loop {
        match respd_client::pubsub::subscribe(&store.target, &[channel.as_slice()]).await {
            Ok(mut sub) => {
                if !send(&tx, "up", "").await {
                    return;
                }
                loop {
                    tokio::select! {
                        m = sub.next() => match m {
                            Some(m) => {
                                let json = serde_json::json!({
                                    "channel": String::from_utf8_lossy(&m.channel),
                                    "size": m.payload.len(),
                                    "text": describe_payload(&m.payload),
                                });
                                if !send(&tx, "message", &json.to_string()).await {
                                    return;
                                }
                            }
                            None => break,
                        },
                        _ = tx.closed() => return,
                    }
                }
                if !send(&tx, "down", "subscription closed").await {
                    return;
                }
            }
            Err(e) => {
                if !send(&tx, "down", &crate::store::ViewError::from(e).to_string()).await {
                    return;
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(RETRY) => {}
            _ = tx.closed() => return,
        }
    }
}

/// A message as one line: an array's dtype and shape, text, or the first bytes in hex.
pub fn describe_payload(p: &[u8]) -> String {
    if let Ok(a) = respd_client::NpyArray::from_npy(bytes::Bytes::copy_from_slice(p)) {
        return format!("array {}", a.describe());
    }
    match std::str::from_utf8(p) {
        Ok(s) if s.len() <= 2000 => s.to_string(),
        Ok(s) => format!(
            "{}… ({} bytes)",
            &s[..s.floor_char_boundary_compat(2000)],
            s.len()
        ),
        Err(_) => {
            let head = crate::store::hex(&p[..p.len().min(64)]);
            format!(
                "0x{head}{} ({} bytes)",
                if p.len() > 64 { "…" } else { "" },
                p.len()
            )
        }
    }
}

trait FloorBoundary {
    fn floor_char_boundary_compat(&self, i: usize) -> usize;
}

impl FloorBoundary for str {
    fn floor_char_boundary_compat(&self, mut i: usize) -> usize {
        while !self.is_char_boundary(i) {
            i -= 1;
        }
        i
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_and_classes() {
        assert_eq!(db_of("redis://127.0.0.1:6379"), 0);
        assert_eq!(db_of("redis://:pw@127.0.0.1:6379/3"), 3);
        assert_eq!(db_of("rediss://h:1/12?protocol=resp3"), 12);
        assert!(notifies("KA", "string"));
        assert!(notifies("K$g", "string"));
        assert!(!notifies("K$", "hash"));
        assert!(!notifies("EA", "string"));
        assert!(!notifies("", "string"));
    }

    #[test]
    fn payloads() {
        let a = respd_client::NpyArray::from_vec(vec![2], &[1u8, 2]).unwrap();
        assert_eq!(describe_payload(&a.to_npy()), "array uint8 (2,)");
        assert_eq!(describe_payload(b"hi"), "hi");
        assert_eq!(describe_payload(b"\xff\x00"), "0xff00 (2 bytes)");
    }
}
