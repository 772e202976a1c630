//! PKCE (RFC 7636), `S256` only.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::OAuthError;

/// The shortest code verifier (RFC 7636 §4.1).
pub const MIN_VERIFIER_LEN: usize = 43;
/// The longest code verifier (RFC 7636 §4.1).
pub const MAX_VERIFIER_LEN: usize = 128;
/// The length of an `S256` challenge: 32 bytes as unpadded base64url.
pub const CHALLENGE_LEN: usize = 43;

/// A checked `S256` code challenge from an authorization request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CodeChallenge(String);

impl CodeChallenge {
    /// Checks `code_challenge` and `code_challenge_method` as they arrive.
    ///
    /// # Errors
    /// `invalid_request` when the method is missing, `plain` or unknown, or
    /// the challenge is missing or not 43 base64url characters.
    pub fn parse(challenge: Option<&str>, method: Option<&str>) -> Result<Self, OAuthError> {
        match method {
            Some("S256") => {}
            None => {
                return Err(OAuthError::invalid_request(
                    "`code_challenge_method` is required and must be `S256` (PKCE is mandatory)",
                ));
            }
            Some("plain") => {
                return Err(OAuthError::invalid_request(
                    "PKCE method `plain` is not allowed; use `S256`",
                ));
            }
            Some(other) => {
                return Err(OAuthError::invalid_request(format!(
                    "PKCE method `{}` is not supported; use `S256`",
                    crate::error::excerpt(other)
                )));
            }
        }
        let Some(challenge) = challenge else {
            return Err(OAuthError::invalid_request(
                "`code_challenge` is required (PKCE with `S256` is mandatory)",
            ));
        };
        Self::from_stored(challenge).ok_or_else(|| {
            OAuthError::invalid_request(
                "`code_challenge` must be BASE64URL(SHA256(code_verifier)): 43 characters without padding",
            )
        })
    }

    /// A challenge read back from storage; `None` when it is not 43 base64url characters.
    #[must_use]
    pub fn from_stored(text: &str) -> Option<Self> {
        let ok = text.len() == CHALLENGE_LEN
            && crate::b64url_decode(text).is_some_and(|b| b.len() == 32);
        ok.then(|| Self(text.to_owned()))
    }

    /// The challenge for a verifier: `BASE64URL(SHA256(verifier))`.
    #[must_use]
    pub fn for_verifier(verifier: &str) -> Self {
        Self(crate::b64url_encode(Sha256::digest(verifier.as_bytes())))
    }

    /// The challenge text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Checks a `code_verifier` from the token request against this challenge,
    /// comparing in constant time.
    ///
    /// # Errors
    /// `invalid_request` when the verifier is missing or malformed (RFC 7636
    /// §4.1), `invalid_grant` when it does not match.
    pub fn verify(&self, verifier: Option<&str>) -> Result<(), OAuthError> {
        let Some(verifier) = verifier else {
            return Err(OAuthError::invalid_request(
                "`code_verifier` is required: the authorization request used PKCE",
            ));
        };
        check_verifier(verifier)?;
        let expected = Self::for_verifier(verifier);
        if bool::from(expected.0.as_bytes().ct_eq(self.0.as_bytes())) {
            Ok(())
        } else {
            Err(OAuthError::invalid_grant(
                "`code_verifier` does not match the `code_challenge` of the authorization request",
            ))
        }
    }
}

/// Checks the shape of a code verifier: 43 to 128 unreserved characters.
///
/// # Errors
/// `invalid_request` saying what is wrong.
pub fn check_verifier(verifier: &str) -> Result<(), OAuthError> {
    if !(MIN_VERIFIER_LEN..=MAX_VERIFIER_LEN).contains(&verifier.len()) {
        return Err(OAuthError::invalid_request(format!(
            "`code_verifier` must have {MIN_VERIFIER_LEN} to {MAX_VERIFIER_LEN} characters"
        )));
    }
    if !verifier
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
    {
        return Err(OAuthError::invalid_request(
            "`code_verifier` may only use A-Z, a-z, 0-9, `-`, `.`, `_` and `~`",
        ));
    }
    Ok(())
}

impl TryFrom<String> for CodeChallenge {
    type Error = OAuthError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(Some(&text), Some("S256"))
    }
}

impl From<CodeChallenge> for String {
    fn from(c: CodeChallenge) -> Self {
        c.0
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn rfc_7636_appendix_b_example() {
        let c = CodeChallenge::for_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        assert_eq!(c.as_str(), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        let parsed = CodeChallenge::parse(Some(c.as_str()), Some("S256")).unwrap();
        assert!(
            parsed
                .verify(Some("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"))
                .is_ok()
        );
    }

    #[test]
    fn method_must_be_s256() {
        let c = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        for (method, why) in [
            (None, "required"),
            (Some("plain"), "`plain` is not allowed"),
            (Some("S512"), "`S512`"),
        ] {
            let e = CodeChallenge::parse(Some(c), method).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidRequest);
            assert!(e.description.contains(why), "{}", e.description);
        }
    }

    #[test]
    fn challenge_must_be_present_and_well_formed() {
        let e = CodeChallenge::parse(None, Some("S256")).unwrap_err();
        assert!(e.description.contains("`code_challenge` is required"));
        for bad in [
            "short",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c=",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM",
        ] {
            let e = CodeChallenge::parse(Some(bad), Some("S256")).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidRequest, "{bad}");
        }
        assert!(serde_json::from_str::<CodeChallenge>("\"nope\"").is_err());
    }

    #[test]
    fn verifier_errors_are_precise() {
        let c = CodeChallenge::for_verifier(&"a".repeat(43));
        let missing = c.verify(None).unwrap_err();
        assert_eq!(missing.code, ErrorCode::InvalidRequest);
        let short = c.verify(Some(&"a".repeat(42))).unwrap_err();
        assert!(short.description.contains("43 to 128"));
        let long = c.verify(Some(&"a".repeat(129))).unwrap_err();
        assert!(long.description.contains("43 to 128"));
        let bad_char = c.verify(Some(&format!("{}+", "a".repeat(43)))).unwrap_err();
        assert!(bad_char.description.contains("may only use"));
        let wrong = c.verify(Some(&"b".repeat(43))).unwrap_err();
        assert_eq!(wrong.code, ErrorCode::InvalidGrant);
    }

    proptest! {
        #[test]
        fn s256_round_trip_accepts_the_verifier_and_nothing_else(
            verifier in "[A-Za-z0-9._~-]{43,128}",
            other in "[A-Za-z0-9._~-]{43,128}",
        ) {
            let challenge = CodeChallenge::parse(Some(CodeChallenge::for_verifier(&verifier).as_str()), Some("S256")).unwrap();
            prop_assert!(challenge.verify(Some(&verifier)).is_ok());
            if other != verifier {
                prop_assert_eq!(challenge.verify(Some(&other)).unwrap_err().code, ErrorCode::InvalidGrant);
            }
        }
    }
}
