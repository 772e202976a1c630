//! The workloads: what each request is and what counts as its right answer.

use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use reqwest::StatusCode;
use serde_json::json;

use crate::drive::{self, Expect, Settings, Stats, expect};
use crate::http::{Builder, Connection, Request};
use crate::peer::{self, Peer};
use crate::seed::{self, Seeded};
use crate::serve::Server;

/// One line of the table.
pub struct Row {
    /// Which workload.
    pub workload: &'static str,
    /// The peer's workload it is compared with.
    pub compare_with: &'static str,
    /// What it measured.
    pub stats: Stats,
}

impl Row {
    /// `| workload | server | requests/s | p50 | p99 | errors | vs peer | CPU stolen |`
    pub fn markdown(&self, server: &str, ratio: &str) -> String {
        let s = &self.stats;
        let ms = |us: u32| format!("{:.2} ms", f64::from(us) / 1000.0);
        let errors = match &s.first_error {
            Some(why) if s.errors > 0 => format!("{} (first: {})", s.errors, why.replace('|', "/")),
            _ => s.errors.to_string(),
        };
        format!(
            "| {} | {} | {:.0} | {} | {} | {} | {} | {} |",
            self.workload,
            server,
            s.rate(),
            ms(s.p50_us),
            ms(s.p99_us),
            errors,
            ratio,
            s.stolen
                .map(|share| format!("{:.0} %", share * 100.0))
                .unwrap_or_default(),
        )
    }
}

/// Keeps a workload's figures and shows them at once.
fn record(rows: &mut Vec<Row>, workload: &'static str, stats: Stats) {
    compare(rows, workload, workload, stats);
}

/// As [`record`], compared with the peer's `compare_with` workload.
fn compare(rows: &mut Vec<Row>, workload: &'static str, compare_with: &'static str, stats: Stats) {
    let row = Row {
        workload,
        compare_with,
        stats,
    };
    eprintln!("apiome-load: {}", row.markdown("", ""));
    rows.push(row);
}

/// A token endpoint's right answer, apiome's and the peer's alike.
const TOKEN_ISSUED: Expect = Expect {
    status: 200,
    needle: "access_token",
    why: "no access_token",
};

/// An introspection endpoint's answer for a live token.
const TOKEN_ACTIVE: Expect = Expect {
    status: 200,
    needle: "\"active\":true",
    why: "the token was not active",
};

/// Introspection of tokens a company presents again and again, as a
/// resource server does for each call of a session: apiome and the peer
/// each introspect this many distinct tokens, round-robin.
/// (The peer's in-memory store keeps its newest 1,000 tokens; more would
/// leave it answering `active: false`.)
pub const INTROSPECT_REUSED: &str = "introspection (1,000 tokens, each reused)";
const REUSED_TOKENS: usize = 1_000;

/// Introspection where every request brings a token never seen before:
/// apiome's worst case (a signature check each time); the peer's lookup
/// costs the same either way, so it is compared with the peer's row above.
pub const INTROSPECT_NEW: &str = "introspection (every token new)";

/// Tokens issued for [`INTROSPECT_NEW`] per measured second: more than
/// apiome introspects a second on this machine, so the run ends on its
/// request bound before any token comes round again.
const NEW_TOKENS_PER_SECOND: u64 = 6_000;

/// `count` access tokens, the `k`th asked for with `requests[k % len]`,
/// over a few keep-alive connections at once (setup, not measured).
async fn issue_tokens(host: &str, requests: Vec<Request>, count: usize) -> Result<Vec<String>> {
    const WORKERS: usize = 8;
    let requests = Arc::new(requests);
    let tasks: Vec<_> = (0..WORKERS)
        .map(|worker| {
            let (host, requests) = (host.to_owned(), requests.clone());
            tokio::spawn(async move {
                let mut connection = Connection::new(&host);
                let mut tokens = Vec::with_capacity(count / WORKERS + 1);
                // Strided: the worker's `n`th token is the `worker + n * WORKERS`th.
                for k in (worker..count).step_by(WORKERS) {
                    let answer = connection
                        .send(&requests[k % requests.len()])
                        .await
                        .map_err(anyhow::Error::msg)?;
                    let body: serde_json::Value = serde_json::from_slice(answer.body)
                        .with_context(|| format!("a token answer ({})", answer.status))?;
                    let token = body["access_token"]
                        .as_str()
                        .with_context(|| format!("no access_token in {body}"))?;
                    tokens.push(token.to_owned());
                }
                anyhow::Ok(tokens)
            })
        })
        .collect();
    let mut tokens = vec![String::new(); count];
    for (worker, task) in tasks.into_iter().enumerate() {
        for (n, token) in task.await??.into_iter().enumerate() {
            tokens[worker + n * WORKERS] = token;
        }
    }
    Ok(tokens)
}

/// Drives `requests` round-robin: consecutive requests of all connections
/// differ, and each comes round again after `requests.len()` others.
async fn round_robin(
    settings: &Settings,
    host: &str,
    expect: Expect,
    requests: Vec<Request>,
) -> Stats {
    let connections = settings.connections;
    drive::run(settings, host, expect, move |connection, sequence| {
        let k = ((sequence >> 20) as usize)
            .wrapping_mul(connections)
            .wrapping_add(connection);
        requests[k % requests.len()].clone()
    })
    .await
}

/// `host:port` of a `http://host:port` base URL.
fn authority(base: &str) -> Result<String> {
    base.strip_prefix("http://")
        .map(|rest| rest.trim_end_matches('/').to_owned())
        .with_context(|| format!("{base} is not an http:// URL"))
}

/// A `client_credentials` access token.
async fn client_token(
    client: &reqwest::Client,
    url: &str,
    id: &str,
    secret: &str,
    extra: &[(&str, &str)],
) -> Result<String> {
    let mut form = extra.to_vec();
    if !extra.iter().any(|(name, _)| *name == "grant_type") {
        form.push(("grant_type", "client_credentials"));
    }
    let body = expect(
        client.post(url).basic_auth(id, Some(secret)).form(&form),
        StatusCode::OK,
    )
    .await
    .map_err(anyhow::Error::msg)
    .with_context(|| format!("a client_credentials token from {url}"))?;
    body.json()
        .map_err(anyhow::Error::msg)?
        .get("access_token")
        .and_then(|t| t.as_str())
        .map(str::to_owned)
        .context("no access_token in the token response")
}

/// Runs the selected workloads against apiome.
pub async fn apiome(
    server: &Server,
    seeded: &Seeded,
    settings: &Settings,
    wants: &dyn Fn(&str) -> bool,
    rows: &mut Vec<Row>,
) -> Result<()> {
    let base: Arc<str> = server.base.as_str().into();
    let host = authority(&base)?;
    let setup = drive::client();
    let companies = Arc::new(seeded.company_credentials.clone());
    let mut tokens = Vec::new();
    for company in companies.iter() {
        tokens.push(
            client_token(
                &setup,
                &format!("{base}/oauth/token"),
                &company.client_id,
                &company.client_secret,
                &[],
            )
            .await?,
        );
    }
    let tokens = Arc::new(tokens);
    let sharing = Arc::new(seeded.sharing.clone());
    if sharing.is_empty() {
        bail!("the seed has nobody who shares by default");
    }

    if wants("token") {
        let requests: Vec<_> = companies
            .iter()
            .map(|company| {
                Builder::post(&host, "/oauth/token")
                    .basic(&company.client_id, &company.client_secret)
                    .form(&[("grant_type", "client_credentials")])
                    .build()
            })
            .collect();
        let stats = drive::run(settings, &host, TOKEN_ISSUED, move |connection, _| {
            requests[connection % requests.len()].clone()
        })
        .await;
        record(rows, "token (client_credentials)", stats);
    }

    if wants("introspect") {
        let per_company = REUSED_TOKENS.div_ceil(companies.len());
        let token_requests: Vec<_> = companies
            .iter()
            .flat_map(|company| {
                std::iter::repeat_n(
                    Builder::post(&host, "/oauth/token")
                        .basic(&company.client_id, &company.client_secret)
                        .form(&[("grant_type", "client_credentials")])
                        .build(),
                    per_company,
                )
            })
            .collect();
        let introspections = |tokens: Vec<String>| -> Vec<Request> {
            tokens
                .iter()
                .enumerate()
                .map(|(k, token)| {
                    let company = &companies[(k / per_company) % companies.len()];
                    Builder::post(&host, "/oauth/introspect")
                        .basic(&company.client_id, &company.client_secret)
                        .form(&[("token", token.as_str())])
                        .build()
                })
                .collect()
        };

        let reused = issue_tokens(&host, token_requests.clone(), token_requests.len()).await?;
        let requests = introspections(reused);
        let stats = round_robin(settings, &host, TOKEN_ACTIVE, requests).await;
        record(rows, INTROSPECT_REUSED, stats);

        // Every request a token never introspected before: bounded by the
        // number issued, not by time, so none comes round again.
        let count = settings
            .measure
            .as_secs()
            .max(1)
            .saturating_mul(NEW_TOKENS_PER_SECOND)
            .min(settings.max_requests);
        let count = usize::try_from(count).unwrap_or(usize::MAX);
        let fresh = issue_tokens(&host, token_requests, count + settings.connections).await?;
        let requests = introspections(fresh);
        let taken = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let once = Settings {
            warm_up: std::time::Duration::ZERO,
            max_requests: count as u64,
            ..*settings
        };
        let stats = drive::run(&once, &host, TOKEN_ACTIVE, move |_, _| {
            let k = taken.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            requests[k % requests.len()].clone()
        })
        .await;
        compare(rows, INTROSPECT_NEW, INTROSPECT_REUSED, stats);
    }

    if wants("data") {
        // Fresh grants through the async path, one token each.
        let count = sharing.len().min(256);
        let mut data_tokens = Vec::with_capacity(count);
        for k in 0..count {
            let c = k % companies.len();
            let body = expect(
                setup
                    .post(format!("{base}/v1/requests"))
                    .bearer_auth(&tokens[c])
                    .json(&json!({
                        "person": {"handle": sharing[k]},
                        "authorization_details": [seed::request_details()],
                    })),
                StatusCode::CREATED,
            )
            .await
            .map_err(anyhow::Error::msg)
            .context("an async request for the data workload")?
            .json()
            .map_err(anyhow::Error::msg)?;
            if body["status"] != "approved" {
                bail!("a seeded sharing person's request was not approved: {body}");
            }
            let id = body["request_id"].as_str().context("no request_id")?;
            let company = &companies[c];
            data_tokens.push(
                client_token(
                    &setup,
                    &format!("{base}/oauth/token"),
                    &company.client_id,
                    &company.client_secret,
                    &[
                        ("grant_type", "urn:openid:params:grant-type:ciba"),
                        ("auth_req_id", id),
                    ],
                )
                .await?,
            );
        }
        let requests: Vec<_> = data_tokens
            .iter()
            .map(|token| Builder::get(&host, "/v1/data").bearer(token).build())
            .collect();
        let expect = Expect {
            status: 200,
            needle: "\"email\"",
            why: "the granted email was not in the answer",
        };
        let stats = drive::run(settings, &host, expect, move |connection, sequence| {
            requests[(connection + sequence as usize) % requests.len()].clone()
        })
        .await;
        record(rows, "GET /v1/data", stats);
    }

    if wants("request") {
        let (host, tokens, sharing) = (host.clone(), tokens.clone(), sharing.clone());
        let expect = Expect {
            status: 201,
            needle: "\"approved\"",
            why: "the policy did not approve",
        };
        let stats = drive::run(
            settings,
            &host.clone(),
            expect,
            move |connection, sequence| {
                let token = &tokens[connection % tokens.len()];
                let handle = &sharing[(sequence as usize).wrapping_mul(7919) % sharing.len()];
                Builder::post(&host, "/v1/requests")
                    .bearer(token)
                    .json(&json!({
                        "person": {"handle": handle},
                        "authorization_details": [seed::request_details()],
                    }))
                    .build()
            },
        )
        .await;
        record(rows, "POST /v1/requests (async, decided by policy)", stats);
    }

    if wants("proof") {
        let checkpoint = setup
            .get(format!("{base}/v1/ledger/checkpoint"))
            .send()
            .await?
            .text()
            .await?;
        let size: u64 = checkpoint
            .lines()
            .nth(1)
            .and_then(|l| l.parse().ok())
            .context("no tree size in the checkpoint")?;
        let expect = Expect {
            status: 200,
            needle: "leaf_hash",
            why: "no leaf_hash",
        };
        let target = host.clone();
        let stats = drive::run(settings, &host, expect, move |_, sequence| {
            // Spread over the whole log, not just its recent end.
            let index = sequence.wrapping_mul(0x9E37_79B9_7F4A_7C15) % size;
            Builder::get(
                &target,
                &format!("/v1/ledger/proofs/inclusion?index={index}&tree_size={size}"),
            )
            .build()
        })
        .await;
        record(rows, "GET /v1/ledger/proofs/inclusion", stats);
    }
    Ok(())
}

/// Tokens and introspection against the peer, as for apiome.
pub async fn peer(
    peer: &Peer,
    settings: &Settings,
    wants: &dyn Fn(&str) -> bool,
    rows: &mut Vec<Row>,
) -> Result<()> {
    let base: Arc<str> = peer.base.as_str().into();
    let host = authority(&base)?;
    if wants("token") {
        let request = Builder::post(&host, "/token")
            .basic(peer::CLIENT_ID, peer::CLIENT_SECRET)
            .form(&[
                ("grant_type", "client_credentials"),
                ("resource", peer::RESOURCE),
                ("scope", "read"),
            ])
            .build();
        let stats = drive::run(settings, &host, TOKEN_ISSUED, move |_, _| request.clone()).await;
        record(rows, "token (client_credentials)", stats);
    }
    if wants("introspect") {
        let token = Builder::post(&host, "/token")
            .basic(peer::CLIENT_ID, peer::CLIENT_SECRET)
            .form(&[("grant_type", "client_credentials"), ("scope", "read")])
            .build();
        let tokens = issue_tokens(&host, vec![token], REUSED_TOKENS).await?;
        let requests: Vec<_> = tokens
            .iter()
            .map(|token| {
                Builder::post(&host, "/token/introspection")
                    .basic(peer::CLIENT_ID, peer::CLIENT_SECRET)
                    .form(&[("token", token.as_str())])
                    .build()
            })
            .collect();
        let stats = round_robin(settings, &host, TOKEN_ACTIVE, requests).await;
        record(rows, INTROSPECT_REUSED, stats);
    }
    Ok(())
}
