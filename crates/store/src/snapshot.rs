//! One consistent view of everything a read under a grant decides from:
//! the person's policy (default, buckets, rules, blocks), its version and
//! the attribute values, read in one transaction.
//!
//! On SQLite it is read on the calling thread's read-only connection (the
//! company's hot path, see [`crate::sqlite_reader`]); on PostgreSQL in one
//! read transaction of the pool.

use consent_policy::{AttributeKey, Bucket, CompanyId, GrantDuration, Profile, Rule};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::entity::{attribute, blocked_company, person, rule};
use crate::{PersonId, Store, StoreError, StoredAttribute};

/// A person's policy and values, as of one moment.
#[derive(Clone, Debug)]
pub struct PolicySnapshot {
    /// What the consent engine decides from.
    pub profile: Profile,
    /// The person's `policy_version` at that moment.
    pub policy_version: i64,
    /// Whether the operator had suspended the person (then nothing of
    /// theirs may leave).
    pub suspended: bool,
    /// The attribute values, by key.
    pub attributes: Vec<StoredAttribute>,
}

/// The rows a snapshot is made of, as either engine reads them.
pub(crate) struct SnapshotRows {
    /// The person's own key, sealed (`None`: nothing sealed under one yet).
    pub(crate) data_key: Option<String>,
    pub(crate) sharing_default: String,
    pub(crate) max_duration: String,
    pub(crate) policy_version: i64,
    pub(crate) suspended: bool,
    pub(crate) attributes: Vec<attribute::Model>,
    pub(crate) rules: Vec<String>,
    pub(crate) blocked: Vec<String>,
}

impl Store {
    /// The person's policy, its version and their attribute values, read
    /// together.
    pub async fn policy_snapshot(&self, id: &PersonId) -> Result<PolicySnapshot, StoreError> {
        let rows = match &self.sqlite_reader {
            Some(reader) => reader.snapshot(id.as_str())?,
            None => self.snapshot_rows(id).await?,
        }
        .ok_or(StoreError::PersonNotFound)?;
        self.snapshot_from(id, rows)
    }

    async fn snapshot_rows(&self, id: &PersonId) -> Result<Option<SnapshotRows>, StoreError> {
        let txn = self.read_txn().await?;
        let Some(person) = person::Entity::find_by_id(id.as_str().to_owned())
            .one(&txn)
            .await?
        else {
            return Ok(None);
        };
        let data_key = Self::sealed_person_key(&txn, id.as_str()).await?;
        let attributes = attribute::Entity::find()
            .filter(attribute::Column::PersonId.eq(id.as_str()))
            .order_by_asc(attribute::Column::Key)
            .all(&txn)
            .await?;
        let rules = rule::Entity::find()
            .select_only()
            .column(rule::Column::Body)
            .filter(rule::Column::PersonId.eq(id.as_str()))
            .order_by_asc(rule::Column::Position)
            .into_tuple()
            .all(&txn)
            .await?;
        let blocked = blocked_company::Entity::find()
            .select_only()
            .column(blocked_company::Column::CompanyId)
            .filter(blocked_company::Column::PersonId.eq(id.as_str()))
            .into_tuple()
            .all(&txn)
            .await?;
        txn.commit().await?;
        Ok(Some(SnapshotRows {
            data_key,
            sharing_default: person.sharing_default,
            max_duration: person.max_duration,
            policy_version: person.policy_version,
            suspended: person.suspended_at.is_some(),
            attributes,
            rules,
            blocked,
        }))
    }

    fn snapshot_from(
        &self,
        id: &PersonId,
        rows: SnapshotRows,
    ) -> Result<PolicySnapshot, StoreError> {
        let person_key = if rows.attributes.is_empty() {
            None
        } else {
            self.open_person_key(id.as_str(), rows.data_key.as_deref())?
        };
        let attributes = rows
            .attributes
            .into_iter()
            .map(|row| StoredAttribute::open(&self.keys, person_key.as_ref(), row))
            .collect::<Result<Vec<_>, _>>()?;
        let buckets = attributes
            .iter()
            .map(|a| (a.key.clone(), a.bucket))
            .collect::<std::collections::BTreeMap<AttributeKey, Bucket>>();
        let rules = rows
            .rules
            .iter()
            .map(|body| serde_json::from_str::<Rule>(body).map_err(StoreError::corrupt))
            .collect::<Result<_, _>>()?;
        let blocked = rows
            .blocked
            .iter()
            .map(|id| CompanyId::parse(id).map_err(StoreError::corrupt))
            .collect::<Result<_, _>>()?;
        Ok(PolicySnapshot {
            profile: Profile {
                default: crate::parse_column(&rows.sharing_default, "person.sharing_default")?,
                buckets,
                rules,
                blocked,
                max_duration: GrantDuration::parse(&rows.max_duration)
                    .map_err(|_| StoreError::corrupt("person.max_duration"))?,
            },
            policy_version: rows.policy_version,
            suspended: rows.suspended,
            attributes,
        })
    }
}
