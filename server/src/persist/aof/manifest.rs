//! The manifest of a multi-part AOF (`appendonly.aof.manifest`), in Redis 7.0's syntax: one line
//! per file, `file <name> seq <n> type <b|h|i>`, the base first, then the incremental files in
//! order (`aof.c`, `aofInfoFormat` / `aofLoadManifestFromFile`).

use std::fmt::Write as _;

/// One file the manifest names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    pub name: String,
    pub seq: u64,
}

/// What a manifest lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    pub base: Option<FileInfo>,
    /// Incremental files, oldest first.
    pub incr: Vec<FileInfo>,
    /// Files of earlier generations not yet deleted (`type h`).
    pub history: Vec<FileInfo>,
    /// The highest sequence numbers used so far, for the next names.
    pub base_seq: u64,
    pub incr_seq: u64,
}

impl Manifest {
    /// Redis's text: base, history, then incremental files.
    pub fn format(&self) -> String {
        let mut s = String::new();
        let mut line = |f: &FileInfo, t: char| {
            let _ = writeln!(s, "file {} seq {} type {}", repr(&f.name), f.seq, t);
        };
        if let Some(b) = &self.base {
            line(b, 'b');
        }
        for h in &self.history {
            line(h, 'h');
        }
        for i in &self.incr {
            line(i, 'i');
        }
        s
    }

    /// Reads a manifest, with Redis's checks and texts for what it refuses.
    pub fn parse(text: &str) -> Result<Manifest, String> {
        let mut m = Manifest::default();
        let mut maxseq = 0;
        for raw in text.lines() {
            let line = raw.trim();
            if line.starts_with('#') {
                continue;
            }
            if line.is_empty() {
                continue;
            }
            let argv = split_args(line).ok_or("Invalid AOF manifest file format")?;
            if argv.len() < 6 || argv.len() % 2 != 0 {
                return Err("Invalid AOF manifest file format".into());
            }
            let (mut name, mut seq, mut kind) = (None, 0u64, None);
            for kv in argv.chunks(2) {
                match kv[0].to_ascii_lowercase().as_str() {
                    "file" => name = Some(kv[1].clone()),
                    "seq" => seq = kv[1].parse().unwrap_or(0),
                    "type" => kind = kv[1].chars().next(),
                    _ => {}
                }
            }
            let (Some(name), Some(kind)) = (name, kind) else {
                return Err("Invalid AOF manifest file format".into());
            };
            if seq == 0 || name.contains('/') {
                return Err("Invalid AOF manifest file format".into());
            }
            let f = FileInfo { name, seq };
            match kind {
                'b' => {
                    if m.base.is_some() {
                        return Err("Found duplicate base file information".into());
                    }
                    m.base_seq = f.seq;
                    m.base = Some(f);
                }
                'h' => m.history.push(f),
                'i' => {
                    if f.seq <= maxseq {
                        return Err("Found a non-monotonic sequence number".into());
                    }
                    maxseq = f.seq;
                    m.incr_seq = f.seq;
                    m.incr.push(f);
                }
                _ => return Err("Unknown AOF file type".into()),
            }
        }
        if m.base.is_none() && m.incr.is_empty() && m.history.is_empty() {
            return Err("Found an empty AOF manifest".into());
        }
        Ok(m)
    }
}

/// A name as Redis writes it: bare when it needs no quoting, else quoted with escapes.
fn repr(name: &str) -> String {
    let plain = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\'' && b != b'\\');
    if plain {
        return name.to_string();
    }
    let mut s = String::from("\"");
    for c in name.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

/// Splits a line as `sdssplitargs` does for the forms `repr` writes: bare words and
/// double-quoted strings with backslash escapes. None for an unterminated quote.
fn split_args(line: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut it = line.chars().peekable();
    loop {
        while it.peek().is_some_and(|c| c.is_whitespace()) {
            it.next();
        }
        let Some(&c) = it.peek() else {
            return Some(out);
        };
        let mut word = String::new();
        if c == '"' {
            it.next();
            loop {
                match it.next()? {
                    '"' => break,
                    '\\' => match it.next()? {
                        'n' => word.push('\n'),
                        'r' => word.push('\r'),
                        't' => word.push('\t'),
                        o => word.push(o),
                    },
                    o => word.push(o),
                }
            }
        } else {
            while let Some(&c) = it.peek() {
                if c.is_whitespace() {
                    break;
                }
                word.push(c);
                it.next();
            }
        }
        out.push(word);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_read_and_write_as_redis() {
        let text = "file appendonly.aof.2.base.rdb seq 2 type b\n\
                    file appendonly.aof.1.incr.aof seq 1 type h\n\
                    file appendonly.aof.3.incr.aof seq 3 type i\n\
                    file appendonly.aof.4.incr.aof seq 4 type i\n";
        let m = Manifest::parse(text).expect("a good manifest");
        assert_eq!(m.base_seq, 2);
        assert_eq!(m.incr_seq, 4);
        assert_eq!(m.incr.len(), 2);
        assert_eq!(m.format(), text);
        for bad in [
            "",
            "file a seq 1\n",
            "file a seq 2 type i\nfile b seq 1 type i\n",
            "file a seq 1 type x\n",
            "file \"a seq 1 type b\n",
        ] {
            assert!(Manifest::parse(bad).is_err(), "{bad:?}");
        }
        let odd = Manifest {
            base: Some(FileInfo {
                name: "my aof.1.base.rdb".into(),
                seq: 1,
            }),
            base_seq: 1,
            ..Default::default()
        };
        assert_eq!(Manifest::parse(&odd.format()), Ok(odd));
    }
}
