//! The foundation as a client meets it: health, the OpenAPI document and its
//! reference page, the vocabulary, and errors as problem details.

use apiome_tests::{TestApp, app_test, artifacts_dir, chromium, headless_chromium};
use serde_json::Value;

const PROBLEM_JSON: &str = "application/problem+json";

app_test!(healthz_is_200_when_the_database_answers, |app| {
    let response = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    let expected = match app.store().backend() {
        store::Backend::Sqlite => "sqlite",
        store::Backend::Postgres => "postgres",
    };
    assert_eq!(body["database"], expected);
});

app_test!(livez_and_readyz_answer_beside_healthz, |app| {
    let live = app.http.get(app.url("/livez")).send().await.unwrap();
    assert_eq!(live.status(), 200);
    let live: Value = live.json().await.unwrap();
    assert_eq!(live["status"], "ok");
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["status"], "ok");
    let expected = match app.store().backend() {
        store::Backend::Sqlite => "sqlite",
        store::Backend::Postgres => "postgres",
    };
    assert_eq!(ready["database"], expected);
});

app_test!(
    every_response_carries_a_fresh_request_id_a_client_cannot_choose,
    |app| {
        let mut seen = std::collections::HashSet::new();
        for (method, path) in [
            ("GET", "/healthz"),
            ("GET", "/healthz"),
            ("GET", "/nothing"),
            ("GET", "/"),
            ("POST", "/v1/session"),
        ] {
            let response = app
                .http
                .request(method.parse().unwrap(), app.url(path))
                .header("x-request-id", "chosen-by-the-client")
                .header("content-type", "application/json")
                .body("{not json")
                .send()
                .await
                .unwrap();
            let id = response.headers()["x-request-id"].to_str().unwrap();
            assert_eq!(id.len(), 32, "{path}: {id}");
            assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{path}: {id}");
            assert!(seen.insert(id.to_owned()), "{path}: {id} repeated");
        }
    }
);

app_test!(served_openapi_equals_the_committed_document, |app| {
    let mut served: Value = app
        .http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let committed: Value =
        serde_json::from_str(include_str!("../../openapi/openapi.json")).unwrap();
    // a running server names itself; the committed document names the default
    assert_eq!(served["servers"][0]["url"], app.base_url.as_str());
    served["servers"] = committed["servers"].clone();
    assert_eq!(
        served, committed,
        "openapi/openapi.json is stale: regenerate it with `apiome openapi`"
    );
});

app_test!(
    a_served_path_asked_with_another_method_is_405_with_allow,
    |app| {
        for (method, path, allow) in [
            ("DELETE", "/v1/data", "GET"),
            ("PATCH", "/v1/me/attributes/email", "PUT, DELETE"),
            ("GET", "/oauth/token", "POST"),
            ("PUT", "/v1/webhook/deliveries/some-id/redeliver", "POST"),
        ] {
            let response = app
                .http
                .request(method.parse().unwrap(), app.url(path))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 405, "{method} {path}");
            assert_eq!(response.headers()["allow"], allow, "{method} {path}");
            let problem: Value = response.json().await.unwrap();
            assert_eq!(apiome_tests::problem_kind(&problem), "method-not-allowed");
        }
        // a path nobody serves stays 404, whatever the method
        let response = app
            .http
            .delete(app.url("/v1/nothing"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404);
    }
);

app_test!(unknown_paths_get_a_problem_document, |app| {
    let response = app
        .http
        .get(app.url("/v1/nothing-here"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()["content-type"], PROBLEM_JSON);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(apiome_tests::problem_kind(&problem), "not-found");
    assert_eq!(problem["status"], 404);
    assert!(problem["title"].is_string() && problem["detail"].is_string());
    // the type is this server's page describing the kind
    let uri = problem["type"].as_str().unwrap();
    assert_eq!(uri, app.url("/docs/problems#not-found"));
    let page = app.http.get(uri).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"id="not-found""#), "{html}");
    assert!(html.contains("Nothing with that id exists for this caller"));
});

app_test!(
    the_catalogue_names_every_purpose_bucket_and_default,
    |app| {
        let catalogue: Value = app
            .http
            .get(app.url("/v1/catalogue"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let purposes: Vec<&str> = catalogue["purposes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["purpose"].as_str().unwrap())
            .collect();
        for purpose in consent_policy::Purpose::ALL {
            assert!(
                purposes.contains(&purpose.to_string().as_str()),
                "{purpose}"
            );
        }
        assert_eq!(
            catalogue["buckets"],
            serde_json::json!(["private", "semi_private", "public"])
        );
        assert_eq!(
            catalogue["defaults"],
            serde_json::json!(["share_everything", "ask_me", "share_nothing"])
        );
        let email = catalogue["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["key"] == "email")
            .unwrap();
        assert_eq!(email["default_bucket"], "semi_private");
        assert!(
            catalogue["currencies"]
                .as_array()
                .unwrap()
                .contains(&"USD".into())
        );
    }
);

app_test!(every_page_carries_the_security_headers, |app| {
    for path in ["/", "/healthz", "/docs/", "/nothing"] {
        let response = app.http.get(app.url(path)).send().await.unwrap();
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(headers["referrer-policy"], "same-origin", "{path}");
    }
});

/// The reference page's own HTML names only assets this server serves, and
/// the Swagger UI never calls its online validator.
#[tokio::test]
async fn the_docs_page_names_only_local_assets() {
    let app = TestApp::sqlite().await;
    let response = app.http.get(app.url("/docs")).send().await.unwrap();
    assert!(response.status().is_redirection());
    let html = app
        .http
        .get(app.url("/docs/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut assets = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for part in html.split(attr).skip(1) {
            assets.push(part.split('"').next().unwrap().to_owned());
        }
    }
    assert!(assets.len() >= 4, "{html}");
    for asset in &assets {
        assert!(!asset.contains("//"), "{asset} is not served by us");
        let url = app.url(&format!("/docs/{}", asset.trim_start_matches("./")));
        let status = app.http.get(&url).send().await.unwrap().status();
        assert_eq!(status, 200, "{url}");
    }
    let init = app
        .http
        .get(app.url("/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let compact: String = init.chars().filter(|c| !c.is_whitespace()).collect();
    assert!(compact.contains("\"validatorUrl\":\"none\""), "{init}");
    app.stop().await;
}

/// `/docs` rendered by a real headless Chromium: the page shows the API and
/// every request the page made went to this server. (Chromium's own
/// background requests, made with no page as initiator, are not the page's.)
#[tokio::test]
async fn the_docs_page_renders_in_chromium_with_no_request_leaving_the_machine() {
    let Some(chromium) = chromium() else { return };
    let app = TestApp::sqlite().await;
    let work = tempfile::tempdir().unwrap();
    let netlog = work.path().join("net.json");
    let url = app.url("/docs/");
    let output = tokio::task::spawn_blocking({
        let (chromium, work, netlog, url) = (
            chromium.clone(),
            work.path().to_owned(),
            netlog.clone(),
            url.clone(),
        );
        move || {
            headless_chromium(&chromium, &work.join("profile"))
                .arg(format!("--log-net-log={}", netlog.display()))
                .args(["--virtual-time-budget=10000", "--dump-dom", &url])
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let dom = String::from_utf8_lossy(&output.stdout);
    assert!(
        dom.contains("class=\"title\">apiome"),
        "the API title is not rendered:\n{dom}"
    );
    assert!(
        dom.contains("/v1/catalogue"),
        "the operations are not rendered"
    );

    let log: Value = serde_json::from_slice(&std::fs::read(&netlog).unwrap()).unwrap();
    let start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"].clone();
    let page_origin = app.base_url.clone();
    let mut page_requests = Vec::new();
    for event in log["events"].as_array().unwrap() {
        let params = &event["params"];
        if event["type"] != start_job || !params["url"].is_string() {
            continue;
        }
        let by_page = params["initiator"].as_str() == Some(page_origin.as_str())
            || params["request_type"] == "main frame";
        if by_page {
            page_requests.push(params["url"].as_str().unwrap().to_owned());
        }
    }
    assert!(page_requests.len() >= 5, "{page_requests:?}");
    for request in &page_requests {
        assert!(
            request.starts_with(&page_origin),
            "the page requested {request}"
        );
    }

    let shot = artifacts_dir().join("docs.png");
    let status = tokio::task::spawn_blocking({
        let (work, shot) = (work.path().to_owned(), shot.clone());
        move || {
            headless_chromium(&chromium, &work.join("profile2"))
                .args(["--virtual-time-budget=10000", "--window-size=1280,900"])
                .arg(format!("--screenshot={}", shot.display()))
                .arg(&url)
                .output()
                .unwrap()
                .status
        }
    })
    .await
    .unwrap();
    assert!(status.success() && shot.exists());
    eprintln!("screenshot: {}", shot.display());
    app.stop().await;
}
