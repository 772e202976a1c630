//! What can go wrong in the store, in the domain's words.

use sea_orm::DbErr;

/// A store operation that did not happen. Nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened or reached.
    #[error(
        "cannot reach the database at {target}: {}",
        describe_connect_error(source)
    )]
    Unreachable {
        /// Where we tried, with any password removed.
        target: String,
        /// Why.
        source: DbErr,
    },
    /// Creating the SQLite file failed.
    #[error("cannot create the database file {path}: {source}")]
    CreateFile {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Running the migrations failed.
    #[error("cannot migrate the database schema: {0}")]
    Migration(DbErr),
    /// Another process holds the SQLite database (see
    /// [`crate::DatabaseLock`]).
    #[error(
        "the SQLite database {database} is in use by another apiome process; stop it first (several servers can share one PostgreSQL database, not one SQLite file)"
    )]
    InUse {
        /// The database file.
        database: String,
    },
    /// Any other database error.
    #[error("database error: {0}")]
    Database(#[from] DbErr),
    /// The server's key could not sign a consent receipt; the change it
    /// records did not happen.
    #[error("cannot sign the consent receipt: {0}")]
    ReceiptSigning(String),
    /// No receipt with that id is the caller's.
    #[error("no receipt {0:?}")]
    ReceiptNotFound(String),
    /// The handle belongs to someone else.
    #[error("the handle {0:?} is taken")]
    HandleTaken(String),
    /// No person with that id or handle.
    #[error("no such person")]
    PersonNotFound,
    /// No company with that id.
    #[error("no company {0:?}")]
    CompanyNotFound(String),
    /// A company with that id exists already.
    #[error("a company {0:?} exists already")]
    CompanyExists(String),
    /// The person has no attribute under that key.
    #[error("no attribute {0:?}")]
    AttributeNotFound(String),
    /// The person has no rule with that id.
    #[error("no rule {0:?}")]
    RuleNotFound(String),
    /// An attribute value over [`MAX_VALUE_BYTES`](crate::MAX_VALUE_BYTES).
    #[error("the value is {bytes} bytes; at most {max} are allowed")]
    ValueTooLarge {
        /// Size of the value as JSON.
        bytes: usize,
        /// The bound.
        max: usize,
    },
    /// The person already has as many attributes as allowed.
    #[error("a person may have at most {max} attributes")]
    TooManyAttributes {
        /// The bound.
        max: usize,
    },
    /// The person already has as many rules as allowed.
    #[error("a person may have at most {max} rules")]
    TooManyRules {
        /// The bound.
        max: usize,
    },
    /// The person already blocks as many companies as allowed.
    #[error("a person may block at most {max} companies")]
    TooManyBlocked {
        /// The bound.
        max: usize,
    },
    /// The person asked for as many verification mails as a day allows.
    #[error("at most {max} verification mails a day; use the last link sent")]
    TooManyVerifications {
        /// The bound.
        max: usize,
    },
    /// A new rule order that is not a permutation of the person's rules.
    #[error("the new order must list each of the person's {expected} rules exactly once")]
    BadRuleOrder {
        /// How many rules the person has.
        expected: usize,
    },
    /// No such passkey (or not the person's).
    #[error("no such passkey")]
    PasskeyNotFound,
    /// The credential is registered already.
    #[error("this passkey is registered already")]
    PasskeyTaken,
    /// The person already has as many passkeys as allowed.
    #[error("a person may have at most {max} passkeys")]
    TooManyPasskeys {
        /// The bound.
        max: usize,
    },
    /// Removing it would leave the person no way to sign in.
    #[error("this is the last way to sign in; add another passkey or a password first")]
    LastWayIn,
    /// No such request (or not the person's).
    #[error("no request {0:?}")]
    RequestNotFound(String),
    /// The request was decided already or expired.
    #[error("request {0:?} is no longer waiting for a decision")]
    RequestNotPending(String),
    /// The person chose an attribute the policy withheld or was not asked.
    #[error("{0:?} cannot be granted in this request")]
    NotGrantable(String),
    /// This request cannot be countered (why).
    #[error("{0}")]
    NotCounterable(String),
    /// A counter-offer in another currency than the offer's.
    #[error("a counter-offer is in the offer's currency, {0}")]
    CounterCurrency(&'static str),
    /// A counter-offer that is not more than the offer (approve instead).
    #[error("a counter-offer is more than the offer of {0}; to take the offer, approve")]
    CounterNotAbove(consent_policy::Money),
    /// The request has no counter-offer waiting (none made, answered, or lapsed).
    #[error("request {0:?} has no counter-offer waiting to be accepted")]
    NotCountered(String),
    /// An approval that grants nothing.
    #[error("an approval must grant at least one attribute")]
    NothingToGrant,
    /// No such grant (or not the person's).
    #[error("no grant {0:?}")]
    GrantNotFound(String),
    /// The grant was revoked or expired already.
    #[error("grant {0:?} is revoked or expired")]
    GrantNotLive(String),
    /// The company's wallet cannot cover the offer.
    #[error("the wallet has {available} available; the offer needs {missing} more")]
    InsufficientFunds {
        /// How much more the wallet would need.
        missing: consent_policy::Money,
        /// What the wallet can still reserve.
        available: consent_policy::Money,
    },
    /// The person's earnings cannot cover the payout.
    #[error(
        "your earnings have {available} available to pay out; this payout needs {missing} more"
    )]
    InsufficientEarnings {
        /// How much more the earnings would need.
        missing: consent_policy::Money,
        /// What the person can still withdraw.
        available: consent_policy::Money,
    },
    /// The person never earned anything in this currency.
    #[error("you have no earnings in {0}")]
    NoEarningsIn(consent_policy::Currency),
    /// A payout in this currency is still waiting for the operator.
    #[error("a payout in {0} is already waiting to be sent; one at a time per currency")]
    PayoutPending(consent_policy::Currency),
    /// No such payout (or not the person's).
    #[error("no payout {0:?}")]
    PayoutNotFound(String),
    /// The payout was confirmed or failed already.
    #[error("payout {id:?} is {state} already; only a pending payout can be confirmed or failed")]
    PayoutSettled {
        /// The payout.
        id: String,
        /// `posted` or `voided`.
        state: &'static str,
    },
    /// A transfer of nothing.
    #[error("an amount must be greater than zero")]
    ZeroAmount,
    /// The transfer would take an account's running sum beyond the books'
    /// range (`i64::MAX` micro-units); nothing was changed.
    #[error("the amount would take an account beyond 9223372036854775807 micro-units")]
    AmountOutOfRange,
    /// The transfer id was used before for a different transfer.
    #[error("transfer id {0:?} is already used by a different transfer")]
    TransferIdReused(String),
    /// A row that cannot be turned back into a domain value.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// A ledger root or proof was asked for with impossible arguments (an
    /// index outside the tree, a size beyond the log, sizes out of order).
    #[error("{0}")]
    LedgerProof(ledger::ProofError),
    /// One change tried to append more entries than an append may hold.
    #[error("one change may append at most {max} ledger entries")]
    TooManyLedgerEntries {
        /// The bound.
        max: usize,
    },
    /// A ledger entry could not be built from the change (a name too long).
    #[error("cannot write the ledger entry: {0}")]
    LedgerEntry(#[from] ledger::EntryError),
    /// The log's size changed under an append that held its lock: the
    /// append was called outside a write transaction. Nothing was written.
    #[error("the ledger head moved during an append; nothing was written")]
    LedgerHeadMoved,
    /// A checkpoint to save names a tree head the log does not have.
    #[error("the checkpoint's root hash is not the log's head at tree size {tree_size}")]
    CheckpointRootMismatch {
        /// The checkpoint's tree size.
        tree_size: u64,
    },
}

impl StoreError {
    pub(crate) fn corrupt(what: impl std::fmt::Display) -> Self {
        StoreError::Corrupt(what.to_string())
    }
}

/// sqlx reports a server that never answered as a pool time-out; say what
/// that means to an operator.
fn describe_connect_error(error: &DbErr) -> String {
    let text = error.to_string();
    if text.contains("pool timed out") {
        "no connection could be made within 5 s".to_owned()
    } else {
        text
    }
}
