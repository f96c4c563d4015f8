//! Pub/sub commands: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH, PUBSUB, and
//! the sharded ones (SSUBSCRIBE, SUNSUBSCRIBE, SPUBLISH) as a single Redis node has them: their
//! own channels, `smessage` pushes, and a subscription count of shard channels only.
//!
//! Confirmations are push replies (`>` in RESP3, arrays in RESP2), one per channel, as Redis
//! sends them; messages reach subscribers through their connection's push queue.

use super::Session;
use super::{text, CommandSpec, Ctx, Flags};
use crate::resp::Reply;
use crate::state::pubsub::SubKind as Kind;
use crate::state::Shared;
use crate::{command, container, subcommand};
use bytes::Bytes;
use std::collections::HashSet;
use std::sync::atomic::Ordering::Relaxed;

const SUB: Flags = Flags::PUBSUB
    .union(Flags::NOSCRIPT)
    .union(Flags::LOADING)
    .union(Flags::STALE)
    .union(Flags::PUBSUB_OK);
const PS: Flags = Flags::PUBSUB.union(Flags::LOADING).union(Flags::STALE);

/// The pub/sub family.
pub static COMMANDS: &[CommandSpec] = &[
    command!(
        "subscribe",
        -2,
        SUB,
        (0, 0, 0),
        "pubsub",
        "2.0.0",
        &[],
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
        &[],
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
        &[],
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
        &[],
        punsubscribe,
        "Stops listening to messages published to channels that match one or more patterns."
    ),
    command!(
        "publish",
        3,
        PS.union(Flags::FAST),
        (0, 0, 0),
        "pubsub",
        "2.0.0",
        &[],
        publish,
        "Posts a message to a channel."
    ),
    command!(
        "ssubscribe",
        -2,
        SUB,
        (1, -1, 1),
        "pubsub",
        "7.0.0",
        &[],
        ssubscribe,
        "Listens for messages published to shard channels."
    ),
    command!(
        "sunsubscribe",
        -1,
        SUB,
        (1, -1, 1),
        "pubsub",
        "7.0.0",
        &[],
        sunsubscribe,
        "Stops listening to messages posted to shard channels."
    ),
    command!(
        "spublish",
        3,
        PS.union(Flags::FAST),
        (1, 1, 1),
        "pubsub",
        "7.0.0",
        &[],
        spublish,
        "Post a message to a shard channel"
    ),
    container!(
        "pubsub",
        -2,
        Flags::empty(),
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
        &[],
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
        &[],
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
        &[],
        pubsub_numpat,
        "Returns a count of unique pattern subscriptions."
    ),
    subcommand!(
        "pubsub",
        "shardchannels",
        -2,
        PS,
        (0, 0, 0),
        "7.0.0",
        &[],
        pubsub_shardchannels,
        "Returns the active shard channels."
    ),
    subcommand!(
        "pubsub",
        "shardnumsub",
        -2,
        PS,
        (0, 0, 0),
        "7.0.0",
        &[],
        pubsub_shardnumsub,
        "Returns the count of subscribers of shard channels."
    ),
    subcommand!(
        "pubsub",
        "help",
        2,
        Flags::LOADING.union(Flags::STALE),
        (0, 0, 0),
        "6.2.0",
        &[],
        pubsub_help,
        "Returns helpful text about the different subcommands."
    ),
];

fn word(w: &'static str) -> Reply {
    Reply::bulk(Bytes::from_static(w.as_bytes()))
}

/// One confirmation: `[kind, name, subscription count]` (of channels and patterns, or of
/// shard channels for the sharded commands, as Redis counts them).
fn confirm(kind: &'static str, name: Option<&Bytes>, conn: &Session) -> Reply {
    let n = if kind.starts_with('s') && kind != "subscribe" {
        conn.ssubscriptions.len()
    } else {
        conn.subscriptions.len() + conn.psubscriptions.len()
    };
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
    conn.handle.ssubs.store(conn.ssubscriptions.len(), Relaxed);
}

/// What the commands need of a kind of subscription beside the registry: the client's own set of
/// names, and the confirmation's word.
impl Kind {
    fn names(self, conn: &mut Session) -> &mut HashSet<Bytes> {
        match self {
            Kind::Channel => &mut conn.subscriptions,
            Kind::Pattern => &mut conn.psubscriptions,
            Kind::Shard => &mut conn.ssubscriptions,
        }
    }

    /// The confirmation's kind: (p)subscribe or (p)unsubscribe.
    fn verb(self, take: bool) -> &'static str {
        match (self, take) {
            (Kind::Channel, true) => "subscribe",
            (Kind::Channel, false) => "unsubscribe",
            (Kind::Pattern, true) => "psubscribe",
            (Kind::Pattern, false) => "punsubscribe",
            (Kind::Shard, true) => "ssubscribe",
            (Kind::Shard, false) => "sunsubscribe",
        }
    }
}

fn subscribe(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    take(ctx, &a[1..], Kind::Channel)
}

fn psubscribe(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    take(ctx, &a[1..], Kind::Pattern)
}

fn unsubscribe(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    drop_names(ctx, &a[1..], Kind::Channel)
}

fn punsubscribe(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    drop_names(ctx, &a[1..], Kind::Pattern)
}

fn ssubscribe(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    // Redis refuses it to a client that cannot block, a transaction's included (unlike
    // SUBSCRIBE).
    if ctx.held.is_some() {
        return Reply::error("ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client");
    }
    take(ctx, &a[1..], Kind::Shard)
}

fn sunsubscribe(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    drop_names(ctx, &a[1..], Kind::Shard)
}

fn spublish(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    Reply::Int(ctx.srv.pubsub.spublish(&a[1], &a[2]) as i64)
}

/// (P)SUBSCRIBE: one confirmation per name, subscribed or not before.
fn take(ctx: &mut Ctx, names: &[Bytes], kind: Kind) -> Reply {
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        if kind.names(ctx.conn).insert(name.clone()) {
            ctx.srv.pubsub.subscribe(kind, name, &ctx.conn.handle);
        }
        out.push(confirm(kind.verb(true), Some(name), ctx.conn));
    }
    sync_counts(ctx.conn);
    replies(out)
}

/// (P)UNSUBSCRIBE: the names given, or every one the client has; one confirmation per name, and
/// a lone one with no name when there was nothing to drop.
fn drop_names(ctx: &mut Ctx, given: &[Bytes], kind: Kind) -> Reply {
    let names: Vec<Bytes> = if given.is_empty() {
        kind.names(ctx.conn).iter().cloned().collect()
    } else {
        given.to_vec()
    };
    if names.is_empty() {
        return confirm(kind.verb(false), None, ctx.conn);
    }
    let mut out = Vec::with_capacity(names.len());
    for name in &names {
        if kind.names(ctx.conn).remove(name) {
            ctx.srv.pubsub.unsubscribe(kind, name, ctx.conn.id);
        }
        out.push(confirm(kind.verb(false), Some(name), ctx.conn));
    }
    sync_counts(ctx.conn);
    replies(out)
}

/// Drops every subscription of a connection (RESET, disconnect).
pub fn unsubscribe_all(srv: &Shared, conn: &mut Session) {
    for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
        for name in std::mem::take(kind.names(conn)) {
            srv.pubsub.unsubscribe(kind, &name, conn.id);
        }
    }
    sync_counts(conn);
}

fn publish(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    Reply::Int(ctx.srv.pubsub.publish(&a[1], &a[2]) as i64)
}

fn pubsub_channels(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    if a.len() > 3 {
        return Reply::error(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
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

fn pubsub_shardchannels(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    if a.len() > 3 {
        return Reply::error(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
            text(&a[1][..a[1].len().min(128)])
        ));
    }
    Reply::bulks(
        ctx.srv
            .pubsub
            .channels_of(Kind::Shard, a.get(2).map(|p| &p[..])),
    )
}

fn pubsub_shardnumsub(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let mut out = Vec::with_capacity((a.len() - 2) * 2);
    for ch in &a[2..] {
        out.push(Reply::Bulk(ch.clone()));
        out.push(Reply::Int(ctx.srv.pubsub.numsub_of(Kind::Shard, ch) as i64));
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
