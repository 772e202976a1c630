//! A person's passkey (WebAuthn credential).

use sea_orm::entity::prelude::*;

/// One row of `passkey`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "passkey")]
pub struct Model {
    /// Credential id, base64url.
    #[sea_orm(primary_key, auto_increment = false)]
    pub credential_id: String,
    /// Owner.
    pub person_id: String,
    /// The person's name for it.
    pub name: String,
    /// Serialised webauthn-rs passkey.
    pub passkey: String,
    /// Registered.
    pub created_at: TimeDateTimeWithTimeZone,
    /// Last sign-in.
    pub last_used_at: Option<TimeDateTimeWithTimeZone>,
}

/// Relations of `passkey`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
