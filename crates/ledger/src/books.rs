//! Double-entry books: a pure state machine over accounts and transfers,
//! in the manner of TigerBeetle.
//!
//! * `fund`: Funding → CompanyWallet, posted at once (a wallet top-up).
//! * `reserve`: CompanyWallet → PersonEarnings, pending (an offer is held).
//! * `post` / `void`: complete or cancel a pending transfer.
//! * `refund`: CompanyWallet → Funding, posted at once (what a deleted
//!   company's wallet still held goes back); never more than is available.
//! * `request_payout`: PersonEarnings → Funding, pending (a person withdraws
//!   what they earned); never more than the earnings' available balance —
//!   posted earnings less what was paid out and what is held for payouts.
//!   `post_payout` / `void_payout` complete it (the bank transfer went
//!   through) or cancel it (the money is back in the earnings); they refuse
//!   a transfer that is not that person's payout, and `post` / `void` (the
//!   offer entries) refuse a payout.
//! * `waive`: PersonEarnings → Funding, posted at once (a person erasing
//!   their account leaves what they earned behind); never more than is
//!   available. `erase` then refuses while any of the person's earnings is
//!   left or pending, and from then on every entry that names the
//!   pseudonym is refused: an erased person never comes back.
//!
//! Each operation is keyed by a transfer id and applied at most once: the
//! same operation again returns [`Applied::AlreadyApplied`] and changes
//! nothing; an id reused for a different transfer is an error. A refused
//! operation changes nothing either.
//!
//! Invariants, asserted after every operation and checked in full by
//! [`Books::check_invariants`]: per currency, posted debits equal posted
//! credits and pending debits equal pending credits; no company wallet's
//! and no person's earnings' available balance (credits posted − debits
//! posted − debits pending) is ever below zero, so no payout takes more
//! than the person was paid; a transfer's two accounts and its amount share one
//! currency; every balance is exactly the sum of the transfers that touch it.
//!
//! [`Books::apply`] takes ledger entries, so an auditor rebuilds the books by
//! replaying the log ([`Books::replay`]) and compares them to the server's.

use std::collections::{BTreeMap, BTreeSet};

use crate::account::{AccountId, Balance};
use crate::entry::{Entry, EntryKind, ShortText};
use crate::money::{Currency, Money};
use crate::transfer::{Transfer, TransferState};

/// What an operation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The operation changed the books.
    Applied,
    /// The very same operation had been applied before; nothing changed.
    AlreadyApplied,
    /// The entry is not about money; nothing changed.
    NotMoney,
}

/// Why an operation was refused (the books are unchanged).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BooksError {
    /// Transfers move a positive amount.
    #[error("a transfer must move a positive amount")]
    ZeroAmount,
    /// The wallet cannot cover the reservation.
    #[error("wallet has {available} micro-units available, {missing} short")]
    InsufficientFunds {
        /// What the wallet can still spend.
        available: u64,
        /// How much more it would need.
        missing: u64,
    },
    /// The person's posted earnings cannot cover the payout.
    #[error("earnings have {available} micro-units available, {missing} short")]
    InsufficientEarnings {
        /// What the person can still withdraw.
        available: u64,
        /// How much more the payout would need.
        missing: u64,
    },
    /// A payout entry names a transfer that is not this person's payout, or
    /// an offer's entry names a payout.
    #[error("transfer {0} is not a payout of this person")]
    NotAPayout(ShortText),
    /// The id already names a different transfer.
    #[error("transfer id {0} is already used by a different transfer")]
    IdReused(ShortText),
    /// No transfer has this id.
    #[error("no transfer has id {0}")]
    UnknownTransfer(ShortText),
    /// The transfer was posted, so it cannot be voided.
    #[error("transfer {0} is already posted")]
    AlreadyPosted(ShortText),
    /// The transfer was voided, so it cannot be posted.
    #[error("transfer {0} is already voided")]
    AlreadyVoided(ShortText),
    /// The transfer was posted at once; it has no pending phase to post or void.
    #[error("transfer {0} was never pending")]
    NotTwoPhase(ShortText),
    /// A balance would exceed `u64::MAX` micro-units.
    #[error("a balance would overflow")]
    Overflow,
    /// The entry names a person who erased their account earlier in the log.
    #[error("person {0} was erased earlier in the log")]
    ErasedPerson(ShortText),
    /// The person's erasure left earnings behind (available or pending).
    #[error("person {person} is erased with {left} micro-units of {currency} left")]
    EarningsLeft {
        /// The person's pseudonym.
        person: ShortText,
        /// The currency.
        currency: Currency,
        /// Micro-units still available or pending.
        left: u64,
    },
}

/// A broken invariant: the books are corrupt (a bug, or a tampered log).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvariantError {
    /// Debits and credits of a currency differ.
    #[error("debits and credits in {0} differ")]
    Unbalanced(Currency),
    /// A company wallet's or a person's earnings' available balance is below zero.
    #[error("account {0:?} is overdrawn")]
    Overdrawn(AccountId),
    /// A balance is not the sum of its transfers.
    #[error("balance of {0:?} is not the sum of its transfers")]
    BalanceMismatch(AccountId),
    /// A transfer's accounts and amount do not share one currency.
    #[error("transfer {0} mixes currencies")]
    CurrencyMix(ShortText),
    /// A transfer moves nothing.
    #[error("transfer {0} moves nothing")]
    ZeroTransfer(ShortText),
    /// A transfer that was posted at once is recorded in another state.
    #[error("one-phase transfer {0} is not posted")]
    OnePhaseNotPosted(ShortText),
}

/// Why a replay of the log stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// The entry at this position was refused by the books.
    #[error("entry {position} is refused: {error}")]
    Rejected {
        /// Zero-based position of the entry in the replayed sequence.
        position: u64,
        /// Why it was refused.
        error: BooksError,
    },
    /// The entry at this position repeats an operation already in the log.
    #[error("entry {position} repeats an operation already applied")]
    Duplicate {
        /// Zero-based position of the entry in the replayed sequence.
        position: u64,
    },
    /// The rebuilt books break an invariant.
    #[error(transparent)]
    Invariant(#[from] InvariantError),
}

/// Per-currency running totals, kept to assert balance in O(1) per operation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Totals {
    debits_posted: u128,
    credits_posted: u128,
    debits_pending: u128,
    credits_pending: u128,
}

impl Totals {
    fn is_balanced(&self) -> bool {
        self.debits_posted == self.credits_posted && self.debits_pending == self.credits_pending
    }
}

/// Accounts, their balances and every transfer ever applied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Books {
    accounts: BTreeMap<AccountId, Balance>,
    transfers: BTreeMap<ShortText, Transfer>,
    totals: BTreeMap<Currency, Totals>,
    erased: BTreeSet<ShortText>,
}

fn add(a: u64, b: u64) -> Result<u64, BooksError> {
    a.checked_add(b).ok_or(BooksError::Overflow)
}

/// Removes an amount a pending sum is known to include.
fn release(pending: u64, amount: u64) -> u64 {
    pending
        .checked_sub(amount)
        .expect("a pending sum includes every pending transfer on the account")
}

impl Books {
    /// Empty books.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds books from log entries, refusing duplicates, and checks every invariant.
    pub fn replay<'a, I: IntoIterator<Item = &'a Entry>>(entries: I) -> Result<Self, ReplayError> {
        let mut books = Self::new();
        for (position, entry) in (0u64..).zip(entries) {
            match books.apply(entry) {
                Ok(Applied::Applied | Applied::NotMoney) => {}
                Ok(Applied::AlreadyApplied) => return Err(ReplayError::Duplicate { position }),
                Err(error) => return Err(ReplayError::Rejected { position, error }),
            }
        }
        books.check_invariants()?;
        Ok(books)
    }

    /// Applies the money movement an entry records; other entries change nothing.
    pub fn apply(&mut self, entry: &Entry) -> Result<Applied, BooksError> {
        if let Some(person) = entry.kind.person()
            && self.erased.contains(person)
        {
            return Err(BooksError::ErasedPerson(person.clone()));
        }
        match &entry.kind {
            EntryKind::WalletFunded {
                transfer_id,
                company_id,
                amount,
            } => self.fund(transfer_id, company_id, *amount),
            EntryKind::TransferPending {
                transfer_id,
                company_id,
                person,
                amount,
            } => self.reserve(transfer_id, company_id, person, *amount),
            EntryKind::TransferPosted { transfer_id } => {
                self.refuse_payout(transfer_id)?;
                self.post(transfer_id)
            }
            EntryKind::TransferVoided { transfer_id } => {
                self.refuse_payout(transfer_id)?;
                self.void(transfer_id)
            }
            EntryKind::PayoutRequested {
                transfer_id,
                person,
                amount,
            } => self.request_payout(transfer_id, person, *amount),
            EntryKind::PayoutPosted {
                transfer_id,
                person,
            } => self.post_payout(transfer_id, person),
            EntryKind::PayoutVoided {
                transfer_id,
                person,
            } => self.void_payout(transfer_id, person),
            EntryKind::WalletRefunded {
                transfer_id,
                company_id,
                amount,
            } => self.refund(transfer_id, company_id, *amount),
            EntryKind::EarningsWaived {
                transfer_id,
                person,
                amount,
            } => self.waive(transfer_id, person, *amount),
            EntryKind::PersonErased { person } => self.erase(person),
            _ => Ok(Applied::NotMoney),
        }
    }

    /// Tops up a company wallet from the outside world (posted at once).
    pub fn fund(
        &mut self,
        transfer_id: &ShortText,
        company_id: &ShortText,
        amount: Money,
    ) -> Result<Applied, BooksError> {
        let transfer = Transfer {
            id: transfer_id.clone(),
            debit_account: AccountId::Funding {
                currency: amount.currency,
            },
            credit_account: AccountId::CompanyWallet {
                company_id: company_id.clone(),
                currency: amount.currency,
            },
            amount,
            two_phase: false,
            state: TransferState::Posted,
        };
        if self.is_repeat(&transfer)? {
            return Ok(Applied::AlreadyApplied);
        }
        if amount.amount_micros == 0 {
            return Err(BooksError::ZeroAmount);
        }
        let mut debit = self.balance(&transfer.debit_account);
        let mut credit = self.balance(&transfer.credit_account);
        debit.debits_posted = add(debit.debits_posted, amount.amount_micros)?;
        credit.credits_posted = add(credit.credits_posted, amount.amount_micros)?;
        let moved = u128::from(amount.amount_micros);
        self.commit(transfer, debit, credit, |t| {
            t.debits_posted += moved;
            t.credits_posted += moved;
        });
        Ok(Applied::Applied)
    }

    /// Reserves money from a company wallet for a person (pending).
    pub fn reserve(
        &mut self,
        transfer_id: &ShortText,
        company_id: &ShortText,
        person: &ShortText,
        amount: Money,
    ) -> Result<Applied, BooksError> {
        let transfer = Transfer {
            id: transfer_id.clone(),
            debit_account: AccountId::CompanyWallet {
                company_id: company_id.clone(),
                currency: amount.currency,
            },
            credit_account: AccountId::PersonEarnings {
                person: person.clone(),
                currency: amount.currency,
            },
            amount,
            two_phase: true,
            state: TransferState::Pending,
        };
        self.take_from_wallet(transfer)
    }

    /// Holds `amount` of a person's earnings for a payout to the outside
    /// world (pending), within what they can withdraw.
    pub fn request_payout(
        &mut self,
        transfer_id: &ShortText,
        person: &ShortText,
        amount: Money,
    ) -> Result<Applied, BooksError> {
        self.take_from_earnings(transfer_id, person, amount, true)
    }

    /// Takes what `person` earned and leaves behind out of the books
    /// (posted at once), within their earnings' available balance.
    pub fn waive(
        &mut self,
        transfer_id: &ShortText,
        person: &ShortText,
        amount: Money,
    ) -> Result<Applied, BooksError> {
        self.take_from_earnings(transfer_id, person, amount, false)
    }

    /// PersonEarnings → Funding within the earnings' available balance:
    /// pending (a payout) or posted at once (a waiver).
    fn take_from_earnings(
        &mut self,
        transfer_id: &ShortText,
        person: &ShortText,
        amount: Money,
        two_phase: bool,
    ) -> Result<Applied, BooksError> {
        let transfer = Transfer {
            id: transfer_id.clone(),
            debit_account: AccountId::PersonEarnings {
                person: person.clone(),
                currency: amount.currency,
            },
            credit_account: AccountId::Funding {
                currency: amount.currency,
            },
            amount,
            two_phase,
            state: if two_phase {
                TransferState::Pending
            } else {
                TransferState::Posted
            },
        };
        self.take_within_available(transfer, |available, missing| {
            BooksError::InsufficientEarnings { available, missing }
        })
    }

    /// Records that `person` erased their account: refused while any of
    /// their earnings is available or pending; from then on no entry may
    /// name them. Moves no money.
    pub fn erase(&mut self, person: &ShortText) -> Result<Applied, BooksError> {
        for (account, balance) in &self.accounts {
            let AccountId::PersonEarnings {
                person: owner,
                currency,
            } = account
            else {
                continue;
            };
            if owner != person {
                continue;
            }
            let left = balance
                .available()
                .unwrap_or(0)
                .saturating_add(balance.credits_pending)
                .saturating_add(balance.debits_pending);
            if left > 0 {
                return Err(BooksError::EarningsLeft {
                    person: person.clone(),
                    currency: *currency,
                    left,
                });
            }
        }
        self.erased.insert(person.clone());
        Ok(Applied::NotMoney)
    }

    /// Whether `person` erased their account earlier in the applied entries.
    pub fn is_erased(&self, person: &ShortText) -> bool {
        self.erased.contains(person)
    }

    /// Completes `person`'s pending payout: the money left the books.
    pub fn post_payout(
        &mut self,
        transfer_id: &ShortText,
        person: &ShortText,
    ) -> Result<Applied, BooksError> {
        self.check_payout_of(transfer_id, person)?;
        self.post(transfer_id)
    }

    /// Cancels `person`'s pending payout: the money is back in their earnings.
    pub fn void_payout(
        &mut self,
        transfer_id: &ShortText,
        person: &ShortText,
    ) -> Result<Applied, BooksError> {
        self.check_payout_of(transfer_id, person)?;
        self.void(transfer_id)
    }

    /// What a person can still withdraw in `currency`.
    pub fn earnings_available(&self, person: &ShortText, currency: Currency) -> u64 {
        let account = AccountId::PersonEarnings {
            person: person.clone(),
            currency,
        };
        self.balance(&account)
            .available()
            .expect("a person's earnings are never overdrawn")
    }

    /// Whether `transfer` is a payout: from earnings to the outside world.
    fn is_payout(transfer: &Transfer) -> bool {
        matches!(transfer.debit_account, AccountId::PersonEarnings { .. })
            && matches!(transfer.credit_account, AccountId::Funding { .. })
    }

    /// Refuses a payout entry for a transfer that is not `person`'s payout.
    fn check_payout_of(
        &self,
        transfer_id: &ShortText,
        person: &ShortText,
    ) -> Result<(), BooksError> {
        let transfer = self
            .transfers
            .get(transfer_id)
            .ok_or_else(|| BooksError::UnknownTransfer(transfer_id.clone()))?;
        let theirs = matches!(
            &transfer.debit_account,
            AccountId::PersonEarnings { person: owner, .. } if owner == person
        );
        if Self::is_payout(transfer) && theirs {
            Ok(())
        } else {
            Err(BooksError::NotAPayout(transfer_id.clone()))
        }
    }

    /// Refuses an offer's posting or voiding entry that names a payout.
    fn refuse_payout(&self, transfer_id: &ShortText) -> Result<(), BooksError> {
        match self.transfers.get(transfer_id) {
            Some(transfer) if Self::is_payout(transfer) => {
                Err(BooksError::NotAPayout(transfer_id.clone()))
            }
            _ => Ok(()),
        }
    }

    /// Gives back what a company wallet holds to the outside world (posted
    /// at once); refused beyond the wallet's available balance, so a refund
    /// never takes money held for an offer.
    pub fn refund(
        &mut self,
        transfer_id: &ShortText,
        company_id: &ShortText,
        amount: Money,
    ) -> Result<Applied, BooksError> {
        let transfer = Transfer {
            id: transfer_id.clone(),
            debit_account: AccountId::CompanyWallet {
                company_id: company_id.clone(),
                currency: amount.currency,
            },
            credit_account: AccountId::Funding {
                currency: amount.currency,
            },
            amount,
            two_phase: false,
            state: TransferState::Posted,
        };
        self.take_from_wallet(transfer)
    }

    /// Takes `transfer` from a company wallet (its debit account) within
    /// the wallet's available balance: pending when the transfer is
    /// two-phase, posted at once otherwise. A repeat of an applied
    /// transfer is `AlreadyApplied`.
    fn take_from_wallet(&mut self, transfer: Transfer) -> Result<Applied, BooksError> {
        self.take_within_available(transfer, |available, missing| {
            BooksError::InsufficientFunds { available, missing }
        })
    }

    /// Takes `transfer` from its debit account (a wallet or earnings)
    /// within that account's available balance, `short` naming the
    /// refusal: pending when the transfer is two-phase, posted at once
    /// otherwise. A repeat of an applied transfer is `AlreadyApplied`.
    fn take_within_available(
        &mut self,
        transfer: Transfer,
        short: impl FnOnce(u64, u64) -> BooksError,
    ) -> Result<Applied, BooksError> {
        if self.is_repeat(&transfer)? {
            return Ok(Applied::AlreadyApplied);
        }
        let amount = transfer.amount.amount_micros;
        if amount == 0 {
            return Err(BooksError::ZeroAmount);
        }
        let mut debit = self.balance(&transfer.debit_account);
        let mut credit = self.balance(&transfer.credit_account);
        let available = debit
            .available()
            .expect("a wallet or earnings account is never overdrawn");
        if available < amount {
            return Err(short(available, amount - available));
        }
        let moved = u128::from(amount);
        if transfer.two_phase {
            debit.debits_pending = add(debit.debits_pending, amount)?;
            credit.credits_pending = add(credit.credits_pending, amount)?;
            self.commit(transfer, debit, credit, |t| {
                t.debits_pending += moved;
                t.credits_pending += moved;
            });
        } else {
            debit.debits_posted = add(debit.debits_posted, amount)?;
            credit.credits_posted = add(credit.credits_posted, amount)?;
            self.commit(transfer, debit, credit, |t| {
                t.debits_posted += moved;
                t.credits_posted += moved;
            });
        }
        Ok(Applied::Applied)
    }

    /// Completes a pending transfer.
    pub fn post(&mut self, transfer_id: &ShortText) -> Result<Applied, BooksError> {
        let transfer = self.pending(transfer_id, TransferState::Posted)?;
        let Some(mut transfer) = transfer else {
            return Ok(Applied::AlreadyApplied);
        };
        let amount = transfer.amount.amount_micros;
        let mut debit = self.balance(&transfer.debit_account);
        let mut credit = self.balance(&transfer.credit_account);
        debit.debits_posted = add(debit.debits_posted, amount)?;
        credit.credits_posted = add(credit.credits_posted, amount)?;
        debit.debits_pending = release(debit.debits_pending, amount);
        credit.credits_pending = release(credit.credits_pending, amount);
        transfer.state = TransferState::Posted;
        let moved = u128::from(amount);
        self.commit(transfer, debit, credit, |t| {
            t.debits_pending -= moved;
            t.credits_pending -= moved;
            t.debits_posted += moved;
            t.credits_posted += moved;
        });
        Ok(Applied::Applied)
    }

    /// Cancels a pending transfer, releasing the reservation.
    pub fn void(&mut self, transfer_id: &ShortText) -> Result<Applied, BooksError> {
        let transfer = self.pending(transfer_id, TransferState::Voided)?;
        let Some(mut transfer) = transfer else {
            return Ok(Applied::AlreadyApplied);
        };
        let amount = transfer.amount.amount_micros;
        let mut debit = self.balance(&transfer.debit_account);
        let mut credit = self.balance(&transfer.credit_account);
        debit.debits_pending = release(debit.debits_pending, amount);
        credit.credits_pending = release(credit.credits_pending, amount);
        transfer.state = TransferState::Voided;
        let moved = u128::from(amount);
        self.commit(transfer, debit, credit, |t| {
            t.debits_pending -= moved;
            t.credits_pending -= moved;
        });
        Ok(Applied::Applied)
    }

    /// The balance of an account (all zero if it never moved).
    pub fn balance(&self, account: &AccountId) -> Balance {
        self.accounts.get(account).copied().unwrap_or_default()
    }

    /// What a company wallet can still reserve.
    pub fn wallet_available(&self, company_id: &ShortText, currency: Currency) -> u64 {
        let account = AccountId::CompanyWallet {
            company_id: company_id.clone(),
            currency,
        };
        self.balance(&account)
            .available()
            .expect("a company wallet is never overdrawn")
    }

    /// A transfer by id.
    pub fn transfer(&self, transfer_id: &ShortText) -> Option<&Transfer> {
        self.transfers.get(transfer_id)
    }

    /// Every account that ever moved, in a stable order.
    pub fn accounts(&self) -> impl Iterator<Item = (&AccountId, &Balance)> {
        self.accounts.iter()
    }

    /// Every transfer, ordered by id.
    pub fn transfers(&self) -> impl Iterator<Item = &Transfer> {
        self.transfers.values()
    }

    /// Checks every invariant from scratch (O(accounts + transfers)).
    pub fn check_invariants(&self) -> Result<(), InvariantError> {
        let mut rebuilt: BTreeMap<&AccountId, Balance> = BTreeMap::new();
        for transfer in self.transfers.values() {
            let currency = transfer.amount.currency;
            if transfer.debit_account.currency() != currency
                || transfer.credit_account.currency() != currency
            {
                return Err(InvariantError::CurrencyMix(transfer.id.clone()));
            }
            if transfer.amount.amount_micros == 0 {
                return Err(InvariantError::ZeroTransfer(transfer.id.clone()));
            }
            if !transfer.two_phase && transfer.state != TransferState::Posted {
                return Err(InvariantError::OnePhaseNotPosted(transfer.id.clone()));
            }
            let amount = transfer.amount.amount_micros;
            let overflow = || InvariantError::BalanceMismatch(transfer.debit_account.clone());
            let debit = rebuilt.entry(&transfer.debit_account).or_default();
            match transfer.state {
                TransferState::Pending => {
                    debit.debits_pending = debit
                        .debits_pending
                        .checked_add(amount)
                        .ok_or_else(overflow)?;
                }
                TransferState::Posted => {
                    debit.debits_posted = debit
                        .debits_posted
                        .checked_add(amount)
                        .ok_or_else(overflow)?;
                }
                TransferState::Voided => {}
            }
            let credit = rebuilt.entry(&transfer.credit_account).or_default();
            match transfer.state {
                TransferState::Pending => {
                    credit.credits_pending = credit
                        .credits_pending
                        .checked_add(amount)
                        .ok_or_else(overflow)?;
                }
                TransferState::Posted => {
                    credit.credits_posted = credit
                        .credits_posted
                        .checked_add(amount)
                        .ok_or_else(overflow)?;
                }
                TransferState::Voided => {}
            }
        }
        for (account, balance) in &self.accounts {
            if rebuilt.get(account).copied().unwrap_or_default() != *balance {
                return Err(InvariantError::BalanceMismatch(account.clone()));
            }
        }
        for account in rebuilt.keys() {
            if !self.accounts.contains_key(*account) {
                return Err(InvariantError::BalanceMismatch((*account).clone()));
            }
        }
        let mut sums: BTreeMap<Currency, Totals> = BTreeMap::new();
        for (account, balance) in &self.accounts {
            if Self::never_overdrawn(account) && balance.available().is_none() {
                return Err(InvariantError::Overdrawn(account.clone()));
            }
            let sum = sums.entry(account.currency()).or_default();
            sum.debits_posted += u128::from(balance.debits_posted);
            sum.credits_posted += u128::from(balance.credits_posted);
            sum.debits_pending += u128::from(balance.debits_pending);
            sum.credits_pending += u128::from(balance.credits_pending);
        }
        for (currency, sum) in &sums {
            let kept = self.totals.get(currency).copied().unwrap_or_default();
            if !sum.is_balanced() || *sum != kept {
                return Err(InvariantError::Unbalanced(*currency));
            }
        }
        Ok(())
    }

    /// Accounts whose available balance may never go below zero.
    fn never_overdrawn(account: &AccountId) -> bool {
        matches!(
            account,
            AccountId::CompanyWallet { .. } | AccountId::PersonEarnings { .. }
        )
    }

    /// Whether `transfer` was already applied; an error if its id names another transfer.
    fn is_repeat(&self, transfer: &Transfer) -> Result<bool, BooksError> {
        let Some(existing) = self.transfers.get(&transfer.id) else {
            return Ok(false);
        };
        let same = existing.debit_account == transfer.debit_account
            && existing.credit_account == transfer.credit_account
            && existing.amount == transfer.amount
            && existing.two_phase == transfer.two_phase;
        if same {
            Ok(true)
        } else {
            Err(BooksError::IdReused(transfer.id.clone()))
        }
    }

    /// The pending transfer to move to `target`, or `None` if it is there already.
    fn pending(
        &self,
        transfer_id: &ShortText,
        target: TransferState,
    ) -> Result<Option<Transfer>, BooksError> {
        let transfer = self
            .transfers
            .get(transfer_id)
            .ok_or_else(|| BooksError::UnknownTransfer(transfer_id.clone()))?;
        if !transfer.two_phase {
            return Err(BooksError::NotTwoPhase(transfer_id.clone()));
        }
        match (transfer.state, target) {
            (TransferState::Pending, _) => Ok(Some(transfer.clone())),
            (state, target) if state == target => Ok(None),
            (TransferState::Posted, _) => Err(BooksError::AlreadyPosted(transfer_id.clone())),
            (TransferState::Voided, _) => Err(BooksError::AlreadyVoided(transfer_id.clone())),
        }
    }

    /// Stores the new balances and the transfer, then asserts the cheap invariants.
    fn commit(
        &mut self,
        transfer: Transfer,
        debit: Balance,
        credit: Balance,
        update_totals: impl FnOnce(&mut Totals),
    ) {
        let currency = transfer.amount.currency;
        assert_ne!(transfer.debit_account, transfer.credit_account);
        assert!(transfer.amount.amount_micros > 0);
        assert_eq!(transfer.debit_account.currency(), currency);
        assert_eq!(transfer.credit_account.currency(), currency);
        for (account, balance) in [
            (&transfer.debit_account, debit),
            (&transfer.credit_account, credit),
        ] {
            if Self::never_overdrawn(account) {
                assert!(
                    balance.available().is_some(),
                    "wallet {account:?} overdrawn"
                );
            }
        }
        self.accounts.insert(transfer.debit_account.clone(), debit);
        self.accounts
            .insert(transfer.credit_account.clone(), credit);
        let totals = self.totals.entry(currency).or_default();
        update_totals(totals);
        assert!(
            totals.is_balanced(),
            "debits and credits in {currency} differ"
        );
        self.transfers.insert(transfer.id.clone(), transfer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(s: &str) -> ShortText {
        ShortText::new(s).unwrap()
    }

    fn usd(amount_micros: u64) -> Money {
        Money::new(amount_micros, Currency::new("USD").unwrap())
    }

    fn eur(amount_micros: u64) -> Money {
        Money::new(amount_micros, Currency::new("EUR").unwrap())
    }

    /// A world with one company holding `funded` USD micro-units.
    fn world(funded: u64) -> Books {
        let mut books = Books::new();
        books.fund(&t("fund-1"), &t("acme"), usd(funded)).unwrap();
        books
    }

    fn usd_currency() -> Currency {
        Currency::new("USD").unwrap()
    }

    #[test]
    fn funding_credits_the_wallet_and_debits_the_outside_world() {
        let books = world(100);
        assert_eq!(books.wallet_available(&t("acme"), usd_currency()), 100);
        let funding = books.balance(&AccountId::Funding {
            currency: usd_currency(),
        });
        assert_eq!(funding.debits_posted, 100);
        books.check_invariants().unwrap();
    }

    #[test]
    fn an_erasure_needs_empty_earnings_and_ends_the_pseudonym() {
        let mut books = world(100);
        let p1 = |kind| Entry::new(0, kind);
        books
            .reserve(&t("x1"), &t("acme"), &t("p1"), usd(60))
            .unwrap();
        // Pending earnings: not yet.
        assert!(matches!(
            books.apply(&p1(EntryKind::PersonErased { person: t("p1") })),
            Err(BooksError::EarningsLeft { left: 60, .. })
        ));
        books.post(&t("x1")).unwrap();
        // Posted, not waived: not yet.
        assert!(matches!(
            books.erase(&t("p1")),
            Err(BooksError::EarningsLeft { left: 60, .. })
        ));
        // More than there is cannot be waived.
        assert_eq!(
            books.waive(&t("w1"), &t("p1"), usd(61)),
            Err(BooksError::InsufficientEarnings {
                available: 60,
                missing: 1
            })
        );
        assert_eq!(
            books.waive(&t("w1"), &t("p1"), usd(60)),
            Ok(Applied::Applied)
        );
        let funding = books.balance(&AccountId::Funding {
            currency: usd_currency(),
        });
        assert_eq!(funding.credits_posted, 60);
        assert_eq!(books.erase(&t("p1")), Ok(Applied::NotMoney));
        assert!(books.is_erased(&t("p1")));
        books.check_invariants().unwrap();
        // Nothing may name p1 again, money or not; others go on.
        let before = books.clone();
        for kind in [
            EntryKind::TransferPending {
                transfer_id: t("x2"),
                company_id: t("acme"),
                person: t("p1"),
                amount: usd(1),
            },
            EntryKind::PersonErased { person: t("p1") },
            EntryKind::CompanyBlocked {
                company_id: t("acme"),
                person: t("p1"),
            },
        ] {
            assert_eq!(
                books.apply(&p1(kind)),
                Err(BooksError::ErasedPerson(t("p1")))
            );
        }
        assert_eq!(books, before);
        assert_eq!(
            books.reserve(&t("x3"), &t("acme"), &t("p2"), usd(10)),
            Ok(Applied::Applied)
        );
    }

    #[test]
    fn reservation_holds_funds_until_posted() {
        let mut books = world(100);
        books
            .reserve(&t("x1"), &t("acme"), &t("p1"), usd(60))
            .unwrap();
        assert_eq!(books.wallet_available(&t("acme"), usd_currency()), 40);
        let earnings = AccountId::PersonEarnings {
            person: t("p1"),
            currency: usd_currency(),
        };
        assert_eq!(books.balance(&earnings).credits_pending, 60);
        assert_eq!(books.post(&t("x1")), Ok(Applied::Applied));
        assert_eq!(books.balance(&earnings).credits_posted, 60);
        assert_eq!(books.balance(&earnings).credits_pending, 0);
        assert_eq!(books.wallet_available(&t("acme"), usd_currency()), 40);
        books.check_invariants().unwrap();
    }

    #[test]
    fn voiding_releases_the_reservation() {
        let mut books = world(100);
        books
            .reserve(&t("x1"), &t("acme"), &t("p1"), usd(60))
            .unwrap();
        assert_eq!(books.void(&t("x1")), Ok(Applied::Applied));
        assert_eq!(books.wallet_available(&t("acme"), usd_currency()), 100);
        books.check_invariants().unwrap();
    }

    #[test]
    fn reservation_beyond_the_wallet_is_refused_with_the_shortfall() {
        let mut books = world(100);
        books
            .reserve(&t("x1"), &t("acme"), &t("p1"), usd(70))
            .unwrap();
        let before = books.clone();
        assert_eq!(
            books.reserve(&t("x2"), &t("acme"), &t("p2"), usd(50)),
            Err(BooksError::InsufficientFunds {
                available: 30,
                missing: 20
            })
        );
        assert_eq!(books, before);
        // A wallet in another currency is another account.
        assert_eq!(
            books.reserve(&t("x3"), &t("acme"), &t("p2"), eur(1)),
            Err(BooksError::InsufficientFunds {
                available: 0,
                missing: 1
            })
        );
    }

    #[test]
    fn each_operation_applies_at_most_once() {
        let mut books = world(100);
        assert_eq!(
            books.fund(&t("fund-1"), &t("acme"), usd(100)),
            Ok(Applied::AlreadyApplied)
        );
        books
            .reserve(&t("x1"), &t("acme"), &t("p1"), usd(10))
            .unwrap();
        assert_eq!(
            books.reserve(&t("x1"), &t("acme"), &t("p1"), usd(10)),
            Ok(Applied::AlreadyApplied)
        );
        assert_eq!(books.post(&t("x1")), Ok(Applied::Applied));
        assert_eq!(books.post(&t("x1")), Ok(Applied::AlreadyApplied));
        assert_eq!(books.wallet_available(&t("acme"), usd_currency()), 90);
        books.check_invariants().unwrap();
    }

    #[test]
    fn posted_and_voided_transfers_cannot_change_their_minds() {
        let mut books = world(100);
        books
            .reserve(&t("a"), &t("acme"), &t("p"), usd(10))
            .unwrap();
        books
            .reserve(&t("b"), &t("acme"), &t("p"), usd(10))
            .unwrap();
        books.post(&t("a")).unwrap();
        books.void(&t("b")).unwrap();
        assert_eq!(books.void(&t("a")), Err(BooksError::AlreadyPosted(t("a"))));
        assert_eq!(books.post(&t("b")), Err(BooksError::AlreadyVoided(t("b"))));
        assert_eq!(books.void(&t("b")), Ok(Applied::AlreadyApplied));
        assert_eq!(
            books.post(&t("nope")),
            Err(BooksError::UnknownTransfer(t("nope")))
        );
        assert_eq!(
            books.post(&t("fund-1")),
            Err(BooksError::NotTwoPhase(t("fund-1")))
        );
    }

    #[test]
    fn reused_ids_and_zero_amounts_are_refused() {
        let mut books = world(100);
        assert_eq!(
            books.fund(&t("fund-1"), &t("acme"), usd(5)),
            Err(BooksError::IdReused(t("fund-1")))
        );
        assert_eq!(
            books.reserve(&t("fund-1"), &t("acme"), &t("p"), usd(100)),
            Err(BooksError::IdReused(t("fund-1")))
        );
        assert_eq!(
            books.fund(&t("f2"), &t("acme"), usd(0)),
            Err(BooksError::ZeroAmount)
        );
        assert_eq!(
            books.reserve(&t("r0"), &t("acme"), &t("p"), usd(0)),
            Err(BooksError::ZeroAmount)
        );
    }

    #[test]
    fn balances_never_overflow() {
        let mut books = world(u64::MAX);
        let before = books.clone();
        assert_eq!(
            books.fund(&t("f2"), &t("acme"), usd(1)),
            Err(BooksError::Overflow)
        );
        assert_eq!(books, before);
        books
            .reserve(&t("r1"), &t("acme"), &t("p"), usd(u64::MAX))
            .unwrap();
        books.post(&t("r1")).unwrap();
        books.check_invariants().unwrap();
    }

    #[test]
    fn a_refund_empties_the_wallet_back_to_the_outside_world_but_never_a_reservation() {
        let mut books = world(100);
        books
            .reserve(&t("offer"), &t("acme"), &t("p"), usd(30))
            .unwrap();
        let before = books.clone();
        assert_eq!(
            books.refund(&t("refund"), &t("acme"), usd(71)),
            Err(BooksError::InsufficientFunds {
                available: 70,
                missing: 1
            })
        );
        assert_eq!(books, before);
        books.void(&t("offer")).unwrap();
        assert_eq!(
            books.refund(&t("refund"), &t("acme"), usd(100)),
            Ok(Applied::Applied)
        );
        assert_eq!(
            books.refund(&t("refund"), &t("acme"), usd(100)),
            Ok(Applied::AlreadyApplied)
        );
        assert_eq!(books.wallet_available(&t("acme"), usd_currency()), 0);
        let funding = books.balance(&AccountId::Funding {
            currency: usd_currency(),
        });
        assert_eq!(funding.debits_posted, funding.credits_posted);
        books.check_invariants().unwrap();
        assert_eq!(
            books.refund(&t("r0"), &t("acme"), usd(0)),
            Err(BooksError::ZeroAmount)
        );
        let refund = Entry::new(
            0,
            EntryKind::WalletRefunded {
                transfer_id: t("refund"),
                company_id: t("acme"),
                amount: usd(100),
            },
        );
        let fund = Entry::new(
            0,
            EntryKind::WalletFunded {
                transfer_id: t("fund-1"),
                company_id: t("acme"),
                amount: usd(100),
            },
        );
        assert!(Books::replay([&fund, &refund]).is_ok());
        assert!(matches!(
            Books::replay([&refund]),
            Err(ReplayError::Rejected { position: 0, .. })
        ));
    }

    /// `p1` earned `posted` USD micro-units and has `pending` more offered
    /// (an offer `held`, when there is one).
    fn earned(posted: u64, pending: u64) -> Books {
        let mut books = world(posted + pending + 10);
        books
            .reserve(&t("paid"), &t("acme"), &t("p1"), usd(posted))
            .unwrap();
        books.post(&t("paid")).unwrap();
        if pending > 0 {
            books
                .reserve(&t("held"), &t("acme"), &t("p1"), usd(pending))
                .unwrap();
        }
        books
    }

    #[test]
    fn a_payout_holds_posted_earnings_then_leaves_the_books() {
        let mut books = earned(60, 30);
        assert_eq!(books.earnings_available(&t("p1"), usd_currency()), 60);
        assert_eq!(
            books.request_payout(&t("payout:1"), &t("p1"), usd(50)),
            Ok(Applied::Applied)
        );
        assert_eq!(books.earnings_available(&t("p1"), usd_currency()), 10);
        let funding = AccountId::Funding {
            currency: usd_currency(),
        };
        assert_eq!(books.balance(&funding).credits_pending, 50);
        books.check_invariants().unwrap();
        assert_eq!(
            books.post_payout(&t("payout:1"), &t("p1")),
            Ok(Applied::Applied)
        );
        let earnings = AccountId::PersonEarnings {
            person: t("p1"),
            currency: usd_currency(),
        };
        assert_eq!(books.balance(&earnings).debits_posted, 50);
        assert_eq!(books.balance(&earnings).debits_pending, 0);
        assert_eq!(books.balance(&funding).credits_posted, 50);
        assert_eq!(books.earnings_available(&t("p1"), usd_currency()), 10);
        assert_eq!(
            books.post_payout(&t("payout:1"), &t("p1")),
            Ok(Applied::AlreadyApplied)
        );
        assert_eq!(
            books.void_payout(&t("payout:1"), &t("p1")),
            Err(BooksError::AlreadyPosted(t("payout:1")))
        );
        books.check_invariants().unwrap();
    }

    #[test]
    fn a_voided_payout_returns_the_money_to_the_earnings() {
        let mut books = earned(60, 0);
        books
            .request_payout(&t("payout:1"), &t("p1"), usd(60))
            .unwrap();
        assert_eq!(books.earnings_available(&t("p1"), usd_currency()), 0);
        assert_eq!(
            books.void_payout(&t("payout:1"), &t("p1")),
            Ok(Applied::Applied)
        );
        assert_eq!(books.earnings_available(&t("p1"), usd_currency()), 60);
        books.check_invariants().unwrap();
    }

    #[test]
    fn a_payout_never_takes_more_than_the_posted_earnings() {
        let mut books = earned(60, 30);
        let before = books.clone();
        // Pending offers are not earnings yet.
        assert_eq!(
            books.request_payout(&t("payout:1"), &t("p1"), usd(61)),
            Err(BooksError::InsufficientEarnings {
                available: 60,
                missing: 1
            })
        );
        assert_eq!(books, before);
        books
            .request_payout(&t("payout:1"), &t("p1"), usd(40))
            .unwrap();
        // What is held for one payout cannot be paid out again.
        assert_eq!(
            books.request_payout(&t("payout:2"), &t("p1"), usd(21)),
            Err(BooksError::InsufficientEarnings {
                available: 20,
                missing: 1
            })
        );
        // Another person's earnings, and another currency, are other accounts.
        assert!(matches!(
            books.request_payout(&t("payout:3"), &t("p2"), usd(1)),
            Err(BooksError::InsufficientEarnings { available: 0, .. })
        ));
        assert!(matches!(
            books.request_payout(&t("payout:4"), &t("p1"), eur(1)),
            Err(BooksError::InsufficientEarnings { available: 0, .. })
        ));
        assert_eq!(
            books.request_payout(&t("payout:5"), &t("p1"), usd(0)),
            Err(BooksError::ZeroAmount)
        );
        books.check_invariants().unwrap();
    }

    #[test]
    fn payout_entries_and_offer_entries_do_not_mix() {
        let mut books = earned(60, 30);
        books
            .request_payout(&t("payout:1"), &t("p1"), usd(10))
            .unwrap();
        let before = books.clone();
        // An offer is not a payout, another person's payout is not theirs.
        assert_eq!(
            books.post_payout(&t("held"), &t("p1")),
            Err(BooksError::NotAPayout(t("held")))
        );
        assert_eq!(
            books.void_payout(&t("payout:1"), &t("p2")),
            Err(BooksError::NotAPayout(t("payout:1")))
        );
        // An offer's posting entry cannot settle a payout.
        let posted = Entry::new(
            0,
            EntryKind::TransferPosted {
                transfer_id: t("payout:1"),
            },
        );
        assert_eq!(
            books.apply(&posted),
            Err(BooksError::NotAPayout(t("payout:1")))
        );
        assert_eq!(books, before);
    }

    #[test]
    fn a_forged_log_paying_out_more_than_was_earned_is_refused_on_replay() {
        let p = |kind| Entry::new(0, kind);
        let fund = p(EntryKind::WalletFunded {
            transfer_id: t("f"),
            company_id: t("c"),
            amount: usd(100),
        });
        let offer = p(EntryKind::TransferPending {
            transfer_id: t("o"),
            company_id: t("c"),
            person: t("p"),
            amount: usd(50),
        });
        let paid = p(EntryKind::TransferPosted {
            transfer_id: t("o"),
        });
        let payout = |id: &str, amount| {
            p(EntryKind::PayoutRequested {
                transfer_id: t(id),
                person: t("p"),
                amount: usd(amount),
            })
        };
        let posted = |id: &str| {
            p(EntryKind::PayoutPosted {
                transfer_id: t(id),
                person: t("p"),
            })
        };
        let honest = [&fund, &offer, &paid, &payout("x", 50), &posted("x")];
        assert!(Books::replay(honest).is_ok());
        // Paid out before the offer was paid: nothing was earned yet.
        let early = payout("x", 50);
        assert_eq!(
            Books::replay([&fund, &offer, &early]),
            Err(ReplayError::Rejected {
                position: 2,
                error: BooksError::InsufficientEarnings {
                    available: 0,
                    missing: 50
                }
            })
        );
        // Twice the earnings, in two payouts.
        let second = payout("y", 1);
        assert_eq!(
            Books::replay([
                &fund,
                &offer,
                &paid,
                &payout("x", 50),
                &posted("x"),
                &second
            ]),
            Err(ReplayError::Rejected {
                position: 5,
                error: BooksError::InsufficientEarnings {
                    available: 0,
                    missing: 1
                }
            })
        );
        // Overdrawn earnings written straight into the books are caught too.
        let mut books = Books::replay(honest).unwrap();
        let earnings = AccountId::PersonEarnings {
            person: t("p"),
            currency: usd_currency(),
        };
        books.accounts.get_mut(&earnings).unwrap().debits_posted += 1;
        assert!(books.check_invariants().is_err());
    }

    #[test]
    fn non_money_entries_change_nothing() {
        let mut books = world(1);
        let before = books.clone();
        let entry = Entry::new(
            0,
            EntryKind::CompanyBlocked {
                company_id: t("acme"),
                person: t("p"),
            },
        );
        assert_eq!(books.apply(&entry), Ok(Applied::NotMoney));
        assert_eq!(books, before);
    }

    #[test]
    fn replay_refuses_duplicates_and_impossible_entries() {
        let fund = Entry::new(
            0,
            EntryKind::WalletFunded {
                transfer_id: t("f"),
                company_id: t("c"),
                amount: usd(5),
            },
        );
        let overspend = Entry::new(
            1,
            EntryKind::TransferPending {
                transfer_id: t("x"),
                company_id: t("c"),
                person: t("p"),
                amount: usd(6),
            },
        );
        assert_eq!(
            Books::replay([&fund, &fund]),
            Err(ReplayError::Duplicate { position: 1 })
        );
        assert_eq!(
            Books::replay([&fund, &overspend]),
            Err(ReplayError::Rejected {
                position: 1,
                error: BooksError::InsufficientFunds {
                    available: 5,
                    missing: 1
                }
            })
        );
    }

    #[test]
    fn tampered_books_fail_the_invariant_check() {
        let mut books = world(100);
        books
            .reserve(&t("x"), &t("acme"), &t("p"), usd(10))
            .unwrap();
        let wallet = AccountId::CompanyWallet {
            company_id: t("acme"),
            currency: usd_currency(),
        };
        let mut tampered = books.clone();
        tampered.accounts.get_mut(&wallet).unwrap().credits_posted += 1;
        assert!(tampered.check_invariants().is_err());
        let mut tampered = books.clone();
        tampered.transfers.get_mut(&t("x")).unwrap().state = TransferState::Posted;
        assert!(tampered.check_invariants().is_err());
        let mut tampered = books.clone();
        tampered.transfers.get_mut(&t("x")).unwrap().amount = eur(10);
        assert_eq!(
            tampered.check_invariants(),
            Err(InvariantError::CurrencyMix(t("x")))
        );
    }

    #[derive(Debug, Clone)]
    enum Op {
        Fund {
            id: u8,
            company: u8,
            amount: u64,
            currency: u8,
        },
        Reserve {
            id: u8,
            company: u8,
            person: u8,
            amount: u64,
            currency: u8,
        },
        Post {
            id: u8,
        },
        Void {
            id: u8,
        },
        Refund {
            id: u8,
            company: u8,
            amount: u64,
            currency: u8,
        },
        RequestPayout {
            id: u8,
            person: u8,
            amount: u64,
            currency: u8,
        },
        PostPayout {
            id: u8,
            person: u8,
        },
        VoidPayout {
            id: u8,
            person: u8,
        },
        Waive {
            id: u8,
            person: u8,
            amount: u64,
            currency: u8,
        },
        Erase {
            person: u8,
        },
    }

    fn op() -> impl Strategy<Value = Op> {
        let amount = prop_oneof![0u64..200, Just(u64::MAX), Just(u64::MAX / 2)];
        prop_oneof![
            (0u8..12, 0u8..3, amount.clone(), 0u8..2).prop_map(
                |(id, company, amount, currency)| Op::Fund {
                    id,
                    company,
                    amount,
                    currency
                }
            ),
            (0u8..12, 0u8..3, 0u8..3, amount, 0u8..2).prop_map(
                |(id, company, person, amount, currency)| {
                    Op::Reserve {
                        id,
                        company,
                        person,
                        amount,
                        currency,
                    }
                }
            ),
            (0u8..12).prop_map(|id| Op::Post { id }),
            (0u8..12).prop_map(|id| Op::Void { id }),
            (0u8..12, 0u8..3, 0u64..200, 0u8..2).prop_map(|(id, company, amount, currency)| {
                Op::Refund {
                    id,
                    company,
                    amount,
                    currency,
                }
            }),
            (0u8..12, 0u8..3, 0u64..200, 0u8..2).prop_map(|(id, person, amount, currency)| {
                Op::RequestPayout {
                    id,
                    person,
                    amount,
                    currency,
                }
            }),
            (0u8..12, 0u8..3).prop_map(|(id, person)| Op::PostPayout { id, person }),
            (0u8..12, 0u8..3).prop_map(|(id, person)| Op::VoidPayout { id, person }),
            (0u8..12, 0u8..3, 0u64..200, 0u8..2).prop_map(|(id, person, amount, currency)| {
                Op::Waive {
                    id,
                    person,
                    amount,
                    currency,
                }
            }),
            (0u8..3).prop_map(|person| Op::Erase { person }),
        ]
    }

    fn to_entry(op: &Op, time: i64) -> Entry {
        let money = |amount: u64, c: u8| if c == 0 { usd(amount) } else { eur(amount) };
        let kind = match *op {
            Op::Fund {
                id,
                company,
                amount,
                currency,
            } => EntryKind::WalletFunded {
                transfer_id: t(&format!("t{id}")),
                company_id: t(&format!("c{company}")),
                amount: money(amount, currency),
            },
            Op::Reserve {
                id,
                company,
                person,
                amount,
                currency,
            } => EntryKind::TransferPending {
                transfer_id: t(&format!("t{id}")),
                company_id: t(&format!("c{company}")),
                person: t(&format!("p{person}")),
                amount: money(amount, currency),
            },
            Op::Post { id } => EntryKind::TransferPosted {
                transfer_id: t(&format!("t{id}")),
            },
            Op::Void { id } => EntryKind::TransferVoided {
                transfer_id: t(&format!("t{id}")),
            },
            Op::Refund {
                id,
                company,
                amount,
                currency,
            } => EntryKind::WalletRefunded {
                transfer_id: t(&format!("t{id}")),
                company_id: t(&format!("c{company}")),
                amount: money(amount, currency),
            },
            Op::RequestPayout {
                id,
                person,
                amount,
                currency,
            } => EntryKind::PayoutRequested {
                transfer_id: t(&format!("t{id}")),
                person: t(&format!("p{person}")),
                amount: money(amount, currency),
            },
            Op::PostPayout { id, person } => EntryKind::PayoutPosted {
                transfer_id: t(&format!("t{id}")),
                person: t(&format!("p{person}")),
            },
            Op::VoidPayout { id, person } => EntryKind::PayoutVoided {
                transfer_id: t(&format!("t{id}")),
                person: t(&format!("p{person}")),
            },
            Op::Waive {
                id,
                person,
                amount,
                currency,
            } => EntryKind::EarningsWaived {
                transfer_id: t(&format!("t{id}")),
                person: t(&format!("p{person}")),
                amount: money(amount, currency),
            },
            Op::Erase { person } => EntryKind::PersonErased {
                person: t(&format!("p{person}")),
            },
        };
        Entry::new(time, kind)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn random_operations_keep_every_invariant_and_replay_to_the_same_books(
            ops in proptest::collection::vec(op(), 0..60)
        ) {
            let mut books = Books::new();
            let mut log = Vec::new();
            for (time, op) in (0i64..).zip(&ops) {
                let entry = to_entry(op, time);
                let before = books.clone();
                let names_erased = entry.kind.person().is_some_and(|p| before.is_erased(p));
                match books.apply(&entry) {
                    Ok(Applied::Applied) => log.push(entry.clone()),
                    Ok(Applied::AlreadyApplied) => prop_assert_eq!(&books, &before),
                    Ok(Applied::NotMoney) => {
                        prop_assert!(matches!(op, Op::Erase { .. }), "money entry ignored");
                        log.push(entry.clone());
                    }
                    Err(_) => prop_assert_eq!(&books, &before),
                }
                // An erased person never appears again.
                if names_erased {
                    prop_assert_eq!(&books, &before);
                }
                // An erasure holds only when nothing of theirs was left.
                if let Op::Erase { person } = op
                    && books.is_erased(&t(&format!("p{person}")))
                {
                    for currency in [usd(1).currency, eur(1).currency] {
                        let earnings = books.balance(&AccountId::PersonEarnings {
                            person: t(&format!("p{person}")),
                            currency,
                        });
                        prop_assert_eq!(earnings.available(), Some(0));
                        prop_assert_eq!(earnings.credits_pending + earnings.debits_pending, 0);
                    }
                }
                prop_assert_eq!(books.check_invariants(), Ok(()));
                // Applying the same entry again never changes anything.
                let again = books.clone();
                let _ = books.apply(&entry);
                prop_assert_eq!(&books, &again);
            }
            // The auditor's path: decode the logged bytes and replay them.
            let decoded: Vec<Entry> = log
                .iter()
                .map(|e| Entry::decode(&e.encode()).unwrap())
                .collect();
            let replayed = Books::replay(&decoded).unwrap();
            prop_assert_eq!(replayed, books);
        }
    }
}
