//! The OAuth server's secrets:
//!
//! - the [`ServerKey`] that keys client-secret hashes and pairwise
//!   subjects: `server_key` (the key itself, e.g. `APIOME_SERVER_KEY` from
//!   a secret manager), `server_key_file` (a file naming it), or by default
//!   `keys/oauth-server.key` in the data directory, made on first start
//!   (0600 in the 0700 `keys/` directory). Losing it invalidates every
//!   client secret and changes every subject. Every server sharing a
//!   database must have the same one.
//! - the [`KeySet`] of Ed25519 access-token keys, kept **in the database**,
//!   sealed under the data key (`server_secret` row
//!   [`SIGNING_KEYS_SECRET`]), so every server sharing the database has it
//!   without copying files. Made on first start (from the former
//!   `keys/oauth-signing.json` when one is there). `apiome keys rotate`
//!   adds a key (the newest signs) and prunes keys no unexpired token can
//!   have been signed with; running servers pick it up within
//!   [`SIGNING_KEYS_REFRESH`], and at once when a token names a key they
//!   do not know.
//! - the [`RsaKeySet`] of 2048-bit RSA keys (made by AWS-LC) that sign
//!   RS256 ID tokens, published in the same JWKS: kept the same way, in
//!   the `server_secret` row [`RSA_KEYS_SECRET`] (taken from the former
//!   `keys/oidc-rsa.json` when one is there), rotated and pruned with the
//!   Ed25519 set by `apiome keys rotate`, refreshed with it.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use authz::{KeySet, OsRandom, RsaKeySet, ServerKey, UnixTime};
use store::Store;

use crate::ledger_signer::KEY_DIR;

/// The server key's file name inside [`KEY_DIR`].
pub const SERVER_KEY_FILE: &str = "oauth-server.key";
/// The signing key set's file name inside [`KEY_DIR`].
pub const SIGNING_KEYS_FILE: &str = "oauth-signing.json";
/// The RSA (RS256 ID token) key set's former file name inside [`KEY_DIR`].
pub const RSA_KEYS_FILE: &str = "oidc-rsa.json";

/// The OAuth keys cannot be made or read.
#[derive(Debug, thiserror::Error)]
pub enum OAuthKeyError {
    /// A key file or its directory cannot be written or read.
    #[error("cannot use the key file {}: {source} (check that the data directory is writable)", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A key file does not hold what it should.
    #[error("the OAuth key file {} is corrupt: {reason} (restore it from a backup)", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The system gave no randomness for a new key.
    #[error("cannot make an OAuth key: no randomness: {0}")]
    Random(String),
    /// A key given by the configuration is not one.
    #[error("{whence} is not a usable key: {reason}")]
    Configured {
        /// The configuration key (and file) it came from.
        whence: String,
        /// What is wrong.
        reason: String,
    },
    /// The signing keys cannot be read from or stored in the database.
    #[error("the OAuth signing keys in the database: {0}")]
    Store(#[from] store::StoreError),
    /// Rotations elsewhere kept overtaking this one.
    #[error("other rotations kept changing the OAuth signing keys; try again")]
    Contended,
}

/// The current time as Unix seconds.
pub fn unix_now() -> UnixTime {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    UnixTime::from_secs(secs)
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> OAuthKeyError + '_ {
    move |source| OAuthKeyError::Io {
        path: path.to_owned(),
        source,
    }
}

pub(crate) fn key_dir(data_dir: &Path) -> Result<PathBuf, OAuthKeyError> {
    let dir = data_dir.join(KEY_DIR);
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(io_error(&dir))?;
    Ok(dir)
}

pub(crate) fn read_text(path: &Path) -> Result<Option<String>, OAuthKeyError> {
    match fs::read_to_string(path) {
        Ok(text) => {
            if let Ok(meta) = fs::metadata(path)
                && meta.permissions().mode() & 0o077 != 0
            {
                tracing::warn!(key = %path.display(), "a key file is readable by others; chmod 600 it");
            }
            Ok(Some(text))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(OAuthKeyError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Writes `text` to `path` whole or not at all: a private temporary file,
/// synced, then renamed over (or, with `exclusive`, hard-linked into
/// place, failing when the file exists).
pub(crate) fn write_private(
    path: &Path,
    text: &str,
    exclusive: bool,
) -> Result<bool, OAuthKeyError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).map_err(|e| OAuthKeyError::Random(e.to_string()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = dir.join(format!(
        ".{name}.{}.tmp",
        suffix
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    ));
    let written = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temporary)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()
    })();
    if let Err(source) = written {
        fs::remove_file(&temporary).ok();
        return Err(OAuthKeyError::Io {
            path: temporary,
            source,
        });
    }
    let placed = if exclusive {
        let linked = fs::hard_link(&temporary, path);
        fs::remove_file(&temporary).ok();
        match linked {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => false,
            Err(source) => {
                return Err(OAuthKeyError::Io {
                    path: path.to_owned(),
                    source,
                });
            }
        }
    } else {
        fs::rename(&temporary, path).map_err(|source| {
            fs::remove_file(&temporary).ok();
            OAuthKeyError::Io {
                path: path.to_owned(),
                source,
            }
        })?;
        true
    };
    if let Ok(dir) = fs::File::open(dir) {
        dir.sync_all().ok();
    }
    Ok(placed)
}

fn load_or_create<T>(
    path: &Path,
    parse: impl Fn(&str) -> Result<T, String>,
    make: impl FnOnce() -> Result<(T, String), OAuthKeyError>,
) -> Result<T, OAuthKeyError> {
    let corrupt = |reason: String| OAuthKeyError::Corrupt {
        path: path.to_owned(),
        reason,
    };
    if let Some(text) = read_text(path)? {
        return parse(&text).map_err(corrupt);
    }
    let (value, text) = make()?;
    if write_private(path, &text, true)? {
        tracing::info!(key = %path.display(), "made a new OAuth key file");
        return Ok(value);
    }
    // Another process made it first: use theirs.
    let text = read_text(path)?.unwrap_or_default();
    parse(&text).map_err(corrupt)
}

fn server_key_path(data_dir: &Path) -> PathBuf {
    data_dir.join(KEY_DIR).join(SERVER_KEY_FILE)
}

#[cfg(test)]
fn signing_keys_path(data_dir: &Path) -> PathBuf {
    data_dir.join(KEY_DIR).join(SIGNING_KEYS_FILE)
}

#[cfg(test)]
fn rsa_keys_path(data_dir: &Path) -> PathBuf {
    data_dir.join(KEY_DIR).join(RSA_KEYS_FILE)
}

/// Loads the server key, making it on first use.
pub fn load_server_key(data_dir: &Path) -> Result<ServerKey, OAuthKeyError> {
    key_dir(data_dir)?;
    load_or_create(
        &server_key_path(data_dir),
        |text| ServerKey::from_text(text.trim()).map_err(|e| e.to_string()),
        || {
            let key = ServerKey::generate(&mut OsRandom)
                .map_err(|e| OAuthKeyError::Random(e.to_string()))?;
            let mut text = key.to_text();
            text.push('\n');
            Ok((key, text))
        },
    )
}

/// The former key file of the signing keys (before they moved into the
/// database), made on first use: what an older version left behind.
#[cfg(test)]
fn load_signing_keys(data_dir: &Path) -> Result<KeySet, OAuthKeyError> {
    key_dir(data_dir)?;
    load_or_create(
        &signing_keys_path(data_dir),
        |text| KeySet::from_text(text).map_err(|e| e.to_string()),
        || {
            let keys = KeySet::generate(&mut OsRandom, unix_now())
                .map_err(|e| OAuthKeyError::Random(e.to_string()))?;
            let text = keys.to_text();
            Ok((keys, text))
        },
    )
}

/// The former key file of the RSA keys (before they moved into the
/// database), made on first use: what an older version left behind.
#[cfg(test)]
fn load_rsa_keys(data_dir: &Path) -> Result<RsaKeySet, OAuthKeyError> {
    key_dir(data_dir)?;
    load_or_create(&rsa_keys_path(data_dir), RsaKeySet::from_text, || {
        let keys =
            RsaKeySet::generate(unix_now()).map_err(|e| OAuthKeyError::Random(e.to_string()))?;
        let text = keys.to_text();
        Ok((keys, text))
    })
}

/// The name of the signing key set's row in the database.
pub const SIGNING_KEYS_SECRET: &str = "oauth_signing_keys";
/// The name of the RSA (RS256 ID token) key set's row in the database.
pub const RSA_KEYS_SECRET: &str = "oidc_rsa_keys";
/// How often a running server looks for a rotation made elsewhere.
pub const SIGNING_KEYS_REFRESH: std::time::Duration = std::time::Duration::from_secs(5);
/// Attempts at a rotation that another rotation keeps overtaking.
const ROTATE_ATTEMPTS: usize = 8;

/// The server key, from where the configuration says.
///
/// # Errors
/// A configured key that is not one, an unreadable file, or none made.
pub fn load_server_key_from(
    sources: &crate::config::KeySources,
    data_dir: &Path,
) -> Result<ServerKey, OAuthKeyError> {
    let parse = |text: &str, whence: String| {
        ServerKey::from_text(text.trim()).map_err(|e| OAuthKeyError::Configured {
            whence,
            reason: e.to_string(),
        })
    };
    if let Some(key) = &sources.server_key {
        return parse(key.expose(), "server_key (APIOME_SERVER_KEY)".to_owned());
    }
    if let Some(path) = &sources.server_key_file {
        let text = fs::read_to_string(path).map_err(io_error(path))?;
        return parse(&text, format!("server_key_file {}", path.display()));
    }
    load_server_key(data_dir)
}

/// A key set kept sealed in one `server_secret` row: the Ed25519
/// [`KeySet`] or the [`RsaKeySet`].
pub trait StoredKeySet: Sized + Send + Sync + 'static {
    /// Its row in the database.
    const SECRET: &'static str;
    /// Its former file inside [`KEY_DIR`], taken into the database once.
    const FORMER_FILE: &'static str;
    /// Reads the stored text.
    fn parse(text: &str) -> Result<Self, String>;
    /// The text to store.
    fn text(&self) -> String;
    /// A new set of one key.
    fn make(now: UnixTime) -> Result<Self, OAuthKeyError>;
    /// Adds a key that signs from now on; its id.
    fn add_key(&mut self, now: UnixTime) -> Result<String, String>;
    /// Drops keys no unexpired token can have been signed with; their ids.
    fn prune_keys(&mut self, now: UnixTime) -> Vec<String>;
    /// Whether the set has the key `kid`.
    fn has_kid(&self, kid: &str) -> bool;
    /// Every key's id, newest first.
    fn kids(&self) -> Vec<String>;
}

impl StoredKeySet for KeySet {
    const SECRET: &'static str = SIGNING_KEYS_SECRET;
    const FORMER_FILE: &'static str = SIGNING_KEYS_FILE;
    fn parse(text: &str) -> Result<Self, String> {
        KeySet::from_text(text).map_err(|e| e.to_string())
    }
    fn text(&self) -> String {
        self.to_text()
    }
    fn make(now: UnixTime) -> Result<Self, OAuthKeyError> {
        KeySet::generate(&mut OsRandom, now).map_err(|e| OAuthKeyError::Random(e.to_string()))
    }
    fn add_key(&mut self, now: UnixTime) -> Result<String, String> {
        self.rotate(&mut OsRandom, now).map_err(|e| e.to_string())
    }
    fn prune_keys(&mut self, now: UnixTime) -> Vec<String> {
        self.prune(now)
    }
    fn has_kid(&self, kid: &str) -> bool {
        self.knows(kid)
    }
    fn kids(&self) -> Vec<String> {
        self.keys()
            .iter()
            .rev()
            .map(|k| k.kid().to_owned())
            .collect()
    }
}

impl StoredKeySet for RsaKeySet {
    const SECRET: &'static str = RSA_KEYS_SECRET;
    const FORMER_FILE: &'static str = RSA_KEYS_FILE;
    fn parse(text: &str) -> Result<Self, String> {
        RsaKeySet::from_text(text)
    }
    fn text(&self) -> String {
        self.to_text()
    }
    fn make(now: UnixTime) -> Result<Self, OAuthKeyError> {
        RsaKeySet::generate(now).map_err(|e| OAuthKeyError::Random(e.to_string()))
    }
    fn add_key(&mut self, now: UnixTime) -> Result<String, String> {
        self.rotate(now).map_err(|e| e.to_string())
    }
    fn prune_keys(&mut self, now: UnixTime) -> Vec<String> {
        self.prune(now)
    }
    fn has_kid(&self, kid: &str) -> bool {
        self.keys().iter().any(|k| k.kid() == kid)
    }
    fn kids(&self) -> Vec<String> {
        self.keys()
            .iter()
            .rev()
            .map(|k| k.kid().to_owned())
            .collect()
    }
}

fn stored_corrupt<K: StoredKeySet>(reason: String) -> OAuthKeyError {
    OAuthKeyError::Corrupt {
        path: PathBuf::from(format!("database:{}", K::SECRET)),
        reason,
    }
}

/// The key set `K` in the database and its version; made (or taken from
/// its former key file in `data_dir`) when the database has none.
async fn load_shared<K: StoredKeySet>(
    store: &Store,
    data_dir: &Path,
) -> Result<(K, i64), OAuthKeyError> {
    for _ in 0..ROTATE_ATTEMPTS {
        if let Some(secret) = store.server_secret(K::SECRET).await? {
            let keys = K::parse(&secret.text).map_err(stored_corrupt::<K>)?;
            return Ok((keys, secret.version));
        }
        let former = data_dir.join(KEY_DIR).join(K::FORMER_FILE);
        let keys = match read_text(&former)? {
            Some(text) => K::parse(&text).map_err(|reason| OAuthKeyError::Corrupt {
                path: former.clone(),
                reason,
            })?,
            None => K::make(unix_now())?,
        };
        if store
            .replace_server_secret(K::SECRET, None, &keys.text())
            .await?
        {
            tracing::info!(
                secret = K::SECRET,
                "stored OAuth keys in the database, sealed"
            );
            return Ok((keys, 1));
        }
        // Another process stored its set first: read theirs.
    }
    Err(OAuthKeyError::Contended)
}

/// What `apiome keys rotate` did.
#[derive(Debug, serde::Serialize)]
pub struct Rotated {
    /// The new signing key's id.
    pub signing_kid: String,
    /// Keys dropped because no unexpired token can use them.
    pub pruned: Vec<String>,
    /// Every key still published, newest first.
    pub kids: Vec<String>,
    /// The new RSA key's id (RS256 ID tokens).
    pub rsa_signing_kid: String,
    /// RSA keys dropped.
    pub rsa_pruned: Vec<String>,
    /// Every RSA key still published, newest first.
    pub rsa_kids: Vec<String>,
}

/// Adds a new signing key to the Ed25519 set and to the RSA set, and
/// prunes keys retired long enough ago, in the database, each at the
/// version read (a rotation at the same time elsewhere makes this one read
/// again and retry, so no key is lost).
///
/// # Errors
/// The database fails, or other rotations keep overtaking this one.
pub async fn rotate_signing_keys(store: &Store, data_dir: &Path) -> Result<Rotated, OAuthKeyError> {
    let (signing_kid, pruned, kids) = rotate_set::<KeySet>(store, data_dir).await?;
    let (rsa_signing_kid, rsa_pruned, rsa_kids) = rotate_set::<RsaKeySet>(store, data_dir).await?;
    Ok(Rotated {
        signing_kid,
        pruned,
        kids,
        rsa_signing_kid,
        rsa_pruned,
        rsa_kids,
    })
}

/// Rotates one set: its new key's id, the ids pruned, the ids kept.
async fn rotate_set<K: StoredKeySet>(
    store: &Store,
    data_dir: &Path,
) -> Result<(String, Vec<String>, Vec<String>), OAuthKeyError> {
    for _ in 0..ROTATE_ATTEMPTS {
        let (mut keys, version) = load_shared::<K>(store, data_dir).await?;
        let now = unix_now();
        let pruned = keys.prune_keys(now);
        let signing_kid = keys.add_key(now).map_err(stored_corrupt::<K>)?;
        if store
            .replace_server_secret(K::SECRET, Some(version), &keys.text())
            .await?
        {
            return Ok((signing_kid, pruned, keys.kids()));
        }
    }
    Err(OAuthKeyError::Contended)
}

/// A key set a running server uses, as last read from the database.
pub struct SharedKeys<K> {
    store: Store,
    loaded: Arc<RwLock<(Arc<K>, i64)>>,
    /// One refresh at a time; the others wait for it and use its result.
    refreshing: Arc<tokio::sync::Mutex<()>>,
}

/// The access-token (and EdDSA ID token) keys.
pub type SigningKeys = SharedKeys<KeySet>;
/// The RS256 ID token keys.
pub type RsaKeys = SharedKeys<RsaKeySet>;

impl<K> Clone for SharedKeys<K> {
    fn clone(&self) -> Self {
        SharedKeys {
            store: self.store.clone(),
            loaded: Arc::clone(&self.loaded),
            refreshing: Arc::clone(&self.refreshing),
        }
    }
}

impl<K: StoredKeySet> std::fmt::Debug for SharedKeys<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedKeys")
            .field("secret", &K::SECRET)
            .field("version", &self.version())
            .finish_non_exhaustive()
    }
}

impl<K: StoredKeySet> SharedKeys<K> {
    /// Loads (or makes) the key set in the database.
    ///
    /// # Errors
    /// The database fails or holds a set that does not parse.
    pub async fn load(store: &Store, data_dir: &Path) -> Result<SharedKeys<K>, OAuthKeyError> {
        let (keys, version) = load_shared::<K>(store, data_dir).await?;
        Ok(SharedKeys {
            store: store.clone(),
            loaded: Arc::new(RwLock::new((Arc::new(keys), version))),
            refreshing: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    /// The key set as it is now (shared, not copied: every request asks).
    pub fn current(&self) -> Arc<K> {
        match self.loaded.read() {
            Ok(loaded) => Arc::clone(&loaded.0),
            Err(poisoned) => Arc::clone(&poisoned.into_inner().0),
        }
    }

    fn version(&self) -> i64 {
        match self.loaded.read() {
            Ok(loaded) => loaded.1,
            Err(poisoned) => poisoned.into_inner().1,
        }
    }

    /// Reads the set again if its version moved (a cheap look first);
    /// keeps the loaded set when that fails. `true` when it changed.
    pub async fn refresh(&self) -> bool {
        let _one_at_a_time = self.refreshing.lock().await;
        let seen = self.version();
        match self.store.server_secret_version(K::SECRET).await {
            Ok(Some(version)) if version != seen => {}
            Ok(_) => return false,
            Err(e) => {
                tracing::warn!(error = %e, secret = K::SECRET, "looking for new OAuth keys");
                return false;
            }
        }
        let fresh = match self.store.server_secret(K::SECRET).await {
            Ok(Some(secret)) => K::parse(&secret.text).map(|keys| (Arc::new(keys), secret.version)),
            Ok(None) => Err("the row is gone".to_owned()),
            Err(e) => Err(e.to_string()),
        };
        match fresh {
            Ok(fresh) => {
                tracing::info!(
                    version = fresh.1,
                    secret = K::SECRET,
                    "loaded new OAuth keys"
                );
                let mut guard = match self.loaded.write() {
                    Ok(guard) => guard,
                    Err(poisoned) => poisoned.into_inner(),
                };
                *guard = fresh;
                true
            }
            Err(error) => {
                tracing::warn!(%error, secret = K::SECRET, "re-reading the OAuth keys");
                false
            }
        }
    }

    /// Whether the set as loaded now has the key `kid`.
    pub fn knows(&self, kid: &str) -> bool {
        self.current().has_kid(kid)
    }
}

impl SigningKeys {
    /// Before verifying `token`: when it names a key this process does
    /// not know, looks in the database at once (another host may have
    /// rotated a moment ago). A made-up `kid` costs one primary-key read.
    pub async fn refresh_for(&self, token: &str) {
        let Some(kid) = token_kid(token) else {
            return;
        };
        if !self.knows(&kid) {
            self.refresh().await;
        }
    }
}

/// The `kid` of a compact JWS's header, if it has one.
pub(crate) fn token_kid(token: &str) -> Option<String> {
    use base64::Engine as _;
    let header = token.split('.').next()?;
    // A header is tens of bytes; a longer one is not ours.
    if header.len() > 512 {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    value.get("kid")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_made_once_privately_and_loaded_after() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let first = load_server_key(&data).unwrap();
        let again = load_server_key(&data).unwrap();
        assert_eq!(first, again);
        let keys = load_signing_keys(&data).unwrap();
        let kid = keys.signing_key().kid().to_owned();
        assert_eq!(load_signing_keys(&data).unwrap().signing_key().kid(), kid);
        let mode = |p: PathBuf| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(data.join(KEY_DIR)), 0o700);
        assert_eq!(mode(server_key_path(&data)), 0o600);
        assert_eq!(mode(signing_keys_path(&data)), 0o600);
    }

    async fn rotation_is_shared_through_the_database(db: store::testing::TestDb) {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let here = SigningKeys::load(&db.store, &data).await.unwrap();
        let there = SigningKeys::load(&db.store, &data).await.unwrap();
        let old = here.current().signing_key().kid().to_owned();
        assert_eq!(there.current().signing_key().kid(), old);
        let rotated = rotate_signing_keys(&db.store, &data).await.unwrap();
        assert_ne!(rotated.signing_kid, old);
        assert_eq!(rotated.kids, vec![rotated.signing_kid.clone(), old.clone()]);
        // Nothing was written to the data directory.
        assert!(!signing_keys_path(&data).exists());
        // A token naming the new key makes the other process look at once.
        let header = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            format!("{{\"alg\":\"EdDSA\",\"kid\":\"{}\"}}", rotated.signing_kid),
        );
        there.refresh_for(&format!("{header}.e30.sig")).await;
        assert_eq!(there.current().signing_key().kid(), rotated.signing_kid);
        assert!(there.current().keys().iter().any(|k| k.kid() == old));
        assert!(here.refresh().await);
        assert!(!here.refresh().await);
        // Concurrent rotations lose no key.
        let (a, b) = tokio::join!(
            rotate_signing_keys(&db.store, &data),
            rotate_signing_keys(&db.store, &data)
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        here.refresh().await;
        let kids: Vec<String> = here
            .current()
            .keys()
            .iter()
            .map(|k| k.kid().to_owned())
            .collect();
        for kid in [&a.signing_kid, &b.signing_kid, &rotated.signing_kid, &old] {
            assert!(kids.contains(kid), "{kid} lost: {kids:?}");
        }
        db.cleanup().await;
    }

    async fn rsa_rotation_is_shared_through_the_database(db: store::testing::TestDb) {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let here = RsaKeys::load(&db.store, &data).await.unwrap();
        let there = RsaKeys::load(&db.store, &data).await.unwrap();
        let old = here.current().signing_key().kid().to_owned();
        assert_eq!(there.current().signing_key().kid(), old);
        let rotated = rotate_signing_keys(&db.store, &data).await.unwrap();
        assert_ne!(rotated.rsa_signing_kid, old);
        assert_eq!(
            rotated.rsa_kids,
            vec![rotated.rsa_signing_kid.clone(), old.clone()]
        );
        assert!(!rsa_keys_path(&data).exists());
        assert!(!there.knows(&rotated.rsa_signing_kid));
        assert!(there.refresh().await);
        assert_eq!(there.current().signing_key().kid(), rotated.rsa_signing_kid);
        assert!(there.knows(&old));
        // The row holds the same set.
        let stored = db
            .store
            .server_secret(RSA_KEYS_SECRET)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.text, there.current().to_text());
        // Concurrent rotations lose no key.
        let (a, b) = tokio::join!(
            rotate_signing_keys(&db.store, &data),
            rotate_signing_keys(&db.store, &data)
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        here.refresh().await;
        for kid in [
            &a.rsa_signing_kid,
            &b.rsa_signing_kid,
            &rotated.rsa_signing_kid,
            &old,
        ] {
            assert!(here.knows(kid), "{kid} lost");
        }
        db.cleanup().await;
    }

    #[tokio::test]
    async fn rsa_rotation_is_shared_through_the_database_sqlite() {
        rsa_rotation_is_shared_through_the_database(store::testing::sqlite().await).await;
    }

    #[tokio::test]
    async fn rsa_rotation_is_shared_through_the_database_postgres() {
        if let Some(db) = store::testing::postgres().await {
            rsa_rotation_is_shared_through_the_database(db).await;
        }
    }

    #[tokio::test]
    async fn rotation_is_shared_through_the_database_sqlite() {
        rotation_is_shared_through_the_database(store::testing::sqlite().await).await;
    }

    #[tokio::test]
    async fn rotation_is_shared_through_the_database_postgres() {
        if let Some(db) = store::testing::postgres().await {
            rotation_is_shared_through_the_database(db).await;
        }
    }

    #[tokio::test]
    async fn the_former_key_file_is_taken_into_the_database() {
        let db = store::testing::sqlite().await;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let former = load_signing_keys(&data).unwrap();
        let loaded = SigningKeys::load(&db.store, &data).await.unwrap();
        assert_eq!(
            loaded.current().signing_key().kid(),
            former.signing_key().kid()
        );
        let former = load_rsa_keys(&data).unwrap();
        let loaded = RsaKeys::load(&db.store, &data).await.unwrap();
        assert_eq!(
            loaded.current().signing_key().kid(),
            former.signing_key().kid()
        );
        assert!(
            db.store
                .server_secret(RSA_KEYS_SECRET)
                .await
                .unwrap()
                .is_some()
        );
        db.cleanup().await;
    }
}
