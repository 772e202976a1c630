//! `GET /metrics`: Prometheus text with per-route counts and latencies
//! labelled by route pattern (never the path a client sent: no ids, no
//! tokens), and the operator's gauges.

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

        let response = app.http.get(app.url("/metrics")).send().await.unwrap();
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
        // Every line is a comment or `name{labels} value`.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (_, value) = line.rsplit_once(' ').unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
);
