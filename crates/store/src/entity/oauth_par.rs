//! A pushed authorization request (RFC 9126).

use sea_orm::entity::prelude::*;

/// One row of `oauth_par`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "oauth_par")]
pub struct Model {
    /// SHA-256 of the `request_uri`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub request_uri_hash: String,
    /// Who pushed it.
    pub client_id: String,
    /// The `authz::PushedRequest`, JSON.
    pub record: String,
    /// Unix seconds.
    pub expires_at: i64,
    /// When it was redeemed, Unix seconds.
    pub used_at: Option<i64>,
}

/// Relations of `oauth_par`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
