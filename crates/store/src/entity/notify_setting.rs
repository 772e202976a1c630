//! A person's notification address and choices.

use sea_orm::entity::prelude::*;

/// One row of `notify_setting`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notify_setting")]
pub struct Model {
    /// Whose.
    #[sea_orm(primary_key, auto_increment = false)]
    pub person_id: String,
    /// The address mails go to.
    pub address: String,
    /// Unix seconds the address was verified; `None`: not yet.
    pub verified_at: Option<i64>,
    /// SHA-256 (hex) of the open verification token.
    pub token_hash: Option<String>,
    /// Unix seconds the token ends.
    pub token_expires_at: Option<i64>,
    /// Kinds turned off, comma-separated.
    pub kinds_off: String,
    /// A daily digest instead of single mails.
    pub digest: bool,
    /// Unix seconds of the last digest (or of choosing one).
    pub last_digest_at: Option<i64>,
    /// Unix seconds of the last change.
    pub updated_at: i64,
}

/// Relations of `notify_setting`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
