//! The hash of one perfect subtree of the log, level 1 and up.

use sea_orm::entity::prelude::*;

/// One row of `ledger_node`: leaves `[idx * 2^level, (idx + 1) * 2^level)`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ledger_node")]
pub struct Model {
    /// When the subtree was completed: `(last_leaf << 6) + level`, where
    /// `last_leaf` is its rightmost leaf (see [`crate::ledger`]), so rows
    /// are appended in key order.
    #[sea_orm(primary_key, auto_increment = false)]
    pub position: i64,
    /// Height of the subtree (1 and up; level 0 is `ledger_entry.leaf_hash`).
    pub level: i32,
    /// Position of the subtree among those of its level.
    pub idx: i64,
    /// The subtree's RFC 9162 hash.
    pub hash: Vec<u8>,
}

/// Relations of `ledger_node`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
