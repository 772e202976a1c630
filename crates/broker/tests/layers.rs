//! The layering is a promise too: a rule about a person, a grant or money
//! is kept in `broker`, inside the transaction that records it, so no
//! adapter may open a transaction of its own, and `broker` knows nothing of
//! HTTP. These checks read the sources and the dependency graph; they fail
//! the build's tests when either is broken.

#![allow(
    clippy::unwrap_used,
    reason = "test steps: a failed unwrap is a failed test"
)]

use std::path::{Path, PathBuf};

/// What opening a database transaction looks like in our code: sea-orm's
/// own calls, the store's write turn, and `Store::begin` (the handle the
/// broker owns).
const TRANSACTION_MARKERS: [&str; 7] = [
    "begin_with_options",
    "TransactionTrait",
    "DatabaseTransaction",
    "write_txn(",
    ".transaction(",
    "transaction_with_behavior",
    ".begin().await",
];

/// The crates allowed to open one.
const MAY_OPEN: [&str; 2] = ["broker", "store"];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_owned()
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn no_module_outside_broker_and_store_opens_a_transaction() {
    let root = workspace();
    let mut files = Vec::new();
    for crate_dir in std::fs::read_dir(root.join("crates")).unwrap() {
        let crate_dir = crate_dir.unwrap().path();
        let name = crate_dir
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if MAY_OPEN.contains(&name.as_str()) {
            continue;
        }
        let src = crate_dir.join("src");
        if src.is_dir() {
            rust_files(&src, &mut files);
        }
    }
    assert!(
        files
            .iter()
            .any(|f| f.ends_with("crates/server/src/main.rs")),
        "the scan must see the server's sources"
    );
    let mut offences = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (number, line) in text.lines().enumerate() {
            if let Some(marker) = TRANSACTION_MARKERS.iter().find(|m| line.contains(**m)) {
                offences.push(format!(
                    "{}:{}: {marker}",
                    file.strip_prefix(&root).unwrap().display(),
                    number + 1
                ));
            }
        }
    }
    assert!(
        offences.is_empty(),
        "only broker and store open transactions; move these into a broker use case:\n{}",
        offences.join("\n")
    );
}

#[test]
fn the_markers_find_what_they_look_for() {
    // A check that cannot fail proves nothing: each marker matches the
    // store's own code, where transactions are opened.
    let mut files = Vec::new();
    rust_files(&workspace().join("crates/store/src"), &mut files);
    let store: String = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    for marker in [
        "begin_with_options",
        "DatabaseTransaction",
        "write_txn(",
        "transaction_with_behavior",
    ] {
        assert!(
            store.contains(marker),
            "{marker} no longer appears in store"
        );
    }
}

#[test]
fn broker_depends_on_no_web_framework() {
    let output = std::process::Command::new(env!("CARGO"))
        .args([
            "tree",
            "--offline",
            "-p",
            "broker",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .current_dir(workspace())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let tree = String::from_utf8(output.stdout).unwrap();
    assert!(tree.starts_with("broker "), "{tree}");
    for web in ["actix-web ", "actix-http ", "axum ", "hyper "] {
        assert!(
            !tree.lines().any(|l| l.starts_with(web)),
            "broker depends on {web}"
        );
    }
}
