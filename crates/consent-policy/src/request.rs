//! Data requests: what a company asks for, as it arrives and once checked.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

use crate::attribute::{AttributeKey, MAX_ATTRIBUTES_PER_REQUEST};
use crate::duration::{DurationError, GrantDuration, MAX_GRANT_SECS};
use crate::money::{Currency, MAX_AMOUNT_MICROS, Money};
use crate::purpose::Purpose;

/// The RFC 9396 `authorization_details` type of an apiome data request.
pub const REQUEST_TYPE: &str = "apiome_data";

/// One RFC 9396 `authorization_details` entry as it arrives, before any check.
///
/// `{"type": "apiome_data", "attributes": ["email"], "purpose": "marketing",
/// "duration": "P30D", "offer": {"amount_micros": 50000, "currency": "USD"}}`; the offer
/// is optional and unknown fields are refused. Turn it into a [`DataRequest`]
/// with [`RawRequest::validate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRequest {
    /// The entry's type; must be [`REQUEST_TYPE`].
    #[serde(rename = "type")]
    pub kind: String,
    /// Attribute keys asked for, in the order the company wants them.
    pub attributes: Vec<String>,
    /// One purpose from the vocabulary.
    pub purpose: String,
    /// How long access lasts, an ISO 8601 duration such as `P30D`.
    pub duration: String,
    /// What the company pays the person if they agree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer: Option<RawOffer>,
}

/// An offer as it arrives: `{"amount_micros": 50000, "currency": "USD"}`,
/// the one money shape of the API. A `display` member (as every amount the
/// API writes carries, e.g. `"0.05 USD"`) is accepted and ignored, so a
/// company may send back an amount exactly as it read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOffer {
    /// Integer micro-units. Kept wide so that negative and overflowing amounts
    /// reach validation and get their own error; JSON integers beyond `i128`
    /// saturate, which still reads as an overflow.
    #[serde(deserialize_with = "deserialize_amount")]
    pub amount_micros: i128,
    /// An ISO 4217 code such as `USD`.
    pub currency: String,
    /// The amount in words (`0.05 USD`): written with every offer this
    /// server sends, never read (but text when sent: `null` is refused).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::money::some_text"
    )]
    pub display: Option<String>,
}

/// What is wrong with a data request; the first problem in field order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// `type` is not `apiome_data`.
    #[error("`type` must be \"apiome_data\"")]
    WrongType,
    /// `attributes` is empty.
    #[error("`attributes` must name at least one attribute")]
    EmptyRequest,
    /// `attributes` names more than `max` attributes.
    #[error("`attributes` may name at most {max} attributes")]
    TooManyAttributes {
        /// The limit.
        max: usize,
    },
    /// An attribute key is neither in the catalogue nor a valid `x-` key.
    #[error("`{key}` is not a catalogue attribute or a valid custom `x-` key")]
    UnknownAttribute {
        /// The rejected key.
        key: String,
    },
    /// An attribute key appears twice.
    #[error("`{key}` is asked for more than once")]
    DuplicateAttribute {
        /// The repeated key.
        key: String,
    },
    /// `purpose` is not in the vocabulary.
    #[error("`{purpose}` is not a known purpose")]
    UnknownPurpose {
        /// The rejected purpose.
        purpose: String,
    },
    /// `duration` is not an accepted ISO 8601 duration, or is zero.
    #[error("`{text}` is not a duration such as P30D (more than zero, no fractions)")]
    InvalidDuration {
        /// The rejected text.
        text: String,
    },
    /// `duration` is longer than the person accepts.
    #[error("a grant of {requested_secs} s is longer than the {max_secs} s this person accepts")]
    DurationTooLong {
        /// What was asked for, in seconds (saturated at `u64::MAX`).
        requested_secs: u64,
        /// The person's limit, in seconds.
        max_secs: u64,
    },
    /// `offer.amount_micros` is below zero.
    #[error("`offer.amount_micros` must not be negative")]
    NegativeOffer,
    /// `offer.amount_micros` is beyond the books' range ([`MAX_AMOUNT_MICROS`]).
    #[error("`offer.amount_micros` is too large: at most {MAX_AMOUNT_MICROS} micro-units")]
    OfferOverflow,
    /// `offer.currency` is not an accepted ISO 4217 code.
    #[error("`{code}` is not an accepted currency")]
    UnknownCurrency {
        /// The rejected code.
        code: String,
    },
    /// The JSON does not have the request's shape (missing or unknown field,
    /// wrong JSON type); only from [`DataRequest::parse_json`] and friends.
    #[error("not an apiome_data request: {detail}")]
    Malformed {
        /// The JSON parser's message.
        detail: String,
    },
    /// A sandbox company offered real money ([`crate::CompanyKind::check_offer`]).
    #[error("a sandbox company offers XTS (the sandbox's test money), not {code}")]
    RealMoneyFromSandbox {
        /// The offered currency.
        code: String,
    },
    /// A real company offered the sandbox's test money ([`crate::CompanyKind::check_offer`]).
    #[error("XTS is the sandbox's test money: only a sandbox company offers it")]
    TestMoneyFromRealCompany,
}

impl RequestError {
    /// The JSON field at fault (`type`, `attributes`, `purpose`, `duration`,
    /// `offer.amount_micros`, `offer.currency`; `authorization_details` for the whole entry).
    #[must_use]
    pub const fn field(&self) -> &'static str {
        match self {
            Self::WrongType => "type",
            Self::EmptyRequest
            | Self::TooManyAttributes { .. }
            | Self::UnknownAttribute { .. }
            | Self::DuplicateAttribute { .. } => "attributes",
            Self::UnknownPurpose { .. } => "purpose",
            Self::InvalidDuration { .. } | Self::DurationTooLong { .. } => "duration",
            Self::NegativeOffer | Self::OfferOverflow => "offer.amount_micros",
            Self::UnknownCurrency { .. }
            | Self::RealMoneyFromSandbox { .. }
            | Self::TestMoneyFromRealCompany => "offer.currency",
            Self::Malformed { .. } => "authorization_details",
        }
    }

    /// A stable machine-readable name for the problem (`unknown_attribute`).
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::WrongType => "wrong_type",
            Self::EmptyRequest => "empty_request",
            Self::TooManyAttributes { .. } => "too_many_attributes",
            Self::UnknownAttribute { .. } => "unknown_attribute",
            Self::DuplicateAttribute { .. } => "duplicate_attribute",
            Self::UnknownPurpose { .. } => "unknown_purpose",
            Self::InvalidDuration { .. } => "invalid_duration",
            Self::DurationTooLong { .. } => "duration_too_long",
            Self::NegativeOffer => "negative_offer",
            Self::OfferOverflow => "offer_overflow",
            Self::UnknownCurrency { .. } => "unknown_currency",
            Self::Malformed { .. } => "malformed",
            Self::RealMoneyFromSandbox { .. } => "real_money_from_sandbox",
            Self::TestMoneyFromRealCompany => "test_money_from_real_company",
        }
    }
}

/// A checked data request: known, distinct attributes (order kept), a purpose,
/// a duration within bounds and an optional offer.
///
/// Serialises to the wire shape of [`RawRequest`] (offer amount in micro-units)
/// and deserialises through the same checks, against the ten-year ceiling
/// rather than a person's own limit. Deserialising is for what this server
/// stored itself (see [`StoredRequest`]); input from outside goes through
/// [`DataRequest::parse_json`] or [`DataRequest::from_json_value`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "StoredRequest", into = "RawRequest")]
pub struct DataRequest {
    attributes: Vec<AttributeKey>,
    purpose: Purpose,
    duration: GrantDuration,
    offer: Option<Money>,
}

impl DataRequest {
    /// Builds a request from parts that are already typed.
    ///
    /// # Errors
    /// `EmptyRequest`, `TooManyAttributes` or `DuplicateAttribute`.
    pub fn new(
        attributes: Vec<AttributeKey>,
        purpose: Purpose,
        duration: GrantDuration,
        offer: Option<Money>,
    ) -> Result<Self, RequestError> {
        check_attribute_count(attributes.len())?;
        for (i, key) in attributes.iter().enumerate() {
            if attributes[..i].contains(key) {
                return Err(RequestError::DuplicateAttribute {
                    key: key.as_str().to_owned(),
                });
            }
        }
        Ok(Self {
            attributes,
            purpose,
            duration,
            offer,
        })
    }

    /// Parses and checks one `authorization_details` entry given as JSON text.
    ///
    /// # Errors
    /// The first [`RequestError`] in field order; `Malformed` when the JSON
    /// does not have the request's shape at all.
    pub fn parse_json(
        json: &str,
        person_max_duration: &GrantDuration,
    ) -> Result<Self, RequestError> {
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| RequestError::Malformed {
                detail: e.to_string(),
            })?;
        Self::from_json_value(value, person_max_duration)
    }

    /// Checks one `authorization_details` entry given as a JSON value.
    ///
    /// A `type` other than `apiome_data` is reported as `WrongType` even when
    /// the rest of the entry has another type's shape.
    ///
    /// # Errors
    /// As [`DataRequest::parse_json`].
    pub fn from_json_value(
        value: serde_json::Value,
        person_max_duration: &GrantDuration,
    ) -> Result<Self, RequestError> {
        if let Some(kind) = value.get("type")
            && kind.as_str() != Some(REQUEST_TYPE)
        {
            return Err(RequestError::WrongType);
        }
        let raw: RawRequest =
            serde_json::from_value(value).map_err(|e| RequestError::Malformed {
                detail: e.to_string(),
            })?;
        raw.validate(person_max_duration)
    }

    /// The attributes asked for, distinct, in the company's order.
    #[must_use]
    pub fn attributes(&self) -> &[AttributeKey] {
        &self.attributes
    }

    /// What the company will do with the data.
    #[must_use]
    pub const fn purpose(&self) -> Purpose {
        self.purpose
    }

    /// How long access lasts.
    #[must_use]
    pub const fn duration(&self) -> &GrantDuration {
        &self.duration
    }

    /// What the company pays if the person agrees.
    #[must_use]
    pub const fn offer(&self) -> Option<&Money> {
        self.offer.as_ref()
    }

    /// The same request at another price: what a grant records when the
    /// company accepted the person's counter-offer instead of its own offer.
    #[must_use]
    pub fn at_price(&self, price: Money) -> Self {
        Self {
            offer: Some(price),
            ..self.clone()
        }
    }

    /// The request in its wire shape.
    #[must_use]
    pub fn to_raw(&self) -> RawRequest {
        RawRequest::from(self.clone())
    }
}

impl RawRequest {
    /// Checks the entry against the vocabulary, the bounds and the person's
    /// longest accepted grant, reporting the first problem in field order
    /// (type, attributes, purpose, duration, offer).
    ///
    /// # Errors
    /// The first [`RequestError`] found.
    pub fn validate(
        self,
        person_max_duration: &GrantDuration,
    ) -> Result<DataRequest, RequestError> {
        self.validate_within(person_max_duration.as_secs())
    }

    fn validate_within(self, max_secs: u64) -> Result<DataRequest, RequestError> {
        if self.kind != REQUEST_TYPE {
            return Err(RequestError::WrongType);
        }
        check_attribute_count(self.attributes.len())?;
        let mut attributes: Vec<AttributeKey> = Vec::with_capacity(self.attributes.len());
        for text in &self.attributes {
            let key = AttributeKey::parse(text)
                .map_err(|_| RequestError::UnknownAttribute { key: text.clone() })?;
            if attributes.contains(&key) {
                return Err(RequestError::DuplicateAttribute { key: text.clone() });
            }
            attributes.push(key);
        }
        let purpose = Purpose::parse(&self.purpose).map_err(|_| RequestError::UnknownPurpose {
            purpose: self.purpose.clone(),
        })?;
        let duration = GrantDuration::parse(&self.duration).map_err(|e| match e {
            DurationError::TooLong { secs, .. } => RequestError::DurationTooLong {
                requested_secs: secs,
                max_secs,
            },
            DurationError::Malformed { text, .. } | DurationError::Zero { text } => {
                RequestError::InvalidDuration { text }
            }
        })?;
        if duration.as_secs() > max_secs {
            return Err(RequestError::DurationTooLong {
                requested_secs: duration.as_secs(),
                max_secs,
            });
        }
        let offer = match self.offer {
            None => None,
            Some(RawOffer {
                amount_micros: amount,
                currency,
                ..
            }) => {
                if amount < 0 {
                    return Err(RequestError::NegativeOffer);
                }
                let amount_micros = u64::try_from(amount)
                    .ok()
                    .filter(|a| *a <= MAX_AMOUNT_MICROS)
                    .ok_or(RequestError::OfferOverflow)?;
                let currency = Currency::parse(&currency)
                    .map_err(|e| RequestError::UnknownCurrency { code: e.0 })?;
                Some(
                    Money::parse(amount_micros, currency)
                        .map_err(|_| RequestError::OfferOverflow)?,
                )
            }
        };
        debug_assert!(!attributes.is_empty() && attributes.len() <= MAX_ATTRIBUTES_PER_REQUEST);
        Ok(DataRequest {
            attributes,
            purpose,
            duration,
            offer,
        })
    }
}

fn check_attribute_count(count: usize) -> Result<(), RequestError> {
    if count == 0 {
        Err(RequestError::EmptyRequest)
    } else if count > MAX_ATTRIBUTES_PER_REQUEST {
        Err(RequestError::TooManyAttributes {
            max: MAX_ATTRIBUTES_PER_REQUEST,
        })
    } else {
        Ok(())
    }
}

impl TryFrom<RawRequest> for DataRequest {
    type Error = RequestError;

    /// Checks against the ten-year ceiling; use [`RawRequest::validate`] for a person's limit.
    fn try_from(raw: RawRequest) -> Result<Self, Self::Error> {
        raw.validate_within(MAX_GRANT_SECS)
    }
}

/// A request as this server stored it: [`RawRequest`]'s shape, except that
/// entries stored before the offer's amount was named `amount_micros`
/// (December 2026) spell it `amount`. Only [`DataRequest`]'s `Deserialize`
/// reads it, so the wire never takes `amount`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredRequest {
    #[serde(rename = "type")]
    kind: String,
    attributes: Vec<String>,
    purpose: String,
    duration: String,
    #[serde(default)]
    offer: Option<StoredOffer>,
}

/// [`RawOffer`] as stored, old spelling included.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredOffer {
    #[serde(alias = "amount", deserialize_with = "deserialize_amount")]
    amount_micros: i128,
    currency: String,
    #[serde(default, rename = "display")]
    _display: Option<String>,
}

impl TryFrom<StoredRequest> for DataRequest {
    type Error = RequestError;

    fn try_from(stored: StoredRequest) -> Result<Self, Self::Error> {
        RawRequest {
            kind: stored.kind,
            attributes: stored.attributes,
            purpose: stored.purpose,
            duration: stored.duration,
            offer: stored.offer.map(|o| RawOffer {
                amount_micros: o.amount_micros,
                currency: o.currency,
                display: None,
            }),
        }
        .validate_within(MAX_GRANT_SECS)
    }
}

impl From<DataRequest> for RawRequest {
    fn from(request: DataRequest) -> Self {
        Self {
            kind: REQUEST_TYPE.to_owned(),
            attributes: request.attributes.into_iter().map(String::from).collect(),
            purpose: request.purpose.as_str().to_owned(),
            duration: request.duration.into(),
            offer: request.offer.map(|m| RawOffer {
                amount_micros: i128::from(m.amount_micros()),
                currency: m.currency().code().to_owned(),
                display: Some(m.to_string()),
            }),
        }
    }
}

/// Reads any JSON number as an `i128` so validation can tell negative from
/// overflowing amounts; refuses fractions.
fn deserialize_amount<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i128, D::Error> {
    deserializer.deserialize_any(AmountVisitor)
}

struct AmountVisitor;

/// Above this a float no longer holds every integer exactly.
const EXACT_FLOAT_LIMIT: f64 = 9_007_199_254_740_992.0;
/// 2^63: a float at or above it is beyond the books whatever its rounding.
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

impl Visitor<'_> for AmountVisitor {
    type Value = i128;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integer amount of micro-units")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i128, E> {
        Ok(i128::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i128, E> {
        Ok(i128::from(v))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<i128, E> {
        Ok(v)
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<i128, E> {
        Ok(i128::try_from(v).unwrap_or(i128::MAX))
    }

    // JSON integers beyond 64 bits, and numbers written with a fraction or an
    // exponent, arrive as floats. `as` saturates, and the value is integral
    // here, so the cast keeps its sign and whether it exceeds the books.
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<i128, E> {
        if !v.is_finite() || v.fract() != 0.0 {
            return Err(E::custom(
                "`amount_micros` must be a whole number of micro-units",
            ));
        }
        if !(0.0..TWO_POW_63).contains(&v) {
            return Ok(v as i128);
        }
        if v > EXACT_FLOAT_LIMIT {
            return Err(E::custom(
                "write large amounts as plain integers, without a fraction or exponent",
            ));
        }
        Ok(v as i128)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_names_its_field() {
        assert_eq!(RequestError::WrongType.field(), "type");
        assert_eq!(RequestError::EmptyRequest.field(), "attributes");
        assert_eq!(RequestError::NegativeOffer.field(), "offer.amount_micros");
        assert_eq!(
            RequestError::UnknownCurrency { code: "XXX".into() }.field(),
            "offer.currency"
        );
        assert_eq!(RequestError::OfferOverflow.code(), "offer_overflow");
    }

    fn with_amount(amount: &str) -> Result<DataRequest, RequestError> {
        let json = format!(
            r#"{{"type":"apiome_data","attributes":["email"],"purpose":"marketing","duration":"P1D","offer":{{"amount_micros":{amount},"currency":"USD"}}}}"#
        );
        DataRequest::parse_json(&json, &GrantDuration::from_secs(MAX_GRANT_SECS).unwrap())
    }

    #[test]
    fn offers_beyond_the_books_are_overflows() {
        let max = with_amount(&MAX_AMOUNT_MICROS.to_string()).unwrap();
        assert_eq!(max.offer().unwrap().amount_micros(), MAX_AMOUNT_MICROS);
        for big in [
            "9223372036854775808",
            "18446744073709551615",
            "18446744073709551616",
            "1e19",
            "9.3e18",
            "340282366920938463463374607431768211456",
        ] {
            assert_eq!(with_amount(big), Err(RequestError::OfferOverflow), "{big}");
        }
        assert_eq!(with_amount("-1"), Err(RequestError::NegativeOffer));
    }

    proptest::proptest! {
        #[test]
        fn an_offer_is_accepted_exactly_when_the_books_can_hold_it(amount: u64) {
            let parsed = with_amount(&amount.to_string());
            if i64::try_from(amount).is_ok() {
                proptest::prop_assert_eq!(parsed.unwrap().offer().unwrap().amount_micros(), amount);
            } else {
                proptest::prop_assert_eq!(parsed, Err(RequestError::OfferOverflow));
            }
        }
    }

    #[test]
    fn new_refuses_duplicates_and_empty() {
        let email = AttributeKey::parse("email").unwrap();
        let d = GrantDuration::parse("P1D").unwrap();
        assert_eq!(
            DataRequest::new(vec![], Purpose::Marketing, d.clone(), None),
            Err(RequestError::EmptyRequest)
        );
        assert_eq!(
            DataRequest::new(vec![email.clone(), email], Purpose::Marketing, d, None),
            Err(RequestError::DuplicateAttribute {
                key: "email".into()
            })
        );
    }
}
