//! People through the JSON API, as a script or a browser would drive it:
//! sign-up and sign-in with a software passkey (a real WebAuthn
//! authenticator, not a mock) or a password, attributes in buckets, and the
//! protections around them: throttling, CSRF, no enumeration, single-use
//! challenges, and bad input refused with nothing changed.

#![allow(
    clippy::unwrap_used,
    reason = "test steps: a failed unwrap is a failed test"
)]

use std::time::{Duration, Instant};

use apiome_tests::{PASSWORD, TestApp, app_test};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs_proto::{CreationChallengeResponse, RequestChallengeResponse};

async fn json_of(response: Response) -> Value {
    response.json().await.unwrap()
}

async fn post(app: &TestApp, path: &str, body: Value) -> Response {
    app.http
        .post(app.url(path))
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Signs up with a password; returns the session token.
async fn password_account(app: &TestApp, handle: &str) -> String {
    let response = post(
        app,
        "/v1/accounts",
        json!({"handle": handle, "password": PASSWORD}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body = json_of(response).await;
    assert_eq!(body["recovery_codes"].as_array().unwrap().len(), 10);
    body["token"].as_str().unwrap().to_owned()
}

fn origin(app: &TestApp) -> url::Url {
    url::Url::parse(&app.base_url).unwrap()
}

/// Signs up with a passkey made by `authenticator`; returns the body of the
/// answer (token, recovery codes).
async fn passkey_account(app: &TestApp, handle: &str, authenticator: &mut SoftPasskey) -> Value {
    let start = json_of(post(app, "/v1/accounts", json!({"handle": handle})).await).await;
    let options: CreationChallengeResponse =
        serde_json::from_value(start["options"].clone()).unwrap();
    let credential = authenticator.do_registration(origin(app), options).unwrap();
    let response = post(
        app,
        "/v1/accounts/passkey",
        json!({"ceremony_id": start["ceremony_id"], "credential": credential, "name": "soft key"}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    json_of(response).await
}

/// Answers a sign-in challenge with `authenticator`.
async fn passkey_sign_in(
    app: &TestApp,
    start: &Value,
    authenticator: &mut SoftPasskey,
) -> Response {
    let options: RequestChallengeResponse =
        serde_json::from_value(start["options"].clone()).unwrap();
    let credential = authenticator
        .do_authentication(origin(app), options)
        .unwrap();
    post(
        app,
        "/v1/session/passkey/finish",
        json!({"ceremony_id": start["ceremony_id"], "credential": credential}),
    )
    .await
}

async fn get_with(app: &TestApp, path: &str, token: &str) -> Response {
    app.http
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn put_with(app: &TestApp, path: &str, token: &str, body: Value) -> Response {
    app.http
        .put(app.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

app_test!(
    five_attributes_across_three_buckets_read_back_exactly_and_only_by_their_owner,
    |app| {
        let ada = password_account(app, "ada").await;
        let values = [
            ("email", json!("ada@example.org"), "semi_private"),
            ("birth_date", json!("1815-12-10"), "private"),
            ("display_name", json!("Ada"), "public"),
            ("interests", json!(["mathematics", "poetry"]), "public"),
            (
                "postal_address",
                json!({"lines": ["12 St James's Square"], "city": "London", "country": "GB"}),
                "private",
            ),
        ];
        for (key, value, bucket) in &values {
            let response = put_with(
                app,
                &format!("/v1/me/attributes/{key}"),
                &ada,
                json!({"value": value, "bucket": bucket}),
            )
            .await;
            assert_eq!(response.status(), StatusCode::OK, "{key}");
        }
        let stored = json_of(get_with(app, "/v1/me/attributes", &ada).await).await;
        let stored = stored["items"].as_array().unwrap();
        assert_eq!(stored.len(), 5);
        for (key, value, bucket) in &values {
            let got = stored.iter().find(|a| a["key"] == *key).unwrap();
            assert_eq!(
                (&got["value"], got["bucket"].as_str().unwrap()),
                (value, *bucket),
                "{key}"
            );
        }

        let bob = password_account(app, "bob").await;
        let seen = json_of(get_with(app, "/v1/me/attributes", &bob).await).await;
        assert_eq!(
            seen,
            json!({"items": [], "next_cursor": null}),
            "a second person sees none of the first's attributes"
        );
        let response = app
            .http
            .get(app.url("/v1/me/attributes"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
);

app_test!(
    every_list_pages_by_cursor_and_link_header_and_refuses_bad_paging_by_name,
    |app| {
        let ada = password_account(app, "pager").await;
        let keys = ["x-a", "x-b", "x-c", "x-d", "x-e"];
        for key in keys {
            let response = put_with(
                app,
                &format!("/v1/me/attributes/{key}"),
                &ada,
                json!({"value": key, "bucket": "private"}),
            )
            .await;
            assert_eq!(response.status(), StatusCode::OK, "{key}");
        }
        // Follow the Link header, as a generic client would.
        let mut next = Some(app.url("/v1/me/attributes?limit=2"));
        let mut seen = Vec::new();
        let mut pages = 0;
        while let Some(url) = next.take() {
            let response = app.http.get(&url).bearer_auth(&ada).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            let link = response
                .headers()
                .get("link")
                .map(|l| l.to_str().unwrap().to_owned());
            let page = json_of(response).await;
            pages += 1;
            for item in page["items"].as_array().unwrap() {
                seen.push(item["key"].as_str().unwrap().to_owned());
            }
            match (&link, page["next_cursor"].as_str()) {
                (Some(link), Some(cursor)) => {
                    assert!(link.ends_with("; rel=\"next\""), "{link}");
                    assert!(link.contains(&format!("cursor={cursor}")), "{link}");
                    assert!(link.contains("limit=2"), "the limit is kept: {link}");
                    let target = link.trim_start_matches('<').split('>').next().unwrap();
                    next = Some(target.to_owned());
                }
                (None, None) => {}
                other => panic!("Link and next_cursor disagree: {other:?}"),
            }
        }
        assert_eq!(pages, 3);
        assert_eq!(seen, keys, "every item once, in order");

        for (query, field) in [
            ("limit=0", "limit"),
            ("limit=101", "limit"),
            ("cursor=***", "cursor"),
            ("cursor=_w", "cursor"),
        ] {
            for list in [
                "attributes",
                "rules",
                "grants",
                "requests",
                "blocked",
                "passkeys",
                "earnings",
                "activity",
            ] {
                let response = get_with(app, &format!("/v1/me/{list}?{query}"), &ada).await;
                assert_eq!(
                    response.status(),
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "{list}?{query}"
                );
                assert_eq!(json_of(response).await["field"], field, "{list}?{query}");
            }
        }
    }
);

app_test!(a_passkey_signs_up_and_signs_back_in, |app| {
    let mut key = SoftPasskey::new(true);
    let created = passkey_account(app, "grace", &mut key).await;
    let token = created["token"].as_str().unwrap();
    assert_eq!(created["recovery_codes"].as_array().unwrap().len(), 10);
    let me = json_of(get_with(app, "/v1/me", token).await).await;
    assert_eq!(
        (
            me["handle"].as_str(),
            me["passkeys"].as_u64(),
            me["has_password"].as_bool()
        ),
        (Some("grace"), Some(1), Some(false))
    );

    let response = app
        .http
        .delete(app.url("/v1/session"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        get_with(app, "/v1/me", token).await.status(),
        StatusCode::UNAUTHORIZED
    );

    let start = json_of(post(app, "/v1/session/passkey", json!({"handle": "grace"})).await).await;
    let response = passkey_sign_in(app, &start, &mut key).await;
    assert_eq!(response.status(), StatusCode::OK);
    let session = json_of(response).await;
    let me = json_of(get_with(app, "/v1/me", session["token"].as_str().unwrap()).await).await;
    assert_eq!(me["handle"], "grace");
});

app_test!(a_challenge_answers_once, |app| {
    let mut key = SoftPasskey::new(true);
    let start = json_of(post(app, "/v1/accounts", json!({"handle": "once"})).await).await;
    let options: CreationChallengeResponse =
        serde_json::from_value(start["options"].clone()).unwrap();
    let credential = key.do_registration(origin(app), options).unwrap();
    let answer = json!({"ceremony_id": start["ceremony_id"], "credential": credential});
    assert_eq!(
        post(app, "/v1/accounts/passkey", answer.clone())
            .await
            .status(),
        StatusCode::CREATED
    );
    let replay = post(app, "/v1/accounts/passkey", answer).await;
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        apiome_tests::problem_kind(&json_of(replay).await),
        "ceremony-expired"
    );

    // a sign-in challenge, too
    let start = json_of(post(app, "/v1/session/passkey", json!({"handle": "once"})).await).await;
    assert_eq!(
        passkey_sign_in(app, &start, &mut key).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        passkey_sign_in(app, &start, &mut key).await.status(),
        StatusCode::BAD_REQUEST
    );
});

app_test!(
    a_credential_made_for_another_origin_is_refused_and_nothing_is_created,
    |app| {
        let mut key = SoftPasskey::new(true);
        let start = json_of(post(app, "/v1/accounts", json!({"handle": "mallory"})).await).await;
        let options: CreationChallengeResponse =
            serde_json::from_value(start["options"].clone()).unwrap();
        let credential = key.do_registration(
            url::Url::parse("http://localhost.evil.example").unwrap(),
            options,
        );
        // The authenticator itself refuses an RP ID that is not a suffix of the
        // origin; a relying party must refuse what a broken one would send.
        if let Ok(credential) = credential {
            let response = post(
                app,
                "/v1/accounts/passkey",
                json!({"ceremony_id": start["ceremony_id"], "credential": credential}),
            )
            .await;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        }
        // Same RP, wrong origin in clientDataJSON: an answer for another site.
        let start = json_of(post(app, "/v1/accounts", json!({"handle": "mallory"})).await).await;
        let mut options: CreationChallengeResponse =
            serde_json::from_value(start["options"].clone()).unwrap();
        options.public_key.rp.id = "localhost".into();
        let forged = key
            .do_registration(url::Url::parse("https://localhost:1").unwrap(), options)
            .unwrap();
        let response = post(
            app,
            "/v1/accounts/passkey",
            json!({"ceremony_id": start["ceremony_id"], "credential": forged}),
        )
        .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            apiome_tests::problem_kind(&json_of(response).await),
            "passkey-rejected"
        );
        // Not a credential at all: malformed (400), not a failed check (401).
        let start = json_of(post(app, "/v1/accounts", json!({"handle": "mallory"})).await).await;
        let response = post(
            app,
            "/v1/accounts/passkey",
            json!({"ceremony_id": start["ceremony_id"], "credential": {"id": 7}}),
        )
        .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let problem = json_of(response).await;
        assert_eq!(apiome_tests::problem_kind(&problem), "malformed-request");
        assert_eq!(problem["field"], "credential");
        // the handle is still free: nothing was created
        let handle = store::Handle::parse("mallory").unwrap();
        assert!(matches!(
            app.store().person_by_handle(&handle).await,
            Err(store::StoreError::PersonNotFound)
        ));
    }
);

app_test!(
    a_removed_passkey_no_longer_signs_in_and_the_last_one_stays,
    |app| {
        let mut first = SoftPasskey::new(true);
        let mut second = SoftPasskey::new(true);
        let created = passkey_account(app, "hopper", &mut first).await;
        let token = created["token"].as_str().unwrap().to_owned();

        let keys = json_of(get_with(app, "/v1/me/passkeys", &token).await).await;
        let first_id = keys["items"][0]["id"].as_str().unwrap().to_owned();
        let last = app
            .http
            .delete(app.url(&format!("/v1/me/passkeys/{first_id}")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(
            last.status(),
            StatusCode::CONFLICT,
            "the last way in cannot be removed"
        );

        let start = json_of(
            app.http
                .post(app.url("/v1/me/passkeys"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap(),
        )
        .await;
        let options: CreationChallengeResponse =
            serde_json::from_value(start["options"].clone()).unwrap();
        let credential = second.do_registration(origin(app), options).unwrap();
        let added = app
        .http
        .post(app.url("/v1/me/passkeys/finish"))
        .bearer_auth(&token)
        .json(&json!({"ceremony_id": start["ceremony_id"], "credential": credential, "name": "phone"}))
        .send()
        .await
        .unwrap();
        assert_eq!(added.status(), StatusCode::CREATED);

        let removed = app
            .http
            .delete(app.url(&format!("/v1/me/passkeys/{first_id}")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(removed.status(), StatusCode::NO_CONTENT);

        // The first key still holds its private key, but the server no longer
        // knows it: a discoverable challenge, answered by the removed key.
        let start = json_of(post(app, "/v1/session/passkey", json!({})).await).await;
        let mut options: RequestChallengeResponse =
            serde_json::from_value(start["options"].clone()).unwrap();
        options.public_key.allow_credentials = vec![webauthn_rs_proto::AllowCredentials {
            type_: "public-key".into(),
            id: base64_url_decode(&first_id),
            transports: None,
        }];
        let credential = first.do_authentication(origin(app), options).unwrap();
        let response = post(
            app,
            "/v1/session/passkey/finish",
            json!({"ceremony_id": start["ceremony_id"], "credential": credential}),
        )
        .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

        let start =
            json_of(post(app, "/v1/session/passkey", json!({"handle": "hopper"})).await).await;
        assert_eq!(
            passkey_sign_in(app, &start, &mut second).await.status(),
            StatusCode::OK
        );
    }
);

fn base64_url_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.bytes() {
        let v = ALPHABET.iter().position(|&a| a == c).unwrap() as u32;
        bits = (bits << 6) | v;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    out
}

app_test!(
    a_password_account_with_a_passkey_needs_the_passkey_or_a_recovery_code,
    |app| {
        let response = post(
            app,
            "/v1/accounts",
            json!({"handle": "lovelace", "password": PASSWORD}),
        )
        .await;
        let created = json_of(response).await;
        let token = created["token"].as_str().unwrap().to_owned();
        let codes: Vec<String> = serde_json::from_value(created["recovery_codes"].clone()).unwrap();

        // without a passkey, the password alone signs in
        let outcome = json_of(
            post(
                app,
                "/v1/session",
                json!({"handle": "lovelace", "password": PASSWORD}),
            )
            .await,
        )
        .await;
        assert_eq!(outcome["status"], "signed_in");

        let mut key = SoftPasskey::new(true);
        let start = json_of(
            app.http
                .post(app.url("/v1/me/passkeys"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap(),
        )
        .await;
        let options: CreationChallengeResponse =
            serde_json::from_value(start["options"].clone()).unwrap();
        let credential = key.do_registration(origin(app), options).unwrap();
        let added = app
            .http
            .post(app.url("/v1/me/passkeys/finish"))
            .bearer_auth(&token)
            .json(&json!({"ceremony_id": start["ceremony_id"], "credential": credential}))
            .send()
            .await
            .unwrap();
        assert_eq!(added.status(), StatusCode::CREATED);

        // now the password leads to a passkey challenge, not a session
        let outcome = json_of(
            post(
                app,
                "/v1/session",
                json!({"handle": "lovelace", "password": PASSWORD}),
            )
            .await,
        )
        .await;
        assert_eq!(outcome["status"], "passkey_required");
        assert!(outcome.get("session").is_none());
        let response = passkey_sign_in(app, &outcome["ceremony"], &mut key).await;
        assert_eq!(response.status(), StatusCode::OK);

        // a recovery code stands in for the passkey, once
        let with_code = json!({"handle": "lovelace", "password": PASSWORD, "recovery_code": codes[0].to_lowercase()});
        let outcome = json_of(post(app, "/v1/session", with_code.clone()).await).await;
        assert_eq!(outcome["status"], "signed_in");
        assert_eq!(
            post(app, "/v1/session", with_code).await.status(),
            StatusCode::UNAUTHORIZED
        );
        // and never without the password
        let response = post(
            app,
            "/v1/session",
            json!({"handle": "lovelace", "recovery_code": codes[1]}),
        )
        .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let me = json_of(get_with(app, "/v1/me", &token).await).await;
        assert_eq!(me["recovery_codes_left"], 9);
    }
);

app_test!(sign_in_is_throttled_after_five_failures, |app| {
    password_account(app, "turing").await;
    for attempt in 0..5 {
        let response = post(
            app,
            "/v1/session",
            json!({"handle": "turing", "password": "wrong password"}),
        )
        .await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}"
        );
    }
    // even the right password waits now
    let response = post(
        app,
        "/v1/session",
        json!({"handle": "turing", "password": PASSWORD}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    assert_eq!(
        apiome_tests::problem_kind(&json_of(response).await),
        "too-many-attempts"
    );
    tokio::time::sleep(Duration::from_millis(retry * 1000 + 100)).await;
    let response = post(
        app,
        "/v1/session",
        json!({"handle": "turing", "password": PASSWORD}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
});

app_test!(
    an_unknown_handle_and_a_wrong_password_look_the_same,
    |app| {
        password_account(app, "knuth").await;
        let mut timings = [Vec::new(), Vec::new()];
        let mut bodies = Vec::new();
        for round in 0..3 {
            for (i, handle) in ["knuth", "nobody_here"].iter().enumerate() {
                let started = Instant::now();
                let response = post(
                    app,
                    "/v1/session",
                    json!({"handle": handle, "password": format!("wrong {round}")}),
                )
                .await;
                timings[i].push(started.elapsed());
                assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
                bodies.push(json_of(response).await);
                // keep the per-address throttle (tested above) out of the way
                for loopback in ["127.0.0.1", "::1"] {
                    let address = identity::ThrottleKey::address(loopback.parse().unwrap());
                    app.store().clear_throttle(&address).await.unwrap();
                }
            }
        }
        assert!(bodies.windows(2).all(|w| w[0] == w[1]), "{bodies:?}");
        let median = |v: &mut Vec<Duration>| {
            v.sort();
            v[v.len() / 2]
        };
        let (known, unknown) = (median(&mut timings[0]), median(&mut timings[1]));
        let ratio = known.as_secs_f64() / unknown.as_secs_f64();
        assert!(
            (0.33..3.0).contains(&ratio),
            "known {known:?} vs unknown {unknown:?}"
        );
    }
);

app_test!(cookie_authenticated_changes_need_the_csrf_token, |app| {
    let response = post(
        app,
        "/v1/accounts",
        json!({"handle": "csrf_victim", "password": PASSWORD}),
    )
    .await;
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert!(
        response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("HttpOnly")
    );
    assert!(
        response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("SameSite=Lax")
    );
    let created = json_of(response).await;
    let csrf = created["csrf_token"].as_str().unwrap();
    let put = |token: Option<&str>| {
        let mut request = app
            .http
            .put(app.url("/v1/me/attributes/display_name"))
            .header("cookie", &cookie)
            .json(&json!({"value": "Mallory", "bucket": "public"}));
        if let Some(token) = token {
            request = request.header("x-csrf-token", token);
        }
        request.send()
    };
    let refused = put(None).await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(apiome_tests::problem_kind(&json_of(refused).await), "csrf");
    assert_eq!(
        put(Some("forged-token")).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let listed = app
        .http
        .get(app.url("/v1/me/attributes"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(listed).await["items"], json!([]), "nothing changed");
    assert_eq!(put(Some(csrf)).await.unwrap().status(), StatusCode::OK);
});

app_test!(bad_input_gets_a_precise_answer_and_changes_nothing, |app| {
    let token = password_account(app, "careful").await;
    put_with(
        app,
        "/v1/me/attributes/email",
        &token,
        json!({"value": "c@example.org"}),
    )
    .await;
    let cases = [
        (
            "/v1/me/attributes/shoe_size",
            json!({"value": 42}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "key",
        ),
        (
            "/v1/me/attributes/email",
            json!({"value": "not an email"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "value",
        ),
        (
            "/v1/me/attributes/x-notes",
            json!({"value": "x".repeat(5000)}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "value",
        ),
        (
            "/v1/me/attributes/email",
            json!({"value": "a@b.org", "bucket": "secret"}),
            StatusCode::BAD_REQUEST,
            "",
        ),
    ];
    for (path, body, status, field) in cases {
        let response = put_with(app, path, &token, body.clone()).await;
        assert_eq!(response.status(), status, "{path} {body}");
        let problem = json_of(response).await;
        assert!(!apiome_tests::problem_kind(&problem).is_empty());
        if !field.is_empty() {
            assert_eq!(problem["field"], field, "{problem}");
        }
    }
    let rule = json!({"company": "any", "purposes": ["telepathy"], "attributes": "any", "effect": "allow"});
    let response = app
        .http
        .post(app.url("/v1/me/rules"))
        .bearer_auth(&token)
        .json(&rule)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        json_of(response).await["detail"]
            .as_str()
            .unwrap()
            .contains("telepathy")
    );

    let attributes = json_of(get_with(app, "/v1/me/attributes", &token).await).await;
    assert_eq!(attributes["items"].as_array().unwrap().len(), 1);
    assert_eq!(attributes["items"][0]["value"], "c@example.org");
    assert_eq!(
        json_of(get_with(app, "/v1/me/rules", &token).await).await["items"],
        json!([])
    );

    for forged in ["forged-session-token", "", "Bearer"] {
        assert_eq!(
            get_with(app, "/v1/me", forged).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let weak = post(
        app,
        "/v1/accounts",
        json!({"handle": "weak", "password": "short"}),
    )
    .await;
    assert_eq!(weak.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json_of(weak).await["field"], "password");
    let taken = post(
        app,
        "/v1/accounts",
        json!({"handle": "careful", "password": PASSWORD}),
    )
    .await;
    assert_eq!(taken.status(), StatusCode::CONFLICT);
});

app_test!(signing_out_everywhere_ends_every_session, |app| {
    let first = password_account(app, "everywhere").await;
    let second = json_of(
        post(
            app,
            "/v1/session",
            json!({"handle": "everywhere", "password": PASSWORD}),
        )
        .await,
    )
    .await;
    let second = second["session"]["token"].as_str().unwrap().to_owned();
    assert_eq!(
        get_with(app, "/v1/me", &second).await.status(),
        StatusCode::OK
    );
    let response = app
        .http
        .delete(app.url("/v1/me/sessions"))
        .bearer_auth(&first)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        get_with(app, "/v1/me", &first).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get_with(app, "/v1/me", &second).await.status(),
        StatusCode::UNAUTHORIZED
    );
});

app_test!(preferences_and_rules_round_trip, |app| {
    let token = password_account(app, "prefs").await;
    let prefs = json!({"default": "share_nothing", "max_duration": "P90D",
        "contact": {"channels": ["email"], "hours_from": "09:00", "hours_to": "17:30", "time_zone": "Europe/London", "max_per_week": 2}});
    let response = put_with(app, "/v1/me/preferences", &token, prefs.clone()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        json_of(get_with(app, "/v1/me/preferences", &token).await).await,
        prefs
    );
    let bad = put_with(
        app,
        "/v1/me/preferences",
        &token,
        json!({"default": "ask_me", "contact": {"channels": ["pigeon"]}}),
    )
    .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json_of(bad).await["field"], "contact.channels");

    let rules = [
        json!({"company": "any", "purposes": ["marketing"], "attributes": {"keys": ["interests"]}, "min_offer": {"amount_micros": 50000, "currency": "USD"}, "effect": "allow"}),
        json!({"company": "any", "purposes": "any", "attributes": {"bucket": "semi_private"}, "max_duration": "P30D", "effect": "ask"}),
    ];
    let mut ids = Vec::new();
    for rule in &rules {
        let response = app
            .http
            .post(app.url("/v1/me/rules"))
            .bearer_auth(&token)
            .json(rule)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let body = json_of(response).await;
        assert!(body["description"].as_str().unwrap().len() > 10);
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    let reordered = put_with(
        app,
        "/v1/me/rules/order",
        &token,
        json!({"order": [ids[1], ids[0]]}),
    )
    .await;
    assert_eq!(reordered.status(), StatusCode::OK);
    let listed = json_of(get_with(app, "/v1/me/rules", &token).await).await;
    assert_eq!(listed["items"][0]["id"], ids[1]);
    assert_eq!(
        listed["items"][1]["rule"]["min_offer"]["amount_micros"],
        50000
    );
});

app_test!(sign_in_forms_posted_from_another_site_are_refused, |app| {
    password_account(app, "origin_check").await;
    let form = [("handle", "origin_check"), ("password", PASSWORD)];
    for path in ["/signin", "/signup", "/recover"] {
        let response = app
            .http
            .post(app.url(path))
            .header("origin", "https://attacker.example")
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
        assert!(
            response.headers().get("set-cookie").is_none(),
            "{path} started a session"
        );
    }
    let same_site = app
        .http
        .post(app.url("/signin"))
        .header("origin", app.base_url.as_str())
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(same_site.status(), StatusCode::SEE_OTHER);
    assert!(same_site.headers().get("set-cookie").is_some());
});
