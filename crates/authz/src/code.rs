//! Authorization codes: issue, what they bind, and redemption checks.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::client::{ClientId, RedirectUri};
use crate::error::OAuthError;
use crate::pkce::CodeChallenge;
use crate::random::{Random, RandomError};
use crate::refresh::FamilyId;
use crate::request::AuthorizationRequest;
use crate::time::UnixTime;
use crate::token_hash::{TokenHash, random_secret};

/// How long an authorization code lives, in seconds.
pub const CODE_LIFETIME_SECS: u64 = 60;

/// An authorization code in clear (256 random bits), sent once in the redirect.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthorizationCode(String);

impl AuthorizationCode {
    /// Makes a fresh code and the hash to store it under.
    ///
    /// # Errors
    /// [`RandomError`] when the random source fails.
    pub fn generate(rng: &mut impl Random) -> Result<(Self, TokenHash), RandomError> {
        let code = Self(random_secret(rng)?);
        let hash = TokenHash::of(&code.0);
        Ok((code, hash))
    }

    /// The code's text, for the redirect.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AuthorizationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthorizationCode(..)")
    }
}

/// What a code binds, as the store keeps it (keyed by `code_hash`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeRecord {
    /// The SHA-256 of the code.
    pub code_hash: TokenHash,
    /// The client it was issued to.
    pub client_id: ClientId,
    /// The redirect URI it was sent to.
    pub redirect_uri: RedirectUri,
    /// Whether the authorization request named the redirect URI (then the
    /// token request must repeat it, RFC 6749 §4.1.3).
    pub redirect_uri_explicit: bool,
    /// The PKCE challenge the verifier must answer.
    pub code_challenge: CodeChallenge,
    /// The person who approved.
    pub person_id: String,
    /// The grant the approval created.
    pub grant_id: String,
    /// When it was issued.
    pub issued_at: UnixTime,
    /// When it stops being redeemable (at most [`CODE_LIFETIME_SECS`] after issue).
    pub expires_at: UnixTime,
    /// When it was redeemed; a second redemption is a replay.
    pub used_at: Option<UnixTime>,
    /// The refresh-token family minted by the first redemption, revoked on replay.
    pub family_id: Option<FamilyId>,
    /// What the ID token says, when the request was an OpenID Connect one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openid: Option<OpenIdSignIn>,
}

/// The sign-in behind an OpenID Connect code: what its ID token carries
/// besides the subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenIdSignIn {
    /// The request's `nonce`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// When the person signed in.
    pub auth_time: UnixTime,
    /// How (RFC 8176 method references).
    #[serde(default)]
    pub amr: Vec<String>,
}

/// What a successful redemption hands to the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedeemedCode {
    /// The person who approved.
    pub person_id: String,
    /// The grant to bind the tokens to.
    pub grant_id: String,
    /// The sign-in an ID token describes, for an OpenID Connect request.
    pub openid: Option<OpenIdSignIn>,
}

/// Why a code cannot be redeemed. Every variant is `invalid_grant`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// No code has this hash.
    #[error("the authorization code is unknown")]
    Unknown,
    /// The code was already redeemed: revoke what its first use issued
    /// (the refresh family, and the grant's access tokens).
    #[error("the authorization code was already used")]
    Replayed {
        /// The grant of the first use.
        grant_id: String,
        /// The refresh family minted by the first use, if it was recorded.
        family_id: Option<FamilyId>,
    },
    /// The code has expired.
    #[error("the authorization code has expired")]
    Expired,
    /// Another client presents it.
    #[error("the authorization code was issued to another client")]
    WrongClient,
    /// The redirect URI differs from the authorization request's.
    #[error("`redirect_uri` does not match the authorization request")]
    RedirectUriMismatch,
    /// The authorization request named a redirect URI and the token request does not.
    #[error("`redirect_uri` is required: the authorization request carried one")]
    RedirectUriMissing,
    /// PKCE failed (missing, malformed or wrong verifier).
    #[error("{0}")]
    Pkce(OAuthError),
}

impl CodeError {
    /// The OAuth error to answer with.
    #[must_use]
    pub fn to_oauth(&self) -> OAuthError {
        match self {
            Self::Pkce(e) => e.clone(),
            Self::RedirectUriMissing => OAuthError::invalid_request(self.to_string()),
            other => OAuthError::invalid_grant(other.to_string()),
        }
    }
}

impl From<CodeError> for OAuthError {
    fn from(e: CodeError) -> Self {
        e.to_oauth()
    }
}

impl CodeRecord {
    /// Issues a code for an approved request; returns the code for the
    /// redirect and the record to store.
    ///
    /// # Errors
    /// [`RandomError`] when the random source fails.
    pub fn issue(
        request: &AuthorizationRequest,
        person_id: &str,
        grant_id: &str,
        rng: &mut impl Random,
        now: UnixTime,
    ) -> Result<(AuthorizationCode, Self), RandomError> {
        let (code, code_hash) = AuthorizationCode::generate(rng)?;
        let record = Self {
            code_hash,
            client_id: request.client_id.clone(),
            redirect_uri: request.redirect_uri.clone(),
            redirect_uri_explicit: request.redirect_uri_explicit,
            code_challenge: request.code_challenge.clone(),
            person_id: person_id.to_owned(),
            grant_id: grant_id.to_owned(),
            issued_at: now,
            expires_at: now.plus_secs(CODE_LIFETIME_SECS),
            used_at: None,
            family_id: None,
            openid: None,
        };
        Ok((code, record))
    }

    /// Checks a token request's code (looked up by [`TokenHash::of`]) for the
    /// authenticated `client_id`, in order: unknown, replay, client, expiry,
    /// redirect URI, PKCE.
    ///
    /// On success the store must mark the code used atomically (update only
    /// where `used_at` is null; a lost race is a replay) and record the
    /// refresh family it mints ([`CodeRecord::mark_used`]).
    ///
    /// # Errors
    /// [`CodeError`]; on [`CodeError::Replayed`] revoke what the first use issued.
    pub fn redeem(
        record: Option<&Self>,
        client_id: &ClientId,
        redirect_uri: Option<&str>,
        code_verifier: Option<&str>,
        now: UnixTime,
    ) -> Result<RedeemedCode, CodeError> {
        let record = record.ok_or(CodeError::Unknown)?;
        if record.used_at.is_some() {
            return Err(CodeError::Replayed {
                grant_id: record.grant_id.clone(),
                family_id: record.family_id,
            });
        }
        if record.client_id != *client_id {
            return Err(CodeError::WrongClient);
        }
        if now >= record.expires_at {
            return Err(CodeError::Expired);
        }
        match redirect_uri {
            Some(presented) if !record.redirect_uri.matches(presented) => {
                return Err(CodeError::RedirectUriMismatch);
            }
            None if record.redirect_uri_explicit => return Err(CodeError::RedirectUriMissing),
            _ => {}
        }
        record
            .code_challenge
            .verify(code_verifier)
            .map_err(CodeError::Pkce)?;
        Ok(RedeemedCode {
            person_id: record.person_id.clone(),
            grant_id: record.grant_id.clone(),
            openid: record.openid.clone(),
        })
    }

    /// The record after its first redemption, which minted `family_id`.
    #[must_use]
    pub fn mark_used(&self, now: UnixTime, family_id: Option<FamilyId>) -> Self {
        Self {
            used_at: Some(now),
            family_id,
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::client::{ClientMetadata, ClientRecord};
    use crate::error::ErrorCode;
    use crate::params::Params;
    use crate::random::PredictableRandom;
    use crate::server_key::ServerKey;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const URI: &str = "https://acme.example/cb";

    fn client(seed: u64) -> ClientRecord {
        let meta = ClientMetadata::parse(
            &json!({"client_name": "Acme", "redirect_uris": [URI, "https://acme.example/2"]}),
        )
        .unwrap();
        ClientRecord::register(
            meta,
            &ServerKey::from_bytes([1; 32]),
            &mut PredictableRandom::new(seed),
            UnixTime::from_secs(0),
        )
        .unwrap()
        .0
    }

    fn issued(explicit: bool) -> (ClientRecord, AuthorizationCode, CodeRecord) {
        let c = client(1);
        let mut pairs = vec![
            ("response_type", "code"),
            ("client_id", c.client_id.as_str()),
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ),
            ("code_challenge_method", "S256"),
            ("scope", "email"),
        ];
        pairs.push(("redirect_uri", URI));
        let mut request = AuthorizationRequest::parse(
            &Params::from_pairs(pairs.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())))
                .unwrap(),
            &c,
        )
        .unwrap();
        request.redirect_uri_explicit = explicit;
        let (code, record) = CodeRecord::issue(
            &request,
            "person-1",
            "grant-1",
            &mut PredictableRandom::new(9),
            UnixTime::from_secs(100),
        )
        .unwrap();
        (c, code, record)
    }

    #[test]
    fn issued_code_is_random_hashed_and_short_lived() {
        let (_, code, record) = issued(true);
        assert_eq!(code.expose().len(), 43);
        assert_eq!(record.code_hash, TokenHash::of(code.expose()));
        assert_eq!(
            record.expires_at.as_secs() - record.issued_at.as_secs(),
            CODE_LIFETIME_SECS
        );
        assert_eq!(format!("{code:?}"), "AuthorizationCode(..)");
        let stored = serde_json::to_string(&record).unwrap();
        assert_eq!(serde_json::from_str::<CodeRecord>(&stored).unwrap(), record);
    }

    #[test]
    fn correct_redemption_returns_person_and_grant() {
        let (c, _, record) = issued(true);
        let ok = CodeRecord::redeem(
            Some(&record),
            &c.client_id,
            Some(URI),
            Some(VERIFIER),
            UnixTime::from_secs(159),
        )
        .unwrap();
        assert_eq!(
            ok,
            RedeemedCode {
                person_id: "person-1".into(),
                grant_id: "grant-1".into(),
                openid: None,
            }
        );
        let (c, _, implicit) = issued(false);
        assert!(
            CodeRecord::redeem(
                Some(&implicit),
                &c.client_id,
                None,
                Some(VERIFIER),
                UnixTime::from_secs(100)
            )
            .is_ok()
        );
    }

    #[test]
    fn every_failed_redemption_is_invalid_grant_or_says_what_is_missing() {
        let (c, _, record) = issued(true);
        let now = UnixTime::from_secs(120);
        let other = client(2);
        let cases = [
            (
                CodeRecord::redeem(None, &c.client_id, Some(URI), Some(VERIFIER), now),
                ErrorCode::InvalidGrant,
                "unknown",
            ),
            (
                CodeRecord::redeem(
                    Some(&record),
                    &other.client_id,
                    Some(URI),
                    Some(VERIFIER),
                    now,
                ),
                ErrorCode::InvalidGrant,
                "another client",
            ),
            (
                CodeRecord::redeem(
                    Some(&record),
                    &c.client_id,
                    Some(URI),
                    Some(VERIFIER),
                    UnixTime::from_secs(160),
                ),
                ErrorCode::InvalidGrant,
                "expired",
            ),
            (
                CodeRecord::redeem(
                    Some(&record),
                    &c.client_id,
                    Some("https://acme.example/2"),
                    Some(VERIFIER),
                    now,
                ),
                ErrorCode::InvalidGrant,
                "does not match",
            ),
            (
                CodeRecord::redeem(
                    Some(&record),
                    &c.client_id,
                    Some("https://acme.example/cb/"),
                    Some(VERIFIER),
                    now,
                ),
                ErrorCode::InvalidGrant,
                "does not match",
            ),
            (
                CodeRecord::redeem(Some(&record), &c.client_id, None, Some(VERIFIER), now),
                ErrorCode::InvalidRequest,
                "`redirect_uri` is required",
            ),
            (
                CodeRecord::redeem(Some(&record), &c.client_id, Some(URI), None, now),
                ErrorCode::InvalidRequest,
                "`code_verifier` is required",
            ),
            (
                CodeRecord::redeem(
                    Some(&record),
                    &c.client_id,
                    Some(URI),
                    Some(&"a".repeat(43)),
                    now,
                ),
                ErrorCode::InvalidGrant,
                "does not match",
            ),
            (
                CodeRecord::redeem(Some(&record), &c.client_id, Some(URI), Some("short"), now),
                ErrorCode::InvalidRequest,
                "43 to 128",
            ),
        ];
        for (result, code, why) in cases {
            let e = OAuthError::from(result.unwrap_err());
            assert_eq!(e.code, code, "{why}");
            assert!(e.description.contains(why), "{why}: {}", e.description);
        }
    }

    #[test]
    fn second_redemption_is_a_replay_naming_what_to_revoke() {
        let (c, _, record) = issued(true);
        let family = FamilyId::from_u128(7);
        let used = record.mark_used(UnixTime::from_secs(110), Some(family));
        // Even with a correct verifier, and even after expiry, a used code is a replay.
        for now in [110, 500] {
            let e = CodeRecord::redeem(
                Some(&used),
                &c.client_id,
                Some(URI),
                Some(VERIFIER),
                UnixTime::from_secs(now),
            )
            .unwrap_err();
            assert_eq!(
                e,
                CodeError::Replayed {
                    grant_id: "grant-1".into(),
                    family_id: Some(family)
                }
            );
            assert_eq!(e.to_oauth().code, ErrorCode::InvalidGrant);
        }
    }
}
