//! Something noticed once (a grant's first use, an expiry reminder).

use sea_orm::entity::prelude::*;

/// One row of `notice_mark`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notice_mark")]
pub struct Model {
    /// The grant's or request's id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub subject_id: String,
    /// What was noticed.
    #[sea_orm(primary_key, auto_increment = false)]
    pub kind: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// Relations of `notice_mark`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
