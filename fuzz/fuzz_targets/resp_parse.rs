//! The RESP request decoder (`resp::RequestParser`) on arbitrary bytes, fed in reads of sizes
//! the input's first byte picks: it must return commands or a protocol error, never panic, and
//! never hold more than its limits allow.
#![no_main]

use libfuzzer_sys::fuzz_target;
use respd::resp::{Limits, RequestParser};

fuzz_target!(|data: &[u8]| {
    let Some((&step, mut rest)) = data.split_first() else {
        return;
    };
    let step = usize::from(step).max(1);
    // Small limits: a declared size is allocated up front (as Redis does), so the defaults'
    // 512 MB would only measure the allocator.
    let limits = Limits {
        max_bulk: 1 << 20,
        query_buffer: 4 << 20,
    };
    let auth_required = step % 2 == 0;
    let mut p = RequestParser::new();
    while !rest.is_empty() {
        let t = p.read_target();
        let n = t.chunk_mut().len().min(rest.len()).min(step);
        t.put_slice(&rest[..n]);
        rest = &rest[n..];
        loop {
            match p.next_command(&limits, auth_required) {
                Ok(Some(args)) => {
                    assert!(!args.is_empty(), "a command has a name");
                    p.recycle(args);
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
        assert!(p.pending_bytes() as u64 <= limits.query_buffer + (1 << 20));
    }
});
