//! LCS: the longest common subsequence of two strings, as Redis 7.0 computes it (the same
//! dynamic-programming table and walk back, so ties resolve alike), with its bound on cost: a
//! table larger than `proto-max-bulk-len` bytes is refused.

use super::{eq, int, syntax, CommandSpec, Ctx, Flags};
use crate::command;
use crate::keyspace::Value;
use crate::resp::Reply;
use bytes::Bytes;

/// The LCS command (a string command).
pub static COMMANDS: &[CommandSpec] = &[command!(
    "lcs",
    -3,
    Flags::READONLY,
    (1, 2, 1),
    "string",
    "7.0.0",
    &["string"],
    lcs,
    "Find longest common substring"
)];

fn lcs(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let keys = [&a[1], &a[2]];
    let strs = ctx.with_keys(&keys, |v| {
        let mut out = Vec::with_capacity(2);
        for k in keys {
            match v.get(k).map(|e| &e.value) {
                None => out.push(Bytes::new()),
                Some(Value::Str(s)) => out.push(s.clone()),
                Some(_) => return None,
            }
        }
        Some(out)
    });
    let Some(strs) = strs else {
        return Reply::error("ERR The specified keys must contain string values");
    };
    let (mut getidx, mut getlen, mut withmatchlen, mut minmatchlen) = (false, false, false, 0u64);
    let mut j = 3;
    while j < a.len() {
        let o = &a[j];
        if eq(o, "idx") {
            getidx = true;
        } else if eq(o, "len") {
            getlen = true;
        } else if eq(o, "withmatchlen") {
            withmatchlen = true;
        } else if eq(o, "minmatchlen") && j + 1 < a.len() {
            match int(&a[j + 1]) {
                Ok(n) => minmatchlen = n.max(0) as u64,
                Err(e) => return e,
            }
            j += 1;
        } else {
            return syntax();
        }
        j += 1;
    }
    if getlen && getidx {
        return Reply::error("ERR If you want both the length and indexes, please just use IDX.");
    }
    let (sa, sb) = (&strs[0][..], &strs[1][..]);
    if sa.len() >= u32::MAX as usize - 1 || sb.len() >= u32::MAX as usize - 1 {
        return Reply::error("ERR String too long for LCS");
    }
    let (alen, blen) = (sa.len(), sb.len());
    let cells = (alen as u64 + 1) * (blen as u64 + 1);
    if cells * 4 > ctx.srv.limits().max_bulk {
        return Reply::error(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        );
    }
    let mut t: Vec<u32> = Vec::new();
    if t.try_reserve_exact(cells as usize).is_err() {
        return Reply::error("ERR Insufficient memory, failed allocating transient memory for LCS");
    }
    t.resize(cells as usize, 0);
    let w = blen + 1;
    for i in 1..=alen {
        for j in 1..=blen {
            t[i * w + j] = if sa[i - 1] == sb[j - 1] {
                t[(i - 1) * w + j - 1] + 1
            } else {
                t[(i - 1) * w + j].max(t[i * w + j - 1])
            };
        }
    }
    let total = t[alen * w + blen];
    let compute = getidx || !getlen;
    let mut result = vec![0u8; if compute { total as usize } else { 0 }];
    let mut matches = Vec::new();
    // `unset` (alen) marks no range being built, as in Redis.
    let unset = alen;
    let (mut as_, mut ae, mut bs, mut be) = (unset, 0usize, 0usize, 0usize);
    let (mut i, mut j, mut idx) = (alen, blen, total as usize);
    while compute && i > 0 && j > 0 {
        let mut emit = false;
        if sa[i - 1] == sb[j - 1] {
            result[idx - 1] = sa[i - 1];
            if as_ == unset {
                (as_, ae, bs, be) = (i - 1, i - 1, j - 1, j - 1);
            } else if as_ == i && bs == j {
                as_ -= 1;
                bs -= 1;
            } else {
                emit = true;
            }
            if as_ == 0 || bs == 0 {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if t[(i - 1) * w + j] > t[i * w + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
            if as_ != unset {
                emit = true;
            }
        }
        // Redis computes the length in 32 bits, even of the unset marker.
        let match_len = (ae as u32).wrapping_sub(as_ as u32).wrapping_add(1);
        if emit {
            if getidx && (minmatchlen == 0 || match_len as u64 >= minmatchlen) {
                let mut m = vec![
                    Reply::Array(vec![Reply::Int(as_ as i64), Reply::Int(ae as i64)]),
                    Reply::Array(vec![Reply::Int(bs as i64), Reply::Int(be as i64)]),
                ];
                if withmatchlen {
                    m.push(Reply::Int(match_len as i64));
                }
                matches.push(Reply::Array(m));
            }
            as_ = unset;
        }
    }
    if getidx {
        Reply::Map(vec![
            (
                Reply::bulk(Bytes::from_static(b"matches")),
                Reply::Array(matches),
            ),
            (
                Reply::bulk(Bytes::from_static(b"len")),
                Reply::Int(total as i64),
            ),
        ])
    } else if getlen {
        Reply::Int(total as i64)
    } else {
        Reply::bulk(Bytes::from(result))
    }
}
