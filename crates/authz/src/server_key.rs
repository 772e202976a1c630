//! The server's secret HMAC key, from which per-use keys are derived.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::random::{Random, RandomError};

/// Bytes in a [`ServerKey`].
pub const SERVER_KEY_LEN: usize = 32;

/// A 256-bit secret the server keeps (in its 0600 key file) and never shows.
///
/// One master key is kept; [`ServerKey::derive`] makes a separate key per
/// use (client secrets, pairwise subjects) so that one use's outputs say
/// nothing about another's. `Debug` does not print the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerKey([u8; SERVER_KEY_LEN]);

/// Why a text is not a server key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a server key is 32 bytes written as unpadded base64url (43 characters)")]
pub struct InvalidServerKey;

/// The label of the key that hashes client secrets.
pub const CLIENT_SECRET_LABEL: &str = "apiome client secret v1";
/// The label of the key that makes pairwise subjects.
pub const PAIRWISE_SUBJECT_LABEL: &str = "apiome pairwise subject v1";

impl ServerKey {
    /// Makes a new random key.
    ///
    /// # Errors
    /// [`RandomError`] when the random source fails.
    pub fn generate(rng: &mut impl Random) -> Result<Self, RandomError> {
        Ok(Self(rng.array()?))
    }

    /// A key from its bytes.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; SERVER_KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// The key's bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; SERVER_KEY_LEN] {
        &self.0
    }

    /// The key for one use: `HMAC-SHA256(self, label)`.
    #[must_use]
    pub fn derive(&self, label: &str) -> Self {
        Self(
            self.mac()
                .chain_update(label.as_bytes())
                .finalize()
                .into_bytes()
                .into(),
        )
    }

    /// A fresh HMAC-SHA256 keyed with this key.
    pub(crate) fn mac(&self) -> Hmac<Sha256> {
        <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .expect("HMAC-SHA256 takes keys of any length")
    }

    /// The text form kept in the key file (unpadded base64url).
    #[must_use]
    pub fn to_text(&self) -> String {
        crate::b64url_encode(self.0)
    }

    /// Reads the text form.
    ///
    /// # Errors
    /// [`InvalidServerKey`] when it is not 32 bytes of unpadded base64url.
    pub fn from_text(text: &str) -> Result<Self, InvalidServerKey> {
        let bytes = crate::b64url_decode(text.trim()).ok_or(InvalidServerKey)?;
        Ok(Self(bytes.try_into().map_err(|_| InvalidServerKey)?))
    }
}

impl fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerKey(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::PredictableRandom;

    #[test]
    fn text_form_round_trips_and_rejects_bad_input() {
        let key = ServerKey::generate(&mut PredictableRandom::new(1)).unwrap();
        let text = key.to_text();
        assert_eq!(text.len(), 43);
        assert_eq!(ServerKey::from_text(&format!("{text}\n")).unwrap(), key);
        assert_eq!(ServerKey::from_text("abc"), Err(InvalidServerKey));
        assert_eq!(
            ServerKey::from_text(&format!("{text}=")),
            Err(InvalidServerKey)
        );
        assert_eq!(ServerKey::from_text(""), Err(InvalidServerKey));
    }

    #[test]
    fn derived_keys_differ_by_label_and_debug_hides_bytes() {
        let key = ServerKey::from_bytes([9; 32]);
        assert_ne!(
            key.derive(CLIENT_SECRET_LABEL),
            key.derive(PAIRWISE_SUBJECT_LABEL)
        );
        assert_eq!(key.derive("a"), key.derive("a"));
        assert_eq!(format!("{key:?}"), "ServerKey(..)");
    }
}
