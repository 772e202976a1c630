//! A signed consent receipt (see the `receipts` migration).

use sea_orm::entity::prelude::*;

/// One row of `consent_receipt`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "consent_receipt")]
pub struct Model {
    /// The receipt id (`jti`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The grant it records.
    pub grant_id: String,
    /// Whose consent.
    pub person_id: String,
    /// The company holding the grant.
    pub company_id: String,
    /// `given`, `renewed` or `withdrawn`.
    pub event: String,
    /// The compact JWS, as signed.
    pub jws: String,
    /// Hex SHA-256 of `jws`, as in the ledger entry.
    pub sha256: String,
    /// The ledger entry carrying the hash.
    pub ledger_idx: Option<i64>,
    /// Unix seconds.
    pub created_at: i64,
}

/// Relations of `consent_receipt`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
