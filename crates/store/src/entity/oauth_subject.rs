//! A pairwise subject issued to a company, and whose it is.

use sea_orm::entity::prelude::*;

/// One row of `oauth_subject`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "oauth_subject")]
pub struct Model {
    /// The company.
    #[sea_orm(primary_key, auto_increment = false)]
    pub company_id: String,
    /// The subject it holds.
    #[sea_orm(primary_key, auto_increment = false)]
    pub subject: String,
    /// The person.
    pub person_id: String,
}

/// Relations of `oauth_subject`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
