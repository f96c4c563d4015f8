//! Persistence commands: SAVE, BGSAVE, DUMP, RESTORE; the save SHUTDOWN does; and the two
//! refusals persistence imposes before dispatch (`-MISCONF`, `-LOADING`). The file work is in
//! [`crate::persist`]; these handlers only parse, call it and reply.

use super::{eq, int, syntax, CommandSpec, Ctx, Flags};
use crate::command;
use crate::config::params;
use crate::persist::{self, rdb};
use crate::resp::Reply;
use crate::state::{NotifyClass, Shared};
use bytes::Bytes;

const SAVE_FLAGS: Flags = Flags::ADMIN
    .union(Flags::NOSCRIPT)
    .union(Flags::NO_ASYNC_LOADING)
    .union(Flags::NO_MULTI);

/// The persistence family.
pub static COMMANDS: &[CommandSpec] = &[
    command!(
        "save",
        1,
        SAVE_FLAGS,
        (0, 0, 0),
        "server",
        "1.0.0",
        &["dangerous"],
        save,
        "Synchronously saves the database(s) to disk."
    ),
    command!(
        "bgsave",
        -1,
        Flags::ADMIN
            .union(Flags::NOSCRIPT)
            .union(Flags::NO_ASYNC_LOADING),
        (0, 0, 0),
        "server",
        "1.0.0",
        &["dangerous"],
        bgsave,
        "Asynchronously saves the database(s) to disk."
    ),
    command!(
        "bgrewriteaof",
        1,
        Flags::ADMIN
            .union(Flags::NOSCRIPT)
            .union(Flags::NO_ASYNC_LOADING),
        (0, 0, 0),
        "server",
        "1.0.0",
        &["dangerous"],
        bgrewriteaof,
        "Asynchronously rewrites the append-only file to disk."
    ),
    command!(
        "dump",
        2,
        Flags::READONLY,
        (1, 1, 1),
        "generic",
        "2.6.0",
        &["keyspace"],
        dump,
        "Returns a serialized representation of the value stored at a key."
    ),
    command!(
        "restore",
        -4,
        Flags::WRITE.union(Flags::DENYOOM),
        (1, 1, 1),
        "generic",
        "2.6.0",
        &["keyspace", "dangerous"],
        restore,
        "Creates a key from the serialized representation of a value."
    ),
];

/// Redis's `shared.bgsaveerr`.
pub const MISCONF: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently \
unable to persist to disk. Commands that may modify the data set are disabled, because this \
instance is configured to report errors during writes if RDB snapshotting fails \
(stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB \
error.";

/// Redis's `shared.loadingerr`.
pub const LOADING: &str = "LOADING Redis is loading the dataset in memory";

/// Redis's `writeCommandsDeniedByDiskError` as `processCommand` applies it: after a failed
/// background save, with `stop-writes-on-bgsave-error yes` and `save` rules set, write commands
/// (EXEC of a queued write included) and PING are refused until a save succeeds.
pub fn disk_error(
    srv: &Shared,
    spec: &CommandSpec,
    queued: Option<&[Vec<Bytes>]>,
) -> Option<&'static str> {
    use std::sync::atomic::Ordering::Relaxed;
    if srv.persist.last_ok.load(Relaxed) || !srv.config().get(params::STOP_WRITES_ON_BGSAVE_ERROR) {
        return None;
    }
    if srv.config().get(params::SAVE).trim().is_empty() {
        return None;
    }
    let write = spec.flags.contains(Flags::WRITE)
        || (spec.name == "exec"
            && queued.is_some_and(|q| {
                q.iter()
                    .any(|a| super::lookup(a).is_ok_and(|s| s.flags.contains(Flags::WRITE)))
            }));
    let ping = spec.name == "ping" && spec.parent.is_none();
    (write || ping).then_some(MISCONF)
}

/// `-LOADING` while the dataset is loaded at start, for every command without the `loading` flag.
pub fn loading_error(srv: &Shared, spec: &CommandSpec) -> Option<&'static str> {
    (srv.persist.loading.is_active() && !spec.flags.contains(Flags::LOADING)).then_some(LOADING)
}

/// Saves the keyspace to `dir/dbfilename` now; the error Redis answers if that fails.
pub fn save_now(ctx: &Ctx) -> Result<(), Reply> {
    let settings = persist::Settings::from_config(ctx.srv.config());
    match persist::save(&ctx.srv.ks, &ctx.srv.persist, &settings) {
        Ok(_) => Ok(()),
        Err(persist::SaveError::InProgress) => {
            Err(Reply::error("ERR Background save already in progress"))
        }
        Err(_) => Err(Reply::error("ERR")),
    }
}

fn save(ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    match save_now(ctx) {
        Ok(()) => Reply::Ok,
        Err(e) => e,
    }
}

/// BGSAVE [SCHEDULE]: with no AOF rewrite to wait for, SCHEDULE starts at once as Redis does.
fn bgsave(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    if a.len() > 2 || (a.len() == 2 && !eq(&a[1], "schedule")) {
        return syntax();
    }
    if ctx
        .srv
        .persist
        .saving
        .load(std::sync::atomic::Ordering::Relaxed)
    {
        return Reply::error("ERR Background save already in progress");
    }
    if ctx
        .srv
        .aof
        .rewriting
        .load(std::sync::atomic::Ordering::Relaxed)
    {
        // One snapshot at a time, as Redis has one child at a time.
        if a.len() == 2 {
            ctx.srv
                .persist
                .scheduled
                .store(true, std::sync::atomic::Ordering::Relaxed);
            return Reply::simple("Background saving scheduled");
        }
        return Reply::error(
            "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.",
        );
    }
    if ctx.held.is_some() {
        // Inside EXEC every shard is held: the copy is taken on the next tick, after EXEC.
        ctx.srv
            .persist
            .scheduled
            .store(true, std::sync::atomic::Ordering::Relaxed);
        return Reply::simple("Background saving scheduled");
    }
    let settings = persist::Settings::from_config(ctx.srv.config());
    match persist::bgsave(&ctx.srv.ks, &ctx.srv.persist, settings) {
        Ok(()) => Reply::simple("Background saving started"),
        Err(persist::SaveError::InProgress) => {
            Reply::error("ERR Background save already in progress")
        }
        Err(_) => Reply::error("ERR"),
    }
}

/// BGREWRITEAOF, with Redis's replies: scheduled (started on the next tick) while a BGSAVE
/// runs or inside EXEC, whose locks the rewrite's snapshot cannot take.
fn bgrewriteaof(ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    use std::sync::atomic::Ordering::Relaxed;
    let aof = &ctx.srv.aof;
    if aof.rewriting.load(Relaxed) {
        return Reply::error("ERR Background append only file rewriting already in progress");
    }
    if ctx.held.is_some() || ctx.srv.persist.saving.load(Relaxed) {
        aof.rewrite_scheduled.store(true, Relaxed);
        return Reply::simple("Background append only file rewriting scheduled");
    }
    let s = persist::aof::AofSettings::from_config(ctx.srv.config());
    match aof.rewrite(&ctx.srv.ks, s, aof.on()) {
        Ok(()) => Reply::simple("Background append only file rewriting started"),
        Err(persist::aof::AofError::InProgress) => {
            Reply::error("ERR Background append only file rewriting already in progress")
        }
        // A BGSAVE began since the check above: as then, the rewrite waits for it.
        Err(persist::aof::AofError::SaveInProgress) => {
            aof.rewrite_scheduled.store(true, Relaxed);
            Reply::simple("Background append only file rewriting scheduled")
        }
        Err(e) => {
            tracing::warn!("{e}");
            Reply::error(
                "ERR Can't execute an AOF background rewriting. Please check the server logs for more information.",
            )
        }
    }
}

fn dump(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let key = &a[1];
    match ctx.with_key(key, |v| v.get(key).map(|e| rdb::dump_payload(&e.value))) {
        Some(p) => Reply::bulk(Bytes::from(p)),
        None => Reply::Nil,
    }
}

/// RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f], checked in Redis's order.
fn restore(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq): (Option<u64>, Option<u8>) = (None, None);
    let mut j = 4;
    while j < a.len() {
        let more = j + 1 < a.len();
        if eq(&a[j], "replace") {
            replace = true;
        } else if eq(&a[j], "absttl") {
            absttl = true;
        } else if eq(&a[j], "idletime") && more && freq.is_none() {
            match int(&a[j + 1]) {
                Ok(n) if n < 0 => return Reply::error("ERR Invalid IDLETIME value, must be >= 0"),
                Ok(n) => idle = Some(n as u64),
                Err(e) => return e,
            }
            j += 1;
        } else if eq(&a[j], "freq") && more && idle.is_none() {
            match int(&a[j + 1]) {
                Ok(n) if (0..=255).contains(&n) => freq = Some(n as u8),
                Ok(_) => return Reply::error("ERR Invalid FREQ value, must be >= 0 and <= 255"),
                Err(e) => return e,
            }
            j += 1;
        } else {
            return syntax();
        }
        j += 1;
    }
    let key = &a[1];
    if !replace && ctx.with_key(key, |v| v.exists(key)) {
        return Reply::error("BUSYKEY Target key name already exists.");
    }
    let ttl = match int(&a[2]) {
        Ok(t) if t < 0 => return Reply::error("ERR Invalid TTL value, must be >= 0"),
        Ok(t) => t as u64,
        Err(e) => return e,
    };
    let limits = persist::Settings::from_config(ctx.srv.config()).limits;
    let value = match rdb::restore_payload(&a[3], &limits) {
        Ok(v) if !persist::is_empty(&v) => v,
        Ok(_) | Err(rdb::RestoreError::Bad(_)) => return Reply::error("ERR Bad data format"),
        Err(rdb::RestoreError::Footer) => {
            return Reply::error("ERR DUMP payload version or checksum are wrong")
        }
    };
    let (deleted, created) = ctx.with_key(key, |v| {
        let deleted = replace && v.delete(key);
        let at = match ttl {
            0 => None,
            t if absttl => Some(t),
            t => Some(t.saturating_add(v.now())),
        };
        if at.is_some_and(|t| t <= v.now()) {
            return (deleted, false);
        }
        v.set_restored(key, value, at, idle, freq);
        (deleted, true)
    });
    if created {
        ctx.notify(NotifyClass::Generic, "restore", key);
        ctx.signal_ready(key);
    } else if deleted {
        ctx.notify(NotifyClass::Generic, "del", key);
    }
    Reply::Ok
}
