//! `Idempotency-Key` (Stripe's semantics) for a company's commands that
//! create something or move money: `POST /v1/requests` and `POST /oauth/par`.
//!
//! * Same key, same request (endpoint and body) within [`KEY_LIFETIME`]:
//!   the first answer, replayed byte for byte; nothing is done again.
//! * Same key, another request: refused ([`BrokerError::IdempotencyKeyReused`], 422).
//! * Keys are per company; after [`KEY_LIFETIME`] a key is free again and
//!   the sweeper deletes it.
//!
//! Concurrency: the key is claimed first, in its own insert on a unique
//! key, before the command runs, so of two identical requests sent at the
//! same moment exactly one runs. The other **waits** for the first one's
//! answer, polling every [`POLL_INTERVAL`] for up to [`MAX_WAIT`], and replays
//! it; only past that does it get [`BrokerError::IdempotencyKeyInFlight`]
//! (409). Why wait rather than answer 409 at once: a client retries
//! because it did not see the first answer (a timeout, a dropped
//! connection), and what it needs is that answer; a 409 would only make it
//! retry again. The wait is bounded so a stuck request cannot hold
//! connections forever.
//!
//! An answer that did nothing (a server error, a rate limit) is not kept:
//! the claim is released so the retry runs ([`abandon`]).

use std::time::Duration;

use consent_policy::CompanyId;
use store::{KeyClaim, Store, StoredAnswer};

use crate::BrokerError;

/// How long a key and its answer are kept: 24 hours.
pub const KEY_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);
/// The longest key accepted, in bytes (Stripe's limit).
pub const MAX_KEY_LEN: usize = 255;
/// How often a request waiting for its twin looks for the answer.
pub const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// How long a request waits for its twin's answer before 409.
pub const MAX_WAIT: Duration = Duration::from_secs(10);

/// A checked `Idempotency-Key`: 1 to [`MAX_KEY_LEN`] visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

/// The header's value is not a usable key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`Idempotency-Key` must be 1 to 255 visible ASCII characters")]
pub struct InvalidIdempotencyKey;

impl IdempotencyKey {
    /// Checks a header value.
    ///
    /// # Errors
    /// [`InvalidIdempotencyKey`] when empty, too long, or not visible ASCII.
    pub fn parse(text: &str) -> Result<Self, InvalidIdempotencyKey> {
        if text.is_empty()
            || text.len() > MAX_KEY_LEN
            || !text.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(InvalidIdempotencyKey);
        }
        Ok(Self(text.to_owned()))
    }

    /// The key.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What [`begin`] found.
#[derive(Debug)]
pub enum Begun {
    /// This request owns the key: run the command, then [`finish`] (or
    /// [`abandon`] when it did nothing).
    Run,
    /// The same request was answered: send this, do nothing.
    Replay(StoredAnswer),
}

fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Claims `key` of `company` for the request whose endpoint and body hash
/// to `fingerprint`, waiting for a running twin's answer.
///
/// # Errors
/// [`BrokerError::IdempotencyKeyReused`] for another request under the key;
/// [`BrokerError::IdempotencyKeyInFlight`] when its twin did not answer
/// within [`MAX_WAIT`]; the store's.
pub async fn begin(
    store: &Store,
    company: &CompanyId,
    key: &IdempotencyKey,
    fingerprint: &str,
) -> Result<Begun, BrokerError> {
    let lifetime_secs = i64::try_from(KEY_LIFETIME.as_secs()).unwrap_or(i64::MAX);
    let deadline = tokio::time::Instant::now() + MAX_WAIT;
    loop {
        let now = unix_now();
        match store
            .claim_idempotency_key(company, key.as_str(), fingerprint, now, now - lifetime_secs)
            .await?
        {
            KeyClaim::Claimed => return Ok(Begun::Run),
            KeyClaim::Answered(answer) => return Ok(Begun::Replay(answer)),
            KeyClaim::Mismatch => return Err(BrokerError::IdempotencyKeyReused),
            KeyClaim::Running if tokio::time::Instant::now() >= deadline => {
                return Err(BrokerError::IdempotencyKeyInFlight);
            }
            KeyClaim::Running => tokio::time::sleep(POLL_INTERVAL).await,
        }
    }
}

/// Keeps `answer` for `key`, for its retries to replay.
///
/// # Errors
/// The store's.
pub async fn finish(
    store: &Store,
    company: &CompanyId,
    key: &IdempotencyKey,
    answer: &StoredAnswer,
) -> Result<(), BrokerError> {
    Ok(store
        .finish_idempotency_key(company, key.as_str(), answer)
        .await?)
}

/// Frees `key` after a request that did nothing, so its retry runs.
///
/// # Errors
/// The store's.
pub async fn abandon(
    store: &Store,
    company: &CompanyId,
    key: &IdempotencyKey,
) -> Result<(), BrokerError> {
    Ok(store.release_idempotency_key(company, key.as_str()).await?)
}

/// Deletes the keys older than [`KEY_LIFETIME`]; how many.
///
/// # Errors
/// The store's.
pub async fn prune(store: &Store) -> Result<u64, BrokerError> {
    let lifetime_secs = i64::try_from(KEY_LIFETIME.as_secs()).unwrap_or(i64::MAX);
    Ok(store
        .prune_idempotency_keys(unix_now() - lifetime_secs)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_visible_ascii_up_to_255_bytes() {
        assert!(IdempotencyKey::parse("8e03978e-40d5-43e8-bc93-6894a57f9324").is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(MAX_KEY_LEN)).is_ok());
        for bad in ["", " ", "a b", "clé", "a\tb"] {
            assert_eq!(
                IdempotencyKey::parse(bad),
                Err(InvalidIdempotencyKey),
                "{bad:?}"
            );
        }
        assert!(IdempotencyKey::parse(&"k".repeat(MAX_KEY_LEN + 1)).is_err());
    }
}
