//! Server commands: TIME, SHUTDOWN, LASTSAVE, and the flags the server family's files share.
//! INFO, CONFIG, COMMAND, SLOWLOG and MEMORY have their own files.

use super::{eq, syntax, CommandSpec, Ctx, Flags};
use crate::command;
use crate::resp::Reply;
use crate::state::Shared;
use bytes::Bytes;
use std::sync::atomic::Ordering::Relaxed;

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
    let (mut save, mut nosave, mut force, mut abort, mut now) = (false, false, false, false, false);
    for o in &a[1..] {
        if eq(o, "nosave") {
            nosave = true;
        } else if eq(o, "save") {
            save = true;
        } else if eq(o, "now") {
            now = true;
        } else if eq(o, "force") {
            force = true;
        } else if eq(o, "abort") {
            abort = true;
        } else {
            return syntax();
        }
    }
    if (abort && (save || nosave || now || force)) || (save && nosave) {
        return syntax();
    }
    if abort {
        return Reply::error("ERR No shutdown in progress.");
    }
    if !prepare_for_shutdown(ctx.srv, save, nosave, force) {
        return Reply::error("ERR Errors trying to SHUTDOWN. Check logs.");
    }
    ctx.srv.request_shutdown();
    ctx.conn.close_after_reply = true;
    // Like Redis, no reply: the connection just closes.
    Reply::Raw(b"")
}

/// Redis's `prepareForShutdown`/`finishShutdown` for SHUTDOWN and the stop signals: the final
/// save when `save` rules are set (unless `nosave`) or `save` asks for it, never while the
/// dataset is still loading (it would write a half-loaded keyspace over the dump). False when
/// that save failed and `force` was not given: the server must go on running.
pub fn prepare_for_shutdown(srv: &Shared, save: bool, nosave: bool, force: bool) -> bool {
    tracing::warn!("User requested shutdown...");
    let loading = srv.persist.loading.is_active();
    let rules = !srv
        .config()
        .get(crate::config::params::SAVE)
        .trim()
        .is_empty();
    if !loading && ((rules && !nosave) || save) {
        tracing::info!("Saving the final RDB snapshot before exiting.");
        let settings = crate::persist::Settings::from_config(srv.config());
        if let Err(e) = crate::persist::save(&srv.ks, &srv.persist, &settings) {
            if !force {
                tracing::warn!("Error trying to save the DB, can't exit: {e}");
                tracing::warn!(
                    "Errors trying to shut down the server. Check the logs for more information."
                );
                return false;
            }
            tracing::warn!("Error trying to save the DB. Exit anyway: {e}");
        }
    }
    tracing::warn!("respd is now ready to exit, bye bye...");
    true
}

fn lastsave(ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    Reply::Int(ctx.srv.persist.last_save.load(Relaxed) as i64)
}
