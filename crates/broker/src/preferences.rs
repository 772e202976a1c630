//! A person sets their sharing default, their longest grant and how
//! companies may contact them.
//!
//! A new default decides new requests only; grants already given stay
//! until they end or are revoked (see `consent_policy::what_a_read_discloses`).

use consent_policy::{ContactPreferences, GrantDuration, SharingDefault};
use store::{Person, PersonId, Store};

use crate::BrokerError;

/// A change to the preferences; `None` keeps what is there.
#[derive(Clone, Debug)]
pub struct PreferencesChange {
    /// The new sharing default.
    pub default: SharingDefault,
    /// The longest grant accepted at all.
    pub max_duration: Option<GrantDuration>,
    /// How companies may contact the person.
    pub contact: Option<ContactPreferences>,
}

/// Applies `change`.
pub async fn set(
    store: &Store,
    person: &PersonId,
    change: PreferencesChange,
) -> Result<Person, BrokerError> {
    let current = store.person(person).await?;
    let max_duration = change.max_duration.unwrap_or(current.max_duration);
    let contact = match change.contact {
        Some(contact) => contact_json(&contact)?,
        None => current.contact,
    };
    Ok(store
        .set_preferences(person, change.default, &max_duration, &contact)
        .await?)
}

/// Sets the sharing default only.
pub async fn set_default(
    store: &Store,
    person: &PersonId,
    default: SharingDefault,
) -> Result<Person, BrokerError> {
    let change = PreferencesChange {
        default,
        max_duration: None,
        contact: None,
    };
    set(store, person, change).await
}

/// Sets the contact preferences only.
pub async fn set_contact(
    store: &Store,
    person: &PersonId,
    contact: ContactPreferences,
) -> Result<Person, BrokerError> {
    let current = store.person(person).await?;
    Ok(store
        .set_preferences(
            person,
            current.sharing_default,
            &current.max_duration,
            &contact_json(&contact)?,
        )
        .await?)
}

/// The person's contact preferences as stored (none recorded yet, or a
/// record from before they were checked, reads as "no contact").
pub fn contact_of(person: &Person) -> ContactPreferences {
    serde_json::from_value(person.contact.clone()).unwrap_or_default()
}

fn contact_json(contact: &ContactPreferences) -> Result<serde_json::Value, BrokerError> {
    serde_json::to_value(contact).map_err(|e| BrokerError::Corrupt(e.to_string()))
}
