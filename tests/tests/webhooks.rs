//! Webhooks end to end: a company registers a URL, a person decides and
//! revokes, and the company's own little HTTP server on loopback receives
//! signed calls — retried after it fails once — that it can check with
//! nothing but the secret it was given.

#![allow(
    clippy::unwrap_used,
    reason = "test steps: a failed unwrap is a failed test"
)]

use std::time::Duration;

use apiome_tests::{TestApp, app_test};
use hmac::{Hmac, Mac as _};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::mpsc;

/// What each person of these tests shares (`(key, value, bucket)`): under
/// the "ask me" default, a semi-private email.
const SHARES: &[(&str, &str, &str)] = &[("email", EMAIL, "semi_private")];
const EMAIL: &str = "grace.hopper.webhooks@example.org";

/// One call the receiver got.
#[derive(Debug)]
struct Call {
    headers: Vec<(String, String)>,
    body: String,
    /// The status the receiver answered.
    answered: u16,
}

impl Call {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// A company's webhook endpoint on loopback: answers 500 to the first
/// `fail_first` calls and 200 after, and reports every call.
async fn receiver(fail_first: usize) -> (String, mpsc::UnboundedReceiver<Call>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks/apiome", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut seen = 0;
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let Some((headers, body)) = read_request(&mut socket).await else {
                continue;
            };
            seen += 1;
            let answered = if seen <= fail_first { 500 } else { 200 };
            let reply = format!(
                "HTTP/1.1 {answered} {}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                if answered == 200 { "OK" } else { "Oops" }
            );
            let _ = socket.write_all(reply.as_bytes()).await;
            let _ = socket.shutdown().await;
            if tx
                .send(Call {
                    headers,
                    body,
                    answered,
                })
                .is_err()
            {
                return;
            }
        }
    });
    (url, rx)
}

/// Reads one HTTP/1.1 request with a `content-length` body.
async fn read_request(
    socket: &mut tokio::net::TcpStream,
) -> Option<(Vec<(String, String)>, String)> {
    let mut buffer = Vec::new();
    let mut chunk = [0_u8; 4096];
    let head_end = loop {
        let read = socket.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8(buffer[..head_end].to_vec()).ok()?;
    let headers: Vec<(String, String)> = head
        .lines()
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())?;
    while buffer.len() < head_end + length {
        let read = socket.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
    let body = String::from_utf8(buffer[head_end..head_end + length].to_vec()).ok()?;
    Some((headers, body))
}

async fn next_call(calls: &mut mpsc::UnboundedReceiver<Call>) -> Call {
    tokio::time::timeout(Duration::from_secs(30), calls.recv())
        .await
        .expect("a webhook call within 30 s")
        .unwrap()
}

/// The next call announcing `event`, skipping calls about other events.
async fn next_event(calls: &mut mpsc::UnboundedReceiver<Call>, event: &str) -> Call {
    loop {
        let call = next_call(calls).await;
        if call.json()["type"] == event {
            return call;
        }
    }
}

/// Checks a call's Standard Webhooks signature the way a company's library
/// does: `webhook-signature` lists `v1,<base64>` signatures; one must be
/// HMAC-SHA256 of `"<webhook-id>.<webhook-timestamp>.<body>"` under the
/// key the base64 after `whsec_` stands for, compared in constant time,
/// and the timestamp must be fresh.
fn signature_holds(secret: &str, call: &Call) -> bool {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let Some(key) = secret
        .strip_prefix("whsec_")
        .and_then(|k| b64.decode(k).ok())
    else {
        return false;
    };
    let Ok(timestamp) = call.header("webhook-timestamp").parse::<i64>() else {
        return false;
    };
    let age = time::OffsetDateTime::now_utc().unix_timestamp() - timestamp;
    if !(-60..=300).contains(&age) {
        return false;
    }
    let id = call.header("webhook-id");
    call.header("webhook-signature")
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .filter_map(|s| b64.decode(s).ok())
        .any(|signature| {
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
            mac.update(format!("{id}.{timestamp}.").as_bytes());
            mac.update(call.body.as_bytes());
            mac.verify_slice(&signature).is_ok()
        })
}

/// How many signatures a call carries.
fn signatures(call: &Call) -> usize {
    call.header("webhook-signature").split(' ').count()
}

async fn ask(app: &TestApp, token: &str, handle: &str) -> String {
    let response = app
        .http
        .post(app.url("/v1/requests"))
        .bearer_auth(token)
        .json(&json!({
            "person": {"handle": handle},
            "authorization_details": [{"type": "apiome_data", "attributes": ["email"],
                "purpose": "service_provision", "duration": "P30D"}]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "pending", "{body}");
    body["request_id"].as_str().unwrap().to_owned()
}

async fn set_webhook(app: &TestApp, token: &str, url: &str) -> reqwest::Response {
    app.http
        .put(app.url("/v1/webhook"))
        .bearer_auth(token)
        .json(&json!({ "url": url }))
        .send()
        .await
        .unwrap()
}

app_test!(
    decisions_and_revocations_reach_the_company_signed_and_retried,
    |app| {
        let company = app.company_token(&app.company("Acme Hooks").await).await;
        let person = app.person_with("grace_hopper", SHARES).await.token;

        // Only https to a public host, or loopback when the operator allows it.
        for bad in [
            "http://acme.example/hook",
            "https://10.0.0.7/hook",
            "https://user:pw@acme.example/hook",
            "not a url",
        ] {
            let refused = set_webhook(app, &company, bad).await;
            assert_eq!(refused.status(), 400, "{bad}");
            assert_eq!(
                refused.headers()["content-type"],
                "application/problem+json"
            );
        }
        // A person's session token is not a company.
        assert_eq!(
            set_webhook(app, &person, "https://acme.example/hook")
                .await
                .status(),
            401
        );

        let (url, mut calls) = receiver(1).await;
        let set = set_webhook(app, &company, &url).await;
        assert_eq!(set.status(), 200);
        let set: Value = set.json().await.unwrap();
        let secret = set["secret"].as_str().unwrap().to_owned();
        assert!(secret.starts_with("whsec_"), "{secret}");

        // A request is made: the company hears `request.created`. The first
        // call fails, the retry (5 s later) succeeds with the same event,
        // both signed.
        let request_id = ask(app, &company, "grace_hopper").await;
        let first = next_call(&mut calls).await;
        let retry = next_call(&mut calls).await;
        assert_eq!((first.answered, retry.answered), (500, 200));
        assert_eq!(first.header("webhook-id"), retry.header("webhook-id"));
        assert_eq!(first.body, retry.body, "a retry resends the same event");
        assert!(signature_holds(&secret, &first), "{first:?}");
        assert!(signature_holds(&secret, &retry), "{retry:?}");
        assert!(
            !signature_holds("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", &retry),
            "the check can fail"
        );
        assert_eq!(signatures(&retry), 1, "one secret, one signature");
        let created = retry.json();
        assert_eq!(created["type"], "request.created");
        assert_eq!(created["data"]["request_id"], request_id.as_str());
        assert_eq!(created["data"]["status"], "pending");

        // The person approves.
        let approved = app
            .http
            .post(app.url(&format!("/v1/me/requests/{request_id}/approve")))
            .bearer_auth(&person)
            .send()
            .await
            .unwrap();
        assert!(approved.status().is_success(), "{}", approved.status());
        let call = next_call(&mut calls).await;
        assert!(signature_holds(&secret, &call), "{call:?}");
        let event = call.json();
        assert_eq!(event["type"], "request.approved");
        assert_eq!(call.header("apiome-event"), "request.approved");
        assert_eq!(event["id"], call.header("webhook-id"));
        assert_eq!(event["data"]["request_id"], request_id.as_str());
        assert_eq!(event["data"]["status"], "approved");
        assert_eq!(event["data"]["attributes"], json!(["email"]));
        assert!(
            !call.body.contains(EMAIL),
            "a webhook never carries a value"
        );
        let grant_id = event["data"]["grant_id"].as_str().unwrap().to_owned();

        // The person revokes: the company hears at once.
        let revoked = app
            .http
            .delete(app.url(&format!("/v1/me/grants/{grant_id}")))
            .bearer_auth(&person)
            .send()
            .await
            .unwrap();
        assert!(revoked.status().is_success(), "{}", revoked.status());
        let call = next_call(&mut calls).await;
        assert!(signature_holds(&secret, &call));
        let event = call.json();
        assert_eq!(event["type"], "grant.revoked");
        assert_eq!(event["data"]["grant_id"], grant_id.as_str());

        // A decline too.
        let request_id = ask(app, &company, "grace_hopper").await;
        let declined = app
            .http
            .post(app.url(&format!("/v1/me/requests/{request_id}/decline")))
            .bearer_auth(&person)
            .send()
            .await
            .unwrap();
        assert!(declined.status().is_success());
        // created and declined may be called in either order: one batch
        let mut two = [next_call(&mut calls).await, next_call(&mut calls).await];
        two.sort_by_key(|c| c.json()["type"].as_str().unwrap().to_owned());
        assert_eq!(two[0].json()["type"], "request.created");
        let call = &two[1];
        assert_eq!(call.json()["type"], "request.declined");
        assert_eq!(call.json()["data"]["request_id"], request_id.as_str());

        // The company can see what was delivered and how many tries it took
        // (the last outcome is recorded just after the call returns).
        let mut shown = Value::Null;
        for _ in 0..50 {
            shown = app
                .http
                .get(app.url("/v1/webhook"))
                .bearer_auth(&company)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if shown["deliveries"]
                .as_array()
                .unwrap()
                .iter()
                .all(|d| d["state"] == "delivered")
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(shown["url"], url.as_str());
        let deliveries = shown["deliveries"].as_array().unwrap();
        assert_eq!(deliveries.len(), 5, "{shown}");
        assert!(
            deliveries.iter().all(|d| d["state"] == "delivered"),
            "{shown}"
        );
        let created = deliveries.last().unwrap();
        assert_eq!(created["event"], "request.created", "{shown}");
        assert_eq!(created["attempts"], 2, "{shown}");
        assert_eq!(created["last_status"], 200, "{shown}");
        assert!(created["last_latency_ms"].as_u64().is_some(), "{shown}");

        // Its log: both calls, with what the receiver answered.
        let log: Value = app
            .http
            .get(app.url(&format!(
                "/v1/webhook/deliveries/{}",
                created["id"].as_str().unwrap()
            )))
            .bearer_auth(&company)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let statuses: Vec<&Value> = log["calls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| &c["status"])
            .collect();
        assert_eq!(statuses, [&json!(500), &json!(200)], "{log}");
        assert_eq!(log["calls"][0]["error"], "answered HTTP 500", "{log}");

        // Removed: nothing more is queued or called.
        let removed = app
            .http
            .delete(app.url("/v1/webhook"))
            .bearer_auth(&company)
            .send()
            .await
            .unwrap();
        assert!(removed.status().is_success());
        let request_id = ask(app, &company, "grace_hopper").await;
        app.http
            .post(app.url(&format!("/v1/me/requests/{request_id}/decline")))
            .bearer_auth(&person)
            .send()
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert!(
            calls.try_recv().is_err(),
            "no call after the webhook is removed"
        );
    }
);

// A company rotates its secret: the old one goes on signing beside the
// new one (two `v1,` signatures), so a receiver still holding it misses
// nothing; after a second rotation the first no longer verifies. Only the
// company itself can rotate, and a `PUT` of the URL does not change the
// secret.
app_test!(
    a_rotated_secret_signs_beside_the_old_one_until_replaced_again,
    |app| {
        let company = app.company_token(&app.company("Acme Rotates").await).await;
        let person = app.person_with("grace_rotates", SHARES).await.token;
        let (url, mut calls) = receiver(0).await;
        let a: Value = set_webhook(app, &company, &url).await.json().await.unwrap();
        let a = a["secret"].as_str().unwrap().to_owned();
        let again: Value = set_webhook(app, &company, &url).await.json().await.unwrap();
        assert_eq!(again["secret"], a.as_str(), "a PUT keeps the secret");

        let rotate = || {
            app.http
                .post(app.url("/v1/webhook/secret"))
                .bearer_auth(&company)
                .send()
        };
        let rotated = rotate().await.unwrap();
        assert_eq!(rotated.status(), 200);
        let rotated: Value = rotated.json().await.unwrap();
        let b = rotated["secret"].as_str().unwrap().to_owned();
        assert_ne!(a, b);
        let until = time::OffsetDateTime::parse(
            rotated["previous_secret_signs_until"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        let in_a_day = time::OffsetDateTime::now_utc() + time::Duration::hours(24);
        assert!(
            (until - in_a_day).abs() < time::Duration::minutes(1),
            "{until}"
        );

        let decline = |request_id: String| {
            app.http
                .post(app.url(&format!("/v1/me/requests/{request_id}/decline")))
                .bearer_auth(&person)
                .send()
        };
        decline(ask(app, &company, "grace_rotates").await)
            .await
            .unwrap();
        let call = next_event(&mut calls, "request.declined").await;
        assert_eq!(signatures(&call), 2, "{call:?}");
        assert!(signature_holds(&b, &call), "the new secret verifies");
        assert!(signature_holds(&a, &call), "the old one still does");

        let c: Value = rotate().await.unwrap().json().await.unwrap();
        let c = c["secret"].as_str().unwrap().to_owned();
        decline(ask(app, &company, "grace_rotates").await)
            .await
            .unwrap();
        let call = next_event(&mut calls, "request.declined").await;
        assert_eq!(signatures(&call), 2, "{call:?}");
        assert!(signature_holds(&c, &call));
        assert!(signature_holds(&b, &call));
        assert!(!signature_holds(&a, &call), "two rotations ago: stopped");

        // Nobody else rotates it: a person's token is refused, and so is none.
        for token in [Some(person.as_str()), None] {
            let mut request = app.http.post(app.url("/v1/webhook/secret"));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            assert_eq!(request.send().await.unwrap().status(), 401);
        }
    }
);

/// One URL per class of address a webhook must never reach, as IPv4 and
/// IPv6 literals, and names that resolve to this machine.
const INWARD: &[&str] = &[
    "https://127.0.0.1/hook",
    "https://127.1.2.3:8443/hook",
    "https://0x7f.1/hook",
    "https://2130706433/hook",
    "https://localhost/hook",
    "https://LocalHost./hook",
    "https://api.localhost/hook",
    "https://0.0.0.0/hook",
    "https://10.0.0.1/hook",
    "https://172.16.0.1/hook",
    "https://192.168.1.1/hook",
    "https://100.64.0.1/hook",
    "https://169.254.169.254/latest/meta-data",
    "https://192.0.0.8/hook",
    "https://192.0.2.1/hook",
    "https://198.51.100.1/hook",
    "https://203.0.113.1/hook",
    "https://198.18.0.1/hook",
    "https://224.0.0.1/hook",
    "https://240.0.0.1/hook",
    "https://255.255.255.255/hook",
    "https://[::1]/hook",
    "https://[::]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://[::ffff:169.254.169.254]/hook",
    "https://[::7f00:1]/hook",
    "https://[64:ff9b::7f00:1]/hook",
    "https://[64:ff9b::a9fe:a9fe]/hook",
    "https://[64:ff9b:1::a00:1]/hook",
    "https://[2002:7f00:1::1]/hook",
    "https://[2002:a00:1::1]/hook",
    "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/hook",
    "https://[2001:db8::1]/hook",
    "https://[3fff::1]/hook",
    "https://[fc00::1]/hook",
    "https://[fd12:3456::1]/hook",
    "https://[fe80::1]/hook",
    "https://[fec0::1]/hook",
    "https://[ff02::1]/hook",
    "https://[100::1]/hook",
];

/// Under the default configuration (no loopback allowance), a company
/// aiming its webhook at any inward address is refused with a 400 problem
/// and nothing is stored; a global address is accepted.
async fn webhooks_cannot_be_aimed_inward(db: store::testing::TestDb) {
    // What `apiome serve` has unless told otherwise (checked by
    // `config::tests::webhooks_to_this_machine_are_refused_by_default`);
    // only the tests' configuration allows loopback.
    let app = TestApp::spawn_configured(db, |c| c.webhook_allow_loopback = false).await;
    let company = app.company_token(&app.company("Acme Inward").await).await;
    let mut attempts = tokio::task::JoinSet::new();
    for url in INWARD {
        let request = app
            .http
            .put(app.url("/v1/webhook"))
            .bearer_auth(&company)
            .json(&json!({ "url": url }));
        attempts.spawn(async move { (*url, request.send().await.unwrap()) });
    }
    while let Some(attempt) = attempts.join_next().await {
        let (url, refused) = attempt.unwrap();
        assert_eq!(refused.status(), 400, "{url}");
        assert_eq!(
            refused.headers()["content-type"],
            "application/problem+json",
            "{url}"
        );
        let problem: Value = refused.json().await.unwrap();
        assert_eq!(problem["field"], "url", "{url}: {problem}");
    }
    let shown: Value = app
        .http
        .get(app.url("/v1/webhook"))
        .bearer_auth(&company)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown["url"], Value::Null, "nothing stored: {shown}");
    // The check can pass: a global address literal is accepted.
    let global = set_webhook(&app, &company, "https://8.8.8.8/hook").await;
    assert_eq!(global.status(), 200);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_cannot_be_aimed_inward_sqlite() {
    webhooks_cannot_be_aimed_inward(store::testing::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_cannot_be_aimed_inward_postgres() {
    if let Some(db) = store::testing::postgres().await {
        webhooks_cannot_be_aimed_inward(db).await;
    }
}

/// A webhook URL that reached the database some other way (set before the
/// check was as strict, or by an operator) is checked again at each call:
/// under the default configuration a loopback receiver is never called,
/// and the delivery records why.
async fn a_call_is_checked_again_at_delivery(db: store::testing::TestDb) {
    let app = TestApp::spawn_configured(db, |c| c.webhook_allow_loopback = false).await;
    let acme = app.company("Acme Late").await;
    let company = app.company_token(&acme).await;
    let person = app.person_with("grace_late", SHARES).await.token;
    let (url, mut calls) = receiver(0).await;
    let company_id = consent_policy::CompanyId::parse(&acme.id).unwrap();
    app.store()
        .set_webhook(&company_id, Some(&url))
        .await
        .unwrap();
    let request_id = ask(&app, &company, "grace_late").await;
    let declined = app
        .http
        .post(app.url(&format!("/v1/me/requests/{request_id}/decline")))
        .bearer_auth(&person)
        .send()
        .await
        .unwrap();
    assert!(declined.status().is_success());
    let mut shown = Value::Null;
    for _ in 0..100 {
        shown = app
            .http
            .get(app.url("/v1/webhook"))
            .bearer_auth(&company)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if shown["deliveries"][0]["attempts"].as_i64() >= Some(1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let delivery = &shown["deliveries"][0];
    assert_eq!(delivery["state"], "retrying", "{shown}");
    assert!(
        delivery["last_error"]
            .as_str()
            .unwrap()
            .contains("loopback"),
        "{shown}"
    );
    assert!(calls.try_recv().is_err(), "the receiver was never called");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_is_checked_again_at_delivery_sqlite() {
    a_call_is_checked_again_at_delivery(store::testing::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_is_checked_again_at_delivery_postgres() {
    if let Some(db) = store::testing::postgres().await {
        a_call_is_checked_again_at_delivery(db).await;
    }
}

/// Verifies `call` with the `standardwebhooks` Python library and `secret`;
/// the payload it returns, or `None` when it refuses the call.
fn verified_by_standard_webhooks(secret: &str, call: &Call, body: &str) -> Option<Value> {
    const VERIFY: &str = "import json, sys\n\
from standardwebhooks.webhooks import Webhook\n\
secret, msg_id, timestamp, signature = sys.argv[1:5]\n\
body = sys.stdin.read()\n\
headers = {'webhook-id': msg_id, 'webhook-timestamp': timestamp, 'webhook-signature': signature}\n\
print(json.dumps(Webhook(secret).verify(body, headers)))\n";
    let mut child =
        std::process::Command::new(apiome_tests::python_with("standardwebhooks==1.3.0"))
            .args(["-c", VERIFY, secret])
            .arg(call.header("webhook-id"))
            .arg(call.header("webhook-timestamp"))
            .arg(call.header("webhook-signature"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
    {
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(body.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).unwrap())
}

// A company tests its receiver with a `ping`, checks the calls with the
// Standard Webhooks library it would use in production, reads the delivery
// log and asks for a redelivery; nobody else can see or replay its
// deliveries.
app_test!(
    a_ping_and_a_redelivery_verify_with_the_standard_webhooks_library,
    |app| {
        let company = app.company_token(&app.company("Acme Pings").await).await;
        let other = app.company_token(&app.company("Globex Pings").await).await;
        let person = app.person_with("grace_pings", SHARES).await.token;
        let ping = |token: String| {
            app.http
                .post(app.url("/v1/webhook/ping"))
                .bearer_auth(token)
                .send()
        };

        // No URL yet: nothing to ping.
        let refused = ping(company.clone()).await.unwrap();
        assert_eq!(refused.status(), 409);
        let problem: Value = refused.json().await.unwrap();
        assert_eq!(apiome_tests::problem_kind(&problem), "no-webhook");

        let (url, mut calls) = receiver(0).await;
        let set: Value = set_webhook(app, &company, &url).await.json().await.unwrap();
        let secret = set["secret"].as_str().unwrap().to_owned();
        let queued = ping(company.clone()).await.unwrap();
        assert_eq!(queued.status(), 202);
        let queued: Value = queued.json().await.unwrap();
        let id = queued["delivery_id"].as_str().unwrap().to_owned();

        let call = next_event(&mut calls, "ping").await;
        assert_eq!(call.header("webhook-id"), id);
        let payload = verified_by_standard_webhooks(&secret, &call, &call.body)
            .expect("the standardwebhooks library accepts the call");
        assert_eq!(payload["type"], "ping");
        assert_eq!(payload["id"], id.as_str());
        // The library can refuse: a changed body, or another secret.
        let forged = call.body.replace("ping", "pong");
        assert!(verified_by_standard_webhooks(&secret, &call, &forged).is_none());
        let stranger = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        assert!(verified_by_standard_webhooks(stranger, &call, &call.body).is_none());

        // The delivery log, once the outcome is recorded.
        let log_of = |token: String, id: String| {
            app.http
                .get(app.url(&format!("/v1/webhook/deliveries/{id}")))
                .bearer_auth(token)
                .send()
        };
        let mut log = Value::Null;
        for _ in 0..50 {
            log = log_of(company.clone(), id.clone())
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if log["state"] == "delivered" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(log["state"], "delivered", "{log}");
        assert_eq!(log["calls"].as_array().unwrap().len(), 1, "{log}");
        assert_eq!(log["calls"][0]["status"], 200, "{log}");
        assert!(log["calls"][0]["latency_ms"].as_u64().unwrap() < 30_000);

        // Redelivered: the same event, the same id, verified again.
        let redeliver = |token: String, id: String| {
            app.http
                .post(app.url(&format!("/v1/webhook/deliveries/{id}/redeliver")))
                .bearer_auth(token)
                .send()
        };
        assert_eq!(
            redeliver(company.clone(), id.clone())
                .await
                .unwrap()
                .status(),
            202
        );
        let again = next_event(&mut calls, "ping").await;
        assert_eq!(again.header("webhook-id"), id);
        assert_eq!(again.body, call.body);
        assert!(verified_by_standard_webhooks(&secret, &again, &again.body).is_some());
        for _ in 0..50 {
            log = log_of(company.clone(), id.clone())
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if log["calls"].as_array().unwrap().len() == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(log["calls"].as_array().unwrap().len(), 2, "{log}");

        // Another company, a person and a made-up id get nothing.
        for (token, id, status) in [
            (other.clone(), id.clone(), 404),
            (company.clone(), "no-such-delivery".to_owned(), 404),
            (person.clone(), id.clone(), 401),
        ] {
            assert_eq!(
                log_of(token.clone(), id.clone()).await.unwrap().status(),
                status
            );
            assert_eq!(redeliver(token, id).await.unwrap().status(), status);
        }
        assert_eq!(ping(person.clone()).await.unwrap().status(), 401);
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(
            calls.try_recv().is_err(),
            "no call for another's redelivery"
        );
    }
);

app_test!(
    every_delivery_pages_newest_first_and_only_to_its_company,
    |app| {
        let company = app.company_token(&app.company("Acme Pages").await).await;
        let other = app.company_token(&app.company("Globex Pages").await).await;
        let (url, _calls) = receiver(0).await;
        assert_eq!(set_webhook(app, &company, &url).await.status(), 200);
        assert_eq!(set_webhook(app, &other, &url).await.status(), 200);
        let mut queued = Vec::new();
        for _ in 0..5 {
            let ping: Value = app
                .http
                .post(app.url("/v1/webhook/ping"))
                .bearer_auth(&company)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            queued.push(ping["delivery_id"].as_str().unwrap().to_owned());
        }
        let theirs = app
            .http
            .post(app.url("/v1/webhook/ping"))
            .bearer_auth(&other)
            .send()
            .await
            .unwrap();
        assert_eq!(theirs.status(), 202);

        // Two a page, by the Link header, newest first, each once.
        let mut next = Some(app.url("/v1/webhook/deliveries?limit=2"));
        let mut seen = Vec::new();
        while let Some(url) = next.take() {
            let response = app
                .http
                .get(&url)
                .bearer_auth(&company)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            next = response.headers().get("link").map(|l| {
                let l = l.to_str().unwrap();
                assert!(l.ends_with("; rel=\"next\""), "{l}");
                l.trim_start_matches('<')
                    .split('>')
                    .next()
                    .unwrap()
                    .to_owned()
            });
            let page: Value = response.json().await.unwrap();
            assert_eq!(page["next_cursor"].is_string(), next.is_some());
            for d in page["items"].as_array().unwrap() {
                assert_eq!(d["event"], "ping");
                assert!(d["created_at"].as_str().unwrap().ends_with('Z'));
                seen.push(d["id"].as_str().unwrap().to_owned());
            }
        }
        queued.reverse();
        assert_eq!(seen, queued, "this company's five, newest first");

        for bad in ["limit=0", "limit=101", "cursor=_w", "cursor=eC1i"] {
            let response = app
                .http
                .get(app.url(&format!("/v1/webhook/deliveries?{bad}")))
                .bearer_auth(&company)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 422, "{bad}");
        }
        let anonymous = app
            .http
            .get(app.url("/v1/webhook/deliveries"))
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status(), 401);
    }
);
