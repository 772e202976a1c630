//! No value or secret in the logs, whatever the log level: the real binary
//! runs a whole scenario (sign-up, attributes, a company with a webhook,
//! ask, grant, read, refresh, revoke) with `RUST_LOG=trace` and JSON logs,
//! and everything it printed is searched for every attribute value,
//! password, session token, recovery code, access and refresh token,
//! client secret and webhook secret the scenario used.

#![allow(
    clippy::unwrap_used,
    reason = "test steps: a failed unwrap is a failed test"
)]

mod support;

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{APIOME, PUBLIC_URL, cli};

const PASSWORD: &str = "Quartz-Lantern-Pelican-42";
/// Values no log line could hold by chance.
const VALUES: [(&str, &str); 3] = [
    ("display_name", "Zyxwvut Quokkafield"),
    ("location_city", "Vlorqhaven"),
    ("email", "quokka.vlorq@example.org"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_scenario_at_trace_level_logs_no_value_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let company = cli(
        &data,
        None,
        &[
            "company",
            "create",
            "--name",
            "Acme",
            "--redirect-uri",
            "https://acme.example/cb",
            "--webhook-url",
            "https://acme.invalid/hooks",
        ],
    );
    let client_id = company["client_id"].as_str().unwrap().to_owned();
    let client_secret = company["client_secret"].as_str().unwrap().to_owned();
    let webhook_secret = company["webhook_secret"].as_str().unwrap().to_owned();

    let mut child = Command::new(APIOME)
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--admin-bind",
            "127.0.0.1:0",
            "--public-url",
            PUBLIC_URL,
        ])
        .arg("--data-dir")
        .arg(&data)
        .env("RUST_LOG", "trace")
        .env("APIOME_LOG_FORMAT", "json")
        .env_remove("DATABASE_URL")
        .env_remove("APIOME_MASTER_KEY")
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let logs = Arc::new(Mutex::new(String::new()));
    let mut port = None;
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut line = String::new();
    while port.is_none() {
        assert!(Instant::now() < deadline, "the server did not start");
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "the server exited"
        );
        logs.lock().unwrap().push_str(&line);
        if line.contains("apiome is serving") {
            port = line
                .split(|c: char| !c.is_ascii_digit() && c != '=')
                .find_map(|w| w.strip_prefix("port="))
                .and_then(|p| p.parse::<u16>().ok())
                .or_else(|| {
                    serde_json::from_str::<Value>(&line).ok().and_then(|v| {
                        v["fields"]["port"]
                            .as_u64()
                            .and_then(|p| u16::try_from(p).ok())
                    })
                });
        }
    }
    let collected = logs.clone();
    let drain = std::thread::spawn(move || {
        let mut line = String::new();
        while stderr.read_line(&mut line).is_ok_and(|n| n > 0) {
            collected.lock().unwrap().push_str(&line);
            line.clear();
        }
    });
    let base = format!("http://127.0.0.1:{}", port.unwrap());
    let http = reqwest::Client::new();
    let mut secrets: Vec<String> = vec![PASSWORD.to_owned(), client_secret.clone(), webhook_secret];

    // The person.
    let account: Value = http
        .post(format!("{base}/v1/accounts"))
        .json(&json!({"handle": "logwatch", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let session = account["token"].as_str().unwrap().to_owned();
    secrets.push(session.clone());
    for code in account["recovery_codes"].as_array().unwrap() {
        secrets.push(code.as_str().unwrap().to_owned());
    }
    for (key, value) in VALUES {
        let bucket = if key == "email" {
            "semi_private"
        } else {
            "public"
        };
        let put = http
            .put(format!("{base}/v1/me/attributes/{key}"))
            .bearer_auth(&session)
            .json(&json!({"value": value, "bucket": bucket}))
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), 200);
    }
    // A wrong password too, as an attacker would send.
    let wrong = http
        .post(format!("{base}/v1/session"))
        .json(&json!({"handle": "logwatch", "password": "Wrong-Guess-Pelican-7"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    secrets.push("Wrong-Guess-Pelican-7".to_owned());

    // The company asks, is granted, reads, refreshes.
    let token = |form: Vec<(&'static str, String)>| {
        let (http, base, id, secret) = (
            http.clone(),
            base.clone(),
            client_id.clone(),
            client_secret.clone(),
        );
        async move {
            let response = http
                .post(format!("{base}/oauth/token"))
                .basic_auth(id, Some(secret))
                .form(&form)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            response.json::<Value>().await.unwrap()
        }
    };
    let company_token = token(vec![("grant_type", "client_credentials".to_owned())]).await;
    let company_token = company_token["access_token"].as_str().unwrap().to_owned();
    secrets.push(company_token.clone());
    let asked: Value = http
        .post(format!("{base}/v1/requests"))
        .bearer_auth(&company_token)
        .json(
            &json!({"person": {"handle": "logwatch"}, "authorization_details": [{
            "type": "apiome_data", "attributes": ["display_name", "location_city"],
            "purpose": "service_provision", "duration": "P30D"}]}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(asked["status"], "approved", "{asked}");
    let tokens = token(vec![
        ("grant_type", "urn:openid:params:grant-type:ciba".to_owned()),
        (
            "auth_req_id",
            asked["request_id"].as_str().unwrap().to_owned(),
        ),
    ])
    .await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    secrets.push(access.clone());
    secrets.push(tokens["refresh_token"].as_str().unwrap().to_owned());
    let read: Value = http
        .get(format!("{base}/v1/data"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read["attributes"]["location_city"], "Vlorqhaven", "{read}");
    let refreshed = token(vec![
        ("grant_type", "refresh_token".to_owned()),
        (
            "refresh_token",
            tokens["refresh_token"].as_str().unwrap().to_owned(),
        ),
    ])
    .await;
    secrets.push(refreshed["access_token"].as_str().unwrap().to_owned());
    secrets.push(refreshed["refresh_token"].as_str().unwrap().to_owned());

    // The person revokes; the company's next read fails.
    let revoked = http
        .delete(format!(
            "{base}/v1/me/grants/{}",
            asked["grant_id"].as_str().unwrap()
        ))
        .bearer_auth(&session)
        .send()
        .await
        .unwrap();
    assert!(revoked.status().is_success());
    let after = http
        .get(format!("{base}/v1/data"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401);

    // Let the webhook worker try (and fail) its deliveries, then stop.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(child.wait().unwrap().success());
    drain.join().unwrap();

    let logs = logs.lock().unwrap().clone();
    // The capture is real: trace level, JSON, every request seen.
    let lines: Vec<&str> = logs.lines().collect();
    assert!(lines.len() > 50, "only {} log lines", lines.len());
    assert!(
        lines
            .iter()
            .all(|l| serde_json::from_str::<Value>(l).is_ok()),
        "not all JSON"
    );
    assert!(logs.contains("\"level\":\"TRACE\""), "no trace-level line");
    assert!(logs.contains("/v1/data"), "the reads were not logged");
    let mut found = Vec::new();
    for needle in VALUES.iter().map(|(_, v)| (*v).to_owned()).chain(secrets) {
        if let Some(at) = logs.find(&needle) {
            let line_start = logs[..at].rfind('\n').map_or(0, |i| i + 1);
            let line_end = logs[at..].find('\n').map_or(logs.len(), |i| at + i);
            found.push(format!("{needle:?} in: {}", &logs[line_start..line_end]));
        }
    }
    assert!(
        found.is_empty(),
        "secrets or values in the logs:\n{}",
        found.join("\n")
    );
}
