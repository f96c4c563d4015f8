//! Consumer groups: XGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM.

use super::streams::{entry_reply, id_reply, parse_bound, parse_id, parse_strict_id, stream_mut};
use super::{eq, int, syntax, text, Ctx};
use crate::keyspace::stream::{Fields, Group, Pending, Stream, StreamId};
use crate::keyspace::View;
use crate::resp::Reply;
use crate::state::NotifyClass;
use crate::util::num::parse_i64;
use bytes::Bytes;
use std::collections::BTreeMap;

/// `NOGROUP No such key 'k' or consumer group 'g'`, with an optional suffix.
fn nogroup(key: &[u8], group: &[u8], suffix: &str) -> Reply {
    Reply::error(format!(
        "NOGROUP No such key '{}' or consumer group '{}'{suffix}",
        text(key),
        text(group)
    ))
}

fn subcommand_syntax(a: &[Bytes]) -> Reply {
    let name = text(&a[1]);
    let name: String = name.chars().take(128).collect();
    Reply::error(format!(
        "ERR unknown subcommand or wrong number of arguments for '{name}'. Try XGROUP HELP."
    ))
}

fn parse_entries_read(b: &[u8]) -> Result<Option<u64>, Reply> {
    let n = int(b)?;
    if n < 0 && n != -1 {
        return Err(Reply::error(
            "ERR value for ENTRIESREAD must be positive or -1",
        ));
    }
    Ok(u64::try_from(n).ok())
}

/// XGROUP CREATE / SETID / DESTROY / CREATECONSUMER / DELCONSUMER.
pub fn xgroup(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let sub = a[1].to_ascii_lowercase();
    let sub = sub.as_slice();
    let (mut mkstream, mut entries_read) = (false, None);
    match sub {
        b"create" if a.len() <= 8 => {
            let mut i = 5;
            while i < a.len() {
                if eq(&a[i], "mkstream") {
                    mkstream = true;
                    i += 1;
                } else if eq(&a[i], "entriesread") && i + 1 < a.len() {
                    match parse_entries_read(&a[i + 1]) {
                        Ok(n) => entries_read = n,
                        Err(e) => return e,
                    }
                    i += 2;
                } else {
                    return subcommand_syntax(a);
                }
            }
        }
        b"setid" if a.len() == 5 || a.len() == 7 => {
            if a.len() == 7 {
                if !eq(&a[5], "entriesread") {
                    return subcommand_syntax(a);
                }
                match parse_entries_read(&a[6]) {
                    Ok(n) => entries_read = n,
                    Err(e) => return e,
                }
            }
        }
        b"destroy" | b"createconsumer" | b"delconsumer" => {}
        _ => return subcommand_syntax(a),
    }
    let (key, gname) = (&a[2], &a[3]);
    let r = ctx.with_key(key, |v| -> Result<(Reply, Option<&'static str>), Reply> {
        let exists = stream_mut(v, key)?.is_some();
        if !exists {
            if !mkstream {
                return Err(Reply::error("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically."));
            }
        } else if matches!(sub, b"setid" | b"createconsumer" | b"delconsumer") {
            let has = stream_mut(v, key)?.is_some_and(|s| s.groups.contains_key(gname));
            if !has {
                return Err(Reply::error(format!(
                        "NOGROUP No such consumer group '{}' for key name '{}'",
                        text(gname),
                        text(key)
                    )));
            }
        }
        let now = v.now();
        match sub {
            b"create" => {
                let id = if a[4].as_ref() == b"$" {
                    None
                } else {
                    Some(parse_strict_id(&a[4], 0)?)
                };
                if !exists {
                    v.set(key, crate::keyspace::Value::Stream(Box::default()), None);
                }
                let Some(s) = stream_mut(v, key)? else {
                    return Ok((Reply::Int(0), None));
                };
                if s.groups.contains_key(gname) {
                    return Err(Reply::error("BUSYGROUP Consumer Group name already exists"));
                }
                let g = Group {
                    last_id: id.unwrap_or(s.last_id),
                    entries_read,
                    ..Group::default()
                };
                s.groups.insert(gname.clone(), g);
                Ok((Reply::Ok, Some("xgroup-create")))
            }
            b"setid" => {
                let Some(s) = stream_mut(v, key)? else {
                    return Ok((Reply::Int(0), None));
                };
                let id = if a[4].as_ref() == b"$" {
                    s.last_id
                } else {
                    parse_id(&a[4], 0)?
                };
                if let Some(g) = s.groups.get_mut(gname) {
                    g.last_id = id;
                    g.entries_read = entries_read;
                }
                Ok((Reply::Ok, Some("xgroup-setid")))
            }
            b"destroy" => {
                let Some(s) = stream_mut(v, key)? else {
                    return Ok((Reply::Int(0), None));
                };
                if s.groups.remove(gname).is_some() {
                    Ok((Reply::Int(1), Some("xgroup-destroy")))
                } else {
                    Ok((Reply::Int(0), None))
                }
            }
            b"createconsumer" => {
                let Some(g) = stream_mut(v, key)?.and_then(|s| s.groups.get_mut(gname)) else {
                    return Ok((Reply::Int(0), None));
                };
                let (_, created) = g.consumer(&a[4], now);
                if created {
                    Ok((Reply::Int(1), Some("xgroup-createconsumer")))
                } else {
                    Ok((Reply::Int(0), None))
                }
            }
            _ => {
                let Some(g) = stream_mut(v, key)?.and_then(|s| s.groups.get_mut(gname)) else {
                    return Ok((Reply::Int(0), None));
                };
                let Some(c) = g.consumers.remove(&a[4]) else {
                    return Ok((Reply::Int(0), None));
                };
                for id in &c.pel {
                    g.pel.remove(id);
                }
                Ok((Reply::Int(c.pel.len() as i64), Some("xgroup-delconsumer")))
            }
        }
    });
    match r {
        Ok((reply, event)) => {
            if let Some(ev) = event {
                ctx.notify(NotifyClass::Stream, ev, key);
                if ev == "xgroup-destroy" {
                    // Consumers blocked on the group must wake up to get NOGROUP.
                    ctx.signal_ready(key);
                }
            }
            reply
        }
        Err(e) => e,
    }
}

/// XGROUP HELP.
pub fn xgroup_help(_ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    help(
        "XGROUP",
        &[
            "CREATE <key> <groupname> <id|$> [option]",
            "    Create a new consumer group. Options are:",
            "    * MKSTREAM",
            "      Create the empty stream if it does not exist.",
            "    * ENTRIESREAD entries_read",
            "      Set the group's entries_read counter (internal use).",
            "CREATECONSUMER <key> <groupname> <consumer>",
            "    Create a new consumer in the specified group.",
            "DELCONSUMER <key> <groupname> <consumer>",
            "    Remove the specified consumer.",
            "DESTROY <key> <groupname>",
            "    Remove the specified group.",
            "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
            "    Set the current group ID and entries_read counter.",
        ],
    )
}

/// A HELP reply as the stream containers write it.
pub fn help(cmd: &str, lines: &[&str]) -> Reply {
    let mut out = vec![Reply::Simple(
        format!("{cmd} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:").into(),
    )];
    out.extend(lines.iter().map(|l| Reply::Simple(l.to_string().into())));
    out.push(Reply::simple("HELP"));
    out.push(Reply::simple("    Prints this help."));
    Reply::Array(out)
}

pub fn xack(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let (key, gname) = (&a[1], &a[2]);
    let r = ctx.with_key(key, |v| {
        if !has_group(v, key, gname)? {
            return Ok(0);
        }
        let mut ids = Vec::with_capacity(a.len() - 3);
        for b in &a[3..] {
            ids.push(parse_strict_id(b, 0)?);
        }
        let Some(g) = stream_mut(v, key)?.and_then(|s| s.groups.get_mut(gname)) else {
            return Ok(0);
        };
        Ok(ids.into_iter().filter(|id| g.ack(*id)).count() as i64)
    });
    r.map_or_else(|e| e, Reply::Int)
}

pub fn xpending(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let summary = a.len() == 3;
    if !summary && (a.len() < 6 || a.len() > 9) {
        return syntax();
    }
    let (mut start, mut end, mut count, mut minidle) = (StreamId::MIN, StreamId::MAX, 0i64, 0i64);
    let mut consumer: Option<&Bytes> = None;
    if !summary {
        let mut s = 3;
        if eq(&a[3], "idle") {
            minidle = match int(&a[4]) {
                Ok(n) => n,
                Err(e) => return e,
            };
            if a.len() < 8 {
                return syntax();
            }
            s += 2;
        }
        count = match int(&a[s + 2]) {
            Ok(n) => n.max(0),
            Err(e) => return e,
        };
        start = match parse_bound(&a[s], true) {
            Ok(x) => x,
            Err(e) => return e,
        };
        end = match parse_bound(&a[s + 1], false) {
            Ok(x) => x,
            Err(e) => return e,
        };
        consumer = a.get(s + 3);
    }
    let (key, gname) = (&a[1], &a[2]);
    ctx.with_key(key, |v| {
        let now = v.now();
        let s = match super::streams::stream_ref(v, key) {
            Ok(s) => s,
            Err(e) => return e,
        };
        let Some(g) = s.and_then(|s| s.groups.get(gname)) else {
            return nogroup(key, gname, "");
        };
        if summary {
            if g.pel.is_empty() {
                return Reply::Array(vec![Reply::Int(0), Reply::Nil, Reply::Nil, Reply::NilArray]);
            }
            let first = g.pel.keys().next().copied().unwrap_or_default();
            let last = g.pel.keys().next_back().copied().unwrap_or_default();
            let per: Vec<Reply> = g
                .consumers
                .iter()
                .filter(|(_, c)| !c.pel.is_empty())
                .map(|(n, c)| {
                    Reply::Array(vec![
                        Reply::Bulk(n.clone()),
                        Reply::Bulk(Bytes::from(c.pel.len().to_string())),
                    ])
                })
                .collect();
            return Reply::Array(vec![
                Reply::Int(g.pel.len() as i64),
                id_reply(first),
                id_reply(last),
                Reply::Array(per),
            ]);
        }
        if start > end {
            return Reply::Array(Vec::new());
        }
        let ids: Box<dyn Iterator<Item = StreamId>> = match consumer {
            Some(c) => match g.consumers.get(c) {
                Some(c) => Box::new(c.pel.range(start..=end).copied()),
                None => return Reply::Array(Vec::new()),
            },
            None => Box::new(g.pel.range(start..=end).map(|(k, _)| *k)),
        };
        let mut out = Vec::new();
        for id in ids {
            if count == 0 {
                break;
            }
            let Some(p) = g.pel.get(&id) else { continue };
            let idle = now.saturating_sub(p.delivery_time) as i64;
            if minidle != 0 && idle < minidle {
                continue;
            }
            count -= 1;
            out.push(Reply::Array(vec![
                id_reply(id),
                Reply::Bulk(p.consumer.clone()),
                Reply::Int(idle),
                Reply::Int(p.delivery_count as i64),
            ]));
        }
        Reply::Array(out)
    })
}

/// Takes pending entry `id` for consumer `name` (created on first use), as XCLAIM and
/// XAUTOCLAIM do; returns true if the consumer was created.
fn claim(g: &mut Group, id: StreamId, name: &Bytes, now: u64, first: &mut bool) -> bool {
    let mut created = false;
    if *first {
        let (c, new) = g.consumer(name, now);
        c.seen_time = now;
        created = new;
        *first = false;
    }
    g.assign(id, name);
    if let Some(c) = g.consumers.get_mut(name) {
        c.pel.insert(id); // An entry made by FORCE already names its consumer.
    }
    created
}

/// What the AOF gets for one entry an XCLAIM, XAUTOCLAIM or XREADGROUP claimed or dropped from a
/// group's PEL, as Redis 7.0's `streamPropagateXCLAIM`: a claim that replays the same way at any
/// later time (absolute delivery time, count, FORCE to recreate the entry, LASTID the group's).
pub(super) fn xclaim_effect(
    key: &Bytes,
    group: &Bytes,
    id: StreamId,
    p: &Pending,
    last_id: StreamId,
) -> Vec<Bytes> {
    vec![
        Bytes::from_static(b"XCLAIM"),
        key.clone(),
        group.clone(),
        p.consumer.clone(),
        Bytes::from_static(b"0"),
        id.to_bytes(),
        Bytes::from_static(b"TIME"),
        Bytes::from(p.delivery_time.to_string()),
        Bytes::from_static(b"RETRYCOUNT"),
        Bytes::from(p.delivery_count.to_string()),
        Bytes::from_static(b"FORCE"),
        Bytes::from_static(b"JUSTID"),
        Bytes::from_static(b"LASTID"),
        last_id.to_bytes(),
    ]
}

/// XGROUP SETID with the group's read counter: what Redis propagates when only the last ID moved.
pub(super) fn setid_effect(key: &Bytes, group: &Bytes, g: &Group) -> Vec<Bytes> {
    vec![
        Bytes::from_static(b"XGROUP"),
        Bytes::from_static(b"SETID"),
        key.clone(),
        group.clone(),
        g.last_id.to_bytes(),
        Bytes::from_static(b"ENTRIESREAD"),
        Bytes::from(g.entries_read.map_or(-1, |r| r as i64).to_string()),
    ]
}

pub fn xclaim(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let (key, gname, cname) = (&a[1], &a[2], &a[3]);
    let mut created = false;
    let r = ctx.with_key(key, |v| {
        let now = v.now();
        if !has_group(v, key, gname)? {
            return Err(nogroup(key, gname, ""));
        }
        let minidle = parse_i64(&a[4])
            .ok_or_else(|| Reply::error("ERR Invalid min-idle-time argument for XCLAIM"))?
            .max(0);
        let mut j = 5;
        let mut ids = Vec::new();
        while j < a.len() {
            match parse_strict_id(&a[j], 0) {
                Ok(id) => ids.push(id),
                Err(_) => break,
            }
            j += 1;
        }
        let (mut force, mut justid) = (false, false);
        let (mut retry, mut dtime): (Option<i64>, Option<i64>) = (None, None);
        let mut last_id = StreamId::MIN;
        let num = |b: &[u8], what: &str| {
            parse_i64(b).ok_or_else(|| {
                Reply::error(format!("ERR Invalid {what} option argument for XCLAIM"))
            })
        };
        while j < a.len() {
            let more = j + 1 < a.len();
            let opt = &a[j];
            if eq(opt, "force") {
                force = true;
            } else if eq(opt, "justid") {
                justid = true;
            } else if eq(opt, "idle") && more {
                j += 1;
                dtime = Some((now as i64).saturating_sub(num(&a[j], "IDLE")?));
            } else if eq(opt, "time") && more {
                j += 1;
                dtime = Some(num(&a[j], "TIME")?);
            } else if eq(opt, "retrycount") && more {
                j += 1;
                retry = Some(num(&a[j], "RETRYCOUNT")?);
            } else if eq(opt, "lastid") && more {
                j += 1;
                last_id = parse_strict_id(&a[j], 0)?;
            } else {
                return Err(Reply::error(format!(
                    "ERR Unrecognized XCLAIM option '{}'",
                    text(opt)
                )));
            }
            j += 1;
        }
        let dtime = match dtime {
            Some(t) if t >= 0 && t <= now as i64 => t as u64,
            _ => now,
        };
        let Some((entries, g)) = entries_and_group(v, key, gname)? else {
            return Ok(Reply::Array(Vec::new()));
        };
        let moved = last_id > g.last_id;
        if moved {
            g.last_id = last_id;
        }
        let mut out = Vec::new();
        let mut effects = Vec::new();
        let mut first = true;
        for id in ids {
            let Some(fields) = entries.get(&id) else {
                if let Some(p) = g.pel.get(&id) {
                    effects.push(xclaim_effect(key, gname, id, p, g.last_id));
                }
                g.ack(id);
                continue;
            };
            let forced = match g.pel.entry(id) {
                std::collections::btree_map::Entry::Occupied(_) => false,
                std::collections::btree_map::Entry::Vacant(e) => {
                    if !force {
                        continue;
                    }
                    e.insert(Pending {
                        consumer: cname.clone(),
                        delivery_time: now,
                        delivery_count: 1,
                    });
                    true
                }
            };
            if !forced && !idle_enough(g, id, now, minidle) {
                continue;
            }
            created |= claim(g, id, cname, now, &mut first);
            if let Some(p) = g.pel.get_mut(&id) {
                p.delivery_time = dtime;
                match retry {
                    Some(n) if n >= 0 => p.delivery_count = n as u64,
                    _ if !justid => p.delivery_count += 1,
                    _ => {}
                }
            }
            if let Some(p) = g.pel.get(&id) {
                effects.push(xclaim_effect(key, gname, id, p, g.last_id));
            }
            out.push(if justid {
                id_reply(id)
            } else {
                entry_reply(id, fields)
            });
        }
        // Each XCLAIM carries LASTID; a moved last ID alone goes as XGROUP SETID.
        if moved && effects.is_empty() {
            effects.push(setid_effect(key, gname, g));
        }
        for e in effects {
            v.propagate(|| e);
        }
        Ok(Reply::Array(out))
    });
    if created {
        ctx.notify(NotifyClass::Stream, "xgroup-createconsumer", key);
    }
    r.unwrap_or_else(|e| e)
}

/// Whether the stream at `key` has the group `gname` (WRONGTYPE if `key` is not a stream).
fn has_group(v: &mut View, key: &[u8], gname: &[u8]) -> Result<bool, Reply> {
    Ok(super::streams::stream_ref(v, key)?.is_some_and(|s| s.groups.contains_key(gname)))
}

/// Whether pending entry `id` of `g` has been idle for `minidle` ms or more (XCLAIM's and
/// XAUTOCLAIM's min-idle-time; 0 or less lets every entry through).
fn idle_enough(g: &Group, id: StreamId, now: u64, minidle: i64) -> bool {
    if minidle <= 0 {
        return true;
    }
    let t = g.pel.get(&id).map_or(now, |p| p.delivery_time);
    now as i64 - t as i64 >= minidle
}

/// A stream's entries by ID.
type Entries = BTreeMap<StreamId, Fields>;

/// The entries of the stream at `key` and its group `gname`, borrowed together: a claim reads
/// the one while it changes the other. None if either is missing.
fn entries_and_group<'v>(
    v: &'v mut View,
    key: &[u8],
    gname: &[u8],
) -> Result<Option<(&'v Entries, &'v mut Group)>, Reply> {
    let Some(s) = stream_mut(v, key)? else {
        return Ok(None);
    };
    let Stream {
        entries, groups, ..
    } = s;
    Ok(groups.get_mut(gname).map(|g| (&*entries, g)))
}

pub fn xautoclaim(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let (key, gname, cname) = (&a[1], &a[2], &a[3]);
    let Some(minidle) = parse_i64(&a[4]) else {
        return Reply::error("ERR Invalid min-idle-time argument for XAUTOCLAIM");
    };
    let minidle = minidle.max(0);
    let start = match parse_bound(&a[5], true) {
        Ok(x) => x,
        Err(e) => return e,
    };
    let mut count: u64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < a.len() {
        if eq(&a[j], "count") && j + 1 < a.len() {
            match parse_i64(&a[j + 1]) {
                Some(n) if (1..=i64::MAX / 16).contains(&n) => count = n as u64,
                _ => return Reply::error("ERR COUNT must be > 0"),
            }
            j += 1;
        } else if eq(&a[j], "justid") {
            justid = true;
        } else {
            return syntax();
        }
        j += 1;
    }
    let mut created = false;
    let r = ctx.with_key(key, |v| {
        let now = v.now();
        if !has_group(v, key, gname)? {
            return Err(nogroup(key, gname, ""));
        }
        let Some((entries, g)) = entries_and_group(v, key, gname)? else {
            return Ok(Reply::Array(Vec::new()));
        };
        let mut attempts = count.saturating_mul(10);
        let keys: Vec<StreamId> = g
            .pel
            .range(start..)
            .take(attempts.saturating_add(1).min(usize::MAX as u64) as usize)
            .map(|(k, _)| *k)
            .collect();
        let (mut claimed, mut deleted) = (Vec::new(), Vec::new());
        let mut effects = Vec::new();
        let mut first = true;
        let mut idx = 0;
        while attempts > 0 && count > 0 && idx < keys.len() {
            attempts -= 1;
            let id = keys[idx];
            idx += 1;
            let Some(fields) = entries.get(&id) else {
                if let Some(p) = g.pel.get(&id) {
                    effects.push(xclaim_effect(key, gname, id, p, g.last_id));
                }
                g.ack(id);
                deleted.push(id_reply(id));
                count -= 1;
                continue;
            };
            if !idle_enough(g, id, now, minidle) {
                continue;
            }
            created |= claim(g, id, cname, now, &mut first);
            if let Some(p) = g.pel.get_mut(&id) {
                p.delivery_time = now;
                if !justid {
                    p.delivery_count += 1;
                }
            }
            if let Some(p) = g.pel.get(&id) {
                effects.push(xclaim_effect(key, gname, id, p, g.last_id));
            }
            claimed.push(if justid {
                id_reply(id)
            } else {
                entry_reply(id, fields)
            });
            count -= 1;
        }
        let cursor = keys.get(idx).copied().unwrap_or_default();
        for e in effects {
            v.propagate(|| e);
        }
        Ok(Reply::Array(vec![
            id_reply(cursor),
            Reply::Array(claimed),
            Reply::Array(deleted),
        ]))
    });
    if created {
        ctx.notify(NotifyClass::Stream, "xgroup-createconsumer", key);
    }
    r.unwrap_or_else(|e| e)
}
