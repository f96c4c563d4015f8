//! Stored values.

use super::stream::Stream;
use super::zset::ZSet;
use bytes::Bytes;
use std::collections::{HashMap, HashSet, VecDeque};

/// A value of any Redis type. Strings are `Bytes`, so large values are never copied.
#[derive(Debug, Clone)]
pub enum Value {
    Str(Bytes),
    Hash(HashMap<Bytes, Bytes>),
    List(VecDeque<Bytes>),
    Set(HashSet<Bytes>),
    ZSet(Box<ZSet>),
    Stream(Box<Stream>),
}

impl Value {
    /// The name TYPE answers.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::Hash(_) => "hash",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }

    /// Approximate bytes held, for MEMORY USAGE and INFO.
    pub fn mem_usage(&self) -> usize {
        const OVERHEAD: usize = 16;
        match self {
            Value::Str(b) => b.len() + OVERHEAD,
            Value::Hash(h) => {
                h.iter()
                    .map(|(k, v)| k.len() + v.len() + 2 * OVERHEAD + 16)
                    .sum::<usize>()
                    + 64
            }
            Value::List(l) => l.iter().map(|v| v.len() + OVERHEAD + 8).sum::<usize>() + 64,
            Value::Set(s) => s.iter().map(|v| v.len() + OVERHEAD + 8).sum::<usize>() + 64,
            Value::ZSet(z) => z.mem_usage(),
            Value::Stream(s) => s.mem_usage(),
        }
    }

    /// The encoding OBJECT ENCODING reports, as Redis 7 would choose it.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(b) => {
                if b.len() <= 20 && crate::resp::parse_i64_pub(b).is_some() {
                    "int"
                } else if b.len() <= 44 {
                    "embstr"
                } else {
                    "raw"
                }
            }
            Value::Hash(h) => {
                if h.len() <= 128 && h.iter().all(|(k, v)| k.len() <= 64 && v.len() <= 64) {
                    "listpack"
                } else {
                    "hashtable"
                }
            }
            Value::List(_) => "quicklist",
            Value::Set(s) => {
                if s.len() <= 512 && s.iter().all(|m| crate::resp::parse_i64_pub(m).is_some()) {
                    "intset"
                } else if s.len() <= 128 && s.iter().all(|m| m.len() <= 64) {
                    "listpack"
                } else {
                    "hashtable"
                }
            }
            Value::ZSet(z) => z.encoding(),
            Value::Stream(_) => "stream",
        }
    }
}

/// A key's value with its expiry time and access metadata.
#[derive(Debug, Clone)]
pub struct Entry {
    pub value: Value,
    /// Absolute expiry in Unix milliseconds; changed only through the keyspace so its index agrees.
    pub(crate) expire_at: Option<u64>,
    /// Seconds (server clock) of the last access, for OBJECT IDLETIME.
    pub last_access: u32,
    /// Access counter, for OBJECT FREQ.
    pub freq: u8,
}

impl Entry {
    pub(crate) fn new(value: Value, expire_at: Option<u64>, now_s: u32) -> Self {
        Entry {
            value,
            expire_at,
            last_access: now_s,
            freq: 5, // Redis's LFU_INIT_VAL.
        }
    }

    /// Absolute expiry time in Unix milliseconds, if any.
    pub fn expire_at(&self) -> Option<u64> {
        self.expire_at
    }

    pub(crate) fn touch_access(&mut self, now_s: u32) {
        self.last_access = now_s;
        self.freq = self.freq.saturating_add(1);
    }
}
