//! A refresh token, by hash, in its family.

use sea_orm::entity::prelude::*;

/// One row of `oauth_refresh`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "oauth_refresh")]
pub struct Model {
    /// SHA-256 of the token.
    #[sea_orm(primary_key, auto_increment = false)]
    pub token_hash: String,
    /// Its family (UUID).
    pub family_id: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The grant it reads under.
    pub grant_id: String,
    /// The `authz::RefreshRecord`, JSON.
    pub record: String,
    /// `active`, `rotated` or `revoked` (authoritative over the record).
    pub status: String,
    /// Unix seconds.
    pub expires_at: i64,
}

/// Relations of `oauth_refresh`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
