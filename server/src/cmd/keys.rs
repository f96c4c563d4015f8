//! Generic key commands: existence, expiry, renaming, iteration, databases.

use super::{eq, glob_match, help_reply, int, syntax, text, CommandSpec, Ctx, Flags, ERR_NO_KEY};
use crate::keyspace::{Value, SHARDS};
use crate::resp::Reply;
use crate::state::NotifyClass;
use crate::{command, container, subcommand};
use bytes::Bytes;

const W: Flags = Flags::WRITE;
const WF: Flags = Flags::WRITE.union(Flags::FAST);
const RF: Flags = Flags::READONLY.union(Flags::FAST);
const R: Flags = Flags::READONLY;
/// ACL categories beyond those the flags imply (see `CommandSpec::acl_categories`).
const ACL: &[&str] = &["keyspace"];

/// The generic keyspace family.
pub static COMMANDS: &[CommandSpec] = &[
    command!("del", -2, W, (1, -1, 1), "generic", "1.0.0", ACL, del, "Deletes one or more keys."),
    command!("unlink", -2, WF, (1, -1, 1), "generic", "4.0.0", ACL, del, "Asynchronously deletes one or more keys."),
    command!("exists", -2, RF, (1, -1, 1), "generic", "1.0.0", ACL, exists, "Determines whether one or more keys exist."),
    command!("type", 2, RF, (1, 1, 1), "generic", "1.0.0", ACL, type_cmd, "Determines the type of value stored at a key."),
    command!("expire", -3, WF, (1, 1, 1), "generic", "1.0.0", ACL, expire, "Sets the expiration time of a key in seconds."),
    command!("pexpire", -3, WF, (1, 1, 1), "generic", "2.6.0", ACL, pexpire, "Sets the expiration time of a key in milliseconds."),
    command!("expireat", -3, WF, (1, 1, 1), "generic", "1.2.0", ACL, expireat, "Sets the expiration time of a key to a Unix timestamp."),
    command!("pexpireat", -3, WF, (1, 1, 1), "generic", "2.6.0", ACL, pexpireat, "Sets the expiration time of a key to a Unix milliseconds timestamp."),
    command!("ttl", 2, RF, (1, 1, 1), "generic", "1.0.0", ACL, ttl, "Returns the expiration time in seconds of a key."),
    command!("pttl", 2, RF, (1, 1, 1), "generic", "2.6.0", ACL, pttl, "Returns the expiration time in milliseconds of a key."),
    command!("expiretime", 2, RF, (1, 1, 1), "generic", "7.0.0", ACL, expiretime, "Returns the expiration time of a key as a Unix timestamp."),
    command!("pexpiretime", 2, RF, (1, 1, 1), "generic", "7.0.0", ACL, pexpiretime, "Returns the expiration time of a key as a Unix milliseconds timestamp."),
    command!("persist", 2, WF, (1, 1, 1), "generic", "2.2.0", ACL, persist, "Removes the expiration time of a key."),
    command!("keys", 2, R, (0, 0, 0), "generic", "1.0.0", &["keyspace", "dangerous"], keys, "Returns all key names that match a pattern."),
    command!("scan", -2, R, (0, 0, 0), "generic", "2.8.0", ACL, scan, "Iterates over the key names in the database."),
    command!("rename", 3, W, (1, 2, 1), "generic", "1.0.0", ACL, rename, "Renames a key and overwrites the destination."),
    command!("renamenx", 3, WF, (1, 2, 1), "generic", "1.0.0", ACL, renamenx, "Renames a key only when the target key name doesn't exist."),
    command!("randomkey", 1, R, (0, 0, 0), "generic", "1.0.0", ACL, randomkey, "Returns a random key name from the database."),
    command!("dbsize", 1, RF, (0, 0, 0), "server", "1.0.0", ACL, dbsize, "Returns the number of keys in the database."),
    command!("flushdb", -1, W, (0, 0, 0), "server", "1.0.0", &["keyspace", "dangerous"], flushdb, "Remove all keys from the current database."),
    command!("flushall", -1, W, (0, 0, 0), "server", "1.0.0", &["keyspace", "dangerous"], flushall, "Removes all keys from all databases."),
    command!("select", 2, Flags::LOADING.union(Flags::STALE).union(Flags::FAST), (0, 0, 0), "connection", "1.0.0", &["connection"], select, "Changes the selected database."),
    command!("swapdb", 3, WF, (0, 0, 0), "server", "4.0.0", &["keyspace", "dangerous"], swapdb, "Swaps two Redis databases."),
    command!("move", 3, WF, (1, 1, 1), "generic", "1.0.0", ACL, move_cmd, "Moves a key to another database."),
    command!("copy", -3, Flags::WRITE.union(Flags::DENYOOM), (1, 2, 1), "generic", "6.2.0", ACL, copy, "Copies the value of a key to a new key."),
    command!("touch", -2, RF, (1, -1, 1), "generic", "3.2.1", ACL, touch, "Returns the number of existing keys out of those specified after updating the time they were last accessed."),
    container!("object", -2, Flags::empty(), "generic", "2.2.3", OBJECT_SUBS, "A container for object introspection commands."),
];

static OBJECT_SUBS: &[CommandSpec] = &[
    subcommand!(
        "object",
        "encoding",
        3,
        R,
        (2, 2, 1),
        "2.2.3",
        ACL,
        object_encoding,
        "Returns the internal encoding of a Redis object."
    ),
    subcommand!(
        "object",
        "freq",
        3,
        R,
        (2, 2, 1),
        "4.0.0",
        ACL,
        object_freq,
        "Returns the logarithmic access frequency counter of a Redis object."
    ),
    subcommand!(
        "object",
        "idletime",
        3,
        R,
        (2, 2, 1),
        "2.2.3",
        ACL,
        object_idletime,
        "Returns the time since the last access to a Redis object."
    ),
    subcommand!(
        "object",
        "refcount",
        3,
        R,
        (2, 2, 1),
        "2.2.3",
        ACL,
        object_refcount,
        "Returns the reference count of a value of a key."
    ),
    subcommand!(
        "object",
        "help",
        2,
        Flags::LOADING.union(Flags::STALE),
        (0, 0, 0),
        "6.2.0",
        &["keyspace"],
        object_help,
        "Returns helpful text about the different subcommands."
    ),
];

fn del(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let keys = &a[1..];
    let gone: Vec<Bytes> = ctx.with_keys(keys, |v| {
        keys.iter().filter(|k| v.delete(k)).cloned().collect()
    });
    for k in &gone {
        ctx.notify(NotifyClass::Generic, "del", k);
    }
    Reply::Int(gone.len() as i64)
}

fn exists(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let keys = &a[1..];
    Reply::Int(ctx.with_keys(keys, |v| keys.iter().filter(|k| v.exists(k)).count()) as i64)
}

fn type_cmd(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let t = ctx.with_key(&a[1], |v| v.peek(&a[1]).map(|e| e.value.type_name()));
    Reply::simple(t.unwrap_or("none"))
}

/// EXPIRE and friends: `unit_ms` for the P forms, `absolute` for the AT forms.
fn expire_generic(ctx: &mut Ctx, a: &[Bytes], unit_ms: bool, absolute: bool) -> Reply {
    let name = text(&a[0]).to_ascii_lowercase();
    let n = match int(&a[2]) {
        Ok(n) => n,
        Err(e) => return e,
    };
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for o in &a[3..] {
        if eq(o, "nx") {
            nx = true;
        } else if eq(o, "xx") {
            xx = true;
        } else if eq(o, "gt") {
            gt = true;
        } else if eq(o, "lt") {
            lt = true;
        } else {
            return Reply::error(format!("ERR Unsupported option {}", text(o)));
        }
    }
    if nx && (xx || gt || lt) {
        return Reply::error("ERR NX and XX, GT or LT options at the same time are not compatible");
    }
    if gt && lt {
        return Reply::error("ERR GT and LT options at the same time are not compatible");
    }
    let invalid = || Reply::error(format!("ERR invalid expire time in '{name}' command"));
    let key = &a[1];
    let r = ctx.with_key(key, |v| {
        let now = v.now() as i64;
        let ms = if unit_ms {
            Some(n)
        } else {
            n.checked_mul(1000)
        };
        let when = match ms {
            Some(ms) if absolute => Some(ms),
            Some(ms) => ms.checked_add(now),
            None => None,
        };
        let Some(when) = when else {
            return Err(invalid());
        };
        let Some(e) = v.peek(key) else { return Ok(0) };
        let cur = e.expire_at();
        if nx && cur.is_some() || xx && cur.is_none() {
            return Ok(0);
        }
        if gt && cur.is_none_or(|c| when <= c as i64) {
            return Ok(0);
        }
        if lt && cur.is_some_and(|c| when >= c as i64) {
            return Ok(0);
        }
        if when <= now {
            v.delete(key);
            return Ok(2);
        }
        v.set_expire(key, Some(when as u64));
        Ok(1)
    });
    match r {
        Ok(2) => {
            ctx.notify(NotifyClass::Generic, "del", key);
            Reply::Int(1)
        }
        Ok(1) => {
            ctx.notify(NotifyClass::Generic, "expire", key);
            Reply::Int(1)
        }
        Ok(n) => Reply::Int(n),
        Err(e) => e,
    }
}

fn expire(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    expire_generic(ctx, a, false, false)
}
fn pexpire(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    expire_generic(ctx, a, true, false)
}
fn expireat(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    expire_generic(ctx, a, false, true)
}
fn pexpireat(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    expire_generic(ctx, a, true, true)
}

/// (exists, expire time, now) of a key, without counting an access.
fn expiry_of(ctx: &mut Ctx, key: &[u8]) -> Option<(Option<u64>, u64)> {
    ctx.with_key(key, |v| {
        let now = v.now();
        v.peek(key).map(|e| (e.expire_at(), now))
    })
}

fn ttl_generic(ctx: &mut Ctx, key: &[u8], f: impl Fn(u64, u64) -> i64) -> Reply {
    match expiry_of(ctx, key) {
        None => Reply::Int(-2),
        Some((None, _)) => Reply::Int(-1),
        Some((Some(t), now)) => Reply::Int(f(t, now)),
    }
}

fn ttl(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    ttl_generic(ctx, &a[1], |t, now| {
        ((t.saturating_sub(now) + 500) / 1000) as i64
    })
}
fn pttl(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    ttl_generic(ctx, &a[1], |t, now| t.saturating_sub(now) as i64)
}
fn expiretime(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    ttl_generic(ctx, &a[1], |t, _| (t / 1000) as i64)
}
fn pexpiretime(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    ttl_generic(ctx, &a[1], |t, _| t as i64)
}

fn persist(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let key = &a[1];
    let done = ctx.with_key(key, |v| {
        if v.peek(key).is_some_and(|e| e.expire_at().is_some()) {
            v.set_expire(key, None)
        } else {
            false
        }
    });
    if done {
        ctx.notify(NotifyClass::Generic, "persist", key);
    }
    Reply::Int(done as i64)
}

fn keys(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let pat = &a[1];
    let all = pat.as_ref() == b"*";
    let found = ctx.with_db(|v| v.keys());
    Reply::bulks(
        found
            .into_iter()
            .filter(|k| all || glob_match(pat, k, false)),
    )
}

/// SCAN's cursor is the next shard to visit: every key present for the whole iteration is
/// returned exactly once, whatever happens to the others meanwhile.
fn scan(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let cursor = match super::coll::parse_cursor(&a[1]) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let mut pattern: Option<&Bytes> = None;
    let mut count: usize = 10;
    let mut typ: Option<String> = None;
    let mut i = 2;
    while i < a.len() {
        if i + 1 >= a.len() {
            return syntax();
        }
        if eq(&a[i], "match") {
            // "*" skips the matching, as in Redis: so it also returns the empty key, which the
            // glob `*` does not match.
            pattern = (a[i + 1].as_ref() != b"*").then_some(&a[i + 1]);
        } else if eq(&a[i], "count") {
            match int(&a[i + 1]) {
                Ok(c) if c >= 1 => count = c as usize,
                Ok(_) => return syntax(),
                Err(e) => return e,
            }
        } else if eq(&a[i], "type") {
            typ = Some(text(&a[i + 1]).to_ascii_lowercase());
        } else {
            return syntax();
        }
        i += 2;
    }
    let mut shard = cursor as usize;
    let mut out = Vec::new();
    if shard < SHARDS {
        ctx.with_db(|v| {
            while shard < SHARDS && out.len() < count {
                out.extend(v.shard_keys(shard, |k, e| {
                    pattern.is_none_or(|p| glob_match(p, k, false))
                        && typ.as_deref().is_none_or(|t| t == e.value.type_name())
                }));
                shard += 1;
            }
        });
    } else {
        shard = SHARDS;
    }
    let next = if shard >= SHARDS { 0 } else { shard };
    Reply::Array(vec![
        Reply::bulk(Bytes::from(next.to_string())),
        Reply::bulks(out),
    ])
}

fn rename_generic(ctx: &mut Ctx, a: &[Bytes], nx: bool) -> Reply {
    let (src, dst) = (&a[1], &a[2]);
    let r = ctx.with_keys(&[src, dst], |v| {
        if v.peek(src).is_none() {
            return Err(Reply::error(ERR_NO_KEY));
        }
        if src == dst {
            return Ok(if nx { 0 } else { 1 });
        }
        if nx && v.exists(dst) {
            return Ok(0);
        }
        let Some(e) = v.remove(src) else {
            return Err(Reply::error(ERR_NO_KEY));
        };
        let ttl = e.expire_at();
        // Redis deletes the destination and adds the key anew: a `new` event even over one.
        v.delete(dst);
        v.set(dst, e.value, ttl);
        Ok(1)
    });
    match r {
        Ok(n) => {
            if n == 1 && src != dst {
                ctx.notify(NotifyClass::Generic, "rename_from", src);
                ctx.notify(NotifyClass::Generic, "rename_to", dst);
                ctx.signal_ready(dst);
            }
            if nx {
                Reply::Int(n)
            } else {
                Reply::Ok
            }
        }
        Err(e) => e,
    }
}

fn rename(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    rename_generic(ctx, a, false)
}
fn renamenx(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    rename_generic(ctx, a, true)
}

fn randomkey(ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    Reply::opt_bulk(ctx.with_db(|v| v.random_key()))
}

fn dbsize(ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    Reply::Int(ctx.with_db(|v| v.dbsize()) as i64)
}

/// Whether a FLUSHDB/FLUSHALL is ASYNC: said so, or `lazyfree-lazy-user-flush` without a mode
/// (Redis's `getFlushCommandFlags`). Large values are freed off the worker either way.
fn flush_mode(ctx: &Ctx, a: &[Bytes]) -> Result<bool, Reply> {
    match a.len() {
        1 => Ok(ctx
            .srv
            .config()
            .get(crate::config::params::LAZYFREE_LAZY_USER_FLUSH)),
        2 if eq(&a[1], "async") => Ok(true),
        2 if eq(&a[1], "sync") => Ok(false),
        _ => Err(syntax()),
    }
}

fn flushdb(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let lazy = match flush_mode(ctx, a) {
        Ok(l) => l,
        Err(e) => return e,
    };
    let db = ctx.conn.db;
    ctx.with_db(|v| v.flush_with(db, lazy));
    flushed(ctx);
    Reply::Ok
}

/// Tracking clients learn that every key is invalid (Redis's `signalFlushedDb`).
fn flushed(ctx: &Ctx) {
    let r = ctx.srv.track_route();
    let defer = ctx.conn.rerun.is_none();
    ctx.srv.tracking.flush(&r, Some(ctx.conn.id), defer);
}

fn flushall(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let lazy = match flush_mode(ctx, a) {
        Ok(l) => l,
        Err(e) => return e,
    };
    let n = ctx.srv.ks.db_count();
    ctx.with_all(|v| {
        for db in 0..n {
            v.flush_with(db, lazy);
        }
    });
    flushed(ctx);
    Reply::Ok
}

/// Parses a database index, with Redis's errors.
pub fn db_index(ctx: &Ctx, raw: &[u8]) -> Result<usize, Reply> {
    let i = int(raw)?;
    if i < 0 || i as usize >= ctx.srv.ks.db_count() {
        return Err(Reply::error("ERR DB index is out of range"));
    }
    Ok(i as usize)
}

fn select(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    match db_index(ctx, &a[1]) {
        Ok(db) => {
            ctx.conn.db = db;
            ctx.conn
                .handle
                .db
                .store(db, std::sync::atomic::Ordering::Relaxed);
            Reply::Ok
        }
        Err(e) => e,
    }
}

fn swapdb(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let n = ctx.srv.ks.db_count() as i64;
    let x = match crate::util::num::parse_i64(&a[1]) {
        Some(x) => x,
        None => return Reply::error("ERR invalid first DB index"),
    };
    let y = match crate::util::num::parse_i64(&a[2]) {
        Some(y) => y,
        None => return Reply::error("ERR invalid second DB index"),
    };
    if x < 0 || x >= n || y < 0 || y >= n {
        return Reply::error("ERR DB index is out of range");
    }
    let (x, y) = (x as usize, y as usize);
    ctx.with_dbs(&[x, y], |v| v.swap_dbs(x, y));
    // Keys clients wait on may now hold something, as after Redis's SWAPDB.
    ctx.srv.blocking.signal_db(x);
    ctx.srv.blocking.signal_db(y);
    Reply::Ok
}

fn move_cmd(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let dst = match db_index(ctx, &a[2]) {
        Ok(d) => d,
        Err(e) => return e,
    };
    let src = ctx.conn.db;
    if src == dst {
        return Reply::error("ERR source and destination objects are the same");
    }
    let key = &a[1];
    let moved = ctx.with_dbs(&[src, dst], |v| {
        if v.peek(key).is_none() || v.peek_in(dst, key).is_some() {
            return false;
        }
        match v.remove(key) {
            Some(e) => {
                let ttl = e.expire_at();
                v.set_in(dst, key, e.value, ttl);
                true
            }
            None => false,
        }
    });
    if moved {
        ctx.notify(NotifyClass::Generic, "move_from", key);
        ctx.srv
            .notify_keyspace(dst, NotifyClass::Generic, "move_to", key);
        ctx.srv.signal_ready(dst, key);
    }
    Reply::Int(moved as i64)
}

fn copy(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let (src, dst) = (&a[1], &a[2]);
    let src_db = ctx.conn.db;
    let mut dst_db = src_db;
    let mut replace = false;
    let mut i = 3;
    while i < a.len() {
        if eq(&a[i], "replace") {
            replace = true;
        } else if eq(&a[i], "db") && i + 1 < a.len() {
            match db_index(ctx, &a[i + 1]) {
                Ok(d) => dst_db = d,
                Err(e) => return e,
            }
            i += 1;
        } else {
            return syntax();
        }
        i += 1;
    }
    if src_db == dst_db && src == dst {
        return Reply::error("ERR source and destination objects are the same");
    }
    let done = ctx.with_dbs(&[src_db, dst_db], |v| {
        let Some(e) = v.peek(src) else { return false };
        let (val, ttl) = (e.value.clone(), e.expire_at());
        if v.peek_in(dst_db, dst).is_some() {
            if !replace {
                return false;
            }
            if let Some(e) = v.remove_in(dst_db, dst) {
                crate::keyspace::lazyfree::free_entry(e);
            }
        }
        v.set_in(dst_db, dst, val, ttl);
        true
    });
    if done {
        ctx.srv
            .notify_keyspace(dst_db, NotifyClass::Generic, "copy_to", dst);
        ctx.srv.signal_ready(dst_db, dst);
    }
    Reply::Int(done as i64)
}

fn touch(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let keys = &a[1..];
    Reply::Int(ctx.with_keys(keys, |v| keys.iter().filter(|k| v.get(k).is_some()).count()) as i64)
}

fn object_encoding(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let enc = ctx.with_key(&a[2], |v| {
        v.peek(&a[2]).map(|e| e.value.encoding(e.str_hint))
    });
    match enc {
        Some(e) => Reply::bulk(Bytes::from_static(e.as_bytes())),
        None => Reply::Nil,
    }
}

fn lfu_policy(ctx: &Ctx) -> bool {
    use crate::config::{params, Policy};
    matches!(
        ctx.srv.config().get(params::MAXMEMORY_POLICY),
        Policy::AllKeysLfu | Policy::VolatileLfu
    )
}

fn object_freq(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let f = ctx.with_key(&a[2], |v| v.peek(&a[2]).map(|e| e.freq));
    let Some(f) = f else { return Reply::Nil };
    if !lfu_policy(ctx) {
        return Reply::error("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.");
    }
    Reply::Int(f as i64)
}

fn object_idletime(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let r = ctx.with_key(&a[2], |v| {
        let now = (v.now() / 1000) as u32;
        v.peek(&a[2]).map(|e| now.saturating_sub(e.last_access))
    });
    let Some(idle) = r else { return Reply::Nil };
    if lfu_policy(ctx) {
        return Reply::error("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.");
    }
    Reply::Int(idle as i64)
}

fn object_refcount(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let r = ctx.with_key(&a[2], |v| {
        v.peek(&a[2]).map(|e| match &e.value {
            // Redis shares the integers 0..9999 between keys.
            Value::Str(b) => match crate::util::num::parse_i64(b) {
                Some(n) if (0..10000).contains(&n) => i32::MAX as i64,
                _ => 1,
            },
            _ => 1,
        })
    });
    r.map_or(Reply::Nil, Reply::Int)
}

fn object_help(_ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    help_reply(
        "OBJECT",
        &[
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>. The returned integer is",
            "    proportional to the logarithm of the recent access frequency of the key.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>, that is the approximated number of",
            "    seconds elapsed since the last access to the key.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::ctx::tests::{cmd, e, resp2, run, server_and_conn};
    use crate::cmd::Session as Conn;

    #[test]
    fn expire_options_nx_xx_gt_lt() {
        let (srv, mut c) = server_and_conn();
        let srv = &*srv;
        cmd(srv, &mut c, &["SET", "k", "v"]);
        let ex = |c: &mut Conn, args: &[&str]| {
            let mut a = vec!["EXPIRE", "k"];
            a.extend_from_slice(args);
            run(srv, c, expire, &a)
        };
        // No TTL yet: XX refuses, GT refuses (no TTL counts as forever), NX sets.
        assert_eq!(ex(&mut c, &["100", "XX"]), Reply::Int(0));
        assert_eq!(ex(&mut c, &["100", "GT"]), Reply::Int(0));
        assert_eq!(ex(&mut c, &["100", "NX"]), Reply::Int(1));
        assert_eq!(ex(&mut c, &["200", "NX"]), Reply::Int(0));
        // GT only lengthens, LT only shortens; options are case-insensitive.
        assert_eq!(ex(&mut c, &["50", "gt"]), Reply::Int(0));
        assert_eq!(ex(&mut c, &["500", "GT", "xx"]), Reply::Int(1));
        assert_eq!(ex(&mut c, &["1000", "LT"]), Reply::Int(0));
        assert_eq!(ex(&mut c, &["10", "lt"]), Reply::Int(1));
        assert_eq!(run(srv, &mut c, ttl, &["TTL", "k"]), Reply::Int(10));
        assert_eq!(
            ex(&mut c, &["10", "NX", "XX"]),
            e("ERR NX and XX, GT or LT options at the same time are not compatible")
        );
        assert_eq!(
            ex(&mut c, &["10", "NX", "GT"]),
            e("ERR NX and XX, GT or LT options at the same time are not compatible")
        );
        assert_eq!(
            ex(&mut c, &["10", "GT", "LT"]),
            e("ERR GT and LT options at the same time are not compatible")
        );
        assert_eq!(
            ex(&mut c, &["10", "SOON"]),
            Reply::error("ERR Unsupported option SOON")
        );
        assert_eq!(
            ex(&mut c, &["ten"]),
            e("ERR value is not an integer or out of range")
        );
        // Seconds that overflow as milliseconds are refused, naming the command.
        assert_eq!(
            ex(&mut c, &["9223372036854775807"]),
            Reply::error("ERR invalid expire time in 'expire' command")
        );
        assert_eq!(
            run(
                srv,
                &mut c,
                pexpire,
                &["PEXPIRE", "k", "9223372036854775807"]
            ),
            Reply::error("ERR invalid expire time in 'pexpire' command")
        );
        assert_eq!(
            run(srv, &mut c, ttl, &["TTL", "k"]),
            Reply::Int(10),
            "refusals left the TTL alone"
        );
        // A missing key is not set; a time in the past deletes.
        assert_eq!(
            run(srv, &mut c, expire, &["EXPIRE", "nope", "10"]),
            Reply::Int(0)
        );
        assert_eq!(ex(&mut c, &["-1"]), Reply::Int(1));
        assert_eq!(run(srv, &mut c, ttl, &["TTL", "k"]), Reply::Int(-2));
    }

    #[test]
    fn absolute_and_millisecond_forms() {
        let (srv, mut c) = server_and_conn();
        let srv = &*srv;
        cmd(srv, &mut c, &["SET", "k", "v"]);
        let at = crate::keyspace::now_ms() + 100_000;
        let at_s = at.to_string();
        assert_eq!(
            run(srv, &mut c, pexpireat, &["PEXPIREAT", "k", &at_s]),
            Reply::Int(1)
        );
        assert_eq!(
            run(srv, &mut c, pexpiretime, &["PEXPIRETIME", "k"]),
            Reply::Int(at as i64)
        );
        assert_eq!(
            run(srv, &mut c, expiretime, &["EXPIRETIME", "k"]),
            Reply::Int((at / 1000) as i64)
        );
        let Reply::Int(left) = run(srv, &mut c, pttl, &["PTTL", "k"]) else {
            panic!("PTTL")
        };
        assert!((90_000..=100_000).contains(&left), "{left}");
        assert_eq!(run(srv, &mut c, persist, &["PERSIST", "k"]), Reply::Int(1));
        assert_eq!(run(srv, &mut c, persist, &["PERSIST", "k"]), Reply::Int(0));
        assert_eq!(run(srv, &mut c, ttl, &["TTL", "k"]), Reply::Int(-1));
        // EXPIREAT in the past (1 s after the epoch) deletes.
        assert_eq!(
            run(srv, &mut c, expireat, &["EXPIREAT", "k", "1"]),
            Reply::Int(1)
        );
        assert_eq!(run(srv, &mut c, exists, &["EXISTS", "k"]), Reply::Int(0));
    }

    #[test]
    fn flush_modes_and_database_indexes() {
        let (srv, mut c) = server_and_conn();
        let srv = &*srv;
        for ok in [
            &["FLUSHDB"][..],
            &["FLUSHDB", "ASYNC"],
            &["FLUSHDB", "sync"],
        ] {
            assert_eq!(run(srv, &mut c, flushdb, ok), Reply::Ok, "{ok:?}");
        }
        for bad in [&["FLUSHALL", "now"][..], &["FLUSHALL", "ASYNC", "SYNC"]] {
            assert_eq!(
                run(srv, &mut c, flushall, bad),
                e("ERR syntax error"),
                "{bad:?}"
            );
        }
        let last = (srv.ks.db_count() - 1).to_string();
        let past = srv.ks.db_count().to_string();
        assert_eq!(run(srv, &mut c, select, &["SELECT", &last]), Reply::Ok);
        assert_eq!(c.db, srv.ks.db_count() - 1);
        for bad in [past.as_str(), "-1"] {
            assert_eq!(
                run(srv, &mut c, select, &["SELECT", bad]),
                e("ERR DB index is out of range")
            );
        }
        assert_eq!(
            run(srv, &mut c, select, &["SELECT", "one"]),
            e("ERR value is not an integer or out of range")
        );
        assert_eq!(
            run(srv, &mut c, swapdb, &["SWAPDB", "a", "1"]),
            e("ERR invalid first DB index")
        );
        assert_eq!(
            run(srv, &mut c, swapdb, &["SWAPDB", "0", "b"]),
            e("ERR invalid second DB index")
        );
        assert_eq!(
            run(srv, &mut c, swapdb, &["SWAPDB", "0", &past]),
            e("ERR DB index is out of range")
        );
        assert_eq!(
            run(srv, &mut c, move_cmd, &["MOVE", "k", &last]),
            e("ERR source and destination objects are the same")
        );
    }

    #[test]
    fn copy_options() {
        let (srv, mut c) = server_and_conn();
        let srv = &*srv;
        cmd(srv, &mut c, &["SET", "a", "1"]);
        cmd(srv, &mut c, &["SET", "b", "2"]);
        let mut cp = |args: &[&str]| {
            let mut a = vec!["COPY"];
            a.extend_from_slice(args);
            run(srv, &mut c, copy, &a)
        };
        assert_eq!(
            cp(&["a", "a"]),
            e("ERR source and destination objects are the same")
        );
        assert_eq!(cp(&["a", "b", "REPLACE", "x"]), e("ERR syntax error"));
        assert_eq!(cp(&["a", "b", "DB"]), e("ERR syntax error"));
        assert_eq!(
            cp(&["a", "b", "DB", "99"]),
            e("ERR DB index is out of range")
        );
        assert_eq!(cp(&["a", "b"]), Reply::Int(0), "b exists");
        assert_eq!(cp(&["nope", "c"]), Reply::Int(0));
        assert_eq!(cp(&["a", "b", "replace"]), Reply::Int(1));
        assert_eq!(cp(&["a", "a", "db", "1"]), Reply::Int(1));
        assert_eq!(resp2(&cmd(srv, &mut c, &["GET", "b"])), "$1\r\n1\r\n");
        c.db = 1;
        assert_eq!(resp2(&cmd(srv, &mut c, &["GET", "a"])), "$1\r\n1\r\n");
    }

    /// SCAN without MATCH (the glob is tested with the glob code): options, COUNT, TYPE, and a
    /// full iteration returning every key once and ending at cursor 0.
    #[test]
    fn scan_options_and_a_full_iteration() {
        let (srv, mut c) = server_and_conn();
        let srv = &*srv;
        for i in 0..60 {
            cmd(srv, &mut c, &["SET", &format!("s{i}"), "v"]);
        }
        for i in 0..3 {
            cmd(srv, &mut c, &["RPUSH", &format!("l{i}"), "v"]);
        }
        for bad in [
            &["SCAN", "0", "COUNT", "0"][..],
            &["SCAN", "0", "COUNT"],
            &["SCAN", "0", "SIZE", "1"],
        ] {
            assert_eq!(
                run(srv, &mut c, scan, bad),
                e("ERR syntax error"),
                "{bad:?}"
            );
        }
        assert_eq!(
            run(srv, &mut c, scan, &["SCAN", "x"]),
            e("ERR invalid cursor")
        );
        let full = |c: &mut Conn, extra: &[&str]| {
            let mut cursor = "0".to_string();
            let mut keys = Vec::new();
            let mut calls = 0;
            loop {
                let mut a = vec!["SCAN", cursor.as_str()];
                a.extend_from_slice(extra);
                let Reply::Array(r) = run(srv, c, scan, &a) else {
                    panic!("SCAN reply")
                };
                let (Reply::Bulk(next), Reply::Array(found)) = (&r[0], &r[1]) else {
                    panic!("SCAN reply")
                };
                keys.extend(found.iter().map(resp2));
                cursor = String::from_utf8_lossy(next).into_owned();
                calls += 1;
                assert!(calls <= 100, "SCAN never ends");
                if cursor == "0" {
                    return (keys, calls);
                }
            }
        };
        let (mut all, calls) = full(&mut c, &["COUNT", "5"]);
        assert!(calls > 1, "COUNT 5 took {calls} call(s) for 63 keys");
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!((n, all.len()), (63, 63), "every key exactly once");
        let (mut lists, _) = full(&mut c, &["TYPE", "LIST"]);
        lists.sort();
        assert_eq!(lists, ["$2\r\nl0\r\n", "$2\r\nl1\r\n", "$2\r\nl2\r\n"]);
        // One call with a COUNT above the key count sees the whole keyspace.
        assert_eq!(full(&mut c, &["COUNT", "1000"]).1, 1);
    }
}
