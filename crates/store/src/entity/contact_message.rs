//! A message a company sent a person through the relay (see the
//! `contact_relay` migration).

use sea_orm::entity::prelude::*;

/// One row of `contact_message`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "contact_message")]
pub struct Model {
    /// Its id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// To whom.
    pub person_id: String,
    /// From which company.
    pub company_id: String,
    /// Under which grant.
    pub grant_id: String,
    /// The company's subject line.
    pub subject: String,
    /// The company's text.
    pub body: String,
    /// The company's link, if any.
    pub link: Option<String>,
    /// Why the company says it is valuable to the person.
    pub why: String,
    /// `delivered`, or the reason it was refused.
    pub outcome: String,
    /// The channel it went on, when delivered.
    pub channel: Option<String>,
    /// When a refused message could have gone, unix seconds.
    pub next_allowed_at: Option<i64>,
    /// Unix seconds.
    pub created_at: i64,
}

/// Relations of `contact_message`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
