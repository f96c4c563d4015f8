//! respd-client: a thin layer over the `redis` crate for site data: NumPy arrays, histograms,
//! plots, namespaced keys, values larger than the server's bulk limit, and pub/sub.
//!
//! ```no_run
//! use respd_client::{Client, NpyArray};
//!
//! # fn main() -> respd_client::Result<()> {
//! // RESPD_URL, else the site config file, else redis://127.0.0.1:6379.
//! let mut c = Client::from_env()?;
//! let image = NpyArray::from_vec(vec![2, 3], &[1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0])?;
//! c.put_array(b"run42:detector:image", &image)?; // numpy.load() reads it back
//! let back = c.get_array(b"run42:detector:image")?;
//! assert_eq!(back.shape, vec![2, 3]);
//! assert_eq!(back.to_vec::<f64>()?, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
//! # Ok(())
//! # }
//! ```
//!
//! # Common tasks
//!
//! A histogram bundle (counts plus edges, read by Python as a sequence of `.npy` arrays):
//!
//! ```no_run
//! # use respd_client::{Bundle, Client, NpyArray};
//! # fn main() -> respd_client::Result<()> {
//! # let mut c = Client::connect("redis://127.0.0.1:6379")?;
//! let counts = NpyArray::from_vec(vec![4], &[3u32, 9, 4, 1])?;
//! let h = Bundle::histogram(counts, vec![vec![0.0, 1.0, 2.0, 3.0, 4.0]])?.attr("unit", "keV");
//! c.put_bundle(b"run42:spectrum", &h)?;
//! let back = c.get_bundle(b"run42:spectrum")?;
//! assert_eq!(back.get("counts").map(|a| a.shape.clone()), Some(vec![4]));
//! # Ok(())
//! # }
//! ```
//!
//! A value above the server's bulk limit is split into chunks and a manifest; reading it
//! reassembles it, and `info` tells what is stored:
//!
//! ```no_run
//! # use respd_client::{Client, KeyInfo};
//! # fn main() -> respd_client::Result<()> {
//! # let mut c = Client::connect("redis://127.0.0.1:6379")?;
//! c.set_chunk_size(64 << 20); // as if the server's proto-max-bulk-len were 64 MiB
//! let big = vec![0u8; 200 << 20];
//! c.put(b"run42:raw", &big)?;
//! assert!(matches!(c.info(b"run42:raw")?, KeyInfo::Chunked { chunks: 4, .. }));
//! assert_eq!(c.get(b"run42:raw")?.len(), big.len());
//! # Ok(())
//! # }
//! ```
//!
//! Collision-free keys from parts, and everything below a namespace:
//!
//! ```no_run
//! # use respd_client::{Client, Namespace};
//! # fn main() -> respd_client::Result<()> {
//! # let mut c = Client::connect("redis://127.0.0.1:6379")?;
//! let run = Namespace::new(["exp7", "run:42"]); // ':' inside a part is escaped
//! c.put(run.key("temperature").as_bytes(), b"21.5")?;
//! for key in c.list(run.prefix().as_bytes())? {
//!     println!("{}", String::from_utf8_lossy(&key));
//! }
//! c.delete_prefix(run.prefix().as_bytes())?;
//! # Ok(())
//! # }
//! ```
//!
//! Pub/sub, an array per message:
//!
//! ```no_run
//! # use respd_client::{Client, NpyArray, Subscription, Target};
//! # use std::time::Duration;
//! # fn main() -> respd_client::Result<()> {
//! let target = Target::resolve(None)?;
//! let mut sub = Subscription::open(&target, &[b"daq:frames".as_slice()])?;
//! let mut c = Client::open(target)?;
//! c.publish_array(b"daq:frames", &NpyArray::from_vec(vec![2], &[1i16, 2])?)?;
//! if let Some(m) = sub.next(Some(Duration::from_secs(1)))? {
//!     println!("{}", m.array()?.describe());
//! }
//! # Ok(())
//! # }
//! ```
//!
//! The same operations, `async`, are on [`AsyncClient`].
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
