//! A person's payout: the withdrawal and its transfer in the books.

use sea_orm::entity::prelude::*;

/// One row of `payout`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payout")]
pub struct Model {
    /// The payout's id; its transfer in the ledger is `payout:<id>`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The person paid out.
    pub person_id: String,
    /// ISO 4217 code.
    pub currency: String,
    /// Micro-units, positive.
    pub amount: i64,
    /// `pending`, `posted` or `voided`.
    pub state: String,
    /// The IBAN or payment handle, sealed (see `crate::sealed`).
    pub destination: String,
    /// The operator's bank reference, once confirmed.
    pub reference: Option<String>,
    /// Why it failed, as the operator wrote it.
    pub failure_reason: Option<String>,
    /// Asked for at.
    pub created_at: TimeDateTimeWithTimeZone,
    /// Confirmed or failed at.
    pub settled_at: Option<TimeDateTimeWithTimeZone>,
}

/// Relations of `payout`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
