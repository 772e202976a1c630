//! Crash safety: the release-shaped server (the real `apiome` binary) runs a
//! steady mix of grants, reads, revocations and payments and is killed with
//! SIGKILL at random moments, twenty times, then restarted. Afterwards every
//! write that was answered 2xx must be in the store and in the ledger, every
//! acknowledged revocation must hold, the log must be one tree consistent
//! with every checkpoint served before each kill, and the books must
//! balance. On SQLite, and on PostgreSQL when `APIOME_TEST_POSTGRES_URL` is
//! set (required under `CI=true`).
//!
//! Prints one summary line per backend, e.g.
//! `crash (sqlite): 20 kills survived, 812 acknowledged writes checked, 0 lost`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test steps: a failed unwrap is a failed test"
)]

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use support::{cli, serve};

mod support;

const KILLS: usize = 20;
const PEOPLE: usize = 6;
const WORKERS: usize = 6;
const PRICE: u64 = 10_000;
const PASSWORD: &str = "correct horse battery staple";

/// What the server acknowledged with a 2xx, as the clients saw it.
#[derive(Default)]
struct Acknowledged {
    /// Approved request id → grant id (once a read revealed it).
    approved: HashMap<String, Option<String>>,
    /// Grant id → disclosures answered 200.
    reads: HashMap<String, u64>,
    /// Grant id → the access token that read it, for revoked grants.
    revoked: HashMap<String, String>,
    /// Checkpoints served before a kill: (tree size, root).
    checkpoints: Vec<(u64, ledger::Hash)>,
}

impl Acknowledged {
    fn writes(&self) -> usize {
        self.approved.len()
            + self.reads.values().map(|n| *n as usize).sum::<usize>()
            + self.revoked.len()
    }
}

struct Company {
    id: String,
    secret: String,
}

/// One worker's loop until the server dies under it: ask (approved at once
/// and paid), poll for tokens, read, and every third grant revoke and check
/// the next read is refused. Records only what was answered 2xx.
async fn work(
    http: reqwest::Client,
    base: String,
    company: Arc<Company>,
    company_token: String,
    person: (String, String),
    acked: Arc<Mutex<Acknowledged>>,
) {
    let (handle, person_token) = person;
    for round in 0.. {
        let Ok(asked) = http
            .post(format!("{base}/v1/requests"))
            .bearer_auth(&company_token)
            .json(&json!({
                "person": {"handle": handle},
                "authorization_details": [{"type": "apiome_data", "attributes": ["email"],
                    "purpose": "service_provision", "duration": "P30D",
                    "offer": {"amount_micros": PRICE, "currency": "EUR"}}]
            }))
            .send()
            .await
        else {
            return;
        };
        if asked.status() != 201 {
            assert!(asked.status().is_server_error(), "{}", asked.status());
            return;
        }
        let Ok(asked) = asked.json::<Value>().await else {
            return;
        };
        assert_eq!(asked["status"], "approved", "{asked}");
        let request_id = asked["request_id"].as_str().unwrap().to_owned();
        acked
            .lock()
            .unwrap()
            .approved
            .insert(request_id.clone(), None);

        let Ok(tokens) = http
            .post(format!("{base}/oauth/token"))
            .basic_auth(&company.id, Some(&company.secret))
            .form(&[
                ("grant_type", "urn:openid:params:grant-type:ciba"),
                ("auth_req_id", request_id.as_str()),
            ])
            .send()
            .await
        else {
            return;
        };
        let Ok(tokens) = tokens.json::<Value>().await else {
            return;
        };
        let Some(access) = tokens["access_token"].as_str().map(str::to_owned) else {
            return;
        };
        let Ok(read) = http
            .get(format!("{base}/v1/data"))
            .bearer_auth(&access)
            .send()
            .await
        else {
            return;
        };
        if read.status() != 200 {
            return;
        }
        let Ok(read) = read.json::<Value>().await else {
            return;
        };
        let grant_id = read["grant_id"].as_str().unwrap().to_owned();
        {
            let mut acked = acked.lock().unwrap();
            acked.approved.insert(request_id, Some(grant_id.clone()));
            *acked.reads.entry(grant_id.clone()).or_default() += 1;
        }
        if round % 3 == 2 {
            let Ok(revoked) = http
                .delete(format!("{base}/v1/me/grants/{grant_id}"))
                .bearer_auth(&person_token)
                .send()
                .await
            else {
                return;
            };
            if !revoked.status().is_success() {
                return;
            }
            acked.lock().unwrap().revoked.insert(grant_id, access);
        }
    }
}

async fn checkpoint(
    http: &reqwest::Client,
    base: &str,
    verifier: &ledger::NoteVerifier,
) -> Option<(u64, ledger::Hash)> {
    let note = http
        .get(format!("{base}/v1/ledger/checkpoint"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let checkpoint =
        ledger::open_checkpoint(&note, verifier).expect("a served checkpoint verifies");
    Some((checkpoint.tree_size(), *checkpoint.root_hash()))
}

async fn crash_and_check(label: &str, database_url: Option<String>, store: store::Store) {
    let url = database_url.as_deref();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let made = cli(
        &data,
        url,
        &[
            "company",
            "create",
            "--name",
            "Acme Crash",
            "--redirect-uri",
            "http://localhost:9/cb",
        ],
    );
    let company = Arc::new(Company {
        id: made["client_id"].as_str().unwrap().to_owned(),
        secret: made["client_secret"].as_str().unwrap().to_owned(),
    });
    cli(
        &data,
        url,
        &[
            "company",
            "fund",
            &company.id,
            "1000",
            "EUR",
            "--transfer-id",
            "bank-1",
        ],
    );
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();

    let server = serve(&data, url);
    let vkey = http
        .get(format!("{}/v1/ledger/public-key", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let verifier = ledger::NoteVerifier::from_vkey(vkey.trim()).unwrap();
    let mut people = Vec::new();
    for p in 0..PEOPLE {
        let handle = format!("crash_{p}");
        let made: Value = http
            .post(format!("{}/v1/accounts", server.base))
            .json(&json!({"handle": handle, "password": PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = made["token"].as_str().unwrap().to_owned();
        let put = http
            .put(format!("{}/v1/me/attributes/email", server.base))
            .bearer_auth(&token)
            .json(&json!({"value": format!("{handle}@example.org"), "bucket": "public"}))
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), 200);
        people.push((handle, token));
    }
    server.kill();

    let acked = Arc::new(Mutex::new(Acknowledged::default()));
    let mut seed = u64::from_le_bytes(*b"apiome!!");
    let mut next_delay = || {
        // xorshift: a random but reproducible kill moment, 300–1100 ms in.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        Duration::from_millis(300 + seed % 800)
    };
    for _ in 0..KILLS {
        let server = serve(&data, url);
        let token: Value = http
            .post(format!("{}/oauth/token", server.base))
            .basic_auth(&company.id, Some(&company.secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let company_token = token["access_token"].as_str().unwrap().to_owned();
        let mut workers = tokio::task::JoinSet::new();
        for w in 0..WORKERS {
            workers.spawn(work(
                http.clone(),
                server.base.clone(),
                company.clone(),
                company_token.clone(),
                people[w % PEOPLE].clone(),
                acked.clone(),
            ));
        }
        tokio::time::sleep(next_delay()).await;
        if let Some(seen) = checkpoint(&http, &server.base, &verifier).await {
            acked.lock().unwrap().checkpoints.push(seen);
        }
        tokio::time::sleep(next_delay() / 4).await;
        server.kill();
        while let Some(done) = workers.join_next().await {
            done.unwrap();
        }
    }

    // Back up once more: everything acknowledged must still be there.
    let server = serve(&data, url);
    let acked = Arc::into_inner(acked).unwrap().into_inner().unwrap();
    assert!(
        acked.approved.len() > KILLS,
        "the load made progress: {}",
        acked.approved.len()
    );
    let mut lost = Vec::new();

    let size = store.ledger_size().await.unwrap();
    let mut entries = Vec::new();
    while (entries.len() as u64) < size {
        let page = store
            .ledger_entries(entries.len() as u64, size)
            .await
            .unwrap();
        entries.extend(page);
    }
    let mut decided = HashSet::new();
    let mut granted = HashSet::new();
    let mut disclosed: HashMap<String, u64> = HashMap::new();
    let mut revoked = HashSet::new();
    for stored in &entries {
        match &stored.entry.kind {
            ledger::EntryKind::RequestDecided { request_id, .. } => {
                decided.insert(request_id.as_str().to_owned());
            }
            ledger::EntryKind::GrantCreated { grant_id, .. } => {
                granted.insert(grant_id.as_str().to_owned());
            }
            ledger::EntryKind::Disclosure { grant_id, .. } => {
                *disclosed.entry(grant_id.as_str().to_owned()).or_default() += 1;
            }
            ledger::EntryKind::GrantRevoked { grant_id, .. } => {
                revoked.insert(grant_id.as_str().to_owned());
            }
            _ => {}
        }
    }
    let company_token: Value = http
        .post(format!("{}/oauth/token", server.base))
        .basic_auth(&company.id, Some(&company.secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let company_token = company_token["access_token"].as_str().unwrap();
    for (request_id, grant_id) in &acked.approved {
        let status: Value = http
            .get(format!("{}/v1/requests/{request_id}", server.base))
            .bearer_auth(company_token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if status["status"] != "approved" || !decided.contains(request_id) {
            lost.push(format!("approved request {request_id}: {status}"));
        }
        if let Some(grant_id) = grant_id
            && !granted.contains(grant_id)
        {
            lost.push(format!("grant {grant_id} has no ledger entry"));
        }
    }
    for (grant_id, reads) in &acked.reads {
        if disclosed.get(grant_id).copied().unwrap_or(0) < *reads {
            lost.push(format!(
                "{reads} reads of {grant_id}, fewer disclosures in the ledger"
            ));
        }
    }
    for (grant_id, access) in &acked.revoked {
        let read = http
            .get(format!("{}/v1/data", server.base))
            .bearer_auth(access)
            .send()
            .await
            .unwrap();
        if read.status() != 401 || !revoked.contains(grant_id) {
            lost.push(format!(
                "revocation of {grant_id}: read answered {}",
                read.status()
            ));
        }
    }

    // One tree: no gaps, the stored root is the root of the entries, and
    // every checkpoint served before a kill is a prefix of it.
    for (i, stored) in entries.iter().enumerate() {
        assert_eq!(stored.index, i as u64, "the log has a gap at {i}");
    }
    let hashes: Vec<ledger::Hash> = entries.iter().map(|e| ledger::leaf_hash(&e.leaf)).collect();
    let root = ledger::root_from_leaves(&hashes);
    assert_eq!(store.ledger_root(size).await.unwrap(), root);
    for (tree_size, old_root) in &acked.checkpoints {
        let proof = store.consistency_proof(*tree_size, size).await.unwrap();
        ledger::verify_consistency(*tree_size, size, old_root, &root, &proof)
            .unwrap_or_else(|e| panic!("checkpoint {tree_size} is not a prefix: {e}"));
    }
    let books = ledger::Books::replay(entries.iter().map(|e| &e.entry)).unwrap();
    books.check_invariants().unwrap();
    let paid: u64 = books
        .accounts()
        .filter(|(account, _)| matches!(account, ledger::AccountId::PersonEarnings { .. }))
        .map(|(_, balance)| balance.credits_posted)
        .sum();
    assert_eq!(
        paid,
        PRICE * granted.len() as u64,
        "every grant paid exactly once"
    );
    server.kill();

    let summary = format!(
        "crash ({label}): {KILLS} kills survived, {} acknowledged writes checked, {} lost; ledger {size} entries, {} checkpoints consistent",
        acked.writes(),
        lost.len(),
        acked.checkpoints.len()
    );
    println!("{summary}");
    // For CI's log (`.ci/run` prints these after the tests).
    std::fs::write(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("crash-{label}.summary")),
        format!("{summary}\n"),
    )
    .unwrap();
    assert!(lost.is_empty(), "lost after a crash: {lost:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_loses_nothing_acknowledged_on_sqlite() {
    // The server makes its own SQLite file under the data directory; the
    // checks read it through a second connection.
    let probe = store::testing::sqlite().await;
    let path = match &probe.url {
        store::DatabaseUrl::Sqlite(path) => path.clone(),
        store::DatabaseUrl::Postgres(_) => unreachable!(),
    };
    let url = format!("sqlite://{}", path.display());
    crash_and_check("sqlite", Some(url), probe.store.clone()).await;
    probe.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_loses_nothing_acknowledged_on_postgres() {
    let Some(db) = store::testing::postgres().await else {
        return;
    };
    let url = match &db.url {
        store::DatabaseUrl::Postgres(url) => url.clone(),
        store::DatabaseUrl::Sqlite(_) => unreachable!(),
    };
    crash_and_check("postgres", Some(url), db.store.clone()).await;
    db.cleanup().await;
}
