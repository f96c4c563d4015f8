//! Typed errors of the client library.

/// Everything that can go wrong in a client call.
#[derive(Debug, thiserror::Error)]
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
    /// The server answered with an error reply.
    #[error("server error: {0}")]
    Server(String),
    /// The server could not be reached or the connection broke.
    #[error("connection error: {0}")]
    Connection(String),
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

/// Result with the client's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl From<redis::RedisError> for Error {
    fn from(e: redis::RedisError) -> Self {
        if e.is_io_error()
            || e.is_connection_refusal()
            || e.is_timeout()
            || e.is_unrecoverable_error()
        {
            return Error::Connection(e.to_string());
        }
        match e.code() {
            Some("WRONGTYPE") => Error::WrongType {
                key: String::new(),
                expected: "string".into(),
                found: "another Redis type".into(),
            },
            _ => Error::Server(e.to_string()),
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
}
