//! A bounded memory of access tokens whose signature already checked out.
//!
//! Verifying an Ed25519 signature costs ~50 µs, and a company presents the
//! same token on every read and introspection until it expires. A token's
//! bytes never change, so neither does the outcome of the checks that do
//! not depend on the time: header, signature, issuer, audience, lifetime.
//! [`VerifiedTokens`] remembers that outcome under the token's SHA-256 and
//! still checks, on every call:
//!
//! - the time (`exp`, `iat`), so an expired token is refused as before;
//! - that the key which verified it is still in the key set, so dropping a
//!   key ends its tokens at once, cached or not.
//!
//! Revocation and grant liveness are the caller's, on every read, as they
//! were. Only tokens that verified are remembered: a stranger cannot fill
//! the memory without tokens the server signed. When full, the cache
//! forgets the least useful entries (S3-FIFO), and a forgotten token is
//! simply verified again.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use crate::token::{MAX_TOKEN_LEN, check_time};
use crate::{AccessTokenClaims, KeySet, TokenError, TokenSettings, UnixTime};

/// How many verified tokens a server remembers by default. An entry holds
/// the claims (~0.5 KiB), so this is a few MiB at most.
pub const DEFAULT_CAPACITY: usize = 8_192;

/// What a successful verification found: the key and the claims.
#[derive(Debug)]
struct Verified {
    kid: String,
    claims: AccessTokenClaims,
}

/// Verified access tokens by the SHA-256 of their text. See the module.
pub struct VerifiedTokens {
    cache: quick_cache::sync::Cache<[u8; 32], Arc<Verified>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl std::fmt::Debug for VerifiedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedTokens")
            .field("len", &self.cache.len())
            .field("capacity", &self.cache.capacity())
            .finish_non_exhaustive()
    }
}

impl VerifiedTokens {
    /// A cache of about `capacity` tokens.
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            cache: quick_cache::sync::Cache::new(capacity.max(1)),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// [`KeySet::verify`], with the signature check skipped for a token
    /// that verified before under a key still in `keys`. Gives exactly
    /// what [`KeySet::verify`] gives for the same arguments.
    ///
    /// # Errors
    /// As [`KeySet::verify`].
    pub fn verify(
        &self,
        keys: &KeySet,
        token: &str,
        settings: &TokenSettings,
        now: UnixTime,
    ) -> Result<AccessTokenClaims, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::TooLong);
        }
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(known) = self.cache.get(&digest)
            && keys.knows(&known.kid)
        {
            self.hits.fetch_add(1, Ordering::Relaxed);
            check_time(&known.claims, now)?;
            return Ok(known.claims.clone());
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let (kid, claims) = keys.verify_untimed(token, settings)?;
        check_time(&claims, now)?;
        self.cache.insert(
            digest,
            Arc::new(Verified {
                kid,
                claims: claims.clone(),
            }),
        );
        Ok(claims)
    }

    /// Tokens remembered now.
    #[must_use]
    pub fn len(&self) -> usize {
        self.cache.len()
    }

    /// Whether nothing is remembered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.cache.is_empty()
    }

    /// The most tokens it remembers.
    #[must_use]
    pub fn capacity(&self) -> u64 {
        self.cache.capacity()
    }

    /// Calls answered from memory, and calls that verified a signature.
    #[must_use]
    pub fn hits_and_misses(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use consent_policy::{AttributeKey, DataRequest, GrantDuration, Purpose};
    use proptest::prelude::*;

    use super::*;
    use crate::ClientId;
    use crate::random::PredictableRandom;

    const ISS: &str = "https://as.example";
    const AUD: &str = "https://as.example/v1";
    const ISSUED: u64 = 10_000;

    fn settings() -> TokenSettings {
        TokenSettings::new(ISS, AUD, 300).unwrap()
    }

    fn at(secs: u64) -> UnixTime {
        UnixTime::from_secs(secs)
    }

    /// Two key sets (the second a rotation of the first) and tokens of
    /// every kind: good under either key, tampered, foreign, issued later.
    struct World {
        old_keys: KeySet,
        rotated: KeySet,
        pruned: KeySet,
        tokens: Vec<String>,
    }

    fn world() -> World {
        let mut rng = PredictableRandom::new(7);
        let old_keys = KeySet::generate(&mut rng, at(0)).unwrap();
        let mut rotated = old_keys.clone();
        rotated.rotate(&mut rng, at(10)).unwrap();
        let mut pruned = rotated.clone();
        let first_kid = old_keys.signing_key().kid().to_owned();
        pruned.remove(&first_kid).unwrap();
        let foreign = KeySet::generate(&mut PredictableRandom::new(8), at(0)).unwrap();
        let client = ClientId::generate(&mut rng).unwrap();
        let granted = DataRequest::new(
            vec![AttributeKey::parse("email").unwrap()],
            Purpose::Marketing,
            GrantDuration::parse("P30D").unwrap(),
            None,
        )
        .unwrap();
        let mut tokens = Vec::new();
        for (issued, keys) in [
            (ISSUED, &old_keys),
            (ISSUED + 200, &rotated),
            (ISSUED, &foreign),
        ] {
            let claims = settings()
                .grant_claims("subj", &client, "grant-1", &granted, at(issued), &mut rng)
                .unwrap();
            let token = keys.sign(&claims).unwrap();
            let mut tampered = token.clone().into_bytes();
            let middle = tampered.len() / 2;
            tampered[middle] = if tampered[middle] == b'A' { b'B' } else { b'A' };
            tokens.push(token);
            tokens.push(String::from_utf8(tampered).unwrap());
            let client_claims = settings()
                .client_claims(&client, Some("read"), at(issued), &mut rng)
                .unwrap();
            tokens.push(keys.sign(&client_claims).unwrap());
        }
        tokens.push("not.a.token".to_owned());
        tokens.push("x".repeat(MAX_TOKEN_LEN + 1));
        World {
            old_keys,
            rotated,
            pruned,
            tokens,
        }
    }

    #[test]
    fn a_remembered_token_still_expires() {
        let w = world();
        let cache = VerifiedTokens::new(16);
        let token = &w.tokens[0];
        let claims = cache
            .verify(&w.old_keys, token, &settings(), at(ISSUED))
            .unwrap();
        assert_eq!(cache.hits_and_misses(), (0, 1));
        assert_eq!(
            cache
                .verify(&w.old_keys, token, &settings(), at(ISSUED + 1))
                .unwrap(),
            claims
        );
        assert_eq!(cache.hits_and_misses(), (1, 1));
        assert_eq!(
            cache.verify(&w.old_keys, token, &settings(), at(claims.exp)),
            Err(TokenError::Expired)
        );
        assert_eq!(
            cache.verify(&w.old_keys, token, &settings(), at(ISSUED - 3_600)),
            Err(TokenError::IssuedInFuture)
        );
    }

    #[test]
    fn a_remembered_token_stops_verifying_when_its_key_is_dropped() {
        let w = world();
        let cache = VerifiedTokens::new(16);
        let token = &w.tokens[0];
        cache
            .verify(&w.rotated, token, &settings(), at(ISSUED))
            .unwrap();
        assert!(
            cache
                .verify(&w.rotated, token, &settings(), at(ISSUED))
                .is_ok()
        );
        assert_eq!(
            cache.verify(&w.pruned, token, &settings(), at(ISSUED)),
            Err(TokenError::UnknownKid)
        );
    }

    #[test]
    fn failures_are_not_remembered_and_a_changed_byte_is_a_different_token() {
        let w = world();
        let cache = VerifiedTokens::new(16);
        assert_eq!(
            cache.verify(&w.old_keys, &w.tokens[1], &settings(), at(ISSUED)),
            Err(TokenError::BadSignature)
        );
        assert!(cache.is_empty());
        cache
            .verify(&w.old_keys, &w.tokens[0], &settings(), at(ISSUED))
            .unwrap();
        assert_eq!(
            cache.verify(&w.old_keys, &w.tokens[1], &settings(), at(ISSUED)),
            Err(TokenError::BadSignature)
        );
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn the_cache_stays_within_its_capacity() {
        let mut rng = PredictableRandom::new(3);
        let keys = KeySet::generate(&mut rng, at(0)).unwrap();
        let client = ClientId::generate(&mut rng).unwrap();
        let cache = VerifiedTokens::new(64);
        for _ in 0..1_000 {
            let claims = settings()
                .client_claims(&client, None, at(ISSUED), &mut rng)
                .unwrap();
            let token = keys.sign(&claims).unwrap();
            assert_eq!(
                cache.verify(&keys, &token, &settings(), at(ISSUED)),
                Ok(claims)
            );
        }
        assert!(cache.len() <= 64, "{} tokens remembered", cache.len());
        assert_eq!(cache.hits_and_misses(), (0, 1_000));
    }

    proptest! {
        /// Whatever the order of calls, times and key sets, the cache
        /// answers exactly what a fresh verification answers.
        #[test]
        fn the_cache_answers_as_a_fresh_verification(
            calls in prop::collection::vec((0usize..11, 0usize..3, 0u64..800), 1..60),
            capacity in 1usize..8,
        ) {
            let w = world();
            let cache = VerifiedTokens::new(capacity);
            for (token, keys, offset) in calls {
                let keys = [&w.old_keys, &w.rotated, &w.pruned][keys];
                let token = &w.tokens[token];
                let now = at(ISSUED - 100 + offset);
                prop_assert_eq!(
                    cache.verify(keys, token, &settings(), now),
                    keys.verify(token, &settings(), now)
                );
            }
        }
    }
}
