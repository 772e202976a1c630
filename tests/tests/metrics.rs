//! `GET /metrics`: Prometheus text with per-route counts and latencies
//! labelled by route pattern (never the path a client sent: no ids, no
//! tokens), and the operator's gauges — on the admin listener only, with
//! every label from a closed set.

#![allow(
    clippy::unwrap_used,
    reason = "test steps: a failed unwrap is a failed test"
)]

use apiome_tests::app_test;

app_test!(
    metrics_count_by_route_pattern_and_report_the_ledger,
    |app| {
        for _ in 0..3 {
            let ok = app.http.get(app.url("/healthz")).send().await.unwrap();
            assert_eq!(ok.status(), 200);
        }
        let revoke = app
            .http
            .delete(app.url("/v1/me/grants/grant-id-that-must-not-be-a-label"))
            .send()
            .await
            .unwrap();
        assert_eq!(revoke.status(), 401);
        let lost = app
            .http
            .get(app.url("/no/such/secret-path"))
            .send()
            .await
            .unwrap();
        assert_eq!(lost.status(), 404);

        let response = app
            .http
            .get(format!("http://127.0.0.1:{}/metrics", app.admin_port))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "text/plain; version=0.0.4; charset=utf-8"
        );
        let text = response.text().await.unwrap();
        assert!(
            text.contains(
                r#"apiome_http_requests_total{method="GET",route="/healthz",status="200"} 3"#
            ),
            "{text}"
        );
        assert!(
        text.contains(
            r#"apiome_http_requests_total{method="DELETE",route="/v1/me/grants/{id}",status="401"} 1"#
        ),
        "{text}"
    );
        assert!(
            text.contains(r#"route="unmatched",status="404"} 1"#),
            "{text}"
        );
        assert!(!text.contains("grant-id-that-must-not-be-a-label"));
        assert!(!text.contains("secret-path"));
        assert!(text.contains(
            r#"apiome_http_request_duration_seconds_count{method="GET",route="/healthz"} 3"#
        ));
        let gauge = |name: &str| -> f64 {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{name} ")))
                .unwrap_or_else(|| panic!("no {name} in {text}"))
                .parse()
                .unwrap()
        };
        let size = app.store().ledger_size().await.unwrap();
        assert_eq!(gauge("apiome_ledger_entries") as u64, size);
        assert_eq!(gauge("apiome_grants_live"), 0.0);
        assert!(gauge("apiome_ledger_checkpoint_age_seconds") >= -1.0);
        // The process's own figures, under the usual names.
        assert!(gauge("process_resident_memory_bytes") > 0.0, "{text}");
        assert!(gauge("process_open_fds") >= 3.0, "{text}");
        assert!(gauge("process_cpu_seconds_total") > 0.0, "{text}");
        assert!(text.contains("# TYPE process_cpu_seconds_total counter"));
        assert!(text.contains("# TYPE apiome_http_requests_total counter"));
        // Every line is a comment or `name{labels} value`.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (_, value) = line.rsplit_once(' ').unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
);

/// The series of a metrics text: each sample line's name and labels,
/// without its value.
fn series(text: &str) -> std::collections::BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.rsplit_once(' ').unwrap().0.to_owned())
        .collect()
}

app_test!(invented_methods_and_random_paths_add_no_series, |app| {
    let invented =
        |i: usize| reqwest::Method::from_bytes(format!("BREW{i:03}X").as_bytes()).unwrap();
    let random_path = |i: usize| format!("/no/such/{i}-{}", i * 7919 % 1009);
    // Once each, so the `OTHER` and `unmatched` series exist.
    for (method, path) in [
        (invented(1000), "/healthz".to_owned()),
        (invented(1001), random_path(1000)),
        (reqwest::Method::GET, random_path(1001)),
    ] {
        let answer = app
            .http
            .request(method, app.url(&path))
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_client_error(), "{path}");
    }
    app.metrics().await;
    let before = app.metrics().await;

    let mut attack = tokio::task::JoinSet::new();
    for i in 0..100 {
        for (method, path) in [
            (invented(i), "/healthz".to_owned()),
            (invented(i + 100), random_path(i + 200)),
            (reqwest::Method::GET, random_path(i)),
        ] {
            let request = app.http.request(method, app.url(&path));
            attack.spawn(async move { request.send().await.unwrap().status() });
        }
    }
    while let Some(status) = attack.join_next().await {
        assert!(status.unwrap().is_client_error());
    }

    let after = app.metrics().await;
    assert_eq!(series(&before), series(&after), "no new series");
    assert_eq!(before.lines().count(), after.lines().count());
    assert!(!after.contains("BREW"), "no invented method is a label");
    assert!(!after.contains("/no/such"), "no path is a label");
    let other_unmatched = after
        .lines()
        .filter(|l| l.starts_with(r#"apiome_http_requests_total{method="OTHER",route="unmatched""#))
        .map(|l| l.rsplit_once(' ').unwrap().1.parse::<u64>().unwrap())
        .sum::<u64>();
    assert_eq!(
        other_unmatched, 101,
        "every invented method counted as OTHER\n{after}"
    );
});

app_test!(metrics_are_not_on_the_public_port, |app| {
    for path in ["/metrics", "/metrics/", "/METRICS"] {
        let public = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(public.status(), 404, "{path}");
        let body = public.text().await.unwrap();
        assert!(!body.contains("apiome_"), "{body}");
    }
    // The admin listener serves only the metrics.
    let admin = |path: &str| format!("http://127.0.0.1:{}{path}", app.admin_port);
    assert_ne!(app.admin_port, app.port);
    for path in ["/healthz", "/v1/ledger/checkpoint", "/"] {
        let other = app.http.get(admin(path)).send().await.unwrap();
        assert_eq!(other.status(), 404, "{path}");
    }
    let scraped = app.http.get(admin("/metrics")).send().await.unwrap();
    assert_eq!(scraped.status(), 200);
    assert!(
        scraped
            .text()
            .await
            .unwrap()
            .contains("apiome_ledger_entries")
    );
});
