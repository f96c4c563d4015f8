//! ACL users as Redis 7.0 has them: the user table, the rules that change a user (`on`, `>pass`,
//! `+@read`, `~key*`, `(selector)`, ...), the permission check and the ACL LOG.
//!
//! This layer does not know the command table: the command layer describes it once as a
//! [`Universe`] (ids, full names, categories, subcommands) and passes it in. A connection caches
//! its user (`Arc<User>`) and re-reads it when [`Acl::epoch`] moves, so a change applies to open
//! connections at their next command, and an unrestricted user costs one branch per command.

use crate::util::glob::glob_match;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, RwLock};

/// Redis's ACL categories, in its order (ACL CAT).
pub const CATEGORIES: &[&str] = &[
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// The bit of a category name (case-insensitive), as `ACLGetCommandCategoryFlagByName`.
pub fn category_bit(name: &str) -> Option<u32> {
    CATEGORIES
        .iter()
        .position(|c| c.eq_ignore_ascii_case(name))
        .map(|i| 1 << i)
}

/// Every command and subcommand, as the command layer describes it.
#[derive(Default)]
pub struct Universe {
    /// Full name (`config|get`) per id; ids are in name order.
    pub names: Vec<String>,
    /// Category bits per id (see [`CATEGORIES`]).
    pub cats: Vec<u32>,
    /// Subcommand ids per id (empty unless a container).
    pub subs: Vec<Vec<usize>>,
    /// Whether the id is a subcommand.
    pub is_sub: Vec<bool>,
    /// Lower-case full name to id.
    pub by_name: HashMap<String, usize>,
}

impl Universe {
    fn len(&self) -> usize {
        self.names.len()
    }
}

/// Read and write permission bits of a key pattern, and of a key's access.
pub const READ: u8 = 1;
pub const WRITE: u8 = 2;

/// One set of permissions: a user has a root selector and any number of `(...)` ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector {
    cmds: Vec<u64>,
    /// Every command allowed (cleared by any `-`): the check is skipped.
    all_commands: bool,
    /// Set by `+@all` only, cleared by `-@all`: Redis's reserved bit for future commands, which
    /// decides whether the description starts from `+@all` or `-@all`.
    future: bool,
    all_keys: bool,
    keys: Vec<(u8, String)>,
    all_channels: bool,
    channels: Vec<String>,
    /// Redis's deprecated first-arg rule (`+select|0`): per command id without subcommands, the
    /// first arguments allowed while the command itself is not, as given (compared
    /// case-insensitively). Cleared for a command by any `+cmd`/`-cmd`/category rule touching it.
    first_args: BTreeMap<usize, Vec<String>>,
}

/// Why a rule was refused: Redis's `ACLSetUserStringError` texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleError {
    Unknown,
    Syntax,
    KeysAfterAll,
    ChannelsAfterAll,
    NoSuchPassword,
    BadHash,
    SubFirstArg,
}

impl RuleError {
    pub fn text(self) -> &'static str {
        match self {
            RuleError::Unknown => "Unknown command or category name in ACL",
            RuleError::Syntax => "Syntax error",
            RuleError::KeysAfterAll => "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
            RuleError::ChannelsAfterAll => "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels",
            RuleError::NoSuchPassword => "The password you are trying to remove from the user does not exist",
            RuleError::BadHash => "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters",
            RuleError::SubFirstArg => "Allowing first-arg of a subcommand is not supported",
        }
    }
}

fn has_spaces(s: &str) -> bool {
    s.bytes().any(|b| b.is_ascii_whitespace() || b == 0)
}

impl Selector {
    fn new(u: &Universe) -> Selector {
        Selector {
            cmds: vec![0; u.len().div_ceil(64)],
            all_commands: false,
            future: false,
            all_keys: false,
            keys: Vec::new(),
            all_channels: false,
            channels: Vec::new(),
            first_args: BTreeMap::new(),
        }
    }

    fn bit(&self, id: usize) -> bool {
        self.cmds[id / 64] & (1 << (id % 64)) != 0
    }

    fn set_bit(&mut self, id: usize, on: bool) {
        if on {
            self.cmds[id / 64] |= 1 << (id % 64);
        } else {
            self.cmds[id / 64] &= !(1 << (id % 64));
            self.all_commands = false;
        }
    }

    /// `ACLChangeSelectorPerm`: a container takes its subcommands along.
    fn change(&mut self, u: &Universe, id: usize, on: bool) {
        self.set_bit(id, on);
        self.first_args.remove(&id);
        for &s in &u.subs[id] {
            self.set_bit(s, on);
        }
    }

    fn set_category(&mut self, u: &Universe, bit: u32, on: bool) {
        for id in 0..u.len() {
            if u.cats[id] & bit != 0 {
                self.change(u, id, on);
            }
        }
    }

    fn all(&mut self, u: &Universe, on: bool) {
        let fill = if on { u64::MAX } else { 0 };
        self.cmds.iter_mut().for_each(|w| *w = fill);
        if on {
            // Bits past the last id stay clear, so two selectors compare by their commands.
            let n = u.len() % 64;
            if n != 0 {
                if let Some(w) = self.cmds.last_mut() {
                    *w = (1u64 << n) - 1;
                }
            }
        }
        self.all_commands = on;
        self.future = on;
        self.first_args.clear();
    }

    /// `ACLSetSelector`: one rule.
    fn apply(&mut self, u: &Universe, op: &str) -> Result<(), RuleError> {
        let low = op.to_ascii_lowercase();
        match low.as_str() {
            "allkeys" | "~*" => {
                self.all_keys = true;
                self.keys.clear();
            }
            "resetkeys" => {
                self.all_keys = false;
                self.keys.clear();
            }
            "allchannels" | "&*" => {
                self.all_channels = true;
                self.channels.clear();
            }
            "resetchannels" => {
                self.all_channels = false;
                self.channels.clear();
            }
            "allcommands" | "+@all" => self.all(u, true),
            "nocommands" | "-@all" => self.all(u, false),
            _ => return self.apply_pattern_or_command(u, op),
        }
        Ok(())
    }

    fn apply_pattern_or_command(&mut self, u: &Universe, op: &str) -> Result<(), RuleError> {
        let b = op.as_bytes();
        match b.first() {
            Some(b'~') | Some(b'%') => {
                if self.all_keys {
                    return Err(RuleError::KeysAfterAll);
                }
                let (flags, pat) = if b[0] == b'%' {
                    let mut flags = 0u8;
                    let mut i = 1;
                    loop {
                        match b.get(i).map(|c| c.to_ascii_uppercase()) {
                            Some(b'R') if flags & READ == 0 => flags |= READ,
                            Some(b'W') if flags & WRITE == 0 => flags |= WRITE,
                            Some(b'~') => {
                                i += 1;
                                break;
                            }
                            _ => return Err(RuleError::Syntax),
                        }
                        i += 1;
                    }
                    (flags, &op[i..])
                } else {
                    (READ | WRITE, &op[1..])
                };
                if has_spaces(pat) {
                    return Err(RuleError::Syntax);
                }
                match self.keys.iter_mut().find(|(_, p)| p == pat) {
                    Some(k) => k.0 |= flags,
                    None => self.keys.push((flags, pat.to_string())),
                }
            }
            Some(b'&') => {
                if self.all_channels {
                    return Err(RuleError::ChannelsAfterAll);
                }
                let pat = &op[1..];
                if has_spaces(pat) {
                    return Err(RuleError::Syntax);
                }
                if !self.channels.iter().any(|c| c == pat) {
                    self.channels.push(pat.to_string());
                }
            }
            Some(&c @ (b'+' | b'-')) if b.get(1) == Some(&b'@') => {
                let bit = category_bit(&op[2..]).ok_or(RuleError::Unknown)?;
                self.set_category(u, bit, c == b'+');
            }
            Some(b'+') => {
                let name = op[1..].to_ascii_lowercase();
                match op[1..].rsplit_once('|') {
                    None => {
                        let id = *u.by_name.get(&name).ok_or(RuleError::Unknown)?;
                        self.change(u, id, true);
                    }
                    Some((parent, sub)) => {
                        let pid = *u
                            .by_name
                            .get(&parent.to_ascii_lowercase())
                            .ok_or(RuleError::Unknown)?;
                        if u.is_sub[pid] {
                            return Err(RuleError::SubFirstArg);
                        }
                        if sub.is_empty() {
                            return Err(RuleError::Syntax);
                        }
                        if u.subs[pid].is_empty() {
                            // Redis's deprecated first-arg rule, kept as Redis 7.0 keeps it.
                            tracing::warn!(
                                "Deprecation warning: Allowing a first arg of an otherwise \
                                 blocked command is a misuse of ACL and may get disabled in the \
                                 future (offender: {})",
                                &op[1..]
                            );
                            let args = self.first_args.entry(pid).or_default();
                            if !args.iter().any(|a| a.eq_ignore_ascii_case(sub)) {
                                args.push(sub.to_string());
                            }
                            return Ok(());
                        }
                        let id = *u.by_name.get(&name).ok_or(RuleError::Unknown)?;
                        self.change(u, id, true);
                    }
                }
            }
            Some(b'-') => {
                let name = op[1..].to_ascii_lowercase();
                let id = *u.by_name.get(&name).ok_or(RuleError::Unknown)?;
                self.change(u, id, false);
            }
            _ => return Err(RuleError::Syntax),
        }
        Ok(())
    }

    fn count_category(&self, u: &Universe, bit: u32) -> (usize, usize) {
        let (mut on, mut off) = (0, 0);
        for id in 0..u.len() {
            if u.cats[id] & bit != 0 {
                if self.bit(id) {
                    on += 1
                } else {
                    off += 1
                }
            }
        }
        (on, off)
    }

    /// `ACLDescribeSelectorCommandRules`: `+@all` or `-@all`, the categories that fit best, then
    /// single commands until the rules give back exactly this selector's commands.
    pub fn describe_commands(&self, u: &Universe) -> String {
        let additive = !self.future;
        let mut rules = String::from(if additive { "-@all " } else { "+@all " });
        let mut fake = Selector::new(u);
        fake.all(u, !additive);
        let mut temp = self.clone();
        let mut applied = [false; 21];
        loop {
            let mut best = None;
            let (mut mindiff, mut maxsame) = (usize::MAX, 0);
            for (j, _) in CATEGORIES.iter().enumerate() {
                if applied[j] {
                    continue;
                }
                let (on, off) = temp.count_category(u, 1 << j);
                let (diff, same) = if additive { (off, on) } else { (on, off) };
                if same > diff && (diff < mindiff || (diff == mindiff && same > maxsame)) {
                    best = Some(j);
                    mindiff = diff;
                    maxsame = same;
                }
            }
            let Some(j) = best else { break };
            fake.set_category(u, 1 << j, additive);
            temp.set_category(u, 1 << j, !additive);
            rules.push_str(if additive { "+@" } else { "-@" });
            rules.push_str(CATEGORIES[j]);
            rules.push(' ');
            applied[j] = true;
        }
        for id in 0..u.len() {
            // Containers before their subcommands: ids are in name order, `x` before `x|y`.
            let want = self.bit(id);
            if want != fake.bit(id) {
                rules.push(if want { '+' } else { '-' });
                rules.push_str(&u.names[id]);
                rules.push(' ');
                fake.change(u, id, want);
            }
            // First args show only where the command itself is not allowed, as Redis.
            if let (false, Some(args)) = (want, self.first_args.get(&id)) {
                for a in args {
                    rules.push('+');
                    rules.push_str(&u.names[id]);
                    rules.push('|');
                    rules.push_str(a);
                    rules.push(' ');
                }
            }
        }
        rules.pop();
        rules
    }

    fn describe_keys(&self) -> String {
        if self.all_keys {
            return "~*".into();
        }
        let v: Vec<String> = self.keys.iter().map(|(f, p)| pattern_text(*f, p)).collect();
        v.join(" ")
    }

    fn describe_channels(&self) -> String {
        if self.all_channels {
            return "&*".into();
        }
        let v: Vec<String> = self.channels.iter().map(|c| format!("&{c}")).collect();
        v.join(" ")
    }

    /// `ACLDescribeSelector`: keys, channels, commands.
    fn describe(&self, u: &Universe) -> String {
        let mut s = String::new();
        if self.all_keys {
            s.push_str("~* ");
        } else {
            for (f, p) in &self.keys {
                s.push_str(&pattern_text(*f, p));
                s.push(' ');
            }
        }
        if self.all_channels {
            s.push_str("&* ");
        } else {
            s.push_str("resetchannels ");
            for c in &self.channels {
                s.push('&');
                s.push_str(c);
                s.push(' ');
            }
        }
        s.push_str(&self.describe_commands(u));
        s
    }

    /// ACL GETUSER's fields of a selector: commands, keys, channels.
    pub fn fields(&self, u: &Universe) -> [String; 3] {
        [
            self.describe_commands(u),
            self.describe_keys(),
            self.describe_channels(),
        ]
    }

    fn key_ok(&self, key: &[u8], access: u8) -> bool {
        self.keys
            .iter()
            .any(|(f, p)| f & access == access && glob_match(p.as_bytes(), key, false))
    }

    fn channel_ok(&self, ch: &[u8], is_pattern: bool) -> bool {
        self.all_channels
            || self.channels.iter().any(|p| {
                if is_pattern {
                    p.as_bytes() == ch
                } else {
                    glob_match(p.as_bytes(), ch, false)
                }
            })
    }

    /// Whether the command's first argument is one `+cmd|arg` allowed (only looked at when the
    /// command itself is not allowed).
    fn first_arg_ok(&self, req: &Request<'_>) -> bool {
        match (self.first_args.get(&req.id), req.args.get(1)) {
            (Some(allowed), Some(arg)) => allowed
                .iter()
                .any(|a| a.as_bytes().eq_ignore_ascii_case(arg)),
            _ => false,
        }
    }

    fn check(&self, req: &Request<'_>, keys: &mut KeyCache<'_>) -> Result<(), Denied> {
        if !self.all_commands && !req.noauth && !self.bit(req.id) && !self.first_arg_ok(req) {
            return Err(Denied::Command);
        }
        if !self.all_keys && req.has_keys {
            for &(pos, access) in keys.get() {
                if !self.key_ok(&req.args[pos], access) {
                    return Err(Denied::Key(pos));
                }
            }
        }
        if !self.all_channels {
            for &(pos, pat) in req.channels {
                if !self.channel_ok(&req.args[pos], pat) {
                    return Err(Denied::Channel(pos));
                }
            }
        }
        Ok(())
    }
}

fn pattern_text(f: u8, p: &str) -> String {
    match f {
        READ => format!("%R~{p}"),
        WRITE => format!("%W~{p}"),
        _ => format!("~{p}"),
    }
}

/// A command to check, as the command layer finds it.
pub struct Request<'a> {
    pub id: usize,
    /// `no_auth` commands (AUTH, HELLO, QUIT, RESET) are never refused for the command itself.
    pub noauth: bool,
    pub args: &'a [bytes::Bytes],
    pub has_keys: bool,
    /// Keys (argument index, READ/WRITE), found only if a selector needs them.
    pub keys: &'a dyn Fn() -> Vec<(usize, u8)>,
    /// Channels published or subscribed to: (argument index, is a pattern).
    pub channels: &'a [(usize, bool)],
}

struct KeyCache<'a> {
    find: &'a dyn Fn() -> Vec<(usize, u8)>,
    found: Option<Vec<(usize, u8)>>,
}

impl KeyCache<'_> {
    fn get(&mut self) -> &[(usize, u8)] {
        let find = self.find;
        self.found.get_or_insert_with(find)
    }
}

/// Why a command was refused, with the argument at fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Denied {
    Command,
    Key(usize),
    Channel(usize),
}

impl Denied {
    fn rank(self) -> (u8, usize) {
        match self {
            Denied::Command => (0, 0),
            Denied::Key(p) => (1, p),
            Denied::Channel(p) => (2, p),
        }
    }
}

/// One user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub enabled: bool,
    pub nopass: bool,
    /// `sanitize-payload` (true), `skip-sanitize-payload` (false) or neither: shown, not acted
    /// on (respd always checks a RESTORE payload fully).
    pub sanitize: Option<bool>,
    /// SHA-256 hex digests.
    pub passwords: Vec<String>,
    /// The root selector first.
    pub selectors: Vec<Selector>,
}

fn valid_hash(h: &str) -> bool {
    h.len() == 64
        && h.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl User {
    /// A new user as `ACLCreateUser`: off, no passwords, no commands, keys or channels (or all
    /// channels under `acl-pubsub-default allchannels`).
    pub fn new(u: &Universe, name: &str, all_channels: bool) -> User {
        let mut root = Selector::new(u);
        root.all_channels = all_channels;
        User {
            name: name.to_string(),
            enabled: false,
            nopass: false,
            sanitize: None,
            passwords: Vec::new(),
            selectors: vec![root],
        }
    }

    /// The default user: `on nopass ~* &* +@all`.
    pub fn default_user(u: &Universe) -> User {
        let mut d = User::new(u, "default", false);
        for op in ["+@all", "~*", "&*", "on", "nopass"] {
            let _ = d.apply(u, op, false);
        }
        d
    }

    /// Whether every command, key and channel is allowed: the check is skipped.
    pub fn unrestricted(&self) -> bool {
        let r = &self.selectors[0];
        r.all_commands && r.all_keys && r.all_channels
    }

    /// `ACLSetUser`: one rule (a selector comes as one `(...)` string).
    pub fn apply(&mut self, u: &Universe, op: &str, pubsub_all: bool) -> Result<(), RuleError> {
        if op.is_empty() {
            return Ok(());
        }
        let low = op.to_ascii_lowercase();
        match low.as_str() {
            "on" => self.enabled = true,
            "off" => self.enabled = false,
            "skip-sanitize-payload" => self.sanitize = Some(false),
            "sanitize-payload" => self.sanitize = Some(true),
            "nopass" => {
                self.nopass = true;
                self.passwords.clear();
            }
            "resetpass" => {
                self.nopass = false;
                self.passwords.clear();
            }
            "clearselectors" => self.selectors.truncate(1),
            "reset" => {
                self.nopass = false;
                self.passwords.clear();
                let r = &mut self.selectors[0];
                r.all_keys = false;
                r.keys.clear();
                r.all_channels = pubsub_all;
                r.channels.clear();
                self.enabled = false;
                self.sanitize = Some(true);
                self.selectors.truncate(1);
                self.selectors[0].all(u, false);
            }
            _ => {
                let b = op.as_bytes();
                match b[0] {
                    b'>' | b'#' => {
                        let h = if b[0] == b'>' {
                            crate::util::sha256::hex(&b[1..])
                        } else if valid_hash(&op[1..]) {
                            op[1..].to_string()
                        } else {
                            return Err(RuleError::BadHash);
                        };
                        if !self.passwords.contains(&h) {
                            self.passwords.push(h);
                        }
                        self.nopass = false;
                    }
                    b'<' | b'!' => {
                        let h = if b[0] == b'<' {
                            crate::util::sha256::hex(&b[1..])
                        } else if valid_hash(&op[1..]) {
                            op[1..].to_string()
                        } else {
                            return Err(RuleError::BadHash);
                        };
                        let i = self
                            .passwords
                            .iter()
                            .position(|p| *p == h)
                            .ok_or(RuleError::NoSuchPassword)?;
                        self.passwords.remove(i);
                    }
                    b'(' if b.len() > 1 && b[b.len() - 1] == b')' => {
                        let mut s = Selector::new(u);
                        s.all_channels = pubsub_all;
                        for part in op[1..op.len() - 1].split_ascii_whitespace() {
                            s.apply(u, part)?;
                        }
                        self.selectors.push(s);
                    }
                    _ => self.selectors[0].apply(u, op)?,
                }
            }
        }
        Ok(())
    }

    /// Whether `pass` opens this user (enabled, and nopass or a password's digest).
    pub fn password_ok(&self, pass: &[u8]) -> bool {
        if !self.enabled {
            return false;
        }
        if self.nopass {
            return true;
        }
        let h = crate::util::sha256::hex(pass);
        // Compared in full, whatever the first differing byte, as Redis's time-independent check.
        self.passwords.iter().fold(false, |ok, p| {
            ok | (p.bytes().zip(h.bytes()).fold(0u8, |d, (a, b)| d | (a ^ b)) == 0)
        })
    }

    /// `ACLDescribeUser`: the rules that recreate this user (ACL LIST, the ACL file).
    pub fn describe(&self, u: &Universe) -> String {
        let mut s = String::from(if self.enabled { "on " } else { "off " });
        if self.nopass {
            s.push_str("nopass ");
        }
        match self.sanitize {
            Some(false) => s.push_str("skip-sanitize-payload "),
            Some(true) => s.push_str("sanitize-payload "),
            None => {}
        }
        for p in &self.passwords {
            s.push('#');
            s.push_str(p);
            s.push(' ');
        }
        for (i, sel) in self.selectors.iter().enumerate() {
            if i == 0 {
                s.push_str(&sel.describe(u));
            } else {
                s.push_str(&format!(" ({})", sel.describe(u)));
            }
        }
        s
    }

    /// ACL GETUSER's `flags`.
    pub fn flag_names(&self) -> Vec<&'static str> {
        let mut v = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            v.push("nopass");
        }
        match self.sanitize {
            Some(false) => v.push("skip-sanitize-payload"),
            Some(true) => v.push("sanitize-payload"),
            None => {}
        }
        v
    }

    /// `ACLCheckAllUserCommandPerm`: allowed if any selector allows it; else the most relevant
    /// refusal (channel over key over command, then the later argument).
    pub fn check(&self, req: &Request<'_>) -> Result<(), Denied> {
        let mut keys = KeyCache {
            find: req.keys,
            found: None,
        };
        let mut worst = Denied::Command;
        for s in &self.selectors {
            match s.check(req, &mut keys) {
                Ok(()) => return Ok(()),
                Err(d) if d.rank() > worst.rank() => worst = d,
                Err(_) => {}
            }
        }
        Err(worst)
    }

    /// Whether a subscriber holding these channels and patterns may keep them under this user
    /// (Redis kills a pub/sub client that may not, on ACL SETUSER).
    pub fn may_keep(&self, channels: &[bytes::Bytes], patterns: &[bytes::Bytes]) -> bool {
        if self.selectors.iter().any(|s| s.all_channels) {
            return true;
        }
        let allowed: Vec<&String> = self.selectors.iter().flat_map(|s| &s.channels).collect();
        patterns
            .iter()
            .all(|p| allowed.iter().any(|a| a.as_bytes() == &p[..]))
            && channels
                .iter()
                .all(|c| allowed.iter().any(|a| glob_match(a.as_bytes(), c, false)))
    }

    /// Redis's `ACLKillPubsubClientsIfNeeded` shortcut: every channel pattern `old` allowed is
    /// still allowed by `self`, so no subscriber needs checking.
    pub fn channels_kept_from(&self, old: &User) -> bool {
        if self.selectors.iter().any(|s| s.all_channels) {
            return true;
        }
        let allowed: Vec<&String> = self.selectors.iter().flat_map(|s| &s.channels).collect();
        old.selectors
            .iter()
            .all(|s| !s.all_channels && s.channels.iter().all(|c| allowed.contains(&c)))
    }
}

/// Splits ACL SETUSER's arguments, joining a `(...)` selector given as several arguments, as
/// `ACLMergeSelectorArguments`; the argument that opens an unclosed one otherwise.
pub fn merge_selector_args(args: &[String]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut open: Option<(String, &String)> = None;
    for a in args {
        if let Some((sel, _)) = open.as_mut() {
            sel.push(' ');
            sel.push_str(a);
            if a.ends_with(')') {
                if let Some((sel, _)) = open.take() {
                    out.push(sel);
                }
            }
            continue;
        }
        if a.starts_with('(') && !a.ends_with(')') {
            open = Some((a.clone(), a));
            continue;
        }
        out.push(a.clone());
    }
    match open {
        Some((_, first)) => Err(first.clone()),
        None => Ok(out),
    }
}

/// Why an ACL LOG entry was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Command,
    Key,
    Channel,
    Auth,
}

impl Reason {
    pub fn name(self) -> &'static str {
        match self {
            Reason::Command => "command",
            Reason::Key => "key",
            Reason::Channel => "channel",
            Reason::Auth => "auth",
        }
    }
}

/// One ACL LOG entry (Redis 7.0's seven fields).
#[derive(Debug, Clone)]
pub struct LogEntry {
    pub count: u64,
    pub reason: Reason,
    /// `toplevel`, `multi` or `lua`.
    pub context: &'static str,
    pub object: String,
    pub username: String,
    /// Unix ms of the last occurrence.
    pub ctime: u64,
    pub client_info: String,
}

/// Redis groups a repeat within this many ms into the entry before.
const LOG_GROUPING_MS: u64 = 60_000;

/// The users, the ACL LOG and what the request path reads without a lock.
pub struct Acl {
    users: RwLock<BTreeMap<String, Arc<User>>>,
    /// Moves on every change to any user: connections re-read their user.
    epoch: AtomicU64,
    /// The default user is on and nopass: clients need not AUTH, protected mode applies.
    default_open: AtomicBool,
    log: Mutex<VecDeque<LogEntry>>,
}

impl Acl {
    /// No users yet: the default user is made on first use (`default_user`), from `requirepass`.
    pub fn new(default_open: bool) -> Acl {
        Acl {
            users: RwLock::new(BTreeMap::new()),
            epoch: AtomicU64::new(1),
            default_open: AtomicBool::new(default_open),
            log: Mutex::new(VecDeque::new()),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<User>>> {
        self.users.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Arc<User>>> {
        self.users.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The change counter connections compare with the one their cached user was read at.
    #[inline]
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Relaxed)
    }

    /// Whether the default user is on and needs no password.
    #[inline]
    pub fn default_open(&self) -> bool {
        self.default_open.load(Relaxed)
    }

    pub fn get(&self, name: &str) -> Option<Arc<User>> {
        self.read().get(name).cloned()
    }

    /// The default user, made on first use, with `requirepass` as its password if one is set.
    pub fn default_user(&self, u: &Universe, requirepass: &str) -> Arc<User> {
        if let Some(d) = self.get("default") {
            return d;
        }
        let mut d = User::default_user(u);
        if !requirepass.is_empty() {
            let _ = d.apply(u, &format!(">{requirepass}"), false);
        }
        let d = Arc::new(d);
        self.write()
            .entry("default".into())
            .or_insert_with(|| d.clone())
            .clone()
    }

    /// Every user, in name order.
    pub fn users(&self) -> Vec<Arc<User>> {
        self.read().values().cloned().collect()
    }

    /// Stores a user (new or changed) and tells connections.
    pub fn put(&self, user: User) {
        let mut m = self.write();
        if user.name == "default" {
            self.default_open
                .store(user.enabled && user.nopass, Relaxed);
        }
        m.insert(user.name.clone(), Arc::new(user));
        self.epoch.fetch_add(1, Relaxed);
    }

    /// Removes a user; whether it existed.
    pub fn remove(&self, name: &str) -> bool {
        let gone = self.write().remove(name).is_some();
        self.epoch.fetch_add(1, Relaxed);
        gone
    }

    /// Replaces every user (ACL LOAD, the start): `default` is made if the set lacks it.
    pub fn replace_all(&self, u: &Universe, users: Vec<User>) {
        let mut m = self.write();
        m.clear();
        for user in users {
            m.insert(user.name.clone(), Arc::new(user));
        }
        let d = m
            .entry("default".into())
            .or_insert_with(|| Arc::new(User::default_user(u)));
        // No default user in the file: Redis keeps a fresh one (`on nopass ~* &* +@all`).
        self.default_open.store(d.enabled && d.nopass, Relaxed);
        self.epoch.fetch_add(1, Relaxed);
    }

    /// `addACLLogEntry`: a repeat of one of the last 10 entries within a minute counts there.
    pub fn log(&self, mut e: LogEntry, max_len: usize) {
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        let hit = log.iter().take(10).position(|x| {
            x.reason == e.reason
                && x.context == e.context
                && x.ctime.abs_diff(e.ctime) <= LOG_GROUPING_MS
                && x.object == e.object
                && x.username == e.username
        });
        if let Some(i) = hit {
            if let Some(mut x) = log.remove(i) {
                x.count += 1;
                x.ctime = e.ctime;
                x.client_info = std::mem::take(&mut e.client_info);
                log.push_front(x);
            }
            return;
        }
        log.push_front(e);
        log.truncate(max_len);
    }

    /// The newest `n` entries.
    pub fn log_entries(&self, n: usize) -> Vec<LogEntry> {
        let log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        log.iter().take(n).cloned().collect()
    }

    pub fn log_reset(&self) {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn universe() -> Universe {
        let mut u = Universe::default();
        let rows: &[(&str, u32, bool)] = &[
            ("config", 0, false),
            ("config|get", 1 << 13 | 1 << 15, true),
            ("config|set", 1 << 13 | 1 << 15 | 1 << 17, true),
            ("get", 1 << 1 | 1 << 7 | 1 << 14, false),
            ("set", 1 << 2 | 1 << 7 | 1 << 15, false),
        ];
        for (i, (n, c, sub)) in rows.iter().enumerate() {
            u.names.push(n.to_string());
            u.cats.push(*c);
            u.is_sub.push(*sub);
            u.subs.push(vec![]);
            u.by_name.insert(n.to_string(), i);
        }
        u.subs[0] = vec![1, 2];
        u
    }

    #[test]
    fn rules_and_describe() {
        let u = universe();
        let mut a = User::new(&u, "a", false);
        for op in [
            "on",
            ">pw",
            "~k*",
            "%R~r*",
            "+@string",
            "-set",
            "+config|get",
        ] {
            a.apply(&u, op, false).expect(op);
        }
        assert!(a.password_ok(b"pw") && !a.password_ok(b"px"));
        assert_eq!(
            a.describe(&u),
            format!(
                "on #{} ~k* %R~r* resetchannels -@all +@read +config|get",
                crate::util::sha256::hex(b"pw")
            )
        );
        assert_eq!(a.apply(&u, "+nope", false), Err(RuleError::Unknown));
        assert_eq!(a.apply(&u, "+@nope", false), Err(RuleError::Unknown));
        assert_eq!(a.apply(&u, "%X~a", false), Err(RuleError::Syntax));
        assert_eq!(a.apply(&u, "<nope", false), Err(RuleError::NoSuchPassword));
        assert_eq!(a.apply(&u, "#abc", false), Err(RuleError::BadHash));
        assert_eq!(
            a.apply(&u, "+config|get|x", false),
            Err(RuleError::SubFirstArg)
        );
        a.apply(&u, "allkeys", false).expect("allkeys");
        assert_eq!(a.apply(&u, "~x", false), Err(RuleError::KeysAfterAll));
        a.apply(&u, "(+set ~s*)", false).expect("selector");
        assert_eq!(a.selectors.len(), 2);
        a.apply(&u, "reset", false).expect("reset");
        assert_eq!(a.describe(&u), "off sanitize-payload resetchannels -@all");
        assert_eq!(User::default_user(&u).describe(&u), "on nopass ~* &* +@all");
    }

    #[test]
    fn checks_take_the_best_selector() {
        let u = universe();
        let mut a = User::new(&u, "a", false);
        for op in ["on", "nopass", "+get", "%R~r*", "(+set ~w*)"] {
            a.apply(&u, op, false).expect(op);
        }
        let args: Vec<bytes::Bytes> = vec!["get".into(), "r1".into()];
        let check = |id: usize, args: &[bytes::Bytes], access: u8| {
            a.check(&Request {
                id,
                noauth: false,
                args,
                has_keys: true,
                keys: &|| vec![(1, access)],
                channels: &[],
            })
        };
        assert_eq!(check(3, &args, READ), Ok(()));
        assert_eq!(check(3, &args, WRITE), Err(Denied::Key(1)));
        let w: Vec<bytes::Bytes> = vec!["set".into(), "w1".into()];
        assert_eq!(check(4, &w, WRITE), Ok(()));
        assert_eq!(check(4, &args, WRITE), Err(Denied::Key(1)));
        assert_eq!(check(1, &args, 0), Err(Denied::Command));
    }

    #[test]
    fn first_arg_rule_as_redis() {
        let u = universe();
        let mut a = User::new(&u, "a", false);
        for op in ["on", "nopass", "~*", "+get|K1", "+GET|k1", "+get|x"] {
            a.apply(&u, op, false).expect(op);
        }
        // Kept as given, once per case-insensitive argument, shown after the command.
        assert_eq!(a.selectors[0].fields(&u)[0], "-@all +get|K1 +get|x");
        let check = |a: &User, args: &[&str]| {
            let args: Vec<bytes::Bytes> = args.iter().map(|s| s.to_string().into()).collect();
            a.check(&Request {
                id: 3,
                noauth: false,
                args: &args,
                has_keys: false,
                keys: &Vec::new,
                channels: &[],
            })
        };
        assert_eq!(check(&a, &["get", "k1"]), Ok(()));
        assert_eq!(check(&a, &["GET", "X"]), Ok(()));
        assert_eq!(check(&a, &["get", "k2"]), Err(Denied::Command));
        assert_eq!(check(&a, &["get"]), Err(Denied::Command));
        assert_eq!(a.apply(&u, "+get|", false), Err(RuleError::Syntax));
        assert_eq!(a.apply(&u, "-get|k1", false), Err(RuleError::Unknown));
        assert_eq!(
            a.apply(&u, "+config|nosuch", false),
            Err(RuleError::Unknown)
        );
        // A rule on the command (or a category holding it, or all commands) drops them.
        for op in ["-get", "+@read", "+get", "nocommands"] {
            let mut b = a.clone();
            b.apply(&u, op, false).expect(op);
            assert!(b.selectors[0].first_args.is_empty(), "{op}");
        }
        let mut b = a.clone();
        b.apply(&u, "-@write", false).expect("-@write");
        assert_eq!(b.selectors[0].fields(&u)[0], "-@all +get|K1 +get|x");
    }

    #[test]
    fn selectors_given_in_pieces_are_joined() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            merge_selector_args(&s(&["on", "(+get", "~a)", "x"])),
            Ok(s(&["on", "(+get ~a)", "x"]))
        );
        assert_eq!(
            merge_selector_args(&s(&["(+get", "~a"])),
            Err("(+get".to_string())
        );
    }
}
