//! The files under `release-tags/`: the tag list and one file per 'ana'/'dm' release.

use serde::Deserialize;

/// `release-tags/tags.yaml`: every respd tag ever made, oldest first, append-only.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagsFile {
    /// The tags, oldest first.
    pub tags: Vec<TagEntry>,
}

/// One tag: what it is called, the RPM version it maps to, where it was made, what changed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagEntry {
    /// `Vxx-yy-zz` or `Vxx-yy-zz-rcN`.
    pub tag: String,
    /// The RPM version the tag maps to (`0.0.1`, `0.1.0~rc1`).
    pub version: String,
    /// The full commit hash the tag was made from.
    pub commit: String,
    /// What changed since the previous tag, one line per change.
    pub changes: Vec<String>,
}

/// `release-tags/releases/<release>-<version>.yaml`: which respd tag a site release includes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Release {
    /// The site release's name: `ana` or `dm`.
    pub release: String,
    /// The site release's own version.
    pub version: String,
    /// The respd tag it includes.
    pub respd: String,
}

/// The site releases that may include a respd tag.
pub const RELEASE_NAMES: &[&str] = &["ana", "dm"];

/// Parses `tags.yaml`; `what` names the source in the error (a path or `HEAD:path`).
pub fn parse_tags(text: &str, what: &str) -> anyhow::Result<TagsFile> {
    serde_norway::from_str(text).map_err(|e| anyhow::anyhow!("{what}: {e}"))
}

/// Parses one release file.
pub fn parse_release(text: &str, what: &str) -> anyhow::Result<Release> {
    serde_norway::from_str(text).map_err(|e| anyhow::anyhow!("{what}: {e}"))
}

/// `[workspace.package] version` of a root Cargo.toml. A line scan, not a TOML parser: the
/// workspace writes this key in the plain `version = "x.y.z"` form, and the tests pin that.
pub fn workspace_version(cargo_toml: &str) -> Option<String> {
    let mut in_section = false;
    for line in cargo_toml.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_section = line == "[workspace.package]";
            continue;
        }
        if !in_section {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.trim() == "version" {
            let v = value.split('#').next().unwrap_or("").trim();
            return v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .map(str::to_owned);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_workspace_version() {
        let toml = "[workspace]\nmembers = [\"a\"]\nversion = \"9.9.9\"\n\n[workspace.package]\n\
                    edition = \"2021\"\nversion = \"0.0.1\" # bump with a tag\n\n[package]\nversion = \"1.0.0\"\n";
        assert_eq!(workspace_version(toml).as_deref(), Some("0.0.1"));
        assert_eq!(workspace_version("[package]\nversion = \"1.0.0\"\n"), None);
    }

    #[test]
    fn reads_this_workspace() {
        let toml = include_str!("../../../Cargo.toml");
        let v = workspace_version(toml).expect("root Cargo.toml has [workspace.package] version");
        assert!(!v.is_empty());
    }

    #[test]
    fn parses_tags_and_refuses_unknown_fields() {
        let t = parse_tags(
            "tags:\n  - tag: V00-00-01\n    version: 0.0.1\n    commit: abc\n    changes: [first]\n",
            "t",
        )
        .unwrap();
        assert_eq!(t.tags.len(), 1);
        assert_eq!(t.tags[0].changes, ["first"]);
        let e = parse_tags(
            "tags:\n  - tag: V00-00-01\n    version: 0.0.1\n    commit: abc\n    changes: []\n    extra: 1\n",
            "tags.yaml",
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("tags.yaml: "), "{e}");
        assert!(parse_release("release: ana\nversion: '1'\n", "r").is_err());
    }
}
