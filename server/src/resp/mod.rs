//! RESP: request parsing (multibulk and inline) and reply encoding (RESP2 and RESP3).

mod parse;
pub mod pool;
mod reply;

pub use parse::{split_inline_args, Limits, ProtoError, RequestParser};
pub use reply::{fmt_double, Out, Reply};
