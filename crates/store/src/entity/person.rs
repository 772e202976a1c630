//! A person: their handle, ledger pseudonym and sharing preferences.

use sea_orm::entity::prelude::*;

/// One row of `person`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "person")]
pub struct Model {
    /// Random UUID; never shown to companies.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The public name a person signs in with.
    #[sea_orm(unique)]
    pub handle: String,
    /// Opaque name the ledger uses for this person.
    #[sea_orm(unique)]
    pub pseudonym: String,
    /// `share_everything`, `ask_me` or `share_nothing`.
    pub sharing_default: String,
    /// Longest grant the person accepts, ISO 8601.
    pub max_duration: String,
    /// Contact preferences, JSON.
    pub contact: String,
    /// When the person signed up.
    pub created_at: TimeDateTimeWithTimeZone,
    /// Bumped by every change to what the person shares (see the
    /// `policy_version` migration).
    pub policy_version: i64,
    /// Unix seconds since the operator suspended the person; NULL when not.
    pub suspended_at: Option<i64>,
    /// The sandbox company a synthetic person was made for; NULL for a
    /// real person (see the `sandbox` migration).
    pub sandbox_of: Option<String>,
    /// Unix seconds since the person erased their account; NULL while it
    /// exists (see the `person_keys` migration).
    pub erased_at: Option<i64>,
}

/// Relations of `person`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
