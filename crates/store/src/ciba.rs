//! CIBA backchannel requests (OpenID CIBA Core 1.0): the `auth_req_id`
//! row beside an asynchronous request, the ping to a ping-mode client, and
//! the request made for a hint that names nobody.
//!
//! | what | where it is kept |
//! |---|---|
//! | a request to a person | `data_request` as any asynchronous request (inbox, mail, webhooks, ledger), plus `ciba_request` with `auth_req_id` = the request's id |
//! | a request to nobody | `ciba_request` alone (`request_id` NULL): polled, it answers `access_denied` as a refusal does, and it has its `request.created` webhook and ping like a request the policy refused at once |
//! | a ping | a `webhook_delivery` row with `bearer` set, written in the transaction that decides the request (created decided, approved, declined, expired), so a crash delays it but never loses it |

use consent_policy::DataRequest;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, Set};
use time::Duration;

use crate::entity::{ciba_request, data_request, webhook_delivery};
use crate::webhook::{WebhookEvent, enqueue, request_data};
use crate::{Store, StoreError, new_id, now};

/// The webhook outbox's event name for a CIBA ping.
pub const CIBA_PING_EVENT: &str = "ciba.ping";

/// What a backchannel request adds to an asynchronous one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backchannel {
    /// How long the person has to answer (at most [`crate::REQUEST_TTL`]).
    pub expires_in: Duration,
    /// The `binding_message`, checked by the caller.
    pub binding_message: Option<String>,
    /// Ping mode: where to say that the request was decided.
    pub ping: Option<Ping>,
    /// Whether `scope` held `openid`: the tokens come with an ID token.
    pub openid: bool,
}

/// A ping-mode client's notification target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ping {
    /// The registered `backchannel_client_notification_endpoint`.
    pub endpoint: String,
    /// The request's `client_notification_token`.
    pub token: String,
}

/// A backchannel request whose hint named nobody.
#[derive(Clone, Debug, PartialEq)]
pub struct NobodyRequest {
    /// Its `auth_req_id`.
    pub auth_req_id: String,
    /// What was asked.
    pub asked: DataRequest,
    /// When it was asked.
    pub created_at: time::OffsetDateTime,
}

fn unix(at: time::OffsetDateTime) -> i64 {
    at.unix_timestamp()
}

/// Writes the `ciba_request` row of the asynchronous request `request_id`
/// just recorded in `txn`, with its binding message and expiry.
pub(crate) async fn record_in(
    txn: &DatabaseTransaction,
    company: &str,
    request_id: &str,
    backchannel: &Backchannel,
) -> Result<(), StoreError> {
    debug_assert!(backchannel.expires_in <= crate::REQUEST_TTL);
    let at = now();
    let expires_at = at + backchannel.expires_in;
    data_request::Entity::update_many()
        .col_expr(data_request::Column::ExpiresAt, Expr::value(expires_at))
        .col_expr(
            data_request::Column::BindingMessage,
            Expr::value(backchannel.binding_message.clone()),
        )
        .filter(data_request::Column::Id.eq(request_id))
        .exec(txn)
        .await?;
    insert(
        txn,
        company,
        request_id,
        Some(request_id),
        None,
        backchannel,
    )
    .await
}

async fn insert(
    txn: &DatabaseTransaction,
    company: &str,
    auth_req_id: &str,
    request_id: Option<&str>,
    asked: Option<String>,
    backchannel: &Backchannel,
) -> Result<(), StoreError> {
    let at = now();
    let ping = backchannel.ping.as_ref();
    ciba_request::Entity::insert(ciba_request::ActiveModel {
        auth_req_id: Set(auth_req_id.to_owned()),
        company_id: Set(company.to_owned()),
        request_id: Set(request_id.map(str::to_owned)),
        asked: Set(asked),
        notification_endpoint: Set(ping.map(|p| p.endpoint.clone())),
        notification_token: Set(ping.map(|p| p.token.clone())),
        last_poll_at: Set(None),
        expires_at: Set(unix(at + backchannel.expires_in)),
        created_at: Set(unix(at)),
        openid: Set(backchannel.openid),
    })
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

/// Queues the ping for the request `request_id` if a ping-mode client
/// asked for it through the backchannel; nothing otherwise. Call in the
/// transaction that decides the request.
pub(crate) async fn ping_in(txn: &DatabaseTransaction, request_id: &str) -> Result<(), StoreError> {
    let row = ciba_request::Entity::find()
        .filter(ciba_request::Column::RequestId.eq(request_id))
        .one(txn)
        .await?;
    if let Some(row) = row {
        queue_ping(txn, &row).await?;
    }
    Ok(())
}

async fn queue_ping(
    txn: &DatabaseTransaction,
    row: &ciba_request::Model,
) -> Result<(), StoreError> {
    let (Some(endpoint), Some(token)) = (&row.notification_endpoint, &row.notification_token)
    else {
        return Ok(());
    };
    let at = now();
    webhook_delivery::Entity::insert(webhook_delivery::ActiveModel {
        id: Set(new_id()),
        company_id: Set(row.company_id.clone()),
        url: Set(endpoint.clone()),
        event: Set(CIBA_PING_EVENT.to_owned()),
        payload: Set(serde_json::json!({"auth_req_id": row.auth_req_id}).to_string()),
        attempts: Set(0),
        created_at: Set(at),
        next_attempt_at: Set(Some(at)),
        delivered_at: Set(None),
        last_error: Set(None),
        bearer: Set(Some(token.clone())),
    })
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

impl Store {
    /// Records a backchannel request whose hint named nobody, as a request
    /// the policy refused at once looks to the company: its
    /// `request.created` webhook says `denied`, and a ping-mode client is
    /// pinged. Returns the `auth_req_id` (shaped as a request id).
    pub async fn record_ciba_for_nobody(
        &self,
        company: &consent_policy::CompanyId,
        asked: &DataRequest,
        backchannel: &Backchannel,
    ) -> Result<String, StoreError> {
        let auth_req_id = new_id();
        let asked_json = serde_json::to_string(asked).map_err(StoreError::corrupt)?;
        let (_turn, txn) = self.write_txn().await?;
        insert(
            &txn,
            company.as_str(),
            &auth_req_id,
            None,
            Some(asked_json),
            backchannel,
        )
        .await?;
        enqueue(
            &txn,
            company.as_str(),
            WebhookEvent::RequestCreated,
            request_data(&auth_req_id, "denied", None),
        )
        .await?;
        let row = ciba_request::Entity::find_by_id(auth_req_id.clone())
            .one(&txn)
            .await?
            .ok_or_else(|| StoreError::corrupt("ciba request vanished"))?;
        queue_ping(&txn, &row).await?;
        txn.commit().await?;
        Ok(auth_req_id)
    }

    /// Whether the backchannel request `auth_req_id` asked for `openid`
    /// (false for a request that did not come through the backchannel).
    pub async fn ciba_openid(&self, auth_req_id: &str) -> Result<bool, StoreError> {
        Ok(ciba_request::Entity::find_by_id(auth_req_id.to_owned())
            .one(&self.db)
            .await?
            .is_some_and(|row| row.openid))
    }

    /// `company`'s backchannel request `auth_req_id` to nobody, if it is one.
    pub async fn ciba_for_nobody(
        &self,
        company: &consent_policy::CompanyId,
        auth_req_id: &str,
    ) -> Result<Option<NobodyRequest>, StoreError> {
        let Some(row) = ciba_request::Entity::find_by_id(auth_req_id.to_owned())
            .filter(ciba_request::Column::CompanyId.eq(company.as_str()))
            .filter(ciba_request::Column::RequestId.is_null())
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let asked = row
            .asked
            .as_deref()
            .ok_or_else(|| StoreError::corrupt("a request to nobody without what it asked"))?;
        Ok(Some(NobodyRequest {
            asked: serde_json::from_str(asked)
                .map_err(|e| StoreError::corrupt(format!("ciba_request.asked: {e}")))?,
            created_at: time::OffsetDateTime::from_unix_timestamp(row.created_at)
                .map_err(StoreError::corrupt)?,
            auth_req_id: row.auth_req_id,
        }))
    }

    /// Records a poll of a request to nobody (the write a poll of a real
    /// request makes too, so both take as long).
    pub async fn ciba_nobody_poll(
        &self,
        auth_req_id: &str,
        now_secs: i64,
    ) -> Result<(), StoreError> {
        let (_turn, txn) = self.write_txn().await?;
        ciba_request::Entity::update_many()
            .col_expr(
                ciba_request::Column::LastPollAt,
                Expr::value(Some(now_secs)),
            )
            .filter(ciba_request::Column::AuthReqId.eq(auth_req_id))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }
}
