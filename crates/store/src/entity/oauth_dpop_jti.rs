//! A DPoP proof accepted once (the replay cache, RFC 9449 §11.1).

use sea_orm::entity::prelude::*;

/// One row of `oauth_dpop_jti`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "oauth_dpop_jti")]
pub struct Model {
    /// The RFC 7638 thumbprint of the proof's key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub jkt: String,
    /// The proof's `jti`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub jti: String,
    /// When the proof's `iat` is too old for it to be accepted, Unix seconds.
    pub expires_at: i64,
}

/// Relations of `oauth_dpop_jti`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
