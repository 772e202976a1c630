//! Money attacked: what a hostile company, a person or a third-party page
//! would send to make money move without the paying company's word, to
//! learn a company's balance, to overflow the books, or to be paid twice.
//! Each test asserts that nothing moved: the company's wallet, the
//! person's earnings and the ledger are as they were.

#![allow(
    clippy::unwrap_used,
    reason = "test steps: a failed unwrap is a failed test"
)]

use apiome_tests::{Company, Person, REDIRECT, TestApp, app_test, oauth_http, query_param};
use oauth2::{
    AuthorizationCode, CsrfToken, PkceCodeChallenge, PkceCodeVerifier, TokenResponse as _,
};
use serde_json::Value;

/// What each person of these tests shares (`(key, value, bucket)`): under
/// "ask me", a semi-private email and a public name.
const SHARES: &[(&str, &str, &str)] = &[
    ("display_name", "Marie", "public"),
    ("email", "marie@example.org", "semi_private"),
];
/// 2^64 − 1: fits the old `u64` amount, not the books' `i64`.
const U64_MAX: &str = "18446744073709551615";
/// 2^63: the first amount beyond the books.
const TWO_POW_63: &str = "9223372036854775808";

/// One `apiome_data` entry for the email, with an offer of `amount` EUR
/// micro-units written as the JSON number `amount`.
fn details_with_offer(amount: &str) -> String {
    details_for("P30D", amount)
}

/// As [`details_with_offer`], lasting `duration`.
fn details_for(duration: &str, amount: &str) -> String {
    format!(
        r#"[{{"type":"apiome_data","attributes":["email"],"purpose":"marketing","duration":"{duration}","offer":{{"amount_micros":{amount},"currency":"EUR"}}}}]"#
    )
}

/// `POST /v1/requests` for `handle` with `details` (JSON text), and an
/// optional `Idempotency-Key`.
async fn ask(
    app: &TestApp,
    token: &str,
    handle: &str,
    details: &str,
    key: Option<&str>,
) -> reqwest::Response {
    let body = format!(r#"{{"person":{{"handle":"{handle}"}},"authorization_details":{details}}}"#);
    let mut request = app
        .http
        .post(app.url("/v1/requests"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body);
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    request.send().await.unwrap()
}

/// The company's EUR wallet, `null` when it was never funded.
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

/// The person's EUR earnings: `(earned, pending)` in micro-units, and how
/// many payments they were ever offered.
async fn earnings(app: &TestApp, person: &Person) -> (u64, u64, usize) {
    let response = app
        .http
        .get(app.url("/v1/me/earnings"))
        .bearer_auth(&person.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let balance = &body["balances"][0];
    (
        balance["earned"]["amount_micros"].as_u64().unwrap_or(0),
        balance["pending"]["amount_micros"].as_u64().unwrap_or(0),
        body["items"].as_array().unwrap().len(),
    )
}

/// The wallet's `(funded, spent, reserved, available)` in micro-units.
async fn books(app: &TestApp, token: &str) -> (u64, u64, u64, u64) {
    let w = wallet(app, token).await;
    let amount = |name: &str| w[name]["amount_micros"].as_u64().unwrap();
    (
        amount("funded"),
        amount("spent"),
        amount("reserved"),
        amount("available"),
    )
}

/// The person's browser opens `url` (signed in): the answer, unfollowed.
async fn open(app: &TestApp, person: &Person, url: &str) -> reqwest::Response {
    app.http
        .get(url)
        .header("cookie", &person.cookie)
        .send()
        .await
        .unwrap()
}

/// The `Location` of a redirect.
fn location(response: &reqwest::Response) -> String {
    assert_eq!(response.status(), 302, "a redirect");
    response.headers()["location"].to_str().unwrap().to_owned()
}

/// The consent screen's form action (`/oauth/authorize/{id}`).
fn form_action(html: &str) -> String {
    let start = html.find("action=\"/oauth/authorize/").unwrap() + "action=\"".len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// The person approves the email on the screen at `action`, with the CSRF token.
async fn approve(app: &TestApp, person: &Person, action: &str) -> reqwest::Response {
    app.http
        .post(app.url(action))
        .header("cookie", &person.cookie)
        .form(&[
            ("csrf_token", person.csrf.as_str()),
            ("attribute", "email"),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap()
}

/// The company pushes `details` and gets the authorize URL for the
/// person's browser, and the PKCE verifier for the token request.
async fn pushed_url(app: &TestApp, company: &Company, details: &str) -> (String, PkceCodeVerifier) {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (status, body) = push(app, company, challenge.as_str(), details).await;
    assert_eq!(status, 201, "{body}");
    let mut url = url::Url::parse(&app.url("/oauth/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", &company.id)
        .append_pair("request_uri", body["request_uri"].as_str().unwrap());
    (url.into(), verifier)
}

/// Whether `text` shows any of `amounts` (micro-units, or in words).
fn shows_any(text: &str, amounts: &[&str]) -> bool {
    amounts.iter().any(|a| text.contains(a))
}

async fn fund(app: &TestApp, company: &Company, units: &str) {
    let funded = server::admin::fund_company(app.store(), &company.id, units, "EUR", None)
        .await
        .unwrap();
    assert_eq!(funded.status, "credited");
}

/// A pushed authorization request (RFC 9126) by `company`, authenticated
/// with its secret: the answer's status and body.
async fn push(app: &TestApp, company: &Company, challenge: &str, details: &str) -> (u16, Value) {
    let response = app
        .http
        .post(app.url("/oauth/par"))
        .basic_auth(&company.id, Some(&company.secret))
        .form(&[
            ("response_type", "code"),
            ("client_id", company.id.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
            ("authorization_details", details),
        ])
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

app_test!(an_offer_beyond_the_books_is_a_400_naming_the_field, |app| {
    let acme = app.company("Acme Rewards").await;
    let _marie = app.person_with("marie_curie", SHARES).await;
    let token = app.company_token(&acme).await;
    fund(app, &acme, "1").await;
    let before = wallet(app, &token).await;
    let ledger_before = app.store().ledger_size().await.unwrap();

    for amount in [U64_MAX, TWO_POW_63, "1e19", "-1"] {
        let response = ask(
            app,
            &token,
            "marie_curie",
            &details_with_offer(amount),
            None,
        )
        .await;
        assert_eq!(response.status(), 400, "{amount}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let problem: Value = response.json().await.unwrap();
        assert_eq!(apiome_tests::problem_kind(&problem), "invalid-amount");
        assert_eq!(
            problem["field"],
            "authorization_details.offer.amount_micros"
        );
    }
    // The largest amount the books hold is read, and only the wallet refuses it.
    let response = ask(
        app,
        &token,
        "marie_curie",
        &details_with_offer("9223372036854775807"),
        None,
    )
    .await;
    assert_eq!(response.status(), 402);

    // The same offers through PAR: an RFC 6749 error object, never a 500.
    let challenge = PkceCodeChallenge::new_random_sha256().0;
    for amount in [U64_MAX, TWO_POW_63] {
        let (status, body) =
            push(app, &acme, challenge.as_str(), &details_with_offer(amount)).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"], "invalid_authorization_details");
        let description = body["error_description"].as_str().unwrap();
        assert!(description.contains("offer.amount_micros"), "{description}");
    }

    // A person's rule with a minimum offer beyond the books is refused.
    let marie = app.person_with("pierre_curie", SHARES).await;
    let response = app
        .http
        .post(app.url("/v1/me/rules"))
        .bearer_auth(&marie.token)
        .header("content-type", "application/json")
        .body(format!(
            r#"{{"company":{{"only":"acme"}},"purposes":["marketing"],"attributes":{{"keys":["email"]}},"min_offer":{{"amount_micros":{U64_MAX},"currency":"EUR"}},"max_duration":"P30D","effect":"allow"}}"#
        ))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_client_error(), "{}", response.status());
    let problem: Value = response.json().await.unwrap();
    assert!(
        problem["detail"].as_str().unwrap().contains("too large"),
        "{problem}"
    );

    // Nothing moved, nothing was written.
    assert_eq!(wallet(app, &token).await, before);
    assert_eq!(app.store().ledger_size().await.unwrap(), ledger_before);
});

app_test!(
    a_persons_own_front_channel_offer_moves_no_money_and_learns_no_balance,
    |app| {
        let acme = app.company("Acme Rewards").await;
        let marie = app.person_with("marie_curie", SHARES).await;
        let token = app.company_token(&acme).await;
        fund(app, &acme, "0.20").await;
        let ledger_before = app.store().ledger_size().await.unwrap();
        let oauth = app.oauth_client(&acme);
        // What the balance and a shortfall would look like in an answer.
        let secrets = ["200000", "0.20", "0.2 ", "4800000", "4.80", "4.8 "];

        // The person writes the request herself, with an offer of her choosing:
        // one the wallet covers and one it does not.
        for amount in ["100000", "5000000"] {
            let (challenge, _) = PkceCodeChallenge::new_random_sha256();
            let (url, state) = oauth
                .authorize_url(CsrfToken::new_random)
                .set_pkce_challenge(challenge)
                .add_extra_param("authorization_details", details_with_offer(amount))
                .url();
            let answer = open(app, &marie, url.as_str()).await;
            let to = location(&answer);
            assert!(to.starts_with(REDIRECT), "{to}");
            assert_eq!(
                query_param(&to, "error").as_deref(),
                Some("invalid_request")
            );
            assert_eq!(
                query_param(&to, "state").as_deref(),
                Some(state.secret().as_str())
            );
            assert!(query_param(&to, "code").is_none());
            assert!(!shows_any(&to, &secrets), "{to}");
        }

        // Even a company's own pushed offer beyond the wallet tells the
        // person's browser nothing of the balance.
        let (url, _) = pushed_url(app, &acme, &details_with_offer("5000000")).await;
        let to = location(&open(app, &marie, &url).await);
        assert_eq!(
            query_param(&to, "error").as_deref(),
            Some("invalid_request")
        );
        let description = query_param(&to, "error_description").unwrap();
        assert!(!shows_any(&description, &secrets), "{description}");
        assert!(
            !description.chars().any(|c| c.is_ascii_digit()),
            "{description}"
        );

        // Nothing moved, nothing was written.
        assert_eq!(books(app, &token).await, (200_000, 0, 0, 200_000));
        assert_eq!(earnings(app, &marie).await, (0, 0, 0));
        assert_eq!(app.store().ledger_size().await.unwrap(), ledger_before);
    }
);

app_test!(
    a_pushed_offer_is_paid_once_on_the_persons_post_and_a_bare_get_pays_nothing,
    |app| {
        let acme = app.company("Acme Rewards").await;
        let marie = app.person_with("marie_curie", SHARES).await;
        let token = app.company_token(&acme).await;
        fund(app, &acme, "0.20").await;
        let offer = details_with_offer("50000");

        // The company's pushed offer: the GET shows the screen and moves nothing.
        let (url, verifier) = pushed_url(app, &acme, &offer).await;
        let screen = open(app, &marie, &url).await;
        assert_eq!(screen.status(), 200);
        let html = screen.text().await.unwrap();
        assert!(html.contains("0.05 EUR"), "the offer is shown");
        assert_eq!(books(app, &token).await, (200_000, 0, 0, 200_000));

        // The person's POST (session + CSRF token) pays it, once, however
        // many times the form is sent at the same moment.
        let action = form_action(&html);
        let answers =
            futures::future::join_all((0..16).map(|_| approve(app, &marie, &action))).await;
        let mut codes = Vec::new();
        for answer in &answers {
            match answer.status().as_u16() {
                302 => codes.push(query_param(&location(answer), "code").unwrap()),
                400 => {}
                other => panic!("unexpected {other}"),
            }
        }
        assert_eq!(codes.len(), 1, "one approval, one code");
        let code = codes.remove(0);
        assert_eq!(books(app, &token).await, (200_000, 50_000, 0, 150_000));
        assert_eq!(earnings(app, &marie).await, (50_000, 0, 1));
        let again = approve(app, &marie, &action).await;
        assert_eq!(again.status(), 400, "a screen is answered once");
        assert_eq!(books(app, &token).await, (200_000, 50_000, 0, 150_000));

        // The company's real OAuth client gets its token.
        let tokens = app
            .oauth_client(&acme)
            .exchange_code(AuthorizationCode::new(code))
            .set_pkce_verifier(verifier)
            .request_async(&oauth_http())
            .await
            .unwrap();
        assert!(!tokens.access_token().secret().is_empty());

        // The grant is live, so the consent is remembered. A third-party
        // page navigates the person's browser (a bare GET, no CSRF token)
        // to a fresh pushed request with the same offer, for less time (so
        // the grant covers it), several times: each time the screen, never
        // a code, never a payment.
        let ledger_before = app.store().ledger_size().await.unwrap();
        for _ in 0..3 {
            let (url, _) = pushed_url(app, &acme, &details_for("P7D", "50000")).await;
            let answer = open(app, &marie, &url).await;
            assert_eq!(answer.status(), 200, "an offer always shows the screen");
            assert!(
                answer
                    .text()
                    .await
                    .unwrap()
                    .contains("action=\"/oauth/authorize/")
            );
        }
        assert_eq!(books(app, &token).await, (200_000, 50_000, 0, 150_000));
        assert_eq!(earnings(app, &marie).await, (50_000, 0, 1));
        assert_eq!(app.store().ledger_size().await.unwrap(), ledger_before);

        // An offer-free request the grant covers is remembered on a bare
        // GET: a code at once, and no money moves.
        let (challenge, _) = PkceCodeChallenge::new_random_sha256();
        let (url, _) = app
            .oauth_client(&acme)
            .authorize_url(CsrfToken::new_random)
            .set_pkce_challenge(challenge)
            .add_extra_param(
                "authorization_details",
                r#"[{"type":"apiome_data","attributes":["email"],"purpose":"marketing","duration":"P7D"}]"#,
            )
            .url();
        let to = location(&open(app, &marie, url.as_str()).await);
        assert!(query_param(&to, "code").is_some(), "{to}");
        assert_eq!(books(app, &token).await, (200_000, 50_000, 0, 150_000));
        assert_eq!(earnings(app, &marie).await, (50_000, 0, 1));
    }
);

/// The ledger's entries of kind `TransferPending`.
async fn reservations_in_ledger(app: &TestApp) -> usize {
    let size = app.store().ledger_size().await.unwrap();
    let mut entries = Vec::new();
    while (entries.len() as u64) < size {
        let page = app
            .store()
            .ledger_entries(entries.len() as u64, size)
            .await
            .unwrap();
        entries.extend(page.into_iter().map(|e| e.entry));
    }
    entries
        .iter()
        .filter(|e| matches!(e.kind, ledger::EntryKind::TransferPending { .. }))
        .count()
}

app_test!(
    sixteen_retries_with_one_idempotency_key_are_one_request_and_one_reservation,
    |app| {
        let acme = app.company("Acme Rewards").await;
        let marie = app.person_with("marie_curie", SHARES).await;
        let token = app.company_token(&acme).await;
        fund(app, &acme, "1").await;
        let offer = details_with_offer("50000");

        // 16 identical requests with one key, at the same moment.
        let answers = futures::future::join_all((0..16).map(|_| async {
            let response = ask(app, &token, "marie_curie", &offer, Some("retry-1")).await;
            let status = response.status().as_u16();
            let content_type = response.headers()["content-type"].clone();
            let location = response.headers()["location"].clone();
            (
                status,
                content_type,
                location,
                response.bytes().await.unwrap(),
            )
        }))
        .await;
        let first = &answers[0];
        assert_eq!(first.0, 201);
        for answer in &answers {
            assert_eq!(
                answer, first,
                "every retry gets the first answer, byte for byte"
            );
        }
        let body: Value = serde_json::from_slice(&first.3).unwrap();
        assert_eq!(body["status"], "pending");

        // One request, one reservation, in the tables and in the ledger.
        assert_eq!(books(app, &token).await, (1_000_000, 0, 50_000, 950_000));
        assert_eq!(earnings(app, &marie).await, (0, 50_000, 1));
        assert_eq!(reservations_in_ledger(app).await, 1);
        let inbox: Value = app
            .http
            .get(app.url("/v1/me/requests?status=all"))
            .bearer_auth(&marie.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(inbox["items"].as_array().map(Vec::len), Some(1), "{inbox}");

        // A later retry replays it too, and says so.
        let late = ask(app, &token, "marie_curie", &offer, Some("retry-1")).await;
        assert_eq!(late.headers()["idempotent-replayed"], "true");
        assert_eq!(late.bytes().await.unwrap(), first.3);

        // The same key with another body: 422, nothing asked.
        let other = ask(
            app,
            &token,
            "marie_curie",
            &details_with_offer("60000"),
            Some("retry-1"),
        )
        .await;
        assert_eq!(other.status(), 422);
        let problem: Value = other.json().await.unwrap();
        assert_eq!(
            apiome_tests::problem_kind(&problem),
            "idempotency-key-reused"
        );

        // Keys are the company's own: another company's same key is its own request.
        let globex = app.company("Globex").await;
        let globex_token = app.company_token(&globex).await;
        fund(app, &globex, "1").await;
        let theirs = ask(app, &globex_token, "marie_curie", &offer, Some("retry-1")).await;
        assert_eq!(theirs.status(), 201);
        assert_ne!(theirs.bytes().await.unwrap(), first.3);
        assert_eq!(books(app, &token).await, (1_000_000, 0, 50_000, 950_000));
        assert_eq!(reservations_in_ledger(app).await, 2);

        // A pushed request retried with a key gets the same request_uri.
        let challenge = PkceCodeChallenge::new_random_sha256().0;
        let par = |key: &'static str| {
            app.http
                .post(app.url("/oauth/par"))
                .basic_auth(&acme.id, Some(&acme.secret))
                .header("idempotency-key", key)
                .form(&[
                    ("response_type", "code"),
                    ("redirect_uri", REDIRECT),
                    ("code_challenge", challenge.as_str()),
                    ("code_challenge_method", "S256"),
                    ("authorization_details", offer.as_str()),
                ])
                .send()
        };
        let one = par("par-1").await.unwrap().bytes().await.unwrap();
        let two = par("par-1").await.unwrap().bytes().await.unwrap();
        assert_eq!(one, two);
        assert!(String::from_utf8_lossy(&one).contains("request_uri"));
    }
);

app_test!(
    a_retry_after_the_client_hung_up_is_one_request_and_one_reservation,
    |app| {
        let acme = app.company("Acme Rewards").await;
        let marie = app.person_with("marie_curie", SHARES).await;
        let token = app.company_token(&acme).await;
        fund(app, &acme, "1").await;
        let offer = details_with_offer("50000");
        let body =
            format!(r#"{{"person":{{"handle":"marie_curie"}},"authorization_details":{offer}}}"#);
        for round in 0..5 {
            let key = format!("hung-up-{round}");
            // The client gives up almost at once (as on a network timeout).
            let _ = app
                .http
                .post(app.url("/v1/requests"))
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .header("idempotency-key", &key)
                .timeout(std::time::Duration::from_millis(1 + round))
                .body(body.clone())
                .send()
                .await;
            let retried = ask(app, &token, "marie_curie", &offer, Some(&key)).await;
            assert_eq!(retried.status(), 201, "round {round}");
        }
        assert_eq!(books(app, &token).await, (1_000_000, 0, 250_000, 750_000));
        assert_eq!(earnings(app, &marie).await, (0, 250_000, 5));
        assert_eq!(reservations_in_ledger(app).await, 5);
    }
);
