//! Uses companies report of a grant's data (`grant_use`), each with its
//! `use_reported` ledger entry in the same transaction. Whether a use is
//! covered is decided above (`broker::uses`, `consent_policy::purpose_covers`);
//! here it is only recorded. The recipient and the note stay in the row:
//! the entry names the grant, the company, the pseudonym, the kind and the
//! verdict, never the company's words.

use consent_policy::{CompanyId, UseKind};
use ledger::{Entry, EntryKind};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Set,
};
use time::OffsetDateTime;

use crate::entity::{grant, grant_use};
use crate::grant::text;
use crate::ledger::{append_entries, now_unix_ms};
use crate::tx::WriteTx;
use crate::{Backend, Grant, PersonId, Store, StoreError, new_id, now};

/// A use as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredUse {
    /// Its id.
    pub id: String,
    /// The grant.
    pub grant_id: String,
    /// The kind reported.
    pub kind: UseKind,
    /// Who received the data, in the company's words.
    pub recipient: Option<String>,
    /// What the company did, in its words.
    pub note: String,
    /// Whether the grant's purpose covers it.
    pub accepted: bool,
    /// When it was reported.
    pub created_at: OffsetDateTime,
    /// The index of its `use_reported` entry.
    pub ledger_index: u64,
}

/// A use as the person whose data it was sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportedUse {
    /// Its id.
    pub id: String,
    /// The grant.
    pub grant_id: String,
    /// The reporting company.
    pub company_id: CompanyId,
    /// The kind reported.
    pub kind: UseKind,
    /// Who received the data, in the company's words.
    pub recipient: Option<String>,
    /// What the company did, in its words.
    pub note: String,
    /// Whether the grant's purpose covers it.
    pub accepted: bool,
    /// When it was reported.
    pub created_at: OffsetDateTime,
}

impl TryFrom<grant_use::Model> for ReportedUse {
    type Error = StoreError;

    fn try_from(row: grant_use::Model) -> Result<Self, StoreError> {
        Ok(ReportedUse {
            kind: UseKind::parse(&row.kind).map_err(StoreError::corrupt)?,
            company_id: CompanyId::parse(&row.company_id).map_err(StoreError::corrupt)?,
            created_at: OffsetDateTime::from_unix_timestamp(row.created_at)
                .map_err(StoreError::corrupt)?,
            id: row.id,
            grant_id: row.grant_id,
            recipient: row.recipient,
            note: row.note,
            accepted: row.accepted,
        })
    }
}

impl Store {
    /// One page of the uses companies reported of the person's data,
    /// accepted or refused, newest first: at most `limit`, all older than
    /// `after` (the `created_at` and id of the last one seen).
    pub async fn uses_of_person_page(
        &self,
        person: &PersonId,
        after: Option<(OffsetDateTime, &str)>,
        limit: u64,
    ) -> Result<Vec<ReportedUse>, StoreError> {
        let mut query =
            grant_use::Entity::find().filter(grant_use::Column::PersonId.eq(person.as_str()));
        if let Some((at, id)) = after {
            let secs = at.unix_timestamp();
            query = query.filter(
                Condition::any()
                    .add(grant_use::Column::CreatedAt.lt(secs))
                    .add(
                        Condition::all()
                            .add(grant_use::Column::CreatedAt.eq(secs))
                            .add(grant_use::Column::Id.lt(id)),
                    ),
            );
        }
        query
            .order_by_desc(grant_use::Column::CreatedAt)
            .order_by_desc(grant_use::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(ReportedUse::try_from)
            .collect()
    }
}

/// What a company reports, checked by the caller.
#[derive(Debug, Clone, Copy)]
pub struct UseRecord<'a> {
    /// The kind of use.
    pub kind: UseKind,
    /// Who received the data, if anyone.
    pub recipient: Option<&'a str>,
    /// What the company did.
    pub note: &'a str,
    /// The verdict.
    pub accepted: bool,
}

impl WriteTx<'_> {
    /// `company`'s grant `grant_id`, its row locked (PostgreSQL);
    /// [`StoreError::GrantNotFound`] for another company's.
    pub async fn company_grant(
        &self,
        company: &CompanyId,
        grant_id: &str,
    ) -> Result<Grant, StoreError> {
        let mut query = grant::Entity::find_by_id(grant_id.to_owned())
            .filter(grant::Column::CompanyId.eq(company.as_str()));
        if self.backend() == Backend::Postgres {
            query = query.lock_exclusive();
        }
        query
            .one(self.txn())
            .await?
            .ok_or_else(|| StoreError::GrantNotFound(grant_id.to_owned()))
            .and_then(Grant::try_from)
    }

    /// Records a reported use of `grant` and its `use_reported` entry.
    pub async fn record_use(
        &self,
        grant: &Grant,
        report: UseRecord<'_>,
    ) -> Result<StoredUse, StoreError> {
        let pseudonym = self.pseudonym(&grant.person_id).await?;
        let at = now();
        let row = grant_use::ActiveModel {
            id: Set(new_id()),
            grant_id: Set(grant.id.clone()),
            person_id: Set(grant.person_id.as_str().to_owned()),
            company_id: Set(grant.company_id.to_string()),
            kind: Set(report.kind.as_str().to_owned()),
            recipient: Set(report.recipient.map(str::to_owned)),
            note: Set(report.note.to_owned()),
            accepted: Set(report.accepted),
            created_at: Set(at.unix_timestamp()),
        }
        .insert(self.txn())
        .await?;
        let entry = Entry::new(
            now_unix_ms(),
            EntryKind::UseReported {
                grant_id: text(grant.id.as_str())?,
                company_id: text(grant.company_id.to_string())?,
                person: text(pseudonym)?,
                use_kind: text(report.kind.as_str())?,
                accepted: report.accepted,
            },
        );
        let ledger_index = append_entries(self.txn(), self.backend(), &[entry]).await?;
        Ok(StoredUse {
            id: row.id,
            grant_id: row.grant_id,
            kind: report.kind,
            recipient: row.recipient,
            note: row.note,
            accepted: row.accepted,
            created_at: at,
            ledger_index,
        })
    }
}
