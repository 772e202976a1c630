//! apiome's application layer: one plain async function per use case.
//!
//! The adapters above (the JSON API, the HTML pages, the `apiome` command,
//! background tasks) parse what they were sent into typed values, call one
//! function here and render what it returns. Nothing here parses HTTP and
//! nothing above opens a transaction: each use case locks what it changes,
//! loads, decides with `consent-policy`, records, appends its ledger entry
//! and commits, so a promise is kept in exactly one place whichever
//! adapter asked.
//!
//! | module | use cases |
//! |---|---|
//! | [`authorize`] | a person opens a company's authorization request (refused, remembered, or the consent screen) and answers it; where an offer is reserved and paid |
//! | [`idempotency`] | a company's `Idempotency-Key`: claim, replay, keep, prune |
//! | [`data`] | a company reads what a grant allows *and* the policy allows now |
//! | [`block`] | a person blocks or unblocks a company (a block revokes its live grants) |
//!
//! Architecture invariant: this crate never depends on actix-web (checked
//! by `tests/layers.rs`).

pub mod authorize;
pub mod block;
pub mod data;
mod error;
pub mod idempotency;

pub use error::BrokerError;
