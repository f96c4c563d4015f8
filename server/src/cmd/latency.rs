//! LATENCY: the latency monitor's events (LATEST, HISTORY, RESET, GRAPH, DOCTOR, recorded by
//! `Shared::record_call` at `latency-monitor-threshold`) and the per-command histograms
//! (HISTOGRAM); INFO latencystats reads the same histograms (`latencystats`).

use super::server::{ADMIN, LS};
use super::{help_reply, table, text, CommandSpec, Ctx};
use crate::resp::Reply;
use crate::state::latency::Series;
use crate::state::Shared;
use crate::{container, subcommand};
use bytes::Bytes;
use std::fmt::Write;

/// The LATENCY command.
pub static COMMANDS: &[CommandSpec] = &[container!(
    "latency",
    -2,
    crate::cmd::Flags::empty(),
    "server",
    "2.8.13",
    SUBS,
    "A container for latency diagnostics commands."
)];

const NONE: &[&str] = &[];

static SUBS: &[CommandSpec] = &[
    subcommand!(
        "latency",
        "latest",
        2,
        ADMIN,
        (0, 0, 0),
        "2.8.13",
        NONE,
        latest,
        "Returns the latest latency samples for all events."
    ),
    subcommand!(
        "latency",
        "history",
        3,
        ADMIN,
        (0, 0, 0),
        "2.8.13",
        NONE,
        history,
        "Returns timestamp-latency samples for an event."
    ),
    subcommand!(
        "latency",
        "reset",
        -2,
        ADMIN,
        (0, 0, 0),
        "2.8.13",
        NONE,
        reset,
        "Resets the latency data for one or more events."
    ),
    subcommand!(
        "latency",
        "graph",
        3,
        ADMIN,
        (0, 0, 0),
        "2.8.13",
        NONE,
        graph,
        "Returns a latency graph for an event."
    ),
    subcommand!(
        "latency",
        "doctor",
        2,
        ADMIN,
        (0, 0, 0),
        "2.8.13",
        NONE,
        doctor,
        "Returns a human-readable latency analysis report."
    ),
    subcommand!(
        "latency",
        "histogram",
        -2,
        ADMIN,
        (0, 0, 0),
        "7.0.0",
        NONE,
        histogram,
        "Returns the cumulative distribution of latencies of a subset or all commands."
    ),
    subcommand!(
        "latency",
        "help",
        2,
        LS,
        (0, 0, 0),
        "2.8.13",
        NONE,
        help,
        "Returns helpful text about the different subcommands."
    ),
];

fn latest(ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    Reply::Array(
        ctx.srv
            .latency
            .all()
            .into_iter()
            .filter_map(|(name, s)| {
                let (t, ms) = *s.samples.last()?;
                Some(Reply::Array(vec![
                    Reply::bulk(Bytes::from(name)),
                    Reply::Int(t as i64),
                    Reply::Int(ms as i64),
                    Reply::Int(s.max as i64),
                ]))
            })
            .collect(),
    )
}

fn history(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let Some(s) = ctx.srv.latency.get(&text(&a[2])) else {
        return Reply::Array(vec![]);
    };
    Reply::Array(
        s.samples
            .iter()
            .map(|&(t, ms)| Reply::Array(vec![Reply::Int(t as i64), Reply::Int(ms as i64)]))
            .collect(),
    )
}

fn reset(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let names: Vec<String> = a[2..].iter().map(|n| text(n)).collect();
    let n = if names.is_empty() {
        ctx.srv.latency.reset(None)
    } else {
        ctx.srv.latency.reset(Some(&names))
    };
    Reply::Int(n as i64)
}

/// How long ago, as Redis labels a graph's samples.
fn ago(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

/// Redis's header and rule, then one row per sample (its age and a bar), newest last.
fn graph_text(event: &str, s: &Series, now: u64) -> String {
    let (lo, hi) = s
        .samples
        .iter()
        .fold((u64::MAX, 0), |(lo, hi), &(_, ms)| (lo.min(ms), hi.max(ms)));
    let lo = if s.samples.is_empty() { 0 } else { lo };
    let mut g = format!(
        "{event} - high {hi} ms, low {lo} ms (all time high {} ms)\n{}\n",
        s.max,
        "-".repeat(80)
    );
    for &(t, ms) in &s.samples {
        let width = (ms * 60).checked_div(hi).unwrap_or(0) as usize;
        let _ = writeln!(
            g,
            "{:>5} {}",
            ago(now.saturating_sub(t)),
            "#".repeat(width.max(1))
        );
    }
    g
}

fn graph(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let event = text(&a[2]);
    match ctx.srv.latency.get(&event) {
        None => Reply::error(format!("ERR No samples available for event '{event}'")),
        Some(s) => {
            let now = crate::keyspace::now_ms() / 1000;
            Reply::Verbatim(Bytes::from(graph_text(&event, &s, now)))
        }
    }
}

fn doctor(ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    let events = ctx.srv.latency.all();
    let threshold = ctx
        .srv
        .config()
        .get(crate::config::params::LATENCY_MONITOR_THRESHOLD);
    let mut r = String::new();
    if events.is_empty() && threshold == 0 {
        r.push_str("I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n");
    } else if events.is_empty() {
        r.push_str("Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n");
    } else {
        r.push_str("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n");
        for (i, (name, s)) in events.iter().enumerate() {
            let n = s.samples.len().max(1) as u64;
            let avg = s.samples.iter().map(|x| x.1).sum::<u64>() / n;
            let _ = writeln!(
                r,
                "{}. {name}: {} latency spikes (average {avg}ms, mean deviation 0ms, period 0 sec). Worst all time event {}ms.",
                i + 1,
                s.samples.len(),
                s.max
            );
        }
        r.push_str("\nWhile there are latency events logged, I'm not able to suggest any easy fix. Please use the Redis community to get some help, providing this report in your help request.\n");
    }
    Reply::Verbatim(Bytes::from(r))
}

/// One command's `calls` and `histogram_usec`, or None if it has no calls.
fn cdf(srv: &Shared, c: &CommandSpec) -> Option<Reply> {
    let stats = srv.cmdstats.get()?;
    let (_, st) = stats.get(&(c as *const CommandSpec as usize))?;
    let total = st.latency.total();
    if total == 0 {
        return None;
    }
    let s = |x: &'static str| Reply::bulk(Bytes::from_static(x.as_bytes()));
    Some(Reply::Map(vec![
        (s("calls"), Reply::Int(total as i64)),
        (
            s("histogram_usec"),
            Reply::Map(
                st.latency
                    .cumulative()
                    .into_iter()
                    .map(|(us, n)| (Reply::Int(us as i64), Reply::Int(n as i64)))
                    .collect(),
            ),
        ),
    ]))
}

fn histogram(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let mut specs: Vec<&'static CommandSpec> = Vec::new();
    if a.len() == 2 {
        for c in table().values() {
            specs.push(c);
            specs.extend(c.subcommands.iter());
        }
        specs.sort_by_key(|c| c.full_name());
    } else {
        for n in &a[2..] {
            let name = text(n).to_ascii_lowercase();
            let found = match name.split_once('|') {
                Some((p, s)) => table()
                    .get(p.as_bytes())
                    .and_then(|c| c.subcommands.iter().find(|x| x.name == s)),
                None => table().get(name.as_bytes()).copied(),
            };
            // As Redis: a container names all of its subcommands.
            match found {
                Some(c) if !c.subcommands.is_empty() => specs.extend(c.subcommands.iter()),
                Some(c) => specs.push(c),
                None => {}
            }
        }
    }
    Reply::Map(
        specs
            .into_iter()
            .filter_map(|c| Some((Reply::bulk(Bytes::from(c.full_name())), cdf(ctx.srv, c)?)))
            .collect(),
    )
}

fn help(_ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    let mut r = help_reply(
        "LATENCY",
        &[
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "GRAPH <event>",
            "    Return an ASCII latency graph for the <event> class.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
        ],
    );
    // Redis 7.0's LATENCY HELP alone says "Prints".
    if let Reply::Array(v) = &mut r {
        if let Some(last) = v.last_mut() {
            *last = Reply::simple("    Prints this help.");
        }
    }
    r
}

/// INFO latencystats: each command's latency percentiles (`latency-tracking-info-percentiles`).
pub fn latencystats(srv: &Shared, o: &mut String) {
    let pcts: Vec<f64> = srv
        .config()
        .get(crate::config::params::LATENCY_TRACKING_INFO_PERCENTILES)
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    let Some(stats) = srv.cmdstats.get() else {
        return;
    };
    let mut rows: Vec<_> = stats
        .values()
        .filter(|(_, st)| st.latency.total() > 0)
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, st) in rows {
        let fields: Vec<String> = pcts
            .iter()
            .map(|p| format!("p{}={:.3}", p, st.latency.percentile_us(*p)))
            .collect();
        let _ = write!(
            o,
            "latency_percentiles_usec_{name}:{}\r\n",
            fields.join(",")
        );
    }
}
