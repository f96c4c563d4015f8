//! Server commands: TIME, SHUTDOWN, LASTSAVE, and the flags the server family's files share.
//! INFO, CONFIG, COMMAND, SLOWLOG and MEMORY have their own files.

use super::{eq, syntax, CommandSpec, Ctx, Flags};
use crate::command;
use crate::resp::Reply;
use bytes::Bytes;

pub(super) const ADMIN: Flags = Flags::ADMIN
    .union(Flags::NOSCRIPT)
    .union(Flags::LOADING)
    .union(Flags::STALE);
/// Allowed while loading and on a stale replica.
pub(super) const LS: Flags = Flags::LOADING.union(Flags::STALE);

/// The server family.
pub static COMMANDS: &[CommandSpec] = &[
    command!(
        "time",
        1,
        LS.union(Flags::FAST),
        (0, 0, 0),
        "server",
        "2.6.0",
        &[],
        time,
        "Returns the server time."
    ),
    command!(
        "shutdown",
        -1,
        ADMIN.union(Flags::NO_MULTI).union(Flags::ALLOW_BUSY),
        (0, 0, 0),
        "server",
        "1.0.0",
        &[],
        shutdown,
        "Synchronously saves the database(s) to disk and shuts down the Redis server."
    ),
    command!(
        "lastsave",
        1,
        LS.union(Flags::FAST),
        (0, 0, 0),
        "server",
        "1.0.0",
        &["admin", "dangerous"],
        lastsave,
        "Returns the Unix timestamp of the last successful save to disk."
    ),
];

fn time(_ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Reply::Array(vec![
        Reply::bulk(Bytes::from(now.as_secs().to_string())),
        Reply::bulk(Bytes::from(now.subsec_micros().to_string())),
    ])
}

fn shutdown(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    for o in &a[1..] {
        if !(eq(o, "nosave") || eq(o, "save") || eq(o, "now") || eq(o, "force") || eq(o, "abort")) {
            return syntax();
        }
    }
    if a[1..].iter().any(|o| eq(o, "abort")) {
        return Reply::error("ERR No shutdown in progress.");
    }
    tracing::warn!("user requested shutdown");
    ctx.srv.request_shutdown();
    ctx.conn.close_after_reply = true;
    // Like Redis, no reply: the connection just closes.
    Reply::Raw(b"")
}

fn lastsave(ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    Reply::Int((crate::keyspace::now_ms() / 1000 - ctx.srv.started.elapsed().as_secs()) as i64)
}
