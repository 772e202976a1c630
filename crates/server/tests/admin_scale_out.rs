//! The operator's commands seen by every process at once: two `apiome
//! serve` processes on one PostgreSQL, each having cached the company's
//! client record by serving it, and `apiome company disable|enable|
//! rotate-secret` run as a third process. The next request to either
//! server sees the change.
//!
//! PostgreSQL only (several servers on one SQLite file is not a supported
//! deployment; the SQLite server seeing the CLI's changes is in
//! `tests/tests/admin.rs`).

#![allow(
    clippy::unwrap_used,
    reason = "test steps: a failed unwrap is a failed test"
)]

use serde_json::Value;
use support::{Server, cli, serve};

mod support;

async fn token(http: &reqwest::Client, server: &Server, id: &str, secret: &str) -> (u16, Value) {
    let response = http
        .post(format!("{}/oauth/token", server.base))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// `GET /v1/requests/unknown`: 404 for a live token, 401 for a dead one.
async fn probe(http: &reqwest::Client, server: &Server, access: &str) -> u16 {
    http.get(format!("{}/v1/requests/unknown", server.base))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disable_or_new_secret_from_the_cli_is_seen_by_every_server_at_once() {
    let Some(db) = store::testing::postgres().await else {
        return;
    };
    let url = match &db.url {
        store::DatabaseUrl::Postgres(url) => url.clone(),
        store::DatabaseUrl::Sqlite(_) => unreachable!("a PostgreSQL test database"),
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let made = cli(
        &data,
        Some(&url),
        &[
            "company",
            "create",
            "--name",
            "Acme",
            "--redirect-uri",
            "http://localhost:9/cb",
        ],
    );
    let id = made["client_id"].as_str().unwrap().to_owned();
    let secret = made["client_secret"].as_str().unwrap().to_owned();
    let servers = [serve(&data, Some(&url)), serve(&data, Some(&url))];
    let http = reqwest::Client::new();

    // Each server serves the company, so each holds its record in memory.
    let mut tokens = Vec::new();
    for server in &servers {
        let (status, body) = token(&http, server, &id, &secret).await;
        assert_eq!(status, 200, "{body}");
        tokens.push(body["access_token"].as_str().unwrap().to_owned());
    }
    for server in &servers {
        for access in &tokens {
            assert_eq!(probe(&http, server, access).await, 404);
        }
    }

    cli(&data, Some(&url), &["company", "disable", &id]);
    for server in &servers {
        let (status, body) = token(&http, server, &id, &secret).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_client"))
        );
        for access in &tokens {
            assert_eq!(probe(&http, server, access).await, 401);
        }
    }

    cli(&data, Some(&url), &["company", "enable", &id]);
    for server in &servers {
        let (status, body) = token(&http, server, &id, &secret).await;
        assert_eq!(status, 200, "{body}");
        let fresh = body["access_token"].as_str().unwrap().to_owned();
        for other in &servers {
            assert_eq!(probe(&http, other, &fresh).await, 404);
            for old in &tokens {
                assert_eq!(
                    probe(&http, other, old).await,
                    401,
                    "a pre-disable token lived again"
                );
            }
        }
    }

    let rotated = cli(&data, Some(&url), &["company", "rotate-secret", &id]);
    let new_secret = rotated["client_secret"].as_str().unwrap();
    for server in &servers {
        let (status, body) = token(&http, server, &id, &secret).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_client"))
        );
        assert_eq!(token(&http, server, &id, new_secret).await.0, 200);
    }
    drop(servers);
    db.cleanup().await;
}
