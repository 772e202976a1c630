//! Ledger entries: the events that are the leaves of the Merkle log, and
//! their canonical byte encoding (version 1).
//!
//! # What an entry can hold
//!
//! Ids, pseudonyms, attribute *names*, purposes, durations and amounts —
//! never an attribute's value, and never a person's handle. This is
//! structural: every kind has a fixed list of fields, none of them typed or
//! named to carry a value, and a person appears only as `person`, the opaque
//! pseudonym the server assigns. (A caller could still write a value into an
//! id field by mistake; the server builds entries only from ids and names.)
//!
//! # Encoding, version 1
//!
//! All integers are big-endian. One entry is:
//!
//! ```text
//! entry      = version:u8 (= 0x01)  kind:u8  time_unix_ms:i64  fields(kind)
//! text       = len:u16 (1..=256)  len bytes of UTF-8
//! names      = count:u16 (0..=64)  text{count}
//! u64        = 8 bytes
//! money      = amount_micros:u64  currency:3 bytes, each b'A'..=b'Z'
//! opt_money  = 0x00 | 0x01 money
//! ```
//!
//! | kind | code | fields, in order |
//! |---|---|---|
//! | request_made | 0x01 | request_id:text company_id:text person:text attributes:names purpose:text duration_secs:u64 offer:opt_money |
//! | request_decided | 0x02 | request_id:text company_id:text person:text allowed:names asked:names withheld:names |
//! | grant_created | 0x03 | grant_id:text request_id:text company_id:text person:text attributes:names purpose:text duration_secs:u64 price:opt_money |
//! | grant_revoked | 0x04 | grant_id:text company_id:text person:text |
//! | grant_expired | 0x05 | grant_id:text company_id:text person:text |
//! | disclosure | 0x06 | grant_id:text company_id:text person:text attributes:names |
//! | disclosure, with some withheld | 0x0d | grant_id:text company_id:text person:text attributes:names withheld:names (1..=64) |
//! | transfer_pending | 0x07 | transfer_id:text company_id:text person:text amount:money |
//! | transfer_posted | 0x08 | transfer_id:text |
//! | transfer_voided | 0x09 | transfer_id:text |
//! | company_blocked | 0x0a | company_id:text person:text |
//! | company_unblocked | 0x0b | company_id:text person:text |
//! | wallet_funded | 0x0c | transfer_id:text company_id:text amount:money |
//! | company_disabled | 0x0e | company_id:text |
//! | company_enabled | 0x0f | company_id:text |
//! | company_deleted | 0x10 | company_id:text |
//! | client_secret_rotated | 0x11 | client_id:text |
//! | auditor_revoked | 0x12 | client_id:text |
//! | person_suspended | 0x13 | person:text |
//! | person_unsuspended | 0x14 | person:text |
//! | wallet_refunded | 0x15 | transfer_id:text company_id:text amount:money |
//! | payout_requested | 0x16 | transfer_id:text person:text amount:money |
//! | payout_posted | 0x17 | transfer_id:text person:text |
//! | payout_voided | 0x18 | transfer_id:text person:text |
//! | use_reported | 0x19 | grant_id:text company_id:text person:text use_kind:text accepted:bool |
//! | grant_created, with its receipt | 0x1a | the fields of 0x03, then receipt_sha256:32 bytes |
//! | grant_revoked, with its receipt | 0x1b | the fields of 0x04, then receipt_sha256:32 bytes |
//! | person_erased | 0x1c | person:text |
//! | earnings_waived | 0x1d | transfer_id:text person:text amount:money |
//! | message_delivered | 0x1e | message_id:text grant_id:text company_id:text person:text channel:text sent_in_week:u64 |
//! | message_refused | 0x1f | message_id:text grant_id:text company_id:text person:text reason:text |
//! | contact_stopped | 0x20 | company_id:text person:text |
//!
//! `bool` is one byte, 0x00 or 0x01. Kinds 0x1a and 0x1b carry the SHA-256
//! of the consent receipt (the bytes of its compact JWS) the server signed
//! in the same transaction: a receipt is proved by the entry that names its
//! hash. A grant made or revoked without a receipt keeps kind 0x03 / 0x04,
//! so each entry still has exactly one encoding. `use_reported` names the
//! kind of use a company reported (`used`, `sold`, …) and whether it was
//! accepted; never the recipient or the note the company wrote.
//!
//! Kinds 0x1e to 0x20 are the contact relay: a company's message to a
//! person delivered (on which channel, and how many the person was sent in
//! the seven days up to and including it) or refused (a reason's name such
//! as `outside_hours`), and a person ending one company's permission to
//! contact them. They never carry the subject, the text, the link, the
//! company's "why" or the address it went to.
//!
//! Kinds 0x0e to 0x14 are the operator's acts (`apiome company disable`,
//! …): they name the client or the person's pseudonym and nothing else —
//! never a secret, a reason typed by the operator, or a handle.
//!
//! Kinds 0x16 to 0x18 are a person's payout, two-phase like an offer:
//! requested (the amount leaves the person's earnings, pending, for the
//! outside world's account), then posted when the operator confirms the
//! bank transfer or voided, and the money returned to earnings, when it
//! failed. They have kinds of their own, not 0x07–0x09, so that each names
//! the person (their activity lists all three) and the books can refuse a
//! payout posting that is not a payout. They carry the pseudonym, the
//! transfer id and the amount — never the destination (an IBAN or a
//! payment handle), the operator's bank reference or a failure reason.
//!
//! Kinds 0x1c and 0x1d end a person's account (`DELETE /v1/me`): what
//! they had earned and chose to leave behind goes to the outside world's
//! account (posted at once, one `earnings_waived` per currency), then
//! `person_erased` says that the pseudonym will appear in no later entry.
//! Neither names anything but the pseudonym, the transfer and the amount.
//!
//! A decoder must reject: an unknown version or kind, a text of length 0 or
//! over 256 bytes or not UTF-8, a list of over 64 names, an option tag other
//! than 0 or 1, a currency byte outside `A`–`Z`, a truncated field, and any
//! byte after the last field. Every field has a fixed width or an exact
//! length prefix, so each entry has exactly one encoding: decoding then
//! re-encoding gives back the same bytes. The leaf hash of an entry is the
//! RFC 9162 leaf hash of these bytes.

use std::fmt;

use crate::merkle::{Hash, leaf_hash};
use crate::money::{Currency, Money};

/// The only entry encoding version.
pub const ENTRY_VERSION: u8 = 1;
/// Longest text field, in bytes.
pub const MAX_TEXT_BYTES: usize = 256;
/// Most names in one list.
pub const MAX_NAMES: usize = 64;
/// Upper bound on the encoded size of any entry; longer input is refused unread.
pub const MAX_ENTRY_BYTES: usize = 65_536;

/// Why entry bytes or a field were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// The bytes end in the middle of a field.
    #[error("entry ends in the middle of a field")]
    Truncated,
    /// Bytes follow the last field.
    #[error("{0} bytes follow the last field")]
    TrailingBytes(usize),
    /// The input is longer than any entry can be.
    #[error("entry is {0} bytes; no entry is longer than {MAX_ENTRY_BYTES}")]
    TooLong(usize),
    /// The version byte is not [`ENTRY_VERSION`].
    #[error("unknown entry version {0}")]
    UnknownVersion(u8),
    /// The kind byte names no event.
    #[error("unknown entry kind {0:#04x}")]
    UnknownKind(u8),
    /// A text field is empty.
    #[error("text field is empty")]
    EmptyText,
    /// A text field is longer than [`MAX_TEXT_BYTES`].
    #[error("text field is {0} bytes; the limit is {MAX_TEXT_BYTES}")]
    TextTooLong(usize),
    /// A text field is not UTF-8.
    #[error("text field is not UTF-8")]
    InvalidUtf8,
    /// A name list has more than [`MAX_NAMES`] items.
    #[error("list has {0} names; the limit is {MAX_NAMES}")]
    TooManyNames(usize),
    /// An optional field's tag is neither 0 nor 1.
    #[error("option tag {0} is neither 0 nor 1")]
    InvalidOptionTag(u8),
    /// A currency field is not three capital letters.
    #[error("currency bytes are not three ASCII capital letters")]
    InvalidCurrency,
}

/// A short non-empty UTF-8 string (1..=256 bytes): an id, a pseudonym, a name or a purpose.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ShortText(String);

impl ShortText {
    /// Checks the length bounds.
    pub fn new(text: impl Into<String>) -> Result<Self, EntryError> {
        let text = text.into();
        match text.len() {
            0 => Err(EntryError::EmptyText),
            n if n > MAX_TEXT_BYTES => Err(EntryError::TextTooLong(n)),
            _ => Ok(Self(text)),
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ShortText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for ShortText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for ShortText {
    type Error = EntryError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::new(text)
    }
}

impl TryFrom<&str> for ShortText {
    type Error = EntryError;
    fn try_from(text: &str) -> Result<Self, Self::Error> {
        Self::new(text)
    }
}

impl From<ShortText> for String {
    fn from(text: ShortText) -> Self {
        text.0
    }
}

/// An ordered list of at most 64 attribute names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "Vec<ShortText>", into = "Vec<ShortText>")]
pub struct NameList(Vec<ShortText>);

impl NameList {
    /// Checks the count bound.
    pub fn new(names: Vec<ShortText>) -> Result<Self, EntryError> {
        if names.len() > MAX_NAMES {
            return Err(EntryError::TooManyNames(names.len()));
        }
        Ok(Self(names))
    }

    /// Builds a list from strings, checking every bound.
    pub fn from_strs<S: AsRef<str>>(names: &[S]) -> Result<Self, EntryError> {
        let names = names
            .iter()
            .map(|n| ShortText::new(n.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(names)
    }

    /// The names, in order.
    pub fn names(&self) -> &[ShortText] {
        &self.0
    }

    /// Whether the list holds no name.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl TryFrom<Vec<ShortText>> for NameList {
    type Error = EntryError;
    fn try_from(names: Vec<ShortText>) -> Result<Self, Self::Error> {
        Self::new(names)
    }
}

impl From<NameList> for Vec<ShortText> {
    fn from(list: NameList) -> Self {
        list.0
    }
}

/// What happened: one event kind with exactly the fields it needs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EntryKind {
    /// A company asked for attributes.
    RequestMade {
        /// The request.
        request_id: ShortText,
        /// The asking company.
        company_id: ShortText,
        /// The person's pseudonym.
        person: ShortText,
        /// Names of the attributes asked for.
        attributes: NameList,
        /// The stated purpose.
        purpose: ShortText,
        /// How long the company wants the data, in seconds.
        duration_secs: u64,
        /// What the company offers to pay, if anything.
        offer: Option<Money>,
    },
    /// The request was decided, attribute by attribute.
    RequestDecided {
        /// The request.
        request_id: ShortText,
        /// The asking company.
        company_id: ShortText,
        /// The person's pseudonym.
        person: ShortText,
        /// Attributes released.
        allowed: NameList,
        /// Attributes waiting for the person's answer.
        asked: NameList,
        /// Attributes refused.
        withheld: NameList,
    },
    /// A grant was created from a request.
    GrantCreated {
        /// The grant.
        grant_id: ShortText,
        /// The request it answers.
        request_id: ShortText,
        /// The company it is granted to.
        company_id: ShortText,
        /// The person's pseudonym.
        person: ShortText,
        /// Names of the granted attributes.
        attributes: NameList,
        /// The purpose the grant is for.
        purpose: ShortText,
        /// How long the grant lasts, in seconds.
        duration_secs: u64,
        /// The agreed price, if any.
        price: Option<Money>,
        /// SHA-256 of the grant's signed consent receipt (kind 0x1a when set).
        #[serde(
            skip_serializing_if = "Option::is_none",
            serialize_with = "hex_receipt"
        )]
        receipt: Option<Hash>,
    },
    /// The person (or a block, or the operator) revoked a grant.
    GrantRevoked {
        /// The grant.
        grant_id: ShortText,
        /// The company it was granted to.
        company_id: ShortText,
        /// The person's pseudonym.
        person: ShortText,
        /// SHA-256 of the revocation's signed consent receipt (kind 0x1b when set).
        #[serde(
            skip_serializing_if = "Option::is_none",
            serialize_with = "hex_receipt"
        )]
        receipt: Option<Hash>,
    },
    /// A grant reached its expiry.
    GrantExpired {
        /// The grant.
        grant_id: ShortText,
        /// The company it was granted to.
        company_id: ShortText,
        /// The person's pseudonym.
        person: ShortText,
    },
    /// A company read granted attributes.
    Disclosure {
        /// The grant the read was under.
        grant_id: ShortText,
        /// The reading company.
        company_id: ShortText,
        /// The person's pseudonym.
        person: ShortText,
        /// Names of the attributes read.
        attributes: NameList,
        /// Names of granted attributes the person's policy withheld at the
        /// time of the read (a later block, private bucket or denying rule).
        /// Encoded as kind 0x0d when not empty, so entries that withheld
        /// nothing keep kind 0x06's bytes.
        #[serde(skip_serializing_if = "NameList::is_empty")]
        withheld: NameList,
    },
    /// Money was reserved from a company wallet for a person.
    TransferPending {
        /// The transfer (its idempotency key).
        transfer_id: ShortText,
        /// The paying company.
        company_id: ShortText,
        /// The payee's pseudonym.
        person: ShortText,
        /// The reserved amount.
        amount: Money,
    },
    /// A pending transfer was completed.
    TransferPosted {
        /// The transfer.
        transfer_id: ShortText,
    },
    /// A pending transfer was cancelled and its reservation released.
    TransferVoided {
        /// The transfer.
        transfer_id: ShortText,
    },
    /// The person blocked a company.
    CompanyBlocked {
        /// The blocked company.
        company_id: ShortText,
        /// The person's pseudonym.
        person: ShortText,
    },
    /// The person unblocked a company.
    CompanyUnblocked {
        /// The unblocked company.
        company_id: ShortText,
        /// The person's pseudonym.
        person: ShortText,
    },
    /// A company topped up its wallet.
    WalletFunded {
        /// The transfer (its idempotency key).
        transfer_id: ShortText,
        /// The company.
        company_id: ShortText,
        /// The amount added.
        amount: Money,
    },
    /// The operator disabled a company: no token, no read, until enabled.
    CompanyDisabled {
        /// The company (its client id).
        company_id: ShortText,
    },
    /// The operator enabled a disabled company again.
    CompanyEnabled {
        /// The company (its client id).
        company_id: ShortText,
    },
    /// The operator deleted a company (for good).
    CompanyDeleted {
        /// The company (its client id).
        company_id: ShortText,
    },
    /// The operator gave a client a new secret; the old one stopped working.
    ClientSecretRotated {
        /// The client.
        client_id: ShortText,
    },
    /// The operator revoked an auditor's client (for good).
    AuditorRevoked {
        /// The auditor's client id.
        client_id: ShortText,
    },
    /// The operator suspended a person: no sign-in, no read of their data.
    PersonSuspended {
        /// The person's pseudonym.
        person: ShortText,
    },
    /// The operator lifted a person's suspension.
    PersonUnsuspended {
        /// The person's pseudonym.
        person: ShortText,
    },
    /// What a company's wallet still held went back to the outside world
    /// (the company was deleted).
    WalletRefunded {
        /// The transfer (its idempotency key).
        transfer_id: ShortText,
        /// The company.
        company_id: ShortText,
        /// The amount taken out of the wallet.
        amount: Money,
    },
    /// A person asked to be paid out: the amount is held from their
    /// earnings (pending) until the operator confirms or fails it.
    PayoutRequested {
        /// The transfer (`payout:<id>`).
        transfer_id: ShortText,
        /// The person's pseudonym.
        person: ShortText,
        /// The amount held for the payout.
        amount: Money,
    },
    /// The operator confirmed that the payout reached the person.
    PayoutPosted {
        /// The transfer.
        transfer_id: ShortText,
        /// The person's pseudonym.
        person: ShortText,
    },
    /// The payout failed; the amount went back to the person's earnings.
    PayoutVoided {
        /// The transfer.
        transfer_id: ShortText,
        /// The person's pseudonym.
        person: ShortText,
    },
    /// A company reported a use of a grant's data; `accepted` is false when
    /// the grant's purpose does not cover that kind of use.
    UseReported {
        /// The grant.
        grant_id: ShortText,
        /// The reporting company.
        company_id: ShortText,
        /// The person's pseudonym.
        person: ShortText,
        /// The kind of use (`used`, `sold`, `aggregated`, `shared`).
        use_kind: ShortText,
        /// Whether the grant's purpose covers it.
        accepted: bool,
    },
    /// The person erased their account: their values are destroyed and
    /// the pseudonym appears in no later entry.
    PersonErased {
        /// The person's pseudonym.
        person: ShortText,
    },
    /// An erased person left their earnings behind: the amount leaves their
    /// earnings for the outside world's account, posted at once.
    EarningsWaived {
        /// The transfer (`waive:<pseudonym>:<currency>`).
        transfer_id: ShortText,
        /// The person's pseudonym.
        person: ShortText,
        /// Everything they could still withdraw in that currency.
        amount: Money,
    },
    /// A company's message was delivered to the person.
    MessageDelivered {
        /// The message.
        message_id: ShortText,
        /// The grant it was sent under.
        grant_id: ShortText,
        /// The sender.
        company_id: ShortText,
        /// The person's pseudonym.
        person: ShortText,
        /// The channel (`email`).
        channel: ShortText,
        /// Messages delivered to the person in the 7 days up to this one, itself included.
        sent_in_week: u64,
    },
    /// A company's message was refused.
    MessageRefused {
        /// The message.
        message_id: ShortText,
        /// The grant it was sent under.
        grant_id: ShortText,
        /// The sender.
        company_id: ShortText,
        /// The person's pseudonym.
        person: ShortText,
        /// Why, by name (`outside_hours`, `over_weekly_cap`, `no_contact`, …).
        reason: ShortText,
    },
    /// The person ended one company's permission to contact them.
    ContactStopped {
        /// The company.
        company_id: ShortText,
        /// The person's pseudonym.
        person: ShortText,
    },
}

/// Serialises a receipt hash as lowercase hex, as every other hash in the JSON.
fn hex_receipt<S: serde::Serializer>(hash: &Option<Hash>, s: S) -> Result<S::Ok, S::Error> {
    match hash {
        Some(hash) => s.serialize_str(&to_hex(hash)),
        None => s.serialize_none(),
    }
}

/// Lowercase hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

impl EntryKind {
    /// The kind byte of the encoding.
    pub fn code(&self) -> u8 {
        match self {
            Self::RequestMade { .. } => 0x01,
            Self::RequestDecided { .. } => 0x02,
            Self::GrantCreated { receipt: None, .. } => 0x03,
            Self::GrantCreated { .. } => 0x1a,
            Self::GrantRevoked { receipt: None, .. } => 0x04,
            Self::GrantRevoked { .. } => 0x1b,
            Self::GrantExpired { .. } => 0x05,
            Self::Disclosure { withheld, .. } if withheld.is_empty() => 0x06,
            Self::Disclosure { .. } => 0x0d,
            Self::TransferPending { .. } => 0x07,
            Self::TransferPosted { .. } => 0x08,
            Self::TransferVoided { .. } => 0x09,
            Self::CompanyBlocked { .. } => 0x0a,
            Self::CompanyUnblocked { .. } => 0x0b,
            Self::WalletFunded { .. } => 0x0c,
            Self::CompanyDisabled { .. } => 0x0e,
            Self::CompanyEnabled { .. } => 0x0f,
            Self::CompanyDeleted { .. } => 0x10,
            Self::ClientSecretRotated { .. } => 0x11,
            Self::AuditorRevoked { .. } => 0x12,
            Self::PersonSuspended { .. } => 0x13,
            Self::PersonUnsuspended { .. } => 0x14,
            Self::WalletRefunded { .. } => 0x15,
            Self::PayoutRequested { .. } => 0x16,
            Self::PayoutPosted { .. } => 0x17,
            Self::PayoutVoided { .. } => 0x18,
            Self::UseReported { .. } => 0x19,
            Self::PersonErased { .. } => 0x1c,
            Self::EarningsWaived { .. } => 0x1d,
            Self::MessageDelivered { .. } => 0x1e,
            Self::MessageRefused { .. } => 0x1f,
            Self::ContactStopped { .. } => 0x20,
        }
    }

    /// The person's pseudonym, when the event names one (transfer
    /// postings, voids, wallet movements and acts on clients name none).
    pub fn person(&self) -> Option<&ShortText> {
        match self {
            Self::RequestMade { person, .. }
            | Self::RequestDecided { person, .. }
            | Self::GrantCreated { person, .. }
            | Self::GrantRevoked { person, .. }
            | Self::GrantExpired { person, .. }
            | Self::Disclosure { person, .. }
            | Self::TransferPending { person, .. }
            | Self::CompanyBlocked { person, .. }
            | Self::CompanyUnblocked { person, .. }
            | Self::PersonSuspended { person }
            | Self::PersonUnsuspended { person }
            | Self::PayoutRequested { person, .. }
            | Self::PayoutPosted { person, .. }
            | Self::PayoutVoided { person, .. }
            | Self::PersonErased { person }
            | Self::EarningsWaived { person, .. } => Some(person),
            Self::UseReported { person, .. }
            | Self::MessageDelivered { person, .. }
            | Self::MessageRefused { person, .. }
            | Self::ContactStopped { person, .. } => Some(person),
            Self::TransferPosted { .. }
            | Self::TransferVoided { .. }
            | Self::WalletFunded { .. }
            | Self::CompanyDisabled { .. }
            | Self::CompanyEnabled { .. }
            | Self::CompanyDeleted { .. }
            | Self::ClientSecretRotated { .. }
            | Self::AuditorRevoked { .. }
            | Self::WalletRefunded { .. } => None,
        }
    }

    /// The snake_case name of the kind, as in JSON.
    pub fn name(&self) -> &'static str {
        match self {
            Self::RequestMade { .. } => "request_made",
            Self::RequestDecided { .. } => "request_decided",
            Self::GrantCreated { .. } => "grant_created",
            Self::GrantRevoked { .. } => "grant_revoked",
            Self::GrantExpired { .. } => "grant_expired",
            Self::Disclosure { .. } => "disclosure",
            Self::TransferPending { .. } => "transfer_pending",
            Self::TransferPosted { .. } => "transfer_posted",
            Self::TransferVoided { .. } => "transfer_voided",
            Self::CompanyBlocked { .. } => "company_blocked",
            Self::CompanyUnblocked { .. } => "company_unblocked",
            Self::WalletFunded { .. } => "wallet_funded",
            Self::CompanyDisabled { .. } => "company_disabled",
            Self::CompanyEnabled { .. } => "company_enabled",
            Self::CompanyDeleted { .. } => "company_deleted",
            Self::ClientSecretRotated { .. } => "client_secret_rotated",
            Self::AuditorRevoked { .. } => "auditor_revoked",
            Self::PersonSuspended { .. } => "person_suspended",
            Self::PersonUnsuspended { .. } => "person_unsuspended",
            Self::WalletRefunded { .. } => "wallet_refunded",
            Self::PayoutRequested { .. } => "payout_requested",
            Self::PayoutPosted { .. } => "payout_posted",
            Self::PayoutVoided { .. } => "payout_voided",
            Self::UseReported { .. } => "use_reported",
            Self::PersonErased { .. } => "person_erased",
            Self::EarningsWaived { .. } => "earnings_waived",
            Self::MessageDelivered { .. } => "message_delivered",
            Self::MessageRefused { .. } => "message_refused",
            Self::ContactStopped { .. } => "contact_stopped",
        }
    }
}

/// One ledger event: a leaf of the log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Entry {
    version: u8,
    /// When it happened, in milliseconds since the Unix epoch (the server's clock).
    pub time_unix_ms: i64,
    /// What happened.
    #[serde(flatten)]
    pub kind: EntryKind,
}

impl Entry {
    /// A version-1 entry.
    pub fn new(time_unix_ms: i64, kind: EntryKind) -> Self {
        Self {
            version: ENTRY_VERSION,
            time_unix_ms,
            kind,
        }
    }

    /// The encoding version (always [`ENTRY_VERSION`]).
    pub fn version(&self) -> u8 {
        self.version
    }

    /// The canonical bytes: the leaf data of the Merkle log.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer(Vec::with_capacity(128));
        w.u8(self.version);
        w.u8(self.kind.code());
        w.0.extend_from_slice(&self.time_unix_ms.to_be_bytes());
        match &self.kind {
            EntryKind::RequestMade {
                request_id,
                company_id,
                person,
                attributes,
                purpose,
                duration_secs,
                offer,
            } => {
                w.texts(&[request_id, company_id, person]);
                w.names(attributes);
                w.text(purpose);
                w.u64(*duration_secs);
                w.opt_money(offer);
            }
            EntryKind::RequestDecided {
                request_id,
                company_id,
                person,
                allowed,
                asked,
                withheld,
            } => {
                w.texts(&[request_id, company_id, person]);
                w.names(allowed);
                w.names(asked);
                w.names(withheld);
            }
            EntryKind::GrantCreated {
                grant_id,
                request_id,
                company_id,
                person,
                attributes,
                purpose,
                duration_secs,
                price,
                receipt,
            } => {
                w.texts(&[grant_id, request_id, company_id, person]);
                w.names(attributes);
                w.text(purpose);
                w.u64(*duration_secs);
                w.opt_money(price);
                w.receipt(receipt);
            }
            EntryKind::GrantRevoked {
                grant_id,
                company_id,
                person,
                receipt,
            } => {
                w.texts(&[grant_id, company_id, person]);
                w.receipt(receipt);
            }
            EntryKind::GrantExpired {
                grant_id,
                company_id,
                person,
            } => w.texts(&[grant_id, company_id, person]),
            EntryKind::UseReported {
                grant_id,
                company_id,
                person,
                use_kind,
                accepted,
            } => {
                w.texts(&[grant_id, company_id, person, use_kind]);
                w.u8(u8::from(*accepted));
            }
            EntryKind::MessageDelivered {
                message_id,
                grant_id,
                company_id,
                person,
                channel,
                sent_in_week,
            } => {
                w.texts(&[message_id, grant_id, company_id, person, channel]);
                w.u64(*sent_in_week);
            }
            EntryKind::MessageRefused {
                message_id,
                grant_id,
                company_id,
                person,
                reason,
            } => w.texts(&[message_id, grant_id, company_id, person, reason]),
            EntryKind::ContactStopped { company_id, person } => w.texts(&[company_id, person]),
            EntryKind::Disclosure {
                grant_id,
                company_id,
                person,
                attributes,
                withheld,
            } => {
                w.texts(&[grant_id, company_id, person]);
                w.names(attributes);
                if !withheld.is_empty() {
                    w.names(withheld);
                }
            }
            EntryKind::TransferPending {
                transfer_id,
                company_id,
                person,
                amount,
            } => {
                w.texts(&[transfer_id, company_id, person]);
                w.money(amount);
            }
            EntryKind::TransferPosted { transfer_id }
            | EntryKind::TransferVoided { transfer_id } => {
                w.text(transfer_id);
            }
            EntryKind::CompanyBlocked { company_id, person }
            | EntryKind::CompanyUnblocked { company_id, person } => w.texts(&[company_id, person]),
            EntryKind::WalletFunded {
                transfer_id,
                company_id,
                amount,
            }
            | EntryKind::WalletRefunded {
                transfer_id,
                company_id,
                amount,
            } => {
                w.texts(&[transfer_id, company_id]);
                w.money(amount);
            }
            EntryKind::CompanyDisabled { company_id }
            | EntryKind::CompanyEnabled { company_id }
            | EntryKind::CompanyDeleted { company_id } => w.text(company_id),
            EntryKind::ClientSecretRotated { client_id }
            | EntryKind::AuditorRevoked { client_id } => w.text(client_id),
            EntryKind::PersonSuspended { person }
            | EntryKind::PersonUnsuspended { person }
            | EntryKind::PersonErased { person } => w.text(person),
            EntryKind::PayoutRequested {
                transfer_id,
                person,
                amount,
            }
            | EntryKind::EarningsWaived {
                transfer_id,
                person,
                amount,
            } => {
                w.texts(&[transfer_id, person]);
                w.money(amount);
            }
            EntryKind::PayoutPosted {
                transfer_id,
                person,
            }
            | EntryKind::PayoutVoided {
                transfer_id,
                person,
            } => w.texts(&[transfer_id, person]),
        }
        debug_assert!(w.0.len() <= MAX_ENTRY_BYTES);
        w.0
    }

    /// Parses canonical bytes; refuses anything [`Entry::encode`] would not produce.
    pub fn decode(bytes: &[u8]) -> Result<Self, EntryError> {
        if bytes.len() > MAX_ENTRY_BYTES {
            return Err(EntryError::TooLong(bytes.len()));
        }
        let mut r = Reader { bytes, pos: 0 };
        let version = r.u8()?;
        if version != ENTRY_VERSION {
            return Err(EntryError::UnknownVersion(version));
        }
        let code = r.u8()?;
        let time_unix_ms = i64::from_be_bytes(r.array()?);
        let kind = match code {
            0x01 => EntryKind::RequestMade {
                request_id: r.text()?,
                company_id: r.text()?,
                person: r.text()?,
                attributes: r.names()?,
                purpose: r.text()?,
                duration_secs: r.u64()?,
                offer: r.opt_money()?,
            },
            0x02 => EntryKind::RequestDecided {
                request_id: r.text()?,
                company_id: r.text()?,
                person: r.text()?,
                allowed: r.names()?,
                asked: r.names()?,
                withheld: r.names()?,
            },
            0x03 | 0x1a => EntryKind::GrantCreated {
                grant_id: r.text()?,
                request_id: r.text()?,
                company_id: r.text()?,
                person: r.text()?,
                attributes: r.names()?,
                purpose: r.text()?,
                duration_secs: r.u64()?,
                price: r.opt_money()?,
                receipt: (code == 0x1a).then(|| r.array()).transpose()?,
            },
            0x04 | 0x1b => EntryKind::GrantRevoked {
                grant_id: r.text()?,
                company_id: r.text()?,
                person: r.text()?,
                receipt: (code == 0x1b).then(|| r.array()).transpose()?,
            },
            0x05 => EntryKind::GrantExpired {
                grant_id: r.text()?,
                company_id: r.text()?,
                person: r.text()?,
            },
            0x06 | 0x0d => EntryKind::Disclosure {
                grant_id: r.text()?,
                company_id: r.text()?,
                person: r.text()?,
                attributes: r.names()?,
                withheld: if code == 0x0d {
                    let withheld = r.names()?;
                    if withheld.is_empty() {
                        // 0x06 is the one encoding of a read that withheld nothing.
                        return Err(EntryError::UnknownKind(code));
                    }
                    withheld
                } else {
                    NameList::default()
                },
            },
            0x07 => EntryKind::TransferPending {
                transfer_id: r.text()?,
                company_id: r.text()?,
                person: r.text()?,
                amount: r.money()?,
            },
            0x08 => EntryKind::TransferPosted {
                transfer_id: r.text()?,
            },
            0x09 => EntryKind::TransferVoided {
                transfer_id: r.text()?,
            },
            0x0a => EntryKind::CompanyBlocked {
                company_id: r.text()?,
                person: r.text()?,
            },
            0x0b => EntryKind::CompanyUnblocked {
                company_id: r.text()?,
                person: r.text()?,
            },
            0x0c => EntryKind::WalletFunded {
                transfer_id: r.text()?,
                company_id: r.text()?,
                amount: r.money()?,
            },
            0x0e => EntryKind::CompanyDisabled {
                company_id: r.text()?,
            },
            0x0f => EntryKind::CompanyEnabled {
                company_id: r.text()?,
            },
            0x10 => EntryKind::CompanyDeleted {
                company_id: r.text()?,
            },
            0x11 => EntryKind::ClientSecretRotated {
                client_id: r.text()?,
            },
            0x12 => EntryKind::AuditorRevoked {
                client_id: r.text()?,
            },
            0x13 => EntryKind::PersonSuspended { person: r.text()? },
            0x14 => EntryKind::PersonUnsuspended { person: r.text()? },
            0x15 => EntryKind::WalletRefunded {
                transfer_id: r.text()?,
                company_id: r.text()?,
                amount: r.money()?,
            },
            0x16 => EntryKind::PayoutRequested {
                transfer_id: r.text()?,
                person: r.text()?,
                amount: r.money()?,
            },
            0x17 => EntryKind::PayoutPosted {
                transfer_id: r.text()?,
                person: r.text()?,
            },
            0x18 => EntryKind::PayoutVoided {
                transfer_id: r.text()?,
                person: r.text()?,
            },
            0x19 => EntryKind::UseReported {
                grant_id: r.text()?,
                company_id: r.text()?,
                person: r.text()?,
                use_kind: r.text()?,
                accepted: match r.u8()? {
                    0 => false,
                    1 => true,
                    tag => return Err(EntryError::InvalidOptionTag(tag)),
                },
            },
            0x1c => EntryKind::PersonErased { person: r.text()? },
            0x1d => EntryKind::EarningsWaived {
                transfer_id: r.text()?,
                person: r.text()?,
                amount: r.money()?,
            },
            0x1e => EntryKind::MessageDelivered {
                message_id: r.text()?,
                grant_id: r.text()?,
                company_id: r.text()?,
                person: r.text()?,
                channel: r.text()?,
                sent_in_week: r.u64()?,
            },
            0x1f => EntryKind::MessageRefused {
                message_id: r.text()?,
                grant_id: r.text()?,
                company_id: r.text()?,
                person: r.text()?,
                reason: r.text()?,
            },
            0x20 => EntryKind::ContactStopped {
                company_id: r.text()?,
                person: r.text()?,
            },
            other => return Err(EntryError::UnknownKind(other)),
        };
        let rest = bytes.len() - r.pos;
        if rest != 0 {
            return Err(EntryError::TrailingBytes(rest));
        }
        Ok(Self {
            version,
            time_unix_ms,
            kind,
        })
    }

    /// The RFC 9162 leaf hash of the encoding.
    pub fn leaf_hash(&self) -> Hash {
        leaf_hash(&self.encode())
    }
}

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, value: u8) {
        self.0.push(value);
    }

    fn u64(&mut self, value: u64) {
        self.0.extend_from_slice(&value.to_be_bytes());
    }

    fn u16_len(&mut self, len: usize) {
        // Bounded by MAX_TEXT_BYTES / MAX_NAMES at construction.
        let len = u16::try_from(len).expect("lengths are bounded far below u16::MAX");
        self.0.extend_from_slice(&len.to_be_bytes());
    }

    fn text(&mut self, text: &ShortText) {
        self.u16_len(text.0.len());
        self.0.extend_from_slice(text.0.as_bytes());
    }

    fn texts(&mut self, texts: &[&ShortText]) {
        for text in texts {
            self.text(text);
        }
    }

    fn names(&mut self, names: &NameList) {
        self.u16_len(names.0.len());
        for name in &names.0 {
            self.text(name);
        }
    }

    fn money(&mut self, money: &Money) {
        self.u64(money.amount_micros);
        self.0.extend_from_slice(&money.currency.to_bytes());
    }

    fn receipt(&mut self, receipt: &Option<Hash>) {
        if let Some(hash) = receipt {
            self.0.extend_from_slice(hash);
        }
    }

    fn opt_money(&mut self, money: &Option<Money>) {
        match money {
            None => self.u8(0),
            Some(money) => {
                self.u8(1);
                self.money(money);
            }
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], EntryError> {
        let end = self.pos.checked_add(n).ok_or(EntryError::Truncated)?;
        let slice = self.bytes.get(self.pos..end).ok_or(EntryError::Truncated)?;
        self.pos = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], EntryError> {
        let slice = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, EntryError> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<usize, EntryError> {
        Ok(usize::from(u16::from_be_bytes(self.array()?)))
    }

    fn u64(&mut self) -> Result<u64, EntryError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    fn text(&mut self) -> Result<ShortText, EntryError> {
        let len = self.u16()?;
        if len == 0 {
            return Err(EntryError::EmptyText);
        }
        if len > MAX_TEXT_BYTES {
            return Err(EntryError::TextTooLong(len));
        }
        let bytes = self.take(len)?;
        let text = std::str::from_utf8(bytes).map_err(|_| EntryError::InvalidUtf8)?;
        Ok(ShortText(text.to_owned()))
    }

    fn names(&mut self) -> Result<NameList, EntryError> {
        let count = self.u16()?;
        if count > MAX_NAMES {
            return Err(EntryError::TooManyNames(count));
        }
        let mut names = Vec::with_capacity(count);
        for _ in 0..count {
            names.push(self.text()?);
        }
        Ok(NameList(names))
    }

    fn money(&mut self) -> Result<Money, EntryError> {
        let amount_micros = self.u64()?;
        let currency = Currency::from_bytes(self.array()?).ok_or(EntryError::InvalidCurrency)?;
        Ok(Money {
            amount_micros,
            currency,
        })
    }

    fn opt_money(&mut self) -> Result<Option<Money>, EntryError> {
        match self.u8()? {
            0 => Ok(None),
            1 => Ok(Some(self.money()?)),
            tag => Err(EntryError::InvalidOptionTag(tag)),
        }
    }
}

/// Proptest strategies for entries, shared by this crate's tests.
#[cfg(test)]
pub(crate) mod strategy {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn text() -> impl Strategy<Value = ShortText> {
        prop_oneof!["[a-z0-9_-]{1,12}", "\\PC{1,20}", "[a-z]{250,256}",]
            .prop_filter_map("fits", |s| ShortText::new(s).ok())
    }

    pub(crate) fn names() -> impl Strategy<Value = NameList> {
        proptest::collection::vec(text(), 0..6).prop_map(|v| NameList::new(v).unwrap())
    }

    pub(crate) fn currency() -> impl Strategy<Value = Currency> {
        prop_oneof![Just("USD".to_owned()), Just("EUR".to_owned()), "[A-Z]{3}"]
            .prop_map(|c| Currency::new(&c).unwrap())
    }

    pub(crate) fn money() -> impl Strategy<Value = Money> {
        (any::<u64>(), currency()).prop_map(|(a, c)| Money::new(a, c))
    }

    pub(crate) fn kind() -> impl Strategy<Value = EntryKind> {
        prop_oneof![
            (
                text(),
                text(),
                text(),
                names(),
                text(),
                any::<u64>(),
                proptest::option::of(money())
            )
                .prop_map(
                    |(
                        request_id,
                        company_id,
                        person,
                        attributes,
                        purpose,
                        duration_secs,
                        offer,
                    )| {
                        EntryKind::RequestMade {
                            request_id,
                            company_id,
                            person,
                            attributes,
                            purpose,
                            duration_secs,
                            offer,
                        }
                    }
                ),
            (text(), text(), text(), names(), names(), names()).prop_map(
                |(request_id, company_id, person, allowed, asked, withheld)| {
                    EntryKind::RequestDecided {
                        request_id,
                        company_id,
                        person,
                        allowed,
                        asked,
                        withheld,
                    }
                }
            ),
            (
                text(),
                text(),
                text(),
                text(),
                names(),
                text(),
                any::<u64>(),
                proptest::option::of(money()),
                proptest::option::of(any::<[u8; 32]>())
            )
                .prop_map(
                    |(
                        grant_id,
                        request_id,
                        company_id,
                        person,
                        attributes,
                        purpose,
                        duration_secs,
                        price,
                        receipt,
                    )| {
                        EntryKind::GrantCreated {
                            grant_id,
                            request_id,
                            company_id,
                            person,
                            attributes,
                            purpose,
                            duration_secs,
                            price,
                            receipt,
                        }
                    }
                ),
            (
                text(),
                text(),
                text(),
                proptest::option::of(any::<[u8; 32]>())
            )
                .prop_map(|(grant_id, company_id, person, receipt)| {
                    EntryKind::GrantRevoked {
                        grant_id,
                        company_id,
                        person,
                        receipt,
                    }
                }),
            (text(), text(), text(), text(), any::<bool>()).prop_map(
                |(grant_id, company_id, person, use_kind, accepted)| EntryKind::UseReported {
                    grant_id,
                    company_id,
                    person,
                    use_kind,
                    accepted,
                }
            ),
            (text(), text(), text(), text(), text(), any::<u64>()).prop_map(
                |(message_id, grant_id, company_id, person, channel, sent_in_week)| {
                    EntryKind::MessageDelivered {
                        message_id,
                        grant_id,
                        company_id,
                        person,
                        channel,
                        sent_in_week,
                    }
                }
            ),
            (text(), text(), text(), text(), text()).prop_map(
                |(message_id, grant_id, company_id, person, reason)| EntryKind::MessageRefused {
                    message_id,
                    grant_id,
                    company_id,
                    person,
                    reason,
                }
            ),
            (text(), text())
                .prop_map(|(company_id, person)| EntryKind::ContactStopped { company_id, person }),
            (text(), text(), text()).prop_map(|(grant_id, company_id, person)| {
                EntryKind::GrantExpired {
                    grant_id,
                    company_id,
                    person,
                }
            }),
            (text(), text(), text(), names(), names()).prop_map(
                |(grant_id, company_id, person, attributes, withheld)| EntryKind::Disclosure {
                    grant_id,
                    company_id,
                    person,
                    attributes,
                    withheld,
                }
            ),
            (text(), text(), text(), money()).prop_map(
                |(transfer_id, company_id, person, amount)| EntryKind::TransferPending {
                    transfer_id,
                    company_id,
                    person,
                    amount
                }
            ),
            text().prop_map(|transfer_id| EntryKind::TransferPosted { transfer_id }),
            text().prop_map(|transfer_id| EntryKind::TransferVoided { transfer_id }),
            (text(), text())
                .prop_map(|(company_id, person)| EntryKind::CompanyBlocked { company_id, person }),
            (text(), text()).prop_map(|(company_id, person)| EntryKind::CompanyUnblocked {
                company_id,
                person
            }),
            (text(), text(), money()).prop_map(|(transfer_id, company_id, amount)| {
                EntryKind::WalletFunded {
                    transfer_id,
                    company_id,
                    amount,
                }
            }),
            admin_kind(),
        ]
    }

    /// The operator's acts and the refund a company's deletion makes.
    pub(crate) fn admin_kind() -> impl Strategy<Value = EntryKind> {
        prop_oneof![
            text().prop_map(|company_id| EntryKind::CompanyDisabled { company_id }),
            text().prop_map(|company_id| EntryKind::CompanyEnabled { company_id }),
            text().prop_map(|company_id| EntryKind::CompanyDeleted { company_id }),
            text().prop_map(|client_id| EntryKind::ClientSecretRotated { client_id }),
            text().prop_map(|client_id| EntryKind::AuditorRevoked { client_id }),
            text().prop_map(|person| EntryKind::PersonSuspended { person }),
            text().prop_map(|person| EntryKind::PersonUnsuspended { person }),
            (text(), text(), money()).prop_map(|(transfer_id, company_id, amount)| {
                EntryKind::WalletRefunded {
                    transfer_id,
                    company_id,
                    amount,
                }
            }),
        ]
    }

    pub(crate) fn payout_kind() -> impl Strategy<Value = EntryKind> {
        prop_oneof![
            (text(), text(), money()).prop_map(|(transfer_id, person, amount)| {
                EntryKind::PayoutRequested {
                    transfer_id,
                    person,
                    amount,
                }
            }),
            (text(), text()).prop_map(|(transfer_id, person)| EntryKind::PayoutPosted {
                transfer_id,
                person
            }),
            (text(), text()).prop_map(|(transfer_id, person)| EntryKind::PayoutVoided {
                transfer_id,
                person
            }),
            (text(), text(), money()).prop_map(|(transfer_id, person, amount)| {
                EntryKind::EarningsWaived {
                    transfer_id,
                    person,
                    amount,
                }
            }),
            text().prop_map(|person| EntryKind::PersonErased { person }),
        ]
    }

    pub(crate) fn entry() -> impl Strategy<Value = Entry> {
        (any::<i64>(), prop_oneof![4 => kind(), 1 => payout_kind()])
            .prop_map(|(t, k)| Entry::new(t, k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(s: &str) -> ShortText {
        ShortText::new(s).unwrap()
    }

    fn usd(amount_micros: u64) -> Money {
        Money::new(amount_micros, Currency::new("USD").unwrap())
    }

    #[test]
    fn encoding_matches_the_documented_layout() {
        let entry = Entry::new(
            0x0102_0304_0506_0708,
            EntryKind::WalletFunded {
                transfer_id: t("t1"),
                company_id: t("acme"),
                amount: usd(50_000),
            },
        );
        let want: Vec<u8> = [
            &[0x01, 0x0c][..],
            &[1, 2, 3, 4, 5, 6, 7, 8],
            &[0, 2],
            b"t1",
            &[0, 4],
            b"acme",
            &50_000u64.to_be_bytes(),
            b"USD",
        ]
        .concat();
        assert_eq!(entry.encode(), want);
        assert_eq!(Entry::decode(&want).unwrap(), entry);
    }

    #[test]
    fn request_made_layout_includes_names_and_optional_offer() {
        let entry = Entry::new(
            -1,
            EntryKind::RequestMade {
                request_id: t("r"),
                company_id: t("c"),
                person: t("p"),
                attributes: NameList::from_strs(&["email", "interests"]).unwrap(),
                purpose: t("marketing"),
                duration_secs: 2_592_000,
                offer: None,
            },
        );
        let want: Vec<u8> = [
            &[0x01, 0x01][..],
            &(-1i64).to_be_bytes(),
            &[0, 1],
            b"r",
            &[0, 1],
            b"c",
            &[0, 1],
            b"p",
            &[0, 2, 0, 5],
            b"email",
            &[0, 9],
            b"interests",
            &[0, 9],
            b"marketing",
            &2_592_000u64.to_be_bytes(),
            &[0],
        ]
        .concat();
        assert_eq!(entry.encode(), want);
    }

    #[test]
    fn non_canonical_and_unknown_bytes_are_refused() {
        let good = Entry::new(
            7,
            EntryKind::TransferPosted {
                transfer_id: t("x"),
            },
        )
        .encode();
        let with = |f: &dyn Fn(&mut Vec<u8>)| {
            let mut b = good.clone();
            f(&mut b);
            Entry::decode(&b)
        };
        assert_eq!(with(&|b| b.push(0)), Err(EntryError::TrailingBytes(1)));
        assert_eq!(with(&|b| b[0] = 2), Err(EntryError::UnknownVersion(2)));
        assert_eq!(with(&|b| b[1] = 0x21), Err(EntryError::UnknownKind(0x21)));
        assert_eq!(with(&|b| b[1] = 0), Err(EntryError::UnknownKind(0)));
        assert_eq!(
            with(&|b| {
                b.pop();
            }),
            Err(EntryError::Truncated)
        );
        assert_eq!(with(&|b| b[11] = 0), Err(EntryError::EmptyText));
        assert_eq!(with(&|b| b[12] = 0xff), Err(EntryError::InvalidUtf8));
        assert_eq!(Entry::decode(&[]), Err(EntryError::Truncated));
        assert_eq!(
            Entry::decode(&vec![1; MAX_ENTRY_BYTES + 1]),
            Err(EntryError::TooLong(MAX_ENTRY_BYTES + 1))
        );
        // Over-long text and list prefixes are refused before reading on.
        let mut long = good[..10].to_vec();
        long.extend_from_slice(&257u16.to_be_bytes());
        long.extend(std::iter::repeat_n(b'a', 257));
        assert_eq!(Entry::decode(&long), Err(EntryError::TextTooLong(257)));
        let mut many = vec![1, 0x06, 0, 0, 0, 0, 0, 0, 0, 0];
        for _ in 0..3 {
            many.extend_from_slice(&[0, 1, b'a']);
        }
        many.extend_from_slice(&65u16.to_be_bytes());
        assert_eq!(Entry::decode(&many), Err(EntryError::TooManyNames(65)));
    }

    #[test]
    fn option_tags_and_currencies_are_strict() {
        let entry = Entry::new(
            0,
            EntryKind::GrantCreated {
                grant_id: t("g"),
                request_id: t("r"),
                company_id: t("c"),
                person: t("p"),
                attributes: NameList::default(),
                purpose: t("research"),
                duration_secs: 60,
                price: Some(usd(1)),
                receipt: None,
            },
        );
        let bytes = entry.encode();
        let tag_at = bytes.len() - 12;
        let mut bad_tag = bytes.clone();
        bad_tag[tag_at] = 2;
        assert_eq!(
            Entry::decode(&bad_tag),
            Err(EntryError::InvalidOptionTag(2))
        );
        let mut bad_currency = bytes.clone();
        *bad_currency.last_mut().unwrap() = b'd';
        assert_eq!(
            Entry::decode(&bad_currency),
            Err(EntryError::InvalidCurrency)
        );
    }

    #[test]
    fn bounds_are_checked_at_construction() {
        assert_eq!(ShortText::new(""), Err(EntryError::EmptyText));
        assert_eq!(
            ShortText::new("a".repeat(257)),
            Err(EntryError::TextTooLong(257))
        );
        assert!(ShortText::new("a".repeat(256)).is_ok());
        let names: Vec<String> = (0..65).map(|i| format!("n{i}")).collect();
        assert_eq!(
            NameList::from_strs(&names),
            Err(EntryError::TooManyNames(65))
        );
        assert!(NameList::from_strs(&names[..64]).is_ok());
    }

    #[test]
    fn the_largest_entry_fits_the_decode_bound() {
        let long = || t(&"x".repeat(MAX_TEXT_BYTES));
        let full = || NameList::new(vec![long(); MAX_NAMES]).unwrap();
        let entry = Entry::new(
            i64::MIN,
            EntryKind::RequestDecided {
                request_id: long(),
                company_id: long(),
                person: long(),
                allowed: full(),
                asked: full(),
                withheld: full(),
            },
        );
        let bytes = entry.encode();
        assert!(bytes.len() <= MAX_ENTRY_BYTES, "{}", bytes.len());
        assert_eq!(Entry::decode(&bytes).unwrap(), entry);
    }

    #[test]
    fn json_shows_kind_and_fields_side_by_side() {
        let entry = Entry::new(
            1_700_000_000_000,
            EntryKind::Disclosure {
                grant_id: t("g1"),
                company_id: t("acme"),
                person: t("p_7f3a"),
                attributes: NameList::from_strs(&["email"]).unwrap(),
                withheld: NameList::default(),
            },
        );
        let json = serde_json::to_value(&entry).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "version": 1,
                "time_unix_ms": 1_700_000_000_000i64,
                "kind": "disclosure",
                "grant_id": "g1",
                "company_id": "acme",
                "person": "p_7f3a",
                "attributes": ["email"],
            })
        );
    }

    #[test]
    fn kind_codes_and_names_are_distinct() {
        let kinds = [
            EntryKind::TransferPosted {
                transfer_id: t("a"),
            },
            EntryKind::TransferVoided {
                transfer_id: t("a"),
            },
            EntryKind::CompanyBlocked {
                company_id: t("c"),
                person: t("p"),
            },
            EntryKind::CompanyUnblocked {
                company_id: t("c"),
                person: t("p"),
            },
        ];
        let mut codes: Vec<u8> = kinds.iter().map(EntryKind::code).collect();
        codes.dedup();
        assert_eq!(codes.len(), kinds.len());
        for kind in &kinds {
            let json = serde_json::to_value(Entry::new(0, kind.clone())).unwrap();
            assert_eq!(json["kind"], kind.name());
        }
    }

    #[test]
    fn admin_entries_match_the_documented_layout() {
        let disabled = Entry::new(
            0,
            EntryKind::CompanyDisabled {
                company_id: t("acme"),
            },
        );
        assert_eq!(
            disabled.encode(),
            [&[0x01, 0x0e][..], &[0; 8], &[0, 4], b"acme"].concat()
        );
        let suspended = Entry::new(1, EntryKind::PersonSuspended { person: t("p_1") });
        assert_eq!(
            suspended.encode(),
            [&[0x01, 0x13][..], &1i64.to_be_bytes(), &[0, 3], b"p_1"].concat()
        );
        let refunded = Entry::new(
            2,
            EntryKind::WalletRefunded {
                transfer_id: t("r"),
                company_id: t("c"),
                amount: usd(7),
            },
        );
        assert_eq!(
            refunded.encode(),
            [
                &[0x01, 0x15][..],
                &2i64.to_be_bytes(),
                &[0, 1],
                b"r",
                &[0, 1],
                b"c",
                &7u64.to_be_bytes(),
                b"USD"
            ]
            .concat()
        );
        for entry in [disabled, suspended, refunded] {
            assert_eq!(Entry::decode(&entry.encode()).unwrap(), entry);
        }
    }

    #[test]
    fn admin_kinds_have_their_own_codes_and_name_a_person_only_by_pseudonym() {
        let kinds = [
            EntryKind::CompanyDisabled { company_id: t("c") },
            EntryKind::CompanyEnabled { company_id: t("c") },
            EntryKind::CompanyDeleted { company_id: t("c") },
            EntryKind::ClientSecretRotated { client_id: t("c") },
            EntryKind::AuditorRevoked { client_id: t("c") },
            EntryKind::PersonSuspended { person: t("p") },
            EntryKind::PersonUnsuspended { person: t("p") },
            EntryKind::WalletRefunded {
                transfer_id: t("r"),
                company_id: t("c"),
                amount: usd(1),
            },
        ];
        let codes: std::collections::BTreeSet<u8> = kinds.iter().map(EntryKind::code).collect();
        assert_eq!(codes, (0x0e..=0x15).collect());
        let names: std::collections::BTreeSet<&str> = kinds.iter().map(EntryKind::name).collect();
        assert_eq!(names.len(), kinds.len());
        for kind in &kinds {
            let json = serde_json::to_value(Entry::new(0, kind.clone())).unwrap();
            assert_eq!(json["kind"], kind.name());
            let about_a_person = matches!(
                kind,
                EntryKind::PersonSuspended { .. } | EntryKind::PersonUnsuspended { .. }
            );
            assert_eq!(kind.person().is_some(), about_a_person);
        }
        // A body cut after the kind byte is refused for every new kind.
        for code in 0x0e..=0x15u8 {
            let bytes = [&[0x01, code][..], &[0; 8]].concat();
            assert_eq!(Entry::decode(&bytes), Err(EntryError::Truncated));
        }
    }

    #[test]
    fn payout_entries_match_the_documented_layout_and_name_the_person() {
        let requested = Entry::new(
            3,
            EntryKind::PayoutRequested {
                transfer_id: t("payout:1"),
                person: t("p_1"),
                amount: usd(2_000_000),
            },
        );
        assert_eq!(
            requested.encode(),
            [
                &[0x01, 0x16][..],
                &3i64.to_be_bytes(),
                &[0, 8],
                b"payout:1",
                &[0, 3],
                b"p_1",
                &2_000_000u64.to_be_bytes(),
                b"USD"
            ]
            .concat()
        );
        let posted = EntryKind::PayoutPosted {
            transfer_id: t("payout:1"),
            person: t("p_1"),
        };
        let voided = EntryKind::PayoutVoided {
            transfer_id: t("payout:1"),
            person: t("p_1"),
        };
        assert_eq!(
            Entry::new(0, posted.clone()).encode(),
            [
                &[0x01, 0x17][..],
                &[0; 8],
                &[0, 8],
                b"payout:1",
                &[0, 3],
                b"p_1"
            ]
            .concat()
        );
        assert_eq!(Entry::new(0, voided.clone()).encode()[1], 0x18);
        let kinds = [requested.kind.clone(), posted, voided];
        let names: std::collections::BTreeSet<&str> = kinds.iter().map(EntryKind::name).collect();
        assert_eq!(names.len(), 3);
        for kind in &kinds {
            assert_eq!(kind.person(), Some(&t("p_1")));
            let entry = Entry::new(9, kind.clone());
            assert_eq!(Entry::decode(&entry.encode()).unwrap(), entry);
            let json = serde_json::to_value(&entry).unwrap();
            assert_eq!(json["kind"], kind.name());
        }
        for code in 0x16..=0x18u8 {
            let bytes = [&[0x01, code][..], &[0; 8]].concat();
            assert_eq!(Entry::decode(&bytes), Err(EntryError::Truncated));
        }
    }

    #[test]
    fn a_receipt_hash_makes_a_grant_entry_kind_0x1a_or_0x1b_and_nothing_else_changes() {
        let created = |receipt| EntryKind::GrantCreated {
            grant_id: t("g"),
            request_id: t("r"),
            company_id: t("c"),
            person: t("p"),
            attributes: NameList::from_strs(&["email"]).unwrap(),
            purpose: t("marketing"),
            duration_secs: 60,
            price: None,
            receipt,
        };
        let revoked = |receipt| EntryKind::GrantRevoked {
            grant_id: t("g"),
            company_id: t("c"),
            person: t("p"),
            receipt,
        };
        let hash = [7u8; 32];
        for (without, with, code) in [
            (created(None), created(Some(hash)), 0x1a),
            (revoked(None), revoked(Some(hash)), 0x1b),
        ] {
            let plain = Entry::new(5, without).encode();
            let receipted = Entry::new(5, with.clone()).encode();
            // The old bytes, the new kind byte, then the hash: nothing else moves.
            assert_eq!(receipted[1], code);
            assert_eq!(receipted[2..receipted.len() - 32], plain[2..]);
            assert_eq!(receipted[receipted.len() - 32..], hash);
            assert_eq!(Entry::decode(&receipted).unwrap().kind, with);
            assert_eq!(
                with.name(),
                if code == 0x1a {
                    "grant_created"
                } else {
                    "grant_revoked"
                }
            );
            // A hash cut short, or none after the new kind byte, is refused.
            assert_eq!(
                Entry::decode(&receipted[..receipted.len() - 1]),
                Err(EntryError::Truncated)
            );
            let mut no_hash = plain.clone();
            no_hash[1] = code;
            assert_eq!(Entry::decode(&no_hash), Err(EntryError::Truncated));
        }
        let json = serde_json::to_value(Entry::new(0, created(Some(hash)))).unwrap();
        assert_eq!(json["receipt"], "07".repeat(32));
        let json = serde_json::to_value(Entry::new(0, created(None))).unwrap();
        assert!(json.get("receipt").is_none());
    }

    #[test]
    fn relay_entries_match_the_documented_layout_and_name_the_person() {
        let delivered = Entry::new(
            5,
            EntryKind::MessageDelivered {
                message_id: t("m"),
                grant_id: t("g"),
                company_id: t("c"),
                person: t("p"),
                channel: t("email"),
                sent_in_week: 2,
            },
        );
        let bytes = delivered.encode();
        assert_eq!(
            bytes,
            [
                &[0x01, 0x1e][..],
                &5i64.to_be_bytes(),
                &[0, 1],
                b"m",
                &[0, 1],
                b"g",
                &[0, 1],
                b"c",
                &[0, 1],
                b"p",
                &[0, 5],
                b"email",
                &2u64.to_be_bytes(),
            ]
            .concat()
        );
        assert_eq!(Entry::decode(&bytes).unwrap(), delivered);
        let refused = Entry::new(
            5,
            EntryKind::MessageRefused {
                message_id: t("m"),
                grant_id: t("g"),
                company_id: t("c"),
                person: t("p"),
                reason: t("outside_hours"),
            },
        );
        let bytes = refused.encode();
        assert_eq!(&bytes[..2], &[0x01, 0x1f]);
        assert!(bytes.ends_with(b"\0\x0doutside_hours"));
        assert_eq!(Entry::decode(&bytes).unwrap(), refused);
        let stopped = Entry::new(
            5,
            EntryKind::ContactStopped {
                company_id: t("c"),
                person: t("p"),
            },
        );
        let bytes = stopped.encode();
        assert_eq!(
            bytes,
            [
                &[0x01, 0x20][..],
                &5i64.to_be_bytes(),
                &[0, 1],
                b"c",
                &[0, 1],
                b"p"
            ]
            .concat()
        );
        assert_eq!(Entry::decode(&bytes).unwrap(), stopped);
        for entry in [delivered, refused, stopped] {
            assert_eq!(entry.kind.person().map(ShortText::as_str), Some("p"));
            let json = serde_json::to_value(&entry).unwrap();
            assert_eq!(json["kind"], entry.kind.name());
        }
    }

    #[test]
    fn a_reported_use_names_the_kind_and_the_verdict_only() {
        let entry = Entry::new(
            3,
            EntryKind::UseReported {
                grant_id: t("g"),
                company_id: t("c"),
                person: t("p"),
                use_kind: t("sold"),
                accepted: false,
            },
        );
        let bytes = entry.encode();
        assert_eq!(
            bytes,
            [
                &[0x01, 0x19][..],
                &3i64.to_be_bytes(),
                &[0, 1],
                b"g",
                &[0, 1],
                b"c",
                &[0, 1],
                b"p",
                &[0, 4],
                b"sold",
                &[0]
            ]
            .concat()
        );
        assert_eq!(Entry::decode(&bytes).unwrap(), entry);
        assert_eq!(entry.kind.person().map(ShortText::as_str), Some("p"));
        let mut bad = bytes.clone();
        *bad.last_mut().unwrap() = 2;
        assert_eq!(Entry::decode(&bad), Err(EntryError::InvalidOptionTag(2)));
    }

    proptest! {
        #[test]
        fn admin_entries_round_trip(kind in strategy::admin_kind(), time in any::<i64>()) {
            let entry = Entry::new(time, kind);
            prop_assert_eq!(Entry::decode(&entry.encode()).unwrap(), entry);
        }

        #[test]
        fn every_entry_round_trips(entry in strategy::entry()) {
            let bytes = entry.encode();
            prop_assert!(bytes.len() <= MAX_ENTRY_BYTES);
            prop_assert_eq!(Entry::decode(&bytes).unwrap(), entry);
        }

        #[test]
        fn decode_never_panics_and_accepted_bytes_are_canonical(
            bytes in proptest::collection::vec(any::<u8>(), 0..200)
        ) {
            if let Ok(entry) = Entry::decode(&bytes) {
                prop_assert_eq!(entry.encode(), bytes);
            }
        }

        #[test]
        fn mutated_encodings_decode_canonically_or_not_at_all(
            entry in strategy::entry(),
            at in any::<prop::sample::Index>(),
            value in any::<u8>(),
            cut in any::<prop::sample::Index>(),
        ) {
            let original = entry.encode();
            let mut mutated = original.clone();
            let i = at.index(mutated.len());
            mutated[i] = value;
            if let Ok(decoded) = Entry::decode(&mutated) {
                prop_assert_eq!(decoded.encode(), mutated);
            }
            // No proper prefix of an entry is an entry.
            let prefix = &original[..cut.index(original.len())];
            prop_assert!(Entry::decode(prefix).is_err());
        }
    }
}
