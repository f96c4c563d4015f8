//! Pub/sub for IPC: publish bytes or arrays, receive messages as an iterator or a stream.

use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use crate::config::Target;
use crate::error::{Error, Result};
use crate::npy::NpyArray;

/// One received message.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    /// The channel it was published on.
    pub channel: Bytes,
    /// The published bytes.
    pub payload: Bytes,
}

impl Message {
    /// The payload as a `.npy` array.
    pub fn array(&self) -> Result<NpyArray> {
        NpyArray::from_npy(self.payload.clone())
    }
}

fn single_node(target: &Target) -> Result<redis::Client> {
    if target.is_cluster() {
        return Err(Error::Unsupported(
            "subscribing through a cluster; subscribe on one node".into(),
        ));
    }
    crate::client::install_tls();
    Ok(redis::Client::open(target.nodes[0].as_str())?)
}

/// A blocking subscription on its own connection.
pub struct Subscription {
    conn: redis::Connection,
}

impl Subscription {
    /// Subscribe to `channels` on a new connection to `target`.
    pub fn open(target: &Target, channels: &[&[u8]]) -> Result<Self> {
        let mut conn = single_node(target)?
            .get_connection_with_timeout(Duration::from_secs(5))
            .map_err(|e| Error::from(e).at_addr(&target.nodes[0]))?;
        let packed = redis::cmd("SUBSCRIBE").arg(channels).get_packed_command();
        conn.send_packed_command(&packed)?;
        // One confirmation per channel; an error reply (unknown command) comes as a server error.
        for _ in channels {
            conn.set_read_timeout(Some(Duration::from_secs(10)))?;
            let v = conn.recv_response()?;
            if let redis::Value::ServerError(e) = v {
                return Err(Error::Server(e.into()));
            }
        }
        Ok(Subscription { conn })
    }

    /// The next message, waiting at most `timeout` (`None`: forever); `Ok(None)` on timeout.
    pub fn next(&mut self, timeout: Option<Duration>) -> Result<Option<Message>> {
        self.conn.set_read_timeout(timeout)?;
        loop {
            let v = match self.conn.recv_response() {
                Ok(v) => v,
                Err(e) if e.is_timeout() => return Ok(None),
                Err(e) => return Err(e.into()),
            };
            if let Some(m) = parse_message(v) {
                return Ok(Some(m));
            }
        }
    }
}

/// `["message", channel, payload]` (RESP2 array or RESP3 push) to a [`Message`]; other replies: `None`.
fn parse_message(v: redis::Value) -> Option<Message> {
    let items = match v {
        redis::Value::Array(items) => items,
        redis::Value::Push {
            kind: redis::PushKind::Message,
            data,
        } => {
            let mut d = vec![redis::Value::BulkString(b"message".to_vec())];
            d.extend(data);
            d
        }
        _ => return None,
    };
    let mut it = items.into_iter();
    let kind = it.next()?;
    if !matches!(&kind, redis::Value::BulkString(k) if k == b"message") {
        return None;
    }
    match (it.next()?, it.next()?) {
        (redis::Value::BulkString(c), redis::Value::BulkString(p)) => Some(Message {
            channel: c.into(),
            payload: p.into(),
        }),
        _ => None,
    }
}

/// Subscribe on a new async connection; the stream ends when the connection closes.
pub async fn subscribe(target: &Target, channels: &[&[u8]]) -> Result<impl Stream<Item = Message>> {
    let mut ps = single_node(target)?.get_async_pubsub().await?;
    for c in channels {
        ps.subscribe(*c).await?;
    }
    Ok(ps.into_on_message().map(|m| Message {
        channel: m.get_channel::<Vec<u8>>().unwrap_or_default().into(),
        payload: Bytes::copy_from_slice(m.get_payload_bytes()),
    }))
}
