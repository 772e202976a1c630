//! Purposes: the closed vocabulary of what a company may do with data.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What a company says it will do with the data it asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// Providing the service the person signed up for.
    ServiceProvision,
    /// Tailoring the service to the person.
    Personalisation,
    /// Advertising and marketing messages.
    Marketing,
    /// Measuring how the service is used.
    Analytics,
    /// Research and product development.
    Research,
    /// Detecting and preventing fraud.
    FraudPrevention,
    /// Meeting a legal obligation.
    LegalObligation,
    /// Selling or passing the data on to third parties.
    Resale,
}

/// The text is not one of the known purposes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a known purpose")]
pub struct UnknownPurpose(pub String);

impl Purpose {
    /// Every purpose, in declaration order.
    pub const ALL: [Self; 8] = [
        Self::ServiceProvision,
        Self::Personalisation,
        Self::Marketing,
        Self::Analytics,
        Self::Research,
        Self::FraudPrevention,
        Self::LegalObligation,
        Self::Resale,
    ];

    /// The wire name (`service_provision`, ..., `resale`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ServiceProvision => "service_provision",
            Self::Personalisation => "personalisation",
            Self::Marketing => "marketing",
            Self::Analytics => "analytics",
            Self::Research => "research",
            Self::FraudPrevention => "fraud_prevention",
            Self::LegalObligation => "legal_obligation",
            Self::Resale => "resale",
        }
    }

    /// A short lower-case name used inside sentences ("for marketing").
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::ServiceProvision => "providing their service",
            Self::Personalisation => "personalisation",
            Self::Marketing => "marketing",
            Self::Analytics => "analytics",
            Self::Research => "research",
            Self::FraudPrevention => "fraud prevention",
            Self::LegalObligation => "legal obligations",
            Self::Resale => "resale to third parties",
        }
    }

    /// What the company will do, in the words of a consent screen.
    #[must_use]
    pub const fn plain_words(self) -> &'static str {
        match self {
            Self::ServiceProvision => "provide the service you asked them for",
            Self::Personalisation => "tailor what they show you",
            Self::Marketing => "send you advertising and offers",
            Self::Analytics => "measure how their service is used",
            Self::Research => "do research and develop their products",
            Self::FraudPrevention => "detect and prevent fraud",
            Self::LegalObligation => "meet a legal obligation",
            Self::Resale => "sell or pass your data on to third parties",
        }
    }

    /// Parses a wire name.
    ///
    /// # Errors
    /// [`UnknownPurpose`] when the text is not in the vocabulary.
    pub fn parse(text: &str) -> Result<Self, UnknownPurpose> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == text)
            .ok_or_else(|| UnknownPurpose(text.to_owned()))
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Purpose {
    type Err = UnknownPurpose;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_serde_agree_on_every_purpose() {
        for purpose in Purpose::ALL {
            assert_eq!(Purpose::parse(purpose.as_str()), Ok(purpose));
            let json = serde_json::to_string(&purpose).unwrap();
            assert_eq!(json, format!("\"{purpose}\""));
            assert_eq!(serde_json::from_str::<Purpose>(&json).unwrap(), purpose);
            assert!(!purpose.plain_words().is_empty());
        }
    }

    #[test]
    fn resale_is_described_as_selling_on() {
        assert_eq!(
            Purpose::Resale.plain_words(),
            "sell or pass your data on to third parties"
        );
    }

    #[test]
    fn unknown_purpose_is_rejected() {
        for text in ["", "Marketing", "fraud-prevention", "advertising"] {
            assert_eq!(Purpose::parse(text), Err(UnknownPurpose(text.to_owned())));
        }
    }
}
