//! Clients blocked on keys: what a blocking command waits for.

use crate::resp::Reply;
use bytes::Bytes;
use std::time::Instant;

/// A blocking command that found nothing to serve. Its handler sets `Conn::block` (outside MULTI,
/// and only if the timeout has not passed) and returns any reply, which is discarded; the
/// connection then waits until one of `keys` is signalled ready (`Shared::signal_ready`), the
/// deadline passes (it then sends `timeout_reply`) or the client goes away, and runs the same
/// command again.
#[derive(Debug, Clone)]
pub struct BlockOn {
    pub keys: Vec<Bytes>,
    pub deadline: Option<Instant>,
    pub timeout_reply: Reply,
    /// The arguments to run again instead of the original ones, when the first run resolved
    /// something that must not be resolved again (XREAD's `$` becomes the stream's last ID at
    /// the time of the first call). None: run the original arguments.
    pub rerun_args: Option<Vec<Bytes>>,
}
