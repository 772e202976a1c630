//! A write transaction that the application layer (`broker`) owns.
//!
//! A use case begins one ([`Store::begin`]), calls the repository steps it
//! needs on it — each a statement or a few, none deciding anything about a
//! person — and commits. Dropped without [`WriteTx::commit`], it rolls
//! back: nothing happened. Fields are declared so that the transaction
//! ends before the write turn is given back.

use consent_policy::{CompanyId, MAX_BLOCKED_PER_PERSON};
use ledger::{Entry, EntryKind};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter, Set};

use crate::connect::WriteTurn;
use crate::entity::{blocked_company, company, grant, oauth_refresh};
use crate::grant::text;
use crate::ledger::{append_entries, now_unix_ms};
use crate::webhook::{WebhookEvent, enqueue};
use crate::{Grant, PersonId, Store, StoreError, now};

/// One write transaction, in this process's write turn.
pub struct WriteTx<'s> {
    store: &'s Store,
    txn: DatabaseTransaction,
    _turn: WriteTurn,
}

impl Store {
    /// Begins a write transaction for a use case.
    pub async fn begin(&self) -> Result<WriteTx<'_>, StoreError> {
        let (turn, txn) = self.write_txn().await?;
        Ok(WriteTx {
            store: self,
            txn,
            _turn: turn,
        })
    }
}

impl WriteTx<'_> {
    pub(crate) fn txn(&self) -> &DatabaseTransaction {
        &self.txn
    }

    pub(crate) fn store(&self) -> &Store {
        self.store
    }

    pub(crate) fn backend(&self) -> crate::Backend {
        self.store.backend()
    }

    /// Makes every step durable at once.
    pub async fn commit(self) -> Result<(), StoreError> {
        self.txn.commit().await?;
        Ok(())
    }

    /// Locks the person's row and bumps their policy version (every change
    /// to what they share must; see `Store::policy_snapshot`).
    pub async fn change_policy(&self, person: &PersonId) -> Result<(), StoreError> {
        self.store.change_policy(&self.txn, person).await
    }

    /// Adds the block, with its ledger entry; `false` (and nothing
    /// written) when it was there already.
    pub async fn insert_block(
        &self,
        person: &PersonId,
        company_id: &CompanyId,
    ) -> Result<bool, StoreError> {
        if company::Entity::find_by_id(company_id.to_string())
            .one(&self.txn)
            .await?
            .is_none()
        {
            return Err(StoreError::CompanyNotFound(company_id.to_string()));
        }
        let key = (person.as_str().to_owned(), company_id.to_string());
        if blocked_company::Entity::find_by_id(key)
            .one(&self.txn)
            .await?
            .is_some()
        {
            return Ok(false);
        }
        let count = blocked_company::Entity::find()
            .filter(blocked_company::Column::PersonId.eq(person.as_str()))
            .count(&self.txn)
            .await?;
        if count >= MAX_BLOCKED_PER_PERSON as u64 {
            return Err(StoreError::TooManyBlocked {
                max: MAX_BLOCKED_PER_PERSON,
            });
        }
        blocked_company::Entity::insert(blocked_company::ActiveModel {
            person_id: Set(person.as_str().to_owned()),
            company_id: Set(company_id.to_string()),
            created_at: Set(now()),
        })
        .exec(&self.txn)
        .await?;
        let entry = crate::block::block_entry(&self.txn, person, company_id, true).await?;
        append_entries(&self.txn, self.store.backend(), &[entry]).await?;
        Ok(true)
    }

    /// The person's grants to `company_id` that are live now.
    pub async fn live_grants_to(
        &self,
        person: &PersonId,
        company_id: &CompanyId,
    ) -> Result<Vec<Grant>, StoreError> {
        let at = now();
        grant::Entity::find()
            .filter(grant::Column::PersonId.eq(person.as_str()))
            .filter(grant::Column::CompanyId.eq(company_id.as_str()))
            .filter(grant::Column::RevokedAt.is_null())
            .filter(grant::Column::ExpiresAt.gt(at))
            .all(&self.txn)
            .await?
            .into_iter()
            .map(Grant::try_from)
            .collect()
    }

    /// Ends a live grant now: the grant, every refresh family under it,
    /// its `grant_revoked` entry and its `grant.revoked` webhook.
    pub async fn revoke_grant(&self, grant: &Grant, pseudonym: &str) -> Result<(), StoreError> {
        grant::Entity::update_many()
            .col_expr(grant::Column::RevokedAt, Expr::value(Some(now())))
            .filter(grant::Column::Id.eq(&grant.id))
            .exec(&self.txn)
            .await?;
        oauth_refresh::Entity::update_many()
            .col_expr(oauth_refresh::Column::Status, Expr::value("revoked"))
            .filter(oauth_refresh::Column::GrantId.eq(&grant.id))
            .exec(&self.txn)
            .await?;
        let receipt = crate::receipt::issue(
            self.store,
            &self.txn,
            grant,
            ledger::ReceiptEvent::Withdrawn,
            now(),
        )
        .await?;
        let entry = Entry::new(
            now_unix_ms(),
            EntryKind::GrantRevoked {
                grant_id: text(grant.id.as_str())?,
                company_id: text(grant.company_id.to_string())?,
                person: text(pseudonym)?,
                receipt,
            },
        );
        append_entries(&self.txn, self.store.backend(), &[entry]).await?;
        let data = serde_json::json!({"grant_id": grant.id, "request_id": grant.request_id});
        enqueue(
            &self.txn,
            grant.company_id.as_str(),
            WebhookEvent::GrantRevoked,
            data,
        )
        .await
        .map(|_| ())
    }

    /// The person's ledger pseudonym.
    pub async fn pseudonym(&self, person: &PersonId) -> Result<String, StoreError> {
        crate::grant::pseudonym(&self.txn, person).await
    }
}
