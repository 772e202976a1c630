//! The load harness end to end at the smallest size: seeds 1/1000 of the
//! benchmark database, starts the debug `apiome` built beside this test,
//! runs every workload for one second and fails on any wrong answer. The
//! figures mean nothing at this size; the point is that `apiome-load
//! bench` keeps working as the server changes.

use std::path::PathBuf;
use std::process::Command;

const LOAD: &str = env!("CARGO_BIN_EXE_apiome-load");

/// The `apiome` binary of the same build (`cargo test` of the workspace
/// builds it for the server's own tests).
fn apiome() -> Option<PathBuf> {
    let path =
        PathBuf::from(LOAD).with_file_name(format!("apiome{}", std::env::consts::EXE_SUFFIX));
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var("CI").map_or(true, |v| v != "true"),
        "{} is missing: run the workspace's `cargo test`",
        path.display()
    );
    eprintln!(
        "notice: {} is not built (run `cargo build -p server` or the workspace's `cargo test`); \
         skipping the load harness smoke test",
        path.display()
    );
    None
}

#[test]
fn the_harness_seeds_serves_and_checks_every_workload() {
    let Some(apiome) = apiome() else { return };
    let dir = tempfile::tempdir().expect("a temporary directory");
    let output = Command::new(LOAD)
        .args(["bench", "--scale", "1000", "--seconds", "1", "--no-peer"])
        .arg("--data-dir")
        .arg(dir.path().join("seed"))
        .arg("--apiome")
        .arg(&apiome)
        .output()
        .expect("run apiome-load");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "apiome-load failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    for workload in [
        "token (client_credentials)",
        "introspection (1,000 tokens, each reused)",
        "introspection (every token new)",
        "GET /v1/data",
        "POST /v1/requests",
        "GET /v1/ledger/proofs/inclusion",
    ] {
        let row = stdout
            .lines()
            .find(|l| l.starts_with(&format!("| {workload}")))
            .unwrap_or_else(|| panic!("no row for {workload} in\n{stdout}"));
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        // | workload | server | requests/s | p50 | p99 | errors | vs peer | CPU stolen |
        let rate: f64 = cells[3].parse().expect("a rate");
        assert!(rate > 0.0, "{workload} answered nothing: {row}");
        assert_eq!(cells[6], "0", "{workload} had errors: {row}");
    }
    assert!(stdout.contains("peak resident memory (VmHWM)"), "{stdout}");
}
