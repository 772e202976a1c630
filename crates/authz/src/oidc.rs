//! OpenID Connect on top of the OAuth core: the `openid` scope and the
//! authorization parameters it brings (`nonce`, `prompt`, `max_age`,
//! `login_hint`), ID tokens (RS256 and EdDSA), the RSA keys that sign them,
//! and the mapping of attribute keys to standard claim names.
//!
//! | piece | rule |
//! |---|---|
//! | [`OidcParams::parse`] | `nonce` only with `openid`, at most [`MAX_NONCE_LEN`] printable ASCII; `prompt` of `none`, `login`, `consent` (`none` alone); `max_age` a whole number of seconds; `login_hint` at most [`MAX_LOGIN_HINT_LEN`] printable characters |
//! | [`OidcParams::auth_after`] | the sign-in must be no older than this: `max_age` before the request, or the request itself for `prompt=login` |
//! | [`IdTokenClaims`] | `sub` is the pairwise subject (a company never learns another's id), `aud` the client, `nonce` echoed, `auth_time`, `amr`, `acr`, `at_hash` |
//! | [`RsaKeySet`] | 2048-bit RSA keys made by AWS-LC, rotated and pruned as the Ed25519 [`KeySet`] is, published in the same JWKS |
//! | [`verify_id_token_hint`] | our own signature and issuer; expiry ignored (an RP logs out with an old ID token) |
//!
//! The JOSE `typ` of an ID token is `JWT`, never `at+jwt`: an ID token is
//! refused where an access token is expected, and the other way round.

use std::fmt;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256};
use consent_policy::AttributeKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256, Sha512};

use crate::error::{ErrorCode, OAuthError};
use crate::params::Params;
use crate::time::UnixTime;
use crate::token::{
    CLOCK_SKEW_SECS, KeySet, MAX_KEYS, MAX_TOKEN_LEN, RETIRED_KEY_GRACE_SECS, TokenError,
    read_header,
};

/// The scope that makes an authorization request an OpenID Connect one.
pub const OPENID_SCOPE: &str = "openid";
/// Where the OpenID Provider metadata is served (OIDC Discovery 1.0 §4).
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";
/// The UserInfo endpoint's path.
pub const USERINFO_PATH: &str = "/oauth/userinfo";
/// The RP-initiated logout endpoint's path.
pub const END_SESSION_PATH: &str = "/oauth/logout";
/// The longest `nonce` accepted, in bytes.
pub const MAX_NONCE_LEN: usize = 255;
/// The longest `login_hint` accepted, in characters.
pub const MAX_LOGIN_HINT_LEN: usize = 64;
/// The largest `max_age` taken as given (ten years); larger is the same.
pub const MAX_MAX_AGE_SECS: u64 = 10 * 365 * 24 * 3600;
/// How long an ID token lives.
pub const ID_TOKEN_LIFETIME_SECS: u64 = 300;
/// The JOSE `typ` of an ID token.
pub const ID_TOKEN_TYP: &str = "JWT";
/// `acr` of a sign-in with a passkey: phishing-resistant (OpenID EAP ACR Values).
pub const ACR_PHISHING_RESISTANT: &str = "phr";
/// `acr` of a sign-in with two factors, none of them a passkey.
pub const ACR_MULTI_FACTOR: &str = "mfa";
/// `acr` of a single-factor sign-in: "0", below ISO 29115 level 1 (OIDC Core §2).
pub const ACR_SINGLE_FACTOR: &str = "0";
/// Every `acr` an ID token may carry, strongest first.
pub const ACR_VALUES: [&str; 3] = [ACR_PHISHING_RESISTANT, ACR_MULTI_FACTOR, ACR_SINGLE_FACTOR];

/// The algorithm a client's ID tokens are signed with
/// (`id_token_signed_response_alg` at registration; RS256 unless it says).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum IdTokenAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256, which OIDC Discovery requires.
    #[default]
    #[serde(rename = "RS256")]
    Rs256,
    /// Ed25519 (RFC 8037).
    #[serde(rename = "EdDSA")]
    EdDsa,
}

impl IdTokenAlg {
    /// Both, as metadata lists them.
    pub const ALL: [IdTokenAlg; 2] = [IdTokenAlg::Rs256, IdTokenAlg::EdDsa];

    /// The JOSE name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::EdDsa => "EdDSA",
        }
    }

    /// The algorithm named `text`, if supported.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == text)
    }
}

/// The OpenID Connect parameters of an authorization request. All off
/// (the default) for a plain OAuth request; stored with the request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcParams {
    /// The scope had `openid`: the token response carries an ID token.
    #[serde(default)]
    pub openid: bool,
    /// The client's `nonce`, echoed in the ID token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// `prompt=none`: never show a page; answer `login_required` or `consent_required`.
    #[serde(default)]
    pub prompt_none: bool,
    /// `prompt=login`: sign in again, whatever session there is.
    #[serde(default)]
    pub prompt_login: bool,
    /// `prompt=consent`: show the consent screen even when a grant covers the request.
    #[serde(default)]
    pub prompt_consent: bool,
    /// `max_age`: the sign-in may be at most this many seconds old.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<u64>,
    /// `login_hint`: the handle to offer on the sign-in page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_hint: Option<String>,
    /// Set when the request was first opened: a sign-in older than this
    /// does not do ([`OidcParams::auth_after`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_after: Option<UnixTime>,
}

impl OidcParams {
    /// Reads `nonce`, `prompt`, `max_age` and `login_hint`; `openid` says
    /// whether the scope had `openid`.
    ///
    /// # Errors
    /// `invalid_request` naming the parameter.
    pub fn parse(params: &Params, openid: bool) -> Result<Self, OAuthError> {
        let mut out = Self {
            openid,
            ..Self::default()
        };
        if let Some(nonce) = params.get("nonce")? {
            if !openid {
                return Err(OAuthError::invalid_request(
                    "`nonce` is for OpenID Connect requests: add `openid` to `scope`",
                ));
            }
            if nonce.is_empty()
                || nonce.len() > MAX_NONCE_LEN
                || !nonce.bytes().all(|b| b.is_ascii_graphic())
            {
                return Err(OAuthError::invalid_request(format!(
                    "`nonce` must be 1 to {MAX_NONCE_LEN} printable ASCII characters without spaces"
                )));
            }
            out.nonce = Some(nonce.to_owned());
        }
        if let Some(prompt) = params.get("prompt")? {
            for value in prompt.split(' ').filter(|v| !v.is_empty()) {
                match value {
                    "none" => out.prompt_none = true,
                    "login" => out.prompt_login = true,
                    "consent" => out.prompt_consent = true,
                    other => {
                        return Err(OAuthError::invalid_request(format!(
                            "`prompt` value `{}` is not supported; use none, login or consent",
                            crate::error::excerpt(other)
                        )));
                    }
                }
            }
            if out.prompt_none && (out.prompt_login || out.prompt_consent) {
                return Err(OAuthError::invalid_request(
                    "`prompt=none` cannot be combined with another value",
                ));
            }
            if !(out.prompt_none || out.prompt_login || out.prompt_consent) {
                return Err(OAuthError::invalid_request("`prompt` is empty"));
            }
        }
        if let Some(max_age) = params.get("max_age")? {
            let secs: u64 = (!max_age.is_empty() && max_age.bytes().all(|b| b.is_ascii_digit()))
                .then(|| max_age.parse::<u64>().unwrap_or(MAX_MAX_AGE_SECS))
                .ok_or_else(|| {
                    OAuthError::invalid_request(
                        "`max_age` must be a whole, non-negative number of seconds",
                    )
                })?;
            out.max_age = Some(secs.min(MAX_MAX_AGE_SECS));
        }
        if let Some(hint) = params.get("login_hint")? {
            if hint.is_empty()
                || hint.chars().count() > MAX_LOGIN_HINT_LEN
                || hint.chars().any(char::is_control)
            {
                return Err(OAuthError::invalid_request(format!(
                    "`login_hint` must be 1 to {MAX_LOGIN_HINT_LEN} printable characters"
                )));
            }
            out.login_hint = Some(hint.to_owned());
        }
        Ok(out)
    }

    /// Fixes, once, how recent the sign-in must be for a request opened at
    /// `now`: `prompt=login` asks for one after `now`, `max_age` for one
    /// at most that old. Opening it again (after signing in) keeps the
    /// first answer, so the new sign-in satisfies it.
    pub fn fix_auth_after(&mut self, now: UnixTime) {
        if self.auth_after.is_some() {
            return;
        }
        let by_age = self.max_age.map(|age| now.minus_secs(age));
        let by_login = self.prompt_login.then_some(now);
        self.auth_after = by_age.max(by_login);
    }

    /// Whether a sign-in at `signed_in_at` is recent enough.
    #[must_use]
    pub fn sign_in_recent_enough(&self, signed_in_at: UnixTime) -> bool {
        self.auth_after.is_none_or(|after| signed_in_at >= after)
    }
}

/// The `acr` of a sign-in made with the methods `amr` (RFC 8176), or `None`
/// when they are unknown.
#[must_use]
pub fn acr_for(amr: &[String]) -> Option<&'static str> {
    let has = |m: &str| amr.iter().any(|a| a == m);
    if amr.is_empty() {
        None
    } else if has("hwk") {
        Some(ACR_PHISHING_RESISTANT)
    } else if has("mfa") {
        Some(ACR_MULTI_FACTOR)
    } else {
        Some(ACR_SINGLE_FACTOR)
    }
}

/// The claims of an ID token (OIDC Core §2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdTokenClaims {
    /// The issuer URL.
    pub iss: String,
    /// The person's pairwise subject for this company.
    pub sub: String,
    /// The client the token is for.
    pub aud: String,
    /// Expires at, seconds since the epoch.
    pub exp: u64,
    /// Issued at.
    pub iat: u64,
    /// When the person signed in.
    pub auth_time: u64,
    /// The request's `nonce`, when it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// The assurance of the sign-in ([`acr_for`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// How the person signed in (RFC 8176).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    /// The left half of the access token's hash ([`at_hash`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
}

/// The `at_hash` of an access token for ID tokens signed with `alg`: the
/// left half of its SHA-256 (RS256) or SHA-512 (EdDSA over Ed25519), base64url.
#[must_use]
pub fn at_hash(alg: IdTokenAlg, access_token: &str) -> String {
    match alg {
        IdTokenAlg::Rs256 => crate::b64url_encode(&Sha256::digest(access_token)[..16]),
        IdTokenAlg::EdDsa => crate::b64url_encode(&Sha512::digest(access_token)[..32]),
    }
}

/// The claim an attribute is released under at the UserInfo endpoint:
/// the OIDC Core §5.1 name where one exists, the key itself otherwise.
#[must_use]
pub fn claim_name(key: &AttributeKey) -> &str {
    match key.as_str() {
        "display_name" => "name",
        "birth_date" => "birthdate",
        "postal_address" => "address",
        "phone" => "phone_number",
        "language" => "locale",
        other => other,
    }
}

/// An attribute's value as its claim carries it: `address` is an object
/// with `formatted` (OIDC Core §5.1.1); every other value as stored.
#[must_use]
pub fn claim_value(key: &AttributeKey, value: serde_json::Value) -> serde_json::Value {
    match (key.as_str(), value) {
        ("postal_address", serde_json::Value::String(text)) => {
            serde_json::json!({ "formatted": text })
        }
        (_, value) => value,
    }
}

/// The standard claims the UserInfo endpoint can release.
pub const CLAIMS_SUPPORTED: [&str; 16] = [
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "at_hash",
    "email",
    "name",
    "birthdate",
    "address",
    "phone_number",
    "locale",
];

/// One RSA signing key with its id (the RFC 7638 thumbprint) and birth time.
pub struct RsaKey {
    kid: String,
    created_at: UnixTime,
    pair: RsaKeyPair,
    n: Vec<u8>,
    e: Vec<u8>,
}

impl RsaKey {
    fn generate(now: UnixTime) -> Result<Self, TokenError> {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| TokenError::Signing("AWS-LC could not make an RSA key".into()))?;
        Ok(Self::from_pair(pair, now))
    }

    fn from_pair(pair: RsaKeyPair, created_at: UnixTime) -> Self {
        let public = pair.public_key();
        let n = public.modulus().big_endian_without_leading_zero().to_vec();
        let e = public.exponent().big_endian_without_leading_zero().to_vec();
        let canonical = format!(
            r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
            crate::b64url_encode(&e),
            crate::b64url_encode(&n)
        );
        let kid = crate::b64url_encode(Sha256::digest(canonical.as_bytes()));
        Self {
            kid,
            created_at,
            pair,
            n,
            e,
        }
    }

    /// The key id.
    #[must_use]
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK (RFC 7518 §6.3).
    #[must_use]
    pub fn public_jwk(&self) -> serde_json::Value {
        serde_json::json!({
            "kty": "RSA",
            "n": crate::b64url_encode(&self.n),
            "e": crate::b64url_encode(&self.e),
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
        })
    }

    fn verify(&self, signed: &[u8], signature: &[u8]) -> bool {
        PublicKeyComponents {
            n: self.n.as_slice(),
            e: self.e.as_slice(),
        }
        .verify(&RSA_PKCS1_2048_8192_SHA256, signed, signature)
        .is_ok()
    }
}

impl fmt::Debug for RsaKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RsaKey")
            .field("kid", &self.kid)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// The server's RSA keys for RS256 ID tokens, oldest first: the newest
/// signs, all verify until pruned. Never empty. Rotated with the Ed25519
/// set by `apiome keys rotate`.
#[derive(Debug)]
pub struct RsaKeySet {
    keys: Vec<RsaKey>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RsaKeyFile {
    format: String,
    keys: Vec<RsaKeyFileEntry>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RsaKeyFileEntry {
    kid: String,
    created_at: UnixTime,
    pkcs8: String,
}

const RSA_KEY_FILE_FORMAT: &str = "apiome-rsa-signing-keys-v1";

impl RsaKeySet {
    /// A set with one new key.
    ///
    /// # Errors
    /// [`TokenError::Signing`] when AWS-LC cannot make a key.
    pub fn generate(now: UnixTime) -> Result<Self, TokenError> {
        Ok(Self {
            keys: vec![RsaKey::generate(now)?],
        })
    }

    /// Adds a new key that signs from now on; returns its id.
    ///
    /// # Errors
    /// [`TokenError::Signing`] when the set is full or no key can be made.
    pub fn rotate(&mut self, now: UnixTime) -> Result<String, TokenError> {
        if self.keys.len() >= MAX_KEYS {
            return Err(TokenError::Signing(format!(
                "an RSA key set holds at most {MAX_KEYS} keys"
            )));
        }
        let key = RsaKey::generate(now)?;
        let kid = key.kid.clone();
        self.keys.push(key);
        Ok(kid)
    }

    /// Drops every key superseded more than [`RETIRED_KEY_GRACE_SECS`] ago.
    pub fn prune(&mut self, now: UnixTime) -> Vec<String> {
        let cutoff = now.minus_secs(RETIRED_KEY_GRACE_SECS);
        let superseded: Vec<Option<UnixTime>> = (0..self.keys.len())
            .map(|i| self.keys.get(i + 1).map(|next| next.created_at))
            .collect();
        let mut dropped = Vec::new();
        let mut kept = Vec::with_capacity(self.keys.len());
        for (key, at) in self.keys.drain(..).zip(superseded) {
            match at {
                Some(at) if at < cutoff => dropped.push(key.kid),
                _ => kept.push(key),
            }
        }
        self.keys = kept;
        dropped
    }

    /// The key that signs.
    #[must_use]
    pub fn signing_key(&self) -> &RsaKey {
        self.keys.last().expect("an RSA key set is never empty")
    }

    /// Every key, oldest first.
    #[must_use]
    pub fn keys(&self) -> &[RsaKey] {
        &self.keys
    }

    /// The public JWKs, newest first.
    #[must_use]
    pub fn public_jwks(&self) -> Vec<serde_json::Value> {
        self.keys.iter().rev().map(RsaKey::public_jwk).collect()
    }

    /// The private text form for the server's 0600 key file (JSON; secret!).
    #[must_use]
    pub fn to_text(&self) -> String {
        let file = RsaKeyFile {
            format: RSA_KEY_FILE_FORMAT.to_owned(),
            keys: self
                .keys
                .iter()
                .map(|k| RsaKeyFileEntry {
                    kid: k.kid.clone(),
                    created_at: k.created_at,
                    pkcs8: k
                        .pair
                        .as_der()
                        .map(|der| crate::b64url_encode(der.as_ref()))
                        .unwrap_or_default(),
                })
                .collect(),
        };
        let mut text = serde_json::to_string_pretty(&file).expect("a key file always serialises");
        text.push('\n');
        text
    }

    /// Reads the private text form, checking every key's id against its key.
    ///
    /// # Errors
    /// A description of what is wrong.
    pub fn from_text(text: &str) -> Result<Self, String> {
        let file: RsaKeyFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if file.format != RSA_KEY_FILE_FORMAT {
            return Err(format!(
                "format `{}` is not `{RSA_KEY_FILE_FORMAT}`",
                file.format
            ));
        }
        if file.keys.is_empty() || file.keys.len() > MAX_KEYS {
            return Err(format!("an RSA key set holds 1 to {MAX_KEYS} keys"));
        }
        let mut keys: Vec<RsaKey> = Vec::with_capacity(file.keys.len());
        for entry in file.keys {
            let der = crate::b64url_decode(&entry.pkcs8)
                .ok_or_else(|| format!("key `{}` is not base64url", entry.kid))?;
            let pair = RsaKeyPair::from_pkcs8(&der)
                .map_err(|e| format!("key `{}` is not an RSA PKCS#8 key: {e}", entry.kid))?;
            let key = RsaKey::from_pair(pair, entry.created_at);
            if key.kid != entry.kid {
                return Err(format!("key `{}` does not match its id", entry.kid));
            }
            if keys.last().is_some_and(|p| p.created_at > key.created_at) {
                return Err("keys must be oldest first".into());
            }
            keys.push(key);
        }
        Ok(Self { keys })
    }

    /// Signs an ID token with the newest key (RS256, `typ: JWT`, `kid`).
    ///
    /// # Errors
    /// [`TokenError::Signing`].
    pub fn sign(&self, claims: &IdTokenClaims) -> Result<String, TokenError> {
        let key = self.signing_key();
        let header = serde_json::json!({ "alg": "RS256", "typ": ID_TOKEN_TYP, "kid": key.kid });
        let signing = |e: String| TokenError::Signing(e);
        let mut token = crate::b64url_encode(header.to_string());
        token.push('.');
        token.push_str(&crate::b64url_encode(
            serde_json::to_vec(claims).map_err(|e| signing(e.to_string()))?,
        ));
        let mut signature = vec![0; key.pair.public_modulus_len()];
        key.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                token.as_bytes(),
                &mut signature,
            )
            .map_err(|_| signing("RSA signing failed".into()))?;
        token.push('.');
        token.push_str(&crate::b64url_encode(signature));
        Ok(token)
    }
}

/// Signs ID token claims with `alg`: RS256 with the newest RSA key,
/// EdDSA with the newest Ed25519 key.
///
/// # Errors
/// [`TokenError::Signing`].
pub fn sign_id_token(
    claims: &IdTokenClaims,
    alg: IdTokenAlg,
    ed25519: &KeySet,
    rsa: &RsaKeySet,
) -> Result<String, TokenError> {
    match alg {
        IdTokenAlg::Rs256 => rsa.sign(claims),
        IdTokenAlg::EdDsa => ed25519.sign_other(ID_TOKEN_TYP, claims),
    }
}

/// Checks an `id_token_hint`: an ID token this server signed (RS256 or
/// EdDSA, a key it still has, `typ` JWT) for `issuer`, not issued in the
/// future. Its expiry is not checked: an RP logs out with the ID token it
/// holds, however old (OIDC RP-Initiated Logout §2).
///
/// # Errors
/// The first [`TokenError`] found.
pub fn verify_id_token_hint(
    token: &str,
    issuer: &str,
    ed25519: &KeySet,
    rsa: &RsaKeySet,
    now: UnixTime,
) -> Result<IdTokenClaims, TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::TooLong);
    }
    let header = read_header(token)?;
    if header.typ.as_deref().is_some_and(|t| t != ID_TOKEN_TYP) {
        return Err(TokenError::WrongType);
    }
    if header.crit.is_some() {
        return Err(TokenError::CriticalHeader);
    }
    let kid = header.kid.ok_or(TokenError::MissingKid)?;
    let (signed, signature) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
    let (_, payload) = signed.split_once('.').ok_or(TokenError::Malformed)?;
    let signature = crate::b64url_decode(signature).ok_or(TokenError::Malformed)?;
    let verified = match header.alg.as_deref() {
        Some("RS256") => {
            let key = rsa
                .keys
                .iter()
                .find(|k| k.kid == kid)
                .ok_or(TokenError::UnknownKid)?;
            key.verify(signed.as_bytes(), &signature)
        }
        Some("EdDSA") => {
            if !ed25519.knows(&kid) {
                return Err(TokenError::UnknownKid);
            }
            ed25519.verify_signature(&kid, signed.as_bytes(), &signature)
        }
        other => {
            return Err(TokenError::UnsupportedAlgorithm(
                other.unwrap_or("(missing)").to_owned(),
            ));
        }
    };
    if !verified {
        return Err(TokenError::BadSignature);
    }
    let payload = crate::b64url_decode(payload).ok_or(TokenError::Malformed)?;
    let claims: IdTokenClaims =
        serde_json::from_slice(&payload).map_err(|_| TokenError::Malformed)?;
    if claims.iss != issuer {
        return Err(TokenError::WrongIssuer);
    }
    if claims.iat > now.plus_secs(CLOCK_SKEW_SECS).as_secs() {
        return Err(TokenError::IssuedInFuture);
    }
    Ok(claims)
}

/// The `error` of a `prompt=none` request that needs the person.
#[must_use]
pub fn login_required() -> OAuthError {
    OAuthError::new(
        ErrorCode::LoginRequired,
        "`prompt=none`, and the person must sign in",
    )
}

/// The `error` of a `prompt=none` request that needs the consent screen.
#[must_use]
pub fn consent_required() -> OAuthError {
    OAuthError::new(
        ErrorCode::ConsentRequired,
        "`prompt=none`, and the person must see the consent screen",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::PredictableRandom;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<Vec<_>>(),
        )
        .unwrap()
    }

    fn claims(now: u64) -> IdTokenClaims {
        IdTokenClaims {
            iss: "https://as.example".into(),
            sub: "s".into(),
            aud: "c_1".into(),
            exp: now + 300,
            iat: now,
            auth_time: now,
            nonce: Some("n-0S6_WzA2Mj".into()),
            acr: Some(ACR_PHISHING_RESISTANT.into()),
            amr: vec!["hwk".into(), "user".into()],
            at_hash: None,
        }
    }

    #[test]
    fn bad_oidc_parameters_are_named() {
        // (An empty value is an absent one: `Params` drops it, RFC 6749 §3.1.)
        type Case<'a> = (&'a [(&'a str, &'a str)], bool, &'a str);
        let cases: [Case; 7] = [
            (&[("nonce", "abc")], false, "`nonce`"),
            (&[("nonce", "a b")], true, "`nonce`"),
            (&[("prompt", "select_account")], true, "`prompt`"),
            (&[("prompt", "none login")], true, "`prompt=none`"),
            (&[("max_age", "-1")], true, "`max_age`"),
            (&[("max_age", "1.5")], true, "`max_age`"),
            (&[("login_hint", "a\nb")], true, "`login_hint`"),
        ];
        for (pairs, openid, named) in cases {
            let e = OidcParams::parse(&params(pairs), openid).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidRequest, "{pairs:?}");
            assert!(
                e.description.contains(named),
                "{pairs:?}: {}",
                e.description
            );
        }
        let long = "n".repeat(MAX_NONCE_LEN + 1);
        assert!(OidcParams::parse(&params(&[("nonce", &long)]), true).is_err());
    }

    #[test]
    fn prompt_login_and_max_age_fix_the_oldest_acceptable_sign_in_once() {
        let mut p = OidcParams::parse(
            &params(&[("prompt", "login consent"), ("max_age", "60")]),
            true,
        )
        .unwrap();
        assert!(p.prompt_login && p.prompt_consent && !p.prompt_none);
        p.fix_auth_after(UnixTime::from_secs(1000));
        assert_eq!(p.auth_after, Some(UnixTime::from_secs(1000)));
        p.fix_auth_after(UnixTime::from_secs(5000));
        assert!(!p.sign_in_recent_enough(UnixTime::from_secs(999)));
        assert!(p.sign_in_recent_enough(UnixTime::from_secs(1000)));

        let mut aged = OidcParams::parse(&params(&[("max_age", "60")]), true).unwrap();
        aged.fix_auth_after(UnixTime::from_secs(1000));
        assert!(aged.sign_in_recent_enough(UnixTime::from_secs(940)));
        assert!(!aged.sign_in_recent_enough(UnixTime::from_secs(939)));
        let mut none = OidcParams::default();
        none.fix_auth_after(UnixTime::from_secs(1000));
        assert!(none.sign_in_recent_enough(UnixTime::from_secs(0)));
    }

    #[test]
    fn acr_follows_the_strongest_method() {
        let amr = |s: &str| s.split(' ').map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(acr_for(&amr("hwk user")), Some("phr"));
        assert_eq!(acr_for(&amr("mfa otp pwd")), Some("mfa"));
        assert_eq!(acr_for(&amr("pwd")), Some("0"));
        assert_eq!(acr_for(&[]), None);
    }

    #[test]
    fn id_tokens_of_both_algorithms_verify_and_name_their_key() {
        let now = UnixTime::from_secs(1_700_000_000);
        let ed = KeySet::generate(&mut PredictableRandom::new(1), now).unwrap();
        let mut rsa = RsaKeySet::generate(now).unwrap();
        let c = claims(now.as_secs());
        for alg in IdTokenAlg::ALL {
            let token = sign_id_token(&c, alg, &ed, &rsa).unwrap();
            let header = read_header(&token).unwrap();
            assert_eq!(header.alg.as_deref(), Some(alg.as_str()));
            assert_eq!(header.typ.as_deref(), Some("JWT"));
            let back = verify_id_token_hint(&token, "https://as.example", &ed, &rsa, now).unwrap();
            assert_eq!(back, c);
            assert_eq!(
                verify_id_token_hint(&token, "https://other.example", &ed, &rsa, now),
                Err(TokenError::WrongIssuer)
            );
            // One changed byte of the payload breaks the signature.
            let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
            let mut forged = c.clone();
            forged.sub = "someone-else".into();
            parts[1] = crate::b64url_encode(serde_json::to_vec(&forged).unwrap());
            assert_eq!(
                verify_id_token_hint(&parts.join("."), "https://as.example", &ed, &rsa, now),
                Err(TokenError::BadSignature)
            );
        }
        // An ID token is never an access token.
        let token = sign_id_token(&c, IdTokenAlg::EdDsa, &ed, &rsa).unwrap();
        let settings = crate::TokenSettings::new("https://as.example", "c_1", 300).unwrap();
        assert_eq!(
            ed.verify(&token, &settings, now),
            Err(TokenError::WrongType)
        );
        // A rotated set keeps verifying the old key's tokens; text round-trips.
        let old = sign_id_token(&c, IdTokenAlg::Rs256, &ed, &rsa).unwrap();
        rsa.rotate(now.plus_secs(10)).unwrap();
        let reread = RsaKeySet::from_text(&rsa.to_text()).unwrap();
        assert_eq!(reread.keys().len(), 2);
        assert!(verify_id_token_hint(&old, "https://as.example", &ed, &reread, now).is_ok());
        let mut later = reread;
        assert_eq!(
            later
                .prune(now.plus_secs(10 + RETIRED_KEY_GRACE_SECS + 1))
                .len(),
            1
        );
        assert_eq!(
            verify_id_token_hint(&old, "https://as.example", &ed, &later, now),
            Err(TokenError::UnknownKid)
        );
    }

    #[test]
    fn at_hash_is_the_left_half_of_the_algorithms_hash() {
        // OIDC Core A.3's example access token and at_hash.
        assert_eq!(
            at_hash(
                IdTokenAlg::Rs256,
                "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
            ),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
        assert_eq!(at_hash(IdTokenAlg::EdDsa, "x").len(), 43);
    }

    #[test]
    fn attribute_keys_map_to_standard_claims() {
        let key = |s: &str| AttributeKey::parse(s).unwrap();
        assert_eq!(claim_name(&key("email")), "email");
        assert_eq!(claim_name(&key("display_name")), "name");
        assert_eq!(claim_name(&key("birth_date")), "birthdate");
        assert_eq!(claim_name(&key("postal_address")), "address");
        assert_eq!(claim_name(&key("phone")), "phone_number");
        assert_eq!(
            claim_value(&key("postal_address"), serde_json::json!("1 Main St")),
            serde_json::json!({"formatted": "1 Main St"})
        );
    }
}
