//! Amounts of money: integer micro-units of a three-letter currency.

use std::fmt;

/// Why a currency code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("currency code {0:?} is not three ASCII capital letters")]
pub struct InvalidCurrency(pub String);

/// A currency code: exactly three ASCII capital letters (ISO 4217 shape, e.g. `USD`).
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

impl Currency {
    /// Parses a currency code such as `"EUR"`.
    pub fn new(code: &str) -> Result<Self, InvalidCurrency> {
        let bytes: [u8; 3] = code
            .as_bytes()
            .try_into()
            .map_err(|_| InvalidCurrency(code.to_owned()))?;
        Self::from_bytes(bytes).ok_or_else(|| InvalidCurrency(code.to_owned()))
    }

    /// The code from its three bytes, if they are ASCII capital letters.
    pub fn from_bytes(bytes: [u8; 3]) -> Option<Self> {
        bytes
            .iter()
            .all(u8::is_ascii_uppercase)
            .then_some(Self(bytes))
    }

    /// The three bytes of the code.
    pub fn to_bytes(self) -> [u8; 3] {
        self.0
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        // Constructed only from ASCII capital letters.
        std::str::from_utf8(&self.0).expect("a currency code is ASCII")
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Currency({})", self.as_str())
    }
}

impl TryFrom<String> for Currency {
    type Error = InvalidCurrency;
    fn try_from(code: String) -> Result<Self, Self::Error> {
        Self::new(&code)
    }
}

impl From<Currency> for String {
    fn from(currency: Currency) -> Self {
        currency.as_str().to_owned()
    }
}

/// An amount in integer micro-units (1/1,000,000) of a currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Money {
    /// Amount in micro-units.
    pub amount_micros: u64,
    /// The currency.
    pub currency: Currency,
}

impl Money {
    /// `amount_micros` of `currency`.
    pub fn new(amount_micros: u64, currency: Currency) -> Self {
        Self {
            amount_micros,
            currency,
        }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} µ{}", self.amount_micros, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_codes_are_three_capital_letters() {
        assert_eq!(Currency::new("USD").unwrap().as_str(), "USD");
        for bad in ["", "US", "usd", "USDT", "U$D", "ÜSD"] {
            assert!(Currency::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn currency_serialises_as_its_code() {
        let eur = Currency::new("EUR").unwrap();
        assert_eq!(serde_json::to_string(&eur).unwrap(), "\"EUR\"");
        assert_eq!(serde_json::from_str::<Currency>("\"EUR\"").unwrap(), eur);
        assert!(serde_json::from_str::<Currency>("\"eur\"").is_err());
    }
}
