//! Requests recorded in groups, on SQLite.
//!
//! SQLite has one writer at a time, so recording requests one transaction
//! each made every request wait for all the commits queued before its own:
//! at 32 connections the server sat at half a core, waiting, and managed
//! ~540 requests a second. Here concurrent requests queue; one writer
//! records whatever has queued while the previous commit ran, one after
//! another in one transaction, each inside a savepoint of its own, and then
//! answers each caller. Nothing about a request changes:
//!
//! - each is recorded whole or not at all (a failing one rolls back to its
//!   savepoint and gets its error; the others go on);
//! - each runs the same statements, in arrival order, as it would have in a
//!   transaction of its own;
//! - a caller hears back only after the group's commit, so an answered
//!   request is durable.
//!
//! PostgreSQL keeps a transaction per request: it has many writers and row
//! locks, and a group holding the locks of several people would only make
//! them wait on each other.
//!
//! As with disclosures, the writer has a thread of its own and ends with
//! the last clone of the store; should it be gone, a request is recorded
//! in a transaction of its own instead.

use std::sync::OnceLock;
use std::time::Instant;

use sea_orm::{DbErr, TransactionTrait};
use tokio::sync::{mpsc, oneshot};

use crate::disclosure::{copy, run_on_own_thread};
use crate::grant::{NewRequest, StoredRequest};
use crate::{Store, StoreError};

/// At most this many requests share one transaction.
const MAX_GROUP: usize = 64;

/// One request waiting to be recorded.
pub(crate) struct Pending {
    new: NewRequest,
    done: oneshot::Sender<Result<StoredRequest, StoreError>>,
}

/// The queue shared by the clones of a [`Store`].
#[derive(Debug, Default)]
pub(crate) struct RequestQueue {
    sender: OnceLock<mpsc::UnboundedSender<Pending>>,
    /// The most requests one transaction has held so far.
    largest_group: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

/// Records whatever has queued, group after group, until every sender is
/// gone.
async fn write_groups(
    store: Store,
    mut queue: mpsc::UnboundedReceiver<Pending>,
    largest_group: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    loop {
        let queued = queue.recv_many(&mut group, MAX_GROUP).await;
        if queued == 0 {
            break;
        }
        largest_group.fetch_max(queued, std::sync::atomic::Ordering::Relaxed);
        let counts = &store.write_stats.requests;
        counts
            .groups
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        counts
            .members
            .fetch_add(queued as u64, std::sync::atomic::Ordering::Relaxed);
        store.write_request_group(std::mem::take(&mut group)).await;
    }
}

impl Store {
    /// Records `new` with the others queued on SQLite (see the module), and
    /// returns once it is committed.
    pub(crate) async fn record_request_grouped(
        &self,
        new: NewRequest,
    ) -> Result<StoredRequest, StoreError> {
        let (done, recorded) = oneshot::channel();
        let pending = Pending { new, done };
        let sender = self
            .requests
            .sender
            .get_or_init(|| self.spawn_request_writer());
        match sender.send(pending) {
            Ok(()) => recorded.await.unwrap_or_else(|_| {
                Err(StoreError::Database(DbErr::Custom(
                    "the request writer stopped".to_owned(),
                )))
            }),
            Err(mpsc::error::SendError(pending)) => self.record_request_alone(pending.new).await,
        }
    }

    fn spawn_request_writer(&self) -> mpsc::UnboundedSender<Pending> {
        let (sender, queue) = mpsc::unbounded_channel::<Pending>();
        // The writer's store has no queue of its own, so dropping every
        // clone of this one closes the channel and ends the writer.
        let store = Store {
            requests: std::sync::Arc::default(),
            ..self.clone()
        };
        let largest_group = self.requests.largest_group.clone();
        run_on_own_thread("apiome-requests", write_groups(store, queue, largest_group));
        sender
    }

    /// Records each request of `group` in a savepoint of one transaction,
    /// commits, and answers every caller.
    async fn write_request_group(&self, group: Vec<Pending>) {
        let timed = &self.write_stats.requests;
        let asked = Instant::now();
        let (_turn, txn) = match self.write_txn().await {
            Ok(started) => started,
            Err(error) => {
                for pending in group {
                    let _ = pending.done.send(Err(copy(&error)));
                }
                return;
            }
        };
        let begun = Instant::now();
        timed.turn.observe(begun - asked);
        let mut answers = Vec::with_capacity(group.len());
        // A savepoint that cannot be opened, released or rolled back leaves
        // the transaction in doubt: then nothing of the group is kept.
        let mut in_doubt: Option<StoreError> = None;
        let mut queued = group.into_iter();
        for Pending { new, done } in queued.by_ref() {
            let outcome = match txn.begin().await {
                Err(error) => {
                    in_doubt = Some(error.into());
                    answers.push((done, None));
                    break;
                }
                Ok(savepoint) => {
                    let recorded = self.record_request_in(&savepoint, new).await;
                    let ended = match &recorded {
                        Ok(_) => savepoint.commit().await,
                        Err(_) => savepoint.rollback().await,
                    };
                    if let Err(error) = ended {
                        in_doubt = Some(error.into());
                    }
                    recorded
                }
            };
            answers.push((done, Some(outcome)));
            if in_doubt.is_some() {
                break;
            }
        }
        answers.extend(queued.map(|pending| (pending.done, None)));
        let committing = Instant::now();
        timed.statements.observe(committing - begun);
        let committed = match in_doubt {
            Some(error) => {
                let _ = txn.rollback().await;
                Err(error)
            }
            None => {
                let committed = txn.commit().await.map_err(StoreError::from);
                timed.commit.observe(committing.elapsed());
                committed
            }
        };
        if let Err(error) = &committed {
            tracing::warn!(%error, requests = answers.len(), "a group of requests was not recorded");
        }
        for (done, outcome) in answers {
            // A group in doubt is never committed, so every request it did
            // not get to has the group's error.
            let answer = match (&committed, outcome) {
                (Ok(()), Some(outcome)) => outcome,
                (Err(error), _) => Err(copy(error)),
                (Ok(()), None) => Err(StoreError::corrupt("a request of the group was skipped")),
            };
            let _ = done.send(answer);
        }
    }
}

#[cfg(test)]
mod tests {
    use consent_policy::{
        AttributeKey, Bucket, CompanyId, DataRequest, GrantDuration, SharingDefault, decide,
    };
    use serde_json::json;

    use super::*;
    use crate::{Channel, Handle, PersonId, RequestStatus};

    /// Requests of many callers at once, some for nobody: each good one is
    /// recorded whole and answered with what was stored, each bad one gets
    /// its own error, and the ledger holds exactly the good ones' entries.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requests_are_recorded_each_whole_and_alone() {
        let db = crate::testing::sqlite().await;
        let store = db.store.clone();
        let company = CompanyId::parse("acme").unwrap();
        store.create_company(&company, "Acme").await.unwrap();
        let email = AttributeKey::parse("email").unwrap();
        let mut people = Vec::new();
        for n in 0..6 {
            let person = store
                .create_person(&Handle::parse(&format!("person_{n}")).unwrap())
                .await
                .unwrap();
            store
                .put_attribute(
                    &person.id,
                    &email,
                    &json!("x@example.org"),
                    Bucket::SemiPrivate,
                )
                .await
                .unwrap();
            // Half share by default (approved at once: request, decision and
            // grant entries), half are asked (a pending request entry).
            let default = if n % 2 == 0 {
                SharingDefault::ShareEverything
            } else {
                SharingDefault::AskMe
            };
            store
                .set_preferences(
                    &person.id,
                    default,
                    &GrantDuration::parse("P1Y").unwrap(),
                    &json!({}),
                )
                .await
                .unwrap();
            people.push(person.id);
        }
        let size_before = store.ledger_size().await.unwrap();

        let mut calls = Vec::new();
        for k in 0..48 {
            let store = store.clone();
            let company = company.clone();
            let person = if k % 4 == 3 {
                PersonId::new("nobody".to_owned())
            } else {
                people[k % people.len()].clone()
            };
            let profile = store.profile(&people[k % people.len()]).await.unwrap();
            calls.push(tokio::spawn(async move {
                let request = DataRequest::from_json_value(
                    json!({"type": "apiome_data", "attributes": ["email"],
                           "purpose": "marketing", "duration": "P30D"}),
                    &GrantDuration::parse("P1Y").unwrap(),
                )
                .unwrap();
                let decision = decide(&profile, &company, &request);
                let answer = store
                    .record_request(&person, &company, &request, &decision, Channel::Async)
                    .await;
                (person, answer)
            }));
        }
        let (mut recorded, mut entries) = (0, 0);
        for call in calls {
            let (person, answer) = call.await.unwrap();
            if person.as_str() == "nobody" {
                assert!(
                    matches!(answer, Err(StoreError::PersonNotFound)),
                    "{answer:?}"
                );
                continue;
            }
            let stored = answer.unwrap();
            assert_eq!(stored.person_id, person);
            assert_eq!(store.request(&stored.id).await.unwrap(), stored);
            entries += match stored.status {
                RequestStatus::Approved => {
                    assert!(
                        store
                            .grant(stored.grant_id.as_deref().unwrap())
                            .await
                            .is_ok()
                    );
                    3
                }
                RequestStatus::Pending => 1,
                other => panic!("unexpected {other:?}"),
            };
            recorded += 1;
        }
        assert_eq!(recorded, 36);
        // They did share transactions, good and bad ones together.
        assert!(
            store
                .requests
                .largest_group
                .load(std::sync::atomic::Ordering::Relaxed)
                > 1
        );
        let size = store.ledger_size().await.unwrap();
        assert_eq!(size, size_before + entries);
        let counts = &store.write_stats().requests;
        let groups = counts.groups.load(std::sync::atomic::Ordering::Relaxed);
        assert!(groups < 48, "{groups} groups for 48 requests");
        assert_eq!(
            counts.members.load(std::sync::atomic::Ordering::Relaxed),
            48
        );
        assert_eq!(counts.commit.snapshot().count, groups);
        let leaves: Vec<_> = store
            .ledger_leaves(0, size)
            .await
            .unwrap()
            .iter()
            .map(|leaf| ledger::leaf_hash(&leaf.leaf))
            .collect();
        assert_eq!(
            store.ledger_root(size).await.unwrap(),
            ledger::root_from_leaves(&leaves)
        );
        db.cleanup().await;
    }
}
