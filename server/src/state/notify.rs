//! Keyspace notifications: `__keyspace@<db>__:<key>` (message: the event) and
//! `__keyevent@<db>__:<event>` (message: the key), filtered by `notify-keyspace-events`.
//!
//! Every write command calls in here, so the common case (notifications off, or no subscriber)
//! costs one atomic load and returns before allocating anything.

use crate::config::special::events;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

/// Keyspace notification classes (`notify-keyspace-events` letters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyClass {
    Generic,
    String,
    List,
    Set,
    Hash,
    ZSet,
    Stream,
    Expired,
    Evicted,
    KeyMiss,
    New,
}

/// An event filter with flags of its own. The server keeps no such copy: `Shared` passes the
/// configured bits (`params::NOTIFY_KEYSPACE_EVENTS`) straight to [`publish`].
#[derive(Default)]
pub struct Notifier {
    flags: AtomicU32,
}

/// The `notify-keyspace-events` bit of a class.
pub fn class_bit(c: NotifyClass) -> u32 {
    match c {
        NotifyClass::Generic => events::GENERIC,
        NotifyClass::String => events::STRING,
        NotifyClass::List => events::LIST,
        NotifyClass::Set => events::SET,
        NotifyClass::Hash => events::HASH,
        NotifyClass::ZSet => events::ZSET,
        NotifyClass::Stream => events::STREAM,
        NotifyClass::Expired => events::EXPIRED,
        NotifyClass::Evicted => events::EVICTED,
        NotifyClass::KeyMiss => events::KEY_MISS,
        NotifyClass::New => events::NEW,
    }
}

impl Notifier {
    /// Takes the flags from the configured letters (already validated by CONFIG SET).
    pub fn configure(&self, letters: &str) {
        let f = crate::config::special::parse_keyspace_events(letters).unwrap_or(0);
        self.flags.store(f, Relaxed);
    }

    /// Publishes the notifications `class`/`event` on `key` calls for, if any.
    pub fn notify(
        &self,
        ps: &super::pubsub::PubSub,
        db: usize,
        class: NotifyClass,
        event: &str,
        key: &[u8],
    ) {
        publish(self.flags.load(Relaxed), ps, db, class, event, key);
    }
}

/// Publishes the notifications `class`/`event` on `key` that the event bits `f` ask for, if any.
pub fn publish(
    f: u32,
    ps: &super::pubsub::PubSub,
    db: usize,
    class: NotifyClass,
    event: &str,
    key: &[u8],
) {
    if f & class_bit(class) == 0 || f & (events::KEYSPACE | events::KEYEVENT) == 0 || ps.is_idle() {
        return;
    }
    let key = bytes::Bytes::copy_from_slice(key);
    let event = bytes::Bytes::copy_from_slice(event.as_bytes());
    if f & events::KEYSPACE != 0 {
        let mut ch = format!("__keyspace@{db}__:").into_bytes();
        ch.extend_from_slice(&key);
        ps.publish(&ch.into(), &event);
    }
    if f & events::KEYEVENT != 0 {
        let mut ch = format!("__keyevent@{db}__:").into_bytes();
        ch.extend_from_slice(&event);
        ps.publish(&ch.into(), &key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resp::Reply;
    use crate::state::client::tests::client;
    use crate::state::pubsub::{PubSub, SubKind};
    use bytes::Bytes;
    use tokio::sync::mpsc;

    const CLASSES: [(NotifyClass, &str); 11] = [
        (NotifyClass::Generic, "g"),
        (NotifyClass::String, "$"),
        (NotifyClass::List, "l"),
        (NotifyClass::Set, "s"),
        (NotifyClass::Hash, "h"),
        (NotifyClass::ZSet, "z"),
        (NotifyClass::Stream, "t"),
        (NotifyClass::Expired, "x"),
        (NotifyClass::Evicted, "e"),
        (NotifyClass::KeyMiss, "m"),
        (NotifyClass::New, "n"),
    ];

    /// (channel, message) of every push queued so far.
    fn drain(rx: &mut mpsc::UnboundedReceiver<Reply>) -> Vec<(Bytes, Bytes)> {
        let mut out = Vec::new();
        while let Ok(m) = rx.try_recv() {
            match m {
                Reply::Push(v) => match &v[..] {
                    [_, Reply::Bulk(ch), Reply::Bulk(msg)] => out.push((ch.clone(), msg.clone())),
                    other => panic!("unexpected push {other:?}"),
                },
                other => panic!("unexpected reply {other:?}"),
            }
        }
        out
    }

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn each_class_has_its_own_bit_the_one_of_its_letter() {
        let mut seen = 0;
        for (class, letter) in CLASSES {
            let bit = class_bit(class);
            assert_eq!(bit.count_ones(), 1, "{class:?}");
            assert_eq!(seen & bit, 0, "{class:?} shares a bit");
            seen |= bit;
            assert_eq!(
                crate::config::special::parse_keyspace_events(letter),
                Ok(bit),
                "{class:?}"
            );
        }
    }

    #[test]
    fn notifications_follow_the_configured_letters() {
        let ps = PubSub::default();
        let (h, mut rx) = client(1);
        ps.subscribe(SubKind::Channel, &b("__keyspace@3__:k"), &h);
        ps.subscribe(SubKind::Channel, &b("__keyevent@3__:set"), &h);
        ps.subscribe(SubKind::Channel, &b("__keyevent@3__:keymiss"), &h);
        let n = Notifier::default();
        let fire = |class, event| n.notify(&ps, 3, class, event, b"k");
        // Off by default.
        fire(NotifyClass::String, "set");
        assert!(drain(&mut rx).is_empty());
        n.configure("K$");
        fire(NotifyClass::String, "set");
        assert_eq!(drain(&mut rx), [(b("__keyspace@3__:k"), b("set"))]);
        n.configure("E$");
        fire(NotifyClass::String, "set");
        assert_eq!(drain(&mut rx), [(b("__keyevent@3__:set"), b("k"))]);
        n.configure("KE$");
        fire(NotifyClass::String, "set");
        assert_eq!(
            drain(&mut rx),
            [
                (b("__keyspace@3__:k"), b("set")),
                (b("__keyevent@3__:set"), b("k"))
            ]
        );
        // A class not asked for, or no K/E to say where, publishes nothing.
        n.configure("KEg");
        fire(NotifyClass::String, "set");
        n.configure("A");
        fire(NotifyClass::String, "set");
        // 'A' leaves out key-miss events, as in Redis; 'm' asks for them.
        n.configure("EA");
        fire(NotifyClass::KeyMiss, "keymiss");
        assert!(drain(&mut rx).is_empty());
        n.configure("Em");
        fire(NotifyClass::KeyMiss, "keymiss");
        assert_eq!(drain(&mut rx), [(b("__keyevent@3__:keymiss"), b("k"))]);
        // Another database's channels are other channels.
        n.configure("KE$");
        n.notify(&ps, 0, NotifyClass::String, "set", b"k");
        assert!(drain(&mut rx).is_empty());
    }
}
