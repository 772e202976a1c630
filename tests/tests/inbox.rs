//! The person's side of requests and grants on the web pages, end to end:
//! a company's request waits in the inbox and is approved (with an
//! attribute unticked) or declined through CSRF-checked forms; a grant
//! revoked on the grants page is refused on the company's very next read;
//! a company that asks again for what a live grant covers skips the
//! consent screen; and a page opened signed out comes back after sign-in,
//! never to another site.

#![allow(
    clippy::unwrap_used,
    reason = "test steps: a failed unwrap is a failed test"
)]

use apiome_tests::{
    Company, PASSWORD, Person, REDIRECT, TestApp, app_test, oauth_http, query_param, set_cookie,
};
use oauth2::{
    AuthorizationCode, CsrfToken, PkceCodeChallenge, PkceCodeVerifier, TokenResponse as _,
};
use serde_json::{Value, json};

/// What each person of these tests shares (`(key, value, bucket)`): a
/// public name, a somewhat private email and phone, a private birth date.
const SHARES: &[(&str, &str, &str)] = &[
    ("display_name", "Ada", "public"),
    ("email", "ada@example.org", "semi_private"),
    ("phone", "+44 20 7946 0000", "semi_private"),
    ("birth_date", "1815-12-10", "private"),
];
const COMPANY: &str = "Acme Rewards";

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

/// The company asks, asynchronously, for `keys` for marketing.
async fn ask(app: &TestApp, company_token: &str, handle: &str, keys: &[&str]) -> String {
    let response = app
        .http
        .post(app.url("/v1/requests"))
        .bearer_auth(company_token)
        .json(&json!({
            "person": {"handle": handle},
            "authorization_details": [{"type": "apiome_data", "attributes": keys,
                "purpose": "marketing", "duration": "P30D"}]
        }))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "pending", "{body}");
    body["request_id"].as_str().unwrap().to_owned()
}

async fn page(app: &TestApp, who: &Person, path: &str) -> String {
    let response = app
        .http
        .get(app.url(path))
        .header("cookie", &who.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    assert!(
        response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    let html = response.text().await.unwrap();
    assert!(
        !html.contains("<script>") && !html.contains(" onclick="),
        "{path}: inline script"
    );
    for attr in ["src=\"", "href=\"", "action=\""] {
        for part in html.split(attr).skip(1) {
            let link = part.split('"').next().unwrap();
            assert!(
                (link.starts_with('/') && !link.starts_with("//")) || link.starts_with('#'),
                "{path} links to {link}"
            );
        }
    }
    html
}

async fn post_form(
    app: &TestApp,
    who: &Person,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    app.http
        .post(app.url(path))
        .header("cookie", &who.cookie)
        .form(form)
        .send()
        .await
        .unwrap()
}

/// The person's request `id` as the JSON API shows it.
async fn request_status(app: &TestApp, who: &Person, id: &str) -> Value {
    let all: Value = app
        .http
        .get(app.url("/v1/me/requests?status=all"))
        .bearer_auth(&who.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    all["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .cloned()
        .unwrap()
}

app_test!(
    a_pending_request_is_shown_in_the_inbox_and_approved_for_the_ticked_attributes_only,
    |app| {
        let acme = app.company(COMPANY).await;
        let ada = app.person_with("ada", SHARES).await;
        let token = app.company_token(&acme).await;
        let id = ask(
            app,
            &token,
            &ada.handle,
            &["display_name", "email", "phone", "birth_date"],
        )
        .await;

        let html = page(app, &ada, "/inbox").await;
        assert!(html.contains(&format!("data-request=\"{id}\"")), "{html}");
        assert!(html.contains(COMPANY), "the company's name");
        assert!(html.contains("(semi-private)"), "each attribute's bucket");
        assert!(html.contains("<dd>30 days</dd>"), "the duration in words");
        assert!(html.contains("no payment"), "the offer");
        assert!(
            html.contains("— withheld"),
            "the private birth date is withheld"
        );
        assert!(html.contains("value=\"email\"") && html.contains("value=\"phone\""));
        assert!(
            !html.contains("value=\"birth_date\""),
            "a withheld attribute cannot be ticked"
        );
        assert!(
            html.contains("id=\"nav-pending\">1<"),
            "the navigation counts one waiting request"
        );
        let approve = format!("/inbox/{id}/approve");

        // Without the session's CSRF token, or with a wrong one: refused.
        let missing = post_form(app, &ada, &approve, &[("attribute", "email")]).await;
        assert_eq!(missing.status(), 403);
        let forged = post_form(
            app,
            &ada,
            &approve,
            &[("csrf_token", "forged"), ("attribute", "email")],
        )
        .await;
        assert_eq!(forged.status(), 403);
        // A withheld attribute, or nothing ticked: nothing granted.
        let private = post_form(
            app,
            &ada,
            &approve,
            &[("csrf_token", &ada.csrf), ("attribute", "birth_date")],
        )
        .await;
        assert_eq!(location(&private), "/inbox?status=not-grantable");
        let none = post_form(app, &ada, &approve, &[("csrf_token", &ada.csrf)]).await;
        assert_eq!(location(&none), "/inbox?status=nothing-ticked");
        assert_eq!(request_status(app, &ada, &id).await["status"], "pending");

        // Phone unticked: the grant holds the name and email only.
        let approved = post_form(
            app,
            &ada,
            &approve,
            &[
                ("csrf_token", &ada.csrf),
                ("attribute", "display_name"),
                ("attribute", "email"),
            ],
        )
        .await;
        assert_eq!(approved.status(), 303);
        assert_eq!(location(&approved), "/inbox?status=approved");
        let request = request_status(app, &ada, &id).await;
        assert_eq!(request["status"], "approved");
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
        assert_eq!(grants["items"][0]["id"], request["grant_id"]);
        assert_eq!(
            grants["items"][0]["attributes"],
            json!(["display_name", "email"])
        );

        let after = page(app, &ada, "/inbox?status=approved").await;
        assert!(
            after.contains("Shared. The company can now read"),
            "{after}"
        );
        assert!(after.contains("id=\"inbox-empty\""));
        assert!(!after.contains("id=\"nav-pending\""), "nothing waits now");
        let again = post_form(
            app,
            &ada,
            &approve,
            &[("csrf_token", &ada.csrf), ("attribute", "email")],
        )
        .await;
        assert_eq!(location(&again), "/inbox?status=not-pending");
    }
);

app_test!(a_request_is_declined_through_the_inbox_form, |app| {
    let acme = app.company(COMPANY).await;
    let ada = app.person_with("ada", SHARES).await;
    let token = app.company_token(&acme).await;
    let id = ask(app, &token, &ada.handle, &["email"]).await;
    let decline = format!("/inbox/{id}/decline");

    let forged = post_form(app, &ada, &decline, &[]).await;
    assert_eq!(forged.status(), 403);
    assert_eq!(request_status(app, &ada, &id).await["status"], "pending");

    let declined = post_form(app, &ada, &decline, &[("csrf_token", &ada.csrf)]).await;
    assert_eq!(declined.status(), 303);
    assert_eq!(location(&declined), "/inbox?status=declined");
    let request = request_status(app, &ada, &id).await;
    assert_eq!(request["status"], "denied");
    assert!(request["grant_id"].is_null());
    let company_view: Value = app
        .http
        .get(app.url(&format!("/v1/requests/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(company_view["status"], "denied", "{company_view}");
    assert!(
        page(app, &ada, "/inbox")
            .await
            .contains("id=\"inbox-empty\"")
    );
});

/// The company's authorization URL for `details` (and its PKCE verifier).
fn authorize_url(app: &TestApp, company: &Company, details: &Value) -> (String, PkceCodeVerifier) {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, _) = app
        .oauth_client(company)
        .authorize_url(CsrfToken::new_random)
        .set_pkce_challenge(challenge)
        .add_extra_param("authorization_details", details.to_string())
        .url();
    (url.to_string(), verifier)
}

/// The company exchanges `code` for an access token.
async fn exchange(
    app: &TestApp,
    company: &Company,
    code: &str,
    verifier: PkceCodeVerifier,
) -> String {
    app.oauth_client(company)
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .set_pkce_verifier(verifier)
        .request_async(&oauth_http())
        .await
        .unwrap()
        .access_token()
        .secret()
        .clone()
}

/// Opens the consent screen at `url` and approves `ticked`: the code.
async fn consent(app: &TestApp, who: &Person, url: &str, ticked: &[&str]) -> String {
    let response = app
        .http
        .get(url)
        .header("cookie", &who.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "the consent screen is shown");
    let html = response.text().await.unwrap();
    let start = html.find("action=\"/oauth/authorize/").unwrap() + "action=\"".len();
    let action = html[start..].split('"').next().unwrap().to_owned();
    let mut form = vec![("csrf_token", who.csrf.as_str()), ("decision", "approve")];
    form.extend(ticked.iter().map(|k| ("attribute", *k)));
    let answer = post_form(app, who, &action, &form).await;
    assert_eq!(answer.status(), 302);
    query_param(&location(&answer), "code").unwrap()
}

async fn read(app: &TestApp, access: &str) -> reqwest::Response {
    app.http
        .get(app.url("/v1/data"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
}

app_test!(
    revoking_on_the_grants_page_refuses_the_companys_very_next_read,
    |app| {
        let acme = app.company(COMPANY).await;
        let ada = app.person_with("ada", SHARES).await;
        let details = json!([{"type": "apiome_data", "attributes": ["display_name", "email"],
                              "purpose": "personalisation", "duration": "P30D"}]);
        let (url, verifier) = authorize_url(app, &acme, &details);
        let code = consent(app, &ada, &url, &["display_name", "email"]).await;
        let access = exchange(app, &acme, &code, verifier).await;
        let data: Value = read(app, &access).await.json().await.unwrap();
        let grant_id = data["grant_id"].as_str().unwrap().to_owned();

        let html = page(app, &ada, "/grants").await;
        let live = html.split("id=\"past-heading\"").next().unwrap();
        assert!(
            live.contains(&format!("data-grant=\"{grant_id}\"")),
            "{html}"
        );
        assert!(live.contains(COMPANY));
        assert!(live.contains("display name, email address"), "{live}");
        assert!(live.contains(&format!("action=\"/grants/{grant_id}/revoke\"")));
        assert!(live.contains("nothing (no offer)"));
        let revoke = format!("/grants/{grant_id}/revoke");

        // A revoke form without the CSRF token changes nothing.
        let forged = post_form(app, &ada, &revoke, &[]).await;
        assert_eq!(forged.status(), 403);
        assert_eq!(read(app, &access).await.status(), 200, "still granted");

        let revoked = post_form(app, &ada, &revoke, &[("csrf_token", &ada.csrf)]).await;
        assert_eq!(revoked.status(), 303);
        assert_eq!(location(&revoked), "/grants?status=revoked");

        // The very next read, with the same unexpired token, is refused.
        let refused = read(app, &access).await;
        assert_eq!(refused.status(), 401);
        let challenge = refused.headers()["www-authenticate"].to_str().unwrap();
        assert!(challenge.starts_with("Bearer "), "{challenge}");
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");

        let html = page(app, &ada, "/grants?status=revoked").await;
        assert!(html.contains("id=\"no-live-grants\""), "{html}");
        let past = html.split("id=\"past-heading\"").nth(1).unwrap();
        assert!(past.contains(&format!("data-grant=\"{grant_id}\"")));
        assert!(past.contains("revoked "));
        assert!(!html.contains(&format!("action=\"/grants/{grant_id}/revoke\"")));
        let twice = post_form(app, &ada, &revoke, &[("csrf_token", &ada.csrf)]).await;
        assert_eq!(location(&twice), "/grants?status=not-live");
    }
);

app_test!(
    asking_again_for_what_a_live_grant_covers_skips_the_consent_screen,
    |app| {
        let acme = app.company(COMPANY).await;
        let ada = app.person_with("ada", SHARES).await;
        // The first time, the screen is shown even for what the policy allows.
        let first = json!([{"type": "apiome_data", "attributes": ["display_name", "email"],
                            "purpose": "personalisation", "duration": "P30D"}]);
        let (url, verifier) = authorize_url(app, &acme, &first);
        let code = consent(app, &ada, &url, &["display_name", "email"]).await;
        exchange(app, &acme, &code, verifier).await;
        let ledger_before = app.store().ledger_size().await.unwrap();

        // Again, for a part of it and for less time: a code at once.
        let again = json!([{"type": "apiome_data", "attributes": ["email"],
                            "purpose": "personalisation", "duration": "P7D"}]);
        let (url, verifier) = authorize_url(app, &acme, &again);
        let response = app
            .http
            .get(&url)
            .header("cookie", &ada.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 302, "no consent screen");
        let to = location(&response);
        assert!(to.starts_with(REDIRECT), "{to}");
        let code = query_param(&to, "code").expect("a code, not an error");
        let access = exchange(app, &acme, &code, verifier).await;
        let data: Value = read(app, &access).await.json().await.unwrap();
        assert_eq!(
            data["attributes"],
            json!({"email": "ada@example.org"}),
            "exactly what this request asked"
        );
        assert_eq!(
            app.store().ledger_size().await.unwrap(),
            ledger_before + 4,
            "made, decided, granted, and the company's read"
        );

        // Another purpose, or an attribute never granted: the screen again.
        for (what, details) in [
            (
                "another purpose",
                json!([{"type": "apiome_data", "attributes": ["email"],
                         "purpose": "marketing", "duration": "P7D"}]),
            ),
            (
                "an attribute not granted",
                json!([{"type": "apiome_data", "attributes": ["email", "phone"],
                         "purpose": "personalisation", "duration": "P7D"}]),
            ),
        ] {
            let (url, _) = authorize_url(app, &acme, &details);
            let response = app
                .http
                .get(&url)
                .header("cookie", &ada.cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{what}: the screen is shown");
        }
    }
);

app_test!(
    a_page_opened_signed_out_comes_back_after_signing_in,
    |app| {
        let acme = app.company(COMPANY).await;
        app.person_with("ada", SHARES).await;
        let sign_in = |next: String| {
            app.http
                .post(app.url("/signin"))
                .form(&[
                    ("handle", "ada"),
                    ("password", PASSWORD),
                    ("next", next.as_str()),
                ])
                .send()
        };
        for path in ["/inbox", "/grants", "/dashboard", "/earnings"] {
            let response = app.http.get(app.url(path)).send().await.unwrap();
            assert_eq!(response.status(), 303, "{path}");
            let to = location(&response);
            let next = query_param(&app.url(&to), "next");
            assert_eq!(next.as_deref(), Some(path), "{to}");
            // the sign-in page carries it to the form
            let html = app
                .http
                .get(app.url(&to))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(
                html.contains(&format!("name=\"next\" value=\"{path}\"")),
                "{html}"
            );
            assert!(
                html.contains(&format!("data-next=\"{path}\"")),
                "the passkey button"
            );
            let signed_in = sign_in(path.to_owned()).await.unwrap();
            assert_eq!(signed_in.status(), 303);
            assert_eq!(location(&signed_in), path);
        }

        // The consent screen: back to the very authorization request, kept
        // on the server under a single-use `resume` id while the person
        // signs in.
        let details = json!([{"type": "apiome_data", "attributes": ["email"],
                              "purpose": "marketing", "duration": "P30D"}]);
        let (url, _) = authorize_url(app, &acme, &details);
        let response = app.http.get(&url).send().await.unwrap();
        assert_eq!(response.status(), 303);
        let next = query_param(&app.url(&location(&response)), "next").unwrap();
        assert!(next.starts_with("/oauth/authorize?resume="), "{next}");
        let wanted = next.clone();
        let signed_in = sign_in(next).await.unwrap();
        assert_eq!(location(&signed_in), wanted);
        let cookie = set_cookie(&signed_in);
        let screen = app
            .http
            .get(app.url(&wanted))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(screen.status(), 200);
        assert!(screen.text().await.unwrap().contains("asks for your data"));
    }
);

app_test!(
    a_next_that_leaves_this_server_lands_on_the_dashboard,
    |app| {
        app.person_with("ada", SHARES).await;
        for evil in [
            "//evil.example",
            "//evil.example/inbox",
            "https://evil.example",
            "http:evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/%2F%2Fevil.example",
            "evil.example",
            "javascript:alert(1)",
        ] {
            let signed_in = app
                .http
                .post(app.url("/signin"))
                .form(&[("handle", "ada"), ("password", PASSWORD), ("next", evil)])
                .send()
                .await
                .unwrap();
            assert_eq!(signed_in.status(), 303, "{evil}");
            assert_eq!(location(&signed_in), "/dashboard", "{evil}");
            let encoded: String = url::form_urlencoded::byte_serialize(evil.as_bytes()).collect();
            let html = app
                .http
                .get(app.url(&format!("/signin?next={encoded}")))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(!html.contains("name=\"next\""), "{evil} reached the form");
            assert!(
                html.contains("data-next=\"\""),
                "{evil} reached the passkey button"
            );
        }
    }
);

app_test!(
    the_inbox_page_names_a_price_for_the_ticked_attributes_and_then_waits,
    |app| {
        let acme = app.company(COMPANY).await;
        server::admin::fund_company(app.store(), &acme.id, "1.00", "EUR", None)
            .await
            .unwrap();
        let token = app.company_token(&acme).await;
        let ada = app.person_with("ada_page_counter", SHARES).await;
        let response = app
            .http
            .post(app.url("/v1/requests"))
            .bearer_auth(&token)
            .json(
                &json!({"person": {"handle": ada.handle}, "authorization_details": [
                {"type": "apiome_data", "attributes": ["email", "phone"], "purpose": "marketing",
                 "duration": "P30D", "offer": {"amount_micros": 50_000, "currency": "EUR"}}]}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let id = response.json::<Value>().await.unwrap()["request_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let html = page(app, &ada, "/inbox").await;
        assert!(html.contains(&format!("id=\"price-{id}\"")), "{html}");
        assert!(html.contains(&format!("formaction=\"/inbox/{id}/counter\"")));

        let action = format!("/inbox/{id}/counter");
        // Not a price, not above the offer, a forged form: nothing sent.
        for price in ["lots", "0.05", "0.01", "-1"] {
            let sent = post_form(
                app,
                &ada,
                &action,
                &[
                    ("csrf_token", &ada.csrf),
                    ("attribute", "email"),
                    ("price", price),
                ],
            )
            .await;
            assert_eq!(sent.status(), 303, "{price}");
            assert_eq!(location(&sent), "/inbox?status=bad-price", "{price}");
        }
        let forged = post_form(
            app,
            &ada,
            &action,
            &[
                ("csrf_token", "forged"),
                ("attribute", "email"),
                ("price", "0.08"),
            ],
        )
        .await;
        assert_eq!(forged.status(), 403);
        assert_eq!(request_status(app, &ada, &id).await["status"], "pending");

        let sent = post_form(
            app,
            &ada,
            &action,
            &[
                ("csrf_token", &ada.csrf),
                ("attribute", "email"),
                ("price", "0.08"),
            ],
        )
        .await;
        assert_eq!(location(&sent), "/inbox?status=countered");
        let html = page(app, &ada, "/inbox?status=countered").await;
        assert!(html.contains("You asked for 0.08 EUR"), "{html}");
        assert!(!html.contains(&format!("action=\"/inbox/{id}/approve\"")));
        let seen: Value = app
            .http
            .get(app.url(&format!("/v1/requests/{id}")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(seen["status"], "countered");
        assert_eq!(seen["attributes"]["email"], "pending");
        assert_eq!(
            seen["attributes"]["phone"], "withheld",
            "only what was ticked"
        );
    }
);
