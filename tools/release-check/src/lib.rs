//! Checks respd's release data under `release-tags/`: the tag list (`tags.yaml`, append-only)
//! and the 'ana'/'dm' release files that pin a tag. Used by `ci/test` and `rpm/build`.

pub mod check;
pub mod data;
pub mod repo;
pub mod tag;
