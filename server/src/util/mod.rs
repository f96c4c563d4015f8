//! Small pieces with no server state that several layers use.

pub mod glob;
pub mod num;
pub mod sha1;
pub mod sha256;
