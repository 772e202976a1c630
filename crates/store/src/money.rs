//! Money: company wallets, people's earnings and the transfers between
//! them, kept as double-entry books in the manner of TigerBeetle (see the
//! pure model in `ledger::books`, which an auditor replays from the log).
//!
//! * Funding (`apiome company fund`) moves money from the outside world's
//!   funding account into a company's wallet, posted at once.
//! * An offer reserves its amount from the wallet when the request is made
//!   (a pending transfer to the person's earnings); the grant posts it, a
//!   decline or the request's expiry voids it.
//!
//! Every operation changes the two accounts' running sums, the transfer row
//! and the ledger in the caller's one transaction. A wallet can never spend
//! what it was not funded: the store refuses first and says how much is
//! missing, and a CHECK in the schema is the last line.

use consent_policy::{CompanyId, Currency, Money};
use ledger::{Entry, EntryKind, ShortText};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use time::OffsetDateTime;

use crate::entity::{company, money_account, money_transfer, person};
use crate::ledger::{append_entries, now_unix_ms};
use crate::{Backend, PersonId, Store, StoreError, now};

/// Most transfers one earnings listing returns.
pub const MAX_TRANSFERS_LISTED: u64 = 500;

/// Where a transfer stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferState {
    /// Reserved from the wallet, not yet paid.
    Pending,
    /// Paid.
    Posted,
    /// Cancelled; the reservation went back to the wallet.
    Voided,
}

impl TransferState {
    fn as_str(self) -> &'static str {
        match self {
            TransferState::Pending => "pending",
            TransferState::Posted => "posted",
            TransferState::Voided => "voided",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "pending" => Ok(TransferState::Pending),
            "posted" => Ok(TransferState::Posted),
            "voided" => Ok(TransferState::Voided),
            other => Err(StoreError::corrupt(format!(
                "money_transfer.state holds {other:?}"
            ))),
        }
    }
}

/// One currency of a company's wallet, in micro-units.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalletBalance {
    /// The currency.
    pub currency: Currency,
    /// Everything ever funded.
    pub funded: u64,
    /// Paid to people.
    pub spent: u64,
    /// Held for offers that wait for an answer.
    pub reserved: u64,
    /// What new offers can still reserve: funded − spent − reserved.
    pub available: u64,
}

/// One currency of a person's earnings, in micro-units.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EarningsBalance {
    /// The currency.
    pub currency: Currency,
    /// Paid to the person.
    pub earned: u64,
    /// Offered and reserved, paid if the person approves.
    pub pending: u64,
    /// Paid out to the person's bank or payment account.
    pub paid_out: u64,
    /// Held for a payout the operator has not confirmed or failed yet.
    pub paying_out: u64,
}

impl EarningsBalance {
    /// What the person can still withdraw: earned − paid out − paying out.
    pub fn available(&self) -> u64 {
        self.earned
            .saturating_sub(self.paid_out)
            .saturating_sub(self.paying_out)
    }
}

/// One payment to a person, as they see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersonTransfer {
    /// The transfer's id.
    pub id: String,
    /// The paying company.
    pub company_id: CompanyId,
    /// The company's display name.
    pub company_name: String,
    /// How much.
    pub amount: Money,
    /// Where it stands.
    pub state: TransferState,
    /// The request whose offer it is.
    pub request_id: Option<String>,
    /// Offered at.
    pub created_at: OffsetDateTime,
    /// Paid or cancelled at.
    pub settled_at: Option<OffsetDateTime>,
}

/// A person's earnings: balances per currency and the latest transfers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Earnings {
    /// One per currency the person was ever offered.
    pub balances: Vec<EarningsBalance>,
    /// Newest first, at most [`MAX_TRANSFERS_LISTED`].
    pub transfers: Vec<PersonTransfer>,
}

/// What funding a wallet did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Funded {
    /// The wallet was credited.
    Credited,
    /// This transfer id had credited the same amount before; nothing changed.
    AlreadyCredited,
}

pub(crate) enum AccountKind {
    Funding,
    Wallet,
    Earnings,
}

impl AccountKind {
    fn as_str(&self) -> &'static str {
        match self {
            AccountKind::Funding => "funding",
            AccountKind::Wallet => "wallet",
            AccountKind::Earnings => "earnings",
        }
    }
}

pub(crate) fn account_id(kind: &AccountKind, owner: &str, currency: Currency) -> String {
    match kind {
        AccountKind::Funding => format!("funding/{currency}"),
        _ => format!("{}/{owner}/{currency}", kind.as_str()),
    }
}

pub(crate) fn micros(amount: u64) -> Result<i64, StoreError> {
    i64::try_from(amount).map_err(|_| StoreError::AmountOutOfRange)
}

pub(crate) fn unsigned(value: i64, column: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::corrupt(format!("{column} is negative")))
}

pub(crate) fn currency(code: &str) -> Result<Currency, StoreError> {
    Currency::parse(code).map_err(StoreError::corrupt)
}

pub(crate) fn text(value: impl Into<String>) -> Result<ShortText, StoreError> {
    Ok(ShortText::new(value.into())?)
}

pub(crate) fn ledger_money(money: &Money) -> Result<ledger::Money, StoreError> {
    let currency = ledger::Currency::new(money.currency().code())
        .map_err(|e| StoreError::corrupt(format!("currency: {e}")))?;
    Ok(ledger::Money::new(money.amount_micros(), currency))
}

/// The transfer id of the offer made with request `request_id`.
pub(crate) fn offer_transfer_id(request_id: &str) -> String {
    format!("offer:{request_id}")
}

/// The transfer that pays a person's counter-offer, once the company
/// accepted it (the offer's own transfer is voided then).
pub(crate) fn counter_transfer_id(request_id: &str) -> String {
    format!("counter:{request_id}")
}

/// Makes the account if it does not exist yet.
pub(crate) async fn ensure_account(
    txn: &DatabaseTransaction,
    kind: AccountKind,
    owner: &str,
    currency: Currency,
) -> Result<String, StoreError> {
    let id = account_id(&kind, owner, currency);
    money_account::Entity::insert(money_account::ActiveModel {
        id: Set(id.clone()),
        kind: Set(kind.as_str().to_owned()),
        owner: Set(owner.to_owned()),
        currency: Set(currency.code().to_owned()),
        debits_posted: Set(0),
        credits_posted: Set(0),
        debits_pending: Set(0),
        credits_pending: Set(0),
    })
    .on_conflict(
        OnConflict::column(money_account::Column::Id)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    Ok(id)
}

/// Adds `amount` to the named running sums of an account, refusing with
/// [`StoreError::AmountOutOfRange`] a sum beyond `i64::MAX` (PostgreSQL
/// would fail the statement, SQLite would turn the sum into a float).
pub(crate) async fn add_to(
    txn: &DatabaseTransaction,
    account: &str,
    changes: &[(money_account::Column, i64)],
) -> Result<(), StoreError> {
    let mut update = money_account::Entity::update_many();
    for (column, delta) in changes {
        update = update.col_expr(*column, Expr::col(*column).add(*delta));
        if *delta > 0 {
            update = update.filter(Expr::col(*column).lte(i64::MAX - *delta));
        }
    }
    let done = update
        .filter(money_account::Column::Id.eq(account))
        .exec(txn)
        .await?;
    if done.rows_affected != 1 {
        let exists = money_account::Entity::find_by_id(account.to_owned())
            .one(txn)
            .await?
            .is_some();
        return Err(if exists {
            StoreError::AmountOutOfRange
        } else {
            StoreError::corrupt(format!("account {account} vanished"))
        });
    }
    Ok(())
}

/// An amount as webhook payloads write it (the API's money shape).
fn money_json(money: &Money) -> serde_json::Value {
    serde_json::json!({
        "amount_micros": money.amount_micros(),
        "currency": money.currency().code(),
        "display": money.to_string(),
    })
}

/// Reserves `offer` from the company's wallet for the person: a pending
/// transfer, keyed by the request. Refused with
/// [`StoreError::InsufficientFunds`] when the wallet cannot cover it. When
/// what is left could not cover the same offer again, the company's
/// webhook hears `wallet.low`, in the same transaction.
pub(crate) async fn reserve_offer(
    txn: &DatabaseTransaction,
    backend: Backend,
    company: &CompanyId,
    person: &PersonId,
    pseudonym: &str,
    request_id: &str,
    offer: &Money,
) -> Result<Entry, StoreError> {
    let id = offer_transfer_id(request_id);
    reserve(
        txn, backend, company, person, pseudonym, request_id, &id, offer,
    )
    .await
}

/// [`reserve_offer`] under the transfer id `id`.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn reserve(
    txn: &DatabaseTransaction,
    backend: Backend,
    company: &CompanyId,
    person: &PersonId,
    pseudonym: &str,
    request_id: &str,
    id: &str,
    offer: &Money,
) -> Result<Entry, StoreError> {
    let wallet =
        ensure_account(txn, AccountKind::Wallet, company.as_str(), offer.currency()).await?;
    let earnings = ensure_account(txn, AccountKind::Earnings, pseudonym, offer.currency()).await?;
    let mut query = money_account::Entity::find_by_id(wallet.clone());
    if backend == Backend::Postgres {
        query = query.lock_exclusive();
    }
    let row = query
        .one(txn)
        .await?
        .ok_or_else(|| StoreError::corrupt("wallet vanished"))?;
    let available = row.credits_posted - row.debits_posted - row.debits_pending;
    let amount = micros(offer.amount_micros())?;
    if available < amount {
        let available = Money::new(unsigned(available, "wallet available")?, offer.currency());
        return Err(StoreError::InsufficientFunds {
            missing: Money::new(
                offer.amount_micros() - available.amount_micros(),
                offer.currency(),
            ),
            available,
        });
    }
    use money_account::Column as C;
    add_to(txn, &wallet, &[(C::DebitsPending, amount)]).await?;
    add_to(txn, &earnings, &[(C::CreditsPending, amount)]).await?;
    if available - amount < amount {
        let left = Money::new(
            unsigned(available - amount, "wallet available")?,
            offer.currency(),
        );
        crate::webhook::enqueue(
            txn,
            company.as_str(),
            crate::webhook::WebhookEvent::WalletLow,
            serde_json::json!({
                "available": money_json(&left),
                "last_offer": money_json(offer),
                "request_id": request_id,
            }),
        )
        .await?;
    }
    money_transfer::Entity::insert(money_transfer::ActiveModel {
        id: Set(id.to_owned()),
        debit_account: Set(wallet),
        credit_account: Set(earnings),
        amount: Set(amount),
        currency: Set(offer.currency().code().to_owned()),
        two_phase: Set(true),
        state: Set(TransferState::Pending.as_str().to_owned()),
        company_id: Set(company.to_string()),
        person_id: Set(Some(person.as_str().to_owned())),
        request_id: Set(Some(request_id.to_owned())),
        created_at: Set(now()),
        settled_at: Set(None),
    })
    .exec_without_returning(txn)
    .await?;
    Ok(Entry::new(
        now_unix_ms(),
        EntryKind::TransferPending {
            transfer_id: text(id)?,
            company_id: text(company.to_string())?,
            person: text(pseudonym)?,
            amount: ledger_money(offer)?,
        },
    ))
}

/// Posts (`pay`) or voids the pending offer of request `request_id`. A
/// request without a pending offer settles nothing and returns `None`.
pub(crate) async fn settle_offer(
    txn: &DatabaseTransaction,
    backend: Backend,
    request_id: &str,
    pay: bool,
) -> Result<Option<Entry>, StoreError> {
    settle(txn, backend, &offer_transfer_id(request_id), pay).await
}

/// Posts (`pay`) or voids the pending transfer `id`, if it is pending.
pub(crate) async fn settle(
    txn: &DatabaseTransaction,
    backend: Backend,
    id: &str,
    pay: bool,
) -> Result<Option<Entry>, StoreError> {
    let id = id.to_owned();
    let mut query = money_transfer::Entity::find_by_id(id.clone())
        .filter(money_transfer::Column::State.eq(TransferState::Pending.as_str()));
    if backend == Backend::Postgres {
        query = query.lock_exclusive();
    }
    let Some(transfer) = query.one(txn).await? else {
        return Ok(None);
    };
    use money_account::Column as C;
    let amount = transfer.amount;
    let (state, kind) = if pay {
        add_to(
            txn,
            &transfer.debit_account,
            &[(C::DebitsPending, -amount), (C::DebitsPosted, amount)],
        )
        .await?;
        add_to(
            txn,
            &transfer.credit_account,
            &[(C::CreditsPending, -amount), (C::CreditsPosted, amount)],
        )
        .await?;
        (
            TransferState::Posted,
            EntryKind::TransferPosted {
                transfer_id: text(&id)?,
            },
        )
    } else {
        add_to(txn, &transfer.debit_account, &[(C::DebitsPending, -amount)]).await?;
        add_to(
            txn,
            &transfer.credit_account,
            &[(C::CreditsPending, -amount)],
        )
        .await?;
        (
            TransferState::Voided,
            EntryKind::TransferVoided {
                transfer_id: text(&id)?,
            },
        )
    };
    money_transfer::Entity::update_many()
        .col_expr(money_transfer::Column::State, Expr::value(state.as_str()))
        .col_expr(money_transfer::Column::SettledAt, Expr::value(Some(now())))
        .filter(money_transfer::Column::Id.eq(&id))
        .exec(txn)
        .await?;
    Ok(Some(Entry::new(now_unix_ms(), kind)))
}

/// The company's wallet balances, read on `db` (the pool or a transaction).
pub(crate) async fn wallet_in(
    db: &impl ConnectionTrait,
    company: &CompanyId,
) -> Result<Vec<WalletBalance>, StoreError> {
    let rows = money_account::Entity::find()
        .filter(money_account::Column::Kind.eq(AccountKind::Wallet.as_str()))
        .filter(money_account::Column::Owner.eq(company.as_str()))
        .order_by_asc(money_account::Column::Currency)
        .all(db)
        .await?;
    rows.into_iter()
        .map(|row| {
            let funded = unsigned(row.credits_posted, "credits_posted")?;
            let spent = unsigned(row.debits_posted, "debits_posted")?;
            let reserved = unsigned(row.debits_pending, "debits_pending")?;
            Ok(WalletBalance {
                currency: currency(&row.currency)?,
                funded,
                spent,
                reserved,
                available: funded.saturating_sub(spent).saturating_sub(reserved),
            })
        })
        .collect()
}

/// Voids the pending offer of request `request_id`, if it has one, and
/// says how much went back to the wallet.
pub(crate) async fn void_offer(
    txn: &DatabaseTransaction,
    backend: Backend,
    request_id: &str,
) -> Result<Option<(Money, Entry)>, StoreError> {
    let Some(transfer) = money_transfer::Entity::find_by_id(offer_transfer_id(request_id))
        .filter(money_transfer::Column::State.eq(TransferState::Pending.as_str()))
        .one(txn)
        .await?
    else {
        return Ok(None);
    };
    let amount = Money::new(
        unsigned(transfer.amount, "amount")?,
        currency(&transfer.currency)?,
    );
    Ok(settle_offer(txn, backend, request_id, false)
        .await?
        .map(|entry| (amount, entry)))
}

/// Empties each of the company's wallets back to the funding account:
/// one posted transfer `refund:{company}:{currency}` per currency that
/// holds money. Call it after every open offer was voided; what is still
/// reserved is never taken. Returns the amounts and their entries.
pub(crate) async fn refund_wallets(
    txn: &DatabaseTransaction,
    company: &CompanyId,
) -> Result<Vec<(Money, Entry)>, StoreError> {
    let wallets = money_account::Entity::find()
        .filter(money_account::Column::Kind.eq(AccountKind::Wallet.as_str()))
        .filter(money_account::Column::Owner.eq(company.as_str()))
        .order_by_asc(money_account::Column::Currency)
        .all(txn)
        .await?;
    let mut refunds = Vec::new();
    for wallet in wallets {
        let available = wallet.credits_posted - wallet.debits_posted - wallet.debits_pending;
        if available <= 0 {
            continue;
        }
        let currency = currency(&wallet.currency)?;
        let funding = ensure_account(txn, AccountKind::Funding, "", currency).await?;
        use money_account::Column as C;
        add_to(txn, &wallet.id, &[(C::DebitsPosted, available)]).await?;
        add_to(txn, &funding, &[(C::CreditsPosted, available)]).await?;
        let id = format!("refund:{company}:{}", currency.code());
        let at = now();
        money_transfer::Entity::insert(money_transfer::ActiveModel {
            id: Set(id.clone()),
            debit_account: Set(wallet.id.clone()),
            credit_account: Set(funding),
            amount: Set(available),
            currency: Set(currency.code().to_owned()),
            two_phase: Set(false),
            state: Set(TransferState::Posted.as_str().to_owned()),
            company_id: Set(company.to_string()),
            person_id: Set(None),
            request_id: Set(None),
            created_at: Set(at),
            settled_at: Set(Some(at)),
        })
        .exec_without_returning(txn)
        .await?;
        let amount = Money::new(unsigned(available, "available")?, currency);
        let entry = Entry::new(
            now_unix_ms(),
            EntryKind::WalletRefunded {
                transfer_id: text(id)?,
                company_id: text(company.to_string())?,
                amount: ledger_money(&amount)?,
            },
        );
        refunds.push((amount, entry));
    }
    Ok(refunds)
}

impl Store {
    /// Credits `amount` to the company's wallet: the operator's record of a
    /// payment received. `transfer_id` makes it idempotent: the same id
    /// with the same amount again changes nothing; with another amount or
    /// company it is refused.
    pub async fn fund_wallet(
        &self,
        company: &CompanyId,
        amount: &Money,
        transfer_id: &str,
    ) -> Result<Funded, StoreError> {
        if amount.amount_micros() == 0 {
            return Err(StoreError::ZeroAmount);
        }
        let id = text(transfer_id)?;
        let (_turn, txn) = self.write_txn().await?;
        company::Entity::find_by_id(company.to_string())
            .one(&txn)
            .await?
            .ok_or_else(|| StoreError::CompanyNotFound(company.to_string()))?;
        let funding = ensure_account(&txn, AccountKind::Funding, "", amount.currency()).await?;
        let wallet = ensure_account(
            &txn,
            AccountKind::Wallet,
            company.as_str(),
            amount.currency(),
        )
        .await?;
        let value = micros(amount.amount_micros())?;
        if let Some(existing) = money_transfer::Entity::find_by_id(transfer_id.to_owned())
            .one(&txn)
            .await?
        {
            let same = existing.debit_account == funding
                && existing.credit_account == wallet
                && existing.amount == value;
            return if same {
                Ok(Funded::AlreadyCredited)
            } else {
                Err(StoreError::TransferIdReused(transfer_id.to_owned()))
            };
        }
        use money_account::Column as C;
        add_to(&txn, &funding, &[(C::DebitsPosted, value)]).await?;
        add_to(&txn, &wallet, &[(C::CreditsPosted, value)]).await?;
        let at = now();
        money_transfer::Entity::insert(money_transfer::ActiveModel {
            id: Set(transfer_id.to_owned()),
            debit_account: Set(funding),
            credit_account: Set(wallet),
            amount: Set(value),
            currency: Set(amount.currency().code().to_owned()),
            two_phase: Set(false),
            state: Set(TransferState::Posted.as_str().to_owned()),
            company_id: Set(company.to_string()),
            person_id: Set(None),
            request_id: Set(None),
            created_at: Set(at),
            settled_at: Set(Some(at)),
        })
        .exec_without_returning(&txn)
        .await?;
        let entry = Entry::new(
            now_unix_ms(),
            EntryKind::WalletFunded {
                transfer_id: id,
                company_id: text(company.to_string())?,
                amount: ledger_money(amount)?,
            },
        );
        append_entries(&txn, self.backend(), &[entry]).await?;
        txn.commit().await?;
        Ok(Funded::Credited)
    }

    /// The company's wallet, one balance per currency it was ever funded in.
    pub async fn wallet(&self, company: &CompanyId) -> Result<Vec<WalletBalance>, StoreError> {
        wallet_in(&self.db, company).await
    }

    /// The person's balances per currency and their newest
    /// [`MAX_TRANSFERS_LISTED`] payments.
    ///
    /// # Errors
    /// `PersonNotFound`, or a database error.
    pub async fn earnings(&self, person: &PersonId) -> Result<Earnings, StoreError> {
        let txn = self.read_txn().await?;
        let balances = balances(&txn, person).await?;
        let transfers = payments(&txn, person, None, MAX_TRANSFERS_LISTED).await?;
        txn.commit().await?;
        Ok(Earnings {
            balances,
            transfers,
        })
    }

    /// The person's balances per currency and one page of their payments,
    /// newest first: at most `limit`, all older than `after` (the
    /// `created_at` and id of the last payment of the previous page).
    ///
    /// # Errors
    /// `PersonNotFound`, or a database error.
    pub async fn earnings_page(
        &self,
        person: &PersonId,
        after: Option<(OffsetDateTime, &str)>,
        limit: u64,
    ) -> Result<Earnings, StoreError> {
        let txn = self.read_txn().await?;
        let balances = balances(&txn, person).await?;
        let transfers = payments(&txn, person, after, limit).await?;
        txn.commit().await?;
        Ok(Earnings {
            balances,
            transfers,
        })
    }
}

pub(crate) async fn balances(
    txn: &DatabaseTransaction,
    person: &PersonId,
) -> Result<Vec<EarningsBalance>, StoreError> {
    let pseudonym = person::Entity::find_by_id(person.as_str().to_owned())
        .one(txn)
        .await?
        .ok_or(StoreError::PersonNotFound)?
        .pseudonym;
    money_account::Entity::find()
        .filter(money_account::Column::Kind.eq(AccountKind::Earnings.as_str()))
        .filter(money_account::Column::Owner.eq(&pseudonym))
        .order_by_asc(money_account::Column::Currency)
        .all(txn)
        .await?
        .into_iter()
        .map(|row| {
            Ok(EarningsBalance {
                currency: currency(&row.currency)?,
                earned: unsigned(row.credits_posted, "credits_posted")?,
                pending: unsigned(row.credits_pending, "credits_pending")?,
                paid_out: unsigned(row.debits_posted, "debits_posted")?,
                paying_out: unsigned(row.debits_pending, "debits_pending")?,
            })
        })
        .collect()
}

/// Newest first, keyset-paged on (`created_at`, `id`), both descending.
async fn payments(
    txn: &DatabaseTransaction,
    person: &PersonId,
    after: Option<(OffsetDateTime, &str)>,
    limit: u64,
) -> Result<Vec<PersonTransfer>, StoreError> {
    let mut query =
        money_transfer::Entity::find().filter(money_transfer::Column::PersonId.eq(person.as_str()));
    if let Some((at, id)) = after {
        query = query.filter(
            Condition::any()
                .add(money_transfer::Column::CreatedAt.lt(at))
                .add(
                    Condition::all()
                        .add(money_transfer::Column::CreatedAt.eq(at))
                        .add(money_transfer::Column::Id.lt(id)),
                ),
        );
    }
    let rows = query
        .order_by_desc(money_transfer::Column::CreatedAt)
        .order_by_desc(money_transfer::Column::Id)
        .limit(limit)
        .all(txn)
        .await?;
    let names = company_names(txn, rows.iter().map(|r| r.company_id.as_str())).await?;
    rows.into_iter()
        .map(|row| {
            Ok(PersonTransfer {
                company_name: names.get(&row.company_id).cloned().unwrap_or_default(),
                company_id: CompanyId::parse(&row.company_id).map_err(StoreError::corrupt)?,
                amount: Money::new(unsigned(row.amount, "amount")?, currency(&row.currency)?),
                state: TransferState::parse(&row.state)?,
                id: row.id,
                request_id: row.request_id,
                created_at: row.created_at,
                settled_at: row.settled_at,
            })
        })
        .collect()
}

/// The display names of the given companies, in one query.
pub(crate) async fn company_names<'a>(
    db: &impl ConnectionTrait,
    ids: impl Iterator<Item = &'a str>,
) -> Result<std::collections::HashMap<String, String>, StoreError> {
    let mut ids: Vec<&str> = ids.collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(Default::default());
    }
    Ok(company::Entity::find()
        .filter(company::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entity::data_request;
    use crate::{Channel, Handle, RequestStatus, StoredRequest, store_test};
    use consent_policy::{
        AttributeKey, Bucket, DataRequest, GrantDuration, Profile, SharingDefault, decide,
    };
    use serde_json::json;

    const EUR: Currency = Currency::EUR;

    fn eur(micros: u64) -> Money {
        Money::new(micros, EUR)
    }

    struct World {
        person: PersonId,
        company: CompanyId,
    }

    /// A person with a public name and a semi-private email, under "ask me".
    async fn world(store: &Store) -> World {
        let person = store
            .create_person(&Handle::parse("grace_hopper").unwrap())
            .await
            .unwrap();
        for (key, value, bucket) in [
            ("display_name", json!("Grace Hopper"), Bucket::Public),
            ("email", json!("grace@example.org"), Bucket::SemiPrivate),
        ] {
            store
                .put_attribute(
                    &person.id,
                    &AttributeKey::parse(key).unwrap(),
                    &value,
                    bucket,
                )
                .await
                .unwrap();
        }
        assert_eq!(person.sharing_default, SharingDefault::AskMe);
        let company = CompanyId::parse("acme").unwrap();
        store.create_company(&company, "Acme").await.unwrap();
        World {
            person: person.id,
            company,
        }
    }

    async fn ask(
        store: &Store,
        w: &World,
        key: &str,
        offer: u64,
    ) -> Result<StoredRequest, StoreError> {
        let request = DataRequest::from_json_value(
            json!({"type": "apiome_data", "attributes": [key], "purpose": "marketing",
                   "duration": "P30D", "offer": {"amount_micros": offer, "currency": "EUR"}}),
            &GrantDuration::parse("P1Y").unwrap(),
        )
        .unwrap();
        let profile: Profile = store.profile(&w.person).await.unwrap();
        let decision = decide(&profile, &w.company, &request);
        store
            .record_request(&w.person, &w.company, &request, &decision, Channel::Async)
            .await
    }

    async fn wallet(store: &Store, w: &World) -> WalletBalance {
        let mut all = store.wallet(&w.company).await.unwrap();
        assert_eq!(all.len(), 1);
        all.remove(0)
    }

    /// The books an auditor rebuilds from the log agree with the tables.
    async fn assert_books_match(store: &Store, w: &World) {
        let size = store.ledger_size().await.unwrap();
        let mut entries = Vec::new();
        let mut start = 0;
        while start < size {
            let page = store.ledger_entries(start, size).await.unwrap();
            start += page.len() as u64;
            entries.extend(page.into_iter().map(|e| e.entry));
        }
        let books = ledger::Books::replay(&entries).unwrap();
        books.check_invariants().unwrap();
        let currency = ledger::Currency::new("EUR").unwrap();
        let company = ShortText::new(w.company.to_string()).unwrap();
        for balance in store.wallet(&w.company).await.unwrap() {
            let replayed = books.balance(&ledger::AccountId::CompanyWallet {
                company_id: company.clone(),
                currency,
            });
            assert_eq!(replayed.credits_posted, balance.funded);
            assert_eq!(replayed.debits_posted, balance.spent);
            assert_eq!(replayed.debits_pending, balance.reserved);
        }
        let person = store.person(&w.person).await.unwrap();
        for balance in store.earnings(&w.person).await.unwrap().balances {
            let replayed = books.balance(&ledger::AccountId::PersonEarnings {
                person: ShortText::new(person.pseudonym.clone()).unwrap(),
                currency,
            });
            assert_eq!(replayed.credits_posted, balance.earned);
            assert_eq!(replayed.credits_pending, balance.pending);
        }
    }

    store_test!(funding_beyond_the_books_range_changes_nothing, |store| {
        let w = world(store).await;
        let max = consent_policy::MAX_AMOUNT_MICROS;
        store
            .fund_wallet(&w.company, &eur(max), "bank-max")
            .await
            .unwrap();
        let size = store.ledger_size().await.unwrap();
        assert!(matches!(
            store
                .fund_wallet(&w.company, &eur(1), "bank-one-more")
                .await,
            Err(StoreError::AmountOutOfRange)
        ));
        assert_eq!(store.ledger_size().await.unwrap(), size, "no entry");
        let balance = wallet(store, &w).await;
        assert_eq!((balance.funded, balance.available), (max, max));
        assert_books_match(store, &w).await;
    });

    store_test!(funding_is_idempotent_by_transfer_id, |store| {
        let w = world(store).await;
        assert_eq!(
            store
                .fund_wallet(&w.company, &eur(5_000_000), "bank-1")
                .await
                .unwrap(),
            Funded::Credited
        );
        let size = store.ledger_size().await.unwrap();
        assert_eq!(
            store
                .fund_wallet(&w.company, &eur(5_000_000), "bank-1")
                .await
                .unwrap(),
            Funded::AlreadyCredited
        );
        assert_eq!(store.ledger_size().await.unwrap(), size, "no second entry");
        assert!(matches!(
            store
                .fund_wallet(&w.company, &eur(6_000_000), "bank-1")
                .await,
            Err(StoreError::TransferIdReused(_))
        ));
        assert!(matches!(
            store.fund_wallet(&w.company, &eur(0), "bank-2").await,
            Err(StoreError::ZeroAmount)
        ));
        assert!(matches!(
            store
                .fund_wallet(&CompanyId::parse("nobody").unwrap(), &eur(1), "bank-3")
                .await,
            Err(StoreError::CompanyNotFound(_))
        ));
        let balance = wallet(store, &w).await;
        assert_eq!((balance.funded, balance.available), (5_000_000, 5_000_000));
        assert_books_match(store, &w).await;
    });

    store_test!(an_offer_the_wallet_cannot_cover_changes_nothing, |store| {
        let w = world(store).await;
        store
            .fund_wallet(&w.company, &eur(30_000), "bank-1")
            .await
            .unwrap();
        let size = store.ledger_size().await.unwrap();
        let refused = ask(store, &w, "email", 50_000).await;
        match refused {
            Err(StoreError::InsufficientFunds { missing, available }) => {
                assert_eq!(missing, eur(20_000));
                assert_eq!(available, eur(30_000));
            }
            other => panic!("expected InsufficientFunds, got {other:?}"),
        }
        assert_eq!(store.ledger_size().await.unwrap(), size);
        assert!(
            store
                .requests_for_person(&w.person, false)
                .await
                .unwrap()
                .is_empty()
        );
        // A company that never funded this currency is short by the whole offer.
        store
            .execute_unprepared("DELETE FROM money_transfer")
            .await
            .unwrap();
        store
            .execute_unprepared("DELETE FROM money_account")
            .await
            .unwrap();
        assert!(matches!(
            ask(store, &w, "email", 50_000).await,
            Err(StoreError::InsufficientFunds { missing, .. }) if missing == eur(50_000)
        ));
    });

    store_test!(an_offer_is_held_then_paid_on_approval, |store| {
        let w = world(store).await;
        store
            .fund_wallet(&w.company, &eur(1_000_000), "bank-1")
            .await
            .unwrap();
        let r = ask(store, &w, "email", 250_000).await.unwrap();
        assert_eq!(r.status, RequestStatus::Pending);
        let held = wallet(store, &w).await;
        assert_eq!((held.reserved, held.available), (250_000, 750_000));
        let earnings = store.earnings(&w.person).await.unwrap();
        assert_eq!(earnings.balances[0].pending, 250_000);
        assert_eq!(earnings.transfers[0].state, TransferState::Pending);
        assert_eq!(earnings.transfers[0].company_name, "Acme");

        store.approve_request(&w.person, &r.id, None).await.unwrap();
        let paid = wallet(store, &w).await;
        assert_eq!(
            (paid.spent, paid.reserved, paid.available),
            (250_000, 0, 750_000)
        );
        let earnings = store.earnings(&w.person).await.unwrap();
        assert_eq!(
            (earnings.balances[0].earned, earnings.balances[0].pending),
            (250_000, 0)
        );
        assert_eq!(earnings.transfers[0].state, TransferState::Posted);
        assert!(earnings.transfers[0].settled_at.is_some());
        assert_books_match(store, &w).await;
    });

    store_test!(
        a_remembered_request_pays_its_offer_like_an_approval,
        |store| {
            let w = world(store).await;
            store
                .fund_wallet(&w.company, &eur(1_000_000), "bank-1")
                .await
                .unwrap();
            let first = ask(store, &w, "email", 250_000).await.unwrap();
            store
                .approve_request(&w.person, &first.id, None)
                .await
                .unwrap();
            let again = DataRequest::from_json_value(
                json!({"type": "apiome_data", "attributes": ["email"], "purpose": "marketing",
                   "duration": "P7D", "offer": {"amount_micros": 100_000, "currency": "EUR"}}),
                &GrantDuration::parse("P1Y").unwrap(),
            )
            .unwrap();
            let profile: Profile = store.profile(&w.person).await.unwrap();
            let decision = decide(&profile, &w.company, &again);
            let grant = store
                .record_remembered_request(&w.person, &w.company, &again, &decision)
                .await
                .unwrap()
                .expect("a live grant covers it");
            assert_eq!(grant.price, Some(eur(100_000)));
            let paid = wallet(store, &w).await;
            assert_eq!(
                (paid.spent, paid.reserved, paid.available),
                (350_000, 0, 650_000)
            );
            let earnings = store.earnings(&w.person).await.unwrap();
            assert_eq!(
                (earnings.balances[0].earned, earnings.balances[0].pending),
                (350_000, 0)
            );
            assert_eq!(earnings.transfers[0].state, TransferState::Posted);
            assert_eq!(
                earnings.transfers[0].request_id.as_deref(),
                Some(grant.request_id.as_str())
            );
            assert_books_match(store, &w).await;
        }
    );

    store_test!(a_policy_approved_offer_is_paid_at_once, |store| {
        let w = world(store).await;
        store
            .fund_wallet(&w.company, &eur(1_000_000), "bank-1")
            .await
            .unwrap();
        let r = ask(store, &w, "display_name", 100_000).await.unwrap();
        assert_eq!(r.status, RequestStatus::Approved);
        let paid = wallet(store, &w).await;
        assert_eq!((paid.spent, paid.reserved), (100_000, 0));
        assert_books_match(store, &w).await;
    });

    store_test!(declining_or_expiry_gives_the_money_back, |store| {
        let w = world(store).await;
        store
            .fund_wallet(&w.company, &eur(1_000_000), "bank-1")
            .await
            .unwrap();
        let declined = ask(store, &w, "email", 400_000).await.unwrap();
        let expiring = ask(store, &w, "email", 500_000).await.unwrap();
        assert_eq!(wallet(store, &w).await.available, 100_000);
        store
            .decline_request(&w.person, &declined.id)
            .await
            .unwrap();
        assert_eq!(wallet(store, &w).await.available, 500_000);

        assert_eq!(
            store.sweep_expired().await.unwrap(),
            crate::Swept::default()
        );
        data_request::Entity::update_many()
            .col_expr(
                data_request::Column::ExpiresAt,
                Expr::value(now() - time::Duration::seconds(1)),
            )
            .filter(data_request::Column::Id.eq(&expiring.id))
            .exec(&store.db)
            .await
            .unwrap();
        let swept = store.sweep_expired().await.unwrap();
        assert_eq!((swept.requests, swept.grants), (1, 0));
        assert_eq!(
            store.request(&expiring.id).await.unwrap().status,
            RequestStatus::Expired
        );
        let back = wallet(store, &w).await;
        assert_eq!(
            (back.available, back.reserved, back.spent),
            (1_000_000, 0, 0)
        );
        assert_eq!(
            store.sweep_expired().await.unwrap(),
            crate::Swept::default()
        );
        let states: Vec<TransferState> = store
            .earnings(&w.person)
            .await
            .unwrap()
            .transfers
            .iter()
            .map(|t| t.state)
            .collect();
        assert_eq!(states, [TransferState::Voided, TransferState::Voided]);
        assert_books_match(store, &w).await;
    });

    store_test!(concurrent_offers_never_overdraw_a_wallet, |store| {
        let w = world(store).await;
        // Room for exactly five offers of 0.10.
        store
            .fund_wallet(&w.company, &eur(500_000), "bank-1")
            .await
            .unwrap();
        let w = std::sync::Arc::new(w);
        let mut tasks = Vec::new();
        for _ in 0..12 {
            let store = store.clone();
            let w = w.clone();
            tasks.push(tokio::spawn(async move {
                ask(&store, &w, "email", 100_000).await
            }));
        }
        let mut held = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => held += 1,
                Err(StoreError::InsufficientFunds { .. }) => {}
                Err(other) => panic!("unexpected {other}"),
            }
        }
        assert_eq!(held, 5);
        let balance = wallet(store, &w).await;
        assert_eq!((balance.reserved, balance.available), (500_000, 0));
        assert_books_match(store, &w).await;
    });

    store_test!(the_database_refuses_an_overdrawn_wallet, |store| {
        let w = world(store).await;
        store
            .fund_wallet(&w.company, &eur(10), "bank-1")
            .await
            .unwrap();
        // Even a bug that skipped the check could not spend unfunded money.
        let overdraw = store
            .execute_unprepared(
                "UPDATE money_account SET debits_posted = credits_posted + 1 WHERE kind = 'wallet'",
            )
            .await;
        assert!(overdraw.is_err());
    });
}
