//! MEMORY USAGE, STATS, DOCTOR, MALLOC-STATS, PURGE and HELP.

use super::server::LS;
use super::{eq, help_reply, int, syntax, CommandSpec, Ctx, Flags};
use crate::resp::Reply;
use crate::{container, subcommand};
use bytes::Bytes;

/// The MEMORY container.
pub static COMMANDS: &[CommandSpec] = &[container!(
    "memory",
    -2,
    Flags::empty(),
    "server",
    "4.0.0",
    MEMORY_SUBS,
    "A container for memory diagnostics commands."
)];

static MEMORY_SUBS: &[CommandSpec] = &[
    subcommand!(
        "memory",
        "usage",
        -3,
        Flags::READONLY,
        (2, 2, 1),
        "4.0.0",
        &[],
        memory_usage,
        "Estimates the memory usage of a key."
    ),
    subcommand!(
        "memory",
        "stats",
        2,
        Flags::empty(),
        (0, 0, 0),
        "4.0.0",
        &[],
        memory_stats,
        "Returns details about memory usage."
    ),
    subcommand!(
        "memory",
        "doctor",
        2,
        Flags::empty(),
        (0, 0, 0),
        "4.0.0",
        &[],
        memory_doctor,
        "Outputs a memory problems report."
    ),
    subcommand!(
        "memory",
        "malloc-stats",
        2,
        Flags::empty(),
        (0, 0, 0),
        "4.0.0",
        &[],
        memory_malloc_stats,
        "Returns the allocator statistics."
    ),
    subcommand!(
        "memory",
        "purge",
        2,
        Flags::empty(),
        (0, 0, 0),
        "4.0.0",
        &[],
        memory_purge,
        "Asks the allocator to release memory."
    ),
    subcommand!(
        "memory",
        "help",
        2,
        LS,
        (0, 0, 0),
        "4.0.0",
        &[],
        memory_help,
        "Outputs helpful text about the different subcommands."
    ),
];

fn memory_usage(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    if a.len() != 3 && !(a.len() == 5 && eq(&a[3], "samples")) {
        return syntax();
    }
    if a.len() == 5 {
        if let Err(e) = int(&a[4]) {
            return e;
        }
    }
    let key = &a[2];
    let n = ctx.with_key(key, |v| {
        v.peek(key).map(|e| e.value.mem_usage() + key.len() + 56)
    });
    n.map_or(Reply::Nil, |n| Reply::Int(n as i64))
}

fn memory_stats(ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    let used = crate::alloc::used_memory() as i64;
    let s = |x: &'static str| Reply::bulk(Bytes::from_static(x.as_bytes()));
    let keys: i64 = ctx.with_all(|v| {
        let n = v.db_count();
        (0..n)
            .map(|db| {
                v.set_db(db);
                v.db_stats().0
            })
            .sum::<usize>()
    }) as i64;
    Reply::Map(vec![
        (
            s("peak.allocated"),
            Reply::Int(crate::alloc::peak_rss() as i64),
        ),
        (s("total.allocated"), Reply::Int(used)),
        (s("keys.count"), Reply::Int(keys)),
        (s("dataset.bytes"), Reply::Int(used)),
    ])
}

fn memory_doctor(_ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    Reply::Verbatim(Bytes::from_static(b"Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base."))
}

/// Redis built with jemalloc answers jemalloc's report as verbatim text; respd's allocators have
/// no such report, so it gives the same reply type with the figures it keeps itself.
fn memory_malloc_stats(_ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    let text = format!(
        "___ Begin respd allocator statistics ___\n\
         Stats not supported for the current allocator ({}); respd's own counters:\n\
         used_memory: {}\n\
         rss: {}\n\
         peak_rss: {}\n\
         ___ End respd allocator statistics ___\n",
        crate::alloc::name(),
        crate::alloc::used_memory(),
        crate::alloc::rss(),
        crate::alloc::peak_rss()
    );
    Reply::Verbatim(Bytes::from(text))
}

fn memory_purge(_ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    Reply::Ok
}

fn memory_help(_ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    help_reply(
        "MEMORY",
        &[
            "DOCTOR",
            "    Return memory problems reports.",
            "MALLOC-STATS",
            "    Return internal statistics report from the memory allocator.",
            "PURGE",
            "    Attempt to purge dirty pages for reclamation by the allocator.",
            "STATS",
            "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::ctx::tests::{cmd, e, run, server_and_conn};

    #[test]
    fn memory_usage_options() {
        let (srv, mut c) = server_and_conn();
        let srv = &*srv;
        let value = "x".repeat(1000);
        cmd(srv, &mut c, &["SET", "k", &value]);
        let mut usage = |a: &[&str]| {
            let mut v = vec!["MEMORY", "USAGE"];
            v.extend_from_slice(a);
            run(srv, &mut c, memory_usage, &v)
        };
        let Reply::Int(n) = usage(&["k"]) else {
            panic!("MEMORY USAGE")
        };
        assert!((1000..4096).contains(&n), "{n}");
        assert_eq!(usage(&["k", "SAMPLES", "5"]), Reply::Int(n));
        assert_eq!(usage(&["nope"]), Reply::Nil);
        assert_eq!(usage(&["k", "SAMPLES"]), e("ERR syntax error"));
        assert_eq!(usage(&["k", "SIZE", "5"]), e("ERR syntax error"));
        assert_eq!(
            usage(&["k", "samples", "many"]),
            e("ERR value is not an integer or out of range")
        );
    }
}
