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
    /// Too many attempts from this account or address: try again later.
    #[error("too many attempts; wait {retry_after_secs} s")]
    Throttled {
        /// Seconds to wait.
        retry_after_secs: i64,
    },
    /// Every password-hashing slot is taken: try again shortly. Nothing
    /// was tried, and the attempt was given back.
    #[error("busy; try again in {retry_after_secs} s")]
    Busy {
        /// Seconds to wait.
        retry_after_secs: i64,
    },
    /// The passkey challenge is unknown, used, expired or someone else's.
    #[error("this passkey challenge is unknown, used or expired; start again")]
    CeremonyExpired,
    /// This change needs a sign-in within the last few minutes; the
    /// session is older.
    #[error("sign in again to change your ways in (this session signed in over 5 minutes ago)")]
    SignInTooOld,
    /// The passkey's answer did not verify.
    #[error(transparent)]
    PasskeyRejected(identity::PasskeyError),
    /// Something that cannot fail did (a hashing thread died, the passkey
    /// relying party is misconfigured).
    #[error("internal error: {0}")]
    Internal(String),
    /// The consent screen expired or was answered already.
    #[error("this consent screen has expired or was answered")]
    ConsentExpired,
    /// The `Idempotency-Key` was used before with another request.
    #[error("this Idempotency-Key was used with a different request; use a new key")]
    IdempotencyKeyReused,
    /// The request first sent with this `Idempotency-Key` is still running.
    #[error("a request with this Idempotency-Key is still running; retry later")]
    IdempotencyKeyInFlight,
    /// The OAuth protocol refused (an RFC 6749 error, worded for the
    /// client; the token endpoint's use cases).
    #[error(transparent)]
    OAuth(authz::OAuthError),
    /// The system's random source failed.
    #[error("the system's random source failed")]
    NoRandomness,
    /// No company has this client id.
    #[error("no company with client id {0} (see `apiome company list`)")]
    UnknownCompany(String),
    /// No auditor has this client id.
    #[error("no auditor with client id {0} (see `apiome auditor list`)")]
    UnknownAuditor(String),
    /// The client was deleted or revoked, for good.
    #[error("{client_id} is {status:?} for good; nothing can change it now")]
    ClientGone {
        /// The client.
        client_id: String,
        /// `Deleted` or `Revoked`.
        status: store::ClientStatus,
    },
    /// A delete would end grants, requests or money; it needs `--force`.
    #[error("the company still holds value: {0}; run again with --force to end all of it")]
    CompanyHoldsValue(Box<crate::admin::CompanyHoldings>),
    /// A payout amount the rules refuse (below the minimum, test money).
    #[error(transparent)]
    PayoutAmount(consent_policy::PayoutAmountError),
    /// An input that parses but is refused; `field` names it.
    #[error("{detail}")]
    Invalid {
        /// The field, as the caller sent it.
        field: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// A company reported a use its grant's purpose does not cover; the
    /// attempt was recorded (committed) before this was returned.
    #[error("a grant for {purpose} does not cover data being {kind}; the attempt is recorded")]
    UseNotCovered {
        /// The kind of use reported.
        kind: consent_policy::UseKind,
        /// The grant's purpose.
        purpose: consent_policy::Purpose,
    },
    /// A message was refused and recorded (committed) before this was
    /// returned.
    #[error("{}", refusal.detail())]
    MessageRefused {
        /// The refused message's id (the person sees it).
        message_id: String,
        /// Why.
        refusal: crate::messages::Refusal,
    },
    /// The operator suspended this account.
    #[error("this account is suspended by the operator of this apiome; contact them to lift it")]
    Suspended,
    /// The session that asked has ended meanwhile.
    #[error("this session has ended; sign in again")]
    SessionEnded,
    /// An erasure would leave earnings behind that the person did not
    /// waive: withdraw them first, or waive them.
    #[error(
        "you still have earnings ({}); withdraw them first, or confirm that you leave them behind (waive_earnings)",
        .0.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    )]
    EarningsRemain(Vec<consent_policy::Money>),
}
