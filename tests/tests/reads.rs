//! `GET /v1/data` decides again on every read, as an attacker would test
//! it: a granted attribute the person moves to private, a company the
//! person blocks, a grant the person revokes — each while many reads are
//! in flight — never leaks past the change, and the ledger shows no read
//! of the grant after the change that ended it. Both engines.

#![allow(
    clippy::unwrap_used,
    reason = "test steps: a failed unwrap is a failed test"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use apiome_tests::{Company, TestApp, app_test};
use ledger::EntryKind;
use serde_json::{Value, json};

/// What each person of these tests shares (`(key, value, bucket)`): two
/// public attributes, so a request for them is granted at once.
const SHARES: &[(&str, &str, &str)] = &[
    ("display_name", "Ada", "public"),
    ("location_city", "London", "public"),
];
/// Concurrent readers in the racing tests.
const READERS: usize = 64;

/// A grant of both attributes to `company` and its tokens (the CIBA poll).
async fn granted(app: &TestApp, company: &Company, handle: &str) -> (String, Value) {
    let token = app.company_token(company).await;
    let asked = app
        .http
        .post(app.url("/v1/requests"))
        .bearer_auth(&token)
        .json(
            &json!({"person": {"handle": handle}, "authorization_details": [{
            "type": "apiome_data", "attributes": ["display_name", "location_city"],
            "purpose": "service_provision", "duration": "P30D"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status(), 201);
    let asked: Value = asked.json().await.unwrap();
    assert_eq!(asked["status"], "approved", "{asked}");
    let tokens = app
        .token_form(
            company,
            &[
                ("grant_type", "urn:openid:params:grant-type:ciba"),
                ("auth_req_id", asked["request_id"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(tokens.0, 200, "{}", tokens.1);
    (asked["grant_id"].as_str().unwrap().to_owned(), tokens.1)
}

async fn read(app: &TestApp, token: &str) -> (u16, Value) {
    let response = app
        .http
        .get(app.url("/v1/data"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The ledger's disclosure entries of `grant_id`, with their indices,
/// and the index of the first entry matching `ended`.
async fn disclosures_and_end(
    app: &TestApp,
    grant_id: &str,
    ended: impl Fn(&EntryKind) -> bool,
) -> (Vec<(u64, Vec<String>, Vec<String>)>, Option<u64>) {
    let store = app.store();
    let size = store.ledger_size().await.unwrap();
    let mut reads = Vec::new();
    let mut end = None;
    let mut start = 0;
    while start < size {
        let page = store.ledger_entries(start, size).await.unwrap();
        start += page.len() as u64;
        for stored in page {
            if end.is_none() && ended(&stored.entry.kind) {
                end = Some(stored.index);
            }
            if let EntryKind::Disclosure {
                grant_id: g,
                attributes,
                withheld,
                ..
            } = &stored.entry.kind
                && g.as_str() == grant_id
            {
                let names = |l: &ledger::NameList| {
                    l.names().iter().map(|n| n.as_str().to_owned()).collect()
                };
                reads.push((stored.index, names(attributes), names(withheld)));
            }
        }
    }
    (reads, end)
}

/// Starts `READERS` tasks reading `/v1/data` with `token` until `stop`;
/// each returns what it saw, in order: (status, whether a value came).
/// `valued` counts the answers that carried values so far.
fn readers(
    app: &TestApp,
    token: &str,
    stop: &Arc<AtomicBool>,
    valued: &Arc<AtomicUsize>,
) -> Vec<tokio::task::JoinHandle<Vec<(u16, Value)>>> {
    (0..READERS)
        .map(|_| {
            let (http, url, token, stop, valued) = (
                app.http.clone(),
                app.url("/v1/data"),
                token.to_owned(),
                stop.clone(),
                valued.clone(),
            );
            tokio::spawn(async move {
                let mut seen = Vec::new();
                while !stop.load(Ordering::Relaxed) && seen.len() < 400 {
                    let response = http.get(&url).bearer_auth(&token).send().await.unwrap();
                    let status = response.status().as_u16();
                    let body = response.json().await.unwrap_or(Value::Null);
                    if carries_values(status, &body) {
                        valued.fetch_add(1, Ordering::Relaxed);
                    }
                    seen.push((status, body));
                }
                seen
            })
        })
        .collect()
}

fn carries_values(status: u16, body: &Value) -> bool {
    status == 200
        && body["attributes"]
            .as_object()
            .is_some_and(|a| !a.is_empty())
}

app_test!(
    a_granted_attribute_moved_to_private_is_withheld_from_the_next_read,
    |app| {
        let session = app.person_with("ada", SHARES).await.token;
        let acme = app.company("Acme").await;
        let (grant_id, tokens) = granted(app, &acme, "ada").await;
        let access = tokens["access_token"].as_str().unwrap();
        let (status, body) = read(app, access).await;
        assert_eq!(status, 200);
        assert_eq!(body["attributes"]["location_city"], "London");

        let moved = app
            .http
            .put(app.url("/v1/me/attributes/location_city"))
            .bearer_auth(&session)
            .json(&json!({"value": "London", "bucket": "private"}))
            .send()
            .await
            .unwrap();
        assert_eq!(moved.status(), 200);
        let (status, body) = read(app, access).await;
        assert_eq!(status, 200, "the grant itself lives on");
        assert_eq!(body["attributes"], json!({"display_name": "Ada"}), "{body}");
        assert_eq!(body["withheld"], json!(["location_city"]));
        assert!(!body.to_string().contains("London"));
        // The ledger says what was withheld, never its value.
        let (reads, _) = disclosures_and_end(app, &grant_id, |_| false).await;
        let last = reads.last().unwrap();
        assert_eq!(last.1, ["display_name"]);
        assert_eq!(last.2, ["location_city"]);

        // A rule that denies takes it back as well; moving back to public
        // under no such rule gives it back (the grant still holds it).
        let rule = app
            .http
            .post(app.url("/v1/me/rules"))
            .bearer_auth(&session)
            .json(&json!({"company": {"only": acme.id}, "purposes": "any",
                       "attributes": {"keys": ["display_name"]}, "effect": "deny"}))
            .send()
            .await
            .unwrap();
        assert_eq!(rule.status(), 201, "{}", rule.text().await.unwrap());
        let (_, body) = read(app, access).await;
        assert_eq!(body["attributes"], json!({}), "{body}");
        assert_eq!(body["withheld"], json!(["display_name", "location_city"]));
    }
);

app_test!(a_blocked_company_reads_nothing_and_cannot_refresh, |app| {
    let session = app.person_with("ada", SHARES).await.token;
    let acme = app.company("Acme").await;
    let globex = app.company("Globex").await;
    let (grant_id, tokens) = granted(app, &acme, "ada").await;
    let (_, other) = granted(app, &globex, "ada").await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(read(app, access).await.0, 200);

    let blocked = app
        .http
        .put(app.url(&format!("/v1/me/blocked/{}", acme.id)))
        .bearer_auth(&session)
        .send()
        .await
        .unwrap();
    assert_eq!(blocked.status(), 204);
    let (status, body) = read(app, access).await;
    assert_eq!(status, 401, "{body}");
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let (status, body) = app
        .token_form(
            &acme,
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // The grant is over in the ledger, and the company was told.
    let (_, end) = disclosures_and_end(
        app,
        &grant_id,
        |k| matches!(k, EntryKind::GrantRevoked { grant_id: g, .. } if g.as_str() == grant_id),
    )
    .await;
    assert!(end.is_some(), "no grant_revoked entry");
    // Another company's grant is untouched, and unblocking restores nothing.
    assert_eq!(
        read(app, other["access_token"].as_str().unwrap()).await.0,
        200
    );
    let unblocked = app
        .http
        .delete(app.url(&format!("/v1/me/blocked/{}", acme.id)))
        .bearer_auth(&session)
        .send()
        .await
        .unwrap();
    assert_eq!(unblocked.status(), 204);
    assert_eq!(read(app, access).await.0, 401);
});

/// The race, for one change: readers in flight, the change, then the
/// ledger must show no read of the grant's ended attributes after it.
async fn race(app: &TestApp, change: &str) {
    let session = app.person_with("ada", SHARES).await.token;
    let acme = app.company("Acme").await;
    let (grant_id, tokens) = granted(app, &acme, "ada").await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let stop = Arc::new(AtomicBool::new(false));
    let valued_so_far = Arc::new(AtomicUsize::new(0));
    let running = readers(app, &access, &stop, &valued_so_far);
    // The change lands while reads are in full flow.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while valued_so_far.load(Ordering::Relaxed) < READERS && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let response = match change {
        "revoke" => app
            .http
            .delete(app.url(&format!("/v1/me/grants/{grant_id}"))),
        "block" => app
            .http
            .put(app.url(&format!("/v1/me/blocked/{}", acme.id))),
        _ => app
            .http
            .put(app.url("/v1/me/attributes/location_city"))
            .json(&json!({"value": "London", "bucket": "private"})),
    }
    .bearer_auth(&session)
    .send()
    .await
    .unwrap();
    assert!(
        response.status().is_success(),
        "{change}: {}",
        response.status()
    );
    let size_after_change = app.store().ledger_size().await.unwrap();
    // Every read that starts now must see the change.
    for _ in 0..8 {
        let (status, body) = read(app, &access).await;
        match change {
            "move" => {
                assert_eq!(status, 200);
                assert!(!body.to_string().contains("London"), "{body}");
            }
            _ => assert_eq!(status, 401, "{change}: {body}"),
        }
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    stop.store(true, Ordering::Relaxed);
    let mut valued = 0;
    for reader in running {
        for (status, body) in reader.await.unwrap() {
            if carries_values(status, &body) {
                valued += 1;
            }
        }
    }
    assert!(
        valued > 0,
        "{change}: the readers read nothing before the change"
    );
    let (reads, end) = disclosures_and_end(app, &grant_id, |k| match (change, k) {
        ("revoke" | "block", EntryKind::GrantRevoked { grant_id: g, .. }) => g.as_str() == grant_id,
        _ => false,
    })
    .await;
    match change {
        "move" => {
            // No entry recorded after the change carries the moved attribute.
            for (index, attributes, _) in &reads {
                if *index >= size_after_change {
                    assert!(
                        !attributes.iter().any(|a| a == "location_city"),
                        "entry {index} disclosed location_city after it went private"
                    );
                }
            }
        }
        _ => {
            let end = end.expect("the grant's revocation is in the ledger");
            let after: Vec<u64> = reads.iter().map(|r| r.0).filter(|i| *i > end).collect();
            assert!(
                after.is_empty(),
                "{change}: reads recorded after the revocation at {end}: {after:?}"
            );
        }
    }
    // Every answer that carried values had its entry: at least as many
    // entries as valued answers (an entry is written before its answer).
    let disclosed = reads.iter().filter(|r| !r.1.is_empty()).count();
    assert!(
        disclosed >= valued,
        "{change}: {valued} answers with values, {disclosed} entries"
    );
}

app_test!(
    revocation_racing_reads_never_reads_after_the_revocation,
    |app| {
        race(app, "revoke").await;
    }
);

app_test!(a_block_racing_reads_never_reads_after_the_block, |app| {
    race(app, "block").await;
});

app_test!(
    a_move_to_private_racing_reads_never_leaks_the_value_after_it,
    |app| {
        race(app, "move").await;
    }
);

app_test!(
    an_approval_never_grants_what_was_moved_to_private_since_the_request,
    |app| {
        let session = app.person_with("ada", SHARES).await.token;
        let put = app
            .http
            .put(app.url("/v1/me/attributes/email"))
            .bearer_auth(&session)
            .json(&json!({"value": "ada@example.org", "bucket": "semi_private"}))
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), 200);
        let acme = app.company("Acme").await;
        let token = app.company_token(&acme).await;
        let asked: Value = app
            .http
            .post(app.url("/v1/requests"))
            .bearer_auth(&token)
            .json(
                &json!({"person": {"handle": "ada"}, "authorization_details": [{
            "type": "apiome_data", "attributes": ["display_name", "email"],
            "purpose": "service_provision", "duration": "P30D"}]}),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(asked["status"], "pending", "{asked}");
        let id = asked["request_id"].as_str().unwrap();
        let moved = app
            .http
            .put(app.url("/v1/me/attributes/email"))
            .bearer_auth(&session)
            .json(&json!({"value": "ada@example.org", "bucket": "private"}))
            .send()
            .await
            .unwrap();
        assert_eq!(moved.status(), 200);
        let approve = |body: Option<Value>| {
            let request = app
                .http
                .post(app.url(&format!("/v1/me/requests/{id}/approve")))
                .bearer_auth(&session);
            match body {
                Some(body) => request.json(&body),
                None => request,
            }
            .send()
        };
        let only_email = approve(Some(json!({"attributes": ["email"]})))
            .await
            .unwrap();
        assert_eq!(
            only_email.status(),
            422,
            "a private attribute was grantable"
        );
        let all = approve(None).await.unwrap();
        assert_eq!(all.status(), 201);
        let grant: Value = all.json().await.unwrap();
        assert_eq!(grant["attributes"], json!(["display_name"]), "{grant}");
    }
);

app_test!(requests_racing_a_block_are_never_granted_after_it, |app| {
    let session = app.person_with("ada", SHARES).await.token;
    let acme = app.company("Acme").await;
    let token = app.company_token(&acme).await;
    let asks: Vec<_> = (0..32)
        .map(|_| {
            let (http, url, token) = (app.http.clone(), app.url("/v1/requests"), token.clone());
            tokio::spawn(async move {
                http.post(url)
                    .bearer_auth(token)
                    .json(
                        &json!({"person": {"handle": "ada"}, "authorization_details": [{
                        "type": "apiome_data", "attributes": ["display_name"],
                        "purpose": "service_provision", "duration": "P30D"}]}),
                    )
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let blocked = app
        .http
        .put(app.url(&format!("/v1/me/blocked/{}", acme.id)))
        .bearer_auth(&session)
        .send()
        .await
        .unwrap();
    assert_eq!(blocked.status(), 204);
    for ask in asks {
        assert_eq!(ask.await.unwrap(), 201);
    }
    // In the ledger: no grant to the company after its block, and every
    // grant before it was revoked by it.
    let store = app.store();
    let size = store.ledger_size().await.unwrap();
    let entries = store.ledger_entries(0, size).await.unwrap();
    let block_at = entries
        .iter()
        .position(|e| matches!(e.entry.kind, EntryKind::CompanyBlocked { .. }))
        .expect("the block is in the ledger");
    let created: Vec<(usize, String)> = entries
        .iter()
        .enumerate()
        .filter_map(|(i, e)| match &e.entry.kind {
            EntryKind::GrantCreated { grant_id, .. } => Some((i, grant_id.as_str().to_owned())),
            _ => None,
        })
        .collect();
    for (at, grant) in &created {
        assert!(
            *at < block_at,
            "grant {grant} created at {at}, after the block at {block_at}"
        );
        assert!(
            entries.iter().any(|e| matches!(&e.entry.kind,
                EntryKind::GrantRevoked { grant_id, .. } if grant_id.as_str() == grant)),
            "grant {grant} outlived the block"
        );
    }
});
