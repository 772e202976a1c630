//! The authorization code flow end to end, as a company and a person meet
//! it: a company made the way `apiome company create` makes one, an
//! off-the-shelf OAuth client (the `oauth2` crate) with PKCE and a RAR
//! request, the consent screen submitted as the person's browser would,
//! the code exchanged, exactly the approved attributes read, and after the
//! person revokes, the same token refused on the next read.

#![allow(
    clippy::unwrap_used,
    reason = "test steps: a failed unwrap is a failed test"
)]

use apiome_tests::{REDIRECT, app_test, oauth_http, query_param};
use oauth2::{AuthorizationCode, CsrfToken, PkceCodeChallenge, TokenResponse as _};
use serde_json::{Value, json};

/// What each person of these tests shares (`(key, value, bucket)`): one
/// attribute in each bucket.
const SHARES: &[(&str, &str, &str)] = &[
    ("display_name", "Ada", "public"),
    ("email", "ada@example.org", "semi_private"),
    ("birth_date", "1815-12-10", "private"),
];

/// The value of `name` in a consent page's form action or hidden field.
fn form_action(html: &str) -> String {
    let start = html.find("action=\"/oauth/authorize/").unwrap() + "action=\"".len();
    html[start..].split('"').next().unwrap().to_owned()
}

app_test!(
    a_company_completes_the_code_flow_reads_what_was_approved_and_loses_it_on_revocation,
    |app| {
        let company = app.company("Acme Analytics").await;
        let ada = app.person_with("ada", SHARES).await;
        let oauth = app.oauth_client(&company);

        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let details = json!([{"type": "apiome_data", "attributes": ["display_name", "email", "birth_date"],
                           "purpose": "personalisation", "duration": "P30D"}]);
        let (authorize_url, state) = oauth
            .authorize_url(CsrfToken::new_random)
            .set_pkce_challenge(challenge)
            .add_extra_param("authorization_details", details.to_string())
            .url();

        // the person's browser opens the consent screen
        let page = app
            .http
            .get(authorize_url.as_str())
            .header("cookie", &ada.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(html.contains("Acme Analytics"), "{html}");
        assert!(
            html.contains("withheld"),
            "the private birth date is shown as withheld"
        );
        assert!(
            !html.contains("value=\"birth_date\""),
            "a withheld attribute cannot be ticked"
        );

        // without the CSRF token, the answer is refused
        let action = form_action(&html);
        let forged = app
            .http
            .post(app.url(&action))
            .header("cookie", &ada.cookie)
            .form(&[("decision", "approve"), ("attribute", "email")])
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), 403);

        // the person unticks nothing but the withheld one cannot be sent anyway
        let answer = app
            .http
            .post(app.url(&action))
            .header("cookie", &ada.cookie)
            .form(&[
                ("csrf_token", ada.csrf.as_str()),
                ("attribute", "display_name"),
                ("attribute", "email"),
                ("decision", "approve"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 302);
        let location = answer.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.starts_with(REDIRECT), "{location}");
        assert_eq!(
            query_param(&location, "state").as_deref(),
            Some(state.secret().as_str())
        );
        let code = query_param(&location, "code").unwrap();

        // the company exchanges the code with its PKCE verifier
        let tokens = oauth
            .exchange_code(AuthorizationCode::new(code.clone()))
            .set_pkce_verifier(verifier)
            .request_async(&oauth_http())
            .await
            .unwrap();
        let access = tokens.access_token().secret().to_owned();
        assert!(tokens.refresh_token().is_some());

        let data: Value = app
            .http
            .get(app.url("/v1/data"))
            .bearer_auth(&access)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            data["attributes"],
            json!({"display_name": "Ada", "email": "ada@example.org"}),
            "{data}"
        );
        assert!(!data.to_string().contains("1815-12-10"));

        // the code works once
        let replay = app
            .http
            .post(app.url("/oauth/token"))
            .basic_auth(&company.id, Some(&company.secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", REDIRECT),
                ("code_verifier", "x".repeat(43).as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(replay.status(), 400);

        // the person revokes; the very next read is refused
        let grant_id = data["grant_id"].as_str().unwrap();
        let revoked = app
            .http
            .delete(app.url(&format!("/v1/me/grants/{grant_id}")))
            .bearer_auth(&ada.token)
            .send()
            .await
            .unwrap();
        assert_eq!(revoked.status(), 200);
        let after = app
            .http
            .get(app.url("/v1/data"))
            .bearer_auth(&access)
            .send()
            .await
            .unwrap();
        assert_eq!(after.status(), 401);
        assert!(
            after.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("invalid_token")
        );
    }
);

app_test!(a_declined_consent_sends_the_company_access_denied, |app| {
    let company = app.company("Acme").await;
    let ada = app.person_with("ada", SHARES).await;
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let (url, _) = app
        .oauth_client(&company)
        .authorize_url(CsrfToken::new_random)
        .set_pkce_challenge(challenge)
        .add_extra_param("scope", "display_name")
        .url();
    let html = app
        .http
        .get(url.as_str())
        .header("cookie", &ada.cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let answer = app
        .http
        .post(app.url(&form_action(&html)))
        .header("cookie", &ada.cookie)
        .form(&[("csrf_token", ada.csrf.as_str()), ("decision", "decline")])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 302);
    let location = answer.headers()["location"].to_str().unwrap();
    assert_eq!(
        query_param(location, "error").as_deref(),
        Some("access_denied")
    );
    let requests: Value = app
        .http
        .get(app.url("/v1/me/requests?status=all"))
        .bearer_auth(&ada.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(requests["items"][0]["status"], "denied");
});

app_test!(an_unregistered_redirect_uri_is_never_redirected_to, |app| {
    let company = app.company("Acme").await;
    let ada = app.person_with("ada", SHARES).await;
    let url = format!(
        "{}?response_type=code&client_id={}&redirect_uri=http%3A%2F%2Fevil.example%2Fcb&scope=email&code_challenge={}&code_challenge_method=S256",
        app.url("/oauth/authorize"),
        company.id,
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    );
    let response = app
        .http
        .get(&url)
        .header("cookie", &ada.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
    // missing PKCE with a good redirect URI goes back to the client as an error
    let url = format!(
        "{}?response_type=code&client_id={}&redirect_uri={}&scope=email&state=s1",
        app.url("/oauth/authorize"),
        company.id,
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
    );
    let response = app
        .http
        .get(&url)
        .header("cookie", &ada.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"].to_str().unwrap();
    assert_eq!(
        query_param(location, "error").as_deref(),
        Some("invalid_request")
    );
    assert_eq!(query_param(location, "state").as_deref(), Some("s1"));
});
