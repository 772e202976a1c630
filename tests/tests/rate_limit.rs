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

/// A company firing many token requests at once gets exactly its burst,
/// plus what the rate refilled while they were served: the limiter's
/// check-and-take is one step, however the requests interleave.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_concurrent_requests_gets_only_the_burst_through() {
    // 1 a second, bursts of 2.
    let app = TestApp::spawn_configured(store::testing::sqlite().await, |c| c.rate_limit = 1).await;
    let acme = app.company("Acme").await;
    let started = std::time::Instant::now();
    let mut attack = tokio::task::JoinSet::new();
    for _ in 0..40 {
        let request = app
            .http
            .post(app.url("/oauth/token"))
            .basic_auth(&acme.id, Some(&acme.secret))
            .form(&[("grant_type", "client_credentials")]);
        attack.spawn(async move { request.send().await.unwrap().status().as_u16() });
    }
    let mut statuses = Vec::new();
    while let Some(status) = attack.join_next().await {
        statuses.push(status.unwrap());
    }
    let refilled = started.elapsed().as_secs();
    let admitted = statuses.iter().filter(|s| **s == 200).count() as u64;
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 429),
        "{statuses:?}"
    );
    assert!(
        (2..=2 + refilled).contains(&admitted),
        "{admitted} admitted in {refilled} s: {statuses:?}"
    );
    app.stop().await;
}
