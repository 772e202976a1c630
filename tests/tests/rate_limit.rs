//! Per-company rate limits on the token endpoint and `POST /v1/requests`:
//! a burst, then `429` with `Retry-After`, one company's excess never
//! spending another's budget, and the budget back after the wait.

#![allow(
    clippy::unwrap_used,
    reason = "test steps: a failed unwrap is a failed test"
)]

use apiome_tests::{Company, TestApp};
use serde_json::{Value, json};

async fn token(app: &TestApp, company: &Company) -> reqwest::Response {
    app.http
        .post(app.url("/oauth/token"))
        .basic_auth(&company.id, Some(&company.secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn companies_over_their_rate_get_429_with_retry_after() {
    // 2 a second, bursts of 4.
    let app = TestApp::spawn_configured(store::testing::sqlite().await, |c| c.rate_limit = 2).await;
    let acme = app.company("Acme").await;
    let globex = app.company("Globex").await;

    let mut access = String::new();
    for i in 0..4 {
        let ok = token(&app, &acme).await;
        assert_eq!(ok.status(), 200, "request {i} of the burst");
        let body: Value = ok.json().await.unwrap();
        access = body["access_token"].as_str().unwrap().to_owned();
    }
    let refused = token(&app, &acme).await;
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "1");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");

    // A wrong secret for Acme's id does not spend Acme's budget (limits
    // apply after authentication) and gets the usual 401.
    let forged = Company {
        id: acme.id.clone(),
        secret: "not-the-secret".to_owned(),
    };
    assert_eq!(token(&app, &forged).await.status(), 401);
    // Globex has its own budget.
    assert_eq!(token(&app, &globex).await.status(), 200);

    // The request endpoint counts against the same company budget: Acme is
    // still out, and the answer is a problem document.
    let asked = app
        .http
        .post(app.url("/v1/requests"))
        .bearer_auth(&access)
        .json(&json!({"person": {"handle": "nobody_here"},
            "authorization_details": [{"type": "apiome_data", "attributes": ["email"],
                "purpose": "marketing", "duration": "P1D"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status(), 429);
    assert_eq!(asked.headers()["content-type"], "application/problem+json");
    assert!(asked.headers().contains_key("retry-after"));

    // After the wait, Acme may go on.
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    assert_eq!(token(&app, &acme).await.status(), 200);
    app.stop().await;
}
