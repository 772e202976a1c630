//! The deny list of access tokens, held in memory by the one server that
//! owns a SQLite database.
//!
//! Every bearer call and every introspection asks whether the token's `jti`
//! was revoked. The answer is almost always "no", and on SQLite reading it
//! costs a read transaction (`btreeBeginTrans`, the `-shm` read mark): 18 %
//! of an introspection's server time in a profile under load. The
//! list itself is tiny — tokens live minutes and are rarely revoked.
//!
//! Memory can answer "no" only if no revocation can reach the table without
//! passing through this process. So the list is kept only while the process
//! holds a [`DatabaseLock`] on the SQLite file: `apiome serve` takes it, a
//! second server on the same file is refused, and the admin commands (which
//! never revoke tokens) do not need it. On PostgreSQL several servers share
//! the table and every check reads it.
//!
//! The list is loaded when the lock is taken and added to after each
//! revocation commits, so a revocation answers the next read. It is bounded:
//! past [`MAX_REVOKED_IN_MEMORY`] `jti`s it stops being complete, and a
//! `jti` it does not hold is looked up in the table, until the sweep that
//! forgets expired tokens finds the list small enough to load whole again.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

use crate::entity::oauth_revoked_access;
use crate::{Store, StoreError};

/// `jti`s kept in memory (~100 bytes each: a few MiB at most). Revoking more
/// unexpired tokens than this falls back to reading the table.
pub const MAX_REVOKED_IN_MEMORY: usize = 65_536;

/// How long past its expiry a revoked `jti` is kept. An expired token is
/// refused for its expiry whether or not it was revoked; the margin only
/// covers a clock stepped back.
const EXPIRED_GRACE_SECS: i64 = 60;

fn now_secs() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The revoked `jti`s this process knows of, and whether they are all.
#[derive(Debug)]
pub(crate) struct RevokedAccess {
    state: RwLock<State>,
    bound: usize,
}

#[derive(Debug, Default)]
struct State {
    /// Revocations are being recorded (a load is under way or done).
    tracking: bool,
    /// This process holds the database's [`DatabaseLock`]: no one else
    /// writes the table.
    alone: bool,
    /// Every unexpired revoked `jti` in the table is in `jtis`.
    complete: bool,
    /// How many revocations were not kept for want of room; a load that
    /// began before one of them cannot make the list complete.
    lost: u64,
    /// `jti` → its token's expiry (Unix seconds).
    jtis: HashMap<Box<str>, i64>,
}

impl Default for RevokedAccess {
    fn default() -> Self {
        RevokedAccess::with_bound(MAX_REVOKED_IN_MEMORY)
    }
}

impl RevokedAccess {
    pub(crate) fn with_bound(bound: usize) -> Self {
        RevokedAccess {
            state: RwLock::default(),
            bound,
        }
    }

    /// `Some(answer)` when memory knows; `None` when the table must be read.
    pub(crate) fn lookup(&self, jti: &str) -> Option<bool> {
        let state = self.state.read().ok()?;
        if !state.alone {
            return None;
        }
        if state.jtis.contains_key(jti) {
            return Some(true);
        }
        state.complete.then_some(false)
    }

    /// After a revocation of `jti` (expiring at `expires_at`) committed.
    pub(crate) fn record(&self, jti: &str, expires_at: i64) {
        let Ok(mut state) = self.state.write() else {
            return;
        };
        if !state.tracking {
            return;
        }
        if let Some(known) = state.jtis.get_mut(jti) {
            *known = (*known).max(expires_at);
        } else if state.jtis.len() < self.bound {
            state.jtis.insert(jti.into(), expires_at);
        } else {
            state.complete = false;
            state.lost += 1;
        }
    }

    /// Starts recording revocations before a load reads the table, so that
    /// none committed in between is missed; returns the count of lost ones
    /// to hand to [`RevokedAccess::load`].
    fn start_loading(&self) -> Option<u64> {
        let mut state = self.state.write().ok()?;
        state.tracking = true;
        Some(state.lost)
    }

    /// Adds the table's unexpired rows, read after
    /// [`RevokedAccess::start_loading`] returned `lost_before`. `rows` holds
    /// at most one more than the bound; a full table leaves the list
    /// incomplete.
    fn load(&self, rows: Vec<(String, i64)>, lost_before: u64) {
        let Ok(mut state) = self.state.write() else {
            return;
        };
        if !state.tracking {
            return;
        }
        let mut kept_all = rows.len() <= self.bound;
        for (jti, expires_at) in rows {
            if let Some(known) = state.jtis.get_mut(jti.as_str()) {
                *known = (*known).max(expires_at);
            } else if state.jtis.len() < self.bound {
                state.jtis.insert(jti.into_boxed_str(), expires_at);
            } else {
                kept_all = false;
                break;
            }
        }
        // Union, never replace: a revocation recorded while the rows were
        // read stays. Complete only if every row was kept and nothing was
        // lost since the read began.
        state.complete = kept_all && state.lost == lost_before;
    }

    fn set_alone(&self, alone: bool) {
        if let Ok(mut state) = self.state.write() {
            state.alone = alone;
            if !alone {
                *state = State::default();
            }
        }
    }

    /// Drops `jti`s whose tokens expired before `cutoff`.
    fn forget_before(&self, cutoff: i64) {
        if let Ok(mut state) = self.state.write() {
            state.jtis.retain(|_, expires_at| *expires_at >= cutoff);
        }
    }

    /// Held alone but incomplete: worth loading again.
    fn wants_load(&self) -> bool {
        self.state
            .read()
            .is_ok_and(|state| state.alone && !state.complete)
    }

    #[cfg(test)]
    fn is_complete(&self) -> bool {
        self.state.read().is_ok_and(|state| state.complete)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.state.read().map_or(0, |state| state.jtis.len())
    }
}

/// An exclusive lock on a SQLite database: while it is held no other
/// process can take it. `apiome serve` holds one for its life (and keeps
/// the deny list in memory meanwhile); `apiome restore` holds one while it
/// replaces the file. The kernel releases it when the process ends, however
/// it ends.
#[derive(Debug)]
pub struct DatabaseLock {
    _file: File,
    path: PathBuf,
    revoked: Option<Arc<RevokedAccess>>,
}

impl DatabaseLock {
    /// Takes the lock on the SQLite database `database` (a file beside it,
    /// `DATABASE.lock`), or says who has it.
    pub fn acquire(database: &Path) -> Result<DatabaseLock, StoreError> {
        let path = lock_path(database);
        let fail = |source| StoreError::CreateFile {
            path: path.display().to_string(),
            source,
        };
        let file = {
            use std::os::unix::fs::OpenOptionsExt as _;
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(&path)
                .map_err(fail)?
        };
        match file.try_lock() {
            Ok(()) => Ok(DatabaseLock {
                _file: file,
                path,
                revoked: None,
            }),
            Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::InUse {
                database: database.display().to_string(),
            }),
            Err(std::fs::TryLockError::Error(source)) => Err(fail(source)),
        }
    }

    /// The lock on `url`'s database; `Ok(None)` on PostgreSQL, which
    /// several servers share.
    pub fn acquire_for(url: &crate::DatabaseUrl) -> Result<Option<DatabaseLock>, StoreError> {
        match url {
            crate::DatabaseUrl::Sqlite(path) => DatabaseLock::acquire(path).map(Some),
            crate::DatabaseUrl::Postgres(_) => Ok(None),
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DatabaseLock {
    fn drop(&mut self) {
        // Someone else may write the table from now on.
        if let Some(revoked) = &self.revoked {
            revoked.set_alone(false);
        }
    }
}

/// `DIR/NAME.lock` for the database `DIR/NAME`, with `DIR` resolved, so
/// that two spellings of one directory meet at one lock (the database file
/// itself may not exist yet).
fn lock_path(database: &Path) -> PathBuf {
    let mut name = database.file_name().unwrap_or_default().to_owned();
    name.push(".lock");
    let dir = match database.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::canonicalize(dir)
        .unwrap_or_else(|_| dir.to_owned())
        .join(name)
}

impl Store {
    /// From now on, and for as long as `lock` lives, answers "was this
    /// access token revoked?" from memory (see [`crate::revoked`]). `lock`
    /// is this store's own SQLite file's, taken before the store was opened
    /// so that a second server is refused before it migrates a database the
    /// first is serving. A lock on another file, or a PostgreSQL store,
    /// changes nothing: every check reads the table.
    pub async fn serve_alone(&self, mut lock: DatabaseLock) -> Result<DatabaseLock, StoreError> {
        let Some(reader) = &self.sqlite_reader else {
            return Ok(lock);
        };
        if lock.path != lock_path(reader.path()) {
            return Ok(lock);
        }
        self.load_revocations().await?;
        self.revoked.set_alone(true);
        lock.revoked = Some(Arc::clone(&self.revoked));
        Ok(lock)
    }

    /// Reads the table's unexpired rows into memory (at most one past the
    /// bound: a fuller table is not worth holding).
    async fn load_revocations(&self) -> Result<(), StoreError> {
        let Some(lost_before) = self.revoked.start_loading() else {
            return Ok(());
        };
        let limit = u64::try_from(self.revoked.bound).unwrap_or(u64::MAX);
        let rows = oauth_revoked_access::Entity::find()
            .filter(oauth_revoked_access::Column::ExpiresAt.gte(now_secs() - EXPIRED_GRACE_SECS))
            .limit(limit.saturating_add(1))
            .all(&self.db)
            .await?;
        self.revoked.load(
            rows.into_iter().map(|r| (r.jti, r.expires_at)).collect(),
            lost_before,
        );
        Ok(())
    }

    /// Deletes revoked `jti`s whose tokens have expired (a token past its
    /// expiry is refused for that), here and in memory; reloads the memory
    /// list if it had overflowed and now fits. Returns the rows deleted.
    pub async fn forget_expired_revocations(&self) -> Result<u64, StoreError> {
        let cutoff = now_secs() - EXPIRED_GRACE_SECS;
        let deleted = oauth_revoked_access::Entity::delete_many()
            .filter(oauth_revoked_access::Column::ExpiresAt.lt(cutoff))
            .exec(&self.db)
            .await?
            .rows_affected;
        self.revoked.forget_before(cutoff);
        if self.revoked.wants_load() {
            self.load_revocations().await?;
        }
        Ok(deleted)
    }

    /// The same database with a revocation list of its own bounded at
    /// `bound`, as a fresh process would have.
    #[cfg(test)]
    pub(crate) fn with_revocation_bound(&self, bound: usize) -> Store {
        Store {
            revoked: Arc::new(RevokedAccess::with_bound(bound)),
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store_test;
    use authz::UnixTime;
    use sea_orm::ConnectionTrait;

    fn in_an_hour() -> UnixTime {
        UnixTime::from_secs(u64::try_from(now_secs() + 3600).unwrap())
    }

    fn an_hour_ago() -> UnixTime {
        UnixTime::from_secs(u64::try_from(now_secs() - 3600).unwrap())
    }

    /// What `apiome serve` does: the lock, then memory (SQLite only).
    async fn claim(store: &Store) -> Option<DatabaseLock> {
        let path = store.sqlite_reader.as_ref()?.path().to_owned();
        let lock = DatabaseLock::acquire(&path).unwrap();
        Some(store.serve_alone(lock).await.unwrap())
    }

    async fn revoke(store: &Store, jti: &str, expires_at: UnixTime) {
        store.revoke_access_token(jti, expires_at).await.unwrap();
    }

    #[test]
    fn memory_answers_only_while_alone_and_complete() {
        let list = RevokedAccess::with_bound(2);
        assert_eq!(list.lookup("a"), None, "not alone: read the table");
        list.record("a", 10);
        assert_eq!(list.len(), 0, "nothing is recorded before a load starts");

        let lost = list.start_loading().unwrap();
        list.record("b", 10);
        list.load(vec![("a".into(), 10)], lost);
        list.set_alone(true);
        assert!(list.is_complete());
        assert_eq!(list.lookup("a"), Some(true), "loaded");
        assert_eq!(list.lookup("b"), Some(true), "recorded during the load");
        assert_eq!(list.lookup("c"), Some(false), "complete: memory says no");

        list.record("c", 20);
        assert_eq!(list.lookup("c"), None, "past the bound: unknown");
        assert_eq!(list.lookup("a"), Some(true), "what it holds is still known");
        assert!(!list.is_complete());

        list.forget_before(15);
        assert_eq!(list.len(), 0);
        assert!(list.wants_load());
        let lost = list.start_loading().unwrap();
        list.load(vec![("c".into(), 20)], lost);
        assert_eq!(list.lookup("c"), Some(true));
        assert_eq!(list.lookup("d"), Some(false), "loaded whole again");

        list.set_alone(false);
        assert_eq!(list.lookup("c"), None, "released: read the table");
        assert_eq!(list.len(), 0);
    }

    #[test]
    fn a_load_is_incomplete_if_a_revocation_was_lost_while_it_read() {
        let list = RevokedAccess::with_bound(1);
        let lost = list.start_loading().unwrap();
        list.record("a", 10);
        list.record("b", 10); // no room: lost
        list.load(Vec::new(), lost);
        list.set_alone(true);
        assert!(!list.is_complete());
        assert_eq!(list.lookup("b"), None);

        list.forget_before(11);
        let lost = list.start_loading().unwrap();
        list.load(vec![("b".into(), 30), ("c".into(), 30)], lost);
        assert!(!list.is_complete(), "more rows than the bound");
        assert_eq!(list.lookup("zz"), None);
    }

    #[test]
    fn rows_that_do_not_fit_beside_what_was_recorded_leave_it_incomplete() {
        let list = RevokedAccess::with_bound(2);
        let lost = list.start_loading().unwrap();
        list.record("a", 10);
        list.load(vec![("b".into(), 10), ("c".into(), 10)], lost);
        list.set_alone(true);
        assert!(!list.is_complete(), "three revoked, room for two");
        assert_eq!(list.len(), 2);
        assert_eq!(list.lookup("zz"), None);

        let lost = list.start_loading().unwrap();
        list.load(vec![("a".into(), 12), ("b".into(), 10)], lost);
        assert!(list.is_complete(), "rows already held take no room");
    }

    #[test]
    fn a_jti_recorded_twice_keeps_the_later_expiry() {
        let list = RevokedAccess::with_bound(4);
        list.start_loading();
        list.record("a", 10);
        list.record("a", 30);
        list.record("a", 20);
        list.forget_before(25);
        list.set_alone(true);
        assert_eq!(list.len(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_server_at_a_time_holds_a_sqlite_database() {
        let db = crate::testing::sqlite().await;
        let crate::DatabaseUrl::Sqlite(path) = &db.url else {
            unreachable!()
        };
        let first = claim(&db.store).await.expect("SQLite");
        assert!(first.path().ends_with("apiome.db.lock"));
        let refused = DatabaseLock::acquire_for(&db.url).unwrap_err();
        assert!(matches!(refused, StoreError::InUse { .. }), "{refused}");
        let message = refused.to_string();
        assert!(
            message.contains(&path.display().to_string()) && message.contains("another"),
            "{message}"
        );
        // Another spelling of the same file meets the same lock.
        let dotted = path.parent().unwrap().join(".").join("apiome.db");
        assert!(DatabaseLock::acquire(&dotted).is_err());

        // A lock on another file does not let a store answer from memory.
        let second = Store::open(&db.url, crate::testing::test_keys())
            .await
            .unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let other = DatabaseLock::acquire(&elsewhere.path().join("other.db")).unwrap();
        let other = second.serve_alone(other).await.unwrap();
        assert_eq!(second.revoked.lookup("x"), None, "still reads the table");
        drop(other);

        drop(first);
        let taken = claim(&second).await;
        assert!(taken.is_some(), "free once the first lets go");
        assert_eq!(second.revoked.lookup("x"), Some(false), "now from memory");
        second.close().await.unwrap();
        db.cleanup().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_server_that_holds_the_database_answers_from_memory() {
        let db = crate::testing::sqlite().await;
        let store = &db.store;
        revoke(store, "before", in_an_hour()).await;
        let lock = claim(store).await.unwrap();
        revoke(store, "after", in_an_hour()).await;
        for jti in ["before", "after"] {
            assert!(store.access_token_revoked(jti).await.unwrap(), "{jti}");
        }
        assert!(!store.access_token_revoked("never").await.unwrap());

        // Memory answers: with the rows gone behind its back, both are still
        // known. (Only a second writer could do this, and the lock keeps
        // one out.)
        store
            .db
            .execute_unprepared("DELETE FROM oauth_revoked_access")
            .await
            .unwrap();
        assert!(store.access_token_revoked("before").await.unwrap());
        assert!(store.access_token_revoked("after").await.unwrap());

        // Released, the table answers again.
        drop(lock);
        assert!(!store.access_token_revoked("before").await.unwrap());
        db.cleanup().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn past_the_bound_the_table_answers_until_expiry_frees_room() {
        let db = crate::testing::sqlite().await;
        let store = db.store.with_revocation_bound(4);
        let _lock = claim(&store).await.unwrap();
        for i in 0..6 {
            let jti = format!("old-{i}");
            revoke(&store, &jti, an_hour_ago()).await;
        }
        revoke(&store, "live", in_an_hour()).await;
        assert!(
            !store.revoked.is_complete(),
            "seven revocations, room for four"
        );
        assert!(
            store.access_token_revoked("live").await.unwrap(),
            "not in memory, so read from the table"
        );
        assert!(store.access_token_revoked("old-5").await.unwrap());
        assert!(!store.access_token_revoked("never").await.unwrap());

        assert_eq!(store.forget_expired_revocations().await.unwrap(), 6);
        assert!(store.revoked.is_complete(), "one row left: loaded whole");
        assert_eq!(store.revoked.len(), 1);
        assert!(store.access_token_revoked("live").await.unwrap());
        assert!(!store.access_token_revoked("old-5").await.unwrap());
        db.cleanup().await;
    }

    store_test!(expired_revocations_are_forgotten_live_ones_kept, |store| {
        let lock = claim(store).await;
        assert_eq!(
            lock.is_some(),
            store.backend() == crate::Backend::Sqlite,
            "PostgreSQL is shared: no lock, every check reads the table"
        );
        revoke(store, "old", an_hour_ago()).await;
        revoke(store, "live", in_an_hour()).await;
        assert_eq!(store.forget_expired_revocations().await.unwrap(), 1);
        assert_eq!(store.forget_expired_revocations().await.unwrap(), 0);
        assert!(store.access_token_revoked("live").await.unwrap());
        assert!(!store.access_token_revoked("old").await.unwrap());
        let pool = store.without_sqlite_reader();
        assert!(pool.access_token_revoked("live").await.unwrap());
        assert!(!pool.access_token_revoked("old").await.unwrap());
        drop(lock);
    });
}
