//! Requests and grants: a company asks (interactively, at the consent
//! screen, or asynchronously, in the person's inbox), the policy decides
//! what it can, the person decides the rest, and an approval becomes a grant
//! that lives until it expires or is revoked. Every step is written to the
//! ledger in the same transaction: names of attributes, never their values.

use consent_policy::{
    AttributeKey, Channel, CompanyId, DataRequest, Decision, Grant, GrantDuration, Money, Outcome,
    Purpose, RequestStatus,
};
use ledger::{Entry, EntryKind, NameList, ReceiptEvent, ShortText};
use sea_orm::sea_query::Expr;
use sea_orm::sea_query::{LockBehavior, LockType};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseTransaction, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use time::{Duration, OffsetDateTime};

use crate::entity::{data_request, grant, person};
use crate::ledger::{append_entries, now_unix_ms};
use crate::money::{counter_transfer_id, reserve, reserve_offer, settle, settle_offer};
use crate::webhook::{WebhookEvent, enqueue, request_data};
use crate::{Backend, PersonId, Store, StoreError, new_id, now};

/// An undecided request expires after this long.
pub const REQUEST_TTL: Duration = Duration::days(7);
/// Most requests or grants one listing returns.
pub const MAX_LISTED: u64 = 500;
/// Most expired requests, and most expired grants, one sweep records.
pub const SWEEP_BATCH: u64 = 200;

/// What one sweep recorded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Swept {
    /// Requests that ran out of time undecided (their offers voided).
    pub requests: u64,
    /// Grants whose end the ledger now records.
    pub grants: u64,
}

/// A request to record, with the policy's decision.
#[derive(Debug)]
pub(crate) struct NewRequest {
    pub(crate) person: PersonId,
    pub(crate) company: CompanyId,
    pub(crate) request: DataRequest,
    pub(crate) decision: Deciding,
    pub(crate) channel: Channel,
    pub(crate) backchannel: Option<crate::ciba::Backchannel>,
}

/// How a request to record gets its decision.
pub(crate) enum Deciding {
    /// Decided by the caller already (the consent screen, whose person
    /// answers it themselves).
    Made(Decision),
    /// Decided inside the recording transaction, under the person's lock,
    /// from the policy read there: nothing can change it before commit.
    Inside(Decider),
}

/// A decision the application layer hands to the store to make at the
/// right moment (`consent_policy::decide` over the person's profile).
pub type Decider = Box<dyn FnOnce(&consent_policy::Profile) -> Decision + Send>;

impl std::fmt::Debug for Deciding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Made(decision) => f.debug_tuple("Made").field(decision).finish(),
            Self::Inside(_) => f.write_str("Inside(..)"),
        }
    }
}

/// A request as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredRequest {
    /// Its id.
    pub id: String,
    /// Who asked.
    pub company_id: CompanyId,
    /// Whom.
    pub person_id: PersonId,
    /// How it arrived.
    pub channel: Channel,
    /// What was asked.
    pub request: DataRequest,
    /// The policy's decision when it arrived.
    pub decision: Decision,
    /// Where it stands.
    pub status: RequestStatus,
    /// The grant it became.
    pub grant_id: Option<String>,
    /// When it arrived.
    pub created_at: OffsetDateTime,
    /// When it was decided.
    pub decided_at: Option<OffsetDateTime>,
    /// When an undecided request expires.
    pub expires_at: OffsetDateTime,
    /// CIBA's `binding_message`, for the person to see.
    pub binding_message: Option<String>,
    /// The person's counter-offer, if they made one.
    pub counter: Option<Counter>,
}

/// "I would share this for X": the price a person named for a request
/// with an offer, and the attributes it is for.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Counter {
    /// The price named; more than the offer, in its currency.
    pub price: Money,
    /// What the person would share for it.
    pub attributes: Vec<AttributeKey>,
}

fn parse_json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::corrupt(format!("{what}: {e}")))
}

impl TryFrom<data_request::Model> for StoredRequest {
    type Error = StoreError;
    fn try_from(row: data_request::Model) -> Result<Self, StoreError> {
        Ok(StoredRequest {
            company_id: CompanyId::parse(&row.company_id).map_err(StoreError::corrupt)?,
            person_id: PersonId::new(row.person_id),
            channel: match row.channel.as_str() {
                "interactive" => Channel::Interactive,
                _ => Channel::Async,
            },
            request: parse_json(&row.request, "data_request.request")?,
            decision: parse_json(&row.decision, "data_request.decision")?,
            // A waiting request the person countered is stored `pending`
            // with its `counter` (the column's CHECK predates counters):
            // waiting still, now for the company.
            status: match (row.status.as_str(), &row.counter) {
                ("pending", Some(_)) => RequestStatus::Countered,
                ("pending", None) => RequestStatus::Pending,
                ("approved", _) => RequestStatus::Approved,
                ("denied", _) => RequestStatus::Denied,
                _ => RequestStatus::Expired,
            },
            counter: row
                .counter
                .as_deref()
                .map(|text| parse_json(text, "data_request.counter"))
                .transpose()?,
            id: row.id,
            grant_id: row.grant_id,
            created_at: row.created_at,
            decided_at: row.decided_at,
            expires_at: row.expires_at,
            binding_message: row.binding_message,
        })
    }
}

impl TryFrom<grant::Model> for Grant {
    type Error = StoreError;
    fn try_from(row: grant::Model) -> Result<Self, StoreError> {
        Ok(Grant {
            company_id: CompanyId::parse(&row.company_id).map_err(StoreError::corrupt)?,
            person_id: PersonId::new(row.person_id),
            attributes: parse_json(&row.attributes, "grant.attributes")?,
            purpose: Purpose::parse(&row.purpose).map_err(StoreError::corrupt)?,
            duration: GrantDuration::parse(&row.duration).map_err(StoreError::corrupt)?,
            price: row
                .price
                .as_deref()
                .map(|p| parse_json(p, "grant.price"))
                .transpose()?,
            id: row.id,
            request_id: row.request_id,
            created_at: row.created_at,
            expires_at: row.expires_at,
            revoked_at: row.revoked_at,
        })
    }
}

pub(crate) fn text(value: impl Into<String>) -> Result<ShortText, StoreError> {
    Ok(ShortText::new(value.into())?)
}

pub(crate) fn names<'a>(
    keys: impl IntoIterator<Item = &'a AttributeKey>,
) -> Result<NameList, StoreError> {
    let names = keys
        .into_iter()
        .map(|k| ShortText::new(k.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(NameList::new(names)?)
}

fn ledger_money(money: &Money) -> Result<ledger::Money, StoreError> {
    let currency = ledger::Currency::new(&money.currency().to_string())
        .map_err(|e| StoreError::corrupt(format!("currency: {e}")))?;
    Ok(ledger::Money::new(money.amount_micros(), currency))
}

pub(crate) async fn pseudonym(
    txn: &DatabaseTransaction,
    person: &PersonId,
) -> Result<String, StoreError> {
    Ok(person::Entity::find_by_id(person.as_str().to_owned())
        .one(txn)
        .await?
        .ok_or(StoreError::PersonNotFound)?
        .pseudonym)
}

/// What the policy left to the person: the attributes it allowed or asked
/// about. Denied ones (private, blocked, denied by a rule) never appear.
fn grantable(decision: &Decision) -> Vec<AttributeKey> {
    decision
        .attributes()
        .iter()
        .filter(|d| d.outcome != Outcome::Deny)
        .map(|d| d.key.clone())
        .collect()
}

fn decided_entry(
    request_id: &str,
    company: &CompanyId,
    person: &str,
    allowed: &[AttributeKey],
    decision: &Decision,
    final_answer: bool,
) -> Result<Entry, StoreError> {
    let (allowed, asked): (Vec<&AttributeKey>, Vec<&AttributeKey>) = if final_answer {
        (allowed.iter().collect(), Vec::new())
    } else {
        (decision.allowed().collect(), decision.asked().collect())
    };
    let withheld: Vec<&AttributeKey> = decision
        .attributes()
        .iter()
        .map(|d| &d.key)
        .filter(|k| !allowed.contains(k) && !asked.contains(k))
        .collect();
    Ok(Entry::new(
        now_unix_ms(),
        EntryKind::RequestDecided {
            request_id: text(request_id)?,
            company_id: text(company.to_string())?,
            person: text(person)?,
            allowed: names(allowed)?,
            asked: names(asked)?,
            withheld: names(withheld)?,
        },
    ))
}

impl Store {
    /// Records a company's request and the policy's decision. An
    /// asynchronous request the policy wholly allows becomes a grant at
    /// once; one it wholly denies is denied; anything else waits for the
    /// person. An interactive request always waits for the consent screen.
    pub async fn record_request(
        &self,
        person: &PersonId,
        company: &CompanyId,
        request: &DataRequest,
        decision: &Decision,
        channel: Channel,
    ) -> Result<StoredRequest, StoreError> {
        let new = NewRequest {
            person: person.clone(),
            company: company.clone(),
            request: request.clone(),
            decision: Deciding::Made(decision.clone()),
            channel,
            backchannel: None,
        };
        self.record_new_request(new).await
    }

    /// Records a company's request decided by `decide` inside the
    /// recording transaction, under the person's lock, from the policy
    /// read there: a block, a move to private or a rule committed before
    /// it is always seen, and none can land between decision and record.
    /// A `backchannel` request (CIBA) is recorded with its `auth_req_id`
    /// row, binding message and expiry in the same transaction.
    pub async fn record_request_deciding(
        &self,
        person: &PersonId,
        company: &CompanyId,
        request: &DataRequest,
        channel: Channel,
        decide: Decider,
        backchannel: Option<crate::ciba::Backchannel>,
    ) -> Result<StoredRequest, StoreError> {
        let new = NewRequest {
            person: person.clone(),
            company: company.clone(),
            request: request.clone(),
            decision: Deciding::Inside(decide),
            channel,
            backchannel,
        };
        self.record_new_request(new).await
    }

    async fn record_new_request(&self, new: NewRequest) -> Result<StoredRequest, StoreError> {
        if self.backend() == Backend::Sqlite {
            return self.record_request_grouped(new).await;
        }
        self.record_request_alone(new).await
    }

    /// Records `new` in a transaction of its own.
    pub(crate) async fn record_request_alone(
        &self,
        new: NewRequest,
    ) -> Result<StoredRequest, StoreError> {
        let (_turn, txn) = self.write_txn().await?;
        let stored = self.record_request_in(&txn, new).await?;
        txn.commit().await?;
        Ok(stored)
    }

    /// [`Store::record_request`]'s statements, in `txn`.
    pub(crate) async fn record_request_in(
        &self,
        txn: &DatabaseTransaction,
        new: NewRequest,
    ) -> Result<StoredRequest, StoreError> {
        let NewRequest {
            person,
            company,
            request,
            decision,
            channel,
            backchannel,
        } = new;
        self.lock_person(txn, &person).await?;
        let (decision, profile) = match decision {
            Deciding::Made(decision) => (decision, None),
            Deciding::Inside(decide) => {
                let profile = crate::person::profile_in(txn, &person).await?;
                (decide(&profile), Some(profile))
            }
        };
        let status = RequestStatus::initial(&decision, channel);
        let granted: Vec<AttributeKey> = decision.allowed().cloned().collect();
        let id = self
            .record_in(
                txn, &person, &company, &request, &decision, channel, status, &granted,
            )
            .await?;
        // The person's rules may name their price by themselves: the
        // request then waits for the company, not for the person.
        let counter = match (&profile, status, channel) {
            (Some(profile), RequestStatus::Pending, Channel::Async) => {
                consent_policy::automatic_counter(profile, &company, &request, &decision)
                    .map(|(price, attributes)| Counter { price, attributes })
            }
            _ => None,
        };
        if let Some(counter) = &counter {
            data_request::Entity::update_many()
                .col_expr(
                    data_request::Column::Counter,
                    Expr::value(Some(
                        serde_json::to_string(counter).map_err(StoreError::corrupt)?,
                    )),
                )
                .filter(data_request::Column::Id.eq(&id))
                .exec(txn)
                .await?;
        }
        if let Some(backchannel) = &backchannel {
            crate::ciba::record_in(txn, company.as_str(), &id, backchannel).await?;
            if status != RequestStatus::Pending {
                crate::ciba::ping_in(txn, &id).await?;
            }
        }
        if status == RequestStatus::Pending && channel == Channel::Async && counter.is_none() {
            crate::notify::request_waiting(txn, &person, company.as_str(), &id, &request).await?;
        }
        if let Some(counter) = &counter {
            let mut data = request_data(&id, RequestStatus::Countered.as_str(), None);
            data["counter"] = serde_json::to_value(counter.price).map_err(StoreError::corrupt)?;
            data["attributes"] = counter.attributes.iter().map(|k| k.to_string()).collect();
            enqueue(
                txn,
                company.as_str(),
                WebhookEvent::RequestCreated,
                data.clone(),
            )
            .await?;
            enqueue(txn, company.as_str(), WebhookEvent::RequestCountered, data).await?;
        } else if channel == Channel::Async {
            let grant_id = match status {
                RequestStatus::Approved => grant::Entity::find()
                    .filter(grant::Column::RequestId.eq(&id))
                    .one(txn)
                    .await?
                    .map(|g| g.id),
                _ => None,
            };
            let data = request_data(
                &id,
                status.as_str(),
                grant_id.as_deref().map(|g| (g, granted.as_slice())),
            );
            enqueue(txn, company.as_str(), WebhookEvent::RequestCreated, data).await?;
        }
        let stored = data_request::Entity::find_by_id(id)
            .one(txn)
            .await?
            .ok_or_else(|| StoreError::corrupt("request vanished"))?;
        StoredRequest::try_from(stored)
    }

    /// Remembered consent: records an interactive request that a live
    /// grant of the person already covers and approves it without showing
    /// the consent screen again. Returns `None` (nothing written) when no
    /// live grant covers it or the policy now denies any attribute asked
    /// for: then the person must see the screen.
    ///
    /// A grant covers a request when it is the same company's, for the same
    /// purpose, grants every attribute asked for, and ends no sooner than a
    /// grant made now for the request's duration would. The request becomes
    /// a *new* grant of exactly what was asked (not the covering grant
    /// reused), through the same steps as an approval on the screen: the
    /// request, the decision and the grant are written to the ledger in
    /// one transaction, and an offer is reserved and posted to the person
    /// like any approved offer. Why a new grant: the company's token then
    /// reads exactly the attributes this request named, never the rest of
    /// the covering grant; each request the company makes is its own line
    /// in the ledger and its own payment (a company that offers money for
    /// a request pays it, even when the answer is remembered); and the
    /// person sees and can revoke each grant on their grants page. The new
    /// grant never outlives the covering one, so remembering never widens
    /// what the person agreed to.
    pub async fn record_remembered_request(
        &self,
        person: &PersonId,
        company: &CompanyId,
        request: &DataRequest,
        decision: &Decision,
    ) -> Result<Option<Grant>, StoreError> {
        if decision.denied().next().is_some() {
            return Ok(None);
        }
        let (_turn, txn) = self.write_txn().await?;
        self.lock_person(&txn, person).await?;
        // Checked again under the person's lock: a revocation that won the
        // race ends remembering too.
        let at = now();
        let live = grant::Entity::find()
            .filter(grant::Column::PersonId.eq(person.as_str()))
            .filter(grant::Column::CompanyId.eq(company.to_string()))
            .filter(grant::Column::Purpose.eq(request.purpose().to_string()))
            .filter(grant::Column::RevokedAt.is_null())
            .filter(grant::Column::ExpiresAt.gt(at))
            .limit(MAX_LISTED)
            .all(&txn)
            .await?
            .into_iter()
            .map(Grant::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        if !live.iter().any(|g| g.covers(request, at)) {
            return Ok(None);
        }
        let granted = grantable(decision);
        debug_assert_eq!(granted.len(), request.attributes().len());
        let id = self
            .record_in(
                &txn,
                person,
                company,
                request,
                decision,
                Channel::Interactive,
                RequestStatus::Approved,
                &granted,
            )
            .await?;
        let row = grant::Entity::find()
            .filter(grant::Column::RequestId.eq(&id))
            .one(&txn)
            .await?
            .ok_or_else(|| StoreError::corrupt("grant vanished"))?;
        txn.commit().await?;
        Grant::try_from(row).map(Some)
    }

    /// Writes a request with its `status`, its ledger entries, its offer's
    /// reservation and, when approved, the grant of `granted` and the
    /// offer's payment; all inside `txn`, the person locked by the caller.
    #[allow(clippy::too_many_arguments)]
    async fn record_in(
        &self,
        txn: &DatabaseTransaction,
        person: &PersonId,
        company: &CompanyId,
        request: &DataRequest,
        decision: &Decision,
        channel: Channel,
        status: RequestStatus,
        granted: &[AttributeKey],
    ) -> Result<String, StoreError> {
        let pseudonym = pseudonym(txn, person).await?;
        let id = new_id();
        let now = now();
        let mut entries = vec![Entry::new(
            now_unix_ms(),
            EntryKind::RequestMade {
                request_id: text(&id)?,
                company_id: text(company.to_string())?,
                person: text(&pseudonym)?,
                attributes: names(request.attributes())?,
                purpose: text(request.purpose().to_string())?,
                duration_secs: request.duration().as_secs(),
                offer: request.offer().map(ledger_money).transpose()?,
            },
        )];
        if status != RequestStatus::Pending {
            let allowed = if status == RequestStatus::Approved {
                granted
            } else {
                &[]
            };
            entries.push(decided_entry(
                &id, company, &pseudonym, allowed, decision, true,
            )?);
        }
        data_request::ActiveModel {
            id: Set(id.clone()),
            company_id: Set(company.to_string()),
            person_id: Set(person.as_str().to_owned()),
            channel: Set(channel.as_str().to_owned()),
            request: Set(serde_json::to_string(request).map_err(StoreError::corrupt)?),
            decision: Set(serde_json::to_string(decision).map_err(StoreError::corrupt)?),
            status: Set(status.as_str().to_owned()),
            grant_id: Set(None),
            created_at: Set(now),
            decided_at: Set((status != RequestStatus::Pending).then_some(now)),
            expires_at: Set(now + REQUEST_TTL),
            binding_message: Set(None),
            counter: Set(None),
        }
        .insert(txn)
        .await?;
        // An offer is held from the wallet while the answer may still be
        // yes; a request the policy refused outright holds nothing.
        let offer = request.offer().filter(|o| o.amount_micros() > 0);
        if let (Some(offer), false) = (offer, status == RequestStatus::Denied) {
            entries.push(
                reserve_offer(txn, self.backend(), company, person, &pseudonym, &id, offer).await?,
            );
        }
        if status == RequestStatus::Approved {
            debug_assert!(!granted.is_empty(), "an approval grants something");
            let grant_entry = self
                .insert_grant(txn, &id, person, company, request, granted, &pseudonym)
                .await?;
            entries.push(grant_entry);
            entries.extend(settle_offer(txn, self.backend(), &id, true).await?);
        }
        append_entries(txn, self.backend(), &entries).await?;
        Ok(id)
    }

    #[allow(clippy::too_many_arguments)]
    async fn insert_grant(
        &self,
        txn: &DatabaseTransaction,
        request_id: &str,
        person: &PersonId,
        company: &CompanyId,
        request: &DataRequest,
        attributes: &[AttributeKey],
        pseudonym: &str,
    ) -> Result<Entry, StoreError> {
        let grant_id = new_id();
        let now = now();
        let lifetime = Duration::seconds(
            i64::try_from(request.duration().as_secs()).map_err(StoreError::corrupt)?,
        );
        let renewal =
            crate::receipt::renews(txn, person, company, &request.purpose().to_string(), now)
                .await?;
        let row = grant::ActiveModel {
            id: Set(grant_id.clone()),
            request_id: Set(request_id.to_owned()),
            person_id: Set(person.as_str().to_owned()),
            company_id: Set(company.to_string()),
            attributes: Set(serde_json::to_string(attributes).map_err(StoreError::corrupt)?),
            purpose: Set(request.purpose().to_string()),
            duration: Set(request.duration().to_string()),
            price: Set(request
                .offer()
                .map(serde_json::to_string)
                .transpose()
                .map_err(StoreError::corrupt)?),
            created_at: Set(now),
            expires_at: Set(now + lifetime),
            revoked_at: Set(None),
            expiry_recorded_at: Set(None),
        }
        .insert(txn)
        .await?;
        let event = if renewal {
            ReceiptEvent::Renewed
        } else {
            ReceiptEvent::Given
        };
        let receipt = crate::receipt::issue(self, txn, &Grant::try_from(row)?, event, now).await?;
        data_request::Entity::update_many()
            .col_expr(
                data_request::Column::GrantId,
                Expr::value(Some(grant_id.clone())),
            )
            .filter(data_request::Column::Id.eq(request_id))
            .exec(txn)
            .await?;
        Ok(Entry::new(
            now_unix_ms(),
            EntryKind::GrantCreated {
                grant_id: text(&grant_id)?,
                request_id: text(request_id)?,
                company_id: text(company.to_string())?,
                person: text(pseudonym)?,
                attributes: names(attributes)?,
                purpose: text(request.purpose().to_string())?,
                duration_secs: request.duration().as_secs(),
                price: request.offer().map(ledger_money).transpose()?,
                receipt,
            },
        ))
    }

    /// Loads a pending request of `person` for deciding, locked.
    async fn pending_request(
        &self,
        txn: &DatabaseTransaction,
        person: &PersonId,
        request_id: &str,
    ) -> Result<StoredRequest, StoreError> {
        let mut query = data_request::Entity::find_by_id(request_id.to_owned())
            .filter(data_request::Column::PersonId.eq(person.as_str()));
        if self.backend() == Backend::Postgres {
            query = query.lock_exclusive();
        }
        let request = query
            .one(txn)
            .await?
            .ok_or_else(|| StoreError::RequestNotFound(request_id.to_owned()))
            .and_then(StoredRequest::try_from)?;
        if request.status != RequestStatus::Pending || request.expires_at <= now() {
            return Err(StoreError::RequestNotPending(request_id.to_owned()));
        }
        Ok(request)
    }

    /// The attributes the policy left open in `request`, or the subset
    /// `chosen` of them; never empty.
    fn chosen_of(
        request: &StoredRequest,
        chosen: Option<&[AttributeKey]>,
    ) -> Result<Vec<AttributeKey>, StoreError> {
        let open = grantable(&request.decision);
        let granted: Vec<AttributeKey> = match chosen {
            Some(chosen) => {
                if let Some(bad) = chosen.iter().find(|k| !open.contains(k)) {
                    return Err(StoreError::NotGrantable(bad.to_string()));
                }
                open.iter()
                    .filter(|k| chosen.contains(k))
                    .cloned()
                    .collect()
            }
            None => open,
        };
        if granted.is_empty() {
            return Err(StoreError::NothingToGrant);
        }
        Ok(granted)
    }

    /// The person approves a pending request, for all the attributes the
    /// policy left open or for the subset `chosen`. Attributes the policy
    /// denied can never be granted, whatever is chosen.
    pub async fn approve_request(
        &self,
        person: &PersonId,
        request_id: &str,
        chosen: Option<&[AttributeKey]>,
    ) -> Result<Grant, StoreError> {
        let (_turn, txn) = self.write_txn().await?;
        self.lock_person(&txn, person).await?;
        let request = self.pending_request(&txn, person, request_id).await?;
        let granted = Self::chosen_of(&request, chosen)?;
        let pseudonym = pseudonym(&txn, person).await?;
        let mut entries = settle_offer(&txn, self.backend(), request_id, true)
            .await?
            .into_iter()
            .collect::<Vec<_>>();
        let grant_row = self
            .grant_in(&txn, &request, &granted, &pseudonym, &mut entries)
            .await?;
        txn.commit().await?;
        Grant::try_from(grant_row)
    }

    /// Grants `granted` of `request` (locked, waiting) in `txn`: the
    /// decision and grant entries after `money` (the payment's), the
    /// request approved, the company's webhook and ping queued.
    async fn grant_in(
        &self,
        txn: &DatabaseTransaction,
        request: &StoredRequest,
        granted: &[AttributeKey],
        pseudonym: &str,
        money: &mut Vec<Entry>,
    ) -> Result<grant::Model, StoreError> {
        let request_id = request.id.as_str();
        let decided = decided_entry(
            request_id,
            &request.company_id,
            pseudonym,
            granted,
            &request.decision,
            true,
        )?;
        let created = self
            .insert_grant(
                txn,
                request_id,
                &request.person_id,
                &request.company_id,
                &request.request,
                granted,
                pseudonym,
            )
            .await?;
        data_request::Entity::update_many()
            .col_expr(data_request::Column::Status, Expr::value("approved"))
            .col_expr(data_request::Column::DecidedAt, Expr::value(Some(now())))
            .filter(data_request::Column::Id.eq(request_id))
            .exec(txn)
            .await?;
        let mut entries = vec![decided, created];
        entries.append(money);
        append_entries(txn, self.backend(), &entries).await?;
        let grant_row = grant::Entity::find()
            .filter(grant::Column::RequestId.eq(request_id))
            .one(txn)
            .await?
            .ok_or_else(|| StoreError::corrupt("grant vanished"))?;
        if request.channel == Channel::Async {
            let data = request_data(request_id, "approved", Some((&grant_row.id, granted)));
            enqueue(
                txn,
                request.company_id.as_str(),
                WebhookEvent::RequestApproved,
                data,
            )
            .await?;
        }
        crate::ciba::ping_in(txn, request_id).await?;
        Ok(grant_row)
    }

    /// The person names their price for a waiting request that came with
    /// an offer: `price` (more than the offer, in its currency) for all the
    /// attributes the policy left open or the subset `chosen`. The request
    /// waits for the company (`countered`) until it accepts or the request
    /// lapses; the company's webhook hears `request.countered`. Nothing is
    /// reserved for the counter until the company accepts.
    pub async fn counter_request(
        &self,
        person: &PersonId,
        request_id: &str,
        price: Money,
        chosen: Option<&[AttributeKey]>,
    ) -> Result<StoredRequest, StoreError> {
        let (_turn, txn) = self.write_txn().await?;
        self.lock_person(&txn, person).await?;
        let request = self.pending_request(&txn, person, request_id).await?;
        if request.channel != Channel::Async {
            return Err(StoreError::NotCounterable(
                "a request made on the consent screen is answered there".to_owned(),
            ));
        }
        let Some(offer) = request.request.offer() else {
            return Err(StoreError::NotCounterable(
                "only a request that came with an offer can be countered".to_owned(),
            ));
        };
        if price.currency() != offer.currency() {
            return Err(StoreError::CounterCurrency(offer.currency().code()));
        }
        if price.amount_micros() <= offer.amount_micros() {
            return Err(StoreError::CounterNotAbove(*offer));
        }
        let granted = Self::chosen_of(&request, chosen)?;
        let counter = Counter {
            price,
            attributes: granted,
        };
        data_request::Entity::update_many()
            .col_expr(
                data_request::Column::Counter,
                Expr::value(Some(
                    serde_json::to_string(&counter).map_err(StoreError::corrupt)?,
                )),
            )
            .filter(data_request::Column::Id.eq(request_id))
            .exec(&txn)
            .await?;
        let mut data = request_data(request_id, "countered", None);
        data["counter"] = serde_json::to_value(counter.price).map_err(StoreError::corrupt)?;
        data["attributes"] = counter.attributes.iter().map(|k| k.to_string()).collect();
        enqueue(
            &txn,
            request.company_id.as_str(),
            WebhookEvent::RequestCountered,
            data,
        )
        .await?;
        txn.commit().await?;
        self.request(request_id).await
    }

    /// The company accepts the person's counter-offer on its request: in
    /// one transaction the offer's reservation is voided, the counter
    /// reserved (or [`StoreError::InsufficientFunds`], changing nothing)
    /// and paid, and the countered attributes that are in `allowed` (what
    /// the person's policy allows now) granted; none left is
    /// [`StoreError::NothingToGrant`], changing nothing.
    pub async fn accept_counter(
        &self,
        company: &CompanyId,
        request_id: &str,
        allowed: &[AttributeKey],
    ) -> Result<Grant, StoreError> {
        let (_turn, txn) = self.write_txn().await?;
        let Some(row) = data_request::Entity::find_by_id(request_id.to_owned())
            .filter(data_request::Column::CompanyId.eq(company.as_str()))
            .one(&txn)
            .await?
        else {
            return Err(StoreError::RequestNotFound(request_id.to_owned()));
        };
        let person = PersonId::new(row.person_id.clone());
        self.lock_person(&txn, &person).await?;
        let mut query = data_request::Entity::find_by_id(request_id.to_owned());
        if self.backend() == Backend::Postgres {
            query = query.lock_exclusive();
        }
        let request = query
            .one(&txn)
            .await?
            .ok_or_else(|| StoreError::RequestNotFound(request_id.to_owned()))
            .and_then(StoredRequest::try_from)?;
        let counter = match (&request.status, &request.counter) {
            (RequestStatus::Countered, Some(counter)) if request.expires_at > now() => {
                counter.clone()
            }
            _ => return Err(StoreError::NotCountered(request_id.to_owned())),
        };
        let granted: Vec<AttributeKey> = counter
            .attributes
            .iter()
            .filter(|k| allowed.contains(k))
            .cloned()
            .collect();
        if granted.is_empty() {
            return Err(StoreError::NothingToGrant);
        }
        let pseudonym = pseudonym(&txn, &person).await?;
        let mut entries: Vec<Entry> = settle_offer(&txn, self.backend(), request_id, false)
            .await?
            .into_iter()
            .collect();
        let paid = counter_transfer_id(request_id);
        entries.push(
            reserve(
                &txn,
                self.backend(),
                company,
                &person,
                &pseudonym,
                request_id,
                &paid,
                &counter.price,
            )
            .await?,
        );
        entries.extend(settle(&txn, self.backend(), &paid, true).await?);
        // The grant (and its receipt) holds the price paid, not the offer
        // the person countered.
        let request = StoredRequest {
            request: request.request.at_price(counter.price),
            ..request
        };
        let grant_row = self
            .grant_in(
                &txn,
                &request,
                &counter.attributes,
                &pseudonym,
                &mut entries,
            )
            .await?;
        txn.commit().await?;
        Grant::try_from(grant_row)
    }

    /// The person declines a pending request.
    pub async fn decline_request(
        &self,
        person: &PersonId,
        request_id: &str,
    ) -> Result<StoredRequest, StoreError> {
        let (_turn, txn) = self.write_txn().await?;
        self.lock_person(&txn, person).await?;
        let request = self.pending_request(&txn, person, request_id).await?;
        let pseudonym = pseudonym(&txn, person).await?;
        let entry = decided_entry(
            request_id,
            &request.company_id,
            &pseudonym,
            &[],
            &request.decision,
            true,
        )?;
        data_request::Entity::update_many()
            .col_expr(data_request::Column::Status, Expr::value("denied"))
            .col_expr(data_request::Column::DecidedAt, Expr::value(Some(now())))
            .filter(data_request::Column::Id.eq(request_id))
            .exec(&txn)
            .await?;
        let mut entries = vec![entry];
        entries.extend(settle_offer(&txn, self.backend(), request_id, false).await?);
        append_entries(&txn, self.backend(), &entries).await?;
        if request.channel == Channel::Async {
            let data = request_data(request_id, "denied", None);
            enqueue(
                &txn,
                request.company_id.as_str(),
                WebhookEvent::RequestDeclined,
                data,
            )
            .await?;
        }
        crate::ciba::ping_in(&txn, request_id).await?;
        txn.commit().await?;
        self.request(request_id).await
    }

    /// A request by id.
    pub async fn request(&self, request_id: &str) -> Result<StoredRequest, StoreError> {
        data_request::Entity::find_by_id(request_id.to_owned())
            .one(&self.db)
            .await?
            .ok_or_else(|| StoreError::RequestNotFound(request_id.to_owned()))
            .and_then(StoredRequest::try_from)
    }

    /// The person's requests, newest first; only pending ones when asked.
    pub async fn requests_for_person(
        &self,
        person: &PersonId,
        pending_only: bool,
    ) -> Result<Vec<StoredRequest>, StoreError> {
        let mut query =
            data_request::Entity::find().filter(data_request::Column::PersonId.eq(person.as_str()));
        if pending_only {
            query = query
                .filter(data_request::Column::Status.eq("pending"))
                .filter(data_request::Column::ExpiresAt.gt(now()));
        }
        query
            .order_by_desc(data_request::Column::CreatedAt)
            .limit(MAX_LISTED)
            .all(&self.db)
            .await?
            .into_iter()
            .map(StoredRequest::try_from)
            .collect()
    }

    /// Grants neither revoked nor expired, over everyone (for `/metrics`).
    pub async fn live_grant_count(&self) -> Result<u64, StoreError> {
        Ok(grant::Entity::find()
            .filter(grant::Column::RevokedAt.is_null())
            .filter(grant::Column::ExpiresAt.gt(now()))
            .count(&self.db)
            .await?)
    }

    /// The company's grants neither revoked nor expired (what deleting it
    /// would end).
    pub async fn live_grant_count_for_company(
        &self,
        company: &CompanyId,
    ) -> Result<u64, StoreError> {
        Ok(grant::Entity::find()
            .filter(grant::Column::CompanyId.eq(company.as_str()))
            .filter(grant::Column::RevokedAt.is_null())
            .filter(grant::Column::ExpiresAt.gt(now()))
            .count(&self.db)
            .await?)
    }

    /// The person's grants neither revoked nor expired.
    pub async fn live_grant_count_for_person(&self, person: &PersonId) -> Result<u64, StoreError> {
        Ok(grant::Entity::find()
            .filter(grant::Column::PersonId.eq(person.as_str()))
            .filter(grant::Column::RevokedAt.is_null())
            .filter(grant::Column::ExpiresAt.gt(now()))
            .count(&self.db)
            .await?)
    }

    /// How many requests wait for the person's answer (for the inbox link).
    pub async fn pending_request_count(&self, person: &PersonId) -> Result<u64, StoreError> {
        Ok(data_request::Entity::find()
            .filter(data_request::Column::PersonId.eq(person.as_str()))
            .filter(data_request::Column::Status.eq(RequestStatus::Pending.as_str()))
            .filter(data_request::Column::ExpiresAt.gt(now()))
            .count(&self.db)
            .await?)
    }

    /// A grant by id.
    pub async fn grant(&self, grant_id: &str) -> Result<Grant, StoreError> {
        let row = match &self.sqlite_reader {
            Some(reader) => reader.grant(grant_id)?,
            None => {
                grant::Entity::find_by_id(grant_id.to_owned())
                    .one(&self.db)
                    .await?
            }
        };
        row.ok_or_else(|| StoreError::GrantNotFound(grant_id.to_owned()))
            .and_then(Grant::try_from)
    }

    /// The person's grants, newest first.
    pub async fn grants_for_person(&self, person: &PersonId) -> Result<Vec<Grant>, StoreError> {
        grant::Entity::find()
            .filter(grant::Column::PersonId.eq(person.as_str()))
            .order_by_desc(grant::Column::CreatedAt)
            .limit(MAX_LISTED)
            .all(&self.db)
            .await?
            .into_iter()
            .map(Grant::try_from)
            .collect()
    }

    /// One page of the person's requests, any state, newest first: at most
    /// `limit`, all older than `after` (the `created_at` and id of the last
    /// one seen). Unlike [`Store::requests_for_person`], nothing is left
    /// out past [`MAX_LISTED`]: the caller pages on.
    pub async fn requests_of_person_page(
        &self,
        person: &PersonId,
        after: Option<(OffsetDateTime, &str)>,
        limit: u64,
    ) -> Result<Vec<StoredRequest>, StoreError> {
        let mut query =
            data_request::Entity::find().filter(data_request::Column::PersonId.eq(person.as_str()));
        if let Some((at, id)) = after {
            query = query.filter(
                Condition::any()
                    .add(data_request::Column::CreatedAt.lt(at))
                    .add(
                        Condition::all()
                            .add(data_request::Column::CreatedAt.eq(at))
                            .add(data_request::Column::Id.lt(id)),
                    ),
            );
        }
        query
            .order_by_desc(data_request::Column::CreatedAt)
            .order_by_desc(data_request::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(StoredRequest::try_from)
            .collect()
    }

    /// One page of the person's grants, live or not, newest first: at most
    /// `limit`, all older than `after` (the `created_at` and id of the last
    /// one seen).
    pub async fn grants_of_person_page(
        &self,
        person: &PersonId,
        after: Option<(OffsetDateTime, &str)>,
        limit: u64,
    ) -> Result<Vec<Grant>, StoreError> {
        let mut query = grant::Entity::find().filter(grant::Column::PersonId.eq(person.as_str()));
        if let Some((at, id)) = after {
            query = query.filter(
                Condition::any().add(grant::Column::CreatedAt.lt(at)).add(
                    Condition::all()
                        .add(grant::Column::CreatedAt.eq(at))
                        .add(grant::Column::Id.lt(id)),
                ),
            );
        }
        query
            .order_by_desc(grant::Column::CreatedAt)
            .order_by_desc(grant::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(Grant::try_from)
            .collect()
    }

    /// Revokes one of the person's grants: the next read under it fails,
    /// and so does the next refresh. Revoking twice is refused (it is
    /// already over).
    pub async fn revoke_grant(
        &self,
        person: &PersonId,
        grant_id: &str,
    ) -> Result<Grant, StoreError> {
        let tx = self.begin().await?;
        self.lock_person(tx.txn(), person).await?;
        let grant = grant::Entity::find_by_id(grant_id.to_owned())
            .filter(grant::Column::PersonId.eq(person.as_str()))
            .one(tx.txn())
            .await?
            .ok_or_else(|| StoreError::GrantNotFound(grant_id.to_owned()))
            .and_then(Grant::try_from)?;
        if !grant.is_live(now()) {
            return Err(StoreError::GrantNotLive(grant_id.to_owned()));
        }
        let pseudonym = pseudonym(tx.txn(), person).await?;
        tx.revoke_grant(&grant, &pseudonym).await?;
        tx.commit().await?;
        self.grant(grant_id).await
    }

    /// Records what time has ended: undecided requests past their expiry
    /// become `expired` and their offers go back to the wallet; grants past
    /// their end get their `grant_expired` entry. At most [`SWEEP_BATCH`]
    /// of each per call; several servers may sweep at once (PostgreSQL
    /// skips rows another sweeper holds). Reads never wait for a sweep:
    /// a grant past its end is refused whether or not it was swept.
    pub async fn sweep_expired(&self) -> Result<Swept, StoreError> {
        let at = now();
        let due_requests = data_request::Entity::find()
            // (countered requests are stored `pending` too)
            .filter(data_request::Column::Status.eq(RequestStatus::Pending.as_str()))
            .filter(data_request::Column::ExpiresAt.lte(at));
        let due_grants = grant::Entity::find()
            .filter(grant::Column::ExpiresAt.lte(at))
            .filter(grant::Column::RevokedAt.is_null())
            .filter(grant::Column::ExpiryRecordedAt.is_null());
        // Nothing due is the common case: find out without the write lock.
        if due_requests.clone().one(&self.db).await?.is_none()
            && due_grants.clone().one(&self.db).await?.is_none()
        {
            return Ok(Swept::default());
        }
        let lock = |backend| match backend {
            Backend::Postgres => Some((LockType::Update, LockBehavior::SkipLocked)),
            Backend::Sqlite => None,
        };
        let (_turn, txn) = self.write_txn().await?;
        let mut requests = due_requests
            .order_by_asc(data_request::Column::ExpiresAt)
            .limit(SWEEP_BATCH);
        let mut grants = due_grants
            .order_by_asc(grant::Column::ExpiresAt)
            .limit(SWEEP_BATCH);
        if let Some((kind, behavior)) = lock(self.backend()) {
            requests = requests.lock_with_behavior(kind, behavior);
            grants = grants.lock_with_behavior(kind, behavior);
        }
        let requests = requests.all(&txn).await?;
        let grants = grants.all(&txn).await?;
        let mut entries = Vec::new();
        for request in &requests {
            data_request::Entity::update_many()
                .col_expr(data_request::Column::Status, Expr::value("expired"))
                .col_expr(data_request::Column::DecidedAt, Expr::value(Some(at)))
                .filter(data_request::Column::Id.eq(&request.id))
                .exec(&txn)
                .await?;
            entries.extend(settle_offer(&txn, self.backend(), &request.id, false).await?);
            if request.channel == Channel::Async.as_str() {
                let data = request_data(&request.id, "expired", None);
                enqueue(
                    &txn,
                    &request.company_id,
                    WebhookEvent::RequestExpired,
                    data,
                )
                .await?;
            }
            crate::ciba::ping_in(&txn, &request.id).await?;
        }
        let people: Vec<&str> = grants.iter().map(|g| g.person_id.as_str()).collect();
        let pseudonyms: std::collections::HashMap<String, String> = person::Entity::find()
            .filter(person::Column::Id.is_in(people))
            .all(&txn)
            .await?
            .into_iter()
            .map(|p| (p.id, p.pseudonym))
            .collect();
        for row in &grants {
            grant::Entity::update_many()
                .col_expr(grant::Column::ExpiryRecordedAt, Expr::value(Some(at)))
                .filter(grant::Column::Id.eq(&row.id))
                .exec(&txn)
                .await?;
            let pseudonym = pseudonyms
                .get(&row.person_id)
                .ok_or_else(|| StoreError::corrupt("a grant of nobody"))?;
            entries.push(Entry::new(
                now_unix_ms(),
                EntryKind::GrantExpired {
                    grant_id: text(&row.id)?,
                    company_id: text(&row.company_id)?,
                    person: text(pseudonym)?,
                },
            ));
            let data = serde_json::json!({"grant_id": row.id, "request_id": row.request_id});
            enqueue(&txn, &row.company_id, WebhookEvent::GrantExpired, data).await?;
        }
        append_entries(&txn, self.backend(), &entries).await?;
        txn.commit().await?;
        Ok(Swept {
            requests: requests.len() as u64,
            grants: grants.len() as u64,
        })
    }
}

impl crate::WriteTx<'_> {
    /// Declines every pending request of the person (countered ones too),
    /// as [`Store::decline_request`] declines one: its `request_decided`
    /// entry, its offer voided back to the wallet, `request.declined` to the
    /// company for an asynchronous request, a waiting CIBA poll woken.
    /// Returns how many.
    pub async fn decline_pending_requests(
        &self,
        person: &PersonId,
        pseudonym: &str,
    ) -> Result<u64, StoreError> {
        let txn = self.txn();
        let pending = data_request::Entity::find()
            .filter(data_request::Column::PersonId.eq(person.as_str()))
            .filter(data_request::Column::Status.eq(RequestStatus::Pending.as_str()))
            .order_by_asc(data_request::Column::CreatedAt)
            .all(txn)
            .await?;
        let mut entries = Vec::new();
        for row in &pending {
            let request = StoredRequest::try_from(row.clone())?;
            entries.push(decided_entry(
                &request.id,
                &request.company_id,
                pseudonym,
                &[],
                &request.decision,
                true,
            )?);
            data_request::Entity::update_many()
                .col_expr(data_request::Column::Status, Expr::value("denied"))
                .col_expr(data_request::Column::DecidedAt, Expr::value(Some(now())))
                .filter(data_request::Column::Id.eq(&request.id))
                .exec(txn)
                .await?;
            entries.extend(settle_offer(txn, self.backend(), &request.id, false).await?);
            if request.channel == Channel::Async {
                enqueue(
                    txn,
                    request.company_id.as_str(),
                    WebhookEvent::RequestDeclined,
                    request_data(&request.id, "denied", None),
                )
                .await?;
            }
            crate::ciba::ping_in(txn, &request.id).await?;
        }
        append_entries(txn, self.backend(), &entries).await?;
        Ok(pending.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Handle, store_test};
    use consent_policy::{Bucket, Profile, SharingDefault, decide};
    use serde_json::json;

    struct World {
        person: PersonId,
        company: CompanyId,
    }

    /// A person with one attribute in each bucket, under "ask me", and a company.
    async fn world(store: &Store) -> World {
        let person = store
            .create_person(&Handle::parse("countess_lovelace").unwrap())
            .await
            .unwrap();
        for (key, value, bucket) in [
            ("display_name", json!("Ada Lovelace"), Bucket::Public),
            ("email", json!("ada@example.org"), Bucket::SemiPrivate),
            ("birth_date", json!("1815-12-10"), Bucket::Private),
        ] {
            store
                .put_attribute(
                    &person.id,
                    &AttributeKey::parse(key).unwrap(),
                    &value,
                    bucket,
                )
                .await
                .unwrap();
        }
        let company = CompanyId::parse("acme").unwrap();
        store.create_company(&company, "Acme").await.unwrap();
        World {
            person: person.id,
            company,
        }
    }

    fn request(keys: &[&str]) -> DataRequest {
        let attributes: Vec<_> = keys.iter().map(|k| json!(k)).collect();
        DataRequest::from_json_value(
            json!({"type": "apiome_data", "attributes": attributes, "purpose": "marketing", "duration": "P30D"}),
            &GrantDuration::parse("P1Y").unwrap(),
        )
        .unwrap()
    }

    async fn ask(store: &Store, w: &World, keys: &[&str], channel: Channel) -> StoredRequest {
        let profile: Profile = store.profile(&w.person).await.unwrap();
        let req = request(keys);
        let decision = decide(&profile, &w.company, &req);
        store
            .record_request(&w.person, &w.company, &req, &decision, channel)
            .await
            .unwrap()
    }

    /// A read of every granted attribute under the person's current policy.
    async fn read_all(store: &Store, grant: &Grant) -> crate::DisclosureRead {
        crate::DisclosureRead {
            attributes: grant.attributes.clone(),
            withheld: Vec::new(),
            policy_version: store
                .policy_snapshot(&grant.person_id)
                .await
                .unwrap()
                .policy_version,
        }
    }

    store_test!(
        a_read_is_recorded_only_under_a_live_grant_and_the_policy_it_decided_under,
        |store| {
            let w = world(store).await;
            let r = ask(store, &w, &["display_name"], Channel::Async).await;
            let grant = store.grant(&r.grant_id.unwrap()).await.unwrap();
            let stale = read_all(store, &grant).await;
            // Any change to what the person shares moves the version on.
            store
                .put_attribute(
                    &w.person,
                    &AttributeKey::parse("email").unwrap(),
                    &json!("ada@example.org"),
                    Bucket::Private,
                )
                .await
                .unwrap();
            let fresh = read_all(store, &grant).await;
            assert!(fresh.policy_version > stale.policy_version);
            let before = store.ledger_size().await.unwrap();
            assert_eq!(
                store.record_disclosure(&grant, stale).await.unwrap(),
                crate::Recorded::PolicyChanged
            );
            assert_eq!(
                store.ledger_size().await.unwrap(),
                before,
                "nothing recorded"
            );
            assert_eq!(
                store
                    .record_disclosure(&grant, fresh.clone())
                    .await
                    .unwrap(),
                crate::Recorded::Disclosed
            );
            assert_eq!(store.ledger_size().await.unwrap(), before + 1);
            store.revoke_grant(&w.person, &grant.id).await.unwrap();
            let revoked_at = store.ledger_size().await.unwrap();
            assert_eq!(
                store.record_disclosure(&grant, fresh).await.unwrap(),
                crate::Recorded::GrantNotLive
            );
            assert_eq!(
                store.ledger_size().await.unwrap(),
                revoked_at,
                "nothing after the revocation"
            );
            for change in 0..3 {
                let version = store
                    .policy_snapshot(&w.person)
                    .await
                    .unwrap()
                    .policy_version;
                match change {
                    0 => store
                        .add_rule(
                            &w.person,
                            &consent_policy::Rule::new(
                                consent_policy::CompanyMatch::Any,
                                consent_policy::PurposeMatch::Any,
                                consent_policy::AttributeMatch::Any,
                                consent_policy::Effect::Deny,
                            ),
                        )
                        .await
                        .map(|_| ())
                        .unwrap(),
                    1 => store
                        .delete_attribute(&w.person, &AttributeKey::parse("email").unwrap())
                        .await
                        .unwrap(),
                    _ => store
                        .set_preferences(
                            &w.person,
                            SharingDefault::ShareNothing,
                            &GrantDuration::parse("P1Y").unwrap(),
                            &json!({}),
                        )
                        .await
                        .map(|_| ())
                        .unwrap(),
                }
                let after = store
                    .policy_snapshot(&w.person)
                    .await
                    .unwrap()
                    .policy_version;
                assert_eq!(after, version + 1, "change {change} moved the version once");
            }
        }
    );

    store_test!(
        a_backchannel_request_pings_when_it_expires_and_only_then,
        |store| {
            let w = world(store).await;
            let req = request(&["email"]);
            let (company, asked) = (w.company.clone(), req.clone());
            let ping = crate::Backchannel {
                expires_in: Duration::seconds(60),
                binding_message: Some("Order 4711".to_owned()),
                ping: Some(crate::Ping {
                    endpoint: "https://acme.example/ciba".to_owned(),
                    token: "tok-1".to_owned(),
                }),
                openid: false,
            };
            let recorded = store
                .record_request_deciding(
                    &w.person,
                    &w.company,
                    &req,
                    Channel::Async,
                    Box::new(move |profile| decide(profile, &company, &asked)),
                    Some(ping),
                )
                .await
                .unwrap();
            assert_eq!(recorded.status, RequestStatus::Pending);
            assert_eq!(recorded.binding_message.as_deref(), Some("Order 4711"));
            let ttl = recorded.expires_at - recorded.created_at;
            assert!(
                ttl <= Duration::seconds(61) && ttl >= Duration::seconds(59),
                "{ttl}"
            );
            let pings = |claimed: Vec<crate::WebhookDelivery>| -> Vec<crate::WebhookDelivery> {
                claimed.into_iter().filter(|d| d.bearer.is_some()).collect()
            };
            assert!(
                pings(store.claim_webhooks(50).await.unwrap()).is_empty(),
                "pending: no ping"
            );

            data_request::Entity::update_many()
                .col_expr(
                    data_request::Column::ExpiresAt,
                    Expr::value(now() - Duration::seconds(1)),
                )
                .filter(data_request::Column::Id.eq(&recorded.id))
                .exec(&store.db)
                .await
                .unwrap();
            assert_eq!(store.sweep_expired().await.unwrap().requests, 1);
            let sent = pings(store.claim_webhooks(50).await.unwrap());
            assert_eq!(sent.len(), 1, "{sent:?}");
            assert_eq!(sent[0].bearer.as_deref(), Some("tok-1"));
            assert_eq!(sent[0].url, "https://acme.example/ciba");
            assert_eq!(
                sent[0].payload,
                json!({"auth_req_id": recorded.id}).to_string()
            );
        }
    );

    store_test!(
        a_request_is_decided_inside_its_recording_transaction,
        |store| {
            let w = world(store).await;
            let req = request(&["display_name"]);
            // Decided from the policy read under the person's lock: the
            // profile handed to the decider is the one in force now.
            store
                .put_attribute(
                    &w.person,
                    &AttributeKey::parse("display_name").unwrap(),
                    &json!("Ada"),
                    Bucket::Private,
                )
                .await
                .unwrap();
            let company = w.company.clone();
            let asked = req.clone();
            let recorded = store
                .record_request_deciding(
                    &w.person,
                    &w.company,
                    &req,
                    Channel::Async,
                    Box::new(move |profile| {
                        assert_eq!(
                            profile.bucket_of(&AttributeKey::parse("display_name").unwrap()),
                            Bucket::Private
                        );
                        decide(profile, &company, &asked)
                    }),
                    None,
                )
                .await
                .unwrap();
            assert_eq!(recorded.status, RequestStatus::Denied, "private now");
        }
    );

    fn keys(list: &[&str]) -> Vec<AttributeKey> {
        list.iter()
            .map(|k| AttributeKey::parse(k).unwrap())
            .collect()
    }

    /// The hot-path reads on SQLite's synchronous connections return what
    /// the pool returns, before and after every change they must see.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_sqlite_fast_reads_return_what_the_pool_returns() {
        let db = crate::testing::sqlite().await;
        let fast = &db.store;
        assert!(fast.sqlite_reader.is_some());
        let pool = fast.without_sqlite_reader();
        let w = world(fast).await;
        let metadata = authz::ClientMetadata::parse(&json!({"client_name": "Acme",
            "redirect_uris": ["https://acme.example/cb"]}))
        .unwrap();
        let key = authz::ServerKey::from_bytes([7; 32]);
        let mut rng = authz::PredictableRandom::new(1);
        let (client, _) =
            authz::ClientRecord::register(metadata, &key, &mut rng, authz::UnixTime::from_secs(1))
                .unwrap();
        let unknown = authz::ClientId::parse("c_AAAAAAAAAAAAAAAAAAAAAA").unwrap();
        assert_eq!(fast.client(&client.client_id).await.unwrap(), None);
        fast.create_client(&client, crate::ClientKind::Company)
            .await
            .unwrap();
        for id in [&client.client_id, &unknown] {
            assert_eq!(
                fast.client(id).await.unwrap(),
                pool.client(id).await.unwrap()
            );
        }
        assert!(fast.client(&client.client_id).await.unwrap().is_some());

        let r = ask(fast, &w, &["display_name"], Channel::Async).await;
        let grant_id = r.grant_id.unwrap();
        let live = fast.grant(&grant_id).await.unwrap();
        assert_eq!(live, pool.grant(&grant_id).await.unwrap());
        assert!(live.is_live(now()));
        fast.revoke_grant(&w.person, &grant_id).await.unwrap();
        let revoked = fast.grant(&grant_id).await.unwrap();
        assert!(!revoked.is_live(now()), "the next read sees the revocation");
        assert_eq!(revoked, pool.grant(&grant_id).await.unwrap());
        assert!(matches!(
            fast.grant("g_missing").await,
            Err(StoreError::GrantNotFound(_))
        ));

        let attributes = fast.attributes(&w.person).await.unwrap();
        assert_eq!(attributes.len(), 3);
        assert_eq!(attributes, pool.attributes(&w.person).await.unwrap());
        let nobody = PersonId::new("p_nobody");
        assert!(fast.attributes(&nobody).await.unwrap().is_empty());

        assert!(!fast.access_token_revoked("jti-1").await.unwrap());
        fast.revoke_access_token("jti-1", authz::UnixTime::from_secs(u32::MAX.into()))
            .await
            .unwrap();
        assert!(fast.access_token_revoked("jti-1").await.unwrap());
        assert!(pool.access_token_revoked("jti-1").await.unwrap());
        db.cleanup().await;
    }

    store_test!(
        an_async_request_the_policy_allows_becomes_a_grant_at_once,
        |store| {
            let w = world(store).await;
            let before = store.ledger_size().await.unwrap();
            let r = ask(store, &w, &["display_name"], Channel::Async).await;
            assert_eq!(r.status, RequestStatus::Approved);
            let grant = store.grant(r.grant_id.as_deref().unwrap()).await.unwrap();
            assert_eq!(grant.attributes, keys(&["display_name"]));
            assert!(grant.is_live(now()));
            // made, decided, granted
            assert_eq!(store.ledger_size().await.unwrap(), before + 3);
        }
    );

    store_test!(
        a_mixed_request_waits_and_approval_never_grants_what_the_policy_denied,
        |store| {
            let w = world(store).await;
            let r = ask(
                store,
                &w,
                &["display_name", "email", "birth_date"],
                Channel::Async,
            )
            .await;
            assert_eq!(r.status, RequestStatus::Pending);
            assert_eq!(
                store
                    .requests_for_person(&w.person, true)
                    .await
                    .unwrap()
                    .len(),
                1
            );
            let err = store
                .approve_request(&w.person, &r.id, Some(&keys(&["birth_date"])))
                .await
                .unwrap_err();
            assert!(matches!(err, StoreError::NotGrantable(k) if k == "birth_date"));
            let grant = store.approve_request(&w.person, &r.id, None).await.unwrap();
            assert_eq!(grant.attributes, keys(&["display_name", "email"]));
            assert!(
                store
                    .requests_for_person(&w.person, true)
                    .await
                    .unwrap()
                    .is_empty()
            );
            assert!(matches!(
                store.approve_request(&w.person, &r.id, None).await,
                Err(StoreError::RequestNotPending(_))
            ));
        }
    );

    store_test!(a_subset_can_be_approved_and_a_request_declined, |store| {
        let w = world(store).await;
        let r = ask(store, &w, &["display_name", "email"], Channel::Interactive).await;
        assert_eq!(
            r.status,
            RequestStatus::Pending,
            "interactive requests wait for the screen"
        );
        let grant = store
            .approve_request(&w.person, &r.id, Some(&keys(&["email"])))
            .await
            .unwrap();
        assert_eq!(grant.attributes, keys(&["email"]));
        let r2 = ask(store, &w, &["email"], Channel::Async).await;
        let declined = store.decline_request(&w.person, &r2.id).await.unwrap();
        assert_eq!(declined.status, RequestStatus::Denied);
        assert!(declined.grant_id.is_none());
    });

    store_test!(a_fully_denied_request_is_denied_at_once, |store| {
        let w = world(store).await;
        let max = GrantDuration::parse("P1Y").unwrap();
        store
            .set_preferences(&w.person, SharingDefault::ShareNothing, &max, &json!({}))
            .await
            .unwrap();
        let r = ask(store, &w, &["display_name", "birth_date"], Channel::Async).await;
        assert_eq!(r.status, RequestStatus::Denied);
    });

    store_test!(another_person_cannot_decide_or_revoke, |store| {
        let w = world(store).await;
        let bob = store
            .create_person(&Handle::parse("bob").unwrap())
            .await
            .unwrap();
        let r = ask(store, &w, &["email"], Channel::Async).await;
        assert!(matches!(
            store.approve_request(&bob.id, &r.id, None).await,
            Err(StoreError::RequestNotFound(_))
        ));
        assert!(matches!(
            store.decline_request(&bob.id, &r.id).await,
            Err(StoreError::RequestNotFound(_))
        ));
        let grant = store.approve_request(&w.person, &r.id, None).await.unwrap();
        assert!(matches!(
            store.revoke_grant(&bob.id, &grant.id).await,
            Err(StoreError::GrantNotFound(_))
        ));
        assert!(store.grant(&grant.id).await.unwrap().is_live(now()));
    });

    store_test!(live_grants_are_counted_per_company_and_person, |store| {
        let w = world(store).await;
        let other = CompanyId::parse("globex").unwrap();
        store.create_company(&other, "Globex").await.unwrap();
        let r = ask(store, &w, &["display_name"], Channel::Async).await;
        let grant_id = r.grant_id.unwrap();
        assert_eq!(
            store
                .live_grant_count_for_company(&w.company)
                .await
                .unwrap(),
            1
        );
        assert_eq!(store.live_grant_count_for_company(&other).await.unwrap(), 0);
        assert_eq!(
            store.live_grant_count_for_person(&w.person).await.unwrap(),
            1
        );
        store.revoke_grant(&w.person, &grant_id).await.unwrap();
        assert_eq!(
            store
                .live_grant_count_for_company(&w.company)
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            store.live_grant_count_for_person(&w.person).await.unwrap(),
            0
        );
    });

    store_test!(a_revoked_grant_is_over_and_recorded_once, |store| {
        let w = world(store).await;
        let r = ask(store, &w, &["display_name"], Channel::Async).await;
        let grant_id = r.grant_id.unwrap();
        let before = store.ledger_size().await.unwrap();
        let revoked = store.revoke_grant(&w.person, &grant_id).await.unwrap();
        assert!(!revoked.is_live(now()));
        assert_eq!(store.ledger_size().await.unwrap(), before + 1);
        assert!(matches!(
            store.revoke_grant(&w.person, &grant_id).await,
            Err(StoreError::GrantNotLive(_))
        ));
        assert_eq!(store.ledger_size().await.unwrap(), before + 1);
    });

    store_test!(no_attribute_value_reaches_the_ledger, |store| {
        let w = world(store).await;
        let r = ask(
            store,
            &w,
            &["display_name", "email", "birth_date"],
            Channel::Async,
        )
        .await;
        let grant = store.approve_request(&w.person, &r.id, None).await.unwrap();
        let read = read_all(store, &grant).await;
        assert_eq!(
            store.record_disclosure(&grant, read).await.unwrap(),
            crate::Recorded::Disclosed
        );
        store.revoke_grant(&w.person, &grant.id).await.unwrap();
        let size = store.ledger_size().await.unwrap();
        let entries = store.ledger_entries(0, size).await.unwrap();
        assert_eq!(
            entries.len(),
            5,
            "made, decided, granted, disclosed, revoked"
        );
        // Every needle holds a letter outside hex (ids and pseudonyms are
        // random hex), so a match can only be a leak, never chance.
        for entry in entries {
            let bytes = String::from_utf8_lossy(&entry.leaf).to_string();
            for value in [
                "Ada Lovelace",
                "ada@example.org",
                "1815-12-10",
                "countess_lovelace",
            ] {
                assert!(!bytes.contains(value), "{value:?} in entry {}", entry.index);
            }
        }
    });

    store_test!(
        concurrent_reads_each_get_their_own_committed_entry,
        |store| {
            let w = world(store).await;
            let r = ask(store, &w, &["display_name"], Channel::Async).await;
            let grant = store.grant(&r.grant_id.unwrap()).await.unwrap();
            let before = store.ledger_size().await.unwrap();
            let read = read_all(store, &grant).await;
            // Many reads at once share transactions; each still returns only
            // after its own entry is in the log.
            let reads: Vec<_> = (0..300)
                .map(|_| {
                    let (store, grant, read) = (store.clone(), grant.clone(), read.clone());
                    tokio::spawn(async move {
                        let recorded = store.record_disclosure(&grant, read).await.unwrap();
                        assert_eq!(recorded, crate::Recorded::Disclosed);
                        store.ledger_size().await.unwrap()
                    })
                })
                .collect();
            for read in reads {
                assert!(read.await.unwrap() > before, "returned before its entry");
            }
            let size = store.ledger_size().await.unwrap();
            assert_eq!(size, before + 300);
            let entries = store.ledger_entries(before, size).await.unwrap();
            assert!(
                entries
                    .iter()
                    .all(|e| matches!(e.entry.kind, ledger::EntryKind::Disclosure { .. }))
            );
            // The tree over them is whole: every new leaf proves against the root.
            let root = store.ledger_root(size).await.unwrap();
            for index in [before, before + 150, size - 1] {
                let proof = store.inclusion_proof(index, size).await.unwrap();
                ledger::verify_inclusion(&proof.leaf_hash, index, size, &proof.proof, &root)
                    .unwrap();
            }
        }
    );

    fn request_for(keys: &[&str], purpose: &str, duration: &str) -> DataRequest {
        DataRequest::from_json_value(
            json!({"type": "apiome_data", "attributes": keys, "purpose": purpose, "duration": duration}),
            &GrantDuration::parse("P1Y").unwrap(),
        )
        .unwrap()
    }

    async fn remember(store: &Store, w: &World, req: &DataRequest) -> Option<Grant> {
        let profile: Profile = store.profile(&w.person).await.unwrap();
        let decision = decide(&profile, &w.company, req);
        store
            .record_remembered_request(&w.person, &w.company, req, &decision)
            .await
            .unwrap()
    }

    store_test!(
        a_request_a_live_grant_covers_is_remembered_as_a_grant_of_exactly_what_was_asked,
        |store| {
            let w = world(store).await;
            let first = ask(store, &w, &["display_name", "email"], Channel::Interactive).await;
            let covering = store
                .approve_request(&w.person, &first.id, None)
                .await
                .unwrap();
            let before = store.ledger_size().await.unwrap();
            let again = request_for(&["email"], "marketing", "P7D");
            let grant = remember(store, &w, &again).await.expect("remembered");
            assert_ne!(grant.id, covering.id);
            assert_eq!(grant.attributes, keys(&["email"]), "only what was asked");
            assert!(grant.is_live(now()));
            assert!(grant.expires_at <= covering.expires_at);
            let recorded = store.request(&grant.request_id).await.unwrap();
            assert_eq!(recorded.status, RequestStatus::Approved);
            assert_eq!(recorded.channel, Channel::Interactive);
            assert_eq!(recorded.grant_id.as_deref(), Some(grant.id.as_str()));
            // made, decided, granted: in the ledger like any approval
            assert_eq!(store.ledger_size().await.unwrap(), before + 3);
            let entries = store.ledger_entries(before, before + 3).await.unwrap();
            assert!(
                matches!(&entries[0].entry.kind, EntryKind::RequestMade { request_id, .. } if request_id.as_str() == grant.request_id)
            );
            assert!(
                matches!(&entries[1].entry.kind, EntryKind::RequestDecided { allowed, .. } if allowed.names().len() == 1 && allowed.names()[0].as_str() == "email")
            );
            assert!(
                matches!(&entries[2].entry.kind, EntryKind::GrantCreated { grant_id, .. } if grant_id.as_str() == grant.id)
            );
        }
    );

    store_test!(
        remembering_needs_a_live_covering_grant_and_a_policy_that_still_allows,
        |store| {
            let w = world(store).await;
            let first = ask(store, &w, &["display_name", "email"], Channel::Interactive).await;
            let covering = store
                .approve_request(&w.person, &first.id, None)
                .await
                .unwrap();
            let before = store.ledger_size().await.unwrap();
            for (what, req) in [
                (
                    "another purpose",
                    request_for(&["email"], "analytics", "P7D"),
                ),
                (
                    "an attribute not granted",
                    request_for(&["email", "phone"], "marketing", "P7D"),
                ),
                (
                    "longer than the grant",
                    request_for(&["email"], "marketing", "P60D"),
                ),
                (
                    "a private attribute",
                    request_for(&["birth_date"], "marketing", "P7D"),
                ),
            ] {
                assert!(remember(store, &w, &req).await.is_none(), "{what}");
            }
            // the person moves email to private: the policy denies it now
            let email = AttributeKey::parse("email").unwrap();
            store
                .put_attribute(
                    &w.person,
                    &email,
                    &json!("ada@example.org"),
                    Bucket::Private,
                )
                .await
                .unwrap();
            let req = request_for(&["email"], "marketing", "P7D");
            assert!(remember(store, &w, &req).await.is_none(), "now private");
            // a revoked grant covers nothing
            let name = request_for(&["display_name"], "marketing", "P7D");
            store.revoke_grant(&w.person, &covering.id).await.unwrap();
            assert!(remember(store, &w, &name).await.is_none(), "revoked");
            assert_eq!(
                store.ledger_size().await.unwrap(),
                before + 1,
                "nothing recorded but the revocation"
            );
        }
    );

    store_test!(the_inbox_counts_only_pending_requests, |store| {
        let w = world(store).await;
        assert_eq!(store.pending_request_count(&w.person).await.unwrap(), 0);
        let a = ask(store, &w, &["email"], Channel::Async).await;
        ask(store, &w, &["email"], Channel::Async).await;
        ask(store, &w, &["display_name"], Channel::Async).await; // granted at once
        assert_eq!(store.pending_request_count(&w.person).await.unwrap(), 2);
        store.decline_request(&w.person, &a.id).await.unwrap();
        assert_eq!(store.pending_request_count(&w.person).await.unwrap(), 1);
    });

    store_test!(a_grant_past_its_end_is_recorded_as_expired_once, |store| {
        let w = world(store).await;
        let ending = ask(store, &w, &["display_name"], Channel::Async).await;
        let revoked = ask(store, &w, &["display_name"], Channel::Async).await;
        let ending = ending.grant_id.unwrap();
        let revoked = revoked.grant_id.unwrap();
        store.revoke_grant(&w.person, &revoked).await.unwrap();
        grant::Entity::update_many()
            .col_expr(
                grant::Column::ExpiresAt,
                Expr::value(now() - Duration::seconds(1)),
            )
            .exec(&store.db)
            .await
            .unwrap();
        assert!(!store.grant(&ending).await.unwrap().is_live(now()));
        let before = store.ledger_size().await.unwrap();
        let swept = store.sweep_expired().await.unwrap();
        assert_eq!(
            (swept.requests, swept.grants),
            (0, 1),
            "a revoked grant ended already"
        );
        assert_eq!(store.ledger_size().await.unwrap(), before + 1);
        let last = store.ledger_entries(before, before + 1).await.unwrap();
        assert!(matches!(
            &last[0].entry.kind,
            EntryKind::GrantExpired { grant_id, .. } if grant_id.as_str() == ending
        ));
        assert_eq!(store.sweep_expired().await.unwrap(), Swept::default());
        assert_eq!(store.ledger_size().await.unwrap(), before + 1);
    });
}
