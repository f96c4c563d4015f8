//! Values larger than the server's bulk limit: chunks under versioned keys plus a manifest.
//!
//! # Layout
//! The value's own key holds a small manifest: the bytes `\0respd.chunked\0` followed by JSON
//! `{"version":1,"id":"<16 hex>","size":N,"chunks":K,"chunk_size":C}`. Chunk `i` of version `id` is
//! at `<key>\0chunk\0<id>\0<i>`, so chunks sort under their key (a prefix listing or deletion
//! catches them) and a new version never writes over the chunks of an older one.
//!
//! # Consistency
//! A writer stores every chunk first and the manifest last (one SET, atomic); a reader reads the
//! manifest, then the chunks of that id only. So a reader sees one whole version, old or new. The
//! chunks of a replaced version get a TTL (the grace period) instead of being deleted at once, so
//! a reader already on them finishes; a reader slower than the grace period finds a chunk gone and
//! starts again from the new manifest.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The bytes a manifest starts with.
pub const MAGIC: &[u8] = b"\x00respd.chunked\x00";

/// How many leading bytes to read to recognise a manifest or a `.npy` header.
pub const PEEK: usize = 4096;

/// Default split size when the server does not tell its `proto-max-bulk-len`.
pub const DEFAULT_LIMIT: usize = 512 * 1024 * 1024;

/// The manifest of a chunked value.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    /// Layout version (1).
    pub version: u32,
    /// This version's id (distinct for every write).
    pub id: String,
    /// Total size in bytes.
    pub size: u64,
    /// Number of chunks.
    pub chunks: u64,
    /// Size of every chunk but the last.
    pub chunk_size: u64,
}

impl Manifest {
    /// A manifest for `size` bytes split at `chunk_size`, with a fresh random id.
    pub fn new(size: usize, chunk_size: usize) -> Self {
        let id = format!("{:016x}", rand::random::<u64>());
        Manifest {
            version: 1,
            id,
            size: size as u64,
            chunks: size.div_ceil(chunk_size) as u64,
            chunk_size: chunk_size as u64,
        }
    }

    /// The stored form.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = MAGIC.to_vec();
        // A struct of strings and integers always serializes.
        v.extend_from_slice(&serde_json::to_vec(self).unwrap_or_default());
        v
    }

    /// Parse a stored manifest; `Ok(None)` when `value` is not one.
    pub fn decode(key: &[u8], value: &[u8]) -> Result<Option<Self>> {
        let Some(json) = value.strip_prefix(MAGIC) else {
            return Ok(None);
        };
        let m: Manifest = serde_json::from_slice(json).map_err(|e| Error::BadChunks {
            key: String::from_utf8_lossy(key).into_owned(),
            reason: format!("bad manifest: {e}"),
        })?;
        let ok = m.version == 1
            && m.chunk_size > 0
            && m.chunks == m.size.div_ceil(m.chunk_size)
            && m.id.bytes().all(|b| b.is_ascii_alphanumeric());
        if !ok {
            return Err(Error::BadChunks {
                key: String::from_utf8_lossy(key).into_owned(),
                reason: "inconsistent manifest".into(),
            });
        }
        Ok(Some(m))
    }

    /// Key of chunk `i`.
    pub fn chunk_key(&self, key: &[u8], i: u64) -> Vec<u8> {
        let mut k = key.to_vec();
        k.extend_from_slice(b"\x00chunk\x00");
        k.extend_from_slice(self.id.as_bytes());
        k.push(0);
        k.extend_from_slice(i.to_string().as_bytes());
        k
    }

    /// Expected length of chunk `i`.
    pub fn chunk_len(&self, i: u64) -> u64 {
        if i + 1 < self.chunks {
            self.chunk_size
        } else {
            self.size - self.chunk_size * (self.chunks - 1)
        }
    }
}

/// True for the keys of chunks (hidden from listings).
pub fn is_chunk_key(key: &[u8]) -> bool {
    key.windows(7).any(|w| w == b"\x00chunk\x00")
}

/// What a key holds, as `respd-cli info` prints it.
#[derive(Clone, Debug, PartialEq)]
pub enum KeyInfo {
    /// A `.npy` array (possibly chunked).
    Array {
        /// `float64 (4096, 4096)`.
        describe: String,
        /// Total bytes.
        size: u64,
        /// Chunks, when chunked.
        chunks: Option<u64>,
    },
    /// A histogram/plot bundle.
    Bundle {
        /// `histogram`, `plot`, ...
        kind: String,
        /// Total bytes.
        size: u64,
    },
    /// A chunked value that is not an array.
    Chunked {
        /// Total bytes.
        size: u64,
        /// Number of chunks.
        chunks: u64,
    },
    /// Anything else: its Redis type and size (string length or element count).
    Other {
        /// `string`, `list`, `hash`, ...
        redis_type: String,
        /// Bytes for a string, elements for an aggregate (0 when unknown).
        size: u64,
    },
}

impl std::fmt::Display for KeyInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyInfo::Array {
                describe,
                size,
                chunks: None,
            } => write!(f, "{describe} ({size} bytes, npy)"),
            KeyInfo::Array {
                describe,
                size,
                chunks: Some(c),
            } => {
                write!(f, "{describe} ({size} bytes, npy, chunked in {c} parts)")
            }
            KeyInfo::Bundle { kind, size } => write!(f, "{kind} bundle ({size} bytes)"),
            KeyInfo::Chunked { size, chunks } => {
                write!(f, "chunked value: {size} bytes in {chunks} parts")
            }
            KeyInfo::Other { redis_type, size } if redis_type == "string" => {
                write!(f, "string ({size} bytes)")
            }
            KeyInfo::Other { redis_type, size } => write!(f, "{redis_type} ({size} elements)"),
        }
    }
}

/// Classify a string value from its first bytes and total length (`chunks` when chunked).
pub fn classify(prefix: &[u8], size: u64, chunks: Option<u64>) -> KeyInfo {
    if let Ok(h) = crate::npy::HeaderInfo::parse(prefix) {
        if (h.data_offset + h.data_len) as u64 == size {
            return KeyInfo::Array {
                describe: h.describe(),
                size,
                chunks,
            };
        }
        if h.dtype == crate::npy::DType::U8 && h.shape.len() == 1 {
            let end = h.data_offset + h.data_len;
            if let Some(json) = prefix.get(h.data_offset..end) {
                if let Ok(m) = serde_json::from_slice::<crate::bundle::Meta>(json) {
                    if m.format == crate::bundle::FORMAT {
                        return KeyInfo::Bundle { kind: m.kind, size };
                    }
                }
            }
        }
    }
    match chunks {
        Some(chunks) => KeyInfo::Chunked { size, chunks },
        None => KeyInfo::Other {
            redis_type: "string".into(),
            size,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_round_trip_and_keys() {
        let m = Manifest::new(10, 4);
        assert_eq!(m.chunks, 3);
        assert_eq!((m.chunk_len(0), m.chunk_len(2)), (4, 2));
        assert_eq!(
            Manifest::decode(b"k", &m.encode()).unwrap(),
            Some(m.clone())
        );
        assert_eq!(Manifest::decode(b"k", b"plain").unwrap(), None);
        assert!(Manifest::decode(b"k", b"\x00respd.chunked\x00{").is_err());
        let ck = m.chunk_key(b"k", 2);
        assert!(ck.starts_with(b"k\x00chunk\x00") && is_chunk_key(&ck));
        assert_ne!(Manifest::new(10, 4).id, m.id);
    }

    #[test]
    fn classify_arrays_and_strings() {
        let a = crate::npy::NpyArray::from_vec(vec![2, 2], &[1.0f64, 2.0, 3.0, 4.0])
            .unwrap()
            .to_npy();
        assert_eq!(
            classify(&a, a.len() as u64, None).to_string(),
            "float64 (2, 2) (160 bytes, npy)"
        );
        assert_eq!(classify(b"hello", 5, None).to_string(), "string (5 bytes)");
    }
}
