//! A used `private_key_jwt` assertion id.

use sea_orm::entity::prelude::*;

/// One row of `oauth_jti`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "oauth_jti")]
pub struct Model {
    /// The client.
    #[sea_orm(primary_key, auto_increment = false)]
    pub client_id: String,
    /// The assertion's `jti`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub jti: String,
    /// The assertion's `exp`, Unix seconds.
    pub expires_at: i64,
}

/// Relations of `oauth_jti`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
