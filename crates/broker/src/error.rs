//! What a use case refuses, in the domain's words.

use store::StoreError;

/// A use case that did not happen. Nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// The grant is unknown, revoked, expired or another company's: the
    /// caller's token reads nothing.
    #[error("the grant was revoked or has expired")]
    GrantNotLive,
    /// The token's subject is not the grant's person for this company.
    #[error("the token's subject does not match its grant")]
    SubjectMismatch,
    /// The person kept changing their policy while a read decided; the
    /// read may be tried again.
    #[error("the person's policy changed during the read; try again")]
    PolicyChurn,
    /// A value that does not have its key's shape.
    #[error("{0}")]
    InvalidValue(String),
    /// Stored data that cannot be what it claims (a grant that is not a
    /// request); never the caller's fault.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The store failed, or refused (its own error says which).
    #[error(transparent)]
    Store(#[from] StoreError),
}
