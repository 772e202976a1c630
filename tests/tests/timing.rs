//! Timing: a passkey sign-in or sign-up started for a handle nobody has
//! takes as long as one for a real account, and a CIBA poll of a request
//! made for nobody as long as one of a request a person declined, so the
//! time does not tell who has an account (the answers' shapes are checked in
//! `sign_in_attacks.rs`). Its own test binary, so nothing else runs on the
//! machine's cores while it measures.

#![allow(
    clippy::unwrap_used,
    reason = "test steps: a failed unwrap is a failed test"
)]

use apiome_tests::TestApp;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use store::testing::TestDb;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs_proto::CreationChallengeResponse;

async fn post(app: &TestApp, path: &str, body: Value) -> Response {
    app.http
        .post(app.url(path))
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Median latency, in microseconds, of `rounds` sequential calls of each
/// of two requests, interleaved so that drift in the machine's load falls
/// on both alike; each must be answered `expected`.
async fn paired_medians<A, B, FA, FB>(
    rounds: usize,
    expected: StatusCode,
    mut a: A,
    mut b: B,
) -> (f64, f64)
where
    A: FnMut() -> FA,
    B: FnMut() -> FB,
    FA: Future<Output = StatusCode>,
    FB: Future<Output = StatusCode>,
{
    let (mut times_a, mut times_b) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        // Alternate which goes first, so neither always runs on a warm path.
        for call_a in [round % 2 == 0, round % 2 != 0] {
            let started = std::time::Instant::now();
            let status = if call_a { a().await } else { b().await };
            let took = started.elapsed().as_secs_f64() * 1e6;
            assert_eq!(status, expected);
            if call_a {
                times_a.push(took);
            } else {
                times_b.push(took);
            }
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (median(times_a), median(times_b))
}

/// Whether two medians are within a factor of 1.3 of each other, trying
/// the measurement up to five times: a machine's noise can make one
/// run differ, a real difference (a query skipped for unknown handles)
/// shows every time.
async fn alike_in_time<F, Fut>(mut measure: F) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = (f64, f64)>,
{
    let mut seen = Vec::new();
    for _ in 0..5 {
        let (a, b) = measure().await;
        let ratio = a.max(b) / a.min(b);
        if ratio < 1.3 {
            return Ok(());
        }
        seen.push(format!("{a:.0} µs vs {b:.0} µs"));
    }
    Err(seen.join("; "))
}

/// One engine's run: a passkey sign-in started for a known handle and
/// for an unknown one take the same time (within the noise), and so does
/// a passkey sign-up started for a taken handle and for a free one. The
/// per-address sign-up limit is off, so every start is answered.
async fn passkey_starts_take_as_long_for_unknown_and_known_handles(db: TestDb) {
    let owned = TestApp::spawn_configured(db, |config| config.sign_ups_per_hour = 0).await;
    let app = &owned;
    let mut key = SoftPasskey::new(true);
    let start = post(app, "/v1/accounts", json!({"handle": "timed_grace"})).await;
    let start: Value = start.json().await.unwrap();
    let options: CreationChallengeResponse =
        serde_json::from_value(start["options"].clone()).unwrap();
    let origin = url::Url::parse(&app.base_url).unwrap();
    let credential = key.do_registration(origin, options).unwrap();
    let created = post(
        app,
        "/v1/accounts/passkey",
        json!({"ceremony_id": start["ceremony_id"], "credential": credential}),
    )
    .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let start = |path: &'static str, handle: &'static str| {
        move || async move { post(app, path, json!({"handle": handle})).await.status() }
    };
    let sign_in = |handle| start("/v1/session/passkey", handle);
    alike_in_time(|| {
        paired_medians(
            40,
            StatusCode::OK,
            sign_in("timed_grace"),
            sign_in("timed_nobody"),
        )
    })
    .await
    .unwrap_or_else(|seen| panic!("passkey sign-in start, known vs unknown: {seen}"));
    let sign_up = |handle| start("/v1/accounts", handle);
    alike_in_time(|| {
        paired_medians(
            40,
            StatusCode::OK,
            sign_up("timed_grace"),
            sign_up("timed_free"),
        )
    })
    .await
    .unwrap_or_else(|seen| panic!("passkey sign-up start, taken vs free: {seen}"));
    owned.stop().await;
}

/// Both engines, one after the other: the measurements must not share the
/// machine with each other (this binary holds no other test, so `cargo
/// test` runs nothing beside it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passkey_starts_take_as_long_for_unknown_and_known_handles_on_both_engines() {
    passkey_starts_take_as_long_for_unknown_and_known_handles(store::testing::sqlite().await).await;
    ciba_polls_take_as_long_for_nobody_and_a_refusal(store::testing::sqlite().await).await;
    if let Some(db) = store::testing::postgres().await {
        passkey_starts_take_as_long_for_unknown_and_known_handles(db).await;
    }
    if let Some(db) = store::testing::postgres().await {
        ciba_polls_take_as_long_for_nobody_and_a_refusal(db).await;
    }
}

/// One engine's run: a company polls a backchannel request a person
/// declined and one made for a handle nobody has; both answer
/// `access_denied` (`ciba.rs` checks the bodies are the same), in the
/// same time.
async fn ciba_polls_take_as_long_for_nobody_and_a_refusal(db: TestDb) {
    let owned = TestApp::spawn(db).await;
    let app = &owned;
    let company = app.company("Timed Co").await;
    let created = post(
        app,
        "/v1/accounts",
        json!({"handle": "timed_ada", "password": "correct horse battery staple"}),
    )
    .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let person: Value = created.json().await.unwrap();
    let token = person["token"].as_str().unwrap();
    let response = app
        .http
        .put(app.url("/v1/me/attributes/email"))
        .bearer_auth(token)
        .json(&json!({"value": "ada@example.org", "bucket": "semi_private"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let details = r#"[{"type":"apiome_data","attributes":["email"],"purpose":"marketing","duration":"P30D"}]"#;
    let mut ids = Vec::new();
    for hint in ["timed_ada", "timed_nobody"] {
        let made: Value = app
            .http
            .post(app.url("/oauth/bc-authorize"))
            .basic_auth(&company.id, Some(&company.secret))
            .form(&[("login_hint", hint), ("authorization_details", details)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ids.push(made["auth_req_id"].as_str().unwrap().to_owned());
    }
    let declined = app
        .http
        .post(app.url(&format!("/v1/me/requests/{}/decline", ids[0])))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(declined.status(), StatusCode::OK);
    let poll = |id: String| {
        let company = company.clone();
        move || {
            let (id, company) = (id.clone(), company.clone());
            async move {
                app.http
                    .post(app.url("/oauth/token"))
                    .basic_auth(&company.id, Some(&company.secret))
                    .form(&[
                        ("grant_type", "urn:openid:params:grant-type:ciba"),
                        ("auth_req_id", id.as_str()),
                    ])
                    .send()
                    .await
                    .unwrap()
                    .status()
            }
        }
    };
    alike_in_time(|| {
        paired_medians(
            40,
            StatusCode::BAD_REQUEST,
            poll(ids[0].clone()),
            poll(ids[1].clone()),
        )
    })
    .await
    .unwrap_or_else(|seen| panic!("CIBA poll, declined vs nobody: {seen}"));
    owned.stop().await;
}
