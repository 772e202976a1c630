//! The contact relay end to end (issue #20.2), over real SMTP to a
//! receiver on a loopback port, on both engines: a company with a live
//! marketing or service grant sends the person a message; apiome delivers
//! it by email to the person's verified address inside their hours (in
//! their time zone) and under their weekly cap, and otherwise answers 409
//! with the next allowed time or 403 when they allow no contact. The
//! company never sees the address; the mail's one-click unsubscribe ends
//! that company's contact; every message, delivered or refused, is a
//! ledger entry that holds no words of it.

#![allow(
    clippy::unwrap_used,
    reason = "test steps: a failed unwrap is a failed test"
)]

use std::time::Duration;

use apiome_tests::{
    Company, ReceivedMail, SmtpReceiver, TestApp, TestDb, app_test, problem_kind, set_cookie,
};
use serde_json::{Value, json};
use time::OffsetDateTime;

const PASSWORD: &str = "correct horse battery staple";
const NOTIFY_AT: &str = "grace.private@example.net";
const SUBJECT: &str = "Your winter tyres are due";
const TEXT: &str = "We keep a fitting slot for you this week, Tuesday or Thursday.";
const WHY: &str = "You asked us to remind you before the first frost.";
/// Kolkata has no DST and a half-hour offset: a wrong zone shows.
const ZONE: &str = "Asia/Kolkata";

struct Person {
    token: String,
    cookie: String,
}

async fn person(app: &TestApp, handle: &str) -> Person {
    let response = app
        .http
        .post(app.url("/v1/accounts"))
        .json(&json!({"handle": handle, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let cookie = set_cookie(&response);
    let body: Value = response.json().await.unwrap();
    let token = body["token"].as_str().unwrap().to_owned();
    let response = app
        .http
        .put(app.url("/v1/me/attributes/email"))
        .bearer_auth(&token)
        .json(&json!({"value": "grace@example.org", "bucket": "semi_private"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    Person { token, cookie }
}

/// Sets and verifies the notification address with the mailed link.
async fn verify(app: &TestApp, who: &Person, smtp: &SmtpReceiver) {
    let before = smtp.mails().len();
    let response = app
        .http
        .put(app.url("/v1/me/notifications/address"))
        .bearer_auth(&who.token)
        .json(&json!({"address": NOTIFY_AT}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let mail = smtp.wait_for(before + 1).await.remove(before);
    let body = mail.body();
    let link = body[body.find("http").unwrap()..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let token = apiome_tests::query_param(&link, "token").unwrap();
    let response = app
        .http
        .post(app.url("/v1/me/notifications/verify"))
        .bearer_auth(&who.token)
        .json(&json!({"token": token}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

async fn set_contact(app: &TestApp, who: &Person, contact: Value) -> (u16, Value) {
    let response = app
        .http
        .put(app.url("/v1/me/preferences"))
        .bearer_auth(&who.token)
        .json(&json!({"default": "ask_me", "contact": contact}))
        .send()
        .await
        .unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

/// `HH:MM` on Kolkata's wall clock `offset_minutes` from `now`'s minute.
fn kolkata(now: OffsetDateTime, offset_minutes: i64) -> String {
    let local =
        now.to_offset(time::macros::offset!(+5:30)) + time::Duration::minutes(offset_minutes);
    format!("{:02}:{:02}", local.hour(), local.minute())
}

fn minute_of(at: OffsetDateTime) -> OffsetDateTime {
    at.replace_second(0).unwrap().replace_nanosecond(0).unwrap()
}

/// Hours in Kolkata around now, a cap of `max`.
async fn open_now(app: &TestApp, who: &Person, max: u32) {
    let now = OffsetDateTime::now_utc();
    let (status, body) = set_contact(
        app,
        who,
        json!({"channels": ["email"], "hours_from": kolkata(now, -60),
               "hours_to": kolkata(now, 120), "time_zone": ZONE, "max_per_week": max}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

/// The company asks `handle` for the email for `purpose`; the person
/// approves. The grant's id.
async fn granted(
    app: &TestApp,
    company: &str,
    who: &Person,
    handle: &str,
    purpose: &str,
) -> String {
    let asked: Value = app
        .http
        .post(app.url("/v1/requests"))
        .bearer_auth(company)
        .json(
            &json!({"person": {"handle": handle}, "authorization_details": [{
            "type": "apiome_data", "attributes": ["email"], "purpose": purpose,
            "duration": "P30D"}]}),
        )
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
        .bearer_auth(&who.token)
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), 201);
    approved.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn message(grant: &str) -> Value {
    json!({"grant_id": grant, "subject": SUBJECT, "text": TEXT,
           "link": "https://tyres.example/book", "why_valuable": WHY})
}

/// Sends; the status, the raw body (to search for the address) and its JSON.
async fn send(app: &TestApp, company: &str, body: &Value) -> (u16, String, Value, Option<String>) {
    let response = app
        .http
        .post(app.url("/v1/messages"))
        .bearer_auth(company)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let retry = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let text = response.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, text, json, retry)
}

/// Relay entries in the log: (kind name, reason or channel).
async fn relay_entries(app: &TestApp) -> Vec<(String, String)> {
    let size = app.store().ledger_size().await.unwrap();
    app.store()
        .ledger_entries(0, size)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.entry.kind {
            ledger::EntryKind::MessageDelivered { channel, .. } => {
                Some(("delivered".to_owned(), channel.to_string()))
            }
            ledger::EntryKind::MessageRefused { reason, .. } => {
                Some(("refused".to_owned(), reason.to_string()))
            }
            ledger::EntryKind::ContactStopped { .. } => Some(("stopped".to_owned(), String::new())),
            _ => None,
        })
        .collect()
}

/// No entry, in its bytes or its JSON, holds a word of a message or the address.
async fn assert_ledger_holds_no_words(app: &TestApp) {
    let size = app.store().ledger_size().await.unwrap();
    for stored in app.store().ledger_entries(0, size).await.unwrap() {
        let json = serde_json::to_string(&stored.entry).unwrap();
        let bytes = String::from_utf8_lossy(&stored.entry.encode()).into_owned();
        for words in [SUBJECT, TEXT, WHY, NOTIFY_AT, "tyres.example", "winter"] {
            assert!(
                !json.contains(words) && !bytes.contains(words),
                "{words:?} in {json}"
            );
        }
    }
}

/// The relayed messages among the mails (the person is also told of
/// each waiting request).
fn relayed(smtp: &SmtpReceiver) -> Vec<ReceivedMail> {
    smtp.mails()
        .into_iter()
        .filter(|m| {
            m.header("List-Unsubscribe")
                .is_some_and(|h| h.contains("/v1/messages/unsubscribe"))
        })
        .collect()
}

/// Waits (up to 20 s) for `count` relayed messages.
async fn wait_relayed(smtp: &SmtpReceiver, count: usize) -> Vec<ReceivedMail> {
    for _ in 0..200 {
        let mails = relayed(smtp);
        if mails.len() >= count {
            return mails;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{count} relayed mails did not arrive: {:#?}", smtp.mails());
}

fn with_smtp(smtp: &SmtpReceiver) -> impl FnOnce(&mut server::config::Config) {
    let url = url::Url::parse(&smtp.url()).unwrap();
    move |config| config.mail.smtp_url = Some(url)
}

async fn company(app: &TestApp, name: &str) -> (Company, String) {
    let company = app.company(name).await;
    let token = app.company_token(&company).await;
    (company, token)
}

app_test!(
    a_message_inside_the_hours_is_mailed_with_one_click_stop_and_never_shows_the_address,
    db => delivered_inside_hours
);

async fn delivered_inside_hours(db: TestDb) {
    let smtp = SmtpReceiver::start().await;
    let app = TestApp::spawn_configured(db, with_smtp(&smtp)).await;
    let grace = person(&app, "grace").await;
    verify(&app, &grace, &smtp).await;
    open_now(&app, &grace, 5).await;
    let (tyres, token) = company(&app, "Tyres Ltd").await;
    let grant = granted(&app, &token, &grace, "grace", "marketing").await;

    let (status, text, body, _) = send(&app, &token, &message(&grant)).await;
    assert_eq!(status, 201, "{text}");
    assert_eq!(body["status"], "delivered");
    assert_eq!(body["channel"], "email");
    assert!(
        !text.contains(NOTIFY_AT) && !text.contains("example.net"),
        "{text}"
    );

    // The mail: to the verified address, the company's words set apart,
    // its why, one-click stop for this company, a block link.
    let mails = wait_relayed(&smtp, 1).await;
    let mail: &ReceivedMail = &mails[0];
    assert_eq!(mail.to, [NOTIFY_AT]);
    assert_eq!(
        mail.header("Subject").unwrap(),
        format!("Tyres Ltd: {SUBJECT}")
    );
    let words = mail.body();
    assert!(words.contains(TEXT) && words.contains(WHY), "{words}");
    assert!(words.contains("https://tyres.example/book"), "{words}");
    let block = app.url(&format!("/messages?block={}", tyres.id));
    assert!(words.contains(&block), "{words}");
    let unsubscribe = mail.header("List-Unsubscribe").unwrap();
    let unsubscribe = unsubscribe
        .trim_matches(|c| c == '<' || c == '>')
        .to_owned();
    assert!(
        unsubscribe.starts_with(&app.url("/v1/messages/unsubscribe?")),
        "{unsubscribe}"
    );
    assert_eq!(
        mail.header("List-Unsubscribe-Post").unwrap(),
        "List-Unsubscribe=One-Click"
    );

    // The person's list and page say who, what and why.
    let listed: Value = app
        .http
        .get(app.url("/v1/me/messages"))
        .bearer_auth(&grace.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["company"], "Tyres Ltd");
    assert_eq!(listed[0]["why_valuable"], WHY);
    assert_eq!(listed[0]["outcome"], "delivered");
    // And the person's export holds the same message, word for word.
    let exported: Value = app
        .http
        .get(app.url("/v1/me/export"))
        .bearer_auth(&grace.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(exported["messages"], listed, "{exported}");
    let page = app
        .http
        .get(&block)
        .header("cookie", &grace.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains(SUBJECT) && page.contains(WHY), "{page}");
    assert!(
        page.contains("Block Tyres Ltd?"),
        "the block link asks to confirm"
    );

    // A forged token stops nothing; the mail's one-click POST ends this
    // company's contact, and its next message is refused and recorded.
    let forged = unsubscribe.replace("token=", "token=00");
    for (url, expected) in [(forged.as_str(), 403), (unsubscribe.as_str(), 200)] {
        let response = app
            .http
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("List-Unsubscribe=One-Click")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), expected, "{url}");
    }
    let (status, _, problem, _) = send(&app, &token, &message(&grant)).await;
    assert_eq!(status, 403, "{problem}");
    assert_eq!(problem_kind(&problem), "contact-refused");
    assert_eq!(
        relay_entries(&app).await,
        [
            ("delivered".to_owned(), "email".to_owned()),
            ("stopped".to_owned(), String::new()),
            ("refused".to_owned(), "unsubscribed".to_owned()),
        ]
    );
    assert_ledger_holds_no_words(&app).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(relayed(&smtp).len(), 1, "nothing mailed after the stop");
}

app_test!(
    outside_the_hours_is_409_with_the_next_time_on_the_persons_clock,
    db => outside_hours
);

async fn outside_hours(db: TestDb) {
    let smtp = SmtpReceiver::start().await;
    let app = TestApp::spawn_configured(db, with_smtp(&smtp)).await;
    let grace = person(&app, "grace").await;
    verify(&app, &grace, &smtp).await;
    let (_, token) = company(&app, "Tyres Ltd").await;
    let grant = granted(&app, &token, &grace, "grace", "service_provision").await;
    let now = OffsetDateTime::now_utc();
    let (status, body) = set_contact(
        &app,
        &grace,
        json!({"channels": ["email"], "hours_from": kolkata(now, 120),
               "hours_to": kolkata(now, 240), "time_zone": ZONE}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["contact"]["time_zone"], ZONE);

    let (status, text, problem, retry) = send(&app, &token, &message(&grant)).await;
    assert_eq!(status, 409, "{text}");
    assert_eq!(problem_kind(&problem), "contact-not-now");
    let next = OffsetDateTime::parse(
        problem["next_allowed_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(next, minute_of(now) + time::Duration::hours(2), "{problem}");
    let retry: i64 = retry.unwrap().parse().unwrap();
    assert!((7000..=7200).contains(&retry), "{retry}");
    assert!(!text.contains(NOTIFY_AT));
    assert_eq!(
        relay_entries(&app).await,
        [("refused".to_owned(), "outside_hours".to_owned())]
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(relayed(&smtp).is_empty(), "nothing relayed");
}

app_test!(
    twenty_concurrent_sends_never_pass_the_weekly_cap,
    db => cap_under_concurrency
);

async fn cap_under_concurrency(db: TestDb) {
    let smtp = SmtpReceiver::start().await;
    let app = TestApp::spawn_configured(db, with_smtp(&smtp)).await;
    let grace = person(&app, "grace").await;
    verify(&app, &grace, &smtp).await;
    let (status, body) = set_contact(
        &app,
        &grace,
        json!({"channels": ["email"], "max_per_week": 3}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (_, acme) = company(&app, "Acme").await;
    let (_, tyres) = company(&app, "Tyres Ltd").await;
    let grants = [
        (
            acme.clone(),
            granted(&app, &acme, &grace, "grace", "marketing").await,
        ),
        (
            tyres.clone(),
            granted(&app, &tyres, &grace, "grace", "marketing").await,
        ),
    ];
    let started = OffsetDateTime::now_utc();
    let sends = (0..20).map(|i| {
        let (token, grant) = grants[i % 2].clone();
        let app = &app;
        async move { send(app, &token, &message(&grant)).await }
    });
    let answers = futures::future::join_all(sends).await;
    let delivered = answers.iter().filter(|a| a.0 == 201).count();
    assert_eq!(delivered, 3, "{answers:#?}");
    for (status, text, problem, _) in answers.iter().filter(|a| a.0 != 201) {
        assert_eq!(*status, 409, "{text}");
        assert_eq!(problem_kind(problem), "contact-not-now");
        let next = OffsetDateTime::parse(
            problem["next_allowed_at"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        let week = started + time::Duration::days(7);
        assert!(
            next >= week - time::Duration::seconds(1) && next <= week + time::Duration::seconds(60),
            "the first of the week's three leaves it: {next}"
        );
    }
    let entries = relay_entries(&app).await;
    assert_eq!(entries.iter().filter(|e| e.0 == "delivered").count(), 3);
    assert_eq!(
        entries
            .iter()
            .filter(|e| *e == &("refused".to_owned(), "over_weekly_cap".to_owned()))
            .count(),
        17
    );
    assert_eq!(wait_relayed(&smtp, 3).await.len(), 3);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(relayed(&smtp).len(), 3, "three messages mailed, no more");
}

app_test!(
    no_contact_is_403_and_each_wrong_grant_is_refused,
    db => refusals
);

async fn refusals(db: TestDb) {
    let smtp = SmtpReceiver::start().await;
    let app = TestApp::spawn_configured(db, with_smtp(&smtp)).await;
    let grace = person(&app, "grace").await;
    verify(&app, &grace, &smtp).await;
    let (_, acme) = company(&app, "Acme").await;
    let (tyres_company, tyres) = company(&app, "Tyres Ltd").await;
    let marketing = granted(&app, &acme, &grace, "grace", "marketing").await;

    // No channel, then a cap of 0: no contact at all.
    for contact in [
        json!({"channels": []}),
        json!({"channels": ["email"], "max_per_week": 0}),
        json!({"channels": ["sms"]}),
    ] {
        assert_eq!(set_contact(&app, &grace, contact).await.0, 200);
        let (status, text, problem, _) = send(&app, &acme, &message(&marketing)).await;
        assert_eq!(status, 403, "{text}");
        assert_eq!(problem_kind(&problem), "contact-refused");
    }
    open_now(&app, &grace, 10).await;

    // A grant for analytics does not allow contact.
    let analytics = granted(&app, &acme, &grace, "grace", "analytics").await;
    let (status, _, problem, _) = send(&app, &acme, &message(&analytics)).await;
    assert_eq!((status, problem["field"].as_str()), (403, Some("grant_id")));

    // Another company's grant is not found, and records nothing.
    let before = relay_entries(&app).await.len();
    let (status, _, problem, _) = send(&app, &tyres, &message(&marketing)).await;
    assert_eq!(status, 404);
    assert_eq!(problem["field"], "grant_id");
    assert_eq!(relay_entries(&app).await.len(), before);

    // A revoked grant.
    let response = app
        .http
        .delete(app.url(&format!("/v1/me/grants/{marketing}")))
        .bearer_auth(&grace.token)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let (status, _, problem, _) = send(&app, &acme, &message(&marketing)).await;
    assert_eq!(status, 409);
    assert_eq!(problem_kind(&problem), "grant-over");

    // A blocked company.
    let tyres_grant = granted(&app, &tyres, &grace, "grace", "marketing").await;
    let response = app
        .http
        .put(app.url(&format!("/v1/me/blocked/{}", tyres_company.id)))
        .bearer_auth(&grace.token)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let (status, _, problem, _) = send(&app, &tyres, &message(&tyres_grant)).await;
    assert_eq!(status, 403);
    assert_eq!(problem_kind(&problem), "contact-refused");

    let reasons: Vec<String> = relay_entries(&app).await.into_iter().map(|e| e.1).collect();
    assert_eq!(
        reasons,
        [
            "no_contact",
            "no_contact",
            "no_channel",
            "purpose",
            "grant_not_live",
            "blocked"
        ]
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(relayed(&smtp).is_empty(), "nothing relayed");
    assert_ledger_holds_no_words(&app).await;
}

app_test!(
    bad_input_names_its_field_and_changes_nothing,
    db => bad_input
);

async fn bad_input(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let grace = person(&app, "grace").await;
    let (_, acme) = company(&app, "Acme").await;
    let grant = granted(&app, &acme, &grace, "grace", "marketing").await;
    let mut no_why = message(&grant);
    no_why.as_object_mut().unwrap().remove("why_valuable");
    let mut bad_link = message(&grant);
    bad_link["link"] = json!("javascript:alert(1)");
    let mut header = message(&grant);
    header["subject"] = json!("Hi\r\nBcc: everyone@example.org");
    for (body, field) in [
        (no_why, "why_valuable"),
        (bad_link, "link"),
        (header, "subject"),
    ] {
        let (status, text, problem, _) = send(&app, &acme, &body).await;
        assert_eq!(status, 422, "{text}");
        assert_eq!(problem["field"], field);
    }
    assert!(relay_entries(&app).await.is_empty(), "nothing recorded");

    for (contact, field) in [
        (
            json!({"channels": ["email"], "time_zone": "Mars/Olympus"}),
            Some("contact.time_zone"),
        ),
        (
            json!({"channels": ["email"], "hours_from": "09:00", "hours_to": "09:00"}),
            Some("contact.hours_to"),
        ),
        (
            json!({"channels": ["email"], "hours_from": "09:00"}),
            Some("contact.hours_to"),
        ),
        (json!({"channels": ["email"], "max_per_week": -1}), None),
    ] {
        let (status, problem) = set_contact(&app, &grace, contact.clone()).await;
        assert!(
            status == 422 || status == 400,
            "{contact}: {status} {problem}"
        );
        if let Some(field) = field {
            assert_eq!(problem["field"], field, "{problem}");
        }
    }
    let now: Value = app
        .http
        .get(app.url("/v1/me/preferences"))
        .bearer_auth(&grace.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(now["contact"]["time_zone"], "Mars/Olympus", "{now}");
}
