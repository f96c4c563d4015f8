//! What the checks need from git: files at a commit, whether a commit exists, a file's history.

use std::path::PathBuf;
use std::process::Command;

/// Read-only access to the repository's history (a trait so the tests can fake it).
pub trait Repo {
    /// The text of `path` at `rev`, or `None` when the revision or the file does not exist.
    fn file_at(&self, rev: &str, path: &str) -> Option<String>;
    /// Whether `commit` names a commit of this repository.
    fn has_commit(&self, commit: &str) -> bool;
    /// The commits that changed `path`, oldest first.
    fn history(&self, path: &str) -> Vec<String>;
}

/// The git repository at `root`, through the `git` command.
pub struct Git {
    /// The work tree.
    pub root: PathBuf,
}

impl Git {
    fn run(&self, args: &[&str]) -> Option<String> {
        let out = Command::new("git")
            .arg("-C")
            .arg(&self.root)
            .args(args)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Whether `root` is inside a git work tree with git available.
    pub fn available(&self) -> bool {
        self.run(&["rev-parse", "--is-inside-work-tree"])
            .is_some_and(|s| s.trim() == "true")
    }
}

impl Repo for Git {
    fn file_at(&self, rev: &str, path: &str) -> Option<String> {
        self.run(&["show", &format!("{rev}:{path}")])
    }

    fn has_commit(&self, commit: &str) -> bool {
        self.run(&["cat-file", "-e", &format!("{commit}^{{commit}}")])
            .is_some()
    }

    fn history(&self, path: &str) -> Vec<String> {
        self.run(&["log", "--reverse", "--format=%H", "--", path])
            .map(|s| s.lines().map(str::to_owned).collect())
            .unwrap_or_default()
    }
}
