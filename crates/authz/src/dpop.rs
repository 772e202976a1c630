//! DPoP (RFC 9449): proofs of possession that bind access tokens to a
//! client's key, so a stolen token is useless without the key.
//!
//! A client signs a short JWT (`typ: dpop+jwt`, its public key in the
//! header's `jwk`) for every request; [`Proof::verify`] checks it against
//! what the server expects ([`Expected`]) and returns the key's RFC 7638
//! thumbprint (`jkt`), which the token endpoint writes into the access
//! token's `cnf.jkt` and resource servers compare with it.
//!
//! | check | rule | why |
//! |---|---|---|
//! | size | at most [`MAX_PROOF_LEN`] bytes | bounded parsing |
//! | header | `typ` is `dpop+jwt`, `alg` one of [`SUPPORTED_ALGS`], no `crit`, `jwk` a public OKP/Ed25519 or EC/P-256 key of that `alg`, with no private member | RFC 9449 §4.2, §4.3 |
//! | signature | verifies with the header's key (AWS-LC) | possession |
//! | `htm` | equals the request's method | §4.3 |
//! | `htu` | equals the request's URL without query and fragment, both normalised (scheme and host lowercase, default port dropped, dot segments removed, empty path is `/`) | §4.3, RFC 3986 §6.2.2–6.2.3 |
//! | `iat` | within [`IAT_WINDOW_SECS`] of now, either side | a proof is usable for two minutes at most; the replay cache holds each `jti` that long |
//! | `jti` | 1 to [`MAX_JTI_LEN`] bytes; unused — checked by the store with [`VerifiedProof::replay_key`] until [`VerifiedProof::remember_until`] | §11.1 |
//! | `ath` | at resource servers, `base64url(SHA-256(access token))` | §4.3, §7 |
//! | `nonce` | when [`NonceRule::Required`], or whenever present: one of [`Nonces`]' current values | §8, §9 |
//! | key | at resource servers, its thumbprint equals the token's `cnf.jkt` | §7.1 |
//!
//! # Nonces
//!
//! [`Nonces`] are stateless: a nonce is the number of a
//! [`NONCE_WINDOW_SECS`]-second time window and an HMAC of it under a key
//! derived from the [`ServerKey`], so every server process sharing the key
//! issues and accepts the same nonces without a table. A nonce is accepted
//! in its own window and the next: it lives between five and ten minutes,
//! and rotates by itself every window. Rotating the server key invalidates
//! every nonce at once (clients just get a fresh one with `use_dpop_nonce`).

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, ED25519, UnparsedPublicKey};
use hmac::Mac as _;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;
use url::Url;

use crate::error::{ErrorCode, OAuthError, excerpt};
use crate::server_key::ServerKey;
use crate::time::UnixTime;

/// The JOSE `typ` of a DPoP proof.
pub const DPOP_TYP: &str = "dpop+jwt";
/// The algorithms a proof may be signed with, as metadata and challenges list them.
pub const SUPPORTED_ALGS: [&str; 2] = ["ES256", "EdDSA"];
/// The longest proof looked at, in bytes (a P-256 proof with `ath` and a nonce is ~600).
pub const MAX_PROOF_LEN: usize = 4096;
/// The longest `jti`, in bytes.
pub const MAX_JTI_LEN: usize = 256;
/// How far a proof's `iat` may be from now, either way: its age, and the
/// clock difference tolerated between a client and the server.
pub const IAT_WINDOW_SECS: u64 = 60;
/// How long one nonce window lasts; a nonce is good in its window and the next.
pub const NONCE_WINDOW_SECS: u64 = 300;
/// The label of the key that makes nonces.
pub const NONCE_LABEL: &str = "apiome dpop nonce v1";
/// Bytes of HMAC a nonce carries (128 bits).
const NONCE_MAC_LEN: usize = 16;
/// JWK members that only a private key has (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Why a proof is refused: `invalid_dpop_proof`, or `use_dpop_nonce` when
/// the proof is good but lacks the current nonce.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DpopError {
    /// The proof is malformed, mis-signed, or for another request, time, token or key.
    #[error("invalid DPoP proof: {0}")]
    Invalid(String),
    /// The proof has no nonce, or an old or forged one; retry with the one in `DPoP-Nonce`.
    #[error("{0}")]
    UseNonce(String),
}

impl DpopError {
    fn invalid(why: impl Into<String>) -> Self {
        Self::Invalid(why.into())
    }

    /// The OAuth error code.
    #[must_use]
    pub const fn code(&self) -> ErrorCode {
        match self {
            Self::Invalid(_) => ErrorCode::InvalidDpopProof,
            Self::UseNonce(_) => ErrorCode::UseDpopNonce,
        }
    }
}

impl From<DpopError> for OAuthError {
    fn from(e: DpopError) -> Self {
        Self::new(e.code(), e.to_string())
    }
}

/// Whether a proof must carry a nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceRule {
    /// Always (clients registered `dpop_bound_access_tokens`).
    Required,
    /// Only checked when the proof carries one (a stale one is still refused).
    IfPresent,
}

/// What the request a proof comes with looks like.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The HTTP method, upper case (`POST`).
    pub htm: &'a str,
    /// The absolute URL the request was sent to, as the server's public URL spells it.
    pub htu: &'a str,
    /// At a resource server: the access token the request carries.
    pub access_token: Option<&'a str>,
    /// At a resource server: the token's `cnf.jkt`.
    pub bound_jkt: Option<&'a str>,
    /// Whether a nonce is required.
    pub nonce: NonceRule,
    /// The current time.
    pub now: UnixTime,
}

/// A proof that passed every check but replay; the caller records
/// [`Self::replay_key`] once (a lost race is a replay).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedProof {
    /// The RFC 7638 thumbprint of the proof's key.
    pub jkt: String,
    /// The proof's `jti`.
    pub jti: String,
    /// Until when the `jti` must be remembered: after that `iat` is too old anyway.
    pub remember_until: UnixTime,
}

impl VerifiedProof {
    /// The replay cache's key: the `jti` is unique per key (§11.1), so
    /// two clients' ids never collide.
    #[must_use]
    pub fn replay_key(&self) -> (&str, &str) {
        (&self.jkt, &self.jti)
    }
}

/// A `DPoP` header's proof, not yet checked.
#[derive(Debug, Clone, Copy)]
pub struct Proof<'a>(&'a str);

impl<'a> Proof<'a> {
    /// The one `DPoP` header of a request (`values` are every `DPoP`
    /// header's values): none is `Ok(None)`; two or more, or an empty
    /// one, is refused (§4.3 point 1).
    ///
    /// # Errors
    /// [`DpopError::Invalid`].
    pub fn from_headers(values: &[&'a str]) -> Result<Option<Self>, DpopError> {
        match values {
            [] => Ok(None),
            [one] if one.trim().is_empty() => Err(DpopError::invalid("the DPoP header is empty")),
            [one] => Ok(Some(Self(one.trim()))),
            _ => Err(DpopError::invalid("more than one DPoP header")),
        }
    }

    /// Checks the proof (see the module's table) except `jti` reuse.
    ///
    /// # Errors
    /// [`DpopError::Invalid`], or [`DpopError::UseNonce`] for a good proof
    /// without the current nonce.
    pub fn verify(
        self,
        expected: &Expected<'_>,
        nonces: &Nonces,
    ) -> Result<VerifiedProof, DpopError> {
        if self.0.len() > MAX_PROOF_LEN {
            return Err(DpopError::invalid(format!(
                "longer than {MAX_PROOF_LEN} bytes"
            )));
        }
        let mut parts = self.0.split('.');
        let (Some(header_b64), Some(claims_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(DpopError::invalid("not a compact JWS (three parts)"));
        };
        let header = decode_json(header_b64, "header")?;
        let key = check_header(&header)?;
        let signature = crate::b64url_decode(signature_b64)
            .ok_or_else(|| DpopError::invalid("the signature is not base64url"))?;
        let signed = &self.0[..header_b64.len() + 1 + claims_b64.len()];
        key.verify(signed.as_bytes(), &signature)?;
        let claims = decode_json(claims_b64, "claims")?;
        let claims = Claims::read(&claims)?;
        claims.check(expected)?;
        if let Some(bound) = expected.bound_jkt {
            let jkt = key.thumbprint();
            if !bool::from(jkt.as_bytes().ct_eq(bound.as_bytes())) {
                return Err(DpopError::invalid(
                    "the proof is signed by another key than the token is bound to",
                ));
            }
        }
        match (claims.nonce, expected.nonce) {
            (Some(nonce), _) if !nonces.accepts(nonce, expected.now) => {
                return Err(DpopError::UseNonce(
                    "the DPoP nonce is stale or unknown; use the one in DPoP-Nonce".into(),
                ));
            }
            (None, NonceRule::Required) => {
                return Err(DpopError::UseNonce(
                    "this client's DPoP proofs must carry the server's nonce (DPoP-Nonce)".into(),
                ));
            }
            _ => {}
        }
        Ok(VerifiedProof {
            jkt: key.thumbprint(),
            jti: claims.jti.to_owned(),
            remember_until: UnixTime::from_secs(claims.iat.saturating_add(IAT_WINDOW_SECS)),
        })
    }
}

fn decode_json(part: &str, what: &str) -> Result<Map<String, Value>, DpopError> {
    let bytes = crate::b64url_decode(part)
        .ok_or_else(|| DpopError::invalid(format!("the {what} is not base64url")))?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(DpopError::invalid(format!(
            "the {what} is not a JSON object"
        ))),
    }
}

/// A proof's public key.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PublicKey {
    Ed25519 { x: [u8; 32] },
    P256 { x: [u8; 32], y: [u8; 32] },
}

impl PublicKey {
    fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), DpopError> {
        let ok = match self {
            Self::Ed25519 { x } => UnparsedPublicKey::new(&ED25519, x)
                .verify(message, signature)
                .is_ok(),
            Self::P256 { x, y } => {
                let mut sec1 = [0_u8; 65];
                sec1[0] = 0x04;
                sec1[1..33].copy_from_slice(x);
                sec1[33..].copy_from_slice(y);
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, sec1)
                    .verify(message, signature)
                    .is_ok()
            }
        };
        if ok {
            Ok(())
        } else {
            Err(DpopError::invalid(
                "the signature does not verify with the header's jwk",
            ))
        }
    }

    /// The RFC 7638 thumbprint: SHA-256 of the required members in
    /// lexicographic order, no whitespace.
    fn thumbprint(&self) -> String {
        let canonical = match self {
            Self::Ed25519 { x } => format!(
                r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
                crate::b64url_encode(x)
            ),
            Self::P256 { x, y } => format!(
                r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
                crate::b64url_encode(x),
                crate::b64url_encode(y)
            ),
        };
        crate::b64url_encode(Sha256::digest(canonical.as_bytes()))
    }
}

/// The RFC 7638 thumbprint of a public JWK (OKP/Ed25519 or EC/P-256).
///
/// # Errors
/// [`DpopError::Invalid`] when it is not such a public key.
pub fn jwk_thumbprint(jwk: &Value) -> Result<String, DpopError> {
    let Value::Object(map) = jwk else {
        return Err(DpopError::invalid("`jwk` is not an object"));
    };
    Ok(public_key(map)?.thumbprint())
}

fn check_header(header: &Map<String, Value>) -> Result<PublicKey, DpopError> {
    if header.get("typ").and_then(Value::as_str) != Some(DPOP_TYP) {
        return Err(DpopError::invalid(format!("`typ` must be `{DPOP_TYP}`")));
    }
    if header.contains_key("crit") {
        return Err(DpopError::invalid(
            "critical header parameters are not supported",
        ));
    }
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or_else(|| DpopError::invalid("the header has no `alg`"))?;
    if !SUPPORTED_ALGS.contains(&alg) {
        return Err(DpopError::invalid(format!(
            "`alg` `{}` is not accepted; use ES256 or EdDSA",
            excerpt(alg)
        )));
    }
    let Some(Value::Object(jwk)) = header.get("jwk") else {
        return Err(DpopError::invalid("the header has no `jwk` object"));
    };
    let key = public_key(jwk)?;
    let matches = matches!(
        (&key, alg),
        (PublicKey::Ed25519 { .. }, "EdDSA") | (PublicKey::P256 { .. }, "ES256")
    );
    if !matches {
        return Err(DpopError::invalid("the `jwk` is not a key for `alg`"));
    }
    Ok(key)
}

fn public_key(jwk: &Map<String, Value>) -> Result<PublicKey, DpopError> {
    if let Some(private) = PRIVATE_MEMBERS.iter().find(|m| jwk.contains_key(**m)) {
        return Err(DpopError::invalid(format!(
            "the `jwk` holds a private member `{private}`"
        )));
    }
    let text = |name: &str| jwk.get(name).and_then(Value::as_str);
    let coordinate = |name: &str| -> Result<[u8; 32], DpopError> {
        text(name)
            .and_then(crate::b64url_decode)
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| {
                DpopError::invalid(format!("`jwk.{name}` must be 32 bytes of base64url"))
            })
    };
    match (text("kty"), text("crv")) {
        (Some("OKP"), Some("Ed25519")) => Ok(PublicKey::Ed25519 {
            x: coordinate("x")?,
        }),
        (Some("EC"), Some("P-256")) => Ok(PublicKey::P256 {
            x: coordinate("x")?,
            y: coordinate("y")?,
        }),
        _ => Err(DpopError::invalid(
            "the `jwk` must be an OKP/Ed25519 or EC/P-256 public key",
        )),
    }
}

/// The claims a proof must carry.
struct Claims<'a> {
    jti: &'a str,
    htm: &'a str,
    htu: &'a str,
    iat: u64,
    ath: Option<&'a str>,
    nonce: Option<&'a str>,
}

impl<'a> Claims<'a> {
    fn read(map: &'a Map<String, Value>) -> Result<Self, DpopError> {
        let text = |name: &str| -> Result<&'a str, DpopError> {
            map.get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| DpopError::invalid(format!("`{name}` is missing or not a string")))
        };
        let optional = |name: &str| -> Result<Option<&'a str>, DpopError> {
            match map.get(name) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.as_str())),
                Some(_) => Err(DpopError::invalid(format!("`{name}` is not a string"))),
            }
        };
        let jti = text("jti")?;
        if jti.is_empty() || jti.len() > MAX_JTI_LEN {
            return Err(DpopError::invalid(format!(
                "`jti` must have 1 to {MAX_JTI_LEN} bytes"
            )));
        }
        let iat = map
            .get("iat")
            .and_then(Value::as_u64)
            .ok_or_else(|| DpopError::invalid("`iat` is missing or not a whole number"))?;
        Ok(Self {
            jti,
            htm: text("htm")?,
            htu: text("htu")?,
            iat,
            ath: optional("ath")?,
            nonce: optional("nonce")?,
        })
    }

    fn check(&self, expected: &Expected<'_>) -> Result<(), DpopError> {
        if self.htm != expected.htm {
            return Err(DpopError::invalid(format!(
                "`htm` `{}` is not this request's method",
                excerpt(self.htm)
            )));
        }
        let ours = normalise_htu(expected.htu)
            .ok_or_else(|| DpopError::invalid("the server's URL is not absolute"))?;
        if normalise_htu(self.htu).as_deref() != Some(ours.as_str()) {
            return Err(DpopError::invalid(format!(
                "`htu` `{}` is not this request's URL",
                excerpt(self.htu)
            )));
        }
        let now = expected.now.as_secs();
        if self.iat.saturating_add(IAT_WINDOW_SECS) < now {
            return Err(DpopError::invalid(format!(
                "`iat` is more than {IAT_WINDOW_SECS} s old"
            )));
        }
        if self.iat > now.saturating_add(IAT_WINDOW_SECS) {
            return Err(DpopError::invalid(format!(
                "`iat` is more than {IAT_WINDOW_SECS} s in the future"
            )));
        }
        match (expected.access_token, self.ath) {
            (None, None) => Ok(()),
            (None, Some(_)) => Err(DpopError::invalid(
                "`ath` is only for requests that carry an access token",
            )),
            (Some(_), None) => Err(DpopError::invalid("`ath` is required with an access token")),
            (Some(token), Some(ath)) => {
                if bool::from(access_token_hash(token).as_bytes().ct_eq(ath.as_bytes())) {
                    Ok(())
                } else {
                    Err(DpopError::invalid(
                        "`ath` is not the hash of this access token",
                    ))
                }
            }
        }
    }
}

/// `base64url(SHA-256(token))`, the `ath` of a proof that comes with `token`.
#[must_use]
pub fn access_token_hash(token: &str) -> String {
    crate::b64url_encode(Sha256::digest(token.as_bytes()))
}

/// An `htu` as compared: scheme, host, port (default dropped) and path,
/// normalised by the WHATWG URL parser (lowercase scheme and host,
/// resolved dot segments, `/` for an empty path); no query, no fragment.
/// `None` for anything but an absolute `http`/`https` URL.
#[must_use]
pub fn normalise_htu(text: &str) -> Option<String> {
    let mut url = Url::parse(text).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return None;
    }
    if !url.username().is_empty() || url.password().is_some() {
        return None;
    }
    url.set_query(None);
    url.set_fragment(None);
    Some(url.into())
}

/// The server's DPoP nonces (see the module docs).
#[derive(Clone)]
pub struct Nonces {
    key: ServerKey,
}

impl std::fmt::Debug for Nonces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Nonces(..)")
    }
}

impl Nonces {
    /// Nonces keyed by `server_key` (through [`NONCE_LABEL`]).
    #[must_use]
    pub fn new(server_key: &ServerKey) -> Self {
        Self {
            key: server_key.derive(NONCE_LABEL),
        }
    }

    fn mac(&self, window: u64) -> [u8; NONCE_MAC_LEN] {
        let full = self
            .key
            .mac()
            .chain_update(window.to_be_bytes())
            .finalize()
            .into_bytes();
        let mut out = [0_u8; NONCE_MAC_LEN];
        out.copy_from_slice(&full[..NONCE_MAC_LEN]);
        out
    }

    /// The nonce to send in `DPoP-Nonce` now.
    #[must_use]
    pub fn current(&self, now: UnixTime) -> String {
        let window = now.as_secs() / NONCE_WINDOW_SECS;
        let mut bytes = Vec::with_capacity(8 + NONCE_MAC_LEN);
        bytes.extend_from_slice(&window.to_be_bytes());
        bytes.extend_from_slice(&self.mac(window));
        crate::b64url_encode(bytes)
    }

    /// Whether `nonce` is one this server issued in this window or the last.
    #[must_use]
    pub fn accepts(&self, nonce: &str, now: UnixTime) -> bool {
        let Some(bytes) = crate::b64url_decode(nonce) else {
            return false;
        };
        if bytes.len() != 8 + NONCE_MAC_LEN {
            return false;
        }
        let (window, mac) = bytes.split_at(8);
        let window = u64::from_be_bytes(window.try_into().unwrap_or([0xff; 8]));
        let current = now.as_secs() / NONCE_WINDOW_SECS;
        if window != current && window.saturating_add(1) != current {
            return false;
        }
        bool::from(self.mac(window).ct_eq(mac))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{
        ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _,
    };
    use serde_json::json;

    const HTU: &str = "https://apiome.example/v1/data";
    const NOW: u64 = 1_800_000_000;

    enum Signer {
        Ec(EcdsaKeyPair),
        Ed(Ed25519KeyPair),
    }

    impl Signer {
        fn ec() -> Self {
            let rng = SystemRandom::new();
            let pkcs8 =
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
            Self::Ec(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap(),
            )
        }

        fn ed() -> Self {
            Self::Ed(Ed25519KeyPair::from_seed_unchecked(&[7; 32]).unwrap())
        }

        fn alg(&self) -> &'static str {
            match self {
                Self::Ec(_) => "ES256",
                Self::Ed(_) => "EdDSA",
            }
        }

        fn jwk(&self) -> Value {
            match self {
                Self::Ec(k) => {
                    let point = k.public_key().as_ref();
                    json!({"kty": "EC", "crv": "P-256",
                        "x": crate::b64url_encode(&point[1..33]),
                        "y": crate::b64url_encode(&point[33..])})
                }
                Self::Ed(k) => json!({"kty": "OKP", "crv": "Ed25519",
                    "x": crate::b64url_encode(k.public_key().as_ref())}),
            }
        }

        fn sign_raw(&self, header: &Value, claims: &Value) -> String {
            let input = format!(
                "{}.{}",
                crate::b64url_encode(serde_json::to_vec(header).unwrap()),
                crate::b64url_encode(serde_json::to_vec(claims).unwrap())
            );
            let sig = match self {
                Self::Ec(k) => k
                    .sign(&SystemRandom::new(), input.as_bytes())
                    .unwrap()
                    .as_ref()
                    .to_vec(),
                Self::Ed(k) => k.sign(input.as_bytes()).as_ref().to_vec(),
            };
            format!("{input}.{}", crate::b64url_encode(sig))
        }

        fn header(&self) -> Value {
            json!({"typ": "dpop+jwt", "alg": self.alg(), "jwk": self.jwk()})
        }

        fn sign(&self, claims: &Value) -> String {
            self.sign_raw(&self.header(), claims)
        }
    }

    fn claims() -> Value {
        json!({"jti": "j-1", "htm": "GET", "htu": HTU, "iat": NOW})
    }

    fn nonces() -> Nonces {
        Nonces::new(&ServerKey::from_bytes([3; 32]))
    }

    fn expected() -> Expected<'static> {
        Expected {
            htm: "GET",
            htu: HTU,
            access_token: None,
            bound_jkt: None,
            nonce: NonceRule::IfPresent,
            now: UnixTime::from_secs(NOW),
        }
    }

    fn check(proof: &str, expected: &Expected<'_>) -> Result<VerifiedProof, DpopError> {
        Proof(proof).verify(expected, &nonces())
    }

    fn refused(proof: &str, expected: &Expected<'_>, why: &str) {
        match check(proof, expected) {
            Err(DpopError::Invalid(text)) => assert!(text.contains(why), "{text} lacks {why}"),
            other => panic!("expected invalid ({why}), got {other:?}"),
        }
    }

    #[test]
    fn es256_and_eddsa_proofs_verify_and_give_the_rfc7638_thumbprint() {
        for signer in [Signer::ec(), Signer::ed()] {
            let proof = signer.sign(&claims());
            let verified = check(&proof, &expected()).unwrap();
            assert_eq!(verified.jkt, jwk_thumbprint(&signer.jwk()).unwrap());
            assert_eq!(verified.jti, "j-1");
            assert_eq!(verified.remember_until, UnixTime::from_secs(NOW + 60));
            assert_eq!(verified.replay_key(), (verified.jkt.as_str(), "j-1"));
        }
    }

    #[test]
    fn thumbprint_matches_rfc7638_example_shape() {
        // RFC 8037 appendix A.3: the thumbprint of its Ed25519 example key.
        let jwk = json!({"crv": "Ed25519", "kty": "OKP",
            "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
        assert_eq!(
            jwk_thumbprint(&jwk).unwrap(),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    #[test]
    fn a_header_must_say_dpop_jwt_a_known_alg_and_a_matching_public_key() {
        let s = Signer::ec();
        let mut h = s.header();
        h["typ"] = json!("JWT");
        refused(&s.sign_raw(&h, &claims()), &expected(), "`typ`");
        let mut h = s.header();
        h.as_object_mut().unwrap().remove("typ");
        refused(&s.sign_raw(&h, &claims()), &expected(), "`typ`");
        for alg in ["none", "HS256", "RS256", "ES384"] {
            let mut h = s.header();
            h["alg"] = json!(alg);
            refused(&s.sign_raw(&h, &claims()), &expected(), "not accepted");
        }
        let mut h = s.header();
        h["alg"] = json!("EdDSA");
        refused(&s.sign_raw(&h, &claims()), &expected(), "not a key for");
        let mut h = s.header();
        h["crit"] = json!(["x"]);
        refused(&s.sign_raw(&h, &claims()), &expected(), "critical");
        let mut h = s.header();
        h.as_object_mut().unwrap().remove("jwk");
        refused(&s.sign_raw(&h, &claims()), &expected(), "no `jwk`");
        for private in ["d", "p", "k"] {
            let mut h = s.header();
            h["jwk"][private] = json!("AAAA");
            refused(&s.sign_raw(&h, &claims()), &expected(), "private member");
        }
        let mut h = s.header();
        h["jwk"] = json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"});
        refused(&s.sign_raw(&h, &claims()), &expected(), "OKP/Ed25519");
        let mut h = s.header();
        h["jwk"]["x"] = json!("short");
        refused(&s.sign_raw(&h, &claims()), &expected(), "32 bytes");
    }

    #[test]
    fn a_signature_by_another_key_or_over_other_bytes_is_refused() {
        let a = Signer::ec();
        let b = Signer::ec();
        // b's signature under a's jwk.
        let forged = b.sign_raw(&a.header(), &claims());
        refused(&forged, &expected(), "does not verify");
        // Claims changed after signing.
        let proof = a.sign(&claims());
        let mut parts: Vec<String> = proof.split('.').map(str::to_owned).collect();
        let mut other = claims();
        other["htm"] = json!("POST");
        parts[1] = crate::b64url_encode(serde_json::to_vec(&other).unwrap());
        refused(&parts.join("."), &expected(), "does not verify");
        let ed = Signer::ed();
        let proof = ed.sign(&claims());
        let truncated = &proof[..proof.len() - 4];
        assert!(check(truncated, &expected()).is_err());
    }

    #[test]
    fn malformed_proofs_are_refused() {
        for text in [
            "",
            "a.b",
            "a.b.c.d",
            "!!.b.c",
            "e30.e30.AA",
            &"a".repeat(MAX_PROOF_LEN + 1),
        ] {
            assert!(
                matches!(check(text, &expected()), Err(DpopError::Invalid(_))),
                "{text:.20}"
            );
        }
        let s = Signer::ed();
        for (name, value) in [
            ("jti", json!(1)),
            ("jti", json!("")),
            ("jti", json!("x".repeat(MAX_JTI_LEN + 1))),
            ("iat", json!("now")),
            ("iat", json!(-1)),
            ("htm", json!(null)),
            ("ath", json!(5)),
            ("nonce", json!(false)),
        ] {
            let mut c = claims();
            c[name] = value;
            assert!(check(&s.sign(&c), &expected()).is_err(), "{name}");
        }
        for name in ["jti", "htm", "htu", "iat"] {
            let mut c = claims();
            c.as_object_mut().unwrap().remove(name);
            refused(&s.sign(&c), &expected(), name);
        }
    }

    #[test]
    fn one_dpop_header_at_most() {
        assert_eq!(Proof::from_headers(&[]).unwrap().map(|p| p.0), None);
        assert_eq!(Proof::from_headers(&["x"]).unwrap().map(|p| p.0), Some("x"));
        assert!(Proof::from_headers(&["x", "y"]).is_err());
        assert!(Proof::from_headers(&[" "]).is_err());
    }

    #[test]
    fn htm_must_be_the_method_exactly() {
        let s = Signer::ed();
        for htm in ["POST", "get", "GET "] {
            let mut c = claims();
            c["htm"] = json!(htm);
            refused(&s.sign(&c), &expected(), "`htm`");
        }
    }

    #[test]
    fn htu_is_compared_normalised_without_query_or_fragment() {
        let s = Signer::ed();
        for same in [
            "https://apiome.example/v1/data",
            "HTTPS://APIOME.example/v1/data",
            "https://apiome.example:443/v1/data",
            "https://apiome.example/v1/./data",
            "https://apiome.example/v1/x/../data",
            "https://apiome.example/v1/data?x=1",
            "https://apiome.example/v1/data#frag",
        ] {
            let mut c = claims();
            c["htu"] = json!(same);
            assert!(check(&s.sign(&c), &expected()).is_ok(), "{same}");
        }
        for other in [
            "http://apiome.example/v1/data",
            "https://apiome.example:8443/v1/data",
            "https://evil.example/v1/data",
            "https://apiome.example/v1/data/",
            "https://apiome.example/oauth/userinfo",
            "https://user@apiome.example/v1/data",
            "/v1/data",
            "urn:x:y",
        ] {
            let mut c = claims();
            c["htu"] = json!(other);
            refused(&s.sign(&c), &expected(), "`htu`");
        }
        assert_eq!(
            normalise_htu("HTTP://A.example:80").as_deref(),
            Some("http://a.example/")
        );
        assert_eq!(normalise_htu("ftp://a.example/"), None);
    }

    #[test]
    fn iat_must_be_within_sixty_seconds_either_way() {
        let s = Signer::ed();
        for ok in [NOW - 60, NOW, NOW + 60] {
            let mut c = claims();
            c["iat"] = json!(ok);
            assert!(check(&s.sign(&c), &expected()).is_ok(), "{ok}");
        }
        let mut c = claims();
        c["iat"] = json!(NOW - 61);
        refused(&s.sign(&c), &expected(), "old");
        c["iat"] = json!(NOW + 61);
        refused(&s.sign(&c), &expected(), "future");
        c["iat"] = json!(0);
        refused(&s.sign(&c), &expected(), "old");
    }

    #[test]
    fn ath_must_hash_the_access_token_and_appear_only_with_one() {
        let s = Signer::ec();
        let token = "eyJ.token.sig";
        let mut with_token = expected();
        with_token.access_token = Some(token);
        let mut c = claims();
        c["ath"] = json!(access_token_hash(token));
        assert!(check(&s.sign(&c), &with_token).is_ok());
        refused(&s.sign(&c), &expected(), "only for requests");
        refused(&s.sign(&claims()), &with_token, "`ath` is required");
        c["ath"] = json!(access_token_hash("another token"));
        refused(&s.sign(&c), &with_token, "not the hash");
        // RFC 9449 §7.1's example: ath of its access token.
        assert_eq!(
            access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
    }

    #[test]
    fn the_key_must_be_the_one_the_token_is_bound_to() {
        let a = Signer::ec();
        let b = Signer::ed();
        let jkt_a = jwk_thumbprint(&a.jwk()).unwrap();
        let mut bound = expected();
        bound.bound_jkt = Some(&jkt_a);
        assert!(check(&a.sign(&claims()), &bound).is_ok());
        refused(&b.sign(&claims()), &bound, "another key");
    }

    #[test]
    fn nonces_are_required_when_asked_and_checked_whenever_present() {
        let s = Signer::ed();
        let now = UnixTime::from_secs(NOW);
        let n = nonces();
        let mut required = expected();
        required.nonce = NonceRule::Required;
        assert!(matches!(
            check(&s.sign(&claims()), &required),
            Err(DpopError::UseNonce(_))
        ));
        let mut c = claims();
        c["nonce"] = json!(n.current(now));
        assert!(check(&s.sign(&c), &required).is_ok());
        assert!(check(&s.sign(&c), &expected()).is_ok());
        for bad in [
            "x".to_owned(),
            n.current(now.minus_secs(2 * NONCE_WINDOW_SECS)),
            Nonces::new(&ServerKey::from_bytes([4; 32])).current(now),
        ] {
            c["nonce"] = json!(bad);
            let e = check(&s.sign(&c), &expected()).unwrap_err();
            assert_eq!(e.code(), ErrorCode::UseDpopNonce, "{bad}");
        }
    }

    #[test]
    fn a_nonce_lives_in_its_window_and_the_next_only() {
        let n = nonces();
        let start = UnixTime::from_secs(NONCE_WINDOW_SECS * 1_000);
        let nonce = n.current(start);
        assert_eq!(n.current(start.plus_secs(NONCE_WINDOW_SECS - 1)), nonce);
        assert_ne!(n.current(start.plus_secs(NONCE_WINDOW_SECS)), nonce);
        assert!(n.accepts(&nonce, start));
        assert!(n.accepts(&nonce, start.plus_secs(2 * NONCE_WINDOW_SECS - 1)));
        assert!(!n.accepts(&nonce, start.plus_secs(2 * NONCE_WINDOW_SECS)));
        assert!(
            !n.accepts(&nonce, start.minus_secs(1)),
            "not before its window"
        );
        let mut tampered = crate::b64url_decode(&nonce).unwrap();
        tampered[12] ^= 1;
        assert!(!n.accepts(&crate::b64url_encode(tampered), start));
        assert_eq!(format!("{n:?}"), "Nonces(..)");
    }

    #[test]
    fn errors_carry_their_oauth_codes() {
        let e: OAuthError = DpopError::invalid("x").into();
        assert_eq!(e.code, ErrorCode::InvalidDpopProof);
        let e: OAuthError = DpopError::UseNonce("y".into()).into();
        assert_eq!(e.code, ErrorCode::UseDpopNonce);
        assert_eq!(e.http_status(), 400);
    }
}
