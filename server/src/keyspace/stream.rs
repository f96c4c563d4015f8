//! Streams: entries ordered by ID, consumer groups with their pending entries lists (PEL).
//!
//! Redis keeps entries in listpack nodes of a radix tree; whole nodes matter for `~` trimming and
//! XINFO's radix-tree figures, so [`Stream`] tracks the node boundaries Redis would have chosen
//! (by entry count and an estimate of the listpack size) beside the entries themselves.

use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet};

/// A stream entry ID, `ms-seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub const fn new(ms: u64, seq: u64) -> Self {
        StreamId { ms, seq }
    }

    /// The next ID, or None past the last possible one.
    pub fn incr(self) -> Option<StreamId> {
        if self.seq == u64::MAX {
            if self.ms == u64::MAX {
                return None;
            }
            return Some(StreamId::new(self.ms + 1, 0));
        }
        Some(StreamId::new(self.ms, self.seq + 1))
    }

    /// The previous ID, or None before 0-0.
    pub fn decr(self) -> Option<StreamId> {
        if self.seq == 0 {
            if self.ms == 0 {
                return None;
            }
            return Some(StreamId::new(self.ms - 1, u64::MAX));
        }
        Some(StreamId::new(self.ms, self.seq - 1))
    }

    pub fn is_zero(self) -> bool {
        self == StreamId::MIN
    }

    /// `ms-seq` as bytes, for replies.
    pub fn to_bytes(self) -> Bytes {
        Bytes::from(format!("{}-{}", self.ms, self.seq))
    }

    /// The 16-byte big-endian key Redis stores in its radix tree.
    fn encode(self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.ms.to_be_bytes());
        b[8..].copy_from_slice(&self.seq.to_be_bytes());
        b
    }
}

/// An entry's field-value pairs.
pub type Fields = Vec<(Bytes, Bytes)>;

/// Redis's `stream-node-max-entries` and `stream-node-max-bytes` defaults.
const NODE_MAX_ENTRIES: u64 = 100;
const NODE_MAX_BYTES: usize = 4096;
/// Redis's STREAM_LISTPACK_MAX_SIZE: the byte bound when `stream-node-max-bytes` is 0 or more.
const LISTPACK_MAX_SIZE: usize = 1 << 30;

/// When XADD starts a new node (`stream-node-max-entries`, `stream-node-max-bytes`).
#[derive(Debug, Clone, Copy)]
pub struct NodeLimits {
    /// Entries (live or deleted) per node; 0: no bound.
    pub max_entries: u64,
    /// Bytes per node as Redis's listpack would count them; 0: Redis's own maximum.
    pub max_bytes: u64,
}

impl Default for NodeLimits {
    fn default() -> Self {
        NodeLimits {
            max_entries: NODE_MAX_ENTRIES,
            max_bytes: NODE_MAX_BYTES as u64,
        }
    }
}

/// One listpack node as Redis would have it: entries are counted until the node is freed.
#[derive(Debug, Clone, Default)]
struct Node {
    /// Entries not deleted.
    live: u64,
    /// Entries ever appended, deleted or not.
    total: u64,
    /// The last ID appended (deleted or not), which MINID trimming of whole nodes compares.
    last: StreamId,
    /// Estimated listpack size.
    bytes: usize,
}

/// A pending (delivered, not acknowledged) entry of a consumer group.
#[derive(Debug, Clone)]
pub struct Pending {
    pub consumer: Bytes,
    /// Unix milliseconds of the last delivery.
    pub delivery_time: u64,
    pub delivery_count: u64,
}

/// A consumer of a group.
#[derive(Debug, Clone, Default)]
pub struct Consumer {
    /// Unix milliseconds of the last interaction.
    pub seen_time: u64,
    pub pel: BTreeSet<StreamId>,
}

/// A consumer group.
#[derive(Debug, Clone, Default)]
pub struct Group {
    pub last_id: StreamId,
    /// Logical read counter, None where Redis has SCG_INVALID_ENTRIES_READ.
    pub entries_read: Option<u64>,
    pub pel: BTreeMap<StreamId, Pending>,
    pub consumers: BTreeMap<Bytes, Consumer>,
}

impl Group {
    /// Removes a pending entry from the group and its consumer; true if it was pending.
    pub fn ack(&mut self, id: StreamId) -> bool {
        match self.pel.remove(&id) {
            Some(p) => {
                if let Some(c) = self.consumers.get_mut(&p.consumer) {
                    c.pel.remove(&id);
                }
                true
            }
            None => false,
        }
    }

    /// The consumer, created if missing; the flag says whether it was created.
    pub fn consumer(&mut self, name: &Bytes, now: u64) -> (&mut Consumer, bool) {
        let created = !self.consumers.contains_key(name);
        let c = self
            .consumers
            .entry(name.clone())
            .or_insert_with(|| Consumer {
                seen_time: now,
                pel: BTreeSet::new(),
            });
        (c, created)
    }

    /// Gives pending entry `id` to `consumer` (which must exist), creating the entry if needed.
    pub fn assign(&mut self, id: StreamId, consumer: &Bytes) {
        let old = self.pel.get(&id).map(|p| p.consumer.clone());
        if let Some(old) = old {
            if old == *consumer {
                return;
            }
            if let Some(c) = self.consumers.get_mut(&old) {
                c.pel.remove(&id);
            }
        }
        if let Some(p) = self.pel.get_mut(&id) {
            p.consumer = consumer.clone();
        }
        if let Some(c) = self.consumers.get_mut(consumer) {
            c.pel.insert(id);
        }
    }
}

/// A stream.
#[derive(Debug, Clone, Default)]
pub struct Stream {
    pub entries: BTreeMap<StreamId, Fields>,
    nodes: BTreeMap<StreamId, Node>,
    pub last_id: StreamId,
    pub entries_added: u64,
    pub max_deleted: StreamId,
    pub groups: BTreeMap<Bytes, Group>,
}

/// How XADD and XTRIM trim.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Trim {
    MaxLen(u64),
    MinId(StreamId),
}

impl Stream {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The first live entry's ID, 0-0 when empty (Redis's recorded first ID).
    pub fn first_id(&self) -> StreamId {
        self.entries.keys().next().copied().unwrap_or_default()
    }

    /// The last live entry's ID, 0-0 when empty.
    pub fn last_valid_id(&self) -> StreamId {
        self.entries.keys().next_back().copied().unwrap_or_default()
    }

    /// Appends an entry whose ID the caller has checked is above `last_id`, in nodes of
    /// Redis's default size.
    pub fn append(&mut self, id: StreamId, fields: Fields) {
        self.append_in(id, fields, NodeLimits::default())
    }

    /// `append` with the configured node limits: trimming with `~` removes whole nodes only,
    /// so where they end decides what it removes, as in Redis.
    pub fn append_in(&mut self, id: StreamId, fields: Fields, limits: NodeLimits) {
        let max_bytes = match usize::try_from(limits.max_bytes) {
            Ok(0) | Err(_) => LISTPACK_MAX_SIZE,
            Ok(b) => b.min(LISTPACK_MAX_SIZE),
        };
        let max_entries = match limits.max_entries {
            0 => u64::MAX,
            n => n,
        };
        let size: usize = fields
            .iter()
            .map(|(f, v)| f.len() + v.len() + 4)
            .sum::<usize>()
            + 8;
        let new_node = match self.nodes.iter_mut().next_back() {
            Some((_, n)) if n.total < max_entries && n.bytes + size < max_bytes => {
                n.live += 1;
                n.total += 1;
                n.last = id;
                n.bytes += size;
                false
            }
            _ => true,
        };
        if new_node {
            let master: usize = fields.iter().map(|(f, _)| f.len() + 2).sum::<usize>() + 16;
            self.nodes.insert(
                id,
                Node {
                    live: 1,
                    total: 1,
                    last: id,
                    bytes: master + size,
                },
            );
        }
        self.entries.insert(id, fields);
        self.last_id = id;
        self.entries_added += 1;
    }

    /// Deletes one entry (XDEL); false if it was not there.
    pub fn delete(&mut self, id: StreamId) -> bool {
        if self.entries.remove(&id).is_none() {
            return false;
        }
        let node = self.nodes.range_mut(..=id).next_back().map(|(k, n)| {
            n.live -= 1;
            (*k, n.live)
        });
        if let Some((k, 0)) = node {
            self.nodes.remove(&k);
        }
        true
    }

    /// Trims as XADD/XTRIM do; `approx` removes whole nodes only, `limit` (0 for none) bounds
    /// the entries removed. Returns how many were removed.
    pub fn trim(&mut self, how: Trim, approx: bool, limit: u64) -> u64 {
        let mut deleted = 0u64;
        while let Some((&master, node)) = self.nodes.iter().next() {
            if let Trim::MaxLen(max) = how {
                if self.entries.len() as u64 <= max {
                    break;
                }
            }
            let live = node.live;
            if limit != 0 && deleted + live > limit {
                break;
            }
            let remove_node = match how {
                Trim::MaxLen(max) => (self.entries.len() as u64).saturating_sub(live) >= max,
                Trim::MinId(min) => node.last < min,
            };
            if remove_node {
                let ids: Vec<StreamId> = self
                    .entries
                    .range(master..=node.last)
                    .map(|(k, _)| *k)
                    .collect();
                for id in ids {
                    self.entries.remove(&id);
                }
                self.nodes.remove(&master);
                deleted += live;
                continue;
            }
            if approx {
                break;
            }
            // Delete entries inside this node only: Redis stops at the first node it cannot free.
            let ids: Vec<StreamId> = self
                .entries
                .range(master..=node.last)
                .map(|(k, _)| *k)
                .collect();
            let mut removed = 0;
            for id in ids {
                let stop = match how {
                    Trim::MaxLen(max) => self.entries.len() as u64 <= max,
                    Trim::MinId(min) => id >= min,
                };
                if stop {
                    break;
                }
                self.entries.remove(&id);
                removed += 1;
            }
            if let Some(n) = self.nodes.get_mut(&master) {
                n.live -= removed;
            }
            deleted += removed;
            break;
        }
        deleted
    }

    /// Number of listpack nodes (XINFO's radix-tree-keys).
    pub fn rax_keys(&self) -> usize {
        self.nodes.len()
    }

    /// Number of radix tree nodes Redis would allocate for the node keys (XINFO's radix-tree-nodes).
    pub fn rax_nodes(&self) -> usize {
        let keys: Vec<[u8; 16]> = self.nodes.keys().map(|k| k.encode()).collect();
        if keys.is_empty() {
            return 1;
        }
        rax_count(&keys, 0, false)
    }

    /// Whether `[start, end]` may hold a deleted entry (Redis's streamRangeHasTombstones).
    pub fn range_has_tombstones(&self, start: StreamId, end: StreamId) -> bool {
        if self.entries.is_empty() || self.max_deleted.is_zero() {
            return false;
        }
        if self.first_id() > self.max_deleted {
            return false;
        }
        start <= self.max_deleted && self.max_deleted <= end
    }

    /// Redis's streamEstimateDistanceFromFirstEverEntry: the logical read counter of `id`.
    pub fn estimate_distance(&self, id: StreamId) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if self.entries.is_empty() && id <= self.last_id {
            return Some(self.entries_added);
        }
        if id == self.last_id {
            return Some(self.entries_added);
        }
        if id > self.last_id {
            return None;
        }
        let first = self.first_id();
        if self.max_deleted.is_zero() || self.max_deleted < first {
            let len = self.entries.len() as u64;
            if id < first {
                return Some(self.entries_added.saturating_sub(len));
            }
            if id == first {
                return Some(self.entries_added.saturating_sub(len) + 1);
            }
        }
        None
    }

    /// A group's lag, None when Redis cannot tell. Negative when XGROUP SETID/CREATE was given
    /// an ENTRIESREAD above the entries added: Redis subtracts in signed arithmetic and says so.
    pub fn lag(&self, g: &Group) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        let lag = |read: u64| (self.entries_added as i64).wrapping_sub(read as i64);
        if let Some(read) = g.entries_read {
            if !self.range_has_tombstones(g.last_id, StreamId::MAX) {
                return Some(lag(read));
            }
        }
        self.estimate_distance(g.last_id).map(lag)
    }

    pub fn mem_usage(&self) -> usize {
        let entries: usize = self
            .entries
            .values()
            .map(|f| f.iter().map(|(a, b)| a.len() + b.len() + 8).sum::<usize>() + 48)
            .sum();
        let groups: usize = self
            .groups
            .iter()
            .map(|(n, g)| n.len() + 64 + g.pel.len() * 64 + g.consumers.len() * 64)
            .sum();
        64 + entries + groups
    }
}

/// Nodes of a radix tree holding `keys` (sorted, all 16 bytes, sharing their first `depth`
/// bytes): one for the root, each branch point and its children, and each key's leaf;
/// chains without branches are compressed into one node.
fn rax_count(keys: &[[u8; 16]], depth: usize, parent_branches: bool) -> usize {
    if depth == 16 {
        return 1;
    }
    let mut groups = Vec::new();
    let mut start = 0;
    for i in 1..=keys.len() {
        if i == keys.len() || keys[i][depth] != keys[start][depth] {
            groups.push(&keys[start..i]);
            start = i;
        }
    }
    let branches = groups.len() >= 2;
    let here = usize::from(depth == 0 || parent_branches || branches);
    here + groups
        .into_iter()
        .map(|g| rax_count(g, depth + 1, branches))
        .sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> Fields {
        vec![(Bytes::from("f"), Bytes::from("v"))]
    }

    #[test]
    fn nodes_split_at_100_entries() {
        let mut s = Stream::default();
        for i in 1..=250 {
            s.append(StreamId::new(i, 0), fields());
        }
        assert_eq!(s.rax_keys(), 3);
        assert_eq!(s.trim(Trim::MaxLen(120), true, 0), 100);
        assert_eq!(s.len(), 150);
        assert_eq!(s.trim(Trim::MaxLen(120), false, 0), 30);
        assert_eq!(s.len(), 120);
        assert_eq!(s.first_id(), StreamId::new(131, 0));
    }

    #[test]
    fn minid_and_deletes_free_nodes() {
        let mut s = Stream::default();
        for i in 1..=150 {
            s.append(StreamId::new(i, 0), fields());
        }
        // The first node (1..=100) cannot go whole: MINID ~ stops, exact trims inside it.
        assert_eq!(s.trim(Trim::MinId(StreamId::new(50, 0)), true, 0), 0);
        assert_eq!(s.trim(Trim::MinId(StreamId::new(50, 0)), false, 0), 49);
        assert_eq!(s.rax_keys(), 2);
        for i in 50..=100 {
            assert!(s.delete(StreamId::new(i, 0)));
        }
        assert!(!s.delete(StreamId::new(50, 0)));
        assert_eq!(s.rax_keys(), 1);
        assert_eq!(s.first_id(), StreamId::new(101, 0));
        assert_eq!(s.estimate_distance(StreamId::new(150, 0)), Some(150));
        assert_eq!(s.estimate_distance(StreamId::new(200, 0)), None);
    }

    #[test]
    fn rax_node_counts() {
        let mut s = Stream::default();
        assert_eq!(s.rax_nodes(), 1);
        s.append(StreamId::new(1, 0), fields());
        assert_eq!(s.rax_nodes(), 2);
    }

    #[test]
    fn ids_step() {
        assert_eq!(StreamId::new(1, u64::MAX).incr(), Some(StreamId::new(2, 0)));
        assert_eq!(StreamId::MAX.incr(), None);
        assert_eq!(StreamId::new(1, 0).decr(), Some(StreamId::new(0, u64::MAX)));
        assert_eq!(StreamId::MIN.decr(), None);
    }
}
