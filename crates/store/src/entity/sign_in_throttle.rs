//! Attempts counted against one key (an account, an address, an address's
//! sign-ups); see `crate::throttle`.

use sea_orm::entity::prelude::*;

/// One row of `sign_in_throttle`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sign_in_throttle")]
pub struct Model {
    /// An `identity::ThrottleKey`: SHA-256 hex, never the client's text.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// Attempts counted in a row and not given back.
    pub failures: i32,
    /// When the last was counted, Unix seconds.
    pub last_failure_unix: i64,
}

/// Relations of `sign_in_throttle`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
