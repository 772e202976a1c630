//! Money attacked: what a hostile company, a person or a third-party page
//! would send to make money move without the paying company's word, to
//! learn a company's balance, to overflow the books, or to be paid twice.
//! Each test asserts that nothing moved: the company's wallet, the
//! person's earnings and the ledger are as they were.

#![allow(
    clippy::unwrap_used,
    reason = "test steps: a failed unwrap is a failed test"
)]

use apiome_tests::{Company, REDIRECT, TestApp, app_test};
use oauth2::PkceCodeChallenge;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";
/// 2^64 − 1: fits the old `u64` amount, not the books' `i64`.
const U64_MAX: &str = "18446744073709551615";
/// 2^63: the first amount beyond the books.
const TWO_POW_63: &str = "9223372036854775808";

struct Person {
    token: String,
}

/// A person with a semi-private email and a public name, under "ask me".
async fn person(app: &TestApp, handle: &str) -> Person {
    let response = app
        .http
        .post(app.url("/v1/accounts"))
        .json(&json!({"handle": handle, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    let token = body["token"].as_str().unwrap().to_owned();
    for (key, value, bucket) in [
        ("display_name", json!("Marie"), "public"),
        ("email", json!("marie@example.org"), "semi_private"),
    ] {
        let response = app
            .http
            .put(app.url(&format!("/v1/me/attributes/{key}")))
            .bearer_auth(&token)
            .json(&json!({"value": value, "bucket": bucket}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    Person { token }
}

/// One `apiome_data` entry for the email, with an offer of `amount` EUR
/// micro-units written as the JSON number `amount`.
fn details_with_offer(amount: &str) -> String {
    format!(
        r#"[{{"type":"apiome_data","attributes":["email"],"purpose":"marketing","duration":"P30D","offer":{{"amount":{amount},"currency":"EUR"}}}}]"#
    )
}

/// `POST /v1/requests` for `handle` with `details` (JSON text), and an
/// optional `Idempotency-Key`.
async fn ask(
    app: &TestApp,
    token: &str,
    handle: &str,
    details: &str,
    key: Option<&str>,
) -> reqwest::Response {
    let body = format!(r#"{{"person":{{"handle":"{handle}"}},"authorization_details":{details}}}"#);
    let mut request = app
        .http
        .post(app.url("/v1/requests"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body);
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    request.send().await.unwrap()
}

/// The company's EUR wallet, `null` when it was never funded.
async fn wallet(app: &TestApp, token: &str) -> Value {
    let response = app
        .http
        .get(app.url("/v1/wallet"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["balances"][0].clone()
}

async fn fund(app: &TestApp, company: &Company, units: &str) {
    let funded = server::admin::fund_company(app.store(), &company.id, units, "EUR", None)
        .await
        .unwrap();
    assert_eq!(funded.status, "credited");
}

/// A pushed authorization request (RFC 9126) by `company`, authenticated
/// with its secret: the answer's status and body.
async fn push(app: &TestApp, company: &Company, challenge: &str, details: &str) -> (u16, Value) {
    let response = app
        .http
        .post(app.url("/oauth/par"))
        .basic_auth(&company.id, Some(&company.secret))
        .form(&[
            ("response_type", "code"),
            ("client_id", company.id.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
            ("authorization_details", details),
        ])
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

app_test!(an_offer_beyond_the_books_is_a_400_naming_the_field, |app| {
    let acme = app.company("Acme Rewards").await;
    let _marie = person(app, "marie_curie").await;
    let token = app.company_token(&acme).await;
    fund(app, &acme, "1").await;
    let before = wallet(app, &token).await;
    let ledger_before = app.store().ledger_size().await.unwrap();

    for amount in [U64_MAX, TWO_POW_63, "1e19", "-1"] {
        let response = ask(
            app,
            &token,
            "marie_curie",
            &details_with_offer(amount),
            None,
        )
        .await;
        assert_eq!(response.status(), 400, "{amount}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["type"], "urn:apiome:problem:invalid-amount");
        assert_eq!(problem["field"], "authorization_details.offer.amount");
    }
    // The largest amount the books hold is read, and only the wallet refuses it.
    let response = ask(
        app,
        &token,
        "marie_curie",
        &details_with_offer("9223372036854775807"),
        None,
    )
    .await;
    assert_eq!(response.status(), 402);

    // The same offers through PAR: an RFC 6749 error object, never a 500.
    let challenge = PkceCodeChallenge::new_random_sha256().0;
    for amount in [U64_MAX, TWO_POW_63] {
        let (status, body) =
            push(app, &acme, challenge.as_str(), &details_with_offer(amount)).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"], "invalid_authorization_details");
        let description = body["error_description"].as_str().unwrap();
        assert!(description.contains("offer.amount"), "{description}");
    }

    // A person's rule with a minimum offer beyond the books is refused.
    let marie = person(app, "pierre_curie").await;
    let response = app
        .http
        .post(app.url("/v1/me/rules"))
        .bearer_auth(&marie.token)
        .header("content-type", "application/json")
        .body(format!(
            r#"{{"company":{{"only":"acme"}},"purposes":["marketing"],"attributes":{{"keys":["email"]}},"min_offer":{{"amount_micros":{U64_MAX},"currency":"EUR"}},"max_duration":"P30D","effect":"allow"}}"#
        ))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_client_error(), "{}", response.status());
    let problem: Value = response.json().await.unwrap();
    assert!(
        problem["detail"].as_str().unwrap().contains("too large"),
        "{problem}"
    );

    // Nothing moved, nothing was written.
    assert_eq!(wallet(app, &token).await, before);
    assert_eq!(app.store().ledger_size().await.unwrap(), ledger_before);
});
