//! Payouts end to end (issue #21.1): a person withdraws what they earned
//! to an IBAN or a payment handle; the amount is held from their earnings
//! (pending) until the operator confirms it sent (`apiome payout confirm`,
//! posted) or failed (`apiome payout fail`, voided and returned). One
//! payout per currency waits at a time, even under sixteen requests at
//! once; bad input is refused naming its field and changes nothing; the
//! destination is shown masked and never reaches the ledger; the
//! `/earnings` page's form calls the same use case; and `apiome-audit
//! verify` passes on the honest log and refuses a payout beyond earnings.

#![allow(
    clippy::unwrap_used,
    reason = "test steps: a failed unwrap is a failed test"
)]

use std::time::Duration;

use apiome_tests::{Person, TestApp, app_test, problem_kind, workspace_binary};
use serde_json::{Value, json};

/// What each person of these tests shares (`(key, value, bucket)`): under
/// "ask me", a semi-private email.
const SHARES: &[(&str, &str, &str)] = &[("email", "marie@example.org", "semi_private")];
const IBAN: &str = "de89 3704 0044 0532 0130 00";
const IBAN_COMPACT: &str = "DE89370400440532013000";
const MASKED: &str = "DE89 **** **** 3000";

/// `handle` earns `micros` EUR: a funded company's offer, approved.
async fn earn(app: &TestApp, someone: &Person, handle: &str, micros: u64) {
    let acme = app.company("Acme Rewards").await;
    server::admin::fund_company(app.store(), &acme.id, "100", "EUR", None)
        .await
        .unwrap();
    let token = app.company_token(&acme).await;
    let asked: Value = app
        .http
        .post(app.url("/v1/requests"))
        .bearer_auth(&token)
        .json(&json!({
            "person": {"handle": handle},
            "authorization_details": [{"type": "apiome_data", "attributes": ["email"],
                "purpose": "marketing", "duration": "P30D",
                "offer": {"amount_micros": micros, "currency": "EUR"}}]
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = asked["request_id"].as_str().unwrap();
    let approved = app
        .http
        .post(app.url(&format!("/v1/me/requests/{id}/approve")))
        .bearer_auth(&someone.token)
        .send()
        .await
        .unwrap();
    assert!(approved.status().is_success(), "{}", approved.status());
}

fn iban_payout(micros: i64, currency: &str) -> Value {
    json!({
        "amount": {"amount_micros": micros, "currency": currency},
        "destination": {"kind": "iban", "iban": IBAN}
    })
}

async fn post_payout(app: &TestApp, someone: &Person, body: &Value) -> (u16, Value) {
    let response = app
        .http
        .post(app.url("/v1/me/payouts"))
        .bearer_auth(&someone.token)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn get(app: &TestApp, someone: &Person, path: &str) -> Value {
    let response = app
        .http
        .get(app.url(path))
        .bearer_auth(&someone.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

/// The EUR balance of `GET /v1/me/earnings`, as micro-units by name.
async fn eur(app: &TestApp, someone: &Person) -> [u64; 4] {
    let mine = get(app, someone, "/v1/me/earnings").await;
    let b = &mine["balances"][0];
    assert_eq!(b["currency"], "EUR");
    let m = |name: &str| b[name]["amount_micros"].as_u64().unwrap();
    [m("earned"), m("paid_out"), m("paying_out"), m("available")]
}

fn json_out(output: &std::process::Output) -> Value {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Every ledger entry, decoded.
async fn entries(app: &TestApp) -> Vec<ledger::Entry> {
    let size = app.store().ledger_size().await.unwrap();
    let mut all = Vec::new();
    while (all.len() as u64) < size {
        let page = app
            .store()
            .ledger_entries(all.len() as u64, size)
            .await
            .unwrap();
        all.extend(page.into_iter().map(|e| e.entry));
    }
    all
}

fn transfer_state(books: &ledger::Books, id: &str) -> ledger::TransferState {
    let id = ledger::ShortText::new(format!("payout:{id}")).unwrap();
    books.transfer(&id).unwrap().state
}

app_test!(
    a_payout_is_held_then_sent_when_the_operator_confirms,
    |app| {
        let marie = app.person_with("marie_curie", SHARES).await;
        earn(app, &marie, "marie_curie", 5_000_000).await;

        let (status, made) = post_payout(app, &marie, &iban_payout(2_500_000, "EUR")).await;
        assert_eq!(status, 201, "{made}");
        assert_eq!(made["state"], "pending");
        assert_eq!(made["destination"]["masked"], MASKED);
        assert!(!made.to_string().contains("0532013000"), "{made}");
        let id = made["id"].as_str().unwrap().to_owned();
        assert_eq!(eur(app, &marie).await, [5_000_000, 0, 2_500_000, 2_500_000]);
        assert_eq!(
            transfer_state(&app.books().await, &id),
            ledger::TransferState::Pending
        );

        // The operator sees it waiting, with the full IBAN to send to.
        let listed = app.cli(&["payout", "list", "--pending"]).await;
        let line = String::from_utf8(listed.stdout).unwrap();
        assert!(line.contains(&id) && line.contains(IBAN_COMPACT), "{line}");

        let sent = json_out(
            &app.cli(&["payout", "confirm", &id, "--transfer-id", "SEPA-2026-1"])
                .await,
        );
        assert_eq!(sent["state"], "posted");
        assert_eq!(eur(app, &marie).await, [5_000_000, 2_500_000, 0, 2_500_000]);
        let shown = get(app, &marie, &format!("/v1/me/payouts/{id}")).await;
        assert_eq!(shown["state"], "posted");
        assert_eq!(shown["reference"], "SEPA-2026-1");
        let books = app.books().await;
        assert_eq!(transfer_state(&books, &id), ledger::TransferState::Posted);
        assert!(
            app.cli(&["payout", "list", "--pending"])
                .await
                .stdout
                .is_empty()
        );

        // Settled is settled; an unknown id is named.
        let id_ = id.as_str();
        for (args, named) in [
            (["payout", "confirm", id_, "--transfer-id", "again"], id_),
            (["payout", "fail", id_, "--reason", "late"], id_),
            (
                ["payout", "confirm", "no-such-payout", "--transfer-id", "x"],
                "no-such-payout",
            ),
        ] {
            let refused = app.cli(&args).await;
            assert!(!refused.status.success(), "{args:?}");
            let said = String::from_utf8_lossy(&refused.stderr);
            assert!(said.contains(named), "{said}");
        }

        // The ledger names the transfer and the pseudonym, never the destination.
        let logged = entries(app).await;
        let kinds: Vec<&str> = logged.iter().map(|e| e.kind.name()).collect();
        assert!(kinds.contains(&"payout_requested") && kinds.contains(&"payout_posted"));
        for entry in &logged {
            let text = serde_json::to_string(entry).unwrap();
            assert!(
                !text.contains("0532013000") && !text.contains("SEPA-2026"),
                "{text}"
            );
        }
        let activity = get(app, &marie, "/v1/me/activity").await.to_string();
        assert!(activity.contains("payout_posted"), "{activity}");

        // An auditor's verifier agrees: the books replay and balance.
        let auditor = json_out(&app.cli(&["auditor", "create", "--name", "Audit"]).await);
        let verified = verify(app, &auditor).await;
        assert!(
            verified.status.success(),
            "{}",
            String::from_utf8_lossy(&verified.stderr)
        );

        // A server that logs a payout beyond the earnings is caught.
        let books = app.books().await;
        let pseudonym = books
            .accounts()
            .find_map(|(account, _)| match account {
                ledger::AccountId::PersonEarnings { person, .. } => Some(person.clone()),
                _ => None,
            })
            .unwrap();
        let forged = ledger::Entry::new(
            0,
            ledger::EntryKind::PayoutRequested {
                transfer_id: ledger::ShortText::new("payout:forged").unwrap(),
                person: pseudonym,
                amount: ledger::Money::new(2_500_001, ledger::Currency::new("EUR").unwrap()),
            },
        );
        let at = app.store().append_standalone(&[forged]).await.unwrap();
        wait_for_checkpoint(app, at + 1).await;
        let caught = verify(app, &auditor).await;
        assert!(!caught.status.success(), "a payout beyond earnings passed");
        let said = String::from_utf8_lossy(&caught.stderr);
        assert!(said.contains(&at.to_string()), "{said}");
    }
);

/// `apiome-audit verify` as the auditor `apiome auditor create` printed.
async fn verify(app: &TestApp, auditor: &Value) -> std::process::Output {
    let key = app.text("/v1/ledger/public-key").await;
    tokio::process::Command::new(workspace_binary("apiome-audit"))
        .arg("verify")
        .args(["--url", &app.base_url])
        .args(["--key", &key])
        .args(["--client-id", auditor["client_id"].as_str().unwrap()])
        .args([
            "--client-secret",
            auditor["client_secret"].as_str().unwrap(),
        ])
        .output()
        .await
        .unwrap()
}

/// Waits until a signed checkpoint covers `size` entries.
async fn wait_for_checkpoint(app: &TestApp, size: u64) {
    for _ in 0..100 {
        let note = app.text("/v1/ledger/checkpoint").await;
        let covered = note
            .lines()
            .nth(1)
            .and_then(|l| l.parse::<u64>().ok())
            .unwrap_or(0);
        if covered >= size {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no checkpoint covers {size} entries");
}

app_test!(a_failed_payout_is_voided_and_the_money_returns, |app| {
    let marie = app.person_with("marie_curie", SHARES).await;
    earn(app, &marie, "marie_curie", 3_000_000).await;
    let body = json!({
        "amount": {"amount_micros": 3_000_000, "currency": "EUR"},
        "destination": {"kind": "handle", "handle": "paypal:marie@example.org"}
    });
    let (status, made) = post_payout(app, &marie, &body).await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["destination"]["masked"], "paypal:ma****rg");
    let id = made["id"].as_str().unwrap().to_owned();
    assert_eq!(eur(app, &marie).await, [3_000_000, 0, 3_000_000, 0]);

    let failed = json_out(
        &app.cli(&["payout", "fail", &id, "--reason", "account closed"])
            .await,
    );
    assert_eq!(failed["state"], "voided");
    assert_eq!(eur(app, &marie).await, [3_000_000, 0, 0, 3_000_000]);
    let shown = get(app, &marie, &format!("/v1/me/payouts/{id}")).await;
    assert_eq!(shown["state"], "voided");
    assert_eq!(shown["failure_reason"], "account closed");
    assert_eq!(
        transfer_state(&app.books().await, &id),
        ledger::TransferState::Voided
    );
    let refused = app.cli(&["payout", "fail", &id, "--reason", "twice"]).await;
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("voided"));

    // The money is back: it can be paid out again.
    let (status, again) = post_payout(app, &marie, &iban_payout(3_000_000, "EUR")).await;
    assert_eq!(status, 201, "{again}");
    let listed = get(app, &marie, "/v1/me/payouts?limit=1").await;
    assert_eq!(listed["items"][0]["id"], again["id"]);
    assert!(listed["next_cursor"].is_string());
    let cursor = listed["next_cursor"].as_str().unwrap();
    let older = get(
        app,
        &marie,
        &format!("/v1/me/payouts?limit=1&cursor={cursor}"),
    )
    .await;
    assert_eq!(older["items"][0]["id"], id.as_str());
    assert!(older["next_cursor"].is_null());
});

app_test!(sixteen_payouts_at_once_hold_the_money_once, |app| {
    let marie = app.person_with("marie_curie", SHARES).await;
    earn(app, &marie, "marie_curie", 5_000_000).await;
    let body = iban_payout(1_000_000, "EUR");
    let tries = (0..16).map(|_| post_payout(app, &marie, &body));
    let answers = futures::future::join_all(tries).await;
    let created = answers.iter().filter(|(s, _)| *s == 201).count();
    assert_eq!(created, 1, "{answers:?}");
    for (status, problem) in answers.iter().filter(|(s, _)| *s != 201) {
        assert_eq!(*status, 409, "{problem}");
        assert_eq!(problem_kind(problem), "payout-pending");
        assert_eq!(problem["field"], "amount.currency");
    }
    assert_eq!(eur(app, &marie).await, [5_000_000, 0, 1_000_000, 4_000_000]);
    let books = app.books().await;
    let held = books
        .transfers()
        .filter(|t| t.id.as_str().starts_with("payout:"))
        .count();
    assert_eq!(held, 1);
});

app_test!(
    bad_payouts_are_refused_naming_the_field_and_change_nothing,
    |app| {
        let marie = app.person_with("marie_curie", SHARES).await;
        earn(app, &marie, "marie_curie", 5_000_000).await;
        let size = app.store().ledger_size().await.unwrap();
        let with_destination = |destination: Value| {
            json!({"amount": {"amount_micros": 2_000_000, "currency": "EUR"},
                "destination": destination})
        };
        let cases = [
            (
                with_destination(json!({"kind": "iban", "iban": "DE88 3704 0044 0532 0130 00"})),
                422,
                "invalid-input",
                "destination.iban",
            ),
            (
                with_destination(json!({"kind": "iban", "iban": "ZZ89 3704 0044 0532 0130 00"})),
                422,
                "invalid-input",
                "destination.iban",
            ),
            (
                with_destination(json!({"kind": "iban", "iban": "DE89 3704"})),
                422,
                "invalid-input",
                "destination.iban",
            ),
            (
                with_destination(json!({"kind": "handle", "handle": "no handle"})),
                422,
                "invalid-input",
                "destination.handle",
            ),
            (
                iban_payout(999_999, "EUR"),
                422,
                "invalid-input",
                "amount.amount_micros",
            ),
            (
                iban_payout(5_000_001, "EUR"),
                422,
                "insufficient-earnings",
                "amount.amount_micros",
            ),
            (
                iban_payout(0, "EUR"),
                422,
                "invalid-input",
                "amount.amount_micros",
            ),
            (
                iban_payout(-1_000_000, "EUR"),
                422,
                "invalid-input",
                "amount.amount_micros",
            ),
            (
                iban_payout(2_000_000, "USD"),
                422,
                "invalid-input",
                "amount.currency",
            ),
            (
                iban_payout(2_000_000, "eur"),
                422,
                "invalid-input",
                "amount.currency",
            ),
            (
                iban_payout(2_000_000, "XTS"),
                422,
                "invalid-input",
                "amount.currency",
            ),
        ];
        for (body, status, kind, field) in &cases {
            let (got, problem) = post_payout(app, &marie, body).await;
            assert_eq!(got, *status, "{body} → {problem}");
            assert_eq!(problem_kind(&problem), *kind, "{body} → {problem}");
            assert_eq!(problem["field"], *field, "{body} → {problem}");
        }
        let (_, short) = post_payout(app, &marie, &iban_payout(5_000_001, "EUR")).await;
        assert_eq!(short["missing"]["amount_micros"], 1);
        // A body that is not a payout at all.
        let (got, _) = post_payout(app, &marie, &json!({"amount": 5})).await;
        assert_eq!(got, 400);
        // Nobody signed in.
        let anonymous = app
            .http
            .post(app.url("/v1/me/payouts"))
            .json(&iban_payout(2_000_000, "EUR"))
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status(), 401);

        // Nothing moved, nothing was logged.
        assert_eq!(eur(app, &marie).await, [5_000_000, 0, 0, 5_000_000]);
        assert_eq!(app.store().ledger_size().await.unwrap(), size);
        let listed = get(app, &marie, "/v1/me/payouts").await;
        assert_eq!(listed["items"], json!([]));

        // Someone else's payout is nobody's to them.
        let (_, made) = post_payout(app, &marie, &iban_payout(2_000_000, "EUR")).await;
        let eve = app.person_with("eve", SHARES).await;
        let peek = app
            .http
            .get(app.url(&format!("/v1/me/payouts/{}", made["id"].as_str().unwrap())))
            .bearer_auth(&eve.token)
            .send()
            .await
            .unwrap();
        assert_eq!(peek.status(), 404);
        let (got, problem) = post_payout(app, &eve, &iban_payout(2_000_000, "EUR")).await;
        assert_eq!(
            (got, problem["field"].as_str()),
            (422, Some("amount.currency"))
        );
    }
);

app_test!(
    the_earnings_page_shows_payouts_masked_and_its_form_pays_out,
    |app| {
        let marie = app.person_with("marie_curie", SHARES).await;
        earn(app, &marie, "marie_curie", 5_000_000).await;
        let page = open_earnings(app, &marie).await;
        assert!(page.contains("action=\"/earnings/payouts\""), "{page}");
        assert!(page.contains("5.00 EUR"), "{page}");
        let fields = |csrf: &str, destination: &str| {
            vec![
                ("csrf_token", csrf.to_owned()),
                ("amount", "2.00".to_owned()),
                ("currency", "EUR".to_owned()),
                ("kind", "iban".to_owned()),
                ("destination", destination.to_owned()),
            ]
        };
        // Without the session's CSRF token: refused, nothing held.
        let forged = submit(app, &marie, fields("not-the-token", IBAN)).await;
        assert_eq!(forged.status(), 403);
        // A bad IBAN: the page again, saying why.
        let bad = submit(
            app,
            &marie,
            fields(&marie.csrf, "DE00 3704 0044 0532 0130 00"),
        )
        .await;
        assert_eq!(bad.status(), 422);
        assert!(bad.text().await.unwrap().contains("check digits"));
        assert_eq!(eur(app, &marie).await, [5_000_000, 0, 0, 5_000_000]);

        let done = submit(app, &marie, fields(&marie.csrf, IBAN)).await;
        assert_eq!(done.status(), 303);
        assert_eq!(done.headers()["location"], "/earnings?status=requested");
        assert_eq!(eur(app, &marie).await, [5_000_000, 0, 2_000_000, 3_000_000]);
        let page = open_earnings(app, &marie).await;
        assert!(page.contains(MASKED), "{page}");
        assert!(
            !page.contains(IBAN_COMPACT) && !page.contains("0532 0130"),
            "{page}"
        );
        assert!(page.contains("payout_requested"), "{page}");
        assert!(page.contains("3.00 EUR"), "{page}");
    }
);

/// The `/earnings` page as the person's browser gets it.
async fn open_earnings(app: &TestApp, someone: &Person) -> String {
    let response = app
        .http
        .get(app.url("/earnings"))
        .header("cookie", &someone.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

/// The page's payout form, posted by the person's browser.
async fn submit(
    app: &TestApp,
    someone: &Person,
    fields: Vec<(&'static str, String)>,
) -> reqwest::Response {
    app.http
        .post(app.url("/earnings/payouts"))
        .header("cookie", &someone.cookie)
        .form(&fields)
        .send()
        .await
        .unwrap()
}
