//! Attribute values at rest: sealed with AES-256-GCM before they reach the
//! database, so a copy of the database (a backup, a replica, a stolen disk)
//! holds no one's email or address without the data key.
//!
//! A sealed value is text, `v1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`,
//! with a fresh 96-bit random nonce per write and the row's identity
//! (`person id`, `key`) as associated data: a sealed value copied onto
//! another person's row, or another attribute, does not open.
//!
//! [`DataKeys`] holds one current key, which seals, and any number of older
//! keys, which still open; `apiome keys rotate-data` adds a key, reseals
//! every value ([`crate::Store::reseal_attributes`]) and then drops the old
//! ones.
//!
//! # One key per person (crypto-shredding)
//!
//! A person's values are not sealed under the server's keys directly but
//! under the person's own random key, a [`PersonKey`]: `v2.<base64url(nonce
//! ‖ ciphertext ‖ tag)>`, with the same row binding. The person key is kept
//! in `person_key`, itself sealed (`v1.`) under the server's current key and
//! bound to the person ([`DataKeys::new_person_key`],
//! [`DataKeys::open_person_key`]). Erasing a person deletes that one row:
//! every copy of their ciphertext anywhere (a freed page, a replica, an
//! export of the table) is then noise, even to whoever holds the server's
//! keys. Rotating the server's keys reseals the person keys, not every
//! value.

use std::sync::Arc;

use aes_gcm::aead::{Aead as _, KeyInit as _, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha2::{Digest as _, Sha256};

/// Bytes in a data key.
pub const DATA_KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 12;
const VERSION: &str = "v1";
const PERSON_VERSION: &str = "v2";
/// The row binding of a person's own key under the server's keys: no
/// attribute key can be empty, so no value's binding is this one.
const PERSON_KEY_BINDING: &str = "";

/// Data keys cannot be used as given.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DataKeyError {
    /// No key at all.
    #[error("no data key given")]
    Empty,
    /// One entry of the list is not a base64 32-byte key.
    #[error(
        "data key {position} is not 32 bytes in base64 (make one with `openssl rand -base64 32`)"
    )]
    Malformed {
        /// 1-based position in the list.
        position: usize,
    },
    /// The same key twice.
    #[error("data key {position} repeats an earlier one")]
    Repeated {
        /// 1-based position in the list.
        position: usize,
    },
    /// No randomness for a nonce or a new key.
    #[error("no randomness: {0}")]
    Random(String),
}

/// A sealed value cannot be opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OpenError {
    /// Not in the sealed format.
    #[error("not a sealed value")]
    Format,
    /// Sealed under a key this server does not have.
    #[error("sealed under data key {0}, which is not configured")]
    UnknownKey(String),
    /// The ciphertext, its tag or its row binding does not verify.
    #[error("does not verify under data key {0} (altered, or moved from another row)")]
    Inauthentic(String),
}

struct DataKey {
    id: String,
    cipher: Aes256Gcm,
}

/// The keys that seal and open attribute values. Cheap to clone; never
/// prints a key.
#[derive(Clone)]
pub struct DataKeys {
    keys: Arc<Vec<DataKey>>,
}

impl std::fmt::Debug for DataKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataKeys")
            .field("ids", &self.ids())
            .finish()
    }
}

/// The public identifier of a key: the first 4 bytes of a domain-separated
/// SHA-256, in hex. Names which key sealed a value without revealing it.
fn key_id(key: &[u8; DATA_KEY_BYTES]) -> String {
    let digest = Sha256::new()
        .chain_update(b"apiome data key id\0")
        .chain_update(key)
        .finalize();
    hex::encode(&digest[..4])
}

/// The associated data binding a value to its row.
fn row_binding(person_id: &str, key: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(person_id.len() + key.len() + 1);
    aad.extend_from_slice(person_id.as_bytes());
    aad.push(0);
    aad.extend_from_slice(key.as_bytes());
    aad
}

impl DataKeys {
    /// Keys from raw bytes; the first is current (seals), all open.
    ///
    /// # Errors
    /// An empty list or a repeated key.
    pub fn new(keys: &[[u8; DATA_KEY_BYTES]]) -> Result<DataKeys, DataKeyError> {
        if keys.is_empty() {
            return Err(DataKeyError::Empty);
        }
        let mut made: Vec<DataKey> = Vec::with_capacity(keys.len());
        for (i, key) in keys.iter().enumerate() {
            let id = key_id(key);
            if made.iter().any(|k| k.id == id) {
                return Err(DataKeyError::Repeated { position: i + 1 });
            }
            let cipher = Aes256Gcm::new_from_slice(key)
                .map_err(|_| DataKeyError::Malformed { position: i + 1 })?;
            made.push(DataKey { id, cipher });
        }
        Ok(DataKeys {
            keys: Arc::new(made),
        })
    }

    /// Parses a list of base64 keys separated by commas, spaces or lines
    /// (`#` starts a comment line); the first is current.
    ///
    /// # Errors
    /// An empty list, a malformed or a repeated key.
    pub fn parse(text: &str) -> Result<DataKeys, DataKeyError> {
        let keys = parse_keys(text)?;
        DataKeys::new(&keys)
    }

    /// A new random key.
    ///
    /// # Errors
    /// When the system gives no randomness.
    pub fn generate() -> Result<[u8; DATA_KEY_BYTES], DataKeyError> {
        let mut key = [0u8; DATA_KEY_BYTES];
        getrandom::fill(&mut key).map_err(|e| DataKeyError::Random(e.to_string()))?;
        Ok(key)
    }

    /// A key in the text form [`DataKeys::parse`] reads.
    pub fn encode(key: &[u8; DATA_KEY_BYTES]) -> String {
        STANDARD.encode(key)
    }

    /// The ids of the keys, current first.
    pub fn ids(&self) -> Vec<String> {
        self.keys.iter().map(|k| k.id.clone()).collect()
    }

    /// The id of the key that seals.
    pub fn current_id(&self) -> &str {
        &self.keys[0].id
    }

    /// Seals `plaintext` for the row (`person_id`, `key`).
    ///
    /// # Errors
    /// When the system gives no randomness for the nonce.
    pub fn seal(
        &self,
        person_id: &str,
        key: &str,
        plaintext: &[u8],
    ) -> Result<String, DataKeyError> {
        let current = &self.keys[0];
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce).map_err(|e| DataKeyError::Random(e.to_string()))?;
        let aad = row_binding(person_id, key);
        let sealed = current
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| DataKeyError::Random("AES-GCM refused the message".to_owned()))?;
        let mut bytes = Vec::with_capacity(NONCE_BYTES + sealed.len());
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&sealed);
        Ok(format!(
            "{VERSION}.{}.{}",
            current.id,
            URL_SAFE_NO_PAD.encode(bytes)
        ))
    }

    /// Opens a value sealed for the row (`person_id`, `key`) under any
    /// configured key.
    ///
    /// # Errors
    /// Not sealed, an unknown key, or a value that does not verify.
    pub fn open(&self, person_id: &str, key: &str, sealed: &str) -> Result<Vec<u8>, OpenError> {
        let (id, body) = split(sealed).ok_or(OpenError::Format)?;
        let data_key = self
            .keys
            .iter()
            .find(|k| k.id == id)
            .ok_or_else(|| OpenError::UnknownKey(id.to_owned()))?;
        let bytes = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| OpenError::Format)?;
        if bytes.len() < NONCE_BYTES + 16 {
            return Err(OpenError::Format);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| OpenError::Format)?;
        let aad = row_binding(person_id, key);
        data_key
            .cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| OpenError::Inauthentic(id.to_owned()))
    }

    /// Whether `stored` is sealed under the current key (nothing to redo).
    pub fn is_current(&self, stored: &str) -> bool {
        split(stored).is_some_and(|(id, _)| id == self.current_id())
    }
}

impl DataKeys {
    /// A fresh key for `person_id`, and its sealed form to store.
    ///
    /// # Errors
    /// When the system gives no randomness.
    pub fn new_person_key(&self, person_id: &str) -> Result<(PersonKey, String), DataKeyError> {
        let raw = zeroize::Zeroizing::new(DataKeys::generate()?);
        let sealed = self.seal(person_id, PERSON_KEY_BINDING, raw.as_slice())?;
        Ok((PersonKey::from_bytes(raw.as_slice())?, sealed))
    }

    /// Opens `person_id`'s key from its sealed form.
    ///
    /// # Errors
    /// Not sealed, an unknown server key, or a key that does not verify
    /// (altered, or another person's).
    pub fn open_person_key(&self, person_id: &str, sealed: &str) -> Result<PersonKey, OpenError> {
        let raw = zeroize::Zeroizing::new(self.open(person_id, PERSON_KEY_BINDING, sealed)?);
        PersonKey::from_bytes(&raw).map_err(|_| OpenError::Format)
    }

    /// Seals an opened person key again under the current server key (a
    /// rotation).
    ///
    /// # Errors
    /// When the system gives no randomness, or the stored key does not open.
    pub fn reseal_person_key(&self, person_id: &str, sealed: &str) -> Result<String, OpenError> {
        let raw = zeroize::Zeroizing::new(self.open(person_id, PERSON_KEY_BINDING, sealed)?);
        self.seal(person_id, PERSON_KEY_BINDING, raw.as_slice())
            .map_err(|_| OpenError::Format)
    }
}

/// One person's own data key: seals and opens their values (`v2.`).
/// Never printed; its bytes live only inside the cipher.
#[derive(Clone)]
pub struct PersonKey {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for PersonKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PersonKey(..)")
    }
}

impl PersonKey {
    fn from_bytes(raw: &[u8]) -> Result<PersonKey, DataKeyError> {
        if raw.len() != DATA_KEY_BYTES {
            return Err(DataKeyError::Malformed { position: 1 });
        }
        let cipher =
            Aes256Gcm::new_from_slice(raw).map_err(|_| DataKeyError::Malformed { position: 1 })?;
        Ok(PersonKey { cipher })
    }

    /// Seals `plaintext` for the row (`person_id`, `key`).
    ///
    /// # Errors
    /// When the system gives no randomness for the nonce.
    pub fn seal(
        &self,
        person_id: &str,
        key: &str,
        plaintext: &[u8],
    ) -> Result<String, DataKeyError> {
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce).map_err(|e| DataKeyError::Random(e.to_string()))?;
        let aad = row_binding(person_id, key);
        let sealed = self
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| DataKeyError::Random("AES-GCM refused the message".to_owned()))?;
        let mut bytes = Vec::with_capacity(NONCE_BYTES + sealed.len());
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&sealed);
        Ok(format!(
            "{PERSON_VERSION}.{}",
            URL_SAFE_NO_PAD.encode(bytes)
        ))
    }

    /// Opens a `v2.` value sealed for the row (`person_id`, `key`).
    ///
    /// # Errors
    /// Not a `v2.` value, or one that does not verify.
    pub fn open(&self, person_id: &str, key: &str, sealed: &str) -> Result<Vec<u8>, OpenError> {
        let body = sealed
            .strip_prefix(PERSON_VERSION)
            .and_then(|rest| rest.strip_prefix('.'))
            .ok_or(OpenError::Format)?;
        let bytes = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| OpenError::Format)?;
        if bytes.len() < NONCE_BYTES + 16 {
            return Err(OpenError::Format);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| OpenError::Format)?;
        let aad = row_binding(person_id, key);
        self.cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| OpenError::Inauthentic("the person's key".to_owned()))
    }
}

/// Whether a stored value is sealed under a person's own key (`v2.`).
pub fn is_person_sealed(stored: &str) -> bool {
    stored
        .strip_prefix(PERSON_VERSION)
        .and_then(|rest| rest.strip_prefix('.'))
        .is_some_and(|body| !body.is_empty() && !body.contains('.'))
}

/// `(key id, body)` of a sealed value.
fn split(sealed: &str) -> Option<(&str, &str)> {
    let rest = sealed.strip_prefix(VERSION)?.strip_prefix('.')?;
    let (id, body) = rest.split_once('.')?;
    (id.len() == 8 && id.bytes().all(|b| b.is_ascii_hexdigit())).then_some((id, body))
}

/// Whether a stored value is in the sealed format (older rows written before
/// sealing are plain JSON, which never starts with `v1.`).
pub fn is_sealed(stored: &str) -> bool {
    split(stored).is_some()
}

fn parse_keys(text: &str) -> Result<Vec<[u8; DATA_KEY_BYTES]>, DataKeyError> {
    let mut keys = Vec::new();
    for word in text
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .flat_map(|line| line.split([',', ' ', '\t']))
        .map(str::trim)
        .filter(|w| !w.is_empty())
    {
        let position = keys.len() + 1;
        let bytes = STANDARD
            .decode(word)
            .map_err(|_| DataKeyError::Malformed { position })?;
        let key: [u8; DATA_KEY_BYTES] = bytes
            .try_into()
            .map_err(|_| DataKeyError::Malformed { position })?;
        keys.push(key);
    }
    if keys.is_empty() {
        return Err(DataKeyError::Empty);
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test")]

    use super::*;

    fn keys(n: usize) -> Vec<[u8; DATA_KEY_BYTES]> {
        (0..n).map(|_| DataKeys::generate().unwrap()).collect()
    }

    #[test]
    fn a_value_opens_only_on_its_own_row_and_never_shows_in_the_clear() {
        let k = DataKeys::new(&keys(1)).unwrap();
        let value = br#""ada@example.org""#;
        let sealed = k.seal("p1", "email", value).unwrap();
        assert!(is_sealed(&sealed));
        assert!(!sealed.contains("ada"), "{sealed}");
        assert_eq!(k.open("p1", "email", &sealed).unwrap(), value);
        // Another person, another attribute: the binding fails.
        assert!(matches!(
            k.open("p2", "email", &sealed),
            Err(OpenError::Inauthentic(_))
        ));
        assert!(matches!(
            k.open("p1", "phone", &sealed),
            Err(OpenError::Inauthentic(_))
        ));
        // Fresh nonce every time.
        assert_ne!(sealed, k.seal("p1", "email", value).unwrap());
    }

    #[test]
    fn every_flipped_byte_is_caught() {
        let k = DataKeys::new(&keys(1)).unwrap();
        let sealed = k.seal("p1", "email", b"\"x@example.org\"").unwrap();
        let (prefix, body) = sealed.rsplit_once('.').unwrap();
        let bytes = URL_SAFE_NO_PAD.decode(body).unwrap();
        for i in 0..bytes.len() {
            let mut changed = bytes.clone();
            changed[i] ^= 0x01;
            let forged = format!("{prefix}.{}", URL_SAFE_NO_PAD.encode(changed));
            assert!(k.open("p1", "email", &forged).is_err(), "byte {i}");
        }
    }

    #[test]
    fn old_keys_open_the_current_key_seals() {
        let [old, new]: [[u8; 32]; 2] = keys(2).try_into().unwrap();
        let before = DataKeys::new(&[old]).unwrap();
        let sealed = before.seal("p", "email", b"1").unwrap();
        let rotated = DataKeys::new(&[new, old]).unwrap();
        assert!(!rotated.is_current(&sealed));
        assert_eq!(rotated.open("p", "email", &sealed).unwrap(), b"1");
        let resealed = rotated.seal("p", "email", b"1").unwrap();
        assert!(rotated.is_current(&resealed));
        let only_new = DataKeys::new(&[new]).unwrap();
        assert_eq!(
            only_new.open("p", "email", &sealed),
            Err(OpenError::UnknownKey(before.current_id().to_owned()))
        );
    }

    #[test]
    fn key_lists_parse_strictly() {
        let [a, b]: [[u8; 32]; 2] = keys(2).try_into().unwrap();
        let text = format!(
            "# current first\n{}\n{}, \n",
            DataKeys::encode(&a),
            DataKeys::encode(&b)
        );
        let parsed = DataKeys::parse(&text).unwrap();
        assert_eq!(parsed.ids(), vec![key_id(&a), key_id(&b)]);
        assert_eq!(
            DataKeys::parse(" \n# none\n").unwrap_err(),
            DataKeyError::Empty
        );
        assert_eq!(
            DataKeys::parse("c2hvcnQ=").unwrap_err(),
            DataKeyError::Malformed { position: 1 }
        );
        assert_eq!(
            DataKeys::parse(&format!("{},!!", DataKeys::encode(&a))).unwrap_err(),
            DataKeyError::Malformed { position: 2 }
        );
        let twice = format!("{0},{0}", DataKeys::encode(&a));
        assert_eq!(
            DataKeys::parse(&twice).unwrap_err(),
            DataKeyError::Repeated { position: 2 }
        );
        assert!(!format!("{parsed:?}").contains(&DataKeys::encode(&a)));
    }

    #[test]
    fn a_person_key_seals_their_values_and_without_it_nothing_opens() {
        let server = DataKeys::new(&keys(1)).unwrap();
        let (ada, stored) = server.new_person_key("p1").unwrap();
        assert!(
            is_sealed(&stored),
            "the person key is sealed under the server key"
        );
        let value = br#""ada@example.org""#;
        let sealed = ada.seal("p1", "email", value).unwrap();
        assert!(is_person_sealed(&sealed) && !is_sealed(&sealed), "{sealed}");
        assert_eq!(ada.open("p1", "email", &sealed).unwrap(), value);
        // The stored key opens to the same key, for that person only.
        let reopened = server.open_person_key("p1", &stored).unwrap();
        assert_eq!(reopened.open("p1", "email", &sealed).unwrap(), value);
        assert!(server.open_person_key("p2", &stored).is_err());
        // The server's own key does not open a person's value, another
        // person's key does not, and a moved value does not.
        assert_eq!(server.open("p1", "email", &sealed), Err(OpenError::Format));
        let (bob, _) = server.new_person_key("p2").unwrap();
        assert!(bob.open("p1", "email", &sealed).is_err());
        assert!(ada.open("p1", "phone", &sealed).is_err());
        // Rotation: the person key is resealed under the new server key and
        // still opens the old values.
        let [new] = keys(1).try_into().unwrap();
        let rotated = DataKeys::new(&[new]).unwrap();
        assert!(rotated.open_person_key("p1", &stored).is_err());
        let resealed = server.reseal_person_key("p1", &stored).unwrap();
        assert!(server.is_current(&resealed));
        assert_eq!(
            server
                .open_person_key("p1", &resealed)
                .unwrap()
                .open("p1", "email", &sealed)
                .unwrap(),
            value
        );
        // Every flipped byte of a person-sealed value is caught.
        let body = URL_SAFE_NO_PAD.decode(&sealed[3..]).unwrap();
        for i in 0..body.len() {
            let mut changed = body.clone();
            changed[i] ^= 0x80;
            let forged = format!("v2.{}", URL_SAFE_NO_PAD.encode(changed));
            assert!(ada.open("p1", "email", &forged).is_err(), "byte {i}");
        }
        assert!(!format!("{ada:?}").contains("ada"));
    }

    #[test]
    fn plain_json_is_never_mistaken_for_sealed() {
        for plain in [
            r#""v1.abcdef12.x""#,
            "{}",
            "[1]",
            "\"a\"",
            "12",
            "null",
            "v1.nothex!.x",
            "v1",
        ] {
            assert!(!is_sealed(plain), "{plain}");
        }
        assert!(is_sealed("v1.abcdef12.x"));
        for plain in [r#""v2.x""#, "v2.", "v2", "v1.abcdef12.x"] {
            assert!(!is_person_sealed(plain), "{plain}");
        }
        assert!(is_person_sealed("v2.AAAA"));
    }
}
