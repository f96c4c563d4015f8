//! COMMAND and its subcommands (COUNT, INFO, DOCS, LIST, GETKEYS, GETKEYSANDFLAGS, HELP), read
//! from the command table and the key specs (`keyspec`).

use super::keyspec::{self, Bs, Fk, KeySpec};
use super::server::LS;
use super::{eq, glob_match, help_reply, syntax, table, text, CommandSpec, Ctx};
use crate::resp::Reply;
use crate::{container, subcommand};
use bytes::Bytes;

/// The COMMAND command.
pub static COMMANDS: &[CommandSpec] = &[
    // A container that also answers alone (the whole table), in @connection as in Redis.
    CommandSpec {
        acl: &["connection"],
        ..container!(
            "command",
            -1,
            LS,
            "server",
            "2.8.13",
            COMMAND_SUBS,
            "Returns detailed information about all commands."
        )
    },
];

/// COMMAND's category beyond those its flags imply (see `CommandSpec::acl_categories`).
const ACL_CONN: &[&str] = &["connection"];

static COMMAND_SUBS: &[CommandSpec] = &[
    subcommand!(
        "command",
        "count",
        2,
        LS,
        (0, 0, 0),
        "2.8.13",
        ACL_CONN,
        command_count,
        "Returns a count of commands."
    ),
    subcommand!(
        "command",
        "info",
        -2,
        LS,
        (0, 0, 0),
        "2.8.13",
        ACL_CONN,
        command_info,
        "Returns information about one, multiple or all commands."
    ),
    subcommand!(
        "command",
        "docs",
        -2,
        LS,
        (0, 0, 0),
        "7.0.0",
        ACL_CONN,
        command_docs,
        "Returns documentary information about one, multiple or all commands."
    ),
    subcommand!(
        "command",
        "list",
        -2,
        LS,
        (0, 0, 0),
        "7.0.0",
        ACL_CONN,
        command_list,
        "Returns a list of command names."
    ),
    subcommand!(
        "command",
        "getkeys",
        -4,
        LS,
        (0, 0, 0),
        "2.8.13",
        ACL_CONN,
        command_getkeys,
        "Extracts the key names from an arbitrary command."
    ),
    subcommand!(
        "command",
        "getkeysandflags",
        -4,
        LS,
        (0, 0, 0),
        "7.0.0",
        ACL_CONN,
        command_getkeysandflags,
        "Extracts the key names and access flags for an arbitrary command."
    ),
    subcommand!(
        "command",
        "help",
        2,
        LS,
        (0, 0, 0),
        "5.0.0",
        ACL_CONN,
        command_help,
        "Returns helpful text about the different subcommands."
    ),
];

fn status_set(names: Vec<&'static str>) -> Reply {
    Reply::Set(names.into_iter().map(|n| Reply::Simple(n.into())).collect())
}

fn spec_info(c: &CommandSpec) -> Reply {
    Reply::Array(vec![
        Reply::bulk(Bytes::from(c.full_name())),
        Reply::Int(c.arity as i64),
        status_set(c.flags.names()),
        Reply::Int(c.keys.0 as i64),
        Reply::Int(c.keys.1 as i64),
        Reply::Int(c.keys.2 as i64),
        Reply::Set(
            c.acl_categories()
                .iter()
                .map(|a| Reply::Simple(format!("@{a}").into()))
                .collect(),
        ),
        Reply::Set(
            keyspec::tips(c)
                .iter()
                .map(|t| Reply::bulk(Bytes::from_static(t.as_bytes())))
                .collect(),
        ),
        Reply::Set(keyspec::specs(c).iter().map(key_spec_reply).collect()),
        Reply::Array(c.subcommands.iter().map(spec_info).collect()),
    ])
}

fn key_flags(f: u16) -> Reply {
    status_set(keyspec::flag_names(f))
}

/// One key spec as Redis's `addReplyCommandKeySpecs` writes it.
fn key_spec_reply(k: &KeySpec) -> Reply {
    let s = |x: &'static str| Reply::bulk(Bytes::from_static(x.as_bytes()));
    let int = |n: i32| Reply::Int(n as i64);
    let typed = |t: &'static str, spec: Vec<(Reply, Reply)>| {
        Reply::Map(vec![(s("type"), s(t)), (s("spec"), Reply::Map(spec))])
    };
    let begin = match k.bs {
        Bs::Index(i) => typed("index", vec![(s("index"), int(i))]),
        Bs::Keyword(w, from) => typed(
            "keyword",
            vec![(s("keyword"), s(w)), (s("startfrom"), int(from))],
        ),
        Bs::Unknown => typed("unknown", vec![]),
    };
    let find = match k.fk {
        Fk::Range(last, step, limit) => typed(
            "range",
            vec![
                (s("lastkey"), int(last)),
                (s("keystep"), int(step)),
                (s("limit"), int(limit)),
            ],
        ),
        Fk::Keynum(idx, first, step) => typed(
            "keynum",
            vec![
                (s("keynumidx"), int(idx)),
                (s("firstkey"), int(first)),
                (s("keystep"), int(step)),
            ],
        ),
        Fk::Unknown => typed("unknown", vec![]),
    };
    let mut fields = Vec::with_capacity(4);
    if let Some(n) = k.notes {
        fields.push((s("notes"), s(n)));
    }
    fields.push((s("flags"), key_flags(k.flags)));
    fields.push((s("begin_search"), begin));
    fields.push((s("find_keys"), find));
    Reply::Map(fields)
}

fn sorted_specs() -> Vec<&'static CommandSpec> {
    let mut v: Vec<&'static CommandSpec> = table().values().copied().collect();
    v.sort_by_key(|c| c.name);
    v
}

/// Finds a command or `container|sub` by name.
fn find_spec(name: &[u8]) -> Option<&'static CommandSpec> {
    let n = text(name).to_ascii_lowercase();
    match n.split_once('|') {
        Some((p, s)) => table()
            .get(p.as_bytes())?
            .subcommands
            .iter()
            .find(|x| x.name == s),
        None => table().get(n.as_bytes()).copied(),
    }
}

/// COMMAND without a subcommand: every command's details.
pub fn command_all(_ctx: &mut Ctx) -> Reply {
    Reply::Array(sorted_specs().into_iter().map(spec_info).collect())
}

fn command_count(_ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    Reply::Int(table().len() as i64)
}

fn command_info(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    if a.len() == 2 {
        return command_all(ctx);
    }
    Reply::Array(
        a[2..]
            .iter()
            .map(|n| find_spec(n).map_or(Reply::Nil, spec_info))
            .collect(),
    )
}

fn spec_docs(c: &CommandSpec) -> Reply {
    let s = |x: &str| Reply::bulk(Bytes::from(x.to_string()));
    let mut fields = vec![
        (s("summary"), s(c.summary)),
        (s("since"), s(c.since)),
        (
            s("group"),
            s(if c.group.is_empty() {
                "server"
            } else {
                c.group
            }),
        ),
    ];
    if !c.subcommands.is_empty() {
        fields.push((
            s("subcommands"),
            Reply::Map(
                c.subcommands
                    .iter()
                    .map(|x| (s(&x.full_name()), spec_docs(x)))
                    .collect(),
            ),
        ));
    }
    Reply::Map(fields)
}

fn command_docs(_ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let specs: Vec<&CommandSpec> = if a.len() == 2 {
        sorted_specs()
    } else {
        a[2..].iter().filter_map(|n| find_spec(n)).collect()
    };
    Reply::Map(
        specs
            .into_iter()
            .map(|c| (Reply::bulk(Bytes::from(c.full_name())), spec_docs(c)))
            .collect(),
    )
}

fn command_list(_ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let mut names: Vec<String> = Vec::new();
    for c in sorted_specs() {
        names.push(c.name.to_string());
        names.extend(c.subcommands.iter().map(|s| s.full_name()));
    }
    if a.len() > 2 {
        if a.len() != 5 || !eq(&a[2], "filterby") {
            return syntax();
        }
        let val = text(&a[4]).to_ascii_lowercase();
        if eq(&a[3], "pattern") {
            names.retain(|n| glob_match(&a[4], n.as_bytes(), true));
        } else if eq(&a[3], "aclcat") {
            // As Redis: the bare category name, any case; an unknown one matches nothing.
            names.retain(|n| {
                find_spec(n.as_bytes()).is_some_and(|c| c.acl_categories().contains(&val.as_str()))
            });
        } else if eq(&a[3], "module") {
            names.clear();
        } else {
            return syntax();
        }
    }
    Reply::Array(
        names
            .into_iter()
            .map(|n| Reply::bulk(Bytes::from(n)))
            .collect(),
    )
}

/// GETKEYS and GETKEYSANDFLAGS, as Redis's `getKeysSubcommandImpl`: its checks in its order.
fn getkeys(a: &[Bytes], with_flags: bool) -> Reply {
    let args = &a[2..];
    let spec = match super::lookup(args) {
        Ok(s) => s,
        Err(_) => return Reply::error("ERR Invalid command specified"),
    };
    if !keyspec::has_keys(spec) {
        return Reply::error("ERR The command has no key arguments");
    }
    if !spec.arity_ok(args.len()) {
        return Reply::error("ERR Invalid number of arguments specified for command");
    }
    let keys = keyspec::find(spec, args);
    if keys.is_empty() {
        if spec.flags.contains(super::Flags::NO_MANDATORY_KEYS) {
            return Reply::Array(vec![]);
        }
        return Reply::error("ERR Invalid arguments specified for command");
    }
    Reply::Array(
        keys.into_iter()
            .map(|(i, f)| {
                let key = Reply::bulk(args[i].clone());
                if with_flags {
                    Reply::Array(vec![key, key_flags(f)])
                } else {
                    key
                }
            })
            .collect(),
    )
}

fn command_getkeys(_ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    getkeys(a, false)
}

fn command_getkeysandflags(_ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    getkeys(a, true)
}

fn command_help(_ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    help_reply(
        "COMMAND",
        &[
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full Redis command.",
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::ctx::tests::{e, resp2, run, server_and_conn};

    #[test]
    fn command_getkeys_list_and_info() {
        let (srv, mut c) = server_and_conn();
        let srv = &*srv;
        let mut getkeys = |a: &[&str]| {
            let mut v = vec!["COMMAND", "GETKEYS"];
            v.extend_from_slice(a);
            resp2(&run(srv, &mut c, command_getkeys, &v))
        };
        assert_eq!(getkeys(&["GET", "k"]), "*1\r\n$1\r\nk\r\n");
        assert_eq!(
            getkeys(&["mset", "a", "1", "b", "2"]),
            "*2\r\n$1\r\na\r\n$1\r\nb\r\n"
        );
        assert_eq!(
            getkeys(&["XREAD", "COUNT", "2", "STREAMS", "s1", "s2", "0", "0"]),
            "*2\r\n$2\r\ns1\r\n$2\r\ns2\r\n"
        );
        assert_eq!(
            getkeys(&["NOSUCHCMD", "k"]),
            "-ERR Invalid command specified\r\n"
        );
        assert_eq!(
            getkeys(&["GET"]),
            "-ERR Invalid number of arguments specified for command\r\n"
        );
        assert_eq!(
            getkeys(&["PING"]),
            "-ERR The command has no key arguments\r\n"
        );
        let mut list = |a: &[&str]| {
            let mut v = vec!["COMMAND", "LIST"];
            v.extend_from_slice(a);
            run(srv, &mut c, command_list, &v)
        };
        let Reply::Array(all) = list(&[]) else {
            panic!("COMMAND LIST")
        };
        assert!(all.len() > table().len(), "subcommands are listed too");
        assert!(all.contains(&Reply::bulk("config|get")));
        let Reply::Array(conn) = list(&["FILTERBY", "ACLCAT", "Connection"]) else {
            panic!("COMMAND LIST")
        };
        assert!(conn.contains(&Reply::bulk("ping")) && !conn.contains(&Reply::bulk("get")));
        // Redis names the category without its '@' here: with it, no category matches.
        assert_eq!(
            list(&["FILTERBY", "ACLCAT", "@connection"]),
            Reply::Array(vec![])
        );
        assert_eq!(list(&["FILTERBY", "MODULE", "x"]), Reply::Array(vec![]));
        assert_eq!(list(&["FILTERBY", "ACLCAT"]), e("ERR syntax error"));
        assert_eq!(list(&["FILTERBY", "COLOR", "red"]), e("ERR syntax error"));
        assert_eq!(list(&["SORTBY", "ACLCAT", "read"]), e("ERR syntax error"));
        assert_eq!(
            run(srv, &mut c, command_count, &["COMMAND", "COUNT"]),
            Reply::Int(table().len() as i64)
        );
        let Reply::Array(infos) = run(
            srv,
            &mut c,
            command_info,
            &["COMMAND", "INFO", "get", "nope", "CONFIG|GET"],
        ) else {
            panic!("COMMAND INFO")
        };
        assert!(
            resp2(&infos[0]).starts_with("*10\r\n$3\r\nget\r\n:2\r\n"),
            "{}",
            resp2(&infos[0])
        );
        assert_eq!(infos[1], Reply::Nil);
        assert!(
            resp2(&infos[2]).starts_with("*10\r\n$10\r\nconfig|get\r\n"),
            "{}",
            resp2(&infos[2])
        );
    }
}
