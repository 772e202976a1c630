//! Companies people can name in rules and block lists.

use consent_policy::{CompanyId, CompanyKind};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set, SqlErr};

use crate::entity::company;
use crate::{Store, StoreError, now};

/// A company as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Company {
    /// Its id (OAuth `client_id`).
    pub id: CompanyId,
    /// Its display name.
    pub name: String,
    /// When it was registered.
    pub created_at: time::OffsetDateTime,
    /// Real, or a sandbox (synthetic people, `XTS`).
    pub kind: CompanyKind,
}

impl TryFrom<company::Model> for Company {
    type Error = StoreError;
    fn try_from(row: company::Model) -> Result<Self, StoreError> {
        Ok(Company {
            id: CompanyId::parse(&row.id).map_err(StoreError::corrupt)?,
            name: row.name,
            created_at: row.created_at,
            kind: if row.sandbox {
                CompanyKind::Sandbox
            } else {
                CompanyKind::Real
            },
        })
    }
}

impl Store {
    /// Registers a company under `id`.
    pub async fn create_company(&self, id: &CompanyId, name: &str) -> Result<Company, StoreError> {
        let row = company::ActiveModel {
            id: Set(id.to_string()),
            name: Set(name.to_owned()),
            created_at: Set(now()),
            sandbox: Set(false),
            contact: Set(None),
        };
        match row.insert(&self.db).await {
            Ok(row) => Company::try_from(row),
            Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                Err(StoreError::CompanyExists(id.to_string()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Sets how people reach the company about their data (consent
    /// receipts name it as the controller's contact); `None` removes it.
    pub async fn set_company_contact(
        &self,
        id: &CompanyId,
        contact: Option<&str>,
    ) -> Result<(), StoreError> {
        let done = company::Entity::update_many()
            .col_expr(
                company::Column::Contact,
                sea_orm::sea_query::Expr::value(contact.map(str::to_owned)),
            )
            .filter(company::Column::Id.eq(id.as_str()))
            .exec(&self.db)
            .await?;
        if done.rows_affected == 0 {
            return Err(StoreError::CompanyNotFound(id.to_string()));
        }
        Ok(())
    }

    /// The company with this id.
    pub async fn company(&self, id: &CompanyId) -> Result<Company, StoreError> {
        company::Entity::find_by_id(id.to_string())
            .one(&self.db)
            .await?
            .ok_or_else(|| StoreError::CompanyNotFound(id.to_string()))
            .and_then(Company::try_from)
    }

    /// The display names of the given companies, by id, in one query
    /// (pages listing many rows name their companies without a query each).
    pub async fn company_names<'a>(
        &self,
        ids: impl Iterator<Item = &'a CompanyId>,
    ) -> Result<std::collections::HashMap<String, String>, StoreError> {
        crate::money::company_names(&self.db, ids.map(CompanyId::as_str)).await
    }

    /// Every company, by id.
    pub async fn companies(&self) -> Result<Vec<Company>, StoreError> {
        company::Entity::find()
            .order_by_asc(company::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(Company::try_from)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store_test;

    store_test!(companies_are_registered_once, |store| {
        let acme = CompanyId::parse("acme").unwrap();
        let made = store.create_company(&acme, "Acme Corp").await.unwrap();
        assert_eq!(store.company(&acme).await.unwrap(), made);
        assert!(matches!(
            store.create_company(&acme, "Other").await,
            Err(StoreError::CompanyExists(_))
        ));
        assert_eq!(store.companies().await.unwrap(), vec![made]);
        assert!(matches!(
            store.company(&CompanyId::parse("nope").unwrap()).await,
            Err(StoreError::CompanyNotFound(_))
        ));
    });
}
