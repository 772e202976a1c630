//! Consent receipts end to end (issue #21.4): every grant and revocation
//! gets a receipt signed with the key the server publishes in its JWKS,
//! whose SHA-256 is in the ledger entry of the grant. Checked with an
//! independent JOSE library (Python's `jwcrypto`), through the auditors'
//! ledger API, and with `apiome-audit receipt`; and what a stranger, another
//! person or another company gets instead.

#![allow(
    clippy::unwrap_used,
    reason = "test steps: a failed unwrap is a failed test"
)]

use std::time::Duration;

use apiome_tests::{Company, TestApp, app_test, workspace_binary};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD as BASE64, URL_SAFE_NO_PAD as B64URL};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// What each person of these tests shares (`(key, value, bucket)`): under
/// "ask me", a semi-private email and phone.
const SHARES: &[(&str, &str, &str)] = &[
    ("email", "ada@example.org", "semi_private"),
    ("phone", "+44 20 7946 0000", "semi_private"),
];

async fn funded(app: &TestApp, name: &str) -> (Company, String) {
    let company = app.company(name).await;
    server::admin::fund_company(app.store(), &company.id, "10", "EUR", None)
        .await
        .unwrap();
    let token = app.company_token(&company).await;
    (company, token)
}

/// The company asks `handle` for email and phone, for marketing, offering
/// 0.05 EUR; the person approves. The grant's id.
async fn granted(app: &TestApp, company: &str, person: &str, handle: &str) -> String {
    let details = json!([{"type": "apiome_data", "attributes": ["email", "phone"],
        "purpose": "marketing", "duration": "P30D",
        "offer": {"amount_micros": 50000, "currency": "EUR"}}]);
    app.grant(company, person, handle, details).await
}

async fn get(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    let response = app
        .http
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// The person's receipts, newest first.
async fn receipts(app: &TestApp, person: &str) -> Vec<Value> {
    let (status, page) = get(app, person, "/v1/me/receipts").await;
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().unwrap().clone()
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The ledger entry at `index`, fetched as an auditor through
/// `GET /v1/ledger/entries` and decoded from its leaf bytes.
async fn logged_entry(app: &TestApp, index: u64) -> ledger::Entry {
    let server_key = server::admin::server_key(&app.data_dir()).unwrap();
    let auditor = server::admin::create_auditor(app.store(), &server_key, "Receipt Auditor")
        .await
        .unwrap();
    let token: Value = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth(&auditor.client_id, Some(&auditor.client_secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "ledger:read"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap();
    let path = format!("/v1/ledger/entries?start={index}&end={}", index + 1);
    let (status, page) = get(app, token, &path).await;
    assert_eq!(status, 200, "{page}");
    let leaf = BASE64
        .decode(page["entries"][0]["leaf"].as_str().unwrap())
        .unwrap();
    ledger::Entry::decode(&leaf).unwrap()
}

/// The payload of `jws` as `jwcrypto` verifies it with the key its `kid`
/// names in `jwks`, or `None` when it refuses.
fn verified_by_jwcrypto(jwks: &str, jws: &str) -> Option<Value> {
    const VERIFY: &str = "import json, sys\n\
from jwcrypto import jwk, jws\n\
keys = jwk.JWKSet.from_json(sys.argv[1])\n\
token = jws.JWS()\n\
token.deserialize(sys.argv[2])\n\
key = keys.get_key(token.jose_header['kid'])\n\
token.verify(key, alg='EdDSA')\n\
assert token.jose_header['typ'] == 'consent-receipt+jwt'\n\
print(token.payload.decode())\n";
    let out = std::process::Command::new(apiome_tests::python_with("jwcrypto==1.5.6"))
        .args(["-c", VERIFY, jwks, jws])
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).unwrap())
}

/// `jws` with one claim changed and the signature kept.
fn altered(jws: &str) -> String {
    let parts: Vec<&str> = jws.split('.').collect();
    let mut claims: Value = serde_json::from_slice(&B64URL.decode(parts[1]).unwrap()).unwrap();
    claims["purpose"] = json!("research");
    let payload = B64URL.encode(serde_json::to_vec(&claims).unwrap());
    format!("{}.{payload}.{}", parts[0], parts[2])
}

// A grant's receipt: ISO/IEC TS 27560 fields naming names, never values;
// the JWS verifies with jwcrypto against the published JWKS (and an altered
// one does not); its hash is in the `grant_created` entry the auditors'
// API serves at the receipt's index; the company reads the same receipt.
app_test!(
    a_grants_receipt_is_signed_with_the_published_key_and_in_the_log,
    |app| {
        let ada = app.person_with("ada_receipts", SHARES).await.token;
        let (company, token) = funded(app, "Acme Receipts").await;
        server::admin::set_company_contact(app.store(), &company.id, "privacy@acme.example")
            .await
            .unwrap();
        let grant = granted(app, &token, &ada, "ada_receipts").await;

        let listed = receipts(app, &ada).await;
        assert_eq!(listed.len(), 1, "{listed:?}");
        let id = listed[0]["id"].as_str().unwrap();
        let (status, receipt) = get(app, &ada, &format!("/v1/me/receipts/{id}")).await;
        assert_eq!(status, 200, "{receipt}");
        assert_eq!(receipt["event"], "given");
        assert_eq!(receipt["grant_id"], grant.as_str());
        let claims = &receipt["claims"];
        assert_eq!(claims["schema"], "ISO/IEC TS 27560:2023");
        assert_eq!(claims["record_id"], grant.as_str());
        assert_eq!(claims["receipt_id"], id);
        assert_eq!(claims["controller"]["id"], company.id.as_str());
        assert_eq!(claims["controller"]["name"], "Acme Receipts");
        assert_eq!(claims["controller"]["contact"], "privacy@acme.example");
        assert!(claims["sub"].as_str().is_some_and(|s| !s.is_empty()));
        assert_eq!(claims["purpose"], "marketing");
        assert_eq!(claims["attributes"], json!(["email", "phone"]));
        assert_eq!(claims["duration"], "P30D");
        assert_eq!(claims["jurisdiction"], "EU");
        assert_eq!(claims["event"]["type"], "given");
        assert_eq!(claims["event"]["state"], "active");
        assert_eq!(claims["offer"]["amount_micros"], 50000);
        assert_eq!(claims["offer"]["currency"], "EUR");
        assert!(
            claims["withdrawal"]["endpoint"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/v1/me/grants/{grant}"))
        );
        let jws = receipt["jws"].as_str().unwrap();
        assert!(!jws.contains("ada@example.org"));
        assert!(
            !receipt.to_string().contains("ada@example.org"),
            "no value in a receipt"
        );

        // An independent JOSE library, with the JWKS every client fetches.
        let jwks = app.text("/oauth/jwks").await;
        let payload = verified_by_jwcrypto(&jwks, jws).expect("jwcrypto verifies the receipt");
        assert_eq!(&payload, claims);
        assert_eq!(verified_by_jwcrypto(&jwks, &altered(jws)), None);

        // Its hash is in the grant's entry, as the auditors' API serves it.
        let hash = sha256_hex(jws);
        assert_eq!(receipt["sha256"], hash.as_str());
        let index = receipt["ledger_index"].as_u64().unwrap();
        match logged_entry(app, index).await.kind {
            ledger::EntryKind::GrantCreated {
                grant_id, receipt, ..
            } => {
                assert_eq!(grant_id.as_str(), grant);
                assert_eq!(hex::encode(receipt.unwrap()), hash);
            }
            other => panic!("entry {index} is {other:?}"),
        }
        assert_eq!(
            BASE64
                .decode(receipt["ledger_leaf"].as_str().unwrap())
                .unwrap(),
            logged_entry(app, index).await.encode()
        );

        // The company holding the grant reads the very same receipt.
        let (status, theirs) = get(app, &token, &format!("/v1/grants/{grant}/receipts")).await;
        assert_eq!(status, 200, "{theirs}");
        assert_eq!(theirs["items"][0]["jws"], jws);
        assert_eq!(theirs["items"][0]["ledger_index"], index);
        app.books().await;
    }
);

// A revocation gets its own receipt (`withdrawn`), with its hash in the
// `grant_revoked` entry; the company sees both, oldest first.
app_test!(a_revocation_gets_a_withdrawn_receipt_in_its_entry, |app| {
    let ada = app.person_with("ada_revokes", SHARES).await.token;
    let (_, token) = funded(app, "Acme Revoked").await;
    let grant = granted(app, &token, &ada, "ada_revokes").await;
    let revoked = app
        .http
        .delete(app.url(&format!("/v1/me/grants/{grant}")))
        .bearer_auth(&ada)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);

    let listed = receipts(app, &ada).await;
    let events: Vec<&str> = listed
        .iter()
        .map(|r| r["event"].as_str().unwrap())
        .collect();
    assert_eq!(events.len(), 2, "{listed:?}");
    assert!(events.contains(&"withdrawn") && events.contains(&"given"));
    let withdrawn = listed.iter().find(|r| r["event"] == "withdrawn").unwrap();
    assert_eq!(withdrawn["claims"]["event"]["state"], "withdrawn");
    assert_eq!(withdrawn["grant_id"], grant.as_str());
    let jws = withdrawn["jws"].as_str().unwrap();
    let index = withdrawn["ledger_index"].as_u64().unwrap();
    match logged_entry(app, index).await.kind {
        ledger::EntryKind::GrantRevoked {
            grant_id, receipt, ..
        } => {
            assert_eq!(grant_id.as_str(), grant);
            assert_eq!(hex::encode(receipt.unwrap()), sha256_hex(jws));
        }
        other => panic!("entry {index} is {other:?}"),
    }
    let (status, theirs) = get(app, &token, &format!("/v1/grants/{grant}/receipts")).await;
    assert_eq!(status, 200);
    let theirs: Vec<&str> = theirs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["event"].as_str().unwrap())
        .collect();
    assert_eq!(theirs, ["given", "withdrawn"]);
});

// Nobody else reads a receipt: another company's call for the grant is a
// 404 (as for a grant that does not exist), another person's for the
// receipt too, a stranger without a credential is 401 — many at once.
app_test!(only_the_two_parties_read_a_receipt, |app| {
    let ada = app.person_with("ada_private", SHARES).await.token;
    let eve = app.person_with("eve_private", SHARES).await.token;
    let (_, token) = funded(app, "Acme Private").await;
    let (_, rival) = funded(app, "Globex Private").await;
    let grant = granted(app, &token, &ada, "ada_private").await;
    let id = receipts(app, &ada).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let tries = (0..8).map(|_| async {
        let by_rival = get(app, &rival, &format!("/v1/grants/{grant}/receipts")).await;
        let by_eve = get(app, &eve, &format!("/v1/me/receipts/{id}")).await;
        let nothing = get(app, &rival, "/v1/grants/no-such-grant/receipts").await;
        (by_rival, by_eve, nothing)
    });
    for ((rival_status, rival_body), (eve_status, _), (none_status, none_body)) in
        futures::future::join_all(tries).await
    {
        assert_eq!(rival_status, 404);
        assert_eq!(eve_status, 404);
        assert_eq!(none_status, 404);
        // The same answer as for a grant that does not exist, bar the id.
        assert_eq!(rival_body["type"], none_body["type"]);
        assert!(!rival_body.to_string().contains("jws"));
    }
    assert!(receipts(app, &eve).await.is_empty());
    let stranger = app
        .http
        .get(app.url(&format!("/v1/grants/{grant}/receipts")))
        .send()
        .await
        .unwrap();
    assert_eq!(stranger.status(), 401);
    let page = app
        .http
        .get(app.url(&format!("/receipts/{id}")))
        .bearer_auth(&eve)
        .send()
        .await
        .unwrap();
    assert_ne!(page.status(), 200);
});

/// Runs `apiome-audit receipt FILE` against this server; (success, output).
async fn audit_receipt(app: &TestApp, document: &Value) -> (bool, String) {
    let key = app.text("/v1/ledger/public-key").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("receipt.json");
    std::fs::write(&file, document.to_string()).unwrap();
    let out = tokio::process::Command::new(workspace_binary("apiome-audit"))
        .arg("receipt")
        .arg(&file)
        .args(["--key", key.trim(), "--url", &app.url("")])
        .output()
        .await
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

// `apiome-audit receipt` passes for the receipt as served (once a
// checkpoint covers its entry) and fails for one with a claim changed, one
// naming another entry, and one whose hash was swapped.
app_test!(apiome_audit_checks_a_receipt_against_the_log, |app| {
    let ada = app.person_with("ada_audits", SHARES).await.token;
    let (_, token) = funded(app, "Acme Audited").await;
    granted(app, &token, &ada, "ada_audits").await;
    let id = receipts(app, &ada).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, document) = get(app, &ada, &format!("/v1/me/receipts/{id}")).await;

    let mut passed = (false, String::new());
    for _ in 0..50 {
        passed = audit_receipt(app, &document).await;
        if passed.0 || !passed.1.contains("not in the latest checkpoint") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(passed.0, "{}", passed.1);
    assert!(passed.1.starts_with("OK: receipt"), "{}", passed.1);

    let mut changed = document.clone();
    changed["jws"] = json!(altered(document["jws"].as_str().unwrap()));
    let (ok, text) = audit_receipt(app, &changed).await;
    assert!(!ok, "an altered receipt passed: {text}");
    assert!(text.contains("signature does not verify"), "{text}");

    let mut elsewhere = document.clone();
    elsewhere["ledger_index"] = json!(0);
    let (ok, text) = audit_receipt(app, &elsewhere).await;
    assert!(!ok, "a receipt naming another entry passed: {text}");

    let mut swapped = document.clone();
    swapped["sha256"] = json!("00".repeat(32));
    let (ok, text) = audit_receipt(app, &swapped).await;
    assert!(!ok, "a receipt with another hash passed: {text}");
});
