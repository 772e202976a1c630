//! A transfer between two accounts, keyed by its idempotency id.

use sea_orm::entity::prelude::*;

/// One row of `money_transfer`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "money_transfer")]
pub struct Model {
    /// The idempotency id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The account debited.
    pub debit_account: String,
    /// The account credited.
    pub credit_account: String,
    /// Micro-units, positive.
    pub amount: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// Reserved first (offers) or posted at once (funding).
    pub two_phase: bool,
    /// `pending`, `posted` or `voided`.
    pub state: String,
    /// The company paying or funded.
    pub company_id: String,
    /// The person paid, for offers.
    pub person_id: Option<String>,
    /// The request whose offer this is.
    pub request_id: Option<String>,
    /// Made at.
    pub created_at: TimeDateTimeWithTimeZone,
    /// Posted or voided at.
    pub settled_at: Option<TimeDateTimeWithTimeZone>,
}

/// Relations of `money_transfer`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
