//! A person's password, as an argon2id PHC string.

use sea_orm::entity::prelude::*;

/// One row of `password_credential`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "password_credential")]
pub struct Model {
    /// Owner.
    #[sea_orm(primary_key, auto_increment = false)]
    pub person_id: String,
    /// argon2id PHC string.
    pub hash: String,
    /// Last change.
    pub updated_at: TimeDateTimeWithTimeZone,
}

/// Relations of `password_credential`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
