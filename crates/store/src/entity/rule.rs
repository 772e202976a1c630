//! A person's standing rule, kept in their chosen order.

use sea_orm::entity::prelude::*;

/// One row of `rule`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rule")]
pub struct Model {
    /// Random UUID.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Owner.
    pub person_id: String,
    /// 0-based place in the person's list; first match wins.
    pub position: i32,
    /// The rule as `consent_policy::Rule` JSON.
    pub body: String,
    /// When the rule was written.
    pub created_at: TimeDateTimeWithTimeZone,
}

/// Relations of `rule`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
