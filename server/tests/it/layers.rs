//! The module graph `lib.rs`'s `# Layout` describes, checked: every `crate::` path in a module's
//! source names its own layer or one below it, so no arrow runs back up.

use std::collections::BTreeMap;
use std::path::Path;

/// The layers, bottom first: a module may name modules of its own layer or lower ones.
const LAYERS: &[(&str, u8)] = &[
    ("alloc", 0),
    ("ldouble", 0),
    ("util", 0),
    ("config", 0),
    ("resp", 0),
    ("keyspace", 0),
    ("persist", 1),
    ("state", 2),
    ("cmd", 3),
    ("connection", 4),
    ("server", 5),
];

/// What `crate::<name>` means for the items at the crate root: `lib.rs`'s own and re-exported
/// ones, and the command table's exported macros (`cmd/table.rs`).
const ROOT_ITEMS: &[(&str, &str)] = &[
    ("command", "cmd"),
    ("container", "cmd"),
    ("subcommand", "cmd"),
    ("Config", "config"),
    ("Shared", "state"),
    ("bind", "server"),
    ("run", "server"),
    ("REDIS_VERSION", "util"),
];

fn layer(module: &str) -> Option<u8> {
    let module = ROOT_ITEMS
        .iter()
        .find(|(item, _)| *item == module)
        .map_or(module, |(_, m)| m);
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, l)| *l)
}

/// The top-level modules a source file names through `crate::` paths (comments skipped), with
/// the line of each.
fn named_modules(src: &str) -> Vec<(String, usize)> {
    let code: String = src
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("//") {
                ""
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        let line = code[..at].matches('\n').count() + 1;
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // `respd_crate::` and the like.
        }
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a, b::c, d::{e, f}}`: the first name of each top-level entry.
            let mut depth = 0;
            let mut start = 0;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        out.push((ident(&group[start..i]), line));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.push((ident(&group[start..i]), line));
                        start = i + 1;
                    }
                    _ => {}
                }
            }
        } else {
            out.push((ident(rest), line));
        }
    }
    out.retain(|(m, _)| !m.is_empty());
    out
}

#[test]
fn the_path_parser_sees_plain_grouped_and_nested_paths_and_skips_comments() {
    let src = "//! Not `crate::server`.\n\
               use crate::cmd::Ctx;\n\
               use crate::{\n    state::{Shared, BlockOn},\n    resp::Reply,\n};\n\
               let x = crate::keyspace::now_ms(); // crate::connection\n";
    let names: Vec<String> = named_modules(src).into_iter().map(|(m, _)| m).collect();
    assert_eq!(names, ["cmd", "state", "resp", "keyspace", "connection"]);
}

#[test]
fn no_module_names_a_layer_above_its_own() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let mut dirs = vec![src.clone()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).expect("read src") {
            let p = e.expect("dir entry").path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                files.push(p);
            }
        }
    }
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut wrong = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(&src).expect("under src");
        let first = rel.components().next().expect("a path");
        let top = first.as_os_str().to_str().expect("utf-8 name");
        let top = top.strip_suffix(".rs").unwrap_or(top);
        if top == "lib" || top == "main" {
            continue; // The crate root and the binary sit above every layer.
        }
        let Some(own) = layer(top) else {
            panic!(
                "{} is in no layer: add it to LAYERS (and to lib.rs's # Layout)",
                rel.display()
            );
        };
        let name = LAYERS.iter().find(|(m, _)| *m == top).expect("a layer").0;
        *seen.entry(name).or_default() += 1;
        let text = std::fs::read_to_string(f).expect("read source");
        for (m, line) in named_modules(&text) {
            match layer(&m) {
                Some(l) if l <= own => {}
                Some(_) => wrong.push(format!(
                    "{}:{line} names crate::{m}, a layer above",
                    rel.display()
                )),
                None => wrong.push(format!(
                    "{}:{line} names crate::{m}, which is in no layer",
                    rel.display()
                )),
            }
        }
    }
    for (m, _) in LAYERS {
        assert!(seen.contains_key(m), "no source file found for module {m}");
    }
    assert!(wrong.is_empty(), "upward arrows:\n{}", wrong.join("\n"));
}
