//! Consent receipts: made, signed and kept in the transaction of the grant,
//! renewal or revocation they record (see `ledger::receipt` for the claims).
//!
//! | step | where |
//! |---|---|
//! | claims built from the grant row and the company row | [`issue`], in the change's transaction |
//! | signed with the newest key of the published JWKS | the server's [`ReceiptSigner`] |
//! | kept (`consent_receipt`), hash into the grant's entry (0x1a / 0x1b) | [`issue`], then the caller's append |
//! | the entry's index noted on the row | [`note_indexes`], inside `append_entries` |
//!
//! A store without a signer (the store's own tests, commands that make no
//! grant) writes grants and revocations without receipts, as kinds 0x03 /
//! 0x04; `apiome serve` and the operator's commands always install one
//! before the first request.

use std::sync::{Arc, OnceLock};

use base64::Engine as _;
use consent_policy::CompanyId;
use ledger::receipt::{
    Controller, EventClaim, KANTARA_VERSION, OfferClaim, RECEIPT_SCHEMA, ReceiptClaims,
    ReceiptEvent, Withdrawal,
};
use ledger::{Entry, EntryKind, Hash, receipt_hash, to_hex};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use time::OffsetDateTime;

use crate::entity::{company, consent_receipt, grant};
use crate::{Grant, PersonId, Store, StoreError, new_id};

/// Signs receipts with the server's published key, and knows what only the
/// server knows: its URL, the jurisdiction and the pairwise subjects.
pub trait ReceiptSigner: Send + Sync {
    /// The server's public URL (`iss`; the withdrawal URLs start with it).
    fn issuer(&self) -> &str;
    /// The law consent is given under (`jurisdiction`, e.g. `EU`).
    fn jurisdiction(&self) -> &str;
    /// The person's pairwise subject for `company`.
    fn subject(&self, company: &CompanyId, person: &PersonId) -> String;
    /// The compact JWS of `claims`, with `kid` in its header.
    ///
    /// # Errors
    /// Why it could not sign.
    fn sign(&self, claims: &ReceiptClaims) -> Result<String, String>;
}

/// The signer a store uses, installed once.
#[derive(Clone, Default)]
pub(crate) struct ReceiptKeys(Arc<OnceLock<Arc<dyn ReceiptSigner>>>);

impl std::fmt::Debug for ReceiptKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiptKeys")
            .field("installed", &self.0.get().is_some())
            .finish()
    }
}

/// A receipt as kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReceipt {
    /// The receipt id (`jti`).
    pub id: String,
    /// The grant it records.
    pub grant_id: String,
    /// The company holding the grant.
    pub company_id: String,
    /// What happened.
    pub event: ReceiptEvent,
    /// The compact JWS, exactly as signed.
    pub jws: String,
    /// Hex SHA-256 of `jws`: the hash in the ledger entry.
    pub sha256: String,
    /// The index of the ledger entry carrying the hash.
    pub ledger_index: Option<u64>,
    /// When it was made.
    pub created_at: OffsetDateTime,
}

impl StoredReceipt {
    /// The signed claims, read back from the JWS's payload.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] when the stored JWS is not one.
    pub fn claims(&self) -> Result<ReceiptClaims, StoreError> {
        let payload = self
            .jws
            .split('.')
            .nth(1)
            .ok_or_else(|| StoreError::corrupt("a receipt without a payload"))?;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(StoreError::corrupt)?;
        serde_json::from_slice(&bytes).map_err(StoreError::corrupt)
    }
}

impl TryFrom<consent_receipt::Model> for StoredReceipt {
    type Error = StoreError;
    fn try_from(row: consent_receipt::Model) -> Result<Self, StoreError> {
        Ok(StoredReceipt {
            event: match row.event.as_str() {
                "given" => ReceiptEvent::Given,
                "renewed" => ReceiptEvent::Renewed,
                "withdrawn" => ReceiptEvent::Withdrawn,
                other => return Err(StoreError::corrupt(format!("receipt event {other:?}"))),
            },
            ledger_index: row
                .ledger_idx
                .map(u64::try_from)
                .transpose()
                .map_err(StoreError::corrupt)?,
            created_at: OffsetDateTime::from_unix_timestamp(row.created_at)
                .map_err(StoreError::corrupt)?,
            id: row.id,
            grant_id: row.grant_id,
            company_id: row.company_id,
            jws: row.jws,
            sha256: row.sha256,
        })
    }
}

impl Store {
    /// Installs the signer every later grant and revocation is receipted
    /// with; a second call changes nothing.
    pub fn set_receipt_signer(&self, signer: Arc<dyn ReceiptSigner>) {
        let _ = self.receipts.0.set(signer);
    }

    /// A page of the person's receipts, newest first, after the
    /// (`created_at`, `id`) of the last one seen.
    pub async fn receipts_of_person(
        &self,
        person: &PersonId,
        after: Option<(OffsetDateTime, &str)>,
        limit: u64,
    ) -> Result<Vec<StoredReceipt>, StoreError> {
        let query = consent_receipt::Entity::find()
            .filter(consent_receipt::Column::PersonId.eq(person.as_str()));
        page(query, after, limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(StoredReceipt::try_from)
            .collect()
    }

    /// The person's receipt `id`; [`StoreError::ReceiptNotFound`] for
    /// anyone else's.
    pub async fn receipt_of_person(
        &self,
        person: &PersonId,
        id: &str,
    ) -> Result<StoredReceipt, StoreError> {
        consent_receipt::Entity::find_by_id(id.to_owned())
            .filter(consent_receipt::Column::PersonId.eq(person.as_str()))
            .one(&self.db)
            .await?
            .ok_or_else(|| StoreError::ReceiptNotFound(id.to_owned()))
            .and_then(StoredReceipt::try_from)
    }

    /// The receipts of `company`'s grant `grant_id`, in the log's order;
    /// [`StoreError::GrantNotFound`] when the grant is not the company's.
    pub async fn receipts_of_grant(
        &self,
        company: &CompanyId,
        grant_id: &str,
    ) -> Result<Vec<StoredReceipt>, StoreError> {
        let owned = grant::Entity::find_by_id(grant_id.to_owned())
            .filter(grant::Column::CompanyId.eq(company.as_str()))
            .one(&self.db)
            .await?;
        if owned.is_none() {
            return Err(StoreError::GrantNotFound(grant_id.to_owned()));
        }
        consent_receipt::Entity::find()
            .filter(consent_receipt::Column::GrantId.eq(grant_id))
            .filter(consent_receipt::Column::CompanyId.eq(company.as_str()))
            // In the log's order: two receipts of one second keep theirs.
            .order_by_asc(consent_receipt::Column::LedgerIdx)
            .order_by_asc(consent_receipt::Column::Id)
            .limit(MAX_RECEIPTS_PER_GRANT)
            .all(&self.db)
            .await?
            .into_iter()
            .map(StoredReceipt::try_from)
            .collect()
    }
}

/// Most receipts listed for one grant: a grant has one when given and one
/// when withdrawn; the bound only keeps a damaged table from answering
/// without end.
pub const MAX_RECEIPTS_PER_GRANT: u64 = 16;

fn page(
    query: sea_orm::Select<consent_receipt::Entity>,
    after: Option<(OffsetDateTime, &str)>,
    limit: u64,
) -> sea_orm::Select<consent_receipt::Entity> {
    let query = match after {
        Some((at, id)) => {
            let secs = at.unix_timestamp();
            query.filter(
                Condition::any()
                    .add(consent_receipt::Column::CreatedAt.lt(secs))
                    .add(
                        Condition::all()
                            .add(consent_receipt::Column::CreatedAt.eq(secs))
                            .add(consent_receipt::Column::Id.lt(id)),
                    ),
            )
        }
        None => query,
    };
    query
        .order_by_desc(consent_receipt::Column::CreatedAt)
        .order_by_desc(consent_receipt::Column::Id)
        .limit(limit)
}

/// Makes, signs and keeps the receipt of `event` on `grant` in `txn`;
/// returns its hash for the grant's ledger entry, or `None` when the store
/// has no signer.
pub(crate) async fn issue(
    store: &Store,
    txn: &DatabaseTransaction,
    grant: &Grant,
    event: ReceiptEvent,
    at: OffsetDateTime,
) -> Result<Option<Hash>, StoreError> {
    let Some(signer) = store.receipts.0.get() else {
        return Ok(None);
    };
    let company = company::Entity::find_by_id(grant.company_id.to_string())
        .one(txn)
        .await?
        .ok_or_else(|| StoreError::CompanyNotFound(grant.company_id.to_string()))?;
    let id = new_id();
    let claims = claims(signer.as_ref(), grant, &company, &id, event, at);
    let jws = signer.sign(&claims).map_err(StoreError::ReceiptSigning)?;
    let hash = receipt_hash(&jws);
    consent_receipt::ActiveModel {
        id: Set(id),
        grant_id: Set(grant.id.clone()),
        person_id: Set(grant.person_id.as_str().to_owned()),
        company_id: Set(grant.company_id.to_string()),
        event: Set(event.as_str().to_owned()),
        jws: Set(jws),
        sha256: Set(to_hex(&hash)),
        ledger_idx: Set(None),
        created_at: Set(at.unix_timestamp()),
    }
    .insert(txn)
    .await?;
    Ok(Some(hash))
}

fn claims(
    signer: &dyn ReceiptSigner,
    grant: &Grant,
    company: &company::Model,
    id: &str,
    event: ReceiptEvent,
    at: OffsetDateTime,
) -> ReceiptClaims {
    let base = signer.issuer().trim_end_matches('/');
    ReceiptClaims {
        iss: signer.issuer().to_owned(),
        jti: id.to_owned(),
        iat: at.unix_timestamp(),
        sub: signer.subject(&grant.company_id, &grant.person_id),
        schema: RECEIPT_SCHEMA.to_owned(),
        kantara_version: KANTARA_VERSION.to_owned(),
        receipt_id: id.to_owned(),
        record_id: grant.id.clone(),
        request_id: grant.request_id.clone(),
        controller: Controller {
            id: company.id.clone(),
            name: company.name.clone(),
            contact: company.contact.clone(),
        },
        purpose: grant.purpose.to_string(),
        legal_basis: "consent".to_owned(),
        attributes: grant.attributes.iter().map(ToString::to_string).collect(),
        duration: grant.duration.to_string(),
        expires_at: grant.expires_at.unix_timestamp(),
        jurisdiction: signer.jurisdiction().to_owned(),
        withdrawal: Withdrawal {
            method: "online".to_owned(),
            page: format!("{base}/grants"),
            endpoint: format!("{base}/v1/me/grants/{}", grant.id),
        },
        event: EventClaim {
            kind: event,
            time: at.unix_timestamp(),
            state: event.state().to_owned(),
        },
        offer: grant.price.as_ref().map(|price| OfferClaim {
            amount_micros: price.amount_micros(),
            currency: price.currency().code().to_owned(),
            display: price.to_string(),
        }),
    }
}

/// Whether `person` holds a live grant to `company` for `purpose` now: a
/// grant made while one does is a renewal.
pub(crate) async fn renews(
    txn: &DatabaseTransaction,
    person: &PersonId,
    company: &CompanyId,
    purpose: &str,
    at: OffsetDateTime,
) -> Result<bool, StoreError> {
    Ok(grant::Entity::find()
        .filter(grant::Column::PersonId.eq(person.as_str()))
        .filter(grant::Column::CompanyId.eq(company.as_str()))
        .filter(grant::Column::Purpose.eq(purpose))
        .filter(grant::Column::RevokedAt.is_null())
        .filter(grant::Column::ExpiresAt.gt(at))
        .one(txn)
        .await?
        .is_some())
}

/// Notes on each receipt row the index of the entry that carries its hash
/// (`first` is the index of `entries[0]`).
pub(crate) async fn note_indexes(
    txn: &DatabaseTransaction,
    first: u64,
    entries: &[Entry],
) -> Result<(), StoreError> {
    for (offset, entry) in entries.iter().enumerate() {
        let receipt = match &entry.kind {
            EntryKind::GrantCreated { receipt, .. } | EntryKind::GrantRevoked { receipt, .. } => {
                receipt
            }
            _ => continue,
        };
        let Some(hash) = receipt else { continue };
        let index = first + offset as u64;
        consent_receipt::Entity::update_many()
            .col_expr(
                consent_receipt::Column::LedgerIdx,
                Expr::value(Some(i64::try_from(index).map_err(StoreError::corrupt)?)),
            )
            .filter(consent_receipt::Column::Sha256.eq(to_hex(hash)))
            .exec(txn)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Handle, store_test};
    use consent_policy::{
        AttributeKey, Bucket, Channel, DataRequest, GrantDuration, Profile, decide,
    };
    use serde_json::json;

    /// Signs nothing: a JWS-shaped string around the claims, enough for
    /// the store, which keeps and hashes whatever it is given.
    struct FakeSigner;

    impl ReceiptSigner for FakeSigner {
        fn issuer(&self) -> &str {
            "https://apiome.test"
        }
        fn jurisdiction(&self) -> &str {
            "EU"
        }
        fn subject(&self, company: &CompanyId, _person: &PersonId) -> String {
            format!("sub-for-{company}")
        }
        fn sign(&self, claims: &ReceiptClaims) -> Result<String, String> {
            let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(serde_json::to_vec(claims).map_err(|e| e.to_string())?);
            Ok(format!("e30.{payload}.c2ln"))
        }
    }

    async fn granted(store: &Store, person: &PersonId, company: &CompanyId) -> String {
        let request = DataRequest::from_json_value(
            json!({"type": "apiome_data", "attributes": ["display_name"],
                   "purpose": "marketing", "duration": "P30D"}),
            &GrantDuration::parse("P1Y").unwrap(),
        )
        .unwrap();
        let profile: Profile = store.profile(person).await.unwrap();
        let decision = decide(&profile, company, &request);
        let stored = store
            .record_request(person, company, &request, &decision, Channel::Async)
            .await
            .unwrap();
        stored
            .grant_id
            .expect("a public attribute is granted at once")
    }

    async fn logged_receipt(store: &Store, receipt: &StoredReceipt) -> Option<Hash> {
        let index = receipt.ledger_index.expect("the entry's index is noted");
        let entry = store.ledger_entries(index, index + 1).await.unwrap();
        match &entry[0].entry.kind {
            EntryKind::GrantCreated {
                grant_id,
                receipt: r,
                ..
            }
            | EntryKind::GrantRevoked {
                grant_id,
                receipt: r,
                ..
            } => {
                assert_eq!(grant_id.as_str(), receipt.grant_id);
                *r
            }
            other => panic!("entry {index} is {other:?}"),
        }
    }

    store_test!(
        every_grant_renewal_and_revocation_has_its_receipt_in_its_entry,
        |store| {
            store.set_receipt_signer(Arc::new(FakeSigner));
            let person = store
                .create_person(&Handle::parse("receipt_keeper").unwrap())
                .await
                .unwrap()
                .id;
            store
                .put_attribute(
                    &person,
                    &AttributeKey::parse("display_name").unwrap(),
                    &json!("Ada"),
                    Bucket::Public,
                )
                .await
                .unwrap();
            let company = CompanyId::parse("acme").unwrap();
            store.create_company(&company, "Acme").await.unwrap();

            let first = granted(store, &person, &company).await;
            let second = granted(store, &person, &company).await;
            store.revoke_grant(&person, &first).await.unwrap();

            let mut receipts = store.receipts_of_person(&person, None, 10).await.unwrap();
            receipts.sort_by_key(|r| r.ledger_index);
            let events: Vec<_> = receipts
                .iter()
                .map(|r| (r.grant_id.as_str(), r.event))
                .collect();
            assert_eq!(
                events,
                [
                    (first.as_str(), ReceiptEvent::Given),
                    (second.as_str(), ReceiptEvent::Renewed),
                    (first.as_str(), ReceiptEvent::Withdrawn),
                ]
            );
            for receipt in &receipts {
                let hash = receipt_hash(&receipt.jws);
                assert_eq!(receipt.sha256, to_hex(&hash));
                assert_eq!(logged_receipt(store, receipt).await, Some(hash));
                let claims = receipt.claims().unwrap();
                assert_eq!(claims.record_id, receipt.grant_id);
                assert_eq!(claims.sub, "sub-for-acme");
                assert_eq!(claims.controller.name, "Acme");
                assert_eq!(claims.attributes, ["display_name"]);
                assert_eq!(claims.event.kind, receipt.event);
                assert!(
                    !receipt.jws.contains("Ada"),
                    "a receipt never holds a value"
                );
            }

            // The company sees its grant's receipts, oldest first; another
            // company's grant is not found, nor is another person's receipt.
            let theirs = store.receipts_of_grant(&company, &first).await.unwrap();
            assert_eq!(theirs.len(), 2);
            assert_eq!(theirs[0].event, ReceiptEvent::Given);
            let other = CompanyId::parse("globex").unwrap();
            store.create_company(&other, "Globex").await.unwrap();
            assert!(matches!(
                store.receipts_of_grant(&other, &first).await,
                Err(StoreError::GrantNotFound(_))
            ));
            let stranger = store
                .create_person(&Handle::parse("someone_else").unwrap())
                .await
                .unwrap()
                .id;
            assert!(matches!(
                store.receipt_of_person(&stranger, &receipts[0].id).await,
                Err(StoreError::ReceiptNotFound(_))
            ));
        }
    );

    store_test!(without_a_signer_grants_keep_their_old_entries, |store| {
        let person = store
            .create_person(&Handle::parse("no_receipts").unwrap())
            .await
            .unwrap()
            .id;
        store
            .put_attribute(
                &person,
                &AttributeKey::parse("display_name").unwrap(),
                &json!("Ada"),
                Bucket::Public,
            )
            .await
            .unwrap();
        let company = CompanyId::parse("acme").unwrap();
        store.create_company(&company, "Acme").await.unwrap();
        granted(store, &person, &company).await;
        assert!(
            store
                .receipts_of_person(&person, None, 10)
                .await
                .unwrap()
                .is_empty()
        );
        let size = store.ledger_size().await.unwrap();
        let entries = store.ledger_entries(0, size).await.unwrap();
        assert!(
            entries
                .iter()
                .any(|e| matches!(e.entry.kind, EntryKind::GrantCreated { receipt: None, .. }))
        );
    });
}
