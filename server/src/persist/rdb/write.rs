//! Writing RDB files and DUMP payloads.
//!
//! Encodings Redis 7.0.15's `rdbLoadObject` reads: the plain `STRING`, `LIST`, `SET`, `ZSET_2`
//! and `HASH` (Redis picks listpack, intset, quicklist or a table by its own thresholds while
//! loading them, exactly as for values it builds itself), `ZSET_LISTPACK` for a sorted set held
//! packed (Redis keeps a loaded listpack as one even past `zset-max-listpack-value`, so the form
//! survives a DUMP/RESTORE as in Redis) and `STREAM_LISTPACKS_2`, whose nodes have to be
//! listpacks, and `SET_INTSET` for a set held as an intset (its buffer is the blob's contents,
//! so DUMP gives Redis's bytes). The writer has no ziplist code; other values are written
//! element by element straight from the keyspace.

use super::{blobs, crc64, lzf, op, ty, RDB_VERSION};
use crate::keyspace::stream::{Stream, StreamId};
use crate::keyspace::{Entry, Value};
use std::io::{self, Write};

/// Strings longer than this are written uncompressed even with `rdbcompression yes`: LZF needs
/// the output in one buffer, and a save must not hold a second copy of a 512 MiB value. Redis
/// reads either form.
pub const LZF_MAX_INPUT: usize = 1 << 20;

/// An RDB writer over `W`, keeping the running CRC64 of everything written.
pub struct Writer<W: Write> {
    out: W,
    crc: u64,
    compress: bool,
    checksum: bool,
    written: u64,
}

impl<W: Write> Writer<W> {
    /// Whether strings are LZF-compressed (`rdbcompression`).
    pub fn compresses(&self) -> bool {
        self.compress
    }

    /// A writer; `compress` is `rdbcompression`, `checksum` is `rdbchecksum`.
    pub fn new(out: W, compress: bool, checksum: bool) -> Self {
        Writer {
            out,
            crc: 0,
            compress,
            checksum,
            written: 0,
        }
    }

    /// The CRC64 of what was written so far.
    pub fn crc(&self) -> u64 {
        self.crc
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    /// Writes bytes as they are.
    pub fn raw(&mut self, b: &[u8]) -> io::Result<()> {
        if self.checksum {
            self.crc = crc64::update(self.crc, b);
        }
        self.written += b.len() as u64;
        self.out.write_all(b)
    }

    /// A length in RDB's 6/14/32/64-bit forms.
    pub fn len(&mut self, n: u64) -> io::Result<()> {
        if n < 1 << 6 {
            self.raw(&[n as u8])
        } else if n < 1 << 14 {
            self.raw(&[0x40 | (n >> 8) as u8, n as u8])
        } else if let Ok(n) = u32::try_from(n) {
            let mut b = [0x80, 0, 0, 0, 0];
            b[1..].copy_from_slice(&n.to_be_bytes());
            self.raw(&b)
        } else {
            let mut b = [0x81, 0, 0, 0, 0, 0, 0, 0, 0];
            b[1..].copy_from_slice(&n.to_be_bytes());
            self.raw(&b)
        }
    }

    /// A string as Redis's `rdbSaveRawString` writes it: short decimal integers as integers,
    /// strings over 20 bytes LZF-compressed when that saves at least 4 bytes, else as they are.
    pub fn string(&mut self, s: &[u8]) -> io::Result<()> {
        if s.len() <= 11 {
            if let Some(v) = std::str::from_utf8(s)
                .ok()
                .and_then(|t| t.parse::<i64>().ok().filter(|v| v.to_string() == t))
            {
                if let Ok(v) = i8::try_from(v) {
                    return self.raw(&[0xc0, v as u8]);
                }
                if let Ok(v) = i16::try_from(v) {
                    let b = v.to_le_bytes();
                    return self.raw(&[0xc1, b[0], b[1]]);
                }
                if let Ok(v) = i32::try_from(v) {
                    let b = v.to_le_bytes();
                    return self.raw(&[0xc2, b[0], b[1], b[2], b[3]]);
                }
            }
        }
        if self.compress && s.len() > 20 && s.len() <= LZF_MAX_INPUT {
            if let Some(c) = lzf::compress(s, s.len() - 4) {
                self.raw(&[0xc3])?;
                self.len(c.len() as u64)?;
                self.len(s.len() as u64)?;
                return self.raw(&c);
            }
        }
        self.len(s.len() as u64)?;
        self.raw(s)
    }

    /// The file header and Redis's aux fields.
    pub fn header(&mut self, ctime: u64, used_mem: u64) -> io::Result<()> {
        self.raw(format!("REDIS{RDB_VERSION:04}").as_bytes())?;
        self.aux(b"redis-ver", crate::REDIS_VERSION.as_bytes())?;
        self.aux(b"redis-bits", b"64")?;
        self.aux(b"ctime", ctime.to_string().as_bytes())?;
        self.aux(b"used-mem", used_mem.to_string().as_bytes())?;
        self.aux(b"aof-base", b"0")
    }

    /// The function libraries, each after RDB_OPCODE_FUNCTION2 (written before the keys).
    pub fn functions(&mut self, codes: &[bytes::Bytes]) -> io::Result<()> {
        for c in codes {
            self.raw(&[op::FUNCTION2])?;
            self.string(c)?;
        }
        Ok(())
    }

    /// One aux field.
    pub fn aux(&mut self, k: &[u8], v: &[u8]) -> io::Result<()> {
        self.raw(&[op::AUX])?;
        self.string(k)?;
        self.string(v)
    }

    /// SELECTDB alone: keys of an earlier database written later in the file (a snapshot's
    /// pre-images), which Redis's loader takes anywhere.
    pub fn select_only(&mut self, db: usize) -> io::Result<()> {
        self.raw(&[op::SELECTDB])?;
        self.len(db as u64)
    }

    /// SELECTDB and RESIZEDB before a database's keys.
    pub fn select_db(&mut self, db: usize, keys: usize, expires: usize) -> io::Result<()> {
        self.raw(&[op::SELECTDB])?;
        self.len(db as u64)?;
        self.raw(&[op::RESIZEDB])?;
        self.len(keys as u64)?;
        self.len(expires as u64)
    }

    /// One key with its expiry.
    pub fn key(&mut self, key: &[u8], e: &Entry) -> io::Result<()> {
        self.key_value(key, e.expire_at(), &e.value)
    }

    /// One key with its expiry, from its parts.
    pub fn key_value(&mut self, key: &[u8], expire_at: Option<u64>, v: &Value) -> io::Result<()> {
        if let Some(t) = expire_at {
            self.raw(&[op::EXPIRETIME_MS])?;
            self.raw(&t.to_le_bytes())?;
        }
        self.raw(&[type_of(v)])?;
        self.string(key)?;
        self.value(v)
    }

    /// EOF and the checksum (0 with `rdbchecksum no`, which Redis takes as "not computed").
    pub fn finish(&mut self) -> io::Result<()> {
        self.raw(&[op::EOF])?;
        let crc = if self.checksum { self.crc } else { 0 };
        self.raw(&crc.to_le_bytes())?;
        self.out.flush()
    }

    /// A value with its type byte in front (the body of a DUMP payload).
    pub fn object(&mut self, v: &Value) -> io::Result<()> {
        self.raw(&[type_of(v)])?;
        self.value(v)
    }

    fn value(&mut self, v: &Value) -> io::Result<()> {
        match v {
            Value::Str(s) => self.string(s),
            Value::List(l) => {
                self.len(l.len() as u64)?;
                l.iter().try_for_each(|x| self.string(x))
            }
            Value::Set(s) if s.is_intset() => {
                // Redis's intset blob: width and count (u32 LE), then the sorted contents, which
                // is how the set is held already.
                let (width, data) = s.intset_parts().unwrap_or((2, &[]));
                let mut b = Vec::with_capacity(8 + data.len());
                b.extend_from_slice(&(width as u32).to_le_bytes());
                b.extend_from_slice(&(s.len() as u32).to_le_bytes());
                b.extend_from_slice(data);
                self.string(&b)
            }
            Value::Set(s) => {
                self.len(s.len() as u64)?;
                s.iter().try_for_each(|x| self.string(&x))
            }
            Value::ZSet(z) if z.is_packed() => {
                // A listpack as Redis writes it: member, score (d2string's text; integers stored
                // as integers by the listpack itself).
                let scores: Vec<String> =
                    z.iter().map(|(_, s)| crate::resp::fmt_double(s)).collect();
                let items: Vec<blobs::LpItem> = z
                    .iter()
                    .zip(&scores)
                    .flat_map(|((m, _), s)| {
                        [blobs::LpItem::Str(m), blobs::LpItem::Str(s.as_bytes())]
                    })
                    .collect();
                self.string(&blobs::build_listpack(&items))
            }
            Value::ZSet(z) => {
                self.len(z.len() as u64)?;
                z.iter().try_for_each(|(m, score)| {
                    self.string(m)?;
                    self.raw(&score.to_le_bytes())
                })
            }
            Value::Hash(h) if !h.is_table() => {
                // A listpack of field, value, ... as Redis writes a small hash.
                let items: Vec<blobs::LpItem> = h
                    .iter()
                    .flat_map(|(f, x)| [blobs::LpItem::Str(f), blobs::LpItem::Str(x)])
                    .collect();
                self.string(&blobs::build_listpack(&items))
            }
            Value::Hash(h) => {
                self.len(h.len() as u64)?;
                h.iter().try_for_each(|(f, x)| {
                    self.string(f)?;
                    self.string(x)
                })
            }
            Value::Stream(s) => self.stream(s),
        }
    }

    fn id(&mut self, id: StreamId) -> io::Result<()> {
        self.len(id.ms)?;
        self.len(id.seq)
    }

    fn stream(&mut self, s: &Stream) -> io::Result<()> {
        // Nodes of at most 100 entries (Redis's default `stream-node-max-entries`), each a
        // listpack opened by a master entry of its first entry's fields; every entry then lists
        // its own fields (no SAMEFIELDS flag), which Redis reads the same way.
        const NODE: usize = 100;
        let ids: Vec<_> = s.entries.iter().collect();
        self.len(ids.len().div_ceil(NODE) as u64)?;
        for node in ids.chunks(NODE) {
            let (&master, first_fields) = node[0];
            let mut items: Vec<blobs::LpItem> = vec![
                blobs::LpItem::Int(node.len() as i64),
                blobs::LpItem::Int(0),
                blobs::LpItem::Int(first_fields.len() as i64),
            ];
            items.extend(first_fields.iter().map(|(f, _)| blobs::LpItem::Str(f)));
            items.push(blobs::LpItem::Int(0));
            for (id, fields) in node {
                items.push(blobs::LpItem::Int(0));
                items.push(blobs::LpItem::Int(id.ms.wrapping_sub(master.ms) as i64));
                items.push(blobs::LpItem::Int(id.seq.wrapping_sub(master.seq) as i64));
                items.push(blobs::LpItem::Int(fields.len() as i64));
                for (f, v) in fields.iter() {
                    items.push(blobs::LpItem::Str(f));
                    items.push(blobs::LpItem::Str(v));
                }
                items.push(blobs::LpItem::Int(fields.len() as i64 * 2 + 4));
            }
            let mut key = [0u8; 16];
            key[..8].copy_from_slice(&master.ms.to_be_bytes());
            key[8..].copy_from_slice(&master.seq.to_be_bytes());
            self.string(&key)?;
            self.string(&blobs::build_listpack(&items))?;
        }
        self.len(s.len() as u64)?;
        self.id(s.last_id)?;
        self.id(s.first_id())?;
        self.id(s.max_deleted)?;
        self.len(s.entries_added)?;
        self.len(s.groups.len() as u64)?;
        for (name, g) in &s.groups {
            self.string(name)?;
            self.id(g.last_id)?;
            self.len(g.entries_read.unwrap_or(u64::MAX))?;
            self.len(g.pel.len() as u64)?;
            for (id, p) in &g.pel {
                self.raw_id(*id)?;
                self.raw(&p.delivery_time.to_le_bytes())?;
                self.len(p.delivery_count)?;
            }
            self.len(g.consumers.len() as u64)?;
            for (name, c) in &g.consumers {
                self.string(name)?;
                self.raw(&c.seen_time.to_le_bytes())?;
                self.len(c.pel.len() as u64)?;
                for id in &c.pel {
                    self.raw_id(*id)?;
                }
            }
        }
        Ok(())
    }

    /// A stream ID as 16 raw big-endian bytes (PEL entries are written this way).
    fn raw_id(&mut self, id: StreamId) -> io::Result<()> {
        self.raw(&id.ms.to_be_bytes())?;
        self.raw(&id.seq.to_be_bytes())
    }
}

/// One key as a save writes it (expiry, type, key, value) in a buffer of its own, to be passed
/// to [`Writer::raw`] of the file later: a snapshot serializes a collection under its shard's
/// lock this way and writes the bytes after releasing it.
pub fn key_record(key: &[u8], e: &Entry, compress: bool) -> Vec<u8> {
    let mut w = Writer::new(Vec::new(), compress, false);
    // Writing into a Vec cannot fail.
    let _ = w.key(key, e);
    w.into_inner()
}

/// The type byte a value is written with.
fn type_of(v: &Value) -> u8 {
    match v {
        Value::Str(_) => ty::STRING,
        Value::List(_) => ty::LIST,
        Value::Set(s) if s.is_intset() => ty::SET_INTSET,
        Value::Set(_) => ty::SET,
        Value::ZSet(z) if z.is_packed() => ty::ZSET_LISTPACK,
        Value::ZSet(_) => ty::ZSET_2,
        Value::Hash(h) if !h.is_table() => ty::HASH_LISTPACK,
        Value::Hash(_) => ty::HASH,
        Value::Stream(_) => ty::STREAM_LISTPACKS_2,
    }
}
