//! A signed checkpoint of the log, one per tree size.

use sea_orm::entity::prelude::*;

/// One row of `ledger_checkpoint`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ledger_checkpoint")]
pub struct Model {
    /// The tree size it commits to.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tree_size: i64,
    /// The tree head at that size.
    pub root_hash: Vec<u8>,
    /// The signed note, byte for byte as served.
    pub note: String,
    /// When it was stored.
    pub created_at: TimeDateTimeWithTimeZone,
}

/// Relations of `ledger_checkpoint`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
