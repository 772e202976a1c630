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

/// The counter-offer the person's own rules make for them: when every
/// attribute of `request` that would wait for the person (asked by the
/// default) is covered by a rule that would allow it for a higher price —
/// the first rule that matches it in all but the price, an `allow` rule
/// with a `min_offer` in the offer's currency the offer falls short of —
/// the request is answered "I would share this for X" at once, X the
/// highest of those minimums, for everything not denied. `None` when the
/// request has no offer, nothing waits, or anything waiting is not so
/// covered (then the person answers it themselves).
///
/// At X, [`decide`] allows every attribute of the counter (a property
/// test holds it to that).
#[must_use]
pub fn automatic_counter(
    profile: &Profile,
    company: &CompanyId,
    request: &DataRequest,
    decision: &Decision,
) -> Option<(crate::Money, Vec<AttributeKey>)> {
    let offer = request.offer()?;
    let mut price: Option<crate::Money> = None;
    for d in decision.attributes() {
        if d.outcome != Outcome::Ask {
            continue;
        }
        if !d.reason.is_from_default() {
            // A rule of the person's says "ask me": they answer themselves.
            return None;
        }
        let rule = profile.rules.iter().find(|rule| {
            rule.matches_attribute(&d.key, d.bucket)
                && rule.matches_request_but_price(company, request)
        })?;
        let minimum = rule.min_offer?;
        if rule.effect != crate::Effect::Allow
            || minimum.currency() != offer.currency()
            || offer.covers(&minimum)
        {
            return None;
        }
        if price.is_none_or(|p| minimum.amount_micros() > p.amount_micros()) {
            price = Some(minimum);
        }
    }
    let price = price?;
    let attributes: Vec<AttributeKey> = decision
        .attributes()
        .iter()
        .filter(|d| d.outcome != Outcome::Deny)
        .map(|d| d.key.clone())
        .collect();
    // Checked, not assumed: at X the whole policy (an earlier rule that
    // only an offer of X matches included) allows every one of them.
    let at_price = DataRequest::new(
        request.attributes().to_vec(),
        request.purpose(),
        request.duration().clone(),
        Some(price),
    )
    .ok()?;
    let again = decide(profile, company, &at_price);
    attributes
        .iter()
        .all(|k| again.get(k).is_some_and(|d| d.outcome == Outcome::Allow))
        .then_some((price, attributes))
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

    mod counter {
        use super::super::*;
        use crate::{
            AttributeMatch, CompanyMatch, Currency, Effect, GrantDuration, Money, PurposeMatch,
            Rule,
        };

        fn key(k: &str) -> AttributeKey {
            AttributeKey::parse(k).unwrap()
        }

        fn eur(micros: u64) -> Money {
            Money::new(micros, Currency::EUR)
        }

        fn priced(keys: &[&str], min: Money) -> Rule {
            Rule::new(
                CompanyMatch::Any,
                PurposeMatch::Any,
                AttributeMatch::keys(keys.iter().map(|k| key(k))),
                Effect::Allow,
            )
            .with_min_offer(min)
        }

        fn profile(rules: Vec<Rule>) -> Profile {
            let mut p = Profile {
                default: SharingDefault::AskMe,
                ..Profile::default()
            };
            p.buckets.insert(key("email"), Bucket::SemiPrivate);
            p.buckets.insert(key("phone"), Bucket::SemiPrivate);
            p.buckets.insert(key("display_name"), Bucket::Public);
            p.buckets.insert(key("birth_date"), Bucket::Private);
            p.rules = rules;
            p
        }

        fn ask(keys: &[&str], offer: Option<Money>) -> DataRequest {
            DataRequest::new(
                keys.iter().map(|k| key(k)).collect(),
                Purpose::Marketing,
                GrantDuration::parse("P30D").unwrap(),
                offer,
            )
            .unwrap()
        }

        fn counter(p: &Profile, r: &DataRequest) -> Option<(Money, Vec<AttributeKey>)> {
            let acme = CompanyId::parse("acme").unwrap();
            automatic_counter(p, &acme, r, &decide(p, &acme, r))
        }

        #[test]
        fn an_offer_below_the_rules_price_is_countered_at_the_price() {
            let p = profile(vec![priced(&["email"], eur(80_000))]);
            let r = ask(&["email", "birth_date"], Some(eur(50_000)));
            assert_eq!(counter(&p, &r), Some((eur(80_000), vec![key("email")])));
        }

        #[test]
        fn the_highest_price_of_the_rules_involved_is_named() {
            let p = profile(vec![
                priced(&["email"], eur(80_000)),
                priced(&["phone"], eur(120_000)),
            ]);
            let r = ask(&["email", "phone"], Some(eur(10_000)));
            assert_eq!(
                counter(&p, &r),
                Some((eur(120_000), vec![key("email"), key("phone")]))
            );
        }

        #[test]
        fn nothing_is_countered_without_a_reason_to() {
            let rules = vec![priced(&["email"], eur(80_000))];
            let p = profile(rules.clone());
            // No offer; an offer that pays enough; another currency.
            assert_eq!(counter(&p, &ask(&["email"], None)), None);
            assert_eq!(counter(&p, &ask(&["email"], Some(eur(80_000)))), None);
            let usd = Money::new(10_000, Currency::USD);
            assert_eq!(counter(&p, &ask(&["email"], Some(usd))), None);
            // Something else waits for the person: they answer it all.
            assert_eq!(counter(&p, &ask(&["email", "phone"], Some(eur(1)))), None);
            // A deny rule with a price, or an "ask me" rule first.
            let mut deny = priced(&["email"], eur(80_000));
            deny.effect = Effect::Deny;
            assert_eq!(
                counter(&profile(vec![deny]), &ask(&["email"], Some(eur(1)))),
                None
            );
            let asks = Rule::new(
                CompanyMatch::Any,
                PurposeMatch::Any,
                AttributeMatch::keys([key("email")]),
                Effect::Ask,
            );
            let p = profile(vec![asks, priced(&["email"], eur(80_000))]);
            assert_eq!(counter(&p, &ask(&["email"], Some(eur(1)))), None);
            // Blocked: nothing waits.
            let mut p = profile(rules);
            p.blocked.insert(CompanyId::parse("acme").unwrap());
            assert_eq!(counter(&p, &ask(&["email"], Some(eur(1)))), None);
        }
    }

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
