//! Reading RDB files and DUMP payloads: every encoding Redis 7.0.15 writes or loads.
//!
//! Nothing is allocated from a length before that length has been checked against the bytes
//! left in the input (and strings against `proto-max-bulk-len`), and element counts only size
//! a vector up to a small bound, so a corrupt length costs an error, not memory.

use super::{blobs, crc64, lzf, op, ty, RdbError, RDB_VERSION};
use crate::keyspace::stream::{Consumer, Group, Pending, Stream, StreamId};
use crate::keyspace::zset::ZSet;
use crate::keyspace::{Hash, HashLimits, Set, Value};
use bytes::Bytes;
use std::collections::VecDeque;
use std::io::Read;

/// What loaded values may be, and how they are encoded.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Longest string (`proto-max-bulk-len`).
    pub max_bulk: u64,
    /// Databases there are (`databases`).
    pub dbs: usize,
    /// Whether a non-zero checksum at the end of a file is checked (`rdbchecksum`).
    pub verify_checksum: bool,
    pub hash: HashLimits,
    pub set_intset: usize,
    /// `zset-max-listpack-entries` and `-value`.
    pub zset: (usize, usize),
}

impl Default for Limits {
    /// Redis 7.0's defaults (512 MiB strings, 16 databases, its listpack/intset thresholds).
    fn default() -> Self {
        Limits {
            max_bulk: 512 << 20,
            dbs: 16,
            verify_checksum: true,
            hash: HashLimits {
                entries: 128,
                value: 64,
            },
            set_intset: 512,
            zset: (128, 64),
        }
    }
}

/// One thing read from a file.
#[derive(Debug)]
pub enum Item {
    /// A key of database `db`.
    Key {
        db: usize,
        key: Bytes,
        value: Value,
        /// Unix milliseconds.
        expire_at: Option<u64>,
        /// Seconds idle (LRU), as saved.
        idle: Option<u64>,
        /// LFU counter, as saved.
        freq: Option<u8>,
    },
    /// An aux field (redis-ver, ctime, ...).
    Aux(Bytes, Bytes),
    /// A function library's code (shebang included).
    Function(Bytes),
    /// The end, checksum verified.
    Eof,
}

/// A reader over `R`, which holds `total` bytes.
pub struct Reader<R: Read> {
    inner: R,
    pos: u64,
    total: u64,
    crc: u64,
    limits: Limits,
    db: usize,
    version: u16,
}

const STREAM_ITEM_DELETED: i64 = 1;
const STREAM_ITEM_SAMEFIELDS: i64 = 2;
/// Initial capacity for a collection, whatever count the input claims.
const PREALLOC_MAX: usize = 1024;

impl<R: Read> Reader<R> {
    pub fn new(inner: R, total: u64, limits: Limits) -> Self {
        Reader {
            inner,
            pos: 0,
            total,
            crc: 0,
            limits,
            db: 0,
            version: RDB_VERSION,
        }
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> u64 {
        self.pos
    }

    fn corrupt<T>(&self, what: impl Into<String>) -> Result<T, RdbError> {
        Err(RdbError::Corrupt {
            offset: self.pos,
            what: what.into(),
        })
    }

    fn remaining(&self) -> u64 {
        self.total.saturating_sub(self.pos)
    }

    fn fill(&mut self, buf: &mut [u8]) -> Result<(), RdbError> {
        if buf.len() as u64 > self.remaining() {
            return self.corrupt("unexpected end of file");
        }
        match self.inner.read_exact(buf) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return self.corrupt("unexpected end of file")
            }
            Err(source) => {
                return Err(RdbError::Io {
                    offset: self.pos,
                    source,
                })
            }
        }
        self.crc = crc64::update(self.crc, buf);
        self.pos += buf.len() as u64;
        Ok(())
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], RdbError> {
        let mut b = [0u8; N];
        self.fill(&mut b)?;
        Ok(b)
    }

    pub fn byte(&mut self) -> Result<u8, RdbError> {
        Ok(self.array::<1>()?[0])
    }

    /// A length, or (for a string) the special encoding it announces.
    fn len_or_enc(&mut self) -> Result<(u64, bool), RdbError> {
        let b = self.byte()?;
        Ok(match b >> 6 {
            0 => (u64::from(b & 0x3f), false),
            1 => (u64::from(b & 0x3f) << 8 | u64::from(self.byte()?), false),
            2 => match b {
                0x80 => (u64::from(u32::from_be_bytes(self.array()?)), false),
                0x81 => (u64::from_be_bytes(self.array()?), false),
                _ => return self.corrupt(format!("unknown length encoding {b:#x}")),
            },
            _ => (u64::from(b & 0x3f), true),
        })
    }

    pub fn length(&mut self) -> Result<u64, RdbError> {
        match self.len_or_enc()? {
            (n, false) => Ok(n),
            _ => self.corrupt("an encoded string where a length belongs"),
        }
    }

    /// A count of elements of at least one byte each: no more than the bytes left.
    fn count(&mut self) -> Result<usize, RdbError> {
        let n = self.length()?;
        if n > self.remaining() {
            return self.corrupt(format!(
                "count {n} exceeds the {} bytes left",
                self.remaining()
            ));
        }
        Ok(n as usize)
    }

    /// A string in any of its encodings; a raw one lands in one buffer of its exact size.
    pub fn string(&mut self) -> Result<Bytes, RdbError> {
        let (n, enc) = self.len_or_enc()?;
        if enc {
            return match n {
                0 => Ok(int_text(i64::from(self.array::<1>()?[0] as i8))),
                1 => Ok(int_text(i64::from(i16::from_le_bytes(self.array()?)))),
                2 => Ok(int_text(i64::from(i32::from_le_bytes(self.array()?)))),
                3 => {
                    let clen = self.length()?;
                    let len = self.length()?;
                    if clen > self.remaining() || len > self.limits.max_bulk {
                        return self.corrupt(format!("compressed string of {clen}/{len} bytes"));
                    }
                    let mut c = vec![0u8; clen as usize];
                    self.fill(&mut c)?;
                    match lzf::decompress(&c, len as usize) {
                        Some(v) => Ok(Bytes::from(v)),
                        None => self.corrupt("invalid LZF compressed string"),
                    }
                }
                _ => self.corrupt(format!("unknown string encoding {n}")),
            };
        }
        if n > self.remaining() || n > self.limits.max_bulk {
            return self.corrupt(format!(
                "string of {n} bytes (left: {}, proto-max-bulk-len: {})",
                self.remaining(),
                self.limits.max_bulk
            ));
        }
        let mut v = vec![0u8; n as usize];
        self.fill(&mut v)?;
        Ok(Bytes::from(v))
    }

    fn u64_le(&mut self) -> Result<u64, RdbError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// The file header: `REDIS` and a 4-digit version no newer than ours.
    pub fn header(&mut self) -> Result<u16, RdbError> {
        let h: [u8; 9] = self.array()?;
        if &h[..5] != b"REDIS" {
            return Err(RdbError::Corrupt {
                offset: 0,
                what: "wrong signature trying to load DB from file".into(),
            });
        }
        let v = std::str::from_utf8(&h[5..])
            .ok()
            .and_then(|s| s.parse::<u16>().ok());
        match v {
            Some(v) if (1..=RDB_VERSION).contains(&v) => {
                self.version = v;
                Ok(v)
            }
            _ => Err(RdbError::Corrupt {
                offset: 5,
                what: format!(
                    "can't handle RDB format version {}",
                    String::from_utf8_lossy(&h[5..])
                ),
            }),
        }
    }

    /// The next key, aux field or the end.
    pub fn next_item(&mut self) -> Result<Item, RdbError> {
        let (mut expire_at, mut idle, mut freq) = (None, None, None);
        loop {
            let t = self.byte()?;
            match t {
                op::EXPIRETIME_MS => expire_at = Some(self.u64_le()?),
                op::EXPIRETIME => {
                    expire_at = Some(u64::from(u32::from_le_bytes(self.array()?)) * 1000)
                }
                op::IDLE => idle = Some(self.length()?),
                op::FREQ => freq = Some(self.byte()?),
                op::SELECTDB => {
                    let db = self.length()?;
                    if db >= self.limits.dbs as u64 {
                        return self.corrupt(format!(
                            "database {db} but only {} configured (databases)",
                            self.limits.dbs
                        ));
                    }
                    self.db = db as usize;
                }
                op::RESIZEDB => {
                    self.length()?;
                    self.length()?;
                }
                op::AUX => {
                    let k = self.string()?;
                    let v = self.string()?;
                    return Ok(Item::Aux(k, v));
                }
                op::MODULE_AUX => return self.corrupt("module data, which respd cannot load"),
                op::FUNCTION2 => return Ok(Item::Function(self.string()?)),
                op::FUNCTION => {
                    // 7.0-rc's form: name, engine, description, code; Redis turns it into the
                    // code with its shebang.
                    let name = self.string()?;
                    let engine = self.string()?;
                    if self.length()? != 0 {
                        self.string()?;
                    }
                    let code = self.string()?;
                    let mut c = b"#!".to_vec();
                    c.extend_from_slice(&engine);
                    c.extend_from_slice(b" name=");
                    c.extend_from_slice(&name);
                    c.push(b'\n');
                    c.extend_from_slice(&code);
                    return Ok(Item::Function(Bytes::from(c)));
                }
                op::EOF => {
                    let computed = self.crc;
                    if self.version >= 5 {
                        let stored = self.u64_le()?;
                        if self.limits.verify_checksum && stored != 0 && stored != computed {
                            return self.corrupt(format!(
                                "wrong RDB checksum (expected {stored:#018x}, got {computed:#018x})"
                            ));
                        }
                    }
                    return Ok(Item::Eof);
                }
                t => {
                    let key = self.string()?;
                    let value = self.object(t)?;
                    return Ok(Item::Key {
                        db: self.db,
                        key,
                        value,
                        expire_at,
                        idle,
                        freq,
                    });
                }
            }
        }
    }

    /// A blob (ziplist, listpack, ...) parsed by `parse`; errors name the blob's offset.
    fn blob(
        &mut self,
        parse: fn(&[u8]) -> blobs::BlobResult<Vec<Bytes>>,
    ) -> Result<Vec<Bytes>, RdbError> {
        let at = self.pos;
        let b = self.string()?;
        parse(&b).map_err(|what| RdbError::Corrupt {
            offset: at,
            what: what.into(),
        })
    }

    fn strings(&mut self, n: usize) -> Result<Vec<Bytes>, RdbError> {
        let mut v = Vec::with_capacity(n.min(PREALLOC_MAX));
        for _ in 0..n {
            v.push(self.string()?);
        }
        Ok(v)
    }

    /// A value of type `t` (the byte before it).
    pub fn object(&mut self, t: u8) -> Result<Value, RdbError> {
        Ok(match t {
            ty::STRING => Value::Str(self.string()?),
            ty::LIST => {
                let n = self.count()?;
                Value::List(self.strings(n)?.into())
            }
            ty::LIST_ZIPLIST => Value::List(self.blob(blobs::ziplist)?.into()),
            ty::LIST_QUICKLIST | ty::LIST_QUICKLIST_2 => {
                let nodes = self.count()?;
                let mut l = VecDeque::new();
                for _ in 0..nodes {
                    if t == ty::LIST_QUICKLIST {
                        l.extend(self.blob(blobs::ziplist)?);
                        continue;
                    }
                    match self.length()? {
                        1 => l.push_back(self.string()?),
                        2 => l.extend(self.blob(blobs::listpack)?),
                        c => return self.corrupt(format!("quicklist node container {c}")),
                    }
                }
                Value::List(l)
            }
            ty::SET => {
                let n = self.count()?;
                let m = self.strings(n)?;
                self.set(m)?
            }
            ty::SET_INTSET => {
                let at = self.pos;
                let b = self.string()?;
                let m = blobs::intset(&b).map_err(|what| RdbError::Corrupt {
                    offset: at,
                    what: what.into(),
                })?;
                // `intset` checked the header: its first byte is the width (2, 4 or 8).
                let width = usize::from(b[0]);
                let mut v = self.set(m)?;
                if let Value::Set(s) = &mut v {
                    // Redis never narrows an intset: keep the payload's width, so a DUMP
                    // after RESTORE gives the same bytes.
                    s.widen(width);
                }
                v
            }
            ty::ZSET | ty::ZSET_2 => {
                let n = self.count()?;
                let mut pairs = Vec::with_capacity(n.min(PREALLOC_MAX));
                for _ in 0..n {
                    let m = self.string()?;
                    let s = if t == ty::ZSET_2 {
                        f64::from_le_bytes(self.array()?)
                    } else {
                        self.text_double()?
                    };
                    pairs.push((m, s));
                }
                self.zset(pairs, false)?
            }
            ty::ZSET_ZIPLIST | ty::ZSET_LISTPACK => {
                let at = self.pos;
                let items = self.blob(if t == ty::ZSET_ZIPLIST {
                    blobs::ziplist
                } else {
                    blobs::listpack
                })?;
                let pairs = self.pairs(items, at)?;
                let mut scored = Vec::with_capacity(pairs.len());
                for (m, s) in pairs {
                    match std::str::from_utf8(&s)
                        .ok()
                        .and_then(|s| s.parse::<f64>().ok())
                    {
                        Some(s) => scored.push((m, s)),
                        None => {
                            return Err(RdbError::Corrupt {
                                offset: at,
                                what: "sorted set score is not a number".into(),
                            })
                        }
                    }
                }
                self.zset(scored, true)?
            }
            ty::HASH => {
                let n = self.count()?;
                let mut pairs = Vec::with_capacity(n.min(PREALLOC_MAX));
                for _ in 0..n {
                    pairs.push((self.string()?, self.string()?));
                }
                self.hash(pairs)?
            }
            ty::HASH_ZIPMAP | ty::HASH_ZIPLIST | ty::HASH_LISTPACK => {
                let at = self.pos;
                let items = self.blob(match t {
                    ty::HASH_ZIPMAP => blobs::zipmap,
                    ty::HASH_ZIPLIST => blobs::ziplist,
                    _ => blobs::listpack,
                })?;
                let pairs = self.pairs(items, at)?;
                if t == ty::HASH_ZIPMAP {
                    self.hash(pairs)?
                } else {
                    self.packed_hash(pairs)?
                }
            }
            ty::STREAM_LISTPACKS | ty::STREAM_LISTPACKS_2 => {
                Value::Stream(Box::new(self.stream(t)?))
            }
            ty::MODULE | ty::MODULE_2 => {
                return self.corrupt("a module value, which respd cannot load")
            }
            t => return self.corrupt(format!("unknown object type {t}")),
        })
    }

    fn pairs(&self, items: Vec<Bytes>, at: u64) -> Result<Vec<(Bytes, Bytes)>, RdbError> {
        if items.len() % 2 != 0 {
            return Err(RdbError::Corrupt {
                offset: at,
                what: "odd number of elements in a pair encoding".into(),
            });
        }
        let mut it = items.into_iter();
        let mut out = Vec::new();
        while let (Some(a), Some(b)) = (it.next(), it.next()) {
            out.push((a, b));
        }
        Ok(out)
    }

    /// An old-style score: a length byte (253 NaN, 254 +inf, 255 -inf) and its decimal text.
    fn text_double(&mut self) -> Result<f64, RdbError> {
        let n = self.byte()?;
        match n {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            n => {
                let mut b = vec![0u8; usize::from(n)];
                self.fill(&mut b)?;
                match std::str::from_utf8(&b)
                    .ok()
                    .and_then(|s| s.trim().parse().ok())
                {
                    Some(v) => Ok(v),
                    None => self.corrupt("score is not a number"),
                }
            }
        }
    }

    fn set(&self, members: Vec<Bytes>) -> Result<Value, RdbError> {
        let mut s = Set::new();
        for m in members {
            if !s.insert(m, self.limits.set_intset) {
                return self.corrupt("duplicate set members");
            }
        }
        Ok(Value::Set(Box::new(s)))
    }

    /// A sorted set as Redis loads it: a listpack (or ziplist) payload, `packed`, keeps its form
    /// unless it has more entries than `zset-max-listpack-entries`, whatever its members'
    /// lengths; a skiplist payload becomes a listpack when it fits both limits.
    fn zset(&self, pairs: Vec<(Bytes, f64)>, packed: bool) -> Result<Value, RdbError> {
        let mut z = ZSet::new();
        // Built as a skiplist (keeping -0), then encoded as Redis would after loading.
        z.set_skiplist();
        for (m, s) in pairs {
            if s.is_nan() {
                return self.corrupt("sorted set with a NaN score");
            }
            if z.insert(m, s).is_some() {
                return self.corrupt("duplicate sorted set members");
            }
        }
        let (entries, value) = self.limits.zset;
        z.settle_encoding(entries, if packed { usize::MAX } else { value });
        Ok(Value::ZSet(Box::new(z)))
    }

    fn hash(&self, pairs: Vec<(Bytes, Bytes)>) -> Result<Value, RdbError> {
        let mut h = Hash::default();
        for (f, v) in pairs {
            if !h.insert(f, v, self.limits.hash) {
                return self.corrupt("duplicate hash fields");
            }
        }
        Ok(Value::Hash(h))
    }

    /// A hash from a listpack or ziplist payload keeps its form unless it has more entries than
    /// `hash-max-listpack-entries`, whatever its strings' lengths, as Redis loads one (a zipmap
    /// goes through both limits, as `hash`).
    fn packed_hash(&self, pairs: Vec<(Bytes, Bytes)>) -> Result<Value, RdbError> {
        match Hash::from_packed(pairs, self.limits.hash.entries) {
            Some(h) => Ok(Value::Hash(h)),
            None => self.corrupt("duplicate hash fields"),
        }
    }

    fn id(&mut self) -> Result<StreamId, RdbError> {
        Ok(StreamId::new(self.length()?, self.length()?))
    }

    fn raw_id(&mut self) -> Result<StreamId, RdbError> {
        let b: [u8; 16] = self.array()?;
        let (ms, seq) = b.split_at(8);
        Ok(StreamId::new(be(ms), be(seq)))
    }

    fn stream(&mut self, t: u8) -> Result<Stream, RdbError> {
        let mut s = Stream::default();
        let nodes = self.count()?;
        for _ in 0..nodes {
            let key_at = self.pos;
            let key = self.string()?;
            if key.len() != 16 {
                return Err(RdbError::Corrupt {
                    offset: key_at,
                    what: "stream node key is not 16 bytes".into(),
                });
            }
            let master = StreamId::new(be(&key[..8]), be(&key[8..]));
            let at = self.pos;
            let items = self.blob(blobs::listpack)?;
            read_node(&mut s, master, &items).map_err(|what| RdbError::Corrupt {
                offset: at,
                what: what.into(),
            })?;
        }
        let length = self.length()?;
        if length != s.len() as u64 {
            return self.corrupt(format!("stream length {length} but {} entries", s.len()));
        }
        s.last_id = self.id()?;
        if t == ty::STREAM_LISTPACKS_2 {
            self.id()?; // First ID: the first live entry's, which respd derives.
            s.max_deleted = self.id()?;
            s.entries_added = self.length()?;
        } else {
            s.entries_added = length;
        }
        let groups = self.count()?;
        for _ in 0..groups {
            let name = self.string()?;
            let mut g = Group {
                last_id: self.id()?,
                ..Group::default()
            };
            g.entries_read = if t == ty::STREAM_LISTPACKS_2 {
                Some(self.length()?).filter(|&n| n != u64::MAX)
            } else {
                s.estimate_distance(g.last_id)
            };
            let pel = self.count()?;
            for _ in 0..pel {
                let id = self.raw_id()?;
                let delivery_time = self.u64_le()?;
                let delivery_count = self.length()?;
                g.pel.insert(
                    id,
                    Pending {
                        consumer: Bytes::new(),
                        delivery_time,
                        delivery_count,
                    },
                );
            }
            let consumers = self.count()?;
            for _ in 0..consumers {
                let cname = self.string()?;
                let mut c = Consumer {
                    seen_time: self.u64_le()?,
                    ..Consumer::default()
                };
                let n = self.count()?;
                for _ in 0..n {
                    let id = self.raw_id()?;
                    match g.pel.get_mut(&id) {
                        Some(p) => p.consumer = cname.clone(),
                        None => {
                            return self.corrupt("consumer's pending entry missing from its group")
                        }
                    }
                    c.pel.insert(id);
                }
                g.consumers.insert(cname, c);
            }
            if g.pel.values().any(|p| p.consumer.is_empty()) {
                return self.corrupt("group pending entry without a consumer");
            }
            s.groups.insert(name, g);
        }
        Ok(s)
    }
}

fn be(b: &[u8]) -> u64 {
    b.iter().fold(0u64, |a, &x| (a << 8) | u64::from(x))
}

fn int_text(v: i64) -> Bytes {
    Bytes::from(v.to_string())
}

/// Appends the live entries of one stream node (a listpack opened by its master entry).
fn read_node(s: &mut Stream, master: StreamId, items: &[Bytes]) -> Result<(), &'static str> {
    let int = |b: &Bytes| -> Result<i64, &'static str> {
        std::str::from_utf8(b)
            .ok()
            .and_then(|t| t.parse().ok())
            .ok_or("stream node entry is not an integer")
    };
    let mut rest = items.iter();
    let mut next = || rest.next().ok_or("stream node ends early");
    let _count = int(next()?)?;
    let _deleted = int(next()?)?;
    let nfields = usize::try_from(int(next()?)?).map_err(|_| "negative field count")?;
    if nfields > items.len() {
        return Err("stream master entry longer than its node");
    }
    let mut fields = Vec::with_capacity(nfields);
    for _ in 0..nfields {
        fields.push(next()?.clone());
    }
    if int(next()?)? != 0 {
        return Err("stream master entry not terminated");
    }
    while let Ok(flags) = next() {
        let flags = int(flags)?;
        let ms = master.ms.wrapping_add(int(next()?)? as u64);
        let seq = master.seq.wrapping_add(int(next()?)? as u64);
        let mut vals = Vec::new();
        if flags & STREAM_ITEM_SAMEFIELDS != 0 {
            for f in &fields {
                vals.push((f.clone(), next()?.clone()));
            }
        } else {
            let n = usize::try_from(int(next()?)?).map_err(|_| "negative field count")?;
            if n > items.len() {
                return Err("stream entry longer than its node");
            }
            for _ in 0..n {
                let f = next()?.clone();
                vals.push((f, next()?.clone()));
            }
        }
        next()?; // lp-count, for walking backwards.
        if flags & STREAM_ITEM_DELETED == 0 {
            let id = StreamId::new(ms, seq);
            if s.entries.keys().next_back().is_some_and(|last| *last >= id) {
                return Err("stream entries out of order");
            }
            s.append(id, vals);
        }
    }
    Ok(())
}
