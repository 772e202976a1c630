//! OAuth clients (companies): identifiers, secrets, redirect URIs, keys and
//! the metadata of dynamic registration (RFC 7591).

use std::fmt;

use consent_policy::CompanyId;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use url::Url;

use crate::error::{ErrorCode, OAuthError};
use crate::oidc::IdTokenAlg;
use crate::random::{Random, RandomError};
use crate::server_key::{CLIENT_SECRET_LABEL, ServerKey};
use crate::time::UnixTime;

/// The prefix of every client identifier.
pub const CLIENT_ID_PREFIX: &str = "c_";
/// Random bytes in a client identifier (128 bits).
const CLIENT_ID_RANDOM_LEN: usize = 16;
/// Characters in a client identifier: the prefix and 22 base64url characters.
pub const CLIENT_ID_LEN: usize = 2 + 22;
/// Random bytes in a client secret (256 bits).
const CLIENT_SECRET_LEN: usize = 32;
/// The longest redirect URI accepted, in bytes.
pub const MAX_REDIRECT_URI_LEN: usize = 2048;
/// The most redirect URIs one client may register.
pub const MAX_REDIRECT_URIS: usize = 10;
/// The longest client name, in characters.
pub const MAX_CLIENT_NAME_LEN: usize = 100;
/// The most keys in a client's JWK set.
pub const MAX_CLIENT_KEYS: usize = 10;
/// The longest key id in a client's JWK set, in bytes.
pub const MAX_KID_LEN: usize = 128;

/// A client's public identifier: `c_` and 22 base64url characters (128 random bits).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientId(String);

impl ClientId {
    /// Makes a new random identifier.
    ///
    /// # Errors
    /// [`RandomError`] when the random source fails.
    pub fn generate(rng: &mut impl Random) -> Result<Self, RandomError> {
        let bytes: [u8; CLIENT_ID_RANDOM_LEN] = rng.array()?;
        Ok(Self(format!(
            "{CLIENT_ID_PREFIX}{}",
            crate::b64url_encode(bytes)
        )))
    }

    /// Parses an identifier as a client presents it.
    ///
    /// # Errors
    /// `invalid_client` when it is not `c_` and 22 base64url characters.
    pub fn parse(text: &str) -> Result<Self, OAuthError> {
        let well_formed = text.len() == CLIENT_ID_LEN
            && text
                .strip_prefix(CLIENT_ID_PREFIX)
                .and_then(crate::b64url_decode)
                .is_some_and(|b| b.len() == CLIENT_ID_RANDOM_LEN);
        if well_formed {
            Ok(Self(text.to_owned()))
        } else {
            Err(OAuthError::invalid_client(
                "`client_id` is not an identifier this server issues",
            ))
        }
    }

    /// The identifier as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The company identifier with the same text, for the consent policy and
    /// pairwise subjects when one company has one client.
    #[must_use]
    pub fn to_company_id(&self) -> CompanyId {
        CompanyId::parse(&self.0).expect("a client id is short printable ASCII")
    }
}

impl TryFrom<String> for ClientId {
    type Error = OAuthError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<ClientId> for String {
    fn from(id: ClientId) -> Self {
        id.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A client secret in clear: 256 random bits as 43 base64url characters.
/// Shown to the company once, never stored (store its [`SecretHash`]).
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret(String);

impl ClientSecret {
    /// Makes a new random secret.
    ///
    /// # Errors
    /// [`RandomError`] when the random source fails.
    pub fn generate(rng: &mut impl Random) -> Result<Self, RandomError> {
        let bytes: [u8; CLIENT_SECRET_LEN] = rng.array()?;
        Ok(Self(crate::b64url_encode(bytes)))
    }

    /// The secret's text, to show once.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The keyed hash to store.
    #[must_use]
    pub fn hash(&self, server_key: &ServerKey) -> SecretHash {
        SecretHash::of(server_key, &self.0)
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret(..)")
    }
}

/// `HMAC-SHA256(server key for client secrets, secret)`: what the store keeps
/// instead of the secret. A 256-bit random secret cannot be guessed, so a
/// fast keyed hash is enough; the key keeps a stolen table useless.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SecretHash([u8; 32]);

/// Why a text is not a stored secret hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a secret hash is 32 bytes as unpadded base64url")]
pub struct InvalidSecretHash;

impl SecretHash {
    /// The hash of a presented secret.
    #[must_use]
    pub fn of(server_key: &ServerKey, secret: &str) -> Self {
        use hmac::Mac;
        let mac = server_key
            .derive(CLIENT_SECRET_LABEL)
            .mac()
            .chain_update(secret.as_bytes())
            .finalize();
        Self(mac.into_bytes().into())
    }

    /// Whether `presented` is the secret this hash was made from, in constant time.
    #[must_use]
    pub fn matches(&self, server_key: &ServerKey, presented: &str) -> bool {
        let candidate = Self::of(server_key, presented);
        bool::from(self.0.ct_eq(&candidate.0))
    }

    /// The text form to store.
    #[must_use]
    pub fn to_text(&self) -> String {
        crate::b64url_encode(self.0)
    }
}

impl TryFrom<String> for SecretHash {
    type Error = InvalidSecretHash;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        let bytes = crate::b64url_decode(&text).ok_or(InvalidSecretHash)?;
        Ok(Self(bytes.try_into().map_err(|_| InvalidSecretHash)?))
    }
}

impl From<SecretHash> for String {
    fn from(hash: SecretHash) -> Self {
        hash.to_text()
    }
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHash(..)")
    }
}

/// A registered redirect URI: absolute `https`, or `http` on a loopback host
/// (RFC 8252 §7.3); no fragment, no user info, at most 2048 bytes of
/// printable ASCII. Compared as exact strings, never normalised.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RedirectUri(String);

impl RedirectUri {
    /// Checks a redirect URI.
    ///
    /// # Errors
    /// `invalid_redirect_uri` saying which rule it breaks.
    pub fn parse(text: &str) -> Result<Self, OAuthError> {
        let fail = |why: &str| {
            Err(OAuthError::new(
                ErrorCode::InvalidRedirectUri,
                format!("redirect URI `{}` {why}", crate::error::excerpt(text)),
            ))
        };
        if text.is_empty() {
            return fail("is empty");
        }
        if text.len() > MAX_REDIRECT_URI_LEN {
            return fail(&format!("is longer than {MAX_REDIRECT_URI_LEN} bytes"));
        }
        if !text.bytes().all(|b| b.is_ascii_graphic()) {
            return fail("must be printable ASCII without spaces");
        }
        if text.contains('#') {
            return fail("must not have a fragment");
        }
        let Ok(url) = Url::parse(text) else {
            return fail("is not an absolute URL");
        };
        if !url.username().is_empty() || url.password().is_some() {
            return fail("must not carry user info");
        }
        let host = url.host_str().unwrap_or_default();
        match url.scheme() {
            "https" => {}
            "http" if matches!(host, "localhost" | "127.0.0.1" | "[::1]") => {}
            "http" => return fail("must use https (http only for localhost, 127.0.0.1, [::1])"),
            _ => return fail("must use https"),
        }
        if host.is_empty() {
            return fail("has no host");
        }
        Ok(Self(text.to_owned()))
    }

    /// The URI as registered.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `presented` is exactly this URI, byte for byte.
    #[must_use]
    pub fn matches(&self, presented: &str) -> bool {
        self.0 == presented
    }
}

impl TryFrom<String> for RedirectUri {
    type Error = OAuthError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<RedirectUri> for String {
    fn from(uri: RedirectUri) -> Self {
        uri.0
    }
}

/// How a client authenticates at the token, PAR, introspection and revocation endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// HTTP Basic with the form-encoded id and secret (RFC 6749 §2.3.1).
    ClientSecretBasic,
    /// `client_id` and `client_secret` form fields.
    ClientSecretPost,
    /// A JWT signed with a registered key (RFC 7523, OIDC `private_key_jwt`).
    PrivateKeyJwt,
}

impl AuthMethod {
    /// Every method, in the order the metadata lists them.
    pub const ALL: [Self; 3] = [
        Self::ClientSecretBasic,
        Self::ClientSecretPost,
        Self::PrivateKeyJwt,
    ];

    /// The wire name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::PrivateKeyJwt => "private_key_jwt",
        }
    }

    /// Whether the method uses a shared secret.
    #[must_use]
    pub const fn uses_secret(self) -> bool {
        !matches!(self, Self::PrivateKeyJwt)
    }
}

/// A grant type this server supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum GrantType {
    /// `authorization_code`.
    #[serde(rename = "authorization_code")]
    AuthorizationCode,
    /// `refresh_token`.
    #[serde(rename = "refresh_token")]
    RefreshToken,
    /// `client_credentials`, for a company's own calls.
    #[serde(rename = "client_credentials")]
    ClientCredentials,
    /// `urn:openid:params:grant-type:ciba`, polling for an asynchronous request.
    #[serde(rename = "urn:openid:params:grant-type:ciba")]
    Ciba,
}

impl GrantType {
    /// Every supported grant type.
    pub const ALL: [Self; 4] = [
        Self::AuthorizationCode,
        Self::RefreshToken,
        Self::ClientCredentials,
        Self::Ciba,
    ];

    /// The wire name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
            Self::Ciba => "urn:openid:params:grant-type:ciba",
        }
    }

    /// Parses a wire name.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == text)
    }
}

/// A public key from a client's JWK set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientKey {
    /// An Ed25519 key (`kty: OKP`, `crv: Ed25519`), for `EdDSA`.
    Ed25519 {
        /// The 32-byte public key.
        x: [u8; 32],
    },
    /// A P-256 key (`kty: EC`, `crv: P-256`), for `ES256`.
    P256 {
        /// The x coordinate.
        x: [u8; 32],
        /// The y coordinate.
        y: [u8; 32],
    },
}

/// One key of a client's JWK set, with its optional key id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientJwk {
    /// The `kid`, if the client gave one.
    pub kid: Option<String>,
    /// The public key.
    pub key: ClientKey,
}

/// A client's checked JWK set: 1 to 10 public Ed25519 or P-256 signing keys.
///
/// Serialises as a standard `{"keys": [...]}` JWK set and deserialises
/// through the same checks, so the store can keep it as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "serde_json::Value", into = "serde_json::Value")]
pub struct ClientJwks(Vec<ClientJwk>);

#[derive(Deserialize)]
struct JwkWire {
    kty: String,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
    d: Option<serde_json::Value>,
    kid: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    alg: Option<String>,
}

#[derive(Deserialize)]
struct JwksWire {
    keys: Vec<serde_json::Value>,
}

impl ClientJwks {
    /// Checks an inline JWK set.
    ///
    /// # Errors
    /// `invalid_client_metadata` naming the key and the problem.
    pub fn parse(value: &serde_json::Value) -> Result<Self, OAuthError> {
        let fail = |why: String| Err(OAuthError::new(ErrorCode::InvalidClientMetadata, why));
        let Ok(set) = serde_json::from_value::<JwksWire>(value.clone()) else {
            return fail("`jwks` must be a JWK set: an object with a `keys` array".into());
        };
        if set.keys.is_empty() || set.keys.len() > MAX_CLIENT_KEYS {
            return fail(format!("`jwks` must hold 1 to {MAX_CLIENT_KEYS} keys"));
        }
        let mut keys: Vec<ClientJwk> = Vec::with_capacity(set.keys.len());
        for (i, raw) in set.keys.iter().enumerate() {
            let key = parse_jwk(raw).map_err(|why| {
                OAuthError::new(
                    ErrorCode::InvalidClientMetadata,
                    format!("`jwks` key {i}: {why}"),
                )
            })?;
            if key.kid.is_some() && keys.iter().any(|k| k.kid == key.kid) {
                return fail(format!("`jwks` key {i}: its `kid` is used twice"));
            }
            keys.push(key);
        }
        Ok(Self(keys))
    }

    /// The keys.
    #[must_use]
    pub fn keys(&self) -> &[ClientJwk] {
        &self.0
    }
}

fn parse_jwk(raw: &serde_json::Value) -> Result<ClientJwk, String> {
    let jwk: JwkWire = serde_json::from_value(raw.clone())
        .map_err(|_| "not a JWK (needs a string `kty`)".to_owned())?;
    if jwk.d.is_some() {
        return Err("holds private key material (`d`); register the public key only".into());
    }
    if let Some(use_) = &jwk.use_
        && use_ != "sig"
    {
        return Err(format!("`use` is `{use_}`, must be `sig`"));
    }
    if let Some(kid) = &jwk.kid
        && (kid.is_empty() || kid.len() > MAX_KID_LEN)
    {
        return Err(format!("`kid` must have 1 to {MAX_KID_LEN} bytes"));
    }
    let coordinate = |name: &str, value: &Option<String>| -> Result<[u8; 32], String> {
        let text = value.as_deref().ok_or(format!("`{name}` is missing"))?;
        crate::b64url_decode(text)
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or(format!("`{name}` must be 32 bytes of unpadded base64url"))
    };
    let key = match (jwk.kty.as_str(), jwk.crv.as_deref()) {
        ("OKP", Some("Ed25519")) => {
            if jwk.alg.as_deref().is_some_and(|a| a != "EdDSA") {
                return Err("an Ed25519 key's `alg` must be `EdDSA`".into());
            }
            // 32 bytes that are not a curve point are kept: no signature
            // verifies under them (AWS-LC decodes the point at each check).
            let x = coordinate("x", &jwk.x)?;
            ClientKey::Ed25519 { x }
        }
        ("EC", Some("P-256")) => {
            if jwk.alg.as_deref().is_some_and(|a| a != "ES256") {
                return Err("a P-256 key's `alg` must be `ES256`".into());
            }
            let x = coordinate("x", &jwk.x)?;
            let y = coordinate("y", &jwk.y)?;
            let mut sec1 = [0_u8; 65];
            sec1[0] = 0x04;
            sec1[1..33].copy_from_slice(&x);
            sec1[33..].copy_from_slice(&y);
            aws_lc_rs::signature::ParsedPublicKey::new(
                &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
                sec1,
            )
            .map_err(|_| "`x`, `y` is not a point on P-256".to_owned())?;
            ClientKey::P256 { x, y }
        }
        (kty, crv) => {
            return Err(format!(
                "unsupported key type `{kty}`/`{}`: use OKP/Ed25519 or EC/P-256",
                crv.unwrap_or("-")
            ));
        }
    };
    Ok(ClientJwk { kid: jwk.kid, key })
}

impl TryFrom<serde_json::Value> for ClientJwks {
    type Error = OAuthError;

    fn try_from(value: serde_json::Value) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ClientJwks> for serde_json::Value {
    fn from(set: ClientJwks) -> Self {
        let keys: Vec<serde_json::Value> = set
            .0
            .iter()
            .map(|jwk| {
                let mut obj = match &jwk.key {
                    ClientKey::Ed25519 { x } => serde_json::json!({
                        "kty": "OKP", "crv": "Ed25519", "x": crate::b64url_encode(x),
                        "use": "sig", "alg": "EdDSA",
                    }),
                    ClientKey::P256 { x, y } => serde_json::json!({
                        "kty": "EC", "crv": "P-256",
                        "x": crate::b64url_encode(x), "y": crate::b64url_encode(y),
                        "use": "sig", "alg": "ES256",
                    }),
                };
                if let (Some(kid), Some(map)) = (&jwk.kid, obj.as_object_mut()) {
                    map.insert("kid".into(), kid.clone().into());
                }
                obj
            })
            .collect();
        serde_json::json!({ "keys": keys })
    }
}

/// Checked client metadata: what a registration (RFC 7591) or
/// `apiome company create` asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientMetadata {
    /// The name the consent screen shows.
    pub client_name: String,
    /// 1 to 10 redirect URIs, matched exactly.
    pub redirect_uris: Vec<RedirectUri>,
    /// How the client authenticates.
    pub token_endpoint_auth_method: AuthMethod,
    /// The client's public keys; present exactly when it uses `private_key_jwt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<ClientJwks>,
    /// The grant types the client may use.
    pub grant_types: Vec<GrantType>,
    /// How its ID tokens are signed (OIDC Registration; RS256 unless it said).
    #[serde(default)]
    pub id_token_signed_response_alg: IdTokenAlg,
    /// Where RP-initiated logout may send the person back (exact match).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    /// CIBA: `poll` (the default) or `ping`.
    #[serde(default, skip_serializing_if = "crate::ciba::DeliveryMode::is_poll")]
    pub backchannel_token_delivery_mode: crate::ciba::DeliveryMode,
    /// CIBA ping mode: where the server says a request was decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_client_notification_endpoint: Option<String>,
    /// Every token request must carry a DPoP proof with the server's nonce,
    /// and every access token is DPoP-bound (RFC 9449 §5.2).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dpop_bound_access_tokens: bool,
}

/// A registration request as it arrives; fields this server does not know are ignored (RFC 7591 §2).
#[derive(Debug, Default, Deserialize)]
struct MetadataWire {
    redirect_uris: Option<serde_json::Value>,
    client_name: Option<serde_json::Value>,
    token_endpoint_auth_method: Option<serde_json::Value>,
    jwks: Option<serde_json::Value>,
    jwks_uri: Option<serde_json::Value>,
    grant_types: Option<serde_json::Value>,
    response_types: Option<serde_json::Value>,
    id_token_signed_response_alg: Option<serde_json::Value>,
    post_logout_redirect_uris: Option<serde_json::Value>,
    backchannel_token_delivery_mode: Option<serde_json::Value>,
    backchannel_client_notification_endpoint: Option<serde_json::Value>,
    dpop_bound_access_tokens: Option<serde_json::Value>,
}

impl ClientMetadata {
    /// Checks a registration request body.
    ///
    /// Defaults (RFC 7591 §2): `token_endpoint_auth_method` is
    /// `client_secret_basic`, `grant_types` is `["authorization_code"]`,
    /// `response_types` is `["code"]`. `client_name` is required here
    /// because the consent screen names the company.
    ///
    /// # Errors
    /// `invalid_redirect_uri` for a bad redirect URI, else `invalid_client_metadata`.
    pub fn parse(body: &serde_json::Value) -> Result<Self, OAuthError> {
        let meta_err = |why: String| OAuthError::new(ErrorCode::InvalidClientMetadata, why);
        if !body.is_object() {
            return Err(meta_err(
                "the registration body must be a JSON object".into(),
            ));
        }
        let wire: MetadataWire = serde_json::from_value(body.clone()).unwrap_or_default();

        let redirect_uris = string_list(wire.redirect_uris.as_ref(), "redirect_uris")
            .map_err(|why| OAuthError::new(ErrorCode::InvalidRedirectUri, why))?
            .ok_or_else(|| {
                OAuthError::new(ErrorCode::InvalidRedirectUri, "`redirect_uris` is required")
            })?;
        let redirect_uris = Self::check_redirect_uris(&redirect_uris)?;

        let client_name = match &wire.client_name {
            None | Some(serde_json::Value::Null) => {
                return Err(meta_err(
                    "`client_name` is required: the consent screen shows it".into(),
                ));
            }
            Some(serde_json::Value::String(name)) => check_client_name(name).map_err(meta_err)?,
            Some(_) => return Err(meta_err("`client_name` must be a string".into())),
        };

        let token_endpoint_auth_method = match &wire.token_endpoint_auth_method {
            None | Some(serde_json::Value::Null) => AuthMethod::ClientSecretBasic,
            Some(serde_json::Value::String(m)) => AuthMethod::ALL
                .into_iter()
                .find(|a| a.as_str() == m)
                .ok_or_else(|| {
                    meta_err(format!(
                        "`token_endpoint_auth_method` `{}` is not supported; use \
                         client_secret_basic, client_secret_post or private_key_jwt",
                        crate::error::excerpt(m)
                    ))
                })?,
            Some(_) => {
                return Err(meta_err(
                    "`token_endpoint_auth_method` must be a string".into(),
                ));
            }
        };

        if wire.jwks_uri.is_some() {
            return Err(meta_err(
                "`jwks_uri` is not supported; register the keys inline in `jwks`".into(),
            ));
        }
        let jwks = match (&wire.jwks, token_endpoint_auth_method) {
            (None | Some(serde_json::Value::Null), AuthMethod::PrivateKeyJwt) => {
                return Err(meta_err("`private_key_jwt` requires `jwks`".into()));
            }
            (None | Some(serde_json::Value::Null), _) => None,
            (Some(_), method) if method != AuthMethod::PrivateKeyJwt => {
                return Err(meta_err(format!(
                    "`jwks` is only for `private_key_jwt`, not `{}`",
                    method.as_str()
                )));
            }
            (Some(value), _) => Some(ClientJwks::parse(value)?),
        };

        let grant_types =
            match string_list(wire.grant_types.as_ref(), "grant_types").map_err(meta_err)? {
                None => vec![GrantType::AuthorizationCode],
                Some(list) => {
                    let mut out = Vec::new();
                    for g in &list {
                        let grant = GrantType::parse(g).ok_or_else(|| {
                            meta_err(format!(
                                "grant type `{}` is not supported",
                                crate::error::excerpt(g)
                            ))
                        })?;
                        if !out.contains(&grant) {
                            out.push(grant);
                        }
                    }
                    if out.is_empty() {
                        return Err(meta_err("`grant_types` must not be empty".into()));
                    }
                    out
                }
            };
        let response_types = string_list(wire.response_types.as_ref(), "response_types")
            .map_err(meta_err)?
            .unwrap_or_else(|| vec!["code".to_owned()]);
        if let Some(other) = response_types.iter().find(|r| r.as_str() != "code") {
            return Err(meta_err(format!(
                "response type `{}` is not supported; only `code`",
                crate::error::excerpt(other)
            )));
        }
        let wants_code = grant_types.contains(&GrantType::AuthorizationCode);
        if wants_code == response_types.is_empty() {
            return Err(meta_err(
                "`response_types` [\"code\"] goes with the `authorization_code` grant type and only with it"
                    .into(),
            ));
        }
        let id_token_signed_response_alg = match &wire.id_token_signed_response_alg {
            None | Some(serde_json::Value::Null) => IdTokenAlg::default(),
            Some(serde_json::Value::String(alg)) => IdTokenAlg::parse(alg).ok_or_else(|| {
                meta_err(format!(
                    "`id_token_signed_response_alg` `{}` is not supported; use RS256 or EdDSA",
                    crate::error::excerpt(alg)
                ))
            })?,
            Some(_) => {
                return Err(meta_err(
                    "`id_token_signed_response_alg` must be a string".into(),
                ));
            }
        };
        let post_logout_redirect_uris = match string_list(
            wire.post_logout_redirect_uris.as_ref(),
            "post_logout_redirect_uris",
        )
        .map_err(|why| OAuthError::new(ErrorCode::InvalidRedirectUri, why))?
        {
            None => Vec::new(),
            Some(uris) => Self::check_redirect_uris(&uris).map_err(|e| {
                OAuthError::new(
                    ErrorCode::InvalidRedirectUri,
                    format!("`post_logout_redirect_uris`: {}", e.description),
                )
            })?,
        };
        let (backchannel_token_delivery_mode, backchannel_client_notification_endpoint) =
            crate::ciba::check_registration(
                wire.backchannel_token_delivery_mode.as_ref(),
                wire.backchannel_client_notification_endpoint.as_ref(),
                &grant_types,
            )?;
        let dpop_bound_access_tokens = match &wire.dpop_bound_access_tokens {
            None | Some(serde_json::Value::Null) => false,
            Some(serde_json::Value::Bool(b)) => *b,
            Some(_) => {
                return Err(meta_err(
                    "`dpop_bound_access_tokens` must be a boolean".into(),
                ));
            }
        };
        Ok(Self {
            client_name,
            redirect_uris,
            token_endpoint_auth_method,
            jwks,
            grant_types,
            id_token_signed_response_alg,
            post_logout_redirect_uris,
            backchannel_token_delivery_mode,
            backchannel_client_notification_endpoint,
            dpop_bound_access_tokens,
        })
    }

    /// Checks a list of redirect URIs: 1 to 10, each valid, none repeated.
    ///
    /// # Errors
    /// `invalid_redirect_uri`.
    pub fn check_redirect_uris(uris: &[String]) -> Result<Vec<RedirectUri>, OAuthError> {
        if uris.is_empty() || uris.len() > MAX_REDIRECT_URIS {
            return Err(OAuthError::new(
                ErrorCode::InvalidRedirectUri,
                format!("`redirect_uris` must list 1 to {MAX_REDIRECT_URIS} URIs"),
            ));
        }
        let mut out: Vec<RedirectUri> = Vec::with_capacity(uris.len());
        for text in uris {
            let uri = RedirectUri::parse(text)?;
            if out.contains(&uri) {
                return Err(OAuthError::new(
                    ErrorCode::InvalidRedirectUri,
                    format!("redirect URI `{text}` is listed twice"),
                ));
            }
            out.push(uri);
        }
        Ok(out)
    }

    /// Whether the client may use `grant`.
    #[must_use]
    pub fn allows(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }
}

fn check_client_name(name: &str) -> Result<String, String> {
    let trimmed = name.trim();
    if trimmed.is_empty() || trimmed.chars().count() > MAX_CLIENT_NAME_LEN {
        return Err(format!(
            "`client_name` must have 1 to {MAX_CLIENT_NAME_LEN} characters"
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err("`client_name` must not contain control characters".into());
    }
    Ok(trimmed.to_owned())
}

/// A JSON array of strings, `None` when absent or null.
fn string_list(
    value: Option<&serde_json::Value>,
    name: &str,
) -> Result<Option<Vec<String>>, String> {
    match value {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Array(items)) if items.len() <= 16 => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("`{name}` must be an array of strings"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(format!("`{name}` must be an array of at most 16 strings")),
    }
}

/// A registered client as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientRecord {
    /// The public identifier.
    pub client_id: ClientId,
    /// The checked metadata.
    pub metadata: ClientMetadata,
    /// The keyed hash of the secret; present exactly for secret-based methods.
    pub secret_hash: Option<SecretHash>,
    /// When it was registered.
    pub issued_at: UnixTime,
}

impl ClientRecord {
    /// Registers a client: a fresh id, and a fresh secret when its method
    /// uses one. Returns the record to store and the secret to show once.
    ///
    /// # Errors
    /// [`RandomError`] when the random source fails.
    pub fn register(
        metadata: ClientMetadata,
        server_key: &ServerKey,
        rng: &mut impl Random,
        now: UnixTime,
    ) -> Result<(Self, Option<ClientSecret>), RandomError> {
        let client_id = ClientId::generate(rng)?;
        let secret = if metadata.token_endpoint_auth_method.uses_secret() {
            Some(ClientSecret::generate(rng)?)
        } else {
            None
        };
        let record = Self {
            client_id,
            metadata,
            secret_hash: secret.as_ref().map(|s| s.hash(server_key)),
            issued_at: now,
        };
        Ok((record, secret))
    }

    /// The RFC 7591 §3.2.1 registration response (also what
    /// `apiome company create` prints); the secret appears only here.
    #[must_use]
    pub fn registration_response(&self, secret: Option<&ClientSecret>) -> serde_json::Value {
        let m = &self.metadata;
        let mut out = serde_json::json!({
            "client_id": self.client_id,
            "client_id_issued_at": self.issued_at,
            "client_name": m.client_name,
            "redirect_uris": m.redirect_uris,
            "token_endpoint_auth_method": m.token_endpoint_auth_method,
            "grant_types": m.grant_types,
            "response_types": if m.allows(GrantType::AuthorizationCode) { vec!["code"] } else { vec![] },
        });
        if let Some(map) = out.as_object_mut() {
            if let Some(secret) = secret {
                map.insert("client_secret".into(), secret.expose().into());
                map.insert("client_secret_expires_at".into(), 0.into());
            }
            if let Some(jwks) = &m.jwks {
                map.insert("jwks".into(), jwks.clone().into());
            }
            map.insert(
                "id_token_signed_response_alg".into(),
                m.id_token_signed_response_alg.as_str().into(),
            );
            if m.allows(GrantType::Ciba) {
                map.insert(
                    "backchannel_token_delivery_mode".into(),
                    m.backchannel_token_delivery_mode.as_str().into(),
                );
            }
            if let Some(endpoint) = &m.backchannel_client_notification_endpoint {
                map.insert(
                    "backchannel_client_notification_endpoint".into(),
                    endpoint.clone().into(),
                );
            }
            if !m.post_logout_redirect_uris.is_empty() {
                map.insert(
                    "post_logout_redirect_uris".into(),
                    serde_json::json!(m.post_logout_redirect_uris),
                );
            }
            map.insert(
                "dpop_bound_access_tokens".into(),
                m.dpop_bound_access_tokens.into(),
            );
        }
        out
    }

    /// The redirect URI that exactly equals `presented`, if registered.
    #[must_use]
    pub fn redirect_uri(&self, presented: &str) -> Option<&RedirectUri> {
        self.metadata
            .redirect_uris
            .iter()
            .find(|u| u.matches(presented))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::random::PredictableRandom;

    fn rng() -> PredictableRandom {
        PredictableRandom::new(42)
    }

    #[test]
    fn client_ids_are_prefixed_random_and_parse_back() {
        let mut r = rng();
        let a = ClientId::generate(&mut r).unwrap();
        let b = ClientId::generate(&mut r).unwrap();
        assert_ne!(a, b);
        assert!(a.as_str().starts_with("c_"));
        assert_eq!(a.as_str().len(), CLIENT_ID_LEN);
        assert_eq!(ClientId::parse(a.as_str()).unwrap(), a);
        assert_eq!(a.to_company_id().as_str(), a.as_str());
    }

    #[test]
    fn malformed_client_ids_are_invalid_client() {
        for text in [
            "",
            "c_",
            "acme",
            "c_AAAAAAAAAAAAAAAAAAAAA",
            "c_AAAAAAAAAAAAAAAAAAAAA!",
            "x_AAAAAAAAAAAAAAAAAAAAAA",
        ] {
            let e = ClientId::parse(text).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidClient, "{text}");
        }
    }

    #[test]
    fn secret_hash_matches_only_its_secret_and_key() {
        let mut r = rng();
        let key = ServerKey::generate(&mut r).unwrap();
        let secret = ClientSecret::generate(&mut r).unwrap();
        assert_eq!(secret.expose().len(), 43);
        let hash = secret.hash(&key);
        assert!(hash.matches(&key, secret.expose()));
        assert!(!hash.matches(&key, "wrong"));
        assert!(!hash.matches(&ServerKey::from_bytes([1; 32]), secret.expose()));
        let text = hash.to_text();
        let back = SecretHash::try_from(text).unwrap();
        assert_eq!(back, hash);
        assert!(SecretHash::try_from("short".to_owned()).is_err());
        assert_eq!(
            format!("{secret:?} {hash:?}"),
            "ClientSecret(..) SecretHash(..)"
        );
    }

    #[test]
    fn good_redirect_uris_parse() {
        for text in [
            "https://acme.example/cb",
            "https://acme.example",
            "https://acme.example:8443/cb?x=1",
            "http://localhost:3000/cb",
            "http://127.0.0.1/cb",
            "http://[::1]:9000/cb",
        ] {
            assert_eq!(RedirectUri::parse(text).unwrap().as_str(), text);
        }
    }

    #[test]
    fn bad_redirect_uris_are_invalid_redirect_uri() {
        let long = format!("https://acme.example/{}", "a".repeat(MAX_REDIRECT_URI_LEN));
        for (text, why) in [
            ("", "empty"),
            ("/cb", "absolute"),
            ("https://acme.example/cb#frag", "fragment"),
            ("https://acme.example/cb#", "fragment"),
            ("http://acme.example/cb", "https"),
            ("http://localhost.evil.example/cb", "https"),
            ("ftp://acme.example/cb", "https"),
            ("com.acme.app:/cb", "https"),
            ("https://user:pw@acme.example/cb", "user info"),
            ("https://user@acme.example/cb", "user info"),
            ("https://acme.example/a b", "printable"),
            (long.as_str(), "longer"),
        ] {
            let e = RedirectUri::parse(text).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidRedirectUri, "{text}");
            assert!(e.description.contains(why), "{text}: {}", e.description);
        }
    }

    #[test]
    fn redirect_uri_match_is_exact() {
        let uri = RedirectUri::parse("https://acme.example/cb").unwrap();
        assert!(uri.matches("https://acme.example/cb"));
        for other in [
            "https://acme.example/cb/",
            "https://acme.example/cb?x",
            "https://ACME.example/cb",
            "https://acme.example/cb/../cb",
            "https://acme.example:443/cb",
            "https://acme.example/c",
            "https://acme.example/cbx",
        ] {
            assert!(!uri.matches(other), "{other}");
        }
    }

    proptest! {
        #[test]
        fn redirect_uri_never_matches_a_different_string(suffix in "[a-z/]{0,12}", other in ".{0,40}") {
            let text = format!("https://acme.example/{suffix}");
            let uri = RedirectUri::parse(&text).unwrap();
            prop_assert_eq!(uri.matches(&other), other == text);
        }
    }

    fn ed_jwk() -> serde_json::Value {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        json!({"kty": "OKP", "crv": "Ed25519", "kid": "k1",
               "x": crate::b64url_encode(key.verifying_key().as_bytes())})
    }

    fn ec_jwk() -> serde_json::Value {
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
        let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        // uncompressed SEC1: 0x04 ‖ x ‖ y
        let point = key.public_key().as_ref();
        json!({"kty": "EC", "crv": "P-256", "kid": "k2",
               "x": crate::b64url_encode(&point[1..33]),
               "y": crate::b64url_encode(&point[33..])})
    }

    #[test]
    fn jwks_with_ed25519_and_p256_parse_and_round_trip() {
        let set = ClientJwks::parse(&json!({"keys": [ed_jwk(), ec_jwk()]})).unwrap();
        assert_eq!(set.keys().len(), 2);
        assert!(matches!(set.keys()[0].key, ClientKey::Ed25519 { .. }));
        assert!(matches!(set.keys()[1].key, ClientKey::P256 { .. }));
        let json = serde_json::to_value(&set).unwrap();
        let back: ClientJwks = serde_json::from_value(json).unwrap();
        assert_eq!(back, set);
    }

    #[test]
    fn bad_jwks_are_invalid_client_metadata() {
        let mut private = ed_jwk();
        private["d"] = json!("AAAA");
        let mut bad_point = ec_jwk();
        bad_point["y"] = bad_point["x"].clone();
        let mut enc = ed_jwk();
        enc["use"] = json!("enc");
        let mut wrong_alg = ed_jwk();
        wrong_alg["alg"] = json!("ES256");
        let mut short = ed_jwk();
        short["x"] = json!("AAAA");
        for (set, why) in [
            (json!([]), "JWK set"),
            (json!({"keys": []}), "1 to"),
            (json!({"keys": [private]}), "private key"),
            (json!({"keys": [bad_point]}), "point on P-256"),
            (json!({"keys": [enc]}), "`use`"),
            (json!({"keys": [wrong_alg]}), "`alg`"),
            (json!({"keys": [short]}), "32 bytes"),
            (
                json!({"keys": [{"kty": "oct", "k": "AAAA"}]}),
                "unsupported key type",
            ),
            (
                json!({"keys": [{"kty": "RSA", "n": "AA", "e": "AQAB"}]}),
                "unsupported key type",
            ),
            (json!({"keys": [ed_jwk(), ed_jwk()]}), "used twice"),
            (json!({"keys": [{"crv": "Ed25519"}]}), "kty"),
        ] {
            let e = ClientJwks::parse(&set).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidClientMetadata, "{set}");
            assert!(e.description.contains(why), "{set}: {}", e.description);
        }
    }

    #[test]
    fn minimal_registration_gets_rfc_7591_defaults() {
        let m = ClientMetadata::parse(&json!({
            "client_name": " Acme ", "redirect_uris": ["https://acme.example/cb"],
            "software_id": "ignored"
        }))
        .unwrap();
        assert_eq!(m.client_name, "Acme");
        assert_eq!(m.token_endpoint_auth_method, AuthMethod::ClientSecretBasic);
        assert_eq!(m.grant_types, [GrantType::AuthorizationCode]);
        assert!(m.jwks.is_none());
    }

    #[test]
    fn private_key_jwt_registration_keeps_its_keys() {
        let m = ClientMetadata::parse(&json!({
            "client_name": "Acme", "redirect_uris": ["https://acme.example/cb"],
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": {"keys": [ed_jwk()]},
            "grant_types": ["authorization_code", "refresh_token", "client_credentials",
                            "urn:openid:params:grant-type:ciba"],
            "response_types": ["code"],
        }))
        .unwrap();
        assert_eq!(m.jwks.as_ref().unwrap().keys().len(), 1);
        assert!(m.allows(GrantType::Ciba));
        let (record, secret) = ClientRecord::register(
            m,
            &ServerKey::from_bytes([1; 32]),
            &mut rng(),
            UnixTime::from_secs(5),
        )
        .unwrap();
        assert!(secret.is_none() && record.secret_hash.is_none());
        let response = record.registration_response(None);
        assert!(response.get("client_secret").is_none());
        assert_eq!(response["jwks"]["keys"][0]["kid"], "k1");
    }

    #[test]
    fn dpop_bound_access_tokens_is_a_boolean_kept_with_the_record() {
        let base = json!({"client_name": "Acme", "redirect_uris": ["https://acme.example/cb"]});
        let m = ClientMetadata::parse(&base).unwrap();
        assert!(!m.dpop_bound_access_tokens, "off unless asked");
        let mut asked = base.clone();
        asked["dpop_bound_access_tokens"] = json!(true);
        let m = ClientMetadata::parse(&asked).unwrap();
        assert!(m.dpop_bound_access_tokens);
        let (record, _) = ClientRecord::register(
            m,
            &ServerKey::from_bytes([1; 32]),
            &mut rng(),
            UnixTime::from_secs(5),
        )
        .unwrap();
        assert_eq!(
            record.registration_response(None)["dpop_bound_access_tokens"],
            true
        );
        let stored = serde_json::to_string(&record).unwrap();
        let back: ClientRecord = serde_json::from_str(&stored).unwrap();
        assert!(back.metadata.dpop_bound_access_tokens);
        // Records stored before the field existed read as not bound.
        let old = stored.replace(r#","dpop_bound_access_tokens":true"#, "");
        assert_ne!(old, stored);
        let old: ClientRecord = serde_json::from_str(&old).unwrap();
        assert!(!old.metadata.dpop_bound_access_tokens);
        asked["dpop_bound_access_tokens"] = json!("yes");
        assert_eq!(
            ClientMetadata::parse(&asked).unwrap_err().code,
            ErrorCode::InvalidClientMetadata
        );
    }

    #[test]
    fn secret_registration_response_shows_the_secret_once() {
        let m = ClientMetadata::parse(&json!({
            "client_name": "Acme", "redirect_uris": ["https://acme.example/cb"],
            "token_endpoint_auth_method": "client_secret_post",
        }))
        .unwrap();
        let key = ServerKey::from_bytes([1; 32]);
        let (record, secret) =
            ClientRecord::register(m, &key, &mut rng(), UnixTime::from_secs(5)).unwrap();
        let secret = secret.unwrap();
        assert!(
            record
                .secret_hash
                .as_ref()
                .unwrap()
                .matches(&key, secret.expose())
        );
        let response = record.registration_response(Some(&secret));
        assert_eq!(response["client_secret"], secret.expose());
        assert_eq!(response["client_secret_expires_at"], 0);
        assert_eq!(response["response_types"], json!(["code"]));
        assert_eq!(
            record
                .redirect_uri("https://acme.example/cb")
                .unwrap()
                .as_str(),
            "https://acme.example/cb"
        );
        assert!(record.redirect_uri("https://acme.example/cb/").is_none());
        let stored = serde_json::to_string(&record).unwrap();
        assert_eq!(
            serde_json::from_str::<ClientRecord>(&stored).unwrap(),
            record
        );
    }

    #[test]
    fn bad_registrations_get_rfc_7591_codes() {
        let uris = json!(["https://acme.example/cb"]);
        let eleven: Vec<String> = (0..11)
            .map(|i| format!("https://acme.example/{i}"))
            .collect();
        let cases = [
            (json!("x"), ErrorCode::InvalidClientMetadata, "JSON object"),
            (
                json!({"client_name": "A"}),
                ErrorCode::InvalidRedirectUri,
                "required",
            ),
            (
                json!({"client_name": "A", "redirect_uris": []}),
                ErrorCode::InvalidRedirectUri,
                "1 to 10",
            ),
            (
                json!({"client_name": "A", "redirect_uris": eleven}),
                ErrorCode::InvalidRedirectUri,
                "1 to 10",
            ),
            (
                json!({"client_name": "A", "redirect_uris": "https://a.example"}),
                ErrorCode::InvalidRedirectUri,
                "array",
            ),
            (
                json!({"client_name": "A", "redirect_uris": ["http://a.example/cb"]}),
                ErrorCode::InvalidRedirectUri,
                "https",
            ),
            (
                json!({"client_name": "A", "redirect_uris": ["https://a.example/cb", "https://a.example/cb"]}),
                ErrorCode::InvalidRedirectUri,
                "twice",
            ),
            (
                json!({"redirect_uris": uris}),
                ErrorCode::InvalidClientMetadata,
                "`client_name` is required",
            ),
            (
                json!({"client_name": "  ", "redirect_uris": uris}),
                ErrorCode::InvalidClientMetadata,
                "1 to 100",
            ),
            (
                json!({"client_name": 3, "redirect_uris": uris}),
                ErrorCode::InvalidClientMetadata,
                "string",
            ),
            (
                json!({"client_name": "A\u{7}", "redirect_uris": uris}),
                ErrorCode::InvalidClientMetadata,
                "control",
            ),
            (
                json!({"client_name": "A", "redirect_uris": uris, "token_endpoint_auth_method": "none"}),
                ErrorCode::InvalidClientMetadata,
                "not supported",
            ),
            (
                json!({"client_name": "A", "redirect_uris": uris, "token_endpoint_auth_method": 1}),
                ErrorCode::InvalidClientMetadata,
                "string",
            ),
            (
                json!({"client_name": "A", "redirect_uris": uris, "token_endpoint_auth_method": "private_key_jwt"}),
                ErrorCode::InvalidClientMetadata,
                "requires `jwks`",
            ),
            (
                json!({"client_name": "A", "redirect_uris": uris, "jwks": {"keys": [ed_jwk()]}}),
                ErrorCode::InvalidClientMetadata,
                "only for `private_key_jwt`",
            ),
            (
                json!({"client_name": "A", "redirect_uris": uris, "token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "https://a.example/jwks"}),
                ErrorCode::InvalidClientMetadata,
                "jwks_uri",
            ),
            (
                json!({"client_name": "A", "redirect_uris": uris, "grant_types": ["implicit"]}),
                ErrorCode::InvalidClientMetadata,
                "`implicit`",
            ),
            (
                json!({"client_name": "A", "redirect_uris": uris, "grant_types": []}),
                ErrorCode::InvalidClientMetadata,
                "empty",
            ),
            (
                json!({"client_name": "A", "redirect_uris": uris, "response_types": ["token"]}),
                ErrorCode::InvalidClientMetadata,
                "`token`",
            ),
            (
                json!({"client_name": "A", "redirect_uris": uris, "grant_types": ["client_credentials"]}),
                ErrorCode::InvalidClientMetadata,
                "goes with",
            ),
            (
                json!({"client_name": "A", "redirect_uris": uris, "response_types": []}),
                ErrorCode::InvalidClientMetadata,
                "goes with",
            ),
        ];
        for (body, code, why) in cases {
            let e = ClientMetadata::parse(&body).unwrap_err();
            assert_eq!(e.code, code, "{body}");
            assert!(e.description.contains(why), "{body}: {}", e.description);
        }
    }

    #[test]
    fn client_credentials_only_registration_has_no_response_types() {
        let m = ClientMetadata::parse(&json!({
            "client_name": "A", "redirect_uris": ["https://a.example/cb"],
            "grant_types": ["client_credentials"], "response_types": [],
        }))
        .unwrap();
        assert!(!m.allows(GrantType::AuthorizationCode));
    }
}
