//! A company's request for a person's data, and the decision on it.

use sea_orm::entity::prelude::*;

/// One row of `data_request`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "data_request")]
pub struct Model {
    /// Random UUID.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Who asks.
    pub company_id: String,
    /// Whom.
    pub person_id: String,
    /// `interactive` or `async`.
    pub channel: String,
    /// The `DataRequest`, wire JSON.
    pub request: String,
    /// The policy's `Decision`, JSON.
    pub decision: String,
    /// `pending`, `approved`, `denied` or `expired`.
    pub status: String,
    /// The grant it became.
    pub grant_id: Option<String>,
    /// When asked.
    pub created_at: TimeDateTimeWithTimeZone,
    /// When decided.
    pub decided_at: Option<TimeDateTimeWithTimeZone>,
    /// Undecided after this, it expires.
    pub expires_at: TimeDateTimeWithTimeZone,
    /// CIBA's `binding_message`, shown to the person with the request.
    pub binding_message: Option<String>,
    /// The person's counter-offer, JSON `{"price": Money, "attributes": [...]}`.
    pub counter: Option<String>,
}

/// Relations of `data_request`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
