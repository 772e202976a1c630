//! Passwords: argon2id with OWASP's parameters (19 MiB, 2 passes, 1 lane).
//! Hashing takes tens of milliseconds of CPU on purpose, so callers run it on
//! a blocking thread, never on an async worker.
//!
//! Each hash needs 19 MiB of working memory. Left to allocate it, argon2
//! takes it from the allocator each time; freed, glibc keeps it in the
//! arena of the thread that used it, so a burst spread over many pool
//! threads leaves the process at gigabytes. The `_in` functions take a
//! [`HashMemory`] instead, which the caller keeps and reuses: as many
//! exist as hashes may run at once, and that bounds the memory.

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};

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

/// Bytes in a hash's output.
const OUTPUT_BYTES: usize = 32;

/// The working memory of one argon2id hash with our parameters (19 MiB),
/// to be reused from hash to hash (see the module's documentation).
pub struct HashMemory(Vec<Block>);

impl HashMemory {
    /// Allocates it (19 MiB).
    pub fn new() -> HashMemory {
        HashMemory(vec![Block::default(); hasher().params().block_count()])
    }

    /// The first `blocks` blocks, if it has that many.
    fn blocks(&mut self, blocks: usize) -> Option<&mut [Block]> {
        self.0.get_mut(..blocks)
    }
}

impl Default for HashMemory {
    fn default() -> Self {
        HashMemory::new()
    }
}

/// Hashes a password into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`)
/// in `memory`.
pub fn hash_password_in(
    password: &Password,
    memory: &mut HashMemory,
) -> Result<String, PasswordError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|_| PasswordError::Hashing)?;
    let argon2 = hasher();
    let blocks = memory
        .blocks(argon2.params().block_count())
        .ok_or(PasswordError::Hashing)?;
    let mut out = [0u8; OUTPUT_BYTES];
    argon2
        .hash_password_into_with_memory(password.0.as_bytes(), &salt, &mut out, blocks)
        .map_err(|_| PasswordError::Hashing)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon2.params()).map_err(|_| PasswordError::Hashing)?,
        salt: Some(Salt::new(&salt).map_err(|_| PasswordError::Hashing)?),
        hash: Some(Output::new(&out).map_err(|_| PasswordError::Hashing)?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches the stored PHC string, computed in `memory`.
/// A malformed hash never matches, nor one that needs more memory than
/// ours (we never stored such a hash; verifying it would allocate).
pub fn verify_password_in(password: &str, phc: &str, memory: &mut HashMemory) -> bool {
    if password.chars().count() > MAX_PASSWORD_CHARS {
        return false;
    }
    let Ok(stored) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&stored.salt, &stored.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(stored.algorithm.as_str()),
        Params::try_from(&stored),
    ) else {
        return false;
    };
    let version = match stored.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(version)) => version,
        Some(Err(_)) => return false,
    };
    let argon2 = Argon2::new(algorithm, version, params);
    let Some(blocks) = memory.blocks(argon2.params().block_count()) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    if argon2
        .hash_password_into_with_memory(password.as_bytes(), salt.as_ref(), &mut out, blocks)
        .is_err()
    {
        return false;
    }
    // `Output`'s equality is constant-time.
    Output::new(&out).is_ok_and(|computed| computed == *expected)
}

/// The hash of a password nobody has, computed once per process.
fn dummy_hash(memory: &mut HashMemory) -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let password = Password::parse("apiome-dummy-password-nobody-has").expect("long enough");
        hash_password_in(&password, memory).unwrap_or_default()
    })
}

/// Spends the same work as [`verify_password_in`] on a hash nobody has, so
/// that "no such person" and "wrong password" take equally long.
pub fn dummy_verify_in(password: &str, memory: &mut HashMemory) {
    let hash = dummy_hash(memory);
    let _ = verify_password_in(password, hash, memory);
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

    fn hash_password(password: &Password) -> Result<String, PasswordError> {
        hash_password_in(password, &mut HashMemory::new())
    }

    fn verify_password(password: &str, phc: &str) -> bool {
        verify_password_in(password, phc, &mut HashMemory::new())
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
        let mut memory = HashMemory::new();
        let dummy = dummy_hash(&mut memory);
        assert!(!verify_password_in(
            "apiome-dummy-password-nobody-hax",
            dummy,
            &mut memory
        ));
        assert!(verify_password_in(
            "apiome-dummy-password-nobody-has",
            dummy,
            &mut memory
        ));
        dummy_verify_in("anything", &mut memory);
    }

    #[test]
    fn one_memory_serves_many_hashes_and_matches_the_crates_own_verifier() {
        use argon2::PasswordVerifier;
        let mut memory = HashMemory::new();
        let first =
            hash_password_in(&Password::parse("first password").unwrap(), &mut memory).unwrap();
        let second =
            hash_password_in(&Password::parse("second password").unwrap(), &mut memory).unwrap();
        assert!(verify_password_in("first password", &first, &mut memory));
        assert!(verify_password_in("second password", &second, &mut memory));
        assert!(!verify_password_in("second password", &first, &mut memory));
        // The PHC strings are the standard ones: argon2's verifier agrees.
        let parsed = PasswordHash::new(&first).unwrap();
        assert!(hasher().verify_password(b"first password", &parsed).is_ok());
        // And a hash made by the crate verifies here.
        let theirs = argon2::PasswordHasher::hash_password_with_salt(
            &hasher(),
            b"third password",
            b"0123456789abcdef",
        )
        .unwrap()
        .to_string();
        assert!(verify_password_in("third password", &theirs, &mut memory));
    }

    #[test]
    fn a_hash_needing_more_memory_than_ours_is_refused_without_allocating() {
        let mut memory = HashMemory::new();
        let big = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(Params::DEFAULT_M_COST * 2, 1, 1, None).unwrap(),
        );
        let phc = argon2::PasswordHasher::hash_password_with_salt(
            &big,
            b"big password",
            b"0123456789abcdef",
        )
        .unwrap()
        .to_string();
        assert!(!verify_password_in("big password", &phc, &mut memory));
    }
}
