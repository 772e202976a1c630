//! Who a person is to apiome: an internal id companies never see, and the
//! public handle they sign in with.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A person's internal id (a UUID as text). Companies never see it: they
/// see a pairwise subject made for them alone.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PersonId(String);

impl PersonId {
    /// An id as stored.
    #[must_use]
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id of a UUID (ids chosen before sign-up, e.g. the WebAuthn
    /// user handle).
    #[must_use]
    pub fn from_uuid(id: uuid::Uuid) -> Self {
        Self(id.to_string())
    }

    /// The id as the UUID it is, when it is one.
    #[must_use]
    pub fn as_uuid(&self) -> Option<uuid::Uuid> {
        uuid::Uuid::parse_str(&self.0).ok()
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PersonId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A person's public name: 3 to 32 characters of `a-z`, `0-9` and `_`,
/// starting with a letter. Case-insensitive on input, kept lower-case.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Handle(String);

/// Why a handle was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a handle is 3 to 32 characters of a-z, 0-9 and _, starting with a letter; got {0:?}")]
pub struct HandleError(pub String);

impl Handle {
    /// Checks and normalises a handle.
    ///
    /// # Errors
    /// A handle of the wrong length or with other characters.
    pub fn parse(text: &str) -> Result<Self, HandleError> {
        let lower = text.to_ascii_lowercase();
        let valid = (3..=32).contains(&lower.len())
            && lower.starts_with(|c: char| c.is_ascii_lowercase())
            && lower
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if valid {
            Ok(Self(lower))
        } else {
            Err(HandleError(text.chars().take(64).collect()))
        }
    }

    /// A synthetic person's handle (`sandbox-allow`), which [`Handle::parse`]
    /// never accepts: made only by [`crate::SandboxPerson::handle`].
    pub(crate) const fn sandbox(text: String) -> Self {
        Self(text)
    }

    /// The handle as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Handle {
    type Error = HandleError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Handle> for String {
    fn from(handle: Handle) -> Self {
        handle.0
    }
}

impl fmt::Display for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
