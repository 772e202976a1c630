//! Test databases on both backends, each test with its own.
//!
//! SQLite: a fresh file in a temporary directory (a real file, in WAL mode,
//! as in production). PostgreSQL: a fresh schema on the server named by
//! `APIOME_TEST_POSTGRES_URL`; when that is unset the PostgreSQL variant of a
//! test prints a notice and passes, except under `CI=true`, where it fails.

use sea_orm::{ConnectionTrait, Database};

use crate::{DatabaseUrl, Store};

/// The variable naming the PostgreSQL server for tests.
pub const POSTGRES_ENV: &str = "APIOME_TEST_POSTGRES_URL";

/// A store on a database that exists for one test.
pub struct TestDb {
    /// The store under test.
    pub store: Store,
    /// Where it lives, for code that connects by itself (the server).
    pub url: DatabaseUrl,
    /// PostgreSQL schema, dropped by [`TestDb::cleanup`].
    schema: Option<String>,
    /// Keeps the SQLite directory alive for the test.
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// Drops the test's PostgreSQL schema (SQLite files go with their
    /// temporary directory).
    pub async fn cleanup(self) {
        self.store.close().await.ok();
        if let (Some(schema), DatabaseUrl::Postgres(url)) = (&self.schema, &self.url) {
            let base = url.split('?').next().unwrap_or(url);
            if let Ok(admin) = Database::connect(base).await {
                admin
                    .execute_unprepared(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                    .await
                    .ok();
                admin.close().await.ok();
            }
        }
    }
}

/// A fresh random data key for one test's store.
pub fn test_keys() -> crate::DataKeys {
    let key = crate::DataKeys::generate().expect("randomness");
    crate::DataKeys::new(&[key]).expect("one key")
}

/// A migrated SQLite database in a new temporary directory.
pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = DatabaseUrl::Sqlite(dir.path().join("apiome.db"));
    let store = Store::open(&url, test_keys()).await.expect("open SQLite");
    TestDb {
        store,
        url,
        schema: None,
        _dir: Some(dir),
    }
}

/// The PostgreSQL URL for tests, or `None` (with a notice) when the tests
/// should not run there. Panics under CI when it is missing.
pub fn postgres_url() -> Option<String> {
    match std::env::var(POSTGRES_ENV) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{POSTGRES_ENV} must be set in CI: PostgreSQL tests may not be skipped")
        }
        _ => {
            eprintln!("notice: {POSTGRES_ENV} is unset; skipping the PostgreSQL variant");
            None
        }
    }
}

/// A migrated PostgreSQL schema of its own, or `None` when PostgreSQL tests
/// are not configured (see [`postgres_url`]).
pub async fn postgres() -> Option<TestDb> {
    let base = postgres_url()?;
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("randomness");
    let schema = format!("t_{}", hex::encode(bytes));
    let admin = Database::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("cannot reach {POSTGRES_ENV}: {e}"));
    admin
        .execute_unprepared(&format!("CREATE SCHEMA \"{schema}\""))
        .await
        .expect("create the test schema");
    admin.close().await.ok();
    let separator = if base.contains('?') { '&' } else { '?' };
    let url = DatabaseUrl::Postgres(format!(
        "{base}{separator}options=-c%20search_path%3D{schema}"
    ));
    let store = Store::connect(
        &DatabaseUrl::Postgres(base.clone()),
        Some(&schema),
        test_keys(),
    )
    .await
    .expect("connect to PostgreSQL");
    store.migrate().await.expect("migrate PostgreSQL");
    Some(TestDb {
        store,
        url,
        schema: Some(schema),
        _dir: None,
    })
}

/// Defines a test that runs once on SQLite and once on PostgreSQL, as
/// `NAME::sqlite` and `NAME::postgres`. The body sees `store: &Store`.
#[macro_export]
macro_rules! store_test {
    ($name:ident, |$store:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = $crate::testing::sqlite().await;
                {
                    let $store: &$crate::Store = &db.store;
                    $body
                }
                db.cleanup().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(db) = $crate::testing::postgres().await else {
                    return;
                };
                {
                    let $store: &$crate::Store = &db.store;
                    $body
                }
                db.cleanup().await;
            }
        }
    };
}
