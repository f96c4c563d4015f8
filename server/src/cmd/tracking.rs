//! CLIENT TRACKING, CACHING, GETREDIR and TRACKINGINFO (Redis 7.0's `networking.c`), and the
//! command layer's part of client-side caching: the keys a tracking client reads join the
//! table (`before_command`, then `remember` while the read's shards are still locked, so a
//! write that follows the read always finds them); after a top-level command, the messages due
//! go out (`finish`). The table and the messages are `crate::state::tracking`'s.

use super::{eq, syntax, CommandSpec, Ctx, Flags, Session};
use crate::resp::Reply;
use crate::state::tracking::Mode;
use crate::state::Shared;
use bytes::Bytes;

/// What the read path needs of a client's tracking, kept in its session (no lock to read).
#[derive(Debug, Default, Clone, Copy)]
pub struct TrackFlags {
    pub on: bool,
    pub bcast: bool,
    pub optin: bool,
    pub optout: bool,
    /// CLIENT CACHING YES (OPTIN) or NO (OPTOUT) given for the next command or transaction.
    pub caching: bool,
}

/// CLIENT TRACKING ON|OFF [REDIRECT id] [BCAST] [PREFIX p ...] [OPTIN] [OPTOUT] [NOLOOP].
pub(super) fn client_tracking(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let mut mode = Mode::default();
    let mut prefixes: Vec<Bytes> = Vec::new();
    let mut j = 3;
    while j < a.len() {
        let more = j + 1 < a.len();
        let o = &a[j];
        if eq(o, "redirect") && more {
            j += 1;
            if mode.redirect != 0 {
                return Reply::error("ERR A client can only redirect to a single other client");
            }
            let Some(id) = crate::util::num::parse_i64(&a[j]) else {
                return Reply::error("ERR value is not an integer or out of range");
            };
            // Checked now, though it may go later (then messages are "broken").
            if id <= 0 || ctx.srv.clients.get(id as u64).is_none() {
                return Reply::error("ERR The client ID you want redirect to does not exist");
            }
            mode.redirect = id as u64;
        } else if eq(o, "bcast") {
            mode.bcast = true;
        } else if eq(o, "optin") {
            mode.optin = true;
        } else if eq(o, "optout") {
            mode.optout = true;
        } else if eq(o, "noloop") {
            mode.noloop = true;
        } else if eq(o, "prefix") && more {
            j += 1;
            prefixes.push(a[j].clone());
        } else {
            return syntax();
        }
        j += 1;
    }
    let t = ctx.conn.track;
    if eq(&a[2], "on") {
        if !mode.bcast && !prefixes.is_empty() {
            return Reply::error("ERR PREFIX option requires BCAST mode to be enabled");
        }
        if t.on && t.bcast != mode.bcast {
            return Reply::error("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.");
        }
        if mode.bcast && (mode.optin || mode.optout) {
            return Reply::error("ERR OPTIN and OPTOUT are not compatible with BCAST");
        }
        if mode.optin && mode.optout {
            return Reply::error("ERR You can't specify both OPTIN mode and OPTOUT mode");
        }
        if (mode.optin && t.optout) || (mode.optout && t.optin) {
            return Reply::error("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.");
        }
        if mode.bcast {
            if let Some(e) = ctx.srv.tracking.prefix_collision(ctx.conn.id, &prefixes) {
                return Reply::error(e);
            }
        }
        ctx.conn.track = TrackFlags {
            on: true,
            bcast: mode.bcast,
            optin: mode.optin,
            optout: mode.optout,
            caching: t.caching,
        };
        ctx.srv.tracking.enable(ctx.conn.id, mode, &prefixes);
    } else if eq(&a[2], "off") {
        disable(ctx.srv, ctx.conn);
    } else {
        return syntax();
    }
    Reply::Ok
}

/// Turns tracking off for a client (CLIENT TRACKING OFF, RESET).
pub fn disable(srv: &Shared, conn: &mut Session) {
    conn.track = TrackFlags::default();
    srv.tracking.disable(conn.id);
}

/// CLIENT CACHING YES|NO.
pub(super) fn client_caching(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let t = ctx.conn.track;
    if !t.on {
        return Reply::error("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled");
    }
    if eq(&a[2], "yes") {
        if !t.optin {
            return Reply::error(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            );
        }
    } else if eq(&a[2], "no") {
        if !t.optout {
            return Reply::error(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            );
        }
    } else {
        return syntax();
    }
    ctx.conn.track.caching = true;
    Reply::Ok
}

/// CLIENT GETREDIR: the redirect target, 0 for none, -1 when not tracking.
pub(super) fn client_getredir(ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    match ctx.srv.tracking.mode(ctx.conn.id) {
        Some(m) => Reply::Int(m.redirect as i64),
        None => Reply::Int(-1),
    }
}

/// CLIENT TRACKINGINFO.
pub(super) fn client_trackinginfo(ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    let t = ctx.conn.track;
    let mode = ctx.srv.tracking.mode(ctx.conn.id);
    let s = |x: &'static str| Reply::bulk(Bytes::from_static(x.as_bytes()));
    let mut flags = vec![s(if t.on { "on" } else { "off" })];
    if let Some(m) = &mode {
        if m.bcast {
            flags.push(s("bcast"));
        }
        if m.optin {
            flags.push(s("optin"));
            if t.caching {
                flags.push(s("caching-yes"));
            }
        }
        if m.optout {
            flags.push(s("optout"));
            if t.caching {
                flags.push(s("caching-no"));
            }
        }
        if m.noloop {
            flags.push(s("noloop"));
        }
        if m.broken_redirect {
            flags.push(s("broken_redirect"));
        }
    }
    let redirect = mode.as_ref().map_or(-1, |m| m.redirect as i64);
    let prefixes = mode.map_or_else(Vec::new, |m| {
        m.prefixes.into_iter().map(Reply::Bulk).collect()
    });
    Reply::Map(vec![
        (s("flags"), Reply::Set(flags)),
        (s("redirect"), Reply::Int(redirect)),
        (s("prefixes"), Reply::Array(prefixes)),
    ])
}

/// CLIENT LIST's tracking flags (`t`, `R` broken redirect, `B` bcast) and `redir` of client `id`.
pub(crate) fn list_fields(srv: &Shared, id: u64) -> (String, i64) {
    match srv.tracking.mode(id) {
        None => (String::new(), -1),
        Some(m) => {
            let mut f = String::from("t");
            if m.broken_redirect {
                f.push('R');
            }
            if m.bcast {
                f.push('B');
            }
            (f, m.redirect as i64)
        }
    }
}

/// Before a command runs: the keys a tracking client's read will put in the table (Redis's
/// `trackingRememberKeys` after `call`), unless OPTIN without CACHING YES, OPTOUT with CACHING
/// NO, or BCAST. They are added by [`remember`] under the read's locks.
pub(super) fn before_command(conn: &mut Session, spec: &CommandSpec, args: &[Bytes]) {
    let t = conn.track;
    if t.bcast
        || !spec.flags.contains(Flags::READONLY)
        || spec.flags.contains(Flags::PUBSUB)
        || (t.optin && !t.caching)
        || (t.optout && t.caching)
        // A read-only script's reads are its own commands' (Redis's exceptions in `call`).
        || matches!(spec.name, "eval_ro" | "evalsha_ro" | "fcall_ro")
    {
        return;
    }
    conn.track_keys = super::keyspec::find(spec, args)
        .iter()
        .filter_map(|&(i, _)| args.get(i).cloned())
        .collect();
}

/// Adds the keys `before_command` found to the table (from `run_view`, under the locks).
pub fn remember(srv: &Shared, conn: &mut Session) {
    let keys = std::mem::take(&mut conn.track_keys);
    srv.tracking.remember(conn.id, keys.iter().map(|k| &k[..]));
}

/// After a top-level command: what tracking has for this client goes after its reply, the
/// BCAST messages to everyone; CACHING lasts one command, or up to EXEC (Redis's
/// `resetClient`), and never ends at a CLIENT command.
pub(super) fn finish(srv: &Shared, conn: &mut Session, args: &[Bytes]) {
    if conn.multi.is_none() && !args.first().is_some_and(|c| eq(c, "client")) {
        conn.track.caching = false;
    }
    let own = srv.tracking.finish(&srv.track_route(), conn.id);
    if own.is_empty() {
        return;
    }
    conn.after_reply = Some(match conn.after_reply.take() {
        None if own.len() == 1 => own.into_iter().next().unwrap_or(Reply::Nil),
        None => Reply::Seq(own),
        Some(Reply::Seq(mut v)) => {
            v.extend(own);
            Reply::Seq(v)
        }
        Some(r) => Reply::Seq(std::iter::once(r).chain(own).collect()),
    });
}

/// Before a top-level command: the table kept within `tracking-table-max-keys`.
pub(super) fn limit(srv: &Shared) {
    let max = srv
        .config()
        .get(crate::config::params::TRACKING_TABLE_MAX_KEYS);
    srv.tracking.limit(&srv.track_route(), max as usize);
}
