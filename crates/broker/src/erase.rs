//! A person erases their account (GDPR Art. 17): `DELETE /v1/me` and the
//! account page's form both call [`erase`].
//!
//! It needs a sign-in within [`RECENT_SIGN_IN`] and the person's handle
//! typed again: a session left open on a shared computer must not be
//! enough to destroy an account, and a slip of the mouse must not either.
//!
//! In one transaction: every live grant is revoked (with its receipt, its
//! `grant_revoked` entry and its `grant.revoked` webhook, as a revocation
//! by hand), every pending request is declined (its offer goes back to the
//! company's wallet, the company is told by `request.declined`), and what
//! the person earned is left behind only if they said so (`waive_earnings`)
//! — nothing is paid out on its own, and an erasure is refused while a
//! payout is on its way. Then their data key and everything that is theirs
//! alone is deleted and `person_erased` appended. The ledger keeps its
//! entries (names, the pseudonym, amounts; never a value) and an auditor
//! still verifies the whole log.

use consent_policy::Money;
use store::{PersonId, Store, StoreError};

use crate::BrokerError;
pub use crate::ways_in::RECENT_SIGN_IN;
use crate::ways_in::{SignedIn, require_recent_sign_in};

/// What the person asked for.
#[derive(Clone, Copy, Debug)]
pub struct Confirmation<'a> {
    /// The handle, typed again.
    pub handle: &'a str,
    /// Whether to leave behind what they earned and did not withdraw.
    pub waive_earnings: bool,
}

/// What an erasure did.
#[derive(Clone, Debug, Default)]
pub struct Erasure {
    /// The pseudonym the ledger knew the person by (it stays there).
    pub pseudonym: String,
    /// Grants revoked.
    pub grants_revoked: u64,
    /// Pending requests declined.
    pub requests_declined: u64,
    /// Earnings left behind, per currency.
    pub waived: Vec<Money>,
    /// Attribute values destroyed.
    pub attributes: u64,
    /// Sessions ended (this one included).
    pub sessions: u64,
    /// Passkeys removed.
    pub passkeys: u64,
}

/// Erases the signed-in person's account (see the module).
///
/// # Errors
/// `SignInTooOld`; `Invalid` when the handle typed is not theirs;
/// `PayoutPending` while a payout waits; `EarningsRemain` when they earned
/// something and did not waive it; `PersonNotFound` for an account already
/// erased.
pub async fn erase(
    store: &Store,
    who: SignedIn<'_>,
    confirmation: Confirmation<'_>,
) -> Result<Erasure, BrokerError> {
    require_recent_sign_in(store, who).await?;
    let person: &PersonId = who.person;
    let tx = store.begin().await?;
    tx.change_policy(person).await?;
    let handle = tx.handle_of(person).await?;
    if confirmation.handle.trim() != handle {
        return Err(BrokerError::Invalid {
            field: "confirm",
            detail: "type your handle exactly to confirm that this account is to be erased"
                .to_owned(),
        });
    }
    let pseudonym = tx.pseudonym(person).await?;
    let mut erasure = Erasure {
        pseudonym: pseudonym.clone(),
        ..Erasure::default()
    };
    for grant in tx.live_grants_of(person).await? {
        tx.revoke_grant(&grant, &pseudonym).await?;
        erasure.grants_revoked += 1;
    }
    erasure.requests_declined = tx.decline_pending_requests(person, &pseudonym).await?;
    let earnings = tx.earnings_left(&pseudonym).await?;
    if let Some(paying) = earnings.iter().find(|e| e.paying_out.amount_micros() > 0) {
        return Err(StoreError::PayoutPending(paying.paying_out.currency()).into());
    }
    let left: Vec<Money> = earnings
        .iter()
        .map(|e| e.available)
        .filter(|m| m.amount_micros() > 0)
        .collect();
    if !left.is_empty() && !confirmation.waive_earnings {
        return Err(BrokerError::EarningsRemain(left));
    }
    for amount in &left {
        tx.waive_earnings(&pseudonym, amount).await?;
    }
    erasure.waived = left;
    let erased = tx.erase_person(person, &pseudonym).await?;
    tx.commit().await?;
    erasure.attributes = erased.attributes;
    erasure.sessions = erased.sessions;
    erasure.passkeys = erased.passkeys;
    if let Err(e) = store.scrub_after_erasure().await {
        tracing::warn!(error = %e, "scrubbing after an erasure did not finish; the periodic checkpoint will");
    }
    Ok(erasure)
}
