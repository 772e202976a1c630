//! Each person's own data key (see [`crate::sealed`], "One key per
//! person"): made the first time something of theirs is sealed, opened to
//! read it, deleted when they erase their account.

use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, DatabaseTransaction, EntityTrait, Set};

use crate::entity::{person, person_key};
use crate::sealed::{self, DataKeys, PersonKey};
use crate::{Store, StoreError};

impl Store {
    /// The person's key as stored (sealed), if they have one.
    pub(crate) async fn sealed_person_key(
        db: &impl ConnectionTrait,
        person_id: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(person_key::Entity::find_by_id(person_id.to_owned())
            .one(db)
            .await?
            .map(|row| row.sealed))
    }

    /// The person's key, opened; `None` when they have none (nothing of
    /// theirs was sealed under one yet, or they erased their account).
    pub(crate) async fn person_key_in(
        &self,
        db: &impl ConnectionTrait,
        person_id: &str,
    ) -> Result<Option<PersonKey>, StoreError> {
        let sealed = Self::sealed_person_key(db, person_id).await?;
        self.open_person_key(person_id, sealed.as_deref())
    }

    /// Opens a sealed person key read elsewhere (a snapshot's join).
    pub(crate) fn open_person_key(
        &self,
        person_id: &str,
        sealed: Option<&str>,
    ) -> Result<Option<PersonKey>, StoreError> {
        sealed
            .map(|sealed| {
                self.keys.open_person_key(person_id, sealed).map_err(|e| {
                    StoreError::corrupt(format!("the data key of person {person_id}: {e}"))
                })
            })
            .transpose()
    }

    /// The person's key, made and stored in `txn` if they have none yet.
    /// Refused for a person who does not exist or erased their account:
    /// nothing of theirs may be sealed again.
    pub(crate) async fn ensure_person_key(
        &self,
        txn: &DatabaseTransaction,
        person_id: &str,
    ) -> Result<PersonKey, StoreError> {
        if let Some(key) = self.person_key_in(txn, person_id).await? {
            return Ok(key);
        }
        let live = person::Entity::find_by_id(person_id.to_owned())
            .one(txn)
            .await?
            .is_some_and(|row| row.erased_at.is_none());
        if !live {
            return Err(StoreError::PersonNotFound);
        }
        let (_, sealed) = self
            .keys
            .new_person_key(person_id)
            .map_err(StoreError::corrupt)?;
        // Two first writes at once: the one that commits first wins, the
        // other inserts nothing and reads the winner's key below.
        person_key::Entity::insert(person_key::ActiveModel {
            person_id: Set(person_id.to_owned()),
            sealed: Set(sealed),
            created_at: Set(crate::now().unix_timestamp()),
        })
        .on_conflict(
            OnConflict::column(person_key::Column::PersonId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
        self.person_key_in(txn, person_id)
            .await?
            .ok_or_else(|| StoreError::corrupt("person key vanished after insert"))
    }
}

/// The bytes of a stored cell bound to (`person_id`, `binding`): a `v2.`
/// value opened with the person's key, a `v1.` value with the server's
/// keys (written before person keys), anything else as it is (plain JSON
/// from before sealing).
pub(crate) fn open_cell(
    keys: &DataKeys,
    person_key: Option<&PersonKey>,
    person_id: &str,
    binding: &str,
    stored: &str,
) -> Result<Vec<u8>, StoreError> {
    if sealed::is_person_sealed(stored) {
        let key = person_key.ok_or_else(|| {
            StoreError::corrupt(format!(
                "{binding} of person {person_id} is sealed under a person key that is gone"
            ))
        })?;
        key.open(person_id, binding, stored)
            .map_err(|e| StoreError::corrupt(format!("{binding} of person {person_id}: {e}")))
    } else if sealed::is_sealed(stored) {
        keys.open(person_id, binding, stored)
            .map_err(|e| StoreError::corrupt(format!("{binding} of person {person_id}: {e}")))
    } else {
        Ok(stored.as_bytes().to_vec())
    }
}

/// Person keys resealed per transaction.
const RESEAL_BATCH: u64 = 500;

impl Store {
    /// Seals every person key under the current server key (the first
    /// half of [`Store::reseal_attributes`]): with the keys resealed, the
    /// values under them need nothing.
    pub(crate) async fn reseal_person_keys(
        &self,
        done: &mut crate::Resealed,
    ) -> Result<(), StoreError> {
        use sea_orm::sea_query::Expr;
        use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect};
        let mut after: Option<String> = None;
        loop {
            let mut query = person_key::Entity::find()
                .order_by_asc(person_key::Column::PersonId)
                .limit(RESEAL_BATCH);
            if let Some(after) = &after {
                query = query.filter(person_key::Column::PersonId.gt(after.as_str()));
            }
            let rows = query.all(&self.db).await?;
            let Some(last) = rows.last() else {
                return Ok(());
            };
            after = Some(last.person_id.clone());
            let (_turn, txn) = self.write_txn().await?;
            for row in rows {
                if self.keys.is_current(&row.sealed) {
                    continue;
                }
                let resealed = self
                    .keys
                    .reseal_person_key(&row.person_id, &row.sealed)
                    .map_err(|e| {
                        StoreError::corrupt(format!(
                            "the data key of person {}: {e}",
                            row.person_id
                        ))
                    })?;
                let changed = person_key::Entity::update_many()
                    .col_expr(person_key::Column::Sealed, Expr::value(resealed))
                    .filter(person_key::Column::PersonId.eq(row.person_id.as_str()))
                    .filter(person_key::Column::Sealed.eq(row.sealed.as_str()))
                    .exec(&txn)
                    .await?;
                done.person_keys += changed.rows_affected;
            }
            txn.commit().await?;
        }
    }
}
