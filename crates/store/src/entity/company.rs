//! A company that may ask people for data.

use sea_orm::entity::prelude::*;

/// One row of `company`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "company")]
pub struct Model {
    /// The company's id (its OAuth `client_id`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Display name shown to people.
    pub name: String,
    /// When the company was registered.
    pub created_at: TimeDateTimeWithTimeZone,
    /// A sandbox company: synthetic people and `XTS` only (see the
    /// `sandbox` migration).
    pub sandbox: bool,
    /// How people reach the company about their data (see the `receipts`
    /// migration); consent receipts name it.
    pub contact: Option<String>,
}

/// Relations of `company`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
