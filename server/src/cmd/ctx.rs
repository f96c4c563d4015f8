//! What a handler runs with: [`Ctx`] (the server, its client's [`Session`], and the locks EXEC
//! holds), and the one way a handler blocks: [`block_or_timeout`] sets `Session::block`, the
//! connection layer then waits and runs the command again (`crate::connection::blocking`).

use super::CommandSpec;
use crate::keyspace::{Locked, View};
use crate::resp::Reply;
use crate::state::{BlockOn, ClientHandle, Shared};
use bytes::Bytes;
use std::collections::HashSet;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a handler sees: the server, its client's session, and (inside EXEC) the locks already held.
pub struct Ctx<'a, 'k> {
    pub srv: &'a Shared,
    pub conn: &'a mut Session,
    /// Every shard of every database, held for the whole of an EXEC.
    pub held: Option<&'a mut Locked<'k>>,
    /// The command's arguments, for the AOF.
    pub args: &'a [Bytes],
}

impl<'a, 'k> Ctx<'a, 'k> {
    /// Runs `f` with the shards of `keys` in the selected database locked.
    pub fn with_keys<K: AsRef<[u8]>, R>(
        &mut self,
        keys: &[K],
        f: impl FnOnce(&mut View) -> R,
    ) -> R {
        let db = self.conn.db;
        let srv = self.srv;
        let (r, done) = match self.held.as_deref_mut() {
            Some(l) => {
                if l.is_growable() {
                    // A script's lock set; its `redis.call` took these shards already, this
                    // only catches a key its check did not foresee.
                    let want = keys
                        .iter()
                        .map(|k| (db, crate::keyspace::shard_of(k.as_ref())));
                    l.cover(want, true);
                }
                run_view(l, db, srv, self.conn, self.args, f)
            }
            None => run_view(
                &mut srv.ks.lock_keys(db, keys),
                db,
                srv,
                self.conn,
                self.args,
                f,
            ),
        };
        self.after(done, db);
        if self.wakes_waiters() {
            for k in keys {
                self.srv.blocking.signal(db, k.as_ref());
            }
        }
        r
    }

    /// Whether this command must have the clients blocked on the keys it wrote look again
    /// once it is done: a stream deleted, replaced by another type or flushed wakes its
    /// XREADGROUP readers with an error, as Redis's `signalDeletedKeyAsReady` does; the others'
    /// re-runs find nothing and keep waiting. Only while someone waits, never for a re-run.
    fn wakes_waiters(&self) -> bool {
        self.srv.blocking.blocked() > 0
            && self.conn.rerun.is_none()
            && !self.args.is_empty()
            && super::may_write(self.args)
    }

    /// Runs `f` with one key's shard locked.
    pub fn with_key<R>(&mut self, key: &[u8], f: impl FnOnce(&mut View) -> R) -> R {
        self.with_keys(&[key], f)
    }

    /// Runs `f` with every shard of the given databases locked (KEYS, SCAN, FLUSHDB, SWAPDB, MOVE).
    pub fn with_dbs<R>(&mut self, dbs: &[usize], f: impl FnOnce(&mut View) -> R) -> R {
        let db = self.conn.db;
        let srv = self.srv;
        let (r, done) = match self.held.as_deref_mut() {
            Some(l) => {
                if l.is_growable() {
                    let shards = crate::keyspace::SHARDS;
                    let want = dbs.iter().flat_map(|&d| (0..shards).map(move |s| (d, s)));
                    l.cover(want, true);
                }
                run_view(l, db, srv, self.conn, self.args, f)
            }
            None => run_view(&mut srv.ks.lock_dbs(dbs), db, srv, self.conn, self.args, f),
        };
        self.after(done, db);
        if self.wakes_waiters() {
            for &d in dbs {
                self.srv.blocking.signal_db(d);
            }
        }
        r
    }

    /// Runs `f` with every shard of the selected database locked.
    pub fn with_db<R>(&mut self, f: impl FnOnce(&mut View) -> R) -> R {
        let db = self.conn.db;
        self.with_dbs(&[db], f)
    }

    /// Runs `f` with everything locked (FLUSHALL).
    pub fn with_all<R>(&mut self, f: impl FnOnce(&mut View) -> R) -> R {
        let all: Vec<usize> = (0..self.srv.ks.db_count()).collect();
        self.with_dbs(&all, f)
    }

    /// Bookkeeping for keys a command found expired, then the `new` events of the keys it
    /// created (in Redis's order: the lookup that expires comes before the `dbAdd`).
    fn after(&mut self, (expired, new_keys, modified): ViewDone, db: usize) {
        self.after_expired(expired, db);
        for (d, k) in new_keys {
            self.srv
                .notify_keyspace(d, crate::state::NotifyClass::New, "new", &k);
        }
        if let Some(keys) = modified.filter(|k| !k.is_empty()) {
            // Client-side caching: the one place every change reaches. A blocked client's
            // re-run is not the running client: its messages go at once.
            let defer = self.conn.rerun.is_none();
            let r = self.srv.track_route();
            self.srv
                .tracking
                .invalidate(&r, Some(self.conn.id), &keys, defer);
        }
    }

    fn after_expired(&mut self, expired: Vec<Bytes>, db: usize) {
        if expired.is_empty() {
            return;
        }
        self.srv
            .ks
            .stats
            .expired
            .fetch_add(expired.len() as u64, std::sync::atomic::Ordering::Relaxed);
        for k in expired {
            self.srv
                .notify_keyspace(db, crate::state::NotifyClass::Expired, "expired", &k);
            // A deleted key, as for Redis's `signalDeletedKeyAsReady`.
            if self.conn.rerun.is_none() {
                self.srv.blocking.signal(db, &k);
            }
        }
    }

    /// Counts a read lookup as a keyspace hit or miss (INFO stats).
    pub fn count_lookup(&self, hit: bool) {
        use std::sync::atomic::Ordering::Relaxed;
        if hit {
            self.srv.ks.stats.hits.fetch_add(1, Relaxed);
        } else {
            self.srv.ks.stats.misses.fetch_add(1, Relaxed);
        }
    }

    /// Tells clients blocked on `key` (BLPOP, BZPOPMIN, XREAD BLOCK, ...) in the selected database
    /// that it may now serve them. Every command that adds to a list, sorted set or stream, or
    /// moves a key into place, calls it.
    pub fn signal_ready(&self, key: &[u8]) {
        self.srv.signal_ready(self.conn.db, key);
    }

    /// Sends a keyspace notification for `key` in the selected database.
    pub fn notify(&self, class: crate::state::NotifyClass, event: &str, key: &[u8]) {
        self.srv.notify_keyspace(self.conn.db, class, event, key);
    }

    /// The reply of a command that removed elements from the collection at `key` (LREM, ZREM,
    /// ZREMRANGEBY*): `r` is how many went and whether the key went with them. Sends `event`
    /// when any went and `del` when the key did, then answers the count.
    pub fn removed_reply(
        &self,
        r: Result<(usize, bool), Reply>,
        class: crate::state::NotifyClass,
        event: &str,
        key: &[u8],
    ) -> Reply {
        let (n, gone) = match r {
            Ok(x) => x,
            Err(e) => return e,
        };
        if n > 0 {
            self.notify(class, event, key);
        }
        if gone {
            self.notify(crate::state::NotifyClass::Generic, "del", key);
        }
        Reply::Int(n as i64)
    }
}

/// Runs `f` on a view of `db` and hands back the keys it found expired. While the AOF is on,
/// what the command changed is appended before the locks are released (`propagate`).
/// What a view leaves for after its locks: the keys it found expired, the (db, key) it created
/// and, while tracking is active, every key it changed.
type ViewDone = (Vec<Bytes>, Vec<(usize, Bytes)>, Option<Vec<Bytes>>);

fn run_view<R>(
    l: &mut Locked,
    db: usize,
    srv: &Shared,
    conn: &mut Session,
    args: &[Bytes],
    f: impl FnOnce(&mut View) -> R,
) -> (R, ViewDone) {
    // Read under the locks: `CONFIG SET appendonly yes` turns it on under every lock, so a
    // command is either in the rewrite's snapshot or appended. The one load paid when off.
    let on = srv.aof.on();
    let before = if on { l.changes() } else { 0 };
    let mut v = l.view_at(db, conn.now_ms);
    if on {
        v.prop = Some(Vec::new());
    }
    if srv.wants_keyspace_event(crate::state::NotifyClass::New) {
        v.new_keys = Some(Vec::new());
    }
    if srv.tracking.active() {
        v.modified = Some(Vec::new());
    }
    let r = f(&mut v);
    if !conn.track_keys.is_empty() {
        // Client-side caching: the keys read join the table before these locks go, so a write
        // that follows this read finds them there and invalidates them.
        super::tracking::remember(srv, conn);
    }
    if on {
        super::propagate::after_view(srv, conn, args, &mut v, db, before);
    }
    let new_keys = v.new_keys.take().unwrap_or_default();
    let modified = v.modified.take();
    (r, (std::mem::take(&mut v.expired), new_keys, modified))
}

/// One client's own state (today's selected db, protocol, MULTI queue, subscriptions, the block
/// it asks for), owned by its connection's task; what other tasks may see of it is its
/// [`ClientHandle`].
pub struct Session {
    pub id: u64,
    pub db: usize,
    pub resp: u8,
    pub authed: bool,
    /// The AOF's replay at start: runs while clients are answered `-LOADING`.
    pub replaying: bool,
    /// A script's own client (its `redis.call`s): MONITOR shows them as `lua`, errorstats
    /// counts only the script's final reply.
    pub in_script: bool,
    pub user: String,
    /// The ACL user as read at `acl_epoch` (None once deleted), and whether it may run anything
    /// (the check is then skipped).
    pub acl_user: Option<Arc<crate::state::acl::User>>,
    pub acl_epoch: u64,
    pub acl_free: bool,
    pub handle: Arc<ClientHandle>,
    /// Close once the current reply is written (QUIT).
    pub close_after_reply: bool,
    /// Commands queued by MULTI.
    pub multi: Option<Vec<Vec<Bytes>>>,
    /// A command was refused while queuing: EXEC answers EXECABORT.
    pub multi_error: bool,
    /// WATCHed keys (db, key) and the flag a change to any of them sets.
    pub watching: Vec<(usize, Bytes)>,
    pub watch_dirty: Arc<AtomicBool>,
    pub subscriptions: HashSet<Bytes>,
    pub psubscriptions: HashSet<Bytes>,
    /// Shard channels (SSUBSCRIBE).
    pub ssubscriptions: HashSet<Bytes>,
    /// Set by a blocking command that found nothing to do yet.
    pub block: Option<BlockOn>,
    /// While the command runs again for a blocked client: the key that became ready. As in
    /// Redis, that key is served first, and keys of the wrong type are passed over.
    pub rerun: Option<Bytes>,
    /// The running command's clock (Unix ms), set by dispatch from `clock`.
    pub now_ms: u64,
    /// When the next command starts: set by the connection after each wait (a read, a flush),
    /// then each command starts where the one before it ended, so a command costs one clock read.
    pub clock: Instant,
    /// The last command without subcommands that ran: a pipeline of the same command skips the
    /// table's lookup (a case-insensitive compare instead of a hash).
    pub last_spec: Option<&'static CommandSpec>,
    /// What the running command writes to the AOF, and where this client's writes end in it.
    pub prop: super::propagate::Prop,
    /// Written after the reply to the running command: the MONITOR line of a client that
    /// monitors itself.
    pub after_reply: Option<Reply>,
    /// CLIENT REPLY's state.
    pub reply: ReplyMode,
    /// CLIENT TRACKING as the read path needs it (the rest is in `Shared::tracking`).
    pub track: super::tracking::TrackFlags,
    /// The keys the running read will add to the tracking table (`cmd::tracking::remember`).
    pub track_keys: Vec<Bytes>,
}

/// CLIENT REPLY: replies left out (OFF), or the next command's (SKIP). Pushes (pub/sub) still go,
/// as Redis's `CLIENT_PUSHING` lets them.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReplyMode {
    pub off: bool,
    /// Leave out the reply to the command running now.
    pub skip: bool,
    /// Set by CLIENT REPLY SKIP: the next command's reply is left out.
    pub skip_next: bool,
}

impl ReplyMode {
    /// Whether replies are left out now.
    pub fn silent(&self) -> bool {
        self.off || self.skip
    }

    /// After each command, as Redis's `resetClient`: a SKIP covers one command.
    pub fn command_done(&mut self) {
        self.skip = std::mem::take(&mut self.skip_next);
    }
}

impl Session {
    /// The state of a fresh connection (db 0, RESP2, not authenticated).
    pub fn new(id: u64, handle: Arc<ClientHandle>) -> Session {
        Session {
            id,
            db: 0,
            resp: 2,
            authed: false,
            replaying: false,
            in_script: false,
            user: "default".into(),
            acl_user: None,
            acl_epoch: 0,
            acl_free: false,
            handle,
            close_after_reply: false,
            multi: None,
            multi_error: false,
            watching: Vec::new(),
            watch_dirty: Arc::new(AtomicBool::new(false)),
            subscriptions: Default::default(),
            psubscriptions: Default::default(),
            ssubscriptions: Default::default(),
            block: None,
            rerun: None,
            now_ms: crate::keyspace::now_ms(),
            clock: Instant::now(),
            last_spec: None,
            prop: Default::default(),
            after_reply: None,
            reply: ReplyMode::default(),
            track: Default::default(),
            track_keys: Vec::new(),
        }
    }

    /// Whether only pub/sub commands are allowed (RESP2 with subscriptions).
    pub fn in_subscribed_context(&self) -> bool {
        self.resp == 2 && self.has_subscriptions()
    }

    /// Whether the client subscribes to anything (Redis's CLIENT_PUBSUB).
    pub fn has_subscriptions(&self) -> bool {
        !self.subscriptions.is_empty()
            || !self.psubscriptions.is_empty()
            || !self.ssubscriptions.is_empty()
    }
}

/// Parses a blocking command's timeout in seconds as Redis 7.0 does (`getTimeoutFromObjectOrReply`:
/// `string2ld`, then milliseconds rounded up): the whole argument is a C float (hex and `inf`
/// too, no leading blank, no NaN); 0 waits forever, and a value too large for its millisecond
/// count is "negative". BLPOP, BZPOPMIN, BLMPOP, BZMPOP and friends all come here.
pub fn parse_timeout_secs(b: &[u8]) -> Result<Option<Instant>, Reply> {
    const NOT_FLOAT: &str = "ERR timeout is not a float or out of range";
    if b.is_empty() || b[0].is_ascii_whitespace() {
        return Err(Reply::error(NOT_FLOAT));
    }
    let (f, range) = crate::util::num::strtod(b).ok_or(Reply::error(NOT_FLOAT))?;
    if f.is_nan() {
        return Err(Reply::error(NOT_FLOAT));
    }
    // Redis reads a long double: what under- or overflows an f64 is still a number there, so a
    // tiny one is a tiny wait and a huge one overflows the millisecond count below.
    let ms = if range && f == 0.0 && !b.starts_with(b"-") {
        1.0
    } else {
        (f * 1000.0).ceil()
    };
    // Redis converts to a C long long: out of range becomes LLONG_MIN, hence "negative".
    if !(ms > -9.223_372_036_854_776e18 && ms < 9.223_372_036_854_776e18) || ms < 0.0 {
        return Err(Reply::error("ERR timeout is negative"));
    }
    Ok(deadline_after_ms(ms as u64))
}

/// Parses a timeout in milliseconds (an integer, XREAD BLOCK style).
pub fn parse_timeout_ms(b: &[u8]) -> Result<Option<Instant>, Reply> {
    let ms = crate::util::num::parse_i64(b).ok_or(Reply::error(
        "ERR timeout is not an integer or out of range",
    ))?;
    if ms < 0 {
        return Err(Reply::error("ERR timeout is negative"));
    }
    Ok(deadline_after_ms(ms as u64))
}

fn deadline_after_ms(ms: u64) -> Option<Instant> {
    if ms == 0 {
        return None;
    }
    // Too far away to represent: the same as forever.
    Instant::now().checked_add(Duration::from_millis(ms))
}

/// Ends a blocking handler that found nothing: inside MULTI/EXEC it answers `timeout_reply` at
/// once (a transaction never blocks); otherwise it asks the connection to block.
pub fn block_or_timeout(
    ctx: &mut Ctx,
    keys: Vec<Bytes>,
    deadline: Option<Instant>,
    timeout_reply: Reply,
) -> Reply {
    if ctx.held.is_some() {
        return timeout_reply;
    }
    ctx.conn.block = Some(BlockOn {
        keys,
        deadline,
        timeout_reply,
        rerun_args: None,
    });
    Reply::Nil
}

/// Test helpers the unit tests of other modules share too.
#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    pub(crate) use crate::state::client::tests::client;

    /// An error reply with this text, to compare replies with.
    pub(crate) fn e(s: &'static str) -> Reply {
        Reply::error(s)
    }

    /// A server's shared state and a fresh connection (authenticated, db 0) to run handlers as.
    pub(crate) fn server_and_conn() -> (Arc<Shared>, Session) {
        let srv = Shared::new(crate::Config::default());
        let mut conn = Session::new(1, client(1).0);
        conn.authed = true;
        (srv, conn)
    }

    /// Runs a handler on `args` (given as text) as `conn` outside a transaction.
    pub(crate) fn run(
        srv: &Shared,
        conn: &mut Session,
        handler: fn(&mut Ctx, &[Bytes]) -> Reply,
        args: &[&str],
    ) -> Reply {
        let args: Vec<Bytes> = args.iter().map(|a| b(a)).collect();
        conn.now_ms = crate::keyspace::now_ms();
        let mut ctx = Ctx {
            srv,
            conn,
            held: None,
            args: &args,
        };
        handler(&mut ctx, &args)
    }

    /// Runs a whole command through the dispatcher (setting up what a test looks at).
    pub(crate) fn cmd(srv: &Shared, conn: &mut Session, args: &[&str]) -> Reply {
        let args: Vec<Bytes> = args.iter().map(|a| b(a)).collect();
        conn.now_ms = crate::keyspace::now_ms();
        crate::cmd::dispatch(srv, conn, None, &args)
    }

    /// A reply as RESP2 text, to compare nested replies at a glance.
    pub(crate) fn resp2(r: &Reply) -> String {
        let mut out = crate::resp::Out::new();
        out.push(r, 2);
        let mut slices = [std::io::IoSlice::new(&[]); 64];
        let n = out.slices(&mut slices);
        let bytes: Vec<u8> = slices[..n].iter().flat_map(|s| s.iter().copied()).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    pub(crate) fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn timeouts_parse_as_redis_does() {
        let err = |r: Result<Option<Instant>, Reply>| match r {
            Err(Reply::Error(e)) => e.into_owned(),
            other => panic!("expected an error, got {other:?}"),
        };
        assert_eq!(parse_timeout_secs(b"0"), Ok(None));
        assert_eq!(parse_timeout_ms(b"0"), Ok(None));
        let t0 = Instant::now();
        let d = parse_timeout_secs(b"1.5").unwrap().expect("a deadline");
        assert!(d >= t0 + Duration::from_millis(1500) && d < t0 + Duration::from_secs(60));
        let d = parse_timeout_ms(b"250").unwrap().expect("a deadline");
        assert!(d >= t0 + Duration::from_millis(250) && d < t0 + Duration::from_secs(60));
        // A fraction of a millisecond rounds up: it is not "forever".
        assert!(parse_timeout_secs(b"0.0001").unwrap().is_some());
        assert_eq!(err(parse_timeout_secs(b"-1")), "ERR timeout is negative");
        assert_eq!(err(parse_timeout_secs(b"1e300")), "ERR timeout is negative");
        assert_eq!(
            err(parse_timeout_secs(b"soon")),
            "ERR timeout is not a float or out of range"
        );
        assert_eq!(err(parse_timeout_ms(b"-5")), "ERR timeout is negative");
        assert_eq!(
            err(parse_timeout_ms(b"1.5")),
            "ERR timeout is not an integer or out of range"
        );
    }
}
