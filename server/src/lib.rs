//! respd: a Redis-compatible key-value server built for large values.
//!
//! # Layout
//! One stack, every arrow pointing down: a module names only its own layer and those below it
//! (checked by `tests/it/layers.rs`, which reads every `crate::` path in `src/`).
//! - [`server`]: the listener: binds, accepts, spawns a connection task per client, expires keys
//!   in the background, stops cleanly; systemd readiness.
//! - [`connection`]: one client: read requests, dispatch, flush replies; in
//!   [`connection::blocking`], a blocked client's wait and the re-runs that wake it.
//! - [`cmd`]: the command table, the generic checks every command passes, one module per family
//!   (the large ones split by concern: `connection`, `client`, `tx`; `server`, `info`, `config`,
//!   `command`, `slowlog`, `memory`);
//!   [`cmd::ctx`] holds what a handler runs with ([`cmd::Ctx`], the client's [`cmd::Session`])
//!   and the one way to block.
//! - [`state`]: what every connection shares ([`Shared`]): clients, the blocked-keys registry,
//!   pub/sub, keyspace notifications, client tracking, stats and the slow log.
//! - [`persist`]: snapshots on disk: the RDB codec ([`persist::rdb`], shared by SAVE, loading
//!   at start and DUMP/RESTORE), writing and loading `dir/dbfilename`; the append-only file
//!   ([`persist::aof`]: buffer, writer, manifest, rewrite, loading; `cmd::propagate` decides what
//!   goes in it). It sees the keyspace and the configuration, never `state` or a command.
//! - Below them all: [`keyspace`] (databases, shards, values, expiry), [`resp`] (request parser
//!   with Redis's limits, reply encoder), [`config`] (every setting declared once by its Redis
//!   name, read through typed handles; defaults < YAML < flags < CONFIG SET), [`util`] (glob
//!   matching; number readers with Redis's `string2ll`/`strtod`/`string2ld` rules), [`ldouble`]
//!   (Redis's `long double` arithmetic for INCRBYFLOAT/HINCRBYFLOAT), [`alloc`] (the counting
//!   allocator behind `used_memory`).
//!
//! So the keyspace knows no socket, state knows no command, and a handler returns a reply without
//! writing to a connection.

pub mod alloc;
pub mod cmd;
pub mod config;
pub mod connection;
pub mod keyspace;
pub mod ldouble;
pub mod persist;
pub mod resp;
pub mod server;
pub mod state;
pub mod util;

pub use config::Config;
pub use server::{bind, run};
pub use state::Shared;

/// The Redis version respd reports to clients, which pick features by it.
pub const REDIS_VERSION: &str = "7.0.15";
