//! The log's size: one row, locked by every append.

use sea_orm::entity::prelude::*;

/// The one row of `ledger_head` (`id` = 1).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ledger_head")]
pub struct Model {
    /// Always 1.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    /// Number of leaves in the log.
    pub tree_size: i64,
}

/// Relations of `ledger_head`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
