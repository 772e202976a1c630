//! Money end to end: an operator funds a company's wallet, the company's
//! offer is held when it asks, paid when the person approves, returned when
//! they decline; a company that cannot pay gets 402 saying how much is
//! missing; the person sees what they earned in the API and on a page; and
//! the books an auditor rebuilds from the ledger balance.

#![allow(
    clippy::unwrap_used,
    reason = "test steps: a failed unwrap is a failed test"
)]

use apiome_tests::{Person, REDIRECT, TestApp, app_test};
use serde_json::{Value, json};

/// What each person of these tests shares: `(key, value, bucket)`.
const SHARES: &[(&str, &str, &str)] = &[("email", "marie@example.org", "semi_private")];

/// Asks for the email with an offer of `micros` EUR micro-units.
async fn ask(app: &TestApp, token: &str, handle: &str, micros: u64) -> reqwest::Response {
    app.http
        .post(app.url("/v1/requests"))
        .bearer_auth(token)
        .json(&json!({
            "person": {"handle": handle},
            "authorization_details": [{"type": "apiome_data", "attributes": ["email"],
                "purpose": "marketing", "duration": "P30D",
                "offer": {"amount_micros": micros, "currency": "EUR"}}]
        }))
        .send()
        .await
        .unwrap()
}

async fn wallet(app: &TestApp, token: &str) -> Value {
    let response = app
        .http
        .get(app.url("/v1/wallet"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["balances"][0].clone()
}

async fn earnings(app: &TestApp, person: &Person) -> Value {
    let response = app
        .http
        .get(app.url("/v1/me/earnings"))
        .bearer_auth(&person.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

app_test!(
    offers_are_held_paid_and_returned_and_the_books_balance,
    |app| {
        let acme = app.company("Acme Rewards").await;
        let marie = app.person_with("marie_curie", SHARES).await;
        let token = app.company_token(&acme).await;

        // Nothing funded: the offer cannot be held, and the answer says by how much.
        let refused = ask(app, &token, "marie_curie", 50_000).await;
        assert_eq!(refused.status(), 402);
        assert_eq!(
            refused.headers()["content-type"],
            "application/problem+json"
        );
        let problem: Value = refused.json().await.unwrap();
        assert_eq!(apiome_tests::problem_kind(&problem), "insufficient-funds");
        assert_eq!(problem["missing"]["amount_micros"], 50_000);
        assert_eq!(problem["missing"]["currency"], "EUR");
        assert!(
            problem["detail"].as_str().unwrap().contains("0.05 EUR"),
            "{problem}"
        );

        let funded = server::admin::fund_company(app.store(), &acme.id, "0.20", "EUR", None)
            .await
            .unwrap();
        assert_eq!(funded.status, "credited");
        let balance = wallet(app, &token).await;
        assert_eq!(balance["funded"]["amount_micros"], 200_000);
        assert_eq!(balance["available"]["display"], "0.20 EUR");

        // Held while the person decides.
        let paid = ask(app, &token, "marie_curie", 50_000).await;
        assert_eq!(paid.status(), 201);
        let paid: Value = paid.json().await.unwrap();
        assert_eq!(paid["status"], "pending");
        let declined: Value = ask(app, &token, "marie_curie", 120_000)
            .await
            .json()
            .await
            .unwrap();
        let balance = wallet(app, &token).await;
        assert_eq!(balance["reserved"]["amount_micros"], 170_000);
        assert_eq!(balance["available"]["amount_micros"], 30_000);
        // More than is left: 402 with the exact shortfall.
        let short: Value = ask(app, &token, "marie_curie", 40_000)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(short["missing"]["amount_micros"], 10_000);
        let mine = earnings(app, &marie).await;
        assert_eq!(mine["balances"][0]["pending"]["amount_micros"], 170_000);
        assert_eq!(mine["balances"][0]["earned"]["amount_micros"], 0);

        // Approve one, decline the other.
        let approve = app
            .http
            .post(app.url(&format!(
                "/v1/me/requests/{}/approve",
                paid["request_id"].as_str().unwrap()
            )))
            .bearer_auth(&marie.token)
            .send()
            .await
            .unwrap();
        assert!(approve.status().is_success(), "{}", approve.status());
        let decline = app
            .http
            .post(app.url(&format!(
                "/v1/me/requests/{}/decline",
                declined["request_id"].as_str().unwrap()
            )))
            .bearer_auth(&marie.token)
            .send()
            .await
            .unwrap();
        assert!(decline.status().is_success(), "{}", decline.status());

        let balance = wallet(app, &token).await;
        assert_eq!(balance["spent"]["amount_micros"], 50_000);
        assert_eq!(balance["reserved"]["amount_micros"], 0);
        assert_eq!(balance["available"]["amount_micros"], 150_000);
        let mine = earnings(app, &marie).await;
        assert_eq!(mine["balances"][0]["earned"]["display"], "0.05 EUR");
        assert_eq!(mine["balances"][0]["pending"]["amount_micros"], 0);
        let states: Vec<&str> = mine["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["state"].as_str().unwrap())
            .collect();
        assert_eq!(states.len(), 2);
        assert!(
            states.contains(&"posted") && states.contains(&"voided"),
            "{states:?}"
        );
        assert_eq!(mine["items"][0]["company_name"], "Acme Rewards");

        // One payment a page, newest first, keyset-paged in the store.
        let mut ids = Vec::new();
        let mut query = "?limit=1".to_owned();
        loop {
            let page: Value = app
                .http
                .get(app.url(&format!("/v1/me/earnings{query}")))
                .bearer_auth(&marie.token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(page["balances"], mine["balances"]);
            assert!(page["items"].as_array().unwrap().len() <= 1);
            ids.extend(
                page["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p["id"].clone()),
            );
            match page["next_cursor"].as_str() {
                Some(cursor) => query = format!("?limit=1&cursor={cursor}"),
                None => break,
            }
        }
        let all: Vec<Value> = mine["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].clone())
            .collect();
        assert_eq!(ids, all);

        // The page says the same, to the person only.
        let page = app
            .http
            .get(app.url("/earnings"))
            .header("cookie", &marie.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(
            html.contains("0.05 EUR") && html.contains("Acme Rewards"),
            "{html}"
        );
        assert!(html.contains("Not paid (declined or expired)"));
        let anonymous = app.http.get(app.url("/earnings")).send().await.unwrap();
        assert_eq!(anonymous.status(), 303);

        // A person's token is not a company's: no wallet for it.
        let wrong = app
            .http
            .get(app.url("/v1/wallet"))
            .bearer_auth(&marie.token)
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 401);

        // The books an auditor rebuilds from the log balance and agree.
        let books = app.books().await;
        let company_id = ledger::ShortText::new(acme.id.clone()).unwrap();
        let eur = ledger::Currency::new("EUR").unwrap();
        assert_eq!(books.wallet_available(&company_id, eur), 150_000);
    }
);

app_test!(
    the_consent_screen_never_offers_money_the_company_lacks,
    |app| {
        let acme = app.company("Acme Rewards").await;
        let marie = app.person_with("marie_curie", SHARES).await;
        let details = json!([{"type": "apiome_data", "attributes": ["email"], "purpose": "marketing",
                          "duration": "P30D", "offer": {"amount_micros": 1_000_000, "currency": "EUR"}}]);
        // The offer comes the only way an offer can: pushed by the company.
        let pushed_url = || async {
            let pushed: Value = app
                .http
                .post(app.url("/oauth/par"))
                .basic_auth(&acme.id, Some(&acme.secret))
                .form(&[
                    ("response_type", "code"),
                    ("redirect_uri", REDIRECT),
                    ("state", "s1"),
                    (
                        "code_challenge",
                        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                    ),
                    ("code_challenge_method", "S256"),
                    ("authorization_details", &details.to_string()),
                ])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let mut url = url::Url::parse(&app.url("/oauth/authorize")).unwrap();
            url.query_pairs_mut()
                .append_pair("client_id", &acme.id)
                .append_pair("request_uri", pushed["request_uri"].as_str().unwrap());
            url
        };
        let screen = |url: url::Url| {
            app.http
                .get(url.as_str())
                .header("cookie", &marie.cookie)
                .send()
        };
        let response = screen(pushed_url().await).await.unwrap();
        assert_eq!(response.status(), 302);
        let location = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
        let query: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
        assert_eq!(query["error"], "invalid_request");
        assert_eq!(query["state"], "s1");
        // The answer passes through the person's browser: it names no amount.
        assert!(
            query["error_description"].contains("cannot cover the offer")
                && !query["error_description"].contains("EUR"),
            "{query:?}"
        );

        // Funded, a new pushed request shows the screen with the offer.
        server::admin::fund_company(app.store(), &acme.id, "1", "EUR", None)
            .await
            .unwrap();
        let response = screen(pushed_url().await).await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.text().await.unwrap().contains("1.00 EUR"));
    }
);
