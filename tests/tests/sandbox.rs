//! The sandbox end to end, on both backends: the operator makes a sandbox
//! company and funds it in `XTS` with the `apiome` command; the company
//! asks the synthetic people `sandbox-allow` (data at once),
//! `sandbox-ask-2` (pending, then approved by the server about 2 s later)
//! and `sandbox-decline` (declined), by `POST /v1/requests` and by CIBA,
//! and reads `/v1/data`. And the walls: a sandbox company naming a real
//! person, and a real company naming `sandbox-allow`, are answered
//! exactly as for a name that is nobody's; a sandbox company's real money
//! and a real company's `XTS` are refused by name (`offer.currency`); the
//! books an auditor rebuilds still balance, `XTS` apart. A sandbox
//! company's consent screen never opens for a (necessarily real)
//! signed-in person.

#![allow(
    clippy::unwrap_used,
    reason = "test steps: a failed unwrap is a failed test"
)]

use std::time::{Duration, Instant};

use apiome_tests::{Company, REDIRECT, TestApp, app_test};
use serde_json::{Map, Value, json};

const CIBA: &str = "urn:openid:params:grant-type:ciba";
/// What each real person of these tests shares (`(key, value, bucket)`): a
/// public email.
const SHARES: &[(&str, &str, &str)] = &[("email", "grace@example.org", "public")];

/// The offer's amount member, in one place: the wire shape of an offer is
/// `{<this>: micro-units, "currency": code}`.
const AMOUNT_MEMBER: &str = "amount_micros";

/// An offer of `micros` micro-units of `currency`.
fn offer(micros: u64, currency: &str) -> Value {
    let mut offer = Map::new();
    offer.insert(AMOUNT_MEMBER.to_owned(), json!(micros));
    offer.insert("currency".to_owned(), json!(currency));
    Value::Object(offer)
}

/// One `apiome_data` entry for `attributes`, with `offer` if any.
fn details(attributes: &[&str], offer: Option<Value>) -> Value {
    let mut entry = json!({
        "type": "apiome_data",
        "attributes": attributes,
        "purpose": "marketing",
        "duration": "P30D",
    });
    if let Some(offer) = offer {
        entry["offer"] = offer;
    }
    entry
}

/// Runs `apiome ARGS` on the app's database; it must succeed. Its JSON.
async fn apiome(app: &TestApp, args: &[&str]) -> Value {
    let output = app.cli(args).await;
    assert!(
        output.status.success(),
        "apiome {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// `apiome company create --sandbox`, as the README shows it.
async fn sandbox_company(app: &TestApp, name: &str) -> Company {
    let made = apiome(
        app,
        &[
            "company",
            "create",
            "--sandbox",
            "--name",
            name,
            "--redirect-uri",
            REDIRECT,
        ],
    )
    .await;
    assert_eq!(made["sandbox"], true, "{made}");
    Company {
        id: made["client_id"].as_str().unwrap().to_owned(),
        secret: made["client_secret"].as_str().unwrap().to_owned(),
    }
}

/// `POST /v1/requests` for `handle`; the status and body.
async fn ask(app: &TestApp, token: &str, handle: &str, entry: Value) -> (u16, Value) {
    let response = app
        .http
        .post(app.url("/v1/requests"))
        .bearer_auth(token)
        .json(&json!({"person": {"handle": handle}, "authorization_details": [entry]}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn request(app: &TestApp, token: &str, id: &str) -> Value {
    let response = app
        .http
        .get(app.url(&format!("/v1/requests/{id}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// The CIBA token poll for `auth_req_id` (a request id is one).
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

/// `POST /oauth/bc-authorize` for `hint`; the status and body.
async fn bc_authorize(app: &TestApp, company: &Company, hint: &str, entry: &Value) -> (u16, Value) {
    let entries = json!([entry]).to_string();
    let response = app
        .http
        .post(app.url("/oauth/bc-authorize"))
        .basic_auth(&company.id, Some(&company.secret))
        .form(&[
            ("scope", "openid"),
            ("login_hint", hint),
            ("authorization_details", &entries),
        ])
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// Tokens for an approved request, then what `/v1/data` gives with them.
async fn read_data(app: &TestApp, company: &Company, request_id: &str) -> Value {
    let (status, tokens) = poll(app, company, request_id).await;
    assert_eq!(status, 200, "{tokens}");
    let response = app
        .http
        .get(app.url("/v1/data"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn inbox_len(app: &TestApp, token: &str) -> usize {
    let response = app
        .http
        .get(app.url("/v1/me/requests"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let page: Value = response.json().await.unwrap();
    page["items"].as_array().unwrap().len()
}

/// An answer with its random parts (the request id) taken out, to compare
/// two answers that must not differ.
fn shape(mut body: Value) -> Value {
    for random in ["request_id", "auth_req_id"] {
        if let Some(map) = body.as_object_mut() {
            map.remove(random);
        }
    }
    body
}

app_test!(
    a_sandbox_company_gets_data_from_sandbox_allow_at_once_and_pays_in_xts,
    |app| {
        let sandbox = sandbox_company(app, "Sandbox Shop").await;
        let funded = apiome(app, &["company", "fund", &sandbox.id, "1", "XTS"]).await;
        assert_eq!(funded["status"], "credited", "{funded}");
        let token = app.company_token(&sandbox).await;

        let asked = details(
            &["email", "display_name", "birth_date", "postal_address"],
            Some(offer(50_000, "XTS")),
        );
        let (status, made) = ask(app, &token, "sandbox-allow", asked.clone()).await;
        assert_eq!(status, 201, "{made}");
        assert_eq!(made["status"], "approved", "{made}");
        assert_eq!(made["attributes"]["birth_date"], "allowed");
        let id = made["request_id"].as_str().unwrap();
        let data = read_data(app, &sandbox, id).await;
        let attributes = &data["attributes"];
        assert_eq!(
            attributes["email"], "sandbox-allow@example.invalid",
            "{data}"
        );
        assert!(attributes["display_name"].is_string(), "{data}");
        assert!(attributes["postal_address"]["lines"].is_array(), "{data}");

        // The same company gets the same values every time (reproducible
        // tests); CIBA reaches the same person.
        let (status, by_ciba) = bc_authorize(app, &sandbox, "sandbox-allow", &asked).await;
        assert_eq!(status, 200, "{by_ciba}");
        let again = read_data(app, &sandbox, by_ciba["auth_req_id"].as_str().unwrap()).await;
        assert_eq!(again["attributes"], data["attributes"]);

        // Paid twice in XTS, and the books balance with XTS kept apart.
        let books = app.books().await;
        let company = ledger::ShortText::new(sandbox.id.clone()).unwrap();
        let xts = ledger::Currency::new("XTS").unwrap();
        assert_eq!(books.wallet_available(&company, xts), 900_000);
        let eur = ledger::Currency::new("EUR").unwrap();
        assert_eq!(books.wallet_available(&company, eur), 0);
    }
);

app_test!(
    sandbox_ask_2_is_pending_then_approved_by_the_server,
    |app| {
        let sandbox = sandbox_company(app, "Sandbox Ask").await;
        let token = app.company_token(&sandbox).await;
        let started = Instant::now();
        let (status, made) = ask(app, &token, "sandbox-ask-2", details(&["email"], None)).await;
        assert_eq!(status, 201, "{made}");
        assert_eq!(made["status"], "pending", "{made}");
        assert_eq!(made["attributes"]["email"], "pending");
        let id = made["request_id"].as_str().unwrap().to_owned();
        let (status, pending) = poll(app, &sandbox, &id).await;
        assert_eq!(
            (status, pending["error"].as_str()),
            (400, Some("authorization_pending"))
        );

        // The company polls its request until the server approves it.
        let approved = loop {
            let now = request(app, &token, &id).await;
            if now["status"] != "pending" {
                break now;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "still pending: {now}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        assert!(
            started.elapsed() >= Duration::from_secs(2),
            "approved after {:?}, before its 2 s",
            started.elapsed()
        );
        assert_eq!(approved["status"], "approved", "{approved}");
        assert_eq!(approved["attributes"]["email"], "allowed");
        assert!(approved["grant_id"].is_string());
        // The token endpoint asks for 5 s between polls (CIBA's `interval`),
        // counted from the first poll: wait it out as a CIBA client would.
        tokio::time::sleep(Duration::from_secs(5)).await;
        let data = read_data(app, &sandbox, &id).await;
        assert_eq!(data["attributes"]["email"], "sandbox-ask-2@example.invalid");

        // Unread, a request is answered all the same (by the server's
        // sweep), so a company waiting for its webhook or ping gets it.
        let (_, unread) = ask(app, &token, "sandbox-ask-1", details(&["email"], None)).await;
        let unread = unread["request_id"].as_str().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while app.store().request(unread).await.unwrap().status != store::RequestStatus::Approved {
            assert!(Instant::now() < deadline, "never answered unread");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
);

app_test!(sandbox_decline_declines, |app| {
    let sandbox = sandbox_company(app, "Sandbox No").await;
    let token = app.company_token(&sandbox).await;
    let (status, made) = ask(app, &token, "sandbox-decline", details(&["email"], None)).await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["status"], "denied", "{made}");
    assert_eq!(made["attributes"]["email"], "withheld");
    let id = made["request_id"].as_str().unwrap();
    let (status, refused) = poll(app, &sandbox, id).await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (400, Some("access_denied"))
    );
    // Bad sandbox names are refused by name, for any company.
    let (status, problem) = ask(app, &token, "sandbox-ask-0", details(&["email"], None)).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["field"], "person.handle");
});

app_test!(
    neither_side_of_the_sandbox_reaches_the_other_and_cannot_tell,
    |app| {
        let sandbox = sandbox_company(app, "Sandbox Wall").await;
        let real = app.company("Real Corp").await;
        let grace = app.person_with("grace_real", SHARES).await.token;
        let (sandbox_token, real_token) = (
            app.company_token(&sandbox).await,
            app.company_token(&real).await,
        );
        let email = details(&["email"], None);

        // A sandbox company naming a real person: as for nobody.
        let nobody = ask(app, &sandbox_token, "nobody_here", email.clone()).await;
        let grace_asked = ask(app, &sandbox_token, "grace_real", email.clone()).await;
        assert_eq!(grace_asked.0, nobody.0, "{grace_asked:?} {nobody:?}");
        assert_eq!(shape(grace_asked.1), shape(nobody.1));
        let (status, by_ciba) = bc_authorize(app, &sandbox, "grace_real", &email).await;
        assert_eq!(status, 200, "{by_ciba}");
        let (_, refused) = poll(app, &sandbox, by_ciba["auth_req_id"].as_str().unwrap()).await;
        assert_eq!(refused["error"], "access_denied", "{refused}");
        assert_eq!(inbox_len(app, &grace).await, 0, "nothing reached her");

        // A real company naming a sandbox person: as for nobody.
        let nobody = ask(app, &real_token, "nobody_here", email.clone()).await;
        for name in ["sandbox-allow", "sandbox-ask-1", "sandbox-decline"] {
            let asked = ask(app, &real_token, name, email.clone()).await;
            assert_eq!(asked.0, nobody.0, "{name}: {asked:?} {nobody:?}");
            assert_eq!(shape(asked.1), shape(nobody.1.clone()), "{name}");
        }
        let (status, by_ciba) = bc_authorize(app, &real, "sandbox-allow", &email).await;
        assert_eq!(status, 200, "{by_ciba}");
        let (_, refused) = poll(app, &real, by_ciba["auth_req_id"].as_str().unwrap()).await;
        assert_eq!(refused["error"], "access_denied", "{refused}");

        // The real person is reached by the real company, as ever.
        let (status, made) = ask(app, &real_token, "grace_real", email).await;
        assert_eq!(status, 201, "{made}");
        assert_eq!(made["status"], "approved", "{made}");
    }
);

app_test!(
    sandbox_money_and_real_money_are_refused_on_the_wrong_side,
    |app| {
        let sandbox = sandbox_company(app, "Sandbox Money").await;
        let real = app.company("Real Money").await;
        app.person_with("ada_real", SHARES).await;
        apiome(app, &["company", "fund", &sandbox.id, "1", "XTS"]).await;
        apiome(app, &["company", "fund", &real.id, "1", "EUR"]).await;
        let (sandbox_token, real_token) = (
            app.company_token(&sandbox).await,
            app.company_token(&real).await,
        );

        let euros = details(&["email"], Some(offer(10_000, "EUR")));
        let (status, problem) = ask(app, &sandbox_token, "sandbox-allow", euros.clone()).await;
        assert_eq!(status, 422, "{problem}");
        assert_eq!(problem["field"], "authorization_details.offer.currency");
        assert!(
            problem["detail"].as_str().unwrap().contains("XTS"),
            "{problem}"
        );

        // A real company's XTS is refused the same for a person and for
        // nobody (no enumeration through the refusal).
        let test_money = details(&["email"], Some(offer(10_000, "XTS")));
        let to_ada = ask(app, &real_token, "ada_real", test_money.clone()).await;
        let to_nobody = ask(app, &real_token, "nobody_here", test_money.clone()).await;
        assert_eq!(to_ada.0, 422, "{to_ada:?}");
        assert_eq!(to_ada, to_nobody);
        assert_eq!(to_ada.1["field"], "authorization_details.offer.currency");

        // The OAuth doors say it as RFC 9396 errors.
        let (status, error) = bc_authorize(app, &real, "ada_real", &test_money).await;
        assert_eq!(status, 400, "{error}");
        assert_eq!(error["error"], "invalid_authorization_details");
        assert!(
            error["error_description"]
                .as_str()
                .unwrap()
                .contains("offer.currency"),
            "{error}"
        );
        let (status, error) = bc_authorize(app, &sandbox, "sandbox-allow", &euros).await;
        assert_eq!(status, 400, "{error}");
        let pushed = app
            .http
            .post(app.url("/oauth/par"))
            .basic_auth(&real.id, Some(&real.secret))
            .form(&[
                ("response_type", "code"),
                ("client_id", real.id.as_str()),
                ("redirect_uri", REDIRECT),
                (
                    "code_challenge",
                    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                ),
                ("code_challenge_method", "S256"),
                ("authorization_details", &json!([test_money]).to_string()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(pushed.status(), 400);
        let error: Value = pushed.json().await.unwrap();
        assert_eq!(error["error"], "invalid_authorization_details", "{error}");

        // Wallets: XTS only into a sandbox's, never into a real one's.
        for (company, currency) in [(&real, "XTS"), (&sandbox, "EUR")] {
            let output = app
                .cli(&["company", "fund", &company.id, "1", currency])
                .await;
            assert!(!output.status.success(), "{currency} funded");
        }
        let books = app.books().await;
        let xts = ledger::Currency::new("XTS").unwrap();
        let real_id = ledger::ShortText::new(real.id.clone()).unwrap();
        assert_eq!(books.wallet_available(&real_id, xts), 0);
    }
);

app_test!(
    a_sandbox_companys_consent_screen_never_opens_for_a_real_person,
    |app| {
        let sandbox = sandbox_company(app, "Sandbox Screen").await;
        apiome(app, &["company", "fund", &sandbox.id, "1", "XTS"]).await;
        let cookie = app.person_with("lin_real", SHARES).await.cookie;
        let entry = details(&["email"], Some(offer(10_000, "XTS")));
        let pushed = app
            .http
            .post(app.url("/oauth/par"))
            .basic_auth(&sandbox.id, Some(&sandbox.secret))
            .form(&[
                ("response_type", "code"),
                ("redirect_uri", REDIRECT),
                ("state", "s1"),
                (
                    "code_challenge",
                    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                ),
                ("code_challenge_method", "S256"),
                ("authorization_details", &json!([entry]).to_string()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(pushed.status(), 201, "XTS is a sandbox's money");
        let pushed: Value = pushed.json().await.unwrap();
        let mut url = url::Url::parse(&app.url("/oauth/authorize")).unwrap();
        url.query_pairs_mut()
            .append_pair("client_id", &sandbox.id)
            .append_pair("request_uri", pushed["request_uri"].as_str().unwrap());
        let response = app
            .http
            .get(url.as_str())
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 302);
        let location = response.headers()["location"].to_str().unwrap();
        assert_eq!(
            apiome_tests::query_param(location, "error").as_deref(),
            Some("access_denied"),
            "{location}"
        );
        assert_eq!(
            apiome_tests::query_param(location, "state").as_deref(),
            Some("s1")
        );
    }
);
