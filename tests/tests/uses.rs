//! Downstream use end to end (issue #21.3): a company reports what it did
//! with a grant's data; a kind the grant's purpose does not cover is a 403
//! and is still recorded, in the ledger and in the person's activity; and
//! every bad report changes nothing.

#![allow(
    clippy::unwrap_used,
    reason = "test steps: a failed unwrap is a failed test"
)]

use apiome_tests::{TestApp, app_test, problem_kind};
use serde_json::{Value, json};

/// What each person of these tests shares: `(key, value, bucket)`.
const SHARES: &[(&str, &str, &str)] = &[("email", "ada@example.org", "semi_private")];

/// The company asks `handle` for the email for `purpose`; the person
/// approves. The grant's id.
async fn granted(
    app: &TestApp,
    company: &str,
    person: &str,
    handle: &str,
    purpose: &str,
) -> String {
    let details = json!([{"type": "apiome_data", "attributes": ["email"],
        "purpose": purpose, "duration": "P30D"}]);
    app.grant(company, person, handle, details).await
}

async fn report(app: &TestApp, token: &str, grant: &str, body: Value) -> (u16, Value) {
    let response = app
        .http
        .post(app.url(&format!("/v1/grants/{grant}/uses")))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// Every `use_reported` entry in the log: (grant, kind, accepted).
async fn reported(app: &TestApp) -> Vec<(String, String, bool)> {
    let size = app.store().ledger_size().await.unwrap();
    app.store()
        .ledger_entries(0, size)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.entry.kind {
            ledger::EntryKind::UseReported {
                grant_id,
                use_kind,
                accepted,
                ..
            } => Some((grant_id.to_string(), use_kind.to_string(), accepted)),
            _ => None,
        })
        .collect()
}

async fn activity(app: &TestApp, person: &str) -> Vec<Value> {
    let response = app
        .http
        .get(app.url("/v1/me/activity"))
        .bearer_auth(person)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let page: Value = response.json().await.unwrap();
    page["items"].as_array().unwrap().clone()
}

// `sold` on a marketing grant is refused with 403 naming `kind`, and the
// attempt is in the ledger (accepted: false, no note, no recipient) and in
// the person's activity; the same report on a resale grant is accepted.
app_test!(a_sale_without_resale_is_refused_and_recorded, |app| {
    let ada = app.person_with("ada_sold", SHARES).await.token;
    let token = app.company_token(&app.company("Acme Sells").await).await;
    let marketing = granted(app, &token, &ada, "ada_sold", "marketing").await;
    let body = json!({"kind": "sold", "recipient": "Data Broker Ltd",
        "note": "sold the mailing list"});

    let (status, problem) = report(app, &token, &marketing, body.clone()).await;
    assert_eq!(status, 403, "{problem}");
    assert_eq!(problem_kind(&problem), "use-not-covered");
    assert_eq!(problem["field"], "kind");
    assert_eq!(
        reported(app).await,
        [(marketing.clone(), "sold".to_owned(), false)]
    );
    let size = app.store().ledger_size().await.unwrap();
    for entry in app.store().ledger_entries(0, size).await.unwrap() {
        let text = String::from_utf8_lossy(&entry.leaf).to_string();
        assert!(!text.contains("Data Broker") && !text.contains("mailing list"));
    }
    let seen = activity(app, &ada).await;
    let refused = seen.iter().find(|i| i["kind"] == "use_reported").unwrap();
    assert!(
        refused["summary"].as_str().unwrap().contains("refused"),
        "{refused}"
    );
    assert_eq!(refused["verified"], true);

    // A purpose that covers it: accepted, recorded as such.
    let resale = granted(app, &token, &ada, "ada_sold", "resale").await;
    let (status, used) = report(app, &token, &resale, body).await;
    assert_eq!(status, 201, "{used}");
    assert_eq!(used["accepted"], true);
    assert_eq!(used["recipient"], "Data Broker Ltd");
    assert!(
        reported(app)
            .await
            .contains(&(resale, "sold".to_owned(), true))
    );
});

// An accepted use shows in the person's activity, naming the company.
app_test!(an_accepted_use_is_in_the_activity, |app| {
    let ada = app.person_with("ada_used", SHARES).await.token;
    let company = app.company("Acme Uses").await;
    let token = app.company_token(&company).await;
    let grant = granted(app, &token, &ada, "ada_used", "analytics").await;
    for kind in ["used", "aggregated"] {
        let (status, body) = report(
            app,
            &token,
            &grant,
            json!({"kind": kind, "note": "weekly report"}),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["kind"], kind);
        assert_eq!(body["grant_id"], grant.as_str());
    }
    let seen = activity(app, &ada).await;
    let uses: Vec<&Value> = seen
        .iter()
        .filter(|i| i["kind"] == "use_reported")
        .collect();
    assert_eq!(uses.len(), 2);
    for item in uses {
        assert_eq!(item["company_id"], company.id.as_str());
        assert!(!item["summary"].as_str().unwrap().contains("refused"));
    }
});

// Bad reports change nothing: an unknown kind or an overlong note is 422
// naming the field, another company's grant 404, a revoked grant 409,
// no token 401 — sent many at once.
app_test!(bad_reports_change_nothing, |app| {
    let ada = app.person_with("ada_bad_uses", SHARES).await.token;
    let token = app.company_token(&app.company("Acme Bad").await).await;
    let rival = app.company_token(&app.company("Globex Bad").await).await;
    let grant = granted(app, &token, &ada, "ada_bad_uses", "marketing").await;
    let ended = granted(app, &token, &ada, "ada_bad_uses", "analytics").await;
    let revoked = app
        .http
        .delete(app.url(&format!("/v1/me/grants/{ended}")))
        .bearer_auth(&ada)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    let before = app.store().ledger_size().await.unwrap();

    let long = "x".repeat(1001);
    let cases: Vec<(&str, &str, Value, u16, Option<&str>)> = vec![
        (
            &token,
            &grant,
            json!({"kind": "stolen", "note": "n"}),
            422,
            Some("kind"),
        ),
        (
            &token,
            &grant,
            json!({"kind": "used", "note": long}),
            422,
            Some("note"),
        ),
        (
            &token,
            &grant,
            json!({"kind": "used", "note": ""}),
            422,
            Some("note"),
        ),
        (
            &token,
            &grant,
            json!({"kind": "shared", "recipient": "", "note": "n"}),
            422,
            Some("recipient"),
        ),
        (
            &rival,
            &grant,
            json!({"kind": "used", "note": "n"}),
            404,
            None,
        ),
        (
            &token,
            "no-such-grant",
            json!({"kind": "used", "note": "n"}),
            404,
            None,
        ),
        (
            &token,
            &ended,
            json!({"kind": "used", "note": "n"}),
            409,
            None,
        ),
    ];
    let sent = cases
        .iter()
        .flat_map(|case| std::iter::repeat_n(case, 4))
        .map(|(who, grant, body, _, _)| report(app, who, grant, body.clone()));
    let answers = futures::future::join_all(sent).await;
    for (case, (status, problem)) in cases
        .iter()
        .flat_map(|case| std::iter::repeat_n(case, 4))
        .zip(answers)
    {
        assert_eq!(status, case.3, "{problem}");
        if let Some(field) = case.4 {
            assert_eq!(problem["field"], field, "{problem}");
        }
    }
    let stranger = app
        .http
        .post(app.url(&format!("/v1/grants/{grant}/uses")))
        .json(&json!({"kind": "used", "note": "n"}))
        .send()
        .await
        .unwrap();
    assert_eq!(stranger.status(), 401);
    assert_eq!(app.store().ledger_size().await.unwrap(), before);
    assert!(reported(app).await.is_empty());
});

// Refusals sent at once are each recorded, once: ten `sold` reports on a
// marketing grant give ten 403s and ten refused entries.
app_test!(refusals_at_once_are_each_recorded, |app| {
    let ada = app.person_with("ada_many_uses", SHARES).await.token;
    let token = app.company_token(&app.company("Acme Many").await).await;
    let grant = granted(app, &token, &ada, "ada_many_uses", "marketing").await;
    let sent = (0..10).map(|i| {
        report(
            app,
            &token,
            &grant,
            json!({"kind": "sold", "note": format!("attempt {i}")}),
        )
    });
    for (status, _) in futures::future::join_all(sent).await {
        assert_eq!(status, 403);
    }
    let found = reported(app).await;
    assert_eq!(found.len(), 10);
    assert!(
        found
            .iter()
            .all(|(g, k, ok)| g == &grant && k == "sold" && !ok)
    );
    app.books().await;
});
