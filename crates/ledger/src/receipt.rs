//! Consent receipts: the signed record a person (and the company) keeps of
//! each grant, renewal and revocation, and the hash that ties it to the log.
//!
//! The claims follow the consent record fields of ISO/IEC TS 27560:2023
//! and carry the Kantara Consent Receipt v1.1 fields where they map:
//!
//! | claim | ISO/IEC TS 27560 | Kantara CR v1.1 |
//! |---|---|---|
//! | `record_id` (the grant's id) | consent record identifier | `consentReceiptID`'s subject |
//! | `receipt_id` (= `jti`) | receipt identifier | `consentReceiptID` |
//! | `iat` | record time | `consentTimestamp` |
//! | `sub` (pairwise, per company) | PII principal identifier | `piiPrincipalId` |
//! | `controller` | PII controller (name, contact) | `piiControllers` |
//! | `purpose`, `legal_basis` | purpose, lawful basis | `purposes[].purpose`, `consentType` |
//! | `attributes` (names only) | PII categories | `purposes[].piiCategory` |
//! | `duration`, `expires_at` | retention / validity | `purposes[].termination` |
//! | `jurisdiction` | jurisdiction | `jurisdiction` |
//! | `withdrawal` | withdrawal method | `policyUrl` |
//! | `event` | event type, time, state | — |
//! | `offer` | (apiome: the price agreed) | — |
//!
//! A receipt never holds an attribute's value. The server signs the claims
//! as a compact JWS with a key of its published JWKS (`kid` in the header,
//! `typ` [`RECEIPT_TYP`]); the SHA-256 of the JWS's ASCII bytes
//! ([`receipt_hash`]) is written into the grant's ledger entry (kinds 0x1a
//! and 0x1b), so an auditor holding a receipt can find it in the log.

use sha2::{Digest, Sha256};

use crate::merkle::Hash;

/// The JOSE `typ` of a receipt; never an access token's `at+jwt`.
pub const RECEIPT_TYP: &str = "consent-receipt+jwt";
/// The record format the claims follow.
pub const RECEIPT_SCHEMA: &str = "ISO/IEC TS 27560:2023";
/// The Kantara Consent Receipt version whose fields the claims carry.
pub const KANTARA_VERSION: &str = "KI-CR-v1.1.0";

/// The SHA-256 of a receipt's compact JWS: what the ledger entry holds.
#[must_use]
pub fn receipt_hash(jws: &str) -> Hash {
    Sha256::digest(jws.as_bytes()).into()
}

/// What happened to the consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptEvent {
    /// A grant the person had not given before (to this company, for this purpose).
    Given,
    /// A grant given again while one for the same company and purpose was live
    /// (remembered consent, or a repeated approval).
    Renewed,
    /// The grant ended before its time: revoked by the person, a block or the operator.
    Withdrawn,
}

impl ReceiptEvent {
    /// The snake_case name, as in the claims.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Given => "given",
            Self::Renewed => "renewed",
            Self::Withdrawn => "withdrawn",
        }
    }

    /// The consent's state after the event.
    #[must_use]
    pub fn state(self) -> &'static str {
        match self {
            Self::Given | Self::Renewed => "active",
            Self::Withdrawn => "withdrawn",
        }
    }
}

/// The event of a receipt: its type, time and the consent's state after it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EventClaim {
    /// What happened.
    #[serde(rename = "type")]
    pub kind: ReceiptEvent,
    /// When, Unix seconds.
    pub time: i64,
    /// `active` or `withdrawn`.
    pub state: String,
}

/// The company, as the controller of what it receives.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Controller {
    /// Its id (OAuth `client_id`).
    pub id: String,
    /// Its display name.
    pub name: String,
    /// How to reach it about the data (an address or URL), when it gave one.
    pub contact: Option<String>,
}

/// How the person withdraws the consent.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Withdrawal {
    /// `online`: on the grants page or by one API call.
    pub method: String,
    /// The page listing the person's grants, each with a revoke button.
    pub page: String,
    /// `DELETE` this URL (signed in) to revoke.
    pub endpoint: String,
}

/// A price in the API's money shape.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OfferClaim {
    /// Integer micro-units.
    pub amount_micros: u64,
    /// ISO 4217 code.
    pub currency: String,
    /// For people: `0.05 USD`.
    pub display: String,
}

/// The signed claims of one receipt.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReceiptClaims {
    /// The server that signed it (its public URL).
    pub iss: String,
    /// The receipt id (also `receipt_id`).
    pub jti: String,
    /// When it was signed, Unix seconds.
    pub iat: i64,
    /// The person, by the pairwise identifier this company knows them by.
    pub sub: String,
    /// [`RECEIPT_SCHEMA`].
    pub schema: String,
    /// [`KANTARA_VERSION`].
    pub kantara_version: String,
    /// The receipt id.
    pub receipt_id: String,
    /// The consent record: the grant's id.
    pub record_id: String,
    /// The request the grant answers.
    pub request_id: String,
    /// The company receiving the data.
    pub controller: Controller,
    /// The purpose, from apiome's closed vocabulary.
    pub purpose: String,
    /// Always `consent`.
    pub legal_basis: String,
    /// The attributes' names (never their values).
    pub attributes: Vec<String>,
    /// How long the company may keep reading, ISO 8601 (`P30D`).
    pub duration: String,
    /// When the grant ends, Unix seconds.
    pub expires_at: i64,
    /// The law the consent is given under (configuration, e.g. `EU`).
    pub jurisdiction: String,
    /// How to withdraw.
    pub withdrawal: Withdrawal,
    /// What happened.
    pub event: EventClaim,
    /// The price agreed, if any.
    pub offer: Option<OfferClaim>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_sha256_of_the_jws_text() {
        let hash = receipt_hash("abc");
        assert_eq!(
            crate::entry::to_hex(&hash),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn events_name_their_state() {
        assert_eq!(ReceiptEvent::Given.state(), "active");
        assert_eq!(ReceiptEvent::Renewed.state(), "active");
        assert_eq!(ReceiptEvent::Withdrawn.state(), "withdrawn");
    }
}
