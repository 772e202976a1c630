//! The company's side of the OAuth server, end to end on both backends:
//! discovery, registration, client authentication (Basic, form secret,
//! `private_key_jwt`), client credentials, the asynchronous request flow
//! polled CIBA-style, `/v1/data` under a live grant and not after it is
//! revoked, refresh rotation and reuse, code redemption and replay,
//! introspection and revocation, and forged tokens.

#![allow(
    clippy::unwrap_used,
    reason = "test steps: a failed unwrap is a failed test"
)]

use apiome_tests::{Company, REDIRECT, TestApp, app_test, oauth_http};
use authz::{AuthorizationRequest, CodeChallenge, CodeRecord, OsRandom, RedirectUri, RequestForm};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use consent_policy::{AttributeKey, Bucket, DataRequest, GrantDuration};
use oauth2::basic::BasicClient;
use oauth2::{AuthType, RefreshToken, TokenResponse as _, TokenUrl};
use serde_json::{Value, json};
use store::{Handle, PersonId};

const VERIFIER: &str = "a-verifier-of-forty-three-characters-or-more-0123";

async fn registration_token(app: &TestApp) -> String {
    server::admin::issue_registration_token(app.store())
        .await
        .unwrap()
        .initial_access_token
}

async fn register(app: &TestApp, metadata: Value) -> reqwest::Response {
    let token = registration_token(app).await;
    app.http
        .post(app.url("/oauth/register"))
        .bearer_auth(token)
        .json(&metadata)
        .send()
        .await
        .unwrap()
}

/// A company with every grant type, authenticating with `method`.
async fn company(app: &TestApp, name: &str, method: &str) -> Company {
    let response = register(
        app,
        json!({
            "client_name": name,
            "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": method,
            "grant_types": ["authorization_code", "refresh_token", "client_credentials",
                            "urn:openid:params:grant-type:ciba"],
        }),
    )
    .await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    Company {
        id: body["client_id"].as_str().unwrap().to_owned(),
        secret: body["client_secret"].as_str().unwrap().to_owned(),
    }
}

async fn token_form(app: &TestApp, company: &Company, form: &[(&str, &str)]) -> (u16, Value) {
    let response = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth(&company.id, Some(&company.secret))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    assert_eq!(response.headers()["cache-control"], "no-store");
    (status, response.json().await.unwrap())
}

async fn poll(app: &TestApp, company: &Company, request_id: &str) -> (u16, Value) {
    token_form(
        app,
        company,
        &[
            ("grant_type", "urn:openid:params:grant-type:ciba"),
            ("auth_req_id", request_id),
        ],
    )
    .await
}

async fn refresh(app: &TestApp, company: &Company, refresh_token: &str) -> (u16, Value) {
    token_form(
        app,
        company,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

async fn introspect(app: &TestApp, company: &Company, token: &str) -> Value {
    let response = app
        .http
        .post(app.url("/oauth/introspect"))
        .basic_auth(&company.id, Some(&company.secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Revokes `token` at the revocation endpoint (RFC 7009), as `company`.
async fn revoke(app: &TestApp, company: &Company, token: &str) {
    let revoked = app
        .http
        .post(app.url("/oauth/revoke"))
        .basic_auth(&company.id, Some(&company.secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
}

/// A person under the "ask me" default with a public display name, a
/// semi-private email and a private birth date.
async fn person(app: &TestApp, handle: &str, name: &str) -> PersonId {
    let person = app
        .store()
        .create_person(&Handle::parse(handle).unwrap())
        .await
        .unwrap();
    for (key, value, bucket) in [
        ("display_name", json!(name), Bucket::Public),
        (
            "email",
            json!(format!("{handle}@example.org")),
            Bucket::SemiPrivate,
        ),
        ("birth_date", json!("1815-12-10"), Bucket::Private),
    ] {
        app.store()
            .put_attribute(
                &person.id,
                &AttributeKey::parse(key).unwrap(),
                &value,
                bucket,
            )
            .await
            .unwrap();
    }
    person.id
}

fn details(keys: &[&str]) -> Value {
    json!([{"type": "apiome_data", "attributes": keys, "purpose": "marketing", "duration": "P30D"}])
}

async fn ask(app: &TestApp, token: &str, person: Value, keys: &[&str]) -> (u16, Value) {
    let response = app
        .http
        .post(app.url("/v1/requests"))
        .bearer_auth(token)
        .json(&json!({"person": person, "authorization_details": details(keys)}))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn read_data(app: &TestApp, token: &str) -> reqwest::Response {
    app.http
        .get(app.url("/v1/data"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// A grant for `keys` (public ones only, so the policy approves at once)
/// and its tokens from the CIBA poll.
async fn granted_tokens(
    app: &TestApp,
    company: &Company,
    handle: &str,
    keys: &[&str],
) -> (String, Value) {
    let token = app.company_token(company).await;
    let (status, body) = ask(app, &token, json!({"handle": handle}), keys).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["status"], "approved", "{body}");
    let (status, tokens) = poll(app, company, body["request_id"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{tokens}");
    (body["grant_id"].as_str().unwrap().to_owned(), tokens)
}

app_test!(the_metadata_lists_endpoints_that_all_answer, |app| {
    let metadata: Value = app
        .http
        .get(app.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["issuer"], app.base_url.as_str());
    let grants = metadata["grant_types_supported"].to_string();
    for grant in [
        "client_credentials",
        "refresh_token",
        "authorization_code",
        "ciba",
    ] {
        assert!(grants.contains(grant), "{grants}");
    }
    for field in [
        "token_endpoint",
        "jwks_uri",
        "introspection_endpoint",
        "revocation_endpoint",
        "registration_endpoint",
        "pushed_authorization_request_endpoint",
        "authorization_endpoint",
        "userinfo_endpoint",
        "end_session_endpoint",
    ] {
        let url = metadata[field].as_str().unwrap();
        assert!(url.starts_with(&app.base_url), "{field}: {url}");
        let get = app.http.get(url).send().await.unwrap().status();
        let post = app.http.post(url).send().await.unwrap().status();
        assert!(
            get != 404 || post != 404,
            "{field} {url} answers 404 to GET and POST"
        );
    }
});

app_test!(
    client_credentials_need_the_right_secret_by_the_registered_method,
    |app| {
        let basic = company(app, "Basic Co", "client_secret_basic").await;
        let post = company(app, "Post Co", "client_secret_post").await;
        let token = app.company_token(&basic).await;
        let posted = BasicClient::new(oauth2::ClientId::new(post.id.clone()))
            .set_client_secret(oauth2::ClientSecret::new(post.secret.clone()))
            .set_auth_type(AuthType::RequestBody)
            .set_token_uri(TokenUrl::new(app.url("/oauth/token")).unwrap())
            .exchange_client_credentials()
            .request_async(&oauth_http())
            .await
            .unwrap();
        assert!(!posted.access_token().secret().is_empty());

        // The JWKS verifies what the token endpoint issued.
        let jwks: Value = app
            .http
            .get(app.url("/oauth/jwks"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        let jwk = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"].as_str() == header.kid.as_deref())
            .expect("the token's key is published");
        let key =
            jsonwebtoken::DecodingKey::from_ed_components(jwk["x"].as_str().unwrap()).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
        validation.set_audience(&[app.base_url.as_str()]);
        validation.set_issuer(&[app.base_url.as_str()]);
        let claims = jsonwebtoken::decode::<Value>(&token, &key, &validation)
            .unwrap()
            .claims;
        assert_eq!(claims["client_id"], basic.id.as_str());
        assert!(claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap() <= 600);

        // Wrong secret, wrong method, unknown client: 401 invalid_client with a challenge.
        let wrong = Company {
            id: basic.id.clone(),
            secret: "wrong".into(),
        };
        let unknown = Company {
            id: "c_AAAAAAAAAAAAAAAAAAAAAA".into(),
            secret: basic.secret.clone(),
        };
        for who in [&wrong, &unknown, &post] {
            let response = app
                .http
                .post(app.url("/oauth/token"))
                .basic_auth(&who.id, Some(&who.secret))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 401);
            assert!(response.headers().contains_key("www-authenticate"));
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"], "invalid_client");
        }
        // A company may not take the auditors' scope.
        let (status, body) = token_form(
            app,
            &basic,
            &[
                ("grant_type", "client_credentials"),
                ("scope", "ledger:read"),
            ],
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_scope"))
        );

        // Introspection: active for its own client, inactive for another; revocation ends it.
        let own = introspect(app, &basic, &token).await;
        assert_eq!(own["active"], true);
        assert_eq!(own["client_id"], basic.id.as_str());
        let stranger = company(app, "Stranger Co", "client_secret_basic").await;
        assert_eq!(
            introspect(app, &stranger, &token).await,
            json!({"active": false})
        );
        revoke(app, &basic, &token).await;
        assert_eq!(
            introspect(app, &basic, &token).await,
            json!({"active": false})
        );
        let (status, _) = ask(app, &token, json!({"handle": "nobody"}), &["email"]).await;
        assert_eq!(status, 401, "a revoked token is refused");

        // Registration needs a valid initial access token.
        let response = app
            .http
            .post(app.url("/oauth/register"))
            .bearer_auth("not-a-token")
            .json(&json!({"client_name": "X", "redirect_uris": [REDIRECT]}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
        assert!(
            response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("invalid_token")
        );
    }
);

fn assertion(
    signing: &ed25519_dalek::SigningKey,
    client_id: &str,
    audience: &str,
    jti: &str,
) -> String {
    use ed25519_dalek::pkcs8::EncodePrivateKey;
    let der = signing.to_pkcs8_der().unwrap();
    let key = jsonwebtoken::EncodingKey::from_ed_der(der.as_bytes());
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some("k1".into());
    jsonwebtoken::encode(
        &header,
        &json!({"iss": client_id, "sub": client_id, "aud": audience, "iat": now, "exp": now + 60, "jti": jti}),
        &key,
    )
    .unwrap()
}

app_test!(private_key_jwt_assertions_are_accepted_once, |app| {
    let signing = ed25519_dalek::SigningKey::from_bytes(&[42; 32]);
    let x = URL_SAFE_NO_PAD.encode(signing.verifying_key().as_bytes());
    let response = register(
        app,
        json!({
            "client_name": "Keyed Co",
            "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "k1"}]},
            "grant_types": ["client_credentials"],
            "response_types": [],
        }),
    )
    .await;
    assert_eq!(response.status(), 201);
    let registered: Value = response.json().await.unwrap();
    assert!(registered.get("client_secret").is_none());
    let client_id = registered["client_id"].as_str().unwrap();
    let jwt = assertion(&signing, client_id, &app.url("/oauth/token"), "jti-1");
    let send = |jwt: String| {
        app.http
            .post(app.url("/oauth/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", jwt.as_str()),
            ])
            .send()
    };
    let first = send(jwt.clone()).await.unwrap();
    assert_eq!(first.status(), 200);
    let replay = send(jwt).await.unwrap();
    assert_eq!(replay.status(), 401);
    let body: Value = replay.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    assert!(body["error_description"].as_str().unwrap().contains("jti"));
    // Another key's signature is refused.
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let forged = send(assertion(
        &stranger,
        client_id,
        &app.url("/oauth/token"),
        "jti-2",
    ))
    .await
    .unwrap();
    assert_eq!(forged.status(), 401);
});

app_test!(
    an_async_request_releases_public_and_approved_data_never_private,
    |app| {
        let acme = company(app, "Acme", "client_secret_basic").await;
        let ada = person(app, "ada", "Ada").await;
        let token = app.company_token(&acme).await;
        let (status, body) = ask(
            app,
            &token,
            json!({"handle": "ada"}),
            &["display_name", "email", "birth_date"],
        )
        .await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["status"], "pending");
        assert_eq!(
            body["attributes"],
            json!({"display_name": "allowed", "email": "pending", "birth_date": "withheld"})
        );
        let request_id = body["request_id"].as_str().unwrap().to_owned();

        let (status, answer) = poll(app, &acme, &request_id).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (400, Some("authorization_pending"))
        );
        let (status, answer) = poll(app, &acme, &request_id).await;
        assert_eq!((status, answer["error"].as_str()), (400, Some("slow_down")));

        // The person approves in their inbox (the person API does the same).
        let grant = app
            .store()
            .approve_request(&ada, &request_id, None)
            .await
            .unwrap();
        let (status, tokens) = poll(app, &acme, &request_id).await;
        assert_eq!(status, 200, "{tokens}");
        let access = tokens["access_token"].as_str().unwrap().to_owned();
        let refresh_token = tokens["refresh_token"].as_str().unwrap().to_owned();
        let (status, _) = poll(app, &acme, &request_id).await;
        assert_eq!(status, 400, "tokens are issued once per request");

        let shown: Value = app
            .http
            .get(app.url(&format!("/v1/requests/{request_id}")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(shown["status"], "approved");
        assert_eq!(
            shown["attributes"],
            json!({"display_name": "allowed", "email": "allowed", "birth_date": "withheld"})
        );

        let response = read_data(app, &access).await;
        assert_eq!(response.status(), 200);
        let data: Value = response.json().await.unwrap();
        assert_eq!(
            data["attributes"],
            json!({"display_name": "Ada", "email": "ada@example.org"})
        );
        assert_eq!(data["withheld"], json!([]));
        assert_eq!(data["grant_id"], grant.id.as_str());
        assert!(
            !data.to_string().contains("1815"),
            "the private value never leaves"
        );
        let subject = data["subject"].as_str().unwrap().to_owned();

        // The company can name the person by the subject it now holds.
        let (status, again) =
            ask(app, &token, json!({"subject": subject}), &["display_name"]).await;
        assert_eq!((status, again["status"].as_str()), (201, Some("approved")));

        // Refresh through the oauth2 crate: a rotated pair.
        let refreshed = app
            .oauth_client(&acme)
            .exchange_refresh_token(&RefreshToken::new(refresh_token.clone()))
            .request_async(&oauth_http())
            .await
            .unwrap();
        let next_refresh = refreshed.refresh_token().unwrap().secret().clone();
        assert_ne!(next_refresh, refresh_token);

        // The person revokes: the very next read is refused, whatever the token's exp.
        app.store().revoke_grant(&ada, &grant.id).await.unwrap();
        let response = read_data(app, &access).await;
        assert_eq!(response.status(), 401);
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
        assert_eq!(
            introspect(app, &acme, &access).await,
            json!({"active": false})
        );
        let (status, body) = refresh(app, &acme, &next_refresh).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant"))
        );
    }
);

app_test!(a_reused_refresh_token_revokes_its_family, |app| {
    let acme = company(app, "Acme", "client_secret_basic").await;
    person(app, "ada", "Ada").await;
    let (_, tokens) = granted_tokens(app, &acme, "ada", &["display_name"]).await;
    let first = tokens["refresh_token"].as_str().unwrap().to_owned();
    let (status, rotated) = refresh(app, &acme, &first).await;
    assert_eq!(status, 200);
    let second = rotated["refresh_token"].as_str().unwrap().to_owned();
    let (status, body) = refresh(app, &acme, &first).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, _) = refresh(app, &acme, &second).await;
    assert_eq!(status, 400, "the whole family is revoked");
    // Another company cannot use this company's refresh token either.
    let other = company(app, "Other", "client_secret_basic").await;
    let (_, fresh) = granted_tokens(app, &acme, "ada", &["display_name"]).await;
    let (status, _) = refresh(app, &other, fresh["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 400);
});

async fn exchange(app: &TestApp, company: &Company, code: &str, verifier: &str) -> (u16, Value) {
    token_form(
        app,
        company,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ],
    )
    .await
}

app_test!(
    a_code_is_redeemed_once_and_its_replay_revokes_what_it_gave,
    |app| {
        let acme = company(app, "Acme", "client_secret_basic").await;
        person(app, "ada", "Ada").await;
        let (grant_id, _) = granted_tokens(app, &acme, "ada", &["display_name"]).await;
        let grant = app.store().grant(&grant_id).await.unwrap();
        let request = AuthorizationRequest {
            client_id: authz::ClientId::parse(&acme.id).unwrap(),
            redirect_uri: RedirectUri::parse(REDIRECT).unwrap(),
            redirect_uri_explicit: true,
            state: None,
            code_challenge: CodeChallenge::for_verifier(VERIFIER),
            data_request: DataRequest::from_json_value(
                details(&["display_name"])[0].clone(),
                &GrantDuration::parse("P1Y").unwrap(),
            )
            .unwrap(),
            form: RequestForm::AuthorizationDetails,
            oidc: authz::OidcParams::default(),
        };
        let now =
            authz::UnixTime::from_secs(time::OffsetDateTime::now_utc().unix_timestamp() as u64);
        let (code, record) = CodeRecord::issue(
            &request,
            grant.person_id.as_str(),
            &grant.id,
            &mut OsRandom,
            now,
        )
        .unwrap();
        app.store().save_code(&record).await.unwrap();
        let code = code.expose().to_owned();
        let (status, body) = exchange(
            app,
            &acme,
            &code,
            "a-wrong-verifier-of-forty-three-characters-or-more",
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant")),
            "{body}"
        );
        let (status, tokens) = exchange(app, &acme, &code, VERIFIER).await;
        assert_eq!(status, 200, "{tokens}");
        assert_eq!(
            tokens["scope"], "display_name",
            "no `openid` outside a sign-in"
        );
        assert!(tokens.get("id_token").is_none(), "{tokens}");
        let access = tokens["access_token"].as_str().unwrap().to_owned();
        assert_eq!(read_data(app, &access).await.status(), 200);
        let (status, body) = exchange(app, &acme, &code, VERIFIER).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant"))
        );
        // The replay revoked the first use's tokens.
        assert_eq!(read_data(app, &access).await.status(), 401);
        let (status, _) = refresh(app, &acme, tokens["refresh_token"].as_str().unwrap()).await;
        assert_eq!(status, 400);
    }
);

app_test!(forged_and_foreign_tokens_read_nothing, |app| {
    let acme = company(app, "Acme", "client_secret_basic").await;
    let other = company(app, "Other", "client_secret_basic").await;
    person(app, "ada", "Ada").await;
    person(app, "bob", "Bob").await;
    let (_, ada_tokens) = granted_tokens(app, &acme, "ada", &["display_name"]).await;
    let (_, bob_tokens) = granted_tokens(app, &acme, "bob", &["display_name"]).await;
    let ada_access = ada_tokens["access_token"].as_str().unwrap().to_owned();
    let bob_access = bob_tokens["access_token"].as_str().unwrap().to_owned();
    let ada: Value = read_data(app, &ada_access).await.json().await.unwrap();
    let bob: Value = read_data(app, &bob_access).await.json().await.unwrap();
    assert_eq!(ada["attributes"], json!({"display_name": "Ada"}));
    assert_eq!(bob["attributes"], json!({"display_name": "Bob"}));
    assert_ne!(ada["subject"], bob["subject"]);

    let parts: Vec<&str> = ada_access.split('.').collect();
    // alg none, with the same claims and no signature.
    let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"at+jwt"}"#);
    let unsigned = format!("{none_header}.{}.", parts[1]);
    // Ada's token with Bob's subject, keeping Ada's signature.
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["sub"] = bob["subject"].clone();
    claims["grant_id"] = bob["grant_id"].clone();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        parts[2]
    );
    for token in [unsigned.as_str(), tampered.as_str(), "not-a-jwt"] {
        let response = read_data(app, token).await;
        assert_eq!(response.status(), 401, "{token}");
        assert!(
            response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("invalid_token")
        );
    }
    let response = app.http.get(app.url("/v1/data")).send().await.unwrap();
    assert_eq!(response.status(), 401, "no token");

    // Another company learns nothing of Acme's tokens, and a
    // client-credentials token carries no grant.
    assert_eq!(
        introspect(app, &other, &ada_access).await,
        json!({"active": false})
    );
    let other_token = app.company_token(&other).await;
    assert_eq!(read_data(app, &other_token).await.status(), 403);
    // Acme's request is not Other's to read.
    let acme_token = app.company_token(&acme).await;
    let (_, asked) = ask(app, &acme_token, json!({"handle": "ada"}), &["email"]).await;
    let id = asked["request_id"].as_str().unwrap();
    let response = app
        .http
        .get(app.url(&format!("/v1/requests/{id}")))
        .bearer_auth(&other_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let (status, body) = poll(app, &other, id).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // Grant tokens cannot make requests.
    let (status, _) = ask(app, &ada_access, json!({"handle": "ada"}), &["email"]).await;
    assert_eq!(status, 403);
    // A private attribute only: everything withheld, denied at once.
    let (status, denied) = ask(app, &acme_token, json!({"handle": "bob"}), &["birth_date"]).await;
    assert_eq!((status, denied["status"].as_str()), (201, Some("denied")));
    assert_eq!(denied["attributes"], json!({"birth_date": "withheld"}));
});

app_test!(
    a_pushed_request_gives_a_request_uri_redeemable_once,
    |app| {
        let acme = company(app, "Acme", "client_secret_basic").await;
        let challenge = CodeChallenge::for_verifier(VERIFIER);
        let details = details(&["email"]).to_string();
        let response = app
            .http
            .post(app.url("/oauth/par"))
            .basic_auth(&acme.id, Some(&acme.secret))
            .form(&[
                ("response_type", "code"),
                ("client_id", acme.id.as_str()),
                ("redirect_uri", REDIRECT),
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "S256"),
                ("authorization_details", details.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.unwrap();
        let uri = body["request_uri"].as_str().unwrap();
        assert!(body["expires_in"].as_u64().unwrap() > 0);
        let params =
            authz::Params::from_pairs([("request_uri".to_owned(), uri.to_owned())]).unwrap();
        let hash = authz::RequestUri::from_params(&params)
            .unwrap()
            .unwrap()
            .hash();
        let client = authz::ClientId::parse(&acme.id).unwrap();
        let now =
            authz::UnixTime::from_secs(time::OffsetDateTime::now_utc().unix_timestamp() as u64);
        let request = app
            .store()
            .redeem_par(&hash, &client, now)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(request.redirect_uri.as_str(), REDIRECT);
        assert!(
            app.store()
                .redeem_par(&hash, &client, now)
                .await
                .unwrap()
                .is_err()
        );
        // A bad request is refused with an RFC 6749 error.
        let response = app
            .http
            .post(app.url("/oauth/par"))
            .basic_auth(&acme.id, Some(&acme.secret))
            .form(&[
                ("response_type", "code"),
                ("redirect_uri", "https://evil.example/cb"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.unwrap();
        assert!(body["error"].is_string());
    }
);

/// The value of the series `name{labels}` in `/metrics`.
async fn metric(app: &TestApp, series: &str) -> u64 {
    let text = app.metrics().await;
    let prefix = format!("{series} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {series} in {text}"))
        .parse()
        .unwrap()
}

/// `apiome_access_token_checks_total{signature=...}` from `/metrics`.
async fn token_checks(app: &TestApp, signature: &str) -> u64 {
    metric(
        app,
        &format!("apiome_access_token_checks_total{{signature=\"{signature}\"}}"),
    )
    .await
}

app_test!(
    each_read_is_counted_by_the_disclosure_writer_and_its_commits_timed,
    |app| {
        let acme = company(app, "Acme", "client_secret_basic").await;
        person(app, "ada", "Ada").await;
        let (_, tokens) = granted_tokens(app, &acme, "ada", &["display_name"]).await;
        let access = tokens["access_token"].as_str().unwrap();
        let reads = r#"apiome_store_write_group_members_total{writer="disclosures"}"#;
        let groups = r#"apiome_store_write_groups_total{writer="disclosures"}"#;
        let commits = r#"apiome_store_write_seconds_count{writer="disclosures",phase="commit"}"#;
        let before = metric(app, reads).await;
        for _ in 0..3 {
            assert_eq!(read_data(app, access).await.status(), 200);
        }
        assert_eq!(metric(app, reads).await, before + 3);
        // One read at a time: a group each, each committed and timed.
        let (groups, commits) = (metric(app, groups).await, metric(app, commits).await);
        assert!(groups >= 3, "{groups} groups");
        assert_eq!(commits, groups);
        // The approved request went through the request group on SQLite;
        // PostgreSQL records each request in a transaction of its own.
        let requests = metric(
            app,
            r#"apiome_store_write_group_members_total{writer="requests"}"#,
        )
        .await;
        match app.store().backend() {
            store::Backend::Sqlite => assert!(requests >= 1, "{requests} requests"),
            store::Backend::Postgres => assert_eq!(requests, 0),
        }
    }
);

app_test!(
    a_token_seen_before_skips_its_signature_check_but_not_revocation,
    |app| {
        let acme = company(app, "Acme", "client_secret_basic").await;
        let token = app.company_token(&acme).await;
        for _ in 0..3 {
            assert_eq!(introspect(app, &acme, &token).await["active"], true);
        }
        assert_eq!(token_checks(app, "verified").await, 1);
        assert_eq!(token_checks(app, "remembered").await, 2);

        // One changed signature byte is another token: verified, and refused.
        let mut forged = token.clone().into_bytes();
        let last = forged.len() - 2;
        forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
        let forged = String::from_utf8(forged).unwrap();
        assert_eq!(
            introspect(app, &acme, &forged).await,
            json!({"active": false})
        );
        assert_eq!(token_checks(app, "verified").await, 2);

        // Revocation is checked on every call, remembered signature or not.
        revoke(app, &acme, &token).await;
        assert_eq!(
            introspect(app, &acme, &token).await,
            json!({"active": false})
        );
        let (status, _) = ask(app, &token, json!({"handle": "nobody"}), &["email"]).await;
        assert_eq!(status, 401, "a revoked token is refused");
        assert_eq!(token_checks(app, "verified").await, 2);
        assert_eq!(token_checks(app, "remembered").await, 5);
    }
);
