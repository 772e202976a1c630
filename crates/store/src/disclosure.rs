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
//! The group's transaction also decides whether each read may still
//! happen: in one statement for the whole group (after taking the ledger's
//! head lock on PostgreSQL, so that every change recorded before this
//! group is visible to it), it checks that each read's grant is still live
//! and that its person's `policy_version` is the one the read decided
//! under. A read that fails either check appends nothing and is told so
//! ([`Recorded`]): a revocation, a block or a move to private committed
//! before a read's entry is never outrun by that read, on either engine.
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

use crate::entity::{grant, person};
use crate::grant::{names, text};
use crate::ledger::{append_entries, append_entries_sqlite, head_size, now_unix_ms};
use crate::sqlite_writer::{SqliteWriter, database_error};
use crate::{Grant, Store, StoreError};

/// At most this many reads share one transaction (under the ledger's
/// per-append bound).
const MAX_GROUP: usize = 256;

/// What became of one read's entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// The entry is durable: the read may answer.
    Disclosed,
    /// The grant was revoked or ended before the entry could be written:
    /// nothing was recorded, and nothing may leave.
    GrantNotLive,
    /// The person changed what they share after the read decided: nothing
    /// was recorded; decide again on a fresh snapshot.
    PolicyChanged,
}

/// What one read discloses and under which snapshot of the policy.
#[derive(Clone, Debug)]
pub struct DisclosureRead {
    /// The attributes that leave.
    pub attributes: Vec<AttributeKey>,
    /// The granted attributes the policy withholds now.
    pub withheld: Vec<AttributeKey>,
    /// The person's `policy_version` the read decided under.
    pub policy_version: i64,
}

/// One read waiting for its entry to commit.
struct Pending {
    read: Read,
    done: Waiter,
}

/// The queue shared by the clones of a [`Store`].
#[derive(Debug, Default)]
pub(crate) struct DisclosureQueue {
    sender: OnceLock<mpsc::UnboundedSender<Pending>>,
    /// Grants whose first read is committed (and so marked in
    /// `notice_mark`): their reads add no statement to a group. Bounded by
    /// [`MAX_NOTICED`]; past it the set starts again, and a grant read
    /// again only meets its existing mark.
    noticed: std::sync::Mutex<HashSet<String>>,
}

/// Grants remembered as noticed, at most.
const MAX_NOTICED: usize = 100_000;

impl DisclosureQueue {
    /// The reads of `candidates` whose grant is not known to be noticed.
    fn unnoticed<'r>(&self, candidates: Vec<&'r Read>) -> Vec<&'r Read> {
        let noticed = self.noticed.lock().unwrap_or_else(|e| e.into_inner());
        candidates
            .into_iter()
            .filter(|read| !noticed.contains(&read.grant_id))
            .collect()
    }

    /// Remembers `grants` once their group committed.
    fn remember(&self, grants: Vec<String>) {
        if grants.is_empty() {
            return;
        }
        let mut noticed = self.noticed.lock().unwrap_or_else(|e| e.into_inner());
        if noticed.len() + grants.len() > MAX_NOTICED {
            noticed.clear();
        }
        noticed.extend(grants);
    }
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
            Ok(verdicts) => {
                for (done, verdict) in waiting.into_iter().zip(verdicts) {
                    let _ = done.send(Ok(verdict));
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

/// What one pending read's entry says, and the snapshot it decided under.
struct Read {
    time_unix_ms: i64,
    grant_id: String,
    company_id: String,
    person_id: String,
    attributes: Vec<AttributeKey>,
    withheld: Vec<AttributeKey>,
    policy_version: i64,
}

type Waiter = oneshot::Sender<Result<Recorded, StoreError>>;

/// What the group's transaction found for one read's grant: whether it is
/// live now and its person's policy version.
struct Found {
    live: bool,
    policy_version: i64,
}

/// Each read's fate, from what was found for its grant.
fn verdicts(reads: &[Read], found: &HashMap<String, Found>) -> Vec<Recorded> {
    reads
        .iter()
        .map(|read| match found.get(&read.grant_id) {
            Some(f) if !f.live => Recorded::GrantNotLive,
            None => Recorded::GrantNotLive,
            Some(f) if f.policy_version != read.policy_version => Recorded::PolicyChanged,
            Some(_) => Recorded::Disclosed,
        })
        .collect()
}

/// One disclosed read per grant of the group: where a grant's first use
/// may be (a `notice_mark` insert that finds its row, for every grant
/// read before, writes nothing).
fn first_reads<'r>(reads: &'r [Read], verdicts: &[Recorded]) -> Vec<&'r Read> {
    let mut seen = HashSet::new();
    reads
        .iter()
        .zip(verdicts)
        .filter(|(read, verdict)| {
            **verdict == Recorded::Disclosed && seen.insert(read.grant_id.as_str())
        })
        .map(|(read, _)| read)
        .collect()
}

/// A group's reads and, apart, whom to answer.
fn split(group: Vec<Pending>) -> (Vec<Read>, Vec<Waiter>) {
    group
        .into_iter()
        .map(|pending| (pending.read, pending.done))
        .unzip()
}

/// The disclosure entries of the reads that may happen, each naming its
/// person by pseudonym.
fn entries(
    reads: &[Read],
    verdicts: &[Recorded],
    pseudonyms: &HashMap<String, String>,
) -> Result<Vec<Entry>, StoreError> {
    reads
        .iter()
        .zip(verdicts)
        .filter(|(_, verdict)| **verdict == Recorded::Disclosed)
        .map(|(read, _)| {
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
                    withheld: names(&read.withheld)?,
                },
            ))
        })
        .collect()
}

impl Store {
    /// Records that the company read under `grant` what `read` says, if
    /// the grant is still live and the person's policy is still the one
    /// the read decided under; returns once the entry is committed, or
    /// once it is clear it may not be.
    pub async fn record_disclosure(
        &self,
        grant: &Grant,
        read: DisclosureRead,
    ) -> Result<Recorded, StoreError> {
        let (done, committed) = oneshot::channel();
        let pending = Pending {
            read: Read {
                time_unix_ms: now_unix_ms(),
                grant_id: grant.id.clone(),
                company_id: grant.company_id.to_string(),
                person_id: grant.person_id.as_str().to_owned(),
                attributes: read.attributes,
                withheld: read.withheld,
                policy_version: read.policy_version,
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
                result.map(|verdicts| verdicts.first().copied().unwrap_or(Recorded::GrantNotLive))
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
            receipts: self.receipts.clone(),
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

    /// [`Store::write_disclosures`] on the writer's own SQLite connection
    /// (whose `BEGIN IMMEDIATE`, in the write turn, already orders it
    /// after every committed change).
    async fn write_disclosures_sqlite(
        &self,
        writer: &mut SqliteWriter,
        group: Vec<Pending>,
    ) -> (Result<Vec<Recorded>, StoreError>, Vec<Waiter>) {
        let (reads, waiting) = split(group);
        let result = writer
            .write(self, &self.write_stats.disclosures, |txn| {
                let error = |e| database_error("checking a read's grant", e);
                let mut check = txn
                    .prepare_cached(
                        "SELECT g.revoked_at, g.expires_at, p.policy_version, p.pseudonym \
                         FROM data_grant g JOIN person p ON p.id = g.person_id WHERE g.id = ?1",
                    )
                    .map_err(error)?;
                let at = crate::now();
                let mut found = HashMap::new();
                let mut pseudonyms = HashMap::new();
                for read in &reads {
                    if found.contains_key(&read.grant_id) {
                        continue;
                    }
                    let row = check
                        .query_row([&read.grant_id], |row| {
                            let revoked =
                                !matches!(row.get_ref(0)?, rusqlite::types::ValueRef::Null);
                            let expires_at = crate::sqlite_reader::parse_timestamp(row.get_ref(1)?);
                            let version: i64 = row.get(2)?;
                            let pseudonym: String = row.get(3)?;
                            Ok((revoked, expires_at, version, pseudonym))
                        })
                        .optional()
                        .map_err(error)?;
                    if let Some((revoked, expires_at, policy_version, pseudonym)) = row {
                        let live = !revoked && expires_at.is_some_and(|end| at < end);
                        found.insert(
                            read.grant_id.clone(),
                            Found {
                                live,
                                policy_version,
                            },
                        );
                        pseudonyms.insert(read.person_id.clone(), pseudonym);
                    }
                }
                let verdicts = verdicts(&reads, &found);
                append_entries_sqlite(txn, &entries(&reads, &verdicts, &pseudonyms)?)?;
                // After the append: nothing lengthens the time between the
                // check above and the entries' place in the log.
                let fresh = self.disclosures.unnoticed(first_reads(&reads, &verdicts));
                for read in &fresh {
                    crate::notify::first_use_sqlite(
                        txn,
                        &read.grant_id,
                        &read.person_id,
                        &read.company_id,
                        &read.attributes,
                    )?;
                }
                let marked = fresh.iter().map(|r| r.grant_id.clone()).collect();
                Ok((verdicts, marked))
            })
            .await;
        let result = result.map(|(verdicts, marked)| {
            self.disclosures.remember(marked);
            verdicts
        });
        (result, waiting)
    }

    /// Appends one entry per pending read that may still happen, in one
    /// transaction; each read's fate and the waiters to tell.
    async fn write_disclosures(
        &self,
        group: Vec<Pending>,
    ) -> (Result<Vec<Recorded>, StoreError>, Vec<Waiter>) {
        let (reads, waiting) = split(group);
        let timed = &self.write_stats.disclosures;
        let result = async {
            let asked = Instant::now();
            let (_turn, txn) = self.write_txn().await?;
            let begun = Instant::now();
            timed.turn.observe(begun - asked);
            // The head lock first: a change that appended its entry has
            // committed by the time we hold it, so the check below sees it,
            // and one that has not yet appended will append after ours.
            head_size(&txn, self.backend(), true).await?;
            let grants: HashSet<&str> = reads.iter().map(|r| r.grant_id.as_str()).collect();
            let at = crate::now();
            let rows: Vec<(
                String,
                String,
                Option<time::OffsetDateTime>,
                time::OffsetDateTime,
            )> = grant::Entity::find()
                .select_only()
                .column(grant::Column::Id)
                .column(grant::Column::PersonId)
                .column(grant::Column::RevokedAt)
                .column(grant::Column::ExpiresAt)
                .filter(grant::Column::Id.is_in(grants))
                .into_tuple()
                .all(&txn)
                .await?;
            let people: HashSet<&str> = rows.iter().map(|r| r.1.as_str()).collect();
            let people: HashMap<String, (String, i64)> = person::Entity::find()
                .select_only()
                .column(person::Column::Id)
                .column(person::Column::Pseudonym)
                .column(person::Column::PolicyVersion)
                .filter(person::Column::Id.is_in(people))
                .into_tuple::<(String, String, i64)>()
                .all(&txn)
                .await?
                .into_iter()
                .map(|(id, pseudonym, version)| (id, (pseudonym, version)))
                .collect();
            let found: HashMap<String, Found> = rows
                .into_iter()
                .filter_map(|(id, person_id, revoked_at, expires_at)| {
                    let (_, policy_version) = people.get(&person_id)?;
                    let live = revoked_at.is_none() && at < expires_at;
                    Some((
                        id,
                        Found {
                            live,
                            policy_version: *policy_version,
                        },
                    ))
                })
                .collect();
            let pseudonyms: HashMap<String, String> = people
                .into_iter()
                .map(|(id, (pseudonym, _))| (id, pseudonym))
                .collect();
            let verdicts = verdicts(&reads, &found);
            append_entries(
                &txn,
                self.backend(),
                &entries(&reads, &verdicts, &pseudonyms)?,
            )
            .await?;
            let fresh = self.disclosures.unnoticed(first_reads(&reads, &verdicts));
            for read in &fresh {
                crate::notify::first_use(
                    &txn,
                    &read.grant_id,
                    &read.person_id,
                    &read.company_id,
                    &read.attributes,
                )
                .await?;
            }
            let marked: Vec<String> = fresh.iter().map(|r| r.grant_id.clone()).collect();
            let committing = Instant::now();
            timed.statements.observe(committing - begun);
            txn.commit().await?;
            timed.commit.observe(committing.elapsed());
            self.disclosures.remember(marked);
            Ok(verdicts)
        }
        .await;
        (result, waiting)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Channel, Handle};
    use consent_policy::{Bucket, CompanyId, DataRequest, GrantDuration, decide};
    use ledger::Tree;
    use serde_json::json;

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
        let company = CompanyId::parse("acme").unwrap();
        store.create_company(&company, "Acme").await.unwrap();
        let name = AttributeKey::parse("display_name").unwrap();
        let mut grants = Vec::new();
        for person in &people {
            store
                .put_attribute(&person.id, &name, &json!("Ada"), Bucket::Public)
                .await
                .unwrap();
            let request = DataRequest::from_json_value(
                json!({"type": "apiome_data", "attributes": ["display_name"],
                       "purpose": "service_provision", "duration": "P30D"}),
                &GrantDuration::parse("P1Y").unwrap(),
            )
            .unwrap();
            let decision = decide(
                &store.profile(&person.id).await.unwrap(),
                &company,
                &request,
            );
            let asked = store
                .record_request(&person.id, &company, &request, &decision, Channel::Async)
                .await
                .unwrap();
            let version = store
                .policy_snapshot(&person.id)
                .await
                .unwrap()
                .policy_version;
            grants.push((asked.grant_id.unwrap(), version));
        }
        let base = store.ledger_size().await.unwrap();
        let mut writer = SqliteWriter::open(path).unwrap();
        let mut written = 0;
        for round in 0..12usize {
            let group: Vec<Pending> = (0..round * 5 + 1)
                .map(|i| Pending {
                    read: Read {
                        time_unix_ms: (round * 1000 + i) as i64,
                        grant_id: grants[i % 2].0.clone(),
                        company_id: "acme".to_owned(),
                        person_id: people[i % 2].id.as_str().to_owned(),
                        attributes: vec![name.clone()],
                        withheld: Vec::new(),
                        policy_version: grants[i % 2].1,
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
            assert!(result.unwrap().iter().all(|v| *v == Recorded::Disclosed));
            assert_eq!(waiting.len(), round * 5 + 1);
        }
        let size = store.ledger_size().await.unwrap();
        assert_eq!(size, base + written);
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
            if stored.index < base {
                continue;
            }
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
        // A read under a grant that does not exist is refused alone, on
        // both paths, and leaves the log as it was.
        for own in [true, false] {
            let (done, _) = oneshot::channel();
            let ghost = vec![Pending {
                read: Read {
                    time_unix_ms: 0,
                    grant_id: "g".to_owned(),
                    company_id: "acme".to_owned(),
                    person_id: "nobody".to_owned(),
                    attributes: vec![],
                    withheld: vec![],
                    policy_version: 0,
                },
                done,
            }];
            let (result, _) = if own {
                store.write_disclosures_sqlite(&mut writer, ghost).await
            } else {
                store.write_disclosures(ghost).await
            };
            assert_eq!(result.unwrap(), [Recorded::GrantNotLive]);
            assert_eq!(store.ledger_size().await.unwrap(), size);
        }
        // Both paths timed every group, the ghosts' empty ones too.
        let timed = &store.write_stats().disclosures;
        assert_eq!(timed.turn.snapshot().count, 14);
        assert_eq!(timed.statements.snapshot().count, 14);
        assert_eq!(timed.commit.snapshot().count, 14);
        db.cleanup().await;
    }
}
