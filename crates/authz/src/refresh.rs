//! Refresh tokens in families: every use rotates; reuse revokes the family.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::client::ClientId;
use crate::error::OAuthError;
use crate::random::{Random, RandomError};
use crate::time::UnixTime;
use crate::token_hash::{TokenHash, random_secret};

/// The identifier of a refresh-token family: every token rotated from one first token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FamilyId(Uuid);

impl FamilyId {
    /// A fresh random family id.
    ///
    /// # Errors
    /// [`RandomError`] when the random source fails.
    pub fn generate(rng: &mut impl Random) -> Result<Self, RandomError> {
        Ok(Self(
            uuid::Builder::from_random_bytes(rng.array()?).into_uuid(),
        ))
    }

    /// A family id from its number (for storage and tests).
    #[must_use]
    pub const fn from_u128(n: u128) -> Self {
        Self(Uuid::from_u128(n))
    }

    /// The id as a UUID.
    #[must_use]
    pub const fn as_uuid(&self) -> &Uuid {
        &self.0
    }
}

impl From<Uuid> for FamilyId {
    fn from(id: Uuid) -> Self {
        Self(id)
    }
}

impl fmt::Display for FamilyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A refresh token in clear (256 random bits), handed to the client once.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken(String);

impl RefreshToken {
    /// The token's text.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshToken(..)")
    }
}

/// Where a refresh token stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefreshStatus {
    /// The family's current token; the only one that may be used.
    Active,
    /// Used once and replaced; presenting it again is reuse.
    Rotated,
    /// Revoked (by reuse detection, the client, the person or grant expiry).
    Revoked,
}

/// One refresh token as the store keeps it, keyed by `token_hash`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshRecord {
    /// The family it belongs to.
    pub family_id: FamilyId,
    /// The SHA-256 of the token.
    pub token_hash: TokenHash,
    /// Where it stands.
    pub status: RefreshStatus,
    /// The client it was issued to.
    pub client_id: ClientId,
    /// The grant it refreshes access to.
    pub grant_id: String,
    /// When the whole family stops working (rotation never extends it).
    pub expires_at: UnixTime,
    /// The sign-in the family began with, when it began with an OpenID
    /// Connect request: each refresh keeps `openid` in the scope and comes
    /// with a new ID token for it (OpenID Connect Core §12.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openid: Option<crate::code::OpenIdSignIn>,
}

/// A successful rotation: the presented token's new record and its successor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// The presented token, now [`RefreshStatus::Rotated`].
    pub consumed: RefreshRecord,
    /// The new token, for the client.
    pub token: RefreshToken,
    /// The new token's record, [`RefreshStatus::Active`], same family and expiry.
    pub issued: RefreshRecord,
}

/// Why a refresh token cannot be used. Every variant is `invalid_grant`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefreshError {
    /// No token has this hash.
    #[error("the refresh token is unknown")]
    Unknown,
    /// The token was already rotated: someone replays it. Revoke the whole family.
    #[error("the refresh token was already used; its family is revoked")]
    Reused {
        /// The family to revoke.
        family_id: FamilyId,
    },
    /// The token (or its family) was revoked.
    #[error("the refresh token was revoked")]
    Revoked,
    /// The family has expired.
    #[error("the refresh token has expired")]
    Expired,
    /// Another client presents it.
    #[error("the refresh token was issued to another client")]
    WrongClient,
    /// The successor could not be made (`server_error`).
    #[error(transparent)]
    Random(#[from] RandomError),
}

impl RefreshError {
    /// The family the caller must revoke, if any.
    #[must_use]
    pub const fn family_to_revoke(&self) -> Option<FamilyId> {
        match self {
            Self::Reused { family_id } => Some(*family_id),
            _ => None,
        }
    }
}

impl From<RefreshError> for OAuthError {
    fn from(e: RefreshError) -> Self {
        match e {
            RefreshError::Random(e) => e.into(),
            other => Self::invalid_grant(other.to_string()),
        }
    }
}

impl RefreshRecord {
    /// Starts a family: its first token, for `client_id` and `grant_id`,
    /// working until `expires_at` (normally the grant's expiry).
    ///
    /// # Errors
    /// [`RandomError`] when the random source fails.
    pub fn issue_family(
        client_id: &ClientId,
        grant_id: &str,
        expires_at: UnixTime,
        rng: &mut impl Random,
    ) -> Result<(RefreshToken, Self), RandomError> {
        let family_id = FamilyId::generate(rng)?;
        Self::issue_in(family_id, client_id, grant_id, expires_at, rng)
    }

    fn issue_in(
        family_id: FamilyId,
        client_id: &ClientId,
        grant_id: &str,
        expires_at: UnixTime,
        rng: &mut impl Random,
    ) -> Result<(RefreshToken, Self), RandomError> {
        let token = RefreshToken(random_secret(rng)?);
        let record = Self {
            family_id,
            token_hash: TokenHash::of(&token.0),
            status: RefreshStatus::Active,
            client_id: client_id.clone(),
            grant_id: grant_id.to_owned(),
            expires_at,
            openid: None,
        };
        Ok((token, record))
    }

    /// Uses a presented refresh token (looked up by [`TokenHash::of`]) for
    /// the authenticated `client_id`: consumes it and mints its successor.
    ///
    /// The store must apply the rotation atomically: set the presented
    /// token to `rotated` only where it is still `active`, and treat a lost
    /// race as [`RefreshError::Reused`]; then insert the successor.
    ///
    /// # Errors
    /// [`RefreshError`]; on `Reused` revoke every token of the family.
    pub fn rotate(
        record: Option<&Self>,
        client_id: &ClientId,
        now: UnixTime,
        rng: &mut impl Random,
    ) -> Result<Rotation, RefreshError> {
        let record = Self::check(record, client_id, now)?;
        let (token, mut issued) = Self::issue_in(
            record.family_id,
            &record.client_id,
            &record.grant_id,
            record.expires_at,
            rng,
        )?;
        issued.openid.clone_from(&record.openid);
        let consumed = Self {
            status: RefreshStatus::Rotated,
            ..record.clone()
        };
        debug_assert_eq!(issued.family_id, consumed.family_id);
        Ok(Rotation {
            consumed,
            token,
            issued,
        })
    }

    /// The checks of [`RefreshRecord::rotate`] without minting: status
    /// (reuse first), client, expiry.
    ///
    /// # Errors
    /// [`RefreshError`].
    pub fn check<'a>(
        record: Option<&'a Self>,
        client_id: &ClientId,
        now: UnixTime,
    ) -> Result<&'a Self, RefreshError> {
        let record = record.ok_or(RefreshError::Unknown)?;
        match record.status {
            RefreshStatus::Rotated => {
                return Err(RefreshError::Reused {
                    family_id: record.family_id,
                });
            }
            RefreshStatus::Revoked => return Err(RefreshError::Revoked),
            RefreshStatus::Active => {}
        }
        if record.client_id != *client_id {
            return Err(RefreshError::WrongClient);
        }
        if now >= record.expires_at {
            return Err(RefreshError::Expired);
        }
        Ok(record)
    }

    /// This record, revoked.
    #[must_use]
    pub fn revoked(&self) -> Self {
        Self {
            status: RefreshStatus::Revoked,
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::error::ErrorCode;
    use crate::random::PredictableRandom;

    fn client(seed: u64) -> ClientId {
        ClientId::generate(&mut PredictableRandom::new(seed)).unwrap()
    }

    fn first() -> (RefreshToken, RefreshRecord, PredictableRandom) {
        let mut rng = PredictableRandom::new(5);
        let (t, r) =
            RefreshRecord::issue_family(&client(1), "grant-1", UnixTime::from_secs(1000), &mut rng)
                .unwrap();
        (t, r, rng)
    }

    #[test]
    fn rotation_consumes_and_issues_in_the_same_family() {
        let (token, record, mut rng) = first();
        assert_eq!(record.token_hash, TokenHash::of(token.expose()));
        assert_eq!(record.status, RefreshStatus::Active);
        let rot =
            RefreshRecord::rotate(Some(&record), &client(1), UnixTime::from_secs(10), &mut rng)
                .unwrap();
        assert_eq!(rot.consumed.status, RefreshStatus::Rotated);
        assert_eq!(rot.issued.status, RefreshStatus::Active);
        assert_eq!(rot.issued.family_id, record.family_id);
        assert_eq!(
            rot.issued.expires_at, record.expires_at,
            "rotation never extends the family"
        );
        assert_ne!(rot.token.expose(), token.expose());
        assert_eq!(rot.issued.token_hash, TokenHash::of(rot.token.expose()));
        assert_eq!(format!("{:?}", rot.token), "RefreshToken(..)");
    }

    #[test]
    fn a_family_begun_with_a_sign_in_keeps_it_through_rotations() {
        let (_, mut record, mut rng) = first();
        let sign_in = crate::code::OpenIdSignIn {
            nonce: Some("n-1".to_owned()),
            auth_time: UnixTime::from_secs(7),
            amr: vec!["hwk".to_owned(), "user".to_owned()],
        };
        record.openid = Some(sign_in.clone());
        let json = serde_json::to_string(&record).unwrap();
        assert_eq!(
            serde_json::from_str::<RefreshRecord>(&json).unwrap(),
            record
        );
        let mut current = record;
        for at in [10, 20, 30] {
            let rot = RefreshRecord::rotate(
                Some(&current),
                &client(1),
                UnixTime::from_secs(at),
                &mut rng,
            )
            .unwrap();
            assert_eq!(rot.issued.openid.as_ref(), Some(&sign_in));
            current = rot.issued;
        }
        // A record stored before the field existed reads as no sign-in.
        let mut old: serde_json::Value = serde_json::from_str(&json).unwrap();
        old.as_object_mut().unwrap().remove("openid");
        let old: RefreshRecord = serde_json::from_value(old).unwrap();
        assert_eq!(old.openid, None);
    }

    #[test]
    fn failures_are_invalid_grant_and_only_reuse_revokes_the_family() {
        let (_, record, mut rng) = first();
        let now = UnixTime::from_secs(10);
        let rotated = RefreshRecord {
            status: RefreshStatus::Rotated,
            ..record.clone()
        };
        let cases = [
            (None, client(1), now, RefreshError::Unknown),
            (
                Some(&rotated),
                client(1),
                now,
                RefreshError::Reused {
                    family_id: record.family_id,
                },
            ),
            (
                Some(&record.revoked()),
                client(1),
                now,
                RefreshError::Revoked,
            ),
            (Some(&record), client(2), now, RefreshError::WrongClient),
            (
                Some(&record),
                client(1),
                UnixTime::from_secs(1000),
                RefreshError::Expired,
            ),
        ];
        for (rec, who, at, expected) in cases {
            let e = RefreshRecord::rotate(rec, &who, at, &mut rng).unwrap_err();
            assert_eq!(e, expected);
            assert_eq!(
                e.family_to_revoke().is_some(),
                matches!(expected, RefreshError::Reused { .. })
            );
            assert_eq!(OAuthError::from(e).code, ErrorCode::InvalidGrant);
        }
    }

    #[test]
    fn records_round_trip_through_json() {
        let (_, record, _) = first();
        let text = serde_json::to_string(&record).unwrap();
        assert!(text.contains("\"status\":\"active\""));
        assert_eq!(
            serde_json::from_str::<RefreshRecord>(&text).unwrap(),
            record
        );
    }

    #[derive(Debug, Clone)]
    enum Op {
        /// Present the n-th token ever handed out (mod count).
        Use(usize),
        /// The person or client revokes the family.
        RevokeFamily,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![4 => any::<usize>().prop_map(Op::Use), 1 => Just(Op::RevokeFamily)]
    }

    proptest! {
        /// A store that follows the contract: a rotated or revoked token
        /// never mints, a family has at most one active token, and after
        /// reuse nothing of the family works.
        #[test]
        fn a_rotated_token_never_mints_a_new_one(ops in proptest::collection::vec(op(), 1..40)) {
            let (token, record, mut rng) = first();
            let who = client(1);
            let now = UnixTime::from_secs(10);
            let mut handed_out = vec![token];
            let mut store = vec![record];
            let mut family_dead = false;
            for op in ops {
                match op {
                    Op::RevokeFamily => {
                        family_dead = true;
                        store = store.iter().map(RefreshRecord::revoked).collect();
                    }
                    Op::Use(n) => {
                        let presented = &handed_out[n % handed_out.len()];
                        let hash = TokenHash::of(presented.expose());
                        let found = store.iter().find(|r| r.token_hash == hash).cloned();
                        let status_before = found.as_ref().map(|r| r.status);
                        match RefreshRecord::rotate(found.as_ref(), &who, now, &mut rng) {
                            Ok(rot) => {
                                prop_assert_eq!(status_before, Some(RefreshStatus::Active));
                                prop_assert!(!family_dead);
                                for r in &mut store {
                                    if r.token_hash == hash { *r = rot.consumed.clone(); }
                                }
                                store.push(rot.issued);
                                handed_out.push(rot.token);
                            }
                            Err(RefreshError::Reused { family_id }) => {
                                prop_assert_eq!(status_before, Some(RefreshStatus::Rotated));
                                family_dead = true;
                                store = store.iter().map(|r| if r.family_id == family_id { r.revoked() } else { r.clone() }).collect();
                            }
                            Err(e) => prop_assert_eq!(e, RefreshError::Revoked),
                        }
                    }
                }
                let active = store.iter().filter(|r| r.status == RefreshStatus::Active).count();
                prop_assert!(active <= 1);
                prop_assert_eq!(active == 0, family_dead);
            }
        }
    }
}
