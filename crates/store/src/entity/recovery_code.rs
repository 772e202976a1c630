//! A one-time recovery code, hashed.

use sea_orm::entity::prelude::*;

/// One row of `recovery_code`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "recovery_code")]
pub struct Model {
    /// Owner.
    #[sea_orm(primary_key, auto_increment = false)]
    pub person_id: String,
    /// SHA-256 of the code.
    #[sea_orm(primary_key, auto_increment = false)]
    pub code_hash: String,
    /// When it was spent.
    pub used_at: Option<TimeDateTimeWithTimeZone>,
}

/// Relations of `recovery_code`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
