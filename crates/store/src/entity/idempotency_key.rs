//! A company's `Idempotency-Key` and the first answer it got.

use sea_orm::entity::prelude::*;

/// One row of `idempotency_key`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_key")]
pub struct Model {
    /// The company that sent the key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub company_id: String,
    /// The key, as sent.
    #[sea_orm(primary_key, auto_increment = false)]
    pub idem_key: String,
    /// What the request was (endpoint and body), hashed.
    pub fingerprint: String,
    /// Unix seconds of the first request.
    pub created_at: i64,
    /// The answer's status; `None` while the first request runs.
    pub status: Option<i32>,
    /// The answer's `Content-Type`.
    pub content_type: Option<String>,
    /// The answer's `Location`, if any.
    pub location: Option<String>,
    /// The answer's body, byte for byte.
    pub body: Option<Vec<u8>>,
}

/// Relations of `idempotency_key`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
