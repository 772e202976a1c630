//! Traces over OTLP/HTTP (protobuf) to an OpenTelemetry collector, off
//! unless an endpoint is configured (`--otlp-endpoint`, `otlp_endpoint`,
//! `APIOME_OTLP_ENDPOINT`).
//!
//! Every `tracing` span becomes an OpenTelemetry span: the `request` span
//! that wraps each request (named `{method} {route}`, with `request_id`,
//! the same id as the response's `X-Request-Id` and the log lines) and
//! whatever spans are opened inside it. Spans leave in batches from the
//! SDK's own thread; a collector that is down costs dropped spans, never a
//! slower request.
//!
//! The HTTP client is the `reqwest` the server already has for webhooks:
//! `opentelemetry-otlp`'s own clients would bring a second `reqwest` (0.13)
//! or a second TLS setup. The batch thread is not a Tokio thread, so each
//! export is spawned onto the server's runtime and awaited from there.

use std::fmt;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Protocol, WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use url::Url;

/// How long one export may take before it is given up.
const EXPORT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The path traces are posted to under the collector's OTLP/HTTP base URL.
const TRACES_PATH: &str = "v1/traces";

/// The traces' URL for a configured endpoint: a base URL (the collector's
/// `http://host:4318`) gets `/v1/traces`, as `OTEL_EXPORTER_OTLP_ENDPOINT`
/// does; a URL with a path is used as it is.
pub fn traces_url(endpoint: &Url) -> Url {
    if endpoint.path() == "/" || endpoint.path().is_empty() {
        let mut url = endpoint.clone();
        url.set_path(TRACES_PATH);
        url
    } else {
        endpoint.clone()
    }
}

/// Starts exporting spans to `endpoint`; the provider must be shut down
/// (which sends what is still batched) before the runtime goes.
pub fn provider(
    endpoint: &Url,
    runtime: tokio::runtime::Handle,
) -> Result<SdkTracerProvider, TracesError> {
    let client = reqwest::Client::builder()
        .timeout(EXPORT_TIMEOUT)
        .build()
        .map_err(|e| TracesError(e.to_string()))?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(OnRuntime { client, runtime })
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(traces_url(endpoint).as_str())
        .with_timeout(EXPORT_TIMEOUT)
        .build()
        .map_err(|e| TracesError(e.to_string()))?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name("apiome").build())
        .build())
}

/// The tracer the `tracing` layer records into.
pub fn tracer(provider: &SdkTracerProvider) -> opentelemetry_sdk::trace::Tracer {
    provider.tracer("apiome")
}

/// The exporter cannot be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot export traces: {0} (check --otlp-endpoint / APIOME_OTLP_ENDPOINT)")]
pub struct TracesError(String);

/// `reqwest` on the server's Tokio runtime, for the exporter's thread.
struct OnRuntime {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

impl fmt::Debug for OnRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OnRuntime")
    }
}

#[async_trait::async_trait]
impl HttpClient for OnRuntime {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let (parts, body) = request.into_parts();
        let call = self
            .client
            .request(parts.method, parts.uri.to_string())
            .headers(parts.headers)
            .body(body);
        // `send` itself arms the timeout, which needs the runtime too.
        let answer = self.runtime.spawn(async move {
            let response = call.send().await?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, headers, body))
        });
        let (status, headers, body) = answer.await??;
        let mut response = Response::builder().status(status);
        if let Some(h) = response.headers_mut() {
            *h = headers;
        }
        Ok(response.body(body)?)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test")]

    use super::*;

    #[test]
    fn a_base_url_gets_the_traces_path_and_a_full_one_is_kept() {
        let url = |s: &str| Url::parse(s).unwrap();
        assert_eq!(
            traces_url(&url("http://collector:4318")).as_str(),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            traces_url(&url("http://collector:4318/")).as_str(),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            traces_url(&url("https://otel.example/custom/traces")).as_str(),
            "https://otel.example/custom/traces"
        );
    }
}
