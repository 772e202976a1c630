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
