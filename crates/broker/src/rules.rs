//! A person writes, orders and deletes their standing rules.
//!
//! Every change moves the person's policy version on: a rule that now
//! denies an attribute withholds it from live grants from the next read.

use consent_policy::Rule;
use store::{PersonId, Store, StoreError, StoredRule};

use crate::BrokerError;

/// Which way a rule moves in the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// One place earlier (it is tried sooner).
    Up,
    /// One place later.
    Down,
}

/// Appends `rule` at the end of the person's list.
pub async fn add(store: &Store, person: &PersonId, rule: &Rule) -> Result<StoredRule, BrokerError> {
    Ok(store.add_rule(person, rule).await?)
}

/// Deletes the rule `id`; those after it move up.
pub async fn delete(store: &Store, person: &PersonId, id: &str) -> Result<(), BrokerError> {
    Ok(store.delete_rule(person, id).await?)
}

/// Puts the rules in `order` (every rule id once).
pub async fn reorder(
    store: &Store,
    person: &PersonId,
    order: &[String],
) -> Result<Vec<StoredRule>, BrokerError> {
    Ok(store.reorder_rules(person, order).await?)
}

/// Moves the rule `id` one place; at either end it stays where it is.
pub async fn move_one(
    store: &Store,
    person: &PersonId,
    id: &str,
    direction: Direction,
) -> Result<Vec<StoredRule>, BrokerError> {
    let mut order: Vec<String> = store
        .rules(person)
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect();
    let at = order
        .iter()
        .position(|r| r == id)
        .ok_or_else(|| StoreError::RuleNotFound(id.to_owned()))?;
    let to = match direction {
        Direction::Up => at.checked_sub(1),
        Direction::Down => Some(at + 1).filter(|to| *to < order.len()),
    };
    match to {
        Some(to) => {
            order.swap(at, to);
            reorder(store, person, &order).await
        }
        None => Ok(store.rules(person).await?),
    }
}
