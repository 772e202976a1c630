//! The consent decision engine: what a company may have from a person.
//!
//! Pure: values in, values out. No I/O, no clock, no randomness, no async;
//! the same inputs always give the same [`Decision`].
//!
//! A company's request arrives as an RFC 9396 `authorization_details` entry
//! ([`RawRequest`]) and is checked once into a [`DataRequest`]
//! ([`RawRequest::validate`], [`DataRequest::parse_json`]). The person's side is
//! a [`Profile`]: their [`SharingDefault`], the [`Bucket`] of each recorded
//! attribute, their ordered [`Rule`]s, their blocked companies and the longest
//! grant they accept. [`decide`] joins them.
//!
//! # Order of evaluation
//!
//! Each requested attribute is judged on its own, in request order, in its
//! effective bucket (the person's choice, else the catalogue default; custom
//! `x-` keys default to private). The first step that applies decides it:
//!
//! 1. **Blocked company** → deny ([`Reason::Blocked`]).
//! 2. **Private bucket** → deny ([`Reason::PrivateBucket`]). No rule can
//!    release a private attribute, not even an allow rule naming it.
//! 3. **First matching rule**, in the person's order → the rule's effect
//!    ([`Reason::Rule`] with its index). A rule matches when its company,
//!    purposes, attributes (by key or by effective bucket), minimum offer (an
//!    offer in the same currency of at least that amount) and maximum duration
//!    all match. A rule for "any purpose" does not cover `resale`: only a rule
//!    that names resale releases data for it.
//! 4. **Default table** ([`SharingDefault::outcome`], [`Reason::Default`]):
//!
//!    | bucket \ default | share everything | ask me | share nothing |
//!    |---|---|---|---|
//!    | public | allow | allow | deny |
//!    | semi_private | allow | ask | deny |
//!    | private | deny | deny | deny |
//!
//!    except that for the purpose `resale` an allow from the default becomes
//!    ask ([`Reason::ResaleNeedsConsent`]): resale never passes on a default.
//!
//! ```
//! use consent_policy::{CompanyId, DataRequest, GrantDuration, Outcome, Profile, decide};
//!
//! let profile = Profile::default(); // "ask me"
//! let acme = CompanyId::parse("acme").expect("valid id");
//! let request = DataRequest::parse_json(
//!     r#"{"type": "apiome_data", "attributes": ["interests", "email", "birth_date"],
//!         "purpose": "marketing", "duration": "P30D"}"#,
//!     &profile.max_duration,
//! )
//! .expect("valid request");
//! let decision = decide(&profile, &acme, &request);
//! let outcomes: Vec<Outcome> = decision.attributes().iter().map(|d| d.outcome).collect();
//! assert_eq!(outcomes, [Outcome::Allow, Outcome::Ask, Outcome::Deny]);
//! ```

mod attribute;
mod bucket;
mod company;
mod contact;
mod data_use;
mod decision;
mod duration;
mod grant;
mod money;
mod payout;
mod person;
mod profile;
mod purpose;
mod read;
mod request;
mod rule;
mod sandbox;
mod value;

pub use attribute::{
    AttributeKey, AttributeKeyError, CatalogueEntry, MAX_ATTRIBUTE_KEY_LEN,
    MAX_ATTRIBUTES_PER_REQUEST, MAX_CUSTOM_SUFFIX_LEN, ValueShape, catalogue_entries,
};
pub use bucket::{Bucket, SharingDefault};
pub use company::{CompanyId, InvalidCompanyId, MAX_COMPANY_ID_LEN};
pub use contact::{
    ContactChannel, ContactError, ContactPreferences, ContactTimeZone, MAX_CONTACTS_PER_WEEK,
    MAX_TIME_ZONE_LEN, TimeOfDay,
};
pub use data_use::{UnknownUseKind, UseKind, purpose_covers};
pub use decision::{AttributeDecision, Decision, Outcome, Reason, automatic_counter, decide};
pub use duration::{
    DurationError, GrantDuration, MAX_DURATION_TEXT_LEN, MAX_GRANT_SECS, MONTH_SECS, WEEK_SECS,
    YEAR_SECS,
};
pub use grant::{Channel, Grant, RequestStatus};
pub use money::{
    AmountError, Currency, MAX_AMOUNT_MICROS, MICROS_PER_UNIT, Money, UnknownCurrency,
};
pub use payout::{
    DEFAULT_PAYOUT_MINIMUM_MICROS, DestinationError, Iban, MAX_HANDLE_ACCOUNT, PaymentHandle,
    PayoutAmountError, PayoutDestination, check_payout_amount,
};
pub use person::{Handle, HandleError, PersonId};
pub use profile::{MAX_ATTRIBUTES_PER_PERSON, MAX_BLOCKED_PER_PERSON, Profile, ProfileError};
pub use purpose::{Purpose, UnknownPurpose};
pub use read::{ReadDecision, Withheld, grantable_now, what_a_read_discloses};
pub use request::{DataRequest, REQUEST_TYPE, RawOffer, RawRequest, RequestError};
pub use rule::{
    AttributeMatch, CompanyMatch, Effect, MAX_KEYS_PER_RULE, MAX_RULES_PER_PERSON, PurposeMatch,
    Rule,
};
pub use sandbox::{
    CompanyKind, DEFAULT_ASK_AFTER_SECS, MAX_ASK_AFTER_SECS, SANDBOX_PREFIX, SandboxNameError,
    SandboxPerson,
};
pub use value::{MAX_LIST_ITEM_CHARS, MAX_LIST_ITEMS, MAX_TEXT_CHARS, ValueError};
