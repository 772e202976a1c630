//! Consent receipts, as the person and the company read them. They are
//! made by the store inside the transaction of the grant or revocation
//! they record (`store::receipt`); here they are only found, and only by
//! the two parties to the consent.

use consent_policy::CompanyId;
use store::{PersonId, Store, StoredReceipt};
use time::OffsetDateTime;

use crate::BrokerError;

/// A page of the person's receipts, newest first, after the (`created_at`,
/// `id`) of the last one seen; `limit` rows at most.
pub async fn page(
    store: &Store,
    person: &PersonId,
    after: Option<(OffsetDateTime, &str)>,
    limit: u64,
) -> Result<Vec<StoredReceipt>, BrokerError> {
    Ok(store.receipts_of_person(person, after, limit).await?)
}

/// A receipt with the bytes of the ledger entry that holds its hash, so
/// whoever holds it can check it against a signed checkpoint with public
/// inclusion proofs alone (`apiome-audit receipt`). The entry names ids,
/// a pseudonym and attribute names: nothing the receipt does not show.
#[derive(Debug, Clone)]
pub struct ShownReceipt {
    /// The receipt.
    pub receipt: StoredReceipt,
    /// The leaf at `receipt.ledger_index`, if it is in the log.
    pub ledger_leaf: Option<Vec<u8>>,
}

async fn with_leaf(store: &Store, receipt: StoredReceipt) -> Result<ShownReceipt, BrokerError> {
    let ledger_leaf = match receipt.ledger_index {
        Some(index) => store
            .ledger_leaves(index, index + 1)
            .await?
            .into_iter()
            .find(|raw| raw.index == index)
            .map(|raw| raw.leaf),
        None => None,
    };
    Ok(ShownReceipt {
        receipt,
        ledger_leaf,
    })
}

/// The person's receipt `id`; another person's is not found.
pub async fn show(store: &Store, person: &PersonId, id: &str) -> Result<ShownReceipt, BrokerError> {
    let receipt = store.receipt_of_person(person, id).await?;
    with_leaf(store, receipt).await
}

/// The receipts of one of `company`'s grants, oldest first: the same
/// signed receipts the person holds. Another company's grant is not found.
pub async fn of_grant(
    store: &Store,
    company: &CompanyId,
    grant_id: &str,
) -> Result<Vec<ShownReceipt>, BrokerError> {
    let mut shown = Vec::new();
    for receipt in store.receipts_of_grant(company, grant_id).await? {
        shown.push(with_leaf(store, receipt).await?);
    }
    Ok(shown)
}
