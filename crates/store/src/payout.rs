//! Payouts: a person withdraws what they earned, in two phases.
//!
//! | step | books | row | ledger |
//! |---|---|---|---|
//! | [`Store::request_payout`] | earnings `debits_pending` += amount, `funding/<currency>` `credits_pending` += amount | `pending` | `payout_requested` |
//! | [`Store::confirm_payout`] (the operator's bank transfer went through) | both pending sums move to posted | `posted`, the bank reference | `payout_posted` |
//! | [`Store::fail_payout`] | both pending sums released: the money is back in the earnings | `voided`, the reason | `payout_voided` |
//!
//! A request is refused beyond the earnings' available balance (posted
//! earnings less what was paid out or is held for a payout; offers still
//! pending are not earnings yet), and while the person has a pending
//! payout in that currency. On PostgreSQL the person's row is locked first,
//! so one person's requests take turns; SQLite writers take turns anyway;
//! the unique partial index `ux_payout_pending` is the last line.
//!
//! The destination is sealed under the data key, bound to the person and
//! the payout's id, and opened only to be shown (masked to the person, in
//! full to the operator who makes the transfer). The ledger entries carry
//! the pseudonym, the transfer id and the amount only.

use consent_policy::{Money, PayoutDestination};
use ledger::{Entry, EntryKind};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Set, SqlErr,
};
use time::OffsetDateTime;

use crate::entity::{money_account, payout, person};
use crate::ledger::{append_entries, now_unix_ms};
use crate::money::{
    AccountKind, account_id, add_to, currency, ensure_account, ledger_money, micros, text, unsigned,
};
use crate::{Backend, PersonId, Store, StoreError, new_id, now};

/// Rows resealed per transaction.
const RESEAL_BATCH: u64 = 500;

/// Most payouts one operator listing returns.
pub const MAX_PAYOUTS_LISTED: u64 = 1000;

/// Where a payout stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PayoutState {
    /// Held from the earnings; the operator has not confirmed or failed it.
    Pending,
    /// Sent: the operator confirmed the transfer.
    Posted,
    /// Failed: the money is back in the earnings.
    Voided,
}

impl PayoutState {
    /// The state as the API and the column write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Posted => "posted",
            Self::Voided => "voided",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "pending" => Ok(Self::Pending),
            "posted" => Ok(Self::Posted),
            "voided" => Ok(Self::Voided),
            other => Err(StoreError::corrupt(format!("payout.state holds {other:?}"))),
        }
    }
}

/// One payout, its destination opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredPayout {
    /// Its id.
    pub id: String,
    /// The person paid out.
    pub person_id: PersonId,
    /// How much.
    pub amount: Money,
    /// Where it stands.
    pub state: PayoutState,
    /// Where the money goes (personal: show [`PayoutDestination::masked`]);
    /// `None` once the person erased their account.
    pub destination: Option<PayoutDestination>,
    /// The operator's bank reference, once confirmed.
    pub reference: Option<String>,
    /// Why it failed, once failed.
    pub failure_reason: Option<String>,
    /// Asked for at.
    pub created_at: OffsetDateTime,
    /// Confirmed or failed at.
    pub settled_at: Option<OffsetDateTime>,
}

impl StoredPayout {
    /// The payout's transfer id in the books and the ledger.
    pub fn transfer_id(&self) -> String {
        transfer_id(&self.id)
    }
}

fn transfer_id(id: &str) -> String {
    format!("payout:{id}")
}

/// What an erased person's payouts hold instead of a destination.
pub(crate) const ERASED: &str = "erased";

/// The sealing's row binding: the payout's own id, so a destination copied
/// onto another payout or person does not open.
fn seal_key(id: &str) -> String {
    format!("payout:{id}")
}

impl Store {
    /// Holds `amount` of the person's earnings for a payout to
    /// `destination`, records it and its ledger entry.
    ///
    /// # Errors
    /// `PersonNotFound`; `PayoutPending` while one in this currency waits;
    /// `NoEarningsIn` a currency never earned in; `InsufficientEarnings`
    /// beyond what the person can withdraw.
    pub async fn request_payout(
        &self,
        person_id: &PersonId,
        amount: &Money,
        destination: &PayoutDestination,
    ) -> Result<StoredPayout, StoreError> {
        let id = new_id();
        let value = micros(amount.amount_micros())?;
        let (_turn, txn) = self.write_txn().await?;
        let pseudonym = lock_person(&txn, self.backend(), person_id).await?;
        let sealed = self
            .ensure_person_key(&txn, person_id.as_str())
            .await?
            .seal(
                person_id.as_str(),
                &seal_key(&id),
                destination.to_text().as_bytes(),
            )
            .map_err(StoreError::corrupt)?;
        if pending_in(&txn, person_id, amount).await? {
            return Err(StoreError::PayoutPending(amount.currency()));
        }
        let earnings = account_id(&AccountKind::Earnings, &pseudonym, amount.currency());
        let available = self
            .available(&txn, &earnings)
            .await?
            .ok_or(StoreError::NoEarningsIn(amount.currency()))?;
        if available < value {
            let available = unsigned(available, "earnings available")?;
            return Err(StoreError::InsufficientEarnings {
                available: Money::new(available, amount.currency()),
                missing: Money::new(amount.amount_micros() - available, amount.currency()),
            });
        }
        let funding = ensure_account(&txn, AccountKind::Funding, "", amount.currency()).await?;
        use money_account::Column as C;
        add_to(&txn, &earnings, &[(C::DebitsPending, value)]).await?;
        add_to(&txn, &funding, &[(C::CreditsPending, value)]).await?;
        let row = payout::ActiveModel {
            id: Set(id.clone()),
            person_id: Set(person_id.as_str().to_owned()),
            currency: Set(amount.currency().code().to_owned()),
            amount: Set(value),
            state: Set(PayoutState::Pending.as_str().to_owned()),
            destination: Set(sealed),
            reference: Set(None),
            failure_reason: Set(None),
            created_at: Set(now()),
            settled_at: Set(None),
        };
        match payout::Entity::insert(row)
            .exec_without_returning(&txn)
            .await
        {
            Ok(_) => {}
            Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                return Err(StoreError::PayoutPending(amount.currency()));
            }
            Err(e) => return Err(e.into()),
        }
        let entry = Entry::new(
            now_unix_ms(),
            EntryKind::PayoutRequested {
                transfer_id: text(transfer_id(&id))?,
                person: text(pseudonym)?,
                amount: ledger_money(amount)?,
            },
        );
        append_entries(&txn, self.backend(), &[entry]).await?;
        let stored = self.payout_in(&txn, &id).await?;
        txn.commit().await?;
        Ok(stored)
    }

    /// The operator confirms that payout `id` reached the person, under
    /// their bank `reference`.
    ///
    /// # Errors
    /// `PayoutNotFound`, or `PayoutSettled` when it is not pending.
    pub async fn confirm_payout(
        &self,
        id: &str,
        reference: &str,
    ) -> Result<StoredPayout, StoreError> {
        self.settle_payout(id, Settlement::Confirm(reference)).await
    }

    /// The operator fails payout `id` for `reason`: the money goes back to
    /// the person's earnings.
    ///
    /// # Errors
    /// `PayoutNotFound`, or `PayoutSettled` when it is not pending.
    pub async fn fail_payout(&self, id: &str, reason: &str) -> Result<StoredPayout, StoreError> {
        self.settle_payout(id, Settlement::Fail(reason)).await
    }

    /// The person's payout `id`; another person's is not found.
    ///
    /// # Errors
    /// `PayoutNotFound`.
    pub async fn payout_of(&self, person: &PersonId, id: &str) -> Result<StoredPayout, StoreError> {
        let row = payout::Entity::find_by_id(id.to_owned())
            .filter(payout::Column::PersonId.eq(person.as_str()))
            .one(&self.db)
            .await?
            .ok_or_else(|| StoreError::PayoutNotFound(id.to_owned()))?;
        let key = self.person_key_in(&self.db, person.as_str()).await?;
        self.opened(row, key.as_ref())
    }

    /// One page of the person's payouts, newest first: at most `limit`,
    /// all older than `after` (the `created_at` and id of the last one seen).
    pub async fn payouts_page(
        &self,
        person: &PersonId,
        after: Option<(OffsetDateTime, &str)>,
        limit: u64,
    ) -> Result<Vec<StoredPayout>, StoreError> {
        let mut query = payout::Entity::find().filter(payout::Column::PersonId.eq(person.as_str()));
        if let Some((at, id)) = after {
            query = query.filter(
                Condition::any().add(payout::Column::CreatedAt.lt(at)).add(
                    Condition::all()
                        .add(payout::Column::CreatedAt.eq(at))
                        .add(payout::Column::Id.lt(id)),
                ),
            );
        }
        let rows = query
            .order_by_desc(payout::Column::CreatedAt)
            .order_by_desc(payout::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?;
        let key = self.person_key_in(&self.db, person.as_str()).await?;
        rows.into_iter()
            .map(|row| self.opened(row, key.as_ref()))
            .collect()
    }

    /// Every person's payouts for the operator, oldest first, at most
    /// [`MAX_PAYOUTS_LISTED`]: all of them, or only those waiting.
    pub async fn payouts_for_operator(
        &self,
        pending_only: bool,
    ) -> Result<Vec<StoredPayout>, StoreError> {
        let mut query = payout::Entity::find();
        if pending_only {
            query = query.filter(payout::Column::State.eq(PayoutState::Pending.as_str()));
        }
        let rows = query
            .order_by_asc(payout::Column::CreatedAt)
            .order_by_asc(payout::Column::Id)
            .limit(MAX_PAYOUTS_LISTED)
            .all(&self.db)
            .await?;
        let mut keys = std::collections::HashMap::new();
        let mut opened = Vec::with_capacity(rows.len());
        for row in rows {
            if !keys.contains_key(&row.person_id) {
                let key = self.person_key_in(&self.db, &row.person_id).await?;
                keys.insert(row.person_id.clone(), key);
            }
            let key = keys.get(&row.person_id).and_then(Option::as_ref);
            opened.push(self.opened(row, key)?);
        }
        Ok(opened)
    }

    /// Seals every payout destination under the current data key (the
    /// second half of [`Store::reseal_attributes`]), in batches, each its
    /// own transaction; counts into `done`.
    pub(crate) async fn reseal_payouts(
        &self,
        done: &mut crate::Resealed,
    ) -> Result<(), StoreError> {
        let mut after: Option<String> = None;
        loop {
            let mut query = payout::Entity::find()
                .order_by_asc(payout::Column::Id)
                .limit(RESEAL_BATCH);
            if let Some(id) = &after {
                query = query.filter(payout::Column::Id.gt(id.as_str()));
            }
            let rows = query.all(&self.db).await?;
            let Some(last) = rows.last() else {
                return Ok(());
            };
            after = Some(last.id.clone());
            let (_turn, txn) = self.write_txn().await?;
            for row in rows {
                done.values += 1;
                if row.destination == ERASED || crate::sealed::is_person_sealed(&row.destination) {
                    continue;
                }
                let binding = seal_key(&row.id);
                let plain = self
                    .keys
                    .open(&row.person_id, &binding, &row.destination)
                    .map_err(|e| StoreError::corrupt(format!("payout {}: {e}", row.id)))?;
                let sealed = self
                    .ensure_person_key(&txn, &row.person_id)
                    .await?
                    .seal(&row.person_id, &binding, &plain)
                    .map_err(StoreError::corrupt)?;
                let changed = payout::Entity::update_many()
                    .col_expr(payout::Column::Destination, Expr::value(sealed))
                    .filter(payout::Column::Id.eq(row.id.as_str()))
                    .filter(payout::Column::Destination.eq(row.destination.as_str()))
                    .exec(&txn)
                    .await?;
                done.resealed += changed.rows_affected;
            }
            txn.commit().await?;
        }
    }

    async fn settle_payout(
        &self,
        id: &str,
        settlement: Settlement<'_>,
    ) -> Result<StoredPayout, StoreError> {
        let (_turn, txn) = self.write_txn().await?;
        let mut query = payout::Entity::find_by_id(id.to_owned());
        if self.backend() == Backend::Postgres {
            query = query.lock_exclusive();
        }
        let row = query
            .one(&txn)
            .await?
            .ok_or_else(|| StoreError::PayoutNotFound(id.to_owned()))?;
        let state = PayoutState::parse(&row.state)?;
        if state != PayoutState::Pending {
            return Err(StoreError::PayoutSettled {
                id: id.to_owned(),
                state: state.as_str(),
            });
        }
        let pseudonym = person::Entity::find_by_id(row.person_id.clone())
            .one(&txn)
            .await?
            .ok_or(StoreError::PersonNotFound)?
            .pseudonym;
        let code = currency(&row.currency)?;
        let earnings = account_id(&AccountKind::Earnings, &pseudonym, code);
        let funding = account_id(&AccountKind::Funding, "", code);
        let amount = row.amount;
        use money_account::Column as C;
        let (state, kind, reference, reason) = match settlement {
            Settlement::Confirm(reference) => {
                add_to(
                    &txn,
                    &earnings,
                    &[(C::DebitsPending, -amount), (C::DebitsPosted, amount)],
                )
                .await?;
                add_to(
                    &txn,
                    &funding,
                    &[(C::CreditsPending, -amount), (C::CreditsPosted, amount)],
                )
                .await?;
                let kind = EntryKind::PayoutPosted {
                    transfer_id: text(transfer_id(id))?,
                    person: text(pseudonym)?,
                };
                (PayoutState::Posted, kind, Some(reference), None)
            }
            Settlement::Fail(reason) => {
                add_to(&txn, &earnings, &[(C::DebitsPending, -amount)]).await?;
                add_to(&txn, &funding, &[(C::CreditsPending, -amount)]).await?;
                let kind = EntryKind::PayoutVoided {
                    transfer_id: text(transfer_id(id))?,
                    person: text(pseudonym)?,
                };
                (PayoutState::Voided, kind, None, Some(reason))
            }
        };
        payout::Entity::update_many()
            .col_expr(payout::Column::State, Expr::value(state.as_str()))
            .col_expr(payout::Column::SettledAt, Expr::value(Some(now())))
            .col_expr(
                payout::Column::Reference,
                Expr::value(reference.map(str::to_owned)),
            )
            .col_expr(
                payout::Column::FailureReason,
                Expr::value(reason.map(str::to_owned)),
            )
            .filter(payout::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        append_entries(&txn, self.backend(), &[Entry::new(now_unix_ms(), kind)]).await?;
        let stored = self.payout_in(&txn, id).await?;
        txn.commit().await?;
        Ok(stored)
    }

    /// An earnings account's available balance; `None` when the person was
    /// never offered anything in its currency.
    async fn available(
        &self,
        txn: &DatabaseTransaction,
        account: &str,
    ) -> Result<Option<i64>, StoreError> {
        let mut query = money_account::Entity::find_by_id(account.to_owned());
        if self.backend() == Backend::Postgres {
            query = query.lock_exclusive();
        }
        Ok(query
            .one(txn)
            .await?
            .map(|row| row.credits_posted - row.debits_posted - row.debits_pending))
    }

    async fn payout_in(
        &self,
        txn: &DatabaseTransaction,
        id: &str,
    ) -> Result<StoredPayout, StoreError> {
        let row = payout::Entity::find_by_id(id.to_owned())
            .one(txn)
            .await?
            .ok_or_else(|| StoreError::corrupt("a payout vanished in its transaction"))?;
        let key = self.person_key_in(txn, &row.person_id).await?;
        self.opened(row, key.as_ref())
    }

    /// The row as a domain value, its destination opened.
    fn opened(
        &self,
        row: payout::Model,
        person_key: Option<&crate::sealed::PersonKey>,
    ) -> Result<StoredPayout, StoreError> {
        let destination = if row.destination == ERASED {
            None
        } else {
            let plain = crate::person_key::open_cell(
                &self.keys,
                person_key,
                &row.person_id,
                &seal_key(&row.id),
                &row.destination,
            )?;
            let text = String::from_utf8(plain)
                .map_err(|_| StoreError::corrupt("a payout destination is not UTF-8"))?;
            Some(
                PayoutDestination::from_text(&text)
                    .map_err(|_| StoreError::corrupt(format!("payout {} destination", row.id)))?,
            )
        };
        Ok(StoredPayout {
            amount: Money::new(
                unsigned(row.amount, "payout.amount")?,
                currency(&row.currency)?,
            ),
            state: PayoutState::parse(&row.state)?,
            person_id: PersonId::new(row.person_id),
            destination,
            reference: row.reference,
            failure_reason: row.failure_reason,
            created_at: row.created_at,
            settled_at: row.settled_at,
            id: row.id,
        })
    }
}

/// How a pending payout ends.
enum Settlement<'a> {
    /// Sent, under the operator's bank reference.
    Confirm(&'a str),
    /// Failed, for this reason.
    Fail(&'a str),
}

/// The person's pseudonym, their row locked on PostgreSQL so that one
/// person's payout requests take turns.
async fn lock_person(
    txn: &DatabaseTransaction,
    backend: Backend,
    person_id: &PersonId,
) -> Result<String, StoreError> {
    let mut query = person::Entity::find_by_id(person_id.as_str().to_owned())
        .filter(person::Column::ErasedAt.is_null());
    if backend == Backend::Postgres {
        query = query.lock_exclusive();
    }
    Ok(query
        .one(txn)
        .await?
        .ok_or(StoreError::PersonNotFound)?
        .pseudonym)
}

/// Whether the person has a payout waiting in `amount`'s currency.
async fn pending_in(
    txn: &DatabaseTransaction,
    person_id: &PersonId,
    amount: &Money,
) -> Result<bool, StoreError> {
    Ok(payout::Entity::find()
        .filter(payout::Column::PersonId.eq(person_id.as_str()))
        .filter(payout::Column::Currency.eq(amount.currency().code()))
        .filter(payout::Column::State.eq(PayoutState::Pending.as_str()))
        .one(txn)
        .await?
        .is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sealed::DataKeys;
    use crate::{Handle, store_test};
    use consent_policy::{CompanyId, Currency, Iban};

    /// A person who earned `micros` EUR (an offer reserved and paid), on `store`.
    async fn earner(store: &Store, micros: u64) -> PersonId {
        let person = store
            .create_person(&Handle::parse("ada_lovelace").unwrap())
            .await
            .unwrap();
        let acme = CompanyId::parse("acme").unwrap();
        store.create_company(&acme, "Acme").await.unwrap();
        let offer = Money::new(micros, Currency::EUR);
        store.fund_wallet(&acme, &offer, "bank-1").await.unwrap();
        let (_turn, txn) = store.write_txn().await.unwrap();
        let pseudonym = lock_person(&txn, store.backend(), &person.id)
            .await
            .unwrap();
        crate::money::reserve(
            &txn,
            store.backend(),
            &acme,
            &person.id,
            &pseudonym,
            "r1",
            "offer:r1",
            &offer,
        )
        .await
        .unwrap();
        crate::money::settle(&txn, store.backend(), "offer:r1", true)
            .await
            .unwrap();
        txn.commit().await.unwrap();
        person.id
    }

    fn iban() -> PayoutDestination {
        PayoutDestination::Iban(Iban::parse("DE89370400440532013000").unwrap())
    }

    store_test!(
        a_destination_is_sealed_and_opens_after_the_data_key_rotates,
        |store| {
            let old_key = DataKeys::generate().unwrap();
            let before = store.with_data_keys(DataKeys::new(&[old_key]).unwrap());
            let person = earner(&before, 3_000_000).await;
            let two = Money::new(2_000_000, Currency::EUR);
            let made = before.request_payout(&person, &two, &iban()).await.unwrap();
            let row = payout::Entity::find_by_id(made.id.clone())
                .one(&before.db)
                .await
                .unwrap()
                .unwrap();
            assert!(crate::sealed::is_person_sealed(&row.destination));
            assert!(!row.destination.contains("0532013000"));
            // Held once: a second one in EUR waits for the first.
            assert!(matches!(
                before.request_payout(&person, &two, &iban()).await,
                Err(StoreError::PayoutPending(Currency::EUR))
            ));

            let new_key = DataKeys::generate().unwrap();
            let both = store.with_data_keys(DataKeys::new(&[new_key, old_key]).unwrap());
            let done = both.reseal_attributes().await.unwrap();
            // The destination is under the person's key: only that key moves.
            assert_eq!((done.resealed, done.person_keys), (0, 1), "{done:?}");
            let only_new = store.with_data_keys(DataKeys::new(&[new_key]).unwrap());
            let read = only_new.payout_of(&person, &made.id).await.unwrap();
            assert_eq!(read.destination, Some(iban()));
            assert_eq!(read.state, PayoutState::Pending);
            let sent = only_new.confirm_payout(&made.id, "ref-1").await.unwrap();
            assert_eq!(sent.state, PayoutState::Posted);
            assert!(matches!(
                only_new.fail_payout(&made.id, "late").await,
                Err(StoreError::PayoutSettled {
                    state: "posted",
                    ..
                })
            ));
        }
    );
}
