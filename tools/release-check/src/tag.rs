//! Release tags (`V00-01-02`, `V00-01-00-rc1`) and the versions they map to.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// The form every tag must have, shown in every refusal.
pub const EXPECTED: &str =
    "expected Vxx-yy-zz with two digits each (V00-00-01), or a pre-release Vxx-yy-zz-rcN (V00-01-00-rc1)";

/// A tag that is not of the expected form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{tag}' is not a release tag: {EXPECTED}")]
pub struct TagError {
    /// The refused text.
    pub tag: String,
}

/// A well-formed release tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tag {
    /// `xx` in `Vxx-yy-zz`.
    pub major: u8,
    /// `yy`.
    pub minor: u8,
    /// `zz`.
    pub patch: u8,
    /// `N` in `-rcN`; `None` for a final release.
    pub rc: Option<u32>,
}

impl FromStr for Tag {
    type Err = TagError;

    fn from_str(s: &str) -> Result<Tag, TagError> {
        let err = || TagError { tag: s.to_owned() };
        let rest = s.strip_prefix('V').ok_or_else(err)?;
        let mut parts = rest.split('-');
        let mut two_digits = || -> Result<u8, TagError> {
            match parts.next() {
                Some(p) if p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit()) => {
                    p.parse().map_err(|_| err())
                }
                _ => Err(err()),
            }
        };
        let (major, minor, patch) = (two_digits()?, two_digits()?, two_digits()?);
        let rc = match parts.next() {
            None => None,
            Some(p) => {
                let n = p.strip_prefix("rc").ok_or_else(err)?;
                // Digits only, no leading zero, at least rc1: "rc01" and "rc0" would sort oddly.
                if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) || n.starts_with('0') {
                    return Err(err());
                }
                Some(n.parse().map_err(|_| err())?)
            }
        };
        if parts.next().is_some() {
            return Err(err());
        }
        Ok(Tag {
            major,
            minor,
            patch,
            rc,
        })
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "V{:02}-{:02}-{:02}", self.major, self.minor, self.patch)?;
        if let Some(rc) = self.rc {
            write!(f, "-rc{rc}")?;
        }
        Ok(())
    }
}

impl Tag {
    /// The RPM version: `0.1.0`, or `0.1.0~rc1` so that a pre-release sorts before the final one.
    pub fn rpm_version(&self) -> String {
        self.version_with('~')
    }

    /// The Cargo (semver) form: `0.1.0`, `0.1.0-rc1`; also the external area's directory name.
    pub fn semver(&self) -> String {
        self.version_with('-')
    }

    fn version_with(&self, sep: char) -> String {
        let base = format!("{}.{}.{}", self.major, self.minor, self.patch);
        match self.rc {
            Some(rc) => format!("{base}{sep}rc{rc}"),
            None => base,
        }
    }

    /// Whether a Cargo version (`0.1.0`, `0.1.0-rc1`) describes this tag. A pre-release tag
    /// may be made from a tree that already carries the final version number.
    pub fn matches_cargo_version(&self, cargo: &str) -> bool {
        let base = format!("{}.{}.{}", self.major, self.minor, self.patch);
        match cargo.split_once('-') {
            None => cargo == base,
            Some((num, pre)) => {
                num == base && self.rc.map(|n| format!("rc{n}")).as_deref() == Some(pre)
            }
        }
    }
}

impl Ord for Tag {
    fn cmp(&self, other: &Tag) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            // A final release sorts after all its pre-releases, as `~` makes RPM do.
            .then_with(|| match (self.rc, other.rc) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(a), Some(b)) => a.cmp(&b),
            })
    }
}

impl PartialOrd for Tag {
    fn partial_cmp(&self, other: &Tag) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(s: &str) -> Tag {
        s.parse().unwrap()
    }

    #[test]
    fn final_tags_map_without_leading_zeros() {
        assert_eq!(tag("V00-00-01").rpm_version(), "0.0.1");
        assert_eq!(tag("V01-10-99").rpm_version(), "1.10.99");
        assert_eq!(tag("V00-00-01").semver(), "0.0.1");
        assert_eq!(tag("V12-03-04").to_string(), "V12-03-04");
    }

    #[test]
    fn pre_releases_map_with_tilde() {
        let t = tag("V00-01-00-rc1");
        assert_eq!(t.rpm_version(), "0.1.0~rc1");
        assert_eq!(t.semver(), "0.1.0-rc1");
        assert_eq!(t.to_string(), "V00-01-00-rc1");
        assert_eq!(tag("V00-01-00-rc12").rc, Some(12));
    }

    #[test]
    fn malformed_tags_are_refused_with_the_expected_form() {
        for bad in [
            "",
            "V",
            "v00-00-01",
            "00-00-01",
            "V0-00-01",
            "V000-00-01",
            "V00-00",
            "V00-00-01-",
            "V00-00-01-rc",
            "V00-00-01-rc0",
            "V00-00-01-rc01",
            "V00-00-01-beta1",
            "V00-00-01-rc1-x",
            "V00_00_01",
            "V00-0a-01",
            "V00-00-+1",
            " V00-00-01",
            "0.0.1",
        ] {
            let e = bad.parse::<Tag>().unwrap_err();
            let msg = e.to_string();
            assert!(msg.contains("Vxx-yy-zz"), "{bad}: {msg}");
            assert!(msg.contains(&format!("'{bad}'")), "{bad}: {msg}");
        }
    }

    #[test]
    fn order_puts_pre_releases_first() {
        let mut v = [
            tag("V00-01-00"),
            tag("V00-01-00-rc2"),
            tag("V00-00-09"),
            tag("V00-01-00-rc1"),
            tag("V01-00-00"),
        ];
        v.sort();
        let s: Vec<String> = v.iter().map(Tag::to_string).collect();
        assert_eq!(
            s,
            [
                "V00-00-09",
                "V00-01-00-rc1",
                "V00-01-00-rc2",
                "V00-01-00",
                "V01-00-00"
            ]
        );
    }

    #[test]
    fn cargo_versions_match() {
        assert!(tag("V00-00-01").matches_cargo_version("0.0.1"));
        assert!(!tag("V00-00-01").matches_cargo_version("0.0.2"));
        assert!(!tag("V00-00-01").matches_cargo_version("0.0.1-rc1"));
        assert!(tag("V00-01-00-rc1").matches_cargo_version("0.1.0"));
        assert!(tag("V00-01-00-rc1").matches_cargo_version("0.1.0-rc1"));
        assert!(!tag("V00-01-00-rc1").matches_cargo_version("0.1.0-rc2"));
        assert!(!tag("V00-01-00-rc1").matches_cargo_version("0.0.1"));
    }
}
