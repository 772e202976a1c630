//! People's ways in: passkeys (WebAuthn, through a thin typed wrapper over
//! webauthn-rs), passwords (argon2id) as a fallback that becomes a second
//! factor's partner once a passkey exists, one-time recovery codes, session
//! tokens and the CSRF tokens derived from them, and sign-in throttling.
//!
//! Nothing here knows HTTP or SQL: the server translates requests into these
//! calls and stores what they return through the `store` crate. Secrets are
//! only ever stored as hashes; time comes in as a value.

mod csrf;
mod passkey;
mod password;
mod secret;
mod throttle;

pub use csrf::{csrf_token, csrf_token_matches};
pub use passkey::{
    Ceremony, NewPasskey, PasskeyError, Passkeys, SignedIn, StoredPasskey, UserHandle,
    decoy_credential_id,
};
pub use password::{
    HashMemory, MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, Password, PasswordError, dummy_verify_in,
    hash_password_in, verify_password_in,
};
pub use secret::{
    RECOVERY_CODE_COUNT, RecoveryCode, hash_secret, new_recovery_codes, new_session_token,
    normalise_recovery_code,
};
pub use throttle::{
    FORGET_AFTER_SECS, FREE_FAILURES, MAX_LOCK_SECS, SIGN_UP_WINDOW_SECS, SignUpLimit, Throttle,
    ThrottleKey,
};
