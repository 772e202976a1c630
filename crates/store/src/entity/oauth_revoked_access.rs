//! An access token revoked before its expiry (RFC 7009).

use sea_orm::entity::prelude::*;

/// One row of `oauth_revoked_access`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "oauth_revoked_access")]
pub struct Model {
    /// The token's `jti`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub jti: String,
    /// The token's `exp`, Unix seconds.
    pub expires_at: i64,
}

/// Relations of `oauth_revoked_access`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
