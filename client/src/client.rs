//! The blocking client: one connection (or a cluster connection), large values chunked.

use std::time::Duration;

use redis::ConnectionLike;

use crate::config::Target;
use crate::error::{Error, Result};
use crate::ops::run_sync;

/// A single-server or cluster connection behind one type.
pub(crate) enum SyncConn {
    Single(redis::Connection),
    Cluster(Box<redis::cluster::ClusterConnection>),
}

impl ConnectionLike for SyncConn {
    fn req_packed_command(&mut self, cmd: &[u8]) -> redis::RedisResult<redis::Value> {
        match self {
            SyncConn::Single(c) => c.req_packed_command(cmd),
            SyncConn::Cluster(c) => c.req_packed_command(cmd),
        }
    }
    fn req_packed_commands(
        &mut self,
        cmd: &[u8],
        offset: usize,
        count: usize,
    ) -> redis::RedisResult<Vec<redis::Value>> {
        match self {
            SyncConn::Single(c) => c.req_packed_commands(cmd, offset, count),
            SyncConn::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }
    fn req_command(&mut self, cmd: &redis::Cmd) -> redis::RedisResult<redis::Value> {
        match self {
            SyncConn::Single(c) => c.req_command(cmd),
            SyncConn::Cluster(c) => c.req_command(cmd),
        }
    }
    fn get_db(&self) -> i64 {
        match self {
            SyncConn::Single(c) => c.get_db(),
            SyncConn::Cluster(c) => c.get_db(),
        }
    }
    fn check_connection(&mut self) -> bool {
        match self {
            SyncConn::Single(c) => c.check_connection(),
            SyncConn::Cluster(c) => c.check_connection(),
        }
    }
    fn is_open(&self) -> bool {
        match self {
            SyncConn::Single(c) => c.is_open(),
            SyncConn::Cluster(c) => c.is_open(),
        }
    }
}

/// A blocking client.
pub struct Client {
    conn: SyncConn,
    target: Target,
    limit: Option<usize>,
}

/// Progress callback: called with the bytes moved so far.
pub type Progress<'a> = &'a mut (dyn FnMut(u64) + Send);

pub(crate) fn key_str(key: &[u8]) -> String {
    String::from_utf8_lossy(key).into_owned()
}

pub(crate) fn install_tls() {
    #[cfg(feature = "tls")]
    {
        // Several clients may race to install it; the first one wins and that is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

crate::ops::client_ops!(Client, SyncConn, [], run_sync);

impl Client {
    /// Connect to a resolved target.
    pub fn open(target: Target) -> Result<Self> {
        install_tls();
        let conn = (|| -> Result<SyncConn> {
            Ok(if target.is_cluster() {
                let c = redis::cluster::ClusterClientBuilder::new(target.nodes.clone())
                    .connection_timeout(Duration::from_secs(5))
                    .build()?;
                SyncConn::Cluster(Box::new(c.get_connection()?))
            } else {
                let c = redis::Client::open(target.nodes[0].as_str())?;
                SyncConn::Single(c.get_connection_with_timeout(Duration::from_secs(5))?)
            })
        })()
        .map_err(|e| e.at_addr(&target.nodes[0]))?;
        let limit = target_limit(&target);
        Ok(Client {
            conn,
            target,
            limit,
        })
    }

    /// The raw connection, for commands this crate does not wrap.
    pub fn connection(&mut self) -> &mut dyn ConnectionLike {
        &mut self.conn
    }
}

fn target_limit(t: &Target) -> Option<usize> {
    t.chunk_size
}

/// A format error at a key, as a wrong-type error naming what was expected.
pub(crate) fn bad_format(key: &[u8], expected: &str, e: Error) -> Error {
    match e {
        Error::BadArray(reason) => Error::WrongType {
            key: key_str(key),
            expected: expected.into(),
            found: reason,
        },
        other => other,
    }
}
