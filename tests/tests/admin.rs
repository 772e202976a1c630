//! The operator's commands, run as the real `apiome` binary against a
//! live server on the same database: `company disable|enable|delete|
//! rotate-secret`, `auditor revoke`, `person suspend|unsuspend`. Each
//! takes effect at the server's next request (it caches client records);
//! a disabled company hammering the token endpoint and `/v1/data` gets
//! nothing once the command returns; a forced delete keeps the books
//! balanced (`apiome-audit` verifies); unknown names exit non-zero naming
//! them. Both engines; a second `apiome serve` process on PostgreSQL.

#![allow(
    clippy::unwrap_used,
    reason = "test steps: a failed unwrap is a failed test"
)]

use std::process::Output;
use std::sync::Arc;
use std::time::{Duration, Instant};

use apiome_tests::{Company, PASSWORD, TestApp, app_test, workspace_binary};
use ledger::EntryKind;
use serde_json::{Value, json};

/// What each person of these tests shares (`(key, value, bucket)`): two
/// public attributes, so a request for them is granted at once.
const SHARES: &[(&str, &str, &str)] = &[
    ("display_name", "Ada", "public"),
    ("location_city", "London", "public"),
];

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs `apiome ARGS`, which must succeed; its JSON output.
async fn ok(app: &TestApp, args: &[&str]) -> Value {
    let output = app.cli(args).await;
    assert!(
        output.status.success(),
        "apiome {args:?} failed: {}",
        stderr(&output)
    );
    serde_json::from_str(&stdout(&output)).unwrap()
}

/// Runs `apiome ARGS`, which must fail; its standard error.
async fn refused(app: &TestApp, args: &[&str]) -> String {
    let output = app.cli(args).await;
    assert!(
        !output.status.success(),
        "apiome {args:?} should have failed: {}",
        stdout(&output)
    );
    stderr(&output)
}

async fn ask(app: &TestApp, token: &str, handle: &str, details: Value) -> (u16, Value) {
    let response = app
        .http
        .post(app.url("/v1/requests"))
        .bearer_auth(token)
        .json(&json!({"person": {"handle": handle}, "authorization_details": [details]}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn public_details() -> Value {
    json!({"type": "apiome_data", "attributes": ["display_name", "location_city"],
           "purpose": "service_provision", "duration": "P30D"})
}

/// A grant of both attributes to `company`, and its tokens (CIBA poll).
async fn granted(app: &TestApp, company: &Company, handle: &str) -> (String, Value) {
    let token = app.company_token(company).await;
    let (status, asked) = ask(app, &token, handle, public_details()).await;
    assert_eq!(
        (status, asked["status"].as_str()),
        (201, Some("approved")),
        "{asked}"
    );
    let (status, tokens) = app
        .token_form(
            company,
            &[
                ("grant_type", "urn:openid:params:grant-type:ciba"),
                ("auth_req_id", asked["request_id"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(status, 200, "{tokens}");
    (asked["grant_id"].as_str().unwrap().to_owned(), tokens)
}

async fn client_credentials(app: &TestApp, company: &Company) -> (u16, Value) {
    app.token_form(company, &[("grant_type", "client_credentials")])
        .await
}

async fn read(app: &TestApp, token: &str) -> u16 {
    app.http
        .get(app.url("/v1/data"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn introspect(app: &TestApp, company: &Company, token: &str) -> (u16, Value) {
    token_form_at(app, "/oauth/introspect", company, &[("token", token)]).await
}

async fn token_form_at(
    app: &TestApp,
    path: &str,
    company: &Company,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let response = app
        .http
        .post(app.url(path))
        .basic_auth(&company.id, Some(&company.secret))
        .form(form)
        .send()
        .await
        .unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

/// Every ledger entry, decoded.
async fn entries(app: &TestApp) -> Vec<ledger::Entry> {
    let size = app.store().ledger_size().await.unwrap();
    app.store()
        .ledger_entries(0, size)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.entry)
        .collect()
}

app_test!(
    a_disabled_company_gets_nothing_until_enabled_and_its_old_tokens_stay_dead,
    |app| {
        app.person_with("ada", SHARES).await;
        let acme = app.company("Acme").await;
        let (_, tokens) = granted(app, &acme, "ada").await;
        let access = tokens["access_token"].as_str().unwrap();
        let refresh = tokens["refresh_token"].as_str().unwrap();
        assert_eq!(read(app, access).await, 200);
        assert_eq!(introspect(app, &acme, access).await.1["active"], true);

        let done = ok(app, &["company", "disable", &acme.id]).await;
        assert_eq!(
            done,
            json!({"id": acme.id, "status": "disabled", "changed": true})
        );
        // At once: no token, no read, no refresh, no request.
        let (status, body) = client_credentials(app, &acme).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_client"))
        );
        assert_eq!(read(app, access).await, 401);
        let requests = app
            .http
            .get(app.url("/v1/requests/unknown"))
            .bearer_auth(access)
            .send()
            .await
            .unwrap();
        assert_eq!(requests.status(), 401);
        let (status, body) = app
            .token_form(
                &acme,
                &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
            )
            .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_client"))
        );
        // A second disable changes nothing and logs nothing.
        let again = ok(app, &["company", "disable", &acme.id]).await;
        assert_eq!(again["changed"], false);
        let shown = ok(app, &["company", "show", &acme.id]).await;
        assert_eq!(shown["status"], "disabled");

        let enabled = ok(app, &["company", "enable", &acme.id]).await;
        assert_eq!(enabled["status"], "active");
        // New tokens work; those issued before the disable stay dead.
        let (status, fresh) = client_credentials(app, &acme).await;
        assert_eq!(status, 200, "{fresh}");
        let fresh = fresh["access_token"].as_str().unwrap();
        assert_eq!(introspect(app, &acme, fresh).await.1["active"], true);
        assert_eq!(introspect(app, &acme, access).await.1["active"], false);
        assert_eq!(read(app, access).await, 401);
        let (status, body) = app
            .token_form(
                &acme,
                &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
            )
            .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant"))
        );

        let kinds: Vec<&str> = entries(app)
            .await
            .iter()
            .map(|e| e.kind.name())
            .filter(|k| k.starts_with("company_"))
            .collect::<Vec<_>>()
            .into_iter()
            .collect();
        assert_eq!(kinds, ["company_disabled", "company_enabled"]);
    }
);

app_test!(
    a_disabled_company_hammering_token_and_data_gets_nothing_after_the_command,
    |app| {
        app.person_with("ada", SHARES).await;
        let acme = app.company("Acme").await;
        let (_, tokens) = granted(app, &acme, "ada").await;
        let access = Arc::new(tokens["access_token"].as_str().unwrap().to_owned());
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut attackers = Vec::new();
        for i in 0..16 {
            let (http, base, acme, access, stop) = (
                app.http.clone(),
                app.base_url.clone(),
                acme.clone(),
                access.clone(),
                stop.clone(),
            );
            attackers.push(tokio::spawn(async move {
                let mut seen = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let started = Instant::now();
                    let status = if i % 2 == 0 {
                        http.post(format!("{base}/oauth/token"))
                            .basic_auth(&acme.id, Some(&acme.secret))
                            .form(&[("grant_type", "client_credentials")])
                            .send()
                            .await
                    } else {
                        http.get(format!("{base}/v1/data"))
                            .bearer_auth(access.as_str())
                            .send()
                            .await
                    }
                    .unwrap()
                    .status()
                    .as_u16();
                    seen.push((started, status));
                }
                seen
            }));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        ok(app, &["company", "disable", &acme.id]).await;
        let disabled_at = Instant::now();
        tokio::time::sleep(Duration::from_millis(500)).await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let (mut before, mut after) = (0, 0);
        for attacker in attackers {
            for (started, status) in attacker.await.unwrap() {
                if started > disabled_at {
                    after += 1;
                    assert_eq!(status, 401, "a request sent after the disable got {status}");
                } else if status == 200 {
                    before += 1;
                }
            }
        }
        assert!(
            before > 0,
            "the attackers never got through before the disable"
        );
        assert!(after > 0, "no request was sent after the disable");
    }
);

app_test!(
    rotate_secret_prints_a_new_secret_once_and_the_old_one_stops_at_once,
    |app| {
        let acme = app.company("Acme").await;
        assert_eq!(client_credentials(app, &acme).await.0, 200);
        let rotated = ok(app, &["company", "rotate-secret", &acme.id]).await;
        let secret = rotated["client_secret"].as_str().unwrap().to_owned();
        assert_ne!(secret, acme.secret);
        let (status, body) = client_credentials(app, &acme).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_client"))
        );
        let renewed = Company {
            id: acme.id.clone(),
            secret: secret.clone(),
        };
        assert_eq!(client_credentials(app, &renewed).await.0, 200);
        // The ledger records the act, never the secret.
        let logged = entries(app).await;
        assert!(logged.iter().any(|e| matches!(&e.kind,
        EntryKind::ClientSecretRotated { client_id } if client_id.as_str() == acme.id)));
        let json = serde_json::to_string(&logged).unwrap();
        assert!(!json.contains(&secret) && !json.contains(&acme.secret));
    }
);

/// `apiome company fund`, through the binary.
async fn fund(app: &TestApp, company: &Company, units: &str) {
    ok(app, &["company", "fund", &company.id, units, "EUR"]).await;
}

app_test!(
    delete_refuses_while_the_company_holds_value_and_force_ends_it_with_balanced_books,
    |app| {
        app.person_with("ada", SHARES).await;
        let acme = app.company("Acme").await;
        fund(app, &acme, "10").await;
        let (grant_id, tokens) = granted(app, &acme, "ada").await;
        let access = tokens["access_token"].as_str().unwrap();
        let token = app.company_token(&acme).await;
        // An offer waiting for Ada's answer holds 0.05 EUR.
        let (status, pending) = ask(
            app,
            &token,
            "ada",
            json!({"type": "apiome_data", "attributes": ["email"], "purpose": "marketing",
               "duration": "P30D", "offer": {"amount_micros": 50000, "currency": "EUR"}}),
        )
        .await;
        assert_eq!(
            (status, pending["status"].as_str()),
            (201, Some("pending")),
            "{pending}"
        );

        let said = refused(app, &["company", "delete", &acme.id]).await;
        for part in [
            "1 live grant",
            "1 open request",
            "0.05 EUR of offers to void",
            "then 10.00 EUR to refund",
            "--force",
        ] {
            assert!(said.contains(part), "{part:?} not in {said}");
        }
        // Refused means nothing moved.
        assert_eq!(read(app, access).await, 200);
        assert_eq!(
            ok(app, &["company", "show", &acme.id]).await["status"],
            "active"
        );

        let done = ok(app, &["company", "delete", &acme.id, "--force"]).await;
        assert_eq!(done["status"], "deleted");
        assert_eq!(done["revoked_grants"], json!([grant_id]));
        assert_eq!(done["expired_requests"], 1);
        assert_eq!(done["voided"], json!(["0.05 EUR"]));
        assert_eq!(done["refunded"], json!(["10.00 EUR"]));
        assert_eq!(read(app, access).await, 401);
        assert_eq!(client_credentials(app, &acme).await.0, 401);
        let shown = ok(app, &["company", "show", &acme.id]).await;
        assert_eq!(
            (shown["status"].as_str(), shown["live_grants"].as_u64()),
            (Some("deleted"), Some(0))
        );
        assert_eq!(shown["wallet"][0]["available"], "0.00 EUR");
        // Deleted is for good.
        let said = refused(app, &["company", "enable", &acme.id]).await;
        assert!(
            said.contains(&acme.id) && said.contains("for good"),
            "{said}"
        );
        assert!(
            refused(app, &["company", "fund", &acme.id, "1", "EUR"])
                .await
                .contains("deleted")
        );

        // The books replay from the log, balanced, and an auditor's verifier agrees.
        let logged = entries(app).await;
        ledger::Books::replay(&logged).unwrap();
        let kinds: Vec<&str> = logged.iter().map(|e| e.kind.name()).collect();
        for kind in [
            "grant_revoked",
            "transfer_voided",
            "wallet_refunded",
            "company_deleted",
        ] {
            assert!(kinds.contains(&kind), "no {kind} in {kinds:?}");
        }
        let auditor = ok(app, &["auditor", "create", "--name", "Audit"]).await;
        let verified = verify(app, &auditor).await;
        assert!(
            verified.status.success(),
            "apiome-audit: {}",
            stderr(&verified)
        );
    }
);

app_test!(a_company_holding_nothing_is_deleted_without_force, |app| {
    let acme = app.company("Acme").await;
    let done = ok(app, &["company", "delete", &acme.id]).await;
    assert_eq!(
        (done["status"].as_str(), done["changed"].as_bool()),
        (Some("deleted"), Some(true))
    );
    assert_eq!(client_credentials(app, &acme).await.0, 401);
    let listed = app.cli(&["company", "list"]).await;
    assert!(stdout(&listed).contains("\"status\":\"deleted\""));
});

/// `apiome-audit verify` as `auditor` (the JSON `auditor create` printed).
async fn verify(app: &TestApp, auditor: &Value) -> Output {
    let key = app.text("/v1/ledger/public-key").await;
    tokio::process::Command::new(workspace_binary("apiome-audit"))
        .arg("verify")
        .args(["--url", &app.base_url])
        .args(["--key", &key])
        .args(["--client-id", auditor["client_id"].as_str().unwrap()])
        .args([
            "--client-secret",
            auditor["client_secret"].as_str().unwrap(),
        ])
        .output()
        .await
        .unwrap()
}

app_test!(
    a_revoked_auditor_gets_no_token_and_its_verifier_stops,
    |app| {
        let auditor = ok(app, &["auditor", "create", "--name", "Audit"]).await;
        let id = auditor["client_id"].as_str().unwrap();
        let as_company = Company {
            id: id.to_owned(),
            secret: auditor["client_secret"].as_str().unwrap().to_owned(),
        };
        let (status, token) = app
            .token_form(
                &as_company,
                &[
                    ("grant_type", "client_credentials"),
                    ("scope", "ledger:read"),
                ],
            )
            .await;
        assert_eq!(status, 200, "{token}");
        let token = token["access_token"].as_str().unwrap().to_owned();
        let entries_with = |token: String| {
            let (http, url) = (
                app.http.clone(),
                app.url("/v1/ledger/entries?start=0&end=1"),
            );
            async move {
                http.get(url)
                    .bearer_auth(token)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }
        };
        assert_ne!(entries_with(token.clone()).await, 401);
        assert!(verify(app, &auditor).await.status.success());

        let done = ok(app, &["auditor", "revoke", id]).await;
        assert_eq!(done["status"], "revoked");
        assert_eq!(entries_with(token).await, 401);
        let (status, body) = app
            .token_form(&as_company, &[("grant_type", "client_credentials")])
            .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_client"))
        );
        assert!(!verify(app, &auditor).await.status.success());
        let listed = app.cli(&["auditor", "list"]).await;
        assert!(stdout(&listed).contains("\"status\":\"revoked\""));
        // An auditor is not a company, nor the reverse.
        let acme = app.company("Acme").await;
        assert!(
            refused(app, &["auditor", "revoke", &acme.id])
                .await
                .contains(&acme.id)
        );
        assert!(refused(app, &["company", "disable", id]).await.contains(id));
    }
);

app_test!(
    admin_commands_on_unknown_names_exit_non_zero_naming_them,
    |app| {
        for args in [
            ["company", "disable", "no-such-company"],
            ["company", "enable", "no-such-company"],
            ["company", "delete", "no-such-company"],
            ["company", "rotate-secret", "no-such-company"],
            ["company", "show", "no-such-company"],
            ["auditor", "revoke", "no-such-company"],
        ] {
            let said = refused(app, &args).await;
            assert!(said.contains("no-such-company"), "{args:?}: {said}");
        }
        for verb in ["suspend", "unsuspend", "show"] {
            let said = refused(app, &["person", verb, "nobody"]).await;
            assert!(said.contains("nobody"), "{verb}: {said}");
        }
        assert!(
            entries(app).await.is_empty(),
            "a refused command logged something"
        );
    }
);

async fn sign_in(app: &TestApp, handle: &str) -> (u16, Value) {
    let response = app
        .http
        .post(app.url("/v1/session"))
        .json(&json!({"handle": handle, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

app_test!(
    a_suspended_person_cannot_sign_in_and_companies_read_nothing_until_lifted,
    |app| {
        let session = app.person_with("ada", SHARES).await.token;
        let acme = app.company("Acme").await;
        let (_, tokens) = granted(app, &acme, "ada").await;
        let access = tokens["access_token"].as_str().unwrap();
        assert_eq!(read(app, access).await, 200);

        let done = ok(app, &["person", "suspend", "ada"]).await;
        assert_eq!(done["status"], "suspended");
        let me = app
            .http
            .get(app.url("/v1/me/attributes"))
            .bearer_auth(&session)
            .send()
            .await
            .unwrap();
        assert_eq!(me.status(), 401, "the session outlived the suspension");
        let (status, body) = sign_in(app, "ada").await;
        assert_eq!(status, 403, "{body}");
        assert!(
            body["detail"].as_str().unwrap().contains("suspended"),
            "{body}"
        );
        // A wrong password says nothing about the suspension.
        let wrong = app
            .http
            .post(app.url("/v1/session"))
            .json(&json!({"handle": "ada", "password": "wrong password here"}))
            .send()
            .await
            .unwrap();
        assert_ne!(wrong.status(), 403);
        // The sign-in page says it in words, on the form.
        let page = app
            .http
            .post(app.url("/signin"))
            .form(&[("handle", "ada"), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 403);
        assert!(page.text().await.unwrap().contains("suspended"));
        assert_eq!(read(app, access).await, 401);
        // A request is answered as a denial, as any person may deny.
        let token = app.company_token(&acme).await;
        let (status, asked) = ask(app, &token, "ada", public_details()).await;
        assert_eq!(
            (status, asked["status"].as_str()),
            (201, Some("denied")),
            "{asked}"
        );
        assert!(
            ok(app, &["person", "show", "ada"]).await["suspended"]
                .as_bool()
                .unwrap()
        );

        let lifted = ok(app, &["person", "unsuspend", "ada"]).await;
        assert_eq!(lifted["changed"], true);
        assert_eq!(sign_in(app, "ada").await.0, 200);
        // Grants were kept: the company reads again.
        assert_eq!(read(app, access).await, 200);
        let kinds: Vec<&str> = entries(app).await.iter().map(|e| e.kind.name()).collect();
        assert!(kinds.contains(&"person_suspended") && kinds.contains(&"person_unsuspended"));
    }
);
