//! Webhooks: a company may name a URL to be called when one of its
//! asynchronous requests is made or decided (approved, declined, expired),
//! one of its grants is revoked, or its wallet runs low; and may ask for a
//! `ping` to test its endpoint. The call is written to an outbox
//! (`webhook_delivery`) in the same transaction as the change, so a crash
//! delays it but never loses it; a worker claims due deliveries, calls,
//! and records the outcome, retrying with back-off. A payload holds ids,
//! a status and attribute *names* — never a value.

use consent_policy::{AttributeKey, CompanyId};
use sea_orm::sea_query::{Expr, LockBehavior, LockType, OnConflict};
use sea_orm::{
    ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use time::{Duration, OffsetDateTime};

use crate::entity::{company_webhook, webhook_attempt, webhook_delivery};
use crate::{Backend, Store, StoreError, WebhookSecret, new_id, now};

/// The pause before each retry, after the call that failed: 5 s, 5 min,
/// 30 min, 2 h, 5 h, then every 10 h — Standard Webhooks' schedule,
/// stretched so an endpoint may be down for three days without missing
/// an event (77.6 hours from the first call to the last).
const RETRY_PAUSES_SECS: [i64; 12] = [
    5, 300, 1_800, 7_200, 18_000, 36_000, 36_000, 36_000, 36_000, 36_000, 36_000, 36_000,
];

/// Calls made before a delivery is given up: the first and one per pause
/// of the retry schedule.
pub const MAX_WEBHOOK_ATTEMPTS: i32 = RETRY_PAUSES_SECS.len() as i32 + 1;
/// How long a claimed delivery is held by its worker before another may
/// take it (a worker that crashed mid-call).
pub const WEBHOOK_LEASE: Duration = Duration::seconds(30);

/// What happened, as the company hears it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebhookEvent {
    /// The person approved (wholly or partly) a pending request.
    RequestApproved,
    /// The person declined a pending request.
    RequestDeclined,
    /// The request was not answered in time.
    RequestExpired,
    /// The person revoked a grant (or blocked the company).
    GrantRevoked,
    /// An asynchronous request was made (the policy's first answer).
    RequestCreated,
    /// An offer's reservation left the wallet unable to cover the same
    /// offer again.
    WalletLow,
    /// The company asked for a test call.
    Ping,
    /// The person named their price for a request with an offer.
    RequestCountered,
    /// A grant reached its end (its duration ran out).
    GrantExpired,
}

impl WebhookEvent {
    /// The event's name in the payload's `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookEvent::RequestApproved => "request.approved",
            WebhookEvent::RequestDeclined => "request.declined",
            WebhookEvent::RequestExpired => "request.expired",
            WebhookEvent::GrantRevoked => "grant.revoked",
            WebhookEvent::RequestCreated => "request.created",
            WebhookEvent::WalletLow => "wallet.low",
            WebhookEvent::Ping => "ping",
            WebhookEvent::RequestCountered => "request.countered",
            WebhookEvent::GrantExpired => "grant.expired",
        }
    }
}

/// A delivery claimed for calling.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookDelivery {
    /// Its id (the event id the company sees, for de-duplication).
    pub id: String,
    /// The company called.
    pub company_id: CompanyId,
    /// Where.
    pub url: String,
    /// The JSON body.
    pub payload: String,
    /// Calls made before this one.
    pub attempts: i32,
    /// A CIBA ping's `client_notification_token`: sent as `Authorization:
    /// Bearer` instead of a webhook signature.
    pub bearer: Option<String>,
}

/// Where a delivery stands, for a company looking at its deliveries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookStatus {
    /// Its id.
    pub id: String,
    /// The event name.
    pub event: String,
    /// Calls made.
    pub attempts: i32,
    /// When the event was queued.
    pub created_at: OffsetDateTime,
    /// Delivered at, once the company answered 2xx.
    pub delivered_at: Option<OffsetDateTime>,
    /// The next call, if one is due.
    pub next_attempt_at: Option<OffsetDateTime>,
    /// What went wrong last.
    pub last_error: Option<String>,
    /// The status the receiver answered to the latest call, if it answered.
    pub last_status: Option<u16>,
    /// How long the latest call took.
    pub last_latency_ms: Option<u32>,
}

/// What one call came to, for the delivery log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookCall {
    /// The HTTP status answered; `None` when no answer came (refused
    /// connection, timeout, a destination no longer allowed).
    pub status: Option<u16>,
    /// How long the call took, in milliseconds.
    pub latency_ms: u32,
    /// Why it failed; `None` when delivered (a 2xx answer).
    pub error: Option<String>,
}

/// One line of the delivery log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookAttempt {
    /// 1 for the first call.
    pub attempt: i32,
    /// When it was made.
    pub at: OffsetDateTime,
    /// What it came to.
    pub call: WebhookCall,
}

/// The pause before the retry after `failed` calls (`failed` ≥ 1 counts
/// the one that just failed, minus one: 0 gives the first retry's pause).
pub fn webhook_backoff(failed: i32) -> Duration {
    let last = RETRY_PAUSES_SECS.len() - 1;
    let index = usize::try_from(failed).unwrap_or(0).min(last);
    Duration::seconds(RETRY_PAUSES_SECS[index])
}

/// Writes a delivery for `company` if it has a webhook, in the caller's
/// transaction, and returns its id. `data` holds ids, names and amounts;
/// never an attribute value.
pub(crate) async fn enqueue(
    txn: &DatabaseTransaction,
    company: &str,
    event: WebhookEvent,
    data: serde_json::Value,
) -> Result<Option<String>, StoreError> {
    let Some(hook) = company_webhook::Entity::find_by_id(company.to_owned())
        .one(txn)
        .await?
    else {
        return Ok(None);
    };
    let id = new_id();
    let at = now();
    let payload = serde_json::json!({
        "id": id,
        "type": event.as_str(),
        "created_at": at.format(&time::format_description::well_known::Rfc3339)
            .map_err(StoreError::corrupt)?,
        "data": data,
    });
    webhook_delivery::Entity::insert(webhook_delivery::ActiveModel {
        id: Set(id.clone()),
        company_id: Set(company.to_owned()),
        url: Set(hook.url),
        event: Set(event.as_str().to_owned()),
        payload: Set(payload.to_string()),
        attempts: Set(0),
        created_at: Set(at),
        next_attempt_at: Set(Some(at)),
        delivered_at: Set(None),
        last_error: Set(None),
        bearer: Set(None),
    })
    .exec_without_returning(txn)
    .await?;
    Ok(Some(id))
}

/// The data of a request event: its id, its new status, and for an
/// approval the grant and the names of the attributes granted.
pub(crate) fn request_data(
    request_id: &str,
    status: &str,
    grant: Option<(&str, &[AttributeKey])>,
) -> serde_json::Value {
    let mut data = serde_json::json!({"request_id": request_id, "status": status});
    if let Some((grant_id, attributes)) = grant {
        data["grant_id"] = grant_id.into();
        data["attributes"] = attributes.iter().map(|k| k.to_string()).collect();
    }
    data
}

impl Store {
    /// Sets (or with `None` removes) the company's webhook URL. The URL is
    /// checked by the caller (the server knows which schemes it allows).
    /// Setting one makes the company's signing secret if it has none, in
    /// the same transaction, and returns the signing secrets (current
    /// first); removing keeps them, for deliveries still queued.
    pub async fn set_webhook(
        &self,
        company: &CompanyId,
        url: Option<&str>,
    ) -> Result<Vec<WebhookSecret>, StoreError> {
        let (_turn, txn) = self.write_txn().await?;
        self.lock_company(&txn, company).await?;
        let mut secrets = Vec::new();
        match url {
            Some(url) => {
                company_webhook::Entity::insert(company_webhook::ActiveModel {
                    company_id: Set(company.to_string()),
                    url: Set(url.to_owned()),
                    updated_at: Set(now()),
                })
                .on_conflict(
                    OnConflict::column(company_webhook::Column::CompanyId)
                        .update_columns([
                            company_webhook::Column::Url,
                            company_webhook::Column::UpdatedAt,
                        ])
                        .to_owned(),
                )
                .exec_without_returning(&txn)
                .await?;
                secrets = self.ensure_webhook_secret_in(&txn, company).await?;
            }
            None => {
                company_webhook::Entity::delete_by_id(company.to_string())
                    .exec(&txn)
                    .await?;
            }
        }
        txn.commit().await?;
        Ok(secrets)
    }

    /// The company's webhook URL, if it set one.
    pub async fn webhook(&self, company: &CompanyId) -> Result<Option<String>, StoreError> {
        Ok(company_webhook::Entity::find_by_id(company.to_string())
            .one(&self.db)
            .await?
            .map(|h| h.url))
    }

    /// Claims up to `limit` due deliveries for one worker: each is leased
    /// for [`WEBHOOK_LEASE`] (its next attempt moved past the lease), so
    /// other workers, in this process or another, leave it alone.
    pub async fn claim_webhooks(&self, limit: u64) -> Result<Vec<WebhookDelivery>, StoreError> {
        let at = now();
        let due = webhook_delivery::Entity::find()
            .filter(webhook_delivery::Column::NextAttemptAt.lte(at));
        if due.clone().one(&self.db).await?.is_none() {
            return Ok(Vec::new());
        }
        let (_turn, txn) = self.write_txn().await?;
        let mut query = due
            .order_by_asc(webhook_delivery::Column::NextAttemptAt)
            .limit(limit);
        if self.backend() == Backend::Postgres {
            query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
        let rows = query.all(&txn).await?;
        for row in &rows {
            webhook_delivery::Entity::update_many()
                .col_expr(
                    webhook_delivery::Column::NextAttemptAt,
                    Expr::value(Some(at + WEBHOOK_LEASE)),
                )
                .filter(webhook_delivery::Column::Id.eq(&row.id))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        rows.into_iter()
            .map(|row| {
                Ok(WebhookDelivery {
                    company_id: CompanyId::parse(&row.company_id).map_err(StoreError::corrupt)?,
                    id: row.id,
                    url: row.url,
                    payload: row.payload,
                    attempts: row.attempts,
                    bearer: row.bearer,
                })
            })
            .collect()
    }

    /// Records one call in the delivery log and its outcome on the
    /// delivery: delivered (a 2xx answer), or failed — then retried after
    /// [`webhook_backoff`] until [`MAX_WEBHOOK_ATTEMPTS`] calls were made.
    pub async fn record_webhook_attempt(
        &self,
        delivery: &WebhookDelivery,
        call: &WebhookCall,
    ) -> Result<(), StoreError> {
        let attempts = delivery.attempts + 1;
        let at = now();
        let (_turn, txn) = self.write_txn().await?;
        let error: Option<String> = call.error.as_ref().map(|e| e.chars().take(500).collect());
        webhook_attempt::Entity::insert(webhook_attempt::ActiveModel {
            delivery_id: Set(delivery.id.clone()),
            attempt: Set(attempts),
            at_unix_ms: Set(i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)),
            status: Set(call.status.map(i32::from)),
            latency_ms: Set(i32::try_from(call.latency_ms).unwrap_or(i32::MAX)),
            error: Set(error.clone()),
        })
        .on_conflict(
            OnConflict::columns([
                webhook_attempt::Column::DeliveryId,
                webhook_attempt::Column::Attempt,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
        let mut update = webhook_delivery::Entity::update_many()
            .col_expr(webhook_delivery::Column::Attempts, Expr::value(attempts));
        update = match error {
            None => update
                .col_expr(webhook_delivery::Column::DeliveredAt, Expr::value(Some(at)))
                .col_expr(
                    webhook_delivery::Column::NextAttemptAt,
                    Expr::value(Option::<OffsetDateTime>::None),
                ),
            Some(error) => {
                let next =
                    (attempts < MAX_WEBHOOK_ATTEMPTS).then(|| at + webhook_backoff(attempts - 1));
                update
                    .col_expr(
                        webhook_delivery::Column::LastError,
                        Expr::value(Some(error)),
                    )
                    .col_expr(webhook_delivery::Column::NextAttemptAt, Expr::value(next))
            }
        };
        update
            .filter(webhook_delivery::Column::Id.eq(&delivery.id))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Queues a `ping` to the company's webhook; its delivery id, or `None`
    /// when the company has no webhook.
    pub async fn enqueue_ping(&self, company: &CompanyId) -> Result<Option<String>, StoreError> {
        let (_turn, txn) = self.write_txn().await?;
        let id = enqueue(
            &txn,
            company.as_str(),
            WebhookEvent::Ping,
            serde_json::json!({"message": "a test call, asked for by the company"}),
        )
        .await?;
        txn.commit().await?;
        Ok(id)
    }

    /// Calls a delivery of the company's again now, whatever became of it
    /// (delivered, given up, or waiting for a retry), with the same event
    /// id, so the receiver can de-duplicate. `false` when the company has
    /// no delivery of that id.
    pub async fn redeliver_webhook(
        &self,
        company: &CompanyId,
        delivery_id: &str,
    ) -> Result<bool, StoreError> {
        let (_turn, txn) = self.write_txn().await?;
        let updated = webhook_delivery::Entity::update_many()
            .col_expr(
                webhook_delivery::Column::NextAttemptAt,
                Expr::value(Some(now())),
            )
            .col_expr(
                webhook_delivery::Column::DeliveredAt,
                Expr::value(Option::<OffsetDateTime>::None),
            )
            .filter(webhook_delivery::Column::Id.eq(delivery_id))
            .filter(webhook_delivery::Column::CompanyId.eq(company.as_str()))
            .exec(&txn)
            .await?
            .rows_affected;
        txn.commit().await?;
        Ok(updated == 1)
    }

    /// One of the company's deliveries with its log, oldest call first;
    /// `None` when the company has no delivery of that id.
    pub async fn webhook_delivery_log(
        &self,
        company: &CompanyId,
        delivery_id: &str,
    ) -> Result<Option<(WebhookStatus, Vec<WebhookAttempt>)>, StoreError> {
        let Some(row) = webhook_delivery::Entity::find_by_id(delivery_id.to_owned())
            .filter(webhook_delivery::Column::CompanyId.eq(company.as_str()))
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let log: Vec<WebhookAttempt> = webhook_attempt::Entity::find()
            .filter(webhook_attempt::Column::DeliveryId.eq(delivery_id))
            .order_by_asc(webhook_attempt::Column::Attempt)
            .all(&self.db)
            .await?
            .into_iter()
            .map(attempt_from_row)
            .collect();
        Ok(Some((status_from_row(row, log.last()), log)))
    }

    /// The company's latest deliveries, newest first.
    pub async fn webhook_deliveries(
        &self,
        company: &CompanyId,
        limit: u64,
    ) -> Result<Vec<WebhookStatus>, StoreError> {
        self.webhook_deliveries_after(company, None, limit).await
    }

    /// One page of the company's deliveries, newest first: at most `limit`,
    /// all older than `after` (the `created_at` and id of the last delivery
    /// of the previous page; keyset, so new deliveries shift nothing).
    pub async fn webhook_deliveries_after(
        &self,
        company: &CompanyId,
        after: Option<(OffsetDateTime, &str)>,
        limit: u64,
    ) -> Result<Vec<WebhookStatus>, StoreError> {
        let mut query = webhook_delivery::Entity::find()
            .filter(webhook_delivery::Column::CompanyId.eq(company.as_str()));
        if let Some((at, id)) = after {
            query = query.filter(
                sea_orm::Condition::any()
                    .add(webhook_delivery::Column::CreatedAt.lt(at))
                    .add(
                        sea_orm::Condition::all()
                            .add(webhook_delivery::Column::CreatedAt.eq(at))
                            .add(webhook_delivery::Column::Id.lt(id)),
                    ),
            );
        }
        let rows = query
            .order_by_desc(webhook_delivery::Column::CreatedAt)
            .order_by_desc(webhook_delivery::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?;
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        let mut latest: std::collections::HashMap<String, WebhookAttempt> =
            std::collections::HashMap::new();
        for row in webhook_attempt::Entity::find()
            .filter(webhook_attempt::Column::DeliveryId.is_in(ids))
            .all(&self.db)
            .await?
        {
            let id = row.delivery_id.clone();
            let attempt = attempt_from_row(row);
            if latest.get(&id).is_none_or(|a| a.attempt < attempt.attempt) {
                latest.insert(id, attempt);
            }
        }
        Ok(rows
            .into_iter()
            .map(|row| {
                let last = latest.get(&row.id);
                status_from_row(row, last)
            })
            .collect())
    }
}

fn attempt_from_row(row: webhook_attempt::Model) -> WebhookAttempt {
    WebhookAttempt {
        attempt: row.attempt,
        at: OffsetDateTime::from_unix_timestamp_nanos(i128::from(row.at_unix_ms) * 1_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH),
        call: WebhookCall {
            status: row.status.and_then(|s| u16::try_from(s).ok()),
            latency_ms: u32::try_from(row.latency_ms).unwrap_or(0),
            error: row.error,
        },
    }
}

fn status_from_row(row: webhook_delivery::Model, last: Option<&WebhookAttempt>) -> WebhookStatus {
    WebhookStatus {
        id: row.id,
        event: row.event,
        attempts: row.attempts,
        created_at: row.created_at,
        delivered_at: row.delivered_at,
        next_attempt_at: row.next_attempt_at,
        last_error: row.last_error,
        last_status: last.and_then(|a| a.call.status),
        last_latency_ms: last.map(|a| a.call.latency_ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Channel, Handle, PersonId, store_test};
    use consent_policy::{Bucket, DataRequest, GrantDuration, decide};
    use serde_json::json;

    async fn world(store: &Store) -> (PersonId, CompanyId) {
        let person = store
            .create_person(&Handle::parse("alan_turing").unwrap())
            .await
            .unwrap();
        store
            .put_attribute(
                &person.id,
                &AttributeKey::parse("email").unwrap(),
                &json!("alan@example.org"),
                Bucket::SemiPrivate,
            )
            .await
            .unwrap();
        let company = CompanyId::parse("acme").unwrap();
        store.create_company(&company, "Acme").await.unwrap();
        (person.id, company)
    }

    async fn ask(store: &Store, person: &PersonId, company: &CompanyId) -> String {
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
            .id
    }

    store_test!(
        decisions_and_revocations_are_queued_only_for_a_webhook,
        |store| {
            let (person, company) = world(store).await;
            let quiet = ask(store, &person, &company).await;
            store.decline_request(&person, &quiet).await.unwrap();
            assert!(
                store.claim_webhooks(10).await.unwrap().is_empty(),
                "no URL, no call"
            );

            store
                .set_webhook(&company, Some("https://acme.example/hook"))
                .await
                .unwrap();
            let approved = ask(store, &person, &company).await;
            let grant = store
                .approve_request(&person, &approved, None)
                .await
                .unwrap();
            store.revoke_grant(&person, &grant.id).await.unwrap();
            let claimed = store.claim_webhooks(10).await.unwrap();
            assert_eq!(claimed.len(), 3);
            let bodies: Vec<serde_json::Value> = claimed
                .iter()
                .map(|d| serde_json::from_str(&d.payload).unwrap())
                .collect();
            assert_eq!(bodies[0]["type"], "request.created");
            assert_eq!(bodies[0]["data"]["request_id"], approved.as_str());
            assert_eq!(bodies[0]["data"]["status"], "pending");
            assert_eq!(bodies[1]["type"], "request.approved");
            assert_eq!(bodies[1]["data"]["request_id"], approved.as_str());
            assert_eq!(bodies[1]["data"]["attributes"], json!(["email"]));
            assert_eq!(bodies[2]["type"], "grant.revoked");
            assert_eq!(bodies[2]["data"]["grant_id"], grant.id.as_str());
            for d in &claimed {
                assert_eq!(d.url, "https://acme.example/hook");
                assert!(!d.payload.contains("alan@example.org"), "never a value");
            }
            // Leased: a second worker gets nothing until the lease ends.
            assert!(store.claim_webhooks(10).await.unwrap().is_empty());

            store.set_webhook(&company, None).await.unwrap();
            assert_eq!(store.webhook(&company).await.unwrap(), None);
            assert!(matches!(
                store
                    .set_webhook(
                        &CompanyId::parse("nobody").unwrap(),
                        Some("https://x.example")
                    )
                    .await,
                Err(StoreError::CompanyNotFound(_))
            ));
        }
    );

    fn failed() -> WebhookCall {
        WebhookCall {
            status: Some(500),
            latency_ms: 12,
            error: Some("HTTP 500".into()),
        }
    }

    fn delivered() -> WebhookCall {
        WebhookCall {
            status: Some(204),
            latency_ms: 7,
            error: None,
        }
    }

    store_test!(failed_calls_back_off_then_give_up, |store| {
        let (person, company) = world(store).await;
        let id = ask(store, &person, &company).await;
        store
            .set_webhook(&company, Some("https://acme.example/hook"))
            .await
            .unwrap();
        store.decline_request(&person, &id).await.unwrap();
        let mut delivery = store.claim_webhooks(1).await.unwrap().remove(0);
        let due_now = |store: &Store| {
            let store = store.clone();
            async move {
                webhook_delivery::Entity::update_many()
                    .filter(webhook_delivery::Column::NextAttemptAt.is_not_null())
                    .col_expr(
                        webhook_delivery::Column::NextAttemptAt,
                        Expr::value(Some(now())),
                    )
                    .exec(&store.db)
                    .await
                    .unwrap();
            }
        };
        for attempt in 1..MAX_WEBHOOK_ATTEMPTS {
            store
                .record_webhook_attempt(&delivery, &failed())
                .await
                .unwrap();
            let status = store
                .webhook_deliveries(&company, 5)
                .await
                .unwrap()
                .remove(0);
            assert_eq!(status.attempts, attempt);
            let wait = status.next_attempt_at.unwrap() - now();
            assert!(
                wait <= webhook_backoff(attempt - 1)
                    && wait > webhook_backoff(attempt - 1) - Duration::seconds(2)
            );
            assert!(
                store.claim_webhooks(1).await.unwrap().is_empty(),
                "not due yet"
            );
            due_now(store).await;
            delivery = store.claim_webhooks(1).await.unwrap().remove(0);
        }
        store
            .record_webhook_attempt(&delivery, &failed())
            .await
            .unwrap();
        let status = store
            .webhook_deliveries(&company, 5)
            .await
            .unwrap()
            .remove(0);
        assert_eq!(
            (status.attempts, status.next_attempt_at),
            (MAX_WEBHOOK_ATTEMPTS, None)
        );
        assert_eq!(status.last_error.as_deref(), Some("HTTP 500"));
        due_now(store).await;
        assert!(
            store.claim_webhooks(1).await.unwrap().is_empty(),
            "given up"
        );
    });

    #[test]
    fn retries_go_on_for_three_days_then_stop() {
        let pauses: Vec<i64> = (0..MAX_WEBHOOK_ATTEMPTS - 1)
            .map(|a| webhook_backoff(a).whole_seconds())
            .collect();
        assert_eq!(&pauses[..3], &[5, 300, 1800], "quick at first");
        assert!(pauses.windows(2).all(|w| w[0] <= w[1]));
        let total: i64 = pauses.iter().sum();
        assert!(total >= 3 * 24 * 3600, "{total} s: less than three days");
        assert!(total <= 4 * 24 * 3600, "{total} s: more than four days");
        assert_eq!(webhook_backoff(100), webhook_backoff(MAX_WEBHOOK_ATTEMPTS));
    }

    store_test!(each_call_is_logged_with_its_status_and_latency, |store| {
        let (person, company) = world(store).await;
        store
            .set_webhook(&company, Some("https://acme.example/hook"))
            .await
            .unwrap();
        let id = ask(store, &person, &company).await;
        let delivery = store.claim_webhooks(1).await.unwrap().remove(0);
        assert!(delivery.payload.contains(&id));
        store
            .record_webhook_attempt(&delivery, &failed())
            .await
            .unwrap();
        let retry = WebhookDelivery {
            attempts: 1,
            ..delivery.clone()
        };
        store
            .record_webhook_attempt(&retry, &delivered())
            .await
            .unwrap();
        let (status, log) = store
            .webhook_delivery_log(&company, &delivery.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(status.attempts, 2);
        assert!(status.delivered_at.is_some() && status.next_attempt_at.is_none());
        assert_eq!(
            (status.last_status, status.last_latency_ms),
            (Some(204), Some(7))
        );
        assert_eq!(log.len(), 2);
        assert_eq!((log[0].attempt, log[0].call.clone()), (1, failed()));
        assert_eq!((log[1].attempt, log[1].call.clone()), (2, delivered()));
        let listed = store.webhook_deliveries(&company, 10).await.unwrap();
        assert_eq!(listed[0].last_status, Some(204));

        // another company sees nothing of it
        let other = CompanyId::parse("globex").unwrap();
        store.create_company(&other, "Globex").await.unwrap();
        assert!(
            store
                .webhook_delivery_log(&other, &delivery.id)
                .await
                .unwrap()
                .is_none()
        );
        assert!(!store.redeliver_webhook(&other, &delivery.id).await.unwrap());

        // redelivered: due again at once, same id, the log goes on
        assert!(store.claim_webhooks(1).await.unwrap().is_empty());
        assert!(
            store
                .redeliver_webhook(&company, &delivery.id)
                .await
                .unwrap()
        );
        let again = store.claim_webhooks(1).await.unwrap().remove(0);
        assert_eq!(
            (again.id.as_str(), again.attempts),
            (delivery.id.as_str(), 2)
        );
        store
            .record_webhook_attempt(&again, &delivered())
            .await
            .unwrap();
        let (_, log) = store
            .webhook_delivery_log(&company, &delivery.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(log.len(), 3);
    });

    store_test!(a_ping_goes_only_to_a_set_webhook, |store| {
        let (_, company) = world(store).await;
        assert_eq!(store.enqueue_ping(&company).await.unwrap(), None);
        store
            .set_webhook(&company, Some("https://acme.example/hook"))
            .await
            .unwrap();
        let id = store.enqueue_ping(&company).await.unwrap().unwrap();
        let claimed = store.claim_webhooks(5).await.unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].id, id);
        let body: serde_json::Value = serde_json::from_str(&claimed[0].payload).unwrap();
        assert_eq!(body["type"], "ping");
    });

    store_test!(
        a_wallet_that_cannot_cover_the_same_offer_again_is_low,
        |store| {
            let (person, company) = world(store).await;
            store
                .set_webhook(&company, Some("https://acme.example/hook"))
                .await
                .unwrap();
            let eur = |micros| {
                consent_policy::Money::new(micros, consent_policy::Currency::parse("EUR").unwrap())
            };
            store
                .fund_wallet(&company, &eur(100_000), "bank-1")
                .await
                .unwrap();
            let offer = |n: u32| {
                let request = DataRequest::from_json_value(
                    json!({"type": "apiome_data", "attributes": ["email"], "purpose": "marketing",
                           "duration": "P30D", "offer": {"amount_micros": 40_000, "currency": "EUR"}}),
                    &GrantDuration::parse("P1Y").unwrap(),
                )
                .unwrap();
                let (store, person, company) = (store.clone(), person.clone(), company.clone());
                async move {
                    let decision =
                        decide(&store.profile(&person).await.unwrap(), &company, &request);
                    let made = store
                        .record_request(&person, &company, &request, &decision, Channel::Async)
                        .await
                        .unwrap();
                    (n, made.id)
                }
            };
            let events = |store: &Store| {
                let store = store.clone();
                async move {
                    store
                        .claim_webhooks(10)
                        .await
                        .unwrap()
                        .into_iter()
                        .map(|d| serde_json::from_str::<serde_json::Value>(&d.payload).unwrap())
                        .collect::<Vec<_>>()
                }
            };
            offer(1).await; // 0.10 - 0.04 = 0.06 left: covers another
            let first = events(store).await;
            assert!(first.iter().all(|e| e["type"] != "wallet.low"), "{first:?}");
            let (_, second) = offer(2).await; // 0.02 left: does not
            let low: Vec<_> = events(store)
                .await
                .into_iter()
                .filter(|e| e["type"] == "wallet.low")
                .collect();
            assert_eq!(low.len(), 1);
            assert_eq!(low[0]["data"]["available"]["amount_micros"], 20_000);
            assert_eq!(low[0]["data"]["available"]["currency"], "EUR");
            assert_eq!(low[0]["data"]["last_offer"]["amount_micros"], 40_000);
            assert_eq!(low[0]["data"]["request_id"], second.as_str());
        }
    );
}
