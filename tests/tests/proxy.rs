//! Running behind a reverse proxy: sign-in throttling keys on the address
//! a *trusted* proxy forwarded (and on nothing a client wrote itself), and
//! HSTS once the public URL is https.

#![allow(
    clippy::unwrap_used,
    reason = "test steps: a failed unwrap is a failed test"
)]

use apiome_tests::TestApp;
use serde_json::json;
use store::testing::TestDb;

async fn sign_in(app: &TestApp, handle: &str, forwarded_for: &str) -> u16 {
    app.http
        .post(app.url("/v1/session"))
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({"handle": handle, "password": "not the password"}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Five failures from one address (each on another unknown handle, so
/// only the per-address throttle can trip).
async fn fail_five_times(app: &TestApp, forwarded_for: &str) {
    for i in 0..5 {
        let status = sign_in(app, &format!("nobody{i}"), forwarded_for).await;
        assert_eq!(status, 401, "attempt {i}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_the_forwarded_address_is_throttled() {
    let db = store::testing::sqlite().await;
    let app = TestApp::spawn_configured(db, |config| {
        config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    fail_five_times(&app, "198.51.100.7").await;
    assert_eq!(sign_in(&app, "someone", "198.51.100.7").await, 429);
    // Another client behind the same proxy is not punished for it.
    assert_eq!(sign_in(&app, "someone_else", "198.51.100.8").await, 401);
    // Writing another address at the left does not escape: the proxy
    // appends the address it saw, and that is the one believed.
    assert_eq!(
        sign_in(&app, "a_third", "198.51.100.8, 198.51.100.7").await,
        429
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_trusted_proxy_a_forwarded_address_changes_nothing() {
    let app = TestApp::sqlite().await;
    fail_five_times(&app, "198.51.100.7").await;
    // The connection's own address is what was throttled.
    assert_eq!(sign_in(&app, "someone", "198.51.100.8").await, 429);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hsts_is_sent_once_the_public_url_is_https() {
    let plain = TestApp::sqlite().await;
    let response = plain.http.get(plain.url("/healthz")).send().await.unwrap();
    assert!(
        response
            .headers()
            .get("strict-transport-security")
            .is_none()
    );
    plain.stop().await;

    let db = store::testing::sqlite().await;
    let app = TestApp::spawn_configured(db, |config| {
        config.public_url = Some("https://apiome.example".parse().unwrap());
    })
    .await;
    for path in ["/healthz", "/", "/v1/catalogue"] {
        let response = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(
            response.headers()["strict-transport-security"],
            server::startup::HSTS,
            "{path}"
        );
    }
    app.stop().await;
}

async fn a_trusted_proxy_names_the_request(db: TestDb) {
    let app = TestApp::spawn_configured(db, |config| {
        config.trusted_proxies = vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()];
    })
    .await;
    for path in ["/healthz", "/nothing"] {
        let response = app
            .http
            .get(app.url(path))
            .header("x-request-id", "lb-7f3a.42")
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["x-request-id"], "lb-7f3a.42", "{path}");
    }
    // An id the server could not repeat safely is replaced, not passed on.
    let response = app
        .http
        .get(app.url("/healthz"))
        .header("x-request-id", "a\"b")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"].len(), 32);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_proxy_names_the_request_sqlite() {
    a_trusted_proxy_names_the_request(store::testing::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_proxy_names_the_request_postgres() {
    if let Some(db) = store::testing::postgres().await {
        a_trusted_proxy_names_the_request(db).await;
    }
}
