//! Client-side caching (CLIENT TRACKING), as Redis 7.0's `tracking.c`: which clients read which
//! keys, the prefixes BCAST clients registered, and the invalidation messages a change sends.
//!
//! - The table maps a key name (whatever its database, as Redis's) to the ids of the clients
//!   that read it; a change to the key sends each of them one invalidation and forgets them.
//! - BCAST clients register prefixes instead: every changed key under a prefix is gathered, and
//!   [`Tracking::finish`] sends them, once the command (or transaction, or script) is done.
//! - A message for the client whose command made the change waits until its reply is written
//!   ([`Tracking::finish`] hands it back), as Redis's `tracking_pending_keys`.
//!
//! Who calls: the command layer remembers keys after a read (`remember`), passes the keys each
//! command changed (`invalidate`), flushes (`flush`); the expiry and eviction paths of
//! [`crate::state::Shared`] pass theirs. While no client tracks and the table is empty,
//! [`Tracking::active`] (one relaxed load) is all the read and write paths pay.

use super::client::{ClientHandle, Clients};
use super::pubsub::{push_cost, PubSub};
use crate::resp::Reply;
use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard};

/// One client's tracking settings (CLIENT TRACKING ON's options).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mode {
    /// The client that gets this one's messages (0: itself).
    pub redirect: u64,
    pub bcast: bool,
    pub optin: bool,
    pub optout: bool,
    pub noloop: bool,
    /// The redirect target was gone when a message was due (CLIENT LIST flag `R`).
    pub broken_redirect: bool,
    /// BCAST prefixes, sorted (the empty prefix when none was given).
    pub prefixes: BTreeSet<Bytes>,
}

/// What is invalid: some keys, or every key (a flush).
#[derive(Debug, Clone)]
enum Inval {
    Keys(Vec<Bytes>),
    All,
}

/// A BCAST prefix: its clients, and the keys changed under it since the last broadcast with
/// the id of the client that changed each last (for NOLOOP; 0 for none).
#[derive(Default)]
struct Bcast {
    clients: BTreeSet<u64>,
    keys: BTreeMap<Bytes, u64>,
}

#[derive(Default)]
struct Inner {
    table: HashMap<Bytes, BTreeSet<u64>>,
    /// Client ids over all keys of the table (`tracking_total_items`).
    items: usize,
    prefixes: BTreeMap<Bytes, Bcast>,
    modes: HashMap<u64, Mode>,
    /// Messages for a client about changes its own running command made, sent by `finish`.
    pending: HashMap<u64, Vec<Inval>>,
    /// Rounds in a row `limit` ended over the limit: each tries harder (Redis's
    /// `timeout_counter`).
    over_rounds: usize,
}

/// The tracking table and the BCAST prefixes (see the module comment).
#[derive(Default)]
pub struct Tracking {
    /// Clients with tracking on (INFO `tracking_clients`).
    clients: AtomicUsize,
    /// Some client tracks, or the table still names keys (the clients that read them left
    /// or turned tracking off: their entries go when the key changes, as Redis's): every hook
    /// is off while false. Written under `inner`'s lock.
    on: AtomicBool,
    inner: Mutex<Inner>,
}

/// Where messages go: the client list (to find a target) and pub/sub (its output limits).
pub struct Route<'a> {
    pub clients: &'a Clients,
    pub pubsub: &'a PubSub,
}

/// The channel a RESP2 redirect target gets its messages on.
const CHANNEL: &[u8] = b"__redis__:invalidate";

impl Tracking {
    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether tracking has anything to do: the one check the read and write paths make.
    #[inline]
    pub fn active(&self) -> bool {
        self.on.load(Relaxed)
    }

    /// Sets `on` after a change under the lock.
    fn update(&self, g: &Inner) {
        let on = self.clients.load(Relaxed) != 0 || !g.table.is_empty();
        if self.on.load(Relaxed) != on {
            self.on.store(on, Relaxed);
        }
    }

    /// Clients with tracking on.
    pub fn clients(&self) -> usize {
        self.clients.load(Relaxed)
    }

    /// (keys in the table, client ids over them, BCAST prefixes), for INFO.
    pub fn totals(&self) -> (usize, usize, usize) {
        if !self.active() && self.inner().table.is_empty() {
            return (0, 0, 0);
        }
        let g = self.inner();
        (g.table.len(), g.items, g.prefixes.len())
    }

    /// A client's settings, if it tracks.
    pub fn mode(&self, id: u64) -> Option<Mode> {
        if self.clients.load(Relaxed) == 0 {
            return None;
        }
        self.inner().modes.get(&id).cloned()
    }

    /// Redis's `checkPrefixCollisionsOrReply`: the error text when a new prefix overlaps one
    /// the client has or another new one (one is a prefix of the other).
    pub fn prefix_collision(&self, id: u64, new: &[Bytes]) -> Option<String> {
        let overlap = |a: &[u8], b: &[u8]| {
            let n = a.len().min(b.len());
            a[..n] == b[..n]
        };
        let g = self.inner();
        let have = g.modes.get(&id).map(|m| &m.prefixes);
        for (i, p) in new.iter().enumerate() {
            if let Some(old) = have.and_then(|h| h.iter().find(|o| overlap(o, p))) {
                return Some(format!(
                    "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                    String::from_utf8_lossy(p),
                    String::from_utf8_lossy(old)
                ));
            }
            if let Some(q) = new[i + 1..].iter().find(|q| overlap(p, q)) {
                return Some(format!(
                    "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                    String::from_utf8_lossy(p),
                    String::from_utf8_lossy(q)
                ));
            }
        }
        None
    }

    /// Redis's `enableTracking`: turns tracking on (again) with these options; BCAST adds
    /// `prefixes` (the empty prefix when none) to those the client has.
    pub fn enable(&self, id: u64, mut mode: Mode, prefixes: &[Bytes]) {
        let mut g = self.inner();
        let old = g.modes.remove(&id);
        if old.is_none() {
            self.clients.fetch_add(1, Relaxed);
        }
        mode.broken_redirect = false;
        mode.prefixes = old.map(|o| o.prefixes).unwrap_or_default();
        if mode.bcast {
            let empty = [Bytes::new()];
            let add = if prefixes.is_empty() {
                &empty[..]
            } else {
                prefixes
            };
            for p in add {
                g.prefixes.entry(p.clone()).or_default().clients.insert(id);
                mode.prefixes.insert(p.clone());
            }
        }
        g.modes.insert(id, mode);
        self.update(&g);
    }

    /// Redis's `disableTracking`: off, and out of its prefixes; its ids in the table go lazily
    /// (a change to such a key finds the client not tracking and skips it).
    pub fn disable(&self, id: u64) {
        if !self.active() {
            return;
        }
        let mut g = self.inner();
        g.pending.remove(&id);
        let Some(m) = g.modes.remove(&id) else {
            return;
        };
        self.clients.fetch_sub(1, Relaxed);
        for p in &m.prefixes {
            if let Some(bs) = g.prefixes.get_mut(p) {
                bs.clients.remove(&id);
                if bs.clients.is_empty() {
                    g.prefixes.remove(p);
                }
            }
        }
        self.update(&g);
    }

    /// Redis's `trackingRememberKeys`: `id` read `keys`.
    pub fn remember<'k>(&self, id: u64, keys: impl IntoIterator<Item = &'k [u8]>) {
        let mut g = self.inner();
        let g = &mut *g;
        for k in keys {
            let ids = match g.table.get_mut(k) {
                Some(ids) => ids,
                None => g.table.entry(Bytes::copy_from_slice(k)).or_default(),
            };
            if ids.insert(id) {
                g.items += 1;
            }
        }
    }

    /// Redis's `trackingInvalidateKey` for each of `keys`, changed by client `current` (None:
    /// by the server, expiry or eviction). Messages for `current` itself wait for `finish`
    /// when `defer` (it is running a command whose reply they must follow).
    pub fn invalidate(&self, r: &Route, current: Option<u64>, keys: &[Bytes], defer: bool) {
        let mut g = self.inner();
        let g = &mut *g;
        if !g.prefixes.is_empty() {
            for k in keys {
                for (p, bs) in g.prefixes.iter_mut() {
                    if k.starts_with(p) {
                        bs.keys.insert(k.clone(), current.unwrap_or(0));
                    }
                }
            }
        }
        for k in keys {
            invalidate_one(g, r, current, k, defer);
        }
        self.update(g);
    }

    /// Redis's `trackingInvalidateKeysOnFlush`: every tracking client learns that all its keys
    /// are invalid (a null), and the table is emptied.
    pub fn flush(&self, r: &Route, current: Option<u64>, defer: bool) {
        if !self.active() {
            return;
        }
        let mut g = self.inner();
        let g = &mut *g;
        let ids: Vec<u64> = g.modes.keys().copied().collect();
        for id in ids {
            if defer && Some(id) == current {
                g.pending.entry(id).or_default().push(Inval::All);
            } else {
                send(g, r, id, &Inval::All, None);
            }
        }
        g.table = HashMap::new();
        g.items = 0;
        self.update(g);
    }

    /// After a top-level command of `current`: the BCAST messages gathered (Redis's
    /// `trackingBroadcastInvalidationMessages`), then the messages for `current`'s own changes.
    /// What goes to `current` itself is returned, to be written after its reply.
    pub fn finish(&self, r: &Route, current: u64) -> Vec<Reply> {
        let mut own = Vec::new();
        let mut g = self.inner();
        let g = &mut *g;
        let mut sends: Vec<(u64, Inval)> = Vec::new();
        for bs in g.prefixes.values_mut() {
            if bs.keys.is_empty() {
                continue;
            }
            let keys = std::mem::take(&mut bs.keys);
            for &id in &bs.clients {
                let noloop = g.modes.get(&id).is_some_and(|m| m.noloop);
                let v: Vec<Bytes> = keys
                    .iter()
                    .filter(|(_, by)| !noloop || **by != id)
                    .map(|(k, _)| k.clone())
                    .collect();
                if !v.is_empty() {
                    sends.push((id, Inval::Keys(v)));
                }
            }
        }
        for (id, inv) in sends {
            let mine = (id == current).then_some(&mut own);
            send(g, r, id, &inv, mine);
        }
        if let Some(p) = g.pending.remove(&current) {
            for inv in p {
                send(g, r, current, &inv, Some(&mut own));
            }
        }
        own
    }

    /// Redis's `trackingLimitUsedSlots`: over `max` keys (0: no limit), forgets keys, each
    /// invalidated as if changed; the effort grows each round that ends still over.
    pub fn limit(&self, r: &Route, max: usize) {
        if max == 0 || !self.active() {
            return;
        }
        let mut g = self.inner();
        let g = &mut *g;
        if g.table.len() <= max {
            g.over_rounds = 0;
            return;
        }
        let effort = 100 * (g.over_rounds + 1);
        // The map's order is its hash order: as good as Redis's random walk here.
        let victims: Vec<Bytes> = g
            .table
            .keys()
            .take(effort.min(g.table.len() - max))
            .cloned()
            .collect();
        for k in &victims {
            invalidate_one(g, r, None, k, false);
        }
        g.over_rounds = if g.table.len() > max {
            g.over_rounds + 1
        } else {
            0
        };
        self.update(g);
    }
}

/// One key of `invalidate`: every client that read it gets a message (or a pending one), and
/// the key leaves the table.
fn invalidate_one(g: &mut Inner, r: &Route, current: Option<u64>, k: &[u8], defer: bool) {
    let Some(ids) = g.table.remove(k) else {
        return;
    };
    g.items -= ids.len();
    for id in ids {
        let Some(m) = g.modes.get(&id) else {
            continue;
        };
        // A client now in BCAST mode no longer wants what it read before switching.
        if m.bcast || (m.noloop && Some(id) == current) {
            continue;
        }
        let inv = Inval::Keys(vec![Bytes::copy_from_slice(k)]);
        if defer && Some(id) == current {
            g.pending.entry(id).or_default().push(inv);
        } else {
            send(g, r, id, &inv, None);
        }
    }
}

/// Redis's `sendTrackingMessage`: the message for tracking client `id` goes to its redirect
/// target, or to itself in RESP3 (into `own` when given: the caller writes it after the reply).
fn send(g: &mut Inner, r: &Route, id: u64, inv: &Inval, own: Option<&mut Vec<Reply>>) {
    let Some(m) = g.modes.get_mut(&id) else {
        return;
    };
    let redirect = m.redirect;
    let (target, redirected) = if redirect != 0 {
        match r.clients.get(redirect) {
            Some(h) => (h, true),
            None => {
                m.broken_redirect = true;
                let Some(me) = r.clients.get(id) else {
                    return;
                };
                if me.resp.load(Relaxed) > 2 {
                    let msg = Reply::Push(vec![
                        Reply::bulk(Bytes::from_static(b"tracking-redir-broken")),
                        Reply::Int(redirect as i64),
                    ]);
                    deliver(r, &me, msg, own);
                }
                return;
            }
        }
    } else {
        match r.clients.get(id) {
            Some(h) => (h, false),
            None => return,
        }
    };
    let payload = match inv {
        Inval::Keys(v) => Reply::Array(v.iter().cloned().map(Reply::Bulk).collect()),
        Inval::All => Reply::Nil,
    };
    let msg = if target.resp.load(Relaxed) > 2 {
        Reply::Push(vec![
            Reply::bulk(Bytes::from_static(b"invalidate")),
            payload,
        ])
    } else if redirected && subscribed(&target) {
        Reply::Push(vec![
            Reply::bulk(Bytes::from_static(b"message")),
            Reply::bulk(Bytes::from_static(CHANNEL)),
            payload,
        ])
    } else {
        // RESP2 without a redirect has no way to receive a push.
        return;
    };
    let own = if redirected { None } else { own };
    deliver(r, &target, msg, own);
}

/// Whether a queued push is a RESP3 invalidation (the connection writes those after the reply
/// to the command running when they came).
pub fn is_invalidation(m: &Reply) -> bool {
    matches!(m, Reply::Push(v) if matches!(v.first(), Some(Reply::Bulk(b)) if &b[..] == b"invalidate"))
}

fn subscribed(h: &ClientHandle) -> bool {
    h.subs.load(Relaxed) + h.psubs.load(Relaxed) + h.ssubs.load(Relaxed) > 0
}

fn deliver(r: &Route, to: &ClientHandle, msg: Reply, own: Option<&mut Vec<Reply>>) {
    match own {
        Some(v) => v.push(msg),
        None => {
            let cost = push_cost(&msg);
            let class = if subscribed(to) { 2 } else { 0 };
            r.pubsub.deliver_in(to, msg, cost, class);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::client::tests::client;

    fn setup() -> (Clients, PubSub) {
        (Clients::default(), PubSub::default())
    }

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn a_read_key_is_invalidated_once_then_forgotten() {
        let (clients, pubsub) = setup();
        let r = Route {
            clients: &clients,
            pubsub: &pubsub,
        };
        let (h, mut rx) = client(7);
        h.resp.store(3, Relaxed);
        clients.insert(h);
        let t = Tracking::default();
        assert!(!t.active());
        t.enable(7, Mode::default(), &[]);
        assert!(t.active());
        t.remember(7, [&b"k"[..], b"k", b"j"]);
        assert_eq!(t.totals(), (2, 2, 0));
        t.invalidate(&r, Some(1), &[b("k")], true);
        let m = rx.try_recv().expect("an invalidation");
        assert!(matches!(&m, Reply::Push(v) if v.len() == 2));
        t.invalidate(&r, Some(1), &[b("k")], true);
        assert!(rx.try_recv().is_err(), "forgotten after one message");
        // Its own change waits for the reply.
        t.invalidate(&r, Some(7), &[b("j")], true);
        assert!(rx.try_recv().is_err());
        assert_eq!(t.finish(&r, 7).len(), 1);
        t.disable(7);
        assert!(!t.active());
    }

    #[test]
    fn prefixes_must_not_overlap() {
        let t = Tracking::default();
        t.enable(
            1,
            Mode {
                bcast: true,
                ..Mode::default()
            },
            &[b("ab")],
        );
        assert!(t.prefix_collision(1, &[b("a")]).is_some());
        assert!(t.prefix_collision(1, &[b("abc")]).is_some());
        assert!(t.prefix_collision(1, &[b("b"), b("bc")]).is_some());
        assert!(t.prefix_collision(1, &[b("b"), b("c")]).is_none());
        assert_eq!(t.totals().2, 1);
        t.disable(1);
        assert_eq!(t.totals(), (0, 0, 0));
    }
}
