//! apiome's persistence: people, their attributes and buckets, preferences,
//! rules, blocked companies and companies, on SQLite (the embedded default)
//! or PostgreSQL (the scale-out store).
//!
//! Repositories speak in domain values from `consent-policy` (an
//! [`AttributeKey`](consent_policy::AttributeKey), a
//! [`Bucket`](consent_policy::Bucket), a [`Rule`](consent_policy::Rule));
//! rows never leave this crate. Every method is one transaction: it happens
//! whole or not at all.

mod admin;
mod attribute;
mod authorization_purge;
mod block;
mod ceremony;
mod checkpoint;
mod ciba;
mod company;
mod connect;
mod credential;
mod disclosure;
mod dpop_replay;
mod entity;
mod erase;
mod error;
mod grant;
mod grant_use;
mod idempotency;
mod ledger;
mod message;
mod money;
mod notify;
mod oauth;
mod payout;
mod person;
mod person_key;
mod receipt;
mod request_group;
mod revoked;
mod rule;
mod sandbox;
pub mod sealed;
mod server_secret;
mod session;
mod snapshot;
mod sqlite_reader;
mod sqlite_writer;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod throttle;
mod tx;
mod webhook;
mod webhook_secret;
pub mod write_stats;

pub use attribute::{MAX_VALUE_BYTES, Resealed, StoredAttribute};
pub use authorization_purge::{PURGE_BATCH, Purged, USED_CODE_RETENTION_SECS};
pub use ceremony::{CEREMONY_TTL, PendingCeremony};
pub use ciba::{Backchannel, CIBA_PING_EVENT, NobodyRequest, Ping};
pub use company::Company;
pub use connect::{Backend, DatabaseUrl, Store};
pub use credential::{MAX_PASSKEYS_PER_PERSON, NewAccount, NewPasskeyRow, StoredPasskeyRow};
pub use erase::{EarningsLeft, Erased};
pub use error::StoreError;
// The domain nouns live in the pure core; re-exported for the crates
// that name them through the store.
pub use consent_policy::{Channel, Grant, Handle, HandleError, PersonId, RequestStatus};
pub use grant::{Counter, Decider, MAX_LISTED, REQUEST_TTL, SWEEP_BATCH, StoredRequest, Swept};
// `self::` because the `ledger` crate shares the name.
pub use self::ledger::{
    InclusionProof, MAX_ACTIVITY_PAGE, MAX_APPEND_ENTRIES, MAX_ENTRIES_PAGE, RawLeaf,
    StoredCheckpoint, StoredEntry,
};
pub use disclosure::{DisclosureRead, Recorded};
pub use grant_use::{ReportedUse, StoredUse, UseRecord};
pub use idempotency::{KeyClaim, StoredAnswer};
pub use message::{
    MAX_MESSAGES_LISTED, MESSAGE_MAIL_KIND, MessageOutcome, MessageRecord, StoredMessage,
};
pub use money::{
    Earnings, EarningsBalance, Funded, MAX_TRANSFERS_LISTED, PersonTransfer, TransferState,
    WalletBalance,
};
pub use notify::{
    MAIL_BATCH, MAIL_LEASE, MAIL_RETENTION, MAX_MAIL_ATTEMPTS, MAX_VERIFICATIONS_PER_DAY,
    MailStatus, NoticeKind, NotifySettings, QueuedMail, VERIFY_TTL, mail_backoff,
};
pub use oauth::{ClientKind, ClientStatus, MAX_CLIENTS_LISTED, StoredClient};
pub use payout::{MAX_PAYOUTS_LISTED, PayoutState, StoredPayout};
pub use person::{MAX_PEOPLE_LISTED, Person};
pub use receipt::{MAX_RECEIPTS_PER_GRANT, ReceiptSigner, StoredReceipt};
pub use revoked::{DatabaseLock, MAX_REVOKED_IN_MEMORY};
pub use rule::StoredRule;
pub use sandbox::MAX_PENDING_SANDBOX_LISTED;
pub use sealed::{DataKeyError, DataKeys};
pub use server_secret::ServerSecret;
pub use session::{SESSION_ABSOLUTE, SESSION_IDLE, SignIn};
pub use snapshot::PolicySnapshot;
pub use throttle::MAX_KEYS_PER_ATTEMPT;
pub use tx::WriteTx;
pub use webhook::{
    MAX_WEBHOOK_ATTEMPTS, WEBHOOK_LEASE, WebhookAttempt, WebhookCall, WebhookDelivery,
    WebhookEvent, WebhookStatus, webhook_backoff,
};
pub use webhook_secret::{SECRET_OVERLAP, WebhookSecret};

/// A new random id for a row, as text (UUID v4).
fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Reads a snake_case enum (a bucket, a sharing default) from its column.
fn parse_column<T: serde::de::DeserializeOwned>(text: &str, column: &str) -> Result<T, StoreError> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|_| StoreError::corrupt(format!("{column} holds {text:?}")))
}

/// The current time, the one clock the store reads.
fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}
