//! respd: a Redis-compatible key-value server built for large values.
//!
//! # Layout
//! - [`config`]: every setting, by its Redis parameter name; defaults < YAML < flags < CONFIG SET.
//! - [`server`]: the listener, shared state, shutdown.
//! - [`connection`]: one client: read requests, dispatch, flush replies.
//! - [`resp`]: the protocol: request parser (with Redis's limits) and reply encoder.
//! - [`cmd`]: the command table and one module per command family.
//! - [`keyspace`]: databases, shards, values, expiry.
//! - [`pubsub`]: channel and pattern subscriptions, message delivery; [`notify`]: keyspace events.
//! - [`ldouble`]: Redis's `long double` arithmetic for INCRBYFLOAT/HINCRBYFLOAT.
//! - [`util`]: glob matching, shared by every command that takes a pattern.
//! - [`blocking`]: clients blocked on keys (BLPOP and friends) and their FIFO wake-up.
//!
//! Each layer uses only those below it: the keyspace knows no socket, and a handler returns a
//! reply without writing to a connection.

pub mod alloc;
pub mod cmd;
pub mod config;
pub mod connection;
pub mod keyspace;
pub mod ldouble;
pub mod resp;
pub mod server;
pub mod state;
pub mod util;

pub use config::Config;
pub use server::{bind, run};
pub use state::Shared;

/// The version, and the release tag the binary was built from (`RESPD_TAG` at build time).
pub fn version_string() -> String {
    let tag = option_env!("RESPD_TAG").unwrap_or("untagged");
    format!("respd {} (tag {})", env!("CARGO_PKG_VERSION"), tag)
}

/// The Redis version respd reports to clients, which pick features by it.
pub const REDIS_VERSION: &str = "7.0.15";
