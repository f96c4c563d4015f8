//! Redis 7.0's RDB format (version 10): the one codec behind SAVE, loading at start and
//! DUMP/RESTORE, and later the AOF's RDB preamble and replication.
//!
//! - [`write::Writer`] writes a file or a DUMP payload through any `io::Write`, checksumming as
//!   it goes; big strings go straight through to the writer, never copied into a second buffer.
//! - [`read::Reader`] reads one through any `io::Read` whose length is known: every length is
//!   checked against the bytes left and `proto-max-bulk-len` before anything is allocated, so a
//!   corrupt file gives an [`RdbError`] naming the offset, never a panic or a huge allocation.
//!
//! The specification is Redis 7.0.15's `rdb.c`, `rdb.h`, `lzf_*.c`, `crc64.c`, `listpack.c`,
//! `ziplist.c`, `intset.c`, `zipmap.c` and `t_stream.c`.

pub mod blobs;
pub mod crc64;
pub mod lzf;
pub mod read;
pub mod write;

pub use read::{Item, Reader};
pub use write::Writer;

/// The format version written (Redis 7.0's), and the highest one read.
pub const RDB_VERSION: u16 = 10;

/// Object types (`RDB_TYPE_*`).
pub mod ty {
    pub const STRING: u8 = 0;
    pub const LIST: u8 = 1;
    pub const SET: u8 = 2;
    pub const ZSET: u8 = 3;
    pub const HASH: u8 = 4;
    pub const ZSET_2: u8 = 5;
    pub const MODULE: u8 = 6;
    pub const MODULE_2: u8 = 7;
    pub const HASH_ZIPMAP: u8 = 9;
    pub const LIST_ZIPLIST: u8 = 10;
    pub const SET_INTSET: u8 = 11;
    pub const ZSET_ZIPLIST: u8 = 12;
    pub const HASH_ZIPLIST: u8 = 13;
    pub const LIST_QUICKLIST: u8 = 14;
    pub const STREAM_LISTPACKS: u8 = 15;
    pub const HASH_LISTPACK: u8 = 16;
    pub const ZSET_LISTPACK: u8 = 17;
    pub const LIST_QUICKLIST_2: u8 = 18;
    pub const STREAM_LISTPACKS_2: u8 = 19;
}

/// Opcodes between keys (`RDB_OPCODE_*`).
pub mod op {
    pub const FUNCTION2: u8 = 245;
    pub const FUNCTION: u8 = 246;
    pub const MODULE_AUX: u8 = 247;
    pub const IDLE: u8 = 248;
    pub const FREQ: u8 = 249;
    pub const AUX: u8 = 250;
    pub const RESIZEDB: u8 = 251;
    pub const EXPIRETIME_MS: u8 = 252;
    pub const EXPIRETIME: u8 = 253;
    pub const SELECTDB: u8 = 254;
    pub const EOF: u8 = 255;
}

/// Why a file or payload could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum RdbError {
    /// The input is not a valid RDB (truncated, corrupt, or something respd cannot hold).
    #[error("{what} at offset {offset}")]
    Corrupt { offset: u64, what: String },
    /// The underlying file failed.
    #[error("I/O error at offset {offset}: {source}")]
    Io {
        offset: u64,
        #[source]
        source: std::io::Error,
    },
}

impl RdbError {
    /// The byte offset the error concerns.
    pub fn offset(&self) -> u64 {
        match self {
            RdbError::Corrupt { offset, .. } | RdbError::Io { offset, .. } => *offset,
        }
    }
}

/// Builds a DUMP payload: the object, the 2-byte RDB version, the CRC64 of both.
pub fn dump_payload(value: &crate::keyspace::Value) -> Vec<u8> {
    let mut w = Writer::new(Vec::new(), false, true);
    // Writing into a Vec cannot fail.
    let _ = w.object(value);
    let _ = w.raw(&RDB_VERSION.to_le_bytes());
    let crc = w.crc();
    let mut out = w.into_inner();
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Reads a DUMP payload: checks its footer as Redis's `verifyDumpPayload` does (a version not
/// above ours, a matching CRC64, always checked) and decodes the object.
pub fn restore_payload(
    payload: &[u8],
    limits: &read::Limits,
) -> Result<crate::keyspace::Value, RestoreError> {
    let n = payload.len();
    if n < 10 {
        return Err(RestoreError::Footer);
    }
    let (body, footer) = payload.split_at(n - 10);
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    if version > RDB_VERSION {
        return Err(RestoreError::Footer);
    }
    let crc = u64::from_le_bytes(footer[2..10].try_into().map_err(|_| RestoreError::Footer)?);
    if crc64::update(crc64::update(0, body), &footer[..2]) != crc {
        return Err(RestoreError::Footer);
    }
    let mut r = Reader::new(body, body.len() as u64, limits.clone());
    let ty = r.byte().map_err(RestoreError::Bad)?;
    let v = r.object(ty).map_err(RestoreError::Bad)?;
    if r.position() != body.len() as u64 {
        return Err(RestoreError::Bad(RdbError::Corrupt {
            offset: r.position(),
            what: "bytes after the object".into(),
        }));
    }
    Ok(v)
}

/// FUNCTION DUMP's payload: each library's code after the FUNCTION2 opcode, then the RDB
/// version and the CRC64, as Redis's `functionDumpCommand`.
pub fn function_payload(codes: &[&[u8]]) -> Vec<u8> {
    let mut w = Writer::new(Vec::new(), false, true);
    for c in codes {
        // Writing into a Vec cannot fail.
        let _ = w.raw(&[op::FUNCTION2]);
        let _ = w.string(c);
    }
    let _ = w.raw(&RDB_VERSION.to_le_bytes());
    let crc = w.crc();
    let mut out = w.into_inner();
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The libraries' code in a FUNCTION RESTORE payload (Redis's `functionRestoreCommand`); the
/// error is Redis's text. The old 7.0-rc format (FUNCTION: name, engine, description, code)
/// becomes `#!<engine> name=<name>` code, as Redis reads it.
pub fn read_function_payload(payload: &[u8]) -> Result<Vec<bytes::Bytes>, String> {
    let footer_err = || "DUMP payload version or checksum are wrong".to_string();
    let n = payload.len();
    if n < 10 {
        return Err(footer_err());
    }
    let (body, footer) = payload.split_at(n - 10);
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    let crc = u64::from_le_bytes(footer[2..10].try_into().map_err(|_| footer_err())?);
    if version > RDB_VERSION || crc64::update(crc64::update(0, body), &footer[..2]) != crc {
        return Err(footer_err());
    }
    let mut r = Reader::new(body, body.len() as u64, read::Limits::default());
    let mut out = Vec::new();
    while r.position() < body.len() as u64 {
        let t = r.byte().map_err(|_| "can not read data type".to_string())?;
        let failed = |_| "failed loading the given functions payload".to_string();
        match t {
            op::FUNCTION2 => out.push(r.string().map_err(failed)?),
            op::FUNCTION => {
                let name = r.string().map_err(failed)?;
                let engine = r.string().map_err(failed)?;
                if r.length().map_err(failed)? != 0 {
                    r.string().map_err(failed)?;
                }
                let code = r.string().map_err(failed)?;
                let mut c = b"#!".to_vec();
                c.extend_from_slice(&engine);
                c.extend_from_slice(b" name=");
                c.extend_from_slice(&name);
                c.push(b'\n');
                c.extend_from_slice(&code);
                out.push(bytes::Bytes::from(c));
            }
            _ => return Err("given type is not a function".into()),
        }
    }
    Ok(out)
}

/// Why RESTORE refused a payload.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// Redis's "DUMP payload version or checksum are wrong".
    #[error("DUMP payload version or checksum are wrong")]
    Footer,
    /// Redis's "Bad data format".
    #[error("Bad data format: {0}")]
    Bad(RdbError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::{Hash, HashLimits, Set, Value};
    use bytes::Bytes;

    fn limits() -> read::Limits {
        read::Limits::default()
    }

    #[test]
    fn lengths_in_every_width() {
        for (n, want) in [
            (0u64, vec![0u8]),
            (63, vec![63]),
            (64, vec![0x40, 64]),
            (16383, vec![0x7f, 0xff]),
            (16384, vec![0x80, 0, 0, 0x40, 0]),
            (u32::MAX as u64, vec![0x80, 0xff, 0xff, 0xff, 0xff]),
            (1 << 32, vec![0x81, 0, 0, 0, 1, 0, 0, 0, 0]),
        ] {
            let mut w = Writer::new(Vec::new(), false, false);
            w.len(n).expect("vec");
            let b = w.into_inner();
            assert_eq!(b, want, "{n}");
            let mut r = Reader::new(&b[..], b.len() as u64, limits());
            assert_eq!(r.length().expect("reads"), n);
        }
    }

    #[test]
    fn restores_a_payload_redis_dumped() {
        // DUMP of a 100-byte string of 'a' from redis-server 7.0.15 (LZF-compressed).
        let p = b"\x00\xc3\t@d\x01aa\xe0W\x00\x01aa\n\x00\xe8\xa3\xb5\x07\xb0m\xf2q";
        match restore_payload(p, &limits()) {
            Ok(Value::Str(s)) => assert_eq!(s, vec![b'a'; 100]),
            other => panic!("{other:?}"),
        }
        let mut bad = p.to_vec();
        bad[5] ^= 1;
        assert!(matches!(
            restore_payload(&bad, &limits()),
            Err(RestoreError::Footer)
        ));
    }

    #[test]
    fn dump_round_trip_and_truncations_never_panic() {
        let mut h = Hash::default();
        let lim = HashLimits {
            entries: 128,
            value: 64,
        };
        h.insert(Bytes::from("f"), Bytes::from("v".repeat(100)), lim);
        let mut s = Set::new();
        s.insert(Bytes::from("12"), 512);
        let values = [
            Value::Str(Bytes::from(
                "hello world, compressible compressible compressible",
            )),
            Value::Str(Bytes::from("-12345")),
            Value::List(vec![Bytes::from("a"), Bytes::from("300")].into()),
            Value::Hash(h),
            Value::Set(Box::new(s)),
        ];
        for v in &values {
            let p = dump_payload(v);
            let back = restore_payload(&p, &limits()).expect("restores");
            assert_eq!(back.type_name(), v.type_name());
            for cut in 0..p.len() {
                let _ = restore_payload(&p[..cut], &limits());
                // A body cut short under a recomputed footer: the reader must refuse it.
                let mut body = p[..p.len() - 10].to_vec();
                body.truncate(cut.min(body.len()));
                body.extend_from_slice(&RDB_VERSION.to_le_bytes());
                let crc = crc64::update(0, &body);
                body.extend_from_slice(&crc.to_le_bytes());
                if cut < p.len() - 10 {
                    assert!(restore_payload(&body, &limits()).is_err(), "cut {cut}");
                }
            }
        }
    }
}
