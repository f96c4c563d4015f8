//! SLOWLOG GET, LEN, RESET and HELP over the slow log kept in shared state.

use super::server::LS;
use super::{help_reply, int, CommandSpec, Ctx, Flags};
use crate::resp::Reply;
use crate::{container, subcommand};
use bytes::Bytes;

/// The SLOWLOG container.
pub static COMMANDS: &[CommandSpec] = &[container!(
    "slowlog",
    -2,
    Flags::empty(),
    "server",
    "2.2.12",
    SLOWLOG_SUBS,
    "A container for slow log commands."
)];

static SLOWLOG_SUBS: &[CommandSpec] = &[
    subcommand!(
        "slowlog",
        "get",
        -2,
        Flags::ADMIN.union(LS),
        (0, 0, 0),
        "2.2.12",
        &[],
        slowlog_get,
        "Returns the slow log's entries."
    ),
    subcommand!(
        "slowlog",
        "len",
        2,
        Flags::ADMIN.union(LS),
        (0, 0, 0),
        "2.2.12",
        &[],
        slowlog_len,
        "Returns the number of entries in the slow log."
    ),
    subcommand!(
        "slowlog",
        "reset",
        2,
        Flags::ADMIN.union(LS),
        (0, 0, 0),
        "2.2.12",
        &[],
        slowlog_reset,
        "Clears all entries from the slow log."
    ),
    subcommand!(
        "slowlog",
        "help",
        2,
        LS,
        (0, 0, 0),
        "6.2.0",
        &[],
        slowlog_help,
        "Show helpful text about the different subcommands"
    ),
];

fn slowlog_get(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let count = match a.get(2) {
        None => 10,
        Some(c) => match int(c) {
            Ok(-1) => usize::MAX,
            Ok(n) if n >= 0 => n as usize,
            _ => return Reply::error("ERR count should be greater than or equal to -1"),
        },
    };
    let log = ctx.srv.slowlog.entries();
    Reply::Array(
        log.iter()
            .take(count)
            .map(|e| {
                Reply::Array(vec![
                    Reply::Int(e.id as i64),
                    Reply::Int(e.time as i64),
                    Reply::Int(e.micros as i64),
                    Reply::bulks(e.args.iter().cloned()),
                    Reply::bulk(Bytes::from(e.addr.clone())),
                    Reply::Bulk(e.name.clone()),
                ])
            })
            .collect(),
    )
}

fn slowlog_len(ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    Reply::Int(ctx.srv.slowlog.entries().len() as i64)
}

fn slowlog_reset(ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    ctx.srv.slowlog.entries().clear();
    Reply::Ok
}

fn slowlog_help(_ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    help_reply(
        "SLOWLOG",
        &[
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::ctx::tests::{e, run, server_and_conn};

    #[test]
    fn slowlog_get_count() {
        let (srv, mut c) = server_and_conn();
        let srv = &*srv;
        {
            let mut log = srv.slowlog.entries();
            for id in (0..15).rev() {
                log.push_back(crate::state::SlowEntry {
                    id,
                    time: 1,
                    micros: 2,
                    args: vec![Bytes::from_static(b"GET")],
                    addr: "127.0.0.1:1".into(),
                    name: Bytes::new(),
                });
            }
        }
        let mut get = |a: &[&str]| {
            let mut v = vec!["SLOWLOG", "GET"];
            v.extend_from_slice(a);
            match run(srv, &mut c, slowlog_get, &v) {
                Reply::Array(es) => Ok(es
                    .iter()
                    .map(|x| match x {
                        Reply::Array(f) => f[0].clone(),
                        other => panic!("entry {other:?}"),
                    })
                    .collect::<Vec<_>>()),
                other => Err(other),
            }
        };
        assert_eq!(get(&[]).map(|v| v.len()), Ok(10), "10 by default");
        assert_eq!(get(&["-1"]).map(|v| v.len()), Ok(15), "-1: all");
        assert_eq!(get(&["0"]), Ok(vec![]));
        assert_eq!(
            get(&["2"]),
            Ok(vec![Reply::Int(14), Reply::Int(13)]),
            "newest first"
        );
        for bad in ["-2", "x"] {
            assert_eq!(
                get(&[bad]),
                Err(e("ERR count should be greater than or equal to -1")),
                "{bad}"
            );
        }
        assert_eq!(
            run(srv, &mut c, slowlog_len, &["SLOWLOG", "LEN"]),
            Reply::Int(15)
        );
        run(srv, &mut c, slowlog_reset, &["SLOWLOG", "RESET"]);
        assert_eq!(
            run(srv, &mut c, slowlog_len, &["SLOWLOG", "LEN"]),
            Reply::Int(0)
        );
    }
}
