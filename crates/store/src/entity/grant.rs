//! What a person granted a company: attributes, purpose, expiry, price.

use sea_orm::entity::prelude::*;

/// One row of `data_grant`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "data_grant")]
pub struct Model {
    /// Random UUID.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The request it answers.
    pub request_id: String,
    /// Whose data.
    pub person_id: String,
    /// Who may read it.
    pub company_id: String,
    /// Granted attribute keys, JSON array.
    pub attributes: String,
    /// The purpose.
    pub purpose: String,
    /// ISO 8601 duration granted.
    pub duration: String,
    /// The price paid, `Money` JSON.
    pub price: Option<String>,
    /// Granted at.
    pub created_at: TimeDateTimeWithTimeZone,
    /// Ends at.
    pub expires_at: TimeDateTimeWithTimeZone,
    /// Revoked at.
    pub revoked_at: Option<TimeDateTimeWithTimeZone>,
    /// When the ledger recorded the grant's expiry.
    pub expiry_recorded_at: Option<TimeDateTimeWithTimeZone>,
}

/// Relations of `data_grant`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
