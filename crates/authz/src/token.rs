//! JWT access tokens (RFC 9068) signed with Ed25519, and the rotating key set
//! that signs and verifies them.

use std::fmt;

use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair as _, ParsedPublicKey};

use consent_policy::{AttributeKey, DataRequest};
use jsonwebtoken::{Algorithm, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::client::ClientId;
use crate::error::{ErrorCode, OAuthError};
use crate::random::{Random, RandomError};
use crate::time::UnixTime;

/// The longest an access token lives: `exp` is at most this many seconds after `iat`.
pub const MAX_ACCESS_TOKEN_LIFETIME_SECS: u64 = 600;
/// The JOSE `typ` of an access token (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";
/// The longest token text looked at, in bytes.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;
/// How far in the future an `iat` may be, for clocks of several servers that disagree a little.
pub const CLOCK_SKEW_SECS: u64 = 60;
/// How long a superseded key keeps verifying before [`KeySet::prune`] drops it.
pub const RETIRED_KEY_GRACE_SECS: u64 = MAX_ACCESS_TOKEN_LIFETIME_SECS + CLOCK_SKEW_SECS;
/// The most keys a key set holds.
pub const MAX_KEYS: usize = 16;

/// The claims of an access token (RFC 9068 §2.2, plus RFC 9396 `authorization_details` and our `grant_id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    /// The issuer URL.
    pub iss: String,
    /// The pairwise subject of the person, or the client id for `client_credentials`.
    pub sub: String,
    /// The resource the token is for (the API base URL).
    pub aud: String,
    /// The client the token was issued to.
    pub client_id: String,
    /// Issued at, seconds since the epoch.
    pub iat: u64,
    /// Expires at, seconds since the epoch; at most ten minutes after `iat`.
    pub exp: u64,
    /// A unique id (128 random bits).
    pub jti: String,
    /// Space-separated scopes: the granted attribute keys, or client scopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The granted `apiome_data` entry, as a one-entry array.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_details: Option<Vec<DataRequest>>,
    /// The grant the token reads through; checked live on every read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_id: Option<String>,
    /// The key the token is bound to (RFC 9449 §6.1): a DPoP token is
    /// honoured only with a proof signed by that key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

/// The `cnf` claim of a DPoP-bound token (RFC 7800, RFC 9449 §6.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// The RFC 7638 thumbprint of the client's DPoP key.
    pub jkt: String,
}

impl AccessTokenClaims {
    /// Binds the token to the DPoP key with thumbprint `jkt`.
    #[must_use]
    pub fn bound_to(mut self, jkt: Option<&str>) -> Self {
        self.cnf = jkt.map(|jkt| Confirmation {
            jkt: jkt.to_owned(),
        });
        self
    }

    /// The thumbprint of the DPoP key the token is bound to, if any.
    #[must_use]
    pub fn jkt(&self) -> Option<&str> {
        self.cnf.as_ref().map(|c| c.jkt.as_str())
    }
}

/// Where tokens come from and go, and how long they live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSettings {
    issuer: String,
    audience: String,
    lifetime_secs: u64,
}

impl TokenSettings {
    /// Settings for `issuer` and `audience`, tokens living `lifetime_secs`.
    ///
    /// # Errors
    /// [`TokenError::LifetimeTooLong`] when the lifetime is zero or over ten minutes.
    pub fn new(
        issuer: impl Into<String>,
        audience: impl Into<String>,
        lifetime_secs: u64,
    ) -> Result<Self, TokenError> {
        if lifetime_secs == 0 || lifetime_secs > MAX_ACCESS_TOKEN_LIFETIME_SECS {
            return Err(TokenError::LifetimeTooLong);
        }
        Ok(Self {
            issuer: issuer.into(),
            audience: audience.into(),
            lifetime_secs,
        })
    }

    /// The issuer URL.
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The audience.
    #[must_use]
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// Token lifetime in seconds (the `expires_in` of a token response).
    #[must_use]
    pub const fn lifetime_secs(&self) -> u64 {
        self.lifetime_secs
    }

    /// Claims for a person's grant: `sub` is the pairwise subject, `scope`
    /// the granted keys, `authorization_details` the granted entry.
    ///
    /// # Errors
    /// [`RandomError`] when the random source fails.
    pub fn grant_claims(
        &self,
        subject: &str,
        client_id: &ClientId,
        grant_id: &str,
        granted: &DataRequest,
        now: UnixTime,
        rng: &mut impl Random,
    ) -> Result<AccessTokenClaims, RandomError> {
        let scope = granted
            .attributes()
            .iter()
            .map(AttributeKey::as_str)
            .collect::<Vec<_>>()
            .join(" ");
        let mut claims = self.base_claims(subject, client_id, now, rng)?;
        claims.scope = Some(scope);
        claims.authorization_details = Some(vec![granted.clone()]);
        claims.grant_id = Some(grant_id.to_owned());
        Ok(claims)
    }

    /// Claims for a company's own calls (`client_credentials`): `sub` is the client id.
    ///
    /// # Errors
    /// [`RandomError`] when the random source fails.
    pub fn client_claims(
        &self,
        client_id: &ClientId,
        scope: Option<&str>,
        now: UnixTime,
        rng: &mut impl Random,
    ) -> Result<AccessTokenClaims, RandomError> {
        let mut claims = self.base_claims(client_id.as_str(), client_id, now, rng)?;
        claims.scope = scope.filter(|s| !s.is_empty()).map(str::to_owned);
        Ok(claims)
    }

    fn base_claims(
        &self,
        subject: &str,
        client_id: &ClientId,
        now: UnixTime,
        rng: &mut impl Random,
    ) -> Result<AccessTokenClaims, RandomError> {
        let jti: [u8; 16] = rng.array()?;
        Ok(AccessTokenClaims {
            iss: self.issuer.clone(),
            sub: subject.to_owned(),
            aud: self.audience.clone(),
            client_id: client_id.as_str().to_owned(),
            iat: now.as_secs(),
            exp: now.plus_secs(self.lifetime_secs).as_secs(),
            jti: crate::b64url_encode(jti),
            scope: None,
            authorization_details: None,
            grant_id: None,
            cnf: None,
        })
    }
}

/// Why an access token is refused (or cannot be made).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a JWS compact serialisation we can read, or claims of the wrong shape.
    #[error("the token is malformed")]
    Malformed,
    /// Longer than [`MAX_TOKEN_LEN`].
    #[error("the token is too long")]
    TooLong,
    /// `alg` is not `EdDSA` (this covers `none` and every HMAC algorithm).
    #[error("the token's algorithm `{0}` is not accepted; only EdDSA")]
    UnsupportedAlgorithm(String),
    /// `typ` is not `at+jwt`.
    #[error("the token's `typ` is not `at+jwt`")]
    WrongType,
    /// The header has a `crit` parameter; no extension is understood.
    #[error("the token has critical header parameters")]
    CriticalHeader,
    /// The header has no `kid`.
    #[error("the token has no `kid`")]
    MissingKid,
    /// No key of the set has the token's `kid` (never ours, or dropped).
    #[error("the token's signing key is unknown")]
    UnknownKid,
    /// The signature does not verify.
    #[error("the token's signature is invalid")]
    BadSignature,
    /// `iss` is not this server.
    #[error("the token was issued by someone else")]
    WrongIssuer,
    /// `aud` is not this resource.
    #[error("the token is for another audience")]
    WrongAudience,
    /// `exp` has passed.
    #[error("the token has expired")]
    Expired,
    /// `iat` is in the future.
    #[error("the token is issued in the future")]
    IssuedInFuture,
    /// `exp` is more than ten minutes after `iat` (or not after it).
    #[error("the token's lifetime is longer than ten minutes")]
    LifetimeTooLong,
    /// Signing failed.
    #[error("signing failed: {0}")]
    Signing(String),
}

impl From<TokenError> for OAuthError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Signing(_) => Self::server_error(e.to_string()),
            other => Self::new(ErrorCode::InvalidToken, other.to_string()),
        }
    }
}

/// One Ed25519 signing key with its id (the RFC 7638 thumbprint) and birth time.
///
/// Tokens are signed and verified by AWS-LC (`aws-lc-rs`), the server's one
/// Ed25519 implementation (it also signs checkpoints), which signs in half
/// the time `ed25519-dalek` takes. Ed25519 signatures are deterministic
/// (RFC 8032), so an independent implementation gives the same bytes; a
/// test holds them to `ed25519-dalek`'s.
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    created_at: UnixTime,
    /// Kept for the key file; zeroed on drop.
    seed: Seed,
    public: [u8; 32],
    signer: Ed25519KeyPair,
    /// Parsed once, not on every verification.
    verifier: ParsedPublicKey,
    /// `base64url(header) + "."`: the JOSE header is the same for every
    /// token this key signs, so it is encoded once.
    header_prefix: String,
    /// The same key for `jsonwebtoken` (tests sign odd tokens with it).
    #[cfg_attr(not(test), allow(dead_code))]
    encoding: EncodingKey,
}

/// A private seed that is zeroed when dropped.
#[derive(Clone)]
struct Seed([u8; 32]);

impl Drop for Seed {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl SigningKey {
    /// Makes a new random key.
    ///
    /// # Errors
    /// [`RandomError`] when the random source fails.
    pub fn generate(rng: &mut impl Random, now: UnixTime) -> Result<Self, RandomError> {
        let seed: [u8; 32] = rng.array()?;
        Ok(Self::from_seed(seed, now))
    }

    fn from_seed(seed: [u8; 32], created_at: UnixTime) -> Self {
        let signer =
            Ed25519KeyPair::from_seed_unchecked(&seed).expect("any 32 bytes are an Ed25519 seed");
        let der = signer
            .to_pkcs8v1()
            .expect("an Ed25519 key always encodes as PKCS#8");
        let public: [u8; 32] = signer
            .public_key()
            .as_ref()
            .try_into()
            .expect("an Ed25519 public key is 32 bytes");
        let verifier =
            ParsedPublicKey::new(&ED25519, public).expect("a derived public key always parses");
        let kid = thumbprint(&public);
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some(ACCESS_TOKEN_TYP.to_owned());
        header.kid = Some(kid.clone());
        let header = serde_json::to_vec(&header).expect("a JOSE header always serialises");
        let mut header_prefix = crate::b64url_encode(header);
        header_prefix.push('.');
        Self {
            kid,
            created_at,
            encoding: EncodingKey::from_ed_der(der.as_ref()),
            seed: Seed(seed),
            public,
            signer,
            verifier,
            header_prefix,
        }
    }

    /// The key id (`kid`): the RFC 7638 JWK thumbprint of the public key.
    #[must_use]
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// When the key was made.
    #[must_use]
    pub const fn created_at(&self) -> UnixTime {
        self.created_at
    }

    /// The public key as a JWK (RFC 8037 OKP).
    #[must_use]
    pub fn public_jwk(&self) -> serde_json::Value {
        serde_json::json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": crate::b64url_encode(self.public),
            "use": "sig",
            "alg": "EdDSA",
            "kid": self.kid,
        })
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// RFC 7638 thumbprint of an Ed25519 public key.
fn thumbprint(public: &[u8; 32]) -> String {
    let canonical = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        crate::b64url_encode(public)
    );
    crate::b64url_encode(Sha256::digest(canonical.as_bytes()))
}

/// The server's signing keys, oldest first: the newest signs, all verify
/// until dropped. Never empty.
#[derive(Debug, Clone)]
pub struct KeySet {
    keys: Vec<SigningKey>,
}

/// Why a key set cannot be read or changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeySetError {
    /// The text is not a key set file.
    #[error("not an apiome key set: {0}")]
    Malformed(String),
    /// The set would be empty.
    #[error("a key set needs at least one key")]
    Empty,
    /// The set would hold more than [`MAX_KEYS`].
    #[error("a key set holds at most {MAX_KEYS} keys; drop old ones first")]
    TooMany,
    /// No key has this id.
    #[error("no key has id `{0}`")]
    UnknownKid(String),
    /// The newest key signs and cannot be removed; rotate first.
    #[error("the signing key cannot be removed; rotate first")]
    SigningKey,
    /// The random source failed.
    #[error(transparent)]
    Random(#[from] RandomError),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    format: String,
    keys: Vec<KeyFileEntry>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFileEntry {
    kid: String,
    created_at: UnixTime,
    ed25519_seed: String,
}

const KEY_FILE_FORMAT: &str = "apiome-signing-keys-v1";

impl KeySet {
    /// A set with one new key.
    ///
    /// # Errors
    /// [`RandomError`] when the random source fails.
    pub fn generate(rng: &mut impl Random, now: UnixTime) -> Result<Self, RandomError> {
        Ok(Self {
            keys: vec![SigningKey::generate(rng, now)?],
        })
    }

    /// Adds a new key that signs from now on; older keys keep verifying.
    /// Returns the new key's id.
    ///
    /// # Errors
    /// [`KeySetError::TooMany`] or [`KeySetError::Random`].
    pub fn rotate(&mut self, rng: &mut impl Random, now: UnixTime) -> Result<String, KeySetError> {
        if self.keys.len() >= MAX_KEYS {
            return Err(KeySetError::TooMany);
        }
        let key = SigningKey::generate(rng, now)?;
        let kid = key.kid.clone();
        self.keys.push(key);
        Ok(kid)
    }

    /// Drops a superseded key: tokens it signed stop verifying.
    ///
    /// # Errors
    /// [`KeySetError::UnknownKid`], or [`KeySetError::SigningKey`] for the newest key.
    pub fn remove(&mut self, kid: &str) -> Result<(), KeySetError> {
        let index = self
            .keys
            .iter()
            .position(|k| k.kid == kid)
            .ok_or_else(|| KeySetError::UnknownKid(kid.to_owned()))?;
        if index + 1 == self.keys.len() {
            return Err(KeySetError::SigningKey);
        }
        self.keys.remove(index);
        Ok(())
    }

    /// Drops every key superseded more than [`RETIRED_KEY_GRACE_SECS`] ago:
    /// no unexpired token can carry its signature. Returns the dropped ids.
    pub fn prune(&mut self, now: UnixTime) -> Vec<String> {
        let cutoff = now.minus_secs(RETIRED_KEY_GRACE_SECS);
        let superseded_at: Vec<Option<UnixTime>> = (0..self.keys.len())
            .map(|i| self.keys.get(i + 1).map(|next| next.created_at))
            .collect();
        let mut dropped = Vec::new();
        let mut kept = Vec::with_capacity(self.keys.len());
        for (key, superseded) in self.keys.drain(..).zip(superseded_at) {
            match superseded {
                Some(at) if at < cutoff => dropped.push(key.kid),
                _ => kept.push(key),
            }
        }
        self.keys = kept;
        debug_assert!(!self.keys.is_empty(), "the signing key is never pruned");
        dropped
    }

    /// The key that signs new tokens.
    #[must_use]
    pub fn signing_key(&self) -> &SigningKey {
        self.keys.last().expect("a key set is never empty")
    }

    /// Every key, oldest first.
    #[must_use]
    pub fn keys(&self) -> &[SigningKey] {
        &self.keys
    }

    /// The public JWK set for the JWKS endpoint (RFC 7517).
    #[must_use]
    pub fn jwks(&self) -> serde_json::Value {
        let keys: Vec<serde_json::Value> =
            self.keys.iter().rev().map(SigningKey::public_jwk).collect();
        serde_json::json!({ "keys": keys })
    }

    /// The private text form for the server's 0600 key file (JSON; secret!).
    #[must_use]
    pub fn to_text(&self) -> String {
        let file = KeyFile {
            format: KEY_FILE_FORMAT.to_owned(),
            keys: self
                .keys
                .iter()
                .map(|k| KeyFileEntry {
                    kid: k.kid.clone(),
                    created_at: k.created_at,
                    ed25519_seed: crate::b64url_encode(k.seed.0),
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
    /// [`KeySetError::Malformed`], [`KeySetError::Empty`] or [`KeySetError::TooMany`].
    pub fn from_text(text: &str) -> Result<Self, KeySetError> {
        let file: KeyFile =
            serde_json::from_str(text).map_err(|e| KeySetError::Malformed(e.to_string()))?;
        if file.format != KEY_FILE_FORMAT {
            return Err(KeySetError::Malformed(format!(
                "format `{}` is not `{KEY_FILE_FORMAT}`",
                file.format
            )));
        }
        if file.keys.is_empty() {
            return Err(KeySetError::Empty);
        }
        if file.keys.len() > MAX_KEYS {
            return Err(KeySetError::TooMany);
        }
        let mut keys: Vec<SigningKey> = Vec::with_capacity(file.keys.len());
        for entry in file.keys {
            let seed = crate::b64url_decode(&entry.ed25519_seed)
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or_else(|| {
                    KeySetError::Malformed(format!("key `{}` has a bad seed", entry.kid))
                })?;
            let key = SigningKey::from_seed(seed, entry.created_at);
            if key.kid != entry.kid {
                return Err(KeySetError::Malformed(format!(
                    "key `{}` does not match its id",
                    entry.kid
                )));
            }
            if keys
                .last()
                .is_some_and(|prev| prev.created_at > key.created_at)
            {
                return Err(KeySetError::Malformed("keys must be oldest first".into()));
            }
            keys.push(key);
        }
        Ok(Self { keys })
    }

    /// Signs claims with the newest key: header `typ: at+jwt`, `alg: EdDSA`, `kid`.
    ///
    /// # Errors
    /// [`TokenError::LifetimeTooLong`] when `exp` is not within ten minutes
    /// after `iat`; [`TokenError::Signing`] when signing fails.
    pub fn sign(&self, claims: &AccessTokenClaims) -> Result<String, TokenError> {
        check_lifetime(claims)?;
        let key = self.signing_key();
        // JWS compact serialisation (RFC 7515 §7.1), signed with the key as
        // held: `jsonwebtoken` rebuilds an Ed25519 key from DER for every
        // signature, which made a signature cost ~70 µs instead of ~20.
        let claims = serde_json::to_vec(claims).map_err(|e| TokenError::Signing(e.to_string()))?;
        let mut token = String::with_capacity(key.header_prefix.len() + claims.len() * 4 / 3 + 90);
        token.push_str(&key.header_prefix);
        token.push_str(&crate::b64url_encode(claims));
        let signature = key
            .signer
            .try_sign(token.as_bytes())
            .map_err(|e| TokenError::Signing(e.to_string()))?;
        token.push('.');
        token.push_str(&crate::b64url_encode(signature.as_ref()));
        Ok(token)
    }

    /// Signs any JWT payload with the newest Ed25519 key under the JOSE
    /// `typ` given (`JWT` for ID tokens): never `at+jwt`, so no such token
    /// passes for an access token. Returns the token and the key id.
    ///
    /// # Errors
    /// [`TokenError::Signing`] when signing fails.
    pub fn sign_other(&self, typ: &str, payload: &impl Serialize) -> Result<String, TokenError> {
        if typ.eq_ignore_ascii_case(ACCESS_TOKEN_TYP) {
            return Err(TokenError::Signing(
                "`at+jwt` is signed by `KeySet::sign` only".into(),
            ));
        }
        let key = self.signing_key();
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some(typ.to_owned());
        header.kid = Some(key.kid.clone());
        let header = serde_json::to_vec(&header).map_err(|e| TokenError::Signing(e.to_string()))?;
        let payload =
            serde_json::to_vec(payload).map_err(|e| TokenError::Signing(e.to_string()))?;
        let mut token = crate::b64url_encode(header);
        token.push('.');
        token.push_str(&crate::b64url_encode(payload));
        let signature = key
            .signer
            .try_sign(token.as_bytes())
            .map_err(|e| TokenError::Signing(e.to_string()))?;
        token.push('.');
        token.push_str(&crate::b64url_encode(signature.as_ref()));
        Ok(token)
    }

    /// Checks an Ed25519 signature over `signed` made by the key `kid`.
    pub(crate) fn verify_signature(&self, kid: &str, signed: &[u8], signature: &[u8]) -> bool {
        self.keys
            .iter()
            .find(|k| k.kid == kid)
            .is_some_and(|k| k.verifier.verify_sig(signed, signature).is_ok())
    }

    /// Verifies an access token at time `now`: size, header (`alg` EdDSA,
    /// `typ` at+jwt, no `crit`, a known `kid`), signature, then `iss`,
    /// `aud`, `exp`, `iat` and the ten-minute lifetime.
    ///
    /// It does not know about revocation: the caller must still check the
    /// grant (and any revoked `jti`) on every read.
    ///
    /// # Errors
    /// The first [`TokenError`] found; all are `invalid_token`.
    pub fn verify(
        &self,
        token: &str,
        settings: &TokenSettings,
        now: UnixTime,
    ) -> Result<AccessTokenClaims, TokenError> {
        let (_, claims) = self.verify_untimed(token, settings)?;
        check_time(&claims, now)?;
        Ok(claims)
    }

    /// Whether a key with this id is in the set (it verifies).
    #[must_use]
    pub fn knows(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid == kid)
    }

    /// Everything [`KeySet::verify`] checks that does not depend on the
    /// time: size, header, signature, `iss`, `aud` and lifetime. Returns the
    /// id of the key that verified, and the claims.
    pub(crate) fn verify_untimed(
        &self,
        token: &str,
        settings: &TokenSettings,
    ) -> Result<(String, AccessTokenClaims), TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::TooLong);
        }
        let header = read_header(token)?;
        if header.alg.as_deref() != Some("EdDSA") {
            return Err(TokenError::UnsupportedAlgorithm(
                header.alg.unwrap_or_else(|| "(missing)".into()),
            ));
        }
        let typ_ok = header.typ.as_deref().is_some_and(|t| {
            t.eq_ignore_ascii_case(ACCESS_TOKEN_TYP) || t.eq_ignore_ascii_case("application/at+jwt")
        });
        if !typ_ok {
            return Err(TokenError::WrongType);
        }
        if header.crit.is_some() {
            return Err(TokenError::CriticalHeader);
        }
        let kid = header.kid.ok_or(TokenError::MissingKid)?;
        let key = self
            .keys
            .iter()
            .find(|k| k.kid == kid)
            .ok_or(TokenError::UnknownKid)?;
        // `read_header` checked there are exactly three parts.
        let (signed, signature) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
        let (_, payload) = signed.split_once('.').ok_or(TokenError::Malformed)?;
        let signature: [u8; 64] = crate::b64url_decode(signature)
            .ok_or(TokenError::Malformed)?
            .try_into()
            .map_err(|_| TokenError::BadSignature)?;
        // RFC 8032 verification (a non-canonical `s` is refused); the key
        // is the server's own, never a small-order one.
        key.verifier
            .verify_sig(signed.as_bytes(), &signature)
            .map_err(|_| TokenError::BadSignature)?;
        let payload = crate::b64url_decode(payload).ok_or(TokenError::Malformed)?;
        let claims: AccessTokenClaims =
            serde_json::from_slice(&payload).map_err(|_| TokenError::Malformed)?;
        if claims.iss != settings.issuer {
            return Err(TokenError::WrongIssuer);
        }
        if claims.aud != settings.audience {
            return Err(TokenError::WrongAudience);
        }
        check_lifetime(&claims)?;
        Ok((kid, claims))
    }
}

/// The checks of a verified token's claims that depend on the time:
/// not expired, not issued in the future.
pub(crate) fn check_time(claims: &AccessTokenClaims, now: UnixTime) -> Result<(), TokenError> {
    if now.as_secs() >= claims.exp {
        return Err(TokenError::Expired);
    }
    if claims.iat > now.plus_secs(CLOCK_SKEW_SECS).as_secs() {
        return Err(TokenError::IssuedInFuture);
    }
    Ok(())
}

fn check_lifetime(claims: &AccessTokenClaims) -> Result<(), TokenError> {
    let lifetime = claims.exp.saturating_sub(claims.iat);
    if lifetime == 0 || lifetime > MAX_ACCESS_TOKEN_LIFETIME_SECS {
        return Err(TokenError::LifetimeTooLong);
    }
    Ok(())
}

/// A jsonwebtoken validation that only checks the signature and `alg`: the
/// library reads the system clock, so time and claims are checked here.
pub(crate) fn validation(alg: Algorithm) -> Validation {
    let mut v = Validation::new(alg);
    v.required_spec_claims.clear();
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    v.leeway = 0;
    v
}

/// The header fields looked at before any key is chosen.
#[derive(Debug, Deserialize)]
pub(crate) struct RawHeader {
    pub(crate) alg: Option<String>,
    pub(crate) typ: Option<String>,
    pub(crate) kid: Option<String>,
    pub(crate) crit: Option<serde_json::Value>,
}

/// Reads a compact JWS header without trusting it.
pub(crate) fn read_header(token: &str) -> Result<RawHeader, TokenError> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let bytes = crate::b64url_decode(header).ok_or(TokenError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)
}

/// A successful token response (RFC 6749 §5.1, with RFC 9396 `authorization_details`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    /// The JWT access token.
    pub access_token: String,
    /// `DPoP` for a token bound to a key (RFC 9449 §5), else `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// The refresh token, when one was issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// The granted scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The granted authorization details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_details: Option<Vec<DataRequest>>,
    /// The OpenID Connect ID token, when the request's scope had `openid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

impl TokenResponse {
    /// The response for a signed token and its claims, with an optional refresh token.
    #[must_use]
    pub fn new(
        access_token: String,
        claims: &AccessTokenClaims,
        refresh_token: Option<String>,
    ) -> Self {
        Self {
            access_token,
            token_type: if claims.cnf.is_some() {
                "DPoP"
            } else {
                "Bearer"
            }
            .to_owned(),
            expires_in: claims.exp.saturating_sub(claims.iat),
            refresh_token,
            scope: claims.scope.clone(),
            authorization_details: claims.authorization_details.clone(),
            id_token: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use consent_policy::{GrantDuration, Purpose};
    use jsonwebtoken::EncodingKey;
    use proptest::prelude::*;

    use super::*;
    use crate::random::PredictableRandom;

    const ISS: &str = "https://as.example";
    const AUD: &str = "https://as.example/v1";

    fn settings() -> TokenSettings {
        TokenSettings::new(ISS, AUD, 600).unwrap()
    }

    fn granted() -> DataRequest {
        DataRequest::new(
            vec![
                AttributeKey::parse("email").unwrap(),
                AttributeKey::parse("interests").unwrap(),
            ],
            Purpose::Marketing,
            GrantDuration::parse("P30D").unwrap(),
            None,
        )
        .unwrap()
    }

    fn world() -> (KeySet, AccessTokenClaims, PredictableRandom) {
        let mut rng = PredictableRandom::new(11);
        let keys = KeySet::generate(&mut rng, UnixTime::from_secs(0)).unwrap();
        let client = ClientId::generate(&mut rng).unwrap();
        let claims = settings()
            .grant_claims(
                "subj",
                &client,
                "grant-1",
                &granted(),
                UnixTime::from_secs(1000),
                &mut rng,
            )
            .unwrap();
        (keys, claims, rng)
    }

    fn at(secs: u64) -> UnixTime {
        UnixTime::from_secs(secs)
    }

    fn hand_made(
        header: &serde_json::Value,
        claims: &AccessTokenClaims,
        signature: &str,
    ) -> String {
        format!(
            "{}.{}.{}",
            crate::b64url_encode(header.to_string()),
            crate::b64url_encode(serde_json::to_string(claims).unwrap()),
            signature
        )
    }

    #[test]
    fn signed_token_verifies_and_has_the_rfc_9068_shape() {
        let (keys, claims, _) = world();
        let token = keys.sign(&claims).unwrap();
        let header = read_header(&token).unwrap();
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(header.alg.as_deref(), Some("EdDSA"));
        assert_eq!(header.kid.as_deref(), Some(keys.signing_key().kid()));
        assert_eq!(keys.verify(&token, &settings(), at(1000)).unwrap(), claims);
        assert_eq!(claims.exp - claims.iat, 600);
        assert_eq!(claims.scope.as_deref(), Some("email interests"));
        assert_eq!(claims.grant_id.as_deref(), Some("grant-1"));
        let payload = jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(&token)
            .unwrap()
            .claims;
        assert_eq!(payload["authorization_details"][0]["type"], "apiome_data");
        let response = TokenResponse::new(token, &claims, Some("r".into()));
        assert_eq!(response.expires_in, 600);
        assert_eq!(response.token_type, "Bearer");
    }

    #[test]
    fn client_credentials_claims_name_the_client() {
        let mut rng = PredictableRandom::new(1);
        let client = ClientId::generate(&mut rng).unwrap();
        let c = settings()
            .client_claims(&client, Some("ledger:read"), at(5), &mut rng)
            .unwrap();
        assert_eq!(c.sub, client.as_str());
        assert_eq!(c.scope.as_deref(), Some("ledger:read"));
        assert!(c.authorization_details.is_none() && c.grant_id.is_none());
        assert!(
            settings()
                .client_claims(&client, Some(""), at(5), &mut rng)
                .unwrap()
                .scope
                .is_none()
        );
    }

    #[test]
    fn lifetime_is_capped_at_ten_minutes() {
        assert_eq!(
            TokenSettings::new(ISS, AUD, 601),
            Err(TokenError::LifetimeTooLong)
        );
        assert_eq!(
            TokenSettings::new(ISS, AUD, 0),
            Err(TokenError::LifetimeTooLong)
        );
        let (keys, mut claims, _) = world();
        claims.exp = claims.iat + 601;
        assert_eq!(keys.sign(&claims), Err(TokenError::LifetimeTooLong));
    }

    #[test]
    fn tampered_payload_is_refused() {
        let (keys, claims, _) = world();
        let token = keys.sign(&claims).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let mut other = claims.clone();
        other.sub = "someone-else".into();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            crate::b64url_encode(serde_json::to_string(&other).unwrap()),
            parts[2]
        );
        assert_eq!(
            keys.verify(&forged, &settings(), at(1000)),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn tampered_signature_is_refused() {
        let (keys, claims, _) = world();
        let token = keys.sign(&claims).unwrap();
        let (body, sig) = token.rsplit_once('.').unwrap();
        let mut sig_bytes = crate::b64url_decode(sig).unwrap();
        sig_bytes[0] ^= 1;
        let forged = format!("{body}.{}", crate::b64url_encode(sig_bytes));
        assert_eq!(
            keys.verify(&forged, &settings(), at(1000)),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            keys.verify(&format!("{body}."), &settings(), at(1000)),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn expired_token_is_refused() {
        let (keys, claims, _) = world();
        let token = keys.sign(&claims).unwrap();
        assert!(keys.verify(&token, &settings(), at(1599)).is_ok());
        assert_eq!(
            keys.verify(&token, &settings(), at(1600)),
            Err(TokenError::Expired)
        );
        assert_eq!(
            keys.verify(&token, &settings(), at(939)),
            Err(TokenError::IssuedInFuture)
        );
    }

    #[test]
    fn wrong_issuer_or_audience_is_refused() {
        let (keys, claims, _) = world();
        let token = keys.sign(&claims).unwrap();
        let other_iss = TokenSettings::new("https://evil.example", AUD, 600).unwrap();
        assert_eq!(
            keys.verify(&token, &other_iss, at(1000)),
            Err(TokenError::WrongIssuer)
        );
        let other_aud = TokenSettings::new(ISS, "https://other.example", 600).unwrap();
        assert_eq!(
            keys.verify(&token, &other_aud, at(1000)),
            Err(TokenError::WrongAudience)
        );
    }

    #[test]
    fn alg_none_token_is_refused() {
        let (keys, claims, _) = world();
        let kid = keys.signing_key().kid();
        for alg in ["none", "None", "NONE"] {
            let token = hand_made(
                &serde_json::json!({"alg": alg, "typ": "at+jwt", "kid": kid}),
                &claims,
                "",
            );
            assert_eq!(
                keys.verify(&token, &settings(), at(1000)),
                Err(TokenError::UnsupportedAlgorithm(alg.into()))
            );
        }
        let token = hand_made(
            &serde_json::json!({"typ": "at+jwt", "kid": kid}),
            &claims,
            "",
        );
        assert_eq!(
            keys.verify(&token, &settings(), at(1000)),
            Err(TokenError::UnsupportedAlgorithm("(missing)".into()))
        );
    }

    #[test]
    fn hs256_signed_with_the_public_key_is_refused() {
        let (keys, claims, _) = world();
        let public = crate::b64url_decode(keys.jwks()["keys"][0]["x"].as_str().unwrap()).unwrap();
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some("at+jwt".into());
        header.kid = Some(keys.signing_key().kid().to_owned());
        let token =
            jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&public)).unwrap();
        assert_eq!(
            keys.verify(&token, &settings(), at(1000)),
            Err(TokenError::UnsupportedAlgorithm("HS256".into()))
        );
        let hand = hand_made(
            &serde_json::json!({"alg": "ES256", "typ": "at+jwt", "kid": header.kid}),
            &claims,
            "AAAA",
        );
        assert_eq!(
            keys.verify(&hand, &settings(), at(1000)),
            Err(TokenError::UnsupportedAlgorithm("ES256".into()))
        );
    }

    #[test]
    fn header_problems_are_refused() {
        let (keys, claims, _) = world();
        let key = keys.signing_key();
        let sign_with = |typ: Option<&str>, kid: Option<&str>, crit: bool| {
            let mut header = Header::new(Algorithm::EdDSA);
            header.typ = typ.map(str::to_owned);
            header.kid = kid.map(str::to_owned);
            if crit {
                header.crit = Some(vec!["exp".into()]);
            }
            jsonwebtoken::encode(&header, &claims, &key.encoding).unwrap()
        };
        let s = settings();
        assert_eq!(
            keys.verify(
                &sign_with(Some("JWT"), Some(key.kid()), false),
                &s,
                at(1000)
            ),
            Err(TokenError::WrongType)
        );
        assert_eq!(
            keys.verify(&sign_with(None, Some(key.kid()), false), &s, at(1000)),
            Err(TokenError::WrongType)
        );
        assert!(
            keys.verify(
                &sign_with(Some("application/AT+JWT"), Some(key.kid()), false),
                &s,
                at(1000)
            )
            .is_ok()
        );
        assert_eq!(
            keys.verify(&sign_with(Some("at+jwt"), None, false), &s, at(1000)),
            Err(TokenError::MissingKid)
        );
        assert_eq!(
            keys.verify(
                &sign_with(Some("at+jwt"), Some("nope"), false),
                &s,
                at(1000)
            ),
            Err(TokenError::UnknownKid)
        );
        assert_eq!(
            keys.verify(
                &sign_with(Some("at+jwt"), Some(key.kid()), true),
                &s,
                at(1000)
            ),
            Err(TokenError::CriticalHeader)
        );
        for junk in ["", "a.b", "a.b.c.d", "!!.b.c", "e30.e30.e30"] {
            assert!(
                matches!(
                    keys.verify(junk, &s, at(1000)),
                    Err(TokenError::Malformed | TokenError::UnsupportedAlgorithm(_))
                ),
                "{junk}"
            );
        }
        assert_eq!(
            keys.verify(&"a".repeat(MAX_TOKEN_LEN + 1), &s, at(1000)),
            Err(TokenError::TooLong)
        );
        assert_eq!(
            OAuthError::from(TokenError::Expired).code,
            ErrorCode::InvalidToken
        );
        assert_eq!(OAuthError::from(TokenError::Expired).http_status(), 401);
    }

    #[test]
    fn token_from_a_foreign_key_with_our_kid_is_refused() {
        let (keys, claims, _) = world();
        let foreign = KeySet::generate(&mut PredictableRandom::new(99), at(0)).unwrap();
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some("at+jwt".into());
        header.kid = Some(keys.signing_key().kid().to_owned());
        let token =
            jsonwebtoken::encode(&header, &claims, &foreign.signing_key().encoding).unwrap();
        assert_eq!(
            keys.verify(&token, &settings(), at(1000)),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn rotation_keeps_old_tokens_valid_until_their_key_is_dropped() {
        let (mut keys, claims, mut rng) = world();
        let old_kid = keys.signing_key().kid().to_owned();
        let old_token = keys.sign(&claims).unwrap();
        let new_kid = keys.rotate(&mut rng, at(1000)).unwrap();
        assert_ne!(new_kid, old_kid);
        assert_eq!(keys.signing_key().kid(), new_kid);
        assert_eq!(keys.jwks()["keys"].as_array().unwrap().len(), 2);
        assert_eq!(
            keys.verify(&old_token, &settings(), at(1000)).unwrap(),
            claims
        );
        let new_token = keys.sign(&claims).unwrap();
        assert_eq!(
            read_header(&new_token).unwrap().kid.as_deref(),
            Some(new_kid.as_str())
        );

        assert_eq!(keys.remove(&new_kid), Err(KeySetError::SigningKey));
        assert_eq!(
            keys.remove("nope"),
            Err(KeySetError::UnknownKid("nope".into()))
        );
        keys.remove(&old_kid).unwrap();
        assert_eq!(
            keys.verify(&old_token, &settings(), at(1000)),
            Err(TokenError::UnknownKid)
        );
        assert!(keys.verify(&new_token, &settings(), at(1000)).is_ok());
    }

    #[test]
    fn prune_drops_keys_only_after_their_tokens_expired() {
        let mut rng = PredictableRandom::new(3);
        let mut keys = KeySet::generate(&mut rng, at(0)).unwrap();
        let first = keys.signing_key().kid().to_owned();
        keys.rotate(&mut rng, at(100)).unwrap();
        assert!(keys.prune(at(100 + RETIRED_KEY_GRACE_SECS)).is_empty());
        assert_eq!(keys.prune(at(101 + RETIRED_KEY_GRACE_SECS)), vec![first]);
        assert_eq!(keys.keys().len(), 1);
        assert!(keys.prune(at(u64::MAX)).is_empty(), "the signing key stays");
        for _ in 1..MAX_KEYS {
            keys.rotate(&mut rng, at(200)).unwrap();
        }
        assert_eq!(keys.rotate(&mut rng, at(200)), Err(KeySetError::TooMany));
    }

    #[test]
    fn key_file_round_trips_and_jwks_is_public_only() {
        let (mut keys, claims, mut rng) = world();
        keys.rotate(&mut rng, at(50)).unwrap();
        let text = keys.to_text();
        let back = KeySet::from_text(&text).unwrap();
        assert_eq!(back.jwks(), keys.jwks());
        let token = keys.sign(&claims).unwrap();
        assert!(back.verify(&token, &settings(), at(1000)).is_ok());
        let jwks = keys.jwks();
        for key in jwks["keys"].as_array().unwrap() {
            assert_eq!(key["kty"], "OKP");
            assert_eq!(key["crv"], "Ed25519");
            assert_eq!(key["use"], "sig");
            assert_eq!(key["alg"], "EdDSA");
            assert!(key.get("d").is_none());
            assert_eq!(key["kid"].as_str().unwrap().len(), 43);
        }
        assert_eq!(
            jwks["keys"][0]["kid"],
            keys.signing_key().kid(),
            "newest first"
        );
        assert!(format!("{:?}", keys.signing_key()).starts_with("SigningKey { kid"));
    }

    #[test]
    fn bad_key_files_are_refused() {
        let (keys, _, _) = world();
        let text = keys.to_text();
        let kid = keys.signing_key().kid();
        let cases = [
            ("{}".to_owned(), "missing field"),
            (text.replace("apiome-signing-keys-v1", "v0"), "format"),
            (text.replace(kid, "AAAA"), "does not match"),
            (
                r#"{"format":"apiome-signing-keys-v1","keys":[]}"#.to_owned(),
                "at least one",
            ),
            (
                text.replace("\"ed25519_seed\": \"", "\"ed25519_seed\": \"x"),
                "bad seed",
            ),
        ];
        for (bad, why) in cases {
            let e = KeySet::from_text(&bad).unwrap_err();
            assert!(e.to_string().contains(why), "{why}: {e}");
        }
    }

    proptest! {
        #[test]
        fn random_claims_round_trip(
            sub in "[A-Za-z0-9_-]{1,43}",
            grant in "[a-z0-9-]{1,36}",
            iat in 0_u64..4_000_000_000,
            life in 1_u64..=600,
            seed in any::<u64>(),
        ) {
            let mut rng = PredictableRandom::new(seed);
            let keys = KeySet::generate(&mut rng, at(0)).unwrap();
            let client = ClientId::generate(&mut rng).unwrap();
            let s = TokenSettings::new(ISS, AUD, life).unwrap();
            let claims = s.grant_claims(&sub, &client, &grant, &granted(), at(iat), &mut rng).unwrap();
            let token = keys.sign(&claims).unwrap();
            prop_assert_eq!(keys.verify(&token, &s, at(iat)).unwrap(), claims.clone());
            prop_assert_eq!(keys.verify(&token, &s, at(iat + life)), Err(TokenError::Expired));
        }

        /// Our own JWS serialisation gives the very token `jsonwebtoken`
        /// makes with the same key and header, byte for byte, and
        /// `ed25519-dalek` (an implementation other than AWS-LC's) accepts
        /// the signature.
        #[test]
        fn tokens_are_those_jsonwebtoken_and_dalek_make(
            sub in "[A-Za-z0-9_-]{1,43}",
            iat in 0_u64..4_000_000_000,
            seed in any::<u64>(),
        ) {
            let mut rng = PredictableRandom::new(seed);
            let keys = KeySet::generate(&mut rng, at(0)).unwrap();
            let key = keys.signing_key();
            let client = ClientId::generate(&mut rng).unwrap();
            let claims = settings().grant_claims(&sub, &client, "g", &granted(), at(iat), &mut rng).unwrap();
            let ours = keys.sign(&claims).unwrap();
            let mut header = Header::new(Algorithm::EdDSA);
            header.typ = Some(ACCESS_TOKEN_TYP.to_owned());
            header.kid = Some(key.kid().to_owned());
            let theirs = jsonwebtoken::encode(&header, &claims, &key.encoding).unwrap();
            prop_assert_eq!(&ours, &theirs);
            let (signed, signature) = ours.rsplit_once('.').unwrap();
            let signature: [u8; 64] = crate::b64url_decode(signature).unwrap().try_into().unwrap();
            let independent = ed25519_dalek::SigningKey::from_bytes(&key.seed.0);
            prop_assert_eq!(independent.verifying_key().to_bytes(), key.public);
            prop_assert!(independent.verifying_key().verify_strict(
                signed.as_bytes(),
                &ed25519_dalek::Signature::from_bytes(&signature),
            ).is_ok());
        }
    }

    /// `s` + ℓ verifies the same equation as `s`; RFC 8032 §5.1.7 says to
    /// refuse it, or every token would have a second valid form.
    #[test]
    fn a_non_canonical_s_is_refused() {
        // ℓ = 2^252 + 27742317777372353535851937790883648493, little-endian.
        const ELL: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let (keys, claims, _) = world();
        let token = keys.sign(&claims).unwrap();
        let (body, sig) = token.rsplit_once('.').unwrap();
        let mut sig = crate::b64url_decode(sig).unwrap();
        let mut carry = 0_u16;
        for (byte, ell) in sig[32..].iter_mut().zip(ELL) {
            let sum = u16::from(*byte) + u16::from(ell) + carry;
            *byte = (sum & 0xff) as u8;
            carry = sum >> 8;
        }
        // s < ℓ < 2^253, so s + ℓ < 2^254 fits in 32 bytes.
        assert_eq!(carry, 0);
        let malleated = format!("{body}.{}", crate::b64url_encode(&sig));
        assert_eq!(
            keys.verify(&malleated, &settings(), at(1000)),
            Err(TokenError::BadSignature)
        );
        assert!(keys.verify(&token, &settings(), at(1000)).is_ok());
    }
}
