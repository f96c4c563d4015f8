//! The pub/sub registry: which clients listen to which channels and patterns, and delivery of
//! messages to their push queues under the pubsub output buffer limit.
//!
//! Only pub/sub commands, PUBLISH and keyspace notifications take its locks; the ordinary request
//! path never does. A message is one `Reply` whose payload `Bytes` every subscriber shares, so a
//! large message costs one copy however many clients receive it.

use crate::config::special::ObufLimit;
use crate::resp::Reply;
use crate::state::ClientHandle;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

type Subscribers = HashMap<Bytes, Vec<Arc<ClientHandle>>>;

/// Channel and pattern subscriptions of all clients.
#[derive(Default)]
pub struct PubSub {
    channels: RwLock<Subscribers>,
    patterns: RwLock<Subscribers>,
    /// Shard channels (SSUBSCRIBE/SPUBLISH): their own namespace, no patterns.
    shard: RwLock<Subscribers>,
    /// Number of (client, channel or pattern) subscriptions: zero lets notifications skip all work.
    total: AtomicUsize,
    /// client-output-buffer-limit's classes, shared with the configuration that sets them.
    limits: Arc<[ObufLimit; 3]>,
}

fn read(l: &RwLock<Subscribers>) -> RwLockReadGuard<'_, Subscribers> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn write(l: &RwLock<Subscribers>) -> RwLockWriteGuard<'_, Subscribers> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

/// The bytes a pushed reply stands for in a client's pending output (`omem`): the publisher adds
/// it when queueing, the connection takes it off once written, both with this same function.
pub fn push_cost(r: &Reply) -> usize {
    match r {
        Reply::Bulk(b) => b.len() + 16,
        Reply::Push(items) | Reply::Array(items) => 16 + items.iter().map(push_cost).sum::<usize>(),
        _ => 16,
    }
}

/// Channels, patterns or shard channels: the kinds of subscription, kept in their own maps
/// and handled alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubKind {
    Channel,
    Pattern,
    Shard,
}

impl PubSub {
    /// A registry that delivers under the pubsub class of `limits` (`Config::output_limits`).
    pub fn with_limits(limits: Arc<[ObufLimit; 3]>) -> Self {
        PubSub {
            limits,
            ..Default::default()
        }
    }

    /// Whether any client subscribes to anything.
    pub fn is_idle(&self) -> bool {
        self.total.load(Relaxed) == 0
    }

    fn map(&self, kind: SubKind) -> &RwLock<Subscribers> {
        match kind {
            SubKind::Channel => &self.channels,
            SubKind::Pattern => &self.patterns,
            SubKind::Shard => &self.shard,
        }
    }

    /// Adds `h` to a channel or pattern (the caller checked it was not subscribed yet).
    pub fn subscribe(&self, kind: SubKind, name: &Bytes, h: &Arc<ClientHandle>) {
        write(self.map(kind))
            .entry(name.clone())
            .or_default()
            .push(h.clone());
        self.total.fetch_add(1, Relaxed);
    }

    /// What client `id` subscribes to, of one kind (ACL SETUSER checks a subscriber's channels).
    pub fn of_client(&self, kind: SubKind, id: u64) -> Vec<Bytes> {
        read(self.map(kind))
            .iter()
            .filter(|(_, v)| v.iter().any(|h| h.id == id))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Removes client `id` from a channel or pattern it subscribed to.
    pub fn unsubscribe(&self, kind: SubKind, name: &[u8], id: u64) {
        let mut m = write(self.map(kind));
        if let Some(v) = m.get_mut(name) {
            v.retain(|h| h.id != id);
            if v.is_empty() {
                m.remove(name);
            }
        }
        self.total.fetch_sub(1, Relaxed);
    }

    /// Sends `msg` to the subscribers of `channel` and of the patterns matching it; returns how
    /// many clients it was addressed to, as PUBLISH replies.
    pub fn publish(&self, channel: &Bytes, msg: &Bytes) -> usize {
        if self.is_idle() {
            return 0;
        }
        let mut n = 0;
        if let Some(subs) = read(&self.channels).get(channel) {
            let m = Reply::Push(vec![
                Reply::bulk(Bytes::from_static(b"message")),
                Reply::Bulk(channel.clone()),
                Reply::Bulk(msg.clone()),
            ]);
            n += self.deliver_all(subs, m);
        }
        for (pat, subs) in read(&self.patterns).iter() {
            if !crate::util::glob::glob_match(pat, channel, false) {
                continue;
            }
            let m = Reply::Push(vec![
                Reply::bulk(Bytes::from_static(b"pmessage")),
                Reply::Bulk(pat.clone()),
                Reply::Bulk(channel.clone()),
                Reply::Bulk(msg.clone()),
            ]);
            n += self.deliver_all(subs, m);
        }
        n
    }

    /// SPUBLISH: sends `msg` to the subscribers of shard channel `channel` (patterns do not
    /// see shard channels); returns how many clients it was addressed to.
    pub fn spublish(&self, channel: &Bytes, msg: &Bytes) -> usize {
        if self.is_idle() {
            return 0;
        }
        let Some(subs) = read(&self.shard).get(channel).cloned() else {
            return 0;
        };
        let m = Reply::Push(vec![
            Reply::bulk(Bytes::from_static(b"smessage")),
            Reply::Bulk(channel.clone()),
            Reply::Bulk(msg.clone()),
        ]);
        self.deliver_all(&subs, m)
    }

    /// Queues `m` for each of `subs`; returns how many they were.
    fn deliver_all(&self, subs: &[Arc<ClientHandle>], m: Reply) -> usize {
        let cost = push_cost(&m);
        for h in subs {
            self.deliver(h, m.clone(), cost);
        }
        subs.len()
    }

    /// Queues a message for one client, or closes the client if that would pass its output
    /// buffer limit (hard: at once; soft: once over it for longer than the soft seconds).
    fn deliver(&self, h: &ClientHandle, m: Reply, cost: usize) {
        self.deliver_in(h, m, cost, 2)
    }

    /// `deliver` under the output limits of a client class (0 normal, 1 replica, 2 pubsub):
    /// MONITOR's lines go to a client Redis counts as a replica.
    pub fn deliver_in(&self, h: &ClientHandle, m: Reply, cost: usize, class: usize) {
        if h.killed.load(Relaxed) {
            return;
        }
        let used = (h.omem.fetch_add(cost, Relaxed) + cost) as u64;
        let limit = self.limits[class.min(2)].load();
        let (hard, soft) = (limit.hard, limit.soft);
        let mut over = hard > 0 && used >= hard;
        if soft > 0 && used >= soft {
            let now = crate::keyspace::now_ms().max(1);
            let since = h.obuf_soft_since.load(Relaxed);
            if since == 0 {
                h.obuf_soft_since.store(now, Relaxed);
            } else if now.saturating_sub(since) > limit.soft_secs * 1000 {
                over = true;
            }
        } else {
            h.obuf_soft_since.store(0, Relaxed);
        }
        if over {
            release(h, cost);
            tracing::warn!(
                "client id={} addr={} scheduled to be closed for overcoming of output buffer limits",
                h.id,
                h.addr
            );
            h.kill();
            return;
        }
        if h.push.send(m).is_err() {
            release(h, cost);
        }
    }

    /// Channels with subscribers matching `pattern` (all without one).
    pub fn channels(&self, pattern: Option<&[u8]>) -> Vec<Bytes> {
        self.channels_of(SubKind::Channel, pattern)
    }

    /// Channels or shard channels with subscribers matching `pattern` (all without one).
    pub fn channels_of(&self, kind: SubKind, pattern: Option<&[u8]>) -> Vec<Bytes> {
        read(self.map(kind))
            .keys()
            .filter(|c| pattern.is_none_or(|p| crate::util::glob::glob_match(p, c, false)))
            .cloned()
            .collect()
    }

    /// Channels with at least one subscriber (INFO pubsub_channels).
    pub fn numchannels(&self) -> usize {
        read(&self.channels).len()
    }

    /// Subscribers of one channel (patterns not counted).
    pub fn numsub(&self, channel: &[u8]) -> usize {
        self.numsub_of(SubKind::Channel, channel)
    }

    /// Subscribers of one channel or shard channel.
    pub fn numsub_of(&self, kind: SubKind, channel: &[u8]) -> usize {
        read(self.map(kind)).get(channel).map_or(0, |v| v.len())
    }

    /// Shard channels with at least one subscriber (INFO pubsubshard_channels).
    pub fn numshardchannels(&self) -> usize {
        read(&self.shard).len()
    }

    /// Distinct patterns with subscribers.
    pub fn numpat(&self) -> usize {
        read(&self.patterns).len()
    }
}

/// Takes `n` bytes off a client's pending output count, never below zero.
pub fn release(h: &ClientHandle, n: usize) {
    let _ = h
        .omem
        .fetch_update(Relaxed, Relaxed, |v| Some(v.saturating_sub(n)));
}
