//! OAuth error responses: the RFC 6749 §5.2 error object and its codes.

use std::fmt;

use serde::de::Deserializer;
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use url::Url;

/// The longest `error_description` sent, in bytes; longer ones are cut.
pub const MAX_DESCRIPTION_LEN: usize = 300;

/// An OAuth `error` code (RFC 6749, 6750, 7591, 9396 and CIBA Core 1.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// A parameter is missing, repeated, malformed or not allowed (RFC 6749).
    InvalidRequest,
    /// Client authentication failed (RFC 6749).
    InvalidClient,
    /// The code, refresh token or other grant is invalid, expired, used or someone else's (RFC 6749).
    InvalidGrant,
    /// The client may not use this grant or response type (RFC 6749).
    UnauthorizedClient,
    /// The grant type is not supported (RFC 6749).
    UnsupportedGrantType,
    /// The scope is unknown or not allowed (RFC 6749).
    InvalidScope,
    /// The person or the server refused (RFC 6749).
    AccessDenied,
    /// The response type is not supported (RFC 6749).
    UnsupportedResponseType,
    /// Something broke on our side (RFC 6749).
    ServerError,
    /// We cannot answer now; try later (RFC 6749).
    TemporarilyUnavailable,
    /// The `authorization_details` are malformed or unsupported (RFC 9396).
    InvalidAuthorizationDetails,
    /// A redirect URI in a registration is not acceptable (RFC 7591).
    InvalidRedirectUri,
    /// Some other registration metadata is not acceptable (RFC 7591).
    InvalidClientMetadata,
    /// The person has not decided yet (CIBA poll mode).
    AuthorizationPending,
    /// The client polls too fast (CIBA poll mode).
    SlowDown,
    /// The asynchronous request expired before a decision (CIBA poll mode).
    ExpiredToken,
    /// The bearer token is invalid, expired or revoked (RFC 6750).
    InvalidToken,
    /// The bearer token lacks the scope the resource needs (RFC 6750).
    InsufficientScope,
    /// `prompt=none`, and the person must sign in (OIDC Core §3.1.2.6).
    LoginRequired,
    /// `prompt=none`, and the person must see the consent screen (OIDC Core §3.1.2.6).
    ConsentRequired,
    /// A `binding_message` that is too long or not plain text (CIBA Core §13).
    InvalidBindingMessage,
    /// The `DPoP` proof is missing where required, malformed, or wrong (RFC 9449 §5, §7.1).
    InvalidDpopProof,
    /// The `DPoP` proof must carry the server's current nonce (RFC 9449 §8, §9).
    UseDpopNonce,
}

impl ErrorCode {
    /// Every code, for exhaustive tests and documentation.
    pub const ALL: [Self; 23] = [
        Self::InvalidRequest,
        Self::InvalidClient,
        Self::InvalidGrant,
        Self::UnauthorizedClient,
        Self::UnsupportedGrantType,
        Self::InvalidScope,
        Self::AccessDenied,
        Self::UnsupportedResponseType,
        Self::ServerError,
        Self::TemporarilyUnavailable,
        Self::InvalidAuthorizationDetails,
        Self::InvalidRedirectUri,
        Self::InvalidClientMetadata,
        Self::AuthorizationPending,
        Self::SlowDown,
        Self::ExpiredToken,
        Self::InvalidToken,
        Self::InsufficientScope,
        Self::LoginRequired,
        Self::ConsentRequired,
        Self::InvalidBindingMessage,
        Self::InvalidDpopProof,
        Self::UseDpopNonce,
    ];

    /// The wire name (`invalid_request`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::InvalidAuthorizationDetails => "invalid_authorization_details",
            Self::InvalidRedirectUri => "invalid_redirect_uri",
            Self::InvalidClientMetadata => "invalid_client_metadata",
            Self::AuthorizationPending => "authorization_pending",
            Self::SlowDown => "slow_down",
            Self::ExpiredToken => "expired_token",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::InvalidBindingMessage => "invalid_binding_message",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
        }
    }

    /// Parses a wire name.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == text)
    }

    /// The HTTP status of a JSON error response carrying this code.
    ///
    /// 401 for failed client or bearer authentication, 403 for a missing
    /// scope, 500/503 for our own trouble, 400 for everything else (RFC 6749
    /// §5.2, RFC 6750 §3.1, RFC 7591 §3.2.2, CIBA §11).
    #[must_use]
    pub const fn http_status(self) -> u16 {
        match self {
            Self::InvalidClient | Self::InvalidToken => 401,
            Self::InsufficientScope => 403,
            Self::ServerError => 500,
            Self::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An OAuth error: code, a precise description, and whether it may be sent
/// to the client's redirect URI.
///
/// `redirectable` is true only for authorization-endpoint errors found after
/// the client and its redirect URI were checked; every other error is shown
/// to the person (authorization endpoint) or returned as JSON (other
/// endpoints). Serialises to `{"error": ..., "error_description": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {description}")]
pub struct OAuthError {
    /// The `error` code.
    pub code: ErrorCode,
    /// The `error_description`: printable ASCII without `"` or `\`, at most
    /// [`MAX_DESCRIPTION_LEN`] bytes.
    pub description: String,
    /// Whether the error may go back to the client's redirect URI.
    pub redirectable: bool,
}

impl OAuthError {
    /// A non-redirectable error with a description made safe for the wire.
    #[must_use]
    pub fn new(code: ErrorCode, description: impl AsRef<str>) -> Self {
        Self {
            code,
            description: sanitise_description(description.as_ref()),
            redirectable: false,
        }
    }

    /// The same error, marked as one that may go to the client's redirect URI.
    #[must_use]
    pub fn redirectable(mut self) -> Self {
        self.redirectable = true;
        self
    }

    /// An `invalid_request` error.
    #[must_use]
    pub fn invalid_request(description: impl AsRef<str>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }

    /// An `invalid_client` error.
    #[must_use]
    pub fn invalid_client(description: impl AsRef<str>) -> Self {
        Self::new(ErrorCode::InvalidClient, description)
    }

    /// An `invalid_grant` error.
    #[must_use]
    pub fn invalid_grant(description: impl AsRef<str>) -> Self {
        Self::new(ErrorCode::InvalidGrant, description)
    }

    /// An `invalid_scope` error.
    #[must_use]
    pub fn invalid_scope(description: impl AsRef<str>) -> Self {
        Self::new(ErrorCode::InvalidScope, description)
    }

    /// A `server_error` error.
    #[must_use]
    pub fn server_error(description: impl AsRef<str>) -> Self {
        Self::new(ErrorCode::ServerError, description)
    }

    /// The HTTP status of this error as a JSON response.
    #[must_use]
    pub const fn http_status(&self) -> u16 {
        self.code.http_status()
    }

    /// The redirect that reports this error to the client (RFC 6749
    /// §4.1.2.1, with RFC 9207 `iss`), or `None` when it must not be
    /// redirected. Only call it with the redirect URI the request was
    /// checked against.
    #[must_use]
    pub fn redirect_url(
        &self,
        redirect_uri: &crate::client::RedirectUri,
        state: Option<&str>,
        issuer: &str,
    ) -> Option<String> {
        if !self.redirectable {
            return None;
        }
        let mut url = Url::parse(redirect_uri.as_str()).ok()?;
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("error", self.code.as_str());
            query.append_pair("error_description", &self.description);
            if let Some(state) = state {
                query.append_pair("state", state);
            }
            query.append_pair("iss", issuer);
        }
        Some(url.into())
    }
}

/// The start of a client-supplied text for an error message: at most 64
/// characters, with `...` when cut.
pub(crate) fn excerpt(text: &str) -> String {
    const MAX: usize = 64;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}

/// Keeps only the characters RFC 6749 allows in `error_description`
/// (`%x20-21 / %x23-5B / %x5D-7E`) and cuts it to [`MAX_DESCRIPTION_LEN`].
fn sanitise_description(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_DESCRIPTION_LEN));
    for c in text.chars() {
        if out.len() >= MAX_DESCRIPTION_LEN {
            break;
        }
        let c = match c {
            '"' => '\'',
            '\\' => '/',
            ' '..='~' => c,
            _ => '?',
        };
        out.push(c);
    }
    out
}

impl Serialize for OAuthError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("error", self.code.as_str())?;
        map.serialize_entry("error_description", &self.description)?;
        map.end()
    }
}

impl<'de> Deserialize<'de> for OAuthError {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Wire {
            error: String,
            #[serde(default)]
            error_description: String,
        }
        let wire = Wire::deserialize(deserializer)?;
        let code = ErrorCode::parse(&wire.error).ok_or_else(|| {
            serde::de::Error::custom(format!("unknown OAuth error code `{}`", wire.error))
        })?;
        Ok(Self::new(code, wire.error_description))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::RedirectUri;

    #[test]
    fn every_code_round_trips_its_wire_name() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
        }
        assert_eq!(ErrorCode::parse("nope"), None);
    }

    #[test]
    fn statuses_follow_the_rfcs() {
        assert_eq!(ErrorCode::InvalidClient.http_status(), 401);
        assert_eq!(ErrorCode::InvalidToken.http_status(), 401);
        assert_eq!(ErrorCode::InsufficientScope.http_status(), 403);
        assert_eq!(ErrorCode::ServerError.http_status(), 500);
        assert_eq!(ErrorCode::TemporarilyUnavailable.http_status(), 503);
        for code in [
            ErrorCode::InvalidRequest,
            ErrorCode::InvalidGrant,
            ErrorCode::AuthorizationPending,
            ErrorCode::SlowDown,
            ErrorCode::ExpiredToken,
            ErrorCode::InvalidAuthorizationDetails,
            ErrorCode::InvalidClientMetadata,
        ] {
            assert_eq!(code.http_status(), 400, "{code}");
        }
    }

    #[test]
    fn serialises_to_the_rfc_6749_object_without_redirectable() {
        let e = OAuthError::invalid_grant("code expired").redirectable();
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"error": "invalid_grant", "error_description": "code expired"})
        );
        let back: OAuthError = serde_json::from_value(json).unwrap();
        assert_eq!(back.code, ErrorCode::InvalidGrant);
        assert!(!back.redirectable);
        assert!(serde_json::from_str::<OAuthError>(r#"{"error":"bogus"}"#).is_err());
    }

    #[test]
    fn descriptions_are_made_wire_safe_and_bounded() {
        let e = OAuthError::invalid_request("bad \"x\" \\ é\n");
        assert_eq!(e.description, "bad 'x' / ??");
        let long = OAuthError::invalid_request("a".repeat(1000));
        assert_eq!(long.description.len(), MAX_DESCRIPTION_LEN);
    }

    #[test]
    fn only_redirectable_errors_build_a_redirect() {
        let uri = RedirectUri::parse("https://acme.example/cb?x=1").unwrap();
        let e = OAuthError::new(ErrorCode::AccessDenied, "declined");
        assert_eq!(e.redirect_url(&uri, Some("s"), "https://as.example"), None);
        let url = e
            .redirectable()
            .redirect_url(&uri, Some("s t"), "https://as.example")
            .unwrap();
        assert_eq!(
            url,
            "https://acme.example/cb?x=1&error=access_denied&error_description=declined\
             &state=s+t&iss=https%3A%2F%2Fas.example"
        );
    }
}
