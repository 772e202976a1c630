//! A burst of sign-ups cannot take the server's memory: argon2 (19 MiB a
//! hash) runs in a few slots with memory of their own, and a sign-up that
//! finds no slot free is answered `503` with `Retry-After` instead of
//! waiting in an unbounded queue. Measured on the real `apiome serve`
//! process: its peak resident set (`VmHWM`) after 64 concurrent sign-ups,
//! from many addresses' worth of budget (the per-address limit off).

#![allow(
    clippy::unwrap_used,
    reason = "test steps: a failed unwrap is a failed test"
)]

mod support;

use std::time::Duration;

use serde_json::json;

/// The promise: the whole server stays under this while the burst lasts.
const MAX_PEAK_RSS_KIB: u64 = 256 * 1024;
const SIGN_UPS: usize = 64;

/// `VmHWM` (peak resident set) of process `pid`, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_sign_ups_keep_the_server_under_256_mib() {
    let dir = tempfile::tempdir().unwrap();
    let server = support::serve_with(
        &dir.path().join("data"),
        None,
        &[("APIOME_SIGN_UPS_PER_HOUR", "0")],
    );
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let before = peak_rss_kib(server.pid());
    let tasks: Vec<_> = (0..SIGN_UPS)
        .map(|i| {
            let http = http.clone();
            let url = format!("{}/v1/accounts", server.base);
            tokio::spawn(async move {
                let response = http
                    .post(url)
                    .json(&json!({"handle": format!("burst_{i}"), "password": "correct horse battery"}))
                    .send()
                    .await
                    .unwrap();
                let status = response.status().as_u16();
                let retry_after = response.headers().contains_key("retry-after");
                (status, retry_after)
            })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        let (status, retry_after) = task.await.unwrap();
        assert!(
            [201, 429, 503].contains(&status),
            "every answer is 201, 429 or 503, not {status}"
        );
        if status == 201 {
            created += 1;
        } else {
            assert!(retry_after, "a {status} says when to come back");
        }
    }
    let peak = peak_rss_kib(server.pid());
    eprintln!(
        "peak RSS {} MiB before, {} MiB after {SIGN_UPS} sign-ups ({created} created)",
        before / 1024,
        peak / 1024
    );
    assert!(created > 0, "some sign-ups got through");
    assert!(
        peak < MAX_PEAK_RSS_KIB,
        "peak RSS {} MiB is over {} MiB",
        peak / 1024,
        MAX_PEAK_RSS_KIB / 1024
    );
    server.terminate();
}
