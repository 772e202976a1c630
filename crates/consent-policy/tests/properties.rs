//! The product's guarantees, checked on generated people and requests.

#![allow(
    clippy::unwrap_used,
    reason = "helpers outside #[test] fns; a failed unwrap is a failed test"
)]

use std::collections::BTreeSet;

use consent_policy::{
    AttributeKey, AttributeMatch, Bucket, CompanyId, CompanyMatch, Currency, DataRequest, Effect,
    GrantDuration, MAX_GRANT_SECS, Money, Outcome, Profile, Purpose, PurposeMatch, RawOffer,
    RawRequest, Reason, Rule, SharingDefault, Withheld, decide, grantable_now,
    what_a_read_discloses,
};
use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use proptest::strategy::ValueTree;

const COMPANIES: [&str; 4] = ["acme", "globex", "initech", "umbrella"];
const CUSTOM_KEYS: [&str; 4] = ["x-a", "x-b", "x-pets", "x-shoe-size"];
const CURRENCIES: [Currency; 3] = [Currency::USD, Currency::EUR, Currency::JPY];

fn any_company() -> impl Strategy<Value = CompanyId> {
    select(&COMPANIES[..]).prop_map(|c| CompanyId::parse(c).unwrap())
}

fn any_key() -> impl Strategy<Value = AttributeKey> {
    let catalogue: Vec<AttributeKey> = AttributeKey::catalogue().collect();
    prop_oneof![
        4 => select(catalogue),
        2 => select(&CUSTOM_KEYS[..]).prop_map(|k| AttributeKey::parse(k).unwrap()),
        1 => (0_u32..1_000, 0_u32..100).prop_map(|(a, b)| AttributeKey::parse(&format!("x-{a}-k{b}")).unwrap()),
    ]
}

fn any_bucket() -> impl Strategy<Value = Bucket> {
    select(&Bucket::ALL[..])
}

fn any_default() -> impl Strategy<Value = SharingDefault> {
    select(&SharingDefault::ALL[..])
}

fn any_purpose() -> impl Strategy<Value = Purpose> {
    select(&Purpose::ALL[..])
}

fn any_money() -> impl Strategy<Value = Money> {
    (0_u64..200_000, select(&CURRENCIES[..])).prop_map(|(amount, c)| Money::new(amount, c))
}

fn any_duration() -> impl Strategy<Value = GrantDuration> {
    prop_oneof![
        (1_u32..=400).prop_map(|d| GrantDuration::from_days(d).unwrap()),
        (1_u64..=MAX_GRANT_SECS).prop_map(|s| GrantDuration::from_secs(s).unwrap()),
        (
            0_u32..=9,
            0_u32..=11,
            0_u32..=30,
            0_u32..=23,
            0_u32..=59,
            0_u32..=59
        )
            .prop_filter_map("zero", |(y, mo, d, h, mi, s)| {
                let mut text = String::from("P");
                for (n, u) in [(y, 'Y'), (mo, 'M'), (d, 'D')] {
                    if n > 0 {
                        text.push_str(&format!("{n}{u}"));
                    }
                }
                if h + mi + s > 0 {
                    text.push('T');
                    for (n, u) in [(h, 'H'), (mi, 'M'), (s, 'S')] {
                        if n > 0 {
                            text.push_str(&format!("{n}{u}"));
                        }
                    }
                }
                GrantDuration::parse(&text).ok()
            }),
        (1_u32..=52).prop_map(|w| GrantDuration::parse(&format!("P{w}W")).unwrap()),
    ]
}

fn any_rule() -> impl Strategy<Value = Rule> {
    let company = prop_oneof![
        Just(CompanyMatch::Any),
        any_company().prop_map(CompanyMatch::Only)
    ];
    let purposes = prop_oneof![
        Just(PurposeMatch::Any),
        subsequence(Purpose::ALL.to_vec(), 1..=3).prop_map(PurposeMatch::one_of),
    ];
    let attributes = prop_oneof![
        Just(AttributeMatch::Any),
        prop::collection::btree_set(any_key(), 1..4).prop_map(AttributeMatch::Keys),
        any_bucket().prop_map(AttributeMatch::Bucket),
    ];
    let effect = select(vec![Effect::Allow, Effect::Ask, Effect::Deny]);
    (
        company,
        purposes,
        attributes,
        prop::option::weighted(0.3, any_money()),
        prop::option::weighted(0.3, any_duration()),
        effect,
    )
        .prop_map(
            |(company, purposes, attributes, min_offer, max_duration, effect)| Rule {
                company,
                purposes,
                attributes,
                min_offer,
                max_duration,
                effect,
            },
        )
}

fn any_profile() -> impl Strategy<Value = Profile> {
    (
        any_default(),
        prop::collection::btree_map(any_key(), any_bucket(), 0..20),
        prop::collection::vec(any_rule(), 0..30),
        prop::collection::btree_set(any_company(), 0..3),
    )
        .prop_map(|(default, buckets, rules, blocked)| Profile {
            default,
            buckets,
            rules,
            blocked,
            max_duration: GrantDuration::parse("P10Y").unwrap(),
        })
}

fn any_request() -> impl Strategy<Value = DataRequest> {
    (
        prop::collection::vec(any_key(), 1..8),
        any_purpose(),
        any_duration(),
        prop::option::of(any_money()),
    )
        .prop_map(|(keys, purpose, duration, offer)| {
            let mut seen = BTreeSet::new();
            let keys: Vec<AttributeKey> = keys
                .into_iter()
                .filter(|k| seen.insert(k.clone()))
                .collect();
            DataRequest::new(keys, purpose, duration, offer).unwrap()
        })
}

/// The evaluation order written the obvious way, one attribute at a time.
fn reference(
    profile: &Profile,
    company: &CompanyId,
    request: &DataRequest,
) -> Vec<(Outcome, Reason)> {
    request
        .attributes()
        .iter()
        .map(|key| {
            let bucket = profile
                .buckets
                .get(key)
                .copied()
                .unwrap_or(key.default_bucket());
            if profile.blocked.contains(company) {
                return (Outcome::Deny, Reason::Blocked);
            }
            if bucket == Bucket::Private {
                return (Outcome::Deny, Reason::PrivateBucket);
            }
            if let Some(index) = profile
                .rules
                .iter()
                .position(|r| r.matches(company, request, key, bucket))
            {
                let outcome = match profile.rules[index].effect {
                    Effect::Allow => Outcome::Allow,
                    Effect::Ask => Outcome::Ask,
                    Effect::Deny => Outcome::Deny,
                };
                return (outcome, Reason::Rule { index });
            }
            let default = profile.default;
            match default.outcome(bucket) {
                Outcome::Allow if request.purpose() == Purpose::Resale => {
                    (Outcome::Ask, Reason::ResaleNeedsConsent { default, bucket })
                }
                outcome => (outcome, Reason::Default { default, bucket }),
            }
        })
        .collect()
}

fn outcomes(
    profile: &Profile,
    company: &CompanyId,
    request: &DataRequest,
) -> Vec<(Outcome, Reason)> {
    decide(profile, company, request)
        .attributes()
        .iter()
        .map(|d| (d.outcome, d.reason))
        .collect()
}

proptest! {
    #[test]
    fn decide_agrees_with_the_one_attribute_at_a_time_reading(
        profile in any_profile(), company in any_company(), request in any_request(),
    ) {
        prop_assert_eq!(outcomes(&profile, &company, &request), reference(&profile, &company, &request));
    }

    #[test]
    fn private_attributes_are_always_denied(
        profile in any_profile(), company in any_company(), request in any_request(),
    ) {
        for d in decide(&profile, &company, &request).attributes() {
            prop_assert_eq!(d.bucket, profile.bucket_of(&d.key));
            if d.bucket == Bucket::Private {
                prop_assert_eq!(d.outcome, Outcome::Deny);
            }
        }
    }

    #[test]
    fn blocked_company_is_denied_every_attribute(
        mut profile in any_profile(), company in any_company(), request in any_request(),
    ) {
        profile.blocked.insert(company.clone());
        let decision = decide(&profile, &company, &request);
        prop_assert!(decision.is_fully_denied());
        prop_assert!(decision.attributes().iter().all(|d| d.reason == Reason::Blocked));
    }

    #[test]
    fn resale_is_never_allowed_without_a_rule_naming_it(
        mut profile in any_profile(), company in any_company(), request in any_request(),
    ) {
        profile.rules.retain(|r| !r.purposes.matches(Purpose::Resale));
        let request = DataRequest::new(
            request.attributes().to_vec(), Purpose::Resale, request.duration().clone(), request.offer().copied(),
        ).unwrap();
        prop_assert_eq!(decide(&profile, &company, &request).allowed().count(), 0);
    }

    #[test]
    fn resale_allowed_only_by_a_rule_naming_resale(
        profile in any_profile(), company in any_company(), request in any_request(),
    ) {
        if request.purpose() == Purpose::Resale {
            for d in decide(&profile, &company, &request).attributes() {
                if d.outcome == Outcome::Allow {
                    let Reason::Rule { index } = d.reason else {
                        return Err(TestCaseError::fail(format!("resale allowed by {:?}", d.reason)));
                    };
                    prop_assert!(matches!(&profile.rules[index].purposes,
                        PurposeMatch::OneOf(p) if p.contains(&Purpose::Resale)));
                }
            }
        }
    }

    #[test]
    fn share_nothing_without_rules_denies_everything(
        mut profile in any_profile(), company in any_company(), request in any_request(),
    ) {
        profile.default = SharingDefault::ShareNothing;
        profile.rules.clear();
        prop_assert!(decide(&profile, &company, &request).is_fully_denied());
    }

    #[test]
    fn decisions_are_deterministic(
        profile in any_profile(), company in any_company(), request in any_request(),
    ) {
        let first = decide(&profile, &company, &request);
        prop_assert_eq!(&decide(&profile, &company, &request), &first);
        prop_assert_eq!(&decide(&profile.clone(), &company.clone(), &request.clone()), &first);
        let stored: Profile = serde_json::from_str(&serde_json::to_string(&profile).unwrap()).unwrap();
        prop_assert_eq!(&stored, &profile);
        prop_assert_eq!(&decide(&stored, &company, &request), &first);
        let json = serde_json::to_value(&first).unwrap();
        prop_assert_eq!(serde_json::from_value::<consent_policy::Decision>(json).unwrap(), first);
    }

    #[test]
    fn appending_a_rule_never_changes_an_earlier_decision(
        profile in any_profile(), rule in any_rule(), company in any_company(), request in any_request(),
    ) {
        let before = outcomes(&profile, &company, &request);
        let mut extended = profile.clone();
        extended.rules.push(rule);
        let after = outcomes(&extended, &company, &request);
        for (old, new) in before.iter().zip(&after) {
            match old.1 {
                Reason::Default { .. } | Reason::ResaleNeedsConsent { .. } => {
                    if old != new {
                        prop_assert_eq!(new.1, Reason::Rule { index: profile.rules.len() });
                    }
                }
                _ => prop_assert_eq!(old, new),
            }
        }
    }

    #[test]
    fn decision_covers_exactly_the_requested_attributes_in_order(
        profile in any_profile(), company in any_company(), request in any_request(),
    ) {
        let decision = decide(&profile, &company, &request);
        let keys: Vec<&AttributeKey> = decision.attributes().iter().map(|d| &d.key).collect();
        let requested: Vec<&AttributeKey> = request.attributes().iter().collect();
        prop_assert_eq!(keys, requested);
        let split = decision.allowed().count() + decision.asked().count() + decision.denied().count();
        prop_assert_eq!(split, request.attributes().len());
    }

    #[test]
    fn valid_request_rendered_to_json_validates_back_to_itself(request in any_request()) {
        let json = serde_json::to_string(&request).unwrap();
        let ten_years = GrantDuration::parse("P10Y").unwrap();
        prop_assert_eq!(&DataRequest::parse_json(&json, &ten_years).unwrap(), &request);
        prop_assert_eq!(&request.to_raw().validate(&ten_years).unwrap(), &request);
    }

    #[test]
    fn validate_accepts_exactly_the_well_formed_requests(raw in any_raw_request()) {
        let max = GrantDuration::parse("P1Y").unwrap();
        let expected = first_problem(&raw, max.as_secs());
        let got = raw.clone().validate(&max);
        match (&got, expected) {
            (Ok(request), None) => {
                prop_assert_eq!(request.attributes().len(), raw.attributes.len());
            }
            (Err(e), Some(field)) => prop_assert_eq!(e.field(), field, "{:?}", e),
            _ => return Err(TestCaseError::fail(format!("{raw:?} gave {got:?}, expected problem in {expected:?}"))),
        }
        // The JSON path gives the same answer as the typed one.
        let json = serde_json::to_string(&raw).unwrap();
        prop_assert_eq!(DataRequest::parse_json(&json, &max), got);
    }
}

/// Raw requests mixing valid and invalid values in every field.
fn any_raw_request() -> impl Strategy<Value = RawRequest> {
    let kind =
        prop_oneof![9 => Just("apiome_data".to_owned()), 1 => Just("openid_credential".to_owned())];
    let key = prop_oneof![
        8 => any_key().prop_map(String::from),
        1 => select(vec!["Email", "shoe_size", "x-", "x-Foo", "x-a--b", "x-a-", ""]).prop_map(String::from),
    ];
    let attributes = prop_oneof![
        20 => prop::collection::vec(key, 0..6),
        1 => prop::collection::vec(any_key().prop_map(String::from), 65..70),
    ];
    let purpose = prop_oneof![
        9 => any_purpose().prop_map(|p| p.as_str().to_owned()),
        1 => select(vec!["selling", "Marketing", ""]).prop_map(String::from),
    ];
    let duration = prop_oneof![
        6 => any_duration().prop_map(String::from),
        1 => select(vec!["P0D", "P1.5D", "30 days", "P11Y", "P2Y", "P1W1D"]).prop_map(String::from),
    ];
    let amount = prop_oneof![
        6 => 0_i128..1_000_000,
        1 => Just(i128::from(i64::MAX)),
        1 => Just(i128::from(i64::MAX) + 1),
        1 => i128::from(i64::MAX) + 1..i128::MAX,
        1 => i128::MIN..0,
    ];
    let currency = prop_oneof![
        6 => select(&CURRENCIES[..]).prop_map(|c| c.code().to_owned()),
        1 => select(vec!["usd", "XYZ", ""]).prop_map(String::from),
    ];
    let offer = prop::option::of((amount, currency).prop_map(|(amount, currency)| RawOffer {
        amount_micros: amount,
        currency,
        display: None,
    }));
    (kind, attributes, purpose, duration, offer).prop_map(
        |(kind, attributes, purpose, duration, offer)| RawRequest {
            kind,
            attributes,
            purpose,
            duration,
            offer,
        },
    )
}

/// The field of the first problem, judged field by field from the spec.
fn first_problem(raw: &RawRequest, max_secs: u64) -> Option<&'static str> {
    if raw.kind != "apiome_data" {
        return Some("type");
    }
    let mut seen = BTreeSet::new();
    let attributes_ok = (1..=64).contains(&raw.attributes.len())
        && raw
            .attributes
            .iter()
            .all(|a| AttributeKey::parse(a).is_ok() && seen.insert(a.clone()));
    if !attributes_ok {
        return Some("attributes");
    }
    if Purpose::parse(&raw.purpose).is_err() {
        return Some("purpose");
    }
    if !GrantDuration::parse(&raw.duration).is_ok_and(|d| d.as_secs() <= max_secs) {
        return Some("duration");
    }
    if let Some(offer) = &raw.offer {
        if i64::try_from(offer.amount_micros).is_err() || offer.amount_micros < 0 {
            return Some("offer.amount_micros");
        }
        if Currency::parse(&offer.currency).is_err() {
            return Some("offer.currency");
        }
    }
    None
}

#[test]
fn raw_request_generator_reaches_every_kind_of_problem() {
    // Guards the property above: it only means something if every field fails sometimes.
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = any_raw_request();
    let mut seen = BTreeSet::new();
    for _ in 0..3_000 {
        let raw = strategy.new_tree(&mut runner).unwrap().current();
        seen.insert(first_problem(
            &raw,
            GrantDuration::parse("P1Y").unwrap().as_secs(),
        ));
    }
    let expected: BTreeSet<Option<&str>> = [
        None,
        Some("type"),
        Some("attributes"),
        Some("purpose"),
        Some("duration"),
        Some("offer.amount_micros"),
        Some("offer.currency"),
    ]
    .into_iter()
    .collect();
    assert_eq!(seen, expected);
}

/// A change a person makes after granting.
#[derive(Debug, Clone)]
enum LaterChange {
    MoveToPrivate(AttributeKey),
    DenyRuleFirst(AttributeKey),
    Block,
}

fn any_later_change() -> impl Strategy<Value = LaterChange> {
    prop_oneof![
        any_key().prop_map(LaterChange::MoveToPrivate),
        any_key().prop_map(LaterChange::DenyRuleFirst),
        Just(LaterChange::Block),
    ]
}

fn apply(profile: &mut Profile, company: &CompanyId, change: &LaterChange) {
    match change {
        LaterChange::MoveToPrivate(key) => {
            profile.buckets.insert(key.clone(), Bucket::Private);
        }
        LaterChange::DenyRuleFirst(key) => profile.rules.insert(
            0,
            Rule::new(
                CompanyMatch::Only(company.clone()),
                // every purpose, resale too (`Any` leaves resale out)
                PurposeMatch::one_of(Purpose::ALL),
                AttributeMatch::keys([key.clone()]),
                Effect::Deny,
            ),
        ),
        LaterChange::Block => {
            profile.blocked.insert(company.clone());
        }
    }
}

proptest! {
    #[test]
    fn a_read_discloses_only_granted_attributes_the_policy_still_allows(
        profile in any_profile(),
        company in any_company(),
        grant in any_request(),
        holds in prop::collection::vec(any::<bool>(), 8),
    ) {
        let has_value = |k: &AttributeKey| {
            let i = grant.attributes().iter().position(|g| g == k).unwrap_or(0);
            holds[i % holds.len()]
        };
        let read = what_a_read_discloses(&profile, &company, &grant, has_value);
        let fresh = decide(&profile, &company, &grant);
        // Every granted key is answered exactly once, in the grant's order.
        let answered: Vec<&AttributeKey> = grant
            .attributes()
            .iter()
            .filter(|k| read.disclosed.contains(k) || read.withheld.iter().any(|(w, _)| w == *k))
            .collect();
        prop_assert_eq!(answered.len(), grant.attributes().len());
        prop_assert_eq!(read.disclosed.len() + read.withheld.len(), grant.attributes().len());
        for key in &read.disclosed {
            prop_assert!(grant.attributes().contains(key), "{key} was never granted");
            prop_assert!(has_value(key));
            let now = fresh.get(key).unwrap();
            prop_assert!(
                now.outcome != Outcome::Deny
                    || matches!(now.reason, Reason::Default { .. }),
                "{key} left although the policy now denies it: {:?}", now.reason
            );
            prop_assert_ne!(profile.bucket_of(key), Bucket::Private);
        }
        if profile.blocked.contains(&company) {
            prop_assert!(read.disclosed.is_empty());
        }
    }

    #[test]
    fn a_later_block_private_move_or_deny_rule_takes_the_attribute_back(
        mut profile in any_profile(),
        company in any_company(),
        grant in any_request(),
        change in any_later_change(),
    ) {
        apply(&mut profile, &company, &change);
        let read = what_a_read_discloses(&profile, &company, &grant, |_| true);
        match &change {
            LaterChange::Block => prop_assert!(read.disclosed.is_empty()),
            LaterChange::MoveToPrivate(key) | LaterChange::DenyRuleFirst(key) => {
                prop_assert!(!read.disclosed.contains(key));
                if grant.attributes().contains(key) {
                    prop_assert!(read.withheld.iter().any(|(k, why)| k == key
                        && matches!(why, Withheld::Policy(_))));
                }
            }
        }
    }
}

proptest! {
    #[test]
    fn an_approval_grants_only_what_was_open_then_and_is_not_taken_back_now(
        mut profile in any_profile(),
        company in any_company(),
        request in any_request(),
        change in any_later_change(),
    ) {
        let at_arrival = decide(&profile, &company, &request);
        apply(&mut profile, &company, &change);
        let now = decide(&profile, &company, &request);
        let granted = grantable_now(&at_arrival, &profile, &company, &request);
        for key in &granted {
            prop_assert_ne!(at_arrival.get(key).unwrap().outcome, Outcome::Deny);
            prop_assert_ne!(profile.bucket_of(key), Bucket::Private);
            let d = now.get(key).unwrap();
            let taken_back = d.outcome == Outcome::Deny && !matches!(d.reason, Reason::Default { .. });
            prop_assert!(!taken_back, "{} granted although {:?}", key, d.reason);
        }
        match &change {
            LaterChange::Block => prop_assert!(granted.is_empty()),
            LaterChange::MoveToPrivate(key) | LaterChange::DenyRuleFirst(key) => {
                prop_assert!(!granted.contains(key));
            }
        }
    }
}
