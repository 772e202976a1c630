//! A person reads their own activity: every ledger entry that names them,
//! newest first, each checked against a signed checkpoint with its
//! inclusion proof (attribute names only; entries never hold values).
//!
//! The checkpoint comes from the caller, which holds the log's signing
//! key; this use case reads, proves and verifies.

use std::collections::HashMap;

use consent_policy::CompanyId;
use ledger::{Entry, Hash};
use store::{PersonId, Store, StoreError};

use crate::BrokerError;

/// One page of a person's activity.
#[derive(Debug)]
pub struct ActivityPage {
    /// The entries, newest first.
    pub entries: Vec<ActivityEntry>,
    /// Pass as `before` for the next page; `None` on the last.
    pub next_before: Option<u64>,
}

/// One entry of the person's activity.
#[derive(Debug)]
pub struct ActivityEntry {
    /// Its index in the log.
    pub index: u64,
    /// The entry, or `None` when its stored bytes do not decode (damage
    /// shows, unverified).
    pub entry: Option<Entry>,
    /// The RFC 9162 leaf hash of its stored bytes.
    pub leaf_hash: Hash,
    /// Its inclusion proof against the checkpoint, when the checkpoint
    /// covers it.
    pub proof: Option<Vec<Hash>>,
    /// Whether that proof verifies against the checkpoint's root.
    pub verified: bool,
    /// The name of the company it is about, if any.
    pub company_name: Option<String>,
}

/// The checkpoint proofs are made against.
#[derive(Clone, Copy, Debug)]
pub struct Checkpoint {
    /// Its tree size.
    pub tree_size: u64,
    /// Its root hash.
    pub root_hash: Hash,
}

/// At most `limit` entries about `person` before index `before` (all,
/// when `None`), each proved against `checkpoint`.
pub async fn page(
    store: &Store,
    person: &PersonId,
    checkpoint: Checkpoint,
    before: Option<u64>,
    limit: u64,
) -> Result<ActivityPage, BrokerError> {
    let limit = limit.clamp(1, store::MAX_ACTIVITY_PAGE);
    let pseudonym = store.person(person).await?.pseudonym;
    let leaves = store
        .person_ledger_entries(&pseudonym, before, limit)
        .await?;
    let next_before = match leaves.last() {
        Some(last) if leaves.len() as u64 == limit && last.index > 0 => Some(last.index),
        _ => None,
    };
    let mut names: HashMap<String, String> = HashMap::new();
    let mut entries = Vec::with_capacity(leaves.len());
    for raw in leaves {
        let entry = Entry::decode(&raw.leaf).ok();
        let leaf_hash = ledger::leaf_hash(&raw.leaf);
        let (proof, verified) = if raw.index < checkpoint.tree_size {
            let proof = store
                .inclusion_proof(raw.index, checkpoint.tree_size)
                .await?
                .proof;
            let verified = ledger::verify_inclusion(
                &leaf_hash,
                raw.index,
                checkpoint.tree_size,
                &proof,
                &checkpoint.root_hash,
            )
            .is_ok();
            (Some(proof), verified)
        } else {
            (None, false)
        };
        let company = entry
            .as_ref()
            .and_then(|e| company_of(&e.kind).map(str::to_owned));
        let company_name = match company {
            Some(id) => Some(company_name(store, &mut names, id).await?),
            None => None,
        };
        entries.push(ActivityEntry {
            index: raw.index,
            entry,
            leaf_hash,
            proof,
            verified,
            company_name,
        });
    }
    Ok(ActivityPage {
        entries,
        next_before,
    })
}

/// The company an entry is about.
pub fn company_of(kind: &ledger::EntryKind) -> Option<&str> {
    use ledger::EntryKind as K;
    match kind {
        K::RequestMade { company_id, .. }
        | K::RequestDecided { company_id, .. }
        | K::GrantCreated { company_id, .. }
        | K::GrantRevoked { company_id, .. }
        | K::GrantExpired { company_id, .. }
        | K::Disclosure { company_id, .. }
        | K::TransferPending { company_id, .. }
        | K::CompanyBlocked { company_id, .. }
        | K::CompanyUnblocked { company_id, .. }
        | K::WalletFunded { company_id, .. } => Some(company_id.as_str()),
        K::TransferPosted { .. } | K::TransferVoided { .. } => None,
    }
}

/// A company's name, each looked up once a page; its id when it is gone.
async fn company_name(
    store: &Store,
    names: &mut HashMap<String, String>,
    id: String,
) -> Result<String, BrokerError> {
    if let Some(name) = names.get(&id) {
        return Ok(name.clone());
    }
    let name = match CompanyId::parse(&id) {
        Ok(parsed) => match store.company(&parsed).await {
            Ok(company) => company.name,
            Err(StoreError::CompanyNotFound(_)) => id.clone(),
            Err(e) => return Err(e.into()),
        },
        Err(_) => id.clone(),
    };
    names.insert(id, name.clone());
    Ok(name)
}
