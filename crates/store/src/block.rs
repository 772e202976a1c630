//! Companies a person has blocked: denied before any rule is read.

use consent_policy::CompanyId;
use ledger::{Entry, EntryKind, ShortText};
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder};

use crate::entity::{blocked_company, person};
use crate::ledger::{append_entries, now_unix_ms};
use crate::{PersonId, Store, StoreError};

/// What a block or unblock writes to the ledger: the company and the
/// person's pseudonym, nothing else.
pub(crate) async fn block_entry(
    txn: &DatabaseTransaction,
    person: &PersonId,
    company_id: &CompanyId,
    blocked: bool,
) -> Result<Entry, StoreError> {
    let pseudonym = person::Entity::find_by_id(person.as_str().to_owned())
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
    /// Lifts a block and records it in the ledger. Returns whether there
    /// was one; when there was none, nothing is recorded.
    pub async fn unblock_company(
        &self,
        person: &PersonId,
        company_id: &CompanyId,
    ) -> Result<bool, StoreError> {
        let (_turn, txn) = self.write_txn().await?;
        self.change_policy(&txn, person).await?;
        let result = blocked_company::Entity::delete_by_id((
            person.as_str().to_owned(),
            company_id.to_string(),
        ))
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
    use crate::{Handle, PersonId, Store, StoreError, store_test};
    use consent_policy::CompanyId;

    /// The store's part of a block, in a transaction of its own.
    async fn block(
        store: &Store,
        person: &PersonId,
        company: &CompanyId,
    ) -> Result<bool, StoreError> {
        let tx = store.begin().await?;
        let added = tx.insert_block(person, company).await?;
        tx.commit().await?;
        Ok(added)
    }

    store_test!(
        a_blocked_company_is_in_the_profile_until_unblocked,
        |store| {
            let ada = store
                .create_person(&Handle::parse("ada").unwrap())
                .await
                .unwrap();
            let acme = CompanyId::parse("acme").unwrap();
            store.create_company(&acme, "Acme").await.unwrap();
            assert!(block(store, &ada.id, &acme).await.unwrap());
            assert!(!block(store, &ada.id, &acme).await.unwrap());
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
        let err = block(store, &ada.id, &CompanyId::parse("ghost").unwrap())
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::CompanyNotFound(_)));
        assert!(store.blocked_companies(&ada.id).await.unwrap().is_empty());
    });
}
