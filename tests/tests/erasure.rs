//! Erasure end to end (issue #21.5): `DELETE /v1/me` needs a fresh
//! sign-in, the handle typed again and, with earnings left, a waiver; it
//! revokes every grant (the company's next read is refused, its refresh
//! too, and it is told by webhook), declines every pending request (the
//! offer goes back to the wallet), and destroys the values by deleting the
//! person's data key: a copy of the database taken before holds only
//! ciphertext that nothing left can open, the live file holds neither the
//! key nor the values, and `apiome-audit verify` still passes over the
//! whole log, which ends with `person_erased` and names no value.

#![allow(
    clippy::unwrap_used,
    reason = "test steps: a failed unwrap is a failed test"
)]

use std::time::Duration;

use apiome_tests::{
    PASSWORD, Person, TestApp, app_test, http_receiver, problem_kind, set_cookie, workspace_binary,
};
use serde_json::{Value, json};

const EMAIL: &str = "grace.hopper@example.org";
const STREET: &str = "Cobol Lane 1959";

/// `company` asks `handle` (asynchronously) for `email`, offering
/// `micros` EUR: the request id.
async fn ask(app: &TestApp, company: &str, handle: &str, micros: u64) -> String {
    let asked: Value = app
        .http
        .post(app.url("/v1/requests"))
        .bearer_auth(company)
        .json(&json!({
            "person": {"handle": handle},
            "authorization_details": [{"type": "apiome_data", "attributes": ["email"],
                "purpose": "marketing", "duration": "P30D",
                "offer": {"amount_micros": micros, "currency": "EUR"}}]
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    asked["request_id"].as_str().unwrap().to_owned()
}

/// The company's tokens for an approved asynchronous request.
async fn tokens(app: &TestApp, company: &apiome_tests::Company, request: &str) -> Value {
    app.http
        .post(app.url("/oauth/token"))
        .basic_auth(&company.id, Some(&company.secret))
        .form(&[
            ("grant_type", "urn:openid:params:grant-type:ciba"),
            ("auth_req_id", request),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn read(app: &TestApp, access: &str) -> reqwest::Response {
    app.http
        .get(app.url("/v1/data"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
}

/// `DELETE /v1/me` with the session cookie (and, unless `csrf` is false,
/// its CSRF token).
async fn erase(app: &TestApp, who: &Person, body: &Value, csrf: bool) -> (u16, Value, String) {
    let mut request = app
        .http
        .delete(app.url("/v1/me"))
        .header("cookie", &who.cookie)
        .json(body);
    if csrf {
        request = request.header("x-csrf-token", &who.csrf);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let cookie = response
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, response.json().await.unwrap_or(Value::Null), cookie)
}

async fn scalar(app: &TestApp, sql: &str) -> Option<String> {
    app.store().query_text(sql).await.unwrap()
}

async fn age_sessions(app: &TestApp) {
    let sql = match app.store().backend() {
        store::Backend::Postgres => {
            "UPDATE session SET created_at = created_at - interval '10 minutes'"
        }
        store::Backend::Sqlite => "UPDATE session SET created_at = '2000' || substr(created_at, 5)",
    };
    app.store().execute_unprepared(sql).await.unwrap();
}

/// Every file of the SQLite database (main file and write-ahead log), as bytes.
fn database_bytes(app: &TestApp) -> Vec<u8> {
    let url = app.database_url();
    let path = url.strip_prefix("sqlite://").unwrap();
    let mut all = Vec::new();
    for suffix in ["", "-wal", "-journal"] {
        if let Ok(bytes) = std::fs::read(format!("{path}{suffix}")) {
            all.extend(bytes);
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

async fn verify(app: &TestApp) -> std::process::Output {
    let made = app.cli(&["auditor", "create", "--name", "Audit"]).await;
    assert!(made.status.success());
    let auditor: Value = serde_json::from_slice(&made.stdout).unwrap();
    // The checkpoint must cover the whole log, erasure included.
    let size = app.store().ledger_size().await.unwrap();
    for _ in 0..100 {
        let note = app.text("/v1/ledger/checkpoint").await;
        let covered: u64 = note.lines().nth(1).unwrap().parse().unwrap();
        if covered >= size {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
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
    an_erased_person_is_gone_for_companies_and_the_database_but_the_log_still_verifies,
    |app| {
        let grace = app.person("grace").await;
        grace
            .put_attribute(app, "email", json!(EMAIL), "semi_private")
            .await;
        grace
            .put_attribute(
                app,
                "postal_address",
                json!({"lines": [STREET], "city": "Arlington", "country": "US"}),
                "private",
            )
            .await;
        let acme = app.company("Acme Rewards").await;
        server::admin::fund_company(app.store(), &acme.id, "100", "EUR", None)
            .await
            .unwrap();
        let acme_token = app.company_token(&acme).await;
        let (base, mut calls) = http_receiver(200).await;
        let hooked = app
            .http
            .put(app.url("/v1/webhook"))
            .bearer_auth(&acme_token)
            .json(&json!({"url": format!("{base}/hooks")}))
            .send()
            .await
            .unwrap();
        assert_eq!(hooked.status(), 200);

        // A grant that pays 2 EUR, approved and read; another request waits.
        let paid = ask(app, &acme_token, "grace", 2_000_000).await;
        let approved = app
            .http
            .post(app.url(&format!("/v1/me/requests/{paid}/approve")))
            .bearer_auth(&grace.token)
            .send()
            .await
            .unwrap();
        assert_eq!(approved.status(), 201);
        let granted = tokens(app, &acme, &paid).await;
        let access = granted["access_token"].as_str().unwrap().to_owned();
        let refresh = granted["refresh_token"].as_str().map(ToOwned::to_owned);
        let data: Value = read(app, &access).await.json().await.unwrap();
        assert_eq!(data["attributes"]["email"], EMAIL, "{data}");
        let waiting = ask(app, &acme_token, "grace", 500_000).await;

        // What a database copy taken now holds: ciphertext only.
        let person_id = scalar(app, "SELECT id FROM person WHERE handle = 'grace'")
            .await
            .unwrap();
        let email_cell = scalar(
            app,
            &format!(
                "SELECT value FROM attribute WHERE person_id = '{person_id}' AND key = 'email'"
            ),
        )
        .await
        .unwrap();
        let person_key = scalar(
            app,
            &format!("SELECT sealed FROM person_key WHERE person_id = '{person_id}'"),
        )
        .await
        .unwrap();
        assert!(
            email_cell.starts_with("v2.") && !email_cell.contains("grace"),
            "{email_cell}"
        );
        let sqlite = app.store().backend() == store::Backend::Sqlite;
        if sqlite {
            let before = database_bytes(app);
            assert!(contains(&before, &person_key) && contains(&before, &email_cell));
        }

        // Refusals first; each changes nothing.
        let wrong = json!({"confirm": "grace", "waive_earnings": true});
        let (status, body, _) = erase(app, &grace, &wrong, false).await;
        assert_eq!(status, 403, "no CSRF token: {body}");
        let (status, body, _) = erase(
            app,
            &grace,
            &json!({"confirm": "Grace ", "waive_earnings": true}),
            true,
        )
        .await;
        assert_eq!(
            (status, problem_kind(&body)),
            (422, "invalid-input"),
            "{body}"
        );
        assert_eq!(body["field"], "confirm");
        let (status, body, _) = erase(app, &grace, &json!({"confirm": "grace"}), true).await;
        assert_eq!(
            (status, problem_kind(&body)),
            (409, "earnings-remain"),
            "{body}"
        );
        assert!(
            body["detail"].as_str().unwrap().contains("2.00 EUR"),
            "{body}"
        );
        for (bad, field) in [
            (json!({}), "confirm"),
            (json!([]), "confirm"),
            (json!({"confirm": 7}), "confirm"),
            (
                json!({"confirm": "grace", "waive_earnings": "yes"}),
                "waive_earnings",
            ),
            (json!({"confirm": "grace", "extra": 1}), "extra"),
        ] {
            let (status, body, _) = erase(app, &grace, &bad, true).await;
            assert_eq!(
                (status, body["field"].as_str()),
                (422, Some(field)),
                "{bad}: {body}"
            );
        }
        let company_tries = app
            .http
            .delete(app.url("/v1/me"))
            .bearer_auth(&acme_token)
            .json(&wrong)
            .send()
            .await
            .unwrap();
        assert_eq!(
            company_tries.status(),
            401,
            "a company's token is not a person's"
        );
        age_sessions(app).await;
        let (status, body, _) = erase(app, &grace, &wrong, true).await;
        assert_eq!(
            (status, problem_kind(&body)),
            (403, "recent-sign-in-required")
        );
        assert_eq!(
            read(app, &access).await.status(),
            200,
            "nothing changed yet"
        );

        // Signed in again: erased, once, however many ask at once.
        let fresh = app
            .http
            .post(app.url("/v1/session"))
            .json(&json!({"handle": "grace", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert!(fresh.status().is_success());
        let cookie = set_cookie(&fresh);
        let body: Value = fresh.json().await.unwrap();
        let grace = Person {
            token: body["session"]["token"].as_str().unwrap().to_owned(),
            cookie,
            csrf: body["session"]["csrf_token"].as_str().unwrap().to_owned(),
            ..grace
        };
        let attempts = (0..8).map(|_| erase(app, &grace, &wrong, true));
        let answers = futures::future::join_all(attempts).await;
        let done: Vec<&(u16, Value, String)> = answers.iter().filter(|a| a.0 == 200).collect();
        assert_eq!(done.len(), 1, "{answers:?}");
        // The others arrive after the session or the person is gone:
        // signed out (401) or no such person (404); none erases anything
        // twice (one entry, below).
        for (status, _, _) in &answers {
            assert!([200, 401, 404].contains(status), "{answers:?}");
        }
        let (_, erased, cleared) = done[0];
        assert_eq!(erased["grants_revoked"], 1, "{erased}");
        assert_eq!(erased["requests_declined"], 1, "{erased}");
        assert_eq!(erased["attributes_destroyed"], 2, "{erased}");
        assert_eq!(erased["waived"][0]["amount_micros"], 2_000_000, "{erased}");
        assert!(
            cleared.contains("Max-Age=0") || cleared.contains("max-age=0"),
            "{cleared}"
        );
        let pseudonym = erased["pseudonym"].as_str().unwrap().to_owned();

        // The company: its next read is refused, its refresh too, and it
        // hears of both ends; its waiting request was declined and the
        // offer went back to its wallet.
        assert_eq!(read(app, &access).await.status(), 401);
        if let Some(refresh) = refresh {
            let refreshed = app
                .http
                .post(app.url("/oauth/token"))
                .basic_auth(&acme.id, Some(&acme.secret))
                .form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
                .send()
                .await
                .unwrap();
            assert_eq!(refreshed.status(), 400);
        }
        let asked: Value = app
            .http
            .get(app.url(&format!("/v1/requests/{waiting}")))
            .bearer_auth(&acme_token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(asked["status"], "denied", "{asked}");
        let (mut revoked, mut declined) = (false, false);
        while !(revoked && declined) {
            let event = apiome_tests::next_call(&mut calls).await.json();
            revoked |= event["type"] == "grant.revoked" && event["data"]["request_id"] == paid;
            declined |=
                event["type"] == "request.declined" && event["data"]["request_id"] == waiting;
        }
        let wallet: Value = app
            .http
            .get(app.url("/v1/wallet"))
            .bearer_auth(&acme_token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(
            !wallet
                .to_string()
                .contains("\"reserved\":{\"amount_micros\":500000"),
            "the offer went back: {wallet}"
        );

        // The person: every session and way in is gone.
        let me = app
            .http
            .get(app.url("/v1/me"))
            .bearer_auth(&grace.token)
            .send()
            .await
            .unwrap();
        assert_eq!(me.status(), 401);
        let again = app
            .http
            .post(app.url("/v1/session"))
            .json(&json!({"handle": "grace", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 401);

        // The database: no key, no value; the copy's ciphertext opens with
        // nothing left (not the server's own keys: it is under the person's).
        assert_eq!(
            scalar(
                app,
                &format!(
                    "SELECT CAST(COUNT(*) AS TEXT) FROM person_key WHERE person_id = '{person_id}'"
                )
            )
            .await
            .as_deref(),
            Some("0")
        );
        assert_eq!(
            scalar(
                app,
                &format!(
                    "SELECT CAST(COUNT(*) AS TEXT) FROM attribute WHERE person_id = '{person_id}'"
                )
            )
            .await
            .as_deref(),
            Some("0")
        );
        let handle = scalar(
            app,
            &format!("SELECT handle FROM person WHERE id = '{person_id}'"),
        )
        .await
        .unwrap();
        assert!(!handle.contains("grace"), "{handle}");
        let server_keys = server::data_keys::load(&app.data_dir()).unwrap();
        assert!(server_keys.open(&person_id, "email", &email_cell).is_err());
        assert!(
            server_keys.open_person_key(&person_id, &person_key).is_ok(),
            "the copy's key opens only with the copy"
        );
        if sqlite {
            let after = database_bytes(app);
            for gone in [person_key.as_str(), email_cell.as_str(), EMAIL, STREET] {
                assert!(
                    !contains(&after, gone),
                    "{gone} is still in the database files"
                );
            }
        }

        // The ledger: ends the person, names no value, and verifies.
        let size = app.store().ledger_size().await.unwrap();
        let entries = app.store().ledger_entries(0, size).await.unwrap();
        let kinds: Vec<&str> = entries.iter().map(|e| e.entry.kind.name()).collect();
        assert_eq!(
            kinds.iter().filter(|k| **k == "person_erased").count(),
            1,
            "{kinds:?}"
        );
        assert_eq!(
            kinds.iter().filter(|k| **k == "earnings_waived").count(),
            1,
            "{kinds:?}"
        );
        for entry in &entries {
            let text = serde_json::to_string(&entry.entry).unwrap();
            assert!(
                !text.contains(EMAIL) && !text.contains(STREET) && !text.contains("grace"),
                "{text}"
            );
        }
        let books = app.books().await;
        assert!(books.is_erased(&ledger::ShortText::new(pseudonym).unwrap()));
        let verified = verify(app).await;
        assert!(
            verified.status.success(),
            "{}",
            String::from_utf8_lossy(&verified.stderr)
        );

        // The handle is free again, for someone new who sees nothing of Grace.
        let newcomer = app.person("grace").await;
        let theirs: Value = app
            .http
            .get(app.url("/v1/me/attributes"))
            .bearer_auth(&newcomer.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(!theirs.to_string().contains(EMAIL), "{theirs}");
    }
);

app_test!(
    a_waiting_payout_blocks_an_erasure_and_nothing_changes,
    |app| {
        let ada = app.person("ada").await;
        ada.put_attribute(app, "email", json!("ada@example.org"), "semi_private")
            .await;
        let acme = app.company("Acme").await;
        server::admin::fund_company(app.store(), &acme.id, "100", "EUR", None)
            .await
            .unwrap();
        let token = app.company_token(&acme).await;
        let id = ask(app, &token, "ada", 5_000_000).await;
        let approved = app
            .http
            .post(app.url(&format!("/v1/me/requests/{id}/approve")))
            .bearer_auth(&ada.token)
            .send()
            .await
            .unwrap();
        assert_eq!(approved.status(), 201);
        let payout = app
            .http
            .post(app.url("/v1/me/payouts"))
            .bearer_auth(&ada.token)
            .json(
                &json!({"amount": {"amount_micros": 5_000_000, "currency": "EUR"},
            "destination": {"kind": "iban", "iban": "DE89370400440532013000"}}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(payout.status(), 201);
        let payout: Value = payout.json().await.unwrap();
        let confirm = json!({"confirm": "ada", "waive_earnings": true});
        let (status, body, _) = erase(app, &ada, &confirm, true).await;
        assert_eq!(
            (status, problem_kind(&body)),
            (409, "payout-pending"),
            "{body}"
        );
        let grant = tokens(app, &acme, &id).await;
        let read_ok = read(app, grant["access_token"].as_str().unwrap()).await;
        assert_eq!(read_ok.status(), 200, "the refusal changed nothing");

        // Sent: now the account can go, and the operator's record of the
        // payout stays, without the IBAN.
        let payout_id = payout["id"].as_str().unwrap();
        let sent = app
            .cli(&["payout", "confirm", payout_id, "--transfer-id", "SEPA-1"])
            .await;
        assert!(sent.status.success());
        let (status, body, _) = erase(app, &ada, &confirm, true).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["waived"], json!([]), "nothing left to waive: {body}");
        let listed = app.cli(&["payout", "list"]).await;
        let listed = String::from_utf8(listed.stdout).unwrap();
        assert!(
            listed.contains(payout_id) && !listed.contains("0532013000"),
            "{listed}"
        );
        let verified = verify(app).await;
        assert!(
            verified.status.success(),
            "{}",
            String::from_utf8_lossy(&verified.stderr)
        );
    }
);
