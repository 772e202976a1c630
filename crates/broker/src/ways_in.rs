//! A signed-in person's ways in: adding and removing passkeys, replacing
//! recovery codes, ending the other sessions.
//!
//! Adding or removing a passkey and replacing the recovery codes need a
//! sign-in within [`RECENT_SIGN_IN`]: a session token that leaked (a shared
//! computer left signed in, a stolen cookie) must not be enough to add the
//! thief's passkey or read fresh recovery codes, which would outlive the
//! session. Ending the other sessions needs no more than being signed in:
//! it is what a person does when they fear exactly that.

use identity::StoredPasskey;
use store::{NewPasskeyRow, PendingCeremony, PersonId, Store, StoredPasskeyRow};

use crate::BrokerError;
use crate::sign_in::{Accounts, PasskeyChallenge, internal, new_ceremony_id};

/// How recent a sign-in must be to change the ways in.
pub const RECENT_SIGN_IN: time::Duration = time::Duration::minutes(5);

/// The ceremony purpose of adding a passkey.
const ADD_PASSKEY: &str = "add_passkey";

/// Who asks: the person and the session token they presented.
#[derive(Clone, Copy)]
pub struct SignedIn<'a> {
    /// The person.
    pub person: &'a PersonId,
    /// Their session token (stored only hashed).
    pub session_token: &'a str,
}

/// Refuses unless this session signed in within [`RECENT_SIGN_IN`].
pub(crate) async fn require_recent_sign_in(
    store: &Store,
    who: SignedIn<'_>,
) -> Result<(), BrokerError> {
    let signed_in_at = store
        .session_signed_in_at(&identity::hash_secret(who.session_token))
        .await?;
    match signed_in_at {
        Some(at) if time::OffsetDateTime::now_utc() - at <= RECENT_SIGN_IN => Ok(()),
        Some(_) => Err(BrokerError::SignInTooOld),
        // Ended since the request was authenticated (another tab signed
        // out everywhere, or erased the account).
        None => Err(BrokerError::SessionEnded),
    }
}

/// Starts adding a passkey (a recent sign-in required).
pub async fn start_add_passkey(
    accounts: Accounts<'_>,
    who: SignedIn<'_>,
) -> Result<PasskeyChallenge, BrokerError> {
    require_recent_sign_in(accounts.store, who).await?;
    let person = accounts.store.person(who.person).await?;
    let existing: Vec<_> = accounts
        .store
        .passkeys(&person.id)
        .await?
        .into_iter()
        .map(|p| StoredPasskey {
            credential_id: p.credential_id,
            passkey: p.passkey,
        })
        .collect();
    let user = person
        .id
        .as_uuid()
        .ok_or_else(|| internal("a person id that is not a UUID"))?;
    let ceremony = accounts
        .passkeys
        .start_registration(user, person.handle.as_str(), &existing)
        .map_err(internal)?;
    let id = new_ceremony_id();
    accounts
        .store
        .save_ceremony(
            &id,
            PendingCeremony {
                purpose: ADD_PASSKEY.to_owned(),
                person_id: Some(person.id),
                handle: None,
                state: ceremony.state,
            },
        )
        .await?;
    Ok(PasskeyChallenge {
        ceremony_id: id,
        options: ceremony.challenge,
    })
}

/// Finishes adding a passkey named `name` (a recent sign-in required, again:
/// the challenge may have been started just in time).
pub async fn finish_add_passkey(
    accounts: Accounts<'_>,
    who: SignedIn<'_>,
    ceremony_id: &str,
    credential: &serde_json::Value,
    name: String,
) -> Result<StoredPasskeyRow, BrokerError> {
    require_recent_sign_in(accounts.store, who).await?;
    let ceremony = accounts
        .store
        .take_ceremony(ceremony_id, ADD_PASSKEY)
        .await?
        .filter(|c| c.person_id.as_ref() == Some(who.person))
        .ok_or(BrokerError::CeremonyExpired)?;
    let passkey = accounts
        .passkeys
        .finish_registration(&ceremony.state, credential)
        .map_err(BrokerError::PasskeyRejected)?;
    Ok(accounts
        .store
        .add_passkey(
            who.person,
            NewPasskeyRow {
                credential_id: passkey.credential_id,
                name,
                passkey: passkey.passkey,
            },
        )
        .await?)
}

/// Removes a passkey, never the last way in (a recent sign-in required).
pub async fn remove_passkey(
    store: &Store,
    who: SignedIn<'_>,
    credential_id: &str,
) -> Result<(), BrokerError> {
    require_recent_sign_in(store, who).await?;
    Ok(store.remove_passkey(who.person, credential_id).await?)
}

/// Replaces the recovery codes with new ones, returned to show once (a
/// recent sign-in required).
pub async fn new_recovery_codes(
    store: &Store,
    who: SignedIn<'_>,
) -> Result<Vec<String>, BrokerError> {
    require_recent_sign_in(store, who).await?;
    let codes = identity::new_recovery_codes();
    store
        .replace_recovery_codes(
            who.person,
            codes.iter().map(identity::RecoveryCode::hash).collect(),
        )
        .await?;
    Ok(codes.iter().map(identity::RecoveryCode::display).collect())
}

/// Ends every session of the person but this one; returns how many ended.
pub async fn end_other_sessions(store: &Store, who: SignedIn<'_>) -> Result<u64, BrokerError> {
    Ok(store
        .delete_other_sessions(who.person, &identity::hash_secret(who.session_token))
        .await?)
}
