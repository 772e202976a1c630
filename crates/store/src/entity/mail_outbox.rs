//! One mail to send (or sent): the outbox.

use sea_orm::entity::prelude::*;

/// One row of `mail_outbox`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "mail_outbox")]
pub struct Model {
    /// Random UUID.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// To whom.
    pub person_id: String,
    /// What it tells (`verify`, `request_waiting`, ...).
    pub kind: String,
    /// The address, as it was when queued.
    pub to_address: String,
    /// What to render, as JSON: names and labels, never a value.
    pub payload: String,
    /// The mail's `Message-ID`, unique.
    pub message_id: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Waiting for the person's digest.
    pub held: bool,
    /// The digest mail that carried it.
    pub digest_id: Option<String>,
    /// Sends tried.
    pub attempts: i32,
    /// When to try next (unix seconds); `None` once sent, given up or held.
    pub next_attempt_at: Option<i64>,
    /// When the transport accepted it.
    pub sent_at: Option<i64>,
    /// What went wrong last.
    pub last_error: Option<String>,
}

/// Relations of `mail_outbox`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
