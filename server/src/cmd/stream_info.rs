//! XINFO STREAM [FULL [COUNT n]], XINFO GROUPS, XINFO CONSUMERS.

use super::streams::{entry_reply, id_reply, range_reply, stream_ref};
use super::{eq, int, text, Ctx};
use crate::keyspace::stream::{Group, Stream, StreamId};
use crate::resp::Reply;
use bytes::Bytes;

fn s(k: &'static str) -> Reply {
    Reply::Bulk(Bytes::from_static(k.as_bytes()))
}

fn subcommand_syntax(a: &[Bytes]) -> Reply {
    let name: String = text(&a[1]).chars().take(128).collect();
    Reply::error(format!(
        "ERR unknown subcommand or wrong number of arguments for '{name}'. Try XINFO HELP."
    ))
}

/// Runs `f` on the stream at `a[2]`, with XINFO's errors for a missing key or another type.
fn with_stream(ctx: &mut Ctx, a: &[Bytes], f: impl FnOnce(&Stream, u64) -> Reply) -> Reply {
    let key = &a[2];
    ctx.with_key(key, |v| {
        let now = v.now();
        match stream_ref(v, key) {
            Err(e) => e,
            Ok(None) => Reply::error(super::ERR_NO_KEY),
            Ok(Some(st)) => f(st, now),
        }
    })
}

fn opt_int(n: Option<u64>) -> Reply {
    n.map_or(Reply::Nil, |n| Reply::Int(n as i64))
}

pub fn xinfo_stream(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let mut full = false;
    let mut count: i64 = 10;
    let optc = a.len() - 3;
    // Redis looks the key up before it reads the options.
    let exists = with_stream(ctx, a, |_, _| Reply::Ok);
    if exists.is_error() {
        return exists;
    }
    if optc > 0 {
        if (optc != 1 && optc != 3) || !eq(&a[3], "full") {
            return subcommand_syntax(a);
        }
        if optc == 3 {
            if !eq(&a[4], "count") {
                return subcommand_syntax(a);
            }
            count = match int(&a[5]) {
                Ok(n) if n < 0 => 10,
                Ok(n) => n,
                Err(e) => return e,
            };
        }
        full = true;
    }
    with_stream(ctx, a, |st, now| {
        let mut m = vec![
            (s("length"), Reply::Int(st.len() as i64)),
            (s("radix-tree-keys"), Reply::Int(st.rax_keys() as i64)),
            (s("radix-tree-nodes"), Reply::Int(st.rax_nodes() as i64)),
            (s("last-generated-id"), id_reply(st.last_id)),
            (s("max-deleted-entry-id"), id_reply(st.max_deleted)),
            (s("entries-added"), Reply::Int(st.entries_added as i64)),
            (s("recorded-first-entry-id"), id_reply(st.first_id())),
        ];
        if !full {
            let edge = |e: Option<(&StreamId, &Vec<(Bytes, Bytes)>)>| {
                e.map_or(Reply::Nil, |(id, f)| entry_reply(*id, f))
            };
            m.push((s("groups"), Reply::Int(st.groups.len() as i64)));
            m.push((s("first-entry"), edge(st.entries.iter().next())));
            m.push((s("last-entry"), edge(st.entries.iter().next_back())));
            return Reply::Map(m);
        }
        let limit = if count == 0 {
            usize::MAX
        } else {
            count as usize
        };
        m.push((
            s("entries"),
            range_reply(st, StreamId::MIN, StreamId::MAX, count as usize, false),
        ));
        let groups = st
            .groups
            .iter()
            .map(|(name, g)| full_group(st, name, g, limit, now))
            .collect();
        m.push((s("groups"), Reply::Array(groups)));
        Reply::Map(m)
    })
}

fn full_group(st: &Stream, name: &Bytes, g: &Group, limit: usize, _now: u64) -> Reply {
    let pel = g
        .pel
        .iter()
        .take(limit)
        .map(|(id, p)| {
            Reply::Array(vec![
                id_reply(*id),
                Reply::Bulk(p.consumer.clone()),
                Reply::Int(p.delivery_time as i64),
                Reply::Int(p.delivery_count as i64),
            ])
        })
        .collect();
    let consumers = g
        .consumers
        .iter()
        .map(|(cname, c)| {
            let pend = c
                .pel
                .iter()
                .take(limit)
                .map(|id| {
                    let p = g.pel.get(id);
                    Reply::Array(vec![
                        id_reply(*id),
                        Reply::Int(p.map_or(0, |p| p.delivery_time as i64)),
                        Reply::Int(p.map_or(0, |p| p.delivery_count as i64)),
                    ])
                })
                .collect();
            Reply::Map(vec![
                (s("name"), Reply::Bulk(cname.clone())),
                (s("seen-time"), Reply::Int(c.seen_time as i64)),
                (s("pel-count"), Reply::Int(c.pel.len() as i64)),
                (s("pending"), Reply::Array(pend)),
            ])
        })
        .collect();
    Reply::Map(vec![
        (s("name"), Reply::Bulk(name.clone())),
        (s("last-delivered-id"), id_reply(g.last_id)),
        (s("entries-read"), opt_int(g.entries_read)),
        (s("lag"), st.lag(g).map_or(Reply::Nil, Reply::Int)),
        (s("pel-count"), Reply::Int(g.pel.len() as i64)),
        (s("pending"), Reply::Array(pel)),
        (s("consumers"), Reply::Array(consumers)),
    ])
}

pub fn xinfo_groups(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    with_stream(ctx, a, |st, _| {
        Reply::Array(
            st.groups
                .iter()
                .map(|(name, g)| {
                    Reply::Map(vec![
                        (s("name"), Reply::Bulk(name.clone())),
                        (s("consumers"), Reply::Int(g.consumers.len() as i64)),
                        (s("pending"), Reply::Int(g.pel.len() as i64)),
                        (s("last-delivered-id"), id_reply(g.last_id)),
                        (s("entries-read"), opt_int(g.entries_read)),
                        (s("lag"), st.lag(g).map_or(Reply::Nil, Reply::Int)),
                    ])
                })
                .collect(),
        )
    })
}

pub fn xinfo_consumers(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let gname = &a[3];
    with_stream(ctx, a, |st, now| {
        let Some(g) = st.groups.get(gname) else {
            return Reply::error(format!(
                "NOGROUP No such consumer group '{}' for key name '{}'",
                text(gname),
                text(&a[2])
            ));
        };
        Reply::Array(
            g.consumers
                .iter()
                .map(|(name, c)| {
                    Reply::Map(vec![
                        (s("name"), Reply::Bulk(name.clone())),
                        (s("pending"), Reply::Int(c.pel.len() as i64)),
                        (
                            s("idle"),
                            Reply::Int(now.saturating_sub(c.seen_time) as i64),
                        ),
                    ])
                })
                .collect(),
        )
    })
}

pub fn xinfo_help(_ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    super::stream_groups::help(
        "XINFO",
        &[
            "CONSUMERS <key> <groupname>",
            "    Show consumers of <groupname>.",
            "GROUPS <key>",
            "    Show the stream consumer groups.",
            "STREAM <key> [FULL [COUNT <count>]",
            "    Show information about the stream.",
        ],
    )
}
