//! Company identifiers.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The longest company identifier, in bytes.
pub const MAX_COMPANY_ID_LEN: usize = 128;

/// The stable identifier of a company (its OAuth client's owner), e.g. `acme`.
///
/// 1 to 128 printable ASCII characters, no whitespace.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CompanyId(String);

/// Why a text is not a company identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a company id: 1 to 128 printable ASCII characters without spaces")]
pub struct InvalidCompanyId {
    /// The rejected text.
    pub text: String,
}

impl CompanyId {
    /// Parses a company identifier.
    ///
    /// # Errors
    /// [`InvalidCompanyId`] when empty, too long, or not printable ASCII without spaces.
    pub fn parse(text: &str) -> Result<Self, InvalidCompanyId> {
        Self::try_from(text.to_owned())
    }

    /// The identifier as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CompanyId {
    type Error = InvalidCompanyId;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        let valid = !text.is_empty()
            && text.len() <= MAX_COMPANY_ID_LEN
            && text.bytes().all(|b| b.is_ascii_graphic());
        if valid {
            Ok(Self(text))
        } else {
            Err(InvalidCompanyId { text })
        }
    }
}

impl FromStr for CompanyId {
    type Err = InvalidCompanyId;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl From<CompanyId> for String {
    fn from(id: CompanyId) -> Self {
        id.0
    }
}

impl fmt::Display for CompanyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_ascii_ids_parse() {
        for text in ["acme", "a", "client_01H8-XYZ", "acme.example.com", "~!@#"] {
            assert_eq!(CompanyId::parse(text).unwrap().as_str(), text);
        }
        let longest = "a".repeat(MAX_COMPANY_ID_LEN);
        assert!(CompanyId::parse(&longest).is_ok());
    }

    #[test]
    fn empty_long_spaced_or_non_ascii_ids_are_refused() {
        let too_long = "a".repeat(MAX_COMPANY_ID_LEN + 1);
        for text in [
            "", " ", "ac me", "acme\n", "\tacme", "acmé", "a\u{7f}", &too_long,
        ] {
            assert!(CompanyId::parse(text).is_err(), "{text:?}");
        }
        assert!(serde_json::from_str::<CompanyId>(r#""ac me""#).is_err());
        assert_eq!(
            serde_json::from_str::<CompanyId>(r#""acme""#).unwrap(),
            CompanyId::parse("acme").unwrap()
        );
    }
}
