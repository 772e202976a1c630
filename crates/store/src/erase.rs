//! The repository steps of a person erasing their account
//! (`broker::erase`): what they still have going is ended, what they
//! earned and leave behind is taken out of the books, then everything that
//! is theirs alone is deleted, their own data key first.
//!
//! What stays, and why: the person row (renamed, no handle, no contact
//! preferences) because grants, receipts, the books and the ledger name its
//! pseudonym; their requests, grants, receipts and reported uses, which hold
//! names, purposes and amounts — never a value — and are the companies'
//! record of what they were given too; their payouts, with the destination
//! replaced, because the operator's books must still show what left.

use consent_policy::Money;
use ledger::{Entry, EntryKind};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::entity::{
    attribute, blocked_company, contact_message, contact_stop, mail_outbox, money_account,
    notify_setting, passkey, password_credential, payout, person, person_key, recovery_code, rule,
    session, webauthn_ceremony,
};
use crate::ledger::{append_entries, now_unix_ms};
use crate::money::{
    AccountKind, add_to, currency, ensure_account, ledger_money, micros, text, unsigned,
};
use crate::{Backend, PersonId, Store, StoreError, WriteTx};

/// What a person has in one currency, as their erasure sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EarningsLeft {
    /// What they could still withdraw.
    pub available: Money,
    /// Held for a payout that has not been confirmed or failed.
    pub paying_out: Money,
    /// Promised by offers not settled yet.
    pub incoming: Money,
}

/// What [`WriteTx::erase_person`] deleted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Erased {
    /// Attribute values destroyed.
    pub attributes: u64,
    /// Sessions ended.
    pub sessions: u64,
    /// Passkeys removed.
    pub passkeys: u64,
}

impl WriteTx<'_> {
    /// The person's handle, checked live (not erased); their row is locked
    /// by [`WriteTx::change_policy`] before.
    pub async fn handle_of(&self, person: &PersonId) -> Result<String, StoreError> {
        person::Entity::find_by_id(person.as_str().to_owned())
            .filter(person::Column::ErasedAt.is_null())
            .one(self.txn())
            .await?
            .map(|row| row.handle)
            .ok_or(StoreError::PersonNotFound)
    }

    /// Every live grant of the person, to any company.
    pub async fn live_grants_of(
        &self,
        person: &PersonId,
    ) -> Result<Vec<consent_policy::Grant>, StoreError> {
        crate::entity::grant::Entity::find()
            .filter(crate::entity::grant::Column::PersonId.eq(person.as_str()))
            .filter(crate::entity::grant::Column::RevokedAt.is_null())
            .filter(crate::entity::grant::Column::ExpiresAt.gt(crate::now()))
            .order_by_asc(crate::entity::grant::Column::CreatedAt)
            .all(self.txn())
            .await?
            .into_iter()
            .map(consent_policy::Grant::try_from)
            .collect()
    }

    /// The person's earnings in every currency they ever earned in.
    pub async fn earnings_left(&self, pseudonym: &str) -> Result<Vec<EarningsLeft>, StoreError> {
        let rows = money_account::Entity::find()
            .filter(money_account::Column::Kind.eq("earnings"))
            .filter(money_account::Column::Owner.eq(pseudonym))
            .order_by_asc(money_account::Column::Currency)
            .all(self.txn())
            .await?;
        rows.into_iter()
            .map(|row| {
                let currency = currency(&row.currency)?;
                let available = row.credits_posted - row.debits_posted - row.debits_pending;
                Ok(EarningsLeft {
                    available: Money::new(unsigned(available, "earnings available")?, currency),
                    paying_out: Money::new(
                        unsigned(row.debits_pending, "earnings debits_pending")?,
                        currency,
                    ),
                    incoming: Money::new(
                        unsigned(row.credits_pending, "earnings credits_pending")?,
                        currency,
                    ),
                })
            })
            .collect()
    }

    /// Takes `amount` (all the person can still withdraw in its currency)
    /// out of their earnings to the outside world, posted at once, with its
    /// `earnings_waived` entry.
    pub async fn waive_earnings(&self, pseudonym: &str, amount: &Money) -> Result<(), StoreError> {
        let value = micros(amount.amount_micros())?;
        if value == 0 {
            return Ok(());
        }
        let earnings =
            crate::money::account_id(&AccountKind::Earnings, pseudonym, amount.currency());
        let funding =
            ensure_account(self.txn(), AccountKind::Funding, "", amount.currency()).await?;
        use money_account::Column as C;
        add_to(self.txn(), &earnings, &[(C::DebitsPosted, value)]).await?;
        add_to(self.txn(), &funding, &[(C::CreditsPosted, value)]).await?;
        let entry = Entry::new(
            now_unix_ms(),
            EntryKind::EarningsWaived {
                transfer_id: text(format!("waive:{pseudonym}:{}", amount.currency().code()))?,
                person: text(pseudonym)?,
                amount: ledger_money(amount)?,
            },
        );
        append_entries(self.txn(), self.backend(), &[entry]).await?;
        Ok(())
    }

    /// Deletes everything that is the person's alone — their data key
    /// (which makes every copy of their sealed values noise), values,
    /// rules, blocks, sessions, passkeys, password, recovery codes,
    /// notification address and mails, messages from companies, payout
    /// destinations — renames the row and appends `person_erased`. Grants,
    /// requests and earnings must have been ended before (the books refuse
    /// an erasure that leaves money behind).
    pub async fn erase_person(
        &self,
        person: &PersonId,
        pseudonym: &str,
    ) -> Result<Erased, StoreError> {
        let id = person.as_str();
        let txn = self.txn();
        person_key::Entity::delete_by_id(id.to_owned())
            .exec(txn)
            .await?;
        let attributes = attribute::Entity::delete_many()
            .filter(attribute::Column::PersonId.eq(id))
            .exec(txn)
            .await?
            .rows_affected;
        let sessions = session::Entity::delete_many()
            .filter(session::Column::PersonId.eq(id))
            .exec(txn)
            .await?
            .rows_affected;
        let passkeys = passkey::Entity::delete_many()
            .filter(passkey::Column::PersonId.eq(id))
            .exec(txn)
            .await?
            .rows_affected;
        rule::Entity::delete_many()
            .filter(rule::Column::PersonId.eq(id))
            .exec(txn)
            .await?;
        blocked_company::Entity::delete_many()
            .filter(blocked_company::Column::PersonId.eq(id))
            .exec(txn)
            .await?;
        password_credential::Entity::delete_many()
            .filter(password_credential::Column::PersonId.eq(id))
            .exec(txn)
            .await?;
        recovery_code::Entity::delete_many()
            .filter(recovery_code::Column::PersonId.eq(id))
            .exec(txn)
            .await?;
        webauthn_ceremony::Entity::delete_many()
            .filter(webauthn_ceremony::Column::PersonId.eq(id))
            .exec(txn)
            .await?;
        notify_setting::Entity::delete_many()
            .filter(notify_setting::Column::PersonId.eq(id))
            .exec(txn)
            .await?;
        mail_outbox::Entity::delete_many()
            .filter(mail_outbox::Column::PersonId.eq(id))
            .exec(txn)
            .await?;
        // The messages companies sent them (the ledger keeps only their
        // ids and counts) and whom they told to stop.
        contact_message::Entity::delete_many()
            .filter(contact_message::Column::PersonId.eq(id))
            .exec(txn)
            .await?;
        contact_stop::Entity::delete_many()
            .filter(contact_stop::Column::PersonId.eq(id))
            .exec(txn)
            .await?;
        payout::Entity::update_many()
            .col_expr(
                payout::Column::Destination,
                Expr::value(crate::payout::ERASED),
            )
            .filter(payout::Column::PersonId.eq(id))
            .exec(txn)
            .await?;
        let at = crate::now().unix_timestamp();
        person::Entity::update_many()
            .col_expr(
                person::Column::Handle,
                Expr::value(erased_handle(pseudonym)),
            )
            .col_expr(person::Column::Contact, Expr::value("{}"))
            .col_expr(person::Column::SharingDefault, Expr::value("share_nothing"))
            .col_expr(person::Column::ErasedAt, Expr::value(Some(at)))
            .filter(person::Column::Id.eq(id))
            .exec(txn)
            .await?;
        let entry = Entry::new(
            now_unix_ms(),
            EntryKind::PersonErased {
                person: text(pseudonym)?,
            },
        );
        append_entries(txn, self.backend(), &[entry]).await?;
        Ok(Erased {
            attributes,
            sessions,
            passkeys,
        })
    }
}

/// The handle an erased person's row keeps: unique, and not a handle
/// anyone can sign up or sign in with (handles hold no `~`).
fn erased_handle(pseudonym: &str) -> String {
    format!("~erased~{pseudonym}")
}

impl Store {
    /// After an erasure committed: leaves no readable copy of the deleted
    /// rows behind where the engine lets us. SQLite zeroes freed content
    /// already (`secure_delete`); its write-ahead log still holds the old
    /// pages until a checkpoint restarts it, so one is run (in full when no
    /// reader holds it; the periodic checkpoint finishes otherwise).
    /// PostgreSQL keeps dead row versions until a vacuum: the person keys'
    /// table is small, so it is vacuumed now. Best effort: the erasure
    /// itself is already durable.
    pub async fn scrub_after_erasure(&self) -> Result<(), StoreError> {
        match self.backend() {
            Backend::Sqlite => {
                self.db
                    .execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
                    .await?;
            }
            Backend::Postgres => {
                self.db.execute_unprepared("VACUUM person_key").await?;
            }
        }
        Ok(())
    }

    /// Whether the person erased their account (an unknown person is not
    /// found).
    pub async fn is_erased(&self, person: &PersonId) -> Result<bool, StoreError> {
        person::Entity::find_by_id(person.as_str().to_owned())
            .one(&self.db)
            .await?
            .map(|row| row.erased_at.is_some())
            .ok_or(StoreError::PersonNotFound)
    }
}
