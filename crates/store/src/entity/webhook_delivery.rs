//! One webhook call to make (or made): the outbox.

use sea_orm::entity::prelude::*;

/// One row of `webhook_delivery`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_delivery")]
pub struct Model {
    /// Random UUID; also the event's id the company sees.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The company called.
    pub company_id: String,
    /// The URL, as it was when the event happened.
    pub url: String,
    /// `request.approved`, `request.declined`, `request.expired`, `grant.revoked`.
    pub event: String,
    /// The JSON body sent.
    pub payload: String,
    /// Calls made so far.
    pub attempts: i32,
    /// Made at.
    pub created_at: TimeDateTimeWithTimeZone,
    /// When to call next; `None` once delivered or given up.
    pub next_attempt_at: Option<TimeDateTimeWithTimeZone>,
    /// When the company answered 2xx.
    pub delivered_at: Option<TimeDateTimeWithTimeZone>,
    /// What went wrong last.
    pub last_error: Option<String>,
    /// A CIBA ping: the client's `client_notification_token`, sent as
    /// `Authorization: Bearer` instead of a webhook signature.
    pub bearer: Option<String>,
}

/// Relations of `webhook_delivery`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
