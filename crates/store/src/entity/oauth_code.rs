//! An authorization code, by hash.

use sea_orm::entity::prelude::*;

/// One row of `oauth_code`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "oauth_code")]
pub struct Model {
    /// SHA-256 of the code.
    #[sea_orm(primary_key, auto_increment = false)]
    pub code_hash: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The `authz::CodeRecord`, JSON.
    pub record: String,
    /// Unix seconds.
    pub expires_at: i64,
    /// When it was redeemed, Unix seconds.
    pub used_at: Option<i64>,
    /// The refresh family its redemption started.
    pub family_id: Option<String>,
    /// The `jti` of the access token its redemption issued.
    pub access_jti: Option<String>,
    /// That token's `exp`.
    pub access_expires_at: Option<i64>,
}

/// Relations of `oauth_code`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
