//! `respd-release-check`: validates `release-tags/` and tells `rpm/build` what a tag maps to.

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use respd_release_check::check::{self, TAGS_PATH};
use respd_release_check::data::{self, Release, TagsFile};
use respd_release_check::repo::{Git, Repo};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Checks respd's release tags and the 'ana'/'dm' releases that include them.
#[derive(Parser, Debug)]
#[command(name = "respd-release-check")]
struct Flags {
    /// The repository's top directory (holds Cargo.toml and release-tags/).
    #[arg(long, default_value = ".")]
    root: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Validate tags.yaml and every release file; exit 1 listing every problem.
    Check {
        /// Compare the tag list with the one committed at this revision (append-only).
        #[arg(long, default_value = "HEAD")]
        base: String,
        /// Also check that every committed version of the tag list only appended to the one before.
        #[arg(long)]
        history: bool,
        /// Skip what needs git (commit existence, versions at commits, append-only).
        #[arg(long)]
        no_git: bool,
    },
    /// Print, as shell assignments, what a tag maps to; refuse a tag that does not fit this tree.
    BuildInfo {
        /// The tag, e.g. V00-00-01.
        tag: String,
        /// Allow a well-formed tag that is not (yet) in tags.yaml, for test builds.
        #[arg(long)]
        unreleased: bool,
    },
    /// Print the tag that names this tree's workspace version (0.0.1 -> V00-00-01).
    WorkspaceTag,
}

fn main() -> ExitCode {
    let flags = Flags::parse();
    let result = match &flags.command {
        Command::Check {
            base,
            history,
            no_git,
        } => run_check(&flags.root, base, *history, *no_git),
        Command::BuildInfo { tag, unreleased } => build_info(&flags.root, tag, *unreleased),
        Command::WorkspaceTag => load_workspace_version(&flags.root).and_then(|v| {
            let t = check::workspace_tag(&v)
                .with_context(|| format!("workspace version {v} has no tag form"))?;
            println!("{t}");
            Ok(())
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("respd-release-check: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn load_tags(root: &Path) -> anyhow::Result<TagsFile> {
    let path = root.join(TAGS_PATH);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    data::parse_tags(&text, TAGS_PATH)
}

fn load_workspace_version(root: &Path) -> anyhow::Result<String> {
    let path = root.join("Cargo.toml");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    data::workspace_version(&text)
        .with_context(|| format!("{}: no [workspace.package] version", path.display()))
}

fn load_releases(root: &Path) -> anyhow::Result<Vec<(String, Release)>> {
    let dir = root.join("release-tags/releases");
    let mut out = Vec::new();
    for item in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = item?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !name.ends_with(".yaml") {
            bail!("{}: release files end in .yaml", path.display());
        }
        let text = std::fs::read_to_string(&path)?;
        out.push((name.clone(), data::parse_release(&text, &name)?));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

fn run_check(root: &Path, base: &str, history: bool, no_git: bool) -> anyhow::Result<()> {
    let tags = load_tags(root)?;
    let version = load_workspace_version(root)?;
    let releases = load_releases(root)?;
    let git = Git { root: root.into() };
    let repo: Option<&dyn Repo> = if no_git {
        None
    } else if git.available() {
        Some(&git)
    } else {
        bail!("{} is not a git work tree: pass --no-git", root.display());
    };
    let mut problems = check::check_tags(&tags.tags, &version, repo);
    problems.extend(check::check_releases(&releases, &tags.tags));
    if let Some(repo) = repo {
        if let Some(text) = repo.file_at(base, TAGS_PATH) {
            let old = data::parse_tags(&text, &format!("{base}:{TAGS_PATH}"))?;
            problems.extend(check::check_append_only(&old.tags, &tags.tags, base));
        }
        if history {
            let mut before: Option<(String, TagsFile)> = None;
            for commit in repo.history(TAGS_PATH) {
                let Some(text) = repo.file_at(&commit, TAGS_PATH) else {
                    continue; // Deleted at this commit: the next version is compared with the last one seen.
                };
                let what = format!("{}:{TAGS_PATH}", &commit[..12.min(commit.len())]);
                let now = data::parse_tags(&text, &what)?;
                if let Some((old_what, old)) = &before {
                    problems.extend(
                        check::check_append_only(&old.tags, &now.tags, old_what)
                            .into_iter()
                            .map(|p| format!("at {what}: {p}")),
                    );
                }
                before = Some((what, now));
            }
        }
    }
    if problems.is_empty() {
        println!(
            "release-tags: {} tags, {} releases, workspace version {version}: ok",
            tags.tags.len(),
            releases.len()
        );
        return Ok(());
    }
    for p in &problems {
        eprintln!("  {p}");
    }
    bail!("{} problem(s) in release-tags/", problems.len())
}

fn build_info(root: &Path, tag: &str, unreleased: bool) -> anyhow::Result<()> {
    let tags = load_tags(root)?;
    let version = load_workspace_version(root)?;
    let (t, entry) =
        check::for_build(tag, &tags.tags, &version, unreleased).map_err(anyhow::Error::msg)?;
    // Every value is derived from a validated tag or a 40-hex commit: safe for the shell's eval.
    println!("TAG={t}");
    println!("RPM_VERSION='{}'", t.rpm_version());
    println!("SEMVER={}", t.semver());
    match entry {
        Some(e) => {
            if e.commit.len() != 40 || !e.commit.bytes().all(|b| b.is_ascii_hexdigit()) {
                bail!("{tag}: commit '{}' is not a full commit hash", e.commit);
            }
            println!("LISTED=yes");
            println!("TAG_COMMIT={}", e.commit);
        }
        None => {
            println!("LISTED=no");
            println!("TAG_COMMIT=");
        }
    }
    Ok(())
}
