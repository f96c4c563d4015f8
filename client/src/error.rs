//! Typed errors of the client library.

/// Everything that can go wrong in a client call.
///
/// Errors that come from the `redis` crate keep it as their [`source`](std::error::Error::source),
/// so `{:#}` (anyhow) or a walk of the chain shows the server's or the socket's own words.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The key does not exist.
    #[error("key not found: {0}")]
    NotFound(String),
    /// The key holds a value of another kind (a Redis type, or bytes that are not the expected format).
    #[error("wrong type at {key}: expected {expected}, found {found}")]
    WrongType {
        /// The key asked for.
        key: String,
        /// What the call needed.
        expected: String,
        /// What the key holds.
        found: String,
    },
    /// The server answered with an error reply (the source has its text, e.g. `ERR ...`).
    #[error("the server answered with an error")]
    Server(#[source] redis::RedisError),
    /// The server could not be reached or the connection broke.
    #[error("{}", connection_text(addr))]
    Connection {
        /// `host:port` of the server, when known.
        addr: String,
        /// What the socket or the protocol layer said.
        #[source]
        source: redis::RedisError,
    },
    /// Bytes that are not a valid `.npy` array (or histogram/plot bundle).
    #[error("bad array: {0}")]
    BadArray(String),
    /// A chunked value whose parts do not add up (deleted or corrupted while read).
    #[error("bad chunked value at {key}: {reason}")]
    BadChunks {
        /// The manifest key.
        key: String,
        /// What did not add up.
        reason: String,
    },
    /// The client configuration (URL, YAML file) is unusable.
    #[error("configuration: {0}")]
    Config(String),
    /// The operation is not available on this connection (e.g. SCAN across a cluster).
    #[error("unsupported: {0}")]
    Unsupported(String),
}

fn connection_text(addr: &str) -> String {
    if addr.is_empty() {
        "connection error".into()
    } else {
        format!("could not connect to {addr}")
    }
}

/// Result with the client's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl From<redis::RedisError> for Error {
    fn from(e: redis::RedisError) -> Self {
        if e.is_io_error()
            || e.is_connection_refusal()
            || e.is_timeout()
            || e.is_unrecoverable_error()
        {
            return Error::Connection {
                addr: String::new(),
                source: e,
            };
        }
        match e.code() {
            Some("WRONGTYPE") => Error::WrongType {
                key: String::new(),
                expected: "string".into(),
                found: "another Redis type".into(),
            },
            _ => Error::Server(e),
        }
    }
}

impl Error {
    /// Attach the key to a WRONGTYPE error converted from the server's reply.
    pub(crate) fn at_key(self, key: &[u8]) -> Self {
        match self {
            Error::WrongType {
                key: k,
                expected,
                found,
            } if k.is_empty() => Error::WrongType {
                key: String::from_utf8_lossy(key).into_owned(),
                expected,
                found,
            },
            other => other,
        }
    }

    /// Names the server in a connection error (`host:port` taken from a `redis://` URL).
    pub(crate) fn at_addr(self, url: &str) -> Self {
        match self {
            Error::Connection { addr, source } if addr.is_empty() => Error::Connection {
                addr: host_port(url),
                source,
            },
            other => other,
        }
    }
}

/// `host:port` of a `redis://[user:pass@]host:port/db` URL (the URL itself when it does not parse).
fn host_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    let hp = rest.split(['/', '?']).next().unwrap_or(rest);
    if hp.contains(':') || hp.is_empty() {
        hp.to_string()
    } else {
        format!("{hp}:6379")
    }
}

#[cfg(test)]
mod tests {
    use super::host_port;

    #[test]
    fn host_port_of_urls() {
        assert_eq!(host_port("redis://10.0.0.5:6380/2"), "10.0.0.5:6380");
        assert_eq!(host_port("rediss://u:p@h.site:7000"), "h.site:7000");
        assert_eq!(host_port("redis://h"), "h:6379");
        assert_eq!(host_port("redis://:secret@[::1]:6379/0"), "[::1]:6379");
    }
}
