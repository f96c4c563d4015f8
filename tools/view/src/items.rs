//! The elements of hashes, lists, sets, sorted sets and streams, a page at a time, as text
//! cells: SCAN-style cursors for hashes and sets, index ranges for lists and sorted sets, entry
//! IDs for streams. Cursors are opaque strings to the page.

use respd_client::AsyncClient;

use crate::store::{Items, Result, ViewError};

fn text(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_string(),
        // Binary members shown as hex so that nothing is lost to replacement characters.
        Err(_) => format!("0x{}", crate::store::hex(b)),
    }
}

fn pairs(flat: Vec<Vec<u8>>) -> Vec<Vec<String>> {
    flat.chunks(2)
        .map(|p| p.iter().map(|b| text(b)).collect())
        .collect()
}

/// One page of the aggregate at `key`, starting at `cursor` (empty: the beginning).
pub async fn page(c: &mut AsyncClient, key: &[u8], cursor: &str, count: usize) -> Result<Items> {
    let kind: String = c.query(redis::cmd("TYPE").arg(key)).await?;
    let count = count.clamp(1, 1000);
    let bad_cursor = || ViewError::Unreadable(format!("bad cursor {cursor:?}"));
    let num = |s: &str| -> Result<u64> {
        if s.is_empty() {
            Ok(0)
        } else {
            s.parse().map_err(|_| bad_cursor())
        }
    };
    let items = match kind.as_str() {
        "hash" | "set" => {
            let cmd = if kind == "hash" { "HSCAN" } else { "SSCAN" };
            let (next, flat): (u64, Vec<Vec<u8>>) = c
                .query(
                    redis::cmd(cmd)
                        .arg(key)
                        .arg(num(cursor)?)
                        .arg("COUNT")
                        .arg(count),
                )
                .await?;
            let (columns, rows) = if kind == "hash" {
                (vec!["field", "value"], pairs(flat))
            } else {
                (vec!["member"], flat.iter().map(|m| vec![text(m)]).collect())
            };
            Items {
                columns,
                rows,
                next: (next != 0).then(|| next.to_string()),
            }
        }
        "list" | "zset" => {
            let start = num(cursor)?;
            let stop = start + count as u64 - 1;
            let (columns, rows, total): (_, Vec<Vec<String>>, u64) = if kind == "list" {
                let v: Vec<Vec<u8>> = c
                    .query(redis::cmd("LRANGE").arg(key).arg(start).arg(stop))
                    .await?;
                let n: u64 = c.query(redis::cmd("LLEN").arg(key)).await?;
                let rows = v
                    .iter()
                    .enumerate()
                    .map(|(i, m)| vec![(start + i as u64).to_string(), text(m)])
                    .collect();
                (vec!["index", "element"], rows, n)
            } else {
                let v: Vec<Vec<u8>> = c
                    .query(
                        redis::cmd("ZRANGE")
                            .arg(key)
                            .arg(start)
                            .arg(stop)
                            .arg("WITHSCORES"),
                    )
                    .await?;
                let n: u64 = c.query(redis::cmd("ZCARD").arg(key)).await?;
                (vec!["member", "score"], pairs(v), n)
            };
            Items {
                columns,
                rows,
                next: (stop + 1 < total).then(|| (stop + 1).to_string()),
            }
        }
        "stream" => {
            // Exclusive start after the last ID seen (`(` is Redis 6.2+ syntax).
            let from = if cursor.is_empty() {
                "-".to_string()
            } else {
                format!("({cursor}")
            };
            let v: Vec<(String, Vec<Vec<u8>>)> = c
                .query(
                    redis::cmd("XRANGE")
                        .arg(key)
                        .arg(&from)
                        .arg("+")
                        .arg("COUNT")
                        .arg(count),
                )
                .await?;
            let next = (v.len() == count)
                .then(|| v.last().map(|e| e.0.clone()))
                .flatten();
            let rows = v
                .into_iter()
                .map(|(id, fields)| {
                    let f = pairs(fields)
                        .into_iter()
                        .map(|p| p.join("="))
                        .collect::<Vec<_>>()
                        .join("  ");
                    vec![id, f]
                })
                .collect();
            Items {
                columns: vec!["id", "fields"],
                rows,
                next,
            }
        }
        "none" => {
            return Err(ViewError::NotFound(
                String::from_utf8_lossy(key).into_owned(),
            ))
        }
        other => {
            return Err(ViewError::Unreadable(format!(
                "a {other} has no table view (see the text view)"
            )))
        }
    };
    Ok(items)
}
