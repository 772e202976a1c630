//! "Sign in with apiome" as a company meets it with an off-the-shelf
//! OpenID Connect library (the `openidconnect` crate): discovery, the code
//! flow with PKCE after a passkey sign-in, ID tokens the library validates
//! (RS256 and EdDSA, `nonce`, `at_hash`, `amr`, `acr`, `auth_time`),
//! UserInfo through the same read and ledger entry as `/v1/data`, `prompt`,
//! `max_age`, `login_hint` and RP-initiated logout — and what an attacker
//! tries: a wrong nonce, a replayed code, one company's ID token at
//! another, UserInfo after the person revoked, `prompt=none` signed out.

#![allow(
    clippy::unwrap_used,
    reason = "test steps: a failed unwrap is a failed test"
)]

use apiome_tests::{
    Company, PASSWORD, REDIRECT, TestApp, TestDb, app_test, query_param, set_cookie,
};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreJwsSigningAlgorithm, CoreProviderMetadata,
    CoreTokenResponse, CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse as _, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse as _,
};
use serde_json::{Value, json};
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs_proto::RequestChallengeResponse;

const LOGOUT_TO: &str = "http://localhost:9/signed-out";

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// A person with a password, a passkey, recovery codes and three attributes.
struct Person {
    handle: String,
    token: String,
    key: SoftPasskey,
    codes: Vec<String>,
}

/// A signed-in browser: its session cookie and CSRF token.
struct Browser {
    cookie: String,
    csrf: String,
}

fn http() -> openidconnect::reqwest::Client {
    openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn origin(app: &TestApp) -> url::Url {
    url::Url::parse(&app.base_url).unwrap()
}

async fn post(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.http
        .post(app.url(path))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn person(app: &TestApp, handle: &str) -> Person {
    let email = format!("{handle}@example.org");
    let signed_up = app
        .person_with(
            handle,
            &[
                ("display_name", "Ada Lovelace", "public"),
                ("email", &email, "semi_private"),
                ("birth_date", "1815-12-10", "semi_private"),
            ],
        )
        .await;
    let key = signed_up.add_passkey(app).await;
    Person {
        handle: handle.to_owned(),
        token: signed_up.token,
        key,
        codes: signed_up.recovery_codes,
    }
}

async fn browser_of(response: reqwest::Response) -> Browser {
    assert_eq!(response.status(), 200);
    let cookie = set_cookie(&response);
    let body: Value = response.json().await.unwrap();
    // `/v1/session` nests the session; the passkey finish answers it bare.
    let session = body.get("session").unwrap_or(&body);
    Browser {
        cookie,
        csrf: session["csrf_token"].as_str().unwrap().to_owned(),
    }
}

/// Signs in with the person's passkey alone.
async fn passkey_sign_in(app: &TestApp, who: &mut Person) -> Browser {
    let start: Value = post(app, "/v1/session/passkey", json!({"handle": who.handle}))
        .await
        .json()
        .await
        .unwrap();
    let options: RequestChallengeResponse =
        serde_json::from_value(start["options"].clone()).unwrap();
    let credential = who.key.do_authentication(origin(app), options).unwrap();
    browser_of(
        post(
            app,
            "/v1/session/passkey/finish",
            json!({"ceremony_id": start["ceremony_id"], "credential": credential}),
        )
        .await,
    )
    .await
}

/// Signs in with the password and a one-time recovery code.
async fn password_and_code_sign_in(app: &TestApp, who: &mut Person) -> Browser {
    let code = who.codes.pop().unwrap();
    browser_of(
        post(
            app,
            "/v1/session",
            json!({"handle": who.handle, "password": PASSWORD, "recovery_code": code}),
        )
        .await,
    )
    .await
}

/// A company registered through RFC 7591 with OpenID Connect metadata.
async fn company(app: &TestApp, name: &str, alg: Option<&str>) -> Company {
    let mut metadata = json!({
        "client_name": name,
        "redirect_uris": [REDIRECT],
        "post_logout_redirect_uris": [LOGOUT_TO],
        "grant_types": ["authorization_code", "refresh_token"],
    });
    if let Some(alg) = alg {
        metadata["id_token_signed_response_alg"] = json!(alg);
    }
    let response = app.register(metadata).await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["id_token_signed_response_alg"], alg.unwrap_or("RS256"));
    Company {
        id: body["client_id"].as_str().unwrap().to_owned(),
        secret: body["client_secret"].as_str().unwrap().to_owned(),
    }
}

/// The company's `openidconnect` client, configured by discovery alone.
async fn client(app: &TestApp, company: &Company) -> Client {
    let issuer = IssuerUrl::new(app.base_url.clone()).unwrap();
    let provider = CoreProviderMetadata::discover_async(issuer, &http())
        .await
        .unwrap();
    CoreClient::from_provider_metadata(
        provider,
        ClientId::new(company.id.clone()),
        Some(ClientSecret::new(company.secret.clone())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.to_owned()).unwrap())
}

/// One authorization through the browser: what the company asked with.
struct Asked {
    url: String,
    nonce: Nonce,
    verifier: PkceCodeVerifier,
}

/// `openid email display_name` (the library adds `openid`), plus `extra`.
fn ask(client: &Client, extra: &[(&str, &str)]) -> Asked {
    ask_for(client, &["email", "display_name"], extra)
}

fn ask_for(client: &Client, scopes: &[&str], extra: &[(&str, &str)]) -> Asked {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge);
    for scope in scopes {
        request = request.add_scope(Scope::new((*scope).to_owned()));
    }
    for (k, v) in extra {
        request = request.add_extra_param(*k, *v);
    }
    let (url, _, nonce) = request.url();
    Asked {
        url: url.into(),
        nonce,
        verifier,
    }
}

/// The browser opens `asked.url`, approves every attribute offered and
/// returns the code.
async fn approve(app: &TestApp, browser: &Browser, asked: &Asked) -> String {
    let page = app
        .http
        .get(&asked.url)
        .header("cookie", &browser.cookie)
        .send()
        .await
        .unwrap();
    let location = if page.status() == 200 {
        let html = page.text().await.unwrap();
        let start = html.find("action=\"/oauth/authorize/").unwrap() + "action=\"".len();
        let action = html[start..].split('"').next().unwrap().to_owned();
        let answer = app
            .http
            .post(app.url(&action))
            .header("cookie", &browser.cookie)
            .form(&[
                ("csrf_token", browser.csrf.as_str()),
                ("attribute", "email"),
                ("attribute", "display_name"),
                ("decision", "approve"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 302);
        answer.headers()["location"].to_str().unwrap().to_owned()
    } else {
        assert_eq!(page.status(), 302, "a remembered consent redirects at once");
        page.headers()["location"].to_str().unwrap().to_owned()
    };
    assert!(location.starts_with(REDIRECT), "{location}");
    query_param(&location, "code").unwrap_or_else(|| panic!("no code in {location}"))
}

async fn exchange(client: &Client, code: String, verifier: PkceCodeVerifier) -> CoreTokenResponse {
    client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http())
        .await
        .unwrap()
}

fn now_secs() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The payload of a JWT, unverified (to look at what the library checked).
fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64_url(part)).unwrap()
}

fn base64_url(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .unwrap()
}

async fn userinfo(app: &TestApp, access_token: &str) -> reqwest::Response {
    app.http
        .get(app.url("/oauth/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
}

app_test!(
    a_passkey_sign_in_gives_an_rs256_id_token_the_library_validates_and_userinfo_releases_only_the_grant,
    |app| {
        let acme = company(app, "Acme Sign-In", None).await;
        let mut ada = person(app, "ada").await;
        let client = client(app, &acme).await;

        // Discovery: the document the library read, beside RFC 8414's.
        let discovered: Value = app
            .http
            .get(app.url("/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(discovered["issuer"], app.base_url.as_str());
        assert_eq!(discovered["subject_types_supported"], json!(["pairwise"]));
        assert_eq!(
            discovered["id_token_signing_alg_values_supported"],
            json!(["RS256", "EdDSA"])
        );
        let rfc8414: Value = app
            .http
            .get(app.url("/.well-known/oauth-authorization-server"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(discovered, rfc8414, "one document, two addresses");
        let jwks: Value = app.http.get(app.url("/oauth/jwks")).send().await.unwrap().json().await.unwrap();
        let kinds: Vec<&str> = jwks["keys"].as_array().unwrap().iter().map(|k| k["kty"].as_str().unwrap()).collect();
        assert!(kinds.contains(&"RSA") && kinds.contains(&"OKP"), "{kinds:?}");

        let browser = passkey_sign_in(app, &mut ada).await;
        let before = now_secs();
        let asked = ask(&client, &[]);
        assert!(asked.url.contains("scope=openid"), "{}", asked.url);
        let code = approve(app, &browser, &asked).await;
        let tokens = exchange(&client, code, asked.verifier).await;
        // The granted scope names `openid`, as asked (oauthlib refuses a
        // response whose scope lost it: "Scope has changed").
        let granted: Vec<&str> = tokens.scopes().unwrap().iter().map(|s| s.as_str()).collect();
        assert_eq!(granted[0], "openid", "{granted:?}");
        assert!(granted.contains(&"email") && granted.contains(&"display_name"), "{granted:?}");

        let id_token = tokens.id_token().expect("an ID token");
        let verifier = client.id_token_verifier();
        let claims = id_token.claims(&verifier, &asked.nonce).unwrap();
        assert_eq!(*id_token.signing_alg().unwrap(), CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256);
        // at_hash binds the access token, checked with the library's own hash.
        let expected = AccessTokenHash::from_token(
            tokens.access_token(),
            id_token.signing_alg().unwrap(),
            id_token.signing_key(&verifier).unwrap(),
        )
        .unwrap();
        assert_eq!(claims.access_token_hash(), Some(&expected));
        let raw = payload(&id_token.to_string());
        assert_eq!(raw["amr"], json!(["hwk", "user"]), "a passkey sign-in");
        assert_eq!(raw["acr"], "phr");
        let auth_time = raw["auth_time"].as_i64().unwrap();
        assert!(auth_time <= before && before - auth_time < 60, "{auth_time} vs {before}");

        // A refresh keeps the sign-in: `openid` in the scope and a new ID
        // token the library validates, same subject and auth_time, no nonce
        // (OpenID Connect Core §12.2).
        let refreshed = client
            .exchange_refresh_token(tokens.refresh_token().expect("a refresh token"))
            .unwrap()
            .request_async(&http())
            .await
            .unwrap();
        let again: Vec<&str> = refreshed.scopes().unwrap().iter().map(|s| s.as_str()).collect();
        assert_eq!(again, granted, "the refreshed scope is the scope granted");
        let renewed = refreshed.id_token().expect("an ID token on refresh");
        let no_nonce = |nonce: Option<&Nonce>| match nonce {
            None => Ok(()),
            Some(_) => Err("a refreshed ID token carries no nonce".to_owned()),
        };
        let renewed_claims = renewed.claims(&verifier, no_nonce).unwrap();
        assert_eq!(renewed_claims.subject(), claims.subject());
        assert_eq!(payload(&renewed.to_string())["auth_time"], raw["auth_time"]);

        // The subject is the pairwise one `/v1/data` names.
        let data: Value = app
            .http
            .get(app.url("/v1/data"))
            .bearer_auth(tokens.access_token().secret())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(claims.subject().as_str(), data["subject"].as_str().unwrap());

        // UserInfo through the library: the granted claims, under standard names.
        let size_before = app.store().ledger_size().await.unwrap();
        let info: CoreUserInfoClaims = client
            .user_info(tokens.access_token().clone(), Some(claims.subject().clone()))
            .unwrap()
            .request_async(&http())
            .await
            .unwrap();
        assert_eq!(info.email().unwrap().as_str(), "ada@example.org");
        assert_eq!(
            info.name().unwrap().get(None).unwrap().as_str(),
            "Ada Lovelace"
        );
        assert!(info.birthdate().is_none(), "never granted");
        assert_eq!(
            app.store().ledger_size().await.unwrap(),
            size_before + 1,
            "the read is in the ledger, as /v1/data's is"
        );
        let raw = userinfo(app, tokens.access_token().secret()).await;
        assert_eq!(raw.headers()["cache-control"], "no-store");
        let raw: Value = raw.json().await.unwrap();
        let mut names: Vec<&str> = raw.as_object().unwrap().keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, ["email", "name", "sub"]);
    }
);

app_test!(
    an_eddsa_client_gets_eddsa_id_tokens_that_say_password_and_code,
    |app| {
        let acme = company(app, "Acme EdDSA", Some("EdDSA")).await;
        let mut ada = person(app, "ada").await;
        let client = client(app, &acme).await;
        let browser = password_and_code_sign_in(app, &mut ada).await;
        let asked = ask(&client, &[]);
        let code = approve(app, &browser, &asked).await;
        let tokens = exchange(&client, code, asked.verifier).await;
        let id_token = tokens.id_token().unwrap();
        assert_eq!(
            *id_token.signing_alg().unwrap(),
            CoreJwsSigningAlgorithm::EdDsa
        );
        // A verifier that takes only RS256 refuses it…
        let rs256_only = client
            .id_token_verifier()
            .set_allowed_algs(vec![CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256]);
        assert!(id_token.claims(&rs256_only, &asked.nonce).is_err());
        // …one that takes EdDSA validates it, at_hash included.
        let verifier = client
            .id_token_verifier()
            .set_allowed_algs(vec![CoreJwsSigningAlgorithm::EdDsa]);
        let claims = id_token.claims(&verifier, &asked.nonce).unwrap();
        let expected = AccessTokenHash::from_token(
            tokens.access_token(),
            id_token.signing_alg().unwrap(),
            id_token.signing_key(&verifier).unwrap(),
        )
        .unwrap();
        assert_eq!(claims.access_token_hash(), Some(&expected));
        let raw = payload(&id_token.to_string());
        assert_eq!(raw["amr"], json!(["mfa", "otp", "pwd"]));
        assert_eq!(raw["acr"], "mfa");
        // An ID token is not an access token.
        assert_eq!(userinfo(app, &id_token.to_string()).await.status(), 401);
    }
);

app_test!(
    a_wrong_nonce_is_refused_and_the_right_one_is_echoed_exactly,
    |app| {
        let acme = company(app, "Acme Nonce", None).await;
        let mut ada = person(app, "ada").await;
        let client = client(app, &acme).await;
        let browser = passkey_sign_in(app, &mut ada).await;
        let asked = ask(&client, &[]);
        let code = approve(app, &browser, &asked).await;
        let tokens = exchange(&client, code, asked.verifier).await;
        let id_token = tokens.id_token().unwrap();
        assert_eq!(
            payload(&id_token.to_string())["nonce"],
            asked.nonce.secret().as_str()
        );
        let replayed_elsewhere = Nonce::new("a-nonce-of-another-login".into());
        assert!(
            id_token
                .claims(&client.id_token_verifier(), &replayed_elsewhere)
                .is_err(),
            "an ID token from another login attempt is refused"
        );
    }
);

app_test!(
    a_replayed_code_gives_nothing_and_revokes_what_it_gave,
    |app| {
        let acme = company(app, "Acme Replay", None).await;
        let mut ada = person(app, "ada").await;
        let client = client(app, &acme).await;
        let browser = passkey_sign_in(app, &mut ada).await;
        let asked = ask(&client, &[]);
        let code = approve(app, &browser, &asked).await;
        let verifier_text = asked.verifier.secret().clone();
        let first = exchange(&client, code.clone(), asked.verifier).await;
        let again = client
            .exchange_code(AuthorizationCode::new(code))
            .unwrap()
            .set_pkce_verifier(PkceCodeVerifier::new(verifier_text))
            .request_async(&http())
            .await;
        let error = format!("{:?}", again.unwrap_err());
        assert!(error.contains("invalid_grant"), "{error}");
        assert_eq!(
            userinfo(app, first.access_token().secret()).await.status(),
            401,
            "the first redemption's access token is revoked"
        );
    }
);

app_test!(one_companys_id_token_is_worth_nothing_at_another, |app| {
    let acme = company(app, "Acme A", None).await;
    let bravo = company(app, "Bravo B", None).await;
    let mut ada = person(app, "ada").await;
    let a = client(app, &acme).await;
    let b = client(app, &bravo).await;
    let browser = passkey_sign_in(app, &mut ada).await;
    let asked_a = ask(&a, &[]);
    let code = approve(app, &browser, &asked_a).await;
    let tokens_a = exchange(&a, code, asked_a.verifier).await;
    let id_a: &CoreIdToken = tokens_a.id_token().unwrap();
    // B's library refuses A's ID token: it is not for B.
    let error = format!(
        "{:?}",
        id_a.claims(&b.id_token_verifier(), &asked_a.nonce)
            .unwrap_err()
    );
    assert!(error.to_lowercase().contains("audience"), "{error}");
    // B's own sign-in names the same person with another subject.
    let asked_b = ask(&b, &[]);
    let code = approve(app, &browser, &asked_b).await;
    let tokens_b = exchange(&b, code, asked_b.verifier).await;
    let sub_a = id_a
        .claims(&a.id_token_verifier(), &asked_a.nonce)
        .unwrap()
        .subject()
        .clone();
    let sub_b = tokens_b
        .id_token()
        .unwrap()
        .claims(&b.id_token_verifier(), &asked_b.nonce)
        .unwrap()
        .subject()
        .clone();
    assert_ne!(sub_a, sub_b, "pairwise: no cross-company id");
    // B cannot log the person out with A's token.
    let logout = app
        .http
        .get(app.url("/oauth/logout"))
        .query(&[
            ("id_token_hint", id_a.to_string().as_str()),
            ("client_id", bravo.id.as_str()),
        ])
        .header("cookie", &browser.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 400);
    assert!(logout.headers().get("location").is_none());
    // Nor read with it.
    assert_eq!(userinfo(app, &id_a.to_string()).await.status(), 401);
});

app_test!(userinfo_gives_nothing_once_the_person_revokes, |app| {
    let acme = company(app, "Acme Revoked", None).await;
    let mut ada = person(app, "ada").await;
    let client = client(app, &acme).await;
    let browser = passkey_sign_in(app, &mut ada).await;
    let asked = ask(&client, &[]);
    let code = approve(app, &browser, &asked).await;
    let tokens = exchange(&client, code, asked.verifier).await;
    let access = tokens.access_token().secret().clone();
    assert_eq!(userinfo(app, &access).await.status(), 200);
    let grants: Value = app
        .http
        .get(app.url("/v1/me/grants"))
        .bearer_auth(&ada.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let grant = grants["items"][0]["id"].as_str().unwrap().to_owned();
    let revoked = app
        .http
        .delete(app.url(&format!("/v1/me/grants/{grant}")))
        .bearer_auth(&ada.token)
        .send()
        .await
        .unwrap();
    assert!(revoked.status().is_success());
    let size = app.store().ledger_size().await.unwrap();
    let after = userinfo(app, &access).await;
    assert_eq!(after.status(), 401);
    assert!(
        after.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    let body = after.text().await.unwrap();
    assert!(!body.contains("ada@example.org"), "{body}");
    assert_eq!(
        app.store().ledger_size().await.unwrap(),
        size,
        "nothing disclosed"
    );
});

app_test!(
    prompt_max_age_and_login_hint_decide_who_must_sign_in,
    |app| {
        let acme = company(app, "Acme Prompt", None).await;
        let mut ada = person(app, "ada").await;
        let client = client(app, &acme).await;

        // prompt=none, signed out: login_required at once, with state.
        let asked = ask(&client, &[("prompt", "none")]);
        let answer = app.http.get(&asked.url).send().await.unwrap();
        assert_eq!(answer.status(), 302);
        let location = answer.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.starts_with(REDIRECT), "{location}");
        assert_eq!(
            query_param(&location, "error").as_deref(),
            Some("login_required")
        );
        assert!(query_param(&location, "state").is_some());

        // prompt=none, signed in but never consented: consent_required.
        let browser = passkey_sign_in(app, &mut ada).await;
        let asked = ask(&client, &[("prompt", "none")]);
        let answer = app
            .http
            .get(&asked.url)
            .header("cookie", &browser.cookie)
            .send()
            .await
            .unwrap();
        let location = answer.headers()["location"].to_str().unwrap().to_owned();
        assert_eq!(
            query_param(&location, "error").as_deref(),
            Some("consent_required")
        );

        // Once consented, prompt=none answers with a code and no page, for
        // what the grant covers (remembering never widens consent: here the
        // same attributes and purpose, ending before the grant does).
        let asked = ask(&client, &[]);
        approve(app, &browser, &asked).await;
        let within = json!([{"type": "apiome_data", "attributes": ["email", "display_name"],
                         "purpose": "service_provision", "duration": "P7D"}])
        .to_string();
        let asked = ask_for(
            &client,
            &[],
            &[
                ("prompt", "none"),
                ("authorization_details", within.as_str()),
            ],
        );
        let answer = app
            .http
            .get(&asked.url)
            .header("cookie", &browser.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 302);
        let location = answer.headers()["location"].to_str().unwrap().to_owned();
        assert!(query_param(&location, "code").is_some(), "{location}");

        // prompt=consent shows the screen although consent is remembered.
        let asked = ask(&client, &[("prompt", "consent")]);
        let page = app
            .http
            .get(&asked.url)
            .header("cookie", &browser.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);

        // prompt=login and max_age=0 send a signed-in person to sign in again,
        // with the login_hint filled in; the new sign-in satisfies the request.
        // (Sign-in times are whole seconds: let the session be a second old.)
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        for extra in [
            [("prompt", "login"), ("login_hint", "ada")],
            [("max_age", "0"), ("login_hint", "ada")],
        ] {
            let mut params = extra.to_vec();
            params.push(("authorization_details", within.as_str()));
            let asked = ask_for(&client, &[], &params);
            let answer = app
                .http
                .get(&asked.url)
                .header("cookie", &browser.cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), 303, "{extra:?}");
            let to = answer.headers()["location"].to_str().unwrap().to_owned();
            assert!(to.starts_with("/signin?"), "{to}");
            assert_eq!(query_param(&app.url(&to), "handle").as_deref(), Some("ada"));
            let next = query_param(&app.url(&to), "next").unwrap();
            assert!(next.starts_with("/oauth/authorize?resume="), "{next}");
            // The old session cannot simply come back to it: sent to sign in
            // again, the request kept under a new id (each id is single-use).
            let stale = app
                .http
                .get(app.url(&next))
                .header("cookie", &browser.cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(
                stale.status(),
                303,
                "{extra:?}: the old sign-in is still too old"
            );
            let to = stale.headers()["location"].to_str().unwrap().to_owned();
            let next_again = query_param(&app.url(&to), "next").unwrap();
            assert_ne!(next_again, next);
            let used = app
                .http
                .get(app.url(&next))
                .header("cookie", &browser.cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(used.status(), 400, "{extra:?}: a resume id works once");
            tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
            let fresh = passkey_sign_in(app, &mut ada).await;
            let again = app
                .http
                .get(app.url(&next_again))
                .header("cookie", &fresh.cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(again.status(), 302, "{extra:?}");
            let location = again.headers()["location"].to_str().unwrap().to_owned();
            assert!(query_param(&location, "code").is_some(), "{location}");
        }
    }
);

app_test!(bad_openid_parameters_are_named_in_invalid_request, |app| {
    let acme = company(app, "Acme Bad", None).await;
    let browser_less = |url: String| async move { app.http.get(&url).send().await.unwrap() };
    let base = format!(
        "{}?response_type=code&client_id={}&state=s1&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
        app.url("/oauth/authorize"),
        acme.id
    );
    for (query, error, named) in [
        ("&scope=email&nonce=n1", "invalid_request", "`nonce`"),
        (
            "&scope=openid+email&prompt=select_account",
            "invalid_request",
            "`prompt`",
        ),
        (
            "&scope=openid+email&prompt=none+login",
            "invalid_request",
            "`prompt=none`",
        ),
        (
            "&scope=openid+email&max_age=soon",
            "invalid_request",
            "`max_age`",
        ),
        (
            "&scope=openid+email&nonce=a%20b",
            "invalid_request",
            "`nonce`",
        ),
        ("&scope=openid", "invalid_scope", "`openid` alone"),
    ] {
        let answer = browser_less(format!("{base}{query}")).await;
        assert_eq!(answer.status(), 302, "{query}");
        let location = answer.headers()["location"].to_str().unwrap().to_owned();
        assert_eq!(
            query_param(&location, "error").as_deref(),
            Some(error),
            "{query}"
        );
        let description = query_param(&location, "error_description").unwrap();
        assert!(description.contains(named), "{query}: {description}");
        assert_eq!(query_param(&location, "state").as_deref(), Some("s1"));
    }
    // Registration: an unknown ID token algorithm, an unusable logout URI.
    for (field, value, error) in [
        (
            "id_token_signed_response_alg",
            json!("none"),
            "invalid_client_metadata",
        ),
        (
            "id_token_signed_response_alg",
            json!("HS256"),
            "invalid_client_metadata",
        ),
        (
            "post_logout_redirect_uris",
            json!(["not a uri"]),
            "invalid_redirect_uri",
        ),
    ] {
        let mut metadata = json!({"client_name": "Odd", "redirect_uris": [REDIRECT]});
        metadata[field] = value;
        let response = app.register(metadata).await;
        assert_eq!(response.status(), 400, "{field}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], error, "{field}");
        assert!(
            body["error_description"].as_str().unwrap().contains(field),
            "{body}"
        );
    }
});

app_test!(
    rp_initiated_logout_ends_the_session_and_returns_only_to_a_registered_uri,
    |app| {
        let acme = company(app, "Acme Logout", None).await;
        let mut ada = person(app, "ada").await;
        let client = client(app, &acme).await;
        let browser = passkey_sign_in(app, &mut ada).await;
        let asked = ask(&client, &[]);
        let code = approve(app, &browser, &asked).await;
        let tokens = exchange(&client, code, asked.verifier).await;
        let hint = tokens.id_token().unwrap().to_string();
        let logout = |query: Vec<(&'static str, String)>| {
            let request = app
                .http
                .get(app.url("/oauth/logout"))
                .query(&query)
                .header("cookie", &browser.cookie);
            async move { request.send().await.unwrap() }
        };
        // Refused, never redirected: no hint, a forged hint, an unregistered URI.
        let mut forged = hint.clone();
        forged.pop();
        for query in [
            vec![("post_logout_redirect_uri", LOGOUT_TO.to_owned())],
            vec![
                ("id_token_hint", forged),
                ("post_logout_redirect_uri", LOGOUT_TO.to_owned()),
            ],
            vec![
                ("id_token_hint", hint.clone()),
                (
                    "post_logout_redirect_uri",
                    "http://evil.example/".to_owned(),
                ),
            ],
            vec![
                ("id_token_hint", hint.clone()),
                ("post_logout_redirect_uri", format!("{LOGOUT_TO}/x")),
            ],
        ] {
            let answer = logout(query).await;
            assert_eq!(answer.status(), 400);
            assert!(answer.headers().get("location").is_none());
        }
        let still: Value = app
            .http
            .get(app.url("/v1/me"))
            .header("cookie", &browser.cookie)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(still["handle"], "ada", "refusals sign nobody out");

        let answer = logout(vec![
            ("id_token_hint", hint.clone()),
            ("post_logout_redirect_uri", LOGOUT_TO.to_owned()),
            ("state", "bye".to_owned()),
        ])
        .await;
        assert_eq!(answer.status(), 303);
        assert_eq!(
            answer.headers()["location"],
            format!("{LOGOUT_TO}?state=bye")
        );
        assert!(
            answer.headers()["set-cookie"]
                .to_str()
                .unwrap()
                .contains("apiome_session=;")
        );
        let gone = app
            .http
            .get(app.url("/v1/me"))
            .header("cookie", &browser.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(gone.status(), 401, "the session is over");
    }
);

app_test!(
    a_resume_id_opens_its_request_once_however_many_tabs_race,
    |app| {
        let acme = company(app, "Acme Race", None).await;
        let mut ada = person(app, "ada").await;
        let client = client(app, &acme).await;
        let asked = ask(&client, &[]);
        let signed_out = app.http.get(&asked.url).send().await.unwrap();
        assert_eq!(signed_out.status(), 303);
        let to = signed_out.headers()["location"]
            .to_str()
            .unwrap()
            .to_owned();
        let next = query_param(&app.url(&to), "next").unwrap();
        let browser = passkey_sign_in(app, &mut ada).await;
        let tabs = (0..8).map(|_| {
            app.http
                .get(app.url(&next))
                .header("cookie", &browser.cookie)
                .send()
        });
        let statuses: Vec<u16> = futures::future::join_all(tabs)
            .await
            .into_iter()
            .map(|r| r.unwrap().status().as_u16())
            .collect();
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "one consent screen: {statuses:?}"
        );
        assert_eq!(
            statuses.iter().filter(|s| **s == 400).count(),
            7,
            "{statuses:?}"
        );
    }
);

/// `apiome keys rotate` rotates the RSA keys with the Ed25519 ones: after a
/// restart the new key signs, both are published, and an ID token signed
/// before still validates.
async fn rotated_rsa_keys_sign_new_id_tokens_and_old_ones_still_validate(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let acme = company(&app, "Acme Rotate", None).await;
    let mut ada = person(&app, "ada").await;
    let before = client(&app, &acme).await;
    let browser = passkey_sign_in(&app, &mut ada).await;
    let asked = ask(&before, &[]);
    let code = approve(&app, &browser, &asked).await;
    let old = exchange(&before, code, asked.verifier).await;
    let old_token = old.id_token().unwrap().clone();
    let old_nonce = asked.nonce;
    let rotated = server::oauth_keys::rotate_signing_keys(app.store(), &app.data_dir())
        .await
        .unwrap();
    let app = app.restart_configured(|_| {}).await;
    let after = client(&app, &acme).await;
    let asked = ask(&after, &[]);
    let code = approve(&app, &browser, &asked).await;
    let new = exchange(&after, code, asked.verifier).await;
    let kid = |token: &CoreIdToken| {
        let header = token.to_string();
        let header = header.split('.').next().unwrap().to_owned();
        serde_json::from_slice::<Value>(&base64_url(&header)).unwrap()["kid"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(kid(new.id_token().unwrap()), rotated.rsa_signing_kid);
    assert_ne!(kid(&old_token), rotated.rsa_signing_kid);
    // The client, configured afresh, validates both: the old one with the
    // keys the restarted server publishes (its issuer names the test
    // server's previous port, so only that check is off for it).
    let old_claims = old_token.claims(
        &after.id_token_verifier().require_issuer_match(false),
        &old_nonce,
    );
    assert!(old_claims.is_ok(), "{old_claims:?}");
    assert!(
        new.id_token()
            .unwrap()
            .claims(&after.id_token_verifier(), &asked.nonce)
            .is_ok()
    );
    let jwks: Value = app
        .http
        .get(app.url("/oauth/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(kids.contains(&kid(&old_token).as_str()), "{kids:?}");
    assert!(kids.contains(&rotated.rsa_signing_kid.as_str()), "{kids:?}");
    app.stop().await;
}

app_test!(rotated_rsa_keys, db => rotated_rsa_keys_sign_new_id_tokens_and_old_ones_still_validate);

app_test!(
    a_logout_hint_signed_on_another_host_after_a_rotation_is_accepted_at_once,
    |app| {
        let acme = company(app, "Acme Far Logout", None).await;
        let mut ada = person(app, "ada").await;
        let client = client(app, &acme).await;
        let browser = passkey_sign_in(app, &mut ada).await;
        let asked = ask(&client, &[]);
        let code = approve(app, &browser, &asked).await;
        let tokens = exchange(&client, code, asked.verifier).await;
        let hint = tokens.id_token().unwrap().to_string();
        // Another host rotates (through the database) and signs an ID token
        // with its new RSA key before this server's 5 s look.
        let data_dir = app.data_dir();
        server::oauth_keys::rotate_signing_keys(app.store(), &data_dir)
            .await
            .unwrap();
        let there = server::oauth_server::OAuthServer::load(
            &server::config::KeySources::default(),
            &data_dir,
            app.store(),
            &url::Url::parse(&app.url("/")).unwrap(),
        )
        .await
        .unwrap();
        let now = server::oauth_keys::unix_now();
        let claims = there.verify_id_token_hint(&hint, now).unwrap();
        let far = authz::oidc::sign_id_token(
            &claims,
            authz::IdTokenAlg::Rs256,
            &there.keys(),
            &there.rsa.current(),
        )
        .unwrap();
        assert_ne!(far, hint);
        let answer = app
            .http
            .get(app.url("/oauth/logout"))
            .query(&[
                ("id_token_hint", far.as_str()),
                ("post_logout_redirect_uri", LOGOUT_TO),
            ])
            .header("cookie", &browser.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 303, "{}", answer.text().await.unwrap());
        assert_eq!(answer.headers()["location"], LOGOUT_TO);
    }
);
