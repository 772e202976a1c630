//! Rules: a person's standing decisions, matched against requests in order.

use std::collections::BTreeSet;
use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

use crate::attribute::{AttributeKey, MAX_ATTRIBUTES_PER_REQUEST};
use crate::bucket::Bucket;
use crate::company::CompanyId;
use crate::decision::Outcome;
use crate::duration::GrantDuration;
use crate::money::Money;
use crate::purpose::Purpose;
use crate::request::DataRequest;

/// The most rules one person may keep.
pub const MAX_RULES_PER_PERSON: usize = 200;

/// The most attribute keys one rule may name.
pub const MAX_KEYS_PER_RULE: usize = MAX_ATTRIBUTES_PER_REQUEST;

/// Which companies a rule is about. JSON: `"any"` or `{"only": "acme"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompanyMatch {
    /// Every company.
    Any,
    /// One company.
    Only(CompanyId),
}

impl CompanyMatch {
    /// Whether `company` is covered.
    #[must_use]
    pub fn matches(&self, company: &CompanyId) -> bool {
        match self {
            Self::Any => true,
            Self::Only(only) => only == company,
        }
    }
}

/// Which purposes a rule is about. JSON: `"any"` or a non-empty list such as
/// `["marketing", "analytics"]`.
///
/// `Any` covers every purpose **except `resale`**: DESIGN says resale "never
/// passes on a default; only a rule or a person's explicit approval releases
/// it", and we read a catch-all rule as a default the person wrote, not as a
/// decision about selling their data. A rule releases data for resale only
/// when it names `resale` in its list.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PurposeMatch {
    /// Every purpose but resale.
    Any,
    /// Exactly these purposes (never empty once deserialised).
    OneOf(BTreeSet<Purpose>),
}

impl PurposeMatch {
    /// Whether `purpose` is covered (`Any` never covers resale).
    #[must_use]
    pub fn matches(&self, purpose: Purpose) -> bool {
        match self {
            Self::Any => purpose != Purpose::Resale,
            Self::OneOf(purposes) => purposes.contains(&purpose),
        }
    }

    /// A list of the given purposes.
    pub fn one_of(purposes: impl IntoIterator<Item = Purpose>) -> Self {
        Self::OneOf(purposes.into_iter().collect())
    }
}

impl Serialize for PurposeMatch {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Any => serializer.serialize_str("any"),
            Self::OneOf(purposes) => {
                let mut seq = serializer.serialize_seq(Some(purposes.len()))?;
                for purpose in purposes {
                    seq.serialize_element(purpose)?;
                }
                seq.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for PurposeMatch {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PurposeMatchVisitor;

        impl<'de> Visitor<'de> for PurposeMatchVisitor {
            type Value = PurposeMatch;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#""any" or a non-empty list of purposes"#)
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<PurposeMatch, E> {
                if v == "any" {
                    Ok(PurposeMatch::Any)
                } else {
                    Err(E::invalid_value(de::Unexpected::Str(v), &self))
                }
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<PurposeMatch, A::Error> {
                let mut purposes = BTreeSet::new();
                while let Some(purpose) = seq.next_element::<Purpose>()? {
                    if !purposes.insert(purpose) {
                        return Err(de::Error::custom(format_args!(
                            "the list names `{}` twice",
                            purpose.as_str()
                        )));
                    }
                }
                if purposes.is_empty() {
                    return Err(de::Error::custom(
                        r#"an empty list of purposes matches nothing; use "any" or name one"#,
                    ));
                }
                Ok(PurposeMatch::OneOf(purposes))
            }
        }

        deserializer.deserialize_any(PurposeMatchVisitor)
    }
}

/// Which attributes a rule is about. JSON: `"any"`, `{"keys": ["email"]}` or
/// `{"bucket": "public"}` (matched against the person's bucket for the attribute).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", try_from = "AttributeMatchWire")]
pub enum AttributeMatch {
    /// Every attribute.
    Any,
    /// These keys (1 to [`MAX_KEYS_PER_RULE`] once deserialised).
    Keys(BTreeSet<AttributeKey>),
    /// Every attribute the person keeps in this bucket.
    Bucket(Bucket),
}

impl AttributeMatch {
    /// Whether the attribute `key`, which the person keeps in `bucket`, is covered.
    #[must_use]
    pub fn matches(&self, key: &AttributeKey, bucket: Bucket) -> bool {
        match self {
            Self::Any => true,
            Self::Keys(keys) => keys.contains(key),
            Self::Bucket(b) => *b == bucket,
        }
    }

    /// A set of the given keys.
    pub fn keys(keys: impl IntoIterator<Item = AttributeKey>) -> Self {
        Self::Keys(keys.into_iter().collect())
    }
}

/// The unchecked JSON form of [`AttributeMatch`].
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum AttributeMatchWire {
    Any,
    Keys(Vec<AttributeKey>),
    Bucket(Bucket),
}

/// An attribute match with no keys, too many, or one named twice.
#[derive(Debug, thiserror::Error)]
enum BadKeys {
    #[error("a rule names 1 to {MAX_KEYS_PER_RULE} attribute keys; use \"any\" for all")]
    Count,
    #[error("the list names `{0}` twice")]
    Twice(String),
}

impl TryFrom<AttributeMatchWire> for AttributeMatch {
    type Error = BadKeys;

    fn try_from(wire: AttributeMatchWire) -> Result<Self, Self::Error> {
        Ok(match wire {
            AttributeMatchWire::Any => Self::Any,
            AttributeMatchWire::Keys(list) => {
                if list.is_empty() || list.len() > MAX_KEYS_PER_RULE {
                    return Err(BadKeys::Count);
                }
                let mut keys = BTreeSet::new();
                for key in list {
                    let twice = key.as_str().to_owned();
                    if !keys.insert(key) {
                        return Err(BadKeys::Twice(twice));
                    }
                }
                Self::Keys(keys)
            }
            AttributeMatchWire::Bucket(bucket) => Self::Bucket(bucket),
        })
    }
}

/// What a matching rule decides. JSON: `"allow"`, `"ask"` or `"deny"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// Share without asking.
    Allow,
    /// Put the request in front of the person.
    Ask,
    /// Refuse.
    Deny,
}

impl Effect {
    /// Every effect, in the order the pages offer them.
    pub const ALL: [Self; 3] = [Self::Allow, Self::Ask, Self::Deny];

    /// The effect as it appears on the wire.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Ask => "ask",
            Self::Deny => "deny",
        }
    }
}

impl From<Effect> for Outcome {
    fn from(effect: Effect) -> Self {
        match effect {
            Effect::Allow => Self::Allow,
            Effect::Ask => Self::Ask,
            Effect::Deny => Self::Deny,
        }
    }
}

/// A person's standing decision about some companies, purposes and attributes.
///
/// JSON (every field present when serialised; `min_offer` and `max_duration`
/// may be left out or `null` on input; unknown fields are refused):
///
/// ```json
/// {"company": {"only": "acme"}, "purposes": ["marketing"],
///  "attributes": {"keys": ["interests"]},
///  "min_offer": {"amount_micros": 50000, "currency": "USD", "display": "0.05 USD"},
///  "max_duration": "P30D", "effect": "allow"}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Which companies it is about.
    pub company: CompanyMatch,
    /// Which purposes it is about (`Any` leaves out resale).
    pub purposes: PurposeMatch,
    /// Which attributes it is about.
    pub attributes: AttributeMatch,
    /// Matches only offers in this currency of at least this amount.
    #[serde(default)]
    pub min_offer: Option<Money>,
    /// Matches only requests for at most this long.
    #[serde(default)]
    pub max_duration: Option<GrantDuration>,
    /// What it decides when it matches.
    pub effect: Effect,
}

impl Rule {
    /// A rule with no offer or duration condition.
    #[must_use]
    pub const fn new(
        company: CompanyMatch,
        purposes: PurposeMatch,
        attributes: AttributeMatch,
        effect: Effect,
    ) -> Self {
        Self {
            company,
            purposes,
            attributes,
            min_offer: None,
            max_duration: None,
            effect,
        }
    }

    /// The same rule, matching only offers of at least `min_offer`.
    #[must_use]
    pub fn with_min_offer(mut self, min_offer: Money) -> Self {
        self.min_offer = Some(min_offer);
        self
    }

    /// The same rule, matching only requests lasting at most `max_duration`.
    #[must_use]
    pub fn with_max_duration(mut self, max_duration: GrantDuration) -> Self {
        self.max_duration = Some(max_duration);
        self
    }

    /// Whether the request-wide conditions hold: company, purpose, offer, duration.
    ///
    /// An offer condition needs an offer in the same currency of at least the
    /// amount; no offer, or another currency, does not match.
    #[must_use]
    pub fn matches_request(&self, company: &CompanyId, request: &DataRequest) -> bool {
        // Cheapest checks first: every decision scans every rule.
        self.max_duration
            .as_ref()
            .is_none_or(|max| request.duration().as_secs() <= max.as_secs())
            && self
                .min_offer
                .as_ref()
                .is_none_or(|min| request.offer().is_some_and(|offer| offer.covers(min)))
            && self.company.matches(company)
            && self.purposes.matches(request.purpose())
    }

    /// Whether the rule covers the attribute `key`, kept in `bucket`.
    #[must_use]
    pub fn matches_attribute(&self, key: &AttributeKey, bucket: Bucket) -> bool {
        self.attributes.matches(key, bucket)
    }

    /// Whether the rule decides `key` (kept in `bucket`) in this request.
    #[must_use]
    pub fn matches(
        &self,
        company: &CompanyId,
        request: &DataRequest,
        key: &AttributeKey,
        bucket: Bucket,
    ) -> bool {
        self.matches_attribute(key, bucket) && self.matches_request(company, request)
    }

    /// The rule in plain words, naming companies by their id.
    ///
    /// "Let acme have your interests for marketing if they pay at least 0.05 USD,
    /// for at most 30 days."
    #[must_use]
    pub fn describe(&self) -> String {
        self.describe_with(|id| id.as_str().to_owned())
    }

    /// The rule in plain words, naming a company with `company_name`.
    #[must_use]
    pub fn describe_with(&self, company_name: impl Fn(&CompanyId) -> String) -> String {
        let who = match &self.company {
            CompanyMatch::Any => "any company".to_owned(),
            CompanyMatch::Only(id) => company_name(id),
        };
        let what = match &self.attributes {
            AttributeMatch::Any => "any of your data".to_owned(),
            AttributeMatch::Keys(keys) => format!(
                "your {}",
                join_words(keys.iter().map(AttributeKey::label), "and")
            ),
            AttributeMatch::Bucket(bucket) => format!("your {} data", bucket.label()),
        };
        let why = match &self.purposes {
            PurposeMatch::Any => "for any purpose except resale".to_owned(),
            PurposeMatch::OneOf(purposes) => format!(
                "for {}",
                join_words(purposes.iter().map(|p| p.label()), "or")
            ),
        };
        let mut text = match self.effect {
            Effect::Allow => format!("Let {who} have {what} {why}"),
            Effect::Ask => format!("Ask me before {who} gets {what} {why}"),
            Effect::Deny => format!("Never let {who} have {what} {why}"),
        };
        if let Some(min) = &self.min_offer {
            text.push_str(&format!(" if they pay at least {min}"));
        }
        if let Some(max) = &self.max_duration {
            text.push_str(&format!(", for at most {}", max.in_words()));
        }
        text.push('.');
        text
    }
}

/// "a", "a and b", "a, b and c".
fn join_words<'a>(words: impl Iterator<Item = &'a str>, last_joiner: &str) -> String {
    let words: Vec<&str> = words.collect();
    match words.split_last() {
        None => String::new(),
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} {last_joiner} {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;
    use serde_json::json;

    #[test]
    fn a_rule_naming_a_purpose_or_a_key_twice_is_refused() {
        let twice = |purposes: serde_json::Value, keys: serde_json::Value| {
            serde_json::from_value::<Rule>(json!({
                "company": "any", "purposes": purposes,
                "attributes": {"keys": keys}, "effect": "allow"
            }))
        };
        let err = twice(json!(["marketing", "marketing"]), json!(["email"])).unwrap_err();
        assert!(err.to_string().contains("`marketing` twice"), "{err}");
        let err = twice(json!(["marketing"]), json!(["email", "x-a", "email"])).unwrap_err();
        assert!(err.to_string().contains("`email` twice"), "{err}");
        assert!(twice(json!(["marketing", "analytics"]), json!(["email", "x-a"])).is_ok());
    }

    #[test]
    fn effect_names_are_the_serde_names() {
        for effect in Effect::ALL {
            assert_eq!(
                serde_json::to_value(effect).unwrap(),
                json!(effect.as_str())
            );
        }
    }

    fn acme_interests_rule() -> Rule {
        Rule::new(
            CompanyMatch::Only(CompanyId::parse("acme").unwrap()),
            PurposeMatch::one_of([Purpose::Marketing]),
            AttributeMatch::keys([AttributeKey::parse("interests").unwrap()]),
            Effect::Allow,
        )
        .with_min_offer(Money::new(50_000, Currency::USD))
        .with_max_duration(GrantDuration::parse("P30D").unwrap())
    }

    #[test]
    fn rule_json_shape_is_stable() {
        let rule = acme_interests_rule();
        let value = serde_json::to_value(&rule).unwrap();
        assert_eq!(
            value,
            json!({
                "company": {"only": "acme"},
                "purposes": ["marketing"],
                "attributes": {"keys": ["interests"]},
                "min_offer": {"amount_micros": 50000, "currency": "USD", "display": "0.05 USD"},
                "max_duration": "P30D",
                "effect": "allow"
            })
        );
        assert_eq!(serde_json::from_value::<Rule>(value).unwrap(), rule);
    }

    #[test]
    fn catch_all_rule_json_shape_is_stable() {
        let rule = Rule::new(
            CompanyMatch::Any,
            PurposeMatch::Any,
            AttributeMatch::Bucket(Bucket::Public),
            Effect::Deny,
        );
        let value = serde_json::to_value(&rule).unwrap();
        assert_eq!(
            value,
            json!({
                "company": "any",
                "purposes": "any",
                "attributes": {"bucket": "public"},
                "min_offer": null,
                "max_duration": null,
                "effect": "deny"
            })
        );
        assert_eq!(serde_json::from_value::<Rule>(value).unwrap(), rule);
        let any =
            json!({"company": "any", "purposes": "any", "attributes": "any", "effect": "ask"});
        let parsed: Rule = serde_json::from_value(any).unwrap();
        assert_eq!(parsed.attributes, AttributeMatch::Any);
        assert_eq!(parsed.min_offer, None);
    }

    #[test]
    fn invalid_rule_json_is_refused() {
        let base =
            json!({"company": "any", "purposes": "any", "attributes": "any", "effect": "allow"});
        let bad = [
            ("purposes", json!([])),
            ("purposes", json!("all")),
            ("purposes", json!(["selling"])),
            ("attributes", json!({"keys": []})),
            ("attributes", json!({"keys": ["nope"]})),
            ("attributes", json!({"bucket": "secret"})),
            ("company", json!({"only": ""})),
            ("company", json!("acme")),
            ("effect", json!("maybe")),
            ("max_duration", json!("P0D")),
            ("max_duration", json!("P11Y")),
            ("min_offer", json!({"amount_micros": -1, "currency": "USD"})),
            ("min_offer", json!({"amount_micros": 1, "currency": "usd"})),
            ("colour", json!("red")),
        ];
        for (field, value) in bad {
            let mut rule = base.clone();
            rule[field] = value.clone();
            assert!(
                serde_json::from_value::<Rule>(rule).is_err(),
                "{field}: {value} was accepted"
            );
        }
        let too_many: Vec<String> = (0..=MAX_KEYS_PER_RULE).map(|i| format!("x-k{i}")).collect();
        let mut rule = base;
        rule["attributes"] = json!({ "keys": too_many });
        assert!(serde_json::from_value::<Rule>(rule).is_err());
    }

    #[test]
    fn describe_reads_as_a_sentence() {
        assert_eq!(
            acme_interests_rule().describe(),
            "Let acme have your interests for marketing if they pay at least 0.05 USD, \
             for at most 30 days."
        );
        assert_eq!(
            acme_interests_rule().describe_with(|_| "Acme".to_owned()),
            "Let Acme have your interests for marketing if they pay at least 0.05 USD, \
             for at most 30 days."
        );
        let rule = Rule::new(
            CompanyMatch::Any,
            PurposeMatch::one_of([Purpose::Analytics, Purpose::Marketing, Purpose::Resale]),
            AttributeMatch::keys(
                ["email", "phone", "x-pets"].map(|k| AttributeKey::parse(k).unwrap()),
            ),
            Effect::Ask,
        );
        assert_eq!(
            rule.describe(),
            "Ask me before any company gets your email address, phone number and x-pets \
             for marketing, analytics or resale to third parties."
        );
        let rule = Rule::new(
            CompanyMatch::Any,
            PurposeMatch::Any,
            AttributeMatch::Bucket(Bucket::SemiPrivate),
            Effect::Deny,
        );
        assert_eq!(
            rule.describe(),
            "Never let any company have your semi-private data for any purpose except resale."
        );
    }

    #[test]
    fn any_purpose_leaves_out_resale() {
        for purpose in Purpose::ALL {
            assert_eq!(
                PurposeMatch::Any.matches(purpose),
                purpose != Purpose::Resale
            );
        }
        assert!(PurposeMatch::one_of([Purpose::Resale]).matches(Purpose::Resale));
    }
}
