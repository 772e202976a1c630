//! The transparency log as an auditor meets it: a checkpoint signed by the
//! published key, inclusion and consistency proofs that verify with nothing
//! but the `ledger` crate, and errors as problem details.

use apiome_tests::{TestApp, app_test};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ledger::{Checkpoint, Entry, EntryKind, Hash, NoteVerifier, ShortText};
use serde_json::Value;

const PROBLEM_JSON: &str = "application/problem+json";
const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

fn entry(n: u64) -> Entry {
    Entry::new(
        1_764_000_000_000 + n as i64,
        EntryKind::TransferPosted {
            transfer_id: ShortText::new(format!("transfer-{n}")).expect("a short id"),
        },
    )
}

fn hash(text: &Value) -> Hash {
    BASE64
        .decode(text.as_str().expect("a base64 string"))
        .expect("base64")
        .try_into()
        .expect("32 bytes")
}

async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    app.http
        .get(app.url(path))
        .send()
        .await
        .expect("the server answers")
}

async fn verifier(app: &TestApp) -> NoteVerifier {
    let response = get(app, "/v1/ledger/public-key").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], TEXT_PLAIN);
    let vkey = response.text().await.expect("a body");
    NoteVerifier::from_vkey(&vkey).expect("a verifier key")
}

/// Fetches the checkpoint and verifies its signature.
async fn checkpoint(app: &TestApp, verifier: &NoteVerifier) -> Checkpoint {
    let response = get(app, "/v1/ledger/checkpoint").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], TEXT_PLAIN);
    let note = response.text().await.expect("a body");
    ledger::open_checkpoint(&note, verifier).expect("signed by the published key")
}

async fn append(app: &TestApp, from: u64, count: u64) -> Vec<Entry> {
    let entries: Vec<Entry> = (from..from + count).map(entry).collect();
    let first = app
        .store()
        .append_standalone(&entries)
        .await
        .expect("appended");
    assert_eq!(first, from);
    entries
}

app_test!(
    checkpoints_and_proofs_verify_with_the_published_key,
    |app| {
        let verifier = verifier(app).await;
        assert_eq!(verifier.name(), "localhost/apiome-ledger");

        let empty = checkpoint(app, &verifier).await;
        assert_eq!(empty.origin(), "localhost/apiome-ledger");
        assert_eq!(empty.tree_size(), 0);
        assert_eq!(*empty.root_hash(), ledger::EMPTY_ROOT);

        let mut entries = append(app, 0, 5).await;
        let first = checkpoint(app, &verifier).await;
        assert_eq!(
            first.tree_size(),
            5,
            "a stale checkpoint is re-signed on demand"
        );
        entries.extend(append(app, 5, 12).await);
        let second = checkpoint(app, &verifier).await;
        assert_eq!(second.tree_size(), 17);

        for (checkpoint, indices) in [(&first, vec![0, 3, 4]), (&second, vec![0, 7, 8, 16])] {
            let size = checkpoint.tree_size();
            for index in indices {
                let response = get(
                    app,
                    &format!("/v1/ledger/proofs/inclusion?index={index}&tree_size={size}"),
                )
                .await;
                assert_eq!(response.status(), 200);
                let body: Value = response.json().await.unwrap();
                assert_eq!(body["index"], index);
                assert_eq!(body["tree_size"], size);
                let leaf_hash = hash(&body["leaf_hash"]);
                assert_eq!(leaf_hash, entries[index as usize].leaf_hash());
                let proof: Vec<Hash> = body["proof"].as_array().unwrap().iter().map(hash).collect();
                ledger::verify_inclusion(&leaf_hash, index, size, &proof, checkpoint.root_hash())
                    .expect("the inclusion proof verifies");
            }
        }

        let response = get(app, "/v1/ledger/proofs/consistency?first=5&second=17").await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            (body["first"].as_u64(), body["second"].as_u64()),
            (Some(5), Some(17))
        );
        let proof: Vec<Hash> = body["proof"].as_array().unwrap().iter().map(hash).collect();
        ledger::verify_consistency(5, 17, first.root_hash(), second.root_hash(), &proof)
            .expect("the log only grew");
        // From the empty tree, and to itself: empty proofs, by definition.
        for (a, b) in [(0, 17), (17, 17)] {
            let body: Value = get(
                app,
                &format!("/v1/ledger/proofs/consistency?first={a}&second={b}"),
            )
            .await
            .json()
            .await
            .unwrap();
            assert_eq!(body["proof"], serde_json::json!([]));
        }
    }
);

app_test!(the_log_is_signed_in_the_background_as_it_grows, |app| {
    append(app, 0, 3).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let latest = app.store().latest_checkpoint().await.unwrap();
        if latest.as_ref().is_some_and(|c| c.tree_size == 3) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint of size 3 was signed: {latest:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let verifier = verifier(app).await;
    let stored = app.store().latest_checkpoint().await.unwrap().unwrap();
    let opened = ledger::open_checkpoint(&stored.note, &verifier).unwrap();
    assert_eq!(
        *opened.root_hash(),
        app.store().ledger_root(3).await.unwrap()
    );
});

app_test!(bad_proof_queries_are_problems_that_name_the_field, |app| {
    append(app, 0, 3).await;
    let cases = [
        ("/v1/ledger/proofs/inclusion", 400, "index"),
        ("/v1/ledger/proofs/inclusion?tree_size=3", 400, "index"),
        ("/v1/ledger/proofs/inclusion?index=0", 400, "tree_size"),
        (
            "/v1/ledger/proofs/inclusion?index=x&tree_size=3",
            400,
            "index",
        ),
        (
            "/v1/ledger/proofs/inclusion?index=-1&tree_size=3",
            400,
            "index",
        ),
        (
            "/v1/ledger/proofs/inclusion?index=0&tree_size=1e3",
            400,
            "tree_size",
        ),
        (
            "/v1/ledger/proofs/inclusion?index=3&tree_size=3",
            400,
            "index",
        ),
        (
            "/v1/ledger/proofs/inclusion?index=0&tree_size=0",
            400,
            "index",
        ),
        (
            "/v1/ledger/proofs/inclusion?index=0&tree_size=4",
            404,
            "tree_size",
        ),
        (
            "/v1/ledger/proofs/inclusion?index=0&tree_size=18446744073709551615",
            404,
            "tree_size",
        ),
        ("/v1/ledger/proofs/consistency", 400, "first"),
        ("/v1/ledger/proofs/consistency?first=1", 400, "second"),
        (
            "/v1/ledger/proofs/consistency?first=3&second=2",
            400,
            "first",
        ),
        (
            "/v1/ledger/proofs/consistency?first=1&second=4",
            404,
            "second",
        ),
    ];
    for (path, status, field) in cases {
        let response = get(app, path).await;
        assert_eq!(response.status(), status, "{path}");
        assert_eq!(response.headers()["content-type"], PROBLEM_JSON, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], status, "{path}");
        assert_eq!(body["field"], field, "{path}: {body}");
        assert!(!apiome_tests::problem_kind(&body).is_empty(), "{path}");
    }
});

/// Starts a server on `data_dir` (SQLite inside it), returns its published
/// key, and stops it.
async fn vkey_of_a_server_on(data_dir: &std::path::Path) -> String {
    server::telemetry::init_for_tests();
    let config = server::config::Config::for_tests(
        data_dir.to_owned(),
        store::DatabaseUrl::Sqlite(data_dir.join("apiome.db")),
    );
    let app = server::startup::Application::build(config)
        .await
        .expect("the server starts");
    let port = app.port();
    let handle = app.stop_handle();
    let running = tokio::spawn(app.run_until_stopped());
    let vkey = reqwest::get(format!("http://localhost:{port}/v1/ledger/public-key"))
        .await
        .expect("the server answers")
        .text()
        .await
        .expect("a body");
    handle.stop(true).await;
    running
        .await
        .expect("the server task ends")
        .expect("the server stops cleanly");
    vkey
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ledger_key_is_private_and_kept_across_restarts() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let first = vkey_of_a_server_on(&data).await;
    let key = data.join("keys").join("ledger.key");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&key), 0o600);
    assert_eq!(mode(&data.join("keys")), 0o700);
    let second = vkey_of_a_server_on(&data).await;
    assert_eq!(first, second, "a restart keeps the log's key");
    NoteVerifier::from_vkey(&first).unwrap();
}
