//! Transfers: money moving from one account to another, once.

use crate::account::AccountId;
use crate::entry::ShortText;
use crate::money::Money;

/// Where a transfer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferState {
    /// Reserved: counted in the pending sums, not yet spent.
    Pending,
    /// Done: counted in the posted sums.
    Posted,
    /// Cancelled while pending: counted nowhere.
    Voided,
}

/// One transfer, identified by its idempotency id.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Transfer {
    /// The idempotency id.
    pub id: ShortText,
    /// The account debited.
    pub debit_account: AccountId,
    /// The account credited.
    pub credit_account: AccountId,
    /// The amount; its currency is both accounts' currency.
    pub amount: Money,
    /// Whether it started pending (two-phase) or was posted at once.
    pub two_phase: bool,
    /// Where it stands now.
    pub state: TransferState,
}
