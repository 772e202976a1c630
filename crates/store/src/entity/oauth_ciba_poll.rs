//! The CIBA-style poll state of an asynchronous request.

use sea_orm::entity::prelude::*;

/// One row of `oauth_ciba_poll`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "oauth_ciba_poll")]
pub struct Model {
    /// The request (`auth_req_id`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub request_id: String,
    /// The latest poll, Unix seconds.
    pub last_poll_at: i64,
    /// When its tokens were issued (once).
    pub tokens_issued_at: Option<i64>,
}

/// Relations of `oauth_ciba_poll`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
