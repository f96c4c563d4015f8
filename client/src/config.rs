//! Where to connect: a URL, `RESPD_URL`, or the site's YAML file.
//!
//! Precedence: an explicit URL > `RESPD_URL` > the YAML file (`RESPD_CONFIG`, else
//! `~/.config/respd/client.yaml`, else `/etc/respd/client.yaml`) > `redis://127.0.0.1:6379`.
//! A URL list separated by commas means a cluster. The YAML file:
//! ```yaml
//! url: redis://monitor.site:6379/0        # or, for a cluster:
//! # nodes: [redis://a:7000, redis://b:7001]
//! chunk_size: 536870912                    # optional: split values above this many bytes
//! grace_seconds: 60                        # optional: how long replaced chunks stay readable
//! ```

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};

/// The default server when nothing is configured.
pub const DEFAULT_URL: &str = "redis://127.0.0.1:6379";

/// How long chunks of a replaced value stay readable by default.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(60);

/// A resolved connection target and client options.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    /// One URL for a single server, several for a cluster.
    pub nodes: Vec<String>,
    /// Split values larger than this (default: the server's `proto-max-bulk-len`).
    pub chunk_size: Option<usize>,
    /// How long a replaced chunked value stays readable for readers already on it.
    pub grace: Duration,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    url: Option<String>,
    nodes: Option<Vec<String>>,
    chunk_size: Option<usize>,
    grace_seconds: Option<u64>,
}

impl Target {
    /// A target from a URL or a comma-separated URL list.
    pub fn from_url(url: &str) -> Result<Self> {
        let nodes: Vec<String> = url
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        if nodes.is_empty() {
            return Err(Error::Config("empty URL".into()));
        }
        for n in &nodes {
            redis::IntoConnectionInfo::into_connection_info(n.as_str())
                .map_err(|e| Error::Config(format!("bad URL {n:?}: {e}")))?;
        }
        Ok(Target {
            nodes,
            chunk_size: None,
            grace: DEFAULT_GRACE,
        })
    }

    /// Read a YAML config file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        Self::from_yaml(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))
    }

    /// Parse the YAML config text.
    pub fn from_yaml(text: &str) -> Result<Self> {
        let f: FileConfig =
            serde_norway::from_str(text).map_err(|e| Error::Config(e.to_string()))?;
        let mut t = match (f.url, f.nodes) {
            (Some(_), Some(_)) => {
                return Err(Error::Config("give either url or nodes, not both".into()))
            }
            (Some(u), None) => Target::from_url(&u)?,
            (None, Some(n)) => Target::from_url(&n.join(","))?,
            (None, None) => Target::from_url(DEFAULT_URL)?,
        };
        if f.chunk_size == Some(0) {
            return Err(Error::Config("chunk_size must be positive".into()));
        }
        t.chunk_size = f.chunk_size;
        if let Some(g) = f.grace_seconds {
            t.grace = Duration::from_secs(g);
        }
        Ok(t)
    }

    /// Resolve: `url` if given, else `RESPD_URL`, else the YAML file, else the default.
    pub fn resolve(url: Option<&str>) -> Result<Self> {
        if let Some(u) = url {
            return Target::from_url(u);
        }
        if let Ok(u) = std::env::var("RESPD_URL") {
            if !u.is_empty() {
                return Target::from_url(&u);
            }
        }
        if let Some(p) = std::env::var_os("RESPD_CONFIG") {
            return Target::from_file(Path::new(&p));
        }
        let home =
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config/respd/client.yaml"));
        for p in home
            .into_iter()
            .chain([PathBuf::from("/etc/respd/client.yaml")])
        {
            if p.exists() {
                return Target::from_file(&p);
            }
        }
        Target::from_url(DEFAULT_URL)
    }

    /// True when several nodes were given.
    pub fn is_cluster(&self) -> bool {
        self.nodes.len() > 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_yaml() {
        let t = Target::from_url("redis://a:1/2").unwrap();
        assert_eq!(t.nodes, vec!["redis://a:1/2"]);
        assert!(!t.is_cluster());
        let c = Target::from_yaml(
            "nodes: [redis://a:7000, redis://b:7001]\nchunk_size: 1024\ngrace_seconds: 5\n",
        )
        .unwrap();
        assert!(c.is_cluster());
        assert_eq!(c.chunk_size, Some(1024));
        assert_eq!(c.grace, Duration::from_secs(5));
        assert!(Target::from_yaml("url: redis://a\nnodes: [redis://b]\n").is_err());
        assert!(Target::from_yaml("urll: redis://a\n").is_err());
        assert!(Target::from_url("nonsense://x").is_err());
        assert!(Target::from_url(" , ").is_err());
    }
}
