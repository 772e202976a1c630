//! `apiome-audit verify`, the real binary, against the real server: it
//! passes on an honest log full of grants, reads, revocations and
//! payments; it names the entry whose stored bytes were changed behind the
//! server's back; with `--state` it catches a log cut short and re-signed;
//! no attribute value ever reaches a ledger table or the entries API; and a
//! person's activity lists only their own entries, with proofs that verify.

#![allow(
    clippy::unwrap_used,
    reason = "test steps: a failed unwrap is a failed test"
)]

use std::path::Path;
use std::process::Output;

use apiome_tests::{TestApp, app_test};
use serde_json::{Value, json};
use store::Backend;

const PASSWORD: &str = "correct horse battery staple";

struct Auditor {
    id: String,
    secret: String,
    key: String,
}

struct Company {
    id: String,
    secret: String,
}

async fn auditor(app: &TestApp) -> Auditor {
    let server_key = server::admin::server_key(&app.data_dir()).unwrap();
    let made = server::admin::create_auditor(app.store(), &server_key, "Test Auditor")
        .await
        .unwrap();
    let key = app
        .http
        .get(app.url("/v1/ledger/public-key"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    Auditor {
        id: made.client_id,
        secret: made.client_secret,
        key,
    }
}

async fn company(app: &TestApp, name: &str) -> Company {
    let server_key = server::admin::server_key(&app.data_dir()).unwrap();
    let made = server::admin::create_company(
        app.store(),
        &server_key,
        name,
        &["http://localhost:9/cb".to_owned()],
    )
    .await
    .unwrap();
    Company {
        id: made.client_id,
        secret: made.client_secret,
    }
}

async fn token(app: &TestApp, id: &str, secret: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let response = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth(id, Some(secret))
        .form(form)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn company_token(app: &TestApp, company: &Company) -> String {
    let (status, body) = token(
        app,
        &company.id,
        &company.secret,
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

struct Person {
    token: String,
    cookie: String,
}

/// Signs a person up and records `attributes` as `(key, value, bucket)`.
async fn person(app: &TestApp, handle: &str, attributes: &[(&str, Value, &str)]) -> Person {
    // A busy machine may find every password-hashing slot taken: the
    // server answers 503 with Retry-After, and a client waits and retries.
    let mut tries = 0;
    let response = loop {
        let response = app
            .http
            .post(app.url("/v1/accounts"))
            .json(&json!({"handle": handle, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        tries += 1;
        if response.status() != 503 || tries == 10 {
            break response;
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    };
    assert!(response.status().is_success(), "{}", response.status());
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    let session = body["token"].as_str().unwrap().to_owned();
    for (key, value, bucket) in attributes {
        let response = app
            .http
            .put(app.url(&format!("/v1/me/attributes/{key}")))
            .bearer_auth(&session)
            .json(&json!({"value": value, "bucket": bucket}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{key}");
    }
    Person {
        token: session,
        cookie,
    }
}

/// Asks `handle` for `keys`, with an offer of `micros` EUR when set.
async fn ask(
    app: &TestApp,
    token: &str,
    handle: &str,
    keys: &[&str],
    micros: Option<u64>,
) -> Value {
    let mut details = json!({"type": "apiome_data", "attributes": keys,
        "purpose": "marketing", "duration": "P30D"});
    if let Some(micros) = micros {
        details["offer"] = json!({"amount_micros": micros, "currency": "EUR"});
    }
    let response = app
        .http
        .post(app.url("/v1/requests"))
        .bearer_auth(token)
        .json(&json!({"person": {"handle": handle}, "authorization_details": [details]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

/// The company's tokens for an approved request (the CIBA poll), then one read.
async fn read(app: &TestApp, company: &Company, request_id: &str) -> Value {
    let (status, tokens) = token(
        app,
        &company.id,
        &company.secret,
        &[
            ("grant_type", "urn:openid:params:grant-type:ciba"),
            ("auth_req_id", request_id),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    let response = app
        .http
        .get(app.url("/v1/data"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn decide(app: &TestApp, session: &str, request_id: &str, verb: &str) {
    let response = app
        .http
        .post(app.url(&format!("/v1/me/requests/{request_id}/{verb}")))
        .bearer_auth(session)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
}

/// Distinctive values that must never be found in the ledger.
const SECRET_EMAIL: &str = "quokka.zephyr.4471@example.org";
const SECRET_CITY: &str = "Xylophonville-Sur-Mer";
const SECRET_INTEREST: &str = "underwater-basket-weaving-9921";

/// Grants (at once and after approval), reads, a revocation, a decline and
/// payments: every kind of money entry and most consent ones.
async fn activity(app: &TestApp) -> (Company, Person) {
    let acme = company(app, "Acme Rewards").await;
    server::admin::fund_company(app.store(), &acme.id, "5", "EUR", None)
        .await
        .unwrap();
    let ada = person(
        app,
        "ada_lovelace",
        &[
            ("email", json!(SECRET_EMAIL), "semi_private"),
            ("location_city", json!(SECRET_CITY), "public"),
            ("interests", json!([SECRET_INTEREST]), "public"),
        ],
    )
    .await;
    let token = company_token(app, &acme).await;
    // Public attributes: granted at once, read twice.
    for _ in 0..3 {
        let asked = ask(
            app,
            &token,
            "ada_lovelace",
            &["location_city", "interests"],
            None,
        )
        .await;
        assert_eq!(asked["status"], "approved", "{asked}");
        let request_id = asked["request_id"].as_str().unwrap();
        let data = read(app, &acme, request_id).await;
        assert!(data.to_string().contains(SECRET_CITY), "{data}");
    }
    // A paid ask, approved, then read and revoked.
    let paid = ask(app, &token, "ada_lovelace", &["email"], Some(50_000)).await;
    assert_eq!(paid["status"], "pending", "{paid}");
    let paid_id = paid["request_id"].as_str().unwrap();
    decide(app, &ada.token, paid_id, "approve").await;
    let data = read(app, &acme, paid_id).await;
    assert!(data.to_string().contains(SECRET_EMAIL), "{data}");
    let grants: Value = app
        .http
        .get(app.url("/v1/me/grants"))
        .bearer_auth(&ada.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let grant_id = grants["items"].as_array().unwrap()[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoked = app
        .http
        .delete(app.url(&format!("/v1/me/grants/{grant_id}")))
        .bearer_auth(&ada.token)
        .send()
        .await
        .unwrap();
    assert!(revoked.status().is_success(), "{}", revoked.status());
    // A paid ask, declined: the reservation is voided.
    let declined = ask(app, &token, "ada_lovelace", &["email"], Some(70_000)).await;
    decide(
        app,
        &ada.token,
        declined["request_id"].as_str().unwrap(),
        "decline",
    )
    .await;
    (acme, ada)
}

async fn audit(app: &TestApp, auditor: &Auditor, state: Option<&Path>) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_apiome-audit"));
    command
        .arg("verify")
        .args(["--url", &app.base_url])
        .args(["--key", &auditor.key])
        .args(["--client-id", &auditor.id])
        // Secrets are base64url and may start with '-'.
        .args(["--client-secret", &auditor.secret]);
    if let Some(state) = state {
        command.arg("--state").arg(state);
    }
    command.output().await.unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Changes entry `index`'s stored leaf directly in the database, as an
/// insider with write access would, with `change`.
async fn tamper(app: &TestApp, index: u64, change: impl FnOnce(&mut Vec<u8>)) {
    let mut leaf = app.store().ledger_leaves(index, index + 1).await.unwrap()[0]
        .leaf
        .clone();
    change(&mut leaf);
    app.store()
        .execute_unprepared(&format!(
            "UPDATE ledger_entry SET leaf = {} WHERE idx = {index}",
            blob(app.store().backend(), &leaf)
        ))
        .await
        .unwrap();
}

/// A hex literal of `bytes` for this backend's SQL.
fn blob(backend: Backend, bytes: &[u8]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    match backend {
        Backend::Sqlite => format!("X'{hex}'"),
        Backend::Postgres => format!("'\\x{hex}'::bytea"),
    }
}

app_test!(
    verify_passes_on_an_honest_log_and_names_the_entry_changed_in_the_database,
    |app| {
        let auditor = auditor(app).await;
        activity(app).await;
        let size = app.store().ledger_size().await.unwrap();
        assert!(size > 20, "{size} entries");

        let passed = audit(app, &auditor, None).await;
        assert!(passed.status.success(), "{}", stderr(&passed));
        let summary = stdout(&passed);
        assert!(summary.starts_with("OK:"), "{summary}");
        assert!(summary.contains(&format!("tree size {size}")), "{summary}");
        assert!(summary.contains("balances ok"), "{summary}");

        // One byte of one stored leaf (the low byte of its timestamp, so it
        // still decodes) changed directly in the database.
        let victim = size / 2;
        tamper(app, victim, |leaf| leaf[9] ^= 0x01).await;
        let failed = audit(app, &auditor, None).await;
        assert!(!failed.status.success(), "{}", stdout(&failed));
        let message = stderr(&failed);
        assert!(
            message.contains(&format!("entry {victim}:")),
            "the failure names entry {victim}: {message}"
        );
        assert!(message.contains("altered after it was logged"), "{message}");

        // An earlier entry made undecodable (its version byte): the first
        // damaged entry is the one named, and the server still serves it.
        tamper(app, 3, |leaf| leaf[0] = 0x09).await;
        let failed = audit(app, &auditor, None).await;
        assert!(!failed.status.success(), "{}", stdout(&failed));
        let message = stderr(&failed);
        assert!(message.contains("entry 3:"), "{message}");
    }
);

app_test!(
    verify_with_state_catches_a_log_cut_short_and_re_signed,
    |app| {
        let auditor = auditor(app).await;
        let (acme, _) = activity(app).await;
        let state_dir = tempfile::tempdir().unwrap();
        let state = state_dir.path().join("checkpoint");
        let first = audit(app, &auditor, Some(&state)).await;
        assert!(first.status.success(), "{}", stderr(&first));
        let saved = std::fs::read_to_string(&state).unwrap();
        let size = app.store().ledger_size().await.unwrap();
        assert!(saved.contains(&format!("\n{size}\n")), "{saved}");

        // The log grows honestly: the second run proves it only grew.
        server::admin::fund_company(app.store(), &acme.id, "1", "EUR", None)
            .await
            .unwrap();
        let second = audit(app, &auditor, Some(&state)).await;
        assert!(second.status.success(), "{}", stderr(&second));
        assert!(
            stdout(&second).contains(&format!("previously verified checkpoint of size {size}")),
            "{}",
            stdout(&second)
        );
        let size = app.store().ledger_size().await.unwrap();

        // Someone with the database and the signing key cuts the last three
        // entries, drops the checkpoints and lets the server sign again.
        let kept = size - 3;
        let store = app.store();
        store
            .execute_unprepared(&format!("DELETE FROM ledger_entry WHERE idx >= {kept}"))
            .await
            .unwrap();
        for level in 1..64u32 {
            store
                .execute_unprepared(&format!(
                    "DELETE FROM ledger_node WHERE level = {level} AND idx >= {}",
                    kept >> level
                ))
                .await
                .unwrap();
        }
        store
            .execute_unprepared("DELETE FROM ledger_checkpoint")
            .await
            .unwrap();
        store
            .execute_unprepared(&format!("UPDATE ledger_head SET tree_size = {kept}"))
            .await
            .unwrap();
        let cut = audit(app, &auditor, Some(&state)).await;
        assert!(!cut.status.success(), "{}", stdout(&cut));
        assert!(stderr(&cut).contains("the log shrank"), "{}", stderr(&cut));

        // ... then writes new history past the old size: a rewrite.
        for _ in 0..5 {
            server::admin::fund_company(app.store(), &acme.id, "2", "EUR", None)
                .await
                .unwrap();
        }
        assert!(app.store().ledger_size().await.unwrap() > size);
        let rewritten = audit(app, &auditor, Some(&state)).await;
        assert!(!rewritten.status.success(), "{}", stdout(&rewritten));
        assert!(
            stderr(&rewritten).contains("not consistent with the last verified one"),
            "{}",
            stderr(&rewritten)
        );
        // Without the state file the rewritten log verifies: that is what
        // the state file is for.
        let fresh = audit(app, &auditor, None).await;
        assert!(fresh.status.success(), "{}", stderr(&fresh));
    }
);

app_test!(
    no_attribute_value_reaches_a_ledger_table_or_the_entries_api,
    |app| {
        let auditor = auditor(app).await;
        let (acme, _) = activity(app).await;
        let store = app.store();
        let size = store.ledger_size().await.unwrap();

        // Every column of every row of every ledger table, as text; binary
        // columns as hex, so a value is looked for as its hex too.
        let concat = match store.backend() {
            Backend::Sqlite => {
                "hex(leaf) || ' ' || hex(leaf_hash) \
                 || ' ' || kind || ' ' || CAST(idx AS TEXT) || ' ' || CAST(time_unix_ms AS TEXT) \
                 || ' ' || COALESCE(person, '')"
            }
            Backend::Postgres => {
                "encode(leaf, 'hex') || ' ' || encode(leaf_hash, 'hex') || ' ' || kind || ' ' || CAST(idx AS TEXT) || ' ' \
                 || CAST(time_unix_ms AS TEXT) || ' ' || COALESCE(person, '')"
            }
        };
        let (agg, hex_of) = match store.backend() {
            Backend::Sqlite => ("group_concat", "hex"),
            Backend::Postgres => ("string_agg", "encode"),
        };
        let sep = if agg == "group_concat" {
            "char(10)"
        } else {
            "E'\\n'"
        };
        let hash_col = |col: &str| {
            if hex_of == "hex" {
                format!("hex({col})")
            } else {
                format!("encode({col}, 'hex')")
            }
        };
        let dumps = [
            format!("SELECT {agg}({concat}, {sep}) FROM ledger_entry"),
            format!(
                "SELECT {agg}(CAST(level AS TEXT) || ' ' || CAST(idx AS TEXT) || ' ' || {}, {sep}) FROM ledger_node",
                hash_col("hash")
            ),
            format!(
                "SELECT {agg}(CAST(tree_size AS TEXT) || ' ' || {} || ' ' || note || ' ' || CAST(created_at AS TEXT), {sep}) FROM ledger_checkpoint",
                hash_col("root_hash")
            ),
            format!(
                "SELECT {agg}(CAST(id AS TEXT) || ' ' || CAST(tree_size AS TEXT), {sep}) FROM ledger_head"
            ),
        ];
        let mut dump = String::new();
        for sql in &dumps {
            dump.push_str(&store.query_text(sql).await.unwrap().unwrap_or_default());
            dump.push('\n');
        }
        assert!(
            dump.lines().count() as u64 >= size,
            "the dump has every entry"
        );
        let (status, body) = token(
            app,
            &auditor.id,
            &auditor.secret,
            &[("grant_type", "client_credentials")],
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let audit_token = body["access_token"].as_str().unwrap().to_owned();
        assert_eq!(body["scope"], "ledger:read", "auditors get ledger:read");
        let api = app
            .http
            .get(app.url(&format!("/v1/ledger/entries?start=0&end={size}")))
            .bearer_auth(&audit_token)
            .send()
            .await
            .unwrap();
        assert_eq!(api.status(), 200);
        let api = api.text().await.unwrap();
        assert!(
            api.contains("disclosure") && api.contains("location_city"),
            "{api}"
        );
        let hex = |s: &str| s.bytes().map(|b| format!("{b:02x}")).collect::<String>();
        for value in [SECRET_EMAIL, SECRET_CITY, SECRET_INTEREST] {
            for haystack in [&dump, &api] {
                assert!(!haystack.contains(value), "{value} leaked");
                assert!(
                    !haystack.to_lowercase().contains(&hex(value)),
                    "{value} leaked as hex"
                );
            }
        }

        // A company's token does not read the entries: 403 insufficient_scope.
        let company_token = company_token(app, &acme).await;
        let refused = app
            .http
            .get(app.url("/v1/ledger/entries?start=0&end=1"))
            .bearer_auth(&company_token)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 403);
        assert!(
            refused.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("insufficient_scope")
        );
        let (status, body) = token(
            app,
            &acme.id,
            &acme.secret,
            &[
                ("grant_type", "client_credentials"),
                ("scope", "ledger:read"),
            ],
        )
        .await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"], "invalid_scope");
        // Bad ranges are problems that say what is wrong.
        for (query, field) in [
            ("start=5&end=2", "end"),
            ("start=0&end=1001", "end"),
            ("start=x&end=2", "start"),
            ("end=2", "start"),
        ] {
            let response = app
                .http
                .get(app.url(&format!("/v1/ledger/entries?{query}")))
                .bearer_auth(&audit_token)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 400, "{query}");
            assert_eq!(
                response.headers()["content-type"],
                "application/problem+json"
            );
            let problem: Value = response.json().await.unwrap();
            assert!(problem.to_string().contains(field), "{query}: {problem}");
        }
        let beyond = app
            .http
            .get(app.url(&format!("/v1/ledger/entries?start=0&end={}", size + 1)))
            .bearer_auth(&audit_token)
            .send()
            .await
            .unwrap();
        assert_eq!(beyond.status(), 404);
        let anonymous = app
            .http
            .get(app.url("/v1/ledger/entries?start=0&end=1"))
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status(), 401);
    }
);

async fn my_activity(app: &TestApp, person: &Person, query: &str) -> Value {
    let response = app
        .http
        .get(app.url(&format!("/v1/me/activity{query}")))
        .bearer_auth(&person.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn b64_hash(text: &Value) -> ledger::Hash {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text.as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

app_test!(
    a_person_sees_only_their_own_entries_with_proofs_that_verify,
    |app| {
        let (acme, ada) = activity(app).await;
        let grace = person(
            app,
            "grace_hopper",
            &[("location_city", json!("Arlington-Secret-Town"), "public")],
        )
        .await;
        let token = company_token(app, &acme).await;
        let asked = ask(app, &token, "grace_hopper", &["location_city"], None).await;
        read(app, &acme, asked["request_id"].as_str().unwrap()).await;

        // Which entries name whom, read from the log itself.
        let store = app.store();
        let size = store.ledger_size().await.unwrap();
        let pseudonym = |handle: &str| {
            let handle = store::Handle::parse(handle).unwrap();
            async move { store.person_by_handle(&handle).await.unwrap().pseudonym }
        };
        let (ada_p, grace_p) = (
            pseudonym("ada_lovelace").await,
            pseudonym("grace_hopper").await,
        );
        let leaves = store.ledger_leaves(0, size).await.unwrap();
        let about = |p: &str| -> Vec<u64> {
            let mut indices: Vec<u64> = leaves
                .iter()
                .filter(|raw| {
                    ledger::Entry::decode(&raw.leaf)
                        .unwrap()
                        .kind
                        .person()
                        .is_some_and(|q| q.as_str() == p)
                })
                .map(|raw| raw.index)
                .collect();
            indices.reverse();
            indices
        };

        // The signed checkpoint, opened with the published key.
        let vkey = app
            .http
            .get(app.url("/v1/ledger/public-key"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let verifier = ledger::NoteVerifier::from_vkey(&vkey).unwrap();

        for (who, mine, theirs) in [(&ada, &ada_p, &grace_p), (&grace, &grace_p, &ada_p)] {
            let view = my_activity(app, who, "?limit=100").await;
            let items = view["items"].as_array().unwrap();
            let indices: Vec<u64> = items.iter().map(|i| i["index"].as_u64().unwrap()).collect();
            assert_eq!(
                indices,
                about(mine),
                "exactly their own entries, newest first"
            );
            assert!(indices.iter().all(|i| !about(theirs).contains(i)));
            let note = app
                .http
                .get(app.url("/v1/ledger/checkpoint"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let checkpoint = ledger::open_checkpoint(&note, &verifier).unwrap();
            assert_eq!(view["checkpoint"]["tree_size"], checkpoint.tree_size());
            assert_eq!(
                b64_hash(&view["checkpoint"]["root_hash"]),
                *checkpoint.root_hash()
            );
            for item in items {
                let index = item["index"].as_u64().unwrap();
                let leaf = &leaves[index as usize].leaf;
                assert_eq!(b64_hash(&item["leaf_hash"]), ledger::leaf_hash(leaf));
                let proof: Vec<ledger::Hash> = item["proof"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(b64_hash)
                    .collect();
                ledger::verify_inclusion(
                    &ledger::leaf_hash(leaf),
                    index,
                    checkpoint.tree_size(),
                    &proof,
                    checkpoint.root_hash(),
                )
                .expect("the proof verifies against the signed checkpoint");
                assert_eq!(item["verified"], true);
            }
            let text = view.to_string();
            for value in [
                SECRET_EMAIL,
                SECRET_CITY,
                SECRET_INTEREST,
                "Arlington-Secret-Town",
            ] {
                assert!(!text.contains(value), "{value} in the activity");
            }
        }
        let view = my_activity(app, &ada, "?limit=100").await;
        let kinds = view.to_string();
        for kind in [
            "disclosure",
            "grant_created",
            "grant_revoked",
            "request_made",
            "transfer_pending",
        ] {
            assert!(kinds.contains(kind), "{kind} in {kinds}");
        }
        assert!(kinds.contains("Acme Rewards") && kinds.contains("marketing"));
        assert!(kinds.contains("0.05 EUR"));

        // Pages of two, newest first, without repeats.
        let all = about(&ada_p);
        let mut seen = Vec::new();
        let mut query = "?limit=2".to_owned();
        loop {
            let page = my_activity(app, &ada, &query).await;
            seen.extend(
                page["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i["index"].as_u64().unwrap()),
            );
            match page["next_cursor"].as_str() {
                Some(cursor) => query = format!("?limit=2&cursor={cursor}"),
                None => break,
            }
        }
        assert_eq!(seen, all);

        // The page: a timeline with the server's marks (what a reader without
        // script sees) and one same-origin script, the browser's own check.
        let page = app
            .http
            .get(app.url("/activity"))
            .header("cookie", &ada.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(
            html.contains("Acme Rewards") && html.contains("verified"),
            "{html}"
        );
        assert_eq!(html.matches("&#10003; verified").count(), all.len().min(50));
        assert_eq!(html.matches("<script").count(), 1, "one script: {html}");
        assert!(
            html.contains("<script src=\"/static/ledger-check.")
                && html.contains("integrity=\"sha256-")
                && html.contains("></script>"),
            "only the same-origin checker, by hash: {html}"
        );
        assert!(!html.contains(SECRET_CITY));
        let dashboard = app
            .http
            .get(app.url("/dashboard"))
            .header("cookie", &ada.cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(dashboard.contains("href=\"/activity\""));
        let anonymous = app
            .http
            .get(app.url("/v1/me/activity"))
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status(), 401);
    }
);

/// Revoke one grant of `person`'s through the API.
async fn revoke(app: &TestApp, session: &str, grant_id: &str) {
    let revoked = app
        .http
        .delete(app.url(&format!("/v1/me/grants/{grant_id}")))
        .bearer_auth(session)
        .send()
        .await
        .unwrap();
    assert!(revoked.status().is_success(), "{}", revoked.status());
}

/// One person's day: every company asks for public data (granted at once,
/// read, every fifth grant revoked) and makes a paid offer for the email
/// (two of three approved, the third declined).
async fn a_persons_day(app: &TestApp, companies: &[(Company, String)], p: usize) -> (u64, u64) {
    let handle = format!("day_person_{p}");
    let me = person(
        app,
        &handle,
        &[
            (
                "email",
                json!(format!("day{p}@example.org")),
                "semi_private",
            ),
            ("location_city", json!("Lyon"), "public"),
        ],
    )
    .await;
    let (mut grants, mut payments) = (0, 0);
    for round in 0..4 {
        for (c, (company, token)) in companies.iter().enumerate() {
            let asked = ask(app, token, &handle, &["location_city"], None).await;
            assert_eq!(asked["status"], "approved", "{asked}");
            let data = read(app, company, asked["request_id"].as_str().unwrap()).await;
            grants += 1;
            if (round + c + p).is_multiple_of(5) {
                revoke(app, &me.token, data["grant_id"].as_str().unwrap()).await;
            }
            let paid = ask(
                app,
                token,
                &handle,
                &["email"],
                Some(10_000 + 1_000 * c as u64),
            )
            .await;
            assert_eq!(paid["status"], "pending", "{paid}");
            let paid_id = paid["request_id"].as_str().unwrap();
            if (round + c) % 3 == 2 {
                decide(app, &me.token, paid_id, "decline").await;
            } else {
                decide(app, &me.token, paid_id, "approve").await;
                read(app, company, paid_id).await;
                grants += 1;
                payments += 1;
            }
        }
    }
    (grants, payments)
}

app_test!(
    a_scripted_day_of_activity_verifies_and_one_changed_byte_is_named,
    |app| {
        const PEOPLE: usize = 12;
        let auditor = auditor(app).await;
        let mut companies = Vec::new();
        for name in ["Acme Rewards", "Globex Travel", "Initech Insurance"] {
            let company = company(app, name).await;
            server::admin::fund_company(app.store(), &company.id, "50", "EUR", None)
                .await
                .unwrap();
            let token = company_token(app, &company).await;
            companies.push((company, token));
        }
        let days = (0..PEOPLE).map(|p| a_persons_day(app, &companies, p));
        let done = futures::future::join_all(days).await;
        let grants: u64 = done.iter().map(|d| d.0).sum();
        let payments: u64 = done.iter().map(|d| d.1).sum();
        assert!(grants >= 200, "{grants} grants");

        let passed = audit(app, &auditor, None).await;
        assert!(passed.status.success(), "{}", stderr(&passed));
        let size = app.store().ledger_size().await.unwrap();
        let summary = stdout(&passed);
        assert!(summary.contains(&format!("tree size {size}")), "{summary}");
        assert!(summary.contains("balances ok"), "{summary}");
        println!("day: {grants} grants, {payments} payments, {size} entries: {summary}");

        // One byte of one entry, chosen from the middle of the day.
        let victim = size * 2 / 3;
        tamper(app, victim, |leaf| leaf[9] ^= 0x40).await;
        let failed = audit(app, &auditor, None).await;
        assert!(!failed.status.success(), "{}", stdout(&failed));
        let message = stderr(&failed);
        assert!(
            message.contains(&format!("entry {victim}:")),
            "the failure names entry {victim}: {message}"
        );
    }
);

async fn audit_at(base_url: &str, auditor: &Auditor, state: &Path) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_apiome-audit"))
        .arg("verify")
        .args(["--url", base_url])
        .args(["--key", &auditor.key])
        .args(["--client-id", &auditor.id])
        .args(["--client-secret", &auditor.secret])
        .arg("--state")
        .arg(state)
        .output()
        .await
        .unwrap()
}

/// `apiome backup` while companies keep asking and reading, then a restore
/// into a fresh data directory (with the keys copied, as the operator is
/// told to): the restored server's log passes `apiome-audit verify`, and is
/// consistent with what the auditor saw before the backup.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_serving_restores_to_a_log_that_verifies() {
    let app = TestApp::sqlite().await;
    let auditor = auditor(&app).await;
    let (acme, _) = activity(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("audit.state");
    let before = audit_at(&app.base_url, &auditor, &state).await;
    assert!(before.status.success(), "{}", stderr(&before));

    // Load while the backup runs.
    let token = company_token(&app, &acme).await;
    let load = async {
        for _ in 0..30 {
            let asked = ask(&app, &token, "ada_lovelace", &["location_city"], None).await;
            read(&app, &acme, asked["request_id"].as_str().unwrap()).await;
        }
    };
    let file = dir.path().join("apiome.backup");
    let url = store::DatabaseUrl::Sqlite(app.data_dir().join("apiome.db"));
    let (_, report) = tokio::join!(load, server::backup::backup(app.store(), &url, &file));
    let report = report.unwrap();
    assert_eq!(report.database, "sqlite");
    assert!(report.bytes > 0);
    assert!(matches!(
        server::backup::backup(app.store(), &url, &file).await,
        Err(server::backup::BackupError::Exists(_))
    ));

    // A fresh machine: the keys copied from the old one, the backup restored.
    let restored = dir.path().join("restored");
    std::fs::create_dir_all(restored.join("keys")).unwrap();
    for key in std::fs::read_dir(app.data_dir().join("keys")).unwrap() {
        let key = key.unwrap().path();
        std::fs::copy(&key, restored.join("keys").join(key.file_name().unwrap())).unwrap();
    }
    let database = store::DatabaseUrl::Sqlite(restored.join("apiome.db"));
    server::backup::restore(&database, &file, false).unwrap();
    assert!(matches!(
        server::backup::restore(&database, &file, false),
        Err(server::backup::BackupError::WouldReplace(_))
    ));
    assert!(matches!(
        server::backup::restore(&database, &state, true),
        Err(server::backup::BackupError::NotSqlite(_))
    ));
    let restored_database = database.clone();
    let config = server::config::Config::for_tests(restored.clone(), database);
    let server = server::startup::Application::build(config).await.unwrap();
    let base_url = format!("http://localhost:{}", server.port());
    let handle = server.stop_handle();
    tokio::spawn(server.run_until_stopped());

    let after = audit_at(&base_url, &auditor, &state).await;
    assert!(after.status.success(), "{}", stderr(&after));
    let summary = stdout(&after);
    assert!(summary.contains("balances ok"), "{summary}");
    // Not over the database the restored server is writing, even with
    // --force.
    assert!(matches!(
        server::backup::restore(&restored_database, &file, true),
        Err(server::backup::BackupError::Store(
            store::StoreError::InUse { .. }
        ))
    ));
    handle.stop(true).await;
    app.stop().await;
}
