//! The sandbox: companies that integrate against synthetic people and test
//! money before they ask anyone real.
//!
//! A company is [`CompanyKind::Real`] or [`CompanyKind::Sandbox`] (the
//! operator chooses, `apiome company create --sandbox`). The two never meet:
//!
//! | | a real company | a sandbox company |
//! |---|---|---|
//! | reaches | real people | only the [`SandboxPerson`]s made for it |
//! | a `sandbox-*` name | answered as an unknown person | its synthetic person |
//! | a real handle or subject | the person | answered as an unknown person |
//! | offers in | any currency but `XTS` | `XTS` only ([`CompanyKind::check_offer`]) |
//!
//! `XTS` is ISO 4217's "code reserved for testing": the books keep every
//! currency apart, so sandbox money can never pay out as, or mix with,
//! real money.
//!
//! A synthetic person answers by a rule named in their handle:
//! `sandbox-allow` (everything, at once), `sandbox-ask-N` (pending, then
//! approved by the server N seconds after the request arrived;
//! `sandbox-ask` is `sandbox-ask-5`) and `sandbox-decline` (nothing). The
//! rule is an ordinary policy ([`SandboxPerson::sharing_default`], every
//! attribute semi-private), so the decision, ledger and money paths are
//! the ones real people go through. Their attributes
//! ([`SandboxPerson::attributes`]) cover the whole catalogue, with values
//! derived from the company's id: the same for every run of a company's
//! tests, different between companies.
//!
//! Real handles are `a-z`, `0-9` and `_` only ([`Handle::parse`]), so no
//! real person can ever hold a `sandbox-` name.

use std::fmt;

use serde_json::{Value, json};

use crate::attribute::{AttributeKey, ValueShape};
use crate::bucket::{Bucket, SharingDefault};
use crate::company::CompanyId;
use crate::money::Currency;
use crate::person::Handle;
use crate::request::{DataRequest, RequestError};

/// Whether a company is real or a sandbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CompanyKind {
    /// Asks real people, pays real money.
    Real,
    /// Asks synthetic people, pays `XTS`.
    Sandbox,
}

impl CompanyKind {
    /// The currency that belongs to this kind of company alone, if any.
    pub const SANDBOX_CURRENCY: Currency = Currency::XTS;

    /// Checks the offer's currency: `XTS` from a sandbox, anything else
    /// from a real company. A request without an offer passes.
    ///
    /// # Errors
    /// [`RequestError::RealMoneyFromSandbox`] or
    /// [`RequestError::TestMoneyFromRealCompany`] (both on `offer.currency`).
    pub fn check_offer(self, request: &DataRequest) -> Result<(), RequestError> {
        let Some(currency) = request.offer().map(|m| m.currency()) else {
            return Ok(());
        };
        self.check_currency(currency)
    }

    /// Checks that this kind of company may hold or offer `currency`.
    ///
    /// # Errors
    /// As [`CompanyKind::check_offer`].
    pub fn check_currency(self, currency: Currency) -> Result<(), RequestError> {
        match (self, currency == Self::SANDBOX_CURRENCY) {
            (Self::Sandbox, false) => Err(RequestError::RealMoneyFromSandbox {
                code: currency.code().to_owned(),
            }),
            (Self::Real, true) => Err(RequestError::TestMoneyFromRealCompany),
            _ => Ok(()),
        }
    }
}

/// Every sandbox name starts with this.
pub const SANDBOX_PREFIX: &str = "sandbox-";

/// Seconds `sandbox-ask` waits before approving.
pub const DEFAULT_ASK_AFTER_SECS: u32 = 5;

/// The longest `sandbox-ask-N` waits: an hour (a test that waits longer is
/// better served by a request that expires).
pub const MAX_ASK_AFTER_SECS: u32 = 3600;

/// A synthetic person: how they answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SandboxPerson {
    /// `sandbox-allow`: shares everything asked for, at once.
    Allow,
    /// `sandbox-ask-N`: everything waits, then is approved `after_secs`
    /// (1 to [`MAX_ASK_AFTER_SECS`]) after the request arrived.
    Ask {
        /// Seconds from the request to the approval.
        after_secs: u32,
    },
    /// `sandbox-decline`: shares nothing.
    Decline,
}

/// A `sandbox-` name that names no synthetic person.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "sandbox people are sandbox-allow, sandbox-decline, sandbox-ask and sandbox-ask-N (N seconds, 1 to {MAX_ASK_AFTER_SECS}); got {0:?}"
)]
pub struct SandboxNameError(pub String);

impl SandboxPerson {
    /// Reads a `sandbox-` name (case-insensitive). `Ok(None)` for any other
    /// text, which is no sandbox name at all.
    ///
    /// # Errors
    /// A name that starts with `sandbox-` but names no one (`sandbox-ask-0`).
    pub fn parse(text: &str) -> Result<Option<Self>, SandboxNameError> {
        let lower = text.to_ascii_lowercase();
        let Some(rule) = lower.strip_prefix(SANDBOX_PREFIX) else {
            return Ok(None);
        };
        let refused = || SandboxNameError(text.chars().take(64).collect());
        let person = match rule {
            "allow" => Self::Allow,
            "decline" => Self::Decline,
            "ask" => Self::Ask {
                after_secs: DEFAULT_ASK_AFTER_SECS,
            },
            _ => {
                let secs = rule.strip_prefix("ask-").ok_or_else(refused)?;
                // Digits only, no sign or leading zero: one spelling per person.
                if secs.starts_with('0') || !secs.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(refused());
                }
                match secs.parse::<u32>() {
                    Ok(after_secs) if (1..=MAX_ASK_AFTER_SECS).contains(&after_secs) => {
                        Self::Ask { after_secs }
                    }
                    _ => return Err(refused()),
                }
            }
        };
        Ok(Some(person))
    }

    /// The person's handle (`sandbox-ask-5`): never one [`Handle::parse`]
    /// accepts, so never a real person's.
    #[must_use]
    pub fn handle(self) -> Handle {
        Handle::sandbox(self.to_string())
    }

    /// The default that makes the person answer by their rule (every
    /// attribute is semi-private: allowed, asked or denied by it).
    #[must_use]
    pub const fn sharing_default(self) -> SharingDefault {
        match self {
            Self::Allow => SharingDefault::ShareEverything,
            Self::Ask { .. } => SharingDefault::AskMe,
            Self::Decline => SharingDefault::ShareNothing,
        }
    }

    /// Seconds after a request that the server approves it for this person,
    /// if it ever does.
    #[must_use]
    pub const fn approves_after_secs(self) -> Option<u32> {
        match self {
            Self::Ask { after_secs } => Some(after_secs),
            Self::Allow | Self::Decline => None,
        }
    }

    /// Every catalogue attribute with a value of its shape, in the
    /// semi-private bucket. Values depend on `company` and the key only, so
    /// a company's tests see the same values on every run.
    #[must_use]
    pub fn attributes(self, company: &CompanyId) -> Vec<(AttributeKey, Value, Bucket)> {
        AttributeKey::catalogue()
            .map(|key| {
                let seed = fnv1a(&[company.as_str(), key.as_str()]);
                let value = self.value(&key, seed);
                (key, value, Bucket::SemiPrivate)
            })
            .collect()
    }

    fn value(self, key: &AttributeKey, seed: u64) -> Value {
        let pick = |list: &[&str], salt: u64| -> String {
            let len = list.len() as u64;
            let at = usize::try_from(seed.rotate_left(u32::try_from(salt % 64).unwrap_or(0)) % len)
                .unwrap_or(0);
            list[at].to_owned()
        };
        match (key.as_str(), key.shape()) {
            (_, ValueShape::Email) => json!(format!("{self}@example.invalid")),
            ("display_name", _) => {
                json!(format!("{} {}", pick(FIRST_NAMES, 0), pick(LAST_NAMES, 17)))
            }
            ("gender", _) => json!(pick(&["female", "male", "non-binary"], 5)),
            ("language", _) => json!(pick(&["en", "fr", "de", "es", "it", "nl", "pt"], 9)),
            ("location_city", _) => json!(pick(CITIES, 23)),
            ("occupation", _) => json!(pick(OCCUPATIONS, 31)),
            (_, ValueShape::Date) => json!(format!(
                "{}-{:02}-{:02}",
                1950 + seed % 55,
                1 + (seed >> 8) % 12,
                1 + (seed >> 16) % 28
            )),
            // 555-01xx: numbers reserved for fiction.
            (_, ValueShape::Phone) => json!(format!("+1 555 01{:02}", seed % 100)),
            (_, ValueShape::Text) => json!(format!("sandbox {}", key.as_str())),
            (_, ValueShape::TextList) => {
                json!([pick(INTERESTS, 3), pick(INTERESTS, 41)])
            }
            (_, ValueShape::PostalAddress) => json!({
                "lines": [format!("{} Sandbox Street", 1 + seed % 200)],
                "city": pick(CITIES, 23),
                "postal_code": format!("{:05}", (seed >> 20) % 100_000),
                "country": "US",
            }),
            (_, ValueShape::Integer) => json!(1 + seed % 6),
            (_, ValueShape::Json) => json!([{
                "item": pick(&["book", "lamp", "bicycle", "tea"], 13),
                "amount_micros": 1_000_000 + (seed % 50) * 1_000_000,
                "currency": CompanyKind::SANDBOX_CURRENCY.code(),
            }]),
        }
    }
}

impl fmt::Display for SandboxPerson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Allow => write!(f, "{SANDBOX_PREFIX}allow"),
            Self::Ask { after_secs } => write!(f, "{SANDBOX_PREFIX}ask-{after_secs}"),
            Self::Decline => write!(f, "{SANDBOX_PREFIX}decline"),
        }
    }
}

const FIRST_NAMES: &[&str] = &[
    "Ada",
    "Alan",
    "Barbara",
    "Claude",
    "Donald",
    "Edsger",
    "Frances",
    "Grace",
    "John",
    "Katherine",
    "Leslie",
    "Margaret",
    "Radia",
    "Shafi",
    "Tim",
    "Wendy",
];
const LAST_NAMES: &[&str] = &[
    "Sandbox", "Example", "Tester", "Sample", "Mock", "Fixture", "Stub", "Demo",
];
const CITIES: &[&str] = &[
    "Springfield",
    "Riverton",
    "Fairview",
    "Lakeside",
    "Greenville",
    "Oakdale",
];
const OCCUPATIONS: &[&str] = &[
    "engineer",
    "teacher",
    "nurse",
    "designer",
    "chef",
    "librarian",
];
const INTERESTS: &[&str] = &[
    "cycling",
    "chess",
    "cooking",
    "gardening",
    "hiking",
    "music",
    "photography",
    "reading",
];

/// FNV-1a over the parts (with a separator): stable across Rust releases,
/// unlike `std`'s hasher, so a company's values never change.
fn fnv1a(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain(std::iter::once(0)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::GrantDuration;

    #[test]
    fn sandbox_names_parse_to_one_person_each() {
        assert_eq!(
            SandboxPerson::parse("sandbox-allow"),
            Ok(Some(SandboxPerson::Allow))
        );
        assert_eq!(
            SandboxPerson::parse("Sandbox-Decline"),
            Ok(Some(SandboxPerson::Decline))
        );
        assert_eq!(
            SandboxPerson::parse("sandbox-ask"),
            Ok(Some(SandboxPerson::Ask { after_secs: 5 }))
        );
        assert_eq!(
            SandboxPerson::parse("sandbox-ask-3600"),
            Ok(Some(SandboxPerson::Ask { after_secs: 3600 }))
        );
        for bad in [
            "sandbox-",
            "sandbox-ask-0",
            "sandbox-ask-05",
            "sandbox-ask-3601",
            "sandbox-ask-+5",
            "sandbox-ask-99999999999",
            "sandbox-maybe",
        ] {
            assert!(SandboxPerson::parse(bad).is_err(), "{bad}");
        }
        for other in ["ada", "sandbox_allow", "sandboxallow"] {
            assert_eq!(SandboxPerson::parse(other), Ok(None), "{other}");
        }
    }

    #[test]
    fn a_sandbox_handle_is_never_a_real_handle() {
        for person in [
            SandboxPerson::Allow,
            SandboxPerson::Ask { after_secs: 2 },
            SandboxPerson::Decline,
        ] {
            let handle = person.handle();
            assert_eq!(handle.as_str(), person.to_string());
            assert!(Handle::parse(handle.as_str()).is_err());
            assert_eq!(SandboxPerson::parse(handle.as_str()), Ok(Some(person)));
        }
    }

    #[test]
    fn every_catalogue_attribute_gets_a_valid_value_the_same_each_time() {
        let acme = CompanyId::parse("acme").unwrap();
        let other = CompanyId::parse("other").unwrap();
        let made = SandboxPerson::Allow.attributes(&acme);
        assert_eq!(made.len(), AttributeKey::catalogue().len());
        for (key, value, bucket) in &made {
            assert_eq!(*bucket, Bucket::SemiPrivate);
            key.shape()
                .check(value)
                .unwrap_or_else(|e| panic!("{key}: {value} {e}"));
        }
        assert_eq!(made, SandboxPerson::Allow.attributes(&acme));
        assert_ne!(made, SandboxPerson::Allow.attributes(&other));
        let email = made.iter().find(|(k, _, _)| k.as_str() == "email").unwrap();
        assert_eq!(email.1, json!("sandbox-allow@example.invalid"));
    }

    #[test]
    fn offers_are_in_xts_exactly_from_sandbox_companies() {
        let offer = |currency: Currency| {
            DataRequest::new(
                vec![AttributeKey::parse("email").unwrap()],
                crate::Purpose::Marketing,
                GrantDuration::parse("P1D").unwrap(),
                Some(crate::Money::new(1, currency)),
            )
            .unwrap()
        };
        let (xts, usd) = (offer(Currency::XTS), offer(Currency::USD));
        assert_eq!(CompanyKind::Sandbox.check_offer(&xts), Ok(()));
        assert_eq!(CompanyKind::Real.check_offer(&usd), Ok(()));
        let refused = CompanyKind::Sandbox.check_offer(&usd).unwrap_err();
        assert_eq!(refused.field(), "offer.currency");
        let refused = CompanyKind::Real.check_offer(&xts).unwrap_err();
        assert_eq!(refused, RequestError::TestMoneyFromRealCompany);
        assert_eq!(refused.field(), "offer.currency");
    }
}
