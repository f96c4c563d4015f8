//! MONITOR: the command that makes a client a monitor, and what monitors are shown (`feed`):
//! every command once it ran, except admin ones and EVAL/FCALL, which are shown before their
//! script runs so that the script's own commands (`[0 lua]`) follow them; AUTH's and HELLO's
//! passwords redacted as Redis does.

use super::server::ADMIN;
use super::{eq, CommandSpec, Ctx, Session};
use crate::command;
use crate::resp::Reply;
use crate::state::monitor::Origin;
use crate::state::Shared;
use bytes::Bytes;

/// The MONITOR command.
pub static COMMANDS: &[CommandSpec] = &[command!(
    "monitor",
    1,
    ADMIN,
    (0, 0, 0),
    "server",
    "1.0.0",
    &[],
    monitor,
    "Listens for all requests received by the server in real-time."
)];

fn monitor(ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    // Inside EXEC: a transaction's client expects one reply per command, as Redis says.
    if ctx.held.is_some() {
        return Reply::error("ERR MONITOR isn't allowed for DENY BLOCKING client");
    }
    if ctx.srv.monitors.add(ctx.conn.handle.clone()) {
        Reply::Ok
    } else {
        // Already a monitor: Redis ignores it, without a reply.
        Reply::Seq(Vec::new())
    }
}

/// Shows a command to the monitors; `in_script` for a script's `redis.call`. With `after`, a
/// client that monitors itself gets the line after the command's reply (`Session::after_reply`),
/// where Redis writes it.
pub fn feed(srv: &Shared, conn: &mut Session, in_script: bool, after: bool, args: &[Bytes]) {
    let origin = if in_script {
        Origin::Script
    } else {
        Origin::Client(&conn.handle)
    };
    let keep = after.then_some(conn.id);
    let kept = match redacted(args) {
        Some(shown) => srv.feed_monitors(conn.db, origin, &shown, keep),
        None => srv.feed_monitors(conn.db, origin, args, keep),
    };
    if kept.is_some() {
        conn.after_reply = kept;
    }
}

const REDACTED: Bytes = Bytes::from_static(b"(redacted)");

/// The arguments with passwords replaced, where Redis replaces them (`redactClientCommandArgument`
/// in AUTH and HELLO, as far as each got before an error); None when nothing is.
fn redacted(args: &[Bytes]) -> Option<Vec<Bytes>> {
    if eq(&args[0], "auth") {
        // Redis checks the argument count first: a syntax error shows everything.
        if args.len() > 3 {
            return None;
        }
        let mut v = args.to_vec();
        for a in v.iter_mut().skip(1) {
            *a = REDACTED;
        }
        return Some(v);
    }
    if !eq(&args[0], "hello") || args.len() < 3 {
        return None;
    }
    // A bad protocol version is refused before the options are read.
    match crate::util::num::parse_i64(&args[1]) {
        Some(2 | 3) => {}
        _ => return None,
    }
    let mut v = args.to_vec();
    let mut j = 2;
    while j < v.len() {
        let more = v.len() - 1 - j;
        if eq(&v[j], "auth") && more >= 2 {
            v[j + 1] = REDACTED;
            v[j + 2] = REDACTED;
            j += 2;
        } else if eq(&v[j], "setname") && more >= 1 {
            j += 1;
        } else {
            break;
        }
        j += 1;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(a: &[&str]) -> Vec<Bytes> {
        a.iter()
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .collect()
    }

    #[test]
    fn passwords_are_redacted_where_redis_redacts_them() {
        assert_eq!(
            redacted(&v(&["AUTH", "pw"])),
            Some(v(&["AUTH", "(redacted)"]))
        );
        assert_eq!(
            redacted(&v(&["auth", "u", "pw"])),
            Some(v(&["auth", "(redacted)", "(redacted)"]))
        );
        assert_eq!(redacted(&v(&["auth", "u", "pw", "x"])), None);
        assert_eq!(
            redacted(&v(&["HELLO", "3", "SETNAME", "n", "AUTH", "u", "p"])),
            Some(v(&[
                "HELLO",
                "3",
                "SETNAME",
                "n",
                "AUTH",
                "(redacted)",
                "(redacted)"
            ]))
        );
        assert_eq!(redacted(&v(&["HELLO", "4", "AUTH", "u", "p"])), None);
        assert_eq!(redacted(&v(&["GET", "k"])), None);
    }
}
