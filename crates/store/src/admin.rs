//! The operator's steps on clients and people (`apiome company
//! disable|enable|delete|rotate-secret`, `auditor revoke`, `person
//! suspend|unsuspend`), each a step of a [`WriteTx`] that `broker` owns.
//!
//! | step | what changes |
//! |---|---|
//! | [`WriteTx::client_for_update`] | nothing; locks the row (PostgreSQL) |
//! | [`WriteTx::set_client_status`] | `status`, `tokens_after` when given, `revision` + 1 |
//! | [`WriteTx::replace_client_record`] | `record` (a new secret hash), `revision` + 1 |
//! | [`WriteTx::end_client_refresh_tokens`] | every active refresh token of the client → `revoked` |
//! | [`WriteTx::live_grants_of_company`] | nothing |
//! | [`WriteTx::expire_pending_requests_of_company`] | undecided requests → `expired`, their offers voided |
//! | [`WriteTx::refund_wallets`] | what each wallet holds back to funding |
//! | [`WriteTx::set_suspended`] | `person.suspended_at` |
//! | [`WriteTx::append`] | the ledger |
//!
//! A `revision` bump is what makes every process drop its cached record
//! (see `oauth::ClientCache`), so every step that changes the client's row
//! bumps it.

use std::sync::Arc;

use authz::{ClientId, ClientRecord};
use consent_policy::{CompanyId, Money};
use ledger::Entry;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect};

use crate::entity::{data_request, grant, oauth_client, oauth_refresh, person, session};
use crate::ledger::append_entries;
use crate::oauth::{ClientStatus, StoredClient};
use crate::tx::WriteTx;
use crate::{Backend, Grant, PersonId, StoreError, now};

impl WriteTx<'_> {
    /// The client's row as it is now, locked until commit on PostgreSQL
    /// (SQLite's write transaction already excludes every other writer).
    pub async fn client_for_update(
        &self,
        id: &ClientId,
    ) -> Result<Option<Arc<StoredClient>>, StoreError> {
        let mut query = oauth_client::Entity::find_by_id(id.as_str().to_owned());
        if self.backend() == Backend::Postgres {
            query = query.lock_exclusive();
        }
        query
            .one(self.txn())
            .await?
            .map(|row| StoredClient::try_from(row).map(Arc::new))
            .transpose()
    }

    /// Sets the client's status; with `tokens_after` (Unix seconds) every
    /// access token issued at or before it is dead from now on, whatever
    /// the status later becomes.
    pub async fn set_client_status(
        &self,
        id: &ClientId,
        status: ClientStatus,
        tokens_after: Option<i64>,
    ) -> Result<(), StoreError> {
        let mut update = oauth_client::Entity::update_many()
            .col_expr(oauth_client::Column::Status, Expr::value(status.as_str()))
            .col_expr(
                oauth_client::Column::Revision,
                Expr::col(oauth_client::Column::Revision).add(1),
            );
        if let Some(at) = tokens_after {
            update = update.col_expr(oauth_client::Column::TokensAfter, Expr::value(at));
        }
        self.exactly_one_client(update.filter(oauth_client::Column::ClientId.eq(id.as_str())))
            .await
    }

    /// Replaces the client's record (its secret's hash); the old secret
    /// stops working in every process at its next use.
    pub async fn replace_client_record(&self, record: &ClientRecord) -> Result<(), StoreError> {
        let json = serde_json::to_string(record).map_err(StoreError::corrupt)?;
        let update = oauth_client::Entity::update_many()
            .col_expr(oauth_client::Column::Record, Expr::value(json))
            .col_expr(
                oauth_client::Column::Revision,
                Expr::col(oauth_client::Column::Revision).add(1),
            )
            .filter(oauth_client::Column::ClientId.eq(record.client_id.as_str()));
        self.exactly_one_client(update).await
    }

    async fn exactly_one_client(
        &self,
        update: sea_orm::UpdateMany<oauth_client::Entity>,
    ) -> Result<(), StoreError> {
        let done = update.exec(self.txn()).await?;
        if done.rows_affected != 1 {
            return Err(StoreError::corrupt("a client vanished under its update"));
        }
        Ok(())
    }

    /// Ends every refresh token of the client for good; returns how many.
    pub async fn end_client_refresh_tokens(&self, id: &ClientId) -> Result<u64, StoreError> {
        Ok(oauth_refresh::Entity::update_many()
            .col_expr(oauth_refresh::Column::Status, Expr::value("revoked"))
            .filter(oauth_refresh::Column::ClientId.eq(id.as_str()))
            .filter(oauth_refresh::Column::Status.ne("revoked"))
            .exec(self.txn())
            .await?
            .rows_affected)
    }

    /// Every grant to the company that is live now, with each person's
    /// pseudonym (for the `grant_revoked` entries).
    pub async fn live_grants_of_company(
        &self,
        company: &CompanyId,
    ) -> Result<Vec<(Grant, String)>, StoreError> {
        let grants: Vec<Grant> = grant::Entity::find()
            .filter(grant::Column::CompanyId.eq(company.as_str()))
            .filter(grant::Column::RevokedAt.is_null())
            .filter(grant::Column::ExpiresAt.gt(now()))
            .all(self.txn())
            .await?
            .into_iter()
            .map(Grant::try_from)
            .collect::<Result<_, _>>()?;
        let mut out = Vec::with_capacity(grants.len());
        for grant in grants {
            let pseudonym = self.pseudonym(&grant.person_id).await?;
            out.push((grant, pseudonym));
        }
        Ok(out)
    }

    /// Locks the person's row until commit (as every change to their
    /// grants does).
    pub async fn lock_person(&self, person: &PersonId) -> Result<(), StoreError> {
        self.store().lock_person(self.txn(), person).await
    }

    /// What the company holds in money and open requests: how many
    /// requests wait for an answer, what their offers reserve and what its
    /// wallets can still spend, per currency (zero amounts left out).
    pub async fn open_offers_of_company(
        &self,
        company: &CompanyId,
    ) -> Result<(u64, Vec<Money>, Vec<Money>), StoreError> {
        let pending = data_request::Entity::find()
            .filter(data_request::Column::CompanyId.eq(company.as_str()))
            .filter(data_request::Column::Status.eq("pending"))
            .count(self.txn())
            .await?;
        let mut reserved = Vec::new();
        let mut available = Vec::new();
        for balance in crate::money::wallet_in(self.txn(), company).await? {
            if balance.reserved > 0 {
                reserved.push(Money::new(balance.reserved, balance.currency));
            }
            if balance.available > 0 {
                available.push(Money::new(balance.available, balance.currency));
            }
        }
        Ok((pending, reserved, available))
    }

    /// Ends the company's undecided requests as expired and voids their
    /// offers (the reservations go back to the wallet). Returns how many
    /// requests ended and the voided offers' amounts.
    pub async fn expire_pending_requests_of_company(
        &self,
        company: &CompanyId,
    ) -> Result<(u64, Vec<Money>), StoreError> {
        let pending = data_request::Entity::find()
            .filter(data_request::Column::CompanyId.eq(company.as_str()))
            .filter(data_request::Column::Status.eq("pending"))
            .all(self.txn())
            .await?;
        let at = now();
        let mut voided = Vec::new();
        let mut entries = Vec::new();
        for request in &pending {
            data_request::Entity::update_many()
                .col_expr(data_request::Column::Status, Expr::value("expired"))
                .col_expr(data_request::Column::DecidedAt, Expr::value(Some(at)))
                .filter(data_request::Column::Id.eq(&request.id))
                .exec(self.txn())
                .await?;
            if let Some((amount, entry)) =
                crate::money::void_offer(self.txn(), self.backend(), &request.id).await?
            {
                voided.push(amount);
                entries.push(entry);
            }
        }
        self.append(&entries).await?;
        Ok((pending.len() as u64, voided))
    }

    /// Empties the company's wallets back to funding (after its offers
    /// were voided); returns what each currency gave back.
    pub async fn refund_wallets(&self, company: &CompanyId) -> Result<Vec<Money>, StoreError> {
        let refunds = crate::money::refund_wallets(self.txn(), company).await?;
        let (amounts, entries): (Vec<Money>, Vec<Entry>) = refunds.into_iter().unzip();
        self.append(&entries).await?;
        Ok(amounts)
    }

    /// Suspends (`true`) or lifts the suspension of (`false`) the person;
    /// returns whether it changed. A suspension also ends every session.
    pub async fn set_suspended(
        &self,
        person: &PersonId,
        suspended: bool,
    ) -> Result<bool, StoreError> {
        let at = suspended.then(|| now().unix_timestamp());
        let mut update = person::Entity::update_many()
            .col_expr(person::Column::SuspendedAt, Expr::value(at))
            .filter(person::Column::Id.eq(person.as_str()));
        update = if suspended {
            update.filter(person::Column::SuspendedAt.is_null())
        } else {
            update.filter(person::Column::SuspendedAt.is_not_null())
        };
        let changed = update.exec(self.txn()).await?.rows_affected == 1;
        if changed && suspended {
            session::Entity::delete_many()
                .filter(session::Column::PersonId.eq(person.as_str()))
                .exec(self.txn())
                .await?;
        }
        Ok(changed)
    }

    /// Appends entries to the ledger in this transaction.
    pub async fn append(&self, entries: &[Entry]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        append_entries(self.txn(), self.backend(), entries).await?;
        Ok(())
    }
}
