//! Long double arithmetic for INCRBYFLOAT and HINCRBYFLOAT, through a small C helper, so results
//! match Redis's digit for digit.

use bytes::Bytes;

unsafe extern "C" {
    fn respd_ld_incr(
        cur: *const u8,
        cur_len: usize,
        incr: *const u8,
        incr_len: usize,
        out: *mut u8,
        out_len: usize,
    ) -> std::ffi::c_long;
}

/// Why an increment was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum IncrError {
    /// The stored value is not a valid float.
    NotFloat,
    /// The increment is not a valid float.
    BadIncrement,
    /// The result would be NaN or infinite.
    NanOrInf,
}

/// `cur + incr` computed and printed as Redis does; `cur` None counts as 0.
pub fn incr_by_float(cur: Option<&[u8]>, incr: &[u8]) -> Result<Bytes, IncrError> {
    let mut out = vec![0u8; 5 * 1024 + 64];
    let (cp, cl) = match cur {
        Some(c) => (c.as_ptr(), c.len()),
        None => (std::ptr::null(), 0),
    };
    // SAFETY: the pointers and lengths describe live slices; the helper writes at most out_len
    // bytes into `out` and reads exactly the given lengths.
    let n = unsafe {
        respd_ld_incr(
            cp,
            cl,
            incr.as_ptr(),
            incr.len(),
            out.as_mut_ptr(),
            out.len(),
        )
    };
    match n {
        -1 => Err(IncrError::NotFloat),
        -2 => Err(IncrError::BadIncrement),
        n if n < 0 => Err(IncrError::NanOrInf),
        n => {
            out.truncate(n as usize);
            Ok(Bytes::from(out))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_redis_digits() {
        let r = |c: Option<&str>, i: &str| incr_by_float(c.map(str::as_bytes), i.as_bytes());
        assert_eq!(r(Some("10.5"), "0.1").unwrap(), "10.6");
        assert_eq!(
            r(Some("9223372036854775807"), "1.5").unwrap(),
            "9223372036854775808"
        );
        assert_eq!(r(None, "3.0e3").unwrap(), "3000");
        assert_eq!(r(Some("1"), "-1").unwrap(), "0");
        assert_eq!(r(Some("abc"), "1"), Err(IncrError::NotFloat));
        assert_eq!(r(Some("1"), " 1"), Err(IncrError::BadIncrement));
        assert_eq!(r(Some("1"), "inf"), Err(IncrError::NanOrInf));
    }
}
