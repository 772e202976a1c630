//! One fact about a person, and the bucket it sits in.

use sea_orm::entity::prelude::*;

/// One row of `attribute`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "attribute")]
pub struct Model {
    /// Owner.
    #[sea_orm(primary_key, auto_increment = false)]
    pub person_id: String,
    /// Catalogue or `x-` key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// The value, JSON text.
    pub value: String,
    /// `private`, `semi_private` or `public`.
    pub bucket: String,
    /// Last change.
    pub updated_at: TimeDateTimeWithTimeZone,
}

/// Relations of `attribute`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
