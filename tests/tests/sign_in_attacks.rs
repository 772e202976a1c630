//! Sign-in and sign-up as an attacker tries them: many guesses at once,
//! many sign-ups from one address, probing which handles exist through
//! the passkey endpoints, and hopping addresses inside one IPv6 /64.

#![allow(
    clippy::unwrap_used,
    reason = "test steps: a failed unwrap is a failed test"
)]

use apiome_tests::{PASSWORD, TestApp, app_test};
use identity::ThrottleKey;
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

async fn password_account(app: &TestApp, handle: &str) {
    let response = post(
        app,
        "/v1/accounts",
        json!({"handle": handle, "password": PASSWORD}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

app_test!(forty_concurrent_wrong_passwords_try_at_most_five, |app| {
    password_account(app, "ada").await;
    let guesses: Vec<_> = (0..40)
        .map(|i| {
            let http = app.http.clone();
            let url = app.url("/v1/session");
            tokio::spawn(async move {
                let response = http
                    .post(url)
                    .json(&json!({"handle": "ada", "password": format!("guess number {i}")}))
                    .send()
                    .await
                    .unwrap();
                let retry_after = response.headers().contains_key("retry-after");
                (response.status(), retry_after)
            })
        })
        .collect();
    let mut wrong = 0;
    let mut throttled = 0;
    for guess in guesses {
        let (status, retry_after) = guess.await.unwrap();
        match status {
            StatusCode::UNAUTHORIZED => wrong += 1,
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
                assert!(retry_after, "a {status} says when to come back");
                throttled += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(
        (1..=5).contains(&wrong),
        "{wrong} guesses were tried, {throttled} refused"
    );
    assert!(throttled >= 35);
    // The account's counter is taken before a hash is computed and given
    // back when none was: it is the number of passwords verified.
    let counted = app
        .store()
        .throttle(&ThrottleKey::handle("ada"))
        .await
        .unwrap()
        .failures;
    assert_eq!(counted, wrong, "hashes verified for ada's key");
    // ... and the right password waits too.
    let right = post(
        app,
        "/v1/session",
        json!({"handle": "ada", "password": PASSWORD}),
    )
    .await;
    assert_eq!(right.status(), StatusCode::TOO_MANY_REQUESTS);
});

/// The shape of a JSON value: object keys and array lengths, recursively,
/// without the values.
fn shape(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), shape(v))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(shape).collect()),
        Value::String(_) => json!("string"),
        Value::Number(_) => json!("number"),
        Value::Bool(_) => json!("bool"),
        Value::Null => Value::Null,
    }
}

async fn start_passkey_sign_in(app: &TestApp, handle: &str) -> (StatusCode, Value) {
    let response = post(app, "/v1/session/passkey", json!({"handle": handle})).await;
    (response.status(), response.json().await.unwrap())
}

app_test!(
    passkey_sign_in_answers_alike_for_unknown_and_known_handles,
    |app| {
        let mut key = SoftPasskey::new(true);
        let start = post(app, "/v1/accounts", json!({"handle": "grace"})).await;
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
        password_account(app, "hopper").await;

        let (known_status, known) = start_passkey_sign_in(app, "grace").await;
        let (unknown_status, unknown) = start_passkey_sign_in(app, "nobody_at_all").await;
        let (passwordonly_status, password_only) = start_passkey_sign_in(app, "hopper").await;
        assert_eq!(known_status, StatusCode::OK);
        assert_eq!(unknown_status, known_status);
        assert_eq!(passwordonly_status, known_status);
        assert_eq!(shape(&unknown), shape(&known), "{unknown:#} vs {known:#}");
        assert_eq!(shape(&password_only), shape(&known));
        // Asking again lists the same credential, as it would for a real one.
        let (_, again) = start_passkey_sign_in(app, "nobody_at_all").await;
        let listed = |v: &Value| v["options"]["publicKey"]["allowCredentials"].clone();
        assert_eq!(listed(&again), listed(&unknown));
        assert_ne!(listed(&unknown), listed(&known));
    }
);

app_test!(
    passkey_sign_up_starts_alike_for_free_and_taken_handles,
    |app| {
        password_account(app, "taken_one").await;
        let taken = post(app, "/v1/accounts", json!({"handle": "taken_one"})).await;
        let free = post(app, "/v1/accounts", json!({"handle": "free_one"})).await;
        assert_eq!(taken.status(), StatusCode::OK);
        assert_eq!(free.status(), StatusCode::OK);
        let (taken, free): (Value, Value) =
            (taken.json().await.unwrap(), free.json().await.unwrap());
        assert_eq!(shape(&taken), shape(&free));
    }
);

/// One engine's run of the sign-up limit: three sign-ups an hour from an
/// address, password or passkey alike, then `429` with `Retry-After`.
async fn sign_ups_per_address_are_limited(db: TestDb) {
    let app = TestApp::spawn_configured(db, |config| config.sign_ups_per_hour = 3).await;
    password_account(&app, "first").await;
    password_account(&app, "second").await;
    let passkey = post(&app, "/v1/accounts", json!({"handle": "third"})).await;
    assert_eq!(passkey.status(), StatusCode::OK);
    for body in [
        json!({"handle": "fourth", "password": PASSWORD}),
        json!({"handle": "fifth"}),
    ] {
        let refused = post(&app, "/v1/accounts", body).await;
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry: u64 = refused.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((3500..=3600).contains(&retry), "{retry}");
    }
    let fourth = app
        .store()
        .person_by_handle(&store::Handle::parse("fourth").unwrap())
        .await;
    assert!(fourth.is_err(), "nothing was created");
    // The sign-up page answers the same way.
    let page = app
        .http
        .post(app.url("/signup"))
        .form(&[("handle", "sixth"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(page.headers().contains_key("retry-after"));
    app.stop().await;
}

mod sign_ups_per_address_are_limited {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::sign_ups_per_address_are_limited(store::testing::sqlite().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        if let Some(db) = store::testing::postgres().await {
            super::sign_ups_per_address_are_limited(db).await;
        }
    }
}

async fn sign_in_from(app: &TestApp, handle: &str, forwarded_for: &str) -> StatusCode {
    app.http
        .post(app.url("/v1/session"))
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({"handle": handle, "password": "not the password"}))
        .send()
        .await
        .unwrap()
        .status()
}

/// Behind a trusted proxy, five failures spread over five addresses of
/// one IPv6 /64 (each on another handle, so only the address throttle
/// can trip) throttle the whole /64, and no other.
async fn ipv6_addresses_in_one_64_share_a_throttle(db: TestDb) {
    let app = TestApp::spawn_configured(db, |config| {
        config.trusted_proxies = vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()];
    })
    .await;
    for i in 1..=5 {
        let status =
            sign_in_from(&app, &format!("nobody{i}"), &format!("2001:db8:1:2::{i:x}")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let hopped = sign_in_from(&app, "someone", "2001:db8:1:2:ffff:ffff:ffff:fffe").await;
    assert_eq!(hopped, StatusCode::TOO_MANY_REQUESTS);
    let neighbour = sign_in_from(&app, "someone_else", "2001:db8:1:3::1").await;
    assert_eq!(neighbour, StatusCode::UNAUTHORIZED);
    app.stop().await;
}

mod ipv6_addresses_in_one_64_share_a_throttle {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::ipv6_addresses_in_one_64_share_a_throttle(store::testing::sqlite().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        if let Some(db) = store::testing::postgres().await {
            super::ipv6_addresses_in_one_64_share_a_throttle(db).await;
        }
    }
}

/// Makes every session of the app look signed in ten minutes ago (or
/// more): what a stolen session token looks like.
async fn age_sessions(app: &TestApp) {
    let sql = match app.store().backend() {
        store::Backend::Postgres => {
            "UPDATE session SET created_at = created_at - interval '10 minutes'"
        }
        // The stored text starts with the year: move it back a few years.
        store::Backend::Sqlite => "UPDATE session SET created_at = '2000' || substr(created_at, 5)",
    };
    app.store().execute_unprepared(sql).await.unwrap();
}

async fn sign_in(app: &TestApp, handle: &str) -> String {
    let response = post(
        app,
        "/v1/session",
        json!({"handle": handle, "password": PASSWORD}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["session"]["token"].as_str().unwrap().to_owned()
}

async fn send(app: &TestApp, method: reqwest::Method, path: &str, token: &str) -> Response {
    app.http
        .request(method, app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

app_test!(an_old_session_cannot_change_the_ways_in, |app| {
    use reqwest::Method;
    password_account(app, "ada").await;
    let stolen = sign_in(app, "ada").await;
    let fresh = send(app, Method::POST, "/v1/me/recovery-codes", &stolen).await;
    assert_eq!(fresh.status(), StatusCode::CREATED);

    age_sessions(app).await;
    assert_eq!(
        send(app, Method::GET, "/v1/me", &stolen).await.status(),
        StatusCode::OK,
        "still signed in"
    );
    for (method, path) in [
        (Method::POST, "/v1/me/recovery-codes"),
        (Method::POST, "/v1/me/passkeys"),
        (Method::DELETE, "/v1/me/passkeys/some-passkey"),
    ] {
        let refused = send(app, method.clone(), path, &stolen).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{method} {path}");
        let body: Value = refused.json().await.unwrap();
        assert_eq!(apiome_tests::problem_kind(&body), "recent-sign-in-required");
    }

    // The person signs in again: fresh, allowed; and ends the other
    // session, the stolen one.
    let mine = sign_in(app, "ada").await;
    let codes = send(app, Method::POST, "/v1/me/recovery-codes", &mine).await;
    assert_eq!(codes.status(), StatusCode::CREATED);
    let ended = send(app, Method::DELETE, "/v1/me/sessions/others", &mine).await;
    assert_eq!(ended.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        send(app, Method::GET, "/v1/me", &stolen).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(app, Method::GET, "/v1/me", &mine).await.status(),
        StatusCode::OK
    );
});
