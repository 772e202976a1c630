//! Notifications to the person, end to end over real SMTP: the server
//! sends to a receiver the test runs on a loopback port. A person adds an
//! address and verifies it with the link mailed to it (until then it gets
//! nothing else); a waiting request is mailed with the company, the
//! attribute labels, the purpose and the offer, never a value; a reminder
//! goes before an end; a digest replaces single mails when asked; one
//! click (RFC 8058's POST) turns a kind off without a session; without
//! SMTP each mail is an `.eml` file in the data directory; and a mail
//! queued by a server that stopped before sending arrives once after a
//! restart.

#![allow(
    clippy::unwrap_used,
    reason = "test steps: a failed unwrap is a failed test"
)]

use std::time::Duration;

use apiome_tests::{Person, ReceivedMail, SmtpReceiver, TestApp, TestDb, app_test};
use serde_json::{Value, json};

/// What each person of these tests shares: `(key, value, bucket)`.
const SHARES: &[(&str, &str, &str)] = &[
    ("email", VALUES[0], "semi_private"),
    ("phone", VALUES[1], "semi_private"),
    ("birth_date", VALUES[2], "private"),
];
/// Values the person holds; no mail may ever carry one.
const VALUES: [&str; 3] = ["ada@example.org", "+44 20 7946 0000", "1815-12-10"];
const NOTIFY_AT: &str = "ada.notices@example.net";

async fn call(
    app: &TestApp,
    who: &Person,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = app
        .http
        .request(method, app.url(path))
        .bearer_auth(&who.token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn settings(app: &TestApp, who: &Person) -> Value {
    let (status, body) = call(app, who, reqwest::Method::GET, "/v1/me/notifications", None).await;
    assert_eq!(status, 200);
    body
}

/// The company asks for `keys` for marketing, with an offer of 0.05 EUR
/// when `offer`; the request waits for the person.
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
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "pending", "{body}");
    body["request_id"].as_str().unwrap().to_owned()
}

/// The link in a verification mail.
fn link_in(mail: &ReceivedMail) -> String {
    let body = mail.body();
    let start = body.find("http").expect("a link");
    body[start..].split_whitespace().next().unwrap().to_owned()
}

fn token_of(link: &str) -> String {
    apiome_tests::query_param(link, "token").expect("a token in the link")
}

/// Sets the address and verifies it with the mailed link; returns the
/// verification mail.
async fn verify(app: &TestApp, who: &Person, smtp: &SmtpReceiver) -> ReceivedMail {
    let before = smtp.mails().len();
    let (status, body) = call(
        app,
        who,
        reqwest::Method::PUT,
        "/v1/me/notifications/address",
        Some(json!({"address": NOTIFY_AT})),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["verified"], false);
    let mail = smtp.wait_for(before + 1).await.remove(before);
    let link = link_in(&mail);
    let (status, body) = call(
        app,
        who,
        reqwest::Method::POST,
        "/v1/me/notifications/verify",
        Some(json!({"token": token_of(&link)})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["verified"], true);
    mail
}

fn assert_no_values(mail: &ReceivedMail) {
    for value in VALUES {
        assert!(
            !mail.data.contains(value),
            "a value in a mail: {}",
            mail.data
        );
    }
}

fn with_smtp(smtp: &SmtpReceiver) -> impl FnOnce(&mut server::config::Config) {
    let url = url::Url::parse(&smtp.url()).unwrap();
    move |config| config.mail.smtp_url = Some(url)
}

async fn quiet(smtp: &SmtpReceiver, count: usize) {
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(smtp.mails().len(), count, "{:#?}", smtp.mails());
}

app_test!(
    a_verified_address_is_told_of_a_waiting_request_without_values,
    db => verified_and_told
);

async fn verified_and_told(db: TestDb) {
    let smtp = SmtpReceiver::start().await;
    let app = TestApp::spawn_configured(db, with_smtp(&smtp)).await;
    let ada = app.person_with("ada", SHARES).await;
    let company = app.company("Acme Rewards").await;
    let company_token = app.company_token(&company).await;

    // The verification mail goes to the new address, with a link to this
    // server's page; until it is used, a waiting request mails nothing.
    let (status, _) = call(
        &app,
        &ada,
        reqwest::Method::PUT,
        "/v1/me/notifications/address",
        Some(json!({"address": NOTIFY_AT})),
    )
    .await;
    assert_eq!(status, 202);
    let first = smtp.wait_for(1).await.remove(0);
    assert_eq!(first.to, [NOTIFY_AT]);
    assert!(first.header("Subject").unwrap().contains("Confirm"));
    let link = link_in(&first);
    assert!(
        link.starts_with(&app.url("/notifications/verify?token=")),
        "{link}"
    );
    ask(&app, &company_token, "ada", &["email"]).await;
    quiet(&smtp, 1).await;

    // The link opens a confirmation form (GET changes nothing) ...
    let page = app
        .http
        .get(&link)
        .header("cookie", &ada.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Confirm this address"));
    assert_eq!(settings(&app, &ada).await["verified"], false);
    // ... and its token verifies, once.
    let token = token_of(&link);
    for (expected, verified) in [(200, true), (422, true)] {
        let (status, body) = call(
            &app,
            &ada,
            reqwest::Method::POST,
            "/v1/me/notifications/verify",
            Some(json!({"token": token})),
        )
        .await;
        assert_eq!(status, expected, "{body}");
        if status == 422 {
            assert_eq!(body["field"], "token");
        }
        assert_eq!(settings(&app, &ada).await["verified"], verified);
    }

    // Now a waiting request is mailed: company, labels, purpose, offer,
    // the inbox link, one-click unsubscribe; never a value.
    ask(&app, &company_token, "ada", &["email", "phone"]).await;
    let mail = smtp.wait_for(2).await.remove(1);
    assert_eq!(mail.to, [NOTIFY_AT]);
    assert_eq!(
        mail.header("Subject").unwrap(),
        "Acme Rewards asks for your data"
    );
    let body = mail.body();
    assert!(
        body.contains("asks for: email address, phone number"),
        "{body}"
    );
    assert!(body.contains("Why: to send you advertising"), "{body}");
    assert!(body.contains(&app.url("/inbox")), "{body}");
    assert!(body.contains("no offer"), "{body}");
    assert_no_values(&mail);
    assert!(
        mail.header("List-Unsubscribe")
            .unwrap()
            .starts_with(&format!("<{}", app.url("/v1/notifications/unsubscribe?")))
    );
    assert_eq!(
        mail.header("List-Unsubscribe-Post").unwrap(),
        "List-Unsubscribe=One-Click"
    );
    assert_ne!(mail.header("Message-ID"), first.header("Message-ID"));
    app.stop().await;
}

/// The `List-Unsubscribe` URL of a mail.
fn unsubscribe_url(mail: &ReceivedMail) -> String {
    let header = mail.header("List-Unsubscribe").unwrap();
    header
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap()
        .to_owned()
}

async fn one_click(app: &TestApp, url: &str, body: &'static str) -> u16 {
    app.http
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

app_test!(one_click_unsubscribe_turns_that_kind_off_without_a_session, db => unsubscribed);

async fn unsubscribed(db: TestDb) {
    let smtp = SmtpReceiver::start().await;
    let app = TestApp::spawn_configured(db, with_smtp(&smtp)).await;
    let ada = app.person_with("ada", SHARES).await;
    let company_token = app.company_token(&app.company("Acme Rewards").await).await;
    verify(&app, &ada, &smtp).await;
    ask(&app, &company_token, "ada", &["email"]).await;
    let mail = smtp.wait_for(2).await.remove(1);
    let url = unsubscribe_url(&mail);

    // A forged token, another kind under this token, or a POST without
    // RFC 8058's body change nothing.
    let forged = format!("{}0", url.trim_end_matches(char::is_alphanumeric));
    assert_eq!(
        one_click(&app, &forged, "List-Unsubscribe=One-Click").await,
        403
    );
    let other_kind = url.replace("kind=request_waiting", "kind=first_use");
    assert_eq!(
        one_click(&app, &other_kind, "List-Unsubscribe=One-Click").await,
        403
    );
    let unknown = url.replace("kind=request_waiting", "kind=everything");
    assert_eq!(
        one_click(&app, &unknown, "List-Unsubscribe=One-Click").await,
        422
    );
    assert_eq!(one_click(&app, &url, "").await, 422);
    let kinds = settings(&app, &ada).await["kinds"].clone();
    assert_eq!(
        kinds,
        json!({"request_waiting": true, "expiring": true, "first_use": true})
    );

    // The one click, with no cookie and no bearer token: that kind is off.
    assert_eq!(
        one_click(&app, &url, "List-Unsubscribe=One-Click").await,
        200
    );
    let kinds = settings(&app, &ada).await["kinds"].clone();
    assert_eq!(
        kinds,
        json!({"request_waiting": false, "expiring": true, "first_use": true})
    );
    ask(&app, &company_token, "ada", &["phone"]).await;
    quiet(&smtp, 2).await;
    app.stop().await;
}

app_test!(an_expiry_reminder_goes_once_before_the_end, db => reminded);

async fn reminded(db: TestDb) {
    let smtp = SmtpReceiver::start().await;
    let url = url::Url::parse(&smtp.url()).unwrap();
    // Reminders 8 days ahead: a request (7 days to answer) is in range
    // the moment it is made, so no test waits days.
    let app = TestApp::spawn_configured(db, move |config| {
        config.mail.smtp_url = Some(url);
        config.mail.reminder_before = time::Duration::days(8);
    })
    .await;
    let ada = app.person_with("ada", SHARES).await;
    let company_token = app.company_token(&app.company("Acme Rewards").await).await;
    verify(&app, &ada, &smtp).await;
    let (status, _) = call(
        &app,
        &ada,
        reqwest::Method::PUT,
        "/v1/me/notifications",
        Some(json!({"kinds": {"request_waiting": false}})),
    )
    .await;
    assert_eq!(status, 200);
    ask(&app, &company_token, "ada", &["email"]).await;
    let mail = smtp.wait_for(2).await.remove(1);
    let subject = mail.header("Subject").unwrap();
    assert!(
        subject.starts_with("Acme Rewards's request ends on "),
        "{subject}"
    );
    assert!(mail.body().contains(&app.url("/inbox")));
    assert_no_values(&mail);
    assert!(unsubscribe_url(&mail).contains("kind=expiring"));
    // Reminded once: the sweeper runs every second.
    quiet(&smtp, 2).await;
    app.stop().await;
}

app_test!(a_digest_replaces_single_mails_when_asked, db => digested);

async fn digested(db: TestDb) {
    let smtp = SmtpReceiver::start().await;
    let url = url::Url::parse(&smtp.url()).unwrap();
    let app = TestApp::spawn_configured(db, move |config| {
        config.mail.smtp_url = Some(url);
        config.mail.digest_every = time::Duration::seconds(3);
    })
    .await;
    let ada = app.person_with("ada", SHARES).await;
    let acme = app.company_token(&app.company("Acme Rewards").await).await;
    let globex = app.company_token(&app.company("Globex").await).await;
    verify(&app, &ada, &smtp).await;
    let (status, body) = call(
        &app,
        &ada,
        reqwest::Method::PUT,
        "/v1/me/notifications",
        Some(json!({"digest": true})),
    )
    .await;
    assert_eq!((status, &body["digest"]), (200, &json!(true)));
    ask(&app, &acme, "ada", &["email"]).await;
    ask(&app, &globex, "ada", &["phone"]).await;
    let mails = smtp.wait_for(2).await;
    assert_eq!(mails.len(), 2, "one digest, no single mails: {mails:#?}");
    let digest = &mails[1];
    assert_eq!(
        digest.header("Subject").unwrap(),
        "Your apiome digest: 2 notices"
    );
    let body = digest.body();
    assert!(body.contains("- Acme Rewards asks for your data"), "{body}");
    assert!(body.contains("- Globex asks for your data"), "{body}");
    assert!(unsubscribe_url(digest).contains("kind=all"));
    assert_no_values(digest);
    quiet(&smtp, 2).await;
    app.stop().await;
}

app_test!(
    without_smtp_each_mail_is_an_eml_file_in_the_data_directory,
    |app| {
        let ada = app.person_with("ada", SHARES).await;
        let (status, _) = call(
            app,
            &ada,
            reqwest::Method::PUT,
            "/v1/me/notifications/address",
            Some(json!({"address": NOTIFY_AT})),
        )
        .await;
        assert_eq!(status, 202);
        let outbox = app.data_dir().join("outbox");
        let listing = || -> Vec<String> {
            std::fs::read_dir(&outbox)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect()
        };
        // A mail is written under a hidden temporary name, then renamed.
        for _ in 0..100 {
            if listing().iter().any(|f| f.ends_with(".eml")) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let files = listing();
        assert_eq!(
            files.len(),
            1,
            "one mail, no temporary file left: {files:?}"
        );
        assert!(
            files[0].ends_with(".eml") && !files[0].starts_with('.'),
            "{files:?}"
        );
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode =
                |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&outbox), 0o700);
            assert_eq!(mode(&outbox.join(&files[0])), 0o600);
        }
        let text = std::fs::read_to_string(outbox.join(&files[0])).unwrap();
        let id = files[0].trim_end_matches(".eml");
        for header in [
            format!("To: {NOTIFY_AT}"),
            "Subject: Confirm your address for apiome notifications".to_owned(),
            format!("Message-ID: <{id}@localhost>"),
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click".to_owned(),
        ] {
            assert!(
                text.contains(&format!("{header}\r\n")),
                "{header} in {text}"
            );
        }
        assert!(text.contains("/notifications/verify?token="));
    }
);

app_test!(a_mail_queued_before_a_crash_arrives_once_after_the_restart, db => crashed);

async fn crashed(db: TestDb) {
    let smtp = SmtpReceiver::start().await;
    let url = url::Url::parse(&smtp.url()).unwrap();
    // The first server queues mail but dies before its worker sends any.
    let again = url.clone();
    let app = TestApp::spawn_configured(db, move |config| {
        config.mail.smtp_url = Some(url);
        config.mail.send = false;
    })
    .await;
    let ada = app.person_with("ada", SHARES).await;
    let (status, _) = call(
        &app,
        &ada,
        reqwest::Method::PUT,
        "/v1/me/notifications/address",
        Some(json!({"address": NOTIFY_AT})),
    )
    .await;
    assert_eq!(status, 202);
    quiet(&smtp, 0).await;
    let app = app
        .restart_configured(move |config| config.mail.smtp_url = Some(again))
        .await;
    let mails = smtp.wait_for(1).await;
    assert!(mails[0].header("Subject").unwrap().contains("Confirm"));
    quiet(&smtp, 1).await;
    // The link from the mail queued before the crash still works.
    let (status, _) = call(
        &app,
        &ada,
        reqwest::Method::POST,
        "/v1/me/notifications/verify",
        Some(json!({"token": token_of(&link_in(&mails[0]))})),
    )
    .await;
    assert_eq!(status, 200);
    app.stop().await;
}

app_test!(bad_input_names_the_field_and_changes_nothing, |app| {
    let ada = app.person_with("ada", SHARES).await;
    let before = settings(app, &ada).await;
    for (path, body, field) in [
        (
            "/v1/me/notifications/address",
            json!({"address": "not-an-address"}),
            "address",
        ),
        (
            "/v1/me/notifications/address",
            json!({"address": "a@b.c\r\nBcc: x@y.z"}),
            "address",
        ),
        (
            "/v1/me/notifications",
            json!({"kinds": {"everything": false}}),
            "kinds.everything",
        ),
    ] {
        let (status, problem) = call(app, &ada, reqwest::Method::PUT, path, Some(body)).await;
        assert_eq!(status, 422, "{problem}");
        assert_eq!(problem["field"], field, "{problem}");
        assert_eq!(settings(app, &ada).await, before);
    }
    let (status, problem) = call(
        app,
        &ada,
        reqwest::Method::POST,
        "/v1/me/notifications/verify",
        Some(json!({"token": "guessed"})),
    )
    .await;
    assert_eq!((status, &problem["field"]), (422, &json!("token")));
    // Choices before any address: refused, nothing stored.
    let (status, problem) = call(
        app,
        &ada,
        reqwest::Method::PUT,
        "/v1/me/notifications",
        Some(json!({"digest": true})),
    )
    .await;
    assert_eq!((status, &problem["field"]), (409, &json!("address")));
    assert_eq!(settings(app, &ada).await, before);
    assert_eq!(before["address"], Value::Null);
});

app_test!(
    the_notifications_page_changes_settings_only_with_the_csrf_token,
    |app| {
        let ada = app.person_with("ada", SHARES).await;
        let (cookie, csrf) = (ada.cookie.clone(), ada.csrf.clone());
        let post = |path: &'static str, form: Vec<(&'static str, String)>| {
            let request = app
                .http
                .post(app.url(path))
                .header("cookie", &cookie)
                .form(&form);
            async move { request.send().await.unwrap() }
        };
        let address = || ("address", NOTIFY_AT.to_owned());
        // Without the session's CSRF token: refused, nothing stored.
        let refused = post("/notifications/address", vec![address()]).await;
        assert_eq!(refused.status(), 403);
        assert_eq!(settings(app, &ada).await["address"], Value::Null);
        // With it: the address is set (unverified) and the page says so.
        let saved = post(
            "/notifications/address",
            vec![address(), ("csrf_token", csrf.clone())],
        )
        .await;
        assert_eq!(saved.status(), 303);
        assert_eq!(settings(app, &ada).await["address"], NOTIFY_AT);
        let page = app
            .http
            .get(app.url("/notifications"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("not confirmed yet"), "{page}");
        assert!(page.contains("href=\"/notifications\" aria-current=\"page\""));
        // Unticking a kind and ticking the digest, through the form.
        let saved = post(
            "/notifications/choices",
            vec![
                ("kind", "request_waiting".to_owned()),
                ("kind", "expiring".to_owned()),
                ("digest", "on".to_owned()),
                ("csrf_token", csrf),
            ],
        )
        .await;
        assert_eq!(saved.status(), 303);
        let now = settings(app, &ada).await;
        assert_eq!(
            now["kinds"],
            json!({"request_waiting": true, "expiring": true, "first_use": false})
        );
        assert_eq!(now["digest"], true);
    }
);
