//! Signing in: with a password (and a passkey or a recovery code as the
//! second step once the account has a passkey), with a recovery code alone
//! on an account without a password, or with a passkey alone.
//!
//! The promise is that sign-in resists guessing, whatever arrives at once:
//!
//! 1. An attempt is counted under the account's and the address's keys in
//!    one atomic step ([`store::Store::take_attempt`]) *before* any hash is
//!    computed; a refused attempt is [`BrokerError::Throttled`] and costs
//!    nothing. A success gives its attempt back (the account's count is
//!    cleared, the address's decremented), so the counters hold failures.
//! 2. argon2 runs only through [`PasswordHashing`]: a few slots (two per
//!    core), each with its own reused 19 MiB of memory, on the blocking
//!    pool. When none frees up within [`HASH_SLOT_WAIT`], the answer is
//!    [`BrokerError::Busy`] rather than a queue that grows with the crowd.
//! 3. Unknown handles and wrong passwords get the same answer in the same
//!    time (a dummy hash), and a passkey sign-in started for an unknown
//!    handle looks like one for a real account ([`start_passkey`]).

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use identity::{HashMemory, Passkeys, SignUpLimit, StoredPasskey, ThrottleKey};
use store::{Handle, PendingCeremony, Person, PersonId, Store, StoreError};
use tokio::sync::Semaphore;

use crate::BrokerError;

/// Password-hashing slots per core: one hash keeps a core busy for tens of
/// milliseconds, two per core keep every core busy while one slot waits on
/// the database.
pub const HASH_SLOTS_PER_CORE: usize = 2;
/// How long a sign-in or sign-up waits for a hashing slot before it is
/// answered "busy": about one hash's time.
pub const HASH_SLOT_WAIT: Duration = Duration::from_millis(200);
/// `Retry-After` of a busy answer.
pub const BUSY_RETRY_AFTER_SECS: i64 = 1;

/// The ceremony purpose of a sign-in.
pub(crate) const SIGN_IN: &str = "sign_in";

/// argon2's gate: a fixed number of slots, each with its own working
/// memory kept from hash to hash, so hashing never holds more than
/// `slots × 19 MiB` however many requests arrive.
pub struct PasswordHashing {
    slots: Arc<Semaphore>,
    memories: Mutex<Vec<HashMemory>>,
    wait: Duration,
    hashes: AtomicU64,
}

impl PasswordHashing {
    /// A gate with `slots` slots (at least one) that waits `wait` for one.
    pub fn new(slots: usize, wait: Duration) -> PasswordHashing {
        PasswordHashing {
            slots: Arc::new(Semaphore::new(slots.max(1))),
            memories: Mutex::new(Vec::new()),
            wait,
            hashes: AtomicU64::new(0),
        }
    }

    /// [`HASH_SLOTS_PER_CORE`] slots per core of this machine.
    pub fn for_this_machine() -> PasswordHashing {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        PasswordHashing::new(cores * HASH_SLOTS_PER_CORE, HASH_SLOT_WAIT)
    }

    /// How many hashes this gate has run (verifications and new hashes).
    pub fn hashes_run(&self) -> u64 {
        self.hashes.load(Ordering::Relaxed)
    }

    /// Runs `job` on the blocking pool with a slot's memory, or answers
    /// [`BrokerError::Busy`] when no slot frees up in time.
    pub async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut HashMemory) -> T + Send + 'static,
    ) -> Result<T, BrokerError> {
        let slot = match tokio::time::timeout(self.wait, self.slots.clone().acquire_owned()).await {
            Ok(Ok(slot)) => slot,
            _ => {
                return Err(BrokerError::Busy {
                    retry_after_secs: BUSY_RETRY_AFTER_SECS,
                });
            }
        };
        // At most one memory per slot exists: taken here, put back below.
        let memory = self.memories.lock().ok().and_then(|mut m| m.pop());
        self.hashes.fetch_add(1, Ordering::Relaxed);
        let (out, memory) = tokio::task::spawn_blocking(move || {
            let mut memory = memory.unwrap_or_default();
            let out = job(&mut memory);
            (out, memory)
        })
        .await
        .map_err(|e| BrokerError::Internal(format!("a hashing thread failed: {e}")))?;
        if let Ok(mut memories) = self.memories.lock() {
            memories.push(memory);
        }
        drop(slot);
        Ok(out)
    }
}

/// The bounds on signing in and up, shared by every request.
pub struct Limits {
    /// The password-hashing gate.
    pub hashing: PasswordHashing,
    /// Accounts one address may create per hour.
    pub sign_ups: SignUpLimit,
    /// Keys decoy passkey challenges (see [`start_passkey`]).
    decoy_secret: String,
}

impl Limits {
    /// Limits with `hashing` and `sign_ups_per_hour` (0: no limit);
    /// `decoy_secret` keys decoy passkey challenges, and must be the same
    /// in every process serving the same people (else asking two
    /// processes about one unknown handle shows two decoys).
    pub fn new(hashing: PasswordHashing, sign_ups_per_hour: u32, decoy_secret: String) -> Limits {
        Limits {
            hashing,
            sign_ups: SignUpLimit {
                per_window: sign_ups_per_hour,
            },
            decoy_secret,
        }
    }
}

/// What the sign-in and sign-up use cases work with.
#[derive(Clone, Copy)]
pub struct Accounts<'a> {
    /// The repositories.
    pub store: &'a Store,
    /// The passkey relying party.
    pub passkeys: &'a Passkeys,
    /// The bounds.
    pub limits: &'a Limits,
}

/// A session just started.
pub struct Session {
    /// Whose.
    pub person: Person,
    /// The session token, to hand to the person (stored only hashed).
    pub token: String,
    /// When it ends at the latest.
    pub expires_at: time::OffsetDateTime,
}

/// A passkey challenge for the browser.
pub struct PasskeyChallenge {
    /// Send back with the answer; usable once.
    pub ceremony_id: String,
    /// The WebAuthn options (`publicKey`, ...).
    pub options: serde_json::Value,
}

/// What a person typed to sign in.
pub struct Credentials<'a> {
    /// The handle, as typed (it may name nobody).
    pub handle: &'a str,
    /// The password, if the account has one.
    pub password: Option<&'a str>,
    /// A one-time recovery code, instead of a passkey.
    pub recovery_code: Option<&'a str>,
}

/// What a password or recovery-code sign-in came to.
pub enum SignInOutcome {
    /// Signed in.
    SignedIn(Session),
    /// The first factor passed; the account's passkey must answer this.
    PasskeyRequired(PasskeyChallenge),
    /// Wrong handle, password or code (counted).
    Failed,
}

pub(crate) fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

pub(crate) fn new_ceremony_id() -> String {
    identity::new_session_token()
}

pub(crate) fn internal(error: impl std::fmt::Display) -> BrokerError {
    BrokerError::Internal(error.to_string())
}

/// Signs in with a password and/or a recovery code from `client`: counted
/// first, then tried (see the module's documentation).
pub async fn with_password(
    accounts: Accounts<'_>,
    client: IpAddr,
    typed: Credentials<'_>,
) -> Result<SignInOutcome, BrokerError> {
    let handle = Handle::parse(typed.handle).ok();
    let account = ThrottleKey::handle(typed.handle);
    let address = ThrottleKey::address(client);
    // A handle that cannot exist names no account: only the address counts.
    let keys: Vec<&ThrottleKey> = match handle {
        Some(_) => vec![&account, &address],
        None => vec![&address],
    };
    let now = now_unix();
    if let Err(wait) = accounts.store.take_attempt(&keys, |t| t.take(now)).await? {
        return Err(BrokerError::Throttled {
            retry_after_secs: wait,
        });
    }
    let outcome = try_credentials(accounts, handle, &typed).await;
    match &outcome {
        Ok(SignInOutcome::SignedIn(_)) => {
            accounts.store.clear_throttle(&account).await?;
            accounts.store.give_back_attempt(&address).await?;
        }
        // Not a failure (the passkey step is next), or never tried.
        Ok(SignInOutcome::PasskeyRequired(_)) | Err(BrokerError::Busy { .. }) => {
            for key in &keys {
                accounts.store.give_back_attempt(key).await?;
            }
        }
        Ok(SignInOutcome::Failed) | Err(_) => {}
    }
    outcome
}

/// The attempt itself, once counted.
async fn try_credentials(
    accounts: Accounts<'_>,
    handle: Option<Handle>,
    typed: &Credentials<'_>,
) -> Result<SignInOutcome, BrokerError> {
    let Some(handle) = handle else {
        return Ok(SignInOutcome::Failed);
    };
    let person = match accounts.store.person_by_handle(&handle).await {
        Ok(person) => Some(person),
        Err(StoreError::PersonNotFound) => None,
        Err(e) => return Err(e.into()),
    };
    let password_hash = match &person {
        Some(p) => accounts.store.password_hash(&p.id).await?,
        None => None,
    };
    // First factor: the password if the account has one (a dummy hash when
    // there is no such account, so both take as long), else a recovery code.
    let hashing = &accounts.limits.hashing;
    let first_ok = match (password_hash, typed.password.map(str::to_owned)) {
        (Some(hash), Some(password)) => {
            hashing
                .run(move |memory| identity::verify_password_in(&password, &hash, memory))
                .await?
        }
        (None, Some(password)) => {
            hashing
                .run(move |memory| identity::dummy_verify_in(&password, memory))
                .await?;
            false
        }
        (Some(_), None) => false,
        (None, None) => person.is_some() && typed.recovery_code.is_some(),
    };
    let Some(person) = person.filter(|_| first_ok) else {
        return Ok(SignInOutcome::Failed);
    };
    let passkeys = accounts.store.passkeys(&person.id).await?;
    let needs_second = !passkeys.is_empty() || typed.password.is_none();
    if needs_second {
        let Some(code) = typed.recovery_code else {
            let stored: Vec<_> = passkeys
                .into_iter()
                .map(|p| StoredPasskey {
                    credential_id: p.credential_id,
                    passkey: p.passkey,
                })
                .collect();
            let ceremony = accounts.passkeys.start_with(&stored).map_err(internal)?;
            let challenge = save_sign_in(accounts.store, Some(person.id), ceremony).await?;
            return Ok(SignInOutcome::PasskeyRequired(challenge));
        };
        let used = match identity::normalise_recovery_code(code) {
            Some(code) => {
                accounts
                    .store
                    .use_recovery_code(&person.id, &code.hash())
                    .await?
            }
            None => false,
        };
        if !used {
            return Ok(SignInOutcome::Failed);
        }
    }
    let amr = match (
        typed.password.is_some(),
        typed.recovery_code.is_some() && needs_second,
    ) {
        (true, true) => AMR_PASSWORD_AND_CODE,
        (true, false) => AMR_PASSWORD,
        (false, _) => AMR_CODE,
    };
    Ok(SignInOutcome::SignedIn(
        new_session(accounts.store, person, amr).await?,
    ))
}

/// RFC 8176 method references of a passkey sign-in: proof of a hardware
/// key, with the person present.
pub const AMR_PASSKEY: &str = "hwk user";
/// A password alone.
pub const AMR_PASSWORD: &str = "pwd";
/// A password and a one-time recovery code.
pub const AMR_PASSWORD_AND_CODE: &str = "mfa otp pwd";
/// A one-time recovery code alone (an account without a password).
pub const AMR_CODE: &str = "otp";

/// Starts a session for `person`, who proved `amr`, unless the operator
/// suspended them ([`BrokerError::Suspended`], said only after their
/// credentials were right). The suspension is read again after the session
/// is written: a suspension that commits before that read is seen here, one
/// that commits after it deletes the session, so none outlives a suspension.
pub(crate) async fn new_session(
    store: &Store,
    person: Person,
    amr: &str,
) -> Result<Session, BrokerError> {
    if person.suspended {
        return Err(BrokerError::Suspended);
    }
    let token = identity::new_session_token();
    let token_hash = identity::hash_secret(&token);
    let expires_at = store.create_session(&person.id, &token_hash, amr).await?;
    if store.person(&person.id).await?.suspended {
        store.delete_session(&token_hash).await?;
        return Err(BrokerError::Suspended);
    }
    Ok(Session {
        person,
        token,
        expires_at,
    })
}

async fn save_sign_in(
    store: &Store,
    person_id: Option<PersonId>,
    ceremony: identity::Ceremony,
) -> Result<PasskeyChallenge, BrokerError> {
    let id = new_ceremony_id();
    store
        .save_ceremony(
            &id,
            PendingCeremony {
                purpose: SIGN_IN.to_owned(),
                person_id,
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

/// Starts a passkey sign-in. Without a handle, any discoverable passkey
/// may answer. With one, only that person's passkeys are listed; a handle
/// that names nobody (or an account without a passkey) gets a decoy that
/// lists one made-up credential, stable for the handle, and can never
/// finish — the same fields either way, so the answer does not tell who
/// has an account.
pub async fn start_passkey(
    accounts: Accounts<'_>,
    handle: Option<&str>,
) -> Result<PasskeyChallenge, BrokerError> {
    let Some(typed) = handle else {
        let ceremony = accounts.passkeys.start_discoverable().map_err(internal)?;
        return save_sign_in(accounts.store, None, ceremony).await;
    };
    let person = match Handle::parse(typed) {
        Ok(handle) => match accounts.store.person_by_handle(&handle).await {
            Ok(person) => Some(person),
            Err(StoreError::PersonNotFound) => None,
            Err(e) => return Err(e.into()),
        },
        Err(_) => None,
    };
    // The same queries either way (an unknown handle's passkeys are those
    // of a person nobody is), so the time does not tell either.
    let nobody = PersonId::from_uuid(uuid::Uuid::new_v4());
    let whose = person.as_ref().map_or(&nobody, |p| &p.id);
    let stored: Vec<_> = accounts
        .store
        .passkeys(whose)
        .await?
        .into_iter()
        .map(|p| StoredPasskey {
            credential_id: p.credential_id,
            passkey: p.passkey,
        })
        .collect();
    match person {
        Some(person) if !stored.is_empty() => {
            let ceremony = accounts.passkeys.start_with(&stored).map_err(internal)?;
            save_sign_in(accounts.store, Some(person.id), ceremony).await
        }
        _ => {
            let decoy =
                identity::decoy_credential_id(accounts.limits.decoy_secret.as_bytes(), typed);
            let ceremony = accounts.passkeys.start_decoy(decoy).map_err(internal)?;
            // Tied to a person nobody is: no passkey can finish it.
            save_sign_in(accounts.store, Some(nobody), ceremony).await
        }
    }
}

/// Finishes a passkey sign-in (alone, or as the second step after a
/// password) with the browser's `credential`.
pub async fn finish_passkey(
    accounts: Accounts<'_>,
    ceremony_id: &str,
    credential: &serde_json::Value,
) -> Result<Session, BrokerError> {
    let store = accounts.store;
    let ceremony = store
        .take_ceremony(ceremony_id, SIGN_IN)
        .await?
        .ok_or(BrokerError::CeremonyExpired)?;
    let (credential_id, _) = accounts
        .passkeys
        .identify(credential)
        .map_err(BrokerError::PasskeyRejected)?;
    let stored = match store.passkey(&credential_id).await {
        Ok(stored) => stored,
        Err(StoreError::PasskeyNotFound) => {
            return Err(BrokerError::PasskeyRejected(
                identity::PasskeyError::Rejected(
                    "this passkey is not registered here (removed, or from another site)"
                        .to_owned(),
                ),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    if ceremony
        .person_id
        .as_ref()
        .is_some_and(|p| *p != stored.person_id)
    {
        return Err(BrokerError::PasskeyRejected(
            identity::PasskeyError::WrongUser,
        ));
    }
    let owner = stored
        .person_id
        .as_uuid()
        .ok_or_else(|| internal("a person id that is not a UUID"))?;
    let signed_in = accounts
        .passkeys
        .finish_sign_in(
            &ceremony.state,
            credential,
            &StoredPasskey {
                credential_id: stored.credential_id.clone(),
                passkey: stored.passkey.clone(),
            },
            owner,
        )
        .map_err(BrokerError::PasskeyRejected)?;
    store
        .passkey_used(&signed_in.credential_id, signed_in.updated_passkey)
        .await?;
    let person = store.person(&stored.person_id).await?;
    store
        .clear_throttle(&ThrottleKey::handle(person.handle.as_str()))
        .await?;
    new_session(store, person, AMR_PASSKEY).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_gate_answers_busy_at_once_and_runs_nothing() {
        let gate = Arc::new(PasswordHashing::new(1, Duration::from_millis(20)));
        let (started, release) = std::sync::mpsc::channel::<()>();
        let (hold, held) = std::sync::mpsc::channel::<()>();
        let first = {
            let gate = gate.clone();
            tokio::spawn(async move {
                gate.run(move |_| {
                    started.send(()).unwrap();
                    held.recv().unwrap();
                })
                .await
            })
        };
        release.recv().unwrap();
        let second = gate.run(|_| ()).await;
        assert!(matches!(second, Err(BrokerError::Busy { .. })));
        assert_eq!(gate.hashes_run(), 1);
        hold.send(()).unwrap();
        first.await.unwrap().unwrap();
        gate.run(|_| ()).await.unwrap();
        assert_eq!(gate.hashes_run(), 2);
        assert_eq!(gate.memories.lock().unwrap().len(), 1, "one memory, reused");
    }
}
