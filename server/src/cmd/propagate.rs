//! What a write command puts in the AOF, and when. `Ctx::with_keys`/`with_dbs` call
//! [`after_view`] while the command's shard locks are still held, so commands on one key reach
//! the AOF in the order they took effect. A command that changed nothing is not written; keys
//! found expired are DELs ahead of it; a handler may name its own replacement
//! (`View::propagate`: SPOP as SREM, blocking pops as plain pops); otherwise [`rewrite`] turns
//! what Redis 7.0 rewrites into its deterministic form from the state the command left behind
//! (relative expiries as absolute ones, INCRBYFLOAT as SET KEEPTTL, XADD `*` as the ID it made).
//! Inside EXEC the commands are collected and written as MULTI ... EXEC when more than one.

use super::Session;
use crate::keyspace::{Value, View};
use crate::state::Shared;
use bytes::Bytes;

/// The running command's propagation state (in its [`Session`]).
#[derive(Default)]
pub struct Prop {
    /// The command was written already (a second `with_keys` of the same command adds only
    /// what it expired).
    pub done: bool,
    /// Inside EXEC: the transaction's commands, (db, argv), written at its end.
    pub exec: Option<Vec<(usize, Vec<Bytes>)>>,
    /// The AOF offset this client's last write ended at (`appendfsync always` waits for it).
    pub offset: u64,
}

/// After a handler's view ran (locks still held): appends what it changed. `before` is the
/// locked shards' change count before it ran; `db` the command's database.
pub fn after_view(
    srv: &Shared,
    conn: &mut Session,
    argv: &[Bytes],
    v: &mut View,
    db: usize,
    before: u64,
) {
    let mut ops: Vec<Vec<Bytes>> = v
        .expired
        .iter()
        .map(|k| vec![Bytes::from_static(b"DEL"), k.clone()])
        .collect();
    let expired = ops.len() as u64;
    let own = v.changes().saturating_sub(before).saturating_sub(expired);
    let filled = v.prop.take().unwrap_or_default();
    if !filled.is_empty() {
        // Several commands for one (the XCLAIMs of XREADGROUP or XCLAIM) go as a transaction,
        // as Redis 7.0's propagatePendingCommands wraps them; inside EXEC the EXEC's own wrap does.
        let wrap = filled.len() > 1 && conn.prop.exec.is_none();
        if wrap {
            ops.push(vec![b("MULTI")]);
        }
        ops.extend(filled);
        if wrap {
            ops.push(vec![b("EXEC")]);
        }
        conn.prop.done = true;
    } else if own > 0 && !conn.prop.done {
        ops.extend(rewrite(argv, v));
        conn.prop.done = true;
    }
    if ops.is_empty() {
        return;
    }
    match conn.prop.exec.as_mut() {
        Some(tx) => tx.extend(ops.into_iter().map(|o| (db, o))),
        None => conn.prop.offset = srv.aof.append(db, &ops),
    }
}

/// EXEC's end, its locks still held: the transaction's writes, wrapped in MULTI/EXEC when
/// there are several (one is atomic alone), as Redis's `propagatePendingCommands`.
pub fn after_exec(srv: &Shared, conn: &mut Session) {
    let Some(mut ops) = conn.prop.exec.take() else {
        return;
    };
    if ops.is_empty() {
        return;
    }
    if ops.len() > 1 {
        let first_db = ops[0].0;
        let last_db = ops[ops.len() - 1].0;
        ops.insert(0, (first_db, vec![Bytes::from_static(b"MULTI")]));
        ops.push((last_db, vec![Bytes::from_static(b"EXEC")]));
    }
    conn.prop.offset = srv.aof.append_ops(&ops);
}

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

fn num(n: impl ToString) -> Bytes {
    Bytes::from(n.to_string())
}

/// The key's expiry as the AOF states it: PEXPIREAT, PERSIST, or DEL when it is gone.
fn expiry_of(v: &mut View, key: &Bytes) -> Vec<Bytes> {
    match v.peek(key).map(|e| e.expire_at()) {
        Some(Some(t)) => vec![b("PEXPIREAT"), key.clone(), num(t)],
        Some(None) => vec![b("PERSIST"), key.clone()],
        None => vec![b("DEL"), key.clone()],
    }
}

/// SET k v PXAT <ms> (or without an expiry), from what the key holds now; DEL if it is gone.
fn set_absolute(v: &mut View, key: &Bytes, keep_ttl: bool) -> Vec<Bytes> {
    match v.peek(key) {
        Some(e) => {
            let val = match &e.value {
                Value::Str(s) => s.clone(),
                _ => return vec![b("DEL"), key.clone()],
            };
            match e.expire_at() {
                _ if keep_ttl => vec![b("SET"), key.clone(), val, b("KEEPTTL")],
                Some(t) => vec![b("SET"), key.clone(), val, b("PXAT"), num(t)],
                None => vec![b("SET"), key.clone(), val],
            }
        }
        None => vec![b("DEL"), key.clone()],
    }
}

fn has_opt(args: &[Bytes], opts: &[&str]) -> bool {
    args.iter()
        .any(|a| opts.iter().any(|o| a.eq_ignore_ascii_case(o.as_bytes())))
}

/// The deterministic form of a command that changed something (see the module comment).
pub fn rewrite(args: &[Bytes], v: &mut View) -> Vec<Vec<Bytes>> {
    let name = args[0].to_ascii_lowercase();
    let key = args.get(1).cloned().unwrap_or_default();
    let one = |c: Vec<Bytes>| vec![c];
    match &name[..] {
        b"set" if has_opt(&args[3..], &["ex", "px", "exat"]) => one(set_absolute(v, &key, false)),
        b"set" if has_opt(&args[3..], &["get"]) => {
            // GET changes nothing in the file; the rest stays as given.
            let kept: Vec<Bytes> = args
                .iter()
                .filter(|a| !a.eq_ignore_ascii_case(b"get"))
                .cloned()
                .collect();
            one(kept)
        }
        b"setex" | b"psetex" => one(set_absolute(v, &key, false)),
        b"getex" if args.len() > 2 => one(expiry_of(v, &key)),
        b"expire" | b"pexpire" | b"expireat" | b"pexpireat" => one(expiry_of(v, &key)),
        b"getdel" => one(vec![b("DEL"), key]),
        b"incrbyfloat" => one(set_absolute(v, &key, true)),
        b"hincrbyfloat" => {
            let field = args.get(2).cloned().unwrap_or_default();
            let val = match v.peek(&key).map(|e| &e.value) {
                Some(Value::Hash(h)) => h.get_bytes(&field),
                _ => None,
            };
            match val {
                Some(x) => one(vec![b("HSET"), key, field, x]),
                None => one(args.to_vec()),
            }
        }
        b"blmove" => one(vec![
            b("LMOVE"),
            key,
            args[2].clone(),
            args[3].clone(),
            args[4].clone(),
        ]),
        b"brpoplpush" => one(vec![b("RPOPLPUSH"), key, args[2].clone()]),
        b"restore" => restore_absolute(args, v, &key),
        b"xadd" => xadd(args, v, &key),
        b"xtrim" => one(xtrim_exact(v, &key)),
        // Redis propagates what XREADGROUP did (its handler's XCLAIMs), never the read itself:
        // a read that only made a consumer or re-delivered history writes nothing.
        // XCLAIM and XAUTOCLAIM likewise: their effects, never the claim with its relative
        // min-idle-time, which a replay at another time would judge differently.
        b"xreadgroup" | b"xclaim" | b"xautoclaim" => Vec::new(),
        _ => one(args.to_vec()),
    }
}

/// RESTORE with a relative TTL becomes ABSTTL (Redis's `restoreCommand`); DEL if it expired.
fn restore_absolute(args: &[Bytes], v: &mut View, key: &Bytes) -> Vec<Vec<Bytes>> {
    let Some(e) = v.peek(key) else {
        return vec![vec![b("DEL"), key.clone()]];
    };
    let mut out = args.to_vec();
    if let Some(t) = e.expire_at() {
        out[2] = num(t);
        if !has_opt(&args[4..], &["absttl"]) {
            out.push(b("ABSTTL"));
        }
    }
    vec![out]
}

/// XADD with the ID it made, and its trimming as XTRIM MINID = <first ID> (what an
/// approximate or limited trim left is not what it would leave on replay).
fn xadd(args: &[Bytes], v: &mut View, key: &Bytes) -> Vec<Vec<Bytes>> {
    let mut i = 2;
    let mut trims = false;
    while i < args.len() {
        let a = &args[i];
        if a.eq_ignore_ascii_case(b"nomkstream") {
            i += 1;
        } else if a.eq_ignore_ascii_case(b"maxlen") || a.eq_ignore_ascii_case(b"minid") {
            i += 1;
            if args
                .get(i)
                .is_some_and(|x| &x[..] == b"=" || &x[..] == b"~")
            {
                i += 1;
            }
            i += 1;
            trims = true;
        } else if a.eq_ignore_ascii_case(b"limit") {
            i += 2;
        } else {
            break;
        }
    }
    let last = match v.peek(key).map(|e| &e.value) {
        Some(Value::Stream(s)) => s.last_id,
        _ => return vec![args.to_vec()],
    };
    let mut add = vec![b("XADD"), key.clone(), last.to_bytes()];
    add.extend(args.iter().skip(i + 1).cloned());
    let mut out = vec![add];
    if trims {
        out.push(xtrim_exact(v, key));
    }
    out
}

fn xtrim_exact(v: &mut View, key: &Bytes) -> Vec<Bytes> {
    match v.peek(key).map(|e| &e.value) {
        Some(Value::Stream(s)) if !s.is_empty() => vec![
            b("XTRIM"),
            key.clone(),
            b("MINID"),
            b("="),
            s.first_id().to_bytes(),
        ],
        _ => vec![b("XTRIM"), key.clone(), b("MAXLEN"), b("="), b("0")],
    }
}

/// Replays an AOF's commands at start through the normal dispatcher, as a client without a
/// connection (Redis's fake client). Errors a command answers are ignored, as Redis does; an
/// unknown command stops the load.
pub struct Replayer<'a> {
    srv: &'a Shared,
    conn: Session,
}

impl<'a> Replayer<'a> {
    pub fn new(srv: &'a Shared) -> Self {
        let mut conn = Session::new(0, crate::state::ClientHandle::detached(0));
        conn.authed = true;
        conn.replaying = true;
        Replayer { srv, conn }
    }

    /// Runs one command.
    pub fn run(&mut self, argv: &[Bytes]) -> Result<(), String> {
        if super::lookup(argv).is_err() {
            return Err(format!(
                "Unknown command '{}' reading the append only file",
                String::from_utf8_lossy(&argv[0])
            ));
        }
        if super::eq(&argv[0], "function") {
            // The base's libraries are in before a FUNCTION command changes them.
            super::script::load_saved(self.srv)?;
        }
        self.conn.clock = std::time::Instant::now();
        let _ = super::dispatch(self.srv, &mut self.conn, None, argv);
        // A blocking command finds nothing to wait for here: it did nothing.
        self.conn.block = None;
        Ok(())
    }
}
