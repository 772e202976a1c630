//! Token endpoint requests: which grant, with which parameters; and the
//! answers of CIBA-style polling.

use crate::client::{ClientRecord, GrantType};
use crate::error::{ErrorCode, OAuthError};
use crate::metadata::CLIENT_SCOPES;
use crate::params::Params;
use crate::time::UnixTime;

/// The longest `auth_req_id` accepted, in bytes.
pub const MAX_AUTH_REQ_ID_LEN: usize = 128;
/// The shortest time between two polls of one asynchronous request, in seconds (CIBA's `interval`).
pub const POLL_INTERVAL_SECS: u64 = 5;

/// A parsed token request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRequest {
    /// Redeem an authorization code.
    AuthorizationCode {
        /// The code.
        code: String,
        /// The redirect URI, if repeated.
        redirect_uri: Option<String>,
        /// The PKCE verifier (checked by [`crate::code::CodeRecord::redeem`]).
        code_verifier: Option<String>,
    },
    /// Rotate a refresh token.
    RefreshToken {
        /// The refresh token.
        refresh_token: String,
    },
    /// A token for the company's own calls.
    ClientCredentials {
        /// The scopes asked for, from [`CLIENT_SCOPES`], without repeats.
        scopes: Vec<&'static str>,
    },
    /// Poll an asynchronous request (CIBA poll mode).
    Ciba {
        /// The asynchronous request's id.
        auth_req_id: String,
    },
}

impl TokenRequest {
    /// Reads the grant and its parameters (client authentication is read
    /// separately by [`crate::client_auth::PresentedCredentials::parse`]).
    ///
    /// # Errors
    /// `invalid_request` for missing or repeated parameters,
    /// `unsupported_grant_type`, `invalid_scope`, `invalid_authorization_details`.
    pub fn parse(params: &Params) -> Result<Self, OAuthError> {
        let grant_type = params.require("grant_type")?;
        let grant = GrantType::parse(grant_type).ok_or_else(|| {
            OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                format!(
                    "grant type `{}` is not supported",
                    crate::error::excerpt(grant_type)
                ),
            )
        })?;
        if params.get("authorization_details")?.is_some() {
            return Err(OAuthError::new(
                ErrorCode::InvalidAuthorizationDetails,
                "`authorization_details` cannot be changed at the token endpoint",
            ));
        }
        let owned = |v: Option<&str>| v.map(str::to_owned);
        match grant {
            GrantType::AuthorizationCode => Ok(Self::AuthorizationCode {
                code: params.require("code")?.to_owned(),
                redirect_uri: owned(params.get("redirect_uri")?),
                code_verifier: owned(params.get("code_verifier")?),
            }),
            GrantType::RefreshToken => {
                if params.get("scope")?.is_some() {
                    return Err(OAuthError::invalid_scope(
                        "narrowing `scope` on refresh is not supported; omit it",
                    ));
                }
                Ok(Self::RefreshToken {
                    refresh_token: params.require("refresh_token")?.to_owned(),
                })
            }
            GrantType::ClientCredentials => {
                let mut scopes: Vec<&'static str> = Vec::new();
                for token in params
                    .get("scope")?
                    .unwrap_or("")
                    .split(' ')
                    .filter(|t| !t.is_empty())
                {
                    let known = CLIENT_SCOPES.iter().find(|s| **s == token).ok_or_else(|| {
                        OAuthError::invalid_scope(format!(
                            "scope `{}` is not available to `client_credentials`",
                            crate::error::excerpt(token)
                        ))
                    })?;
                    if !scopes.contains(known) {
                        scopes.push(known);
                    }
                }
                Ok(Self::ClientCredentials { scopes })
            }
            GrantType::Ciba => {
                let id = params.require("auth_req_id")?;
                if id.len() > MAX_AUTH_REQ_ID_LEN {
                    return Err(OAuthError::invalid_request("`auth_req_id` is too long"));
                }
                Ok(Self::Ciba {
                    auth_req_id: id.to_owned(),
                })
            }
        }
    }

    /// The grant type.
    #[must_use]
    pub const fn grant_type(&self) -> GrantType {
        match self {
            Self::AuthorizationCode { .. } => GrantType::AuthorizationCode,
            Self::RefreshToken { .. } => GrantType::RefreshToken,
            Self::ClientCredentials { .. } => GrantType::ClientCredentials,
            Self::Ciba { .. } => GrantType::Ciba,
        }
    }

    /// Checks that the authenticated client registered this grant type.
    ///
    /// # Errors
    /// `unauthorized_client`.
    pub fn check_allowed(&self, client: &ClientRecord) -> Result<(), OAuthError> {
        let grant = self.grant_type();
        if client.metadata.allows(grant) {
            Ok(())
        } else {
            Err(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                format!(
                    "this client is not registered for the `{}` grant",
                    grant.as_str()
                ),
            ))
        }
    }
}

/// Where an asynchronous request stands when the company polls it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollState {
    /// The person has not decided.
    Pending,
    /// The person (or the policy) refused.
    Denied,
    /// Nobody decided in time.
    Expired,
    /// Approved: the caller issues tokens.
    Approved,
}

/// The answer to a poll (CIBA §11): `Ok` when approved, else the error.
/// `last_poll_at` is the previous poll's time (the caller stores it).
///
/// # Errors
/// `slow_down` when polled within [`POLL_INTERVAL_SECS`] of the last poll
/// while pending, `authorization_pending`, `access_denied`, `expired_token`.
pub fn poll(
    state: PollState,
    last_poll_at: Option<UnixTime>,
    now: UnixTime,
) -> Result<(), OAuthError> {
    match state {
        PollState::Approved => Ok(()),
        PollState::Denied => Err(OAuthError::new(
            ErrorCode::AccessDenied,
            "the request was declined",
        )),
        PollState::Expired => Err(OAuthError::new(
            ErrorCode::ExpiredToken,
            "the request expired before a decision",
        )),
        PollState::Pending => {
            if last_poll_at.is_some_and(|last| now < last.plus_secs(POLL_INTERVAL_SECS)) {
                Err(OAuthError::new(
                    ErrorCode::SlowDown,
                    format!("poll at most every {POLL_INTERVAL_SECS} seconds"),
                ))
            } else {
                Err(OAuthError::new(
                    ErrorCode::AuthorizationPending,
                    "the person has not decided yet",
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::client::ClientMetadata;
    use crate::random::PredictableRandom;
    use crate::server_key::ServerKey;

    fn form(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        )
        .unwrap()
    }

    #[test]
    fn each_grant_parses() {
        assert_eq!(
            TokenRequest::parse(&form(&[
                ("grant_type", "authorization_code"),
                ("code", "c"),
                ("code_verifier", "v")
            ]))
            .unwrap(),
            TokenRequest::AuthorizationCode {
                code: "c".into(),
                redirect_uri: None,
                code_verifier: Some("v".into())
            }
        );
        assert_eq!(
            TokenRequest::parse(&form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", "r")
            ]))
            .unwrap(),
            TokenRequest::RefreshToken {
                refresh_token: "r".into()
            }
        );
        assert_eq!(
            TokenRequest::parse(&form(&[
                ("grant_type", "client_credentials"),
                ("scope", "ledger:read ledger:read")
            ]))
            .unwrap(),
            TokenRequest::ClientCredentials {
                scopes: vec!["ledger:read"]
            }
        );
        assert_eq!(
            TokenRequest::parse(&form(&[("grant_type", "client_credentials")])).unwrap(),
            TokenRequest::ClientCredentials { scopes: vec![] }
        );
        let ciba = TokenRequest::parse(&form(&[
            ("grant_type", "urn:openid:params:grant-type:ciba"),
            ("auth_req_id", "r1"),
        ]))
        .unwrap();
        assert_eq!(ciba.grant_type(), GrantType::Ciba);
    }

    #[test]
    fn bad_token_requests_get_precise_codes() {
        let long_id = "a".repeat(MAX_AUTH_REQ_ID_LEN + 1);
        let cases: Vec<(Params, ErrorCode, &str)> = vec![
            (
                form(&[]),
                ErrorCode::InvalidRequest,
                "`grant_type` is required",
            ),
            (
                form(&[("grant_type", "password")]),
                ErrorCode::UnsupportedGrantType,
                "`password`",
            ),
            (
                form(&[("grant_type", "implicit")]),
                ErrorCode::UnsupportedGrantType,
                "`implicit`",
            ),
            (
                form(&[("grant_type", "authorization_code")]),
                ErrorCode::InvalidRequest,
                "`code` is required",
            ),
            (
                form(&[
                    ("grant_type", "authorization_code"),
                    ("code", "a"),
                    ("code", "b"),
                ]),
                ErrorCode::InvalidRequest,
                "more than once",
            ),
            (
                form(&[("grant_type", "refresh_token")]),
                ErrorCode::InvalidRequest,
                "`refresh_token` is required",
            ),
            (
                form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", "r"),
                    ("scope", "email"),
                ]),
                ErrorCode::InvalidScope,
                "narrowing",
            ),
            (
                form(&[("grant_type", "client_credentials"), ("scope", "email")]),
                ErrorCode::InvalidScope,
                "`email`",
            ),
            (
                form(&[("grant_type", "urn:openid:params:grant-type:ciba")]),
                ErrorCode::InvalidRequest,
                "`auth_req_id` is required",
            ),
            (
                form(&[
                    ("grant_type", "urn:openid:params:grant-type:ciba"),
                    ("auth_req_id", &long_id),
                ]),
                ErrorCode::InvalidRequest,
                "too long",
            ),
            (
                form(&[
                    ("grant_type", "authorization_code"),
                    ("code", "c"),
                    ("authorization_details", "[]"),
                ]),
                ErrorCode::InvalidAuthorizationDetails,
                "cannot be changed",
            ),
        ];
        for (params, code, why) in cases {
            let e = TokenRequest::parse(&params).unwrap_err();
            assert_eq!(e.code, code, "{why}");
            assert!(e.description.contains(why), "{why}: {}", e.description);
        }
    }

    #[test]
    fn unregistered_grant_is_unauthorized_client() {
        let meta = ClientMetadata::parse(
            &json!({"client_name": "A", "redirect_uris": ["https://a.example/cb"]}),
        )
        .unwrap();
        let client = ClientRecord::register(
            meta,
            &ServerKey::from_bytes([1; 32]),
            &mut PredictableRandom::new(1),
            UnixTime::from_secs(0),
        )
        .unwrap()
        .0;
        let cc = TokenRequest::parse(&form(&[("grant_type", "client_credentials")])).unwrap();
        let e = cc.check_allowed(&client).unwrap_err();
        assert_eq!(e.code, ErrorCode::UnauthorizedClient);
        let code = TokenRequest::parse(&form(&[
            ("grant_type", "authorization_code"),
            ("code", "c"),
        ]))
        .unwrap();
        assert!(code.check_allowed(&client).is_ok());
    }

    #[test]
    fn polling_answers_follow_ciba() {
        let t = UnixTime::from_secs(100);
        assert!(poll(PollState::Approved, Some(t), t).is_ok());
        assert_eq!(
            poll(PollState::Pending, None, t).unwrap_err().code,
            ErrorCode::AuthorizationPending
        );
        assert_eq!(
            poll(PollState::Pending, Some(t), t.plus_secs(4))
                .unwrap_err()
                .code,
            ErrorCode::SlowDown
        );
        assert_eq!(
            poll(PollState::Pending, Some(t), t.plus_secs(5))
                .unwrap_err()
                .code,
            ErrorCode::AuthorizationPending
        );
        assert_eq!(
            poll(PollState::Denied, None, t).unwrap_err().code,
            ErrorCode::AccessDenied
        );
        assert_eq!(
            poll(PollState::Expired, None, t).unwrap_err().code,
            ErrorCode::ExpiredToken
        );
    }
}
