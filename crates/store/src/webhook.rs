//! Webhooks: a company may name a URL to be called when one of its
//! asynchronous requests is decided (approved, declined, expired) or one
//! of its grants is revoked. The call is written to an outbox
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

use crate::entity::{company_webhook, webhook_delivery};
use crate::{Backend, Store, StoreError, WebhookSecret, new_id, now};

/// Calls made before a delivery is given up.
/// With [`webhook_backoff`] that is about six hours of trying.
pub const MAX_WEBHOOK_ATTEMPTS: i32 = 18;
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
    /// The person revoked a grant.
    GrantRevoked,
}

impl WebhookEvent {
    /// The event's name in the payload's `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookEvent::RequestApproved => "request.approved",
            WebhookEvent::RequestDeclined => "request.declined",
            WebhookEvent::RequestExpired => "request.expired",
            WebhookEvent::GrantRevoked => "grant.revoked",
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
    /// Delivered at, once the company answered 2xx.
    pub delivered_at: Option<OffsetDateTime>,
    /// The next call, if one is due.
    pub next_attempt_at: Option<OffsetDateTime>,
    /// What went wrong last.
    pub last_error: Option<String>,
}

/// The pause before call number `attempts + 1`: 1 s, 2 s, 4 s, … capped at
/// one hour.
pub fn webhook_backoff(attempts: i32) -> Duration {
    let exponent = u32::try_from(attempts.clamp(0, 12)).unwrap_or(12);
    Duration::seconds(2_i64.pow(exponent)).min(Duration::hours(1))
}

/// Writes a delivery for `company` if it has a webhook, in the caller's
/// transaction. `subject` fields are ids; attribute names only.
pub(crate) async fn enqueue(
    txn: &DatabaseTransaction,
    company: &str,
    event: WebhookEvent,
    data: serde_json::Value,
) -> Result<(), StoreError> {
    let Some(hook) = company_webhook::Entity::find_by_id(company.to_owned())
        .one(txn)
        .await?
    else {
        return Ok(());
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
        id: Set(id),
        company_id: Set(company.to_owned()),
        url: Set(hook.url),
        event: Set(event.as_str().to_owned()),
        payload: Set(payload.to_string()),
        attempts: Set(0),
        created_at: Set(at),
        next_attempt_at: Set(Some(at)),
        delivered_at: Set(None),
        last_error: Set(None),
    })
    .exec_without_returning(txn)
    .await?;
    Ok(())
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
                })
            })
            .collect()
    }

    /// Records one call's outcome: delivered (`Ok`), or failed with why —
    /// then retried after [`webhook_backoff`] until
    /// [`MAX_WEBHOOK_ATTEMPTS`] calls were made.
    pub async fn record_webhook_attempt(
        &self,
        delivery: &WebhookDelivery,
        outcome: Result<(), String>,
    ) -> Result<(), StoreError> {
        let attempts = delivery.attempts + 1;
        let at = now();
        let mut update = webhook_delivery::Entity::update_many()
            .col_expr(webhook_delivery::Column::Attempts, Expr::value(attempts));
        update = match outcome {
            Ok(()) => update
                .col_expr(webhook_delivery::Column::DeliveredAt, Expr::value(Some(at)))
                .col_expr(
                    webhook_delivery::Column::NextAttemptAt,
                    Expr::value(Option::<OffsetDateTime>::None),
                ),
            Err(error) => {
                let next =
                    (attempts < MAX_WEBHOOK_ATTEMPTS).then(|| at + webhook_backoff(attempts - 1));
                let error: String = error.chars().take(500).collect();
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
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// The company's latest deliveries, newest first.
    pub async fn webhook_deliveries(
        &self,
        company: &CompanyId,
        limit: u64,
    ) -> Result<Vec<WebhookStatus>, StoreError> {
        Ok(webhook_delivery::Entity::find()
            .filter(webhook_delivery::Column::CompanyId.eq(company.as_str()))
            .order_by_desc(webhook_delivery::Column::CreatedAt)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| WebhookStatus {
                id: row.id,
                event: row.event,
                attempts: row.attempts,
                delivered_at: row.delivered_at,
                next_attempt_at: row.next_attempt_at,
                last_error: row.last_error,
            })
            .collect())
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
            assert_eq!(claimed.len(), 2);
            let bodies: Vec<serde_json::Value> = claimed
                .iter()
                .map(|d| serde_json::from_str(&d.payload).unwrap())
                .collect();
            assert_eq!(bodies[0]["type"], "request.approved");
            assert_eq!(bodies[0]["data"]["request_id"], approved.as_str());
            assert_eq!(bodies[0]["data"]["attributes"], json!(["email"]));
            assert_eq!(bodies[1]["type"], "grant.revoked");
            assert_eq!(bodies[1]["data"]["grant_id"], grant.id.as_str());
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

    store_test!(failed_calls_back_off_then_give_up, |store| {
        let (person, company) = world(store).await;
        store
            .set_webhook(&company, Some("https://acme.example/hook"))
            .await
            .unwrap();
        let id = ask(store, &person, &company).await;
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
                .record_webhook_attempt(&delivery, Err("HTTP 500".into()))
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
            .record_webhook_attempt(&delivery, Err("HTTP 500".into()))
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
    fn backoff_doubles_up_to_an_hour() {
        let secs: Vec<i64> = (0..14)
            .map(|a| webhook_backoff(a).whole_seconds())
            .collect();
        assert_eq!(&secs[..5], &[1, 2, 4, 8, 16]);
        assert_eq!(secs[13], 3600);
        assert!(secs.windows(2).all(|w| w[0] <= w[1]));
    }
}
