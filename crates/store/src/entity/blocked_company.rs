//! A company a person has blocked: it gets nothing, before any rule.

use sea_orm::entity::prelude::*;

/// One row of `blocked_company`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "blocked_company")]
pub struct Model {
    /// The person who blocked.
    #[sea_orm(primary_key, auto_increment = false)]
    pub person_id: String,
    /// The company blocked.
    #[sea_orm(primary_key, auto_increment = false)]
    pub company_id: String,
    /// When.
    pub created_at: TimeDateTimeWithTimeZone,
}

/// Relations of `blocked_company`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
