//! Webhook signing secrets: random, sealed at rest, rotatable.
//!
//! A secret is made when a company first sets a webhook (or when a call is
//! due for a company that has none, from before secrets were stored), in
//! Standard Webhooks' form: `whsec_` and the base64 of 32 random bytes. It
//! is stored sealed under the data key (as attribute values are, bound to
//! its row), so a copy of the database cannot sign a call.
//!
//! A rotation makes a new current secret and keeps the one it replaces
//! signing for [`SECRET_OVERLAP`], so a receiver can move to the new one
//! without missing a call; an older replaced secret stops at once. So at
//! most two secrets sign a call, and [`Store::webhook_secrets`] returns
//! them current first.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use consent_policy::CompanyId;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Set,
};
use time::{Duration, OffsetDateTime};

use crate::entity::{company, webhook_secret};
use crate::{Backend, DataKeys, Resealed, Store, StoreError, new_id, now};

/// How long a replaced secret goes on signing.
pub const SECRET_OVERLAP: Duration = Duration::hours(24);
/// Random bytes in a secret (Standard Webhooks asks for 24 to 64).
const SECRET_BYTES: usize = 32;
const PREFIX: &str = "whsec_";
/// Rows resealed per transaction.
const RESEAL_BATCH: u64 = 500;

/// A webhook signing secret. Its `Debug` form never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret {
    text: String,
    signs_until: Option<OffsetDateTime>,
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSecret")
            .field("text", &"whsec_…")
            .field("signs_until", &self.signs_until)
            .finish()
    }
}

impl WebhookSecret {
    fn generate() -> Result<String, StoreError> {
        let mut bytes = [0u8; SECRET_BYTES];
        getrandom::fill(&mut bytes)
            .map_err(|e| StoreError::corrupt(format!("no randomness: {e}")))?;
        Ok(format!("{PREFIX}{}", STANDARD.encode(bytes)))
    }

    /// Reads a secret in its text form (`whsec_` and the base64 of 24 to
    /// 64 bytes), as a current one; `None` when it is not one.
    pub fn parse(text: &str) -> Option<WebhookSecret> {
        let bytes = STANDARD.decode(text.strip_prefix(PREFIX)?).ok()?;
        (24..=64).contains(&bytes.len()).then(|| WebhookSecret {
            text: text.to_owned(),
            signs_until: None,
        })
    }

    /// The secret as the company holds it: `whsec_…`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The HMAC key: the bytes the base64 after `whsec_` stands for.
    pub fn key(&self) -> Vec<u8> {
        self.text
            .strip_prefix(PREFIX)
            .and_then(|b64| STANDARD.decode(b64).ok())
            .unwrap_or_default()
    }

    /// Until when a replaced secret still signs; `None` for the current one.
    pub fn signs_until(&self) -> Option<OffsetDateTime> {
        self.signs_until
    }
}

/// What a sealed secret is bound to: its company and its row, so a
/// sealed secret copied to another company's row does not open.
fn binding(row: &webhook_secret::Model) -> (String, String) {
    (row.company_id.clone(), format!("webhook_secret/{}", row.id))
}

fn open(keys: &DataKeys, row: &webhook_secret::Model) -> Result<String, StoreError> {
    let (company, slot) = binding(row);
    let bytes = keys
        .open(&company, &slot, &row.sealed)
        .map_err(|e| StoreError::corrupt(format!("webhook secret {}: {e}", row.id)))?;
    String::from_utf8(bytes).map_err(StoreError::corrupt)
}

/// The secrets that sign now, current first, read in `txn` (or outside).
async fn signing<C: sea_orm::ConnectionTrait>(
    db: &C,
    keys: &DataKeys,
    company: &CompanyId,
    at: i64,
) -> Result<Vec<WebhookSecret>, StoreError> {
    let rows = webhook_secret::Entity::find()
        .filter(webhook_secret::Column::CompanyId.eq(company.as_str()))
        .filter(
            Condition::any()
                .add(webhook_secret::Column::SignsUntil.is_null())
                .add(webhook_secret::Column::SignsUntil.gt(at)),
        )
        .order_by_desc(webhook_secret::Column::CreatedAt)
        .all(db)
        .await?;
    let mut secrets = rows
        .iter()
        .map(|row| {
            Ok(WebhookSecret {
                text: open(keys, row)?,
                signs_until: row
                    .signs_until
                    .map(OffsetDateTime::from_unix_timestamp)
                    .transpose()
                    .map_err(StoreError::corrupt)?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    // The current one (no end) first, then the replaced one.
    secrets.sort_by_key(|s| s.signs_until.is_some());
    Ok(secrets)
}

/// Inserts a new current secret for `company` in `txn`.
fn new_row(
    keys: &DataKeys,
    company: &CompanyId,
    at: i64,
) -> Result<webhook_secret::ActiveModel, StoreError> {
    let text = WebhookSecret::generate()?;
    let row = webhook_secret::Model {
        id: new_id(),
        company_id: company.to_string(),
        sealed: String::new(),
        created_at: at,
        signs_until: None,
    };
    let (owner, slot) = binding(&row);
    let sealed = keys
        .seal(&owner, &slot, text.as_bytes())
        .map_err(StoreError::corrupt)?;
    Ok(webhook_secret::ActiveModel {
        id: Set(row.id),
        company_id: Set(row.company_id),
        sealed: Set(sealed),
        created_at: Set(at),
        signs_until: Set(None),
    })
}

impl Store {
    /// Locks the company's row until `txn` ends on PostgreSQL (SQLite's
    /// writer turn already serialises), and checks it exists.
    pub(crate) async fn lock_company(
        &self,
        txn: &DatabaseTransaction,
        company: &CompanyId,
    ) -> Result<(), StoreError> {
        let mut query = company::Entity::find_by_id(company.to_string());
        if self.backend() == Backend::Postgres {
            query = query.lock_exclusive();
        }
        query
            .one(txn)
            .await?
            .ok_or_else(|| StoreError::CompanyNotFound(company.to_string()))?;
        Ok(())
    }

    /// Makes a current secret in `txn` if the company has none; returns
    /// the signing secrets, current first. The caller holds the company's
    /// lock.
    pub(crate) async fn ensure_webhook_secret_in(
        &self,
        txn: &DatabaseTransaction,
        company: &CompanyId,
    ) -> Result<Vec<WebhookSecret>, StoreError> {
        let at = now().unix_timestamp();
        let secrets = signing(txn, &self.keys, company, at).await?;
        if secrets.iter().any(|s| s.signs_until.is_none()) {
            return Ok(secrets);
        }
        webhook_secret::Entity::insert(new_row(&self.keys, company, at)?)
            .exec_without_returning(txn)
            .await?;
        signing(txn, &self.keys, company, at).await
    }

    /// The secrets that sign the company's calls now, current first: one,
    /// or two for [`SECRET_OVERLAP`] after a rotation. Makes the current
    /// one if the company has none yet.
    pub async fn webhook_secrets(
        &self,
        company: &CompanyId,
    ) -> Result<Vec<WebhookSecret>, StoreError> {
        let at = now().unix_timestamp();
        let secrets = signing(&self.db, &self.keys, company, at).await?;
        if secrets.iter().any(|s| s.signs_until.is_none()) {
            return Ok(secrets);
        }
        let (_turn, txn) = self.write_txn().await?;
        self.lock_company(&txn, company).await?;
        let secrets = self.ensure_webhook_secret_in(&txn, company).await?;
        txn.commit().await?;
        Ok(secrets)
    }

    /// Replaces the company's current secret with a new random one. The
    /// replaced one signs for [`SECRET_OVERLAP`] more; one replaced before
    /// it stops now, and expired rows are deleted. Returns the signing
    /// secrets, the new one first.
    pub async fn rotate_webhook_secret(
        &self,
        company: &CompanyId,
    ) -> Result<Vec<WebhookSecret>, StoreError> {
        let at = now().unix_timestamp();
        let (_turn, txn) = self.write_txn().await?;
        self.lock_company(&txn, company).await?;
        let mine = webhook_secret::Column::CompanyId.eq(company.as_str());
        webhook_secret::Entity::delete_many()
            .filter(mine.clone())
            .filter(webhook_secret::Column::SignsUntil.is_not_null())
            .exec(&txn)
            .await?;
        webhook_secret::Entity::update_many()
            .col_expr(
                webhook_secret::Column::SignsUntil,
                Expr::value(Some(at + SECRET_OVERLAP.whole_seconds())),
            )
            .filter(mine)
            .filter(webhook_secret::Column::SignsUntil.is_null())
            .exec(&txn)
            .await?;
        webhook_secret::Entity::insert(new_row(&self.keys, company, at)?)
            .exec_without_returning(&txn)
            .await?;
        let secrets = signing(&txn, &self.keys, company, at).await?;
        txn.commit().await?;
        Ok(secrets)
    }

    /// Seals every webhook secret under the current data key (part of
    /// `apiome keys rotate-data`); a row changed meanwhile is left to its
    /// writer. Safe to rerun.
    pub async fn reseal_webhook_secrets(&self) -> Result<Resealed, StoreError> {
        let mut done = Resealed::default();
        let mut after: Option<String> = None;
        loop {
            let mut query = webhook_secret::Entity::find()
                .order_by_asc(webhook_secret::Column::Id)
                .limit(RESEAL_BATCH);
            if let Some(id) = &after {
                query = query.filter(webhook_secret::Column::Id.gt(id.as_str()));
            }
            let rows = query.all(&self.db).await?;
            let Some(last) = rows.last() else {
                return Ok(done);
            };
            after = Some(last.id.clone());
            let (_turn, txn) = self.write_txn().await?;
            for row in &rows {
                done.values += 1;
                if self.keys.is_current(&row.sealed) {
                    continue;
                }
                let text = open(&self.keys, row)?;
                let (owner, slot) = binding(row);
                let sealed = self
                    .keys
                    .seal(&owner, &slot, text.as_bytes())
                    .map_err(StoreError::corrupt)?;
                let changed = webhook_secret::Entity::update_many()
                    .col_expr(webhook_secret::Column::Sealed, Expr::value(sealed))
                    .filter(webhook_secret::Column::Id.eq(row.id.as_str()))
                    .filter(webhook_secret::Column::Sealed.eq(row.sealed.as_str()))
                    .exec(&txn)
                    .await?;
                done.resealed += changed.rows_affected;
            }
            txn.commit().await?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store_test;

    async fn companies(store: &Store) -> (CompanyId, CompanyId) {
        let acme = CompanyId::parse("acme").unwrap();
        let globex = CompanyId::parse("globex").unwrap();
        store.create_company(&acme, "Acme").await.unwrap();
        store.create_company(&globex, "Globex").await.unwrap();
        (acme, globex)
    }

    async fn rows(store: &Store, company: &CompanyId) -> Vec<webhook_secret::Model> {
        webhook_secret::Entity::find()
            .filter(webhook_secret::Column::CompanyId.eq(company.as_str()))
            .all(&store.db)
            .await
            .unwrap()
    }

    store_test!(a_secret_is_random_sealed_and_made_once, |store| {
        let (acme, globex) = companies(store).await;
        let first = store
            .set_webhook(&acme, Some("https://acme.example/hook"))
            .await
            .unwrap();
        assert_eq!(first.len(), 1);
        let secret = first[0].clone();
        assert!(WebhookSecret::parse(secret.as_str()).is_some());
        assert_eq!(secret.key().len(), SECRET_BYTES);
        assert_eq!(secret.signs_until(), None);
        // Setting the URL again keeps the secret; removing it keeps it too
        // (queued deliveries are still signed), and it comes back unchanged.
        let again = store
            .set_webhook(&acme, Some("https://acme.example/other"))
            .await
            .unwrap();
        assert_eq!(again, vec![secret.clone()]);
        assert!(store.set_webhook(&acme, None).await.unwrap().is_empty());
        assert_eq!(
            store.webhook_secrets(&acme).await.unwrap(),
            vec![secret.clone()]
        );
        // Another company's is its own.
        let theirs = store.webhook_secrets(&globex).await.unwrap();
        assert_eq!(theirs.len(), 1);
        assert_ne!(theirs[0], secret);
        // At rest it is sealed: neither the secret nor its key bytes' text.
        let stored = rows(store, &acme).await;
        assert_eq!(stored.len(), 1);
        let b64 = secret.as_str().trim_start_matches(PREFIX);
        assert!(!stored[0].sealed.contains(b64), "{}", stored[0].sealed);
        assert!(crate::sealed::is_sealed(&stored[0].sealed));
        // A sealed secret moved onto another company's row does not open.
        let mut moved = stored[0].clone();
        moved.company_id = globex.to_string();
        assert!(open(&store.keys, &moved).is_err());
        // Nor under other data keys.
        let other = store.with_data_keys(DataKeys::new(&[[9; 32]]).unwrap());
        assert!(other.webhook_secrets(&acme).await.is_err());
    });

    store_test!(
        a_rotation_keeps_the_old_secret_signing_for_a_day_and_no_older,
        |store| {
            let (acme, _) = companies(store).await;
            let a = store
                .set_webhook(&acme, Some("https://acme.example/hook"))
                .await
                .unwrap()[0]
                .clone();
            let before = now();
            let rotated = store.rotate_webhook_secret(&acme).await.unwrap();
            assert_eq!(rotated.len(), 2, "{rotated:?}");
            let b = rotated[0].clone();
            assert_ne!(b.as_str(), a.as_str());
            assert_eq!(b.signs_until(), None, "the new one is current");
            assert_eq!(rotated[1].as_str(), a.as_str(), "the old one second");
            let until = rotated[1].signs_until().unwrap();
            assert!(until >= before + SECRET_OVERLAP - Duration::seconds(1));
            assert!(until <= now() + SECRET_OVERLAP);
            assert_eq!(store.webhook_secrets(&acme).await.unwrap(), rotated);

            // A second rotation: the first secret stops at once, the second
            // signs for a day, the third is current. Never more than two.
            let third = store.rotate_webhook_secret(&acme).await.unwrap();
            let texts: Vec<&str> = third.iter().map(WebhookSecret::as_str).collect();
            assert_eq!(texts.len(), 2);
            assert!(!texts.contains(&a.as_str()));
            assert_eq!(texts[1], b.as_str());
            assert_eq!(rows(store, &acme).await.len(), 2, "the expired row is gone");

            // A day later the replaced one no longer signs.
            webhook_secret::Entity::update_many()
                .col_expr(
                    webhook_secret::Column::SignsUntil,
                    Expr::value(Some(now().unix_timestamp() - 1)),
                )
                .filter(webhook_secret::Column::SignsUntil.is_not_null())
                .exec(&store.db)
                .await
                .unwrap();
            let later = store.webhook_secrets(&acme).await.unwrap();
            assert_eq!(later.len(), 1);
            assert_eq!(later[0].as_str(), third[0].as_str());
        }
    );

    store_test!(concurrent_rotations_leave_one_current_secret, |store| {
        let (acme, _) = companies(store).await;
        store
            .set_webhook(&acme, Some("https://acme.example/hook"))
            .await
            .unwrap();
        let mut rotations = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let store = store.clone();
            let acme = acme.clone();
            rotations.spawn(async move { store.rotate_webhook_secret(&acme).await.unwrap() });
        }
        while rotations.join_next().await.is_some() {}
        let signing = store.webhook_secrets(&acme).await.unwrap();
        assert_eq!(signing.len(), 2, "{signing:?}");
        assert_eq!(
            signing.iter().filter(|s| s.signs_until().is_none()).count(),
            1
        );
    });

    store_test!(resealing_moves_secrets_to_the_current_key, |store| {
        let old_key = DataKeys::generate().unwrap();
        let before = store.with_data_keys(DataKeys::new(&[old_key]).unwrap());
        let (acme, _) = companies(&before).await;
        let secret = before
            .set_webhook(&acme, Some("https://acme.example/hook"))
            .await
            .unwrap()[0]
            .clone();
        let new_key = DataKeys::generate().unwrap();
        let both = store.with_data_keys(DataKeys::new(&[new_key, old_key]).unwrap());
        let done = both.reseal_webhook_secrets().await.unwrap();
        assert_eq!((done.values, done.resealed), (1, 1));
        assert_eq!(both.reseal_webhook_secrets().await.unwrap().resealed, 0);
        let only_new = store.with_data_keys(DataKeys::new(&[new_key]).unwrap());
        assert_eq!(only_new.webhook_secrets(&acme).await.unwrap(), vec![secret]);
    });
}
