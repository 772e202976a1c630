//! Decisions: what a company may have from one request, attribute by attribute, and why.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::attribute::AttributeKey;
use crate::bucket::{Bucket, SharingDefault};
use crate::company::CompanyId;
use crate::profile::Profile;
use crate::purpose::Purpose;
use crate::request::DataRequest;

/// What happens to one requested attribute. JSON: `"allow"`, `"ask"` or `"deny"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The company may have it now.
    Allow,
    /// The person must approve it first.
    Ask,
    /// The company may not have it.
    Deny,
}

impl Outcome {
    /// The wire name (`allow`, `ask`, `deny`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Ask => "ask",
            Self::Deny => "deny",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an attribute got its outcome; machine-readable, tagged by `kind`.
///
/// JSON: `{"kind": "blocked"}`, `{"kind": "private_bucket"}`,
/// `{"kind": "rule", "index": 2}`,
/// `{"kind": "default", "default": "ask_me", "bucket": "semi_private"}`,
/// `{"kind": "resale_needs_consent", "default": "share_everything", "bucket": "public"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Reason {
    /// The person blocked the company; nothing else was looked at.
    Blocked,
    /// The attribute is in the private bucket, which never leaves.
    PrivateBucket,
    /// The rule at `index` in the person's rule list (from 0) matched first.
    Rule {
        /// Position in [`Profile::rules`], counting from 0.
        index: usize,
    },
    /// No rule matched; the person's default for the bucket applied.
    Default {
        /// The person's sharing default.
        default: SharingDefault,
        /// The attribute's bucket.
        bucket: Bucket,
    },
    /// No rule matched and the default would have allowed it, but the purpose
    /// is resale, which never passes on a default: the person is asked.
    ResaleNeedsConsent {
        /// The person's sharing default.
        default: SharingDefault,
        /// The attribute's bucket.
        bucket: Bucket,
    },
}

impl Reason {
    /// The reason in plain words for pages.
    #[must_use]
    pub fn explain(&self) -> String {
        match *self {
            Self::Blocked => "You have blocked this company.".to_owned(),
            Self::PrivateBucket => {
                "It is in your private bucket, and private data never leaves.".to_owned()
            }
            Self::Rule { index } => format!("Your rule number {} decided this.", index + 1),
            Self::Default { default, bucket } => {
                let does = match default.outcome(bucket) {
                    Outcome::Allow => "shares",
                    Outcome::Ask => "asks you before sharing",
                    Outcome::Deny => "does not share",
                };
                format!(
                    "No rule applies, and your default, {}, {does} {} data.",
                    default.label(),
                    bucket.label()
                )
            }
            Self::ResaleNeedsConsent { default, bucket } => format!(
                "Your default, {}, would share {} data, but selling data on \
                 always needs your own approval.",
                default.label(),
                bucket.label()
            ),
        }
    }

    /// Whether the outcome came from the default rather than a block, the
    /// private bucket or a rule (so a later rule may still decide it).
    const fn is_from_default(&self) -> bool {
        matches!(self, Self::Default { .. } | Self::ResaleNeedsConsent { .. })
    }
}

/// The decision about one requested attribute.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeDecision {
    /// The attribute.
    pub key: AttributeKey,
    /// The bucket it was judged in (the person's, or the catalogue default).
    pub bucket: Bucket,
    /// What happens to it.
    pub outcome: Outcome,
    /// Why.
    pub reason: Reason,
}

/// The decision about a whole request: one entry per requested attribute, in
/// request order. JSON: `{"attributes": [AttributeDecision, ...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    attributes: Vec<AttributeDecision>,
}

impl Decision {
    /// Every attribute's decision, in request order.
    #[must_use]
    pub fn attributes(&self) -> &[AttributeDecision] {
        &self.attributes
    }

    /// The decision about `key`, if it was requested.
    #[must_use]
    pub fn get(&self, key: &AttributeKey) -> Option<&AttributeDecision> {
        self.attributes.iter().find(|d| d.key == *key)
    }

    /// The keys with this outcome, in request order.
    pub fn with_outcome(&self, outcome: Outcome) -> impl Iterator<Item = &AttributeKey> + '_ {
        self.attributes
            .iter()
            .filter(move |d| d.outcome == outcome)
            .map(|d| &d.key)
    }

    /// The keys the company may have now.
    pub fn allowed(&self) -> impl Iterator<Item = &AttributeKey> + '_ {
        self.with_outcome(Outcome::Allow)
    }

    /// The keys waiting for the person's approval.
    pub fn asked(&self) -> impl Iterator<Item = &AttributeKey> + '_ {
        self.with_outcome(Outcome::Ask)
    }

    /// The keys refused.
    pub fn denied(&self) -> impl Iterator<Item = &AttributeKey> + '_ {
        self.with_outcome(Outcome::Deny)
    }

    /// Whether every requested attribute is allowed.
    #[must_use]
    pub fn is_fully_allowed(&self) -> bool {
        self.attributes.iter().all(|d| d.outcome == Outcome::Allow)
    }

    /// Whether every requested attribute is denied.
    #[must_use]
    pub fn is_fully_denied(&self) -> bool {
        self.attributes.iter().all(|d| d.outcome == Outcome::Deny)
    }

    /// Whether any attribute waits for the person.
    #[must_use]
    pub fn needs_person(&self) -> bool {
        self.attributes.iter().any(|d| d.outcome == Outcome::Ask)
    }
}

/// Decides, attribute by attribute, what `company` may have from `request`
/// under the person's `profile`. Pure and deterministic; see the crate docs
/// for the order of evaluation.
///
/// The request's duration is not compared with `profile.max_duration` here:
/// [`RawRequest::validate`](crate::RawRequest::validate) refuses a longer
/// request at the edge. A request stored before the person lowered their limit
/// should be validated again (`request.duration().as_secs() <=
/// profile.max_duration.as_secs()`) before it is decided.
#[must_use]
pub fn decide(profile: &Profile, company: &CompanyId, request: &DataRequest) -> Decision {
    let keys = request.attributes();
    let blocked = profile.blocked.contains(company);
    let purpose = request.purpose();
    let mut attributes = Vec::with_capacity(keys.len());
    // Attributes whose outcome so far comes from the default, so a rule may decide them.
    let mut open = 0_usize;
    for key in keys {
        let bucket = profile.bucket_of(key);
        let (outcome, reason) = if blocked {
            (Outcome::Deny, Reason::Blocked)
        } else if bucket == Bucket::Private {
            (Outcome::Deny, Reason::PrivateBucket)
        } else {
            open += 1;
            default_outcome(profile.default, bucket, purpose)
        };
        attributes.push(AttributeDecision {
            key: key.clone(),
            bucket,
            outcome,
            reason,
        });
    }
    // Rules outer, attributes inner: the request-wide conditions of each rule
    // are checked once, and an attribute takes the first rule that covers it.
    for (index, rule) in profile.rules.iter().enumerate() {
        if open == 0 {
            break;
        }
        if !rule.matches_request(company, request) {
            continue;
        }
        for d in &mut attributes {
            if d.reason.is_from_default() && rule.matches_attribute(&d.key, d.bucket) {
                d.outcome = rule.effect.into();
                d.reason = Reason::Rule { index };
                open -= 1;
            }
        }
    }
    debug_assert_eq!(attributes.len(), keys.len());
    debug_assert!(
        attributes
            .iter()
            .all(|d| (d.bucket != Bucket::Private && !blocked) || d.outcome == Outcome::Deny),
        "a private attribute or a blocked company got through"
    );
    Decision { attributes }
}

/// The default table, with resale never allowed on a default.
fn default_outcome(default: SharingDefault, bucket: Bucket, purpose: Purpose) -> (Outcome, Reason) {
    match default.outcome(bucket) {
        Outcome::Allow if purpose == Purpose::Resale => {
            (Outcome::Ask, Reason::ResaleNeedsConsent { default, bucket })
        }
        outcome => (outcome, Reason::Default { default, bucket }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reason_json_shapes_are_stable() {
        let cases = [
            (Reason::Blocked, json!({"kind": "blocked"})),
            (Reason::PrivateBucket, json!({"kind": "private_bucket"})),
            (
                Reason::Rule { index: 2 },
                json!({"kind": "rule", "index": 2}),
            ),
            (
                Reason::Default {
                    default: SharingDefault::AskMe,
                    bucket: Bucket::SemiPrivate,
                },
                json!({"kind": "default", "default": "ask_me", "bucket": "semi_private"}),
            ),
            (
                Reason::ResaleNeedsConsent {
                    default: SharingDefault::ShareEverything,
                    bucket: Bucket::Public,
                },
                json!({"kind": "resale_needs_consent", "default": "share_everything", "bucket": "public"}),
            ),
        ];
        for (reason, expected) in cases {
            assert_eq!(serde_json::to_value(reason).unwrap(), expected);
            assert_eq!(serde_json::from_value::<Reason>(expected).unwrap(), reason);
            assert!(reason.explain().ends_with('.'));
        }
        assert!(serde_json::from_value::<Reason>(json!({"kind": "whim"})).is_err());
    }

    #[test]
    fn reasons_explain_themselves() {
        assert_eq!(
            Reason::Rule { index: 0 }.explain(),
            "Your rule number 1 decided this."
        );
        assert_eq!(
            Reason::Default {
                default: SharingDefault::AskMe,
                bucket: Bucket::SemiPrivate
            }
            .explain(),
            "No rule applies, and your default, ask me, asks you before sharing semi-private data."
        );
    }

    #[test]
    fn decision_json_shape_is_stable() {
        let decision = Decision {
            attributes: vec![AttributeDecision {
                key: AttributeKey::parse("email").unwrap(),
                bucket: Bucket::SemiPrivate,
                outcome: Outcome::Ask,
                reason: Reason::Default {
                    default: SharingDefault::AskMe,
                    bucket: Bucket::SemiPrivate,
                },
            }],
        };
        let value = serde_json::to_value(&decision).unwrap();
        assert_eq!(
            value,
            json!({"attributes": [{
                "key": "email",
                "bucket": "semi_private",
                "outcome": "ask",
                "reason": {"kind": "default", "default": "ask_me", "bucket": "semi_private"}
            }]})
        );
        assert_eq!(serde_json::from_value::<Decision>(value).unwrap(), decision);
    }
}
