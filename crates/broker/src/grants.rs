//! A person ends one of their grants.

use store::{Grant, PersonId, Store};

use crate::BrokerError;

/// Revokes the person's live grant `grant_id`: the company's next read and
/// its next refresh are refused (refresh families end with the grant), a
/// `grant_revoked` entry is appended and the company gets `grant.revoked`.
pub async fn revoke(
    store: &Store,
    person: &PersonId,
    grant_id: &str,
) -> Result<Grant, BrokerError> {
    Ok(store.revoke_grant(person, grant_id).await?)
}

/// A grant with the name of the company it was given to.
#[derive(Debug)]
pub struct NamedGrant {
    /// The grant.
    pub grant: Grant,
    /// The company's name (its id when the company is gone).
    pub company_name: String,
}

/// Every grant the person gave, newest first, with company names.
pub async fn list(store: &Store, person: &PersonId) -> Result<Vec<NamedGrant>, BrokerError> {
    let grants = store.grants_for_person(person).await?;
    let names = crate::company_names(store, grants.iter().map(|g| &g.company_id)).await?;
    Ok(grants
        .into_iter()
        .map(|grant| NamedGrant {
            company_name: names.of(&grant.company_id),
            grant,
        })
        .collect())
}
