//! The async (tokio) client: the same operations as [`crate::Client`] on a multiplexed connection.

use std::time::Duration;

use redis::aio::ConnectionLike;

use crate::client::install_tls;
use crate::config::Target;
use crate::error::Result;
use crate::ops::run_async;

/// A single-server or cluster async connection behind one type (both are cheap to clone).
#[derive(Clone)]
pub(crate) enum AsyncConn {
    Single(redis::aio::MultiplexedConnection),
    Cluster(redis::cluster_async::ClusterConnection),
}

impl ConnectionLike for AsyncConn {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        match self {
            AsyncConn::Single(c) => c.req_packed_command(cmd),
            AsyncConn::Cluster(c) => c.req_packed_command(cmd),
        }
    }
    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        match self {
            AsyncConn::Single(c) => c.req_packed_commands(cmd, offset, count),
            AsyncConn::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }
    fn get_db(&self) -> i64 {
        match self {
            AsyncConn::Single(c) => c.get_db(),
            AsyncConn::Cluster(c) => c.get_db(),
        }
    }
}

/// An async client. Clones share the connection.
#[derive(Clone)]
pub struct AsyncClient {
    conn: AsyncConn,
    target: Target,
    limit: Option<usize>,
}

crate::ops::client_ops!(AsyncClient, AsyncConn, [async], run_async);

impl AsyncClient {
    /// Any other command on this client's connection (for tools that need more than the
    /// operations above, e.g. SCAN pages and the Redis types' own reads).
    pub async fn query<T: redis::FromRedisValue>(&mut self, cmd: &redis::Cmd) -> Result<T> {
        Ok(cmd.query_async(&mut self.conn).await?)
    }

    /// A pipeline of commands on this client's connection, one reply each.
    pub async fn query_pipe<T: redis::FromRedisValue>(&mut self, p: &redis::Pipeline) -> Result<T> {
        Ok(p.query_async(&mut self.conn).await?)
    }

    /// Connect to a resolved target.
    pub async fn open(target: Target) -> Result<Self> {
        install_tls();
        let conn = Self::connect_conn(&target)
            .await
            .map_err(|e| e.at_addr(&target.nodes[0]))?;
        let limit = target.chunk_size;
        Ok(AsyncClient {
            conn,
            target,
            limit,
        })
    }

    async fn connect_conn(target: &Target) -> Result<AsyncConn> {
        Ok(if target.is_cluster() {
            let c = redis::cluster::ClusterClientBuilder::new(target.nodes.clone())
                .connection_timeout(Duration::from_secs(5))
                // Large values take longer than the default half second.
                .response_timeout(Duration::from_secs(3600))
                .build()?;
            AsyncConn::Cluster(c.get_async_connection().await?)
        } else {
            let c = redis::Client::open(target.nodes[0].as_str())?;
            let cfg = redis::AsyncConnectionConfig::new()
                .set_connection_timeout(Some(Duration::from_secs(5)))
                .set_response_timeout(None);
            AsyncConn::Single(c.get_multiplexed_async_connection_with_config(&cfg).await?)
        })
    }
}
