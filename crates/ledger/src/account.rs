//! Accounts of the double-entry books and their balances.

use crate::entry::ShortText;
use crate::money::Currency;

/// One account. Every account holds a single currency.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AccountId {
    /// The outside world: money enters through it when a company tops up
    /// its wallet and leaves through it when a deleted company's wallet is
    /// refunded or a person is paid out, so its posted debits exceed its
    /// posted credits by what the books hold.
    Funding {
        /// The account's currency.
        currency: Currency,
    },
    /// A company's prepaid wallet; its available balance never goes below zero.
    CompanyWallet {
        /// The company.
        company_id: ShortText,
        /// The account's currency.
        currency: Currency,
    },
    /// What a person has earned, named by pseudonym.
    PersonEarnings {
        /// The person's pseudonym.
        person: ShortText,
        /// The account's currency.
        currency: Currency,
    },
}

impl AccountId {
    /// The account's currency.
    pub fn currency(&self) -> Currency {
        match self {
            Self::Funding { currency }
            | Self::CompanyWallet { currency, .. }
            | Self::PersonEarnings { currency, .. } => *currency,
        }
    }
}

/// The four running sums of one account, in micro-units (TigerBeetle's layout).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Balance {
    /// Sum of posted debits.
    pub debits_posted: u64,
    /// Sum of posted credits.
    pub credits_posted: u64,
    /// Sum of debits reserved by pending transfers.
    pub debits_pending: u64,
    /// Sum of credits promised by pending transfers.
    pub credits_pending: u64,
}

impl Balance {
    /// Credits posted minus debits posted and pending, or `None` if debits exceed credits.
    ///
    /// For a company wallet this is what it can still spend; the books keep
    /// it from ever being `None` there.
    pub fn available(&self) -> Option<u64> {
        self.credits_posted
            .checked_sub(self.debits_posted)?
            .checked_sub(self.debits_pending)
    }

    /// Whether all four sums are zero.
    pub fn is_zero(&self) -> bool {
        *self == Self::default()
    }
}
