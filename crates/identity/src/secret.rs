//! Random secrets handed to people (session tokens, recovery codes) and the
//! only form in which they are stored: a SHA-256 hash. A 256-bit session
//! token or an 80-bit recovery code cannot be guessed from its hash, so a
//! slow hash would add cost without adding safety.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// How many recovery codes a person gets at sign-up.
pub const RECOVERY_CODE_COUNT: usize = 10;
/// Crockford's base32: no I, L, O or U, so codes read aloud unambiguously.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the operating system provides randomness");
    bytes
}

/// A new 256-bit session token, base64url.
pub fn new_session_token() -> String {
    URL_SAFE_NO_PAD.encode(random::<32>())
}

/// The stored form of a secret: lower-case hex SHA-256.
pub fn hash_secret(secret: &str) -> String {
    hex_lower(&Sha256::digest(secret.as_bytes()))
}

pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A one-time recovery code: 16 Crockford base32 characters (80 bits),
/// shown as `XXXX-XXXX-XXXX-XXXX`.
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCode(String);

impl RecoveryCode {
    /// The code as shown to the person.
    pub fn display(&self) -> String {
        self.0
            .as_bytes()
            .chunks(4)
            .map(|c| std::str::from_utf8(c).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("-")
    }

    /// The stored form.
    pub fn hash(&self) -> String {
        hash_secret(&self.0)
    }
}

impl std::fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecoveryCode(***)")
    }
}

/// [`RECOVERY_CODE_COUNT`] new codes.
pub fn new_recovery_codes() -> Vec<RecoveryCode> {
    (0..RECOVERY_CODE_COUNT)
        .map(|_| {
            let bytes = random::<10>();
            let mut bits: u128 = 0;
            for b in bytes {
                bits = (bits << 8) | u128::from(b);
            }
            let code = (0..16)
                .rev()
                .map(|i| CROCKFORD[((bits >> (i * 5)) & 31) as usize] as char)
                .collect();
            RecoveryCode(code)
        })
        .collect()
}

/// Reads a code as typed: case, spaces and hyphens do not matter, and the
/// letters people confuse with digits (I, L → 1; O → 0) are forgiven.
/// `None` when it cannot be a code.
pub fn normalise_recovery_code(typed: &str) -> Option<RecoveryCode> {
    let mut code = String::with_capacity(16);
    for c in typed.chars() {
        let c = match c.to_ascii_uppercase() {
            ' ' | '-' => continue,
            'I' | 'L' => '1',
            'O' => '0',
            c => c,
        };
        if !CROCKFORD.contains(&(c as u8)) || !c.is_ascii() {
            return None;
        }
        code.push(c);
    }
    (code.len() == 16).then_some(RecoveryCode(code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_tokens_are_256_bits_and_distinct() {
        let a = new_session_token();
        let b = new_session_token();
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).unwrap().len(), 32);
        assert_ne!(a, b);
        assert_eq!(hash_secret(&a).len(), 64);
        assert_ne!(hash_secret(&a), hash_secret(&b));
    }

    #[test]
    fn recovery_codes_read_back_however_they_are_typed() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODE_COUNT);
        for code in &codes {
            let shown = code.display();
            assert_eq!(shown.len(), 19);
            assert_eq!(normalise_recovery_code(&shown).as_ref(), Some(code));
            let sloppy = format!(" {} ", shown.to_lowercase().replace('-', " "));
            assert_eq!(normalise_recovery_code(&sloppy).as_ref(), Some(code));
        }
        let hashes: std::collections::BTreeSet<_> = codes.iter().map(RecoveryCode::hash).collect();
        assert_eq!(hashes.len(), RECOVERY_CODE_COUNT);
    }

    #[test]
    fn confusable_letters_are_forgiven_and_junk_refused() {
        let code = normalise_recovery_code("0000-0000-0000-0001").unwrap();
        assert_eq!(normalise_recovery_code("oooo-OOOO-0000-000l"), Some(code));
        assert_eq!(normalise_recovery_code("0000-0000-0000-000"), None);
        assert_eq!(normalise_recovery_code("0000-0000-0000-0000-0"), None);
        assert_eq!(normalise_recovery_code("0000-0000-0000-000U"), None);
        assert_eq!(normalise_recovery_code("0000-0000-0000-000é"), None);
    }
}
