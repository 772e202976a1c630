//! The stored form of a bearer secret (code, refresh token): its SHA-256.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// `base64url(SHA-256(secret))`: how codes and refresh tokens are stored and
/// looked up. The secrets are 256-bit random values, so an unkeyed hash is
/// enough: nobody can invert it or guess a preimage.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TokenHash(String);

/// Why a text is not a stored token hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a token hash is 32 bytes as unpadded base64url")]
pub struct InvalidTokenHash;

impl TokenHash {
    /// The hash of a presented secret.
    #[must_use]
    pub fn of(secret: &str) -> Self {
        Self(crate::b64url_encode(Sha256::digest(secret.as_bytes())))
    }

    /// The text form, the store's lookup key.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TokenHash {
    type Error = InvalidTokenHash;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        match crate::b64url_decode(&text) {
            Some(bytes) if bytes.len() == 32 => Ok(Self(text)),
            _ => Err(InvalidTokenHash),
        }
    }
}

impl From<TokenHash> for String {
    fn from(hash: TokenHash) -> Self {
        hash.0
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({})", self.0)
    }
}

/// Makes a 256-bit random bearer secret as unpadded base64url (43 characters).
pub(crate) fn random_secret(
    rng: &mut impl crate::random::Random,
) -> Result<String, crate::random::RandomError> {
    let bytes: [u8; 32] = rng.array()?;
    Ok(crate::b64url_encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_sha256_base64url_and_parses_back() {
        let h = TokenHash::of("abc");
        assert_eq!(h.as_str(), "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
        assert_eq!(TokenHash::try_from(h.as_str().to_owned()).unwrap(), h);
        assert_eq!(TokenHash::try_from("abc".to_owned()), Err(InvalidTokenHash));
    }
}
