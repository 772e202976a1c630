//! A person chooses how apiome tells them what happens: an email address
//! (verified by a link before it gets anything else), which kinds of
//! notice they get, and a daily digest instead of single mails; and
//! turns a kind off from a mail's one-click unsubscribe link.
//!
//! The verification token is 256 random bits, stored only as its SHA-256,
//! usable once and for [`store::VERIFY_TTL`]. The unsubscribe token is an
//! HMAC of the person and the kind under a server key: it turns exactly
//! that kind off for exactly that person, and nothing else.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use store::{NoticeKind, NotifySettings, PersonId, Store};

use crate::BrokerError;

/// The longest address accepted (RFC 5321's path limit).
pub const MAX_ADDRESS: usize = 254;

/// An email address of a plain shape: `local@domain`, no spaces, quotes,
/// angle brackets or commas, a dot in the domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Checks `text`; `Err` says what is wrong.
    pub fn parse(text: &str) -> Result<EmailAddress, String> {
        let text = text.trim();
        if text.is_empty() || text.len() > MAX_ADDRESS {
            return Err(format!("an address has 3 to {MAX_ADDRESS} characters"));
        }
        let bad = |c: char| {
            c.is_whitespace()
                || c.is_control()
                || matches!(c, '<' | '>' | ',' | '"' | '(' | ')' | ';' | '\\')
        };
        let (local, domain) = text
            .split_once('@')
            .ok_or_else(|| format!("{text:?} is not an email address: no @"))?;
        let well_formed = !local.is_empty()
            && local.len() <= 64
            && !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !text.chars().any(bad);
        if !well_formed {
            return Err(format!("{text:?} is not an email address"));
        }
        Ok(EmailAddress(text.to_owned()))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What the person chose, with defaults for someone who chose nothing.
pub async fn settings(
    store: &Store,
    person: &PersonId,
) -> Result<Option<NotifySettings>, BrokerError> {
    Ok(store.notify_settings(person).await?)
}

/// Sets the person's address (unverified until its link is used) and
/// queues the verification mail, which links to `verify_url` with the
/// token appended (`...?token=`), in one transaction.
pub async fn set_address(
    store: &Store,
    person: &PersonId,
    address: &EmailAddress,
    verify_url: &str,
) -> Result<NotifySettings, BrokerError> {
    let token = identity::new_session_token();
    let link = format!("{verify_url}{token}");
    let tx = store.begin().await?;
    tx.set_notify_address(
        person,
        address.as_str(),
        &identity::hash_secret(&token),
        &link,
    )
    .await?;
    let settings = tx
        .notify_settings(person)
        .await?
        .ok_or_else(|| BrokerError::Corrupt("settings vanished".to_owned()))?;
    tx.commit().await?;
    Ok(settings)
}

/// Verifies the address with the token from its link; `false` (nothing
/// changed) for a wrong, used or expired token.
pub async fn verify(store: &Store, person: &PersonId, token: &str) -> Result<bool, BrokerError> {
    let tx = store.begin().await?;
    let verified = tx
        .verify_notify_address(person, &identity::hash_secret(token.trim()))
        .await?;
    tx.commit().await?;
    Ok(verified)
}

/// Sets which kinds are off and the digest; `None` when the person gave
/// no address yet (nothing changed).
pub async fn set_choices(
    store: &Store,
    person: &PersonId,
    kinds_off: &[NoticeKind],
    digest: bool,
) -> Result<Option<NotifySettings>, BrokerError> {
    let tx = store.begin().await?;
    if !tx.set_notify_choices(person, kinds_off, digest).await? {
        return Ok(None);
    }
    let settings = tx.notify_settings(person).await?;
    tx.commit().await?;
    Ok(settings)
}

/// What a one-click unsubscribe turns off: one kind, or every kind (the
/// verification mail's and the digest's link).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unsubscribe {
    /// One kind.
    Kind(NoticeKind),
    /// Every kind.
    All,
}

impl Unsubscribe {
    /// `all` or a kind's name.
    pub fn parse(text: &str) -> Option<Unsubscribe> {
        match text {
            "all" => Some(Unsubscribe::All),
            _ => NoticeKind::parse(text).map(Unsubscribe::Kind),
        }
    }

    /// Its name in the URL.
    pub fn as_str(self) -> &'static str {
        match self {
            Unsubscribe::Kind(kind) => kind.as_str(),
            Unsubscribe::All => "all",
        }
    }
}

/// The unsubscribe token of `person` and `target` (`all` or a kind's
/// name) under `key` (hex).
pub fn unsubscribe_token(key: &[u8], person: &PersonId, target: &str) -> String {
    hex_encode(&unsubscribe_mac(key, person, target).finalize().into_bytes())
}

fn unsubscribe_mac(key: &[u8], person: &PersonId, kind: &str) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(b"apiome unsubscribe v1\0");
    mac.update(person.as_str().as_bytes());
    mac.update(b"\0");
    mac.update(kind.as_bytes());
    mac
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One-click unsubscribe: turns `target` off for `person` when `token` is
/// theirs for it; `false` (nothing changed) otherwise.
pub async fn unsubscribe(
    store: &Store,
    key: &[u8],
    person: &PersonId,
    target: Unsubscribe,
    token: &str,
) -> Result<bool, BrokerError> {
    let Some(presented) = decode_hex(token) else {
        return Ok(false);
    };
    if unsubscribe_mac(key, person, target.as_str())
        .verify_slice(&presented)
        .is_err()
    {
        return Ok(false);
    }
    let kinds = match target {
        Unsubscribe::Kind(kind) => vec![kind],
        Unsubscribe::All => NoticeKind::ALL.to_vec(),
    };
    let tx = store.begin().await?;
    let mut done = false;
    for kind in kinds {
        done = tx.turn_notice_off(person, kind).await?;
    }
    tx.commit().await?;
    Ok(done)
}

/// Whether `token` is the unsubscribe token of `person` and `target`
/// under `key` (compared in constant time).
pub(crate) fn token_matches(key: &[u8], person: &PersonId, target: &str, token: &str) -> bool {
    decode_hex(token).is_some_and(|presented| {
        unsubscribe_mac(key, person, target)
            .verify_slice(&presented)
            .is_ok()
    })
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_of_a_plain_shape_only() {
        assert!(EmailAddress::parse("ada@example.org").is_ok());
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.org",
            "ada@localhost",
            "a b@example.org",
            "ada@example.org>",
            "ada@@example.org",
            "ada@example.org\r\nBcc: x@y.z",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?}");
        }
        assert!(EmailAddress::parse(&format!("{}@example.org", "a".repeat(250))).is_err());
    }

    #[test]
    fn an_unsubscribe_token_is_one_person_and_one_kind() {
        let (a, b) = (PersonId::new("a"), PersonId::new("b"));
        let token = unsubscribe_token(b"key", &a, "first_use");
        assert_eq!(token.len(), 64);
        assert_ne!(token, unsubscribe_token(b"key", &b, "first_use"));
        assert_ne!(token, unsubscribe_token(b"key", &a, "expiring"));
        assert_ne!(token, unsubscribe_token(b"other", &a, "first_use"));
        assert_eq!(Unsubscribe::parse("all"), Some(Unsubscribe::All));
        assert_eq!(Unsubscribe::parse("nope"), None);
        assert_eq!(decode_hex(&token).map(|b| b.len()), Some(32));
        assert_eq!(decode_hex("zz"), None);
    }
}
