//! What a use case refuses, in the domain's words.

use store::StoreError;

/// A use case that did not happen. Nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// The store failed, or refused (its own error says which).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The consent screen expired or was answered already.
    #[error("this consent screen has expired or was answered")]
    ConsentExpired,
    /// The `Idempotency-Key` was used before with another request.
    #[error("this Idempotency-Key was used with a different request; use a new key")]
    IdempotencyKeyReused,
    /// The request first sent with this `Idempotency-Key` is still running.
    #[error("a request with this Idempotency-Key is still running; retry later")]
    IdempotencyKeyInFlight,
    /// The system's random source failed.
    #[error("the system's random source failed")]
    NoRandomness,
}
