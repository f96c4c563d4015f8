//! Parameters with a syntax of their own: `notify-keyspace-events` (event class letters) and
//! `client-output-buffer-limit` (per-class byte limits).

use super::parse_memory;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// `notify-keyspace-events` bits, as Redis numbers them.
pub mod events {
    pub const KEYSPACE: u32 = 1 << 0;
    pub const KEYEVENT: u32 = 1 << 1;
    pub const GENERIC: u32 = 1 << 2;
    pub const STRING: u32 = 1 << 3;
    pub const LIST: u32 = 1 << 4;
    pub const SET: u32 = 1 << 5;
    pub const HASH: u32 = 1 << 6;
    pub const ZSET: u32 = 1 << 7;
    pub const EXPIRED: u32 = 1 << 8;
    pub const EVICTED: u32 = 1 << 9;
    pub const STREAM: u32 = 1 << 10;
    pub const KEY_MISS: u32 = 1 << 11;
    pub const MODULE: u32 = 1 << 13;
    pub const NEW: u32 = 1 << 14;
    /// What 'A' stands for (not key-miss nor new-key events, as in Redis).
    pub const ALL: u32 =
        GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;
}

/// Parses event class letters; Redis's error text otherwise.
pub fn parse_keyspace_events(s: &str) -> Result<u32, String> {
    use events::*;
    let mut f = 0;
    for c in s.chars() {
        f |= match c {
            'A' => ALL,
            'g' => GENERIC,
            '$' => STRING,
            'l' => LIST,
            's' => SET,
            'h' => HASH,
            'z' => ZSET,
            'x' => EXPIRED,
            'e' => EVICTED,
            'K' => KEYSPACE,
            'E' => KEYEVENT,
            't' => STREAM,
            'm' => KEY_MISS,
            'd' => MODULE,
            'n' => NEW,
            _ => return Err("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".into()),
        };
    }
    Ok(f)
}

/// The canonical letters for event flags, as CONFIG GET shows them.
pub fn format_keyspace_events(f: u32) -> String {
    use events::*;
    let mut s = String::new();
    if f & ALL == ALL {
        s.push('A');
    } else {
        for (bit, c) in [
            (GENERIC, 'g'),
            (STRING, '$'),
            (LIST, 'l'),
            (SET, 's'),
            (HASH, 'h'),
            (ZSET, 'z'),
            (EXPIRED, 'x'),
            (EVICTED, 'e'),
            (STREAM, 't'),
            (MODULE, 'd'),
            (NEW, 'n'),
        ] {
            if f & bit != 0 {
                s.push(c);
            }
        }
    }
    for (bit, c) in [(KEYSPACE, 'K'), (KEYEVENT, 'E'), (KEY_MISS, 'm')] {
        if f & bit != 0 {
            s.push(c);
        }
    }
    s
}

/// Hard limit, soft limit (bytes) and soft seconds of one client class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BufLimit {
    pub hard: u64,
    pub soft: u64,
    pub soft_secs: u64,
}

/// One class's limits as they change (CONFIG SET stores, pub/sub delivery loads).
#[derive(Debug, Default)]
pub struct ObufLimit {
    hard: AtomicU64,
    soft: AtomicU64,
    soft_secs: AtomicU64,
}

impl ObufLimit {
    /// The limits now in force.
    pub fn load(&self) -> BufLimit {
        BufLimit {
            hard: self.hard.load(Relaxed),
            soft: self.soft.load(Relaxed),
            soft_secs: self.soft_secs.load(Relaxed),
        }
    }

    pub(super) fn store(&self, l: BufLimit) {
        self.hard.store(l.hard, Relaxed);
        self.soft.store(l.soft, Relaxed);
        self.soft_secs.store(l.soft_secs, Relaxed);
    }
}

const CLASSES: [&str; 3] = ["normal", "slave", "pubsub"];

/// Parses the stored form (all three classes) into limits for normal, replica and pubsub clients.
pub fn parse_buffer_limits(s: &str) -> [BufLimit; 3] {
    let mut out = [BufLimit::default(); 3];
    let _ = apply_buffer_limits(&mut out, s);
    out
}

/// Applies Redis's `class hard soft seconds ...` syntax to `limits`, all or nothing.
fn apply_buffer_limits(limits: &mut [BufLimit; 3], s: &str) -> Result<(), String> {
    let w: Vec<&str> = s.split_whitespace().collect();
    if w.len() % 4 != 0 {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    let mut next = *limits;
    for g in w.chunks(4) {
        let class = match g[0].to_ascii_lowercase().as_str() {
            "normal" => 0,
            "slave" | "replica" => 1,
            "pubsub" => 2,
            _ => {
                return Err("Invalid client class specified in buffer limit configuration.".into())
            }
        };
        let bad = || "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
        let hard = parse_memory(g[1]).ok_or_else(bad)?;
        let soft = parse_memory(g[2]).ok_or_else(bad)?;
        let soft_secs: u64 = g[3].parse().map_err(|_| bad())?;
        next[class] = BufLimit {
            hard,
            soft,
            soft_secs,
        };
    }
    *limits = next;
    Ok(())
}

/// A CONFIG SET of `client-output-buffer-limit`: the classes named change, the others stay.
pub fn merge_buffer_limits(current: &str, value: &str) -> Result<String, String> {
    let mut l = parse_buffer_limits(current);
    apply_buffer_limits(&mut l, value)?;
    Ok(CLASSES
        .iter()
        .zip(l)
        .map(|(n, b)| format!("{n} {} {} {}", b.hard, b.soft, b.soft_secs))
        .collect::<Vec<_>>()
        .join(" "))
}

/// `save`'s "<seconds> <changes> ..." pairs as Redis 7.0 checks them (setConfigSaveOption):
/// an even count, seconds at least 1, changes at least 0; returned as CONFIG GET prints them.
pub fn parse_save_rules(value: &str) -> Result<String, String> {
    let words: Vec<&str> = value.split_whitespace().collect();
    if words.len() % 2 != 0 {
        return Err("Invalid save parameters".into());
    }
    let mut out = Vec::with_capacity(words.len());
    for (i, w) in words.iter().enumerate() {
        let min = if i % 2 == 0 { 1 } else { 0 };
        match w.parse::<i64>() {
            Ok(v) if v >= min => out.push(v.to_string()),
            _ => return Err("Invalid save parameters".into()),
        }
    }
    Ok(out.join(" "))
}

/// `shutdown-on-sigterm`/`-sigint`: words among default, save, nosave, now, force (any case,
/// single spaces), printed as Redis's `configEnumGetName` does: the flags in table order, or
/// `default` when none is set. SAVE with NOSAVE is refused, as Redis's
/// `isValidShutdownOnSigFlags`.
pub fn parse_shutdown_flags(value: &str) -> Result<String, String> {
    const FLAGS: [&str; 4] = ["save", "nosave", "now", "force"];
    let bad = || {
        "argument(s) must be one of the following: default, save, nosave, now, force".to_string()
    };
    let mut set = [false; 4];
    for w in value.split(' ') {
        let w = w.to_ascii_lowercase();
        if w == "default" {
            continue;
        }
        let i = FLAGS.iter().position(|f| *f == w).ok_or_else(bad)?;
        set[i] = true;
    }
    if set[0] && set[1] {
        return Err("shutdown options SAVE and NOSAVE can't be used simultaneously".into());
    }
    let words: Vec<&str> = FLAGS
        .iter()
        .zip(set)
        .filter_map(|(f, on)| on.then_some(*f))
        .collect();
    Ok(if words.is_empty() {
        "default".into()
    } else {
        words.join(" ")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_letters_round_trip_as_redis() {
        let f = |s| format_keyspace_events(parse_keyspace_events(s).unwrap());
        assert_eq!(f("KEA"), "AKE");
        assert_eq!(f("Kgx"), "gxK");
        assert_eq!(f("KEA$lshzxetmdn"), "AKEm");
        assert_eq!(f(""), "");
        assert!(parse_keyspace_events("Q").is_err());
    }

    #[test]
    fn buffer_limits_merge_by_class() {
        let d = "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60";
        assert_eq!(
            merge_buffer_limits(d, "pubsub 1mb 0 0").unwrap(),
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 0 0"
        );
        assert_eq!(merge_buffer_limits(d, "").unwrap(), d);
        assert!(merge_buffer_limits(d, "pubsub 1mb 0").is_err());
        assert!(merge_buffer_limits(d, "master 1 1 1").is_err());
        assert!(merge_buffer_limits(d, "pubsub x 0 0").is_err());
        assert_eq!(parse_buffer_limits(d)[2].hard, 32 << 20);
    }
}
