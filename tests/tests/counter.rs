//! Counter-offers end to end (issue #21.2, and #22.7's `request.countered`):
//! a person answers a request with an offer with their own price; the
//! company sees `countered`, hears `request.countered`, and accepts — the
//! offer goes back, the counter is reserved and paid, the grant made, all
//! at once — or lets it lapse with the request. And what a hostile person
//! or company sends instead. (A grant that runs out is heard as
//! `grant.expired` here too, beside the lapsed counter.)

#![allow(
    clippy::unwrap_used,
    reason = "test steps: a failed unwrap is a failed test"
)]

use std::time::Duration;

use apiome_tests::{Call, Company, TestApp, app_test, http_receiver, problem_kind};
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// What each person of these tests shares (`(key, value, bucket)`): under
/// "ask me", a semi-private email and phone.
const SHARES: &[(&str, &str, &str)] = &[
    ("email", "ada@example.org", "semi_private"),
    ("phone", "+44 20 7946 0000", "semi_private"),
];

fn details(offer: Option<u64>) -> Value {
    let mut entry = json!({"type": "apiome_data", "attributes": ["email", "phone"],
        "purpose": "marketing", "duration": "P30D"});
    if let Some(micros) = offer {
        entry["offer"] = json!({"amount_micros": micros, "currency": "EUR"});
    }
    entry
}

/// `POST /v1/requests`; the request's id.
async fn ask(app: &TestApp, token: &str, handle: &str, offer: Option<u64>) -> String {
    let response = app
        .http
        .post(app.url("/v1/requests"))
        .bearer_auth(token)
        .json(&json!({"person": {"handle": handle}, "authorization_details": [details(offer)]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "pending", "{body}");
    body["request_id"].as_str().unwrap().to_owned()
}

async fn counter(app: &TestApp, person: &str, id: &str, body: Value) -> (u16, Value) {
    let response = app
        .http
        .post(app.url(&format!("/v1/me/requests/{id}/counter")))
        .bearer_auth(person)
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn accept(app: &TestApp, token: &str, id: &str) -> (u16, Value) {
    let response = app
        .http
        .post(app.url(&format!("/v1/requests/{id}/accept-counter")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn get(app: &TestApp, token: &str, path: &str) -> Value {
    let response = app
        .http
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

fn eur(micros: u64) -> Value {
    json!({"amount_micros": micros, "currency": "EUR"})
}

async fn funded(app: &TestApp, name: &str, amount: &str) -> (Company, String) {
    let company = app.company(name).await;
    server::admin::fund_company(app.store(), &company.id, amount, "EUR", None)
        .await
        .unwrap();
    let token = app.company_token(&company).await;
    (company, token)
}

/// The company's webhook, set to a receiver on loopback.
async fn hooks(app: &TestApp, token: &str) -> mpsc::UnboundedReceiver<Call> {
    let (base, calls) = http_receiver(200).await;
    let set = app
        .http
        .put(app.url("/v1/webhook"))
        .bearer_auth(token)
        .json(&json!({"url": format!("{base}/hooks")}))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 200);
    calls
}

/// Waits for the event of `kind` about request `id`.
async fn heard(calls: &mut mpsc::UnboundedReceiver<Call>, kind: &str, id: &str) -> Value {
    loop {
        let event = apiome_tests::next_call(calls).await.json();
        if event["type"] == kind && event["data"]["request_id"] == id {
            return event;
        }
    }
}

app_test!(
    a_counter_is_seen_heard_and_accepted_at_once_with_the_money,
    |app| {
        let (acme, token) = funded(app, "Acme Counter", "1.00").await;
        let mut calls = hooks(app, &token).await;
        let ada = app.person_with("ada_counter", SHARES).await.token;
        let id = ask(app, &token, "ada_counter", Some(50_000)).await;

        // "I would share my email for 0.08 EUR" (not the phone).
        let (status, countered) = counter(
            app,
            &ada,
            &id,
            json!({"price": {"amount_micros": 80_000, "currency": "EUR", "display": "whatever"},
                   "attributes": ["email"]}),
        )
        .await;
        assert_eq!(status, 200, "{countered}");
        assert_eq!(countered["status"], "countered");
        assert_eq!(countered["counter"]["display"], "0.08 EUR");

        let seen = get(app, &token, &format!("/v1/requests/{id}")).await;
        assert_eq!(seen["status"], "countered", "{seen}");
        assert_eq!(seen["counter"]["amount_micros"], 80_000);
        assert_eq!(seen["attributes"]["email"], "pending");
        assert_eq!(seen["attributes"]["phone"], "withheld");
        let countered_event = heard(&mut calls, "request.countered", &id).await;
        assert_eq!(countered_event["data"]["request_id"], id.as_str());
        assert_eq!(countered_event["data"]["counter"]["amount_micros"], 80_000);
        assert_eq!(countered_event["data"]["attributes"], json!(["email"]));
        // The offer is still what is held; the counter is not, yet.
        let wallet = get(app, &token, "/v1/wallet").await;
        assert_eq!(wallet["balances"][0]["reserved"]["amount_micros"], 50_000);

        // The person cannot approve what they countered; the company accepts.
        let approve = app
            .http
            .post(app.url(&format!("/v1/me/requests/{id}/approve")))
            .bearer_auth(&ada)
            .send()
            .await
            .unwrap();
        assert_eq!(approve.status(), 409);
        let (status, accepted) = accept(app, &token, &id).await;
        assert_eq!(status, 201, "{accepted}");
        assert_eq!(accepted["status"], "approved");
        assert_eq!(accepted["attributes"]["email"], "allowed");
        assert_eq!(accepted["attributes"]["phone"], "withheld");
        assert!(accepted["grant_id"].is_string());
        let wallet = get(app, &token, "/v1/wallet").await;
        let balance = &wallet["balances"][0];
        assert_eq!(balance["spent"]["amount_micros"], 80_000, "{wallet}");
        assert_eq!(balance["reserved"]["amount_micros"], 0);
        assert_eq!(balance["available"]["amount_micros"], 920_000);
        let earned = get(app, &ada, "/v1/me/earnings").await;
        assert_eq!(earned["balances"][0]["earned"]["amount_micros"], 80_000);
        let states: Vec<&str> = earned["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["state"].as_str().unwrap())
            .collect();
        assert_eq!(states.len(), 2, "{earned}");
        assert!(states.contains(&"posted") && states.contains(&"voided"));
        // The grant, and its receipt, record the price paid: the counter.
        let grants = get(app, &ada, "/v1/me/grants").await;
        let grant = grants["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["id"] == accepted["grant_id"])
            .unwrap_or_else(|| panic!("{grants}"));
        assert_eq!(grant["price"]["amount_micros"], 80_000, "{grant}");
        let receipts = get(app, &ada, "/v1/me/receipts").await;
        let receipt = receipts["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["grant_id"] == accepted["grant_id"])
            .unwrap_or_else(|| panic!("{receipts}"));
        assert_eq!(
            receipt["claims"]["offer"]["amount_micros"], 80_000,
            "{receipt}"
        );
        // The grant reads exactly what the counter was for.
        let company_client = acme.id.clone();
        let tokens: Value = app
            .http
            .post(app.url("/oauth/token"))
            .basic_auth(&company_client, Some(&acme.secret))
            .form(&[
                ("grant_type", "urn:openid:params:grant-type:ciba"),
                ("auth_req_id", id.as_str()),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let data = get(app, tokens["access_token"].as_str().unwrap(), "/v1/data").await;
        assert_eq!(
            data["attributes"],
            json!({"email": "ada@example.org"}),
            "{data}"
        );
        let approved = heard(&mut calls, "request.approved", &id).await;
        assert_eq!(approved["data"]["attributes"], json!(["email"]));

        // Once only.
        let (status, again) = accept(app, &token, &id).await;
        assert_eq!(
            (status, problem_kind(&again)),
            (409, "no-counter"),
            "{again}"
        );
        app.books().await;
    }
);

app_test!(
    hostile_counters_and_accepts_are_refused_by_name_and_change_nothing,
    |app| {
        let (_acme, token) = funded(app, "Acme Hostile", "0.10").await;
        let (_other, other_token) = funded(app, "Other Co", "1.00").await;
        let ada = app.person_with("ada_hostile", SHARES).await.token;
        let eve = app.person_with("eve_hostile", SHARES).await.token;
        let id = ask(app, &token, "ada_hostile", Some(50_000)).await;
        let free = ask(app, &token, "ada_hostile", None).await;

        for (body, status, field) in [
            (
                json!({"price": eur(50_000)}),
                422,
                Some("price.amount_micros"),
            ),
            (
                json!({"price": eur(10_000)}),
                422,
                Some("price.amount_micros"),
            ),
            (
                json!({"price": {"amount_micros": 90_000, "currency": "USD"}}),
                422,
                Some("price.currency"),
            ),
            (
                json!({"price": eur(90_000), "attributes": ["birth_date"]}),
                422,
                Some("attributes"),
            ),
            (
                json!({"price": eur(90_000), "attributes": []}),
                422,
                Some("attributes"),
            ),
            (
                json!({"price": {"amount_micros": -1, "currency": "EUR"}}),
                400,
                None,
            ),
            (
                json!({"price": {"amount_micros": 1.5, "currency": "EUR"}}),
                400,
                None,
            ),
            (json!({"price": eur(90_000), "note": "x"}), 400, None),
            (json!({}), 400, None),
        ] {
            let (got, problem) = counter(app, &ada, &id, body.clone()).await;
            assert_eq!(got, status, "{body}: {problem}");
            if let Some(field) = field {
                assert_eq!(problem["field"], field, "{body}");
            }
        }
        // Someone else's request is no request; one without an offer has
        // nothing to counter.
        let (got, _) = counter(app, &eve, &id, json!({"price": eur(90_000)})).await;
        assert_eq!(got, 404);
        let (got, problem) = counter(app, &ada, &free, json!({"price": eur(90_000)})).await;
        assert_eq!((got, problem_kind(&problem)), (409, "not-counterable"));
        // Nothing was countered: the company has nothing to accept.
        let (got, problem) = accept(app, &token, &id).await;
        assert_eq!((got, problem_kind(&problem)), (409, "no-counter"));
        assert_eq!(
            get(app, &token, &format!("/v1/requests/{id}")).await["status"],
            "pending"
        );

        // A counter the wallet cannot pay (0.10 held 0.05): 402, nothing moves.
        let (got, _) = counter(app, &ada, &id, json!({"price": eur(200_000)})).await;
        assert_eq!(got, 200);
        let (got, problem) = accept(app, &other_token, &id).await;
        assert_eq!(got, 404, "another company's request: {problem}");
        let (got, problem) = accept(app, &token, &id).await;
        assert_eq!(
            (got, problem_kind(&problem)),
            (402, "insufficient-funds"),
            "{problem}"
        );
        assert_eq!(problem["missing"]["amount_micros"], 100_000, "{problem}");
        let wallet = get(app, &token, "/v1/wallet").await;
        assert_eq!(wallet["balances"][0]["reserved"]["amount_micros"], 50_000);
        assert_eq!(
            get(app, &token, &format!("/v1/requests/{id}")).await["status"],
            "countered"
        );

        // Funded, 8 accepts at once: one grant, one payment.
        server::admin::fund_company(
            app.store(),
            &_acme.id,
            "1.00",
            "EUR",
            Some("top-up-1".to_owned()),
        )
        .await
        .unwrap();
        let tries = (0..8).map(|_| accept(app, &token, &id));
        let answers = futures::future::join_all(tries).await;
        let won = answers.iter().filter(|(s, _)| *s == 201).count();
        assert_eq!(won, 1, "{answers:?}");
        assert!(
            answers.iter().all(|(s, _)| *s == 201 || *s == 409),
            "{answers:?}"
        );
        let wallet = get(app, &token, "/v1/wallet").await;
        assert_eq!(wallet["balances"][0]["spent"]["amount_micros"], 200_000);
        assert_eq!(wallet["balances"][0]["reserved"]["amount_micros"], 0);
        app.books().await;
    }
);

app_test!(
    a_block_after_the_counter_takes_it_back_and_an_unanswered_counter_lapses,
    |app| {
        let (acme, token) = funded(app, "Acme Lapse", "1.00").await;
        let mut calls = hooks(app, &token).await;
        let ada = app.person_with("ada_lapse", SHARES).await.token;

        // Blocked after countering: accepting grants nothing, pays nothing.
        let id = ask(app, &token, "ada_lapse", Some(50_000)).await;
        let (got, _) = counter(app, &ada, &id, json!({"price": eur(90_000)})).await;
        assert_eq!(got, 200);
        let blocked = app
            .http
            .put(app.url(&format!("/v1/me/blocked/{}", acme.id)))
            .bearer_auth(&ada)
            .send()
            .await
            .unwrap();
        assert!(blocked.status().is_success());
        let (got, problem) = accept(app, &token, &id).await;
        assert_eq!(
            (got, problem["field"].as_str()),
            (422, Some("attributes")),
            "{problem}"
        );
        let wallet = get(app, &token, "/v1/wallet").await;
        assert_eq!(wallet["balances"][0]["spent"]["amount_micros"], 0);
        let unblocked = app
            .http
            .delete(app.url(&format!("/v1/me/blocked/{}", acme.id)))
            .bearer_auth(&ada)
            .send()
            .await
            .unwrap();
        assert!(unblocked.status().is_success());

        // A backchannel request that lives 2 s: countered, then not accepted.
        let made: Value = app
            .http
            .post(app.url("/oauth/bc-authorize"))
            .basic_auth(&acme.id, Some(&acme.secret))
            .form(&[
                ("login_hint", "ada_lapse"),
                (
                    "authorization_details",
                    &json!([details(Some(30_000))]).to_string(),
                ),
                ("requested_expiry", "2"),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let short = made["auth_req_id"]
            .as_str()
            .expect("an auth_req_id")
            .to_owned();
        let (got, _) = counter(app, &ada, &short, json!({"price": eur(60_000)})).await;
        assert_eq!(got, 200);
        tokio::time::sleep(Duration::from_millis(2_500)).await;
        let seen = get(app, &token, &format!("/v1/requests/{short}")).await;
        assert_eq!(seen["status"], "expired", "{seen}");
        let (got, problem) = accept(app, &token, &short).await;
        assert_eq!((got, problem_kind(&problem)), (409, "no-counter"));
        // Swept: the held offer goes back, the company hears it expired.
        app.store().sweep_expired().await.unwrap();
        let wallet = get(app, &token, "/v1/wallet").await;
        assert_eq!(
            wallet["balances"][0]["reserved"]["amount_micros"], 50_000,
            "{wallet}"
        );
        heard(&mut calls, "request.expired", &short).await;
        app.books().await;

        // A grant that lasts one second ends, and the company hears it.
        let response = app
            .http
            .post(app.url("/v1/requests"))
            .bearer_auth(&token)
            .json(&json!({"person": {"handle": "ada_lapse"}, "authorization_details": [
                {"type": "apiome_data", "attributes": ["email"], "purpose": "marketing", "duration": "PT1S"}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let brief = response.json::<Value>().await.unwrap()["request_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let approved = app
            .http
            .post(app.url(&format!("/v1/me/requests/{brief}/approve")))
            .bearer_auth(&ada)
            .send()
            .await
            .unwrap();
        assert_eq!(approved.status(), 201);
        let grant_id = approved.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        tokio::time::sleep(Duration::from_millis(1_200)).await;
        app.store().sweep_expired().await.unwrap();
        let ended = loop {
            let event = apiome_tests::next_call(&mut calls).await.json();
            if event["type"] == "grant.expired" {
                break event;
            }
        };
        assert_eq!(ended["data"]["grant_id"], grant_id.as_str());
        assert_eq!(ended["data"]["request_id"], brief.as_str());
    }
);

app_test!(
    a_rule_with_a_price_counters_by_itself_and_a_fair_offer_is_allowed_at_once,
    |app| {
        let (_acme, token) = funded(app, "Acme Priced", "1.00").await;
        let mut calls = hooks(app, &token).await;
        let ada = app.person_with("ada_priced", SHARES).await.token;
        let rule = app
            .http
            .post(app.url("/v1/me/rules"))
            .bearer_auth(&ada)
            .json(&json!({"company": "any", "purposes": ["marketing"],
                "attributes": {"keys": ["email"]}, "min_offer": eur(80_000), "effect": "allow"}))
            .send()
            .await
            .unwrap();
        assert_eq!(rule.status(), 201);

        // 0.05 for an email the person prices at 0.08: countered at once,
        // the person is not asked.
        let response = app
            .http
            .post(app.url("/v1/requests"))
            .bearer_auth(&token)
            .json(
                &json!({"person": {"handle": "ada_priced"}, "authorization_details": [
                {"type": "apiome_data", "attributes": ["email"], "purpose": "marketing",
                 "duration": "P30D", "offer": eur(50_000)}]}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let made: Value = response.json().await.unwrap();
        assert_eq!(made["status"], "countered", "{made}");
        assert_eq!(made["counter"]["amount_micros"], 80_000);
        let id = made["request_id"].as_str().unwrap().to_owned();
        let event = heard(&mut calls, "request.countered", &id).await;
        assert_eq!(event["data"]["counter"]["display"], "0.08 EUR");
        let (status, accepted) = accept(app, &token, &id).await;
        assert_eq!(
            (status, accepted["status"].as_str()),
            (201, Some("approved")),
            "{accepted}"
        );

        // 0.10 pays the price: allowed at once, no counter.
        let response = app
            .http
            .post(app.url("/v1/requests"))
            .bearer_auth(&token)
            .json(
                &json!({"person": {"handle": "ada_priced"}, "authorization_details": [
                {"type": "apiome_data", "attributes": ["email"], "purpose": "marketing",
                 "duration": "P30D", "offer": eur(100_000)}]}),
            )
            .send()
            .await
            .unwrap();
        let made: Value = response.json().await.unwrap();
        assert_eq!(made["status"], "approved", "{made}");
        assert!(made["counter"].is_null());
        let earned = get(app, &ada, "/v1/me/earnings").await;
        assert_eq!(earned["balances"][0]["earned"]["amount_micros"], 180_000);
        app.books().await;
    }
);
