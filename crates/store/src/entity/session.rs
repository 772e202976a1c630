//! A signed-in session; the token itself is never stored.

use sea_orm::entity::prelude::*;

/// One row of `session`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "session")]
pub struct Model {
    /// SHA-256 of the token.
    #[sea_orm(primary_key, auto_increment = false)]
    pub token_hash: String,
    /// Whose.
    pub person_id: String,
    /// Sign-in time.
    pub created_at: TimeDateTimeWithTimeZone,
    /// Last use.
    pub last_seen_at: TimeDateTimeWithTimeZone,
    /// Absolute expiry.
    pub expires_at: TimeDateTimeWithTimeZone,
    /// How the person signed in: RFC 8176 method references, space-separated.
    pub amr: Option<String>,
}

/// Relations of `session`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
