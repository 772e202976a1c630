//! Where a company wants its webhook calls.

use sea_orm::entity::prelude::*;

/// One row of `company_webhook`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "company_webhook")]
pub struct Model {
    /// The company.
    #[sea_orm(primary_key, auto_increment = false)]
    pub company_id: String,
    /// The URL called.
    pub url: String,
    /// Set at.
    pub updated_at: TimeDateTimeWithTimeZone,
}

/// Relations of `company_webhook`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
