//! Client authentication at the token, PAR, introspection and revocation
//! endpoints: HTTP Basic, form secrets, or a signed JWT (RFC 7523 / `private_key_jwt`).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

use crate::client::{AuthMethod, ClientId, ClientKey, ClientRecord};
use crate::error::OAuthError;
use crate::params::Params;
use crate::server_key::ServerKey;
use crate::time::UnixTime;
use crate::token::{CLOCK_SKEW_SECS, MAX_TOKEN_LEN, read_header, validation};

/// The `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The furthest in the future an assertion's `exp` may be, in seconds.
pub const MAX_ASSERTION_LIFETIME_SECS: u64 = 300;
/// The longest `jti` accepted in an assertion, in bytes.
pub const MAX_JTI_LEN: usize = 256;
/// The longest client secret looked at, in bytes.
const MAX_SECRET_LEN: usize = 256;

/// The credentials a request presents, before they are checked.
#[derive(Clone, PartialEq, Eq)]
pub enum PresentedCredentials {
    /// `Authorization: Basic` with the form-encoded id and secret.
    SecretBasic {
        /// The claimed client.
        client_id: ClientId,
        /// The presented secret.
        secret: String,
    },
    /// `client_id` and `client_secret` form fields.
    SecretPost {
        /// The claimed client.
        client_id: ClientId,
        /// The presented secret.
        secret: String,
    },
    /// A signed JWT in `client_assertion`.
    Assertion {
        /// The client named by the assertion's `iss`/`sub` (not yet verified).
        client_id: ClientId,
        /// The compact JWT.
        assertion: String,
    },
}

impl std::fmt::Debug for PresentedCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresentedCredentials")
            .field("method", &self.method())
            .field("client_id", self.client_id())
            .finish_non_exhaustive()
    }
}

/// A client that proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedClient {
    /// The client.
    pub client_id: ClientId,
    /// How it proved it.
    pub method: AuthMethod,
    /// For an assertion: the `jti` the caller must accept only once.
    pub assertion: Option<AssertionUse>,
}

/// A client assertion's identifier, to remember until it expires and
/// refuse when seen again (RFC 7523 §3, item 7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssertionUse {
    /// The assertion's `jti`.
    pub jti: String,
    /// Its `exp`: after this the assertion is refused anyway, so the record may go.
    pub expires_at: UnixTime,
}

/// The error for an assertion whose `jti` was already seen.
#[must_use]
pub fn replayed_assertion() -> OAuthError {
    OAuthError::invalid_client("the client assertion was already used (`jti` seen before)")
}

/// The audiences an assertion may name: the token endpoint URL or the issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssertionAudience<'a> {
    /// The issuer URL.
    pub issuer: &'a str,
    /// The token endpoint URL.
    pub token_endpoint: &'a str,
}

impl PresentedCredentials {
    /// Reads the credentials from the `Authorization` header and the form.
    ///
    /// # Errors
    /// `invalid_request` when more than one method is used or a method is
    /// incomplete; `invalid_client` when none is used or the parts are malformed.
    pub fn parse(authorization: Option<&str>, params: &Params) -> Result<Self, OAuthError> {
        let form_secret = params.get("client_secret")?;
        let assertion = params.get("client_assertion")?;
        let assertion_type = params.get("client_assertion_type")?;
        let form_client_id = params.get("client_id")?;
        let used = [
            authorization.is_some(),
            form_secret.is_some(),
            assertion.is_some() || assertion_type.is_some(),
        ];
        if used.iter().filter(|u| **u).count() > 1 {
            return Err(OAuthError::invalid_request(
                "use exactly one client authentication method (Basic header, `client_secret`, or `client_assertion`)",
            ));
        }
        if let Some(header) = authorization {
            let (client_id, secret) = parse_basic(header)?;
            if form_client_id.is_some_and(|id| id != client_id.as_str()) {
                return Err(OAuthError::invalid_request(
                    "`client_id` differs from the client in the Authorization header",
                ));
            }
            return Ok(Self::SecretBasic { client_id, secret });
        }
        if let Some(secret) = form_secret {
            let client_id = form_client_id.ok_or_else(|| {
                OAuthError::invalid_request("`client_id` is required with `client_secret`")
            })?;
            check_secret_len(secret)?;
            return Ok(Self::SecretPost {
                client_id: ClientId::parse(client_id)?,
                secret: secret.to_owned(),
            });
        }
        if assertion.is_some() || assertion_type.is_some() {
            match assertion_type {
                Some(CLIENT_ASSERTION_TYPE) => {}
                None => {
                    return Err(OAuthError::invalid_request(
                        "`client_assertion_type` is required with `client_assertion`",
                    ));
                }
                Some(_) => {
                    return Err(OAuthError::invalid_request(format!(
                        "`client_assertion_type` must be `{CLIENT_ASSERTION_TYPE}`"
                    )));
                }
            }
            let assertion = assertion
                .ok_or_else(|| OAuthError::invalid_request("`client_assertion` is required"))?;
            let client_id = assertion_client_id(assertion)?;
            if form_client_id.is_some_and(|id| id != client_id.as_str()) {
                return Err(OAuthError::invalid_client(
                    "`client_id` differs from the assertion's `sub`",
                ));
            }
            return Ok(Self::Assertion {
                client_id,
                assertion: assertion.to_owned(),
            });
        }
        Err(OAuthError::invalid_client(
            "client authentication is required (Basic header, `client_secret` or `client_assertion`)",
        ))
    }

    /// The client these credentials claim to be, to look up before [`PresentedCredentials::verify`].
    #[must_use]
    pub fn client_id(&self) -> &ClientId {
        match self {
            Self::SecretBasic { client_id, .. }
            | Self::SecretPost { client_id, .. }
            | Self::Assertion { client_id, .. } => client_id,
        }
    }

    /// The method used.
    #[must_use]
    pub const fn method(&self) -> AuthMethod {
        match self {
            Self::SecretBasic { .. } => AuthMethod::ClientSecretBasic,
            Self::SecretPost { .. } => AuthMethod::ClientSecretPost,
            Self::Assertion { .. } => AuthMethod::PrivateKeyJwt,
        }
    }

    /// Checks the credentials against the registered client (`None` when
    /// unknown). The method must be the one the client registered.
    ///
    /// # Errors
    /// `invalid_client` (HTTP 401) saying what failed.
    pub fn verify(
        &self,
        client: Option<&ClientRecord>,
        server_key: &ServerKey,
        audience: &AssertionAudience<'_>,
        now: UnixTime,
    ) -> Result<AuthenticatedClient, OAuthError> {
        let client = client
            .filter(|c| c.client_id == *self.client_id())
            .ok_or_else(|| OAuthError::invalid_client("unknown client"))?;
        let registered = client.metadata.token_endpoint_auth_method;
        if registered != self.method() {
            return Err(OAuthError::invalid_client(format!(
                "this client authenticates with `{}`, not `{}`",
                registered.as_str(),
                self.method().as_str()
            )));
        }
        let assertion = match self {
            Self::SecretBasic { secret, .. } | Self::SecretPost { secret, .. } => {
                let ok = client
                    .secret_hash
                    .as_ref()
                    .is_some_and(|h| h.matches(server_key, secret));
                if !ok {
                    return Err(OAuthError::invalid_client("client authentication failed"));
                }
                None
            }
            Self::Assertion { assertion, .. } => {
                Some(verify_assertion(assertion, client, audience, now)?)
            }
        };
        Ok(AuthenticatedClient {
            client_id: client.client_id.clone(),
            method: registered,
            assertion,
        })
    }
}

fn check_secret_len(secret: &str) -> Result<(), OAuthError> {
    if secret.len() > MAX_SECRET_LEN {
        return Err(OAuthError::invalid_client("the client secret is too long"));
    }
    Ok(())
}

/// Reads `Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1).
fn parse_basic(header: &str) -> Result<(ClientId, String), OAuthError> {
    let bad = || {
        OAuthError::invalid_client("the Authorization header is not valid HTTP Basic credentials")
    };
    let (scheme, rest) = header.trim().split_once(' ').ok_or_else(bad)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_client(
            "the Authorization header must use the Basic scheme",
        ));
    }
    let encoded = rest.trim();
    if encoded.len() > 4 * MAX_SECRET_LEN {
        return Err(bad());
    }
    let bytes = STANDARD
        .decode(encoded)
        .or_else(|_| STANDARD_NO_PAD.decode(encoded))
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (id, secret) = text.split_once(':').ok_or_else(bad)?;
    let id = form_decode(id).ok_or_else(bad)?;
    let secret = form_decode(secret).ok_or_else(bad)?;
    if secret.is_empty() {
        return Err(OAuthError::invalid_client("the client secret is empty"));
    }
    check_secret_len(&secret)?;
    Ok((ClientId::parse(&id)?, secret))
}

/// Decodes `application/x-www-form-urlencoded` text: `+` is a space, `%XX` a byte.
fn form_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[derive(Deserialize)]
struct AssertionClaims {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<serde_json::Value>,
    exp: Option<u64>,
    iat: Option<u64>,
    nbf: Option<u64>,
    jti: Option<String>,
}

/// The client an assertion names, read without verifying it (only to look the client up).
fn assertion_client_id(assertion: &str) -> Result<ClientId, OAuthError> {
    let malformed = || OAuthError::invalid_client("`client_assertion` is not a signed JWT");
    if assertion.len() > MAX_TOKEN_LEN {
        return Err(OAuthError::invalid_client("`client_assertion` is too long"));
    }
    let mut parts = assertion.split('.');
    let (Some(_), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed());
    };
    let bytes = crate::b64url_decode(payload).ok_or_else(malformed)?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| malformed())?;
    let sub = claims
        .get("sub")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| OAuthError::invalid_client("the client assertion has no `sub`"))?;
    ClientId::parse(sub)
}

fn verify_assertion(
    assertion: &str,
    client: &ClientRecord,
    audience: &AssertionAudience<'_>,
    now: UnixTime,
) -> Result<AssertionUse, OAuthError> {
    let fail = |why: &str| {
        Err(OAuthError::invalid_client(format!(
            "client assertion: {why}"
        )))
    };
    let header = read_header(assertion)
        .map_err(|_| OAuthError::invalid_client("`client_assertion` is not a signed JWT"))?;
    let alg = match header.alg.as_deref() {
        Some("EdDSA") => Algorithm::EdDSA,
        Some("ES256") => Algorithm::ES256,
        Some(other) => {
            return fail(&format!(
                "algorithm `{}` is not accepted; use EdDSA or ES256",
                crate::error::excerpt(other)
            ));
        }
        None => return fail("the header has no `alg`"),
    };
    if header.crit.is_some() {
        return fail("critical header parameters are not supported");
    }
    let Some(jwks) = client.metadata.jwks.as_ref() else {
        return fail("the client has no registered keys");
    };
    let candidates: Vec<DecodingKey> = jwks
        .keys()
        .iter()
        .filter(|k| header.kid.is_none() || k.kid == header.kid)
        .filter_map(|k| match (&k.key, alg) {
            (ClientKey::Ed25519 { x }, Algorithm::EdDSA) => Some(DecodingKey::from_ed_der(x)),
            (ClientKey::P256 { x, y }, Algorithm::ES256) => {
                let mut sec1 = Vec::with_capacity(65);
                sec1.push(0x04);
                sec1.extend_from_slice(x);
                sec1.extend_from_slice(y);
                Some(DecodingKey::from_ec_der(&sec1))
            }
            _ => None,
        })
        .collect();
    if candidates.is_empty() {
        return fail("no registered key matches the header's `kid` and `alg`");
    }
    let mut claims = None;
    for key in &candidates {
        match jsonwebtoken::decode::<AssertionClaims>(assertion, key, &validation(alg)) {
            Ok(data) => {
                claims = Some(data.claims);
                break;
            }
            Err(e) if matches!(e.kind(), ErrorKind::InvalidSignature) => {}
            Err(_) => return fail("the claims are malformed"),
        }
    }
    let Some(claims) = claims else {
        return fail("the signature does not verify with any registered key");
    };
    let id = client.client_id.as_str();
    if claims.iss.as_deref() != Some(id) {
        return fail("`iss` must be the client id");
    }
    if claims.sub.as_deref() != Some(id) {
        return fail("`sub` must be the client id");
    }
    let accepted = |a: &str| a == audience.token_endpoint || a == audience.issuer;
    let aud_ok = match &claims.aud {
        Some(serde_json::Value::String(a)) => accepted(a),
        Some(serde_json::Value::Array(items)) => {
            items.iter().any(|a| a.as_str().is_some_and(accepted))
        }
        _ => false,
    };
    if !aud_ok {
        return fail("`aud` must name the token endpoint or the issuer");
    }
    let Some(exp) = claims.exp else {
        return fail("`exp` is required");
    };
    if exp <= now.as_secs() {
        return fail("it has expired");
    }
    if exp > now.plus_secs(MAX_ASSERTION_LIFETIME_SECS).as_secs() {
        return fail("`exp` is more than five minutes away");
    }
    let latest_start = now.plus_secs(CLOCK_SKEW_SECS).as_secs();
    if claims.iat.is_some_and(|iat| iat > latest_start) {
        return fail("`iat` is in the future");
    }
    if claims.nbf.is_some_and(|nbf| nbf > latest_start) {
        return fail("it is not valid yet (`nbf`)");
    }
    let jti = match claims.jti {
        Some(jti) if !jti.is_empty() && jti.len() <= MAX_JTI_LEN => jti,
        Some(_) => return fail(&format!("`jti` must have 1 to {MAX_JTI_LEN} bytes")),
        None => return fail("`jti` is required"),
    };
    Ok(AssertionUse {
        jti,
        expires_at: UnixTime::from_secs(exp),
    })
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::pkcs8::EncodePrivateKey as _;
    use jsonwebtoken::{EncodingKey, Header};
    use std::sync::LazyLock;

    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
    use serde_json::{Value, json};

    use super::*;
    use crate::client::{ClientMetadata, ClientSecret};
    use crate::error::ErrorCode;
    use crate::random::PredictableRandom;

    const ISSUER: &str = "https://as.example";
    const TOKEN_ENDPOINT: &str = "https://as.example/oauth/token";
    const NOW: u64 = 10_000;

    fn key() -> ServerKey {
        ServerKey::from_bytes([2; 32])
    }

    fn audience() -> AssertionAudience<'static> {
        AssertionAudience {
            issuer: ISSUER,
            token_endpoint: TOKEN_ENDPOINT,
        }
    }

    fn secret_client(method: &str) -> (ClientRecord, ClientSecret) {
        let meta = ClientMetadata::parse(&json!({
            "client_name": "Acme", "redirect_uris": ["https://acme.example/cb"],
            "token_endpoint_auth_method": method,
        }))
        .unwrap();
        let (record, secret) = ClientRecord::register(
            meta,
            &key(),
            &mut PredictableRandom::new(1),
            UnixTime::from_secs(0),
        )
        .unwrap();
        (record, secret.unwrap())
    }

    fn ed_key() -> ed25519_dalek::SigningKey {
        ed25519_dalek::SigningKey::from_bytes(&[7; 32])
    }

    /// One P-256 key (PKCS #8) for the whole test binary: registered and signing.
    fn ec_pkcs8() -> &'static [u8] {
        static KEY: LazyLock<Vec<u8>> = LazyLock::new(|| {
            let doc = EcdsaKeyPair::generate_pkcs8(
                &ECDSA_P256_SHA256_FIXED_SIGNING,
                &aws_lc_rs::rand::SystemRandom::new(),
            )
            .unwrap();
            doc.as_ref().to_vec()
        });
        &KEY
    }

    /// The key's public point, uncompressed SEC1 (`0x04 ‖ x ‖ y`).
    fn ec_point() -> Vec<u8> {
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, ec_pkcs8())
            .unwrap()
            .public_key()
            .as_ref()
            .to_vec()
    }

    fn jwt_client() -> ClientRecord {
        let ec = ec_point();
        let meta = ClientMetadata::parse(&json!({
            "client_name": "Acme", "redirect_uris": ["https://acme.example/cb"],
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": {"keys": [
                {"kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": crate::b64url_encode(ed_key().verifying_key().as_bytes())},
                {"kty": "EC", "crv": "P-256", "kid": "ec", "x": crate::b64url_encode(&ec[1..33]), "y": crate::b64url_encode(&ec[33..])},
            ]},
        }))
        .unwrap();
        ClientRecord::register(
            meta,
            &key(),
            &mut PredictableRandom::new(2),
            UnixTime::from_secs(0),
        )
        .unwrap()
        .0
    }

    fn claims(client: &ClientRecord) -> Value {
        let id = client.client_id.as_str();
        json!({"iss": id, "sub": id, "aud": TOKEN_ENDPOINT, "exp": NOW + 120, "iat": NOW, "jti": "j-1"})
    }

    fn sign_ed(claims: &Value, kid: Option<&str>) -> String {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = kid.map(str::to_owned);
        let der = ed_key().to_pkcs8_der().unwrap();
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_ed_der(der.as_bytes())).unwrap()
    }

    fn sign_ec(claims: &Value, kid: Option<&str>) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = kid.map(str::to_owned);
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_ec_der(ec_pkcs8())).unwrap()
    }

    fn form(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        )
        .unwrap()
    }

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
    }

    fn check(
        creds: &PresentedCredentials,
        client: &ClientRecord,
    ) -> Result<AuthenticatedClient, OAuthError> {
        creds.verify(Some(client), &key(), &audience(), UnixTime::from_secs(NOW))
    }

    fn assertion_params(assertion: &str) -> Params {
        form(&[
            ("client_assertion_type", CLIENT_ASSERTION_TYPE),
            ("client_assertion", assertion),
        ])
    }

    #[test]
    fn basic_credentials_authenticate() {
        let (client, secret) = secret_client("client_secret_basic");
        let header = basic(client.client_id.as_str(), secret.expose());
        let creds = PresentedCredentials::parse(
            Some(&header),
            &form(&[("client_id", client.client_id.as_str())]),
        )
        .unwrap();
        assert_eq!(creds.method(), AuthMethod::ClientSecretBasic);
        let ok = check(&creds, &client).unwrap();
        assert_eq!(ok.client_id, client.client_id);
        assert!(ok.assertion.is_none());
        assert!(!format!("{creds:?}").contains(secret.expose()));
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let header = basic("c_AAAAAAAAAAAAAAAAAAAAAA", "a%2Bb+c%3A");
        let creds = PresentedCredentials::parse(Some(&header), &Params::default()).unwrap();
        let PresentedCredentials::SecretBasic { secret, .. } = creds else {
            panic!("basic")
        };
        assert_eq!(secret, "a+b c:");
    }

    #[test]
    fn post_credentials_authenticate() {
        let (client, secret) = secret_client("client_secret_post");
        let creds = PresentedCredentials::parse(
            None,
            &form(&[
                ("client_id", client.client_id.as_str()),
                ("client_secret", secret.expose()),
            ]),
        )
        .unwrap();
        assert_eq!(
            check(&creds, &client).unwrap().method,
            AuthMethod::ClientSecretPost
        );
    }

    #[test]
    fn secret_failures_are_invalid_client() {
        let (client, secret) = secret_client("client_secret_basic");
        let id = client.client_id.as_str();
        let wrong =
            PresentedCredentials::parse(Some(&basic(id, "wrong")), &Params::default()).unwrap();
        let e = check(&wrong, &client).unwrap_err();
        assert_eq!((e.code, e.http_status()), (ErrorCode::InvalidClient, 401));
        assert!(e.description.contains("failed"));

        let unknown =
            PresentedCredentials::parse(Some(&basic(id, secret.expose())), &Params::default())
                .unwrap();
        let e = unknown
            .verify(None, &key(), &audience(), UnixTime::from_secs(NOW))
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidClient);
        assert!(e.description.contains("unknown client"));

        let post = PresentedCredentials::parse(
            None,
            &form(&[("client_id", id), ("client_secret", secret.expose())]),
        )
        .unwrap();
        let e = check(&post, &client).unwrap_err();
        assert!(
            e.description
                .contains("authenticates with `client_secret_basic`"),
            "{}",
            e.description
        );
        let other_key = post.verify(
            Some(&client),
            &ServerKey::from_bytes([9; 32]),
            &audience(),
            UnixTime::from_secs(NOW),
        );
        assert_eq!(other_key.unwrap_err().code, ErrorCode::InvalidClient);
    }

    #[test]
    fn malformed_or_missing_credentials_are_refused() {
        let id = "c_AAAAAAAAAAAAAAAAAAAAAA";
        let cases: Vec<(Option<String>, Params, ErrorCode, &str)> = vec![
            (
                None,
                Params::default(),
                ErrorCode::InvalidClient,
                "required",
            ),
            (
                Some("Bearer abc".into()),
                Params::default(),
                ErrorCode::InvalidClient,
                "Basic scheme",
            ),
            (
                Some("Basic".into()),
                Params::default(),
                ErrorCode::InvalidClient,
                "not valid HTTP Basic",
            ),
            (
                Some("Basic !!!".into()),
                Params::default(),
                ErrorCode::InvalidClient,
                "not valid HTTP Basic",
            ),
            (
                Some(format!("Basic {}", STANDARD.encode("nocolon"))),
                Params::default(),
                ErrorCode::InvalidClient,
                "not valid HTTP Basic",
            ),
            (
                Some(basic(id, "%zz")),
                Params::default(),
                ErrorCode::InvalidClient,
                "not valid HTTP Basic",
            ),
            (
                Some(basic(id, "")),
                Params::default(),
                ErrorCode::InvalidClient,
                "empty",
            ),
            (
                Some(basic("acme", "s")),
                Params::default(),
                ErrorCode::InvalidClient,
                "not an identifier",
            ),
            (
                Some(basic(id, &"s".repeat(300))),
                Params::default(),
                ErrorCode::InvalidClient,
                "too long",
            ),
            (
                Some(basic(id, "s")),
                form(&[("client_id", "c_BBBBBBBBBBBBBBBBBBBBBB")]),
                ErrorCode::InvalidRequest,
                "differs",
            ),
            (
                None,
                form(&[("client_secret", "s")]),
                ErrorCode::InvalidRequest,
                "`client_id` is required",
            ),
            (
                None,
                form(&[("client_assertion", "a.b.c")]),
                ErrorCode::InvalidRequest,
                "`client_assertion_type` is required",
            ),
            (
                None,
                form(&[("client_assertion_type", "urn:other")]),
                ErrorCode::InvalidRequest,
                "must be",
            ),
            (
                None,
                form(&[("client_assertion_type", CLIENT_ASSERTION_TYPE)]),
                ErrorCode::InvalidRequest,
                "`client_assertion` is required",
            ),
            (
                None,
                assertion_params("not-a-jwt"),
                ErrorCode::InvalidClient,
                "not a signed JWT",
            ),
            (
                None,
                assertion_params(&format!("e30.{}.e30", crate::b64url_encode("{}"))),
                ErrorCode::InvalidClient,
                "no `sub`",
            ),
            (
                None,
                form(&[("client_id", id), ("client_id", id), ("client_secret", "s")]),
                ErrorCode::InvalidRequest,
                "more than once",
            ),
        ];
        for (header, params, code, why) in cases {
            let e = PresentedCredentials::parse(header.as_deref(), &params).unwrap_err();
            assert_eq!(e.code, code, "{why}");
            assert!(e.description.contains(why), "{why}: {}", e.description);
        }
    }

    #[test]
    fn more_than_one_method_is_invalid_request() {
        let id = "c_AAAAAAAAAAAAAAAAAAAAAA";
        let cases = [
            (Some(basic(id, "s")), form(&[("client_secret", "s")])),
            (Some(basic(id, "s")), assertion_params("a.b.c")),
            (
                None,
                form(&[
                    ("client_id", id),
                    ("client_secret", "s"),
                    ("client_assertion_type", CLIENT_ASSERTION_TYPE),
                    ("client_assertion", "a.b.c"),
                ]),
            ),
        ];
        for (header, params) in cases {
            let e = PresentedCredentials::parse(header.as_deref(), &params).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidRequest);
            assert!(e.description.contains("exactly one"));
        }
    }

    #[test]
    fn ed25519_and_es256_assertions_authenticate_and_return_the_jti() {
        let client = jwt_client();
        for (assertion, kid_less) in [
            (sign_ed(&claims(&client), Some("ed")), false),
            (sign_ec(&claims(&client), Some("ec")), false),
            (sign_ed(&claims(&client), None), true),
            (sign_ec(&claims(&client), None), true),
        ] {
            let creds = PresentedCredentials::parse(None, &assertion_params(&assertion)).unwrap();
            assert_eq!(creds.client_id(), &client.client_id);
            let ok = check(&creds, &client).unwrap_or_else(|e| panic!("kid-less {kid_less}: {e}"));
            assert_eq!(ok.method, AuthMethod::PrivateKeyJwt);
            assert_eq!(
                ok.assertion,
                Some(AssertionUse {
                    jti: "j-1".into(),
                    expires_at: UnixTime::from_secs(NOW + 120)
                })
            );
        }
        let mut by_issuer = claims(&client);
        by_issuer["aud"] = json!(["https://elsewhere.example", ISSUER]);
        let creds =
            PresentedCredentials::parse(None, &assertion_params(&sign_ed(&by_issuer, Some("ed"))))
                .unwrap();
        assert!(check(&creds, &client).is_ok());
        assert_eq!(replayed_assertion().code, ErrorCode::InvalidClient);
    }

    #[test]
    fn bad_assertions_are_invalid_client() {
        let client = jwt_client();
        let good = claims(&client);
        let with = |field: &str, value: Value| {
            let mut c = good.clone();
            if value.is_null() {
                c.as_object_mut().unwrap().remove(field);
            } else {
                c[field] = value;
            }
            c
        };
        let other_signer = {
            let mut header = Header::new(Algorithm::EdDSA);
            header.kid = Some("ed".into());
            let der = ed25519_dalek::SigningKey::from_bytes(&[8; 32])
                .to_pkcs8_der()
                .unwrap();
            jsonwebtoken::encode(&header, &good, &EncodingKey::from_ed_der(der.as_bytes())).unwrap()
        };
        let hs256 = {
            let mut header = Header::new(Algorithm::HS256);
            header.kid = Some("ed".into());
            jsonwebtoken::encode(
                &header,
                &good,
                &EncodingKey::from_secret(ed_key().verifying_key().as_bytes()),
            )
            .unwrap()
        };
        let none = format!(
            "{}.{}.",
            crate::b64url_encode(r#"{"alg":"none"}"#),
            crate::b64url_encode(good.to_string())
        );
        let crit = {
            let mut header = Header::new(Algorithm::EdDSA);
            header.crit = Some(vec!["exp".into()]);
            let der = ed_key().to_pkcs8_der().unwrap();
            jsonwebtoken::encode(&header, &good, &EncodingKey::from_ed_der(der.as_bytes())).unwrap()
        };
        let tampered = {
            let token = sign_ed(&good, Some("ed"));
            let parts: Vec<&str> = token.split('.').collect();
            format!(
                "{}.{}.{}",
                parts[0],
                crate::b64url_encode(with("jti", json!("j-2")).to_string()),
                parts[2]
            )
        };
        let cases = [
            (none, "`none` is not accepted"),
            (hs256, "`HS256` is not accepted"),
            (crit, "critical"),
            (other_signer, "does not verify"),
            (tampered, "does not verify"),
            (sign_ed(&good, Some("ec")), "no registered key matches"),
            (sign_ed(&good, Some("nope")), "no registered key matches"),
            (sign_ed(&with("iss", json!("someone")), Some("ed")), "`iss`"),
            (
                sign_ed(
                    &with("aud", json!("https://evil.example/token")),
                    Some("ed"),
                ),
                "`aud`",
            ),
            (sign_ed(&with("aud", Value::Null), Some("ed")), "`aud`"),
            (
                sign_ed(&with("exp", Value::Null), Some("ed")),
                "`exp` is required",
            ),
            (sign_ed(&with("exp", json!(NOW)), Some("ed")), "expired"),
            (
                sign_ed(&with("exp", json!(NOW + 301)), Some("ed")),
                "five minutes",
            ),
            (sign_ed(&with("iat", json!(NOW + 61)), Some("ed")), "`iat`"),
            (sign_ed(&with("nbf", json!(NOW + 61)), Some("ed")), "`nbf`"),
            (
                sign_ed(&with("jti", Value::Null), Some("ed")),
                "`jti` is required",
            ),
            (
                sign_ed(&with("jti", json!("")), Some("ed")),
                "`jti` must have",
            ),
            (
                sign_ed(&with("exp", json!("soon")), Some("ed")),
                "malformed",
            ),
        ];
        for (assertion, why) in cases {
            let result = PresentedCredentials::parse(None, &assertion_params(&assertion))
                .and_then(|creds| check(&creds, &client));
            let e = result.expect_err(why);
            assert_eq!(e.code, ErrorCode::InvalidClient, "{why}");
            assert!(e.description.contains(why), "{why}: {}", e.description);
        }
    }

    #[test]
    fn assertion_for_a_secret_client_or_sub_mismatch_is_refused() {
        let (secret_client, _) = secret_client("client_secret_basic");
        let assertion = sign_ed(&claims(&secret_client), Some("ed"));
        let creds = PresentedCredentials::parse(None, &assertion_params(&assertion)).unwrap();
        let e = check(&creds, &secret_client).unwrap_err();
        assert!(
            e.description
                .contains("authenticates with `client_secret_basic`")
        );

        let client = jwt_client();
        let mut p = vec![("client_id", "c_BBBBBBBBBBBBBBBBBBBBBB")];
        let good = sign_ed(&claims(&client), Some("ed"));
        p.extend([
            ("client_assertion_type", CLIENT_ASSERTION_TYPE),
            ("client_assertion", good.as_str()),
        ]);
        let e = PresentedCredentials::parse(None, &form(&p)).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidClient);
        assert!(e.description.contains("differs"));
    }
}
