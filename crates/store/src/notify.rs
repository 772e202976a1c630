//! Notifications to the person by email: their address and choices, and
//! the mail outbox.
//!
//! A mail is written to `mail_outbox` in the transaction of the event that
//! causes it (a request left waiting, a grant's first read, a reminder), so
//! a crash before it commits loses the event and the mail together, and a
//! crash after leaves the mail queued for the worker. Whether a mail is
//! written at all is decided there too, from the person's row in
//! `notify_setting` ([`eligible`]): only to a verified address, only for a
//! kind not turned off, and held for the daily digest when they asked for
//! one. A payload holds company names, attribute *labels*, purposes and
//! offers — never an attribute's value.
//!
//! The worker claims due mails with a lease ([`MAIL_LEASE`]), sends, and
//! records the outcome, retrying with [`mail_backoff`] up to
//! [`MAX_MAIL_ATTEMPTS`] tries. Each row's id is its mail's `Message-ID`.

use consent_policy::{AttributeKey, DataRequest};
use sea_orm::sea_query::{Expr, LockBehavior, LockType, OnConflict};
use sea_orm::{
    ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use time::{Duration, OffsetDateTime};

use crate::entity::{company, data_request, grant, mail_outbox, notice_mark, notify_setting};
use crate::{Backend, PersonId, Store, StoreError, WriteTx, new_id, now};

/// Tries before a mail is given up (about seven hours with the back-off).
pub const MAX_MAIL_ATTEMPTS: i32 = 14;
/// How long a claimed mail is held by its worker before another may take
/// it (a worker that crashed mid-send).
pub const MAIL_LEASE: Duration = Duration::seconds(60);
/// Mails one claim takes at most, and rows one reminder or digest pass
/// handles.
pub const MAIL_BATCH: u64 = 32;
/// How long a verification link works.
pub const VERIFY_TTL: Duration = Duration::hours(24);
/// Verification mails one person may have sent in a day: setting an
/// address mails a stranger's mailbox, so it is bounded.
pub const MAX_VERIFICATIONS_PER_DAY: usize = 5;
/// How long a mail that is done with (sent, given up, or carried by a
/// digest) is kept before it is deleted.
pub const MAIL_RETENTION: Duration = Duration::days(30);

/// What a person can be told, each of which they can turn off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NoticeKind {
    /// A company's request waits for their answer.
    RequestWaiting,
    /// A grant or a waiting request ends in a few days.
    Expiring,
    /// A company read under a grant for the first time.
    FirstUse,
}

impl NoticeKind {
    /// Every kind, in the order pages list them.
    pub const ALL: [NoticeKind; 3] = [
        NoticeKind::RequestWaiting,
        NoticeKind::Expiring,
        NoticeKind::FirstUse,
    ];

    /// Its name in the API and the outbox.
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::RequestWaiting => "request_waiting",
            NoticeKind::Expiring => "expiring",
            NoticeKind::FirstUse => "first_use",
        }
    }

    /// The kind named `text`.
    pub fn parse(text: &str) -> Option<NoticeKind> {
        NoticeKind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// In words, for pages and mails.
    pub fn label(self) -> &'static str {
        match self {
            NoticeKind::RequestWaiting => "A request is waiting for my answer",
            NoticeKind::Expiring => "A grant or request ends in 3 days",
            NoticeKind::FirstUse => "A company used a grant for the first time",
        }
    }
}

/// A person's notification address and choices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotifySettings {
    /// The address.
    pub address: String,
    /// Whether the person proved they read it.
    pub verified: bool,
    /// Kinds turned off.
    pub kinds_off: Vec<NoticeKind>,
    /// A daily digest instead of single mails.
    pub digest: bool,
}

impl TryFrom<notify_setting::Model> for NotifySettings {
    type Error = StoreError;
    fn try_from(row: notify_setting::Model) -> Result<Self, StoreError> {
        Ok(NotifySettings {
            kinds_off: kinds_off(&row.kinds_off)?,
            address: row.address,
            verified: row.verified_at.is_some(),
            digest: row.digest,
        })
    }
}

fn kinds_off(text: &str) -> Result<Vec<NoticeKind>, StoreError> {
    text.split(',')
        .filter(|k| !k.is_empty())
        .map(|k| NoticeKind::parse(k).ok_or_else(|| StoreError::corrupt(format!("kind {k:?}"))))
        .collect()
}

fn kinds_text(kinds: &[NoticeKind]) -> String {
    NoticeKind::ALL
        .into_iter()
        .filter(|k| kinds.contains(k))
        .map(NoticeKind::as_str)
        .collect::<Vec<_>>()
        .join(",")
}

/// A mail claimed for sending.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedMail {
    /// Its id, also its `Message-ID`'s left part.
    pub id: String,
    /// To whom.
    pub person_id: PersonId,
    /// `verify`, `digest` or a [`NoticeKind`]'s name.
    pub kind: String,
    /// The address.
    pub to: String,
    /// What to render.
    pub payload: serde_json::Value,
    /// Tries made before this one.
    pub attempts: i32,
}

/// Where a mail stands, for tests and the operator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailStatus {
    /// Its id.
    pub id: String,
    /// Its kind.
    pub kind: String,
    /// Tries made.
    pub attempts: i32,
    /// Whether the transport accepted it.
    pub sent: bool,
    /// Waiting for a digest.
    pub held: bool,
}

/// The pause before try number `attempts + 1`: 2 s, 4 s, 8 s, … capped at
/// one hour.
pub fn mail_backoff(attempts: i32) -> Duration {
    let exponent = u32::try_from(attempts.clamp(0, 11) + 1).unwrap_or(12);
    Duration::seconds(2_i64.pow(exponent)).min(Duration::hours(1))
}

/// Whether a mail of `kind` goes to this person, and where: only to a
/// verified address, only for a kind they did not turn off; `held` when
/// they asked for a digest.
pub fn eligible(row: Option<&notify_setting::Model>, kind: NoticeKind) -> Option<(String, bool)> {
    let row = row?;
    row.verified_at?;
    let off = row.kinds_off.split(',').any(|k| k == kind.as_str());
    (!off).then(|| (row.address.clone(), row.digest))
}

fn unix(at: OffsetDateTime) -> i64 {
    at.unix_timestamp()
}

/// The outbox row for a mail to `address` (held for a digest, or due now).
pub(crate) fn outbox_row(
    person: &str,
    kind: &str,
    address: &str,
    payload: &serde_json::Value,
    held: bool,
) -> (String, mail_outbox::ActiveModel) {
    let id = new_id();
    let at = unix(now());
    let row = mail_outbox::ActiveModel {
        message_id: Set(id.clone()),
        id: Set(id.clone()),
        person_id: Set(person.to_owned()),
        kind: Set(kind.to_owned()),
        to_address: Set(address.to_owned()),
        payload: Set(payload.to_string()),
        created_at: Set(at),
        held: Set(held),
        digest_id: Set(None),
        attempts: Set(0),
        next_attempt_at: Set((!held).then_some(at)),
        sent_at: Set(None),
        last_error: Set(None),
    };
    (id, row)
}

/// Queues a mail of `kind` to `person` in the caller's transaction, if
/// [`eligible`]; `payload` holds names and labels only.
pub(crate) async fn notify(
    txn: &DatabaseTransaction,
    person: &str,
    kind: NoticeKind,
    payload: serde_json::Value,
) -> Result<(), StoreError> {
    let row = notify_setting::Entity::find_by_id(person.to_owned())
        .one(txn)
        .await?;
    let Some((address, held)) = eligible(row.as_ref(), kind) else {
        return Ok(());
    };
    mail_outbox::Entity::insert(outbox_row(person, kind.as_str(), &address, &payload, held).1)
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

/// Marks `subject` as noticed for `kind`; `true` the first time only.
pub(crate) async fn mark_once(
    txn: &DatabaseTransaction,
    subject: &str,
    kind: NoticeKind,
) -> Result<bool, StoreError> {
    let inserted = notice_mark::Entity::insert(notice_mark::ActiveModel {
        subject_id: Set(subject.to_owned()),
        kind: Set(kind.as_str().to_owned()),
        created_at: Set(unix(now())),
    })
    .on_conflict(
        OnConflict::columns([notice_mark::Column::SubjectId, notice_mark::Column::Kind])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await;
    match inserted {
        Ok(rows) => Ok(rows > 0),
        Err(DbErr::RecordNotInserted) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

async fn company_name(txn: &DatabaseTransaction, id: &str) -> Result<String, StoreError> {
    Ok(company::Entity::find_by_id(id.to_owned())
        .one(txn)
        .await?
        .map_or_else(|| id.to_owned(), |c| c.name))
}

fn labels(keys: &[AttributeKey]) -> Vec<String> {
    keys.iter().map(|k| k.label().to_owned()).collect()
}

/// What a request-waiting mail says: who asks, what (by label), why, the
/// offer. Never a value: the payload is built from the request alone.
pub(crate) async fn request_waiting(
    txn: &DatabaseTransaction,
    person: &PersonId,
    company: &str,
    request_id: &str,
    request: &DataRequest,
) -> Result<(), StoreError> {
    let payload = serde_json::json!({
        "request_id": request_id,
        "company": company_name(txn, company).await?,
        "attributes": labels(request.attributes()),
        "purpose": request.purpose().plain_words(),
        "offer": request.offer().filter(|o| o.amount_micros() > 0).map(ToString::to_string),
    });
    notify(txn, person.as_str(), NoticeKind::RequestWaiting, payload).await
}

/// The disclosure writer's SQLite connection: the first read of each
/// grant (marked in `notice_mark`) queues a first-use mail, in the group's
/// transaction.
pub(crate) fn first_use_sqlite(
    txn: &rusqlite::Transaction<'_>,
    grant_id: &str,
    person: &str,
    company: &str,
    attributes: &[AttributeKey],
) -> Result<(), StoreError> {
    use crate::sqlite_writer::database_error;
    use rusqlite::OptionalExtension;
    let error = |e| database_error("noticing a first use", e);
    let at = unix(now());
    let marked = txn
        .prepare_cached(
            "INSERT INTO notice_mark (subject_id, kind, created_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT DO NOTHING",
        )
        .map_err(error)?
        .execute(rusqlite::params![
            grant_id,
            NoticeKind::FirstUse.as_str(),
            at
        ])
        .map_err(error)?;
    if marked == 0 {
        return Ok(());
    }
    let row = txn
        .query_row(
            "SELECT address, verified_at, kinds_off, digest FROM notify_setting \
             WHERE person_id = ?1",
            [person],
            |row| {
                Ok(notify_setting::Model {
                    person_id: person.to_owned(),
                    address: row.get(0)?,
                    verified_at: row.get(1)?,
                    token_hash: None,
                    token_expires_at: None,
                    kinds_off: row.get(2)?,
                    digest: row.get(3)?,
                    last_digest_at: None,
                    updated_at: 0,
                })
            },
        )
        .optional()
        .map_err(error)?;
    let Some((address, held)) = eligible(row.as_ref(), NoticeKind::FirstUse) else {
        return Ok(());
    };
    let name: Option<String> = txn
        .query_row("SELECT name FROM company WHERE id = ?1", [company], |r| {
            r.get(0)
        })
        .optional()
        .map_err(error)?;
    let payload = first_use_payload(grant_id, name.as_deref().unwrap_or(company), attributes);
    let id = new_id();
    txn.prepare_cached(
        "INSERT INTO mail_outbox (id, person_id, kind, to_address, payload, message_id, \
         created_at, held, digest_id, attempts, next_attempt_at, sent_at, last_error) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?1, ?6, ?7, NULL, 0, ?8, NULL, NULL)",
    )
    .map_err(error)?
    .execute(rusqlite::params![
        id,
        person,
        NoticeKind::FirstUse.as_str(),
        address,
        payload.to_string(),
        at,
        held,
        (!held).then_some(at),
    ])
    .map_err(error)?;
    Ok(())
}

fn first_use_payload(
    grant_id: &str,
    company: &str,
    attributes: &[AttributeKey],
) -> serde_json::Value {
    serde_json::json!({
        "grant_id": grant_id,
        "company": company,
        "attributes": labels(attributes),
    })
}

/// [`first_use_sqlite`] through the pool (PostgreSQL, or SQLite without
/// the writer's own connection).
pub(crate) async fn first_use(
    txn: &DatabaseTransaction,
    grant_id: &str,
    person: &str,
    company: &str,
    attributes: &[AttributeKey],
) -> Result<(), StoreError> {
    if !mark_once(txn, grant_id, NoticeKind::FirstUse).await? {
        return Ok(());
    }
    let payload = first_use_payload(grant_id, &company_name(txn, company).await?, attributes);
    notify(txn, person, NoticeKind::FirstUse, payload).await
}

impl WriteTx<'_> {
    /// The person's notification settings, if they gave an address.
    pub async fn notify_settings(
        &self,
        person: &PersonId,
    ) -> Result<Option<NotifySettings>, StoreError> {
        notify_setting::Entity::find_by_id(person.as_str().to_owned())
            .one(self.txn())
            .await?
            .map(NotifySettings::try_from)
            .transpose()
    }

    /// Sets the person's address, unverified, with a new verification
    /// token (its SHA-256), and queues the verification mail carrying
    /// `link`; kinds and digest stay as they were.
    pub async fn set_notify_address(
        &self,
        person: &PersonId,
        address: &str,
        token_hash: &str,
        link: &str,
    ) -> Result<(), StoreError> {
        let at = now();
        let current = notify_setting::Entity::find_by_id(person.as_str().to_owned())
            .one(self.txn())
            .await?;
        let sent_today = mail_outbox::Entity::find()
            .filter(mail_outbox::Column::PersonId.eq(person.as_str()))
            .filter(mail_outbox::Column::Kind.eq("verify"))
            .filter(mail_outbox::Column::CreatedAt.gt(unix(at - Duration::days(1))))
            .count(self.txn())
            .await?;
        if sent_today >= MAX_VERIFICATIONS_PER_DAY as u64 {
            return Err(StoreError::TooManyVerifications {
                max: MAX_VERIFICATIONS_PER_DAY,
            });
        }
        let (kinds, digest, last_digest) = current
            .map(|c| (c.kinds_off, c.digest, c.last_digest_at))
            .unwrap_or_default();
        notify_setting::Entity::insert(notify_setting::ActiveModel {
            person_id: Set(person.as_str().to_owned()),
            address: Set(address.to_owned()),
            verified_at: Set(None),
            token_hash: Set(Some(token_hash.to_owned())),
            token_expires_at: Set(Some(unix(at + VERIFY_TTL))),
            kinds_off: Set(kinds),
            digest: Set(digest),
            last_digest_at: Set(last_digest),
            updated_at: Set(unix(at)),
        })
        .on_conflict(
            OnConflict::column(notify_setting::Column::PersonId)
                .update_columns([
                    notify_setting::Column::Address,
                    notify_setting::Column::VerifiedAt,
                    notify_setting::Column::TokenHash,
                    notify_setting::Column::TokenExpiresAt,
                    notify_setting::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(self.txn())
        .await?;
        let payload = serde_json::json!({ "link": link });
        mail_outbox::Entity::insert(
            outbox_row(person.as_str(), "verify", address, &payload, false).1,
        )
        .exec_without_returning(self.txn())
        .await?;
        Ok(())
    }

    /// Verifies the person's address if `token_hash` is their open,
    /// unexpired token, and uses the token up; `false` (nothing changed)
    /// otherwise.
    pub async fn verify_notify_address(
        &self,
        person: &PersonId,
        token_hash: &str,
    ) -> Result<bool, StoreError> {
        let at = unix(now());
        let changed = notify_setting::Entity::update_many()
            .col_expr(notify_setting::Column::VerifiedAt, Expr::value(Some(at)))
            .col_expr(
                notify_setting::Column::TokenHash,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                notify_setting::Column::TokenExpiresAt,
                Expr::value(Option::<i64>::None),
            )
            .col_expr(notify_setting::Column::UpdatedAt, Expr::value(at))
            .filter(notify_setting::Column::PersonId.eq(person.as_str()))
            .filter(notify_setting::Column::TokenHash.eq(token_hash))
            .filter(notify_setting::Column::TokenExpiresAt.gt(at))
            .exec(self.txn())
            .await?;
        Ok(changed.rows_affected == 1)
    }

    /// Sets which kinds are off and whether mails wait for a digest;
    /// `false` (nothing changed) when the person gave no address yet.
    /// Choosing the digest starts its day now.
    pub async fn set_notify_choices(
        &self,
        person: &PersonId,
        kinds_off: &[NoticeKind],
        digest: bool,
    ) -> Result<bool, StoreError> {
        let Some(current) = notify_setting::Entity::find_by_id(person.as_str().to_owned())
            .one(self.txn())
            .await?
        else {
            return Ok(false);
        };
        let at = unix(now());
        let last_digest = match (current.digest, digest) {
            (false, true) => Some(at),
            _ => current.last_digest_at,
        };
        notify_setting::Entity::update_many()
            .col_expr(
                notify_setting::Column::KindsOff,
                Expr::value(kinds_text(kinds_off)),
            )
            .col_expr(notify_setting::Column::Digest, Expr::value(digest))
            .col_expr(
                notify_setting::Column::LastDigestAt,
                Expr::value(last_digest),
            )
            .col_expr(notify_setting::Column::UpdatedAt, Expr::value(at))
            .filter(notify_setting::Column::PersonId.eq(person.as_str()))
            .exec(self.txn())
            .await?;
        if !digest {
            // Mails held for a digest go out singly now.
            mail_outbox::Entity::update_many()
                .col_expr(mail_outbox::Column::Held, Expr::value(false))
                .col_expr(mail_outbox::Column::NextAttemptAt, Expr::value(Some(at)))
                .filter(mail_outbox::Column::PersonId.eq(person.as_str()))
                .filter(mail_outbox::Column::Held.eq(true))
                .exec(self.txn())
                .await?;
        }
        Ok(true)
    }
}

impl Store {
    /// The person's notification settings, if they gave an address.
    pub async fn notify_settings(
        &self,
        person: &PersonId,
    ) -> Result<Option<NotifySettings>, StoreError> {
        notify_setting::Entity::find_by_id(person.as_str().to_owned())
            .one(&self.db)
            .await?
            .map(NotifySettings::try_from)
            .transpose()
    }

    /// Claims up to `limit` due mails for one worker, each leased for
    /// [`MAIL_LEASE`], so other workers (here or in another process) leave
    /// it alone until the lease ends.
    pub async fn claim_mail(&self, limit: u64) -> Result<Vec<QueuedMail>, StoreError> {
        let at = unix(now());
        let due = mail_outbox::Entity::find().filter(mail_outbox::Column::NextAttemptAt.lte(at));
        if due.clone().one(&self.db).await?.is_none() {
            return Ok(Vec::new());
        }
        let (_turn, txn) = self.write_txn().await?;
        let mut query = due
            .order_by_asc(mail_outbox::Column::NextAttemptAt)
            .limit(limit);
        if self.backend() == Backend::Postgres {
            query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
        let rows = query.all(&txn).await?;
        for row in &rows {
            mail_outbox::Entity::update_many()
                .col_expr(
                    mail_outbox::Column::NextAttemptAt,
                    Expr::value(Some(at + MAIL_LEASE.whole_seconds())),
                )
                .col_expr(mail_outbox::Column::Attempts, Expr::value(row.attempts + 1))
                .filter(mail_outbox::Column::Id.eq(&row.id))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        rows.into_iter()
            .map(|row| {
                Ok(QueuedMail {
                    person_id: PersonId::new(row.person_id),
                    payload: serde_json::from_str(&row.payload).map_err(StoreError::corrupt)?,
                    id: row.id,
                    kind: row.kind,
                    to: row.to_address,
                    attempts: row.attempts,
                })
            })
            .collect()
    }

    /// Records one send's outcome: accepted (`Ok`; a verification mail's
    /// link is then erased from the outbox), or failed with why — then
    /// tried again after [`mail_backoff`] until [`MAX_MAIL_ATTEMPTS`].
    pub async fn record_mail_attempt(
        &self,
        mail: &QueuedMail,
        outcome: Result<(), String>,
    ) -> Result<(), StoreError> {
        let attempts = mail.attempts + 1;
        let at = unix(now());
        let mut update = mail_outbox::Entity::update_many();
        update = match outcome {
            Ok(()) => {
                let mut update = update
                    .col_expr(mail_outbox::Column::SentAt, Expr::value(Some(at)))
                    .col_expr(
                        mail_outbox::Column::NextAttemptAt,
                        Expr::value(Option::<i64>::None),
                    );
                if mail.kind == "verify" {
                    update = update.col_expr(mail_outbox::Column::Payload, Expr::value("{}"));
                }
                update
            }
            Err(error) => {
                let next = (attempts < MAX_MAIL_ATTEMPTS)
                    .then(|| at + mail_backoff(attempts - 1).whole_seconds());
                let error: String = error.chars().take(500).collect();
                update
                    .col_expr(mail_outbox::Column::LastError, Expr::value(Some(error)))
                    .col_expr(mail_outbox::Column::NextAttemptAt, Expr::value(next))
            }
        };
        update
            .filter(mail_outbox::Column::Id.eq(&mail.id))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// The person's mails, newest first (for tests and the operator).
    pub async fn mails_to(&self, person: &PersonId) -> Result<Vec<MailStatus>, StoreError> {
        Ok(mail_outbox::Entity::find()
            .filter(mail_outbox::Column::PersonId.eq(person.as_str()))
            .order_by_desc(mail_outbox::Column::CreatedAt)
            .limit(crate::MAX_LISTED)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| MailStatus {
                id: row.id,
                kind: row.kind,
                attempts: row.attempts,
                sent: row.sent_at.is_some(),
                held: row.held,
            })
            .collect())
    }

    /// Queues one reminder for each waiting request and live grant that
    /// ends within `before` (at most [`MAIL_BATCH`] of each a pass), each
    /// marked so it is reminded once; returns how many were marked.
    pub async fn remind_expiring(&self, before: Duration) -> Result<u64, StoreError> {
        let at = now();
        let not_marked = |table: &str| {
            Expr::cust(format!(
                "NOT EXISTS (SELECT 1 FROM notice_mark m WHERE m.subject_id = {table}.id \
                 AND m.kind = 'expiring')"
            ))
        };
        let requests = data_request::Entity::find()
            .filter(data_request::Column::Status.eq("pending"))
            .filter(data_request::Column::Channel.eq("async"))
            .filter(data_request::Column::ExpiresAt.gt(at))
            .filter(data_request::Column::ExpiresAt.lte(at + before))
            .filter(not_marked("data_request"));
        let grants = grant::Entity::find()
            .filter(grant::Column::RevokedAt.is_null())
            .filter(grant::Column::ExpiresAt.gt(at))
            .filter(grant::Column::ExpiresAt.lte(at + before))
            .filter(not_marked("data_grant"));
        if requests.clone().one(&self.db).await?.is_none()
            && grants.clone().one(&self.db).await?.is_none()
        {
            return Ok(0);
        }
        let (_turn, txn) = self.write_txn().await?;
        let mut marked = 0;
        for row in requests.limit(MAIL_BATCH).all(&txn).await? {
            if !mark_once(&txn, &row.id, NoticeKind::Expiring).await? {
                continue;
            }
            marked += 1;
            let request: DataRequest =
                serde_json::from_str(&row.request).map_err(StoreError::corrupt)?;
            let payload = serde_json::json!({
                "subject": "request",
                "id": row.id,
                "company": company_name(&txn, &row.company_id).await?,
                "attributes": labels(request.attributes()),
                "purpose": request.purpose().plain_words(),
                "ends_at": unix(row.expires_at),
            });
            notify(&txn, &row.person_id, NoticeKind::Expiring, payload).await?;
        }
        for row in grants.limit(MAIL_BATCH).all(&txn).await? {
            if !mark_once(&txn, &row.id, NoticeKind::Expiring).await? {
                continue;
            }
            marked += 1;
            let grant = consent_policy::Grant::try_from(row.clone())?;
            let payload = serde_json::json!({
                "subject": "grant",
                "id": row.id,
                "company": company_name(&txn, &row.company_id).await?,
                "attributes": labels(&grant.attributes),
                "purpose": grant.purpose.plain_words(),
                "ends_at": unix(row.expires_at),
            });
            notify(&txn, &row.person_id, NoticeKind::Expiring, payload).await?;
        }
        txn.commit().await?;
        Ok(marked)
    }

    /// Deletes the mails done with (sent, given up, or carried by a
    /// digest) over [`MAIL_RETENTION`] ago; returns how many.
    pub async fn prune_mail(&self) -> Result<u64, StoreError> {
        let before = unix(now() - MAIL_RETENTION);
        Ok(mail_outbox::Entity::delete_many()
            .filter(mail_outbox::Column::NextAttemptAt.is_null())
            .filter(mail_outbox::Column::Held.eq(false))
            .filter(mail_outbox::Column::CreatedAt.lt(before))
            .exec(&self.db)
            .await?
            .rows_affected)
    }

    /// Gathers each person's held mails into one digest mail, once
    /// `every` has passed since their last digest (or since they chose
    /// one); returns how many digests were queued.
    pub async fn compose_digests(&self, every: Duration) -> Result<u64, StoreError> {
        let at = unix(now());
        let held = mail_outbox::Entity::find().filter(mail_outbox::Column::Held.eq(true));
        if held.clone().one(&self.db).await?.is_none() {
            return Ok(0);
        }
        let (_turn, txn) = self.write_txn().await?;
        let due = notify_setting::Entity::find()
            .filter(notify_setting::Column::Digest.eq(true))
            .filter(
                sea_orm::Condition::any()
                    .add(notify_setting::Column::LastDigestAt.is_null())
                    .add(notify_setting::Column::LastDigestAt.lte(at - every.whole_seconds())),
            )
            .limit(MAIL_BATCH)
            .all(&txn)
            .await?;
        let mut composed = 0;
        for person in due {
            let items = held
                .clone()
                .filter(mail_outbox::Column::PersonId.eq(&person.person_id))
                .order_by_asc(mail_outbox::Column::CreatedAt)
                .limit(crate::MAX_LISTED)
                .all(&txn)
                .await?;
            if items.is_empty() {
                continue;
            }
            let listed: Vec<serde_json::Value> = items
                .iter()
                .map(|item| {
                    let payload: serde_json::Value =
                        serde_json::from_str(&item.payload).map_err(StoreError::corrupt)?;
                    Ok(serde_json::json!({"kind": item.kind, "payload": payload}))
                })
                .collect::<Result<_, StoreError>>()?;
            let (digest_id, digest) = outbox_row(
                &person.person_id,
                "digest",
                &person.address,
                &serde_json::json!({ "items": listed }),
                false,
            );
            mail_outbox::Entity::insert(digest)
                .exec_without_returning(&txn)
                .await?;
            mail_outbox::Entity::update_many()
                .col_expr(mail_outbox::Column::Held, Expr::value(false))
                .col_expr(mail_outbox::Column::DigestId, Expr::value(Some(digest_id)))
                .filter(mail_outbox::Column::Id.is_in(items.iter().map(|i| i.id.clone())))
                .exec(&txn)
                .await?;
            notify_setting::Entity::update_many()
                .col_expr(notify_setting::Column::LastDigestAt, Expr::value(Some(at)))
                .filter(notify_setting::Column::PersonId.eq(&person.person_id))
                .exec(&txn)
                .await?;
            composed += 1;
        }
        txn.commit().await?;
        Ok(composed)
    }
}

/// Turns `kind` off for `person` (one-click unsubscribe); `false` when
/// they have no settings.
impl WriteTx<'_> {
    /// Adds `kind` to the kinds turned off.
    pub async fn turn_notice_off(
        &self,
        person: &PersonId,
        kind: NoticeKind,
    ) -> Result<bool, StoreError> {
        let Some(current) = self.notify_settings(person).await? else {
            return Ok(false);
        };
        let mut off = current.kinds_off;
        if !off.contains(&kind) {
            off.push(kind);
        }
        self.set_notify_choices(person, &off, current.digest).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Channel, Handle, store_test};
    use consent_policy::{Bucket, CompanyId, GrantDuration, decide};
    use serde_json::json;

    /// A person with a value, a company, and (when `verified`) a
    /// verified notification address.
    async fn world(store: &Store, verified: bool) -> (PersonId, CompanyId) {
        let person = store
            .create_person(&Handle::parse("alan_turing").unwrap())
            .await
            .unwrap()
            .id;
        store
            .put_attribute(
                &person,
                &AttributeKey::parse("email").unwrap(),
                &json!("alan@example.org"),
                Bucket::SemiPrivate,
            )
            .await
            .unwrap();
        let company = CompanyId::parse("acme").unwrap();
        store.create_company(&company, "Acme").await.unwrap();
        let tx = store.begin().await.unwrap();
        tx.set_notify_address(
            &person,
            "alan@notices.example",
            "hash",
            "https://x/v?token=t",
        )
        .await
        .unwrap();
        if verified {
            assert!(tx.verify_notify_address(&person, "hash").await.unwrap());
        }
        tx.commit().await.unwrap();
        (person, company)
    }

    async fn ask(store: &Store, person: &PersonId, company: &CompanyId) -> crate::StoredRequest {
        let request = DataRequest::from_json_value(
            json!({"type": "apiome_data", "attributes": ["email"], "purpose": "marketing", "duration": "P30D"}),
            &GrantDuration::parse("P1Y").unwrap(),
        )
        .unwrap();
        let decision = decide(&store.profile(person).await.unwrap(), company, &request);
        store
            .record_request(person, company, &request, &decision, Channel::Async)
            .await
            .unwrap()
    }

    fn kinds(mails: &[MailStatus]) -> Vec<&str> {
        let mut kinds: Vec<&str> = mails.iter().map(|m| m.kind.as_str()).collect();
        kinds.sort_unstable();
        kinds
    }

    store_test!(
        an_unverified_address_gets_only_its_verification_mail,
        |store| {
            let (person, company) = world(store, false).await;
            ask(store, &person, &company).await;
            assert_eq!(kinds(&store.mails_to(&person).await.unwrap()), ["verify"]);
            let tx = store.begin().await.unwrap();
            assert!(!tx.verify_notify_address(&person, "wrong").await.unwrap());
            assert!(tx.verify_notify_address(&person, "hash").await.unwrap());
            assert!(
                !tx.verify_notify_address(&person, "hash").await.unwrap(),
                "used once"
            );
            tx.commit().await.unwrap();
            ask(store, &person, &company).await;
            assert_eq!(
                kinds(&store.mails_to(&person).await.unwrap()),
                ["request_waiting", "verify"]
            );
        }
    );

    store_test!(
        verification_mails_are_bounded_and_old_mail_is_pruned,
        |store| {
            let (person, _) = world(store, false).await;
            for _ in 1..MAX_VERIFICATIONS_PER_DAY {
                let tx = store.begin().await.unwrap();
                tx.set_notify_address(&person, "x@notices.example", "h", "l")
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
            }
            let tx = store.begin().await.unwrap();
            assert!(matches!(
                tx.set_notify_address(&person, "y@notices.example", "h", "l")
                    .await,
                Err(StoreError::TooManyVerifications { .. })
            ));
            drop(tx);
            assert_eq!(
                store
                    .notify_settings(&person)
                    .await
                    .unwrap()
                    .unwrap()
                    .address,
                "x@notices.example"
            );
            // Two mails done with: one old, one recent; and one still due.
            let mails = mail_outbox::Entity::find().all(&store.db).await.unwrap();
            let old = unix(now() - MAIL_RETENTION - Duration::hours(1));
            for (row, (next, created)) in
                mails
                    .iter()
                    .zip([(None, old), (None, unix(now())), (Some(old), old)])
            {
                mail_outbox::Entity::update_many()
                    .col_expr(mail_outbox::Column::NextAttemptAt, Expr::value(next))
                    .col_expr(mail_outbox::Column::CreatedAt, Expr::value(created))
                    .filter(mail_outbox::Column::Id.eq(&row.id))
                    .exec(&store.db)
                    .await
                    .unwrap();
            }
            assert_eq!(store.prune_mail().await.unwrap(), 1);
            assert_eq!(
                store.mails_to(&person).await.unwrap().len(),
                MAX_VERIFICATIONS_PER_DAY - 1
            );
        }
    );

    store_test!(
        a_mail_its_worker_died_with_is_claimed_again_after_the_lease_and_sent_once,
        |store| {
            let (person, _) = world(store, false).await;
            let claimed = store.claim_mail(10).await.unwrap();
            assert_eq!(claimed.len(), 1, "the verification mail");
            // The worker dies mid-send: until the lease ends, no one else
            // takes the mail.
            assert!(store.claim_mail(10).await.unwrap().is_empty());
            mail_outbox::Entity::update_many()
                .col_expr(
                    mail_outbox::Column::NextAttemptAt,
                    Expr::value(Some(unix(now()))),
                )
                .exec(&store.db)
                .await
                .unwrap();
            let again = store.claim_mail(10).await.unwrap();
            assert_eq!(again.len(), 1);
            assert_eq!((&again[0].id, again[0].attempts), (&claimed[0].id, 1));
            store.record_mail_attempt(&again[0], Ok(())).await.unwrap();
            assert!(
                store.claim_mail(10).await.unwrap().is_empty(),
                "sent: never again"
            );
            let status = store.mails_to(&person).await.unwrap().remove(0);
            assert!(status.sent);
            let row = mail_outbox::Entity::find_by_id(claimed[0].id.clone())
                .one(&store.db)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(row.payload, "{}", "the link is erased once sent");
            // A failure is tried again after the back-off, not at once.
            let tx = store.begin().await.unwrap();
            tx.set_notify_address(&person, "b@notices.example", "h2", "l")
                .await
                .unwrap();
            tx.commit().await.unwrap();
            let failing = store.claim_mail(10).await.unwrap().remove(0);
            store
                .record_mail_attempt(&failing, Err("421 try later".into()))
                .await
                .unwrap();
            assert!(
                store.claim_mail(10).await.unwrap().is_empty(),
                "backing off"
            );
        }
    );

    store_test!(only_the_first_read_of_a_grant_is_mailed, |store| {
        let (person, company) = world(store, true).await;
        let request = ask(store, &person, &company).await;
        let grant = store
            .approve_request(&person, &request.id, None)
            .await
            .unwrap();
        for _ in 0..3 {
            let read = crate::DisclosureRead {
                attributes: grant.attributes.clone(),
                withheld: Vec::new(),
                policy_version: store.policy_snapshot(&person).await.unwrap().policy_version,
            };
            assert_eq!(
                store.record_disclosure(&grant, read).await.unwrap(),
                crate::Recorded::Disclosed
            );
        }
        let mails = store.mails_to(&person).await.unwrap();
        assert_eq!(
            kinds(&mails),
            ["first_use", "request_waiting", "verify"],
            "one first use for three reads"
        );
        let first_use = mail_outbox::Entity::find()
            .filter(mail_outbox::Column::Kind.eq("first_use"))
            .one(&store.db)
            .await
            .unwrap()
            .unwrap();
        assert!(first_use.payload.contains("email address"));
        assert!(
            !first_use.payload.contains("alan@example.org"),
            "never a value"
        );
    });

    fn row(verified: bool, off: &str, digest: bool) -> notify_setting::Model {
        notify_setting::Model {
            person_id: "p".into(),
            address: "a@example.org".into(),
            verified_at: verified.then_some(1),
            token_hash: None,
            token_expires_at: None,
            kinds_off: off.into(),
            digest,
            last_digest_at: None,
            updated_at: 0,
        }
    }

    #[test]
    fn only_a_verified_address_gets_a_kind_left_on() {
        let k = NoticeKind::RequestWaiting;
        assert_eq!(eligible(None, k), None);
        assert_eq!(eligible(Some(&row(false, "", false)), k), None);
        assert_eq!(
            eligible(Some(&row(true, "request_waiting", false)), k),
            None
        );
        assert_eq!(
            eligible(Some(&row(true, "first_use", false)), k),
            Some(("a@example.org".into(), false))
        );
        assert_eq!(
            eligible(Some(&row(true, "", true)), k),
            Some(("a@example.org".into(), true))
        );
    }

    #[test]
    fn kinds_round_trip_and_backoff_grows() {
        for k in NoticeKind::ALL {
            assert_eq!(NoticeKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(NoticeKind::parse("nope"), None);
        assert_eq!(
            kinds_off(&kinds_text(&NoticeKind::ALL)).unwrap(),
            NoticeKind::ALL
        );
        assert_eq!(mail_backoff(0), Duration::seconds(2));
        assert_eq!(mail_backoff(20), Duration::hours(1));
    }
}
