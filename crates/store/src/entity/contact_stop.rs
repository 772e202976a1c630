//! A company a person told never to contact them again (see the
//! `contact_relay` migration).

use sea_orm::entity::prelude::*;

/// One row of `contact_stop`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "contact_stop")]
pub struct Model {
    /// The person.
    #[sea_orm(primary_key, auto_increment = false)]
    pub person_id: String,
    /// The company.
    #[sea_orm(primary_key, auto_increment = false)]
    pub company_id: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// Relations of `contact_stop`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
