//! An OAuth client: a company or an auditor.

use sea_orm::entity::prelude::*;

/// One row of `oauth_client`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "oauth_client")]
pub struct Model {
    /// Its `client_id` (a company's equals its `company.id`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub client_id: String,
    /// `company` or `auditor`.
    pub kind: String,
    /// The `authz::ClientRecord`, JSON.
    pub record: String,
    /// When it was registered.
    pub created_at: TimeDateTimeWithTimeZone,
    /// `active`, `disabled`, `deleted` or `revoked`.
    pub status: String,
    /// Bumped by every change to the row (see the `000014_admin` migration).
    pub revision: i64,
    /// Access tokens issued at or before this Unix second are dead.
    pub tokens_after: i64,
}

/// Relations of `oauth_client`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
