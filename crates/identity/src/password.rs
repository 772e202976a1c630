//! Passwords: argon2id with OWASP's parameters (19 MiB, 2 passes, 1 lane).
//! Hashing takes tens of milliseconds of CPU on purpose, so callers run it on
//! a blocking thread, never on an async worker.

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

/// Shortest password accepted (NIST SP 800-63B asks for at least 8).
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password accepted; bounds the work one request can cause.
pub const MAX_PASSWORD_CHARS: usize = 128;

/// A password that passed the length policy.
#[derive(Clone)]
pub struct Password(String);

/// Why a password was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Too short.
    #[error("a password needs at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    /// Too long.
    #[error("a password may have at most {MAX_PASSWORD_CHARS} characters")]
    TooLong,
    /// Hashing failed (never expected; the parameters are fixed).
    #[error("the password could not be hashed")]
    Hashing,
}

impl Password {
    /// Checks the length policy (counted in characters, not bytes).
    pub fn parse(text: &str) -> Result<Password, PasswordError> {
        let chars = text.chars().count();
        if chars < MIN_PASSWORD_CHARS || text.trim().is_empty() {
            return Err(PasswordError::TooShort);
        }
        if chars > MAX_PASSWORD_CHARS {
            return Err(PasswordError::TooLong);
        }
        Ok(Password(text.to_owned()))
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

fn hasher() -> Argon2<'static> {
    let params = Params::new(
        Params::DEFAULT_M_COST,
        Params::DEFAULT_T_COST,
        Params::DEFAULT_P_COST,
        None,
    )
    .expect("OWASP's argon2id parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`).
pub fn hash_password(password: &Password) -> Result<String, PasswordError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|_| PasswordError::Hashing)?;
    hasher()
        .hash_password_with_salt(password.0.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|_| PasswordError::Hashing)
}

/// Whether `password` matches the stored PHC string. A malformed hash never
/// matches.
pub fn verify_password(password: &str, phc: &str) -> bool {
    if password.chars().count() > MAX_PASSWORD_CHARS {
        return false;
    }
    hasher().verify_password(password.as_bytes(), phc).is_ok()
}

/// The hash of a password nobody has, computed once per process.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let password = Password::parse("apiome-dummy-password-nobody-has").expect("long enough");
        hash_password(&password).unwrap_or_default()
    })
}

/// Spends the same work as [`verify_password`] on a hash nobody has, so that
/// "no such person" and "wrong password" take equally long.
pub fn dummy_verify(password: &str) {
    let _ = verify_password(password, dummy_hash());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_counts_characters() {
        assert_eq!(
            Password::parse("short").unwrap_err(),
            PasswordError::TooShort
        );
        assert_eq!(
            Password::parse("        ").unwrap_err(),
            PasswordError::TooShort
        );
        assert!(Password::parse("ümlauts!").is_ok()); // 8 chars, 9 bytes
        assert!(Password::parse(&"a".repeat(MAX_PASSWORD_CHARS)).is_ok());
        assert_eq!(
            Password::parse(&"a".repeat(MAX_PASSWORD_CHARS + 1)).unwrap_err(),
            PasswordError::TooLong
        );
        assert_eq!(
            format!("{:?}", Password::parse("secret-pass").unwrap()),
            "Password(***)"
        );
    }

    #[test]
    fn a_hash_verifies_its_password_and_no_other() {
        let hash = hash_password(&Password::parse("correct horse").unwrap()).unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("correct horse ", &hash));
        assert!(!verify_password("Correct horse", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
        let again = hash_password(&Password::parse("correct horse").unwrap()).unwrap();
        assert_ne!(hash, again, "every hash has its own salt");
    }

    #[test]
    fn the_dummy_never_matches() {
        assert!(!verify_password(
            "apiome-dummy-password-nobody-hax",
            dummy_hash()
        ));
        dummy_verify("anything");
    }
}
