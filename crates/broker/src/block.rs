//! A person blocks or unblocks a company.
//!
//! A block is "this company gets nothing", so it reaches what the company
//! already holds: in the block's own transaction every live grant of the
//! person to that company is revoked (with its refresh families, its
//! `grant_revoked` entry and its `grant.revoked` webhook). Its next read
//! is refused, and so is its next refresh. Unblocking restores nothing: a
//! revoked grant stays revoked, and the company must ask again.

use consent_policy::CompanyId;
use store::{Grant, PersonId, Store};

use crate::BrokerError;

/// What a block did.
#[derive(Debug, Default)]
pub struct Blocked {
    /// Whether the company was not blocked before (a repeat changes nothing).
    pub newly: bool,
    /// The live grants the block ended.
    pub revoked: Vec<Grant>,
}

/// Blocks `company` for `person` and ends its live grants, in one
/// transaction.
pub async fn block(
    store: &Store,
    person: &PersonId,
    company: &CompanyId,
) -> Result<Blocked, BrokerError> {
    let tx = store.begin().await?;
    tx.change_policy(person).await?;
    if !tx.insert_block(person, company).await? {
        // Already blocked: dropping the transaction leaves everything as it was.
        return Ok(Blocked::default());
    }
    let revoked = tx.live_grants_to(person, company).await?;
    let pseudonym = tx.pseudonym(person).await?;
    for grant in &revoked {
        tx.revoke_grant(grant, &pseudonym).await?;
    }
    tx.commit().await?;
    Ok(Blocked {
        newly: true,
        revoked,
    })
}

/// Lifts a block. Returns whether there was one. Grants the block ended
/// stay ended.
pub async fn unblock(
    store: &Store,
    person: &PersonId,
    company: &CompanyId,
) -> Result<bool, BrokerError> {
    Ok(store.unblock_company(person, company).await?)
}
