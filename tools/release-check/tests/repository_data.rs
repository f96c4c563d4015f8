//! The repository's own release-tags/ passes the checks (the git-based ones run in ci/test).

use respd_release_check::{check, data};
use std::path::Path;

#[test]
fn release_tags_of_this_repository_are_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let tags = data::parse_tags(
        &std::fs::read_to_string(root.join(check::TAGS_PATH)).unwrap(),
        check::TAGS_PATH,
    )
    .unwrap();
    let version =
        data::workspace_version(&std::fs::read_to_string(root.join("Cargo.toml")).unwrap())
            .unwrap();
    assert!(!tags.tags.is_empty());
    assert_eq!(
        check::check_tags(&tags.tags, &version, None),
        Vec::<String>::new()
    );
    let mut releases = Vec::new();
    for item in std::fs::read_dir(root.join("release-tags/releases")).unwrap() {
        let path = item.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let r = data::parse_release(&std::fs::read_to_string(&path).unwrap(), &name).unwrap();
        releases.push((name, r));
    }
    assert!(releases.iter().any(|(_, r)| r.release == "ana"));
    assert!(releases.iter().any(|(_, r)| r.release == "dm"));
    assert_eq!(
        check::check_releases(&releases, &tags.tags),
        Vec::<String>::new()
    );
}
