//! The operator's acts on companies, auditors and people: one function
//! each, each owning its transaction and appending its ledger entry.
//!
//! | act | effect, at the next request of any process |
//! |---|---|
//! | [`disable_company`] | token endpoint `invalid_client`; every access token issued until now dead for good; refresh tokens ended |
//! | [`enable_company`] | new tokens again (the old ones stay dead) |
//! | [`delete_company`] / [`force_delete_company`] | as a disable, for good; the forced one first revokes live grants, expires open requests (voiding their offers) and refunds the wallet |
//! | [`rotate_client_secret`] | the old secret is refused; tokens already issued stay good |
//! | [`revoke_auditor`] | as a delete, for an auditor |
//! | [`suspend_person`] | sessions ended, sign-in refused, reads of their data refused, requests to them decided as denied |
//! | [`unsuspend_person`] | sign-in again; grants were never revoked, so companies read again |
//!
//! Processes cache client records; every act here bumps the client row's
//! revision, which each use reads (see `store::oauth`). A person's
//! suspension sits in the row their policy is read from, and bumps their
//! policy version, so a read racing it decides again and is refused.

use authz::{ClientId, ClientRecord, ClientSecret, OsRandom, ServerKey};
use consent_policy::{CompanyId, Money};
use ledger::{Entry, EntryKind, ShortText};
use store::{ClientKind, ClientStatus, PersonId, Store, StoredClient, WriteTx};

use crate::BrokerError;

/// Whether an act changed anything (a repeat changes nothing and appends
/// nothing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The act was done now.
    Done,
    /// It had been done before; nothing changed.
    AlreadyDone,
}

/// What deleting a company ends: shown when a delete is refused, and what
/// a forced delete did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompanyHoldings {
    /// Live grants (revoked by a forced delete, each with its entry and
    /// `grant.revoked` webhook).
    pub live_grants: Vec<String>,
    /// Undecided requests (expired by a forced delete).
    pub pending_requests: u64,
    /// Offers held for those requests (voided).
    pub reserved: Vec<Money>,
    /// What the wallet can still spend (refunded).
    pub available: Vec<Money>,
}

impl CompanyHoldings {
    /// Whether a delete would end nothing of value.
    pub fn is_empty(&self) -> bool {
        self.live_grants.is_empty()
            && self.pending_requests == 0
            && self.reserved.is_empty()
            && self.available.is_empty()
    }
}

impl std::fmt::Display for CompanyHoldings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = |m: &[Money]| {
            m.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" + ")
        };
        write!(
            f,
            "{} live grant(s) to revoke, {} open request(s) to expire",
            self.live_grants.len(),
            self.pending_requests
        )?;
        if !self.reserved.is_empty() {
            write!(f, ", {} of offers to void", list(&self.reserved))?;
        }
        // Voided offers go back to the wallet first, so the refund is both.
        let mut refund: std::collections::BTreeMap<&str, Money> = Default::default();
        for money in self.available.iter().chain(&self.reserved) {
            refund
                .entry(money.currency().code())
                .and_modify(|sum| {
                    *sum = Money::new(
                        sum.amount_micros().saturating_add(money.amount_micros()),
                        money.currency(),
                    );
                })
                .or_insert(*money);
        }
        if !refund.is_empty() {
            let refund: Vec<Money> = refund.into_values().collect();
            write!(f, ", then {} to refund", list(&refund))?;
        }
        Ok(())
    }
}

fn text(value: impl Into<String>) -> Result<ShortText, BrokerError> {
    ShortText::new(value).map_err(|e| BrokerError::Corrupt(e.to_string()))
}

fn entry(kind: EntryKind) -> Entry {
    Entry::new(
        time::OffsetDateTime::now_utc().unix_timestamp() * 1000,
        kind,
    )
}

/// The client `id` of `kind`, locked, or why there is none.
async fn locked_client(
    tx: &WriteTx<'_>,
    id: &str,
    kind: ClientKind,
) -> Result<std::sync::Arc<StoredClient>, BrokerError> {
    let unknown = || match kind {
        ClientKind::Company => BrokerError::UnknownCompany(id.to_owned()),
        ClientKind::Auditor => BrokerError::UnknownAuditor(id.to_owned()),
    };
    let client_id = ClientId::parse(id).map_err(|_| unknown())?;
    match tx.client_for_update(&client_id).await? {
        Some(client) if client.kind == kind => Ok(client),
        _ => Err(unknown()),
    }
}

fn refuse_if_gone(client: &StoredClient) -> Result<(), BrokerError> {
    match client.status {
        ClientStatus::Deleted | ClientStatus::Revoked => Err(BrokerError::ClientGone {
            client_id: client.record.client_id.to_string(),
            status: client.status,
        }),
        ClientStatus::Active | ClientStatus::Disabled => Ok(()),
    }
}

fn now_secs() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Disables a company: see the module table.
pub async fn disable_company(store: &Store, client_id: &str) -> Result<Outcome, BrokerError> {
    let tx = store.begin().await?;
    let client = locked_client(&tx, client_id, ClientKind::Company).await?;
    refuse_if_gone(&client)?;
    if client.status == ClientStatus::Disabled {
        return Ok(Outcome::AlreadyDone);
    }
    end_client(&tx, &client, ClientStatus::Disabled).await?;
    tx.append(&[entry(EntryKind::CompanyDisabled {
        company_id: text(client_id)?,
    })])
    .await?;
    tx.commit().await?;
    Ok(Outcome::Done)
}

/// Sets a terminal or disabled status: cuts off every access token issued
/// until now and ends every refresh token.
async fn end_client(
    tx: &WriteTx<'_>,
    client: &StoredClient,
    status: ClientStatus,
) -> Result<(), BrokerError> {
    let id = &client.record.client_id;
    tx.set_client_status(id, status, Some(now_secs())).await?;
    tx.end_client_refresh_tokens(id).await?;
    Ok(())
}

/// Enables a disabled company. Tokens issued before its disable stay dead
/// (their `iat` is at or before the cut-off); so that a token issued right
/// after this cannot fall in the cut-off's second, this returns only once
/// that second is over (at most one second's wait).
pub async fn enable_company(store: &Store, client_id: &str) -> Result<Outcome, BrokerError> {
    let tx = store.begin().await?;
    let client = locked_client(&tx, client_id, ClientKind::Company).await?;
    refuse_if_gone(&client)?;
    if client.status == ClientStatus::Active {
        return Ok(Outcome::AlreadyDone);
    }
    tx.set_client_status(&client.record.client_id, ClientStatus::Active, None)
        .await?;
    tx.append(&[entry(EntryKind::CompanyEnabled {
        company_id: text(client_id)?,
    })])
    .await?;
    tx.commit().await?;
    let now = time::OffsetDateTime::now_utc();
    let into_second = std::time::Duration::from_nanos(u64::from(now.nanosecond()));
    tokio::time::sleep(std::time::Duration::from_secs(1).saturating_sub(into_second)).await;
    Ok(Outcome::Done)
}

/// What deleting the company would end, read now.
pub async fn company_holdings(
    store: &Store,
    client_id: &str,
) -> Result<CompanyHoldings, BrokerError> {
    let tx = store.begin().await?;
    let client = locked_client(&tx, client_id, ClientKind::Company).await?;
    holdings(&tx, &client).await
}

async fn holdings(tx: &WriteTx<'_>, client: &StoredClient) -> Result<CompanyHoldings, BrokerError> {
    let company = client.record.client_id.to_company_id();
    let live_grants = tx
        .live_grants_of_company(&company)
        .await?
        .into_iter()
        .map(|(grant, _)| grant.id)
        .collect();
    let (pending_requests, reserved, available) = tx.open_offers_of_company(&company).await?;
    Ok(CompanyHoldings {
        live_grants,
        pending_requests,
        reserved,
        available,
    })
}

/// Deletes a company that holds nothing: no live grant, no open request,
/// nothing in its wallet. Otherwise refused with
/// [`BrokerError::CompanyHoldsValue`], naming what
/// [`force_delete_company`] would end.
pub async fn delete_company(store: &Store, client_id: &str) -> Result<Outcome, BrokerError> {
    let tx = store.begin().await?;
    let client = locked_client(&tx, client_id, ClientKind::Company).await?;
    if client.status == ClientStatus::Deleted {
        return Ok(Outcome::AlreadyDone);
    }
    let held = holdings(&tx, &client).await?;
    if !held.is_empty() {
        return Err(BrokerError::CompanyHoldsValue(Box::new(held)));
    }
    finish_delete(&tx, &client).await?;
    tx.commit().await?;
    Ok(Outcome::Done)
}

/// Deletes a company whatever it holds, in one transaction: revokes its
/// live grants (entries and webhooks as a person's revocation), expires
/// its open requests and voids their offers, refunds what its wallet can
/// still spend, then deletes it. Returns what it ended.
pub async fn force_delete_company(
    store: &Store,
    client_id: &str,
) -> Result<(Outcome, CompanyHoldings), BrokerError> {
    let tx = store.begin().await?;
    let client = locked_client(&tx, client_id, ClientKind::Company).await?;
    if client.status == ClientStatus::Deleted {
        return Ok((Outcome::AlreadyDone, CompanyHoldings::default()));
    }
    let company: CompanyId = client.record.client_id.to_company_id();
    let mut ended = CompanyHoldings::default();
    for (grant, pseudonym) in tx.live_grants_of_company(&company).await? {
        tx.lock_person(&grant.person_id).await?;
        tx.revoke_grant(&grant, &pseudonym).await?;
        ended.live_grants.push(grant.id);
    }
    let (pending, voided) = tx.expire_pending_requests_of_company(&company).await?;
    ended.pending_requests = pending;
    ended.reserved = voided;
    ended.available = tx.refund_wallets(&company).await?;
    finish_delete(&tx, &client).await?;
    tx.commit().await?;
    Ok((Outcome::Done, ended))
}

async fn finish_delete(tx: &WriteTx<'_>, client: &StoredClient) -> Result<(), BrokerError> {
    end_client(tx, client, ClientStatus::Deleted).await?;
    tx.append(&[entry(EntryKind::CompanyDeleted {
        company_id: text(client.record.client_id.as_str())?,
    })])
    .await?;
    Ok(())
}

/// Gives a company or auditor a new client secret, returned once; the old
/// one is refused from the next request on, in every process. Access
/// tokens already issued stay good until they expire (disable the company
/// to end them).
pub async fn rotate_client_secret(
    store: &Store,
    server_key: &ServerKey,
    client_id: &str,
) -> Result<ClientSecret, BrokerError> {
    let tx = store.begin().await?;
    let client = match locked_client(&tx, client_id, ClientKind::Company).await {
        Err(BrokerError::UnknownCompany(_)) => locked_client(&tx, client_id, ClientKind::Auditor)
            .await
            .map_err(|_| BrokerError::UnknownCompany(client_id.to_owned()))?,
        other => other?,
    };
    refuse_if_gone(&client)?;
    if client.record.secret_hash.is_none() {
        return Err(BrokerError::InvalidValue(format!(
            "{client_id} authenticates with private_key_jwt: it has no secret to rotate"
        )));
    }
    let secret = ClientSecret::generate(&mut OsRandom).map_err(|_| BrokerError::NoRandomness)?;
    let record = ClientRecord {
        secret_hash: Some(secret.hash(server_key)),
        ..client.record.clone()
    };
    tx.replace_client_record(&record).await?;
    tx.append(&[entry(EntryKind::ClientSecretRotated {
        client_id: text(client_id)?,
    })])
    .await?;
    tx.commit().await?;
    Ok(secret)
}

/// Revokes an auditor's client for good: no token, and every token it
/// holds dead at once.
pub async fn revoke_auditor(store: &Store, client_id: &str) -> Result<Outcome, BrokerError> {
    let tx = store.begin().await?;
    let client = locked_client(&tx, client_id, ClientKind::Auditor).await?;
    if client.status == ClientStatus::Revoked {
        return Ok(Outcome::AlreadyDone);
    }
    end_client(&tx, &client, ClientStatus::Revoked).await?;
    tx.append(&[entry(EntryKind::AuditorRevoked {
        client_id: text(client_id)?,
    })])
    .await?;
    tx.commit().await?;
    Ok(Outcome::Done)
}

/// Suspends a person: see the module table. Their grants are kept (not
/// revoked), so lifting the suspension restores them unless they expired.
pub async fn suspend_person(store: &Store, person: &PersonId) -> Result<Outcome, BrokerError> {
    set_suspension(store, person, true).await
}

/// Lifts a person's suspension: they can sign in again, and companies read
/// under grants that are still live.
pub async fn unsuspend_person(store: &Store, person: &PersonId) -> Result<Outcome, BrokerError> {
    set_suspension(store, person, false).await
}

async fn set_suspension(
    store: &Store,
    person: &PersonId,
    suspended: bool,
) -> Result<Outcome, BrokerError> {
    let tx = store.begin().await?;
    tx.change_policy(person).await?;
    if !tx.set_suspended(person, suspended).await? {
        return Ok(Outcome::AlreadyDone);
    }
    let pseudonym = text(tx.pseudonym(person).await?)?;
    let kind = if suspended {
        EntryKind::PersonSuspended { person: pseudonym }
    } else {
        EntryKind::PersonUnsuspended { person: pseudonym }
    };
    tx.append(&[entry(kind)]).await?;
    tx.commit().await?;
    Ok(Outcome::Done)
}
