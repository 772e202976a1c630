//! An account of the books: a company's wallet, a person's earnings, or
//! the funding account money enters through.

use sea_orm::entity::prelude::*;

/// One row of `money_account`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "money_account")]
pub struct Model {
    /// `funding/<CUR>`, `wallet/<company>/<CUR>` or `earnings/<pseudonym>/<CUR>`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// `funding`, `wallet` or `earnings`.
    pub kind: String,
    /// The company id, the person's pseudonym, or empty for funding.
    pub owner: String,
    /// ISO 4217 code.
    pub currency: String,
    /// Sum of posted debits, micro-units.
    pub debits_posted: i64,
    /// Sum of posted credits, micro-units.
    pub credits_posted: i64,
    /// Sum of pending debits, micro-units.
    pub debits_pending: i64,
    /// Sum of pending credits, micro-units.
    pub credits_pending: i64,
}

/// Relations of `money_account`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
