//! The command table: one static description per command, the single source for dispatch, the
//! arity and unknown-command errors, and COMMAND's replies.

use super::Handler;
use crate::resp::Reply;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::OnceLock;

bitflags::bitflags! {
    /// Command flags, as COMMAND INFO lists them, plus dispatch rules of our own.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Flags: u32 {
        const WRITE = 1;
        const READONLY = 1 << 1;
        const DENYOOM = 1 << 2;
        const ADMIN = 1 << 3;
        const PUBSUB = 1 << 4;
        const NOSCRIPT = 1 << 5;
        const BLOCKING = 1 << 6;
        const LOADING = 1 << 7;
        const STALE = 1 << 8;
        const FAST = 1 << 9;
        const NOAUTH = 1 << 10;
        /// Runs at once even inside MULTI (EXEC, DISCARD, MULTI, WATCH, QUIT, RESET).
        const NO_QUEUE = 1 << 11;
        /// Refused inside MULTI, at queue time, as Redis 7.0's `no-multi` (SHUTDOWN, SAVE; SYNC
        /// and PSYNC too in Redis, which respd does not have).
        const NO_MULTI = 1 << 12;
        /// Allowed in the RESP2 subscribed context.
        const PUBSUB_OK = 1 << 13;
        const ALLOW_BUSY = 1 << 14;
        const NO_MANDATORY_KEYS = 1 << 15;
        /// Keys found by parsing the arguments (SORT, SINTERCARD, ZUNIONSTORE, ...).
        const MOVABLEKEYS = 1 << 16;
        /// Not entered in the slow log itself (EXEC: the commands it ran are).
        const SKIP_SLOWLOG = 1 << 17;
        /// Redis 7.0's `no-async-loading` (SAVE, BGSAVE): shown by COMMAND INFO.
        const NO_ASYNC_LOADING = 1 << 18;
        /// Redis 7.0's `skip_monitor` (EVAL and friends): shown by COMMAND INFO.
        const SKIP_MONITOR = 1 << 19;
    }
}

impl Flags {
    /// The names COMMAND INFO shows, in Redis's order.
    pub fn names(self) -> Vec<&'static str> {
        const NAMES: &[(Flags, &str)] = &[
            (Flags::WRITE, "write"),
            (Flags::READONLY, "readonly"),
            (Flags::DENYOOM, "denyoom"),
            (Flags::ADMIN, "admin"),
            (Flags::PUBSUB, "pubsub"),
            (Flags::NOSCRIPT, "noscript"),
            (Flags::BLOCKING, "blocking"),
            (Flags::LOADING, "loading"),
            (Flags::STALE, "stale"),
            (Flags::SKIP_MONITOR, "skip_monitor"),
            (Flags::SKIP_SLOWLOG, "skip_slowlog"),
            (Flags::FAST, "fast"),
            (Flags::NOAUTH, "no_auth"),
            (Flags::NO_MANDATORY_KEYS, "no_mandatory_keys"),
            (Flags::NO_ASYNC_LOADING, "no_async_loading"),
            (Flags::NO_MULTI, "no_multi"),
            (Flags::MOVABLEKEYS, "movablekeys"),
            (Flags::ALLOW_BUSY, "allow_busy"),
        ];
        NAMES
            .iter()
            .filter(|(f, _)| self.contains(*f))
            .map(|(_, n)| *n)
            .collect()
    }
}

/// One command (or subcommand) as Redis's command table describes it.
pub struct CommandSpec {
    /// Lower-case name; a subcommand has its own name only (`get` under `config`).
    pub name: &'static str,
    /// Redis arity: N means exactly N arguments with the name, -N at least N.
    pub arity: i32,
    pub flags: Flags,
    /// Key positions: first, last (negative counts from the end), step; 0 0 0 for none.
    pub keys: (i32, i32, i32),
    /// COMMAND DOCS group (`string`, `generic`, `connection`, `server`, ...).
    pub group: &'static str,
    /// One line for COMMAND DOCS.
    pub summary: &'static str,
    /// Redis version that introduced it, for COMMAND DOCS.
    pub since: &'static str,
    /// ACL categories without the '@', beyond those the flags imply (`acl_categories` adds
    /// those): the family's, and any Redis gives a command on top (`dangerous`, ...).
    pub acl: &'static [&'static str],
    pub handler: Handler,
    /// Subcommands of a container command (CONFIG, CLIENT, OBJECT, ...).
    pub subcommands: &'static [CommandSpec],
    /// The container's name, for a subcommand.
    pub parent: Option<&'static str>,
}

impl CommandSpec {
    pub fn arity_ok(&self, n: usize) -> bool {
        let n = n as i32;
        if self.arity >= 0 {
            n == self.arity
        } else {
            n >= -self.arity
        }
    }

    /// The ACL categories, in Redis's order: the row's own plus those its flags imply, as Redis's
    /// `setImplicitACLCategories` adds them (write, read, admin and dangerous, pubsub, fast,
    /// blocking; slow for whatever is not fast).
    pub fn acl_categories(&self) -> Vec<&'static str> {
        // Redis's order, the one ACL CAT lists.
        const ORDER: &[&str] = crate::state::acl::CATEGORIES;
        let f = self.flags;
        let own = |c: &str| self.acl.contains(&c);
        let fast = own("fast") || f.contains(Flags::FAST);
        ORDER
            .iter()
            .copied()
            .filter(|&c| {
                own(c)
                    || match c {
                        "write" => f.contains(Flags::WRITE),
                        "read" => f.contains(Flags::READONLY) && !own("scripting"),
                        "admin" | "dangerous" => f.contains(Flags::ADMIN),
                        "pubsub" => f.contains(Flags::PUBSUB),
                        "fast" => fast,
                        "slow" => !fast,
                        "blocking" => f.contains(Flags::BLOCKING),
                        _ => false,
                    }
            })
            .collect()
    }

    /// `config|get` for a subcommand, the name otherwise.
    pub fn full_name(&self) -> String {
        match self.parent {
            Some(p) => format!("{}|{}", p, self.name),
            None => self.name.to_string(),
        }
    }

    /// The keys among `args`, by the key positions.
    pub fn key_args<'a>(&self, args: &'a [Bytes]) -> Vec<&'a Bytes> {
        let (first, last, step) = self.keys;
        if first <= 0 || step <= 0 {
            return Vec::new();
        }
        let n = args.len() as i32;
        let last = if last < 0 { n + last } else { last.min(n - 1) };
        let mut out = Vec::new();
        let mut i = first;
        while i <= last && i < n {
            out.push(&args[i as usize]);
            i += step;
        }
        out
    }
}

/// A builder-style shorthand for table entries, so each family's table reads as a list.
#[macro_export]
macro_rules! command {
    ($name:literal, $arity:expr, $flags:expr, $keys:expr, $group:literal, $since:literal, $acl:expr, $handler:expr, $summary:literal) => {
        $crate::cmd::CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags,
            keys: $keys,
            group: $group,
            summary: $summary,
            since: $since,
            acl: $acl,
            handler: $handler,
            subcommands: &[],
            parent: None,
        }
    };
}

/// A container command with subcommands; the container itself only answers HELP-style errors.
#[macro_export]
macro_rules! container {
    ($name:literal, $arity:expr, $flags:expr, $group:literal, $since:literal, $subs:expr, $summary:literal) => {
        $crate::cmd::CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags,
            keys: (0, 0, 0),
            group: $group,
            summary: $summary,
            since: $since,
            acl: &[],
            handler: $crate::cmd::container_handler,
            subcommands: $subs,
            parent: None,
        }
    };
}

/// A subcommand of `$parent`.
#[macro_export]
macro_rules! subcommand {
    ($parent:literal, $name:literal, $arity:expr, $flags:expr, $keys:expr, $since:literal, $acl:expr, $handler:expr, $summary:literal) => {
        $crate::cmd::CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags,
            keys: $keys,
            group: "",
            summary: $summary,
            since: $since,
            acl: $acl,
            handler: $handler,
            subcommands: &[],
            parent: Some($parent),
        }
    };
}

/// Every family's commands.
static FAMILIES: &[&[CommandSpec]] = &[
    super::strings::COMMANDS,
    super::lists::COMMANDS,
    super::lists_blocking::COMMANDS,
    super::keys::COMMANDS,
    super::connection::COMMANDS,
    super::client::COMMANDS,
    super::tx::COMMANDS,
    super::server::COMMANDS,
    super::info::COMMANDS,
    super::config::COMMANDS,
    super::command::COMMANDS,
    super::slowlog::COMMANDS,
    super::memory::COMMANDS,
    super::monitor::COMMANDS,
    super::latency::COMMANDS,
    super::hashes::COMMANDS,
    super::sets::COMMANDS,
    super::sort::COMMANDS,
    super::pubsub::COMMANDS,
    super::streams::COMMANDS,
    super::zsets::COMMANDS,
    super::persist::COMMANDS,
    super::script::COMMANDS,
    super::bitmaps::COMMANDS,
    super::hyperloglog::COMMANDS,
    super::geo::COMMANDS,
    super::lcs::COMMANDS,
    super::lolwut::COMMANDS,
    super::debug::COMMANDS,
    super::acl::COMMANDS,
];

/// Keyed by bytes, so a request's name is looked up without a UTF-8 check.
type Table = HashMap<&'static [u8], &'static CommandSpec, foldhash::fast::RandomState>;

/// All top-level commands, by lower-case name.
pub fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut m = Table::default();
        for fam in FAMILIES {
            for c in fam.iter() {
                m.insert(c.name.as_bytes(), c);
            }
        }
        m
    })
}

impl crate::state::CallSpec for CommandSpec {
    fn stat_key(&self) -> usize {
        self as *const CommandSpec as usize
    }

    fn log_slow(&self) -> bool {
        !self.flags.contains(Flags::SKIP_SLOWLOG)
    }

    fn is_fast(&self) -> bool {
        self.flags.contains(Flags::FAST)
    }

    /// An empty counter for every command and subcommand, keyed by its spec's address, for
    /// `Shared::cmdstats` (INFO commandstats): a call is counted without string work.
    fn all_stats() -> crate::state::CmdStats {
        let mut m = crate::state::CmdStats::default();
        for c in table().values() {
            m.insert(c.stat_key(), (c.full_name(), Default::default()));
            for s in c.subcommands {
                m.insert(s.stat_key(), (s.full_name(), Default::default()));
            }
        }
        m
    }
}

fn lower<'b>(name: &[u8], buf: &'b mut [u8; 64]) -> Option<&'b [u8]> {
    if name.len() > buf.len() {
        return None;
    }
    for (d, s) in buf.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    Some(&buf[..name.len()])
}

/// Finds the spec for a request, descending into subcommands; the Redis error reply otherwise.
pub fn lookup(args: &[Bytes]) -> Result<&'static CommandSpec, Reply> {
    let mut buf = [0u8; 64];
    let spec = lower(&args[0], &mut buf).and_then(|n| table().get(n).copied());
    let Some(spec) = spec else {
        return Err(unknown_command(args));
    };
    if spec.subcommands.is_empty() || args.len() < 2 {
        return Ok(spec);
    }
    let mut buf = [0u8; 64];
    let sub = lower(&args[1], &mut buf)
        .and_then(|n| spec.subcommands.iter().find(|s| s.name.as_bytes() == n));
    match sub {
        Some(s) => Ok(s),
        None => Err(Reply::error(format!(
            "ERR unknown subcommand '{}'. Try {} HELP.",
            trunc(&args[1], 128),
            spec.name.to_ascii_uppercase()
        ))),
    }
}

fn trunc(b: &[u8], n: usize) -> String {
    String::from_utf8_lossy(&b[..b.len().min(n)]).into_owned()
}

/// Redis's unknown-command error, quoting up to 128 bytes of arguments.
pub fn unknown_command(args: &[Bytes]) -> Reply {
    let mut rest = String::new();
    for a in &args[1..] {
        if rest.len() >= 128 {
            break;
        }
        let room = 128 - rest.len();
        rest.push_str(&format!("'{}' ", trunc(a, room)));
    }
    Reply::error(format!(
        "ERR unknown command '{}', with args beginning with: {}",
        trunc(&args[0], 128),
        rest
    ))
}
