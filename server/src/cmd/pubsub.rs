//! Pub/sub commands: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH, PUBSUB.
//!
//! Confirmations are push replies (`>` in RESP3, arrays in RESP2), one per channel, as Redis
//! sends them; messages reach subscribers through their connection's push queue.

use super::Session;
use super::{text, CommandSpec, Ctx, Flags};
use crate::resp::Reply;
use crate::state::Shared;
use crate::{command, container, subcommand};
use bytes::Bytes;
use std::sync::atomic::Ordering::Relaxed;

const SUB: Flags = Flags(
    Flags::PUBSUB.0 | Flags::NOSCRIPT.0 | Flags::LOADING.0 | Flags::STALE.0 | Flags::PUBSUB_OK.0,
);
const ACL_PS: &[&str] = &["pubsub", "slow"];
const PS: Flags = Flags(Flags::PUBSUB.0 | Flags::LOADING.0 | Flags::STALE.0);

/// The pub/sub family.
pub static COMMANDS: &[CommandSpec] = &[
    command!(
        "subscribe",
        -2,
        SUB,
        (0, 0, 0),
        "pubsub",
        "2.0.0",
        ACL_PS,
        subscribe,
        "Listens for messages published to channels."
    ),
    command!(
        "unsubscribe",
        -1,
        SUB,
        (0, 0, 0),
        "pubsub",
        "2.0.0",
        ACL_PS,
        unsubscribe,
        "Stops listening to messages posted to channels."
    ),
    command!(
        "psubscribe",
        -2,
        SUB,
        (0, 0, 0),
        "pubsub",
        "2.0.0",
        ACL_PS,
        psubscribe,
        "Listens for messages published to channels that match one or more patterns."
    ),
    command!(
        "punsubscribe",
        -1,
        SUB,
        (0, 0, 0),
        "pubsub",
        "2.0.0",
        ACL_PS,
        punsubscribe,
        "Stops listening to messages published to channels that match one or more patterns."
    ),
    command!(
        "publish",
        3,
        Flags(PS.0 | Flags::FAST.0 | Flags::MAY_REPLICATE.0),
        (0, 0, 0),
        "pubsub",
        "2.0.0",
        &["pubsub", "fast"],
        publish,
        "Posts a message to a channel."
    ),
    container!(
        "pubsub",
        -2,
        Flags::NONE,
        "pubsub",
        "2.8.0",
        PUBSUB_SUBS,
        "A container for Pub/Sub commands."
    ),
];

static PUBSUB_SUBS: &[CommandSpec] = &[
    subcommand!(
        "pubsub",
        "channels",
        -2,
        PS,
        (0, 0, 0),
        "2.8.0",
        ACL_PS,
        pubsub_channels,
        "Returns the active channels."
    ),
    subcommand!(
        "pubsub",
        "numsub",
        -2,
        PS,
        (0, 0, 0),
        "2.8.0",
        ACL_PS,
        pubsub_numsub,
        "Returns a count of subscribers to channels."
    ),
    subcommand!(
        "pubsub",
        "numpat",
        2,
        PS,
        (0, 0, 0),
        "2.8.0",
        ACL_PS,
        pubsub_numpat,
        "Returns a count of unique pattern subscriptions."
    ),
    subcommand!(
        "pubsub",
        "help",
        2,
        Flags(Flags::LOADING.0 | Flags::STALE.0),
        (0, 0, 0),
        "6.2.0",
        &["slow"],
        pubsub_help,
        "Returns helpful text about the different subcommands."
    ),
];

fn word(w: &'static str) -> Reply {
    Reply::bulk(Bytes::from_static(w.as_bytes()))
}

/// One confirmation: `[kind, name, subscription count]`.
fn confirm(kind: &'static str, name: Option<&Bytes>, conn: &Session) -> Reply {
    let n = conn.subscriptions.len() + conn.psubscriptions.len();
    Reply::Push(vec![
        word(kind),
        Reply::opt_bulk(name.cloned()),
        Reply::Int(n as i64),
    ])
}

/// Several replies in a row, or the one.
fn replies(mut v: Vec<Reply>) -> Reply {
    if v.len() == 1 {
        v.pop().unwrap_or(Reply::Nil)
    } else {
        Reply::Seq(v)
    }
}

fn sync_counts(conn: &Session) {
    conn.handle.subs.store(conn.subscriptions.len(), Relaxed);
    conn.handle.psubs.store(conn.psubscriptions.len(), Relaxed);
}

fn subscribe(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let mut out = Vec::with_capacity(a.len() - 1);
    for ch in &a[1..] {
        if ctx.conn.subscriptions.insert(ch.clone()) {
            ctx.srv.pubsub.subscribe(ch, &ctx.conn.handle);
        }
        out.push(confirm("subscribe", Some(ch), ctx.conn));
    }
    sync_counts(ctx.conn);
    replies(out)
}

fn psubscribe(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let mut out = Vec::with_capacity(a.len() - 1);
    for p in &a[1..] {
        if ctx.conn.psubscriptions.insert(p.clone()) {
            ctx.srv.pubsub.psubscribe(p, &ctx.conn.handle);
        }
        out.push(confirm("psubscribe", Some(p), ctx.conn));
    }
    sync_counts(ctx.conn);
    replies(out)
}

fn unsubscribe(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let names: Vec<Bytes> = if a.len() > 1 {
        a[1..].to_vec()
    } else {
        ctx.conn.subscriptions.iter().cloned().collect()
    };
    if names.is_empty() {
        return confirm("unsubscribe", None, ctx.conn);
    }
    let mut out = Vec::with_capacity(names.len());
    for ch in &names {
        if ctx.conn.subscriptions.remove(ch) {
            ctx.srv.pubsub.unsubscribe(ch, ctx.conn.id);
        }
        out.push(confirm("unsubscribe", Some(ch), ctx.conn));
    }
    sync_counts(ctx.conn);
    replies(out)
}

fn punsubscribe(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let names: Vec<Bytes> = if a.len() > 1 {
        a[1..].to_vec()
    } else {
        ctx.conn.psubscriptions.iter().cloned().collect()
    };
    if names.is_empty() {
        return confirm("punsubscribe", None, ctx.conn);
    }
    let mut out = Vec::with_capacity(names.len());
    for p in &names {
        if ctx.conn.psubscriptions.remove(p) {
            ctx.srv.pubsub.punsubscribe(p, ctx.conn.id);
        }
        out.push(confirm("punsubscribe", Some(p), ctx.conn));
    }
    sync_counts(ctx.conn);
    replies(out)
}

/// Drops every subscription of a connection (RESET, disconnect).
pub fn unsubscribe_all(srv: &Shared, conn: &mut Session) {
    for ch in std::mem::take(&mut conn.subscriptions) {
        srv.pubsub.unsubscribe(&ch, conn.id);
    }
    for p in std::mem::take(&mut conn.psubscriptions) {
        srv.pubsub.punsubscribe(&p, conn.id);
    }
    sync_counts(conn);
}

fn publish(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    Reply::Int(ctx.srv.pubsub.publish(&a[1], &a[2]) as i64)
}

fn pubsub_channels(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    if a.len() > 3 {
        return Reply::err(format!(
            "unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
            text(&a[1][..a[1].len().min(128)])
        ));
    }
    Reply::bulks(ctx.srv.pubsub.channels(a.get(2).map(|p| &p[..])))
}

fn pubsub_numsub(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let mut out = Vec::with_capacity((a.len() - 2) * 2);
    for ch in &a[2..] {
        out.push(Reply::Bulk(ch.clone()));
        out.push(Reply::Int(ctx.srv.pubsub.numsub(ch) as i64));
    }
    Reply::Array(out)
}

fn pubsub_numpat(ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    Reply::Int(ctx.srv.pubsub.numpat() as i64)
}

fn pubsub_help(_ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    const LINES: &[&str] = &[
        "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: '*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
        "HELP",
        "    Prints this help.",
    ];
    Reply::Array(LINES.iter().map(|l| Reply::Simple((*l).into())).collect())
}
