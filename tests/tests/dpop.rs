//! DPoP (RFC 9449) end to end, on both engines, with a company that signs
//! its proofs itself (AWS-LC, ES256 and EdDSA keys made in the test):
//! DPoP-bound tokens from the token endpoint, used at `/v1/requests`,
//! `/v1/data` and `/oauth/userinfo`; and the attacker's requests — a proof
//! for another URL or method, an old one, a replayed one (also many times
//! at once), one for another token or by another key, a bound token sent
//! as a bearer token — each a `401` with `WWW-Authenticate: DPoP
//! error="invalid_dpop_proof"` (or `invalid_token`) that reads nothing. A
//! company registered DPoP-only gets nothing without a proof carrying the
//! server's nonce.

#![allow(
    clippy::unwrap_used,
    reason = "test steps: a failed unwrap is a failed test"
)]

use std::time::{SystemTime, UNIX_EPOCH};

use apiome_tests::{Company, TestApp, app_test};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// What each person of these tests shares (`(key, value, bucket)`): two
/// public attributes, so a request for them is granted at once.
const SHARES: &[(&str, &str, &str)] = &[
    ("display_name", "Ada", "public"),
    ("email", "ada@example.org", "public"),
];

/// A company's DPoP key, as its own software would hold it.
enum DpopKey {
    Es256(EcdsaKeyPair),
    EdDsa(Ed25519KeyPair),
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn fresh_jti() -> String {
    let mut bytes = [0_u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).unwrap();
    b64(bytes)
}

impl DpopKey {
    fn es256() -> Self {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .unwrap();
        Self::Es256(
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap(),
        )
    }

    fn eddsa() -> Self {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        Self::EdDsa(Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap())
    }

    fn jwk(&self) -> Value {
        match self {
            Self::Es256(k) => {
                let point = k.public_key().as_ref();
                json!({"kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..])})
            }
            Self::EdDsa(k) => {
                json!({"kty": "OKP", "crv": "Ed25519", "x": b64(k.public_key().as_ref())})
            }
        }
    }

    /// The RFC 7638 thumbprint, computed here as a company would.
    fn jkt(&self) -> String {
        let jwk = self.jwk();
        let canonical = match self {
            Self::Es256(_) => format!(
                r#"{{"crv":"P-256","kty":"EC","x":{},"y":{}}}"#,
                jwk["x"], jwk["y"]
            ),
            Self::EdDsa(_) => format!(r#"{{"crv":"Ed25519","kty":"OKP","x":{}}}"#, jwk["x"]),
        };
        b64(Sha256::digest(canonical.as_bytes()))
    }

    fn sign(&self, claims: &Value) -> String {
        let alg = match self {
            Self::Es256(_) => "ES256",
            Self::EdDsa(_) => "EdDSA",
        };
        let header = json!({"typ": "dpop+jwt", "alg": alg, "jwk": self.jwk()});
        let input = format!(
            "{}.{}",
            b64(serde_json::to_vec(&header).unwrap()),
            b64(serde_json::to_vec(claims).unwrap())
        );
        let signature = match self {
            Self::Es256(k) => k
                .sign(&SystemRandom::new(), input.as_bytes())
                .unwrap()
                .as_ref()
                .to_vec(),
            Self::EdDsa(k) => k.sign(input.as_bytes()).as_ref().to_vec(),
        };
        format!("{input}.{}", b64(signature))
    }

    /// A fresh proof for `htm` `htu`, bound to `token` when given.
    fn proof(&self, htm: &str, htu: &str, token: Option<&str>, nonce: Option<&str>) -> String {
        self.sign(&claims(htm, htu, token, nonce))
    }
}

fn claims(htm: &str, htu: &str, token: Option<&str>, nonce: Option<&str>) -> Value {
    let mut claims = json!({"jti": fresh_jti(), "htm": htm, "htu": htu, "iat": now_secs()});
    if let Some(token) = token {
        claims["ath"] = json!(b64(Sha256::digest(token.as_bytes())));
    }
    if let Some(nonce) = nonce {
        claims["nonce"] = json!(nonce);
    }
    claims
}

/// What an answer said, for assertions.
struct Answer {
    status: u16,
    challenge: String,
    nonce: Option<String>,
    body: Value,
}

async fn answer(response: reqwest::Response) -> Answer {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let challenge = header("www-authenticate").unwrap_or_default();
    let nonce = header("dpop-nonce");
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        challenge,
        nonce,
        body,
    }
}

/// A token request of `company` with `proof` (if any) in `DPoP`.
async fn token_request(
    app: &TestApp,
    company: &Company,
    proof: Option<&str>,
    form: &[(&str, &str)],
) -> Answer {
    let mut request = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth(&company.id, Some(&company.secret))
        .form(form);
    if let Some(proof) = proof {
        request = request.header("DPoP", proof);
    }
    answer(request.send().await.unwrap()).await
}

/// A `client_credentials` token bound to `key`.
async fn company_dpop_token(app: &TestApp, company: &Company, key: &DpopKey) -> String {
    let proof = key.proof("POST", &app.url("/oauth/token"), None, None);
    let got = token_request(
        app,
        company,
        Some(&proof),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(got.body["token_type"], "DPoP");
    got.body["access_token"].as_str().unwrap().to_owned()
}

/// `method path` with `Authorization: DPoP <token>` and `proof` in `DPoP`.
async fn dpop_call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    proof: Option<&str>,
    body: Option<&Value>,
) -> Answer {
    let mut request = app
        .http
        .request(method, app.url(path))
        .header("Authorization", format!("DPoP {token}"));
    if let Some(proof) = proof {
        request = request.header("DPoP", proof);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    answer(request.send().await.unwrap()).await
}

async fn get_with(app: &TestApp, path: &str, token: &str, proof: &str) -> Answer {
    dpop_call(app, reqwest::Method::GET, path, token, Some(proof), None).await
}

/// A fresh, correct proof's GET of `path`.
async fn dpop_get(app: &TestApp, key: &DpopKey, path: &str, token: &str) -> Answer {
    let proof = key.proof("GET", &app.url(path), Some(token), None);
    get_with(app, path, token, &proof).await
}

fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn assert_invalid_proof(got: &Answer, case: &str) {
    assert_eq!(got.status, 401, "{case}: {}", got.body);
    assert!(
        got.challenge
            .starts_with("DPoP error=\"invalid_dpop_proof\""),
        "{case}: {}",
        got.challenge
    );
    assert!(
        got.challenge.contains("algs=\"ES256 EdDSA\""),
        "{case}: {}",
        got.challenge
    );
    assert!(got.body.get("attributes").is_none(), "{case}: nothing read");
}

/// The whole flow with DPoP: a bound company token asks `handle` at
/// `/v1/requests`, the CIBA poll gets grant tokens bound to `grant_key`.
/// Returns the grant's access token and the request id.
async fn dpop_grant(
    app: &TestApp,
    company: &Company,
    company_key: &DpopKey,
    grant_key: &DpopKey,
    handle: &str,
) -> (String, String) {
    app.person_with(handle, SHARES).await;
    let company_token = company_dpop_token(app, company, company_key).await;
    let ask = json!({"person": {"handle": handle}, "authorization_details": [{
        "type": "apiome_data", "attributes": ["display_name", "email"],
        "purpose": "service_provision", "duration": "P30D"}]});
    let proof = company_key.proof("POST", &app.url("/v1/requests"), Some(&company_token), None);
    let asked = dpop_call(
        app,
        reqwest::Method::POST,
        "/v1/requests",
        &company_token,
        Some(&proof),
        Some(&ask),
    )
    .await;
    assert_eq!(asked.status, 201, "{}", asked.body);
    assert_eq!(asked.body["status"], "approved", "{}", asked.body);
    let request_id = asked.body["request_id"].as_str().unwrap().to_owned();
    let proof = grant_key.proof("POST", &app.url("/oauth/token"), None, None);
    let tokens = token_request(
        app,
        company,
        Some(&proof),
        &[
            ("grant_type", "urn:openid:params:grant-type:ciba"),
            ("auth_req_id", &request_id),
        ],
    )
    .await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    assert_eq!(tokens.body["token_type"], "DPoP");
    (
        tokens.body["access_token"].as_str().unwrap().to_owned(),
        request_id,
    )
}

app_test!(metadata_advertises_dpop_algorithms, |app| {
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        let doc: Value = app
            .http
            .get(app.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            doc["dpop_signing_alg_values_supported"],
            json!(["ES256", "EdDSA"]),
            "{path}"
        );
    }
});

app_test!(dpop_bound_tokens_read_requests_data_and_userinfo, |app| {
    let acme = app.company("Acme").await;
    let company_key = DpopKey::es256();
    let grant_key = DpopKey::eddsa();
    let (access, request_id) = dpop_grant(app, &acme, &company_key, &grant_key, "ada").await;

    // The token names the key (cnf.jkt, RFC 9449 §6.1), and so does introspection.
    assert_eq!(payload(&access)["cnf"]["jkt"], grant_key.jkt());
    let introspected: Value = app
        .http
        .post(app.url("/oauth/introspect"))
        .basic_auth(&acme.id, Some(&acme.secret))
        .form(&[("token", access.as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(introspected["active"], true);
    assert_eq!(introspected["token_type"], "DPoP");
    assert_eq!(introspected["cnf"]["jkt"], grant_key.jkt());

    let data = dpop_get(app, &grant_key, "/v1/data", &access).await;
    assert_eq!(data.status, 200, "{}", data.body);
    assert_eq!(data.body["attributes"]["display_name"], "Ada");
    let info = dpop_get(app, &grant_key, "/oauth/userinfo", &access).await;
    assert_eq!(info.status, 200, "{}", info.body);
    assert_eq!(info.body["email"], "ada@example.org");
    assert_eq!(info.body["sub"], data.body["subject"]);

    let company_token = company_dpop_token(app, &acme, &company_key).await;
    assert_eq!(payload(&company_token)["cnf"]["jkt"], company_key.jkt());
    let path = format!("/v1/requests/{request_id}");
    let status = dpop_get(app, &company_key, &path, &company_token).await;
    assert_eq!(status.status, 200, "{}", status.body);
    assert_eq!(status.body["status"], "approved");

    // A proof with a query or fragment in `htu` names the same resource.
    let proof = grant_key.proof(
        "GET",
        &format!("{}?x=1#f", app.url("/v1/data")),
        Some(&access),
        None,
    );
    assert_eq!(get_with(app, "/v1/data", &access, &proof).await.status, 200);
});

app_test!(attacker_proofs_are_refused_with_invalid_dpop_proof, |app| {
    let acme = app.company("Acme").await;
    let key = DpopKey::es256();
    let (access, _) = dpop_grant(app, &acme, &DpopKey::es256(), &key, "ada").await;
    let data_url = app.url("/v1/data");

    let other_url = key.proof("GET", &app.url("/oauth/userinfo"), Some(&access), None);
    let other_host = key.proof(
        "GET",
        &data_url.replace("localhost", "127.0.0.1"),
        Some(&access),
        None,
    );
    let wrong_method = key.proof("POST", &data_url, Some(&access), None);
    let mut old = claims("GET", &data_url, Some(&access), None);
    old["iat"] = json!(now_secs() - 120);
    let old = key.sign(&old);
    let mut future = claims("GET", &data_url, Some(&access), None);
    future["iat"] = json!(now_secs() + 120);
    let future = key.sign(&future);
    let wrong_ath = key.proof("GET", &data_url, Some("another token"), None);
    let no_ath = key.proof("GET", &data_url, None, None);
    let other_key = DpopKey::es256().proof("GET", &data_url, Some(&access), None);
    let eddsa_key = DpopKey::eddsa().proof("GET", &data_url, Some(&access), None);
    let mut forged = key.proof("GET", &data_url, Some(&access), None);
    forged.replace_range(forged.len() - 4.., "AAAA");
    for (case, proof) in [
        ("htu of another endpoint", other_url),
        ("htu of another host", other_host),
        ("htm POST for a GET", wrong_method),
        ("iat two minutes old", old),
        ("iat two minutes ahead", future),
        ("ath of another token", wrong_ath),
        ("no ath", no_ath),
        ("another P-256 key", other_key),
        ("another Ed25519 key", eddsa_key),
        ("a broken signature", forged),
        ("not a JWT", "not.a.jwt".to_owned()),
    ] {
        assert_invalid_proof(&get_with(app, "/v1/data", &access, &proof).await, case);
    }
    let no_proof = dpop_call(app, reqwest::Method::GET, "/v1/data", &access, None, None).await;
    assert_invalid_proof(&no_proof, "no DPoP header");
    let two = app
        .http
        .get(&data_url)
        .header("Authorization", format!("DPoP {access}"))
        .header("DPoP", key.proof("GET", &data_url, Some(&access), None))
        .header("DPoP", key.proof("GET", &data_url, Some(&access), None))
        .send()
        .await
        .unwrap();
    assert_invalid_proof(&answer(two).await, "two DPoP headers");

    // A reused jti: the first use reads, the second is refused.
    let proof = key.proof("GET", &data_url, Some(&access), None);
    assert_eq!(get_with(app, "/v1/data", &access, &proof).await.status, 200);
    assert_invalid_proof(
        &get_with(app, "/v1/data", &access, &proof).await,
        "a reused jti",
    );
    // The same proof at another endpoint is refused too (its htu).
    assert_invalid_proof(
        &get_with(app, "/oauth/userinfo", &access, &proof).await,
        "a used proof at userinfo",
    );

    // At the token endpoint: a proof for another URL, or an old one, is 400 invalid_dpop_proof.
    let mut stale = claims("POST", &app.url("/oauth/token"), None, None);
    stale["iat"] = json!(now_secs() - 120);
    for (case, proof) in [
        ("htu", key.proof("POST", &data_url, None, None)),
        ("iat", key.sign(&stale)),
        (
            "ath",
            key.proof("POST", &app.url("/oauth/token"), Some(&access), None),
        ),
    ] {
        let got = token_request(
            app,
            &acme,
            Some(&proof),
            &[("grant_type", "client_credentials")],
        )
        .await;
        assert_eq!(got.status, 400, "{case}: {}", got.body);
        assert_eq!(got.body["error"], "invalid_dpop_proof", "{case}");
        assert!(got.body.get("access_token").is_none());
    }
    let proof = key.proof("POST", &app.url("/oauth/token"), None, None);
    let form = [("grant_type", "client_credentials")];
    assert_eq!(
        token_request(app, &acme, Some(&proof), &form).await.status,
        200
    );
    let replayed = token_request(app, &acme, Some(&proof), &form).await;
    assert_eq!(replayed.status, 400);
    assert_eq!(replayed.body["error"], "invalid_dpop_proof");

    // After all that, the token and key still work: the refusals were the proofs'.
    assert_eq!(dpop_get(app, &key, "/v1/data", &access).await.status, 200);
});

app_test!(a_bound_token_is_refused_as_a_bearer_token, |app| {
    let acme = app.company("Acme").await;
    let company_key = DpopKey::eddsa();
    let key = DpopKey::es256();
    let (access, request_id) = dpop_grant(app, &acme, &company_key, &key, "ada").await;
    let company_token = company_dpop_token(app, &acme, &company_key).await;
    for (path, token) in [
        ("/v1/data".to_owned(), &access),
        ("/oauth/userinfo".to_owned(), &access),
        (format!("/v1/requests/{request_id}"), &company_token),
    ] {
        let got = answer(
            app.http
                .get(app.url(&path))
                .bearer_auth(token)
                .header("DPoP", key.proof("GET", &app.url(&path), Some(token), None))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(got.status, 401, "{path}: {}", got.body);
        assert!(
            got.challenge.starts_with("DPoP error=\"invalid_token\""),
            "{path}: {}",
            got.challenge
        );
        assert!(got.body.get("attributes").is_none());
    }
    // And a bearer token is no DPoP token either.
    let bearer = app.company_token(&acme).await;
    assert!(payload(&bearer).get("cnf").is_none());
    let path = format!("/v1/requests/{request_id}");
    let got = dpop_get(app, &key, &path, &bearer).await;
    assert_eq!(got.status, 401);
    assert!(got.challenge.starts_with("DPoP error=\"invalid_token\""));
});

app_test!(one_proof_sent_many_times_at_once_is_served_once, |app| {
    const TRIES: usize = 24;
    let acme = app.company("Acme").await;
    let key = DpopKey::es256();
    let (access, _) = dpop_grant(app, &acme, &DpopKey::eddsa(), &key, "ada").await;
    let proof = key.proof("GET", &app.url("/v1/data"), Some(&access), None);
    let tries = (0..TRIES).map(|_| get_with(app, "/v1/data", &access, &proof));
    let answers = futures::future::join_all(tries).await;
    let served = answers.iter().filter(|a| a.status == 200).count();
    assert_eq!(served, 1, "exactly one read");
    for refused in answers.iter().filter(|a| a.status != 200) {
        assert_invalid_proof(refused, "a concurrent replay");
    }

    // The same at the token endpoint: one token for one proof.
    let proof = key.proof("POST", &app.url("/oauth/token"), None, None);
    let form = [("grant_type", "client_credentials")];
    let tries = (0..TRIES).map(|_| token_request(app, &acme, Some(&proof), &form));
    let answers = futures::future::join_all(tries).await;
    assert_eq!(answers.iter().filter(|a| a.status == 200).count(), 1);
    assert!(
        answers
            .iter()
            .filter(|a| a.status != 200)
            .all(|a| a.body["error"] == "invalid_dpop_proof")
    );
});

app_test!(
    a_dpop_only_company_needs_proofs_with_the_server_nonce,
    |app| {
        let key = server::admin::server_key(&app.data_dir()).unwrap();
        let made = server::admin::create_dpop_company(
            app.store(),
            &key,
            "Initech",
            &[apiome_tests::REDIRECT.to_owned()],
        )
        .await
        .unwrap();
        assert!(made.dpop_bound_access_tokens);
        let initech = Company {
            id: made.client_id,
            secret: made.client_secret,
        };
        let dpop = DpopKey::eddsa();
        let form = [("grant_type", "client_credentials")];
        let token_url = app.url("/oauth/token");

        let bare = token_request(app, &initech, None, &form).await;
        assert_eq!(bare.status, 400, "{}", bare.body);
        assert_eq!(bare.body["error"], "invalid_dpop_proof");
        assert!(bare.body.get("access_token").is_none());

        let no_nonce = dpop.proof("POST", &token_url, None, None);
        let asked = token_request(app, &initech, Some(&no_nonce), &form).await;
        assert_eq!(asked.status, 400, "{}", asked.body);
        assert_eq!(asked.body["error"], "use_dpop_nonce");
        let nonce = asked.nonce.expect("a DPoP-Nonce to retry with");
        for bad in ["made-up", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"] {
            let proof = dpop.proof("POST", &token_url, None, Some(bad));
            let got = token_request(app, &initech, Some(&proof), &form).await;
            assert_eq!(got.body["error"], "use_dpop_nonce", "{bad}");
        }
        let proof = dpop.proof("POST", &token_url, None, Some(&nonce));
        let got = token_request(app, &initech, Some(&proof), &form).await;
        assert_eq!(got.status, 200, "{}", got.body);
        assert_eq!(got.body["token_type"], "DPoP");
        let token = got.body["access_token"].as_str().unwrap().to_owned();

        // At a resource: no nonce is 401 use_dpop_nonce with a fresh nonce; with it, served.
        app.person_with("bob", SHARES).await;
        let ask = json!({"person": {"handle": "bob"}, "authorization_details": [{
        "type": "apiome_data", "attributes": ["display_name"],
        "purpose": "service_provision", "duration": "P30D"}]});
        let requests_url = app.url("/v1/requests");
        let proof = dpop.proof("POST", &requests_url, Some(&token), None);
        let post = reqwest::Method::POST;
        let got = dpop_call(
            app,
            post.clone(),
            "/v1/requests",
            &token,
            Some(&proof),
            Some(&ask),
        )
        .await;
        assert_eq!(got.status, 401, "{}", got.body);
        assert!(
            got.challenge.starts_with("DPoP error=\"use_dpop_nonce\""),
            "{}",
            got.challenge
        );
        let nonce = got.nonce.expect("a DPoP-Nonce");
        let proof = dpop.proof("POST", &requests_url, Some(&token), Some(&nonce));
        let got = dpop_call(app, post, "/v1/requests", &token, Some(&proof), Some(&ask)).await;
        assert_eq!(got.status, 201, "{}", got.body);
    }
);

app_test!(registration_takes_dpop_bound_access_tokens, |app| {
    let initial = server::admin::issue_registration_token(app.store())
        .await
        .unwrap()
        .initial_access_token;
    let registered: Value = app
        .http
        .post(app.url("/oauth/register"))
        .bearer_auth(initial)
        .json(&json!({
            "client_name": "Hooli", "redirect_uris": [apiome_tests::REDIRECT],
            "grant_types": ["authorization_code", "client_credentials"],
            "dpop_bound_access_tokens": true,
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(registered["dpop_bound_access_tokens"], true, "{registered}");
    let hooli = Company {
        id: registered["client_id"].as_str().unwrap().to_owned(),
        secret: registered["client_secret"].as_str().unwrap().to_owned(),
    };
    let got = token_request(app, &hooli, None, &[("grant_type", "client_credentials")]).await;
    assert_eq!(got.body["error"], "invalid_dpop_proof");
});

#[tokio::test]
async fn apiome_company_create_dpop_registers_a_dpop_only_company() {
    let app = TestApp::sqlite().await;
    let out = app
        .cli(&[
            "company",
            "create",
            "--name",
            "Umbrella",
            "--redirect-uri",
            apiome_tests::REDIRECT,
            "--dpop",
        ])
        .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["dpop_bound_access_tokens"], true);
    let umbrella = Company {
        id: printed["client_id"].as_str().unwrap().to_owned(),
        secret: printed["client_secret"].as_str().unwrap().to_owned(),
    };
    let got = token_request(
        &app,
        &umbrella,
        None,
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(got.body["error"], "invalid_dpop_proof");
    app.stop().await;
}
