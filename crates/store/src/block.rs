//! Companies a person has blocked: denied before any rule is read.

use consent_policy::{CompanyId, MAX_BLOCKED_PER_PERSON};
use ledger::{Entry, EntryKind, ShortText};
use sea_orm::{
    ColumnTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
};

use crate::entity::{blocked_company, company, person};
use crate::ledger::{append_entries, now_unix_ms};
use crate::{PersonId, Store, StoreError, now};

/// What a block or unblock writes to the ledger: the company and the
/// person's pseudonym, nothing else.
async fn block_entry(
    txn: &DatabaseTransaction,
    person: &PersonId,
    company_id: &CompanyId,
    blocked: bool,
) -> Result<Entry, StoreError> {
    let pseudonym = person::Entity::find_by_id(person.0.clone())
        .one(txn)
        .await?
        .ok_or(StoreError::PersonNotFound)?
        .pseudonym;
    let company_id = ShortText::new(company_id.to_string())?;
    let person = ShortText::new(pseudonym)?;
    let kind = if blocked {
        EntryKind::CompanyBlocked { company_id, person }
    } else {
        EntryKind::CompanyUnblocked { company_id, person }
    };
    Ok(Entry::new(now_unix_ms(), kind))
}

impl Store {
    /// Blocks a company for this person and records it in the ledger.
    /// Blocking twice is harmless and records nothing the second time.
    pub async fn block_company(
        &self,
        person: &PersonId,
        company_id: &CompanyId,
    ) -> Result<(), StoreError> {
        let (_turn, txn) = self.write_txn().await?;
        self.lock_person(&txn, person).await?;
        if company::Entity::find_by_id(company_id.to_string())
            .one(&txn)
            .await?
            .is_none()
        {
            return Err(StoreError::CompanyNotFound(company_id.to_string()));
        }
        let already =
            blocked_company::Entity::find_by_id((person.0.clone(), company_id.to_string()))
                .one(&txn)
                .await?
                .is_some();
        if already {
            return Ok(());
        }
        let count = blocked_company::Entity::find()
            .filter(blocked_company::Column::PersonId.eq(person.as_str()))
            .count(&txn)
            .await?;
        if count >= MAX_BLOCKED_PER_PERSON as u64 {
            return Err(StoreError::TooManyBlocked {
                max: MAX_BLOCKED_PER_PERSON,
            });
        }
        let row = blocked_company::ActiveModel {
            person_id: Set(person.0.clone()),
            company_id: Set(company_id.to_string()),
            created_at: Set(now()),
        };
        // The person's row is locked, so no one else inserts this block now.
        blocked_company::Entity::insert(row).exec(&txn).await?;
        let entry = block_entry(&txn, person, company_id, true).await?;
        append_entries(&txn, self.backend(), &[entry]).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Lifts a block and records it in the ledger. Returns whether there
    /// was one; when there was none, nothing is recorded.
    pub async fn unblock_company(
        &self,
        person: &PersonId,
        company_id: &CompanyId,
    ) -> Result<bool, StoreError> {
        let (_turn, txn) = self.write_txn().await?;
        let result =
            blocked_company::Entity::delete_by_id((person.0.clone(), company_id.to_string()))
                .exec(&txn)
                .await?;
        if result.rows_affected == 0 {
            return Ok(false);
        }
        let entry = block_entry(&txn, person, company_id, false).await?;
        append_entries(&txn, self.backend(), &[entry]).await?;
        txn.commit().await?;
        Ok(true)
    }

    /// The companies this person has blocked, by id.
    pub async fn blocked_companies(&self, person: &PersonId) -> Result<Vec<CompanyId>, StoreError> {
        blocked_company::Entity::find()
            .filter(blocked_company::Column::PersonId.eq(person.as_str()))
            .order_by_asc(blocked_company::Column::CompanyId)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| CompanyId::parse(&row.company_id).map_err(StoreError::corrupt))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::{Handle, StoreError, store_test};
    use consent_policy::CompanyId;

    store_test!(
        a_blocked_company_is_in_the_profile_until_unblocked,
        |store| {
            let ada = store
                .create_person(&Handle::parse("ada").unwrap())
                .await
                .unwrap();
            let acme = CompanyId::parse("acme").unwrap();
            store.create_company(&acme, "Acme").await.unwrap();
            store.block_company(&ada.id, &acme).await.unwrap();
            store.block_company(&ada.id, &acme).await.unwrap();
            assert_eq!(
                store.blocked_companies(&ada.id).await.unwrap(),
                vec![acme.clone()]
            );
            assert!(
                store
                    .profile(&ada.id)
                    .await
                    .unwrap()
                    .blocked
                    .contains(&acme)
            );
            assert!(store.unblock_company(&ada.id, &acme).await.unwrap());
            assert!(!store.unblock_company(&ada.id, &acme).await.unwrap());
            assert!(store.profile(&ada.id).await.unwrap().blocked.is_empty());
        }
    );

    store_test!(an_unknown_company_cannot_be_blocked, |store| {
        let ada = store
            .create_person(&Handle::parse("ada").unwrap())
            .await
            .unwrap();
        let err = store
            .block_company(&ada.id, &CompanyId::parse("ghost").unwrap())
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::CompanyNotFound(_)));
        assert!(store.blocked_companies(&ada.id).await.unwrap().is_empty());
    });
}
