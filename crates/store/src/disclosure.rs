//! Disclosure entries, committed in groups.
//!
//! Every `GET /v1/data` read appends a disclosure entry to the ledger, and
//! the data leaves only once that entry is committed. One transaction per
//! read made every read wait for its own commit (and, on SQLite with
//! `synchronous=FULL`, its own `fsync`), one after another behind the
//! single writer. Here concurrent reads queue their entries; one task
//! appends whatever has queued while the previous commit ran, in one
//! transaction, and then answers each waiting read. A read still returns
//! only after its entry is durable, so nothing about the promise changes:
//! only the number of commits does.
//!
//! The writer runs on a thread of its own and ends when the last clone of
//! the store is dropped. Should it be gone, an entry is written in a
//! transaction of its own instead.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use consent_policy::AttributeKey;
use ledger::{Entry, EntryKind};
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};
use tokio::sync::{mpsc, oneshot};

use crate::entity::person;
use crate::grant::{names, text};
use crate::ledger::{append_entries, now_unix_ms};
use crate::{Grant, Store, StoreError};

/// At most this many reads share one transaction (under the ledger's
/// per-append bound).
const MAX_GROUP: usize = 256;

/// One read waiting for its entry to commit.
struct Pending {
    time_unix_ms: i64,
    grant_id: String,
    company_id: String,
    person_id: String,
    attributes: Vec<AttributeKey>,
    done: oneshot::Sender<Result<(), StoreError>>,
}

/// The queue shared by the clones of a [`Store`].
#[derive(Debug, Default)]
pub(crate) struct DisclosureQueue {
    sender: OnceLock<mpsc::UnboundedSender<Pending>>,
}

/// Each waiter gets its own copy of a group's failure.
pub(crate) fn copy(error: &StoreError) -> StoreError {
    match error {
        StoreError::Database(e) => StoreError::Database(e.clone()),
        other => StoreError::Database(DbErr::Custom(other.to_string())),
    }
}

/// Runs a group writer on a thread named `name` with a runtime of its own.
/// Should either fail to start, the writer's queue is dropped with it, and
/// its callers write without it.
pub(crate) fn run_on_own_thread(
    name: &str,
    writer: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let spawned = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime.block_on(writer),
                Err(error) => tracing::error!(%error, "no runtime for a group writer"),
            }
        });
    if let Err(error) = spawned {
        tracing::error!(%error, name, "no thread for a group writer");
    }
}

/// Commits whatever has queued, group after group, until every sender is
/// gone, and answers each read.
async fn write_groups(store: Store, mut queue: mpsc::UnboundedReceiver<Pending>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while queue.recv_many(&mut group, MAX_GROUP).await > 0 {
        let (result, waiting) = store.write_disclosures(std::mem::take(&mut group)).await;
        match result {
            Ok(()) => {
                for done in waiting {
                    let _ = done.send(Ok(()));
                }
            }
            Err(error) => {
                tracing::warn!(%error, reads = waiting.len(), "disclosure entries not recorded");
                for done in waiting {
                    let _ = done.send(Err(copy(&error)));
                }
            }
        }
    }
}

impl Store {
    /// Records that the company read `attributes` under a live grant;
    /// returns once the entry is committed.
    pub async fn record_disclosure(
        &self,
        grant: &Grant,
        attributes: &[AttributeKey],
    ) -> Result<(), StoreError> {
        let (done, committed) = oneshot::channel();
        let pending = Pending {
            time_unix_ms: now_unix_ms(),
            grant_id: grant.id.clone(),
            company_id: grant.company_id.to_string(),
            person_id: grant.person_id.as_str().to_owned(),
            attributes: attributes.to_vec(),
            done,
        };
        let sender = self
            .disclosures
            .sender
            .get_or_init(|| self.spawn_disclosure_writer());
        match sender.send(pending) {
            Ok(()) => match committed.await {
                Ok(result) => result,
                // The writer's runtime ended with the entry unanswered.
                Err(_) => Err(StoreError::Database(DbErr::Custom(
                    "the disclosure writer stopped".to_owned(),
                ))),
            },
            Err(mpsc::error::SendError(pending)) => {
                let (result, _) = self.write_disclosures(vec![pending]).await;
                result
            }
        }
    }

    fn spawn_disclosure_writer(&self) -> mpsc::UnboundedSender<Pending> {
        let (sender, queue) = mpsc::unbounded_channel::<Pending>();
        // The task holds a store without the queue, so dropping every
        // clone of this one closes the channel and ends the task.
        let store = Store {
            db: self.db.clone(),
            keys: self.keys.clone(),
            ledger_cache: self.ledger_cache.clone(),
            disclosures: std::sync::Arc::default(),
            sqlite_reader: None,
            write_turn: self.write_turn.clone(),
            requests: std::sync::Arc::default(),
        };
        // The writer gets a thread and runtime of its own: on the runtime of
        // a busy server worker, each of its statements waited behind that
        // worker's requests, and every read waits on the writer.
        run_on_own_thread("apiome-disclosures", write_groups(store, queue));
        sender
    }

    /// Appends one entry per pending read in one transaction; the result
    /// and the waiters to tell.
    async fn write_disclosures(
        &self,
        group: Vec<Pending>,
    ) -> (
        Result<(), StoreError>,
        Vec<oneshot::Sender<Result<(), StoreError>>>,
    ) {
        let mut waiting = Vec::with_capacity(group.len());
        let mut reads = Vec::with_capacity(group.len());
        for pending in group {
            waiting.push(pending.done);
            reads.push((
                pending.time_unix_ms,
                pending.grant_id,
                pending.company_id,
                pending.person_id,
                pending.attributes,
            ));
        }
        let result = async {
            let (_turn, txn) = self.write_txn().await?;
            let people: HashSet<&str> = reads.iter().map(|r| r.3.as_str()).collect();
            let pseudonyms: HashMap<String, String> = person::Entity::find()
                .select_only()
                .column(person::Column::Id)
                .column(person::Column::Pseudonym)
                .filter(person::Column::Id.is_in(people))
                .into_tuple()
                .all(&txn)
                .await?
                .into_iter()
                .collect();
            let mut entries = Vec::with_capacity(reads.len());
            for (time, grant_id, company_id, person_id, attributes) in &reads {
                let pseudonym = pseudonyms
                    .get(person_id)
                    .ok_or(StoreError::PersonNotFound)?;
                entries.push(Entry::new(
                    *time,
                    EntryKind::Disclosure {
                        grant_id: text(grant_id)?,
                        company_id: text(company_id)?,
                        person: text(pseudonym)?,
                        attributes: names(attributes)?,
                    },
                ));
            }
            append_entries(&txn, self.backend(), &entries).await?;
            txn.commit().await?;
            Ok(())
        }
        .await;
        (result, waiting)
    }
}
