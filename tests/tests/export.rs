//! The person's export end to end (issue #21.5, GDPR Art. 15/20):
//! `GET /v1/me/export` holds every kind of record with the values the
//! person's own lists show, each activity entry's proof verifies against
//! the signed checkpoint in the document, each receipt is the one
//! `/v1/me/receipts/{id}` serves; the file is never cached; and another
//! person, a company's token or no session never gets someone's export.

#![allow(
    clippy::unwrap_used,
    reason = "test steps: a failed unwrap is a failed test"
)]

use std::collections::BTreeMap;

use apiome_tests::{Company, TestApp, app_test, problem_kind, set_cookie};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ledger::{Hash, NoteVerifier};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";
const IBAN: &str = "DE89 3704 0044 0532 0130 00";

struct Person {
    token: String,
    cookie: String,
}

/// A signed-up person with a value in each bucket.
async fn person(app: &TestApp, handle: &str, email: &str) -> Person {
    let response = app
        .http
        .post(app.url("/v1/accounts"))
        .json(&json!({"handle": handle, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let cookie = set_cookie(&response);
    let token = response.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let who = Person { token, cookie };
    for (key, value, bucket) in [
        ("email", email, "semi_private"),
        ("display_name", handle, "public"),
        ("phone", "+44 20 7946 0000", "private"),
    ] {
        let (status, body) = call(
            app,
            &who,
            reqwest::Method::PUT,
            &format!("/v1/me/attributes/{key}"),
            Some(json!({"value": value, "bucket": bucket})),
        )
        .await;
        assert_eq!(status, 200, "{key}: {body}");
    }
    who
}

async fn call(
    app: &TestApp,
    who: &Person,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = app
        .http
        .request(method, app.url(path))
        .bearer_auth(&who.token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `company` asks `handle` for the email; the request's id.
async fn ask(
    app: &TestApp,
    token: &str,
    handle: &str,
    purpose: &str,
    offer: Option<u64>,
) -> String {
    let mut details = json!({"type": "apiome_data", "attributes": ["email"],
        "purpose": purpose, "duration": "P30D"});
    if let Some(micros) = offer {
        details["offer"] = json!({"amount_micros": micros, "currency": "EUR"});
    }
    let asked: Value = app
        .http
        .post(app.url("/v1/requests"))
        .bearer_auth(token)
        .json(&json!({"person": {"handle": handle}, "authorization_details": [details]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    asked["request_id"].as_str().unwrap().to_owned()
}

/// The person approves request `id`; the grant's id.
async fn approve(app: &TestApp, who: &Person, id: &str) -> String {
    let (status, grant) = call(
        app,
        who,
        reqwest::Method::POST,
        &format!("/v1/me/requests/{id}/approve"),
        None,
    )
    .await;
    assert_eq!(status, 201, "{grant}");
    grant["id"].as_str().unwrap().to_owned()
}

/// The company's access token for approved request `id` (CIBA poll).
async fn access_token(app: &TestApp, company: &Company, id: &str) -> String {
    let tokens: Value = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth(&company.id, Some(&company.secret))
        .form(&[
            ("grant_type", "urn:openid:params:grant-type:ciba"),
            ("auth_req_id", id),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    tokens["access_token"].as_str().unwrap().to_owned()
}

/// What `GET /v1/me/export` answers `request`: status, headers, body.
async fn export(request: reqwest::RequestBuilder) -> (u16, reqwest::header::HeaderMap, String) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

/// Everything Ada has: values in each bucket, preferences, a rule, a
/// block, three requests (one read grant paid 2.50 EUR, one revoked, one
/// pending), three receipts, a reported use and a payout.
struct Scene {
    ada: Person,
    acme: Company,
    acme_token: String,
    /// Acme's access token under `read_grant`.
    access: String,
    requests: Vec<String>,
    read_grant: String,
    revoked_grant: String,
    spamco: Company,
}

async fn scene(app: &TestApp) -> Scene {
    let ada = person(app, "ada", "ada@example.org").await;
    let (status, body) = call(
        app,
        &ada,
        reqwest::Method::PUT,
        "/v1/me/preferences",
        Some(json!({"default": "ask_me", "max_duration": "P1Y",
            "contact": {"channels": ["email"], "hours_from": "09:00", "hours_to": "18:00", "max_per_week": 2}})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = call(
        app,
        &ada,
        reqwest::Method::PUT,
        "/v1/me/notifications/address",
        Some(json!({"address": "ada-notices@example.org"})),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let (status, body) = call(
        app,
        &ada,
        reqwest::Method::POST,
        "/v1/me/rules",
        Some(json!({"company": "any", "purposes": ["research"],
            "attributes": {"keys": ["display_name"]}, "effect": "deny"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let spamco = app.company("Spamco").await;
    let (status, _) = call(
        app,
        &ada,
        reqwest::Method::PUT,
        &format!("/v1/me/blocked/{}", spamco.id),
        None,
    )
    .await;
    assert_eq!(status, 204);

    let acme = app.company("Acme").await;
    server::admin::fund_company(app.store(), &acme.id, "100", "EUR", None)
        .await
        .unwrap();
    let acme_token = app.company_token(&acme).await;
    let paid = ask(app, &acme_token, "ada", "marketing", Some(2_500_000)).await;
    let read_grant = approve(app, &ada, &paid).await;
    let access = access_token(app, &acme, &paid).await;
    let read = app
        .http
        .get(app.url("/v1/data"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    let used = app
        .http
        .post(app.url(&format!("/v1/grants/{read_grant}/uses")))
        .bearer_auth(&acme_token)
        .json(&json!({"kind": "used", "note": "sent the December newsletter"}))
        .send()
        .await
        .unwrap();
    assert_eq!(used.status(), 201);

    let free = ask(app, &acme_token, "ada", "analytics", None).await;
    let revoked_grant = approve(app, &ada, &free).await;
    let (status, _) = call(
        app,
        &ada,
        reqwest::Method::DELETE,
        &format!("/v1/me/grants/{revoked_grant}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let pending = ask(app, &acme_token, "ada", "personalisation", None).await;

    let (status, body) = call(
        app,
        &ada,
        reqwest::Method::POST,
        "/v1/me/payouts",
        Some(
            json!({"amount": {"amount_micros": 1_000_000, "currency": "EUR"},
            "destination": {"kind": "iban", "iban": IBAN}}),
        ),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    Scene {
        ada,
        acme,
        acme_token,
        access,
        requests: vec![paid, free, pending],
        read_grant,
        revoked_grant,
        spamco,
    }
}

fn by<'a>(list: &'a Value, field: &str, value: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|item| item[field] == value)
        .unwrap_or_else(|| panic!("no {field} = {value} in {list}"))
}

fn hash(value: &Value) -> Hash {
    BASE64
        .decode(value.as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

app_test!(the_export_holds_every_record_with_its_values, |app| {
    let s = scene(app).await;
    let (status, headers, text) = export(
        app.http
            .get(app.url("/v1/me/export"))
            .bearer_auth(&s.ada.token),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let today = time::OffsetDateTime::now_utc().date();
    assert_eq!(
        headers["content-disposition"],
        format!("attachment; filename=\"apiome-export-{today}.json\"").as_str()
    );
    assert_eq!(headers["cache-control"], "no-store");
    let doc: Value = serde_json::from_str(&text).unwrap();

    assert_eq!(doc["format"], "apiome-export/1");
    let stored = app
        .store()
        .person_by_handle(&store::Handle::parse("ada").unwrap())
        .await
        .unwrap();
    assert_eq!(doc["person"]["id"], stored.pseudonym.as_str());
    assert_eq!(doc["person"]["handle"], "ada");
    assert_eq!(doc["person"]["default"], "ask_me");
    assert_eq!(doc["person"]["max_duration"], "P1Y");
    assert_eq!(doc["preferences"]["contact"]["channels"], json!(["email"]));
    assert_eq!(doc["preferences"]["contact"]["max_per_week"], 2);
    let notices = &doc["preferences"]["notifications"];
    assert_eq!(notices["address"], "ada-notices@example.org");
    assert_eq!(notices["verified"], false);

    let attributes: BTreeMap<String, (Value, Value)> = doc["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["key"].as_str().unwrap().to_owned(),
                (a["value"].clone(), a["bucket"].clone()),
            )
        })
        .collect();
    assert_eq!(
        attributes,
        BTreeMap::from([
            ("display_name".to_owned(), (json!("ada"), json!("public"))),
            (
                "email".to_owned(),
                (json!("ada@example.org"), json!("semi_private"))
            ),
            (
                "phone".to_owned(),
                (json!("+44 20 7946 0000"), json!("private"))
            ),
        ])
    );
    let rules = doc["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0]["rule"]["effect"], "deny");
    assert_eq!(rules[0]["rule"]["purposes"], json!(["research"]));
    assert_eq!(
        doc["blocked"],
        json!([{"company_id": s.spamco.id, "name": "Spamco"}])
    );

    let requests = &doc["requests"];
    assert_eq!(requests.as_array().unwrap().len(), 3, "{requests}");
    let paid = by(requests, "id", &s.requests[0]);
    assert_eq!(paid["status"], "approved");
    assert_eq!(paid["company_name"], "Acme");
    assert_eq!(paid["request"]["offer"]["amount_micros"], 2_500_000);
    assert_eq!(paid["grant_id"], s.read_grant.as_str());
    assert_eq!(by(requests, "id", &s.requests[1])["status"], "approved");
    assert_eq!(by(requests, "id", &s.requests[2])["status"], "pending");

    let grants = &doc["grants"];
    assert_eq!(grants.as_array().unwrap().len(), 2, "{grants}");
    let read = by(grants, "id", &s.read_grant);
    assert_eq!(read["status"], "live");
    assert_eq!(read["attributes"], json!(["email"]));
    assert_eq!(read["purpose"], "marketing");
    assert_eq!(read["price"]["amount_micros"], 2_500_000);
    let revoked = by(grants, "id", &s.revoked_grant);
    assert_eq!(revoked["status"], "revoked");
    assert!(revoked["revoked_at"].is_string());

    // Each receipt is the one the person's receipt endpoint serves.
    let receipts = doc["receipts"].as_array().unwrap();
    assert_eq!(receipts.len(), 3, "given, given, withdrawn");
    for receipt in receipts {
        let id = receipt["id"].as_str().unwrap();
        let (status, served) = call(
            app,
            &s.ada,
            reqwest::Method::GET,
            &format!("/v1/me/receipts/{id}"),
            None,
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(receipt["jws"], served["jws"]);
        assert_eq!(receipt["sha256"], served["sha256"]);
    }
    let withdrawn = by(&doc["receipts"], "event", "withdrawn");
    assert_eq!(withdrawn["grant_id"], s.revoked_grant.as_str());

    let balance = by(&doc["earnings"]["balances"], "currency", "EUR");
    assert_eq!(balance["earned"]["amount_micros"], 2_500_000);
    assert_eq!(balance["paying_out"]["amount_micros"], 1_000_000);
    assert_eq!(balance["available"]["amount_micros"], 1_500_000);
    let transfer = by(&doc["earnings"]["transfers"], "request_id", &s.requests[0]);
    assert_eq!(transfer["state"], "posted");
    assert_eq!(transfer["amount"]["amount_micros"], 2_500_000);

    let payouts = doc["payouts"].as_array().unwrap();
    assert_eq!(payouts.len(), 1);
    assert_eq!(payouts[0]["state"], "pending");
    assert_eq!(payouts[0]["amount"]["amount_micros"], 1_000_000);
    assert_eq!(payouts[0]["destination"]["masked"], "DE89 **** **** 3000");
    assert!(
        !text.contains("0532013000") && !text.contains("0532 0130"),
        "the IBAN only masked"
    );

    let uses = doc["uses"].as_array().unwrap();
    assert_eq!(uses.len(), 1);
    assert_eq!(uses[0]["grant_id"], s.read_grant.as_str());
    assert_eq!(uses[0]["company_id"], s.acme.id.as_str());
    assert_eq!(uses[0]["kind"], "used");
    assert_eq!(uses[0]["note"], "sent the December newsletter");
    assert_eq!(uses[0]["accepted"], true);
    assert_eq!(doc["passkeys"], json!([]), "signed up with a password");

    // The checkpoint is signed by the published key; every entry's own
    // bytes hash to its leaf and its proof reaches the root.
    let vkey = app.text("/v1/ledger/public-key").await;
    let verifier = NoteVerifier::from_vkey(&vkey).unwrap();
    let checkpoint =
        ledger::open_checkpoint(doc["checkpoint"]["note"].as_str().unwrap(), &verifier)
            .expect("the export's checkpoint is signed by the published key");
    let size = doc["checkpoint"]["tree_size"].as_u64().unwrap();
    assert_eq!(checkpoint.tree_size(), size);
    assert_eq!(
        *checkpoint.root_hash(),
        hash(&doc["checkpoint"]["root_hash"])
    );
    let activity = doc["activity"].as_array().unwrap();
    let mut kinds = Vec::new();
    for entry in activity {
        let index = entry["index"].as_u64().unwrap();
        assert!(index < size);
        let leaf = BASE64.decode(entry["leaf"].as_str().unwrap()).unwrap();
        let leaf_hash = ledger::leaf_hash(&leaf);
        assert_eq!(leaf_hash, hash(&entry["leaf_hash"]));
        let proof: Vec<Hash> = entry["proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(hash)
            .collect();
        ledger::verify_inclusion(&leaf_hash, index, size, &proof, checkpoint.root_hash())
            .unwrap_or_else(|e| panic!("entry {index}: {e:?}"));
        assert_eq!(entry["verified"], true);
        kinds.push(entry["kind"].as_str().unwrap().to_owned());
    }
    for kind in [
        "request_made",
        "grant_created",
        "disclosure",
        "grant_revoked",
        "company_blocked",
        "use_reported",
        "payout_requested",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
    let mut indices: Vec<u64> = activity
        .iter()
        .map(|e| e["index"].as_u64().unwrap())
        .collect();
    let listed = indices.len();
    indices.dedup();
    assert_eq!(indices.len(), listed, "each entry once");
});

app_test!(
    another_person_a_company_or_no_session_never_gets_someones_export,
    |app| {
        let s = scene(app).await;
        let grace = person(app, "grace", "grace@example.org").await;

        let (status, headers, text) = export(
            app.http
                .get(app.url("/v1/me/export"))
                .bearer_auth(&grace.token),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(headers["cache-control"], "no-store");
        let doc: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc["person"]["handle"], "grace");
        assert_eq!(
            by(&doc["attributes"], "key", "email")["value"],
            "grace@example.org"
        );
        for ada_only in [
            "ada@example.org",
            "ada-notices@example.org",
            s.requests[0].as_str(),
            s.read_grant.as_str(),
            s.revoked_grant.as_str(),
            "December newsletter",
            "DE89 ****",
        ] {
            assert!(!text.contains(ada_only), "grace's export holds {ada_only}");
        }
        for list in [
            "requests", "grants", "receipts", "payouts", "uses", "blocked", "rules",
        ] {
            assert_eq!(doc[list], json!([]), "{list}");
        }

        // A company's tokens are not a person's session.
        for token in [s.acme_token.as_str(), s.access.as_str()] {
            let (status, _, text) =
                export(app.http.get(app.url("/v1/me/export")).bearer_auth(token)).await;
            assert_eq!(status, 401, "{text}");
            let problem: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(problem_kind(&problem), "unauthenticated");
            assert!(!text.contains("ada@example.org"));
        }
        let (status, _, text) = export(app.http.get(app.url("/v1/me/export"))).await;
        assert_eq!(status, 401, "{text}");
        let (status, _, _) = export(
            app.http
                .get(app.url("/v1/me/export"))
                .header("cookie", "apiome_session=not-a-session"),
        )
        .await;
        assert_eq!(status, 401);

        // The dashboard's link downloads it with the session cookie alone
        // (a GET needs no CSRF token), never cached.
        let dashboard = app
            .http
            .get(app.url("/dashboard"))
            .header("cookie", &s.ada.cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            dashboard.contains(r#"<a href="/v1/me/export" id="export-download""#),
            "{dashboard}"
        );
        let (status, headers, text) = export(
            app.http
                .get(app.url("/v1/me/export"))
                .header("cookie", &s.ada.cookie),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(headers["cache-control"], "no-store");
        assert!(
            headers["content-disposition"]
                .to_str()
                .unwrap()
                .starts_with("attachment;")
        );
        let doc: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc["person"]["handle"], "ada");
    }
);

/// Chromium with a fresh profile, its event loop on a task.
struct Chromium {
    browser: chromiumoxide::Browser,
    events: tokio::task::JoinHandle<()>,
    _profile: tempfile::TempDir,
}

impl Chromium {
    async fn launch(binary: &std::path::Path) -> Chromium {
        use futures::StreamExt;

        let profile = tempfile::tempdir().unwrap();
        let config = chromiumoxide::BrowserConfig::builder()
            .chrome_executable(binary)
            .no_sandbox()
            .user_data_dir(profile.path())
            .args([
                "disable-gpu",
                "disable-background-networking",
                "disable-component-update",
                "disable-sync",
                "no-first-run",
                "disable-default-apps",
            ])
            .build()
            .unwrap();
        let (browser, mut handler) = chromiumoxide::Browser::launch(config).await.unwrap();
        let events = tokio::spawn(async move { while handler.next().await.is_some() {} });
        Chromium {
            browser,
            events,
            _profile: profile,
        }
    }

    async fn close(mut self) {
        let _ = self.browser.close().await;
        let _ = self.browser.wait().await;
        self.events.abort();
    }
}

/// In a real Chromium signed in by its session cookie, the dashboard shows
/// the download link, and following it (as the page's own origin) answers
/// the person's export as an attachment that is never cached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_link_downloads_the_export_in_chromium() {
    use chromiumoxide::cdp::browser_protocol::network::CookieParam;

    let Some(binary) = apiome_tests::chromium() else {
        return;
    };
    let app = TestApp::sqlite().await;
    let ada = person(&app, "ada", "ada@example.org").await;
    let token = ada.cookie.split_once('=').unwrap().1.to_owned();
    let chromium = Chromium::launch(&binary).await;
    let page = chromium.browser.new_page("about:blank").await.unwrap();
    page.set_cookie(
        CookieParam::builder()
            .name(server::auth::SESSION_COOKIE)
            .value(token)
            .url(app.url("/"))
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    page.goto(app.url("/dashboard")).await.unwrap();
    let script = r#"(async () => {
        const link = document.getElementById('export-download');
        if (!link) { return {found: false, path: location.pathname}; }
        const response = await fetch(link.href, {credentials: 'same-origin'});
        return {
            found: true,
            text: link.textContent,
            download: link.hasAttribute('download'),
            path: new URL(link.href).pathname,
            status: response.status,
            disposition: response.headers.get('content-disposition'),
            cache: response.headers.get('cache-control'),
            body: await response.text(),
        };
    })()"#;
    let mut seen = Value::Null;
    for _ in 0..50 {
        seen = page
            .evaluate(script)
            .await
            .ok()
            .and_then(|r| r.into_value::<Value>().ok())
            .unwrap_or(Value::Null);
        if seen["found"] == true {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    chromium.close().await;
    assert_eq!(seen["found"], true, "{seen}");
    assert_eq!(seen["download"], true);
    assert_eq!(seen["path"], "/v1/me/export");
    assert!(
        seen["text"]
            .as_str()
            .unwrap()
            .contains("Download everything"),
        "{seen}"
    );
    assert_eq!(seen["status"], 200, "{seen}");
    assert!(
        seen["disposition"]
            .as_str()
            .unwrap()
            .starts_with("attachment; filename=\"apiome-export-"),
        "{seen}"
    );
    assert_eq!(seen["cache"], "no-store");
    let doc: Value = serde_json::from_str(seen["body"].as_str().unwrap()).unwrap();
    assert_eq!(doc["person"]["handle"], "ada");
    assert_eq!(
        by(&doc["attributes"], "key", "email")["value"],
        "ada@example.org"
    );
    app.stop().await;
}
