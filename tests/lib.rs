//! End-to-end test support: the real server, started in-process on a random
//! loopback port over a database of its own (SQLite, or a PostgreSQL schema
//! when `APIOME_TEST_POSTGRES_URL` is set), and a real headless Chromium
//! where one is installed.

mod company;
mod people;
mod receiver;
mod smtp;

use std::path::{Path, PathBuf};
use std::process::Command;

use server::config::Config;
use server::startup::Application;
pub use store::testing::{self, TestDb};

pub use company::{Company, OAuthClient, REDIRECT, oauth_http, query_param, set_cookie};
pub use people::{PASSWORD, Person};
pub use receiver::{Call, http_receiver, next_call};
pub use smtp::{ReceivedMail, SmtpReceiver};

/// A running server and what a test needs to talk to it.
pub struct TestApp {
    /// `http://localhost:PORT` (a host name, as browsers and WebAuthn need).
    pub base_url: String,
    /// The port.
    pub port: u16,
    /// The admin listener's port (`/metrics`).
    pub admin_port: u16,
    /// A plain HTTP client.
    pub http: reqwest::Client,
    db: Option<TestDb>,
    handle: server::startup::StopHandle,
    _data_dir: tempfile::TempDir,
}

impl TestApp {
    /// Starts the server on `db`.
    pub async fn spawn(db: TestDb) -> TestApp {
        TestApp::spawn_configured(db, |_| {}).await
    }

    /// Starts the server on `db` with the test configuration changed by
    /// `change`.
    pub async fn spawn_configured(db: TestDb, change: impl FnOnce(&mut Config)) -> TestApp {
        server::telemetry::init_for_tests();
        let data_dir = tempfile::tempdir().expect("a temporary data directory");
        TestApp::start(db, data_dir, change).await
    }

    /// Stops the server (as a crash would, before anything else runs) and
    /// starts a new one on the same database and data directory, with the
    /// test configuration changed by `change`.
    pub async fn restart_configured(mut self, change: impl FnOnce(&mut Config)) -> TestApp {
        self.handle.stop(false).await;
        let db = self
            .db
            .take()
            .expect("the database lives as long as the app");
        TestApp::start(db, self._data_dir, change).await
    }

    async fn start(
        mut db: TestDb,
        data_dir: tempfile::TempDir,
        change: impl FnOnce(&mut Config),
    ) -> TestApp {
        let mut config = Config::for_tests(data_dir.path().join("data"), db.url.clone());
        change(&mut config);
        // A stopped server lets go of a SQLite database a moment after
        // its handle says it stopped.
        let mut tries = 0;
        let app = loop {
            match Application::build(config.clone()).await {
                Ok(app) => break app,
                Err(server::startup::StartError::InUse(_)) if tries < 50 => {
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(e) => panic!("the server starts: {e}"),
            }
        };
        // Read what the server wrote with the keys it sealed it with.
        let keys =
            server::data_keys::load(&data_dir.path().join("data")).expect("the server's data keys");
        db.store = db.store.with_data_keys(keys);
        let port = app.port();
        let admin_port = app.admin_port();
        let handle = app.stop_handle();
        tokio::spawn(app.run_until_stopped());
        TestApp {
            base_url: format!("http://localhost:{port}"),
            port,
            admin_port,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("an HTTP client"),
            db: Some(db),
            handle,
            _data_dir: data_dir,
        }
    }

    /// Starts the server on SQLite.
    pub async fn sqlite() -> TestApp {
        TestApp::spawn(testing::sqlite().await).await
    }

    /// Starts the server on PostgreSQL, or `None` when it is not configured.
    pub async fn postgres() -> Option<TestApp> {
        Some(TestApp::spawn(testing::postgres().await?).await)
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// The body of `GET path`, whatever the status.
    pub async fn text(&self, path: &str) -> String {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect("the server answers")
            .text()
            .await
            .expect("a text body")
    }

    /// The body of `GET /metrics` on the admin listener (the operator's
    /// Prometheus text).
    pub async fn metrics(&self) -> String {
        let response = self
            .http
            .get(format!("http://127.0.0.1:{}/metrics", self.admin_port))
            .send()
            .await
            .expect("the server answers");
        assert_eq!(response.status(), 200, "GET /metrics");
        response.text().await.expect("a text body")
    }

    /// The server's data directory (its keys live there).
    pub fn data_dir(&self) -> PathBuf {
        self._data_dir.path().join("data")
    }

    /// The server's `DATABASE_URL`, as the `apiome` command takes it.
    pub fn database_url(&self) -> String {
        match &self
            .db
            .as_ref()
            .expect("the database lives as long as the app")
            .url
        {
            store::DatabaseUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
            store::DatabaseUrl::Postgres(url) => url.clone(),
        }
    }

    /// Runs the real `apiome` binary with `args` against this server's
    /// database and data directory, as an operator would on its host.
    pub async fn cli(&self, args: &[&str]) -> std::process::Output {
        tokio::process::Command::new(apiome_binary())
            .args(args)
            .env("DATABASE_URL", self.database_url())
            .env("APIOME_DATA_DIR", self.data_dir())
            .env("APIOME_ADMIN_BIND", "127.0.0.1:0")
            .env_remove("APIOME_CONFIG")
            .kill_on_drop(true)
            .output()
            .await
            .expect("the apiome binary runs")
    }

    /// The books an auditor rebuilds from the whole ledger, checked
    /// balanced.
    ///
    /// # Panics
    /// When the ledger cannot be read or its books do not balance.
    pub async fn books(&self) -> ledger::Books {
        let store = self.store();
        let size = store.ledger_size().await.expect("the ledger's size");
        let mut entries = Vec::new();
        while (entries.len() as u64) < size {
            let page = store
                .ledger_entries(entries.len() as u64, size)
                .await
                .expect("ledger entries");
            entries.extend(page.into_iter().map(|e| e.entry));
        }
        let books = ledger::Books::replay(&entries).expect("the books replay");
        books.check_invariants().expect("the books balance");
        books
    }

    /// The store the server runs on, for checking what it wrote.
    pub fn store(&self) -> &store::Store {
        &self
            .db
            .as_ref()
            .expect("the database lives as long as the app")
            .store
    }

    /// Stops the server and drops its database.
    pub async fn stop(mut self) {
        self.handle.stop(true).await;
        if let Some(db) = self.db.take() {
            db.cleanup().await;
        }
    }
}

/// Defines an end-to-end test that runs on SQLite (`NAME::sqlite`) and on
/// PostgreSQL (`NAME::postgres`). The body sees `app: &TestApp`.
///
/// `app_test!(NAME, db => run)` instead hands each engine's fresh database
/// to `async fn run(db: TestDb)`, for a test that starts (and restarts)
/// its own servers with a configuration of its own.
#[macro_export]
macro_rules! app_test {
    ($name:ident, db => $run:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$run($crate::testing::sqlite().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(db) = $crate::testing::postgres().await else {
                    return;
                };
                super::$run(db).await;
            }
        }
    };
    ($name:ident, |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::TestApp::sqlite().await;
                {
                    let $app: &$crate::TestApp = &app;
                    $body
                }
                app.stop().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(app) = $crate::TestApp::postgres().await else {
                    return;
                };
                {
                    let $app: &$crate::TestApp = &app;
                    $body
                }
                app.stop().await;
            }
        }
    };
}

/// The `apiome` binary of this build (`target/<profile>/apiome`), built
/// by `cargo test` with the rest of the workspace. A test that needs it
/// fails, saying how to build it, when it is missing.
pub fn apiome_binary() -> PathBuf {
    workspace_binary("apiome")
}

/// A binary of this workspace's build, by name (see [`apiome_binary`]).
pub fn workspace_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/<profile>/deps/<test binary>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps");
    let binary = profile_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.exists(),
        "{} is missing: run `cargo build --bins` (or the whole `cargo test`)",
        binary.display()
    );
    binary
}

/// A Python virtual environment with `requirement` (`name==version`)
/// installed from PyPI, made once per target directory (in
/// `target/tmp/python-name-version`): built in a temporary directory, then
/// moved into place, so tests running at once never see half of one. Its
/// `python`.
///
/// # Panics
/// When `python3 -m venv` or `pip install` fails.
pub fn python_with(requirement: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/<profile>/deps/<test binary>; CARGO_TARGET_TMPDIR is target/tmp
    let tmp = exe
        .ancestors()
        .nth(3)
        .expect("the test binary lives in target/<profile>/deps")
        .join("tmp");
    std::fs::create_dir_all(&tmp).expect("create target/tmp");
    let dir = tmp.join(format!("python-{}", requirement.replace("==", "-")));
    let python = dir.join("bin").join("python");
    if python.exists() {
        return python;
    }
    let staging = tempfile::tempdir_in(&tmp).expect("a staging directory");
    let venv = staging.path().join("venv");
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .expect("python3 runs");
    assert!(made.success(), "python3 -m venv");
    let installed = Command::new(venv.join("bin").join("pip"))
        .args(["install", "-q", "--disable-pip-version-check", requirement])
        .status()
        .expect("pip runs");
    assert!(installed.success(), "pip install {requirement}");
    if std::fs::rename(&venv, &dir).is_err() {
        assert!(python.exists(), "another test made it meanwhile");
    }
    python
}

/// Debian's Chromium, if installed. Browser tests print a notice and pass
/// without it, except under `CI=true`, where CI installs it and its absence
/// is a failure.
pub fn chromium() -> Option<PathBuf> {
    let found = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "Chromium is required in CI (apt-get install chromium chromium-driver)"
        );
        eprintln!("notice: no Chromium found; skipping the browser test");
    }
    found
}

/// A headless Chromium command with the flags that keep it off the network
/// and a fresh profile in `profile_dir`.
pub fn headless_chromium(binary: &Path, profile_dir: &Path) -> Command {
    let mut command = Command::new(binary);
    command.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-default-apps",
        "--disable-features=AutofillServerCommunication,MediaRouter,OptimizationHints,Translate",
    ]);
    command.arg(format!("--user-data-dir={}", profile_dir.display()));
    command
}

/// Where tests leave artifacts (screenshots) for people to look at.
pub fn artifacts_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts");
    std::fs::create_dir_all(&dir).expect("create tests/artifacts");
    dir
}

/// The kind of a problem document: the fragment of its `type`, which must
/// be an absolute `http(s)://…/docs/problems#<kind>` URI (RFC 9457).
pub fn problem_kind(problem: &serde_json::Value) -> &str {
    let uri = problem["type"].as_str().expect("a problem has a type");
    let (page, kind) = uri
        .split_once('#')
        .unwrap_or_else(|| panic!("problem type {uri:?} has no #kind"));
    assert!(
        page.starts_with("http") && page.ends_with("/docs/problems"),
        "problem type {uri:?} is not absolute or not the problems page"
    );
    kind
}
