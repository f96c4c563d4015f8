//! What other tasks may see or change of a client: its identity, its settings as CLIENT LIST
//! shows them, the kill switch and the queue its push messages go to.

use crate::resp::Reply;
use bytes::Bytes;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Instant;
use tokio::sync::{mpsc, Notify};

/// What other tasks may see or change of a client (CLIENT LIST, CLIENT KILL, pub/sub delivery).
pub struct ClientHandle {
    pub id: u64,
    pub addr: SocketAddr,
    pub laddr: SocketAddr,
    pub created: Instant,
    pub name: Mutex<Option<Bytes>>,
    pub lib_name: Mutex<Option<Bytes>>,
    pub lib_ver: Mutex<Option<Bytes>>,
    pub db: AtomicUsize,
    pub resp: AtomicU8,
    pub last_cmd: Mutex<String>,
    /// Milliseconds since the server started, at the last command.
    pub last_interaction: AtomicU64,
    pub killed: AtomicBool,
    pub kill: Notify,
    /// Pending output bytes and query buffer size, for CLIENT LIST.
    pub omem: AtomicUsize,
    pub qbuf: AtomicUsize,
    pub subs: AtomicUsize,
    pub psubs: AtomicUsize,
    pub multi: AtomicU64,
    /// When (ms since the epoch) pending output first passed the soft limit; 0 when under it.
    pub obuf_soft_since: AtomicU64,
    /// Push messages (pub/sub, keyspace notifications) for this client's connection.
    pub push: mpsc::UnboundedSender<Reply>,
}

impl ClientHandle {
    /// Asks the connection to close.
    pub fn kill(&self) {
        self.killed.store(true, Relaxed);
        self.kill.notify_one();
    }
}
