//! ACL and the permission check every command passes (`check`), on the user table of
//! `state::acl`. The command table is the one source: each command's categories come from
//! `CommandSpec::acl_categories` (its flags and family), its keys and their read/write access
//! from the key specs (`keyspec::find`), so no command needs a hand-kept list here.

use super::keyspec;
use super::server::LS;
use super::{eq, help_reply, int, table, text, CommandSpec, Ctx, Flags, Session};
use crate::config::params;
use crate::resp::Reply;
use crate::state::acl::{
    self, category_bit, merge_selector_args, Denied, LogEntry, Reason, Request, Universe, User,
    CATEGORIES,
};
use crate::state::Shared;
use crate::{container, subcommand};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

const ADM: Flags = LS.union(Flags::ADMIN).union(Flags::NOSCRIPT);
const NS: Flags = LS.union(Flags::NOSCRIPT);

/// The ACL command.
pub static COMMANDS: &[CommandSpec] = &[container!(
    "acl",
    -2,
    Flags::empty(),
    "server",
    "6.0.0",
    ACL_SUBS,
    "A container for Access List Control commands."
)];

static ACL_SUBS: &[CommandSpec] = &[
    subcommand!(
        "acl",
        "cat",
        -2,
        NS,
        (0, 0, 0),
        "6.0.0",
        &[],
        acl_cat,
        "Lists the ACL categories, or the commands inside a category."
    ),
    subcommand!(
        "acl",
        "deluser",
        -3,
        ADM,
        (0, 0, 0),
        "6.0.0",
        &[],
        acl_deluser,
        "Deletes ACL users, and terminates their connections."
    ),
    subcommand!(
        "acl",
        "dryrun",
        -4,
        ADM,
        (0, 0, 0),
        "7.0.0",
        &[],
        acl_dryrun,
        "Simulates the execution of a command by a user, without executing the command."
    ),
    subcommand!(
        "acl",
        "genpass",
        -2,
        NS,
        (0, 0, 0),
        "6.0.0",
        &[],
        acl_genpass,
        "Generates a pseudorandom, secure password that can be used to identify ACL users."
    ),
    subcommand!(
        "acl",
        "getuser",
        3,
        ADM,
        (0, 0, 0),
        "6.0.0",
        &[],
        acl_getuser,
        "Lists the ACL rules of a user."
    ),
    subcommand!(
        "acl",
        "help",
        2,
        LS,
        (0, 0, 0),
        "6.0.0",
        &[],
        acl_help,
        "Returns helpful text about the different subcommands."
    ),
    subcommand!(
        "acl",
        "list",
        2,
        ADM,
        (0, 0, 0),
        "6.0.0",
        &[],
        acl_list,
        "Dumps the effective rules in ACL file format."
    ),
    subcommand!(
        "acl",
        "load",
        2,
        ADM,
        (0, 0, 0),
        "6.0.0",
        &[],
        acl_load,
        "Reloads the rules from the configured ACL file."
    ),
    subcommand!(
        "acl",
        "log",
        -2,
        ADM,
        (0, 0, 0),
        "6.0.0",
        &[],
        acl_log,
        "Lists recent security events generated due to ACL rules."
    ),
    subcommand!(
        "acl",
        "save",
        2,
        ADM,
        (0, 0, 0),
        "6.0.0",
        &[],
        acl_save,
        "Saves the effective ACL rules in the configured ACL file."
    ),
    subcommand!(
        "acl",
        "setuser",
        -3,
        ADM,
        (0, 0, 0),
        "6.0.0",
        &[],
        acl_setuser,
        "Creates and modifies an ACL user and its rules."
    ),
    subcommand!(
        "acl",
        "users",
        2,
        ADM,
        (0, 0, 0),
        "6.0.0",
        &[],
        acl_users,
        "Lists all ACL users."
    ),
    subcommand!(
        "acl",
        "whoami",
        2,
        NS,
        (0, 0, 0),
        "6.0.0",
        &[],
        acl_whoami,
        "Returns the authenticated username of the current connection."
    ),
];

/// The command table as the ACL layer sees it, and each spec's id in it.
struct Ids {
    u: Universe,
    by_spec: HashMap<usize, usize>,
}

fn ids() -> &'static Ids {
    static IDS: OnceLock<Ids> = OnceLock::new();
    IDS.get_or_init(|| {
        let mut all: Vec<&'static CommandSpec> = Vec::new();
        for c in table().values() {
            all.push(c);
            all.extend(c.subcommands.iter());
        }
        all.sort_by_key(|c| c.full_name());
        let mut u = Universe::default();
        let mut by_spec = HashMap::new();
        for (i, c) in all.iter().enumerate() {
            let name = c.full_name();
            u.by_name.insert(name.clone(), i);
            u.names.push(name);
            u.cats.push(
                c.acl_categories()
                    .iter()
                    .filter_map(|n| category_bit(n))
                    .fold(0, |a, b| a | b),
            );
            u.is_sub.push(c.parent.is_some());
            u.subs.push(Vec::new());
            by_spec.insert(*c as *const CommandSpec as usize, i);
        }
        for (i, c) in all.iter().enumerate() {
            u.subs[i] = c
                .subcommands
                .iter()
                .filter_map(|s| by_spec.get(&(s as *const CommandSpec as usize)).copied())
                .collect();
        }
        Ids { u, by_spec }
    })
}

/// Every command and subcommand, with its categories.
pub fn universe() -> &'static Universe {
    &ids().u
}

fn pubsub_all(srv: &Shared) -> bool {
    srv.config().get(params::ACL_PUBSUB_DEFAULT) == "allchannels"
}

/// The default user (made from `requirepass` on first use).
fn default_user(srv: &Shared) -> Arc<User> {
    let pass = srv.config().get(params::REQUIREPASS);
    srv.acl.default_user(universe(), &pass)
}

/// `requirepass` sets the default user's password, as Redis's `ACLUpdateDefaultUserPassword`.
pub fn requirepass_changed(srv: &Shared) {
    let pass = srv.config().get(params::REQUIREPASS);
    let mut d = (*default_user(srv)).clone();
    let u = universe();
    let _ = d.apply(u, "resetpass", false);
    let op = if pass.is_empty() {
        "nopass".to_string()
    } else {
        format!(">{pass}")
    };
    let _ = d.apply(u, &op, false);
    srv.acl.put(d);
}

/// Re-reads the session's user after any ACL change (`Acl::epoch` moved).
pub fn refresh(srv: &Shared, conn: &mut Session) {
    conn.acl_epoch = srv.acl.epoch();
    let user = match srv.acl.get(&conn.user) {
        Some(u) => Some(u),
        None if conn.user == "default" => Some(default_user(srv)),
        // Deleted: its connections are being closed; until then it may run nothing.
        None => None,
    };
    conn.acl_free = user.as_ref().is_some_and(|u| u.unrestricted());
    conn.acl_user = user;
}

/// The channels a command publishes or subscribes to: (argument, is a pattern).
fn channels(spec: &CommandSpec, args: &[Bytes]) -> Vec<(usize, bool)> {
    if spec.parent.is_some() {
        return Vec::new();
    }
    match spec.name {
        "publish" | "spublish" => vec![(1, false)],
        "subscribe" | "ssubscribe" => (1..args.len()).map(|i| (i, false)).collect(),
        "psubscribe" => (1..args.len()).map(|i| (i, true)).collect(),
        _ => Vec::new(),
    }
}

/// Read/write access a key spec's flags ask for (`ACLSelectorCheckKey`).
fn access(f: u16) -> u8 {
    let mut a = 0;
    if f & keyspec::flags::ACCESS != 0 {
        a |= acl::READ;
    }
    if f & (keyspec::flags::INSERT | keyspec::flags::DELETE | keyspec::flags::UPDATE) != 0 {
        a |= acl::WRITE;
    }
    a
}

/// Checks `args` against `user`; the refusal with the argument at fault.
fn check_user(user: &User, spec: &'static CommandSpec, args: &[Bytes]) -> Result<(), Denied> {
    let id = ids()
        .by_spec
        .get(&(spec as *const CommandSpec as usize))
        .copied()
        .unwrap_or(0);
    let ch = channels(spec, args);
    let keys = || {
        keyspec::find(spec, args)
            .into_iter()
            .map(|(i, f)| (i, access(f)))
            .collect()
    };
    // The two Redis 7.2 subcommands respd has for clients that send them when connecting
    // (docs/compatibility.md): Redis 7.0 answers them "unknown subcommand" before any ACL check,
    // so they are not refused or logged here either.
    let extra = spec.parent == Some("client") && matches!(spec.name, "setinfo" | "no-touch");
    user.check(&Request {
        id,
        noauth: extra || spec.flags.contains(Flags::NOAUTH),
        args,
        has_keys: keyspec::has_keys(spec),
        keys: &keys,
        channels: &ch,
    })
}

/// Where a refused command ran, for the ACL LOG.
fn context(conn: &Session, in_exec: bool) -> &'static str {
    if conn.in_script {
        "lua"
    } else if in_exec || conn.multi.is_some() {
        "multi"
    } else {
        "toplevel"
    }
}

/// Adds an ACL LOG entry for `conn`.
fn log(srv: &Shared, conn: &Session, reason: Reason, ctx: &'static str, user: &str, obj: String) {
    let max = srv.config().get(params::ACLLOG_MAX_LEN).max(0) as usize;
    let info = super::client::client_line(srv, &conn.handle, None);
    srv.acl.log(
        LogEntry {
            count: 1,
            reason,
            context: ctx,
            object: obj,
            username: user.to_string(),
            ctime: crate::keyspace::now_ms(),
            client_info: info,
        },
        max,
    );
}

/// The permission check on the request path (the caller skips it for an unrestricted user):
/// the refusal, logged, in Redis's words for a top-level command, EXEC or a script.
pub fn check(
    srv: &Shared,
    conn: &Session,
    spec: &'static CommandSpec,
    args: &[Bytes],
    in_exec: bool,
) -> Option<Reply> {
    let d = match &conn.acl_user {
        Some(u) => check_user(u, spec, args).err()?,
        None => Denied::Command,
    };
    let (reason, obj) = match d {
        Denied::Command => (Reason::Command, spec.full_name()),
        Denied::Key(i) => (Reason::Key, text(&args[i])),
        Denied::Channel(i) => (Reason::Channel, text(&args[i])),
    };
    log(srv, conn, reason, context(conn, in_exec), &conn.user, obj);
    if conn.in_script {
        let why = match d {
            Denied::Command => "can't run this command or subcommand",
            Denied::Key(_) => {
                "can't access at least one of the keys mentioned in the command arguments"
            }
            Denied::Channel(_) => "can't publish to the channel mentioned in the command",
        };
        return Some(Reply::error(format!(
            "ERR The user executing the script {why}"
        )));
    }
    if in_exec {
        let why = match d {
            Denied::Command => "no permission to execute the command or subcommand",
            Denied::Key(_) => "no permission to touch the specified keys",
            Denied::Channel(_) => "no permission to access one of the channels used as arguments",
        };
        return Some(Reply::error(format!("NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: {why}")));
    }
    Some(Reply::error(match d {
        Denied::Command => format!(
            "NOPERM this user has no permissions to run the '{}' command",
            spec.full_name()
        ),
        Denied::Key(_) => {
            "NOPERM this user has no permissions to access one of the keys used as arguments".into()
        }
        Denied::Channel(_) => {
            "NOPERM this user has no permissions to access one of the channels used as arguments"
                .into()
        }
    }))
}

const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

/// AUTH and HELLO AUTH: checks the pair, logs a failure, switches the session's user.
pub fn authenticate(ctx: &mut Ctx, user: &[u8], pass: &[u8]) -> Result<(), Reply> {
    let name = text(user);
    let found = if name == "default" {
        Some(default_user(ctx.srv))
    } else {
        ctx.srv.acl.get(&name)
    };
    if found.is_some_and(|u| u.password_ok(pass)) {
        ctx.conn.authed = true;
        ctx.conn.user = name.clone();
        ctx.conn.handle.set_user(&name);
        refresh(ctx.srv, ctx.conn);
        return Ok(());
    }
    let c = if ctx.conn.multi.is_some() {
        "multi"
    } else {
        "toplevel"
    };
    log(
        ctx.srv,
        ctx.conn,
        Reason::Auth,
        c,
        &name,
        text(&ctx.args[0]),
    );
    Err(Reply::error(WRONGPASS))
}

/// Whether the default user has no password (AUTH with one argument is then refused).
pub fn default_nopass(srv: &Shared) -> bool {
    default_user(srv).nopass
}

/// Closes every connection of the named users; the asking one after its reply.
fn kill_users(ctx: &mut Ctx, names: &[&str]) {
    for h in ctx.srv.clients.all() {
        if names.contains(&&*h.user()) {
            if h.id == ctx.conn.id {
                ctx.conn.close_after_reply = true;
            } else {
                h.kill();
            }
        }
    }
}

fn set_error(e: String) -> Reply {
    Reply::error(format!("ERR {e}"))
}

/// Applies ACL SETUSER-style rules to a copy of `base` (or a new user).
fn build_user(
    srv: &Shared,
    name: &str,
    base: Option<&User>,
    ops: &[String],
) -> Result<User, String> {
    let u = universe();
    let merged = merge_selector_args(ops)
        .map_err(|first| format!("Unmatched parenthesis in acl selector starting at '{first}'."))?;
    let all = pubsub_all(srv);
    let mut user = match base {
        Some(b) => b.clone(),
        None => User::new(u, name, all),
    };
    for op in &merged {
        user.apply(u, op, all)
            .map_err(|e| format!("Error in ACL SETUSER modifier '{op}': {}", e.text()))?;
    }
    Ok(user)
}

fn acl_setuser(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let name = text(&a[2]);
    if name.bytes().any(|b| b.is_ascii_whitespace() || b == 0) {
        return Reply::error("ERR Usernames can't contain spaces or null characters");
    }
    let old = if name == "default" {
        Some(default_user(ctx.srv))
    } else {
        ctx.srv.acl.get(&name)
    };
    let ops: Vec<String> = a[3..].iter().map(|x| text(x)).collect();
    let user = match build_user(ctx.srv, &name, old.as_deref(), &ops) {
        Ok(u) => u,
        Err(e) => return set_error(e),
    };
    if let Some(old) = &old {
        kill_lost_subscribers(ctx, &user, old);
    }
    ctx.srv.acl.put(user);
    Reply::Ok
}

/// Redis's `ACLKillPubsubClientsIfNeeded`: a subscriber of this user whose channels or
/// patterns the new rules no longer allow is disconnected.
fn kill_lost_subscribers(ctx: &mut Ctx, new: &User, old: &User) {
    use crate::state::pubsub::SubKind;
    if new.channels_kept_from(old) {
        return;
    }
    for h in ctx.srv.clients.all() {
        if *h.user() != *old.name {
            continue;
        }
        let subs = h.subs.load(std::sync::atomic::Ordering::Relaxed)
            + h.psubs.load(std::sync::atomic::Ordering::Relaxed);
        if subs == 0 {
            continue;
        }
        let ch = ctx.srv.pubsub.of_client(SubKind::Channel, h.id);
        let pat = ctx.srv.pubsub.of_client(SubKind::Pattern, h.id);
        if !new.may_keep(&ch, &pat) {
            if h.id == ctx.conn.id {
                ctx.conn.close_after_reply = true;
            } else {
                h.kill();
            }
        }
    }
}

fn acl_deluser(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let names: Vec<String> = a[2..].iter().map(|x| text(x)).collect();
    if names.iter().any(|n| n == "default") {
        return Reply::error("ERR The 'default' user cannot be removed");
    }
    let mut gone = Vec::new();
    for n in &names {
        if ctx.srv.acl.remove(n) {
            gone.push(n.as_str());
        }
    }
    kill_users(ctx, &gone);
    Reply::Int(gone.len() as i64)
}

fn bulk(s: impl Into<String>) -> Reply {
    Reply::bulk(Bytes::from(s.into()))
}

fn selector_fields(f: [String; 3]) -> Vec<(Reply, Reply)> {
    let [c, k, ch] = f;
    vec![
        (bulk("commands"), bulk(c)),
        (bulk("keys"), bulk(k)),
        (bulk("channels"), bulk(ch)),
    ]
}

fn acl_getuser(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let name = text(&a[2]);
    let user = if name == "default" {
        Some(default_user(ctx.srv))
    } else {
        ctx.srv.acl.get(&name)
    };
    let Some(user) = user else {
        return Reply::Nil;
    };
    let u = universe();
    let mut m = vec![
        (
            bulk("flags"),
            Reply::Set(user.flag_names().into_iter().map(bulk).collect()),
        ),
        (
            bulk("passwords"),
            Reply::Array(user.passwords.iter().map(|p| bulk(p.clone())).collect()),
        ),
    ];
    m.extend(selector_fields(user.selectors[0].fields(u)));
    m.push((
        bulk("selectors"),
        Reply::Array(
            user.selectors[1..]
                .iter()
                .map(|s| Reply::Map(selector_fields(s.fields(u))))
                .collect(),
        ),
    ));
    Reply::Map(m)
}

fn all_users(srv: &Shared) -> Vec<Arc<User>> {
    default_user(srv);
    srv.acl.users()
}

/// ACL LIST's lines, also the ACL file's.
fn list_lines(srv: &Shared) -> Vec<String> {
    let u = universe();
    all_users(srv)
        .iter()
        .map(|x| format!("user {} {}", x.name, x.describe(u)))
        .collect()
}

fn acl_list(ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    Reply::Array(list_lines(ctx.srv).into_iter().map(bulk).collect())
}

fn acl_users(ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    Reply::Array(
        all_users(ctx.srv)
            .iter()
            .map(|x| bulk(x.name.clone()))
            .collect(),
    )
}

fn acl_whoami(ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    bulk(ctx.conn.user.clone())
}

fn acl_cat(_ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    if a.len() > 3 {
        return Reply::error(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try ACL HELP.",
            text(&a[1])
        ));
    }
    let Some(cat) = a.get(2) else {
        return Reply::Array(CATEGORIES.iter().map(|c| bulk(*c)).collect());
    };
    let Some(bit) = category_bit(&text(cat)) else {
        let c = text(&cat[..cat.len().min(128)]);
        return Reply::error(format!("ERR Unknown category '{c}'"));
    };
    let u = universe();
    Reply::Array(
        (0..u.names.len())
            .filter(|&i| u.cats[i] & bit != 0)
            .map(|i| bulk(u.names[i].clone()))
            .collect(),
    )
}

fn acl_genpass(_ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    if a.len() > 3 {
        return Reply::error(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try ACL HELP.",
            text(&a[1])
        ));
    }
    let bits = match a.get(2).map(|b| int(b)) {
        None => 256,
        Some(Ok(n)) => n,
        Some(Err(e)) => return e,
    };
    if bits <= 0 || bits > 4096 {
        return Reply::error("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096");
    }
    let chars = (bits as usize).div_ceil(4);
    let s: String = (0..chars)
        .map(|_| char::from_digit(rand::random_range(0..16u32), 16).unwrap_or('0'))
        .collect();
    bulk(s)
}

fn acl_log(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    if a.len() > 3 {
        return Reply::error(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try ACL HELP.",
            text(&a[1])
        ));
    }
    let mut n = 10usize;
    if let Some(x) = a.get(2) {
        if eq(x, "reset") {
            ctx.srv.acl.log_reset();
            return Reply::Ok;
        }
        match int(x) {
            Ok(v) => n = v.max(0) as usize,
            Err(e) => return e,
        }
    }
    let now = crate::keyspace::now_ms();
    Reply::Array(
        ctx.srv
            .acl
            .log_entries(n)
            .into_iter()
            .map(|e| {
                Reply::Map(vec![
                    (bulk("count"), Reply::Int(e.count as i64)),
                    (bulk("reason"), bulk(e.reason.name())),
                    (bulk("context"), bulk(e.context)),
                    (bulk("object"), bulk(e.object)),
                    (bulk("username"), bulk(e.username)),
                    (
                        bulk("age-seconds"),
                        Reply::Double(now.saturating_sub(e.ctime) as f64 / 1000.0),
                    ),
                    (bulk("client-info"), bulk(e.client_info)),
                ])
            })
            .collect(),
    )
}

fn acl_dryrun(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let name = text(&a[2]);
    let user = if name == "default" {
        Some(default_user(ctx.srv))
    } else {
        ctx.srv.acl.get(&name)
    };
    let Some(user) = user else {
        return Reply::error(format!("ERR User '{name}' not found"));
    };
    let args = &a[3..];
    let Ok(spec) = super::lookup(args) else {
        return Reply::error(format!("ERR Command '{}' not found", text(&args[0])));
    };
    if !spec.arity_ok(args.len()) {
        return Reply::error(format!(
            "ERR wrong number of arguments for '{}' command",
            spec.full_name()
        ));
    }
    match check_user(&user, spec, args) {
        Ok(()) => Reply::Ok,
        Err(Denied::Command) => bulk(format!(
            "This user has no permissions to run the '{}' command",
            spec.full_name()
        )),
        Err(Denied::Key(i)) => bulk(format!(
            "This user has no permissions to access the '{}' key",
            text(&args[i])
        )),
        Err(Denied::Channel(i)) => bulk(format!(
            "This user has no permissions to access the '{}' channel",
            text(&args[i])
        )),
    }
}

const NO_FILE: &str = "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.";

fn acl_save(ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    let path = ctx.srv.config().get(params::ACLFILE).to_string();
    if path.is_empty() {
        return Reply::error(NO_FILE);
    }
    let mut body = list_lines(ctx.srv).join("\n");
    body.push('\n');
    // Written beside the file and renamed over it, so a crash leaves the old or the new file.
    let tmp = format!("{path}.tmp-{}", std::process::id());
    let r = std::fs::write(&tmp, body).and_then(|()| std::fs::rename(&tmp, &path));
    match r {
        Ok(()) => Reply::Ok,
        Err(e) => {
            tracing::warn!("Writing ACL file for ACL SAVE: {e}");
            let _ = std::fs::remove_file(&tmp);
            Reply::error("ERR There was an error trying to save the ACLs. Please check the server logs for more information")
        }
    }
}

/// Parses an ACL file (Redis's `ACLLoadFromFile`): every user, or all the errors found.
pub fn parse_acl_file(srv: &Shared, path: &str) -> Result<Vec<User>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("Error loading ACLs, opening file '{path}': {e}"))?;
    parse_user_lines(srv, path, &text)
}

fn parse_user_lines(srv: &Shared, origin: &str, text: &str) -> Result<Vec<User>, String> {
    let mut users: Vec<User> = Vec::new();
    let mut errors = String::new();
    for (i, line) in text.split('\n').enumerate() {
        let n = i + 1;
        let line = line.trim_matches([' ', '\t', '\r', '\n']);
        if line.is_empty() {
            continue;
        }
        let argv: Vec<String> = line
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        if argv.len() < 2 || argv[0] != "user" {
            errors.push_str(&format!(
                "{origin}:{n} should start with user keyword followed by the username. "
            ));
            continue;
        }
        let name = &argv[1];
        if users.iter().any(|u| u.name == *name) {
            errors.push_str(&format!(
                "WARNING: Duplicate user '{name}' found on line {n}. "
            ));
            continue;
        }
        // As `ACLLoadFromFile`: every unknown name is reported, other errors once per line.
        let Ok(ops) = merge_selector_args(&argv[2..]) else {
            errors.push_str(&format!(
                "{origin}:{n}: Unmatched parenthesis in selector definition."
            ));
            continue;
        };
        let u = universe();
        let all = pubsub_all(srv);
        let mut user = User::new(u, name, all);
        let mut syntax_reported = false;
        let mut ok = true;
        for op in &ops {
            match user.apply(u, op, all) {
                Ok(()) => {}
                Err(acl::RuleError::Unknown) => {
                    ok = false;
                    errors.push_str(&format!(
                        "{origin}:{n}: Error in applying operation '{op}': {}. ",
                        acl::RuleError::Unknown.text()
                    ));
                }
                Err(e) => {
                    ok = false;
                    if !syntax_reported {
                        syntax_reported = true;
                        errors.push_str(&format!("{origin}:{n}: {}. ", e.text()));
                    }
                }
            }
        }
        if ok {
            users.push(user);
        }
    }
    if errors.is_empty() {
        Ok(users)
    } else {
        Err(errors)
    }
}

fn acl_load(ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    let path = ctx.srv.config().get(params::ACLFILE).to_string();
    if path.is_empty() {
        return Reply::error(NO_FILE);
    }
    match parse_acl_file(ctx.srv, &path) {
        Ok(users) => {
            // As Redis: every user is new, so every connection but the default user's closes.
            let before: Vec<String> = ctx
                .srv
                .acl
                .users()
                .iter()
                .map(|u| u.name.clone())
                .filter(|n| n != "default")
                .collect();
            ctx.srv.acl.replace_all(universe(), users);
            let names: Vec<&str> = before.iter().map(|s| s.as_str()).collect();
            kill_users(ctx, &names);
            Reply::Ok
        }
        Err(e) if e.starts_with("Error loading") => Reply::error(format!("ERR {e}")),
        Err(e) => Reply::error(format!(
            "ERR {e}WARNING: ACL errors detected, no change to the previously active ACL rules was performed"
        )),
    }
}

/// At start: users from `aclfile`, or from the configuration's `user` lines (both is an error,
/// as in Redis); `requirepass` then sets the default user's password.
pub fn load_at_start(srv: &Shared, config_users: &[String]) -> Result<(), String> {
    let path = srv.config().get(params::ACLFILE).to_string();
    if !path.is_empty() && !config_users.is_empty() {
        return Err("Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.".into());
    }
    let users = if !path.is_empty() {
        parse_acl_file(srv, &path)?
    } else if !config_users.is_empty() {
        let lines: Vec<String> = config_users.iter().map(|l| format!("user {l}")).collect();
        parse_user_lines(srv, "configuration", &lines.join("\n"))?
    } else {
        Vec::new()
    };
    let had_default = users.iter().any(|u| u.name == "default");
    srv.acl.replace_all(universe(), users);
    if !had_default && srv.config().is_set(params::REQUIREPASS) {
        requirepass_changed(srv);
    }
    Ok(())
}

fn acl_help(_ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    help_reply(
        "ACL",
        &[
            "CAT [<category>]",
            "    List all commands that belong to <category>, or all command categories",
            "    when no category is specified.",
            "DELUSER <username> [<username> ...]",
            "    Delete a list of users.",
            "DRYRUN <username> <command> [<arg> ...]",
            "    Returns whether the user can execute the given command without executing the command.",
            "GETUSER <username>",
            "    Get the user's details.",
            "GENPASS [<bits>]",
            "    Generate a secure 256-bit user password. The optional `bits` argument can",
            "    be used to specify a different size.",
            "LIST",
            "    Show users details in config file format.",
            "LOAD",
            "    Reload users from the ACL file.",
            "LOG [<count> | RESET]",
            "    Show the ACL log entries.",
            "SAVE",
            "    Save the current config to the ACL file.",
            "SETUSER <username> <attribute> [<attribute> ...]",
            "    Create or modify a user with the specified attributes.",
            "USERS",
            "    List all the registered usernames.",
            "WHOAMI",
            "    Return the current connection username.",
        ],
    )
}
