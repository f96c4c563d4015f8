//! Sorted sets: a member → score map beside a skip list with spans ordered by (score, member), as
//! Redis keeps them, so rank, range and count operations are O(log n) plus the size of the answer.
//! The skip list lives in an arena (`Vec` of nodes linked by index), which keeps it in safe Rust.

use bytes::Bytes;
use packed::Packed;
use std::collections::HashMap;

mod packed;

const MAX_LEVEL: usize = 32;
const NIL: u32 = u32::MAX;
const HEAD: u32 = 0;

#[derive(Debug, Clone, Copy)]
struct Level {
    next: u32,
    /// Elements crossed by following `next` (1 to the neighbour); gives ranks.
    span: u32,
}

const EMPTY: Level = Level { next: NIL, span: 0 };

/// A node's forward links. The first two live inside the node (94% of nodes have at most two
/// levels at P = 1/4), so a search step touches one node, as in Redis's C layout, instead of
/// chasing a separate allocation.
#[derive(Debug, Clone)]
#[repr(C)]
struct Levels {
    inline: [Level; 2],
    more: Vec<Level>,
    n: u8,
}

impl Levels {
    fn new(n: usize) -> Self {
        Levels {
            inline: [EMPTY; 2],
            more: vec![EMPTY; n.saturating_sub(2)],
            n: n as u8,
        }
    }

    fn get(&self, i: usize) -> Option<Level> {
        (i < self.n as usize).then(|| self[i])
    }
}

impl std::ops::Index<usize> for Levels {
    type Output = Level;
    fn index(&self, i: usize) -> &Level {
        if i < 2 {
            &self.inline[i]
        } else {
            &self.more[i - 2]
        }
    }
}

impl std::ops::IndexMut<usize> for Levels {
    fn index_mut(&mut self, i: usize) -> &mut Level {
        if i < 2 {
            &mut self.inline[i]
        } else {
            &mut self.more[i - 2]
        }
    }
}

/// A skip list node; the fields a search reads come first, in one cache line.
#[derive(Debug, Clone)]
#[repr(C)]
struct Node {
    score: f64,
    prev: u32,
    levels: Levels,
    member: Bytes,
}

/// A score interval, as ZRANGEBYSCORE parses it (`(` marks an exclusive end).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreRange {
    pub min: f64,
    pub max: f64,
    pub minex: bool,
    pub maxex: bool,
}

impl ScoreRange {
    fn gte_min(&self, v: f64) -> bool {
        if self.minex {
            v > self.min
        } else {
            v >= self.min
        }
    }
    fn lte_max(&self, v: f64) -> bool {
        if self.maxex {
            v < self.max
        } else {
            v <= self.max
        }
    }
    /// Whether the interval can hold nothing at all.
    pub fn is_empty(&self) -> bool {
        self.min > self.max || (self.min == self.max && (self.minex || self.maxex))
    }
}

/// One end of a lexicographic interval (`-`, `+`, `[x`, `(x`).
#[derive(Debug, Clone, PartialEq)]
pub enum LexBound {
    NegInf,
    PosInf,
    Incl(Bytes),
    Excl(Bytes),
}

/// A lexicographic interval, as ZRANGEBYLEX parses it.
#[derive(Debug, Clone, PartialEq)]
pub struct LexRange {
    pub min: LexBound,
    pub max: LexBound,
}

impl LexRange {
    fn gte_min(&self, m: &[u8]) -> bool {
        match &self.min {
            LexBound::NegInf => true,
            LexBound::PosInf => false,
            LexBound::Incl(b) => m >= &b[..],
            LexBound::Excl(b) => m > &b[..],
        }
    }
    fn lte_max(&self, m: &[u8]) -> bool {
        match &self.max {
            LexBound::NegInf => false,
            LexBound::PosInf => true,
            LexBound::Incl(b) => m <= &b[..],
            LexBound::Excl(b) => m < &b[..],
        }
    }
    /// Whether the interval can hold nothing at all (as Redis's zslIsInLexRange tests it).
    pub fn is_empty(&self) -> bool {
        use LexBound::*;
        let (min, max) = (&self.min, &self.max);
        match (min, max) {
            (PosInf, _) | (_, NegInf) => true,
            (NegInf, _) | (_, PosInf) => false,
            (Incl(a), Incl(b)) => a > b,
            (Incl(a) | Excl(a), Incl(b) | Excl(b)) => a >= b,
        }
    }
}

/// An interval over the skip list's order, by score or by member: what the range walks, counts
/// and removals need of it. Generic (not `dyn`) so each walk is compiled for its bound type and
/// the per-node test stays inlined.
trait NodeRange {
    /// Whether `n` is at or above the interval's lower end.
    fn gte_min(&self, n: &Node) -> bool;
    /// Whether `n` is at or below the interval's upper end.
    fn lte_max(&self, n: &Node) -> bool;
    /// Whether the interval can hold nothing at all.
    fn is_void(&self) -> bool;
}

impl NodeRange for ScoreRange {
    #[inline]
    fn gte_min(&self, n: &Node) -> bool {
        ScoreRange::gte_min(self, n.score)
    }
    #[inline]
    fn lte_max(&self, n: &Node) -> bool {
        ScoreRange::lte_max(self, n.score)
    }
    #[inline]
    fn is_void(&self) -> bool {
        self.is_empty()
    }
}

impl NodeRange for LexRange {
    #[inline]
    fn gte_min(&self, n: &Node) -> bool {
        LexRange::gte_min(self, &n.member)
    }
    #[inline]
    fn lte_max(&self, n: &Node) -> bool {
        LexRange::lte_max(self, &n.member)
    }
    #[inline]
    fn is_void(&self) -> bool {
        self.is_empty()
    }
}

#[cfg(test)]
fn cmp(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> std::cmp::Ordering {
    s1.partial_cmp(&s2)
        .unwrap_or(std::cmp::Ordering::Equal)
        .then_with(|| m1.cmp(m2))
}

/// Whether node `n` sorts before (score, member). The member is read only on a score tie: it
/// sits in the node's second cache line and behind a pointer.
#[inline]
fn before(n: &Node, score: f64, member: &[u8]) -> bool {
    n.score < score || (n.score == score && n.member[..] < *member)
}

/// Whether node `n` sorts after (score, member).
#[inline]
fn after(n: &Node, score: f64, member: &[u8]) -> bool {
    n.score > score || (n.score == score && n.member[..] > *member)
}

/// A sorted set past the listpack thresholds.
#[derive(Debug, Clone)]
struct SkipList {
    dict: HashMap<Bytes, f64, super::KeyHasher>,
    nodes: Vec<Node>,
    free: Vec<u32>,
    level: usize,
    tail: u32,
    /// Bytes of all members, for memory accounting.
    member_bytes: usize,
    rng: u64,
}

impl SkipList {
    /// An empty sorted set.
    fn new() -> Self {
        let head = Node {
            member: Bytes::new(),
            score: 0.0,
            prev: NIL,
            levels: Levels::new(MAX_LEVEL),
        };
        SkipList {
            dict: HashMap::default(),
            nodes: vec![head],
            free: Vec::new(),
            level: 1,
            tail: NIL,
            member_bytes: 0,
            rng: 0x9E37_79B9_7F4A_7C15,
        }
    }

    fn len(&self) -> usize {
        self.dict.len()
    }

    /// Approximate bytes held.
    fn mem_usage(&self) -> usize {
        64 + self.member_bytes
            + self.dict.len() * (16 + 8 + 16)
            + self.nodes.len() * (std::mem::size_of::<Node>() + 2 * 8)
    }

    /// The score of `member`.
    fn score(&self, member: &[u8]) -> Option<f64> {
        self.dict.get(member).copied()
    }

    /// Adds `member` or changes its score; returns the previous score.
    fn insert(&mut self, member: Bytes, score: f64) -> Option<f64> {
        debug_assert!(!score.is_nan());
        match self.dict.get_mut(&member) {
            Some(old) => {
                let prev = *old;
                if prev != score {
                    *old = score;
                    self.sl_delete(prev, &member);
                    self.sl_insert(score, member);
                }
                Some(prev)
            }
            None => {
                self.member_bytes += member.len();
                self.dict.insert(member.clone(), score);
                self.sl_insert(score, member);
                None
            }
        }
    }

    /// Removes `member`; returns whether it was there.
    fn remove(&mut self, member: &[u8]) -> bool {
        match self.dict.remove(member) {
            Some(s) => {
                self.member_bytes -= member.len();
                self.sl_delete(s, member);
                true
            }
            None => false,
        }
    }

    /// 0-based rank of `member` in ascending order.
    fn rank(&self, member: &[u8]) -> Option<usize> {
        let s = self.score(member)?;
        let r = self.sl_rank(s, member);
        (r > 0).then(|| r - 1)
    }

    /// The element at 0-based rank `r`.
    fn at_rank(&self, r: usize) -> Option<(Bytes, f64)> {
        let i = self.by_rank(r + 1)?;
        let n = &self.nodes[i as usize];
        Some((n.member.clone(), n.score))
    }

    /// Elements with 0-based ranks `start..=end` (already clamped by the caller), ascending, or
    /// counted from the top when `rev`.
    fn range_by_rank(&self, start: usize, end: usize, rev: bool) -> Vec<(Bytes, f64)> {
        let len = self.len();
        if start > end || start >= len {
            return Vec::new();
        }
        let end = end.min(len - 1);
        let n = end - start + 1;
        let first = if rev { len - start } else { start + 1 };
        let Some(i) = self.by_rank(first) else {
            return Vec::new();
        };
        self.walk(i, rev, n)
    }

    /// Elements in `range`, skipping `offset`, at most `limit`; descending when `rev`.
    fn range_by_score(
        &self,
        range: &ScoreRange,
        rev: bool,
        offset: usize,
        limit: Option<usize>,
    ) -> Vec<(Bytes, f64)> {
        self.range_in(range, rev, offset, limit)
    }

    /// Elements in the lexicographic `range`, skipping `offset`, at most `limit`.
    fn range_by_lex(
        &self,
        range: &LexRange,
        rev: bool,
        offset: usize,
        limit: Option<usize>,
    ) -> Vec<(Bytes, f64)> {
        self.range_in(range, rev, offset, limit)
    }

    /// How many elements have a score in `range`, in O(log n).
    fn count_score(&self, range: &ScoreRange) -> usize {
        self.count_in(range)
    }

    /// How many elements are in the lexicographic `range`, in O(log n).
    fn count_lex(&self, range: &LexRange) -> usize {
        self.count_in(range)
    }

    /// Removes ranks `start..=end` (0-based, clamped by the caller); returns how many went.
    fn remove_range_by_rank(&mut self, start: usize, end: usize) -> usize {
        let victims = self.range_by_rank(start, end, false);
        self.remove_all(victims)
    }

    /// Removes the elements with a score in `range`.
    fn remove_range_by_score(&mut self, range: &ScoreRange) -> usize {
        let victims = self.range_by_score(range, false, 0, None);
        self.remove_all(victims)
    }

    /// Removes the elements in the lexicographic `range`.
    fn remove_range_by_lex(&mut self, range: &LexRange) -> usize {
        let victims = self.range_by_lex(range, false, 0, None);
        self.remove_all(victims)
    }

    fn remove_all(&mut self, victims: Vec<(Bytes, f64)>) -> usize {
        for (m, _) in &victims {
            self.remove(m);
        }
        victims.len()
    }

    /// Removes and returns up to `count` elements from the bottom (or the top when `max`).
    fn pop(&mut self, count: usize, max: bool) -> Vec<(Bytes, f64)> {
        let n = count.min(self.len());
        if n == 0 {
            return Vec::new();
        }
        let victims = self.range_by_rank(0, n - 1, max);
        for (m, _) in &victims {
            self.remove(m);
        }
        victims
    }

    /// Every (member, score), ascending.
    fn iter(&self) -> impl Iterator<Item = (&Bytes, f64)> + '_ {
        let mut i = self.nodes[HEAD as usize].levels[0].next;
        std::iter::from_fn(move || {
            if i == NIL {
                return None;
            }
            let n = &self.nodes[i as usize];
            i = n.levels[0].next;
            Some((&n.member, n.score))
        })
    }

    // ---- skip list internals (a port of Redis's zskiplist) ----

    fn random_level(&mut self) -> usize {
        let mut level = 1;
        loop {
            // xorshift64*: cheap and good enough for level choice.
            self.rng ^= self.rng >> 12;
            self.rng ^= self.rng << 25;
            self.rng ^= self.rng >> 27;
            let r = self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32;
            // P = 1/4 per level, as Redis.
            if r & 3 != 0 || level >= MAX_LEVEL {
                return level;
            }
            level += 1;
        }
    }

    fn next_of(&self, i: u32, l: usize) -> u32 {
        self.nodes[i as usize].levels[l].next
    }

    fn alloc(&mut self, node: Node) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = node;
                i
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        }
    }

    fn sl_insert(&mut self, score: f64, member: Bytes) {
        let mut update = [HEAD; MAX_LEVEL];
        let mut rank = [0u32; MAX_LEVEL];
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            rank[i] = if i == self.level - 1 { 0 } else { rank[i + 1] };
            loop {
                let nx = self.next_of(x, i);
                if nx == NIL {
                    break;
                }
                let n = &self.nodes[nx as usize];
                if before(n, score, &member) {
                    rank[i] += self.nodes[x as usize].levels[i].span;
                    x = nx;
                } else {
                    break;
                }
            }
            update[i] = x;
        }
        let level = self.random_level();
        let len = self.len() as u32 - 1; // The dict already holds the new member.
        if level > self.level {
            for i in self.level..level {
                rank[i] = 0;
                update[i] = HEAD;
                self.nodes[HEAD as usize].levels[i].span = len;
            }
            self.level = level;
        }
        let idx = self.alloc(Node {
            member,
            score,
            prev: NIL,
            levels: Levels::new(level),
        });
        for i in 0..level {
            let u = update[i] as usize;
            let ul = self.nodes[u].levels[i];
            self.nodes[idx as usize].levels[i] = Level {
                next: ul.next,
                span: ul.span - (rank[0] - rank[i]),
            };
            self.nodes[u].levels[i] = Level {
                next: idx,
                span: rank[0] - rank[i] + 1,
            };
        }
        for (i, u) in update.iter().enumerate().take(self.level).skip(level) {
            self.nodes[*u as usize].levels[i].span += 1;
        }
        self.nodes[idx as usize].prev = if update[0] == HEAD { NIL } else { update[0] };
        let nx = self.nodes[idx as usize].levels[0].next;
        if nx != NIL {
            self.nodes[nx as usize].prev = idx;
        } else {
            self.tail = idx;
        }
    }

    fn sl_delete(&mut self, score: f64, member: &[u8]) {
        let mut update = [HEAD; MAX_LEVEL];
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            loop {
                let nx = self.next_of(x, i);
                if nx == NIL {
                    break;
                }
                let n = &self.nodes[nx as usize];
                if before(n, score, member) {
                    x = nx;
                } else {
                    break;
                }
            }
            update[i] = x;
        }
        let x = self.next_of(x, 0);
        if x == NIL {
            return;
        }
        let n = &self.nodes[x as usize];
        if n.score != score || n.member != member {
            return;
        }
        for (i, u) in update.iter().enumerate().take(self.level) {
            let xl = self.nodes[x as usize].levels.get(i);
            let ul = &mut self.nodes[*u as usize].levels[i];
            match xl {
                Some(xl) if ul.next == x => {
                    ul.span = ul.span + xl.span - 1;
                    ul.next = xl.next;
                }
                _ => ul.span -= 1,
            }
        }
        let (prev, next) = (
            self.nodes[x as usize].prev,
            self.nodes[x as usize].levels[0].next,
        );
        if next != NIL {
            self.nodes[next as usize].prev = prev;
        } else {
            self.tail = prev;
        }
        while self.level > 1 && self.nodes[HEAD as usize].levels[self.level - 1].next == NIL {
            self.level -= 1;
        }
        // Drop the member's bytes now; the slot is reused by the next insert.
        let slot = &mut self.nodes[x as usize];
        slot.member = Bytes::new();
        slot.levels = Levels::new(0);
        self.free.push(x);
        if self.dict.is_empty() {
            // Give the arena back when the set empties.
            self.nodes.truncate(1);
            self.free.clear();
        }
    }

    /// 1-based rank of (score, member), 0 if absent.
    fn sl_rank(&self, score: f64, member: &[u8]) -> usize {
        let mut rank = 0usize;
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            loop {
                let nx = self.next_of(x, i);
                if nx == NIL {
                    break;
                }
                let n = &self.nodes[nx as usize];
                if !after(n, score, member) {
                    rank += self.nodes[x as usize].levels[i].span as usize;
                    x = nx;
                } else {
                    break;
                }
            }
            if x != HEAD && self.nodes[x as usize].member == member {
                return rank;
            }
        }
        0
    }

    fn node_rank(&self, i: u32) -> usize {
        let n = &self.nodes[i as usize];
        self.sl_rank(n.score, &n.member)
    }

    /// The node at 1-based rank `rank`.
    fn by_rank(&self, rank: usize) -> Option<u32> {
        if rank == 0 || rank > self.len() {
            return None;
        }
        let mut traversed = 0usize;
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            loop {
                let l = self.nodes[x as usize].levels[i];
                if l.next != NIL && traversed + l.span as usize <= rank {
                    traversed += l.span as usize;
                    x = l.next;
                } else {
                    break;
                }
            }
            if traversed == rank {
                return Some(x);
            }
        }
        None
    }

    fn step(&self, i: u32, rev: bool) -> u32 {
        let n = &self.nodes[i as usize];
        if rev {
            n.prev
        } else {
            n.levels[0].next
        }
    }

    fn walk(&self, mut i: u32, rev: bool, n: usize) -> Vec<(Bytes, f64)> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n && i != NIL && i != HEAD {
            let node = &self.nodes[i as usize];
            out.push((node.member.clone(), node.score));
            i = self.step(i, rev);
        }
        out
    }

    fn first_node(&self) -> Option<u32> {
        let i = self.next_of(HEAD, 0);
        (i != NIL).then_some(i)
    }

    /// The walk behind ZRANGEBYSCORE and ZRANGEBYLEX: from the first (or, when `rev`, last) node
    /// in `range`, along level 0 until the far end of `range`, skipping `offset`, at most `limit`.
    fn range_in<R: NodeRange>(
        &self,
        range: &R,
        rev: bool,
        offset: usize,
        limit: Option<usize>,
    ) -> Vec<(Bytes, f64)> {
        let start = if rev {
            self.last_in(range)
        } else {
            self.first_in(range)
        };
        let mut out = Vec::new();
        let Some(mut i) = start else {
            return out;
        };
        let mut skip = offset;
        while i != NIL && i != HEAD {
            let n = &self.nodes[i as usize];
            let inside = if rev {
                range.gte_min(n)
            } else {
                range.lte_max(n)
            };
            if !inside || limit.is_some_and(|l| out.len() >= l) {
                break;
            }
            if skip > 0 {
                skip -= 1;
            } else {
                out.push((n.member.clone(), n.score));
            }
            i = self.step(i, rev);
        }
        out
    }

    fn count_in<R: NodeRange>(&self, range: &R) -> usize {
        match (self.first_in(range), self.last_in(range)) {
            (Some(a), Some(b)) => {
                let ra = self.node_rank(a);
                let rb = self.node_rank(b);
                (rb + 1).saturating_sub(ra)
            }
            _ => 0,
        }
    }

    /// Whether no node can be in `r`: it is void, the list is empty, or `r` lies wholly beyond
    /// either end of the list.
    fn misses<R: NodeRange>(&self, r: &R) -> bool {
        if r.is_void() {
            return true;
        }
        let Some(first) = self.first_node() else {
            return true;
        };
        !r.gte_min(&self.nodes[self.tail as usize]) || !r.lte_max(&self.nodes[first as usize])
    }

    /// The lowest node in `r`.
    fn first_in<R: NodeRange>(&self, r: &R) -> Option<u32> {
        if self.misses(r) {
            return None;
        }
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            loop {
                let nx = self.next_of(x, i);
                if nx != NIL && !r.gte_min(&self.nodes[nx as usize]) {
                    x = nx;
                } else {
                    break;
                }
            }
        }
        let x = self.next_of(x, 0);
        (x != NIL && r.lte_max(&self.nodes[x as usize])).then_some(x)
    }

    /// The highest node in `r`.
    fn last_in<R: NodeRange>(&self, r: &R) -> Option<u32> {
        if self.misses(r) {
            return None;
        }
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            loop {
                let nx = self.next_of(x, i);
                if nx != NIL && r.lte_max(&self.nodes[nx as usize]) {
                    x = nx;
                } else {
                    break;
                }
            }
        }
        (x != HEAD && r.gte_min(&self.nodes[x as usize])).then_some(x)
    }
}

/// The two forms of a sorted set, as Redis 7.0 has them: packed while within
/// `zset-max-listpack-entries` / `-value`, a skip list past them for good (Redis converts back
/// only when a STORE command or a load builds a set anew, which `settle_encoding` follows).
#[derive(Debug, Clone)]
enum Repr {
    Packed(Packed),
    Skip(Box<SkipList>),
}

/// A sorted set.
#[derive(Debug, Clone)]
pub struct ZSet {
    repr: Repr,
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet::new()
    }
}

/// A packed member as the owned `Bytes` replies carry.
fn owned(m: &[u8], s: f64) -> (Bytes, f64) {
    (Bytes::copy_from_slice(m), s)
}

/// Packed entries in `r` (ascending, or descending when `rev`), skipping `offset`, at most `limit`.
fn packed_range(
    p: &Packed,
    inside: impl Fn(&[u8], f64) -> bool,
    rev: bool,
    offset: usize,
    limit: Option<usize>,
) -> Vec<(Bytes, f64)> {
    let mut all = p.entries();
    all.retain(|&(m, s)| inside(m, s));
    if rev {
        all.reverse();
    }
    let take = limit.unwrap_or(usize::MAX);
    all.into_iter()
        .skip(offset)
        .take(take)
        .map(|(m, s)| owned(m, s))
        .collect()
}

impl ZSet {
    /// An empty sorted set, packed.
    pub fn new() -> Self {
        ZSet {
            repr: Repr::Packed(Packed::default()),
        }
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Packed(p) => p.len(),
            Repr::Skip(z) => z.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Approximate bytes held.
    pub fn mem_usage(&self) -> usize {
        match &self.repr {
            Repr::Packed(p) => 32 + 16 + p.heap_bytes(),
            Repr::Skip(z) => z.mem_usage(),
        }
    }

    /// Whether the set is in its packed (listpack) form.
    pub fn is_packed(&self) -> bool {
        matches!(self.repr, Repr::Packed(_))
    }

    /// The encoding OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Packed(_) => "listpack",
            Repr::Skip(_) => "skiplist",
        }
    }

    fn make_skiplist(&mut self) {
        if let Repr::Packed(p) = &self.repr {
            let mut z = SkipList::new();
            for (_, m, s) in p.iter() {
                z.insert(Bytes::copy_from_slice(m), s);
            }
            self.repr = Repr::Skip(Box::new(z));
        }
    }

    fn make_packed(&mut self) {
        if let Repr::Skip(z) = &self.repr {
            let mut p = Packed::default();
            // Ascending order: each insert lands at the end. -0 becomes 0, as in a listpack.
            for (m, s) in z.iter() {
                p.insert(m, s);
            }
            self.repr = Repr::Packed(p);
        }
    }

    /// Converts to the skip list when adding a member of `len` bytes would exceed Redis's
    /// listpack limits (`zset-max-listpack-entries`, `zset-max-listpack-value`). Call it before
    /// inserting a new member, as Redis converts before the insert.
    pub fn grow_encoding(&mut self, len: usize, max_entries: usize, max_value: usize) {
        if matches!(self.repr, Repr::Packed(_)) && (self.len() + 1 > max_entries || len > max_value)
        {
            self.make_skiplist();
        }
    }

    /// Gives a freshly built set (a STORE destination, a loaded key) the encoding Redis gives it:
    /// packed when it fits the limits.
    pub fn settle_encoding(&mut self, max_entries: usize, max_value: usize) {
        let fits = self.len() <= max_entries && self.iter().all(|(m, _)| m.len() <= max_value);
        if fits {
            self.make_packed();
        } else {
            self.make_skiplist();
        }
    }

    /// Forces the skip list (ZADD creating a set whose first member is too long, a STORE
    /// command's result under construction).
    pub fn set_skiplist(&mut self) {
        self.make_skiplist();
    }

    /// The score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match &self.repr {
            Repr::Packed(p) => p.score(member),
            Repr::Skip(z) => z.score(member),
        }
    }

    /// Adds `member` or changes its score; returns the previous score. A packed set stays packed:
    /// `grow_encoding` first is the caller's part.
    pub fn insert(&mut self, member: Bytes, score: f64) -> Option<f64> {
        match &mut self.repr {
            Repr::Packed(p) => p.insert(&member, score),
            Repr::Skip(z) => z.insert(member, score),
        }
    }

    /// Removes `member`; returns whether it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Packed(p) => p.remove(member),
            Repr::Skip(z) => z.remove(member),
        }
    }

    /// 0-based rank of `member` in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        match &self.repr {
            Repr::Packed(p) => p.rank(member),
            Repr::Skip(z) => z.rank(member),
        }
    }

    /// The element at 0-based rank `r`.
    pub fn at_rank(&self, r: usize) -> Option<(Bytes, f64)> {
        match &self.repr {
            Repr::Packed(p) => p.iter().nth(r).map(|(_, m, s)| owned(m, s)),
            Repr::Skip(z) => z.at_rank(r),
        }
    }

    /// Elements with 0-based ranks `start..=end` (already clamped by the caller), ascending, or
    /// counted from the top when `rev`.
    pub fn range_by_rank(&self, start: usize, end: usize, rev: bool) -> Vec<(Bytes, f64)> {
        match &self.repr {
            Repr::Packed(p) => {
                let len = p.len();
                if start > end || start >= len {
                    return Vec::new();
                }
                let n = end.min(len - 1) - start + 1;
                let mut all = p.entries();
                if rev {
                    all.reverse();
                }
                all[start..start + n]
                    .iter()
                    .map(|&(m, s)| owned(m, s))
                    .collect()
            }
            Repr::Skip(z) => z.range_by_rank(start, end, rev),
        }
    }

    /// Elements in `range`, skipping `offset`, at most `limit`; descending when `rev`.
    pub fn range_by_score(
        &self,
        range: &ScoreRange,
        rev: bool,
        offset: usize,
        limit: Option<usize>,
    ) -> Vec<(Bytes, f64)> {
        match &self.repr {
            Repr::Packed(p) => packed_range(
                p,
                |_, s| range.gte_min(s) && range.lte_max(s),
                rev,
                offset,
                limit,
            ),
            Repr::Skip(z) => z.range_by_score(range, rev, offset, limit),
        }
    }

    /// Elements in the lexicographic `range`, skipping `offset`, at most `limit`.
    pub fn range_by_lex(
        &self,
        range: &LexRange,
        rev: bool,
        offset: usize,
        limit: Option<usize>,
    ) -> Vec<(Bytes, f64)> {
        match &self.repr {
            Repr::Packed(p) => packed_range(
                p,
                |m, _| !range.is_empty() && range.gte_min(m) && range.lte_max(m),
                rev,
                offset,
                limit,
            ),
            Repr::Skip(z) => z.range_by_lex(range, rev, offset, limit),
        }
    }

    /// How many elements have a score in `range`.
    pub fn count_score(&self, range: &ScoreRange) -> usize {
        match &self.repr {
            Repr::Packed(p) => p
                .iter()
                .filter(|&(_, _, s)| range.gte_min(s) && range.lte_max(s))
                .count(),
            Repr::Skip(z) => z.count_score(range),
        }
    }

    /// How many elements are in the lexicographic `range`.
    pub fn count_lex(&self, range: &LexRange) -> usize {
        match &self.repr {
            Repr::Packed(_) if range.is_empty() => 0,
            Repr::Packed(p) => p
                .iter()
                .filter(|&(_, m, _)| range.gte_min(m) && range.lte_max(m))
                .count(),
            Repr::Skip(z) => z.count_lex(range),
        }
    }

    /// Removes ranks `start..=end` (0-based, clamped by the caller); returns how many went.
    pub fn remove_range_by_rank(&mut self, start: usize, end: usize) -> usize {
        match &mut self.repr {
            Repr::Packed(p) => p.retain(|i, _, _| i < start || i > end),
            Repr::Skip(z) => z.remove_range_by_rank(start, end),
        }
    }

    /// Removes the elements with a score in `range`.
    pub fn remove_range_by_score(&mut self, range: &ScoreRange) -> usize {
        match &mut self.repr {
            Repr::Packed(p) => p.retain(|_, _, s| !(range.gte_min(s) && range.lte_max(s))),
            Repr::Skip(z) => z.remove_range_by_score(range),
        }
    }

    /// Removes the elements in the lexicographic `range`.
    pub fn remove_range_by_lex(&mut self, range: &LexRange) -> usize {
        match &mut self.repr {
            Repr::Packed(_) if range.is_empty() => 0,
            Repr::Packed(p) => p.retain(|_, m, _| !(range.gte_min(m) && range.lte_max(m))),
            Repr::Skip(z) => z.remove_range_by_lex(range),
        }
    }

    /// Removes and returns up to `count` elements from the bottom (or the top when `max`).
    pub fn pop(&mut self, count: usize, max: bool) -> Vec<(Bytes, f64)> {
        match &mut self.repr {
            Repr::Packed(p) => {
                let n = count.min(p.len());
                if n == 0 {
                    return Vec::new();
                }
                let victims = if max {
                    let mut all = p.entries();
                    all.reverse();
                    all.truncate(n);
                    all.into_iter().map(|(m, s)| owned(m, s)).collect()
                } else {
                    p.iter()
                        .take(n)
                        .map(|(_, m, s)| owned(m, s))
                        .collect::<Vec<_>>()
                };
                let len = p.len();
                p.retain(|i, _, _| if max { i + n < len } else { i >= n });
                victims
            }
            Repr::Skip(z) => z.pop(count, max),
        }
    }

    /// Every (member, score), ascending.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], f64)> + '_ {
        let (a, b) = match &self.repr {
            Repr::Packed(p) => (Some(p.iter().map(|(_, m, s)| (m, s))), None),
            Repr::Skip(z) => (None, Some(z.iter().map(|(m, s)| (&m[..], s)))),
        };
        a.into_iter().flatten().chain(b.into_iter().flatten())
    }

    /// Every (member, score), ascending, as owned `Bytes` (shared, not copied, past the
    /// thresholds).
    pub fn pairs(&self) -> Vec<(Bytes, f64)> {
        match &self.repr {
            Repr::Packed(p) => p.iter().map(|(_, m, s)| owned(m, s)).collect(),
            Repr::Skip(z) => z.iter().map(|(m, s)| (m.clone(), s)).collect(),
        }
    }

    /// Every member, ascending by (score, member).
    pub fn members_in_order(&self) -> Vec<Bytes> {
        self.pairs().into_iter().map(|(m, _)| m).collect()
    }
}

#[cfg(test)]
mod tests;
