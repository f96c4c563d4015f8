//! Redis 7.0's key specs: where a command's keys sit among its arguments and what it does to
//! each. COMMAND INFO shows them; COMMAND GETKEYS / GETKEYSANDFLAGS find keys with them as Redis's
//! `getKeysFromCommandWithSpecs` does, falling back to a command's own parsing (Redis's
//! `getkeys_proc`) where a spec cannot say (SORT's STORE, MIGRATE's KEYS, SET's GET, ...).
//!
//! The specs come from `data.rs`, generated from redis-server's COMMAND by `ci/gen-keyspecs` for
//! every Redis 7.0 command, so a row added to the command table finds its own by name. A row
//! Redis does not have gets one range spec derived from its (first, last, step).

#[rustfmt::skip]
mod data;

use super::CommandSpec;
use super::Flags;
use bytes::Bytes;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::OnceLock;

/// Key-spec flags, as Redis's `CMD_KEY_*`.
pub mod flags {
    pub const RO: u16 = 1;
    pub const RW: u16 = 1 << 1;
    pub const OW: u16 = 1 << 2;
    pub const RM: u16 = 1 << 3;
    pub const ACCESS: u16 = 1 << 4;
    pub const UPDATE: u16 = 1 << 5;
    pub const INSERT: u16 = 1 << 6;
    pub const DELETE: u16 = 1 << 7;
    pub const NOT_KEY: u16 = 1 << 8;
    pub const INCOMPLETE: u16 = 1 << 9;
    pub const VARIABLE_FLAGS: u16 = 1 << 10;
}
use flags::*;

/// Where the search for keys begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bs {
    /// At this argument index.
    Index(i32),
    /// After this keyword, searched from `startfrom` (negative: backwards from the end).
    Keyword(&'static str, i32),
    Unknown,
}

/// How keys are found from where the search began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fk {
    /// (lastkey, keystep, limit): lastkey relative to the first key, or negative from the end.
    Range(i32, i32, i32),
    /// (keynumidx, firstkey, keystep): the key count is an argument.
    Keynum(i32, i32, i32),
    Unknown,
}

/// One key spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySpec {
    pub flags: u16,
    pub bs: Bs,
    pub fk: Fk,
    pub notes: Option<&'static str>,
}

/// Flag names in Redis's order (`addReplyFlagsForKeyArgs`).
pub fn flag_names(f: u16) -> Vec<&'static str> {
    const NAMES: &[(u16, &str)] = &[
        (RO, "RO"),
        (RW, "RW"),
        (OW, "OW"),
        (RM, "RM"),
        (ACCESS, "access"),
        (UPDATE, "update"),
        (INSERT, "insert"),
        (DELETE, "delete"),
        (NOT_KEY, "not_key"),
        (INCOMPLETE, "incomplete"),
        (VARIABLE_FLAGS, "variable_flags"),
    ];
    NAMES
        .iter()
        .filter(|(b, _)| f & b != 0)
        .map(|(_, n)| *n)
        .collect()
}

fn by_name<T: Copy>(rows: &'static [(&'static str, T)]) -> HashMap<&'static str, T> {
    rows.iter().copied().collect()
}

/// The key specs of a command or subcommand.
pub fn specs(c: &CommandSpec) -> Cow<'static, [KeySpec]> {
    static SPECS: OnceLock<HashMap<&'static str, &'static [KeySpec]>> = OnceLock::new();
    let m = SPECS.get_or_init(|| by_name(data::SPECS));
    if let Some(s) = m.get(c.full_name().as_str()) {
        return Cow::Borrowed(*s);
    }
    let (first, last, step) = c.keys;
    if first <= 0 || step <= 0 {
        return Cow::Borrowed(&[]);
    }
    let flags = if c.flags.contains(Flags::WRITE) {
        RW | UPDATE
    } else {
        RO | ACCESS
    };
    let last = if last < 0 { last } else { last - first };
    Cow::Owned(vec![KeySpec {
        flags,
        bs: Bs::Index(first),
        fk: Fk::Range(last, step, 0),
        notes: None,
    }])
}

/// The command tips (`nondeterministic_output`, `request_policy:all_shards`, ...).
pub fn tips(c: &CommandSpec) -> &'static [&'static str] {
    static TIPS: OnceLock<HashMap<&'static str, &'static [&'static str]>> = OnceLock::new();
    let m = TIPS.get_or_init(|| by_name(data::TIPS));
    m.get(c.full_name().as_str()).copied().unwrap_or(&[])
}

/// The (first, last, step) and `movablekeys` that Redis derives from key specs
/// (`populateCommandLegacyRangeSpec`): the command table's rows must agree with them.
pub fn legacy_range(specs: &[KeySpec]) -> ((i32, i32, i32), bool) {
    if specs.is_empty() {
        return ((0, 0, 0), false);
    }
    if let [KeySpec {
        flags,
        bs: Bs::Index(first),
        fk: Fk::Range(last, step, _),
        ..
    }] = specs
    {
        let last = if *last >= 0 { last + first } else { *last };
        return ((*first, last, *step), flags & INCOMPLETE != 0);
    }
    let mut movable = false;
    let (mut first, mut last, mut prev_last) = (i32::MAX, 0i32, 0i32);
    for k in specs {
        let (Bs::Index(pos), Fk::Range(lk, step, _)) = (k.bs, k.fk) else {
            movable = true;
            continue;
        };
        if step != 1 || (prev_last != 0 && prev_last != pos - 1) {
            movable = true;
            continue;
        }
        movable |= k.flags & INCOMPLETE != 0;
        first = first.min(pos);
        let abs = if lk >= 0 { lk + pos } else { lk };
        // Unsigned, as Redis compares them, so that a negative (from the end) last key wins.
        last = (last as u32).max(abs as u32) as i32;
        prev_last = last;
    }
    if first == i32::MAX {
        return ((0, 0, 0), true);
    }
    ((first, last, 1), movable)
}

/// A key found in a command's arguments: its index and the flags of the spec that found it.
pub type KeyRef = (usize, u16);

/// Keys by the specs alone (`getKeysUsingKeySpecs`); None where a spec cannot tell (unknown,
/// incomplete, or arguments that do not fit it).
fn by_specs(specs: &[KeySpec], args: &[Bytes]) -> Option<Vec<KeyRef>> {
    let argc = args.len() as i64;
    let mut out = Vec::new();
    for k in specs {
        if k.flags & NOT_KEY != 0 {
            continue;
        }
        let mut first: i64 = match k.bs {
            Bs::Index(p) => p as i64,
            Bs::Keyword(word, from) => {
                let found = if from > 0 {
                    (from as i64..argc)
                        .find(|&i| args[i as usize].eq_ignore_ascii_case(word.as_bytes()))
                } else {
                    (1..argc + from as i64 + 1)
                        .rev()
                        .find(|&i| args[i as usize].eq_ignore_ascii_case(word.as_bytes()))
                };
                match found {
                    Some(i) => i + 1,
                    None => continue,
                }
            }
            Bs::Unknown => return None,
        };
        let (last, step) = match k.fk {
            Fk::Range(lk, step, limit) => {
                let last = if lk >= 0 {
                    first + lk as i64
                } else if limit == 0 {
                    argc + lk as i64
                } else {
                    first + ((argc - first) / limit as i64 + lk as i64)
                };
                (last, step as i64)
            }
            Fk::Keynum(idx, fk, step) => {
                let at = first + idx as i64;
                if at >= argc {
                    return None;
                }
                let n: i64 = std::str::from_utf8(&args[at as usize])
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .filter(|&n| n >= 0)?;
                first += fk as i64;
                (first + n - 1, step as i64)
            }
            Fk::Unknown => return None,
        };
        if last >= argc || last < first || first >= argc || step <= 0 {
            return None;
        }
        let mut i = first;
        while i <= last {
            out.push((i as usize, k.flags));
            i += step;
        }
        if k.flags & INCOMPLETE != 0 {
            return None;
        }
    }
    Some(out)
}

/// Whether COMMAND GETKEYS can find keys in this command at all (`doesCommandHaveKeys`).
pub fn has_keys(c: &CommandSpec) -> bool {
    (c.parent.is_none() && own_parser(c.name, &[]).is_some())
        || specs(c).iter().any(|k| k.flags & NOT_KEY == 0)
}

/// The keys of a full command (`getKeysFromCommandWithSpecs`), `args[0]` being its name.
pub fn find(c: &CommandSpec, args: &[Bytes]) -> Vec<KeyRef> {
    let specs = specs(c);
    let has_keyspec = specs.iter().any(|k| k.flags & NOT_KEY == 0);
    let variable = specs.iter().any(|k| k.flags & VARIABLE_FLAGS != 0);
    if has_keyspec && !variable {
        if let Some(keys) = by_specs(&specs, args) {
            return keys;
        }
    }
    if c.parent.is_some() {
        return Vec::new();
    }
    own_parser(c.name, args).unwrap_or_default()
}

fn is(a: &[u8], word: &str) -> bool {
    a.eq_ignore_ascii_case(word.as_bytes())
}

/// Redis's `atoi`: leading digits with an optional sign, 0 when there are none.
fn atoi(a: &[u8]) -> i64 {
    let s = std::str::from_utf8(a).unwrap_or("").trim_start();
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let digits: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .take(18)
        .collect();
    let n: i64 = digits.parse().unwrap_or(0);
    if neg {
        -n
    } else {
        n
    }
}

/// `genericGetKeys`: the key count at `count_at`, keys from `first_at`, and a destination key.
fn counted(store_at: usize, count_at: usize, first_at: usize, args: &[Bytes]) -> Vec<KeyRef> {
    let Some(n) = args.get(count_at).map(|a| atoi(a)) else {
        return Vec::new();
    };
    let room = args.len().saturating_sub(first_at) as i64;
    if n < 1 || n > room {
        return Vec::new();
    }
    let mut out: Vec<KeyRef> = (0..n as usize).map(|i| (first_at + i, 0)).collect();
    if store_at > 0 {
        out.push((store_at, 0));
    }
    out
}

/// A command's own key parsing, for the commands that have one in Redis (`getkeys_proc`);
/// None for the others. With empty `args`, only whether it has one.
fn own_parser(name: &str, args: &[Bytes]) -> Option<Vec<KeyRef>> {
    let has = matches!(
        name,
        "sort"
            | "sort_ro"
            | "migrate"
            | "georadius"
            | "georadiusbymember"
            | "lmpop"
            | "blmpop"
            | "zmpop"
            | "bzmpop"
            | "eval"
            | "evalsha"
            | "eval_ro"
            | "evalsha_ro"
            | "fcall"
            | "fcall_ro"
            | "sintercard"
            | "zunion"
            | "zinter"
            | "zdiff"
            | "zintercard"
            | "zunionstore"
            | "zinterstore"
            | "zdiffstore"
            | "xread"
            | "xreadgroup"
            | "set"
            | "bitfield"
    );
    if !has {
        return None;
    }
    if args.is_empty() {
        return Some(Vec::new());
    }
    let argc = args.len();
    Some(match name {
        "sintercard" | "zunion" | "zinter" | "zdiff" | "zintercard" | "lmpop" | "zmpop" => {
            counted(0, 1, 2, args)
        }
        "zunionstore" | "zinterstore" | "zdiffstore" => counted(1, 2, 3, args),
        "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro" | "blmpop"
        | "bzmpop" => counted(0, 2, 3, args),
        "sort_ro" => vec![(1, RO | ACCESS)],
        "sort" => {
            let mut out = vec![(1, RO | ACCESS)];
            let mut store = None;
            let mut i = 2;
            while i < argc {
                let a = &args[i];
                if is(a, "limit") {
                    i += 2;
                } else if is(a, "get") || is(a, "by") {
                    i += 1;
                } else if is(a, "store") && i + 1 < argc {
                    // The last STORE wins, as in SORT itself.
                    store = Some(i + 1);
                }
                i += 1;
            }
            out.extend(store.map(|s| (s, OW | UPDATE)));
            out
        }
        "migrate" => {
            let (mut first, mut num) = (3, 1);
            let mut i = 6;
            while argc > 6 && i < argc {
                let a = &args[i];
                if is(a, "keys") {
                    if !args[3].is_empty() {
                        num = 0;
                    } else {
                        first = i + 1;
                        num = argc - first;
                    }
                    break;
                }
                if is(a, "auth") {
                    i += 1;
                } else if is(a, "auth2") {
                    i += 2;
                }
                i += 1;
            }
            (first..first + num)
                .map(|i| (i, RW | ACCESS | DELETE))
                .collect()
        }
        "georadius" | "georadiusbymember" => {
            let mut stored = None;
            let mut i = 5;
            while i < argc {
                if (is(&args[i], "store") || is(&args[i], "storedist")) && i + 1 < argc {
                    stored = Some(i + 1);
                    i += 1;
                }
                i += 1;
            }
            let mut out = vec![(1, 0)];
            out.extend(stored.map(|s| (s, 0)));
            out
        }
        "xread" | "xreadgroup" => {
            let mut streams = None;
            let mut i = 1;
            while i < argc {
                let a = &args[i];
                if is(a, "block") || is(a, "count") {
                    i += 1;
                } else if is(a, "group") {
                    i += 2;
                } else if is(a, "noack") {
                } else if is(a, "streams") {
                    streams = Some(i);
                    break;
                } else {
                    break;
                }
                i += 1;
            }
            let Some(s) = streams else {
                return Some(Vec::new());
            };
            let num = argc - s - 1;
            if num == 0 || num % 2 != 0 {
                return Some(Vec::new());
            }
            (s + 1..s + 1 + num / 2).map(|i| (i, 0)).collect()
        }
        "set" => {
            let get = args.iter().skip(3).any(|a| is(a, "get"));
            vec![(
                1,
                if get {
                    RW | ACCESS | UPDATE
                } else {
                    OW | UPDATE
                },
            )]
        }
        "bitfield" => {
            let mut readonly = true;
            let mut i = 2;
            while i < argc {
                let rem = argc - i - 1;
                let a = &args[i];
                if is(a, "get") && rem >= 2 {
                    i += 2;
                } else if (is(a, "set") || is(a, "incrby")) && rem >= 3 {
                    readonly = false;
                    break;
                } else if is(a, "overflow") && rem >= 1 {
                    i += 1;
                } else {
                    readonly = false;
                    break;
                }
                i += 1;
            }
            let f = if readonly {
                RO | ACCESS
            } else {
                RW | ACCESS | UPDATE
            };
            vec![(1, f)]
        }
        _ => Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::table;

    fn all_rows() -> Vec<&'static CommandSpec> {
        let mut v = Vec::new();
        for c in table().values() {
            v.push(*c);
            v.extend(c.subcommands.iter());
        }
        v
    }

    /// Redis derives (first, last, step) and `movablekeys` from the key specs; a row whose own
    /// positions or flag disagree with its specs would make COMMAND and GETKEYS disagree.
    #[test]
    fn rows_agree_with_their_key_specs() {
        for c in all_rows() {
            let (range, movable) = legacy_range(&specs(c));
            assert_eq!(range, c.keys, "{}: key positions", c.full_name());
            assert_eq!(
                movable,
                c.flags.contains(Flags::MOVABLEKEYS),
                "{}: movablekeys",
                c.full_name()
            );
        }
    }

    fn args(a: &[&str]) -> Vec<Bytes> {
        a.iter()
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .collect()
    }

    fn keys_of(a: &[&str]) -> Vec<KeyRef> {
        let a = args(a);
        let c = crate::cmd::lookup(&a).expect("known command");
        find(c, &a)
    }

    #[test]
    fn keys_by_spec_and_by_own_parsing() {
        assert_eq!(keys_of(&["get", "k"]), vec![(1, RO | ACCESS)]);
        // Keyword search from the start, then half of what follows (limit 2).
        assert_eq!(
            keys_of(&["XREAD", "COUNT", "1", "STREAMS", "a", "b", "0", "0"]),
            vec![(4, RO | ACCESS), (5, RO | ACCESS)]
        );
        // A key count: destination first, as the specs order them.
        assert_eq!(
            keys_of(&["zunionstore", "d", "2", "a", "b"]),
            vec![(1, OW | UPDATE), (3, RO | ACCESS), (4, RO | ACCESS)]
        );
        // A count that does not parse falls back to the command's own parsing, which finds none.
        assert!(keys_of(&["zunionstore", "d", "x", "a"]).is_empty());
        // SORT's STORE is not in a spec: its own parsing finds the last one.
        assert_eq!(
            keys_of(&["sort", "k", "STORE", "a", "STORE", "b"]),
            vec![(1, RO | ACCESS), (5, OW | UPDATE)]
        );
        // SET has variable flags: GET turns an overwrite into a read-write.
        assert_eq!(keys_of(&["set", "k", "v"]), vec![(1, OW | UPDATE)]);
        assert_eq!(
            keys_of(&["set", "k", "v", "get"]),
            vec![(1, RW | ACCESS | UPDATE)]
        );
        assert!(keys_of(&["ping"]).is_empty());
    }

    #[test]
    fn a_row_redis_lacks_gets_a_range_spec_from_its_positions() {
        let c = crate::cmd::lookup(&args(&["client", "no-touch"])).expect("client no-touch");
        assert!(specs(c).is_empty());
        let fake = crate::command!(
            "notinredis",
            -3,
            Flags::WRITE,
            (1, -1, 2),
            "string",
            "7.0.0",
            &[],
            crate::cmd::container_handler,
            "A row Redis does not have."
        );
        let s = specs(&fake);
        assert_eq!(
            s.as_ref(),
            &[KeySpec {
                flags: RW | UPDATE,
                bs: Bs::Index(1),
                fk: Fk::Range(-1, 2, 0),
                notes: None
            }]
        );
        assert_eq!(legacy_range(&s), ((1, -1, 2), false));
    }
}
