//! Half a WebAuthn ceremony, kept server-side until the browser answers.

use sea_orm::entity::prelude::*;

/// One row of `webauthn_ceremony`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webauthn_ceremony")]
pub struct Model {
    /// Random id handed to the browser.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// What the ceremony is for.
    pub purpose: String,
    /// Whose, when known.
    pub person_id: Option<String>,
    /// The handle being signed up.
    pub handle: Option<String>,
    /// Serialised ceremony state.
    pub state: String,
    /// Unusable after.
    pub expires_at: TimeDateTimeWithTimeZone,
}

/// Relations of `webauthn_ceremony`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
