//! A company sets or removes its webhook, rotates its signing secret, and
//! looks at its deliveries.
//!
//! The URL is checked by the adapter before it gets here (which schemes
//! and addresses are acceptable depends on the server's configuration and
//! on what the name resolves to). Setting a webhook makes the company's
//! random signing secret if it has none; a rotation replaces it, and the
//! replaced one goes on signing for [`store::SECRET_OVERLAP`] so the
//! company can move its receiver without missing a call.

use consent_policy::CompanyId;
use store::{Store, WebhookAttempt, WebhookSecret, WebhookStatus};

use crate::BrokerError;

/// Deliveries [`show`] lists, newest first.
pub const LISTED: u64 = 50;

/// The webhook as a company sees it.
#[derive(Debug)]
pub struct Webhook {
    /// The URL called, if one is set.
    pub url: Option<String>,
    /// The latest deliveries, newest first.
    pub deliveries: Vec<WebhookStatus>,
}

/// Sets the company's webhook URL (already checked); returns the secrets
/// that sign its calls, current first.
pub async fn set(
    store: &Store,
    company: &CompanyId,
    url: &str,
) -> Result<Vec<WebhookSecret>, BrokerError> {
    Ok(store.set_webhook(company, Some(url)).await?)
}

/// Stops the calls. Deliveries already queued still go to the old URL,
/// signed as before.
pub async fn remove(store: &Store, company: &CompanyId) -> Result<(), BrokerError> {
    store.set_webhook(company, None).await?;
    Ok(())
}

/// Replaces the company's signing secret; returns the new one first and
/// the replaced one, which signs for 24 hours more.
pub async fn rotate_secret(
    store: &Store,
    company: &CompanyId,
) -> Result<Vec<WebhookSecret>, BrokerError> {
    Ok(store.rotate_webhook_secret(company).await?)
}

/// The secrets that sign a call to `company` now (made if it has none).
pub async fn signing_secrets(
    store: &Store,
    company: &CompanyId,
) -> Result<Vec<WebhookSecret>, BrokerError> {
    Ok(store.webhook_secrets(company).await?)
}

/// The webhook URL and the latest deliveries.
pub async fn show(store: &Store, company: &CompanyId) -> Result<Webhook, BrokerError> {
    Ok(Webhook {
        url: store.webhook(company).await?,
        deliveries: store.webhook_deliveries(company, LISTED).await?,
    })
}

/// One page of the company's deliveries, newest first, after the delivery
/// `after` (its `created_at` and id).
pub async fn deliveries(
    store: &Store,
    company: &CompanyId,
    after: Option<(time::OffsetDateTime, &str)>,
    limit: u64,
) -> Result<Vec<store::WebhookStatus>, BrokerError> {
    Ok(store
        .webhook_deliveries_after(company, after, limit)
        .await?)
}

/// Queues a `ping` to the company's webhook, to test its receiver; the
/// delivery's id, or `None` when no webhook is set.
pub async fn ping(store: &Store, company: &CompanyId) -> Result<Option<String>, BrokerError> {
    Ok(store.enqueue_ping(company).await?)
}

/// Calls one of the company's deliveries again now, with the same event
/// id; `false` when the company has no delivery of that id.
pub async fn redeliver(
    store: &Store,
    company: &CompanyId,
    delivery_id: &str,
) -> Result<bool, BrokerError> {
    Ok(store.redeliver_webhook(company, delivery_id).await?)
}

/// One of the company's deliveries with every call made for it.
pub async fn delivery(
    store: &Store,
    company: &CompanyId,
    delivery_id: &str,
) -> Result<Option<(WebhookStatus, Vec<WebhookAttempt>)>, BrokerError> {
    Ok(store.webhook_delivery_log(company, delivery_id).await?)
}
