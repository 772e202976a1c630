//! The OAuth 2 protocol core of apiome: pure values in, values out.
//!
//! No HTTP, no SQL, no async, no clock. Time comes in as [`UnixTime`],
//! randomness through the [`Random`] trait ([`OsRandom`] in the server,
//! [`PredictableRandom`] in tests), keys as values ([`ServerKey`],
//! [`KeySet`]). The server parses HTTP into [`Params`] and header strings,
//! calls these functions, persists the records they return, and renders
//! [`OAuthError`]s (`http_status()`, serde to the RFC 6749 §5.2 object).
//!
//! # Modules
//!
//! | module | what it does |
//! |---|---|
//! | [`error`] | [`OAuthError`] and [`ErrorCode`]: every code of RFC 6749/6750/7591/9396 and CIBA polling, HTTP status, redirect URL |
//! | [`params`] | form/query parameters, size-bounded, repeats refused on read |
//! | [`ciba`] | CIBA Core 1.0: the backchannel authentication request and the poll/ping delivery mode a client registers |
//! | [`client`] | [`ClientId`], [`ClientSecret`] and its keyed [`SecretHash`], [`RedirectUri`] (exact match), [`ClientMetadata`] (RFC 7591) and the stored [`ClientRecord`] |
//! | [`client_auth`] | reads and checks client authentication: Basic, form secret, or `private_key_jwt` (EdDSA/ES256) |
//! | [`pkce`] | `S256` challenges and verifiers |
//! | [`request`] | authorization requests (RAR `apiome_data` or a `scope`), redirect rules, pushed requests (RFC 9126) |
//! | [`code`] | authorization codes: issue, bind, redeem, replay signal |
//! | [`dpop`] | DPoP proofs (RFC 9449): verify, key thumbprints, `ath`, stateless server nonces |
//! | [`token`] | RFC 9068 JWT access tokens, the rotating Ed25519 [`KeySet`] and its JWKS |
//! | [`refresh`] | refresh-token families: rotation on every use, reuse revokes the family |
//! | [`subject`] | pairwise subjects per company |
//! | [`oidc`] | OpenID Connect: `openid` and its parameters, ID tokens (RS256 with AWS-LC RSA keys, EdDSA), claim names |
//! | [`token_request`] | token endpoint grants and CIBA-style poll answers |
//! | [`introspection`] | RFC 7662 answers and RFC 7009 token hints |
//! | [`metadata`] | the RFC 8414 document and the endpoint paths |
//! | [`server_key`], [`token_hash`], [`time`], [`random`] | the server's HMAC key, stored hashes of bearer secrets, time and randomness |
//!
//! # What the server must persist
//!
//! - **Secrets, once** (0600 files in the data directory): the [`ServerKey`]
//!   ([`ServerKey::to_text`]; it keys client-secret hashes and pairwise
//!   subjects, so losing it invalidates every secret and changes every
//!   subject) and the [`KeySet`] ([`KeySet::to_text`]).
//! - [`ClientRecord`] per client (serde; the secret itself is never stored).
//! - [`PushedRequest`] keyed by `request_uri_hash`, with `used`.
//! - [`AuthorizationRequest`] between showing the consent screen and the
//!   person's answer (serde), in a server-side row, not a cookie.
//! - [`CodeRecord`] keyed by `code_hash`, with `used_at` and `family_id`.
//! - [`RefreshRecord`] keyed by `token_hash`, indexed by `family_id`.
//! - Used client-assertion `jti`s per client until their `expires_at`, and
//!   used DPoP proof `jti`s per key until [`dpop::VerifiedProof::remember_until`].
//! - The poll time of each asynchronous request ([`token_request::poll`]).
//!
//! Every "use once" step ([`PushedRequest::redeem`], [`CodeRecord::redeem`],
//! [`RefreshRecord::rotate`], assertion `jti`s) is checked here on a record
//! the store read; the store must then write the change conditionally
//! (`... WHERE used_at IS NULL`, `... AND status = 'active'`, a unique
//! `(client_id, jti)`) and treat a lost race as the replay it is.
//!
//! # How the endpoints use it
//!
//! - **`/oauth/authorize`**: `Params::from_form(query)`; if
//!   [`RequestUri::from_params`] finds a `request_uri`, load the pushed
//!   request by its hash and [`PushedRequest::redeem`] it with
//!   [`request::requested_client_id`]; otherwise look the client up and
//!   [`AuthorizationRequest::parse`]. On error, redirect only when
//!   [`RedirectableError::redirect_url`] gives a URL; else show an error
//!   page. Sign the person in, re-check the data request against their
//!   longest grant, run the consent policy, show the screen. On approval:
//!   create the grant, [`CodeRecord::issue`], redirect to
//!   [`AuthorizationRequest::success_redirect`]; on refusal,
//!   [`AuthorizationRequest::error_redirect`] with `access_denied`.
//! - **`/oauth/par`**: authenticate the client (below), then
//!   [`AuthorizationRequest::parse_pushed`] and [`PushedRequest::new`];
//!   answer 201 with the [`request::PushedResponse`].
//! - **`/oauth/token`**: [`PresentedCredentials::parse`] (header, form),
//!   look up `client_id()`, [`PresentedCredentials::verify`], remember the
//!   assertion `jti`; [`TokenRequest::parse`], [`TokenRequest::check_allowed`];
//!   then per grant: [`CodeRecord::redeem`] (on
//!   [`code::CodeError::Replayed`] revoke the family and the grant's
//!   tokens), [`RefreshRecord::rotate`] (on `Reused` revoke the family),
//!   `client_credentials`, or [`token_request::poll`]. Mint with
//!   [`TokenSettings::grant_claims`] (subject from
//!   [`PairwiseSubject::derive`]) or [`TokenSettings::client_claims`],
//!   [`KeySet::sign`], [`RefreshRecord::issue_family`]; answer a
//!   [`TokenResponse`].
//! - **`/v1/...` reads**: [`KeySet::verify`], then check the grant is live
//!   on every call (tokens outlive revocations by up to ten minutes).
//! - **`/oauth/introspect`**, **`/oauth/revoke`**: authenticate the client;
//!   [`TokenTypeHint::of`] tells a JWT from a refresh token;
//!   [`IntrospectionResponse`] answers.
//! - **`/oauth/jwks`**: [`KeySet::jwks`]. **`/.well-known/oauth-authorization-server`**:
//!   [`ServerMetadata::for_issuer`]. **`/oauth/register`**:
//!   [`ClientMetadata::parse`], [`ClientRecord::register`],
//!   [`ClientRecord::registration_response`] (201).
//! - **`apiome keys rotate`**: [`KeySet::rotate`], then [`KeySet::prune`]
//!   drops keys no unexpired token can use.

pub mod ciba;
pub mod client;
pub mod client_auth;
pub mod code;
pub mod dpop;
pub mod error;
pub mod introspection;
pub mod metadata;
pub mod oidc;
pub mod params;
pub mod pkce;
pub mod random;
pub mod refresh;
pub mod request;
pub mod server_key;
pub mod subject;
pub mod time;
pub mod token;
pub mod token_hash;
pub mod token_request;
pub mod verified;

pub use ciba::{BackchannelRequest, DeliveryMode};
pub use client::{
    AuthMethod, ClientId, ClientJwks, ClientMetadata, ClientRecord, ClientSecret, GrantType,
    RedirectUri, SecretHash,
};
pub use client_auth::{AssertionAudience, AuthenticatedClient, PresentedCredentials};
pub use code::{AuthorizationCode, CodeError, CodeRecord, OpenIdSignIn, RedeemedCode};
pub use dpop::{DpopError, Nonces, VerifiedProof};
pub use error::{ErrorCode, OAuthError};
pub use introspection::{IntrospectionResponse, TokenTypeHint};
pub use metadata::ServerMetadata;
pub use oidc::{IdTokenAlg, IdTokenClaims, OidcParams, RsaKeySet};
pub use params::Params;
pub use pkce::CodeChallenge;
pub use random::{OsRandom, PredictableRandom, Random, RandomError};
pub use refresh::{FamilyId, RefreshError, RefreshRecord, RefreshStatus, RefreshToken, Rotation};
pub use request::{
    AuthorizationRequest, PushedRequest, RedirectableError, RequestForm, RequestUri,
};
pub use server_key::ServerKey;
pub use subject::PairwiseSubject;
pub use time::UnixTime;
pub use token::{AccessTokenClaims, KeySet, TokenError, TokenResponse, TokenSettings};
pub use token_hash::TokenHash;
pub use token_request::{PollState, TokenRequest};
pub use verified::VerifiedTokens;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Unpadded base64url, as JOSE and OAuth write bytes.
pub(crate) fn b64url_encode(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Strict unpadded base64url decoding; `None` on any deviation.
pub(crate) fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}
