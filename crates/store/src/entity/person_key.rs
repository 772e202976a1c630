//! A person's own data key, sealed under the server's data keys.

use sea_orm::entity::prelude::*;

/// One row of `person_key`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "person_key")]
pub struct Model {
    /// The person.
    #[sea_orm(primary_key, auto_increment = false)]
    pub person_id: String,
    /// The key, sealed (`v1.`) under a server data key and bound to the person.
    pub sealed: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// Relations of `person_key`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
