//! A company reads what a grant allows *and* what the person's policy
//! allows now (`GET /v1/data`, and any later reader of granted data).
//!
//! One read:
//!
//! 1. loads the grant: it must be live and the caller's, and the token's
//!    subject must be the grant's person for that company;
//! 2. loads one snapshot of the person's policy, its version and values;
//! 3. decides what leaves with [`consent_policy::what_a_read_discloses`]: a
//!    granted attribute now blocked, private or denied by a rule is
//!    withheld and never its value sent;
//! 4. records the disclosure entry (what left, and what the policy
//!    withheld) in a group transaction that checks, in the same statement
//!    for the whole group, that the grant is still live and the policy is
//!    still the snapshot's version. A revocation, block or policy change
//!    committed before that is never outrun: the read is refused (grant
//!    gone) or decided again on a fresh snapshot (policy changed).
//!
//! Values leave only after their entry is durable.

use std::collections::BTreeMap;

use authz::{PairwiseSubject, ServerKey};
use consent_policy::{AttributeKey, what_a_read_discloses};
use store::{DisclosureRead, Grant, Recorded, Store, StoreError};

use crate::BrokerError;

/// How many times a read decides again when the person's policy changed
/// under it, before it gives up ([`BrokerError::PolicyChurn`], 503). Only
/// the person's own edits cause a retry; a person scripting rule changes
/// as fast as the store takes them (the scale-out test does) still lets
/// a read through within a few tries.
const MAX_DECISIONS: usize = 16;

/// Who is reading: the authenticated client and the subject its token
/// names.
#[derive(Clone, Copy, Debug)]
pub struct Reader<'a> {
    /// The OAuth client (the company) presenting the token.
    pub client_id: &'a str,
    /// The token's `sub`.
    pub subject: &'a str,
}

/// What one read released.
#[derive(Debug)]
pub struct Disclosed {
    /// The grant read under.
    pub grant: Grant,
    /// Released attributes, by key, with their current values.
    pub attributes: BTreeMap<String, serde_json::Value>,
    /// Granted attributes not released: no value now, or withheld by the
    /// person's policy now. Never a reason that would tell the company
    /// more than "not now".
    pub withheld: Vec<AttributeKey>,
}

/// Reads under `grant_id` for `reader`. `key` derives pairwise subjects.
pub async fn read(
    store: &Store,
    key: &ServerKey,
    grant_id: &str,
    reader: Reader<'_>,
) -> Result<Disclosed, BrokerError> {
    for _ in 0..MAX_DECISIONS {
        let grant = live_grant(store, grant_id, reader.client_id).await?;
        let expected = PairwiseSubject::derive(key, &grant.company_id, grant.person_id.as_str());
        if expected.as_str() != reader.subject {
            return Err(BrokerError::SubjectMismatch);
        }
        let snapshot = store.policy_snapshot(&grant.person_id).await?;
        if snapshot.suspended {
            // As for a grant that is over: the company learns nothing more.
            return Err(BrokerError::GrantNotLive);
        }
        let granted = grant
            .as_request()
            .map_err(|e| BrokerError::Corrupt(format!("grant {}: {e}", grant.id)))?;
        let has_value = |k: &AttributeKey| snapshot.attributes.iter().any(|a| &a.key == k);
        let decision =
            what_a_read_discloses(&snapshot.profile, &grant.company_id, &granted, has_value);
        let withheld_by_policy: Vec<AttributeKey> =
            decision.withheld_by_policy().cloned().collect();
        let attributes: BTreeMap<String, serde_json::Value> = snapshot
            .attributes
            .into_iter()
            .filter(|a| decision.disclosed.contains(&a.key))
            .map(|a| (a.key.to_string(), a.value))
            .collect();
        debug_assert!(
            attributes
                .keys()
                .all(|k| grant.attributes.iter().any(|g| g.as_str() == k)),
            "only granted attributes leave"
        );
        let withheld: Vec<AttributeKey> = decision.withheld.into_iter().map(|(k, _)| k).collect();
        if decision.disclosed.is_empty() && withheld_by_policy.is_empty() {
            // Nothing to release and nothing the policy took back: nothing
            // to record either.
            return Ok(Disclosed {
                grant,
                attributes,
                withheld,
            });
        }
        let recorded = store
            .record_disclosure(
                &grant,
                DisclosureRead {
                    attributes: decision.disclosed,
                    withheld: withheld_by_policy,
                    policy_version: snapshot.policy_version,
                },
            )
            .await?;
        match recorded {
            Recorded::Disclosed => {
                return Ok(Disclosed {
                    grant,
                    attributes,
                    withheld,
                });
            }
            Recorded::GrantNotLive => return Err(BrokerError::GrantNotLive),
            Recorded::PolicyChanged => continue,
        }
    }
    Err(BrokerError::PolicyChurn)
}

/// The UserInfo answer (OIDC Core §5.3) of a read: `sub` and each
/// released attribute under its standard claim name (`email`, `name`,
/// `birthdate`, `address`, `phone_number`, `locale`, else the key). The
/// read is [`read`] itself — the same decision and the same disclosure
/// entry as `GET /v1/data` — so a claim leaves only when a read would
/// release it, and a revoked grant gives nothing.
pub async fn userinfo(
    store: &Store,
    key: &ServerKey,
    grant_id: &str,
    reader: Reader<'_>,
) -> Result<serde_json::Map<String, serde_json::Value>, BrokerError> {
    let disclosed = read(store, key, grant_id, reader).await?;
    let mut claims = serde_json::Map::new();
    claims.insert("sub".into(), reader.subject.into());
    for (name, value) in disclosed.attributes {
        let key = AttributeKey::parse(&name)
            .map_err(|e| BrokerError::Corrupt(format!("attribute key {name}: {e}")))?;
        claims.insert(
            authz::oidc::claim_name(&key).to_owned(),
            authz::oidc::claim_value(&key, value),
        );
    }
    Ok(claims)
}

/// The grant, if it is live now and `client_id`'s.
async fn live_grant(store: &Store, grant_id: &str, client_id: &str) -> Result<Grant, BrokerError> {
    match store.grant(grant_id).await {
        Ok(grant)
            if grant.is_live(time::OffsetDateTime::now_utc())
                && grant.company_id.as_str() == client_id =>
        {
            Ok(grant)
        }
        Ok(_) | Err(StoreError::GrantNotFound(_)) => Err(BrokerError::GrantNotLive),
        Err(e) => Err(e.into()),
    }
}
