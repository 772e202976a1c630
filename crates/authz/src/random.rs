//! Randomness as a tiny trait, so tests can fix it and the server uses the OS.

use sha2::{Digest, Sha256};

/// The operating system's random source failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the operating system's random source failed: {0}")]
pub struct RandomError(pub String);

impl From<RandomError> for crate::OAuthError {
    fn from(e: RandomError) -> Self {
        Self::server_error(e.to_string())
    }
}

/// A source of random bytes.
pub trait Random {
    /// Fills `dest` with random bytes.
    ///
    /// # Errors
    /// [`RandomError`] when the source cannot give bytes.
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RandomError>;

    /// An array of random bytes.
    ///
    /// # Errors
    /// As [`Random::fill`].
    fn array<const N: usize>(&mut self) -> Result<[u8; N], RandomError>
    where
        Self: Sized,
    {
        let mut out = [0_u8; N];
        self.fill(&mut out)?;
        Ok(out)
    }
}

/// The operating system's cryptographic random source; what the server uses.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom;

impl Random for OsRandom {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RandomError> {
        getrandom::fill(dest).map_err(|e| RandomError(e.to_string()))
    }
}

/// A predictable stream (SHA-256 of a seed and a counter) for tests only:
/// anyone who knows the seed knows every "secret" it makes.
#[derive(Debug, Clone)]
pub struct PredictableRandom {
    seed: u64,
    counter: u64,
}

impl PredictableRandom {
    /// A stream determined by `seed`.
    #[must_use]
    pub const fn new(seed: u64) -> Self {
        Self { seed, counter: 0 }
    }
}

impl Random for PredictableRandom {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RandomError> {
        for chunk in dest.chunks_mut(32) {
            let block = Sha256::new()
                .chain_update(self.seed.to_be_bytes())
                .chain_update(self.counter.to_be_bytes())
                .finalize();
            self.counter += 1;
            chunk.copy_from_slice(&block[..chunk.len()]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_random_gives_distinct_arrays() {
        let a: [u8; 32] = OsRandom.array().unwrap();
        let b: [u8; 32] = OsRandom.array().unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn predictable_random_is_repeatable_and_moves_on() {
        let mut r1 = PredictableRandom::new(7);
        let mut r2 = PredictableRandom::new(7);
        let a: [u8; 40] = r1.array().unwrap();
        assert_eq!(a, r2.array::<40>().unwrap());
        assert_ne!(a, r1.array::<40>().unwrap());
        assert_ne!(a, PredictableRandom::new(8).array::<40>().unwrap());
    }
}
