//! Webhook calls to companies: which URLs are acceptable, the per-company
//! signing secret, the signature, and the worker that drains the outbox.
//!
//! Each call is a `POST` of the JSON event with
//! `Apiome-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`
//! (the secret is the company's `whsec_…`, used as its UTF-8 bytes),
//! `Apiome-Event-Id` (for de-duplication: a retry carries the same id) and
//! `Apiome-Event`. A 2xx answer delivers it; anything else, a time-out or a
//! refused connection is retried after 1 s, 2 s, 4 s, … up to an hour,
//! [`store::MAX_WEBHOOK_ATTEMPTS`] calls in all. Redirects are not followed.

use std::time::Duration;

use authz::ServerKey;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use store::{Store, WebhookDelivery};
use url::{Host, Url};

use crate::sweeper::Periodic;

/// How often the worker looks for due deliveries.
pub const DELIVERY_INTERVAL: Duration = Duration::from_secs(1);
/// How long one call may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// Deliveries one worker claims per look.
const CLAIM_BATCH: u64 = 32;
/// The longest webhook URL accepted.
pub const MAX_WEBHOOK_URL: usize = 2048;

/// Checks a webhook URL: `https://` to a named or public host; `http://`
/// or `https://` to this machine only when `allow_loopback` (development
/// and tests). Never credentials or a fragment in the URL.
pub fn check_url(text: &str, allow_loopback: bool) -> Result<Url, String> {
    if text.len() > MAX_WEBHOOK_URL {
        return Err(format!(
            "a webhook URL has at most {MAX_WEBHOOK_URL} characters"
        ));
    }
    let url = Url::parse(text).map_err(|e| format!("{text:?} is not a URL: {e}"))?;
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        return Err("a webhook URL has no user, password or #fragment".to_owned());
    }
    let loopback = match url.host() {
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => return Err("a webhook URL needs a host".to_owned()),
    };
    let private = match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_private() || ip.is_link_local() || ip.is_unspecified(),
        Some(Host::Ipv6(ip)) => ip.is_unspecified() || (ip.segments()[0] & 0xfe00) == 0xfc00,
        _ => false,
    };
    match (url.scheme(), loopback) {
        (_, true) if !allow_loopback => Err(
            "a webhook URL may not point at this server's own machine (set APIOME_WEBHOOK_ALLOW_LOOPBACK for development)"
                .to_owned(),
        ),
        ("http" | "https", true) => Ok(url),
        ("https", false) if private => {
            Err("a webhook URL may not point at a private network address".to_owned())
        }
        ("https", false) => Ok(url),
        _ => Err("a webhook URL must use https://".to_owned()),
    }
}

/// The company's webhook signing secret, derived from the server's key (so
/// nothing more is stored): `whsec_` and 43 characters.
pub fn secret(server_key: &ServerKey, company: &consent_policy::CompanyId) -> String {
    let key = server_key
        .derive("apiome webhook signing")
        .derive(company.as_str());
    format!("whsec_{}", key.to_text())
}

/// The `Apiome-Signature` header value for `body` sent at `unix_secs`.
pub fn signature(secret: &str, unix_secs: i64, body: &[u8]) -> String {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(unix_secs.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "t={unix_secs},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// Makes one call; `Ok` on a 2xx answer.
async fn call(
    http: &reqwest::Client,
    server_key: &ServerKey,
    delivery: &WebhookDelivery,
) -> Result<(), String> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let secret = secret(server_key, &delivery.company_id);
    let event = serde_json::from_str::<serde_json::Value>(&delivery.payload)
        .ok()
        .and_then(|v| v["type"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let response = http
        .post(&delivery.url)
        .header("content-type", "application/json")
        .header("apiome-event-id", &delivery.id)
        .header("apiome-event", event)
        .header(
            "apiome-signature",
            signature(&secret, now, delivery.payload.as_bytes()),
        )
        .body(delivery.payload.clone())
        .send()
        .await
        .map_err(|e| format!("call failed: {e}"))?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("answered HTTP {}", status.as_u16()))
    }
}

/// Drains the outbox every [`DELIVERY_INTERVAL`]: claims due deliveries,
/// calls them concurrently, records each outcome.
///
/// # Errors
/// When no HTTP client can be built (no TLS roots on this machine).
pub fn spawn_delivery_worker(
    store: Store,
    server_key: ServerKey,
) -> Result<Periodic, reqwest::Error> {
    let http = reqwest::Client::builder()
        .timeout(CALL_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("apiome-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()?;
    Ok(Periodic::spawn(DELIVERY_INTERVAL, move || {
        let store = store.clone();
        let server_key = server_key.clone();
        let http = http.clone();
        async move {
            let claimed = match store.claim_webhooks(CLAIM_BATCH).await {
                Ok(claimed) => claimed,
                Err(e) => {
                    tracing::warn!(error = %e, "claiming webhook deliveries");
                    return;
                }
            };
            let mut calls = tokio::task::JoinSet::new();
            for delivery in claimed {
                let (store, http, key) = (store.clone(), http.clone(), server_key.clone());
                calls.spawn(async move {
                    let outcome = call(&http, &key, &delivery).await;
                    if let Err(error) = &outcome {
                        tracing::info!(
                            delivery = %delivery.id, company = %delivery.company_id,
                            attempt = delivery.attempts + 1, %error, "webhook call failed"
                        );
                    }
                    if let Err(e) = store.record_webhook_attempt(&delivery, outcome).await {
                        tracing::warn!(error = %e, "recording a webhook call");
                    }
                });
            }
            while calls.join_next().await.is_some() {}
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_elsewhere_is_accepted_and_loopback_only_when_allowed() {
        assert!(check_url("https://acme.example/hooks/apiome", false).is_ok());
        assert!(check_url("https://203.0.113.7/hook", false).is_ok());
        for local in [
            "http://localhost:8000/hook",
            "http://127.0.0.1:9/hook",
            "https://[::1]/hook",
        ] {
            assert!(check_url(local, false).is_err(), "{local}");
            assert!(check_url(local, true).is_ok(), "{local}");
        }
    }

    #[test]
    fn bad_webhook_urls_say_why() {
        for (url, why) in [
            ("http://acme.example/hook", "https"),
            ("ftp://acme.example/hook", "https"),
            ("https://user:pw@acme.example/hook", "password"),
            ("https://acme.example/hook#x", "fragment"),
            ("https://10.1.2.3/hook", "private"),
            ("https://192.168.0.1/hook", "private"),
            ("https://[fd00::1]/hook", "private"),
            ("not a url", "not a URL"),
        ] {
            let error = check_url(url, false).unwrap_err();
            assert!(error.contains(why), "{url}: {error}");
        }
        let long = format!("https://acme.example/{}", "a".repeat(MAX_WEBHOOK_URL));
        assert!(check_url(&long, false).unwrap_err().contains("at most"));
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_time_dot_body() {
        // Computed independently: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
        assert_eq!(
            signature("whsec_test", 1_700_000_000, br#"{"a":1}"#),
            "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
    }

    #[test]
    fn each_company_has_its_own_secret() {
        let key = ServerKey::from_bytes([7; 32]);
        let a = secret(&key, &consent_policy::CompanyId::parse("acme").unwrap());
        let b = secret(&key, &consent_policy::CompanyId::parse("globex").unwrap());
        assert!(a.starts_with("whsec_") && a.len() == 49, "{a}");
        assert_ne!(a, b);
        assert_eq!(
            a,
            secret(&key, &consent_policy::CompanyId::parse("acme").unwrap())
        );
    }
}
