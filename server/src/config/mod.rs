//! Configuration. Every setting is a Redis configuration parameter, by its redis.conf name,
//! declared once in [`params`]'s table; the same table validates the embedded defaults, the YAML
//! file, the command-line flags and CONFIG SET, in that order of precedence. Readers use the typed
//! handles the table makes (`config.get(params::MAXMEMORY)`): a number, flag or option is one
//! relaxed atomic load, so hot settings need no copy of their own.

pub mod completion;
mod handle;
pub mod params;
pub mod special;

pub use handle::{Bool, Choice, Enum, Events, Int, LogLevel, Mem, Pick, Policy, Setting, Str};
pub use params::{Kind, Param, Support, PARAMS};

use params::{Raw, COUNT};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, RwLock};
use thiserror::Error;

/// The default configuration, embedded at build time from the file the packages install.
pub const DEFAULT_YAML: &str = include_str!("../../../packaging/respd.yaml");

/// A configuration problem, naming the key at fault.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("unknown configuration key '{key}'{at}{}", did_you_mean(key))]
    Unknown { key: String, at: String },
    #[error("bad value for '{key}'{at}: {msg}")]
    Invalid {
        key: String,
        at: String,
        msg: String,
    },
    // The I/O error is part of the text, not a `source`: a chain printer would say it twice.
    #[error("cannot read {path}: {err}")]
    Io { path: String, err: std::io::Error },
    #[error("{path} is not valid YAML: {msg}")]
    Yaml { path: String, msg: String },
}

/// What the binary does when `loglevel` changes at run time (it owns the log subscriber).
static LOGLEVEL_HOOK: std::sync::OnceLock<Box<dyn Fn(LogLevel) + Send + Sync>> =
    std::sync::OnceLock::new();

/// Registers what to do when `CONFIG SET loglevel` changes the level (once per process).
pub fn on_loglevel_change(f: impl Fn(LogLevel) + Send + Sync + 'static) {
    let _ = LOGLEVEL_HOOK.set(Box::new(f));
}

/// Applies a new `loglevel` through the registered hook, if any.
pub fn loglevel_changed(l: LogLevel) {
    if let Some(f) = LOGLEVEL_HOOK.get() {
        f(l);
    }
}

/// `" (did you mean 'maxmemory'?)"` when a parameter's name is close to `key`, else nothing.
fn did_you_mean(key: &str) -> String {
    let key = key.to_ascii_lowercase();
    // Close: at most a third of the key's letters wrong, and never more than 3.
    let limit = (key.len() / 3).clamp(1, 3);
    params::PARAMS
        .iter()
        .flat_map(|p| std::iter::once(p.name).chain(p.alias))
        .map(|name| (edit_distance(&key, name), name))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, name)| format!(" (did you mean '{name}'?)"))
        .unwrap_or_default()
}

/// Levenshtein distance, with a swap of two neighbours counted as one edit.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut prev2 = vec![0usize; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(prev2[j - 2] + 1);
            }
        }
        prev2 = std::mem::replace(&mut prev, cur);
    }
    prev[b.len()]
}

/// The 1-based line of top-level `key` in a YAML text, found by reading the lines (the YAML
/// parser keeps no positions in its values).
fn line_of(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let rest = l
                .strip_prefix(key)
                .or_else(|| l.strip_prefix(&format!("\"{key}\"")))
                .or_else(|| l.strip_prefix(&format!("'{key}'")));
            rest.is_some_and(|r| r.trim_start().starts_with(':'))
        })
        .map(|i| i + 1)
}

/// A YAML value as YAML text on one line, for messages (never Rust's debug form); a mapping
/// in braces, so that it reads as one.
fn yaml_text(v: &serde_norway::Value) -> String {
    let t = serde_norway::to_string(v).unwrap_or_default();
    let lines: Vec<&str> = t.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    match v {
        serde_norway::Value::Mapping(_) => format!("{{{}}}", lines.join(", ")),
        _ => lines.join(" "),
    }
}

/// Parses a Redis memory size: `1k`=1000, `1kb`=1024, `m`, `mb`, `g`, `gb`, or a plain number.
pub fn parse_memory(s: &str) -> Option<u64> {
    let l = s.trim().to_ascii_lowercase();
    let units: [(&str, u64); 6] = [
        ("kb", 1024),
        ("mb", 1024 * 1024),
        ("gb", 1024 * 1024 * 1024),
        ("k", 1000),
        ("m", 1000 * 1000),
        ("g", 1000 * 1000 * 1000),
    ];
    for (u, mul) in units {
        if let Some(num) = l.strip_suffix(u) {
            return num.parse::<u64>().ok()?.checked_mul(mul);
        }
    }
    l.parse::<u64>().ok()
}

/// Current values of all parameters, changed in place (CONFIG SET) while connections read them.
pub struct Config {
    /// Per parameter: bools, integers, sizes, an option's index, event bits; for a string,
    /// whether it is non-empty.
    nums: [AtomicU64; COUNT],
    /// Per parameter: the text of a string parameter (empty for the others).
    texts: [RwLock<Arc<str>>; COUNT],
    /// client-output-buffer-limit's classes (normal, replica, pubsub), parsed when set; pub/sub
    /// delivery holds a clone of this `Arc`.
    output_limits: Arc<[special::ObufLimit; 3]>,
    /// Held across a set's checks and stores, so that concurrent CONFIG SETs do not interleave.
    writer: Mutex<()>,
    /// `user` lines (Redis's `user alice on >pw ~* +@all`), read at start only, not a parameter
    /// CONFIG GET shows, as in Redis: the ACL layer applies them.
    pub users: Vec<String>,
}

/// Why `text` as the value of `p` does less than it says, if it does.
fn without_effect(p: &Param, text: &str) -> Option<String> {
    match (p.support, p.kind) {
        (Support::Ignored, _) if text != p.default => Some(format!(
            "respd does not implement '{}', the value has no effect",
            p.name
        )),
        (_, Kind::BufferLimits) => {
            let (now, default) = (
                special::parse_buffer_limits(text),
                special::parse_buffer_limits(p.default),
            );
            // Replicas are not implemented: their class is the one without effect.
            (now[1] != default[1]).then(|| {
                format!(
                    "respd enforces only the normal and pubsub classes of '{}', the replica \
                     limits have no effect",
                    p.name
                )
            })
        }
        _ => None,
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(
                PARAMS
                    .iter()
                    .enumerate()
                    .map(|(i, p)| (p.name, self.text_at(i))),
            )
            .finish()
    }
}

impl Default for Config {
    fn default() -> Self {
        let mut c = Config::defaults();
        // The embedded file is part of the build; a bad one fails the unit tests, not a user.
        if let Err(e) = c.apply_yaml(DEFAULT_YAML, "embedded default config") {
            tracing::error!("embedded default config: {e}");
        }
        c
    }
}

impl Config {
    /// Every parameter at Redis's default (the embedded file not applied).
    pub fn defaults() -> Self {
        let c = Config {
            nums: std::array::from_fn(|_| AtomicU64::new(0)),
            texts: std::array::from_fn(|_| RwLock::new(Arc::from(""))),
            output_limits: Default::default(),
            writer: Mutex::new(()),
            users: Vec::new(),
        };
        for (i, p) in PARAMS.iter().enumerate() {
            match p.parse(p.default, "") {
                Ok(raw) => c.store(i, raw),
                // A bad default fails the unit tests (`defaults_parse`), never a user.
                Err(e) => tracing::error!("default of '{}': {e}", p.name),
            }
        }
        c
    }

    /// The current value of a parameter, typed by its handle (`params::MAXMEMORY` reads a `u64`).
    #[inline]
    pub fn get<S: Setting>(&self, s: S) -> S::Value {
        s.read(self)
    }

    /// Whether a string parameter is non-empty: one relaxed load (`requirepass` on every request).
    #[inline]
    pub fn is_set(&self, s: Str) -> bool {
        self.raw(s.index()) != 0
    }

    /// client-output-buffer-limit's classes (normal, replica, pubsub) as they change.
    pub fn output_limits(&self) -> Arc<[special::ObufLimit; 3]> {
        self.output_limits.clone()
    }

    #[inline]
    fn raw(&self, i: usize) -> u64 {
        self.nums[i].load(Relaxed)
    }

    fn text_slot(&self, i: usize) -> Arc<str> {
        self.texts[i]
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// A parameter's value as CONFIG GET prints it.
    pub fn text(&self, p: &Param) -> String {
        match PARAMS.iter().position(|q| std::ptr::eq(q, p)) {
            Some(i) => self.text_at(i),
            None => String::new(),
        }
    }

    fn text_at(&self, i: usize) -> String {
        let p = &PARAMS[i];
        match p.kind {
            Kind::Str | Kind::BufferLimits | Kind::SaveRules | Kind::ShutdownFlags => {
                self.text_slot(i).to_string()
            }
            _ => p.text_of(&Raw::Num(self.raw(i))),
        }
    }

    fn store(&self, i: usize, raw: Raw) {
        match raw {
            Raw::Num(n) => self.nums[i].store(n, Relaxed),
            Raw::Text(s) => {
                if matches!(PARAMS[i].kind, Kind::BufferLimits) {
                    let parsed = special::parse_buffer_limits(&s);
                    for (cell, l) in self.output_limits.iter().zip(parsed) {
                        cell.store(l);
                    }
                }
                let nonempty = !s.is_empty();
                *self.texts[i].write().unwrap_or_else(|e| e.into_inner()) = Arc::from(s);
                self.nums[i].store(nonempty as u64, Relaxed);
            }
        }
    }

    fn lock_writer(&self) -> std::sync::MutexGuard<'_, ()> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets one parameter after Redis's checks, while the configuration is being built (the
    /// file, a flag); the error is the reason, without the key. Ignored parameters are not
    /// warned about here: logging is not set up yet when the file and flags are read, so the
    /// binary reports [`Config::unimplemented_in_use`].
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        let i = params::index(name).ok_or_else(|| "unknown parameter".to_string())?;
        let raw = PARAMS[i].parse(value, &self.text_at(i))?;
        self.store(i, raw);
        Ok(())
    }

    /// CONFIG SET of `(name, value)` pairs with Redis's checks and error texts (without `ERR `):
    /// all are applied or, on the first refusal, none. Each ignored parameter set to other than
    /// its default (and client-output-buffer-limit with replica limits), and each
    /// startup-only one changed, is logged by name.
    pub fn set_from_client(&self, pairs: &[(String, String)]) -> Result<(), String> {
        let _w = self.lock_writer();
        let failed = |name: &str, why: &str| {
            format!("CONFIG SET failed (possibly related to argument '{name}') - {why}")
        };
        let mut staged: Vec<(usize, Raw)> = Vec::with_capacity(pairs.len());
        for (name, value) in pairs {
            let name = name.to_ascii_lowercase();
            let Some(i) = PARAMS
                .iter()
                .position(|x| x.name == name || x.alias == Some(&*name))
            else {
                return Err(format!(
                    "Unknown option or number of arguments for CONFIG SET - '{name}'"
                ));
            };
            let param = &PARAMS[i];
            if staged.iter().any(|(j, _)| *j == i) {
                return Err(failed(&name, "duplicate parameter"));
            }
            if param.immutable {
                return Err(failed(&name, "can't set immutable config"));
            }
            if param.protected && self.get(params::ENABLE_PROTECTED_CONFIGS) != "yes" {
                return Err(failed(&name, "can't set protected config"));
            }
            let raw = param
                .parse(value, &self.text_at(i))
                .map_err(|msg| failed(&name, &msg))?;
            staged.push((i, raw));
        }
        for (i, raw) in staged {
            let p = &PARAMS[i];
            let text = p.text_of(&raw);
            match (without_effect(p, &text), p.support) {
                (Some(why), _) => tracing::warn!("CONFIG SET {} {text:?}: {why}", p.name),
                (None, Support::Startup) if text != self.text_at(i) => tracing::warn!(
                    "CONFIG SET {} {text:?}: respd reads '{}' only at startup, the change takes \
                     effect at the next start",
                    p.name,
                    p.name
                ),
                _ => {}
            }
            self.store(i, raw);
        }
        Ok(())
    }

    /// A warning for each parameter set to a value respd does not act on (an ignored one
    /// not at its default, client-output-buffer-limit's replica class), for startup.
    pub fn unimplemented_in_use(&self) -> Vec<String> {
        PARAMS
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                let text = self.text_at(i);
                without_effect(p, &text).map(|why| format!("{} {text:?}: {why}", p.name))
            })
            .collect()
    }

    /// Applies a YAML map of parameter names to values.
    pub fn apply_yaml(&mut self, text: &str, origin: &str) -> Result<(), ConfigError> {
        let doc: serde_norway::Value =
            serde_norway::from_str(text).map_err(|e| ConfigError::Yaml {
                path: origin.to_string(),
                msg: e.to_string(),
            })?;
        let map = match doc {
            serde_norway::Value::Null => return Ok(()),
            serde_norway::Value::Mapping(m) => m,
            _ => {
                return Err(ConfigError::Yaml {
                    path: origin.to_string(),
                    msg: "expected a map of parameter names to values".into(),
                })
            }
        };
        for (k, v) in map {
            let key = match k {
                serde_norway::Value::String(s) => s,
                other => yaml_text(&other),
            };
            let at = match line_of(text, &key) {
                Some(n) => format!(" in {origin} line {n}"),
                None => format!(" in {origin}"),
            };
            let value = match v {
                serde_norway::Value::String(s) => s,
                serde_norway::Value::Bool(b) => (if b { "yes" } else { "no" }).to_string(),
                serde_norway::Value::Number(n) => n.to_string(),
                serde_norway::Value::Null => String::new(),
                serde_norway::Value::Sequence(items) => items
                    .into_iter()
                    .map(|i| match i {
                        serde_norway::Value::String(s) => s,
                        other => serde_norway::to_string(&other)
                            .unwrap_or_default()
                            .trim()
                            .to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(if key == "user" { "\n" } else { " " }),
                other => {
                    return Err(ConfigError::Invalid {
                        key,
                        at,
                        msg: format!(
                            "a value is a string, number, boolean or list, not {}",
                            yaml_text(&other)
                        ),
                    })
                }
            };
            self.set_checked(&key, &value, &at)?;
        }
        Ok(())
    }

    /// Reads and applies a YAML file.
    pub fn apply_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|err| ConfigError::Io {
            path: path.display().to_string(),
            err,
        })?;
        self.apply_yaml(&text, &path.display().to_string())
    }

    /// Sets a parameter and turns a refusal into a [`ConfigError`] naming the key.
    pub fn set_checked(&mut self, key: &str, value: &str, at: &str) -> Result<(), ConfigError> {
        if key == "user" {
            // One user per line: a YAML list of them, or one per `--user` on the command line.
            self.users.extend(
                value
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(String::from),
            );
            return Ok(());
        }
        if params::index(key).is_none() {
            return Err(ConfigError::Unknown {
                key: key.to_string(),
                at: at.to_string(),
            });
        }
        self.set(key, value).map_err(|msg| ConfigError::Invalid {
            key: key.to_string(),
            at: at.to_string(),
            msg,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_is_valid() {
        let mut c = Config::default();
        c.apply_yaml(DEFAULT_YAML, "embedded")
            .expect("embedded default config");
        assert_eq!(c.get(params::PORT), 6379);
        assert_eq!(c.get(params::PROTO_MAX_BULK_LEN), 512 * 1024 * 1024);
        // The shipped file sets nothing respd ignores.
        assert_eq!(c.unimplemented_in_use(), Vec::<String>::new());
    }

    #[test]
    fn defaults_parse_and_print_as_declared() {
        let c = Config::defaults();
        for p in PARAMS {
            assert_eq!(
                p.parse(p.default, ""),
                p.parse(p.default, p.default),
                "{}",
                p.name
            );
            assert_eq!(c.text(p), p.default, "{}", p.name);
        }
    }

    #[test]
    fn errors_name_the_line_and_a_close_name() {
        let mut c = Config::defaults();
        let e = c
            .apply_yaml("port: 7000\n# comment\nmaxmemroy: 1gb\n", "f.yaml")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown configuration key 'maxmemroy' in f.yaml line 3 (did you mean 'maxmemory'?)"
        );
        let e = c.apply_yaml("\"port\":\n  a: 1\n", "f.yaml").unwrap_err();
        assert_eq!(
            e.to_string(),
            "bad value for 'port' in f.yaml line 1: a value is a string, number, boolean or list, not {a: 1}"
        );
        let e = c
            .set_checked("lua-tme-limit", "1", " on the command line")
            .unwrap_err();
        assert!(
            e.to_string().ends_with("(did you mean 'lua-time-limit'?)"),
            "{e}"
        );
        let e = c.set_checked("frobnicate", "1", "").unwrap_err();
        assert_eq!(e.to_string(), "unknown configuration key 'frobnicate'");
        assert_eq!(edit_distance("maxmemroy", "maxmemory"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("1kb"), Some(1024));
        assert_eq!(parse_memory("1k"), Some(1000));
        assert_eq!(parse_memory("512mb"), Some(512 << 20));
        assert_eq!(parse_memory("x"), None);
    }

    #[test]
    fn bad_values_name_the_key() {
        let mut c = Config::default();
        let e = c
            .apply_yaml("port: banana\n", "f.yaml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("'port'"), "{e}");
        let e = c
            .apply_yaml("nosuch: 1\n", "f.yaml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("'nosuch'"), "{e}");
    }

    #[test]
    fn typed_reads_follow_each_set() {
        let mut c = Config::defaults();
        c.set("maxmemory", "10mb").expect("set");
        assert_eq!(c.get(params::MAXMEMORY), 10 << 20);
        c.set("maxmemory-policy", "ALLKEYS-LFU").expect("set");
        assert_eq!(c.get(params::MAXMEMORY_POLICY), Policy::AllKeysLfu);
        assert_eq!(
            c.text(params::find("maxmemory-policy").expect("p")),
            "allkeys-lfu"
        );
        c.set("slowlog-log-slower-than", "-1").expect("set");
        assert_eq!(c.get(params::SLOWLOG_LOG_SLOWER_THAN), -1);
        c.set("list-max-ziplist-size", "-5").expect("alias");
        assert_eq!(c.get(params::LIST_MAX_LISTPACK_SIZE), -5);
        c.set("protected-mode", "NO").expect("set");
        assert!(!c.get(params::PROTECTED_MODE));
        c.set("appendfsync", "always").expect("set");
        assert_eq!(c.get(params::APPENDFSYNC), "always");
        assert!(!c.is_set(params::REQUIREPASS));
        c.set("requirepass", "s3cret").expect("set");
        assert!(c.is_set(params::REQUIREPASS));
        assert_eq!(&*c.get(params::REQUIREPASS), "s3cret");
        c.set("requirepass", "").expect("set");
        assert!(!c.is_set(params::REQUIREPASS));
        c.set("notify-keyspace-events", "KEA").expect("set");
        assert_eq!(
            c.get(params::NOTIFY_KEYSPACE_EVENTS),
            special::events::ALL | special::events::KEYSPACE | special::events::KEYEVENT
        );
        assert_eq!(
            c.text(params::find("notify-keyspace-events").expect("p")),
            "AKE"
        );
        c.set("client-output-buffer-limit", "pubsub 1mb 512kb 7")
            .expect("set");
        let l = c.output_limits()[2].load();
        assert_eq!((l.hard, l.soft, l.soft_secs), (1 << 20, 512 * 1024, 7));
        // A refused value leaves the old one.
        assert!(c.set("maxmemory", "-1").is_err());
        assert_eq!(c.get(params::MAXMEMORY), 10 << 20);
    }

    #[test]
    fn client_sets_are_all_or_nothing_with_redis_texts() {
        let c = Config::defaults();
        let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        assert_eq!(
            c.set_from_client(&pairs(&[("maxmemory", "1mb"), ("timeout", "-1")])),
            Err(
                "CONFIG SET failed (possibly related to argument 'timeout') - argument must be \
                 between 0 and 2147483647 inclusive"
                    .into()
            )
        );
        assert_eq!(c.get(params::MAXMEMORY), 0);
        assert_eq!(
            c.set_from_client(&pairs(&[("nosuch", "1")])),
            Err("Unknown option or number of arguments for CONFIG SET - 'nosuch'".into())
        );
        assert_eq!(
            c.set_from_client(&pairs(&[("timeout", "1"), ("TIMEOUT", "2")])),
            Err(
                "CONFIG SET failed (possibly related to argument 'timeout') - duplicate parameter"
                    .into()
            )
        );
        assert_eq!(
            c.set_from_client(&pairs(&[("databases", "4")])),
            Err(
                "CONFIG SET failed (possibly related to argument 'databases') - can't set \
                 immutable config"
                    .into()
            )
        );
        assert_eq!(
            c.set_from_client(&pairs(&[("maxmemory", "1mb"), ("Timeout", "7")])),
            Ok(())
        );
        assert_eq!(
            (c.get(params::MAXMEMORY), c.get(params::TIMEOUT)),
            (1 << 20, 7)
        );
    }

    #[test]
    fn appendonly_is_accepted_and_save_rules_checked() {
        let mut c = Config::defaults();
        c.set("appendonly", "no").expect("off is fine");
        c.set("save", "").expect("no save rules is fine");
        c.set("appendonly", "yes").expect("the AOF is implemented");
        c.set("appendonly", "no").expect("and can be turned off");
        // save rules as Redis checks and prints them.
        c.set("save", " 3600  1 300 100 ").expect("rules");
        assert_eq!(&*c.get(params::SAVE), "3600 1 300 100");
        for bad in ["3600", "0 1", "60 -1", "x 1"] {
            assert_eq!(
                c.set("save", bad),
                Err("Invalid save parameters".into()),
                "{bad}"
            );
        }
        // Type errors come first, with Redis's text.
        assert_eq!(
            c.set("appendonly", "maybe"),
            Err("argument must be 'yes' or 'no'".into())
        );
        assert!(!c.get(params::APPENDONLY));
    }

    #[test]
    fn ignored_settings_are_reported_by_name() {
        let mut c = Config::defaults();
        assert!(c.unimplemented_in_use().is_empty());
        c.set("activedefrag", "yes").expect("set");
        c.set("lazyfree-lazy-eviction", "no")
            .expect("default again");
        c.set("maxmemory", "1gb").expect("implemented");
        c.set("client-output-buffer-limit", "pubsub 1mb 0 0")
            .expect("the class respd enforces");
        let w = c.unimplemented_in_use();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].starts_with("activedefrag \"yes\": respd does not implement 'activedefrag'"));
        c.set("client-output-buffer-limit", "normal 1mb 0 0")
            .expect("enforced too");
        assert_eq!(c.unimplemented_in_use().len(), 1);
        c.set("client-output-buffer-limit", "replica 1mb 0 0")
            .expect("accepted");
        let w = c.unimplemented_in_use();
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[1].contains("only the normal and pubsub classes of 'client-output-buffer-limit'"));
    }

    #[test]
    fn enum_handles_read_the_options_they_declare() {
        assert_eq!(
            params::find("maxmemory-policy")
                .map(|p| p.kind)
                .map(|k| match k {
                    Kind::Enum(o) => o,
                    _ => &[],
                }),
            Some(Policy::NAMES)
        );
        for (i, n) in Policy::NAMES.iter().enumerate() {
            assert_eq!(Policy::from_index(i).name(), *n);
        }
    }
}
