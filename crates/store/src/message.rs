//! The contact relay's rows: messages companies sent people through
//! apiome (`contact_message`), delivered or refused, each with its ledger
//! entry and, when delivered, its outbox mail, all in the caller's
//! transaction; and the companies a person stopped (`contact_stop`).
//!
//! Whether a message may go is decided above (`broker::messages`, with
//! `consent_policy::ContactPreferences`); here it is only counted and
//! recorded. The ledger entry names ids, the channel and a count, or the
//! refusal's reason: never the subject, the text, the link, the "why" or
//! the address.

use consent_policy::{CompanyId, ContactChannel, Grant};
use ledger::{Entry, EntryKind};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use time::OffsetDateTime;

use crate::entity::{blocked_company, contact_message, contact_stop, grant, mail_outbox, person};
use crate::grant::text;
use crate::ledger::{append_entries, now_unix_ms};
use crate::tx::WriteTx;
use crate::{Person, PersonId, Store, StoreError, new_id, now};

/// Most messages one listing returns.
pub const MAX_MESSAGES_LISTED: u64 = 200;
/// The outbox kind of a relayed message.
pub const MESSAGE_MAIL_KIND: &str = "message";

/// What becomes of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageOutcome {
    /// It goes, on `channel`, to `address` (an outbox mail).
    Delivered {
        /// The channel.
        channel: ContactChannel,
        /// The verified address; kept in the outbox row only.
        address: String,
    },
    /// It is refused, for `reason` (a snake_case name).
    Refused {
        /// Why, by name.
        reason: &'static str,
        /// When it could go, if ever.
        next_allowed_at: Option<OffsetDateTime>,
    },
}

/// A message as the company wrote it, checked by the caller.
#[derive(Debug, Clone, Copy)]
pub struct MessageRecord<'a> {
    /// The subject line.
    pub subject: &'a str,
    /// The text.
    pub text: &'a str,
    /// A link, if any.
    pub link: Option<&'a str>,
    /// Why the company says it is valuable to the person.
    pub why: &'a str,
    /// The company's name, for the mail.
    pub company_name: &'a str,
}

/// A message as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// Its id.
    pub id: String,
    /// To whom.
    pub person_id: PersonId,
    /// From which company.
    pub company_id: String,
    /// Under which grant.
    pub grant_id: String,
    /// The subject line.
    pub subject: String,
    /// The text.
    pub text: String,
    /// The link.
    pub link: Option<String>,
    /// Why it is valuable, in the company's words.
    pub why: String,
    /// `delivered` or the refusal's reason.
    pub outcome: String,
    /// The channel, when delivered.
    pub channel: Option<String>,
    /// When a refused message could have gone.
    pub next_allowed_at: Option<OffsetDateTime>,
    /// When it was sent.
    pub created_at: OffsetDateTime,
}

fn from_unix(seconds: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp(seconds)
        .map_err(|_| StoreError::corrupt("contact_message time"))
}

impl TryFrom<contact_message::Model> for StoredMessage {
    type Error = StoreError;
    fn try_from(row: contact_message::Model) -> Result<Self, StoreError> {
        Ok(StoredMessage {
            next_allowed_at: row.next_allowed_at.map(from_unix).transpose()?,
            created_at: from_unix(row.created_at)?,
            id: row.id,
            person_id: PersonId::new(row.person_id),
            company_id: row.company_id,
            grant_id: row.grant_id,
            subject: row.subject,
            text: row.body,
            link: row.link,
            why: row.why,
            outcome: row.outcome,
            channel: row.channel,
        })
    }
}

impl WriteTx<'_> {
    /// Whose data `company`'s grant `grant_id` is, read without a lock so
    /// that a use case can lock the person before the grant (the order
    /// revocation takes); [`StoreError::GrantNotFound`] for another
    /// company's.
    pub async fn person_of_company_grant(
        &self,
        company: &CompanyId,
        grant_id: &str,
    ) -> Result<PersonId, StoreError> {
        let person: Option<String> = grant::Entity::find_by_id(grant_id.to_owned())
            .select_only()
            .column(grant::Column::PersonId)
            .filter(grant::Column::CompanyId.eq(company.as_str()))
            .into_tuple()
            .one(self.txn())
            .await?;
        person
            .map(PersonId::new)
            .ok_or_else(|| StoreError::GrantNotFound(grant_id.to_owned()))
    }

    /// The person, read in this transaction (lock them first with
    /// [`WriteTx::lock_person`] to decide on their row).
    pub async fn person(&self, id: &PersonId) -> Result<Person, StoreError> {
        person::Entity::find_by_id(id.as_str().to_owned())
            .one(self.txn())
            .await?
            .ok_or(StoreError::PersonNotFound)
            .and_then(Person::try_from)
    }

    /// Whether the person blocks `company`.
    pub async fn blocks(&self, person: &PersonId, company: &CompanyId) -> Result<bool, StoreError> {
        Ok(
            blocked_company::Entity::find_by_id((person.as_str().to_owned(), company.to_string()))
                .one(self.txn())
                .await?
                .is_some(),
        )
    }

    /// Whether the person stopped `company` from contacting them.
    pub async fn contact_stopped(
        &self,
        person: &PersonId,
        company: &CompanyId,
    ) -> Result<bool, StoreError> {
        Ok(
            contact_stop::Entity::find_by_id((person.as_str().to_owned(), company.to_string()))
                .one(self.txn())
                .await?
                .is_some(),
        )
    }

    /// When each message delivered to the person since `since` was sent,
    /// oldest first: the newest [`consent_policy::MAX_CONTACTS_PER_WEEK`]
    /// + 1 at most, which is all any cap can look at.
    pub async fn delivered_since(
        &self,
        person: &PersonId,
        since: OffsetDateTime,
    ) -> Result<Vec<OffsetDateTime>, StoreError> {
        let times: Vec<i64> = contact_message::Entity::find()
            .select_only()
            .column(contact_message::Column::CreatedAt)
            .filter(contact_message::Column::PersonId.eq(person.as_str()))
            .filter(contact_message::Column::Outcome.eq("delivered"))
            .filter(contact_message::Column::CreatedAt.gt(since.unix_timestamp()))
            .order_by_desc(contact_message::Column::CreatedAt)
            .limit(u64::from(consent_policy::MAX_CONTACTS_PER_WEEK) + 1)
            .into_tuple()
            .all(self.txn())
            .await?;
        times.into_iter().rev().map(from_unix).collect()
    }

    /// Records a message under `grant`: the row, its ledger entry and,
    /// when delivered, its outbox mail. `sent_in_week` is the count the
    /// entry carries (delivered ones only). Returns the message and the
    /// entry's index.
    pub async fn record_message(
        &self,
        grant: &Grant,
        message: MessageRecord<'_>,
        outcome: &MessageOutcome,
        sent_in_week: u64,
    ) -> Result<(StoredMessage, u64), StoreError> {
        let pseudonym = self.pseudonym(&grant.person_id).await?;
        let at = now();
        let id = new_id();
        let (outcome_name, channel, next_allowed_at) = match outcome {
            MessageOutcome::Delivered { channel, .. } => ("delivered", Some(*channel), None),
            MessageOutcome::Refused {
                reason,
                next_allowed_at,
            } => (*reason, None, *next_allowed_at),
        };
        let row = contact_message::ActiveModel {
            id: Set(id.clone()),
            person_id: Set(grant.person_id.as_str().to_owned()),
            company_id: Set(grant.company_id.to_string()),
            grant_id: Set(grant.id.clone()),
            subject: Set(message.subject.to_owned()),
            body: Set(message.text.to_owned()),
            link: Set(message.link.map(str::to_owned)),
            why: Set(message.why.to_owned()),
            outcome: Set(outcome_name.to_owned()),
            channel: Set(channel.map(|c| c.as_str().to_owned())),
            next_allowed_at: Set(next_allowed_at.map(OffsetDateTime::unix_timestamp)),
            created_at: Set(at.unix_timestamp()),
        }
        .insert(self.txn())
        .await?;
        let kind = match outcome {
            MessageOutcome::Delivered { channel, address } => {
                let payload = serde_json::json!({
                    "message_id": id,
                    "company": message.company_name,
                    "company_id": grant.company_id.as_str(),
                    "subject": message.subject,
                    "text": message.text,
                    "link": message.link,
                    "why": message.why,
                });
                let (_, mail) = crate::notify::outbox_row(
                    grant.person_id.as_str(),
                    MESSAGE_MAIL_KIND,
                    address,
                    &payload,
                    false,
                );
                mail_outbox::Entity::insert(mail)
                    .exec_without_returning(self.txn())
                    .await?;
                EntryKind::MessageDelivered {
                    message_id: text(id.as_str())?,
                    grant_id: text(grant.id.as_str())?,
                    company_id: text(grant.company_id.to_string())?,
                    person: text(pseudonym)?,
                    channel: text(channel.as_str())?,
                    sent_in_week,
                }
            }
            MessageOutcome::Refused { reason, .. } => EntryKind::MessageRefused {
                message_id: text(id.as_str())?,
                grant_id: text(grant.id.as_str())?,
                company_id: text(grant.company_id.to_string())?,
                person: text(pseudonym)?,
                reason: text(*reason)?,
            },
        };
        let index = append_entries(
            self.txn(),
            self.backend(),
            &[Entry::new(now_unix_ms(), kind)],
        )
        .await?;
        Ok((StoredMessage::try_from(row)?, index))
    }

    /// Ends `company`'s permission to contact the person, with its
    /// `contact_stopped` entry; `false` (nothing written) when it had
    /// ended already.
    pub async fn stop_contact(
        &self,
        person: &PersonId,
        company: &CompanyId,
    ) -> Result<bool, StoreError> {
        let inserted = contact_stop::Entity::insert(contact_stop::ActiveModel {
            person_id: Set(person.as_str().to_owned()),
            company_id: Set(company.to_string()),
            created_at: Set(now().unix_timestamp()),
        })
        .on_conflict(
            OnConflict::columns([
                contact_stop::Column::PersonId,
                contact_stop::Column::CompanyId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(self.txn())
        .await;
        match inserted {
            Ok(rows) if rows > 0 => {}
            Ok(_) | Err(sea_orm::DbErr::RecordNotInserted) => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        let entry = EntryKind::ContactStopped {
            company_id: text(company.to_string())?,
            person: text(self.pseudonym(person).await?)?,
        };
        append_entries(
            self.txn(),
            self.backend(),
            &[Entry::new(now_unix_ms(), entry)],
        )
        .await?;
        Ok(true)
    }
}

impl Store {
    /// The messages companies sent the person, delivered and refused,
    /// newest first, at most `limit` (up to [`MAX_MESSAGES_LISTED`]).
    pub async fn messages_to(
        &self,
        person: &PersonId,
        limit: u64,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        contact_message::Entity::find()
            .filter(contact_message::Column::PersonId.eq(person.as_str()))
            .order_by_desc(contact_message::Column::CreatedAt)
            .order_by_desc(contact_message::Column::Id)
            .limit(limit.min(MAX_MESSAGES_LISTED))
            .all(&self.db)
            .await?
            .into_iter()
            .map(StoredMessage::try_from)
            .collect()
    }

    /// One page of the messages companies sent the person, newest first:
    /// at most `limit`, all older than `after` (the `created_at` and id of
    /// the last one seen). The export reads them all this way.
    pub async fn messages_to_page(
        &self,
        person: &PersonId,
        after: Option<(OffsetDateTime, &str)>,
        limit: u64,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let mut query = contact_message::Entity::find()
            .filter(contact_message::Column::PersonId.eq(person.as_str()));
        if let Some((at, id)) = after {
            let secs = at.unix_timestamp();
            query = query.filter(
                sea_orm::Condition::any()
                    .add(contact_message::Column::CreatedAt.lt(secs))
                    .add(
                        sea_orm::Condition::all()
                            .add(contact_message::Column::CreatedAt.eq(secs))
                            .add(contact_message::Column::Id.lt(id)),
                    ),
            );
        }
        query
            .order_by_desc(contact_message::Column::CreatedAt)
            .order_by_desc(contact_message::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(StoredMessage::try_from)
            .collect()
    }

    /// How many messages were delivered to the person in all (tests and
    /// the operator).
    pub async fn delivered_count(&self, person: &PersonId) -> Result<u64, StoreError> {
        Ok(contact_message::Entity::find()
            .filter(contact_message::Column::PersonId.eq(person.as_str()))
            .filter(contact_message::Column::Outcome.eq("delivered"))
            .count(&self.db)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Channel, Handle, store_test};
    use consent_policy::{AttributeKey, Bucket, DataRequest, GrantDuration, decide};
    use serde_json::json;

    async fn grant(store: &Store) -> Grant {
        let person = store
            .create_person(&Handle::parse("ada_relay").unwrap())
            .await
            .unwrap()
            .id;
        store
            .put_attribute(
                &person,
                &AttributeKey::parse("email").unwrap(),
                &json!("ada@example.org"),
                Bucket::SemiPrivate,
            )
            .await
            .unwrap();
        let company = CompanyId::parse("acme").unwrap();
        store.create_company(&company, "Acme").await.unwrap();
        let request = DataRequest::from_json_value(
            json!({"type": "apiome_data", "attributes": ["email"], "purpose": "marketing", "duration": "P30D"}),
            &GrantDuration::parse("P1Y").unwrap(),
        )
        .unwrap();
        let decision = decide(&store.profile(&person).await.unwrap(), &company, &request);
        let asked = store
            .record_request(&person, &company, &request, &decision, Channel::Async)
            .await
            .unwrap();
        store
            .approve_request(&person, &asked.id, None)
            .await
            .unwrap()
    }

    const WORDS: MessageRecord<'static> = MessageRecord {
        subject: "Tyres",
        text: "A slot this week",
        link: None,
        why: "You asked",
        company_name: "Acme",
    };

    store_test!(
        a_message_its_mail_and_its_entry_are_one_write_and_the_entry_holds_no_words,
        |store| {
            let grant = grant(store).await;
            let person = grant.person_id.clone();
            let size = store.ledger_size().await.unwrap();
            let tx = store.begin().await.unwrap();
            let delivered = MessageOutcome::Delivered {
                channel: ContactChannel::Email,
                address: "ada@notices.example".to_owned(),
            };
            tx.record_message(&grant, WORDS, &delivered, 1)
                .await
                .unwrap();
            let refused = MessageOutcome::Refused {
                reason: "outside_hours",
                next_allowed_at: Some(now()),
            };
            tx.record_message(&grant, WORDS, &refused, 1).await.unwrap();
            drop(tx);
            assert!(
                store.messages_to(&person, 10).await.unwrap().is_empty(),
                "rolled back"
            );
            assert_eq!(store.ledger_size().await.unwrap(), size);

            let tx = store.begin().await.unwrap();
            tx.record_message(&grant, WORDS, &delivered, 1)
                .await
                .unwrap();
            tx.record_message(&grant, WORDS, &refused, 1).await.unwrap();
            let week = tx
                .delivered_since(&person, now() - time::Duration::days(7))
                .await
                .unwrap();
            assert_eq!(week.len(), 1, "a refusal is not counted");
            let company = grant.company_id.clone();
            assert!(tx.stop_contact(&person, &company).await.unwrap());
            assert!(!tx.stop_contact(&person, &company).await.unwrap(), "once");
            assert!(tx.contact_stopped(&person, &company).await.unwrap());
            tx.commit().await.unwrap();

            let listed = store.messages_to(&person, 10).await.unwrap();
            assert_eq!(listed.len(), 2);
            assert_eq!(store.delivered_count(&person).await.unwrap(), 1);
            let mails = store.mails_to(&person).await.unwrap();
            assert_eq!(
                mails.iter().filter(|m| m.kind == MESSAGE_MAIL_KIND).count(),
                1,
                "only the delivered one is mailed"
            );
            let entries = store
                .ledger_entries(size, store.ledger_size().await.unwrap())
                .await
                .unwrap();
            let names: Vec<&str> = entries.iter().map(|e| e.entry.kind.name()).collect();
            assert_eq!(
                names,
                ["message_delivered", "message_refused", "contact_stopped"]
            );
            for entry in &entries {
                let json = serde_json::to_string(&entry.entry).unwrap();
                for words in ["Tyres", "A slot", "You asked", "notices.example"] {
                    assert!(!json.contains(words), "{json}");
                }
            }
        }
    );
}
