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
//! the store is dropped. On SQLite it writes through a connection of its
//! own ([`crate::sqlite_writer`]); on PostgreSQL, or should that connection
//! not open, through the pool. Should the writer be gone, an entry is
//! written in a transaction of its own instead.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;
use std::sync::atomic::Ordering;
use std::time::Instant;

use consent_policy::AttributeKey;
use ledger::{Entry, EntryKind};
use rusqlite::OptionalExtension;
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};
use tokio::sync::{mpsc, oneshot};

use crate::entity::person;
use crate::grant::{names, text};
use crate::ledger::{append_entries, append_entries_sqlite, now_unix_ms};
use crate::sqlite_writer::{SqliteWriter, database_error};
use crate::{Grant, Store, StoreError};

/// At most this many reads share one transaction (under the ledger's
/// per-append bound).
const MAX_GROUP: usize = 256;

/// One read waiting for its entry to commit.
struct Pending {
    read: Read,
    done: Waiter,
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
/// gone, and answers each read. `sqlite` is the writer's own connection,
/// when it has one.
async fn write_groups(
    store: Store,
    mut sqlite: Option<SqliteWriter>,
    mut queue: mpsc::UnboundedReceiver<Pending>,
) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while queue.recv_many(&mut group, MAX_GROUP).await > 0 {
        let group = std::mem::take(&mut group);
        let counts = &store.write_stats.disclosures;
        counts.groups.fetch_add(1, Ordering::Relaxed);
        counts
            .members
            .fetch_add(group.len() as u64, Ordering::Relaxed);
        let (result, waiting) = match sqlite.as_mut() {
            Some(writer) => store.write_disclosures_sqlite(writer, group).await,
            None => store.write_disclosures(group).await,
        };
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

/// What one pending read's entry says.
struct Read {
    time_unix_ms: i64,
    grant_id: String,
    company_id: String,
    person_id: String,
    attributes: Vec<AttributeKey>,
}

type Waiter = oneshot::Sender<Result<(), StoreError>>;

/// A group's reads and, apart, whom to answer.
fn split(group: Vec<Pending>) -> (Vec<Read>, Vec<Waiter>) {
    group
        .into_iter()
        .map(|pending| (pending.read, pending.done))
        .unzip()
}

/// The disclosure entries of `reads`, each naming its person by pseudonym.
fn entries(reads: &[Read], pseudonyms: &HashMap<String, String>) -> Result<Vec<Entry>, StoreError> {
    reads
        .iter()
        .map(|read| {
            let pseudonym = pseudonyms
                .get(&read.person_id)
                .ok_or(StoreError::PersonNotFound)?;
            Ok(Entry::new(
                read.time_unix_ms,
                EntryKind::Disclosure {
                    grant_id: text(&read.grant_id)?,
                    company_id: text(&read.company_id)?,
                    person: text(pseudonym)?,
                    attributes: names(&read.attributes)?,
                },
            ))
        })
        .collect()
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
            read: Read {
                time_unix_ms: now_unix_ms(),
                grant_id: grant.id.clone(),
                company_id: grant.company_id.to_string(),
                person_id: grant.person_id.as_str().to_owned(),
                attributes: attributes.to_vec(),
            },
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
            checkpoints: self.checkpoints.clone(),
            write_stats: self.write_stats.clone(),
            clients: self.clients.clone(),
            revoked: self.revoked.clone(),
        };
        let path = self.sqlite_reader.as_ref().map(|r| r.path().to_owned());
        // The writer gets a thread and runtime of its own: on the runtime of
        // a busy server worker, each of its statements waited behind that
        // worker's requests, and every read waits on the writer.
        run_on_own_thread("apiome-disclosures", async move {
            let sqlite = path.and_then(|path| match SqliteWriter::open(&path) {
                Ok(writer) => Some(writer),
                Err(error) => {
                    tracing::warn!(%error, "disclosures are written through the pool");
                    None
                }
            });
            write_groups(store, sqlite, queue).await;
        });
        sender
    }

    /// [`Store::write_disclosures`] on the writer's own SQLite connection.
    async fn write_disclosures_sqlite(
        &self,
        writer: &mut SqliteWriter,
        group: Vec<Pending>,
    ) -> (Result<(), StoreError>, Vec<Waiter>) {
        let (reads, waiting) = split(group);
        let result = writer
            .write(self, &self.write_stats.disclosures, |txn| {
                let mut pseudonyms = HashMap::new();
                let mut find = txn
                    .prepare_cached("SELECT pseudonym FROM person WHERE id = ?1")
                    .map_err(|e| database_error("reading a pseudonym", e))?;
                for read in &reads {
                    if !pseudonyms.contains_key(read.person_id.as_str()) {
                        let pseudonym: Option<String> = find
                            .query_row([&read.person_id], |row| row.get(0))
                            .optional()
                            .map_err(|e| database_error("reading a pseudonym", e))?;
                        if let Some(pseudonym) = pseudonym {
                            pseudonyms.insert(read.person_id.clone(), pseudonym);
                        }
                    }
                }
                append_entries_sqlite(txn, &entries(&reads, &pseudonyms)?)?;
                Ok(())
            })
            .await;
        (result, waiting)
    }

    /// Appends one entry per pending read in one transaction; the result
    /// and the waiters to tell.
    async fn write_disclosures(
        &self,
        group: Vec<Pending>,
    ) -> (Result<(), StoreError>, Vec<Waiter>) {
        let (reads, waiting) = split(group);
        let timed = &self.write_stats.disclosures;
        let result = async {
            let asked = Instant::now();
            let (_turn, txn) = self.write_txn().await?;
            let begun = Instant::now();
            timed.turn.observe(begun - asked);
            let people: HashSet<&str> = reads.iter().map(|r| r.person_id.as_str()).collect();
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
            append_entries(&txn, self.backend(), &entries(&reads, &pseudonyms)?).await?;
            let committing = Instant::now();
            timed.statements.observe(committing - begun);
            txn.commit().await?;
            timed.commit.observe(committing.elapsed());
            Ok(())
        }
        .await;
        (result, waiting)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Handle;
    use ledger::Tree;

    /// The pool's writer and the writer's own connection take turns on one
    /// SQLite log, in groups of many sizes: every entry lands once, names
    /// its person by pseudonym, and the subtree hashes either wrote make
    /// the root of the leaves as they are stored.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn both_sqlite_writers_extend_one_whole_tree() {
        let db = crate::testing::sqlite().await;
        let store = &db.store;
        let crate::DatabaseUrl::Sqlite(path) = &db.url else {
            unreachable!()
        };
        let people = [
            store
                .create_person(&Handle::parse("ada_lovelace").unwrap())
                .await
                .unwrap(),
            store
                .create_person(&Handle::parse("grace_hopper").unwrap())
                .await
                .unwrap(),
        ];
        let mut writer = SqliteWriter::open(path).unwrap();
        let mut written = 0;
        for round in 0..12usize {
            let group: Vec<Pending> = (0..round * 5 + 1)
                .map(|i| Pending {
                    read: Read {
                        time_unix_ms: (round * 1000 + i) as i64,
                        grant_id: format!("g{round}"),
                        company_id: "acme".to_owned(),
                        person_id: people[i % 2].id.as_str().to_owned(),
                        attributes: vec![AttributeKey::parse("email").unwrap()],
                    },
                    done: oneshot::channel().0,
                })
                .collect();
            written += group.len() as u64;
            let (result, waiting) = if round % 2 == 0 {
                store.write_disclosures_sqlite(&mut writer, group).await
            } else {
                store.write_disclosures(group).await
            };
            result.unwrap();
            assert_eq!(waiting.len(), round * 5 + 1);
        }
        let size = store.ledger_size().await.unwrap();
        assert_eq!(size, written);
        let mut tree = Tree::new();
        for (index, stored) in store
            .ledger_entries(0, size)
            .await
            .unwrap()
            .iter()
            .enumerate()
        {
            assert_eq!(stored.index, index as u64);
            tree.append(&stored.leaf);
            let EntryKind::Disclosure { person, .. } = &stored.entry.kind else {
                panic!("entry {index} is not a disclosure");
            };
            assert!(
                people
                    .iter()
                    .any(|p| p.pseudonym.as_str() == person.as_str()),
                "entry {index} names {person:?}"
            );
        }
        assert_eq!(store.ledger_root(size).await.unwrap(), tree.root());
        for index in [0, size / 3, size - 1] {
            let proof = store.inclusion_proof(index, size).await.unwrap();
            assert_eq!(proof.proof, tree.inclusion_proof(index, size).unwrap());
        }
        // A read for a person who does not exist fails alone, on both paths,
        // and leaves the log as it was.
        for own in [true, false] {
            let (done, _) = oneshot::channel();
            let ghost = vec![Pending {
                read: Read {
                    time_unix_ms: 0,
                    grant_id: "g".to_owned(),
                    company_id: "acme".to_owned(),
                    person_id: "nobody".to_owned(),
                    attributes: vec![],
                },
                done,
            }];
            let (result, _) = if own {
                store.write_disclosures_sqlite(&mut writer, ghost).await
            } else {
                store.write_disclosures(ghost).await
            };
            assert!(matches!(result, Err(StoreError::PersonNotFound)));
            assert_eq!(store.ledger_size().await.unwrap(), size);
        }
        // Both paths timed every group; the ghosts never reached a commit.
        let timed = &store.write_stats().disclosures;
        assert_eq!(timed.turn.snapshot().count, 14);
        assert_eq!(timed.statements.snapshot().count, 12);
        assert_eq!(timed.commit.snapshot().count, 12);
        db.cleanup().await;
    }
}
