//! What other tasks may see or change of a client: its identity, its settings as CLIENT LIST
//! shows them, the kill switch and the queue its push messages go to.

use crate::resp::Reply;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
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
    /// The last command looked up (`CallSpec::stat_key`, 0 for none or an unknown one): CLIENT
    /// LIST's `cmd`, named through `Shared::cmdstats`.
    pub last_cmd: AtomicUsize,
    /// Milliseconds since the server started, at the last command.
    pub last_interaction: AtomicU64,
    pub killed: AtomicBool,
    pub kill: Notify,
    /// Pending output bytes and query buffer size, for CLIENT LIST.
    pub omem: AtomicUsize,
    pub qbuf: AtomicUsize,
    /// Room left in the query buffer, and its allocated size (`qbuf-free`, `tot-mem`).
    pub qbuf_free: AtomicUsize,
    pub subs: AtomicUsize,
    pub psubs: AtomicUsize,
    pub ssubs: AtomicUsize,
    pub multi: AtomicU64,
    /// When (ms since the epoch) pending output first passed the soft limit; 0 when under it.
    pub obuf_soft_since: AtomicU64,
    /// Reply bytes the connection holds while the socket takes no more (the client does not
    /// read): set only when a write stalls, so CLIENT LIST's `omem` shows them.
    pub obuf: AtomicUsize,
    /// Push messages (pub/sub, keyspace notifications) for this client's connection.
    pub push: mpsc::UnboundedSender<Reply>,
    /// The ACL user it is authenticated as (CLIENT LIST's `user`, CLIENT KILL USER).
    pub user: Mutex<Arc<str>>,
}

impl ClientHandle {
    /// A new client's handle: `push` carries what is pushed to its connection.
    pub fn new(
        id: u64,
        addr: SocketAddr,
        laddr: SocketAddr,
        last_interaction_ms: u64,
        push: mpsc::UnboundedSender<Reply>,
    ) -> Arc<ClientHandle> {
        Arc::new(ClientHandle {
            id,
            addr,
            laddr,
            created: Instant::now(),
            name: Mutex::new(None),
            lib_name: Mutex::new(None),
            lib_ver: Mutex::new(None),
            db: AtomicUsize::new(0),
            resp: AtomicU8::new(2),
            last_cmd: AtomicUsize::new(0),
            last_interaction: AtomicU64::new(last_interaction_ms),
            killed: AtomicBool::new(false),
            kill: Notify::new(),
            omem: AtomicUsize::new(0),
            qbuf: AtomicUsize::new(0),
            qbuf_free: AtomicUsize::new(0),
            subs: AtomicUsize::new(0),
            psubs: AtomicUsize::new(0),
            ssubs: AtomicUsize::new(0),
            multi: AtomicU64::new(0),
            obuf_soft_since: AtomicU64::new(0),
            obuf: AtomicUsize::new(0),
            push,
            user: Mutex::new(Arc::from("default")),
        })
    }

    /// The handle of a client without a connection (the AOF loader's), which nobody lists.
    pub fn detached(id: u64) -> Arc<ClientHandle> {
        let none = SocketAddr::from(([0, 0, 0, 0], 0));
        Self::new(id, none, none, 0, mpsc::unbounded_channel().0)
    }

    /// The ACL user's name.
    pub fn user(&self) -> Arc<str> {
        self.user.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set_user(&self, name: &str) {
        *self.user.lock().unwrap_or_else(|e| e.into_inner()) = Arc::from(name);
    }

    /// Asks the connection to close.
    pub fn kill(&self) {
        self.killed.store(true, Relaxed);
        self.kill.notify_one();
    }
}

/// Test helpers the unit tests of other modules share too.
#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::Arc;

    /// A client's handle, as a connection registers it, and the queue its pushes arrive on.
    pub(crate) fn client(
        id: u64,
    ) -> (
        Arc<ClientHandle>,
        tokio::sync::mpsc::UnboundedReceiver<Reply>,
    ) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        // A port of its own, so CLIENT KILL <addr> can tell clients apart.
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 10_000 + id as u16));
        let h = Arc::new(ClientHandle {
            id,
            addr,
            laddr: addr,
            created: Instant::now(),
            name: Default::default(),
            lib_name: Default::default(),
            lib_ver: Default::default(),
            db: Default::default(),
            resp: Default::default(),
            last_cmd: Default::default(),
            last_interaction: Default::default(),
            killed: Default::default(),
            kill: Default::default(),
            omem: Default::default(),
            qbuf: Default::default(),
            qbuf_free: Default::default(),
            subs: Default::default(),
            psubs: Default::default(),
            ssubs: Default::default(),
            multi: Default::default(),
            obuf_soft_since: Default::default(),
            obuf: Default::default(),
            push: tx,
            user: Mutex::new(Arc::from("default")),
        });
        (h, rx)
    }

    pub(crate) fn handle(id: u64) -> Arc<ClientHandle> {
        client(id).0
    }
}

/// Every connected client by id: the one list CLIENT LIST/KILL, INFO, `maxclients` and the slow
/// log read, and each connection joins and leaves.
#[derive(Default)]
pub struct Clients {
    map: Mutex<BTreeMap<u64, Arc<ClientHandle>>>,
    /// The next client's id: ids are never reused, as Redis's.
    next_id: AtomicU64,
}

impl Clients {
    fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<ClientHandle>>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A fresh id (the first is 1).
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Relaxed) + 1
    }

    pub fn insert(&self, h: Arc<ClientHandle>) {
        self.map().insert(h.id, h);
    }

    pub fn remove(&self, id: u64) {
        self.map().remove(&id);
    }

    pub fn get(&self, id: u64) -> Option<Arc<ClientHandle>> {
        self.map().get(&id).cloned()
    }

    pub fn len(&self) -> usize {
        self.map().len()
    }

    pub fn is_empty(&self) -> bool {
        self.map().is_empty()
    }

    /// The clients now connected, in id order (the lock is not held while the caller works).
    pub fn all(&self) -> Vec<Arc<ClientHandle>> {
        self.map().values().cloned().collect()
    }
}
