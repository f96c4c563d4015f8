//! The rules. Each check returns every problem it finds (one line each), so a release engineer
//! sees them all at once; an empty list means the data is good.

use crate::data::{Release, TagEntry, RELEASE_NAMES};
use crate::repo::Repo;
use crate::tag::Tag;

/// The tag list's path inside the repository.
pub const TAGS_PATH: &str = "release-tags/tags.yaml";

/// Format, order, uniqueness and versions of the tags. With a repository, each tag's commit must
/// exist and carry the tag's version as its workspace version; in any case no tag may be ahead
/// of the current workspace version.
pub fn check_tags(
    entries: &[TagEntry],
    workspace_version: &str,
    repo: Option<&dyn Repo>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut previous: Option<Tag> = None;
    let current = workspace_tag(workspace_version);
    if current.is_none() {
        problems.push(format!(
            "workspace version '{workspace_version}' has no tag form (x.y.z or x.y.z-rcN, each part below 100)"
        ));
    }
    for e in entries {
        let tag = match e.tag.parse::<Tag>() {
            Ok(t) => t,
            Err(err) => {
                problems.push(err.to_string());
                continue;
            }
        };
        let name = &e.tag;
        if e.version != tag.rpm_version() {
            problems.push(format!(
                "{name}: version is '{}', but the tag maps to '{}'",
                e.version,
                tag.rpm_version()
            ));
        }
        if let Some(p) = previous {
            if tag == p {
                problems.push(format!("{name}: listed twice"));
            } else if tag < p {
                problems.push(format!("{name}: listed after {p}, but sorts before it"));
            }
        }
        previous = Some(previous.map_or(tag, |p| p.max(tag)));
        if e.changes.is_empty() || e.changes.iter().any(|c| c.trim().is_empty()) {
            problems.push(format!(
                "{name}: changes must list at least one non-empty line"
            ));
        }
        if e.commit.len() != 40 || !e.commit.bytes().all(|b| b.is_ascii_hexdigit()) {
            problems.push(format!(
                "{name}: commit '{}' is not a full 40-digit commit hash",
                e.commit
            ));
        } else if let Some(repo) = repo {
            problems.extend(check_commit(name, tag, &e.commit, repo));
        }
        if let Some(cur) = current {
            if tag > cur {
                problems.push(format!(
                    "{name}: ahead of the workspace version {workspace_version} (bump [workspace.package] version first)"
                ));
            }
        }
    }
    problems
}

fn check_commit(name: &str, tag: Tag, commit: &str, repo: &dyn Repo) -> Vec<String> {
    if !repo.has_commit(commit) {
        return vec![format!("{name}: commit {commit} is not in this repository")];
    }
    let at_commit = repo
        .file_at(commit, "Cargo.toml")
        .and_then(|t| crate::data::workspace_version(&t));
    match at_commit {
        Some(v) if tag.matches_cargo_version(&v) => vec![],
        Some(v) => vec![format!(
            "{name}: the workspace version at commit {} is {v}, not {}",
            &commit[..12],
            tag.semver()
        )],
        None => vec![format!(
            "{name}: no [workspace.package] version in Cargo.toml at commit {}",
            &commit[..12]
        )],
    }
}

/// The workspace version read as a tag (`0.1.0-rc1` as `V00-01-00-rc1`), to compare with tags.
pub fn workspace_tag(version: &str) -> Option<Tag> {
    let (num, pre) = match version.split_once('-') {
        Some((n, p)) => (n, Some(p)),
        None => (version, None),
    };
    let parts: Vec<&str> = num.split('.').collect();
    let [a, b, c] = parts.as_slice() else {
        return None;
    };
    let two = |s: &str| -> Option<String> {
        let n: u8 = s.parse().ok().filter(|n| *n < 100)?;
        Some(format!("{n:02}"))
    };
    let mut text = format!("V{}-{}-{}", two(a)?, two(b)?, two(c)?);
    if let Some(p) = pre {
        text = format!("{text}-{p}");
    }
    text.parse().ok()
}

/// The tag list may only grow at its end: every earlier entry must stay exactly as it was.
/// `before` is the older list, `what` says where it came from.
pub fn check_append_only(before: &[TagEntry], after: &[TagEntry], what: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for (i, old) in before.iter().enumerate() {
        match after.get(i) {
            None => problems.push(format!(
                "tag {} (entry {}) was removed since {what}; the tag list is append-only",
                old.tag,
                i + 1
            )),
            Some(new) if new != old => problems.push(format!(
                "tag {} (entry {}) was changed since {what}; the tag list is append-only: add a new tag instead",
                old.tag,
                i + 1
            )),
            Some(_) => {}
        }
    }
    problems
}

/// Each release file must be named `<release>-<version>.yaml`, be an 'ana' or 'dm' release and
/// include a tag from the tag list.
pub fn check_releases(releases: &[(String, Release)], tags: &[TagEntry]) -> Vec<String> {
    let mut problems = Vec::new();
    for (file, r) in releases {
        if !RELEASE_NAMES.contains(&r.release.as_str()) {
            problems.push(format!(
                "{file}: release '{}' is none of {}",
                r.release,
                RELEASE_NAMES.join(", ")
            ));
        }
        let version_ok = !r.version.is_empty()
            && r.version
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-~".contains(&b));
        if !version_ok {
            problems.push(format!(
                "{file}: version '{}' must be non-empty letters, digits, '.', '_', '-' or '~'",
                r.version
            ));
        }
        let expected = format!("{}-{}.yaml", r.release, r.version);
        if *file != expected {
            problems.push(format!("{file}: should be named {expected}"));
        }
        match r.respd.parse::<Tag>() {
            Err(e) => problems.push(format!("{file}: {e}")),
            Ok(_) if !tags.iter().any(|t| t.tag == r.respd) => problems.push(format!(
                "{file}: names respd tag {}, which is not in {TAGS_PATH}",
                r.respd
            )),
            Ok(_) => {}
        }
    }
    problems
}

/// What `rpm/build` needs to know about a tag; refused when the tag is malformed, does not
/// describe the workspace being built, or (unless `unreleased`) is not in the tag list.
pub fn for_build(
    tag: &str,
    entries: &[TagEntry],
    workspace_version: &str,
    unreleased: bool,
) -> Result<(Tag, Option<TagEntry>), String> {
    let t: Tag = tag
        .parse()
        .map_err(|e: crate::tag::TagError| e.to_string())?;
    if !t.matches_cargo_version(workspace_version) {
        return Err(format!(
            "{tag} is version {}, but this tree's workspace version is {workspace_version}",
            t.semver()
        ));
    }
    let entry = entries.iter().find(|e| e.tag == tag).cloned();
    if entry.is_none() && !unreleased {
        return Err(format!(
            "{tag} is not in {TAGS_PATH}: add it there first (or pass --unreleased for a test build)"
        ));
    }
    Ok((t, entry))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const C1: &str = "1111111111111111111111111111111111111111";
    const C2: &str = "2222222222222222222222222222222222222222";

    fn entry(tag: &str, version: &str, commit: &str) -> TagEntry {
        TagEntry {
            tag: tag.into(),
            version: version.into(),
            commit: commit.into(),
            changes: vec!["a change".into()],
        }
    }

    /// A repository with the given workspace version at each commit.
    struct Fake(HashMap<&'static str, &'static str>);

    impl Repo for Fake {
        fn file_at(&self, rev: &str, path: &str) -> Option<String> {
            assert_eq!(path, "Cargo.toml");
            let v = self.0.get(rev)?;
            Some(format!("[workspace.package]\nversion = \"{v}\"\n"))
        }
        fn has_commit(&self, commit: &str) -> bool {
            self.0.contains_key(commit)
        }
        fn history(&self, _: &str) -> Vec<String> {
            vec![]
        }
    }

    fn has(problems: &[String], needle: &str) -> bool {
        problems.iter().any(|p| p.contains(needle))
    }

    #[test]
    fn good_tags_pass() {
        let tags = [
            entry("V00-00-01", "0.0.1", C1),
            entry("V00-01-00-rc1", "0.1.0~rc1", C2),
        ];
        let repo = Fake(HashMap::from([(C1, "0.0.1"), (C2, "0.1.0")]));
        assert_eq!(
            check_tags(&tags, "0.1.0", Some(&repo)),
            Vec::<String>::new()
        );
        assert_eq!(check_tags(&tags, "0.1.0-rc1", None), Vec::<String>::new());
    }

    #[test]
    fn malformed_tag_is_refused_with_expected_form() {
        let p = check_tags(&[entry("V0-0-1", "0.0.1", C1)], "0.0.1", None);
        assert!(
            has(&p, "'V0-0-1' is not a release tag: expected Vxx-yy-zz"),
            "{p:?}"
        );
    }

    #[test]
    fn version_must_be_the_mapping() {
        let p = check_tags(&[entry("V00-00-01", "00.00.01", C1)], "0.0.1", None);
        assert!(
            has(&p, "version is '00.00.01', but the tag maps to '0.0.1'"),
            "{p:?}"
        );
        let p = check_tags(&[entry("V00-01-00-rc1", "0.1.0-rc1", C1)], "0.1.0", None);
        assert!(has(&p, "maps to '0.1.0~rc1'"), "{p:?}");
    }

    #[test]
    fn tag_disagreeing_with_workspace_version_is_refused() {
        // Ahead of the tree.
        let p = check_tags(&[entry("V00-00-02", "0.0.2", C1)], "0.0.1", None);
        assert!(has(&p, "ahead of the workspace version 0.0.1"), "{p:?}");
        // Made from a commit whose workspace had another version.
        let repo = Fake(HashMap::from([(C1, "0.0.1")]));
        let p = check_tags(&[entry("V00-00-02", "0.0.2", C1)], "0.0.2", Some(&repo));
        assert!(
            has(
                &p,
                "workspace version at commit 111111111111 is 0.0.1, not 0.0.2"
            ),
            "{p:?}"
        );
        // A final tag from a pre-release tree.
        let repo = Fake(HashMap::from([(C1, "0.1.0-rc1")]));
        let p = check_tags(&[entry("V00-01-00", "0.1.0", C1)], "0.1.0", Some(&repo));
        assert!(has(&p, "is 0.1.0-rc1, not 0.1.0"), "{p:?}");
        // An unusable workspace version.
        let p = check_tags(&[], "1.2", None);
        assert!(has(&p, "workspace version '1.2' has no tag form"), "{p:?}");
    }

    #[test]
    fn commits_must_be_full_and_known() {
        let p = check_tags(&[entry("V00-00-01", "0.0.1", "64f3a95")], "0.0.1", None);
        assert!(has(&p, "not a full 40-digit commit hash"), "{p:?}");
        let repo = Fake(HashMap::new());
        let p = check_tags(&[entry("V00-00-01", "0.0.1", C1)], "0.0.1", Some(&repo));
        assert!(has(&p, "is not in this repository"), "{p:?}");
    }

    #[test]
    fn order_duplicates_and_changes() {
        let tags = [
            entry("V00-00-02", "0.0.2", C1),
            entry("V00-00-01", "0.0.1", C1),
            entry("V00-00-02", "0.0.2", C1),
        ];
        let p = check_tags(&tags, "0.0.2", None);
        assert!(
            has(&p, "V00-00-01: listed after V00-00-02, but sorts before it"),
            "{p:?}"
        );
        assert!(has(&p, "V00-00-02: listed twice"), "{p:?}");
        let mut e = entry("V00-00-01", "0.0.1", C1);
        e.changes.clear();
        assert!(has(&check_tags(&[e], "0.0.1", None), "changes must list"));
    }

    #[test]
    fn append_only() {
        let old = [entry("V00-00-01", "0.0.1", C1)];
        let grown = [
            entry("V00-00-01", "0.0.1", C1),
            entry("V00-00-02", "0.0.2", C2),
        ];
        assert!(check_append_only(&old, &grown, "HEAD").is_empty());
        assert!(check_append_only(&[], &grown, "HEAD").is_empty());
        let p = check_append_only(&grown, &old, "HEAD");
        assert!(
            has(&p, "tag V00-00-02 (entry 2) was removed since HEAD"),
            "{p:?}"
        );
        let mut edited = grown.clone();
        edited[0].changes.push("rewritten history".into());
        let p = check_append_only(&grown, &edited, "HEAD");
        assert!(
            has(&p, "tag V00-00-01 (entry 1) was changed since HEAD"),
            "{p:?}"
        );
        // Inserting before the end shifts entries: also refused.
        let inserted = [
            entry("V00-00-01-rc1", "0.0.1~rc1", C1),
            entry("V00-00-01", "0.0.1", C1),
        ];
        assert!(!check_append_only(&old, &inserted, "HEAD").is_empty());
    }

    #[test]
    fn releases_must_name_known_tags() {
        let tags = [entry("V00-00-01", "0.0.1", C1)];
        let rel = |name: &str, version: &str, respd: &str| Release {
            release: name.into(),
            version: version.into(),
            respd: respd.into(),
        };
        let good = vec![("ana-1.0.yaml".to_string(), rel("ana", "1.0", "V00-00-01"))];
        assert!(check_releases(&good, &tags).is_empty());
        let bad = vec![
            ("dm-2.yaml".to_string(), rel("dm", "2", "V00-00-02")),
            ("dm-3.yaml".to_string(), rel("dm", "3", "0.0.1")),
            ("x.yaml".to_string(), rel("ana", "1.0", "V00-00-01")),
            ("foo-1.yaml".to_string(), rel("foo", "1", "V00-00-01")),
            ("ana-.yaml".to_string(), rel("ana", "", "V00-00-01")),
        ];
        let p = check_releases(&bad, &tags);
        assert!(
            has(&p, "dm-2.yaml: names respd tag V00-00-02, which is not in"),
            "{p:?}"
        );
        assert!(has(&p, "dm-3.yaml: '0.0.1' is not a release tag"), "{p:?}");
        assert!(has(&p, "x.yaml: should be named ana-1.0.yaml"), "{p:?}");
        assert!(has(&p, "release 'foo' is none of ana, dm"), "{p:?}");
        assert!(has(&p, "ana-.yaml: version '' must be"), "{p:?}");
    }

    #[test]
    fn build_refuses_what_does_not_describe_the_tree() {
        let tags = [entry("V00-00-01", "0.0.1", C1)];
        let (t, e) = for_build("V00-00-01", &tags, "0.0.1", false).unwrap();
        assert_eq!(t.rpm_version(), "0.0.1");
        assert_eq!(e.unwrap().commit, C1);
        let err = for_build("V00-00-02", &tags, "0.0.1", true).unwrap_err();
        assert!(err.contains("workspace version is 0.0.1"), "{err}");
        let err = for_build("V00-00-01-rc1", &tags, "0.0.1", false).unwrap_err();
        assert!(err.contains("not in release-tags/tags.yaml"), "{err}");
        let (_, e) = for_build("V00-00-01-rc1", &tags, "0.0.1", true).unwrap();
        assert!(e.is_none());
        let err = for_build("0.0.1", &tags, "0.0.1", true).unwrap_err();
        assert!(err.contains("expected Vxx-yy-zz"), "{err}");
    }

    #[test]
    fn workspace_versions_read_as_tags() {
        assert_eq!(workspace_tag("0.0.1").unwrap().to_string(), "V00-00-01");
        assert_eq!(
            workspace_tag("1.2.3-rc4").unwrap().to_string(),
            "V01-02-03-rc4"
        );
        assert!(workspace_tag("100.0.0").is_none());
        assert!(workspace_tag("1.0.0-beta").is_none());
        assert!(workspace_tag("1.0").is_none());
    }
}
