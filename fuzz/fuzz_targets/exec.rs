//! Whole-command execution: the input is decoded as requests (RESP or inline) and each command
//! runs through `cmd::dispatch` against one in-process keyspace, as a connection runs it, and
//! its reply is encoded in RESP2 and RESP3. Nothing may panic. The keyspace is flushed after
//! each input, so an input replays alone.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use respd::cmd::{dispatch, Session};
use respd::resp::{Limits, Out, RequestParser};
use respd::state::ClientHandle;
use respd::{Config, Shared};
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

/// Commands left out: they stop or pause the process, write files, or run scripts whose loops
/// only a timeout ends.
const SKIP: &[&str] = &[
    "shutdown",
    "save",
    "bgsave",
    "bgrewriteaof",
    "debug",
    "config",
    "eval",
    "evalsha",
    "eval_ro",
    "evalsha_ro",
    "fcall",
    "fcall_ro",
    "function",
    "script",
    "monitor",
    "replicaof",
    "slaveof",
    "sync",
    "psync",
    "failover",
    "migrate",
    "client",
    "wait",
    "acl",
];

/// Integers larger than this are replaced: Redis too allocates what SETRANGE, SETBIT or
/// BITFIELD offsets ask for (512 MB), which would only measure the allocator.
const MAX_INT: i64 = 1 << 16;

struct World {
    rt: tokio::runtime::Runtime,
    srv: Arc<Shared>,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let mut config = Config::default();
        config.set("save", "").expect("save");
        let srv = {
            let _g = rt.enter();
            Shared::new(config)
        };
        World { rt, srv }
    })
}

fn tame(a: Bytes) -> Bytes {
    match std::str::from_utf8(&a)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
    {
        Some(n) if n.unsigned_abs() > MAX_INT as u64 => Bytes::from((n % MAX_INT).to_string()),
        _ => a,
    }
}

fuzz_target!(|data: &[u8]| {
    let w = world();
    let _g = w.rt.enter();
    let none = SocketAddr::from(([127, 0, 0, 1], 1));
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let handle = ClientHandle::new(1, none, none, 0, tx);
    let mut conn = Session::new(1, handle);
    conn.authed = true;
    let mut p = RequestParser::new();
    p.read_target().put_slice(&data[..data.len().min(1 << 16)]);
    let limits = Limits::default();
    let mut out = Out::new();
    let mut n = 0;
    while let Ok(Some(args)) = p.next_command(&limits, false) {
        n += 1;
        if n > 64 {
            break;
        }
        let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
        if SKIP.contains(&name.as_str()) {
            continue;
        }
        let args: Vec<Bytes> = args.into_iter().map(tame).collect();
        let reply = dispatch(&w.srv, &mut conn, None, &args);
        conn.block = None;
        out.push(&reply, 2);
        out.push(&reply, 3);
        if out.len() > 1 << 20 {
            out = Out::new();
        }
    }
    let _ = dispatch(&w.srv, &mut conn, None, &[Bytes::from_static(b"FLUSHALL")]);
    respd::cmd::connection::cleanup(&w.srv, &mut conn);
});
