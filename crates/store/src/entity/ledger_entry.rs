//! A leaf of the transparency log: one encoded ledger entry.

use sea_orm::entity::prelude::*;

/// One row of `ledger_entry`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ledger_entry")]
pub struct Model {
    /// Leaf index, from 0, without gaps.
    #[sea_orm(primary_key, auto_increment = false)]
    pub idx: i64,
    /// When the event happened (the entry's own time), ms since the epoch.
    pub time_unix_ms: i64,
    /// The entry kind's snake_case name, for reading the table by eye.
    pub kind: String,
    /// The exact `Entry::encode()` bytes: the leaf data.
    pub leaf: Vec<u8>,
    /// RFC 9162 leaf hash of `leaf` (level 0 of the tree).
    pub leaf_hash: Vec<u8>,
    /// The pseudonym the entry names, if any: a lookup aid, not part of the leaf.
    pub person: Option<String>,
}

/// Relations of `ledger_entry`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
