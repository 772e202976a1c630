//! `X-Request-Id`: one id per request, on its response and in every log
//! line written while it is served.
//!
//! A proxy the operator trusts (`--trusted-proxy`) may have named the
//! request already, and then its id is kept so that the proxy's log and
//! ours meet. From anyone else the header is ignored: a client choosing
//! its own id could make its requests look like someone else's in the
//! logs. An id is made fresh (128 random bits, hex) whenever none is
//! taken.
//!
//! The id lives in the `request` span that wraps the whole request, so
//! `tracing` writes it on each event inside, the access line included, and
//! the span exported over OTLP (see [`crate::traces`]) carries it as its
//! `request_id` attribute.

use std::net::IpAddr;
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;
use opentelemetry::trace::TraceContextExt as _;
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// The header, in and out.
pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The longest id taken from a proxy; a longer one is replaced, not cut.
pub const MAX_LEN: usize = 128;

/// A request's id: 1 to [`MAX_LEN`] characters that are safe in a header
/// and in a log line (letters, digits and `-_.:/+=@`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// An id a proxy sent, if it is one we can repeat safely.
    pub fn parse(text: &str) -> Option<RequestId> {
        let sound = !text.is_empty()
            && text.len() <= MAX_LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=@".contains(&b));
        sound.then(|| RequestId(text.to_owned()))
    }

    /// A new id from 16 random bytes.
    pub fn fresh(random: [u8; 16]) -> RequestId {
        RequestId(hex::encode(random))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The id `offered` by a request from `peer`, kept only when `peer` is a
/// trusted proxy and the id is sound; `None` means make one.
pub fn from_proxy(
    peer: Option<IpAddr>,
    offered: Option<&HeaderValue>,
    trusted: &[IpAddr],
) -> Option<RequestId> {
    let from_proxy = peer.is_some_and(|peer| trusted.contains(&peer));
    offered
        .filter(|_| from_proxy)
        .and_then(|value| value.to_str().ok())
        .and_then(RequestId::parse)
}

/// The proxies whose `X-Request-Id` is believed (app data for
/// [`middleware`]).
#[derive(Clone)]
pub struct TrustedProxies(pub Arc<[IpAddr]>);

fn random_id() -> Result<RequestId, getrandom::Error> {
    let mut bytes = [0_u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(RequestId::fresh(bytes))
}

/// Names the request, serves it inside a `request` span carrying the id,
/// and puts the id on the response (errors included).
pub async fn middleware(
    trusted: web::Data<TrustedProxies>,
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let peer = request.peer_addr().map(|address| address.ip());
    let id = match from_proxy(peer, request.headers().get(&HEADER), &trusted.0) {
        Some(id) => id,
        // Without the system's randomness nothing else would be safe to
        // serve either (sessions, codes, tokens).
        None => random_id().map_err(actix_web::error::ErrorServiceUnavailable)?,
    };
    let method = crate::metrics::method_label(request.method());
    // Named (`GET /healthz`) and labelled as OpenTelemetry's HTTP
    // conventions have it once the route is known.
    let span = tracing::info_span!(
        "request",
        request_id = %id.as_str(),
        http.request.method = method,
        http.route = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
    );
    let mut response = next.call(request).instrument(span.clone()).await?;
    // The pattern (`/v1/me/grants/{id}`), never the path a client sent.
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    span.record("http.route", route.as_str());
    span.record("http.response.status_code", response.status().as_u16());
    // The exported span is started once entered, so its name is changed
    // on it, not through a field (a no-op when no traces are exported).
    span.context()
        .span()
        .update_name(format!("{method} {route}"));
    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
        response.headers_mut().insert(HEADER, value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test steps")]

    use super::*;

    const PROXY: &str = "10.0.0.2";

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_trusted_proxy_names_the_request() {
        let offered = HeaderValue::from_static("lb-1234");
        let id = from_proxy(Some(ip(PROXY)), Some(&offered), &[ip(PROXY)]);
        assert_eq!(id.unwrap().as_str(), "lb-1234");
    }

    #[test]
    fn anyone_else_is_not_believed_whatever_they_send() {
        let offered = HeaderValue::from_static("chosen-by-client");
        let id = from_proxy(Some(ip("203.0.113.9")), Some(&offered), &[ip(PROXY)]);
        assert_eq!(id, None);
        assert_eq!(from_proxy(None, Some(&offered), &[ip(PROXY)]), None);
        assert_eq!(from_proxy(Some(ip(PROXY)), Some(&offered), &[]), None);
    }

    #[test]
    fn an_unsafe_or_long_id_from_a_proxy_is_not_repeated() {
        let long = "a".repeat(MAX_LEN + 1);
        for bad in [
            "",
            "two words",
            "line\tbreak",
            "ünïcode",
            "a\"b",
            long.as_str(),
        ] {
            if let Ok(offered) = HeaderValue::from_str(bad) {
                let id = from_proxy(Some(ip(PROXY)), Some(&offered), &[ip(PROXY)]);
                assert_eq!(id, None, "{bad:?}");
            }
        }
        assert!(RequestId::parse(&"a".repeat(MAX_LEN)).is_some());
    }

    #[test]
    fn fresh_ids_are_32_hex_digits_and_differ() {
        let id = random_id().unwrap();
        assert_eq!(id.as_str().len(), 32);
        assert!(id.as_str().bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(random_id().unwrap(), id);
    }

    /// Every log line written while serving carries the id.
    #[actix_web::test]
    async fn log_lines_inside_the_request_carry_its_id() {
        use std::sync::Mutex;

        use actix_web::{App, HttpResponse, middleware::from_fn, test};

        #[derive(Clone, Default)]
        struct Lines(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Lines {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);

        let trusted = TrustedProxies(Arc::from([ip("127.0.0.1")]));
        let app = test::init_service(
            App::new()
                .app_data(web::Data::new(trusted))
                .wrap(from_fn(middleware))
                .route(
                    "/",
                    web::get().to(|| async {
                        tracing::info!("handling");
                        HttpResponse::Ok().finish()
                    }),
                ),
        )
        .await;
        let request = test::TestRequest::get()
            .uri("/")
            .peer_addr("127.0.0.1:9".parse().unwrap())
            .insert_header((HEADER, "from-the-proxy"))
            .to_request();
        let response = test::call_service(&app, request).await;
        assert_eq!(response.headers().get(&HEADER).unwrap(), "from-the-proxy");
        let written = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        let line = written.lines().find(|l| l.contains("handling")).unwrap();
        assert!(line.contains("request_id=from-the-proxy"), "{line}");
    }
}
