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

use std::net::{IpAddr, SocketAddr};
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
        Some(Host::Ipv4(ip)) => is_private(IpAddr::V4(ip)),
        Some(Host::Ipv6(ip)) => is_private(IpAddr::V6(ip)),
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

/// An address no webhook may reach from outside development: private,
/// link-local, unique-local, unspecified, carrier-grade NAT, or (as IPv4
/// mapped into IPv6) any of those. Loopback is judged separately.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_private(IpAddr::V4(v4)) || v4.is_loopback(),
            None => {
                v6.is_unspecified()
                    || (v6.segments()[0] & 0xfe00) == 0xfc00
                    || (v6.segments()[0] & 0xffc0) == 0xfe80
            }
        },
    }
}

/// Resolves a webhook's host and checks every address it names, so a
/// public-looking name cannot lead to a private network (SSRF through DNS);
/// the call then goes to the checked address, not to a second lookup.
async fn checked_address(
    url: &Url,
    allow_loopback: bool,
) -> Result<Option<(String, SocketAddr)>, String> {
    let Some(Host::Domain(name)) = url.host() else {
        return Ok(None);
    };
    let port = url.port_or_known_default().unwrap_or(443);
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((name, port))
        .await
        .map_err(|e| format!("cannot resolve {name}: {e}"))?
        .collect();
    let Some(first) = addresses.first().copied() else {
        return Err(format!("{name} resolves to no address"));
    };
    for address in &addresses {
        let ip = address.ip();
        if ip.is_loopback() && !allow_loopback {
            return Err(format!("{name} resolves to this machine ({ip})"));
        }
        if is_private(ip) && !(allow_loopback && ip.is_loopback()) {
            return Err(format!("{name} resolves to a private address ({ip})"));
        }
    }
    Ok(Some((name.to_owned(), first)))
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
    allow_loopback: bool,
) -> Result<(), String> {
    let url = check_url(&delivery.url, allow_loopback)?;
    let pinned;
    let http = match checked_address(&url, allow_loopback).await? {
        None => http,
        Some((name, address)) => {
            pinned = client_builder()
                .resolve(&name, address)
                .build()
                .map_err(|e| format!("no HTTP client: {e}"))?;
            &pinned
        }
    };
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

fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .timeout(CALL_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("apiome-webhooks/", env!("CARGO_PKG_VERSION")))
}

/// Drains the outbox every [`DELIVERY_INTERVAL`]: claims due deliveries,
/// calls them concurrently, records each outcome.
///
/// # Errors
/// When no HTTP client can be built (no TLS roots on this machine).
pub fn spawn_delivery_worker(
    store: Store,
    server_key: ServerKey,
    allow_loopback: bool,
) -> Result<Periodic, reqwest::Error> {
    let http = client_builder().build()?;
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
                    let outcome = call(&http, &key, &delivery, allow_loopback).await;
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

    #[test]
    fn private_addresses_are_known_in_every_form() {
        for private in [
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "fd00::1",
            "fe80::1",
            "::",
            "::ffff:10.1.2.3",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(is_private(private.parse().unwrap()), "{private}");
        }
        for public in [
            "203.0.113.7",
            "8.8.8.8",
            "2001:db8::1",
            "100.128.0.1",
            "::ffff:203.0.113.7",
        ] {
            assert!(!is_private(public.parse().unwrap()), "{public}");
        }
        // Literal forms are refused when the URL is set, too.
        for url in [
            "https://[fe80::1]/h",
            "https://[::ffff:10.0.0.1]/h",
            "https://169.254.169.254/latest",
        ] {
            assert!(check_url(url, false).is_err(), "{url}");
        }
    }

    #[tokio::test]
    async fn names_are_resolved_and_checked_before_a_call() {
        let url = Url::parse("https://localhost:8443/hook").unwrap();
        let refused = checked_address(&url, false).await.unwrap_err();
        assert!(refused.contains("this machine"), "{refused}");
        let (name, address) = checked_address(&url, true).await.unwrap().unwrap();
        assert_eq!(name, "localhost");
        assert!(address.ip().is_loopback());
        assert_eq!(address.port(), 8443);
        let literal = Url::parse("https://203.0.113.7/hook").unwrap();
        assert_eq!(checked_address(&literal, false).await.unwrap(), None);
    }
}
