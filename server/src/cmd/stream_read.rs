//! XREAD and XREADGROUP, with BLOCK.

use super::stream_groups::{setid_effect, xclaim_effect};
use super::streams::{entry_reply, parse_strict_id, range_reply, stream_mut, stream_ref};
use super::{eq, int, syntax, Ctx};
use crate::keyspace::stream::{Pending, StreamId};
use crate::resp::Reply;
use crate::state::{BlockOn, NotifyClass};
use bytes::Bytes;
use std::time::Instant;

pub fn xread(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    read(ctx, a, false)
}

pub fn xreadgroup(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    read(ctx, a, true)
}

/// What one call found.
enum Outcome {
    /// Per stream served: key and its entries.
    Served(Vec<(Bytes, Reply)>),
    /// Nothing to serve; the IDs as resolved (`$` replaced), for a blocked re-run.
    Empty(Vec<StreamId>),
}

/// The parsed options of XREAD/XREADGROUP.
struct Opts {
    /// BLOCK's deadline (None inside: forever).
    block: Option<Option<Instant>>,
    count: usize,
    streams_arg: usize,
    nstreams: usize,
    noack: bool,
    group: Option<(Bytes, Bytes)>,
}

fn parse_opts(a: &[Bytes], grouped: bool) -> Result<Opts, Reply> {
    let mut o = Opts {
        block: None,
        count: 0,
        streams_arg: 0,
        nstreams: 0,
        noack: false,
        group: None,
    };
    let mut i = 1;
    while i < a.len() {
        let more = a.len() - i - 1;
        let opt = &a[i];
        if eq(opt, "block") && more > 0 {
            i += 1;
            o.block = Some(super::parse_timeout_ms(&a[i])?);
        } else if eq(opt, "count") && more > 0 {
            i += 1;
            o.count = int(&a[i])?.max(0) as usize;
        } else if eq(opt, "streams") && more > 0 {
            o.streams_arg = i + 1;
            let n = a.len() - o.streams_arg;
            if n % 2 != 0 {
                let (name, sym) = if grouped {
                    ("XREADGROUP", '>')
                } else {
                    ("XREAD", '$')
                };
                return Err(Reply::error(format!("ERR Unbalanced {name} list of streams: for each stream key an ID or '{sym}' must be specified.")));
            }
            o.nstreams = n / 2;
            break;
        } else if eq(opt, "group") && more >= 2 {
            if !grouped {
                return Err(Reply::error(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            o.group = Some((a[i + 1].clone(), a[i + 2].clone()));
            i += 2;
        } else if eq(opt, "noack") {
            if !grouped {
                return Err(Reply::error(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            o.noack = true;
        } else {
            return Err(syntax());
        }
        i += 1;
    }
    if o.streams_arg == 0 {
        return Err(syntax());
    }
    if grouped && o.group.is_none() {
        return Err(Reply::error("ERR Missing GROUP option for XREADGROUP"));
    }
    Ok(o)
}

fn read(ctx: &mut Ctx, a: &[Bytes], grouped: bool) -> Reply {
    let o = match parse_opts(a, grouped) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let keys = &a[o.streams_arg..o.streams_arg + o.nstreams];
    let id_args = &a[o.streams_arg + o.nstreams..];
    let mut created: Vec<Bytes> = Vec::new();
    // Woken from BLOCK, Redis 7.0 serves only the stream that became ready.
    let only = ctx.conn.rerun.clone().filter(|k| keys.contains(k));
    let rerun = ctx.conn.rerun.is_some();
    let r = ctx.with_keys(keys, |v| {
        let now = v.now();
        // Resolve the IDs, checking types and groups in Redis's order.
        let mut ids = Vec::with_capacity(keys.len());
        for (key, arg) in keys.iter().zip(id_args) {
            // A blocked client's re-run looks at the stream that was signalled only, as
            // Redis's serving of a ready key does: XREAD keeps waiting whatever the key now
            // holds; XREADGROUP's stream or group gone ends the wait with Redis's errors.
            if rerun && only.as_ref() != Some(key) {
                ids.push(StreamId::MAX);
                continue;
            }
            let s = match stream_ref(v, key) {
                Err(_) if rerun && o.group.is_none() => None,
                Err(_) | Ok(None) if rerun && o.group.is_some() => {
                    return Err(Reply::error("UNBLOCKED the stream key no longer exists"));
                }
                r => r?,
            };
            if let Some((gname, _)) = &o.group {
                if rerun && !s.is_some_and(|s| s.groups.contains_key(gname)) {
                    return Err(Reply::error(
                        "NOGROUP the consumer group this client was blocked on no longer exists",
                    ));
                }
                if !s.is_some_and(|s| s.groups.contains_key(gname)) {
                    return Err(Reply::error(format!(
                            "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
                            super::text(key),
                            super::text(gname)
                        )));
                }
            }
            let id = if arg.as_ref() == b"$" {
                if grouped {
                    return Err(Reply::error("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set."));
                }
                s.map_or(StreamId::MIN, |s| s.last_id)
            } else if arg.as_ref() == b">" {
                if !grouped {
                    return Err(Reply::error("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option."));
                }
                StreamId::MAX
            } else {
                parse_strict_id(arg, 0)?
            };
            ids.push(id);
        }
        let mut served = Vec::new();
        // What the AOF gets instead of XREADGROUP, as Redis 7.0 propagates it: an XCLAIM per
        // entry delivered (so the PEL is rebuilt exactly), XGROUP SETID after a NOACK read,
        // XGROUP CREATECONSUMER for a consumer a NOACK read made.
        let mut props: Vec<Vec<Bytes>> = Vec::new();
        for (key, &gt) in keys.iter().zip(&ids) {
            if only.as_ref().is_some_and(|k| k != key) {
                continue;
            }
            let entries = match &o.group {
                None => {
                    let s = match stream_ref(v, key) {
                        Ok(Some(s)) => s,
                        Ok(None) => continue,
                        Err(_) if rerun => continue,
                        Err(e) => return Err(e),
                    };
                    if s.is_empty() || s.last_valid_id() <= gt {
                        continue;
                    }
                    match gt.incr() {
                        Some(start) => range_reply(s, start, StreamId::MAX, o.count, false),
                        None => continue,
                    }
                }
                Some((gname, cname)) => {
                    let Some(s) = stream_mut(v, key)? else {
                        continue;
                    };
                    let Some(g) = s.groups.get_mut(gname) else {
                        continue;
                    };
                    // Redis creates the consumer only when it serves it (not when blocking).
                    let serve = gt != StreamId::MAX
                        || (!s.entries.is_empty()
                            && s.entries.keys().next_back().is_some_and(|l| *l > g.last_id));
                    if !serve {
                        continue;
                    }
                    let (c, new) = g.consumer(cname, now);
                    c.seen_time = now;
                    if new {
                        created.push(key.clone());
                        if o.noack {
                            props.push(vec![
                                Bytes::from_static(b"XGROUP"),
                                Bytes::from_static(b"CREATECONSUMER"),
                                key.clone(),
                                gname.clone(),
                                cname.clone(),
                            ]);
                        }
                    }
                    if gt != StreamId::MAX {
                        // History: this consumer's pending entries after `gt`.
                        let Some(start) = gt.incr() else {
                            served.push((key.clone(), Reply::Array(Vec::new())));
                            continue;
                        };
                        let limit = if o.count == 0 { usize::MAX } else { o.count };
                        let pend: Vec<StreamId> =
                            c.pel.range(start..).take(limit).copied().collect();
                        let mut out = Vec::with_capacity(pend.len());
                        for id in pend {
                            match s.entries.get(&id) {
                                Some(f) => {
                                    out.push(entry_reply(id, f));
                                    if let Some(p) = g.pel.get_mut(&id) {
                                        p.delivery_time = now;
                                        p.delivery_count += 1;
                                    }
                                }
                                None => {
                                    out.push(Reply::Array(vec![
                                        super::streams::id_reply(id),
                                        Reply::NilArray,
                                    ]))
                                }
                            }
                        }
                        served.push((key.clone(), Reply::Array(out)));
                        continue;
                    }
                    let last = g.last_id;
                    if s.is_empty() || s.last_valid_id() <= last {
                        continue;
                    }
                    let Some(start) = last.incr() else {
                        continue;
                    };
                    let limit = if o.count == 0 { usize::MAX } else { o.count };
                    let new_ids: Vec<StreamId> = s
                        .entries
                        .range(start..)
                        .take(limit)
                        .map(|(id, _)| *id)
                        .collect();
                    // The group's read counter, advanced as Redis does entry by entry.
                    let mut read = s.groups.get(gname).and_then(|g| g.entries_read);
                    for &id in &new_ids {
                        read = match read {
                            Some(r) if !s.range_has_tombstones(id, StreamId::MAX) => Some(r + 1),
                            _ if s.entries_added > 0 => s.estimate_distance(id),
                            r => r,
                        };
                    }
                    let out: Vec<Reply> = new_ids
                        .iter()
                        .filter_map(|id| s.entries.get(id).map(|f| entry_reply(*id, f)))
                        .collect();
                    let Some(g) = s.groups.get_mut(gname) else {
                        continue;
                    };
                    if let Some(&l) = new_ids.last() {
                        g.last_id = l;
                        g.entries_read = read;
                        if o.noack {
                            props.push(setid_effect(key, gname, g));
                        }
                    }
                    if !o.noack {
                        for &id in &new_ids {
                            let p = Pending {
                                consumer: cname.clone(),
                                delivery_time: now,
                                delivery_count: 1,
                            };
                            // An entry pending for another consumer (after SETID) moves here.
                            if let Some(old) = g.pel.insert(id, p) {
                                if let Some(c) = g.consumers.get_mut(&old.consumer) {
                                    c.pel.remove(&id);
                                }
                            }
                            if let Some(c) = g.consumers.get_mut(cname) {
                                c.pel.insert(id);
                            }
                            // LASTID: the group's last ID when Redis propagates this entry,
                            // which it has just advanced to the entry itself.
                            if let Some(p) = g.pel.get(&id) {
                                props.push(xclaim_effect(key, gname, id, p, id));
                            }
                        }
                    }
                    Reply::Array(out)
                }
            };
            served.push((key.clone(), entries));
        }
        for p in props {
            v.propagate(|| p);
        }
        if served.is_empty() {
            Ok(Outcome::Empty(ids))
        } else {
            Ok(Outcome::Served(served))
        }
    });
    for key in &created {
        ctx.notify(NotifyClass::Stream, "xgroup-createconsumer", key);
    }
    match r {
        Err(e) => e,
        Ok(Outcome::Served(served)) => {
            if ctx.conn.resp >= 3 {
                Reply::Map(
                    served
                        .into_iter()
                        .map(|(k, e)| (Reply::Bulk(k), e))
                        .collect(),
                )
            } else {
                Reply::Array(
                    served
                        .into_iter()
                        .map(|(k, e)| Reply::Array(vec![Reply::Bulk(k), e]))
                        .collect(),
                )
            }
        }
        Ok(Outcome::Empty(ids)) => {
            let Some(deadline) = o.block else {
                return Reply::NilArray;
            };
            if ctx.held.is_some() {
                return Reply::NilArray;
            }
            // `$` must mean the last ID as of this first call, not of the re-run.
            let rerun_args = id_args.iter().any(|x| x.as_ref() == b"$").then(|| {
                let mut args = a.to_vec();
                for (j, id) in ids.iter().enumerate() {
                    let pos = o.streams_arg + o.nstreams + j;
                    if args[pos].as_ref() == b"$" {
                        args[pos] = id.to_bytes();
                    }
                }
                args
            });
            ctx.conn.block = Some(BlockOn {
                keys: keys.to_vec(),
                deadline,
                timeout_reply: Reply::NilArray,
                rerun_args,
            });
            Reply::NilArray
        }
    }
}
