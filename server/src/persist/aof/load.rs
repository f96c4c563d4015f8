//! Loading an AOF at start: the manifest, then the base (an RDB file, or RESP commands), then
//! every incremental file in order, each command replayed through the caller's `replay` (the
//! binary passes the normal dispatcher). As `aof.c`'s `loadSingleAppendOnlyFile`: `#`
//! annotations are skipped; a command cut short at the end of the *last* file is reported and
//! the file truncated to the last whole command with `aof-load-truncated yes` (before an
//! unfinished MULTI, if one is open); anything else that is not a whole command refuses the start.

use super::manifest::Manifest;
use super::AofSettings;
use crate::keyspace::Keyspace;
use bytes::Bytes;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// Why an AOF could not be loaded. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum AofLoadError {
    #[error("bad AOF manifest {path}: {msg}")]
    Manifest { path: String, msg: String },
    #[error("the AOF file {path} named by the manifest does not exist")]
    Missing { path: String },
    #[error("cannot read the AOF file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("bad file format reading the append only file {path} at offset {offset}: {msg}")]
    Format {
        path: String,
        offset: u64,
        msg: String,
    },
    #[error(
        "unexpected end of file reading the append only file {path} (last whole command ends at \
         offset {offset}); set aof-load-truncated yes to load it truncated there"
    )]
    Truncated { path: String, offset: u64 },
    #[error("error reading the RDB base file {path}: {source}")]
    Rdb {
        path: String,
        #[source]
        source: crate::persist::LoadError,
    },
}

/// What loading found.
#[derive(Debug, Default)]
pub struct AofLoaded {
    /// The manifest read, None when the directory has none (no AOF to load).
    pub manifest: Option<Manifest>,
    pub commands: u64,
    pub keys_from_base: u64,
    /// (file, offset) when a torn tail was cut off.
    pub truncated: Option<(String, u64)>,
}

/// Loads the AOF named by `dir/appenddirname/appendfilename.manifest` into `ks`, replaying each
/// command through `replay` (which answers Err with a reason for a command it does not know).
/// No manifest: nothing is loaded and `manifest` is None, so the caller can load `dump.rdb`.
pub fn load(
    s: &AofSettings,
    ks: &Keyspace,
    progress: &crate::persist::Loading,
    replay: &mut dyn FnMut(&[Bytes]) -> Result<(), String>,
) -> Result<AofLoaded, AofLoadError> {
    let mpath = s.manifest_path();
    let text = match std::fs::read(&mpath) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(AofLoaded::default()),
        Err(source) => {
            return Err(AofLoadError::Io {
                path: mpath.display().to_string(),
                source,
            })
        }
    };
    let bad = |msg: String| AofLoadError::Manifest {
        path: mpath.display().to_string(),
        msg,
    };
    let text = String::from_utf8(text).map_err(|_| bad("not text".into()))?;
    let m = Manifest::parse(&text).map_err(bad)?;
    let mut out = AofLoaded::default();
    let mut files: Vec<PathBuf> = Vec::new();
    if let Some(b) = &m.base {
        files.push(s.aof_dir().join(&b.name));
    }
    files.extend(m.incr.iter().map(|f| s.aof_dir().join(&f.name)));
    // INFO's loading_total_bytes is every file's size together, as Redis's
    // getBaseAndIncrAppendOnlyFilesSize; loading_loaded_bytes grows through them.
    let mut total = 0;
    for p in &files {
        match std::fs::metadata(p) {
            Ok(md) => total += md.len(),
            Err(_) => {
                return Err(AofLoadError::Missing {
                    path: p.display().to_string(),
                })
            }
        }
    }
    progress.start(total);
    let last = files.len().saturating_sub(1);
    for (i, p) in files.iter().enumerate() {
        let is_base = i == 0 && m.base.is_some();
        if is_base && starts_with_redis(p)? {
            let name = p.display().to_string();
            let rdb_err = |source| AofLoadError::Rdb {
                path: name.clone(),
                source,
            };
            let f = File::open(p)
                .map_err(|source| crate::persist::LoadError::Open {
                    path: name.clone(),
                    source,
                })
                .map_err(rdb_err)?;
            let size = f
                .metadata()
                .map_err(|source| crate::persist::LoadError::Open {
                    path: name.clone(),
                    source,
                })
                .map_err(rdb_err)?
                .len();
            let l = crate::persist::load_file(
                f,
                &name,
                size,
                ks,
                &s.rdb.limits,
                progress,
                s.rdb.key_load_delay,
            )
            .map_err(rdb_err)?;
            out.keys_from_base = l.keys;
            continue;
        }
        let (n, cut) = replay_file(
            p,
            i == last && s.load_truncated,
            s.rdb.key_load_delay,
            &progress.loaded_bytes,
            replay,
        )?;
        out.commands += n;
        if let Some(at) = cut {
            out.truncated = Some((p.display().to_string(), at));
        }
    }
    out.manifest = Some(m);
    Ok(out)
}

fn starts_with_redis(p: &Path) -> Result<bool, AofLoadError> {
    let mut head = [0u8; 5];
    let mut f = File::open(p).map_err(|source| AofLoadError::Io {
        path: p.display().to_string(),
        source,
    })?;
    let mut got = 0;
    while got < 5 {
        match f.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(source) => {
                return Err(AofLoadError::Io {
                    path: p.display().to_string(),
                    source,
                })
            }
        }
    }
    Ok(got == 5 && &head == b"REDIS")
}

/// What stopped the reading of one command.
enum Stop {
    /// The file ended inside a command.
    Eof,
    Format(String),
    Io(std::io::Error),
}

/// Replays one file of RESP commands. Returns the commands run and, when a torn tail was cut
/// off (`may_truncate`), the offset the file was truncated at.
fn replay_file(
    p: &Path,
    may_truncate: bool,
    key_load_delay: i64,
    loaded: &std::sync::atomic::AtomicU64,
    replay: &mut dyn FnMut(&[Bytes]) -> Result<(), String>,
) -> Result<(u64, Option<u64>), AofLoadError> {
    let name = p.display().to_string();
    let f = File::open(p).map_err(|source| AofLoadError::Io {
        path: name.clone(),
        source,
    })?;
    let mut r = Reader {
        r: BufReader::with_capacity(1 << 16, f),
        at: 0,
    };
    let mut n = 0u64;
    let mut valid_up_to = 0u64;
    let mut before_multi: Option<u64> = None;
    let stop = loop {
        let start = r.at;
        match r.command() {
            Ok(None) => {
                if before_multi.is_none() {
                    return Ok((n, None));
                }
                // An open MULTI at the end: Redis reverts it as a torn tail.
                break Stop::Eof;
            }
            Ok(Some(argv)) => {
                if argv[0].eq_ignore_ascii_case(b"multi") {
                    before_multi = Some(start);
                } else if argv[0].eq_ignore_ascii_case(b"exec") {
                    before_multi = None;
                }
                if let Err(msg) = replay(&argv) {
                    return Err(AofLoadError::Format {
                        path: name,
                        offset: start,
                        msg,
                    });
                }
                n += 1;
                loaded.fetch_add(r.at - valid_up_to, std::sync::atomic::Ordering::Relaxed);
                valid_up_to = r.at;
                // `key-load-delay` after each command too, as Redis's AOF loader.
                crate::persist::debug_delay(key_load_delay);
            }
            Err(s) => break s,
        }
    };
    match stop {
        Stop::Io(source) => Err(AofLoadError::Io { path: name, source }),
        Stop::Format(msg) => Err(AofLoadError::Format {
            path: name,
            offset: valid_up_to,
            msg,
        }),
        Stop::Eof => {
            let cut = before_multi.unwrap_or(valid_up_to);
            if !may_truncate {
                return Err(AofLoadError::Truncated {
                    path: name,
                    offset: cut,
                });
            }
            tracing::warn!("!!! Warning: short read while loading the AOF file {name}!!!");
            tracing::warn!("!!! Truncating the AOF {name} at offset {cut} !!!");
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(p)
                .and_then(|f| f.set_len(cut).and_then(|_| f.sync_all()));
            if let Err(source) = f {
                return Err(AofLoadError::Io { path: name, source });
            }
            tracing::warn!("AOF {name} loaded anyway because aof-load-truncated is enabled");
            Ok((n, Some(cut)))
        }
    }
}

/// A RESP command reader that counts the bytes it consumed.
struct Reader<R> {
    r: BufReader<R>,
    at: u64,
}

impl<R: Read> Reader<R> {
    /// A line without its CRLF; Eof if the file ends before the LF.
    fn line(&mut self) -> Result<Vec<u8>, Stop> {
        let mut buf = Vec::new();
        let n = self
            .r
            .by_ref()
            .take(1 << 16)
            .read_until(b'\n', &mut buf)
            .map_err(Stop::Io)?;
        self.at += n as u64;
        if buf.last() != Some(&b'\n') {
            return Err(if n >= 1 << 16 {
                Stop::Format("line too long".into())
            } else {
                Stop::Eof
            });
        }
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
        Ok(buf)
    }

    fn number(line: &[u8], what: &str) -> Result<usize, Stop> {
        std::str::from_utf8(line)
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
            .ok_or_else(|| Stop::Format(format!("invalid {what}")))
    }

    /// The next command; None at a clean end of file.
    fn command(&mut self) -> Result<Option<Vec<Bytes>>, Stop> {
        let head = loop {
            if self.r.fill_buf().map_err(Stop::Io)?.is_empty() {
                return Ok(None);
            }
            let l = self.line()?;
            if l.first() == Some(&b'#') {
                continue; // An annotation (`#TS:...`).
            }
            break l;
        };
        if head.first() != Some(&b'*') {
            return Err(Stop::Format("expected '*'".into()));
        }
        let argc = Self::number(&head[1..], "argument count")?;
        if argc < 1 {
            return Err(Stop::Format("invalid argument count".into()));
        }
        let mut argv = Vec::with_capacity(argc.min(1024));
        for _ in 0..argc {
            let l = self.line()?;
            if l.first() != Some(&b'$') {
                return Err(Stop::Format("expected '$'".into()));
            }
            let len = Self::number(&l[1..], "bulk length")?;
            let mut v = vec![0u8; 0];
            let got = self
                .r
                .by_ref()
                .take(len as u64 + 2)
                .read_to_end(&mut v)
                .map_err(Stop::Io)?;
            self.at += got as u64;
            if got < len + 2 {
                return Err(Stop::Eof);
            }
            if &v[len..] != b"\r\n" {
                return Err(Stop::Format("expected CRLF after a bulk string".into()));
            }
            v.truncate(len);
            argv.push(Bytes::from(v));
        }
        Ok(Some(argv))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(b: &[u8]) -> (Vec<Vec<Bytes>>, Option<&'static str>, u64) {
        let mut r = Reader {
            r: BufReader::new(b),
            at: 0,
        };
        let mut out = Vec::new();
        loop {
            match r.command() {
                Ok(None) => return (out, None, r.at),
                Ok(Some(c)) => out.push(c),
                Err(Stop::Eof) => return (out, Some("eof"), r.at),
                Err(Stop::Format(_)) => return (out, Some("format"), r.at),
                Err(Stop::Io(_)) => return (out, Some("io"), r.at),
            }
        }
    }

    #[test]
    fn commands_are_read_and_torn_ones_told_from_bad_ones() {
        let file =
            b"#TS:1\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nv1\r\n";
        let (cmds, stop, at) = read_all(file);
        assert_eq!(cmds.len(), 2);
        assert_eq!(stop, None);
        assert_eq!(at, file.len() as u64);
        // Every cut inside the last command is a torn tail, never a format error.
        let second = 7 + 23;
        for cut in second + 1..file.len() {
            let (cmds, stop, _) = read_all(&file[..cut]);
            assert_eq!((cmds.len(), stop), (1, Some("eof")), "cut at {cut}");
        }
        let mut flipped = file.to_vec();
        flipped[second] = b'x';
        assert_eq!(read_all(&flipped).1, Some("format"));
    }
}
