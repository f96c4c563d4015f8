//! Clients blocked on keys (BLPOP, BLMOVE, BZPOPMIN, XREAD BLOCK, ...).
//!
//! A blocking command that finds nothing sets `Conn::block`; its connection then registers a
//! waiter here, queued FIFO on each of its keys. A command that may feed a key calls
//! `Shared::signal_ready`, which only marks the key ready. Once that command is done (after the
//! whole EXEC for a transaction), its connection calls [`serve_ready`], which re-runs the blocked
//! commands of the ready keys' waiters in FIFO order, on their behalf, and hands each reply to its
//! waiter. So, as in Redis, a pushed element goes to the client blocked first before the pusher's
//! next command runs. A re-run that still finds nothing leaves the waiter where it was in every
//! queue, keeping its turn.

use crate::cmd::{self, Ctx};
use crate::resp::Reply;
use crate::server::Conn;
use crate::state::{BlockOn, ClientHandle, Shared};
use bytes::Bytes;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// One blocked client.
struct Slot {
    db: usize,
    keys: Vec<Bytes>,
    args: Vec<Bytes>,
    resp: u8,
    handle: Arc<ClientHandle>,
    block: BlockOn,
    /// Its command is being re-run by some connection right now.
    running: bool,
    /// The reply that ends the wait, once there is one.
    result: Option<Reply>,
    notify: Arc<Notify>,
}

#[derive(Default)]
struct Inner {
    /// (db, key) → waiting client ids, first blocked first.
    queues: HashMap<(usize, Bytes), VecDeque<u64>>,
    slots: HashMap<u64, Slot>,
    /// Keys signalled since the last `serve_ready`, in signal order.
    ready: VecDeque<(usize, Bytes)>,
    ready_set: HashSet<(usize, Bytes)>,
}

impl Inner {
    fn unqueue(&mut self, id: u64) {
        let Some(s) = self.slots.get(&id) else {
            return;
        };
        for k in &s.keys {
            let qk = (s.db, k.clone());
            if let Some(q) = self.queues.get_mut(&qk) {
                q.retain(|x| *x != id);
                if q.is_empty() {
                    self.queues.remove(&qk);
                }
            }
        }
    }

    /// Ends a wait with `reply`: out of every queue, the reply left for the waiter to take.
    fn finish(&mut self, id: u64, reply: Reply) {
        self.unqueue(id);
        if let Some(s) = self.slots.get_mut(&id) {
            s.running = false;
            s.result = Some(reply);
            s.notify.notify_one();
        }
    }
}

/// The registry of blocked clients.
#[derive(Default)]
pub struct Blocking {
    inner: Mutex<Inner>,
    /// Registered waiters: pushes skip the lock entirely while nobody waits.
    waiters: AtomicUsize,
    has_ready: AtomicBool,
}

impl Blocking {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Number of clients blocked now (INFO `blocked_clients`).
    pub fn blocked(&self) -> usize {
        self.waiters.load(Relaxed)
    }

    /// Whether client `id` waits in a blocking command (CLIENT LIST flag `b`).
    pub fn is_blocked(&self, id: u64) -> bool {
        self.waiters.load(Relaxed) > 0 && self.lock().slots.contains_key(&id)
    }

    /// Marks `key` ready if someone waits on it (`Shared::signal_ready`).
    pub fn signal(&self, db: usize, key: &[u8]) {
        if self.waiters.load(Relaxed) == 0 {
            return;
        }
        let mut g = self.lock();
        let k = (db, Bytes::copy_from_slice(key));
        if g.queues.contains_key(&k) && g.ready_set.insert(k.clone()) {
            g.ready.push_back(k);
            self.has_ready.store(true, Relaxed);
        }
    }

    /// Marks every key someone waits on in `db` ready (SWAPDB brought in a new database).
    pub fn signal_db(&self, db: usize) {
        if self.waiters.load(Relaxed) == 0 {
            return;
        }
        let mut g = self.lock();
        let keys: Vec<(usize, Bytes)> = g.queues.keys().filter(|k| k.0 == db).cloned().collect();
        for k in keys {
            if g.ready_set.insert(k.clone()) {
                g.ready.push_back(k);
                self.has_ready.store(true, Relaxed);
            }
        }
    }

    /// Queues a client behind the others waiting on its keys.
    fn register(&self, conn: &Conn, args: &[Bytes], block: BlockOn) -> Arc<Notify> {
        let notify = Arc::new(Notify::new());
        let mut g = self.lock();
        for k in &block.keys {
            let q = g.queues.entry((conn.db, k.clone())).or_default();
            if !q.contains(&conn.id) {
                q.push_back(conn.id);
            }
        }
        g.slots.insert(
            conn.id,
            Slot {
                db: conn.db,
                keys: block.keys.clone(),
                // XREAD's `$` stays what it meant at the first call.
                args: block.rerun_args.clone().unwrap_or_else(|| args.to_vec()),
                resp: conn.resp,
                handle: conn.handle.clone(),
                block,
                running: false,
                result: None,
                notify: notify.clone(),
            },
        );
        self.waiters.fetch_add(1, Relaxed);
        notify
    }

    /// Forgets a client's wait, if it has one (its connection is closing).
    pub fn forget(&self, id: u64) {
        if self.waiters.load(Relaxed) > 0 {
            self.remove(id);
        }
    }

    /// Forgets a waiter; returns its result if it had one.
    fn remove(&self, id: u64) -> Option<Reply> {
        let mut g = self.lock();
        g.unqueue(id);
        let s = g.slots.remove(&id)?;
        self.waiters.fetch_sub(1, Relaxed);
        s.result
    }

    /// The waiter's result, if its wait is over (the waiter is then forgotten).
    fn take_result(&self, id: u64) -> Option<Reply> {
        let mut g = self.lock();
        g.slots.get(&id)?.result.as_ref()?;
        let s = g.slots.remove(&id)?;
        self.waiters.fetch_sub(1, Relaxed);
        s.result
    }

    /// The deadline passed: ends the wait with the timeout reply, unless a re-run is under way
    /// (it then decides, and times the client out itself if it finds nothing).
    fn expire(&self, id: u64) -> bool {
        let mut g = self.lock();
        let Some(s) = g.slots.get(&id) else {
            return true;
        };
        if s.running || s.result.is_some() {
            return s.result.is_some();
        }
        let r = s.block.timeout_reply.clone();
        g.finish(id, r);
        true
    }

    /// CLIENT UNBLOCK: ends a client's wait with its timeout reply or with `error`. Returns
    /// whether the client was blocked.
    pub fn unblock(&self, id: u64, error: Option<Reply>) -> bool {
        let mut g = self.lock();
        let Some(s) = g.slots.get(&id) else {
            return false;
        };
        if s.running || s.result.is_some() {
            return false;
        }
        let r = error.unwrap_or_else(|| s.block.timeout_reply.clone());
        g.finish(id, r);
        true
    }

    fn pop_ready(&self) -> Option<((usize, Bytes), Vec<u64>)> {
        let mut g = self.lock();
        loop {
            let Some(k) = g.ready.pop_front() else {
                self.has_ready.store(false, Relaxed);
                return None;
            };
            g.ready_set.remove(&k);
            if let Some(q) = g.queues.get(&k) {
                let ids: Vec<u64> = q.iter().copied().collect();
                return Some((k, ids));
            }
        }
    }
}

/// What a re-run needs to act as the blocked client.
struct Job {
    db: usize,
    args: Vec<Bytes>,
    resp: u8,
    handle: Arc<ClientHandle>,
    deadline: Option<Instant>,
    timeout_reply: Reply,
}

/// Serves the clients blocked on keys signalled ready, first blocked first. Called by a
/// connection after each command it ran (not inside EXEC: the transaction's locks are gone).
pub fn serve_ready(srv: &Shared) {
    let b = &srv.blocking;
    if !b.has_ready.load(Relaxed) {
        return;
    }
    while let Some(((db, key), ids)) = b.pop_ready() {
        for id in ids {
            let job = {
                let mut g = b.lock();
                let Some(s) = g.slots.get_mut(&id) else {
                    continue;
                };
                if s.running || s.result.is_some() {
                    continue;
                }
                s.running = true;
                Job {
                    db: s.db,
                    args: s.args.clone(),
                    resp: s.resp,
                    handle: s.handle.clone(),
                    deadline: s.block.deadline,
                    timeout_reply: s.block.timeout_reply.clone(),
                }
            };
            let (reply, blocked_again) = rerun(srv, id, &job, &key);
            let mut g = b.lock();
            if !g.slots.contains_key(&id) {
                continue; // The client went away meanwhile.
            }
            if !blocked_again {
                g.finish(id, reply);
                continue;
            }
            if job.deadline.is_some_and(|d| d <= Instant::now()) {
                g.finish(id, job.timeout_reply);
                continue;
            }
            if let Some(s) = g.slots.get_mut(&id) {
                s.running = false;
            }
            drop(g);
            // Nothing for this client: if the key is gone, nothing for the ones after it either
            // (a stream stays, and its readers may each want different entries).
            let exists = srv.ks.lock_keys(db, &[&key]).view(db).exists(&key);
            if !exists {
                break;
            }
        }
    }
}

/// Runs a blocked client's command again as that client. Returns the reply and whether it
/// would block again.
fn rerun(srv: &Shared, id: u64, job: &Job, ready: &Bytes) -> (Reply, bool) {
    let mut conn = Conn::new(id, job.handle.clone());
    conn.db = job.db;
    conn.resp = job.resp;
    conn.authed = true;
    conn.rerun = Some(ready.clone());
    let reply = match cmd::lookup(&job.args) {
        Ok(spec) => {
            let mut ctx = Ctx {
                srv,
                conn: &mut conn,
                held: None,
            };
            (spec.handler)(&mut ctx, &job.args)
        }
        Err(e) => e,
    };
    let again = conn.block.is_some();
    (reply, again)
}

/// How a blocked client's wait ended.
pub enum Outcome {
    /// Send this reply and go on with the next request.
    Reply(Reply),
    /// The connection must close (killed, disconnected, server stopping).
    Close,
}

/// What the connection's wait loop must watch besides the registry.
pub struct WaitIo<'a> {
    pub rd: &'a mut tokio::net::tcp::OwnedReadHalf,
    pub parser: &'a mut crate::resp::RequestParser,
    pub push_rx: &'a mut tokio::sync::mpsc::UnboundedReceiver<Reply>,
    pub wr: &'a mut tokio::net::tcp::OwnedWriteHalf,
    pub out: &'a mut crate::resp::Out,
    pub stop: &'a mut tokio::sync::watch::Receiver<bool>,
}

/// Blocks the connection until its command can be served, it times out, it is unblocked or
/// killed, the client disconnects, or the server stops. Requests the client sends meanwhile are
/// read but, as in Redis, not run until the wait is over.
pub async fn wait(
    srv: &Shared,
    conn: &mut Conn,
    args: &[Bytes],
    block: BlockOn,
    io: WaitIo<'_>,
) -> std::io::Result<Outcome> {
    use tokio::io::AsyncReadExt;
    let id = conn.id;
    let mut deadline = block.deadline;
    let keys = block.keys.clone();
    let notify = srv.blocking.register(conn, args, block);
    // A push may have landed between the handler's look and the registration: look again, as
    // a signalled waiter would (this also serves anyone queued before us first).
    for k in &keys {
        srv.blocking.signal(conn.db, k);
    }
    serve_ready(srv);
    let outcome = loop {
        if let Some(r) = srv.blocking.take_result(id) {
            break Outcome::Reply(r);
        }
        if conn.handle.killed.load(Relaxed) || *io.stop.borrow() {
            break Outcome::Close;
        }
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = notify.notified() => {}
            _ = sleep => {
                if !srv.blocking.expire(id) {
                    // A re-run is deciding; it times us out itself if it finds nothing.
                    deadline = None;
                }
            }
            _ = conn.handle.kill.notified() => break Outcome::Close,
            _ = io.stop.changed() => break Outcome::Close,
            n = io.rd.read_buf(io.parser.read_target()) => {
                match n {
                    Ok(0) | Err(_) => break Outcome::Close,
                    Ok(n) => {
                        srv.stats.net_input_bytes.fetch_add(n as u64, Relaxed);
                        if io.parser.pending_bytes() as u64 > srv.limits().query_buffer {
                            break Outcome::Close;
                        }
                    }
                }
            }
            Some(msg) = io.push_rx.recv() => {
                io.out.push(&msg, conn.resp);
                crate::connection::flush(io.wr, io.out, srv).await?;
            }
        }
    };
    match outcome {
        Outcome::Close => {
            srv.blocking.remove(id);
            Ok(Outcome::Close)
        }
        Outcome::Reply(r) => Ok(Outcome::Reply(r)),
    }
}

/// Parses a blocking command's timeout in seconds (a float) as Redis 7.0 does: milliseconds are
/// rounded up, 0 waits forever, and a value too large for its millisecond count is "negative".
pub fn parse_timeout_secs(b: &[u8]) -> Result<Option<Instant>, Reply> {
    let f = crate::cmd::parse_float(b)
        .ok_or(Reply::error("ERR timeout is not a float or out of range"))?;
    let ms = (f * 1000.0).ceil();
    // Redis converts to a C long long: out of range becomes LLONG_MIN, hence "negative".
    if !(ms > -9.223_372_036_854_776e18 && ms < 9.223_372_036_854_776e18) || ms < 0.0 {
        return Err(Reply::error("ERR timeout is negative"));
    }
    Ok(deadline_after_ms(ms as u64))
}

/// Parses a timeout in milliseconds (an integer, XREAD BLOCK style).
pub fn parse_timeout_ms(b: &[u8]) -> Result<Option<Instant>, Reply> {
    let ms = crate::resp::parse_i64(b).ok_or(Reply::error(
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

    /// A client's handle, as a connection registers it, and the queue its pushes arrive on.
    pub(crate) fn client(
        id: u64,
    ) -> (
        Arc<ClientHandle>,
        tokio::sync::mpsc::UnboundedReceiver<Reply>,
    ) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        // A port of its own, so CLIENT KILL <addr> can tell clients apart.
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 10_000 + id as u16));
        let h = Arc::new(ClientHandle {
            id,
            addr,
            laddr: addr,
            created: Instant::now(),
            name: Default::default(),
            lib_name: Default::default(),
            lib_ver: Default::default(),
            db: Default::default(),
            resp: Default::default(),
            last_cmd: Default::default(),
            last_interaction: Default::default(),
            killed: Default::default(),
            kill: Default::default(),
            omem: Default::default(),
            qbuf: Default::default(),
            subs: Default::default(),
            psubs: Default::default(),
            multi: Default::default(),
            obuf_soft_since: Default::default(),
            push: tx,
        });
        (h, rx)
    }

    /// A server's shared state and a fresh connection (authenticated, db 0) to run handlers as.
    pub(crate) fn server_and_conn() -> (Arc<Shared>, Conn) {
        let srv = Shared::new(crate::Config::default());
        let mut conn = Conn::new(1, client(1).0);
        conn.authed = true;
        (srv, conn)
    }

    /// Runs a handler on `args` (given as text) as `conn` outside a transaction.
    pub(crate) fn run(
        srv: &Shared,
        conn: &mut Conn,
        handler: fn(&mut Ctx, &[Bytes]) -> Reply,
        args: &[&str],
    ) -> Reply {
        let args: Vec<Bytes> = args.iter().map(|a| b(a)).collect();
        conn.now_ms = crate::keyspace::now_ms();
        let mut ctx = Ctx {
            srv,
            conn,
            held: None,
        };
        handler(&mut ctx, &args)
    }

    /// Runs a whole command through the dispatcher (setting up what a test looks at).
    pub(crate) fn cmd(srv: &Shared, conn: &mut Conn, args: &[&str]) -> Reply {
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

    pub(crate) fn handle(id: u64) -> Arc<ClientHandle> {
        client(id).0
    }

    pub(crate) fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    /// Registers client `id` in `db` as blocked on `keys` (BLPOP-like, timeout reply nil).
    fn block(reg: &Blocking, id: u64, db: usize, keys: &[&str]) {
        let mut conn = Conn::new(id, handle(id));
        conn.db = db;
        let keys: Vec<Bytes> = keys.iter().map(|k| b(k)).collect();
        let mut args = vec![b("BLPOP")];
        args.extend(keys.iter().cloned());
        args.push(b("0"));
        let on = BlockOn {
            keys,
            deadline: None,
            timeout_reply: Reply::NilArray,
            rerun_args: None,
        };
        reg.register(&conn, &args, on);
    }

    #[test]
    fn ready_keys_come_in_signal_order_with_waiters_first_blocked_first() {
        let reg = Blocking::default();
        block(&reg, 5, 0, &["a", "b"]);
        block(&reg, 2, 0, &["b"]);
        block(&reg, 9, 0, &["a", "b"]);
        block(&reg, 7, 1, &["a"]);
        assert_eq!(reg.blocked(), 4);
        assert!(reg.is_blocked(2) && !reg.is_blocked(3));
        // Keys nobody waits on (here: in db 2) are not marked; a key signalled twice is ready once.
        reg.signal(2, b"a");
        reg.signal(0, b"b");
        reg.signal(0, b"a");
        reg.signal(0, b"b");
        assert_eq!(reg.pop_ready(), Some(((0, b("b")), vec![5, 2, 9])));
        assert_eq!(reg.pop_ready(), Some(((0, b("a")), vec![5, 9])));
        assert_eq!(reg.pop_ready(), None);
        reg.signal_db(1);
        assert_eq!(reg.pop_ready(), Some(((1, b("a")), vec![7])));
        assert_eq!(reg.pop_ready(), None);
    }

    #[test]
    fn an_ended_wait_leaves_every_queue_and_keeps_its_reply() {
        let reg = Blocking::default();
        for id in [1, 2, 3] {
            block(&reg, id, 0, &["k", "j"]);
        }
        // CLIENT UNBLOCK with an error, and a timeout: both replies wait for their client.
        assert!(reg.unblock(2, Some(Reply::error("UNBLOCKED by test"))));
        assert!(!reg.unblock(2, None), "already unblocked");
        assert!(!reg.unblock(42, None), "never blocked");
        assert!(reg.expire(3));
        reg.signal(0, b"j");
        assert_eq!(reg.pop_ready(), Some(((0, b("j")), vec![1])));
        assert_eq!(reg.take_result(1), None, "still waiting");
        assert_eq!(reg.take_result(2), Some(Reply::error("UNBLOCKED by test")));
        assert_eq!(reg.take_result(3), Some(Reply::NilArray));
        assert_eq!(reg.blocked(), 1);
        // A client that goes away is forgotten, and so are the queues it was alone in.
        reg.forget(1);
        assert_eq!(reg.blocked(), 0);
        assert!(reg.lock().queues.is_empty() && reg.lock().slots.is_empty());
        reg.signal(0, b"k");
        assert_eq!(reg.pop_ready(), None);
    }

    #[test]
    fn a_rerun_in_progress_is_not_timed_out_or_unblocked() {
        let reg = Blocking::default();
        block(&reg, 1, 0, &["k"]);
        reg.lock().slots.get_mut(&1).expect("slot").running = true;
        assert!(!reg.expire(1));
        assert!(!reg.unblock(1, None));
        assert_eq!(reg.blocked(), 1);
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
