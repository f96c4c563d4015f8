//! respd-client: a thin layer over the `redis` crate for site data: NumPy arrays, histograms,
//! plots, namespaced keys, values larger than the server's bulk limit, and pub/sub.
//!
//! # Layout
//! - [`config`]: where to connect (URL, `RESPD_URL`, site YAML file).
//! - [`Client`] (blocking) and [`AsyncClient`] (tokio): put/get bytes, arrays, bundles; info,
//!   list and delete by prefix (SCAN), publish. Their shared operations are written once in
//!   `ops` (a macro expands them for each).
//! - [`namespace`]: collision-free keys from parts, with the documented escaping.
//! - [`npy`]: NumPy's `.npy` codec; [`bundle`]: histograms and plots as `.npy` sequences.
//! - [`chunk`]: the chunked-value layout (chunks first, manifest last, versioned chunk keys).
//! - [`pubsub`]: subscriptions as an iterator or a stream.
//! - `ndarray` (feature `ndarray`): conversions between [`NpyArray`] and `ndarray::ArrayD`.

pub mod aclient;
pub mod bundle;
pub mod chunk;
pub mod client;
pub mod config;
pub mod error;
pub mod namespace;
#[cfg(feature = "ndarray")]
pub mod nd;
pub mod npy;
mod ops;
pub mod pubsub;

pub use aclient::AsyncClient;
pub use bundle::Bundle;
pub use chunk::KeyInfo;
pub use client::Client;
pub use config::Target;
pub use error::{Error, Result};
pub use namespace::Namespace;
pub use npy::{Complex, DType, Element, Endian, NpyArray, Order};
pub use pubsub::{Message, Subscription};
