//! Stream commands: the table, ID parsing shared by the family, and XLEN, XRANGE, XREVRANGE.
//! XADD, XDEL, XTRIM, XSETID are in `stream_write`, XREAD and XREADGROUP in `stream_read`,
//! consumer groups in `stream_groups`, XINFO in `stream_info`.

use super::{eq, int, syntax, wrongtype, CommandSpec, Ctx, Flags};
use super::{stream_groups as g, stream_info as i, stream_read as r, stream_write as w};
use crate::keyspace::stream::{Fields, Stream, StreamId};
use crate::keyspace::{Value, View};
use crate::resp::Reply;
use crate::util::num::parse_i64;
use crate::{command, container, subcommand};
use bytes::Bytes;

const W: Flags = Flags::WRITE;
const WF: Flags = Flags::WRITE.union(Flags::FAST);
const WD: Flags = Flags::WRITE.union(Flags::DENYOOM);
const WDF: Flags = Flags::WRITE.union(Flags::DENYOOM).union(Flags::FAST);
const R: Flags = Flags::READONLY;
const RF: Flags = Flags::READONLY.union(Flags::FAST);
const RB: Flags = Flags::READONLY.union(Flags::BLOCKING);
const WB: Flags = Flags::WRITE.union(Flags::BLOCKING);
const LS: Flags = Flags::LOADING.union(Flags::STALE);
/// ACL categories beyond those the flags imply (see `CommandSpec::acl_categories`).
const ACL: &[&str] = &["stream"];

/// The stream family.
pub static COMMANDS: &[CommandSpec] = &[
    command!("xadd", -5, WDF, (1, 1, 1), "stream", "5.0.0", ACL, w::xadd, "Appends a new message to a stream. Creates the key if it doesn't exist."),
    command!("xlen", 2, RF, (1, 1, 1), "stream", "5.0.0", ACL, xlen, "Return the number of messages in a stream."),
    command!("xrange", -4, R, (1, 1, 1), "stream", "5.0.0", ACL, xrange, "Returns the messages from a stream within a range of IDs."),
    command!("xrevrange", -4, R, (1, 1, 1), "stream", "5.0.0", ACL, xrevrange, "Returns the messages from a stream within a range of IDs in reverse order."),
    command!("xdel", -3, WF, (1, 1, 1), "stream", "5.0.0", ACL, w::xdel, "Returns the number of messages after removing them from a stream."),
    command!("xtrim", -4, W, (1, 1, 1), "stream", "5.0.0", ACL, w::xtrim, "Deletes messages from the beginning of a stream."),
    command!("xsetid", -3, WDF, (1, 1, 1), "stream", "5.0.0", ACL, w::xsetid, "An internal command for replicating stream values."),
    command!("xread", -4, RB.union(Flags::MOVABLEKEYS), (0, 0, 0), "stream", "5.0.0", &["stream"], r::xread, "Returns messages from multiple streams with IDs greater than the ones requested. Blocks until a message is available otherwise."),
    command!("xreadgroup", -7, WB.union(Flags::MOVABLEKEYS), (0, 0, 0), "stream", "5.0.0", &["stream"], r::xreadgroup, "Returns new or historical messages from a stream for a consumer in a group. Blocks until a message is available otherwise."),
    command!("xack", -4, WF, (1, 1, 1), "stream", "5.0.0", ACL, g::xack, "Returns the number of messages that were successfully acknowledged by the consumer group member of a stream."),
    command!("xpending", -3, R, (1, 1, 1), "stream", "5.0.0", ACL, g::xpending, "Returns the information and entries from a stream consumer group's pending entries list."),
    command!("xclaim", -6, WF, (1, 1, 1), "stream", "5.0.0", ACL, g::xclaim, "Changes, or acquires, ownership of a message in a consumer group, as if the message was delivered a consumer group member."),
    command!("xautoclaim", -6, WF, (1, 1, 1), "stream", "6.2.0", ACL, g::xautoclaim, "Changes, or acquires, ownership of messages in a consumer group, as if the messages were delivered to as consumer group member."),
    container!("xgroup", -2, Flags::empty(), "stream", "5.0.0", XGROUP, "A container for consumer groups commands."),
    container!("xinfo", -2, Flags::empty(), "stream", "5.0.0", XINFO, "A container for stream introspection commands."),
];

static XGROUP: &[CommandSpec] = &[
    subcommand!(
        "xgroup",
        "create",
        -5,
        WD,
        (2, 2, 1),
        "5.0.0",
        ACL,
        g::xgroup,
        "Creates a consumer group."
    ),
    subcommand!(
        "xgroup",
        "setid",
        -5,
        W,
        (2, 2, 1),
        "5.0.0",
        ACL,
        g::xgroup,
        "Sets the last-delivered ID of a consumer group."
    ),
    subcommand!(
        "xgroup",
        "destroy",
        4,
        W,
        (2, 2, 1),
        "5.0.0",
        ACL,
        g::xgroup,
        "Destroys a consumer group."
    ),
    subcommand!(
        "xgroup",
        "createconsumer",
        5,
        WD,
        (2, 2, 1),
        "6.2.0",
        ACL,
        g::xgroup,
        "Creates a consumer in a consumer group."
    ),
    subcommand!(
        "xgroup",
        "delconsumer",
        5,
        W,
        (2, 2, 1),
        "5.0.0",
        ACL,
        g::xgroup,
        "Deletes a consumer from a consumer group."
    ),
    subcommand!(
        "xgroup",
        "help",
        2,
        LS,
        (0, 0, 0),
        "5.0.0",
        &["stream"],
        g::xgroup_help,
        "Returns helpful text about the different subcommands."
    ),
];

static XINFO: &[CommandSpec] = &[
    subcommand!(
        "xinfo",
        "stream",
        -3,
        R,
        (2, 2, 1),
        "5.0.0",
        ACL,
        i::xinfo_stream,
        "Returns information about a stream."
    ),
    subcommand!(
        "xinfo",
        "groups",
        3,
        R,
        (2, 2, 1),
        "5.0.0",
        ACL,
        i::xinfo_groups,
        "Returns a list of the consumer groups of a stream."
    ),
    subcommand!(
        "xinfo",
        "consumers",
        4,
        R,
        (2, 2, 1),
        "5.0.0",
        ACL,
        i::xinfo_consumers,
        "Returns a list of the consumers in a consumer group."
    ),
    subcommand!(
        "xinfo",
        "help",
        2,
        LS,
        (0, 0, 0),
        "5.0.0",
        &["stream"],
        i::xinfo_help,
        "Returns helpful text about the different subcommands."
    ),
];

pub const ERR_INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";

/// Redis's string2ull: a plain non-negative integer, or what strtoull takes whole (leading
/// blanks, `+`, leading zeros).
fn parse_ull(b: &[u8]) -> Option<u64> {
    if let Some(v) = parse_i64(b) {
        return u64::try_from(v).ok();
    }
    let mut s = b;
    while let Some((c, rest)) = s.split_first() {
        if c.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    if let Some(rest) = s.strip_prefix(b"+") {
        s = rest;
    }
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// Parses `ms-seq`, `ms` (seq = `missing_seq`), and unless `strict` `-` and `+`. With `seq_star`,
/// `ms-*` is accepted and the flag returned says whether the sequence was given.
pub fn parse_id_generic(
    b: &[u8],
    missing_seq: u64,
    strict: bool,
    seq_star: bool,
) -> Result<(StreamId, bool), Reply> {
    let bad = || Reply::error(ERR_INVALID_ID);
    if b.len() > 127 {
        return Err(bad());
    }
    if b == b"-" || b == b"+" {
        if strict {
            return Err(bad());
        }
        return Ok((
            if b == b"-" {
                StreamId::MIN
            } else {
                StreamId::MAX
            },
            true,
        ));
    }
    // A NUL ends the C string Redis parses.
    let b = b.split(|&c| c == 0).next().unwrap_or_default();
    match b.iter().position(|&c| c == b'-') {
        None => {
            let ms = parse_ull(b).ok_or_else(bad)?;
            Ok((StreamId::new(ms, missing_seq), true))
        }
        Some(p) => {
            let ms = parse_ull(&b[..p]).ok_or_else(bad)?;
            let rest = &b[p + 1..];
            if seq_star && rest == b"*" {
                return Ok((StreamId::new(ms, 0), false));
            }
            let seq = parse_ull(rest).ok_or_else(bad)?;
            Ok((StreamId::new(ms, seq), true))
        }
    }
}

/// An ID where `-` and `+` are accepted.
pub fn parse_id(b: &[u8], missing_seq: u64) -> Result<StreamId, Reply> {
    parse_id_generic(b, missing_seq, false, false).map(|(id, _)| id)
}

/// An ID where `-` and `+` are refused.
pub fn parse_strict_id(b: &[u8], missing_seq: u64) -> Result<StreamId, Reply> {
    parse_id_generic(b, missing_seq, true, false).map(|(id, _)| id)
}

/// A range bound: `(id` is exclusive, made inclusive here with Redis's errors on overflow.
pub fn parse_bound(b: &[u8], start: bool) -> Result<StreamId, Reply> {
    if b.len() > 1 && b[0] == b'(' {
        let id = parse_strict_id(&b[1..], if start { 0 } else { u64::MAX })?;
        if start {
            id.incr()
                .ok_or_else(|| Reply::error("ERR invalid start ID for the interval"))
        } else {
            id.decr()
                .ok_or_else(|| Reply::error("ERR invalid end ID for the interval"))
        }
    } else {
        parse_id(b, if start { 0 } else { u64::MAX })
    }
}

/// An ID as a bulk reply.
pub fn id_reply(id: StreamId) -> Reply {
    Reply::Bulk(id.to_bytes())
}

/// One entry as `[id, [field, value, ...]]`.
pub fn entry_reply(id: StreamId, fields: &Fields) -> Reply {
    let mut fv = Vec::with_capacity(fields.len() * 2);
    for (f, v) in fields {
        fv.push(Reply::Bulk(f.clone()));
        fv.push(Reply::Bulk(v.clone()));
    }
    Reply::Array(vec![id_reply(id), Reply::Array(fv)])
}

/// The entries of `[start, end]`, forwards or backwards, at most `count` (0: all).
pub fn range_reply(s: &Stream, start: StreamId, end: StreamId, count: usize, rev: bool) -> Reply {
    if start > end {
        return Reply::Array(Vec::new());
    }
    let it = s.entries.range(start..=end);
    let limit = if count == 0 { usize::MAX } else { count };
    let out: Vec<Reply> = if rev {
        it.rev()
            .take(limit)
            .map(|(id, f)| entry_reply(*id, f))
            .collect()
    } else {
        it.take(limit).map(|(id, f)| entry_reply(*id, f)).collect()
    };
    Reply::Array(out)
}

/// The stream at `key` for reading: Ok(None) if missing, WRONGTYPE for another type.
pub fn stream_ref<'a>(v: &'a mut View, key: &[u8]) -> Result<Option<&'a Stream>, Reply> {
    match v.get(key) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::Stream(s) => Ok(Some(s)),
            _ => Err(wrongtype()),
        },
    }
}

/// The stream at `key` for writing. WATCHers are not told: callers that change entries (not only
/// groups) call `View::mark_modified`, as Redis signals only those changes.
pub fn stream_mut<'a>(v: &'a mut View, key: &[u8]) -> Result<Option<&'a mut Stream>, Reply> {
    // Group changes (XGROUP, XACK, XCLAIM, XREADGROUP) count as changes without telling
    // WATCHers: without it the AOF would miss them. A caller that ends up changing nothing
    // is written anyway; its replay changes nothing either.
    if matches!(v.peek(key).map(|e| &e.value), Some(Value::Stream(_))) {
        v.count_quiet_change(key);
    }
    match v.get_mut_quiet(key) {
        Some(e) => match &mut e.value {
            Value::Stream(s) => Ok(Some(s)),
            _ => Err(wrongtype()),
        },
        None => Ok(None),
    }
}

fn xlen(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let r = ctx.with_key(&a[1], |v| stream_ref(v, &a[1]).map(|s| s.map(|s| s.len())));
    match r {
        Ok(n) => {
            ctx.count_lookup(n.is_some());
            Reply::Int(n.unwrap_or(0) as i64)
        }
        Err(e) => e,
    }
}

fn xrange(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    range_cmd(ctx, a, false)
}

fn xrevrange(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    range_cmd(ctx, a, true)
}

fn range_cmd(ctx: &mut Ctx, a: &[Bytes], rev: bool) -> Reply {
    let (sa, ea) = if rev { (&a[3], &a[2]) } else { (&a[2], &a[3]) };
    let start = match parse_bound(sa, true) {
        Ok(x) => x,
        Err(e) => return e,
    };
    let end = match parse_bound(ea, false) {
        Ok(x) => x,
        Err(e) => return e,
    };
    let mut count: i64 = -1;
    let mut j = 4;
    while j < a.len() {
        if eq(&a[j], "count") && j + 1 < a.len() {
            count = match int(&a[j + 1]) {
                Ok(n) => n.max(0),
                Err(e) => return e,
            };
            j += 2;
        } else {
            return syntax();
        }
    }
    let key = &a[1];
    let r = ctx.with_key(key, |v| {
        let Some(s) = stream_ref(v, key)? else {
            return Ok(None);
        };
        if count == 0 {
            return Ok(Some(Reply::NilArray));
        }
        Ok(Some(range_reply(s, start, end, count.max(0) as usize, rev)))
    });
    match r {
        Ok(Some(r)) => {
            ctx.count_lookup(true);
            r
        }
        Ok(None) => {
            ctx.count_lookup(false);
            Reply::Array(Vec::new())
        }
        Err(e) => e,
    }
}
