//! A DPoP proof (RFC 9449) accepted once: checked by `authz::dpop`, then
//! its `(jkt, jti)` written to the store's replay cache, so that however
//! many requests carry the same proof, on however many servers, one is
//! served. Used by the token endpoint (before tokens are minted) and by
//! every resource read that takes a DPoP-bound token.
//!
//! Only a proof that passed every other check reaches the store: a
//! stranger's garbage never fills the replay cache.

use authz::dpop::{Expected, Proof};
use authz::{DpopError, Nonces, OAuthError, VerifiedProof};
use store::Store;

use crate::BrokerError;

/// Checks `proof` against `expected` and records its `jti`.
///
/// # Errors
/// [`BrokerError::OAuth`] with `invalid_dpop_proof` (a bad or replayed
/// proof) or `use_dpop_nonce`; [`BrokerError::Store`].
pub async fn accept_proof(
    store: &Store,
    nonces: &Nonces,
    proof: Proof<'_>,
    expected: &Expected<'_>,
) -> Result<VerifiedProof, BrokerError> {
    let verified = proof.verify(expected, nonces).map_err(OAuthError::from)?;
    let (jkt, jti) = verified.replay_key();
    if !store
        .use_dpop_jti(jkt, jti, verified.remember_until)
        .await?
    {
        return Err(OAuthError::from(DpopError::Invalid(
            "this proof's `jti` was used before; sign a new proof for every request".into(),
        ))
        .into());
    }
    Ok(verified)
}
