//! Failed sign-ins of one account or one address.

use sea_orm::entity::prelude::*;

/// One row of `sign_in_throttle`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sign_in_throttle")]
pub struct Model {
    /// `handle:NAME` or `ip:ADDR`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// Failures in a row.
    pub failures: i32,
    /// Last failure, Unix seconds.
    pub last_failure_unix: i64,
}

/// Relations of `sign_in_throttle`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
