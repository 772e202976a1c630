//! Signing up: with a password (the account exists at once), or with a
//! passkey (a challenge first, the account when it is answered).
//!
//! Each sign-up is counted per client address before any work is done
//! ([`identity::SignUpLimit`], through the same atomic step as sign-in),
//! and a password is hashed only through
//! [`crate::sign_in::PasswordHashing`]. Starting a passkey sign-up answers
//! alike whether the handle is free or taken; a taken handle is refused
//! only when the account would be created (the person must learn it, and
//! by then the attempt has been counted).

use std::net::IpAddr;

use identity::{Password, ThrottleKey};
use store::{Handle, NewAccount, NewPasskeyRow, PendingCeremony, PersonId};

use crate::BrokerError;
use crate::sign_in::{Accounts, PasskeyChallenge, Session, internal, new_ceremony_id, now_unix};

/// The ceremony purpose of a passkey sign-up.
const SIGN_UP: &str = "sign_up";

/// An account just created, signed in.
pub struct SignedUp {
    /// Its first session.
    pub session: Session,
    /// Its one-time recovery codes, to show now and never again.
    pub recovery_codes: Vec<String>,
}

/// Counts one sign-up from `client`, or refuses it.
async fn count_sign_up(accounts: Accounts<'_>, key: &ThrottleKey) -> Result<(), BrokerError> {
    let now = now_unix();
    let limit = accounts.limits.sign_ups;
    match accounts
        .store
        .take_attempt(&[key], |t| limit.take(t, now))
        .await?
    {
        Ok(()) => Ok(()),
        Err(wait) => Err(BrokerError::Throttled {
            retry_after_secs: wait,
        }),
    }
}

/// Creates a password account for `handle` from `client`, with its
/// recovery codes and a session.
pub async fn with_password(
    accounts: Accounts<'_>,
    client: IpAddr,
    handle: Handle,
    password: Password,
) -> Result<SignedUp, BrokerError> {
    let key = ThrottleKey::sign_up_address(client);
    count_sign_up(accounts, &key).await?;
    let hashed = accounts
        .limits
        .hashing
        .run(move |memory| identity::hash_password_in(&password, memory))
        .await;
    let hash = match hashed {
        Ok(Ok(hash)) => hash,
        Ok(Err(e)) => return Err(internal(e)),
        Err(busy @ BrokerError::Busy { .. }) => {
            // Nothing was created: the sign-up does not count.
            accounts.store.give_back_attempt(&key).await?;
            return Err(busy);
        }
        Err(e) => return Err(e),
    };
    create(
        accounts,
        PersonId::from_uuid(uuid::Uuid::new_v4()),
        handle,
        Some(hash),
        None,
    )
    .await
}

/// Creates the account with its recovery codes and first session, in one
/// transaction.
async fn create(
    accounts: Accounts<'_>,
    person_id: PersonId,
    handle: Handle,
    password_hash: Option<String>,
    passkey: Option<NewPasskeyRow>,
) -> Result<SignedUp, BrokerError> {
    let codes = identity::new_recovery_codes();
    let token = identity::new_session_token();
    let expires_at = time::OffsetDateTime::now_utc() + store::SESSION_ABSOLUTE;
    let person = accounts
        .store
        .sign_up(NewAccount {
            person_id,
            handle,
            password_hash,
            passkey,
            recovery_code_hashes: codes.iter().map(identity::RecoveryCode::hash).collect(),
            session: (identity::hash_secret(&token), expires_at),
        })
        .await?;
    Ok(SignedUp {
        session: Session {
            person,
            token,
            expires_at,
        },
        recovery_codes: codes.iter().map(identity::RecoveryCode::display).collect(),
    })
}

/// Starts a passkey sign-up for `handle` from `client`: the same challenge
/// whether the handle is free or taken.
pub async fn start_passkey(
    accounts: Accounts<'_>,
    client: IpAddr,
    handle: Handle,
) -> Result<PasskeyChallenge, BrokerError> {
    count_sign_up(accounts, &ThrottleKey::sign_up_address(client)).await?;
    let user = uuid::Uuid::new_v4();
    let ceremony = accounts
        .passkeys
        .start_registration(user, handle.as_str(), &[])
        .map_err(internal)?;
    let id = new_ceremony_id();
    accounts
        .store
        .save_ceremony(
            &id,
            PendingCeremony {
                purpose: SIGN_UP.to_owned(),
                person_id: Some(PersonId::from_uuid(user)),
                handle: Some(handle.to_string()),
                state: ceremony.state,
            },
        )
        .await?;
    Ok(PasskeyChallenge {
        ceremony_id: id,
        options: ceremony.challenge,
    })
}

/// Finishes a passkey sign-up: the account, its passkey (named `name`), a
/// session and recovery codes are created together. A handle taken
/// meanwhile (or before) is refused here.
pub async fn finish_passkey(
    accounts: Accounts<'_>,
    ceremony_id: &str,
    credential: &serde_json::Value,
    name: String,
) -> Result<SignedUp, BrokerError> {
    let ceremony = accounts
        .store
        .take_ceremony(ceremony_id, SIGN_UP)
        .await?
        .ok_or(BrokerError::CeremonyExpired)?;
    let (Some(person_id), Some(handle)) = (ceremony.person_id, ceremony.handle) else {
        return Err(BrokerError::CeremonyExpired);
    };
    let handle = Handle::parse(&handle).map_err(internal)?;
    let passkey = accounts
        .passkeys
        .finish_registration(&ceremony.state, credential)
        .map_err(BrokerError::PasskeyRejected)?;
    let passkey = NewPasskeyRow {
        credential_id: passkey.credential_id,
        name,
        passkey: passkey.passkey,
    };
    create(accounts, person_id, handle, None, Some(passkey)).await
}
