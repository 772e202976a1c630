//! Webhook calls to companies: which URLs are acceptable, the signature,
//! and the worker that drains the outbox.
//!
//! Each call is a `POST` of the JSON event signed as Standard Webhooks
//! (<https://www.standardwebhooks.com>) asks, so a company verifies it with
//! any of that project's libraries: `webhook-id` (the event id; a retry
//! carries the same one, for de-duplication), `webhook-timestamp` (unix
//! seconds) and `webhook-signature`, a space-separated list of
//! `v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>`, one for each
//! secret that signs now: the company's current secret and, for 24 hours
//! after a rotation, the one it replaced. The key is the base64 after the
//! secret's `whsec_`. `Apiome-Event` names the event. A 2xx answer
//! delivers it; anything else, a time-out or a refused connection is
//! retried after 5 s, 5 min, 30 min, 2 h, 5 h, then every 10 h, for three
//! days ([`store::MAX_WEBHOOK_ATTEMPTS`] calls in all). Each call goes in
//! the delivery log with the status answered and its latency. Redirects
//! are not followed.
//!
//! A CIBA ping (a delivery with a `bearer`) rides the same outbox, lease,
//! retries and destination checks, but is the call CIBA Core §10.2 asks
//! for: `POST {"auth_req_id": ...}` with `Authorization: Bearer
//! <client_notification_token>`, no webhook signature.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use store::{Store, WebhookDelivery, WebhookSecret};
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

/// Checks a webhook URL's shape: `https://` (or, only when
/// `allow_loopback`, `http://` to this machine), no credentials or
/// fragment, at most [`MAX_WEBHOOK_URL`] characters, and an address
/// literal that [`refusal`] accepts. A host name is checked by
/// [`check_destination`], which resolves it.
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
        Some(Host::Domain(name)) => is_localhost(name),
        Some(Host::Ipv4(ip)) => check_address(IpAddr::V4(ip), allow_loopback)?,
        Some(Host::Ipv6(ip)) => check_address(IpAddr::V6(ip), allow_loopback)?,
        None => return Err("a webhook URL needs a host".to_owned()),
    };
    match (url.scheme(), loopback) {
        (_, true) if !allow_loopback => Err(REFUSED_LOOPBACK.to_owned()),
        ("http" | "https", true) | ("https", false) => Ok(url),
        _ => Err("a webhook URL must use https://".to_owned()),
    }
}

const REFUSED_LOOPBACK: &str =
    "a webhook URL may not point at this server's own machine (loopback)";

/// `localhost` and its subdomains resolve to this machine (RFC 6761).
fn is_localhost(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// `Ok(true)` for a loopback address allowed by `allow_loopback`,
/// `Ok(false)` for a global address, `Err` for every other.
fn check_address(ip: IpAddr, allow_loopback: bool) -> Result<bool, String> {
    if allow_loopback && is_plain_loopback(ip) {
        return Ok(true);
    }
    match refusal(ip) {
        None => Ok(false),
        Some(class) => Err(format!(
            "a webhook may not be called at {ip}: {class}, not a global address"
        )),
    }
}

/// `127.0.0.0/8` or `::1` — not their IPv4-mapped forms, which only a
/// smuggler writes.
fn is_plain_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6 == Ipv6Addr::LOCALHOST,
    }
}

/// Why an address may not be called by a webhook, or `None` when it is a
/// global unicast address. One complete check, an allow-list: IPv6 must be
/// in global unicast `2000::/3` and outside every special-purpose block of
/// the IANA registries (RFC 6890 and its updates); IPv4 outside every
/// special-purpose block. The IPv6 forms that carry an IPv4 address
/// (mapped, compatible, NAT64, 6to4, Teredo) are refused whatever they
/// carry, and the reason names what the embedded IPv4 address is when that
/// is not global either, so a log says `NAT64 of loopback`, not only
/// `NAT64`.
pub fn refusal(ip: IpAddr) -> Option<String> {
    match ip {
        IpAddr::V4(v4) => ipv4_refusal(v4).map(str::to_owned),
        IpAddr::V6(v6) => ipv6_refusal(v6),
    }
}

/// `Some(class)` for every IPv4 address that is not global unicast.
fn ipv4_refusal(ip: Ipv4Addr) -> Option<&'static str> {
    let bits = u32::from(ip);
    let within = |prefix: [u8; 4], len: u32| {
        let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
        bits & mask == u32::from(Ipv4Addr::from(prefix)) & mask
    };
    // Most specific first: the broadcast address sits inside 240.0.0.0/4.
    const CLASSES: [([u8; 4], u32, &str); 16] = [
        ([255, 255, 255, 255], 32, "broadcast"),
        ([0, 0, 0, 0], 8, "\"this network\" (0.0.0.0/8)"),
        ([10, 0, 0, 0], 8, "private (10/8)"),
        ([100, 64, 0, 0], 10, "carrier-grade NAT (100.64/10)"),
        ([127, 0, 0, 0], 8, "loopback"),
        ([169, 254, 0, 0], 16, "link-local"),
        ([172, 16, 0, 0], 12, "private (172.16/12)"),
        ([192, 0, 0, 0], 24, "IETF protocol assignments (192.0.0/24)"),
        ([192, 0, 2, 0], 24, "documentation (192.0.2/24)"),
        ([192, 88, 99, 0], 24, "6to4 relay anycast (192.88.99/24)"),
        ([192, 168, 0, 0], 16, "private (192.168/16)"),
        ([198, 18, 0, 0], 15, "benchmarking (198.18/15)"),
        ([198, 51, 100, 0], 24, "documentation (198.51.100/24)"),
        ([203, 0, 113, 0], 24, "documentation (203.0.113/24)"),
        ([224, 0, 0, 0], 4, "multicast"),
        ([240, 0, 0, 0], 4, "reserved (240/4)"),
    ];
    CLASSES
        .iter()
        .find(|(prefix, len, _)| within(*prefix, *len))
        .map(|(_, _, class)| *class)
}

/// `Some(reason)` for every IPv6 address that is not global unicast.
fn ipv6_refusal(ip: Ipv6Addr) -> Option<String> {
    let bits = u128::from(ip);
    let within = |prefix: u128, len: u32| {
        let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
        bits & mask == prefix & mask
    };
    let low32 = Ipv4Addr::from(u32::try_from(bits & 0xffff_ffff).unwrap_or(0));
    // 6to4 carries the IPv4 address in bits 16..48; Teredo carries the
    // client's, inverted, in the last 32 bits.
    let sixtofour = Ipv4Addr::from(u32::try_from((bits >> 80) & 0xffff_ffff).unwrap_or(0));
    let teredo = Ipv4Addr::from(!u32::try_from(bits & 0xffff_ffff).unwrap_or(0));
    let carrying = |class: &str, v4: Ipv4Addr| match ipv4_refusal(v4) {
        Some(inner) => format!("{class} of {inner} {v4}"),
        None => format!("{class} (of {v4})"),
    };
    if ip.is_unspecified() {
        return Some("unspecified (::)".to_owned());
    }
    if ip.is_loopback() {
        return Some("loopback".to_owned());
    }
    if within(0, 96) {
        return Some(carrying("IPv4-compatible", low32));
    }
    if within(0xffff_0000_0000, 96) {
        return Some(carrying("IPv4-mapped", low32));
    }
    if within(0x0064_ff9b << 96, 96) {
        return Some(carrying("NAT64 (64:ff9b::/96)", low32));
    }
    if within(0x0064_ff9b_0001 << 80, 48) {
        return Some(carrying("local-use NAT64 (64:ff9b:1::/48)", low32));
    }
    if within(0x2002 << 112, 16) {
        return Some(carrying("6to4 (2002::/16)", sixtofour));
    }
    if within(0x2001 << 112, 32) {
        return Some(carrying("Teredo (2001::/32)", teredo));
    }
    const CLASSES: [(u128, u32, &str); 9] = [
        (0x0100 << 112, 64, "discard-only (100::/64)"),
        (0x2001_0002 << 96, 48, "benchmarking (2001:2::/48)"),
        (0x2001 << 112, 23, "IETF protocol assignments (2001::/23)"),
        (0x2001_0db8 << 96, 32, "documentation (2001:db8::/32)"),
        (0x3fff << 112, 20, "documentation (3fff::/20)"),
        (0x5f00 << 112, 16, "segment routing (5f00::/16)"),
        (0xfc00 << 112, 7, "unique-local (fc00::/7)"),
        (0xfe80 << 112, 10, "link-local (fe80::/10)"),
        (0xff00 << 112, 8, "multicast"),
    ];
    if let Some((_, _, class)) = CLASSES.iter().find(|(p, len, _)| within(*p, *len)) {
        return Some((*class).to_owned());
    }
    if !within(0x2000 << 112, 3) {
        return Some("not global unicast (outside 2000::/3)".to_owned());
    }
    None
}

/// Where a checked webhook call goes: the URL, and for a host name the
/// one address the call must connect to (checked, so that a second DNS
/// answer cannot lead elsewhere: DNS rebinding).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destination {
    /// The URL.
    pub url: Url,
    /// The host name and the checked address to connect to it at; `None`
    /// for an address literal (connected to as written).
    pub pinned: Option<(String, SocketAddr)>,
}

/// The whole check, at registration and again before every call: the
/// URL's shape ([`check_url`]), then every address its host name resolves
/// to ([`refusal`]; one refused address refuses the URL, since a resolver
/// may hand out any of them).
pub async fn check_destination(text: &str, allow_loopback: bool) -> Result<Destination, String> {
    let url = check_url(text, allow_loopback)?;
    let Some(Host::Domain(name)) = url.host() else {
        return Ok(Destination { url, pinned: None });
    };
    let port = url.port_or_known_default().unwrap_or(443);
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((name, port))
        .await
        .map_err(|e| format!("cannot resolve {name}: {e}"))?
        .take(MAX_ADDRESSES_CHECKED)
        .collect();
    let Some(first) = addresses.first().copied() else {
        return Err(format!("{name} resolves to no address"));
    };
    for address in &addresses {
        check_address(address.ip(), allow_loopback)
            .map_err(|why| format!("{name} resolves to a refused address: {why}"))?;
    }
    let pinned = Some((name.to_owned(), first));
    Ok(Destination { url, pinned })
}

/// Addresses of one name checked (a resolver answer is rarely longer).
const MAX_ADDRESSES_CHECKED: usize = 64;

/// The `webhook-signature` header value for the event `id` sent at
/// `unix_secs`: one `v1,<base64>` per signing secret, space-separated.
pub fn signature(secrets: &[WebhookSecret], id: &str, unix_secs: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .map(|secret| {
            let mut mac =
                <Hmac<Sha256> as Mac>::new_from_slice(&secret.key()).expect("HMAC takes any key");
            mac.update(id.as_bytes());
            mac.update(b".");
            mac.update(unix_secs.to_string().as_bytes());
            mac.update(b".");
            mac.update(body);
            format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Makes one call and says what it came to: delivered on a 2xx answer.
async fn call(
    http: &reqwest::Client,
    store: &Store,
    delivery: &WebhookDelivery,
    allow_loopback: bool,
) -> store::WebhookCall {
    let started = std::time::Instant::now();
    let answered = send(http, store, delivery, allow_loopback).await;
    let latency_ms = u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX);
    match answered {
        Ok(status) if status.is_success() => store::WebhookCall {
            status: Some(status.as_u16()),
            latency_ms,
            error: None,
        },
        Ok(status) => store::WebhookCall {
            status: Some(status.as_u16()),
            latency_ms,
            error: Some(format!("answered HTTP {}", status.as_u16())),
        },
        Err(error) => store::WebhookCall {
            status: None,
            latency_ms,
            error: Some(error),
        },
    }
}

/// Sends the signed call; the status answered, or why none came.
async fn send(
    http: &reqwest::Client,
    store: &Store,
    delivery: &WebhookDelivery,
    allow_loopback: bool,
) -> Result<reqwest::StatusCode, String> {
    // Checked again at each call: the name may resolve elsewhere now.
    let destination = check_destination(&delivery.url, allow_loopback).await?;
    let pinned;
    let http = match destination.pinned {
        None => http,
        Some((name, address)) => {
            pinned = client_builder()
                .resolve(&name, address)
                .build()
                .map_err(|e| format!("no HTTP client: {e}"))?;
            &pinned
        }
    };
    if let Some(token) = &delivery.bearer {
        let response = http
            .post(destination.url)
            .header("content-type", "application/json")
            .bearer_auth(token)
            .body(delivery.payload.clone())
            .send()
            .await
            .map_err(|e| format!("call failed: {e}"))?;
        return Ok(response.status());
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let secrets = broker::webhook::signing_secrets(store, &delivery.company_id)
        .await
        .map_err(|e| format!("no signing secret: {e}"))?;
    let event = serde_json::from_str::<serde_json::Value>(&delivery.payload)
        .ok()
        .and_then(|v| v["type"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let response = http
        .post(destination.url)
        .header("content-type", "application/json")
        .header("webhook-id", &delivery.id)
        .header("webhook-timestamp", now.to_string())
        .header(
            "webhook-signature",
            signature(&secrets, &delivery.id, now, delivery.payload.as_bytes()),
        )
        .header("apiome-event", event)
        .body(delivery.payload.clone())
        .send()
        .await
        .map_err(|e| format!("call failed: {e}"))?;
    Ok(response.status())
}

/// No proxy, whatever `HTTP(S)_PROXY` says: a proxy would make the
/// connection (to an address this server never checked), and would see
/// the signed payloads.
fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .no_proxy()
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
    allow_loopback: bool,
) -> Result<Periodic, reqwest::Error> {
    let http = client_builder().build()?;
    Ok(Periodic::spawn(DELIVERY_INTERVAL, move || {
        let store = store.clone();
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
                let (store, http) = (store.clone(), http.clone());
                calls.spawn(async move {
                    let outcome = call(&http, &store, &delivery, allow_loopback).await;
                    if let Some(error) = &outcome.error {
                        tracing::info!(
                            delivery = %delivery.id, company = %delivery.company_id,
                            attempt = delivery.attempts + 1, %error, "webhook call failed"
                        );
                    }
                    if let Err(e) = store.record_webhook_attempt(&delivery, &outcome).await {
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
        assert!(check_url("https://8.8.8.8/hook", false).is_ok());
        assert!(check_url("https://[2606:4700:4700::1111]/hook", false).is_ok());
        for local in [
            "http://localhost:8000/hook",
            "http://LOCALHOST./hook",
            "https://api.localhost/hook",
            "http://127.0.0.1:9/hook",
            "https://[::1]/hook",
        ] {
            assert!(check_url(local, false).is_err(), "{local}");
            assert!(check_url(local, true).is_ok(), "{local}");
        }
        // The allowance is for plain loopback, nothing else.
        for never in [
            "http://[::ffff:127.0.0.1]/hook",
            "https://10.0.0.1/hook",
            "https://169.254.169.254/latest",
            "http://8.8.8.8/hook",
        ] {
            assert!(check_url(never, true).is_err(), "{never}");
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
            ("https://[fd00::1]/hook", "unique-local"),
            ("https://[64:ff9b::a9fe:a9fe]/hook", "NAT64"),
            ("https://0x7f.1/hook", "loopback"),
            ("https://2130706433/hook", "loopback"),
            ("not a url", "not a URL"),
        ] {
            let error = check_url(url, false).unwrap_err();
            assert!(error.contains(why), "{url}: {error}");
        }
        let long = format!("https://acme.example/{}", "a".repeat(MAX_WEBHOOK_URL));
        assert!(check_url(&long, false).unwrap_err().contains("at most"));
    }

    /// Standard Webhooks' own test vector (from its reference libraries).
    #[test]
    fn the_signature_is_standard_webhooks_v1() {
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            signature(
                std::slice::from_ref(&secret),
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                body
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        // Two secrets sign: both signatures, the first secret's first.
        let other =
            WebhookSecret::parse("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").unwrap();
        let both = signature(
            &[secret, other],
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            body,
        );
        let parts: Vec<&str> = both.split(' ').collect();
        assert_eq!(parts.len(), 2, "{both}");
        assert_eq!(parts[0], "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert!(parts[1].starts_with("v1,") && parts[1] != parts[0]);
    }

    /// Every class of the check, with its edges: the first and last
    /// address of each block is refused, the neighbours outside are not.
    #[test]
    fn every_non_global_class_is_refused_and_global_addresses_pass() {
        let refused: &[(&str, &str)] = &[
            ("0.0.0.0", "this network"),
            ("0.255.255.255", "this network"),
            ("10.0.0.0", "private"),
            ("10.255.255.255", "private"),
            ("100.64.0.0", "carrier-grade NAT"),
            ("100.127.255.255", "carrier-grade NAT"),
            ("127.0.0.1", "loopback"),
            ("127.255.255.254", "loopback"),
            ("169.254.169.254", "link-local"),
            ("172.16.0.0", "private"),
            ("172.31.255.255", "private"),
            ("192.0.0.8", "IETF protocol"),
            ("192.0.2.1", "documentation"),
            ("192.88.99.1", "6to4 relay"),
            ("192.168.0.1", "private"),
            ("198.18.0.0", "benchmarking"),
            ("198.19.255.255", "benchmarking"),
            ("198.51.100.7", "documentation"),
            ("203.0.113.7", "documentation"),
            ("224.0.0.1", "multicast"),
            ("239.255.255.255", "multicast"),
            ("240.0.0.1", "reserved"),
            ("255.255.255.254", "reserved"),
            ("255.255.255.255", "broadcast"),
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("::7f00:1", "IPv4-compatible of loopback"),
            ("::808:808", "IPv4-compatible (of 8.8.8.8)"),
            ("::ffff:127.0.0.1", "IPv4-mapped of loopback"),
            ("::ffff:10.1.2.3", "IPv4-mapped of private"),
            ("::ffff:169.254.169.254", "IPv4-mapped of link-local"),
            ("::ffff:8.8.8.8", "IPv4-mapped (of 8.8.8.8)"),
            ("64:ff9b::7f00:1", "NAT64 (64:ff9b::/96) of loopback"),
            ("64:ff9b::a9fe:a9fe", "NAT64 (64:ff9b::/96) of link-local"),
            ("64:ff9b::808:808", "NAT64 (64:ff9b::/96) (of 8.8.8.8)"),
            ("64:ff9b:1::a00:1", "local-use NAT64"),
            ("64:ff9b:1:ffff::1", "local-use NAT64"),
            ("2002:7f00:1::1", "6to4 (2002::/16) of loopback"),
            ("2002:c0a8:101::1", "6to4 (2002::/16) of private"),
            ("2002:808:808::1", "6to4 (2002::/16) (of 8.8.8.8)"),
            // Teredo: the client's IPv4 inverted in the last 32 bits.
            (
                "2001:0:4136:e378:8000:63bf:80ff:fffe",
                "Teredo (2001::/32) of loopback",
            ),
            ("2001::1", "Teredo"),
            ("2001:2::1", "benchmarking"),
            ("2001:10::1", "IETF protocol assignments"),
            ("2001:1ff:ffff::1", "IETF protocol assignments"),
            ("2001:db8::1", "documentation"),
            ("2001:db8:ffff::1", "documentation"),
            ("3fff::1", "documentation (3fff::/20)"),
            ("3fff:fff::1", "documentation (3fff::/20)"),
            ("100::1", "discard-only"),
            ("5f00::1", "segment routing"),
            ("fc00::1", "unique-local"),
            ("fd12:3456::1", "unique-local"),
            ("fe80::1", "link-local"),
            ("febf::1", "link-local"),
            ("fec0::1", "outside 2000::/3"),
            ("ff02::1", "multicast"),
            ("ff0e::1", "multicast"),
            ("4000::1", "outside 2000::/3"),
            ("1fff:ffff::1", "outside 2000::/3"),
        ];
        for (ip, class) in refused {
            let reason = refusal(ip.parse().unwrap())
                .unwrap_or_else(|| panic!("{ip} is not global but passed"));
            assert!(
                reason.contains(class),
                "{ip}: {reason:?} should say {class:?}"
            );
        }
        for global in [
            "1.1.1.1",
            "8.8.8.8",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.1",
            "192.0.3.0",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "2001:200::1",
            "2001:4860:4860::8888",
            "2606:4700:4700::1111",
            "2a00:1450:4001::1",
            "3ffe:ffff::1",
            "2000::1",
        ] {
            assert_eq!(refusal(global.parse().unwrap()), None, "{global}");
        }
    }

    #[tokio::test]
    async fn names_are_resolved_and_checked_before_a_call() {
        let refused = check_destination("https://localhost:8443/hook", false)
            .await
            .unwrap_err();
        assert!(refused.contains("loopback"), "{refused}");
        let allowed = check_destination("https://localhost:8443/hook", true)
            .await
            .unwrap();
        let (name, address) = allowed.pinned.unwrap();
        assert_eq!(name, "localhost");
        assert!(address.ip().is_loopback());
        assert_eq!(address.port(), 8443);
        let literal = check_destination("https://8.8.8.8/hook", false)
            .await
            .unwrap();
        assert_eq!(literal.pinned, None);
    }
}
