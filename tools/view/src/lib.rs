//! respd-view: a web page that shows what a respd (or any Redis-compatible) server holds: keys
//! by namespace, 2-D arrays as images, 1-D arrays as line plots, 3-D arrays as image stacks,
//! histogram bundles as bar plots, strings as text or hex, the other types as tables; views
//! follow their key live, and a pub/sub channel can be watched as a log. Read-only.
//!
//! # Layout
//! - [`web`]: the routes (page, JSON, PNG, server-sent events); the page is `src/page.html`,
//!   embedded.
//! - [`store`]: reads from the server through `respd-client` (SCAN pages, key descriptions,
//!   arrays, bundles, strings); [`items`]: aggregates a page at a time.
//! - [`render`]: arrays to decimated pictures (PNG) and line-plot buckets; [`colormap`]: the maps.
//! - [`live`]: following a key (keyspace notifications or polling) and watching a channel.

pub mod colormap;
pub mod items;
pub mod live;
pub mod render;
pub mod store;
pub mod web;

pub use store::Store;
