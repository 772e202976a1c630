//! The transparency log's signing key and its checkpoints.
//!
//! The key is an Ed25519 key kept as `DATA_DIR/keys/ledger.key` (the C2SP
//! `PRIVATE+KEY+<name>+<id>+<seed>` text, mode 0600, in a 0700 directory),
//! made on first start and loaded ever after. Its name is the log's origin,
//! `<public host>/apiome-ledger`, fixed when the key is made: auditors pin
//! the verifier key, name included, so a later change of public URL does
//! not rename the log. Every process that shares a database must share
//! this file.
//!
//! A background task signs a checkpoint of the log whenever it has grown,
//! at most [`CHECKPOINT_INTERVAL`] after the growth; the checkpoint
//! endpoint signs one on demand when the latest is stale.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ledger::{Checkpoint, Hash, NoteSigner};
use store::{Store, StoreError, StoredCheckpoint};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The directory under the data directory that holds the server's keys.
pub const KEY_DIR: &str = "keys";
/// The log key's file name inside [`KEY_DIR`].
pub const KEY_FILE: &str = "ledger.key";
/// What follows the public host in the log's name.
pub const ORIGIN_SUFFIX: &str = "/apiome-ledger";
/// How often the background task looks for growth to sign.
pub const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);

/// The log key cannot be made or read.
#[derive(Debug, thiserror::Error)]
pub enum LedgerKeyError {
    /// The key file or its directory cannot be written.
    #[error(
        "cannot create the ledger key {}: {source} (check that the data directory is writable)",
        path.display()
    )]
    Create {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The key file cannot be read.
    #[error("cannot read the ledger key {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The key file does not hold a signer key.
    #[error(
        "the ledger key {} is corrupt: {reason} (restore it from a backup; a new key would not be the one auditors trust)",
        path.display()
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The public URL gives no usable log name.
    #[error(
        "cannot name the ledger {0:?}: a log name is 1 to 256 bytes with no space or '+' (set --public-url or APIOME_PUBLIC_URL)"
    )]
    Name(String),
    /// The system gave no randomness for a new key.
    #[error("cannot make a ledger key: no randomness: {0}")]
    Random(String),
}

/// The log's name for a public URL: its host followed by [`ORIGIN_SUFFIX`].
pub fn log_name(public_url: &url::Url) -> String {
    format!(
        "{}{ORIGIN_SUFFIX}",
        public_url.host_str().unwrap_or("localhost")
    )
}

/// The key file's path under `data_dir`.
pub fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join(KEY_DIR).join(KEY_FILE)
}

/// The log's signer: a checked Ed25519 note key whose name is a valid
/// checkpoint origin. Cheap to clone.
#[derive(Clone, Debug)]
pub struct LedgerSigner {
    signer: Arc<NoteSigner>,
}

impl LedgerSigner {
    /// Wraps a note key, checking that its name can be a checkpoint origin.
    pub fn new(signer: NoteSigner) -> Result<LedgerSigner, LedgerKeyError> {
        Checkpoint::new(signer.name(), 0, ledger::EMPTY_ROOT)
            .map_err(|_| LedgerKeyError::Name(signer.name().to_owned()))?;
        Ok(LedgerSigner {
            signer: Arc::new(signer),
        })
    }

    /// Loads the key from `DATA_DIR/keys/ledger.key`, or makes and stores a
    /// new one named `name` when there is none. An existing key keeps its
    /// own name (with a warning when it differs from `name`).
    pub fn load_or_create(data_dir: &Path, name: &str) -> Result<LedgerSigner, LedgerKeyError> {
        let path = key_path(data_dir);
        let signer = match read_key(&path)? {
            Some(signer) => signer,
            None => create_key(&path, name)?,
        };
        if signer.name() != name {
            tracing::warn!(
                key = %path.display(), key_name = signer.name(), public_url_name = name,
                "the ledger key keeps the name it was made with; the log's origin does not follow the public URL"
            );
        }
        LedgerSigner::new(signer)
    }

    /// The log key from where the configuration says: `ledger_key` (the
    /// C2SP `PRIVATE+KEY+…` text itself), `ledger_key_file`, or by default
    /// `DATA_DIR/keys/ledger.key`, made on first start named `name` (with
    /// a warning when that names this machine: the name is for good).
    ///
    /// # Errors
    /// A configured key that is not one or a file that cannot be read.
    pub fn load_from(
        sources: &crate::config::KeySources,
        data_dir: &Path,
        name: &str,
    ) -> Result<LedgerSigner, LedgerKeyError> {
        let configured = |text: &str, path: PathBuf| {
            NoteSigner::from_skey(text.trim())
                .map_err(|e| LedgerKeyError::Corrupt {
                    path,
                    reason: e.to_string(),
                })
                .and_then(LedgerSigner::new)
        };
        if let Some(key) = &sources.ledger_key {
            return configured(
                key.expose(),
                PathBuf::from("ledger_key (APIOME_LEDGER_KEY)"),
            );
        }
        if let Some(path) = &sources.ledger_key_file {
            return match read_key(path)? {
                Some(signer) => LedgerSigner::new(signer),
                None => Err(LedgerKeyError::Read {
                    path: path.clone(),
                    source: io::Error::new(
                        io::ErrorKind::NotFound,
                        "no such file (ledger_key_file)",
                    ),
                }),
            };
        }
        if !key_path(data_dir).exists() && names_this_machine(name) {
            tracing::warn!(
                log_name = name,
                "naming the transparency log for this machine, for good: auditors pin this name; \
                 set public_url to the public origin before the first start of a real deployment"
            );
        }
        LedgerSigner::load_or_create(data_dir, name)
    }

    /// The log's name: the checkpoint origin and the key name.
    pub fn name(&self) -> &str {
        self.signer.name()
    }

    /// The verifier key auditors pin: `<name>+<id>+<base64 key>`.
    pub fn vkey(&self) -> String {
        self.signer.vkey()
    }

    /// The matching verifier.
    pub fn verifier(&self) -> ledger::NoteVerifier {
        self.signer.verifier()
    }

    /// A signed checkpoint note for the tree of `tree_size` leaves with head `root`.
    pub fn sign(&self, tree_size: u64, root: &Hash) -> String {
        let checkpoint = Checkpoint::new(self.signer.name(), tree_size, *root)
            .expect("the origin was checked when the signer was made");
        ledger::sign_checkpoint(&checkpoint, &self.signer)
    }
}

/// Whether a log name is that of a trial on this machine.
fn names_this_machine(name: &str) -> bool {
    let host = name.strip_suffix(ORIGIN_SUFFIX).unwrap_or(name);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host.ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback() || ip.is_unspecified())
}

fn read_key(path: &Path) -> Result<Option<NoteSigner>, LedgerKeyError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.kind() == io::ErrorKind::InvalidData => {
            return Err(LedgerKeyError::Corrupt {
                path: path.to_owned(),
                reason: "it is not text".to_owned(),
            });
        }
        Err(source) => {
            return Err(LedgerKeyError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    let signer = NoteSigner::from_skey(text.trim_end_matches('\n')).map_err(|e| {
        LedgerKeyError::Corrupt {
            path: path.to_owned(),
            reason: e.to_string(),
        }
    })?;
    if let Ok(meta) = fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(key = %path.display(), "the ledger key is readable by others; chmod 600 it");
    }
    Ok(Some(signer))
}

/// Writes a new key so that the file appears whole or not at all: into a
/// private temporary file, then hard-linked into place, which fails if
/// another process made the key first (then that key is used).
fn create_key(path: &Path, name: &str) -> Result<NoteSigner, LedgerKeyError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let create = |path: &Path| {
        let path = path.to_owned();
        move |source| LedgerKeyError::Create { path, source }
    };
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(create(dir))?;

    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| LedgerKeyError::Random(e.to_string()))?;
    let signer = NoteSigner::from_seed(name, seed);
    seed.fill(0);
    let signer = signer.map_err(|_| LedgerKeyError::Name(name.to_owned()))?;

    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).map_err(|e| LedgerKeyError::Random(e.to_string()))?;
    let temporary = dir.join(format!(".{KEY_FILE}.{}.tmp", hex_string(&suffix)));
    let written = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temporary)?;
        file.write_all(signer.skey().as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()
    })();
    if let Err(source) = written {
        fs::remove_file(&temporary).ok();
        return Err(LedgerKeyError::Create {
            path: temporary,
            source,
        });
    }
    let linked = fs::hard_link(&temporary, path);
    fs::remove_file(&temporary).ok();
    match linked {
        Ok(()) => {
            if let Ok(dir) = fs::File::open(dir) {
                dir.sync_all().ok();
            }
            tracing::info!(key = %path.display(), vkey = %signer.vkey(), "made a new ledger key");
            Ok(signer)
        }
        // Another process made it between our read and our link: use theirs.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            read_key(path)?.ok_or_else(|| LedgerKeyError::Read {
                path: path.to_owned(),
                source: io::Error::new(io::ErrorKind::NotFound, "it vanished"),
            })
        }
        Err(source) => Err(LedgerKeyError::Create {
            path: path.to_owned(),
            source,
        }),
    }
}

fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The latest signed checkpoint, signing and saving one first when there is
/// none yet or the log has grown past it.
pub async fn current_checkpoint(
    store: &Store,
    signer: &LedgerSigner,
) -> Result<StoredCheckpoint, StoreError> {
    let size = store.ledger_size().await?;
    match store.latest_checkpoint().await? {
        Some(latest) if latest.tree_size >= size => Ok(latest),
        _ => sign_and_save(store, signer, size).await,
    }
}

/// Signs the log's head at `tree_size` and saves it (keeping any checkpoint
/// another process saved for the same size first).
async fn sign_and_save(
    store: &Store,
    signer: &LedgerSigner,
    tree_size: u64,
) -> Result<StoredCheckpoint, StoreError> {
    let root = store.ledger_root(tree_size).await?;
    // Signing is one Ed25519 signature (tens of microseconds): fine inline.
    let note = signer.sign(tree_size, &root);
    store.save_checkpoint(tree_size, &root, &note).await
}

/// The background task that signs checkpoints while the log grows.
pub struct CheckpointTask {
    stop: watch::Sender<()>,
    handle: JoinHandle<()>,
}

impl CheckpointTask {
    /// Starts signing: every [`CHECKPOINT_INTERVAL`], when the log has grown
    /// since the last look, a checkpoint of its new size. The task ends
    /// when [`CheckpointTask::stop`] is called or the task value is dropped.
    pub fn spawn(store: Store, signer: LedgerSigner) -> CheckpointTask {
        let (stop, mut stopped) = watch::channel(());
        let handle = tokio::spawn(async move {
            let mut interval = tokio::time::interval(CHECKPOINT_INTERVAL);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut signed_size: Option<u64> = None;
            loop {
                tokio::select! {
                    _ = interval.tick() => {}
                    // A stop signal, or the sender dropped with the application.
                    _ = stopped.changed() => break,
                }
                match sign_if_grown(&store, &signer, signed_size).await {
                    Ok(size) => signed_size = Some(size),
                    Err(e) => tracing::warn!(error = %e, "signing a ledger checkpoint"),
                }
            }
        });
        CheckpointTask { stop, handle }
    }

    /// Stops the task, letting a signature in progress finish.
    pub async fn stop(self) {
        self.stop.send(()).ok();
        if let Err(e) = self.handle.await {
            tracing::warn!(error = %e, "the checkpoint task failed");
        }
    }
}

/// Signs a checkpoint when the log's size is not `signed_size` and no
/// checkpoint covers it yet; returns the size now covered.
async fn sign_if_grown(
    store: &Store,
    signer: &LedgerSigner,
    signed_size: Option<u64>,
) -> Result<u64, StoreError> {
    let size = store.ledger_size().await?;
    if signed_size == Some(size) {
        return Ok(size);
    }
    Ok(current_checkpoint(store, signer).await?.tree_size)
}

/// Warns when the latest stored checkpoint was not signed by this key:
/// processes that share a database must share the ledger key.
pub async fn check_key_matches_log(store: &Store, signer: &LedgerSigner) {
    match store.latest_checkpoint().await {
        Ok(Some(latest)) => {
            if ledger::open_checkpoint(&latest.note, &signer.verifier()).is_err() {
                tracing::warn!(
                    tree_size = latest.tree_size, vkey = %signer.vkey(),
                    "the latest ledger checkpoint was signed by another key: every server on this database must use the same keys/ledger.key"
                );
            }
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "reading the latest ledger checkpoint"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_trial_name_is_told_apart() {
        for trial in [
            "localhost/apiome-ledger",
            "127.0.0.1/apiome-ledger",
            "[::1]/apiome-ledger",
            "a.localhost/apiome-ledger",
        ] {
            assert!(super::names_this_machine(trial), "{trial}");
        }
        assert!(!super::names_this_machine("apiome.example/apiome-ledger"));
    }

    use super::*;

    #[test]
    fn the_log_is_named_after_the_public_host() {
        let url = url::Url::parse("https://apiome.example:8443").unwrap();
        assert_eq!(log_name(&url), "apiome.example/apiome-ledger");
        let url = url::Url::parse("http://localhost:1234").unwrap();
        assert_eq!(log_name(&url), "localhost/apiome-ledger");
    }

    #[test]
    fn a_key_is_made_private_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = LedgerSigner::load_or_create(dir.path(), "localhost/apiome-ledger").unwrap();
        let path = key_path(dir.path());
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        let second = LedgerSigner::load_or_create(dir.path(), "localhost/apiome-ledger").unwrap();
        assert_eq!(first.vkey(), second.vkey());
        // A changed public URL does not rename an existing log.
        let third =
            LedgerSigner::load_or_create(dir.path(), "other.example/apiome-ledger").unwrap();
        assert_eq!(third.vkey(), first.vkey());
        let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
        let note = first.sign(0, &ledger::EMPTY_ROOT);
        let checkpoint = ledger::open_checkpoint(&note, &second.verifier()).unwrap();
        assert_eq!(checkpoint.origin(), "localhost/apiome-ledger");
    }

    #[test]
    fn a_corrupt_key_is_a_one_line_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = key_path(dir.path());
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        for bad in [&b"PRIVATE+KEY+x+00000000+AAAA\n"[..], b"", b"\xff\xfe"] {
            fs::write(&path, bad).unwrap();
            let err = LedgerSigner::load_or_create(dir.path(), "localhost/apiome-ledger")
                .unwrap_err()
                .to_string();
            assert!(err.contains("is corrupt"), "{err}");
            assert!(!err.contains('\n'), "{err}");
        }
    }

    #[test]
    fn racing_processes_end_up_with_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let vkeys: Vec<String> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        LedgerSigner::load_or_create(dir.path(), "localhost/apiome-ledger")
                            .unwrap()
                            .vkey()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(vkeys.iter().all(|v| v == &vkeys[0]), "{vkeys:?}");
    }
}
