//! The `apiome` binary as an operator meets it: bad settings fail fast on
//! one line, `serve` comes up healthy and stops cleanly on SIGTERM, and
//! `openapi` prints the committed document.

#![allow(
    clippy::unwrap_used,
    reason = "test steps: a failed unwrap is a failed test"
)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const APIOME: &str = env!("CARGO_BIN_EXE_apiome");

fn apiome(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(APIOME);
    command
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("APIOME_BIND");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("run apiome")
}

/// The process failed with exactly one line on stderr, starting `apiome: `.
fn assert_one_line_failure(output: &Output, expected: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "succeeded: {stderr}");
    let lines: Vec<_> = stderr.lines().filter(|l| !l.contains(" INFO ")).collect();
    assert_eq!(lines.len(), 1, "expected one line, got: {stderr}");
    assert!(lines[0].starts_with("apiome: "), "{stderr}");
    assert!(lines[0].contains(expected), "{stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
}

#[test]
fn an_unparseable_bind_address_exits_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let output = apiome(&["serve", "--bind", "nonsense", "--data-dir", data], &[]);
    assert_one_line_failure(&output, "invalid bind address \"nonsense\"");
    let output = apiome(
        &[],
        &[
            ("APIOME_BIND", "127.0.0.1:notaport"),
            ("APIOME_DATA_DIR", data),
        ],
    );
    assert_one_line_failure(&output, "set --bind or APIOME_BIND");
}

#[test]
fn an_unwritable_data_dir_exits_with_one_line() {
    let output = apiome(&["serve"], &[("APIOME_DATA_DIR", "/proc/forbidden")]);
    assert_one_line_failure(&output, "cannot use the data directory /proc/forbidden");
}

#[test]
fn an_unreachable_database_exits_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let output = apiome(
        &["serve", "--data-dir", dir.path().to_str().unwrap()],
        &[(
            "DATABASE_URL",
            "postgres://apiome:secret@127.0.0.1:1/apiome",
        )],
    );
    assert_one_line_failure(
        &output,
        "cannot reach the database at postgres://apiome:***@127.0.0.1:1/apiome",
    );
    assert!(!String::from_utf8_lossy(&output.stderr).contains("secret"));
}

#[test]
fn an_unsupported_database_url_exits_with_one_line() {
    let output = apiome(
        &["migrate"],
        &[("DATABASE_URL", "mysql://root@localhost/x")],
    );
    assert_one_line_failure(&output, "unsupported database URL");
}

#[test]
fn openapi_prints_the_committed_document() {
    let output = apiome(&["openapi"], &[]);
    assert!(output.status.success());
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../openapi/openapi.json");
    let committed = std::fs::read_to_string(&committed).expect("openapi/openapi.json exists");
    assert!(
        String::from_utf8_lossy(&output.stdout) == committed,
        "openapi/openapi.json is stale: run `cargo run -p server -- openapi > openapi/openapi.json`"
    );
}

#[test]
fn migrate_creates_the_database_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let output = apiome(
        &["migrate", "--data-dir", dir.path().to_str().unwrap()],
        &[],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(dir.path().join("apiome.db").exists());
}

#[test]
fn serve_is_healthy_then_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut child = Command::new(APIOME)
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--admin-bind",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(&data)
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut port = None;
    let mut line = String::new();
    while port.is_none() && Instant::now() < deadline {
        line.clear();
        if stderr.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if line.contains("apiome is serving") {
            port = line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("port="))
                .and_then(|p| p.parse::<u16>().ok());
        }
    }
    let port = port.expect("the server logs its port");

    let health = get(port, "/healthz");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.contains(r#""database":"sqlite""#), "{health}");

    // the data directory and the database are the owner's alone
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("apiome.db")), 0o600);

    // One server per SQLite file: a second is refused, and so is a restore
    // over the file the first is writing.
    let data_arg = data.to_str().unwrap();
    let second = apiome(
        &[
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--admin-bind",
            "127.0.0.1:0",
            "--data-dir",
            data_arg,
        ],
        &[],
    );
    assert_one_line_failure(&second, "is in use by another apiome process");
    let backup = dir.path().join("apiome.backup");
    std::fs::copy(data.join("apiome.db"), &backup).unwrap();
    let restore = apiome(
        &[
            "restore",
            "--from",
            backup.to_str().unwrap(),
            "--force",
            "--data-dir",
            data_arg,
        ],
        &[],
    );
    assert_one_line_failure(&restore, "is in use by another apiome process");
    let health = get(port, "/healthz");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "exit status {exit}");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert!(rest.contains("apiome stopped"), "{rest}");
}

#[test]
fn ledger_public_key_is_made_once_then_printed_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let first = apiome(&["ledger", "public-key", "--data-dir", data], &[]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let vkey = String::from_utf8(first.stdout).unwrap();
    assert!(vkey.starts_with("localhost/apiome-ledger+"), "{vkey}");
    assert_eq!(vkey.lines().count(), 1);
    let second = apiome(&["ledger", "public-key", "--data-dir", data], &[]);
    assert_eq!(String::from_utf8(second.stdout).unwrap(), vkey);

    use std::os::unix::fs::PermissionsExt;
    let key = Path::new(data).join("keys/ledger.key");
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn a_corrupt_ledger_key_exits_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("keys")).unwrap();
    std::fs::write(data.join("keys/ledger.key"), "not a key\n").unwrap();
    let data = data.to_str().unwrap();
    assert_one_line_failure(
        &apiome(&["ledger", "public-key", "--data-dir", data], &[]),
        "ledger.key is corrupt",
    );
    assert_one_line_failure(
        &apiome(
            &[
                "serve",
                "--bind",
                "127.0.0.1:0",
                "--admin-bind",
                "127.0.0.1:0",
                "--data-dir",
                data,
            ],
            &[],
        ),
        "ledger.key is corrupt",
    );
}

/// A minimal HTTP/1.1 GET, so this test needs no client library.
fn get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// Runs `apiome` on the SQLite database in `data`, expecting success;
/// returns stdout.
fn apiome_ok(data: &Path, args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.extend(["--data-dir", data.to_str().unwrap()]);
    let output = apiome(&all, &[]);
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn company_create_prints_a_secret_once_and_list_never_does() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let created: serde_json::Value = serde_json::from_str(&apiome_ok(
        &data,
        &[
            "company",
            "create",
            "--name",
            "Acme Corp",
            "--redirect-uri",
            "https://acme.example/cb",
            "--redirect-uri",
            "http://localhost:9000/cb",
        ],
    ))
    .unwrap();
    let client_id = created["client_id"].as_str().unwrap();
    let secret = created["client_secret"].as_str().unwrap();
    assert!(
        client_id.starts_with("c_") && secret.len() >= 43,
        "{created}"
    );
    assert_eq!(created["redirect_uris"].as_array().unwrap().len(), 2);

    let listed = apiome_ok(&data, &["company", "list"]);
    let lines: Vec<serde_json::Value> = listed
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["client_id"], client_id);
    assert_eq!(lines[0]["client_name"], "Acme Corp");
    assert!(!listed.contains(secret), "the secret is never listed");
    let db = std::fs::read(data.join("apiome.db")).unwrap();
    assert!(
        !db.windows(secret.len()).any(|w| w == secret.as_bytes()),
        "the secret is stored only as a hash"
    );

    let output = apiome(
        &[
            "company",
            "create",
            "--name",
            "Evil",
            "--redirect-uri",
            "http://evil.example/cb",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &[],
    );
    assert_one_line_failure(&output, "https");
}

#[test]
fn registration_tokens_auditors_and_key_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token: serde_json::Value =
        serde_json::from_str(&apiome_ok(&data, &["company", "registration-token"])).unwrap();
    assert!(token["initial_access_token"].as_str().unwrap().len() >= 43);
    assert!(token["expires_at"].as_u64().unwrap() > 0);

    let auditor: serde_json::Value = serde_json::from_str(&apiome_ok(
        &data,
        &["auditor", "create", "--name", "Audit LLP"],
    ))
    .unwrap();
    assert_eq!(
        auditor["grant_types"],
        serde_json::json!(["client_credentials"])
    );
    assert!(auditor["client_secret"].is_string());
    assert_eq!(
        apiome_ok(&data, &["company", "list"]),
        "",
        "auditors are not companies"
    );

    let first: serde_json::Value =
        serde_json::from_str(&apiome_ok(&data, &["keys", "rotate"])).unwrap();
    let second: serde_json::Value =
        serde_json::from_str(&apiome_ok(&data, &["keys", "rotate"])).unwrap();
    assert_ne!(first["signing_kid"], second["signing_kid"]);
    let kids = second["kids"].as_array().unwrap();
    assert_eq!(kids[0], second["signing_kid"], "the newest signs");
    assert!(
        kids.contains(&first["signing_kid"]),
        "older keys keep verifying"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(data.join("keys").join("oauth-server.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // The signing keys are in the database (sealed), not in a file.
    assert!(!data.join("keys").join("oauth-signing.json").exists());
}

#[test]
fn company_fund_credits_once_per_transfer_id_and_explains_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let created: serde_json::Value = serde_json::from_str(&apiome_ok(
        &data,
        &[
            "company",
            "create",
            "--name",
            "Acme Corp",
            "--redirect-uri",
            "https://acme.example/cb",
        ],
    ))
    .unwrap();
    let client_id = created["client_id"].as_str().unwrap();
    let fund = |amount: &str| {
        let report: serde_json::Value = serde_json::from_str(&apiome_ok(
            &data,
            &[
                "company",
                "fund",
                client_id,
                amount,
                "EUR",
                "--transfer-id",
                "bank-ref-1",
            ],
        ))
        .unwrap();
        report
    };
    let first = fund("12.50");
    assert_eq!(first["status"], "credited", "{first}");
    assert_eq!(first["amount"], "12.50 EUR");
    assert_eq!(first["amount_micros"], 12_500_000);
    assert_eq!(first["available"], "12.50 EUR");
    let retry = fund("12.50");
    assert_eq!(
        retry["status"], "already_credited",
        "a retry credits nothing"
    );
    assert_eq!(retry["available"], "12.50 EUR");

    let random: serde_json::Value = serde_json::from_str(&apiome_ok(
        &data,
        &["company", "fund", client_id, "0.05", "EUR"],
    ))
    .unwrap();
    assert!(random["transfer_id"].as_str().unwrap().starts_with("fund:"));
    assert_eq!(random["available"], "12.55 EUR");

    let data_dir = data.to_str().unwrap();
    for (args, expected) in [
        (vec![client_id, "12.50", "EUR"], ""),
        (vec![client_id, "1,000", "EUR"], "not an amount"),
        (vec![client_id, "-1", "EUR"], "not an amount"),
        (vec![client_id, "0", "EUR"], "greater than zero"),
        (vec![client_id, "1", "XYZ"], "ISO 4217"),
        (vec!["c_nobody", "1", "EUR"], "apiome company list"),
    ] {
        if expected.is_empty() {
            // same transfer id, different amount: refused
            let output = apiome(
                &[
                    "company",
                    "fund",
                    args[0],
                    "99",
                    "EUR",
                    "--transfer-id",
                    "bank-ref-1",
                    "--data-dir",
                    data_dir,
                ],
                &[],
            );
            assert_one_line_failure(&output, "different transfer");
            continue;
        }
        let mut all = vec!["company", "fund"];
        all.extend(args);
        all.extend(["--data-dir", data_dir]);
        assert_one_line_failure(&apiome(&all, &[]), expected);
    }
}

#[test]
fn company_webhooks_are_set_shown_with_their_secret_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let created: serde_json::Value = serde_json::from_str(&apiome_ok(
        &data,
        &[
            "company",
            "create",
            "--name",
            "Acme Corp",
            "--redirect-uri",
            "https://acme.example/cb",
            "--webhook-url",
            "https://acme.example/hooks/apiome",
        ],
    ))
    .unwrap();
    assert_eq!(created["webhook_url"], "https://acme.example/hooks/apiome");
    let secret = created["webhook_secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"), "{created}");
    let client_id = created["client_id"].as_str().unwrap();

    // The secret is made once: moving the URL keeps it.
    let moved: serde_json::Value = serde_json::from_str(&apiome_ok(
        &data,
        &[
            "company",
            "webhook",
            client_id,
            "--url",
            "https://hooks.acme.example/v2",
        ],
    ))
    .unwrap();
    assert_eq!(moved["webhook_url"], "https://hooks.acme.example/v2");
    assert_eq!(moved["webhook_secret"], secret);

    // A rotation makes a new one; the old one signs for a day more.
    let rotated: serde_json::Value = serde_json::from_str(&apiome_ok(
        &data,
        &["company", "rotate-webhook-secret", client_id],
    ))
    .unwrap();
    let new_secret = rotated["webhook_secret"].as_str().unwrap();
    assert!(
        new_secret.starts_with("whsec_") && new_secret != secret,
        "{rotated}"
    );
    assert!(
        rotated["previous_secret_signs_until"].is_string(),
        "{rotated}"
    );

    let removed: serde_json::Value = serde_json::from_str(&apiome_ok(
        &data,
        &["company", "webhook", client_id, "--remove"],
    ))
    .unwrap();
    assert!(removed["webhook_url"].is_null(), "{removed}");

    let data_dir = data.to_str().unwrap();
    for (args, expected) in [
        (
            vec![
                "company",
                "webhook",
                client_id,
                "--url",
                "http://acme.example/h",
            ],
            "https://",
        ),
        (
            vec![
                "company",
                "webhook",
                client_id,
                "--url",
                "https://192.168.1.9/h",
            ],
            "private",
        ),
        (
            vec![
                "company",
                "webhook",
                "c_nobody",
                "--url",
                "https://acme.example/h",
            ],
            "apiome company list",
        ),
    ] {
        let mut all = args.clone();
        all.extend(["--data-dir", data_dir]);
        assert_one_line_failure(&apiome(&all, &[]), expected);
    }
}

/// Signs people up straight in the store of `data` (the binary made it).
fn sign_up(data: &Path, handles: &[&str]) {
    let url = store::DatabaseUrl::parse(&format!("sqlite://{}", data.join("apiome.db").display()))
        .unwrap();
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = store::Store::open(&url, store::testing::test_keys())
            .await
            .unwrap();
        for handle in handles {
            let handle = store::Handle::parse(handle).unwrap();
            store.create_person(&handle).await.unwrap();
        }
        store.close().await.unwrap();
    });
}

#[test]
fn people_are_listed_and_shown_without_what_they_share() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    apiome_ok(&data, &["migrate"]);
    sign_up(&data, &["alice", "bob", "carol"]);

    let listed = apiome_ok(&data, &["person", "list"]);
    let people: Vec<serde_json::Value> = listed
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let handles: Vec<&str> = people
        .iter()
        .map(|p| p["handle"].as_str().unwrap())
        .collect();
    assert_eq!(handles, ["alice", "bob", "carol"], "in sign-up order");
    assert!(people[0]["pseudonym"].as_str().unwrap().starts_with("p-"));

    let after = apiome_ok(&data, &["person", "list", "--after", "alice"]);
    assert_eq!(after.lines().count(), 2, "{after}");
    assert!(!after.contains("\"alice\""), "{after}");

    let bob: serde_json::Value =
        serde_json::from_str(&apiome_ok(&data, &["person", "show", "bob"])).unwrap();
    assert_eq!(bob["handle"], "bob");
    assert_eq!(bob["live_grants"], 0);
    let by_id: serde_json::Value = serde_json::from_str(&apiome_ok(
        &data,
        &["person", "show", bob["id"].as_str().unwrap()],
    ))
    .unwrap();
    assert_eq!(by_id, bob, "a person is found by id as by handle");

    let data_arg = data.to_str().unwrap();
    let output = apiome(&["person", "show", "mallory", "--data-dir", data_arg], &[]);
    assert_one_line_failure(&output, "no person with handle or id mallory");
    let output = apiome(
        &[
            "person",
            "list",
            "--after",
            "mallory",
            "--data-dir",
            data_arg,
        ],
        &[],
    );
    assert_one_line_failure(&output, "no person with handle or id mallory");
}

#[test]
fn company_show_and_auditor_list_name_what_they_hold_and_unknowns_fail() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let created: serde_json::Value = serde_json::from_str(&apiome_ok(
        &data,
        &[
            "company",
            "create",
            "--name",
            "Acme",
            "--redirect-uri",
            "https://acme.example/cb",
        ],
    ))
    .unwrap();
    let client_id = created["client_id"].as_str().unwrap();
    let secret = created["client_secret"].as_str().unwrap();
    apiome_ok(&data, &["company", "fund", client_id, "10.50", "EUR"]);

    let shown = apiome_ok(&data, &["company", "show", client_id]);
    assert!(!shown.contains(secret), "the secret is never shown again");
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["client_id"], client_id);
    assert_eq!(shown["client_name"], "Acme");
    assert_eq!(shown["live_grants"], 0);
    assert_eq!(shown["wallet"][0]["available"], "10.50 EUR");

    let auditor: serde_json::Value = serde_json::from_str(&apiome_ok(
        &data,
        &["auditor", "create", "--name", "Audit LLP"],
    ))
    .unwrap();
    let auditors = apiome_ok(&data, &["auditor", "list"]);
    let listed: serde_json::Value = serde_json::from_str(auditors.trim()).unwrap();
    assert_eq!(listed["client_id"], auditor["client_id"]);
    assert_eq!(listed["client_name"], "Audit LLP");
    assert!(!auditors.contains(auditor["client_secret"].as_str().unwrap()));

    let data_arg = data.to_str().unwrap();
    let output = apiome(
        &["company", "show", "c_nobody", "--data-dir", data_arg],
        &[],
    );
    assert_one_line_failure(&output, "no company with client id c_nobody");
    let output = apiome(
        &[
            "company",
            "show",
            auditor["client_id"].as_str().unwrap(),
            "--data-dir",
            data_arg,
        ],
        &[],
    );
    assert_one_line_failure(&output, "is an auditor, not a company");
}

#[test]
fn company_create_sandbox_makes_a_company_funded_in_xts_only() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let created: serde_json::Value = serde_json::from_str(&apiome_ok(
        &data,
        &[
            "company",
            "create",
            "--sandbox",
            "--name",
            "Sandbox Shop",
            "--redirect-uri",
            "http://localhost:9000/cb",
        ],
    ))
    .unwrap();
    assert_eq!(created["sandbox"], true, "{created}");
    let client_id = created["client_id"].as_str().unwrap();
    let real: serde_json::Value = serde_json::from_str(&apiome_ok(
        &data,
        &[
            "company",
            "create",
            "--name",
            "Real Shop",
            "--redirect-uri",
            "http://localhost:9000/cb",
        ],
    ))
    .unwrap();
    assert!(real.get("sandbox").is_none(), "{real}");
    let real_id = real["client_id"].as_str().unwrap();

    let funded: serde_json::Value = serde_json::from_str(&apiome_ok(
        &data,
        &["company", "fund", client_id, "100", "XTS"],
    ))
    .unwrap();
    assert_eq!(funded["amount"], "100.00 XTS");
    let shown: serde_json::Value =
        serde_json::from_str(&apiome_ok(&data, &["company", "show", client_id])).unwrap();
    assert_eq!(shown["sandbox"], true);
    assert_eq!(shown["wallet"][0]["available"], "100.00 XTS");

    let data_dir = data.to_str().unwrap();
    let refused = apiome(
        &[
            "company",
            "fund",
            client_id,
            "1",
            "EUR",
            "--data-dir",
            data_dir,
        ],
        &[],
    );
    assert_one_line_failure(&refused, "XTS");
    let refused = apiome(
        &[
            "company",
            "fund",
            real_id,
            "1",
            "XTS",
            "--data-dir",
            data_dir,
        ],
        &[],
    );
    assert_one_line_failure(&refused, "sandbox");
}
