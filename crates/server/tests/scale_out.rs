//! Scale-out on PostgreSQL: three `apiome serve` processes share one
//! database and one data directory (the keys) and are hammered at once.
//! Afterwards: one grant per approved request and no duplicates, no lost
//! rule writes, one linear ledger whose signed checkpoint any process serves
//! and whose root matches the entries, balanced books, and a revocation
//! through one process refused by the others on the very next read.
//!
//! PostgreSQL only (several processes on one SQLite file is not a supported
//! deployment); skipped with a notice when `APIOME_TEST_POSTGRES_URL` is
//! unset, and failing under `CI=true`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test steps: a failed unwrap is a failed test"
)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Server, cli, serve};

mod support;

const PROCESSES: usize = 3;
const PEOPLE: usize = 12;
const WORKERS: usize = 12;
const ROUNDS: usize = 6;
const RULES: usize = 24;
const PASSWORD: &str = "correct horse battery staple";

struct Ctx {
    http: reqwest::Client,
    bases: Vec<String>,
    client_id: String,
    client_secret: String,
}

impl Ctx {
    fn url(&self, server: usize, path: &str) -> String {
        format!("{}{path}", self.bases[server % self.bases.len()])
    }

    async fn token_form(&self, server: usize, form: &[(&str, &str)]) -> (u16, Value) {
        let response = self
            .http
            .post(self.url(server, "/oauth/token"))
            .basic_auth(&self.client_id, Some(&self.client_secret))
            .form(form)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_processes_on_one_postgres_keep_one_ledger_and_every_promise() {
    let Some(db) = store::testing::postgres().await else {
        return;
    };
    let database_url = match &db.url {
        store::DatabaseUrl::Postgres(url) => url.clone(),
        store::DatabaseUrl::Sqlite(_) => unreachable!("a PostgreSQL test database"),
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");

    let company = cli(
        &data,
        Some(&database_url),
        &[
            "company",
            "create",
            "--name",
            "Acme Scale",
            "--redirect-uri",
            "http://localhost:9/cb",
        ],
    );
    cli(
        &data,
        Some(&database_url),
        &[
            "company",
            "fund",
            company["client_id"].as_str().unwrap(),
            "100",
            "EUR",
        ],
    );
    let servers: Vec<Server> = (0..PROCESSES)
        .map(|_| serve(&data, Some(&database_url)))
        .collect();
    let ctx = Arc::new(Ctx {
        http: reqwest::Client::new(),
        bases: servers.iter().map(|s| s.base.clone()).collect(),
        client_id: company["client_id"].as_str().unwrap().to_owned(),
        client_secret: company["client_secret"].as_str().unwrap().to_owned(),
    });

    // People, each made through a different process, with a public email.
    let mut people = Vec::new();
    for p in 0..PEOPLE {
        let handle = format!("person_{p}");
        let made: Value = ctx
            .http
            .post(ctx.url(p, "/v1/accounts"))
            .json(&json!({"handle": handle, "password": PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = made["token"].as_str().unwrap().to_owned();
        let put = ctx
            .http
            .put(ctx.url(p + 1, "/v1/me/attributes/email"))
            .bearer_auth(&token)
            .json(&json!({"value": format!("{handle}@example.org"), "bucket": "public"}))
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), 200);
        people.push((handle, token));
    }
    let people = Arc::new(people);

    // The company's token from one process works on every other.
    let (status, issued) = ctx
        .token_form(0, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(status, 200, "{issued}");
    let company_token = Arc::new(issued["access_token"].as_str().unwrap().to_owned());

    // The hammer: every worker asks, polls for tokens and reads, each step
    // through a different process; one person's rules are written through
    // all of them at once.
    let approved = Arc::new(AtomicUsize::new(0));
    let reads = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..WORKERS {
        let (ctx, people, company_token) = (ctx.clone(), people.clone(), company_token.clone());
        let (approved, reads) = (approved.clone(), reads.clone());
        tasks.spawn(async move {
            let mut last = None;
            for round in 0..ROUNDS {
                let (handle, _) = &people[(w + round) % people.len()];
                let asked = ctx
                    .http
                    .post(ctx.url(w + round, "/v1/requests"))
                    .bearer_auth(company_token.as_str())
                    .json(&json!({
                        "person": {"handle": handle},
                        "authorization_details": [{"type": "apiome_data", "attributes": ["email"],
                            "purpose": "service_provision", "duration": "P30D",
                            "offer": {"amount_micros": 10_000, "currency": "EUR"}}]
                    }))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(asked.status(), 201);
                let asked: Value = asked.json().await.unwrap();
                assert_eq!(asked["status"], "approved", "{asked}");
                approved.fetch_add(1, Ordering::Relaxed);
                let request_id = asked["request_id"].as_str().unwrap();
                let (status, tokens) = ctx
                    .token_form(
                        w + round + 1,
                        &[
                            ("grant_type", "urn:openid:params:grant-type:ciba"),
                            ("auth_req_id", request_id),
                        ],
                    )
                    .await;
                assert_eq!(status, 200, "{tokens}");
                let access = tokens["access_token"].as_str().unwrap().to_owned();
                let read = ctx
                    .http
                    .get(ctx.url(w + round + 2, "/v1/data"))
                    .bearer_auth(&access)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(read.status(), 200);
                let read: Value = read.json().await.unwrap();
                assert_eq!(read["attributes"]["email"], format!("{handle}@example.org"));
                reads.fetch_add(1, Ordering::Relaxed);
                last = Some((
                    handle.clone(),
                    read["grant_id"].as_str().unwrap().to_owned(),
                    access,
                ));
            }
            last.unwrap()
        });
    }
    let rule_writer = people[0].1.clone();
    for r in 0..RULES {
        let (ctx, token) = (ctx.clone(), rule_writer.clone());
        tasks.spawn(async move {
            let made = ctx
                .http
                .post(ctx.url(r, "/v1/me/rules"))
                .bearer_auth(&token)
                .json(&json!({"company": "any", "purposes": ["research"],
                    "attributes": {"keys": ["birth_date"]}, "effect": "deny"}))
                .send()
                .await
                .unwrap();
            assert!(made.status().is_success(), "{}", made.status());
            (String::new(), String::new(), String::new())
        });
    }
    let mut grants = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let done = done.unwrap();
        if !done.0.is_empty() {
            grants.push(done);
        }
    }
    let approved = approved.load(Ordering::Relaxed);
    assert_eq!(approved, WORKERS * ROUNDS);
    assert_eq!(reads.load(Ordering::Relaxed), WORKERS * ROUNDS);

    // No lost update: every rule written through any process is there, in
    // distinct positions.
    let rules: Value = ctx
        .http
        .get(ctx.url(2, "/v1/me/rules"))
        .bearer_auth(&rule_writer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rules["items"].as_array().unwrap().len(), RULES, "{rules}");

    // One grant per approved request, none twice.
    let mut listed = std::collections::HashSet::new();
    let mut total = 0;
    for (p, (_, token)) in people.iter().enumerate() {
        let mine: Value = ctx
            .http
            .get(ctx.url(p, "/v1/me/grants"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for grant in mine["items"].as_array().unwrap() {
            total += 1;
            assert!(listed.insert(grant["id"].as_str().unwrap().to_owned()));
        }
    }
    assert_eq!(total, approved, "one grant per approved request");

    // A revocation through one process holds at the others on the next read.
    let (handle, grant_id, access) = &grants[0];
    let owner = &people.iter().find(|(h, _)| h == handle).unwrap().1;
    let revoked = ctx
        .http
        .delete(ctx.url(0, &format!("/v1/me/grants/{grant_id}")))
        .bearer_auth(owner)
        .send()
        .await
        .unwrap();
    assert!(revoked.status().is_success(), "{}", revoked.status());
    for server in 1..PROCESSES {
        let read = ctx
            .http
            .get(ctx.url(server, "/v1/data"))
            .bearer_auth(access)
            .send()
            .await
            .unwrap();
        assert_eq!(read.status(), 401, "process {server} still disclosed");
        assert!(
            read.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("invalid_token")
        );
    }

    // One linear ledger: a checkpoint from any process verifies under the
    // published key and is consistent with the entries in the database.
    let vkey = ctx
        .http
        .get(ctx.url(1, "/v1/ledger/public-key"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let verifier = ledger::NoteVerifier::from_vkey(vkey.trim()).unwrap();
    let size = db.store.ledger_size().await.unwrap();
    let mut entries = Vec::new();
    while (entries.len() as u64) < size {
        let page = db
            .store
            .ledger_entries(entries.len() as u64, size)
            .await
            .unwrap();
        assert!(!page.is_empty());
        entries.extend(page);
    }
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e.index, i as u64, "the log has no gaps");
    }
    let leaf_hashes: Vec<ledger::Hash> =
        entries.iter().map(|e| ledger::leaf_hash(&e.leaf)).collect();
    let root = ledger::root_from_leaves(&leaf_hashes);
    assert_eq!(db.store.ledger_root(size).await.unwrap(), root);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut sizes = Vec::new();
    for server in 0..PROCESSES {
        let checkpoint = loop {
            let note = ctx
                .http
                .get(ctx.url(server, "/v1/ledger/checkpoint"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let checkpoint = ledger::open_checkpoint(&note, &verifier).unwrap();
            // Checkpoints are signed at least once a second while the log grows.
            if checkpoint.tree_size() == size || Instant::now() > deadline {
                break checkpoint;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert_eq!(checkpoint.tree_size(), size, "process {server} lags");
        assert_eq!(checkpoint.root_hash(), &root);
        sizes.push(checkpoint.tree_size());
    }

    // Balanced books: an auditor's replay of every transfer.
    let books = ledger::Books::replay(entries.iter().map(|e| &e.entry)).unwrap();
    books.check_invariants().unwrap();
    let paid: u64 = books
        .accounts()
        .filter(|(account, _)| matches!(account, ledger::AccountId::PersonEarnings { .. }))
        .map(|(_, balance)| balance.credits_posted)
        .sum();
    assert_eq!(paid, 10_000 * approved as u64, "every grant paid once");

    drop(servers);
    db.cleanup().await;
    let summary = format!(
        "scale-out: {PROCESSES} processes, {approved} grants, {} reads, {RULES} rules, ledger of {size} entries, checkpoints {sizes:?}",
        WORKERS * ROUNDS
    );
    println!("{summary}");
    std::fs::write(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("scale-out.summary"),
        format!("{summary}\n"),
    )
    .unwrap();
}
