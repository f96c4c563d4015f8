//! Configuration. Every setting is a Redis configuration parameter, by its redis.conf name; the
//! same table validates the embedded defaults, the YAML file, the command-line flags and CONFIG
//! SET, in that order of precedence.

mod params;
pub mod special;

pub use params::{Kind, Param, PARAMS};

use std::collections::BTreeMap;
use std::path::Path;
use thiserror::Error;

/// The default configuration, embedded at build time from the file the packages install.
pub const DEFAULT_YAML: &str = include_str!("../../../packaging/respd.yaml");

/// A configuration problem, naming the key at fault.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("unknown configuration key '{key}'{at}")]
    Unknown { key: String, at: String },
    #[error("bad value for '{key}'{at}: {msg}")]
    Invalid {
        key: String,
        at: String,
        msg: String,
    },
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not valid YAML: {msg}")]
    Yaml { path: String, msg: String },
}

/// Current values of all parameters, as Redis would print them (CONFIG GET form).
#[derive(Debug, Clone)]
pub struct Config {
    values: BTreeMap<&'static str, String>,
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

impl Default for Config {
    fn default() -> Self {
        let mut values = BTreeMap::new();
        for p in PARAMS {
            values.insert(p.name, p.default.to_string());
        }
        let mut c = Config { values };
        // The embedded file is part of the build; a bad one fails the unit tests, not a user.
        if let Err(e) = c.apply_yaml(DEFAULT_YAML, "embedded default config") {
            tracing::error!("embedded default config: {e}");
        }
        c
    }
}

impl Config {
    /// The current value of a parameter, as CONFIG GET prints it.
    pub fn get(&self, name: &str) -> Option<&str> {
        let p = params::find(name)?;
        self.values.get(p.name).map(|s| s.as_str())
    }

    /// All parameters with their values.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.values.iter().map(|(k, v)| (*k, v.as_str()))
    }

    /// Sets one parameter after Redis's checks; the error is the reason, without the key.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        let p = params::find(name).ok_or_else(|| "unknown parameter".to_string())?;
        let v = match p.name {
            "notify-keyspace-events" => {
                special::format_keyspace_events(special::parse_keyspace_events(value)?)
            }
            "client-output-buffer-limit" => {
                let cur = self.values.get(p.name).map_or("", |s| s.as_str());
                special::merge_buffer_limits(cur, value)?
            }
            _ => p.normalize(value)?,
        };
        self.values.insert(p.name, v);
        Ok(())
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
        let at = format!(" in {origin}");
        for (k, v) in map {
            let key = match k {
                serde_norway::Value::String(s) => s,
                other => format!("{other:?}"),
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
                    .join(" "),
                other => {
                    return Err(ConfigError::Invalid {
                        key,
                        at,
                        msg: format!("unsupported value {other:?}"),
                    })
                }
            };
            self.set_checked(&key, &value, &at)?;
        }
        Ok(())
    }

    /// Reads and applies a YAML file.
    pub fn apply_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.display().to_string(),
            source,
        })?;
        self.apply_yaml(&text, &path.display().to_string())
    }

    /// Sets a parameter and turns a refusal into a [`ConfigError`] naming the key.
    pub fn set_checked(&mut self, key: &str, value: &str, at: &str) -> Result<(), ConfigError> {
        if params::find(key).is_none() {
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

    /// A parameter as a number (ints, memory sizes, bools as 0/1).
    pub fn num(&self, name: &str) -> u64 {
        let v = self.get(name).unwrap_or("0");
        match v {
            "yes" => 1,
            "no" => 0,
            _ => v.parse::<i64>().map(|i| i.max(0) as u64).unwrap_or(0),
        }
    }

    /// A yes/no parameter.
    pub fn flag(&self, name: &str) -> bool {
        self.get(name) == Some("yes")
    }

    /// `port`.
    pub fn port(&self) -> u16 {
        self.num("port") as u16
    }

    /// `bind` as a list of addresses; a leading '-' (optional address) is stripped.
    pub fn bind(&self) -> Vec<String> {
        self.get("bind")
            .unwrap_or("127.0.0.1")
            .split_whitespace()
            .map(|s| s.trim_start_matches('-').to_string())
            .collect()
    }

    /// `requirepass`, empty meaning none.
    pub fn requirepass(&self) -> Option<String> {
        self.get("requirepass")
            .filter(|s| !s.is_empty())
            .map(String::from)
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
        assert_eq!(c.port(), 6379);
        assert_eq!(c.num("proto-max-bulk-len"), 512 * 1024 * 1024);
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
}
