//! Passkeys through a thin, typed wrapper over webauthn-rs.
//!
//! A ceremony has two halves: `start_*` returns the challenge for the
//! browser and the state the server must keep (serialised, to be stored
//! server-side under a random id, used once, and expired quickly); `finish_*`
//! takes that state back with the browser's answer. User verification is
//! required in every ceremony, so a passkey alone is two factors.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use url::Url;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, Uuid, Webauthn, WebauthnBuilder,
};
use webauthn_rs_proto::ResidentKeyRequirement;

/// The stable id WebAuthn knows a person by (their person id).
pub type UserHandle = Uuid;

/// Half a ceremony: what the browser gets, and what the server keeps.
#[derive(Debug)]
pub struct Ceremony {
    /// `{"publicKey": {...}}` for `navigator.credentials.create/get`.
    pub challenge: serde_json::Value,
    /// Opaque state to store server-side until the browser answers.
    pub state: String,
}

/// A passkey as the store keeps it.
#[derive(Clone, Debug)]
pub struct StoredPasskey {
    /// The credential id, base64url.
    pub credential_id: String,
    /// The serialised webauthn-rs `Passkey` (public key, counter, ...).
    pub passkey: String,
}

/// A passkey just registered.
#[derive(Clone, Debug)]
pub struct NewPasskey {
    /// The credential id, base64url. It must not belong to anyone yet.
    pub credential_id: String,
    /// The serialised passkey to store.
    pub passkey: String,
}

/// A successful sign-in.
#[derive(Clone, Debug)]
pub struct SignedIn {
    /// The credential used.
    pub credential_id: String,
    /// The passkey with its signature counter advanced, when it changed.
    pub updated_passkey: Option<String>,
}

/// Why a passkey ceremony failed.
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    /// The relying party could not be set up from the public URL.
    #[error("the public URL cannot serve passkeys: {0}")]
    Config(String),
    /// The browser's answer is not a WebAuthn credential.
    #[error("the answer is not a WebAuthn credential: {0}")]
    Malformed(String),
    /// The stored state does not belong to this kind of ceremony.
    #[error("this challenge belongs to another kind of ceremony")]
    WrongCeremony,
    /// The answer names a user other than the passkey's owner.
    #[error("the credential does not belong to this person")]
    WrongUser,
    /// The answer failed verification (wrong challenge, origin, RP ID,
    /// signature, missing user verification, ...).
    #[error("the passkey could not be verified: {0}")]
    Rejected(String),
}

/// What the server keeps between the halves of a ceremony.
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", content = "state", rename_all = "snake_case")]
enum State {
    Register(PasskeyRegistration),
    Discoverable(DiscoverableAuthentication),
    Known(PasskeyAuthentication),
}

impl State {
    fn save(&self) -> Result<String, PasskeyError> {
        serde_json::to_string(self).map_err(|e| PasskeyError::Config(e.to_string()))
    }

    fn load(text: &str) -> Result<State, PasskeyError> {
        serde_json::from_str(text).map_err(|_| PasskeyError::WrongCeremony)
    }
}

/// The relying party: one per server, made from its public URL.
pub struct Passkeys {
    webauthn: Webauthn,
}

fn encode_id(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn load_passkey(stored: &StoredPasskey) -> Result<Passkey, PasskeyError> {
    serde_json::from_str(&stored.passkey).map_err(|e| PasskeyError::Config(e.to_string()))
}

fn to_json<T: Serialize>(value: &T) -> Result<serde_json::Value, PasskeyError> {
    serde_json::to_value(value).map_err(|e| PasskeyError::Config(e.to_string()))
}

impl Passkeys {
    /// A relying party for `public_url`: its host is the RP ID, and on
    /// `localhost` any port is accepted (tests run on random ports).
    pub fn new(public_url: &Url) -> Result<Passkeys, PasskeyError> {
        let rp_id = public_url
            .host_str()
            .ok_or_else(|| PasskeyError::Config(format!("{public_url} has no host")))?;
        let webauthn = WebauthnBuilder::new(rp_id, public_url)
            .map_err(|e| PasskeyError::Config(e.to_string()))?
            .rp_name("apiome")
            .allow_any_port(rp_id == "localhost")
            .build()
            .map_err(|e| PasskeyError::Config(e.to_string()))?;
        Ok(Passkeys { webauthn })
    }

    /// Starts registering a passkey for `user`. Existing passkeys are
    /// excluded so an authenticator is not registered twice. The passkey is
    /// asked to be discoverable, so the person can later sign in without
    /// typing their handle.
    pub fn start_registration(
        &self,
        user: UserHandle,
        handle: &str,
        existing: &[StoredPasskey],
    ) -> Result<Ceremony, PasskeyError> {
        let exclude = existing
            .iter()
            .map(|p| load_passkey(p).map(|p| p.cred_id().clone()))
            .collect::<Result<Vec<_>, _>>()?;
        let (mut challenge, state) = self
            .webauthn
            .start_passkey_registration(user, handle, handle, Some(exclude))
            .map_err(|e| PasskeyError::Config(e.to_string()))?;
        if let Some(selection) = challenge.public_key.authenticator_selection.as_mut() {
            // Preferred, not required: authenticators that cannot store a
            // discoverable credential still work with the handle-first
            // sign-in.
            selection.resident_key = Some(ResidentKeyRequirement::Preferred);
            selection.require_resident_key = false;
        }
        Ok(Ceremony {
            challenge: to_json(&challenge)?,
            state: State::Register(state).save()?,
        })
    }

    /// Finishes a registration with the browser's answer.
    pub fn finish_registration(
        &self,
        state: &str,
        answer: &serde_json::Value,
    ) -> Result<NewPasskey, PasskeyError> {
        let State::Register(state) = State::load(state)? else {
            return Err(PasskeyError::WrongCeremony);
        };
        let answer: RegisterPublicKeyCredential = serde_json::from_value(answer.clone())
            .map_err(|e| PasskeyError::Malformed(e.to_string()))?;
        let passkey = self
            .webauthn
            .finish_passkey_registration(&answer, &state)
            .map_err(|e| PasskeyError::Rejected(e.to_string()))?;
        Ok(NewPasskey {
            credential_id: encode_id(passkey.cred_id()),
            passkey: serde_json::to_string(&passkey)
                .map_err(|e| PasskeyError::Config(e.to_string()))?,
        })
    }

    /// Starts a sign-in where the authenticator says who the person is
    /// (no handle typed).
    pub fn start_discoverable(&self) -> Result<Ceremony, PasskeyError> {
        let (mut challenge, state) = self
            .webauthn
            .start_discoverable_authentication()
            .map_err(|e| PasskeyError::Config(e.to_string()))?;
        // A button press, not autofill: the browser should ask at once.
        challenge.mediation = None;
        Ok(Ceremony {
            challenge: to_json(&challenge)?,
            state: State::Discoverable(state).save()?,
        })
    }

    /// Starts a sign-in with one of these passkeys (the person typed their
    /// handle, or is confirming a password).
    pub fn start_with(&self, passkeys: &[StoredPasskey]) -> Result<Ceremony, PasskeyError> {
        let passkeys = passkeys
            .iter()
            .map(load_passkey)
            .collect::<Result<Vec<_>, _>>()?;
        let (challenge, state) = self
            .webauthn
            .start_passkey_authentication(&passkeys)
            .map_err(|e| PasskeyError::Config(e.to_string()))?;
        Ok(Ceremony {
            challenge: to_json(&challenge)?,
            state: State::Known(state).save()?,
        })
    }

    /// Starts a sign-in for a handle nobody has, looking like
    /// [`Self::start_with`] for one passkey whose id is
    /// [`decoy_credential_id`]: the same fields, one credential listed, so
    /// the answer does not tell whether the handle exists. The ceremony can
    /// never finish (no stored passkey has that id, and the caller ties it
    /// to a person that does not exist).
    pub fn start_decoy(&self, decoy_id: Vec<u8>) -> Result<Ceremony, PasskeyError> {
        let (mut challenge, state) = self
            .webauthn
            .start_discoverable_authentication()
            .map_err(|e| PasskeyError::Config(e.to_string()))?;
        challenge.mediation = None;
        challenge.public_key.extensions = None;
        challenge.public_key.allow_credentials = vec![webauthn_rs_proto::AllowCredentials {
            type_: "public-key".to_owned(),
            id: decoy_id,
            transports: None,
        }];
        Ok(Ceremony {
            challenge: to_json(&challenge)?,
            state: State::Discoverable(state).save()?,
        })
    }

    /// Which credential answered, and (for discoverable sign-in) which user
    /// it says it belongs to; the caller looks the passkey up by id.
    pub fn identify(
        &self,
        answer: &serde_json::Value,
    ) -> Result<(String, Option<UserHandle>), PasskeyError> {
        let answer: PublicKeyCredential = serde_json::from_value(answer.clone())
            .map_err(|e| PasskeyError::Malformed(e.to_string()))?;
        let user = answer
            .get_user_unique_id()
            .and_then(|bytes| Uuid::from_slice(bytes).ok());
        Ok((encode_id(answer.get_credential_id()), user))
    }

    /// Finishes a sign-in. `passkey` is the stored passkey whose id
    /// [`Self::identify`] returned, and `owner` its owner.
    pub fn finish_sign_in(
        &self,
        state: &str,
        answer: &serde_json::Value,
        passkey: &StoredPasskey,
        owner: UserHandle,
    ) -> Result<SignedIn, PasskeyError> {
        let answer: PublicKeyCredential = serde_json::from_value(answer.clone())
            .map_err(|e| PasskeyError::Malformed(e.to_string()))?;
        let mut stored = load_passkey(passkey)?;
        let result = match State::load(state)? {
            State::Discoverable(state) => {
                let claimed = answer
                    .get_user_unique_id()
                    .and_then(|bytes| Uuid::from_slice(bytes).ok());
                if claimed != Some(owner) {
                    return Err(PasskeyError::WrongUser);
                }
                self.webauthn
                    .finish_discoverable_authentication_v2(&answer, state, &stored)
                    .map_err(|e| PasskeyError::Rejected(e.to_string()))?
            }
            State::Known(state) => self
                .webauthn
                .finish_passkey_authentication(&answer, &state)
                .map_err(|e| PasskeyError::Rejected(e.to_string()))?,
            State::Register(_) => return Err(PasskeyError::WrongCeremony),
        };
        if encode_id(result.cred_id()) != passkey.credential_id {
            return Err(PasskeyError::WrongUser);
        }
        let updated_passkey = match stored.update_credential(&result) {
            Some(true) => Some(
                serde_json::to_string(&stored).map_err(|e| PasskeyError::Config(e.to_string()))?,
            ),
            _ => None,
        };
        Ok(SignedIn {
            credential_id: passkey.credential_id.clone(),
            updated_passkey,
        })
    }
}

/// A credential id for a handle nobody has: 16 bytes of HMAC-SHA256 of the
/// handle (trimmed, lower-cased) under `secret`, so asking twice for the
/// same unknown handle lists the same credential, as for a real one.
pub fn decoy_credential_id(secret: &[u8], handle: &str) -> Vec<u8> {
    use hmac::{Hmac, Mac};
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(handle.trim().to_ascii_lowercase().as_bytes());
    mac.finalize().into_bytes()[..16].to_vec()
}
