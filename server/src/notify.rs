//! Keyspace notifications: `__keyspace@<db>__:<key>` (message: the event) and
//! `__keyevent@<db>__:<event>` (message: the key), filtered by `notify-keyspace-events`.
//!
//! Every write command calls in here, so the common case (notifications off, or no subscriber)
//! costs one atomic load and returns before allocating anything.

use crate::config::special::events;
use crate::server::NotifyClass;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

/// The event flags now in force, refreshed from the configuration.
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
        ps: &crate::pubsub::PubSub,
        db: usize,
        class: NotifyClass,
        event: &str,
        key: &[u8],
    ) {
        let f = self.flags.load(Relaxed);
        if f & class_bit(class) == 0
            || f & (events::KEYSPACE | events::KEYEVENT) == 0
            || ps.is_idle()
        {
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
}
