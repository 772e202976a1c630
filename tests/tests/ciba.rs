//! CIBA (OpenID Client-Initiated Backchannel Authentication Core 1.0) end
//! to end, on both backends: a company asks by `POST /oauth/bc-authorize`
//! for a person named by handle or pairwise subject; the request waits in
//! the person's inbox with its `binding_message`, exactly as one made by
//! `POST /v1/requests`; a poll-mode company polls the token endpoint, a
//! ping-mode company is called on its own little HTTP server with its
//! bearer token and then fetches the tokens. And the attacker's side: a
//! hint that names nobody, or a person who blocked the company, answers
//! exactly as a refusal; every bad parameter is refused by name with
//! nothing recorded; a hostile client polling many requests at once gets
//! `slow_down` and at most one set of tokens per `auth_req_id`.

#![allow(
    clippy::unwrap_used,
    reason = "test steps: a failed unwrap is a failed test"
)]

use std::time::Duration;

use apiome_tests::{Call, Company, Person, REDIRECT, TestApp, app_test, http_receiver, next_call};
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// What each person of these tests shares (`(key, value, bucket)`): under
/// "ask me", a public name and a semi-private email.
const SHARES: &[(&str, &str, &str)] = &[
    ("display_name", "Grace", "public"),
    ("email", "grace@example.org", "semi_private"),
];
const CIBA: &str = "urn:openid:params:grant-type:ciba";
const DETAILS: &str =
    r#"[{"type":"apiome_data","attributes":["email"],"purpose":"marketing","duration":"P30D"}]"#;

/// A company registered (RFC 7591) for the CIBA grant, with `extra`
/// metadata (the delivery mode).
async fn ciba_company(app: &TestApp, name: &str, extra: Value) -> Company {
    let mut metadata = json!({
        "client_name": name,
        "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "refresh_token", "client_credentials", CIBA],
    });
    metadata
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let response = app.register(metadata).await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    Company {
        id: body["client_id"].as_str().unwrap().to_owned(),
        secret: body["client_secret"].as_str().unwrap().to_owned(),
    }
}

/// `POST /oauth/bc-authorize` with Basic client authentication.
async fn bc_authorize(app: &TestApp, company: &Company, form: &[(&str, &str)]) -> (u16, Value) {
    let response = app
        .http
        .post(app.url("/oauth/bc-authorize"))
        .basic_auth(&company.id, Some(&company.secret))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    assert_eq!(response.headers()["cache-control"], "no-store");
    (status, response.json().await.unwrap())
}

/// A backchannel request for email, to `hint`; its `auth_req_id`.
async fn ask(app: &TestApp, company: &Company, hint: &str, extra: &[(&str, &str)]) -> String {
    let mut form = vec![
        ("scope", "openid"),
        ("login_hint", hint),
        ("authorization_details", DETAILS),
    ];
    form.extend_from_slice(extra);
    let (status, body) = bc_authorize(app, company, &form).await;
    assert_eq!(status, 200, "{body}");
    body["auth_req_id"].as_str().unwrap().to_owned()
}

async fn poll(app: &TestApp, company: &Company, auth_req_id: &str) -> (u16, Value) {
    let response = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth(&company.id, Some(&company.secret))
        .form(&[("grant_type", CIBA), ("auth_req_id", auth_req_id)])
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn inbox(app: &TestApp, who: &Person) -> Vec<Value> {
    let response = app
        .http
        .get(app.url("/v1/me/requests"))
        .bearer_auth(&who.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let page: Value = response.json().await.unwrap();
    page["items"].as_array().unwrap().clone()
}

async fn answer(app: &TestApp, who: &Person, id: &str, how: &str) -> u16 {
    app.http
        .post(app.url(&format!("/v1/me/requests/{id}/{how}")))
        .bearer_auth(&who.token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

app_test!(
    poll_mode_the_person_approves_in_the_inbox_and_the_company_gets_tokens_once,
    |app| {
        let acme = ciba_company(app, "Acme Poll", json!({})).await;
        let grace = app.person_with("grace_poll", SHARES).await;
        let (status, made) = bc_authorize(
            app,
            &acme,
            &[
                ("scope", "openid"),
                ("login_hint", &grace.handle),
                ("authorization_details", DETAILS),
                ("binding_message", "Order 4711"),
                ("requested_expiry", "600"),
            ],
        )
        .await;
        assert_eq!(status, 200, "{made}");
        let id = made["auth_req_id"].as_str().unwrap().to_owned();
        assert_eq!(made["expires_in"], 600);
        assert_eq!(made["interval"], 5);

        // The same request as POST /v1/requests makes: in the inbox (JSON
        // and page), with the binding message beside it.
        let waiting = inbox(app, &grace).await;
        assert_eq!(waiting.len(), 1, "{waiting:?}");
        assert_eq!(waiting[0]["id"], id.as_str());
        assert_eq!(waiting[0]["binding_message"], "Order 4711");
        assert_eq!(waiting[0]["company_name"], "Acme Poll");
        let page = app
            .http
            .get(app.url("/inbox"))
            .header("cookie", &grace.cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("Order 4711"),
            "the inbox page shows the binding message"
        );
        let company_token = app.company_token(&acme).await;
        let rest: Value = app
            .http
            .get(app.url(&format!("/v1/requests/{id}")))
            .bearer_auth(&company_token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(rest["status"], "pending", "{rest}");

        let (status, pending) = poll(app, &acme, &id).await;
        assert_eq!(
            (status, pending["error"].as_str()),
            (400, Some("authorization_pending"))
        );
        let (status, fast) = poll(app, &acme, &id).await;
        assert_eq!((status, fast["error"].as_str()), (400, Some("slow_down")));

        assert_eq!(answer(app, &grace, &id, "approve").await, 201);
        let approved_by = now_secs();
        let (status, tokens) = poll(app, &acme, &id).await;
        assert_eq!(status, 200, "{tokens}");
        assert!(tokens["refresh_token"].is_string());
        let access = tokens["access_token"].as_str().unwrap();
        // `openid` was asked: an OpenID Connect sign-in, with its ID token
        // (CIBA Core §10.1.1), for this client, about the pairwise subject.
        assert!(
            tokens["scope"]
                .as_str()
                .unwrap()
                .split(' ')
                .any(|s| s == "openid"),
            "{tokens}"
        );
        let id_token = payload(tokens["id_token"].as_str().expect("an ID token"));
        assert_eq!(id_token["aud"], acme.id.as_str());
        assert_eq!(id_token["iss"], app.base_url.as_str());
        assert!(id_token.get("nonce").is_none());
        let auth_time = id_token["auth_time"].as_i64().unwrap();
        assert!(
            (approved_by - 5..=approved_by + 1).contains(&auth_time),
            "authenticated when approved: {auth_time} vs {approved_by}"
        );
        // A refresh keeps it.
        let refreshed: Value = app
            .http
            .post(app.url("/oauth/token"))
            .basic_auth(&acme.id, Some(&acme.secret))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(refreshed["scope"], tokens["scope"], "{refreshed}");
        let renewed = payload(refreshed["id_token"].as_str().expect("an ID token"));
        assert_eq!(renewed["sub"], id_token["sub"]);
        assert_eq!(renewed["auth_time"], id_token["auth_time"]);
        let data: Value = app
            .http
            .get(app.url("/v1/data"))
            .bearer_auth(access)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(data["attributes"]["email"], "grace@example.org", "{data}");
        let (status, again) = poll(app, &acme, &id).await;
        assert_eq!(
            (status, again["error"].as_str()),
            (400, Some("invalid_grant"))
        );

        // The pairwise subject the company now knows is a login_hint too.
        let introspected: Value = app
            .http
            .post(app.url("/oauth/introspect"))
            .basic_auth(&acme.id, Some(&acme.secret))
            .form(&[("token", access)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let sub = introspected["sub"].as_str().unwrap().to_owned();
        assert_ne!(sub, grace.handle);
        let by_sub = ask(app, &acme, &sub, &[]).await;
        let waiting = inbox(app, &grace).await;
        assert_eq!(waiting.len(), 1, "{waiting:?}");
        assert_eq!(waiting[0]["id"], by_sub.as_str());
    }
);

/// The `auth_req_id` a ping carried.
fn auth_req_id(call: &Call) -> String {
    let body: Value = serde_json::from_str(&call.body).unwrap();
    assert_eq!(
        body.as_object().unwrap().len(),
        1,
        "only auth_req_id: {body}"
    );
    body["auth_req_id"].as_str().unwrap().to_owned()
}

async fn notification_endpoint() -> (String, mpsc::UnboundedReceiver<Call>) {
    let (base, calls) = http_receiver(204).await;
    (format!("{base}/ciba/notify"), calls)
}

app_test!(
    ping_mode_calls_the_notification_endpoint_with_the_bearer_token,
    |app| {
        let (url, mut calls) = notification_endpoint().await;
        let acme = ciba_company(
            app,
            "Acme Ping",
            json!({
                "backchannel_token_delivery_mode": "ping",
                "backchannel_client_notification_endpoint": url,
            }),
        )
        .await;
        let grace = app.person_with("grace_ping", SHARES).await;
        let declined = ask(
            app,
            &acme,
            &grace.handle,
            &[("client_notification_token", "tok-declined.1")],
        )
        .await;
        let approved = ask(
            app,
            &acme,
            &grace.handle,
            &[("client_notification_token", "tok-approved.2")],
        )
        .await;
        // Nothing is called before the person answers.
        assert!(
            tokio::time::timeout(Duration::from_millis(2500), calls.recv())
                .await
                .is_err(),
            "no ping while the person has not answered"
        );

        assert_eq!(answer(app, &grace, &declined, "decline").await, 200);
        let call = next_call(&mut calls).await;
        assert_eq!(call.header(":request"), Some("POST /ciba/notify HTTP/1.1"));
        assert_eq!(call.header("authorization"), Some("Bearer tok-declined.1"));
        assert_eq!(call.header("content-type"), Some("application/json"));
        assert_eq!(call.header("webhook-signature"), None);
        assert_eq!(auth_req_id(&call), declined);
        let (status, refused) = poll(app, &acme, &declined).await;
        assert_eq!(
            (status, refused["error"].as_str()),
            (400, Some("access_denied"))
        );

        assert_eq!(answer(app, &grace, &approved, "approve").await, 201);
        let call = next_call(&mut calls).await;
        assert_eq!(call.header("authorization"), Some("Bearer tok-approved.2"));
        assert_eq!(auth_req_id(&call), approved);
        let (status, tokens) = poll(app, &acme, &approved).await;
        assert_eq!(status, 200, "{tokens}");

        // A hint for nobody is pinged at once, as a person whose policy
        // refused at once would be.
        let nobody = ask(
            app,
            &acme,
            "nobody_here",
            &[("client_notification_token", "tok-nobody.3")],
        )
        .await;
        let call = next_call(&mut calls).await;
        assert_eq!(call.header("authorization"), Some("Bearer tok-nobody.3"));
        assert_eq!(auth_req_id(&call), nobody);
    }
);

app_test!(
    a_hint_for_nobody_or_a_blocking_person_answers_exactly_as_a_decline,
    |app| {
        let acme = ciba_company(app, "Acme Probe", json!({})).await;
        let decliner = app.person_with("ada_declines", SHARES).await;
        let blocker = app.person_with("bob_blocks", SHARES).await;
        let response = app
            .http
            .put(app.url(&format!("/v1/me/blocked/{}", acme.id)))
            .bearer_auth(&blocker.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204);

        let mut made = Vec::new();
        for hint in [
            decliner.handle.as_str(),
            blocker.handle.as_str(),
            "no_such_person",
            "bm9ib2R5LWhhcy10aGlzLXN1YmplY3QtYXQtYWxsLTAx",
        ] {
            let (status, body) = bc_authorize(
                app,
                &acme,
                &[("login_hint", hint), ("authorization_details", DETAILS)],
            )
            .await;
            assert_eq!(status, 200, "{hint}: {body}");
            let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
            assert_eq!(keys, ["auth_req_id", "expires_in", "interval"], "{hint}");
            assert_eq!(body["expires_in"], 604_800, "{hint}");
            let id = body["auth_req_id"].as_str().unwrap().to_owned();
            assert_eq!(id.len(), 36, "{hint}: every id has a request id's shape");
            made.push(id);
        }
        assert_eq!(answer(app, &decliner, &made[0], "decline").await, 200);
        assert!(inbox(app, &blocker).await.is_empty());

        let company_token = app.company_token(&acme).await;
        let mut polls = Vec::new();
        let mut views = Vec::new();
        for id in &made {
            // Twice: a refusal is not `slow_down`, and does not change.
            for _ in 0..2 {
                polls.push(poll(app, &acme, id).await);
            }
            let response = app
                .http
                .get(app.url(&format!("/v1/requests/{id}")))
                .bearer_auth(&company_token)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{id}");
            let mut view: Value = response.json().await.unwrap();
            view["request_id"] = Value::Null;
            views.push(view);
        }
        let refusal = (
            400,
            json!({"error": "access_denied", "error_description": "the request was declined"}),
        );
        for answered in &polls {
            assert_eq!(answered, &refusal);
        }
        // The REST view: the decline is `denied` with email `withheld`,
        // like the others.
        for view in &views {
            assert_eq!(view["status"], "denied", "{view}");
            assert_eq!(view["attributes"], json!({"email": "withheld"}), "{view}");
        }
        // Another company cannot poll these at all.
        let other = ciba_company(app, "Other Co", json!({})).await;
        for id in &made {
            let (status, body) = poll(app, &other, id).await;
            assert_eq!(
                (status, body["error"].as_str()),
                (400, Some("invalid_grant"))
            );
        }
    }
);

/// A form, the `error` it gets, and words its `error_description` must hold.
type Case<'a> = (Vec<(&'a str, &'a str)>, &'a str, &'a str);

app_test!(
    every_bad_parameter_is_refused_by_name_and_nothing_is_asked,
    |app| {
        let acme = ciba_company(app, "Acme Bad", json!({})).await;
        let grace = app.person_with("grace_bad", SHARES).await;
        let hint = ("login_hint", grace.handle.as_str());
        let details = ("authorization_details", DETAILS);
        let long = "x".repeat(65);
        let cases: Vec<Case<'_>> = vec![
            (vec![details], "invalid_request", "`login_hint` is required"),
            (
                vec![hint, ("id_token_hint", "eyJ.e30.x"), details],
                "invalid_request",
                "exactly one hint",
            ),
            (
                vec![("login_hint_token", "eyJ.e30.x"), details],
                "invalid_request",
                "`login_hint_token` is not supported",
            ),
            (
                vec![hint, hint, details],
                "invalid_request",
                "`login_hint` must not appear more than once",
            ),
            (
                vec![hint, details, ("binding_message", &long)],
                "invalid_binding_message",
                "at most 64",
            ),
            (
                vec![
                    hint,
                    (
                        "authorization_details",
                        r#"[{"type":"apiome_data","attributes":["email"],"purpose":"world_domination","duration":"P30D"}]"#,
                    ),
                ],
                "invalid_authorization_details",
                "authorization_details[0].purpose",
            ),
            (
                vec![hint, ("authorization_details", "not json")],
                "invalid_authorization_details",
                "not valid JSON",
            ),
            (
                vec![hint, details, ("requested_expiry", "-1")],
                "invalid_request",
                "`requested_expiry`",
            ),
            (
                vec![hint],
                "invalid_request",
                "ask with `authorization_details`",
            ),
        ];
        for (form, error, says) in &cases {
            let (status, body) = bc_authorize(app, &acme, form).await;
            assert_eq!(status, 400, "{form:?}: {body}");
            assert_eq!(body["error"], *error, "{form:?}: {body}");
            let description = body["error_description"].as_str().unwrap();
            assert!(description.contains(says), "{form:?}: {description}");
        }

        // A wrong secret is `invalid_client`, before anything is read.
        let wrong = Company {
            id: acme.id.clone(),
            secret: "not-the-secret".to_owned(),
        };
        let (status, body) = bc_authorize(app, &wrong, &[hint, details]).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_client"))
        );

        // A ping client must send its client_notification_token.
        let ping = ciba_company(
            app,
            "Acme Ping Bad",
            json!({
                "backchannel_token_delivery_mode": "ping",
                "backchannel_client_notification_endpoint": "http://127.0.0.1:9/ciba",
            }),
        )
        .await;
        let (status, body) = bc_authorize(app, &ping, &[hint, details]).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_request"))
        );
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("`client_notification_token` is required"),
            "{body}"
        );

        // A client registered without the CIBA grant may not ask this way.
        let plain = app.company("Plain Co").await;

        let response = app
            .register(json!({"client_name": "Code Only", "redirect_uris": [REDIRECT]}))
            .await;
        let code_only: Value = response.json().await.unwrap();
        let code_only = Company {
            id: code_only["client_id"].as_str().unwrap().to_owned(),
            secret: code_only["client_secret"].as_str().unwrap().to_owned(),
        };
        let (status, body) = bc_authorize(app, &code_only, &[hint, details]).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("unauthorized_client")),
            "{body}"
        );
        // The operator's companies have every grant type.
        let (status, _) =
            bc_authorize(app, &plain, &[hint, details, ("binding_message", "ok")]).await;
        assert_eq!(status, 200);

        assert_eq!(
            inbox(app, &grace).await.len(),
            1,
            "only the one good request reached the inbox"
        );

        // Registration: ping needs an endpoint, and the endpoint must be
        // somewhere a webhook may go.
        for (extra, says) in [
            (
                json!({"backchannel_token_delivery_mode": "ping"}),
                "needs `backchannel_client_notification_endpoint`",
            ),
            (
                json!({"backchannel_token_delivery_mode": "ping",
                       "backchannel_client_notification_endpoint": "https://10.0.0.1/ciba"}),
                "private (10/8)",
            ),
            (
                json!({"backchannel_token_delivery_mode": "push",
                       "backchannel_client_notification_endpoint": "https://acme.example/ciba"}),
                "not supported",
            ),
        ] {
            let mut metadata = json!({
                "client_name": "Bad Ping",
                "redirect_uris": [REDIRECT],
                "grant_types": ["authorization_code", CIBA],
            });
            metadata
                .as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            let response = app.register(metadata).await;
            assert_eq!(response.status(), 400, "{extra}");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"], "invalid_client_metadata", "{extra}");
            assert!(
                body["error_description"].as_str().unwrap().contains(says),
                "{extra}: {body}"
            );
        }
    }
);

app_test!(
    a_hostile_client_polling_many_requests_at_once_gets_slow_down_and_tokens_once,
    |app| {
        let acme = ciba_company(app, "Acme Hostile", json!({})).await;
        let grace = app.person_with("grace_hostile", SHARES).await;
        const REQUESTS: usize = 12;
        const POLLS: usize = 8;
        let asks = (0..REQUESTS).map(|_| ask(app, &acme, &grace.handle, &[]));
        let ids: Vec<String> = futures::future::join_all(asks).await;
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), REQUESTS);
        assert_eq!(inbox(app, &grace).await.len(), REQUESTS);

        // Pending: every poll is `authorization_pending` or `slow_down`,
        // and all at once cannot all be let through.
        let storm = ids
            .iter()
            .flat_map(|id| (0..POLLS).map(move |_| id))
            .map(|id| poll(app, &acme, id));
        let answered = futures::future::join_all(storm).await;
        let mut slowed = 0;
        for (status, body) in &answered {
            assert_eq!(*status, 400, "{body}");
            match body["error"].as_str() {
                Some("slow_down") => slowed += 1,
                Some("authorization_pending") => {}
                other => panic!("{other:?}: {body}"),
            }
        }
        assert!(slowed >= REQUESTS * (POLLS - 2), "only {slowed} slow_down");

        for id in &ids {
            assert_eq!(answer(app, &grace, id, "approve").await, 201);
        }
        let storm = ids
            .iter()
            .flat_map(|id| (0..POLLS).map(move |_| id))
            .map(|id| {
                let acme = &acme;
                async move { (id.clone(), poll(app, acme, id).await) }
            });
        let answered = futures::future::join_all(storm).await;
        for id in &ids {
            let tokens = answered
                .iter()
                .filter(|(of, (status, _))| of == id && *status == 200)
                .count();
            assert_eq!(tokens, 1, "{id}: tokens issued {tokens} times");
            for (_, (status, body)) in answered.iter().filter(|(of, _)| of == id) {
                if *status != 200 {
                    assert_eq!(
                        (*status, body["error"].as_str()),
                        (400, Some("invalid_grant"))
                    );
                }
            }
        }
    }
);

app_test!(
    the_operator_makes_a_ping_company_whose_endpoint_a_webhook_could_have,
    |app| {
        let refused = app
            .cli(&[
                "company",
                "create",
                "--name",
                "Loopback Ping",
                "--redirect-uri",
                REDIRECT,
                "--ciba-ping-endpoint",
                "http://127.0.0.1:9/ciba",
            ])
            .await;
        assert!(!refused.status.success());
        let said = String::from_utf8_lossy(&refused.stderr);
        assert!(said.contains("loopback"), "{said}");

        let made = app
            .cli(&[
                "company",
                "create",
                "--name",
                "Ping Co",
                "--redirect-uri",
                REDIRECT,
                "--ciba-ping-endpoint",
                "https://8.8.8.8/ciba",
            ])
            .await;
        assert!(
            made.status.success(),
            "{}",
            String::from_utf8_lossy(&made.stderr)
        );
        let made: Value = serde_json::from_slice(&made.stdout).unwrap();
        let ping = Company {
            id: made["client_id"].as_str().unwrap().to_owned(),
            secret: made["client_secret"].as_str().unwrap().to_owned(),
        };
        let (status, body) = bc_authorize(
            app,
            &ping,
            &[("login_hint", "anyone"), ("authorization_details", DETAILS)],
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_request"))
        );
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("registered for ping mode"),
            "{body}"
        );
    }
);

fn now_secs() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The payload of a JWT, unverified.
fn payload(token: &str) -> Value {
    use base64::Engine as _;
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

/// `POST /v1/requests` as a company sends it; the status and the body.
async fn ask_rest(app: &TestApp, token: &str, handle: &str, duration: &str) -> (u16, Value) {
    let response = app
        .http
        .post(app.url("/v1/requests"))
        .bearer_auth(token)
        .json(
            &json!({"person": {"handle": handle}, "authorization_details": [
            {"type": "apiome_data", "attributes": ["display_name", "email"],
             "purpose": "marketing", "duration": duration}]}),
        )
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    let body: Value = response.json().await.unwrap();
    if status == 201 {
        assert_eq!(
            location.as_deref(),
            Some(format!("/v1/requests/{}", body["request_id"].as_str().unwrap()).as_str())
        );
    }
    (status, body)
}

app_test!(
    the_rest_form_answers_nobody_a_blocker_and_a_too_long_duration_alike,
    |app| {
        let acme = ciba_company(app, "Acme Rest", json!({})).await;
        let token = app.company_token(&acme).await;
        let blocker = app.person_with("grace_blocks", SHARES).await;
        let blocked = app
            .http
            .put(app.url(&format!("/v1/me/blocked/{}", acme.id)))
            .bearer_auth(&blocker.token)
            .send()
            .await
            .unwrap();
        assert!(blocked.status().is_success(), "{}", blocked.status());
        let brief = app.person_with("grace_brief", SHARES).await;
        let set = app
            .http
            .put(app.url("/v1/me/preferences"))
            .bearer_auth(&brief.token)
            .json(&json!({"default": "ask_me", "max_duration": "P7D"}))
            .send()
            .await
            .unwrap();
        assert_eq!(set.status(), 200);

        let anonymised = |mut body: Value| {
            body["request_id"] = json!("(id)");
            body
        };
        let (status, refused) = ask_rest(app, &token, &blocker.handle, "P30D").await;
        assert_eq!(status, 201, "{refused}");
        assert_eq!(refused["status"], "denied");
        let refused = anonymised(refused);
        for (handle, duration) in [
            ("nobody_at_all", "P30D"),
            ("Nobody_At_All", "P30D"),
            (brief.handle.as_str(), "P30D"),
        ] {
            let (status, body) = ask_rest(app, &token, handle, duration).await;
            assert_eq!(status, 201, "{handle}: {body}");
            let id = body["request_id"].as_str().unwrap().to_owned();
            assert_eq!(anonymised(body), refused, "{handle} {duration}");
            // Read back, it stays a refusal like the blocker's.
            let read: Value = app
                .http
                .get(app.url(&format!("/v1/requests/{id}")))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(anonymised(read), refused, "{handle}");
        }
        // The person whose limit refused it never sees it.
        assert!(inbox(app, &brief).await.is_empty());
        // Within the limit, the same person is asked.
        let (status, asked) = ask_rest(app, &token, &brief.handle, "P7D").await;
        assert_eq!(
            (status, asked["status"].as_str()),
            (201, Some("pending")),
            "{asked}"
        );
        // A request no one could accept is still a 422 for everyone.
        let (status, problem) = ask_rest(app, &token, "nobody_at_all", "P11Y").await;
        assert_eq!(status, 422, "{problem}");
    }
);
