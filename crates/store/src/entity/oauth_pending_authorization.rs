//! An authorization request waiting on the consent screen.

use sea_orm::entity::prelude::*;

/// One row of `oauth_pending_authorization`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "oauth_pending_authorization")]
pub struct Model {
    /// Random id the consent form carries.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The requesting client.
    pub client_id: String,
    /// The `authz::AuthorizationRequest`, JSON.
    pub record: String,
    /// Unix seconds.
    pub expires_at: i64,
}

/// Relations of `oauth_pending_authorization`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
