//! A company's webhook signing secret, sealed.

use sea_orm::entity::prelude::*;

/// One row of `webhook_secret`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_secret")]
pub struct Model {
    /// Random; part of the sealed value's row binding.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The company whose calls it signs.
    pub company_id: String,
    /// The secret's text (`whsec_…`), sealed with the data key.
    pub sealed: String,
    /// Unix seconds it was made.
    pub created_at: i64,
    /// Unix seconds until which a replaced secret still signs; `None` for
    /// the current one.
    pub signs_until: Option<i64>,
}

/// Relations of `webhook_secret`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
