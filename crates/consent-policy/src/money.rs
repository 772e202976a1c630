//! Money: a closed list of currencies and amounts in integer micro-units.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize, Serializer};

/// Micro-units in one whole unit of any currency.
pub const MICROS_PER_UNIT: u64 = 1_000_000;

/// The largest amount the books hold, in micro-units: `i64::MAX`, because the
/// database keeps every amount and every running sum as a signed 64-bit
/// integer. About 9.2 trillion units of any currency.
pub const MAX_AMOUNT_MICROS: u64 = i64::MAX as u64;

macro_rules! currencies {
    ($($code:ident = $minor:literal, $name:literal;)*) => {
        /// An ISO 4217 currency the broker accepts.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
        #[serde(try_from = "String")]
        pub enum Currency {
            $(
                #[doc = $name]
                $code,
            )*
        }

        impl Currency {
            /// Every accepted currency, alphabetically.
            pub const ALL: &'static [Self] = &[$(Self::$code),*];

            /// The ISO 4217 code (`USD`).
            #[must_use]
            pub const fn code(self) -> &'static str {
                match self {
                    $(Self::$code => stringify!($code),)*
                }
            }

            /// Digits after the decimal point in everyday prices (`2` for USD, `0` for JPY).
            #[must_use]
            pub const fn minor_digits(self) -> u32 {
                match self {
                    $(Self::$code => $minor,)*
                }
            }
        }
    };
}

currencies! {
    AUD = 2, "Australian dollar";
    BRL = 2, "Brazilian real";
    CAD = 2, "Canadian dollar";
    CHF = 2, "Swiss franc";
    CNY = 2, "Chinese yuan";
    CZK = 2, "Czech koruna";
    DKK = 2, "Danish krone";
    EUR = 2, "Euro";
    GBP = 2, "Pound sterling";
    HKD = 2, "Hong Kong dollar";
    HUF = 2, "Hungarian forint";
    ILS = 2, "Israeli new shekel";
    INR = 2, "Indian rupee";
    JPY = 0, "Japanese yen";
    KRW = 0, "South Korean won";
    MXN = 2, "Mexican peso";
    NOK = 2, "Norwegian krone";
    NZD = 2, "New Zealand dollar";
    PLN = 2, "Polish zloty";
    SEK = 2, "Swedish krona";
    SGD = 2, "Singapore dollar";
    USD = 2, "United States dollar";
    XTS = 2, "Code reserved for testing: the sandbox's money (see `CompanyKind`)";
    ZAR = 2, "South African rand";
}

/// The text is not an accepted currency code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an accepted ISO 4217 currency code")]
pub struct UnknownCurrency(pub String);

impl Currency {
    /// Parses an upper-case ISO 4217 code (`USD`; `usd` is refused).
    ///
    /// # Errors
    /// [`UnknownCurrency`] when the code is not in the list.
    pub fn parse(code: &str) -> Result<Self, UnknownCurrency> {
        Self::ALL
            .iter()
            .copied()
            .find(|c| c.code() == code)
            .ok_or_else(|| UnknownCurrency(code.to_owned()))
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = UnknownCurrency;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Self::parse(code)
    }
}

impl TryFrom<String> for Currency {
    type Error = UnknownCurrency;

    fn try_from(code: String) -> Result<Self, Self::Error> {
        Self::parse(&code)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

/// An amount of money: integer micro-units (1 USD = 1 000 000) of one currency,
/// at most [`MAX_AMOUNT_MICROS`].
///
/// JSON: `{"amount_micros": 50000, "currency": "USD", "display": "0.05 USD"}`,
/// the API's one money shape; reading it checks the range, so a rule's
/// minimum offer can never hold an amount the books cannot, and ignores
/// `display` (optional on input, always written).
/// Build one from outside input with [`Money::parse`] or [`Money::parse_units`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "MoneyWire")]
pub struct Money {
    amount_micros: u64,
    currency: Currency,
}

/// [`Money`]'s JSON shape, before the range check.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MoneyWire {
    #[serde(deserialize_with = "whole_number")]
    amount_micros: u64,
    currency: Currency,
    #[serde(
        default,
        rename = "display",
        deserialize_with = "crate::money::some_text"
    )]
    _display: Option<String>,
}

/// An optional text member that, when present, is text (`null` is not).
pub(crate) fn some_text<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<String>, D::Error> {
    String::deserialize(d).map(Some)
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut out = serializer.serialize_struct("Money", 3)?;
        out.serialize_field("amount_micros", &self.amount_micros)?;
        out.serialize_field("currency", &self.currency)?;
        out.serialize_field("display", &self.to_string())?;
        out.end()
    }
}

/// A non-negative whole number, written `238` or (as JSON Schema's
/// `integer` allows, and some JSON encoders write) `238.0`; never `238.5`.
fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    struct Whole;
    impl serde::de::Visitor<'_> for Whole {
        type Value = u64;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a whole number of micro-units, at least 0")
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<u64, E> {
            Ok(v)
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<u64, E> {
            u64::try_from(v).map_err(|_| E::custom("an amount is at least 0"))
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<u64, E> {
            // Exactly representable whole numbers only (below 2^53).
            const EXACT: f64 = 9_007_199_254_740_992.0;
            if v.fract() == 0.0 && (0.0..EXACT).contains(&v) {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                Ok(v as u64)
            } else {
                Err(E::custom(format!(
                    "{v} is not a whole number of micro-units"
                )))
            }
        }
    }
    d.deserialize_any(Whole)
}

impl TryFrom<MoneyWire> for Money {
    type Error = AmountError;

    fn try_from(wire: MoneyWire) -> Result<Self, Self::Error> {
        Self::parse(wire.amount_micros, wire.currency)
    }
}

impl Money {
    /// An amount of `amount_micros` millionths of `currency`, for amounts that
    /// come from the books or from constants; outside input goes through
    /// [`Money::parse`].
    ///
    /// # Panics
    /// In debug builds, when `amount_micros` exceeds [`MAX_AMOUNT_MICROS`].
    #[must_use]
    pub const fn new(amount_micros: u64, currency: Currency) -> Self {
        debug_assert!(amount_micros <= MAX_AMOUNT_MICROS);
        Self {
            amount_micros,
            currency,
        }
    }

    /// The amount in millionths of one unit of [`Money::currency`], at most
    /// [`MAX_AMOUNT_MICROS`].
    #[must_use]
    pub const fn amount_micros(&self) -> u64 {
        self.amount_micros
    }

    /// The currency.
    #[must_use]
    pub const fn currency(&self) -> Currency {
        self.currency
    }

    /// Checks that `amount_micros` fits in the books.
    ///
    /// # Errors
    /// [`AmountError::TooLarge`] beyond [`MAX_AMOUNT_MICROS`].
    pub fn parse(amount_micros: u64, currency: Currency) -> Result<Self, AmountError> {
        if amount_micros > MAX_AMOUNT_MICROS {
            return Err(AmountError::TooLarge(amount_micros.to_string()));
        }
        Ok(Self::new(amount_micros, currency))
    }

    /// Whether this pays at least `minimum`: same currency and no smaller amount.
    #[must_use]
    pub fn covers(&self, minimum: &Self) -> bool {
        self.currency == minimum.currency && self.amount_micros >= minimum.amount_micros
    }
}

/// Why a decimal amount was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// Not digits with at most one decimal point.
    #[error("`{0}` is not an amount: write digits with an optional decimal point, e.g. 10 or 0.05")]
    NotDecimal(String),
    /// More than six decimals: finer than a micro-unit.
    #[error("`{0}` has more than 6 decimals; a micro-unit is the smallest amount")]
    TooPrecise(String),
    /// Beyond [`MAX_AMOUNT_MICROS`], the books' range.
    #[error("`{0}` is too large: at most 9223372036854775807 micro-units")]
    TooLarge(String),
}

impl Money {
    /// Reads a decimal amount in whole units of `currency` (`10`, `10.50`,
    /// `0.000001`) — the way an operator types a payment received. No sign,
    /// no exponent, no thousands separators, at most six decimals.
    ///
    /// # Errors
    /// Not a decimal, more than six decimals, or beyond [`MAX_AMOUNT_MICROS`].
    pub fn parse_units(text: &str, currency: Currency) -> Result<Self, AmountError> {
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !digits(whole) || !digits(fraction) || text.ends_with('.') {
            return Err(AmountError::NotDecimal(text.to_owned()));
        }
        if fraction.len() > 6 {
            return Err(AmountError::TooPrecise(text.to_owned()));
        }
        let too_large = || AmountError::TooLarge(text.to_owned());
        let whole: u64 = whole.parse().map_err(|_| too_large())?;
        let fraction: u64 = format!("{fraction:0<6}").parse().map_err(|_| too_large())?;
        let micros = whole
            .checked_mul(MICROS_PER_UNIT)
            .and_then(|w| w.checked_add(fraction))
            .filter(|m| *m <= MAX_AMOUNT_MICROS)
            .ok_or_else(too_large)?;
        Ok(Self::new(micros, currency))
    }
}

impl fmt::Display for Money {
    /// `0.05 USD`, `1.00 EUR`, `100 JPY`, `0.000001 USD`: the currency's everyday
    /// decimals, and more only when the amount has them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.amount_micros / MICROS_PER_UNIT;
        let fraction = self.amount_micros % MICROS_PER_UNIT;
        let mut digits = format!("{fraction:06}");
        let keep = usize::try_from(self.currency.minor_digits()).unwrap_or(0);
        while digits.len() > keep && digits.ends_with('0') {
            digits.pop();
        }
        if digits.is_empty() {
            write!(f, "{whole} {}", self.currency)
        } else {
            write!(f, "{whole}.{digits} {}", self.currency)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_amount_written_as_a_whole_float_is_that_integer_and_a_fraction_is_refused() {
        let m: Money =
            serde_json::from_str(r#"{"amount_micros": 238.0, "currency": "EUR"}"#).unwrap();
        assert_eq!(m.amount_micros(), 238);
        for bad in ["238.5", "-1", "-1.0", "1e300", "\"238\""] {
            let text = format!(r#"{{"amount_micros": {bad}, "currency": "EUR"}}"#);
            assert!(serde_json::from_str::<Money>(&text).is_err(), "{bad}");
        }
    }

    use super::*;

    #[test]
    fn required_currencies_are_accepted() {
        for code in [
            "USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "NZD", "SEK", "NOK", "DKK", "PLN",
            "CZK", "INR", "BRL", "MXN", "SGD", "HKD", "KRW", "ZAR",
        ] {
            assert_eq!(Currency::parse(code).unwrap().code(), code);
        }
    }

    #[test]
    fn currency_list_is_sorted_and_unique() {
        assert!(Currency::ALL.windows(2).all(|w| w[0].code() < w[1].code()));
    }

    #[test]
    fn lower_case_or_unknown_codes_are_refused() {
        for code in ["usd", "Usd", "XXX", "US", "USDD", "", "BTC"] {
            assert_eq!(Currency::parse(code), Err(UnknownCurrency(code.to_owned())));
        }
        assert!(serde_json::from_str::<Currency>(r#""eur""#).is_err());
    }

    #[test]
    fn money_serialises_with_micros_and_code() {
        let money = Money::new(50_000, Currency::USD);
        let json = serde_json::to_string(&money).unwrap();
        assert_eq!(
            json,
            r#"{"amount_micros":50000,"currency":"USD","display":"0.05 USD"}"#
        );
        assert_eq!(serde_json::from_str::<Money>(&json).unwrap(), money);
        let bare = r#"{"amount_micros":50000,"currency":"USD"}"#;
        assert_eq!(serde_json::from_str::<Money>(bare).unwrap(), money);
        // `display` is text when present (the schema's string), never null.
        let null = r#"{"amount_micros":50000,"currency":"USD","display":null}"#;
        assert!(serde_json::from_str::<Money>(null).is_err());
    }

    #[test]
    fn money_displays_everyday_decimals() {
        assert_eq!(Money::new(50_000, Currency::USD).to_string(), "0.05 USD");
        assert_eq!(Money::new(1_000_000, Currency::EUR).to_string(), "1.00 EUR");
        assert_eq!(
            Money::new(1_234_500, Currency::GBP).to_string(),
            "1.2345 GBP"
        );
        assert_eq!(Money::new(1, Currency::USD).to_string(), "0.000001 USD");
        assert_eq!(
            Money::new(100_000_000, Currency::JPY).to_string(),
            "100 JPY"
        );
        assert_eq!(Money::new(500_000, Currency::JPY).to_string(), "0.5 JPY");
        assert_eq!(Money::new(0, Currency::USD).to_string(), "0.00 USD");
    }

    #[test]
    fn decimal_amounts_become_micro_units() {
        let eur = |text| Money::parse_units(text, Currency::EUR).map(|m| m.amount_micros);
        assert_eq!(eur("10"), Ok(10_000_000));
        assert_eq!(eur("10.5"), Ok(10_500_000));
        assert_eq!(eur("0.05"), Ok(50_000));
        assert_eq!(eur("0.000001"), Ok(1));
        assert_eq!(eur("0"), Ok(0));
        assert_eq!(eur("007.10"), Ok(7_100_000));
        assert_eq!(eur("9223372036854.775807"), Ok(MAX_AMOUNT_MICROS));
    }

    #[test]
    fn malformed_amounts_say_why() {
        let eur = |text| Money::parse_units(text, Currency::EUR);
        for bad in [
            "", ".5", "5.", "-1", "+1", "1e3", "1,000", "1.2.3", " 1", "ten", "1.-5",
        ] {
            assert_eq!(
                eur(bad),
                Err(AmountError::NotDecimal(bad.to_owned())),
                "{bad}"
            );
        }
        assert_eq!(
            eur("0.0000001"),
            Err(AmountError::TooPrecise("0.0000001".to_owned()))
        );
        for big in [
            "9223372036854.775808",
            "18446744073709.551615",
            "18446744073709.551616",
            "99999999999999999999",
        ] {
            assert_eq!(eur(big), Err(AmountError::TooLarge(big.to_owned())));
        }
    }

    #[test]
    fn display_and_parse_agree() {
        for micros in [0, 1, 50_000, 1_000_000, 1_234_567, MAX_AMOUNT_MICROS] {
            let money = Money::new(micros, Currency::USD);
            let shown = money.to_string();
            let number = shown.trim_end_matches(" USD");
            assert_eq!(Money::parse_units(number, Currency::USD), Ok(money));
        }
    }

    #[test]
    fn amounts_beyond_the_books_are_refused() {
        assert_eq!(
            Money::parse(MAX_AMOUNT_MICROS, Currency::USD),
            Ok(Money::new(MAX_AMOUNT_MICROS, Currency::USD))
        );
        for big in [MAX_AMOUNT_MICROS + 1, u64::MAX] {
            assert_eq!(
                Money::parse(big, Currency::USD),
                Err(AmountError::TooLarge(big.to_string()))
            );
        }
    }

    #[test]
    fn json_money_beyond_the_books_is_refused() {
        let max = format!(r#"{{"amount_micros":{MAX_AMOUNT_MICROS},"currency":"EUR"}}"#);
        assert_eq!(
            serde_json::from_str::<Money>(&max).unwrap(),
            Money::new(MAX_AMOUNT_MICROS, Currency::EUR)
        );
        for big in [MAX_AMOUNT_MICROS + 1, u64::MAX] {
            let json = format!(r#"{{"amount_micros":{big},"currency":"EUR"}}"#);
            let error = serde_json::from_str::<Money>(&json).unwrap_err();
            assert!(error.to_string().contains("too large"), "{error}");
        }
        let unknown = r#"{"amount_micros":1,"currency":"EUR","extra":1}"#;
        assert!(serde_json::from_str::<Money>(unknown).is_err());
    }

    proptest::proptest! {
        #[test]
        fn parse_accepts_exactly_the_books_range(micros: u64) {
            let parsed = Money::parse(micros, Currency::USD);
            proptest::prop_assert_eq!(parsed.is_ok(), i64::try_from(micros).is_ok());
            if let Ok(money) = parsed {
                let shown = money.to_string();
                let number = shown.trim_end_matches(" USD");
                proptest::prop_assert_eq!(Money::parse_units(number, Currency::USD), Ok(money));
            }
        }
    }

    #[test]
    fn covers_needs_same_currency_and_enough() {
        let min = Money::new(50_000, Currency::USD);
        assert!(Money::new(50_000, Currency::USD).covers(&min));
        assert!(Money::new(50_001, Currency::USD).covers(&min));
        assert!(!Money::new(49_999, Currency::USD).covers(&min));
        assert!(!Money::new(1_000_000, Currency::EUR).covers(&min));
    }
}
