//! Stored values.

use super::hash::Hash;
use super::set::Set;
use super::stream::Stream;
use super::zset::ZSet;
use bytes::Bytes;
use std::collections::VecDeque;

/// A value of any Redis type. Strings are `Bytes`, so large values are never copied.
#[derive(Debug, Clone)]
pub enum Value {
    Str(Bytes),
    /// Held inline: a small hash is then its packed buffer and nothing else.
    Hash(Hash),
    List(VecDeque<Bytes>),
    Set(Box<Set>),
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
            Value::Hash(h) => h.mem_usage(),
            Value::List(l) => l.iter().map(|v| v.len() + OVERHEAD + 8).sum::<usize>() + 64,
            Value::Set(s) => s.mem_usage(),
            Value::ZSet(z) => z.mem_usage(),
            Value::Stream(s) => s.mem_usage(),
        }
    }

    /// The encoding OBJECT ENCODING reports, as Redis 7 would choose it.
    pub fn encoding(&self, hint: StrHint) -> &'static str {
        match self {
            Value::Str(_) if hint == StrHint::Raw => "raw",
            Value::Str(b) => {
                if hint == StrHint::Auto
                    && b.len() <= 20
                    && crate::util::num::parse_i64(b).is_some()
                {
                    "int"
                } else if b.len() <= 44 {
                    "embstr"
                } else {
                    "raw"
                }
            }
            Value::Hash(h) => {
                if h.is_table() {
                    "hashtable"
                } else {
                    "listpack"
                }
            }
            Value::List(_) => "quicklist",
            // Redis 7.0 has no listpack sets (7.2 added them).
            Value::Set(s) => {
                if s.is_intset() {
                    "intset"
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
    /// How Redis would have encoded this string, where that depends on the command that wrote it.
    pub str_hint: StrHint,
    /// The epoch of the last snapshot that has this entry's contents (written it, kept its old
    /// version, or seen it created after its cut): see `keyspace::snap`. Sits in what was
    /// padding, so `Entry` stays 64 bytes.
    pub(crate) saved: u16,
}

/// Redis picks a string's encoding by the command that made it: APPEND and SETRANGE leave a
/// "raw" string, INCRBYFLOAT never an "int" one. OBJECT ENCODING reports the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StrHint {
    #[default]
    Auto,
    Raw,
    NoInt,
}

impl Entry {
    pub(crate) fn new(value: Value, expire_at: Option<u64>, now_s: u32) -> Self {
        Entry {
            value,
            expire_at,
            last_access: now_s,
            freq: 5, // Redis's LFU_INIT_VAL.
            str_hint: StrHint::Auto,
            saved: 0,
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
