//! The OAuth server's secrets in the data directory, made on first start
//! and loaded ever after (files 0600 in the 0700 `keys/` directory):
//!
//! - `keys/oauth-server.key`: the [`ServerKey`] that keys client-secret
//!   hashes and pairwise subjects. Losing it invalidates every client
//!   secret and changes every subject: back it up with the database.
//! - `keys/oauth-signing.json`: the [`KeySet`] of Ed25519 access-token
//!   keys. `apiome keys rotate` adds a key (the newest signs) and prunes
//!   keys no unexpired token can have been signed with. A running server
//!   re-reads the file when it meets a token signed by a key it does not
//!   know, so every process sharing a database picks a rotation up.
//! - `keys/oidc-rsa.json`: the [`RsaKeySet`] of 2048-bit RSA keys (made by
//!   AWS-LC) that sign RS256 ID tokens, published in the same JWKS.
//!   `apiome keys rotate` rotates and prunes it with the Ed25519 set.
//!
//! Every process that shares a database must share these files.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use authz::{KeySet, OsRandom, RsaKeySet, ServerKey, UnixTime};

use crate::ledger_signer::KEY_DIR;

/// The server key's file name inside [`KEY_DIR`].
pub const SERVER_KEY_FILE: &str = "oauth-server.key";
/// The signing key set's file name inside [`KEY_DIR`].
pub const SIGNING_KEYS_FILE: &str = "oauth-signing.json";
/// The RSA (RS256 ID token) key set's file name inside [`KEY_DIR`].
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

fn signing_keys_path(data_dir: &Path) -> PathBuf {
    data_dir.join(KEY_DIR).join(SIGNING_KEYS_FILE)
}

fn rsa_keys_path(data_dir: &Path) -> PathBuf {
    data_dir.join(KEY_DIR).join(RSA_KEYS_FILE)
}

/// Loads the RS256 ID token keys, making the first on first use.
pub fn load_rsa_keys(data_dir: &Path) -> Result<RsaKeySet, OAuthKeyError> {
    key_dir(data_dir)?;
    load_or_create(&rsa_keys_path(data_dir), RsaKeySet::from_text, || {
        let keys =
            RsaKeySet::generate(unix_now()).map_err(|e| OAuthKeyError::Random(e.to_string()))?;
        let text = keys.to_text();
        Ok((keys, text))
    })
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

/// Loads the access-token signing keys, making the first on first use.
pub fn load_signing_keys(data_dir: &Path) -> Result<KeySet, OAuthKeyError> {
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

/// Adds a new signing key and prunes keys retired long enough ago.
pub fn rotate_signing_keys(data_dir: &Path) -> Result<Rotated, OAuthKeyError> {
    let path = signing_keys_path(data_dir);
    let mut keys = load_signing_keys(data_dir)?;
    let now = unix_now();
    let pruned = keys.prune(now);
    let signing_kid = keys
        .rotate(&mut OsRandom, now)
        .map_err(|e| OAuthKeyError::Corrupt {
            path: path.clone(),
            reason: e.to_string(),
        })?;
    write_private(&path, &keys.to_text(), false)?;
    let rsa_path = rsa_keys_path(data_dir);
    let mut rsa = load_rsa_keys(data_dir)?;
    let rsa_pruned = rsa.prune(now);
    let rsa_signing_kid = rsa.rotate(now).map_err(|e| OAuthKeyError::Corrupt {
        path: rsa_path.clone(),
        reason: e.to_string(),
    })?;
    write_private(&rsa_path, &rsa.to_text(), false)?;
    Ok(Rotated {
        signing_kid,
        pruned,
        kids: keys
            .keys()
            .iter()
            .rev()
            .map(|k| k.kid().to_owned())
            .collect(),
        rsa_signing_kid,
        rsa_pruned,
        rsa_kids: rsa
            .keys()
            .iter()
            .rev()
            .map(|k| k.kid().to_owned())
            .collect(),
    })
}

/// The signing keys a running server uses, re-read from the data directory
/// when a token names a key it does not know (another process rotated).
/// `K` is the Ed25519 [`KeySet`] or the [`RsaKeySet`].
#[derive(Debug)]
pub struct LoadedKeys<K> {
    data_dir: PathBuf,
    keys: Arc<RwLock<Arc<K>>>,
    load: fn(&Path) -> Result<K, OAuthKeyError>,
}

impl<K> Clone for LoadedKeys<K> {
    fn clone(&self) -> Self {
        LoadedKeys {
            data_dir: self.data_dir.clone(),
            keys: Arc::clone(&self.keys),
            load: self.load,
        }
    }
}

/// The access-token (and EdDSA ID token) keys.
pub type SigningKeys = LoadedKeys<KeySet>;
/// The RS256 ID token keys.
pub type RsaKeys = LoadedKeys<RsaKeySet>;

impl SigningKeys {
    /// Loads (or makes) the key set under `data_dir`.
    pub fn load(data_dir: &Path) -> Result<SigningKeys, OAuthKeyError> {
        LoadedKeys::load_with(data_dir, load_signing_keys)
    }
}

impl RsaKeys {
    /// Loads (or makes) the RSA key set under `data_dir`.
    pub fn load(data_dir: &Path) -> Result<RsaKeys, OAuthKeyError> {
        LoadedKeys::load_with(data_dir, load_rsa_keys)
    }
}

impl<K> LoadedKeys<K> {
    fn load_with(
        data_dir: &Path,
        load: fn(&Path) -> Result<K, OAuthKeyError>,
    ) -> Result<LoadedKeys<K>, OAuthKeyError> {
        Ok(LoadedKeys {
            data_dir: data_dir.to_owned(),
            keys: Arc::new(RwLock::new(Arc::new(load(data_dir)?))),
            load,
        })
    }

    /// The key set as it is now (shared, not copied: every request asks).
    pub fn current(&self) -> Arc<K> {
        match self.keys.read() {
            Ok(keys) => Arc::clone(&keys),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Re-reads the key file; keeps the loaded set when that fails.
    pub fn reload(&self) -> Arc<K> {
        match (self.load)(&self.data_dir) {
            Ok(fresh) => {
                let fresh = Arc::new(fresh);
                let mut guard = match self.keys.write() {
                    Ok(guard) => guard,
                    Err(poisoned) => poisoned.into_inner(),
                };
                *guard = Arc::clone(&fresh);
                fresh
            }
            Err(e) => {
                tracing::warn!(error = %e, "re-reading the OAuth signing keys");
                self.current()
            }
        }
    }
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

    #[test]
    fn rotation_adds_a_signing_key_and_keeps_the_old_one_verifying() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let before = load_signing_keys(&data).unwrap();
        let old = before.signing_key().kid().to_owned();
        let rotated = rotate_signing_keys(&data).unwrap();
        assert_ne!(rotated.signing_kid, old);
        assert_eq!(rotated.kids, vec![rotated.signing_kid.clone(), old]);
        let after = load_signing_keys(&data).unwrap();
        assert_eq!(after.signing_key().kid(), rotated.signing_kid);
        assert_eq!(mode_of(&signing_keys_path(&data)), 0o600);
        assert_eq!(rotated.rsa_kids.len(), 2);
        assert_eq!(rotated.rsa_kids[0], rotated.rsa_signing_kid);
        let rsa = load_rsa_keys(&data).unwrap();
        assert_eq!(rsa.signing_key().kid(), rotated.rsa_signing_kid);
        assert_eq!(mode_of(&rsa_keys_path(&data)), 0o600);
    }

    fn mode_of(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }
}
