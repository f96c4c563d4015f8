//! MONITOR: the clients that see every command as it runs, and the line Redis writes for each
//! (`replicationFeedMonitors`): `+<unix s>.<µs> [<db> <addr>] "arg" "arg"...`. Which commands
//! are shown, and with which arguments redacted, is the command layer's business (`cmd::monitor`).

use super::{ClientHandle, Shared};
use crate::resp::Reply;
use bytes::Bytes;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

/// The clients in MONITOR mode.
#[derive(Default)]
pub struct Monitors {
    /// How many: read on every command, so that no monitor costs one load.
    count: AtomicUsize,
    list: Mutex<Vec<Arc<ClientHandle>>>,
}

/// Where a command came from, as the monitor line names it.
pub enum Origin<'a> {
    Client(&'a ClientHandle),
    /// A script's `redis.call`: `[0 lua]`.
    Script,
}

impl Monitors {
    pub fn active(&self) -> bool {
        self.count.load(Relaxed) > 0
    }

    /// Adds a client; false if it was one already.
    pub fn add(&self, h: Arc<ClientHandle>) -> bool {
        let mut l = self.list.lock().unwrap_or_else(|e| e.into_inner());
        if l.iter().any(|x| x.id == h.id) {
            return false;
        }
        l.push(h);
        self.count.store(l.len(), Relaxed);
        true
    }

    pub fn remove(&self, id: u64) {
        if !self.active() {
            return;
        }
        let mut l = self.list.lock().unwrap_or_else(|e| e.into_inner());
        l.retain(|x| x.id != id);
        self.count.store(l.len(), Relaxed);
    }

    pub fn contains(&self, id: u64) -> bool {
        self.active()
            && self
                .list
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .any(|x| x.id == id)
    }
}

/// Redis's `sdscatrepr`: the argument quoted, with C escapes for what is not printable.
pub fn repr(out: &mut String, a: &[u8]) {
    out.push('"');
    for &c in a {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            7 => out.push_str("\\a"),
            8 => out.push_str("\\b"),
            0x20..=0x7e => out.push(c as char),
            _ => out.push_str(&format!("\\x{c:02x}")),
        }
    }
    out.push('"');
}

/// The monitor line for a command, without the leading `+` and the CRLF.
pub fn line(unix_us: u64, db: usize, origin: &Origin, args: &[Bytes]) -> String {
    let mut s = format!("{}.{:06} [{db} ", unix_us / 1_000_000, unix_us % 1_000_000);
    match origin {
        Origin::Client(h) => s.push_str(&h.addr.to_string()),
        Origin::Script => s.push_str("lua"),
    }
    s.push_str("] ");
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        repr(&mut s, a);
    }
    s
}

impl Shared {
    /// Sends a command's line to every monitor, except to client `keep` if it is one: its line
    /// is returned, for its connection to write after the command's own reply, as Redis does.
    pub fn feed_monitors(
        &self,
        db: usize,
        origin: Origin,
        args: &[Bytes],
        keep: Option<u64>,
    ) -> Option<Reply> {
        let list: Vec<Arc<ClientHandle>> = self
            .monitors
            .list
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if list.is_empty() {
            return None;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64);
        let m = Reply::Simple(line(now, db, &origin, args).into());
        let cost = super::pubsub::push_cost(&m) + args.iter().map(|a| a.len()).sum::<usize>();
        let mut kept = None;
        for h in &list {
            if Some(h.id) == keep {
                kept = Some(m.clone());
            } else {
                self.pubsub.deliver_in(h, m.clone(), cost, 1);
            }
        }
        kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_as_redis_writes_them() {
        let args: Vec<Bytes> = [&b"set"[..], b"a \"b\"", b"x\r\n\x01\xff\\"]
            .iter()
            .map(|a| Bytes::copy_from_slice(a))
            .collect();
        assert_eq!(
            line(1_339_518_083_007_412, 3, &Origin::Script, &args),
            r#"1339518083.007412 [3 lua] "set" "a \"b\"" "x\r\n\x01\xff\\""#
        );
    }
}
