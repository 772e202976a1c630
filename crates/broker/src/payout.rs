//! Payouts: a person withdraws what they earned, and the operator confirms
//! or fails each withdrawal after making (or trying) the bank transfer.
//!
//! The person's request is checked here before the store holds anything:
//! not the sandbox's test money, at least the operator's minimum
//! (`payout_minimum_micros`, one unit of the currency unless configured).
//! The store then refuses, inside the transaction that would hold it, an
//! amount beyond what the person can withdraw and a second payout while
//! one in that currency waits. The JSON API (`POST /v1/me/payouts`) and
//! the `/earnings` form both call [`request`]; `apiome payout
//! confirm|fail|list` call the rest.

use consent_policy::{Money, PayoutDestination, check_payout_amount};
use store::{PersonId, Store, StoredPayout};

use crate::BrokerError;

/// The longest operator bank reference.
pub const MAX_REFERENCE: usize = 128;
/// The longest failure reason, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// The operator's payout rules.
#[derive(Clone, Copy, Debug)]
pub struct PayoutRules {
    /// The smallest payout, in micro-units of any currency.
    pub minimum_micros: u64,
}

impl Default for PayoutRules {
    fn default() -> Self {
        Self {
            minimum_micros: consent_policy::DEFAULT_PAYOUT_MINIMUM_MICROS,
        }
    }
}

/// The person asks for `amount` of their earnings to be paid to `destination`.
///
/// # Errors
/// `PayoutAmount` (below the minimum, test money); the store's
/// `InsufficientEarnings`, `PayoutPending`.
pub async fn request(
    store: &Store,
    rules: PayoutRules,
    person: &PersonId,
    amount: &Money,
    destination: &PayoutDestination,
) -> Result<StoredPayout, BrokerError> {
    check_payout_amount(amount, rules.minimum_micros).map_err(BrokerError::PayoutAmount)?;
    Ok(store.request_payout(person, amount, destination).await?)
}

/// The operator confirms payout `id`, sent under their bank `reference`.
///
/// # Errors
/// A reference that is empty, longer than [`MAX_REFERENCE`] or not visible
/// ASCII; an unknown or already settled payout.
pub async fn confirm(
    store: &Store,
    id: &str,
    reference: &str,
) -> Result<StoredPayout, BrokerError> {
    if reference.is_empty()
        || reference.len() > MAX_REFERENCE
        || !reference.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(BrokerError::InvalidValue(format!(
            "a transfer id is 1 to {MAX_REFERENCE} visible ASCII characters"
        )));
    }
    Ok(store.confirm_payout(id, reference).await?)
}

/// The operator fails payout `id` for `reason` (shown to the person); the
/// money goes back to their earnings.
///
/// # Errors
/// An empty reason, one over [`MAX_REASON_CHARS`] or with control
/// characters; an unknown or already settled payout.
pub async fn fail(store: &Store, id: &str, reason: &str) -> Result<StoredPayout, BrokerError> {
    let reason = reason.trim();
    if reason.is_empty()
        || reason.chars().count() > MAX_REASON_CHARS
        || reason.chars().any(char::is_control)
    {
        return Err(BrokerError::InvalidValue(format!(
            "a reason is 1 to {MAX_REASON_CHARS} characters on one line"
        )));
    }
    Ok(store.fail_payout(id, reason).await?)
}

/// Every person's payouts for the operator, oldest first (the waiting ones
/// only, with `pending_only`).
pub async fn list(store: &Store, pending_only: bool) -> Result<Vec<StoredPayout>, BrokerError> {
    Ok(store.payouts_for_operator(pending_only).await?)
}

/// One page of the person's payouts, newest first.
pub async fn page(
    store: &Store,
    person: &PersonId,
    after: Option<(time::OffsetDateTime, &str)>,
    limit: u64,
) -> Result<Vec<StoredPayout>, BrokerError> {
    Ok(store.payouts_page(person, after, limit).await?)
}

/// The person's payout `id`.
pub async fn show(store: &Store, person: &PersonId, id: &str) -> Result<StoredPayout, BrokerError> {
    Ok(store.payout_of(person, id).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use consent_policy::{Currency, Iban};
    use store::{Handle, StoreError, store_test};

    fn iban() -> PayoutDestination {
        PayoutDestination::Iban(Iban::parse("DE89370400440532013000").unwrap())
    }

    store_test!(a_person_without_earnings_cannot_be_paid_out, |store| {
        let person = store
            .create_person(&Handle::parse("ada_lovelace").unwrap())
            .await
            .unwrap();
        let two = Money::parse_units("2", Currency::EUR).unwrap();
        let refused = request(store, PayoutRules::default(), &person.id, &two, &iban()).await;
        assert!(
            matches!(
                refused,
                Err(BrokerError::Store(StoreError::NoEarningsIn(Currency::EUR)))
            ),
            "{refused:?}"
        );
        let small = Money::parse_units("0.99", Currency::EUR).unwrap();
        assert!(matches!(
            request(store, PayoutRules::default(), &person.id, &small, &iban()).await,
            Err(BrokerError::PayoutAmount(_))
        ));
        assert!(list(store, false).await.unwrap().is_empty(), "nothing held");
        for bad in ["", "a b", &"x".repeat(MAX_REFERENCE + 1)] {
            assert!(matches!(
                confirm(store, "nope", bad).await,
                Err(BrokerError::InvalidValue(_))
            ));
        }
        assert!(matches!(
            confirm(store, "nope", "ref-1").await,
            Err(BrokerError::Store(StoreError::PayoutNotFound(_)))
        ));
        assert!(matches!(
            fail(store, "nope", "\n").await,
            Err(BrokerError::InvalidValue(_))
        ));
    });
}
