//! One call made for a webhook delivery: the delivery log.

use sea_orm::entity::prelude::*;

/// One row of `webhook_attempt`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_attempt")]
pub struct Model {
    /// The delivery.
    #[sea_orm(primary_key, auto_increment = false)]
    pub delivery_id: String,
    /// 1 for the first call.
    #[sea_orm(primary_key, auto_increment = false)]
    pub attempt: i32,
    /// When the call was made, ms since the Unix epoch.
    pub at_unix_ms: i64,
    /// The HTTP status answered; `None` when no answer came.
    pub status: Option<i32>,
    /// How long the call took.
    pub latency_ms: i32,
    /// Why it failed, when it did.
    pub error: Option<String>,
}

/// Relations of `webhook_attempt`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
