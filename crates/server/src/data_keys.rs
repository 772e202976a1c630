//! Where the keys that seal attribute values at rest come from, and their
//! rotation.
//!
//! `APIOME_MASTER_KEY`, when set, is the list of keys (base64, comma
//! separated, the first seals, all open) and nothing is written to disk:
//! the choice for deployments whose secrets come from a vault. Otherwise
//! `DATA_DIR/keys/data.key` holds the list, made with one fresh key on
//! first start (mode 0600). Lose it and no attribute value can be read
//! again: back it up apart from the database.

use std::path::{Path, PathBuf};

use serde::Serialize;
use store::{DataKeyError, DataKeys, Store};

use crate::config::KeySources;
use crate::oauth_keys::{self, OAuthKeyError};

/// The environment variable holding the data keys.
pub const MASTER_KEY_ENV: &str = "APIOME_MASTER_KEY";
/// The data key file's name inside the key directory.
pub const DATA_KEY_FILE: &str = "data.key";

const FILE_HEADER: &str = "# apiome data keys: the first seals attribute values, all open them.\n\
# Without this file no stored attribute value can be read. Back it up apart from the database.\n";

/// The data keys cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum DataKeysError {
    /// `APIOME_MASTER_KEY` (or `master_key`) is set but unusable.
    #[error("{MASTER_KEY_ENV} (master_key): {0}")]
    Env(DataKeyError),
    /// The key file is unusable.
    #[error("the data key file {} is unusable: {source} (restore it from a backup; without it no attribute value can be read)", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: DataKeyError,
    },
    /// The key file cannot be read or written.
    #[error(transparent)]
    Io(#[from] OAuthKeyError),
    /// No randomness for a new key.
    #[error("cannot make a data key: {0}")]
    Random(DataKeyError),
    /// Values are still sealed under a key about to be retired (a server
    /// kept writing during the rotation).
    #[error(
        "{0} values are still sealed under an old key (stop every apiome serve, then run `apiome keys rotate-data` again)"
    )]
    Unfinished(u64),
    /// The store failed during resealing.
    #[error("{0}")]
    Store(#[from] store::StoreError),
}

fn key_path(data_dir: &Path) -> Result<PathBuf, DataKeysError> {
    Ok(oauth_keys::key_dir(data_dir)?.join(DATA_KEY_FILE))
}

fn from_env() -> Option<String> {
    std::env::var(MASTER_KEY_ENV)
        .ok()
        .filter(|v| !v.trim().is_empty())
}

/// The data keys: from `APIOME_MASTER_KEY`, or the data directory's key
/// file, made on first use (for tools that have no configuration).
///
/// # Errors
/// An unusable variable or file, or a file that cannot be made.
pub fn load(data_dir: &Path) -> Result<DataKeys, DataKeysError> {
    if let Some(text) = from_env() {
        return DataKeys::parse(&text).map_err(DataKeysError::Env);
    }
    load_data_dir_file(data_dir)
}

/// The data keys from where the configuration says: `master_key` (the
/// keys themselves), `master_key_file` (a file of them, which must
/// exist), or the data directory's key file, made on first use.
///
/// # Errors
/// An unusable value or file, or a file that cannot be made.
pub fn load_from(sources: &KeySources, data_dir: &Path) -> Result<DataKeys, DataKeysError> {
    if let Some(key) = &sources.master_key {
        return DataKeys::parse(key.expose()).map_err(DataKeysError::Env);
    }
    if let Some(path) = &sources.master_key_file {
        let text = oauth_keys::read_text(path)?.ok_or_else(|| DataKeysError::File {
            path: path.clone(),
            source: DataKeyError::Empty,
        })?;
        return DataKeys::parse(&text).map_err(|source| DataKeysError::File {
            path: path.clone(),
            source,
        });
    }
    load_data_dir_file(data_dir)
}

fn load_data_dir_file(data_dir: &Path) -> Result<DataKeys, DataKeysError> {
    let path = key_path(data_dir)?;
    if let Some(text) = oauth_keys::read_text(&path)? {
        return DataKeys::parse(&text).map_err(|source| DataKeysError::File { path, source });
    }
    let key = DataKeys::generate().map_err(DataKeysError::Random)?;
    let text = format!("{FILE_HEADER}{}\n", DataKeys::encode(&key));
    if oauth_keys::write_private(&path, &text, true)? {
        tracing::info!(key = %path.display(), "made a new data key file; back it up");
        return DataKeys::new(&[key]).map_err(DataKeysError::Random);
    }
    // Another process made it first: use theirs.
    let text = oauth_keys::read_text(&path)?.unwrap_or_default();
    DataKeys::parse(&text).map_err(|source| DataKeysError::File { path, source })
}

/// What `apiome keys rotate-data` did.
#[derive(Debug, Serialize)]
pub struct RotatedData {
    /// The key that now seals every value.
    pub key_id: String,
    /// Keys no longer needed (dropped from the file; with
    /// `APIOME_MASTER_KEY`, remove them from the variable yourself).
    pub retired: Vec<String>,
    /// Values looked at.
    pub values: u64,
    /// Values sealed again (under their person's key).
    pub resealed: u64,
    /// People's own data keys sealed again under the new key.
    pub person_keys: u64,
    /// Webhook signing secrets looked at (each sealed again when under an
    /// old key).
    pub webhook_secrets: u64,
    /// Secrets the servers share (the OAuth signing keys), sealed again.
    pub server_secrets: u64,
    /// Where the keys live.
    pub source: &'static str,
}

/// Seals every attribute value under a new key and retires the old ones.
///
/// With the key file: a new key is put first in the file (the old ones
/// kept, so a crash midway loses nothing), every value is resealed, and
/// then the file is rewritten with the new key alone. With
/// `APIOME_MASTER_KEY`: the operator has put the new key first in the
/// variable; every value is resealed under it.
///
/// Run it with every `apiome serve` stopped: a running server holds the old
/// keys and would go on sealing with them.
///
/// # Errors
/// Keys or store unusable, or values left under an old key.
pub async fn rotate(
    sources: &KeySources,
    data_dir: &Path,
    database: &store::DatabaseUrl,
) -> Result<RotatedData, DataKeysError> {
    let (keys, path) = if sources.master_key.is_some() || sources.master_key_file.is_some() {
        (load_from(sources, data_dir)?, None)
    } else {
        let path = key_path(data_dir)?;
        // The file must hold usable keys (or be made) before it is extended.
        load(data_dir)?;
        let old_text = oauth_keys::read_text(&path)?.unwrap_or_default();
        let new_key = DataKeys::generate().map_err(DataKeysError::Random)?;
        let old_lines: String = old_text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
            .map(|l| format!("{l}\n"))
            .collect();
        let both = format!("{FILE_HEADER}{}\n{old_lines}", DataKeys::encode(&new_key));
        oauth_keys::write_private(&path, &both, false)?;
        let keys = DataKeys::parse(&both).map_err(|source| DataKeysError::File {
            path: path.clone(),
            source,
        })?;
        (keys, Some((path, new_key)))
    };
    let store = Store::open(database, keys.clone()).await?;
    let done = store.reseal_attributes().await?;
    let secrets = store.reseal_webhook_secrets().await?;
    let shared = store.reseal_server_secrets().await?;
    let again = store.reseal_attributes().await?;
    let secrets_again = store.reseal_webhook_secrets().await?;
    store.close().await.ok();
    let left = again.resealed + again.person_keys + secrets_again.resealed;
    if left > 0 {
        return Err(DataKeysError::Unfinished(left));
    }
    let retired: Vec<String> = keys.ids().into_iter().skip(1).collect();
    let source = match path {
        Some((path, new_key)) => {
            let text = format!("{FILE_HEADER}{}\n", DataKeys::encode(&new_key));
            oauth_keys::write_private(&path, &text, false)?;
            "file"
        }
        None => "config",
    };
    Ok(RotatedData {
        key_id: keys.current_id().to_owned(),
        retired,
        values: done.values,
        resealed: done.resealed,
        person_keys: done.person_keys,
        webhook_secrets: secrets.values,
        server_secrets: shared.values,
        source,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test")]

    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn the_key_file_is_made_once_privately_and_read_after() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let first = load(&data).unwrap();
        let again = load(&data).unwrap();
        assert_eq!(first.ids(), again.ids());
        let path = data.join("keys").join(DATA_KEY_FILE);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        std::fs::write(&path, "not a key\n").unwrap();
        let err = load(&data).unwrap_err().to_string();
        assert!(err.contains("data.key") && err.contains("backup"), "{err}");
    }
}
