//! Where a person's payout goes: an IBAN or a payment handle, each a type
//! that can only hold a valid value, and the rules an amount must meet.
//!
//! | destination | accepted | shown as |
//! |---|---|---|
//! | IBAN (ISO 13616) | a known country code with its registered length, two check digits, letters and digits only, the mod-97 check equal to 1; spaces and lower case are normalised away | `DE89 **** **** 3000` |
//! | payment handle | `provider:account`: a provider of 2 to 32 lower-case letters, digits or `-` starting with a letter, then 1 to 128 visible ASCII characters | `paypal:gr****rg` |
//!
//! A destination is personal data: the store keeps it sealed and only the
//! masked form is ever shown, logged or put anywhere else; the ledger never
//! holds either.

use std::fmt;

use crate::money::{Currency, MICROS_PER_UNIT, Money};

/// Smallest payout unless the operator sets another: one whole unit.
pub const DEFAULT_PAYOUT_MINIMUM_MICROS: u64 = MICROS_PER_UNIT;

/// Longest payment handle account part, in bytes.
pub const MAX_HANDLE_ACCOUNT: usize = 128;

/// ISO 13616 countries and the length of their IBANs (the SWIFT registry).
#[rustfmt::skip]
const IBAN_LENGTHS: &[(&str, usize)] = &[
    ("AD", 24), ("AE", 23), ("AL", 28), ("AT", 20), ("AZ", 28), ("BA", 20),
    ("BE", 16), ("BG", 22), ("BH", 22), ("BR", 29), ("BY", 28), ("CH", 21),
    ("CR", 22), ("CY", 28), ("CZ", 24), ("DE", 22), ("DK", 18), ("DO", 28),
    ("EE", 20), ("EG", 29), ("ES", 24), ("FI", 18), ("FO", 18), ("FR", 27),
    ("GB", 22), ("GE", 22), ("GI", 23), ("GL", 18), ("GR", 27), ("GT", 28),
    ("HR", 21), ("HU", 28), ("IE", 22), ("IL", 23), ("IQ", 23), ("IS", 26),
    ("IT", 27), ("JO", 30), ("KW", 30), ("KZ", 20), ("LB", 28), ("LC", 32),
    ("LI", 21), ("LT", 20), ("LU", 20), ("LV", 21), ("LY", 25), ("MC", 27),
    ("MD", 24), ("ME", 22), ("MK", 19), ("MR", 27), ("MT", 31), ("MU", 30),
    ("NL", 18), ("NO", 15), ("PK", 24), ("PL", 28), ("PS", 29), ("PT", 25),
    ("QA", 29), ("RO", 24), ("RS", 22), ("SA", 24), ("SC", 31), ("SE", 24),
    ("SI", 19), ("SK", 24), ("SM", 27), ("ST", 25), ("SV", 28), ("TL", 23),
    ("TN", 24), ("TR", 26), ("UA", 29), ("VA", 22), ("VG", 24), ("XK", 20),
];

/// Why a destination was refused. Each names the input at fault through
/// [`DestinationError::field`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DestinationError {
    /// Characters other than letters, digits and spaces.
    #[error("an IBAN holds only letters and digits (spaces are ignored)")]
    IbanCharacters,
    /// No IBAN country has this code.
    #[error("{0:?} is not a country that uses IBANs")]
    IbanCountry(String),
    /// The length is not the country's.
    #[error("an IBAN of {country} has {expected} characters, not {actual}")]
    IbanLength {
        /// The country code.
        country: String,
        /// Its registered length.
        expected: usize,
        /// The length given.
        actual: usize,
    },
    /// The check digits do not match (a typo).
    #[error("the IBAN's check digits do not match; check it for a typo")]
    IbanChecksum,
    /// Not `provider:account`.
    #[error(
        "a payment handle is provider:account, e.g. paypal:grace@example.org (provider 2 to 32 of a-z, 0-9, -; account 1 to 128 visible characters)"
    )]
    HandleSyntax,
}

impl DestinationError {
    /// The input at fault, as the API names it.
    pub fn field(&self) -> &'static str {
        match self {
            Self::HandleSyntax => "destination.handle",
            _ => "destination.iban",
        }
    }
}

/// An International Bank Account Number, normalised (no spaces, upper
/// case) and checked (country, length, mod 97).
#[derive(Clone, PartialEq, Eq)]
pub struct Iban(String);

impl Iban {
    /// Parses `DE89 3704 0044 0532 0130 00` or `de89370400440532013000`.
    ///
    /// # Errors
    /// The [`DestinationError`] naming what is wrong.
    pub fn parse(text: &str) -> Result<Self, DestinationError> {
        let compact: String = text
            .chars()
            .filter(|c| *c != ' ')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if compact.is_empty() || !compact.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(DestinationError::IbanCharacters);
        }
        let country = compact.get(..2).unwrap_or(&compact);
        let expected = IBAN_LENGTHS
            .iter()
            .find(|(code, _)| *code == country)
            .map(|(_, len)| *len)
            .ok_or_else(|| DestinationError::IbanCountry(country.to_owned()))?;
        if compact.len() != expected {
            return Err(DestinationError::IbanLength {
                country: country.to_owned(),
                expected,
                actual: compact.len(),
            });
        }
        if !compact.as_bytes()[2..4].iter().all(u8::is_ascii_digit) || mod97(&compact) != 1 {
            return Err(DestinationError::IbanChecksum);
        }
        Ok(Self(compact))
    }

    /// The compact form, `DE89370400440532013000`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The country code and check digits, then the last four characters:
    /// `DE89 **** **** 3000`.
    pub fn masked(&self) -> String {
        let tail = &self.0[self.0.len() - 4..];
        format!("{} **** **** {tail}", &self.0[..4])
    }
}

/// ISO 7064 mod 97-10 over the IBAN moved four characters to the left,
/// letters as 10..=35, computed digit by digit so no number overflows.
fn mod97(iban: &str) -> u32 {
    let rotated = iban[4..].bytes().chain(iban[..4].bytes());
    let mut rest = 0u32;
    for b in rotated {
        let value = if b.is_ascii_digit() {
            u32::from(b - b'0')
        } else {
            u32::from(b - b'A') + 10
        };
        rest = if value >= 10 {
            (rest * 100 + value) % 97
        } else {
            (rest * 10 + value) % 97
        };
    }
    rest
}

impl fmt::Debug for Iban {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Iban({})", self.masked())
    }
}

/// A payment service's handle, `provider:account`.
#[derive(Clone, PartialEq, Eq)]
pub struct PaymentHandle(String);

impl PaymentHandle {
    /// Parses `paypal:grace@example.org`; the provider is lower-cased.
    ///
    /// # Errors
    /// [`DestinationError::HandleSyntax`].
    pub fn parse(text: &str) -> Result<Self, DestinationError> {
        let (provider, account) = text
            .trim()
            .split_once(':')
            .ok_or(DestinationError::HandleSyntax)?;
        let provider = provider.to_ascii_lowercase();
        let provider_ok = (2..=32).contains(&provider.len())
            && provider.starts_with(|c: char| c.is_ascii_lowercase())
            && provider
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        let account_ok = (1..=MAX_HANDLE_ACCOUNT).contains(&account.len())
            && account.bytes().all(|b| b.is_ascii_graphic());
        if !(provider_ok && account_ok) {
            return Err(DestinationError::HandleSyntax);
        }
        Ok(Self(format!("{provider}:{account}")))
    }

    /// The handle, `paypal:grace@example.org`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The provider, then the account's first and last two characters
    /// (all hidden when it is shorter than seven): `paypal:gr****rg`.
    pub fn masked(&self) -> String {
        let (provider, account) = self.0.split_once(':').unwrap_or(("", &self.0));
        if account.len() < 7 {
            return format!("{provider}:****");
        }
        format!(
            "{provider}:{}****{}",
            &account[..2],
            &account[account.len() - 2..]
        )
    }
}

impl fmt::Debug for PaymentHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PaymentHandle({})", self.masked())
    }
}

/// Where a payout goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PayoutDestination {
    /// A bank account.
    Iban(Iban),
    /// A payment service's account.
    Handle(PaymentHandle),
}

impl PayoutDestination {
    /// The form shown to people and the operator's list.
    pub fn masked(&self) -> String {
        match self {
            Self::Iban(iban) => iban.masked(),
            Self::Handle(handle) => handle.masked(),
        }
    }

    /// `iban` or `handle`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Iban(_) => "iban",
            Self::Handle(_) => "handle",
        }
    }

    /// The text the store seals: `iban:DE89…` or `handle:paypal:…`.
    pub fn to_text(&self) -> String {
        match self {
            Self::Iban(iban) => format!("iban:{}", iban.as_str()),
            Self::Handle(handle) => format!("handle:{}", handle.as_str()),
        }
    }

    /// Reads [`PayoutDestination::to_text`] back.
    ///
    /// # Errors
    /// When the text is not a destination.
    pub fn from_text(text: &str) -> Result<Self, DestinationError> {
        match text.split_once(':') {
            Some(("iban", iban)) => Ok(Self::Iban(Iban::parse(iban)?)),
            Some(("handle", handle)) => Ok(Self::Handle(PaymentHandle::parse(handle)?)),
            _ => Err(DestinationError::HandleSyntax),
        }
    }
}

/// Why an amount cannot be paid out (before any balance is looked at).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayoutAmountError {
    /// Below the operator's minimum (zero included).
    #[error("the smallest payout is {0}")]
    BelowMinimum(Money),
    /// The sandbox's test money is never paid out.
    #[error("XTS is the sandbox's test money; it cannot be paid out")]
    TestMoney,
}

/// Checks `amount` against the minimum of `minimum_micros` of its currency.
///
/// # Errors
/// [`PayoutAmountError`].
pub fn check_payout_amount(amount: &Money, minimum_micros: u64) -> Result<(), PayoutAmountError> {
    if amount.currency() == Currency::XTS {
        return Err(PayoutAmountError::TestMoney);
    }
    let minimum = minimum_micros.max(1);
    if amount.amount_micros() < minimum {
        return Err(PayoutAmountError::BelowMinimum(Money::new(
            minimum,
            amount.currency(),
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ibans_are_normalised_and_checked() {
        let iban = Iban::parse("de89 3704 0044 0532 0130 00").unwrap();
        assert_eq!(iban.as_str(), "DE89370400440532013000");
        assert_eq!(iban.masked(), "DE89 **** **** 3000");
        for good in [
            "GB82 WEST 1234 5698 7654 32",
            "FR14 2004 1010 0505 0001 3M02 606",
            "NL91ABNA0417164300",
            "BE68539007547034",
            "NO9386011117947",
        ] {
            assert!(Iban::parse(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn bad_ibans_say_what_is_wrong() {
        assert_eq!(
            Iban::parse("DE88370400440532013000"),
            Err(DestinationError::IbanChecksum)
        );
        assert_eq!(
            Iban::parse("ZZ89370400440532013000"),
            Err(DestinationError::IbanCountry("ZZ".into()))
        );
        assert_eq!(
            Iban::parse("DE8937040044053201300"),
            Err(DestinationError::IbanLength {
                country: "DE".into(),
                expected: 22,
                actual: 21
            })
        );
        assert_eq!(Iban::parse(""), Err(DestinationError::IbanCharacters));
        assert_eq!(
            Iban::parse("DE89-3704-0044"),
            Err(DestinationError::IbanCharacters)
        );
        assert_eq!(
            Iban::parse("DEXX370400440532013000"),
            Err(DestinationError::IbanChecksum)
        );
        assert_eq!(Iban::parse("DE").unwrap_err().field(), "destination.iban");
    }

    #[test]
    fn handles_have_a_provider_and_an_account() {
        let handle = PaymentHandle::parse("PayPal:grace@example.org").unwrap();
        assert_eq!(handle.as_str(), "paypal:grace@example.org");
        assert_eq!(handle.masked(), "paypal:gr****rg");
        assert_eq!(
            PaymentHandle::parse("wise:abc").unwrap().masked(),
            "wise:****"
        );
        for bad in [
            "",
            "paypal",
            ":x",
            "p:x",
            "paypal:",
            "pay pal:x",
            "paypal:a b",
            "1x:y",
        ] {
            assert_eq!(
                PaymentHandle::parse(bad),
                Err(DestinationError::HandleSyntax),
                "{bad:?}"
            );
        }
        let long = format!("paypal:{}", "x".repeat(MAX_HANDLE_ACCOUNT + 1));
        assert!(PaymentHandle::parse(&long).is_err());
    }

    #[test]
    fn destinations_round_trip_through_their_sealed_text_and_debug_masks() {
        for d in [
            PayoutDestination::Iban(Iban::parse("DE89370400440532013000").unwrap()),
            PayoutDestination::Handle(PaymentHandle::parse("paypal:grace@example.org").unwrap()),
        ] {
            assert_eq!(PayoutDestination::from_text(&d.to_text()).unwrap(), d);
            let debug = format!("{d:?}");
            assert!(
                !debug.contains("0532013000") && !debug.contains("grace@"),
                "{debug}"
            );
        }
    }

    #[test]
    fn amounts_below_the_minimum_or_in_test_money_are_refused() {
        let eur = |m| Money::new(m, Currency::EUR);
        assert_eq!(check_payout_amount(&eur(1_000_000), 1_000_000), Ok(()));
        assert_eq!(
            check_payout_amount(&eur(999_999), 1_000_000),
            Err(PayoutAmountError::BelowMinimum(eur(1_000_000)))
        );
        assert!(check_payout_amount(&eur(0), 0).is_err(), "never zero");
        assert_eq!(
            check_payout_amount(&Money::new(5_000_000, Currency::XTS), 1),
            Err(PayoutAmountError::TestMoney)
        );
    }
}
