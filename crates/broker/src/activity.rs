//! A person reads their own activity: every ledger entry that names them,
//! newest first, each checked against a signed checkpoint with its
//! inclusion proof (attribute names only; entries never hold values).
//!
//! The checkpoint comes from the caller, which holds the log's signing
//! key; this use case reads, proves and verifies.

use std::collections::HashMap;

use consent_policy::CompanyId;
use ledger::{Entry, EntryKind, Hash, NameList};
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
    /// Its stored bytes, exactly as hashed into the log: what a reader
    /// hashes to check the entry without trusting `leaf_hash`.
    pub leaf: Vec<u8>,
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
            leaf: raw.leaf,
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
        | K::WalletFunded { company_id, .. }
        | K::WalletRefunded { company_id, .. }
        | K::CompanyDisabled { company_id }
        | K::CompanyEnabled { company_id }
        | K::CompanyDeleted { company_id }
        | K::UseReported { company_id, .. }
        | K::MessageDelivered { company_id, .. }
        | K::MessageRefused { company_id, .. }
        | K::ContactStopped { company_id, .. } => Some(company_id.as_str()),
        K::TransferPosted { .. }
        | K::TransferVoided { .. }
        | K::ClientSecretRotated { .. }
        | K::AuditorRevoked { .. }
        | K::PersonSuspended { .. }
        | K::PersonUnsuspended { .. }
        | K::PayoutRequested { .. }
        | K::PayoutPosted { .. }
        | K::PayoutVoided { .. }
        | K::PersonErased { .. }
        | K::EarningsWaived { .. } => None,
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

fn names(list: &NameList) -> Vec<String> {
    list.names().iter().map(|n| n.to_string()).collect()
}

fn amount(money: &ledger::Money) -> Option<consent_policy::Money> {
    let currency = consent_policy::Currency::parse(money.currency.as_str()).ok()?;
    Some(consent_policy::Money::new(money.amount_micros, currency))
}

/// What an entry says to the person it names: the attributes (names,
/// never values), the purpose, the money, and a sentence.
#[derive(Debug, Default)]
pub struct Described {
    /// Names of the attributes involved.
    pub attributes: Vec<String>,
    /// The stated purpose, when the entry has one.
    pub purpose: Option<String>,
    /// The offer, price or payment, when the entry has one.
    pub amount: Option<consent_policy::Money>,
    /// What happened, in a sentence.
    pub summary: String,
}

impl ActivityEntry {
    /// What the entry says; damage says so.
    pub fn described(&self) -> Described {
        match &self.entry {
            Some(entry) => describe(entry),
            None => Described {
                summary: "this entry's stored bytes do not decode".to_owned(),
                ..Described::default()
            },
        }
    }
}

/// What `entry` says, in words.
pub fn describe(entry: &Entry) -> Described {
    let mut d = Described {
        attributes: Vec::new(),
        purpose: None,
        amount: None,
        summary: String::new(),
    };
    match &entry.kind {
        EntryKind::RequestMade {
            attributes,
            purpose,
            offer,
            ..
        } => {
            d.attributes = names(attributes);
            d.purpose = Some(purpose.to_string());
            d.amount = offer.as_ref().and_then(amount);
            d.summary = format!("asked for {}", d.attributes.join(", "));
        }
        EntryKind::RequestDecided {
            allowed,
            asked,
            withheld,
            ..
        } => {
            d.attributes = names(allowed);
            let mut parts = Vec::new();
            for (label, list) in [
                ("released", allowed),
                ("waiting for you", asked),
                ("withheld", withheld),
            ] {
                if !list.names().is_empty() {
                    parts.push(format!("{label}: {}", names(list).join(", ")));
                }
            }
            d.summary = format!("request decided ({})", parts.join("; "));
        }
        EntryKind::GrantCreated {
            attributes,
            purpose,
            price,
            ..
        } => {
            d.attributes = names(attributes);
            d.purpose = Some(purpose.to_string());
            d.amount = price.as_ref().and_then(amount);
            d.summary = format!("was granted {}", d.attributes.join(", "));
        }
        EntryKind::GrantRevoked { .. } => {
            d.summary = "grant revoked".to_owned();
        }
        EntryKind::UseReported {
            use_kind, accepted, ..
        } => {
            d.summary = if *accepted {
                format!("reported that it {use_kind} your data")
            } else {
                format!(
                    "reported that it {use_kind} your data; refused, the grant's purpose does not cover it"
                )
            };
        }
        EntryKind::GrantExpired { .. } => {
            d.summary = "grant expired".to_owned();
        }
        EntryKind::MessageDelivered {
            channel,
            sent_in_week,
            ..
        } => {
            d.summary =
                format!("sent you a message by {channel} ({sent_in_week} in the last 7 days)");
        }
        EntryKind::MessageRefused { reason, .. } => {
            d.summary = format!(
                "tried to send you a message; refused ({})",
                reason.as_str().replace('_', " ")
            );
        }
        EntryKind::ContactStopped { .. } => {
            d.summary = "may no longer contact you".to_owned();
        }
        EntryKind::Disclosure {
            attributes,
            withheld,
            ..
        } => {
            d.attributes = names(attributes);
            d.summary = if withheld.is_empty() {
                format!("read {}", d.attributes.join(", "))
            } else if d.attributes.is_empty() {
                format!("read nothing; you took back {}", names(withheld).join(", "))
            } else {
                format!(
                    "read {}; you took back {}",
                    d.attributes.join(", "),
                    names(withheld).join(", ")
                )
            };
        }
        EntryKind::TransferPending { amount: money, .. } => {
            d.amount = amount(money);
            d.summary = "offered a payment, held until you answer".to_owned();
        }
        EntryKind::CompanyBlocked { .. } => {
            d.summary = "blocked by you".to_owned();
        }
        EntryKind::CompanyUnblocked { .. } => {
            d.summary = "unblocked by you".to_owned();
        }
        EntryKind::PersonSuspended { .. } => {
            d.summary = "your account was suspended by the operator".to_owned();
        }
        EntryKind::PersonUnsuspended { .. } => {
            d.summary = "your account's suspension was lifted".to_owned();
        }
        EntryKind::PayoutRequested { amount: money, .. } => {
            d.amount = amount(money);
            d.summary = "you asked for a payout; held from your earnings".to_owned();
        }
        EntryKind::PayoutPosted { .. } => {
            d.summary = "your payout was sent".to_owned();
        }
        EntryKind::PayoutVoided { .. } => {
            d.summary = "your payout failed; the money is back in your earnings".to_owned();
        }
        EntryKind::EarningsWaived { amount: money, .. } => {
            d.amount = amount(money);
            d.summary = "you left your earnings behind when you erased your account".to_owned();
        }
        EntryKind::PersonErased { .. } => {
            d.summary = "you erased your account".to_owned();
        }
        EntryKind::TransferPosted { .. }
        | EntryKind::TransferVoided { .. }
        | EntryKind::WalletFunded { .. }
        | EntryKind::WalletRefunded { .. }
        | EntryKind::CompanyDisabled { .. }
        | EntryKind::CompanyEnabled { .. }
        | EntryKind::CompanyDeleted { .. }
        | EntryKind::ClientSecretRotated { .. }
        | EntryKind::AuditorRevoked { .. } => {
            d.summary = entry.kind.name().replace('_', " ");
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use ledger::{Entry, EntryKind, NameList, ShortText};

    use super::*;

    fn text(s: &str) -> ShortText {
        ShortText::new(s).unwrap()
    }

    #[test]
    fn a_read_that_withheld_says_what_the_person_took_back() {
        let read = |attributes: &[&str], withheld: &[&str]| {
            describe(&Entry::new(
                0,
                EntryKind::Disclosure {
                    grant_id: text("g"),
                    company_id: text("acme"),
                    person: text("p"),
                    attributes: NameList::from_strs(attributes).unwrap(),
                    withheld: NameList::from_strs(withheld).unwrap(),
                },
            ))
        };
        assert_eq!(read(&["email"], &[]).summary, "read email");
        assert_eq!(
            read(&["email"], &["phone"]).summary,
            "read email; you took back phone"
        );
        let nothing = read(&[], &["phone"]);
        assert_eq!(nothing.summary, "read nothing; you took back phone");
        assert!(nothing.attributes.is_empty());
        assert_eq!(nothing.amount, None);
    }

    #[test]
    fn damaged_bytes_describe_themselves() {
        let damaged = ActivityEntry {
            index: 3,
            entry: None,
            leaf: b"not an entry".to_vec(),
            leaf_hash: ledger::leaf_hash(b"not an entry"),
            proof: None,
            verified: false,
            company_name: None,
        };
        assert_eq!(
            damaged.described().summary,
            "this entry's stored bytes do not decode"
        );
    }
}
