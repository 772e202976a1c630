//! What an authenticated company can make the server store in bulk is
//! bounded: `POST /oauth/par` (a row per pushed request) spends the same
//! per-company budget as the token endpoint.

#![allow(
    clippy::unwrap_used,
    reason = "test steps: a failed unwrap is a failed test"
)]

use apiome_tests::{Company, REDIRECT, TestApp};
use serde_json::{Value, json};
use store::testing::TestDb;

/// `POST /oauth/par` with a valid request, as `company`.
async fn push(http: reqwest::Client, url: String, company: Company) -> reqwest::Response {
    let details = json!([{"type": "apiome_data", "attributes": ["email"],
        "purpose": "marketing", "duration": "P30D"}])
    .to_string();
    http.post(url)
        .basic_auth(&company.id, Some(&company.secret))
        .form(&[
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ),
            ("code_challenge_method", "S256"),
            ("authorization_details", details.as_str()),
        ])
        .send()
        .await
        .unwrap()
}

/// 60 concurrent pushed requests from one company, at 2 a second with
/// bursts of 4: a handful stored, the rest `429` with `Retry-After`, and
/// another company's budget untouched.
async fn a_flood_of_pushed_requests_is_rate_limited(db: TestDb) {
    let app = TestApp::spawn_configured(db, |c| c.rate_limit = 2).await;
    let acme = app.company("Acme").await;
    let globex = app.company("Globex").await;
    let started = std::time::Instant::now();
    let mut flood = tokio::task::JoinSet::new();
    for _ in 0..60 {
        flood.spawn(push(app.http.clone(), app.url("/oauth/par"), acme.clone()));
    }
    let (mut stored, mut limited) = (0_u64, 0_u64);
    while let Some(answer) = flood.join_next().await {
        let answer = answer.unwrap();
        match answer.status().as_u16() {
            201 => stored += 1,
            429 => {
                assert!(answer.headers().contains_key("retry-after"));
                let body: Value = answer.json().await.unwrap();
                assert_eq!(body["error"], "temporarily_unavailable");
                limited += 1;
            }
            other => panic!("unexpected {other}: {}", answer.text().await.unwrap()),
        }
    }
    // The burst, plus what refilled at 2 a second while the flood ran.
    let refilled = (started.elapsed().as_secs_f64() * 2.0).ceil() as u64;
    assert!(stored >= 4 && stored <= 4 + refilled, "{stored} stored");
    assert_eq!(stored + limited, 60);
    // The token endpoint shares the budget: Acme is out there too.
    let token = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth(&acme.id, Some(&acme.secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 429);
    // Globex has its own.
    let other = push(app.http.clone(), app.url("/oauth/par"), globex).await;
    assert_eq!(other.status(), 201);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_pushed_requests_is_rate_limited_sqlite() {
    a_flood_of_pushed_requests_is_rate_limited(store::testing::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_pushed_requests_is_rate_limited_postgres() {
    if let Some(db) = store::testing::postgres().await {
        a_flood_of_pushed_requests_is_rate_limited(db).await;
    }
}
