//! A use a company reported of a grant's data (see the `grant_uses` migration).

use sea_orm::entity::prelude::*;

/// One row of `grant_use`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "grant_use")]
pub struct Model {
    /// Its id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The grant.
    pub grant_id: String,
    /// Whose data.
    pub person_id: String,
    /// The reporting company.
    pub company_id: String,
    /// `used`, `sold`, `aggregated` or `shared`.
    pub kind: String,
    /// Who received the data, in the company's words.
    pub recipient: Option<String>,
    /// What the company did, in its words.
    pub note: String,
    /// Whether the grant's purpose covers the kind.
    pub accepted: bool,
    /// Unix seconds.
    pub created_at: i64,
}

/// Relations of `grant_use`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
