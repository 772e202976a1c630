//! Traces over OTLP/HTTP: the real binary, started with
//! `APIOME_OTLP_ENDPOINT` pointing at a collector this test runs (a small
//! HTTP server on 127.0.0.1 that accepts `POST /v1/traces` and decodes the
//! protobuf with `opentelemetry-proto`), exports one span per request,
//! named for its route, carrying the same request id as the response's
//! `X-Request-Id` — and never an id a client chose.

#![allow(
    clippy::unwrap_used,
    reason = "test steps: a failed unwrap is a failed test"
)]

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use prost::Message as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// One exported span: its name and string or integer attributes.
#[derive(Clone, Debug)]
struct Span {
    name: String,
    attributes: HashMap<String, String>,
    service: String,
}

/// What the collector received: the paths posted to, and the spans.
#[derive(Default)]
struct Received {
    paths: Vec<String>,
    content_types: Vec<String>,
    spans: Vec<Span>,
}

/// Starts the collector; its address and what it has received.
async fn collector() -> (std::net::SocketAddr, Arc<Mutex<Received>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let received = Arc::new(Mutex::new(Received::default()));
    let sink = received.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            tokio::spawn(connection(stream, sink.clone()));
        }
    });
    (address, received)
}

/// Serves one keep-alive connection: each request's headers and body,
/// decoded, then `200` with an empty export response.
async fn connection(mut stream: tokio::net::TcpStream, sink: Arc<Mutex<Received>>) {
    let mut buffer = Vec::new();
    loop {
        // Headers first.
        let (path, content_type, length, head_len) = loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut request = httparse::Request::new(&mut headers);
            if let Ok(httparse::Status::Complete(head_len)) = request.parse(&buffer) {
                let header = |name: &str| {
                    request
                        .headers
                        .iter()
                        .find(|h| h.name.eq_ignore_ascii_case(name))
                        .map(|h| String::from_utf8_lossy(h.value).into_owned())
                };
                let length: usize = header("content-length").unwrap().parse().unwrap();
                let content_type = header("content-type").unwrap_or_default();
                break (
                    request.path.unwrap().to_owned(),
                    content_type,
                    length,
                    head_len,
                );
            }
            let mut chunk = [0_u8; 8192];
            let n = stream.read(&mut chunk).await.unwrap_or(0);
            if n == 0 {
                return;
            }
            buffer.extend_from_slice(&chunk[..n]);
        };
        while buffer.len() < head_len + length {
            let mut chunk = [0_u8; 8192];
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "the body was cut short");
            buffer.extend_from_slice(&chunk[..n]);
        }
        let body: Vec<u8> = buffer.drain(..head_len + length).skip(head_len).collect();
        let export = ExportTraceServiceRequest::decode(body.as_slice()).unwrap();
        {
            let mut received = sink.lock().unwrap();
            received.paths.push(path);
            received.content_types.push(content_type);
            for resource_spans in export.resource_spans {
                let service = resource_spans
                    .resource
                    .iter()
                    .flat_map(|r| &r.attributes)
                    .find(|a| a.key == "service.name")
                    .and_then(|a| text(a.value.as_ref()?.value.as_ref()?))
                    .unwrap_or_default();
                for scope in resource_spans.scope_spans {
                    for span in scope.spans {
                        let attributes = span
                            .attributes
                            .iter()
                            .filter_map(|a| {
                                Some((a.key.clone(), text(a.value.as_ref()?.value.as_ref()?)?))
                            })
                            .collect();
                        received.spans.push(Span {
                            name: span.name,
                            attributes,
                            service: service.clone(),
                        });
                    }
                }
            }
        }
        let ok =
            b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
        stream.write_all(ok).await.unwrap();
    }
}

fn text(value: &AnyValue) -> Option<String> {
    match value {
        AnyValue::StringValue(s) => Some(s.clone()),
        AnyValue::IntValue(n) => Some(n.to_string()),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_request_is_a_span_named_for_its_route_with_the_request_id() {
    let (address, received) = collector().await;
    let dir = tempfile::tempdir().unwrap();
    let endpoint = format!("http://{address}");
    let server = support::serve_with(
        &dir.path().join("data"),
        None,
        &[("APIOME_OTLP_ENDPOINT", endpoint.as_str())],
    );
    let http = reqwest::Client::new();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let ok = http
            .get(format!("{}/healthz", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200);
        ids.push(ok.headers()["x-request-id"].to_str().unwrap().to_owned());
    }
    // A stranger naming its own request is not believed, in the traces
    // either; its path is not a span name.
    let lost = http
        .get(format!("{}/no/such/secret-path", server.base))
        .header("x-request-id", "chosen-by-client")
        .send()
        .await
        .unwrap();
    assert_eq!(lost.status(), 404);
    let lost_id = lost.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_ne!(lost_id, "chosen-by-client");

    // SIGTERM: the spans still batched are sent before the process exits.
    server.terminate();

    let received = received.lock().unwrap();
    assert!(
        received.paths.iter().all(|p| p == "/v1/traces"),
        "{:?}",
        received.paths
    );
    assert!(
        received
            .content_types
            .iter()
            .all(|t| t == "application/x-protobuf"),
        "{:?}",
        received.content_types
    );
    let by_id = |id: &str| {
        received
            .spans
            .iter()
            .find(|s| s.attributes.get("request_id").map(String::as_str) == Some(id))
            .unwrap_or_else(|| panic!("no span with request_id {id} in {:?}", received.spans))
            .clone()
    };
    for id in &ids {
        let span = by_id(id);
        assert_eq!(span.name, "GET /healthz");
        assert_eq!(span.service, "apiome");
        assert_eq!(span.attributes["http.route"], "/healthz");
        assert_eq!(span.attributes["http.request.method"], "GET");
        assert_eq!(span.attributes["http.response.status_code"], "200");
    }
    let lost = by_id(&lost_id);
    assert_eq!(lost.name, "GET unmatched");
    assert_eq!(lost.attributes["http.response.status_code"], "404");
    for span in &received.spans {
        let all = format!("{span:?}");
        assert!(!all.contains("chosen-by-client"), "{all}");
        assert!(!all.contains("secret-path"), "{all}");
    }
}

/// A collector that is down costs the spans, never a request: the server
/// answers as fast as without one, and exits cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_that_is_down_slows_no_request() {
    // A port nothing listens on: bound, then let go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let endpoint = format!("http://127.0.0.1:{port}");
    let server = support::serve_with(
        &dir.path().join("data"),
        None,
        &[("APIOME_OTLP_ENDPOINT", endpoint.as_str())],
    );
    let http = reqwest::Client::new();
    let started = std::time::Instant::now();
    for _ in 0..20 {
        let ok = http
            .get(format!("{}/healthz", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200);
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    server.terminate();
}
