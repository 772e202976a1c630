//! A secret every server shares, sealed.

use sea_orm::entity::prelude::*;

/// One row of `server_secret`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "server_secret")]
pub struct Model {
    /// What it is (`oauth_signing_keys`); part of the row binding.
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    /// The secret's text, sealed with the data key.
    pub sealed: String,
    /// One more on every change.
    pub version: i64,
    /// Unix seconds of the last change.
    pub updated_at: i64,
}

/// Relations of `server_secret`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
