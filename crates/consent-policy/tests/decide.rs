//! Decision tables and rule matching, one behaviour per test.

#![allow(
    clippy::unwrap_used,
    reason = "helpers outside #[test] fns; a failed unwrap is a failed test"
)]

use consent_policy::{
    AttributeKey, AttributeMatch, Bucket, CompanyId, CompanyMatch, Currency, DataRequest, Effect,
    GrantDuration, Money, Outcome, Profile, Purpose, PurposeMatch, Reason, Rule, SharingDefault,
    decide,
};

fn key(text: &str) -> AttributeKey {
    AttributeKey::parse(text).unwrap()
}

fn company(text: &str) -> CompanyId {
    CompanyId::parse(text).unwrap()
}

fn days(n: u32) -> GrantDuration {
    GrantDuration::from_days(n).unwrap()
}

fn usd(micros: u64) -> Money {
    Money::new(micros, Currency::USD)
}

/// A person, built up the way the scenario reads.
struct Person(Profile);

impl Person {
    fn with_default(default: SharingDefault) -> Self {
        Self(Profile {
            default,
            ..Profile::default()
        })
    }

    fn keeps(mut self, attribute: &str, bucket: Bucket) -> Self {
        self.0.buckets.insert(key(attribute), bucket);
        self
    }

    fn rule(mut self, rule: Rule) -> Self {
        self.0.push_rule(rule).unwrap();
        self
    }

    fn blocks(mut self, id: &str) -> Self {
        self.0.blocked.insert(company(id));
        self
    }

    /// The outcome and reason for each attribute when `by` asks with `ask`.
    fn decides(&self, by: &str, ask: &Ask) -> Vec<(Outcome, Reason)> {
        decide(&self.0, &company(by), &ask.build())
            .attributes()
            .iter()
            .map(|d| (d.outcome, d.reason))
            .collect()
    }

    /// The outcome and reason for a single-attribute request.
    fn decides_one(&self, by: &str, ask: &Ask) -> (Outcome, Reason) {
        let all = self.decides(by, ask);
        assert_eq!(all.len(), 1);
        all[0]
    }
}

/// A request, built up the way the scenario reads.
#[derive(Clone)]
struct Ask {
    attributes: Vec<&'static str>,
    purpose: Purpose,
    duration: GrantDuration,
    offer: Option<Money>,
}

impl Ask {
    fn for_(attributes: &[&'static str], purpose: Purpose) -> Self {
        Self {
            attributes: attributes.to_vec(),
            purpose,
            duration: days(30),
            offer: None,
        }
    }

    fn lasting(mut self, duration: GrantDuration) -> Self {
        self.duration = duration;
        self
    }

    fn offering(mut self, offer: Money) -> Self {
        self.offer = Some(offer);
        self
    }

    fn build(&self) -> DataRequest {
        DataRequest::new(
            self.attributes.iter().map(|a| key(a)).collect(),
            self.purpose,
            self.duration.clone(),
            self.offer,
        )
        .unwrap()
    }
}

fn allow_rule() -> Rule {
    Rule::new(
        CompanyMatch::Any,
        PurposeMatch::Any,
        AttributeMatch::Any,
        Effect::Allow,
    )
}

/// Someone who shares nothing by default and keeps their email semi-private,
/// so an allow outcome can only come from the rule under test.
fn strict_person_with(rule: Rule) -> Person {
    Person::with_default(SharingDefault::ShareNothing)
        .keeps("email", Bucket::SemiPrivate)
        .rule(rule)
}

const RULE_0: (Outcome, Reason) = (Outcome::Allow, Reason::Rule { index: 0 });

fn nothing_by_default(bucket: Bucket) -> (Outcome, Reason) {
    (
        Outcome::Deny,
        Reason::Default {
            default: SharingDefault::ShareNothing,
            bucket,
        },
    )
}

const NO_RULE: (Outcome, Reason) = (
    Outcome::Deny,
    Reason::Default {
        default: SharingDefault::ShareNothing,
        bucket: Bucket::SemiPrivate,
    },
);

use Bucket::{Private, Public, SemiPrivate};
use Outcome::{Allow, Ask as AskOutcome, Deny};
use SharingDefault::{AskMe, ShareEverything, ShareNothing};

/// DESIGN's table, cell by cell.
const TABLE: [(Bucket, SharingDefault, Outcome); 9] = [
    (Public, ShareEverything, Allow),
    (Public, AskMe, Allow),
    (Public, ShareNothing, Deny),
    (SemiPrivate, ShareEverything, Allow),
    (SemiPrivate, AskMe, AskOutcome),
    (SemiPrivate, ShareNothing, Deny),
    (Private, ShareEverything, Deny),
    (Private, AskMe, Deny),
    (Private, ShareNothing, Deny),
];

#[test]
fn default_table_matches_design_in_every_cell() {
    for (bucket, default, outcome) in TABLE {
        assert_eq!(default.outcome(bucket), outcome, "{bucket} x {default}");
    }
}

#[test]
fn default_table_decides_every_cell_for_a_non_resale_purpose() {
    for (bucket, default, outcome) in TABLE {
        let person = Person::with_default(default).keeps("interests", bucket);
        let got = person.decides_one("acme", &Ask::for_(&["interests"], Purpose::Marketing));
        let reason = if bucket == Private {
            Reason::PrivateBucket
        } else {
            Reason::Default { default, bucket }
        };
        assert_eq!(got, (outcome, reason), "{bucket} x {default}");
    }
}

#[test]
fn default_table_for_resale_asks_where_it_would_allow() {
    let expected = [
        (Public, ShareEverything, AskOutcome),
        (Public, AskMe, AskOutcome),
        (Public, ShareNothing, Deny),
        (SemiPrivate, ShareEverything, AskOutcome),
        (SemiPrivate, AskMe, AskOutcome),
        (SemiPrivate, ShareNothing, Deny),
        (Private, ShareEverything, Deny),
        (Private, AskMe, Deny),
        (Private, ShareNothing, Deny),
    ];
    for (bucket, default, outcome) in expected {
        let person = Person::with_default(default).keeps("interests", bucket);
        let got = person.decides_one("acme", &Ask::for_(&["interests"], Purpose::Resale));
        let reason = match (bucket, default.outcome(bucket)) {
            (Private, _) => Reason::PrivateBucket,
            (_, Allow) => Reason::ResaleNeedsConsent { default, bucket },
            _ => Reason::Default { default, bucket },
        };
        assert_eq!(got, (outcome, reason), "resale: {bucket} x {default}");
    }
}

#[test]
fn unrecorded_attributes_are_judged_in_their_catalogue_bucket() {
    let person = Person::with_default(AskMe);
    let got = person.decides(
        "acme",
        &Ask::for_(
            &["interests", "email", "birth_date", "x-pets"],
            Purpose::Marketing,
        ),
    );
    assert_eq!(
        got,
        [
            (
                Allow,
                Reason::Default {
                    default: AskMe,
                    bucket: Public
                }
            ),
            (
                AskOutcome,
                Reason::Default {
                    default: AskMe,
                    bucket: SemiPrivate
                }
            ),
            (Deny, Reason::PrivateBucket),
            (Deny, Reason::PrivateBucket),
        ]
    );
}

#[test]
fn custom_key_moved_to_public_is_shared_like_any_public_attribute() {
    let person = Person::with_default(AskMe).keeps("x-pets", Public);
    let got = person.decides_one("acme", &Ask::for_(&["x-pets"], Purpose::Marketing));
    assert_eq!(
        got,
        (
            Allow,
            Reason::Default {
                default: AskMe,
                bucket: Public
            }
        )
    );
}

// ---- company ----

#[test]
fn rule_for_any_company_matches_every_company() {
    let person = strict_person_with(allow_rule());
    for by in ["acme", "globex", "initech"] {
        assert_eq!(
            person.decides_one(by, &Ask::for_(&["email"], Purpose::Marketing)),
            RULE_0
        );
    }
}

#[test]
fn rule_for_one_company_matches_that_company() {
    let person = strict_person_with(Rule {
        company: CompanyMatch::Only(company("acme")),
        ..allow_rule()
    });
    assert_eq!(
        person.decides_one("acme", &Ask::for_(&["email"], Purpose::Marketing)),
        RULE_0
    );
}

#[test]
fn rule_for_one_company_does_not_match_another() {
    let person = strict_person_with(Rule {
        company: CompanyMatch::Only(company("acme")),
        ..allow_rule()
    });
    assert_eq!(
        person.decides_one("globex", &Ask::for_(&["email"], Purpose::Marketing)),
        NO_RULE
    );
}

// ---- purposes ----

#[test]
fn rule_for_any_purpose_matches_every_purpose_but_resale() {
    let person = strict_person_with(allow_rule());
    for purpose in Purpose::ALL {
        let got = person.decides_one("acme", &Ask::for_(&["email"], purpose));
        if purpose == Purpose::Resale {
            assert_eq!(got, NO_RULE, "resale must not pass on an any-purpose rule");
        } else {
            assert_eq!(got, RULE_0, "{purpose}");
        }
    }
}

#[test]
fn rule_listing_purposes_matches_a_listed_purpose() {
    let person = strict_person_with(Rule {
        purposes: PurposeMatch::one_of([Purpose::Marketing, Purpose::Analytics]),
        ..allow_rule()
    });
    assert_eq!(
        person.decides_one("acme", &Ask::for_(&["email"], Purpose::Analytics)),
        RULE_0
    );
}

#[test]
fn rule_listing_purposes_does_not_match_another_purpose() {
    let person = strict_person_with(Rule {
        purposes: PurposeMatch::one_of([Purpose::Marketing, Purpose::Analytics]),
        ..allow_rule()
    });
    assert_eq!(
        person.decides_one("acme", &Ask::for_(&["email"], Purpose::Research)),
        NO_RULE
    );
}

#[test]
fn rule_naming_resale_releases_data_for_resale() {
    let person = strict_person_with(Rule {
        purposes: PurposeMatch::one_of([Purpose::Resale]),
        ..allow_rule()
    });
    assert_eq!(
        person.decides_one("acme", &Ask::for_(&["email"], Purpose::Resale)),
        RULE_0
    );
}

#[test]
fn share_everything_with_an_any_purpose_rule_still_asks_for_resale() {
    let person = Person::with_default(ShareEverything).rule(allow_rule());
    let got = person.decides_one("acme", &Ask::for_(&["interests"], Purpose::Resale));
    assert_eq!(
        got,
        (
            AskOutcome,
            Reason::ResaleNeedsConsent {
                default: ShareEverything,
                bucket: Public
            }
        )
    );
}

// ---- attributes ----

#[test]
fn rule_for_any_attribute_matches_every_non_private_attribute() {
    let person = Person::with_default(ShareNothing).rule(allow_rule());
    let got = person.decides(
        "acme",
        &Ask::for_(&["email", "interests", "x-pets"], Purpose::Marketing),
    );
    assert_eq!(
        got,
        [RULE_0, RULE_0, (Deny, Reason::PrivateBucket)],
        "x-pets is private by default"
    );
}

#[test]
fn rule_naming_keys_matches_only_those_keys() {
    let person = Person::with_default(ShareNothing).rule(Rule {
        attributes: AttributeMatch::keys([key("email"), key("phone")]),
        ..allow_rule()
    });
    let got = person.decides(
        "acme",
        &Ask::for_(&["phone", "interests", "email"], Purpose::Marketing),
    );
    assert_eq!(got, [RULE_0, nothing_by_default(Public), RULE_0]);
}

#[test]
fn rule_for_a_bucket_matches_the_persons_bucket_not_the_catalogue_default() {
    // email is semi-private in the catalogue; this person made it public.
    let person = Person::with_default(ShareNothing)
        .keeps("email", Public)
        .keeps("interests", SemiPrivate)
        .rule(Rule {
            attributes: AttributeMatch::Bucket(Public),
            ..allow_rule()
        });
    let got = person.decides(
        "acme",
        &Ask::for_(&["email", "interests", "language"], Purpose::Marketing),
    );
    assert_eq!(got, [RULE_0, nothing_by_default(SemiPrivate), RULE_0]);
}

// ---- minimum offer ----

fn person_wanting(min: Money) -> Person {
    strict_person_with(Rule {
        min_offer: Some(min),
        ..allow_rule()
    })
}

#[test]
fn offer_below_the_minimum_does_not_match() {
    let ask = Ask::for_(&["email"], Purpose::Marketing).offering(usd(49_999));
    assert_eq!(
        person_wanting(usd(50_000)).decides_one("acme", &ask),
        NO_RULE
    );
}

#[test]
fn offer_equal_to_the_minimum_matches() {
    let ask = Ask::for_(&["email"], Purpose::Marketing).offering(usd(50_000));
    assert_eq!(
        person_wanting(usd(50_000)).decides_one("acme", &ask),
        RULE_0
    );
}

#[test]
fn offer_above_the_minimum_matches() {
    let ask = Ask::for_(&["email"], Purpose::Marketing).offering(usd(1_000_000));
    assert_eq!(
        person_wanting(usd(50_000)).decides_one("acme", &ask),
        RULE_0
    );
}

#[test]
fn offer_in_another_currency_does_not_match_however_large() {
    let ask = Ask::for_(&["email"], Purpose::Marketing)
        .offering(Money::new(consent_policy::MAX_AMOUNT_MICROS, Currency::EUR));
    assert_eq!(
        person_wanting(usd(50_000)).decides_one("acme", &ask),
        NO_RULE
    );
}

#[test]
fn no_offer_does_not_match_a_minimum() {
    let ask = Ask::for_(&["email"], Purpose::Marketing);
    assert_eq!(person_wanting(usd(1)).decides_one("acme", &ask), NO_RULE);
}

#[test]
fn rule_without_minimum_matches_with_or_without_an_offer() {
    let person = strict_person_with(allow_rule());
    let ask = Ask::for_(&["email"], Purpose::Marketing);
    assert_eq!(person.decides_one("acme", &ask), RULE_0);
    assert_eq!(person.decides_one("acme", &ask.offering(usd(1))), RULE_0);
}

// ---- maximum duration ----

fn person_capping(max: GrantDuration) -> Person {
    strict_person_with(Rule {
        max_duration: Some(max),
        ..allow_rule()
    })
}

#[test]
fn shorter_grant_than_the_maximum_matches() {
    let ask = Ask::for_(&["email"], Purpose::Marketing).lasting(days(29));
    assert_eq!(person_capping(days(30)).decides_one("acme", &ask), RULE_0);
}

#[test]
fn grant_equal_to_the_maximum_matches_across_notations() {
    let ask =
        Ask::for_(&["email"], Purpose::Marketing).lasting(GrantDuration::parse("P1M").unwrap());
    assert_eq!(person_capping(days(30)).decides_one("acme", &ask), RULE_0);
}

#[test]
fn longer_grant_than_the_maximum_does_not_match() {
    let ask =
        Ask::for_(&["email"], Purpose::Marketing).lasting(GrantDuration::parse("P30DT1S").unwrap());
    assert_eq!(person_capping(days(30)).decides_one("acme", &ask), NO_RULE);
}

// ---- order ----

#[test]
fn first_matching_rule_wins() {
    let person = Person::with_default(ShareNothing)
        .rule(Rule {
            effect: Effect::Ask,
            ..allow_rule()
        })
        .rule(allow_rule());
    let got = person.decides_one("acme", &Ask::for_(&["email"], Purpose::Marketing));
    assert_eq!(got, (AskOutcome, Reason::Rule { index: 0 }));
}

#[test]
fn deny_rule_before_allow_rule_denies() {
    let person = Person::with_default(ShareEverything)
        .rule(Rule {
            company: CompanyMatch::Only(company("acme")),
            effect: Effect::Deny,
            ..allow_rule()
        })
        .rule(allow_rule());
    let ask = Ask::for_(&["email"], Purpose::Marketing);
    assert_eq!(
        person.decides_one("acme", &ask),
        (Deny, Reason::Rule { index: 0 })
    );
    assert_eq!(
        person.decides_one("globex", &ask),
        (Allow, Reason::Rule { index: 1 })
    );
}

#[test]
fn rule_that_does_not_match_is_skipped_for_the_next() {
    let person = Person::with_default(ShareNothing)
        .rule(Rule {
            purposes: PurposeMatch::one_of([Purpose::Research]),
            effect: Effect::Deny,
            ..allow_rule()
        })
        .rule(allow_rule());
    let got = person.decides_one("acme", &Ask::for_(&["email"], Purpose::Marketing));
    assert_eq!(got, (Allow, Reason::Rule { index: 1 }));
}

#[test]
fn each_attribute_takes_its_own_first_matching_rule() {
    let person = Person::with_default(ShareNothing)
        .rule(Rule {
            attributes: AttributeMatch::keys([key("email")]),
            effect: Effect::Ask,
            ..allow_rule()
        })
        .rule(allow_rule());
    let got = person.decides(
        "acme",
        &Ask::for_(&["interests", "email"], Purpose::Marketing),
    );
    assert_eq!(
        got,
        [
            (Allow, Reason::Rule { index: 1 }),
            (AskOutcome, Reason::Rule { index: 0 })
        ]
    );
}

// ---- blocks and private ----

#[test]
fn block_beats_an_allow_rule_naming_the_company() {
    let person = Person::with_default(ShareEverything)
        .blocks("acme")
        .rule(Rule {
            company: CompanyMatch::Only(company("acme")),
            purposes: PurposeMatch::one_of([Purpose::Marketing]),
            attributes: AttributeMatch::keys([key("interests")]),
            ..allow_rule()
        });
    let ask = Ask::for_(&["interests", "email", "birth_date"], Purpose::Marketing);
    assert_eq!(person.decides("acme", &ask), [(Deny, Reason::Blocked); 3]);
    assert_eq!(
        person.decides("globex", &ask)[1],
        (
            Allow,
            Reason::Default {
                default: ShareEverything,
                bucket: SemiPrivate
            }
        )
    );
}

#[test]
fn private_beats_an_allow_rule_naming_it() {
    let person = Person::with_default(ShareEverything)
        .keeps("email", Private)
        .rule(Rule {
            company: CompanyMatch::Only(company("acme")),
            purposes: PurposeMatch::one_of([Purpose::ServiceProvision]),
            attributes: AttributeMatch::keys([key("email"), key("birth_date")]),
            ..allow_rule()
        })
        .rule(Rule {
            attributes: AttributeMatch::Bucket(Private),
            ..allow_rule()
        });
    let got = person.decides(
        "acme",
        &Ask::for_(&["email", "birth_date"], Purpose::ServiceProvision),
    );
    assert_eq!(got, [(Deny, Reason::PrivateBucket); 2]);
}

#[test]
fn attribute_moved_out_of_private_can_be_released_by_a_rule() {
    let person = Person::with_default(ShareNothing)
        .keeps("birth_date", SemiPrivate)
        .rule(Rule {
            attributes: AttributeMatch::keys([key("birth_date")]),
            ..allow_rule()
        });
    let got = person.decides_one(
        "acme",
        &Ask::for_(&["birth_date"], Purpose::ServiceProvision),
    );
    assert_eq!(got, RULE_0);
}

// ---- the decision value ----

#[test]
fn decision_lists_outcomes_in_request_order() {
    let person = Person::with_default(AskMe);
    let request = Ask::for_(
        &["birth_date", "email", "language", "interests"],
        Purpose::Marketing,
    )
    .build();
    let decision = decide(&person.0, &company("acme"), &request);
    let keys: Vec<&str> = decision
        .attributes()
        .iter()
        .map(|d| d.key.as_str())
        .collect();
    assert_eq!(keys, ["birth_date", "email", "language", "interests"]);
    let allowed: Vec<&str> = decision.allowed().map(AttributeKey::as_str).collect();
    let asked: Vec<&str> = decision.asked().map(AttributeKey::as_str).collect();
    let denied: Vec<&str> = decision.denied().map(AttributeKey::as_str).collect();
    assert_eq!(allowed, ["language", "interests"]);
    assert_eq!(asked, ["email"]);
    assert_eq!(denied, ["birth_date"]);
    assert!(decision.needs_person());
    assert!(!decision.is_fully_allowed());
    assert!(!decision.is_fully_denied());
    assert_eq!(decision.get(&key("email")).unwrap().outcome, AskOutcome);
    assert!(decision.get(&key("phone")).is_none());
}

#[test]
fn fully_allowed_and_fully_denied_say_so() {
    let person = Person::with_default(AskMe).blocks("spamco");
    let ask = Ask::for_(&["language", "interests"], Purpose::Personalisation);
    let allowed = decide(&person.0, &company("acme"), &ask.build());
    assert!(allowed.is_fully_allowed() && !allowed.is_fully_denied() && !allowed.needs_person());
    let denied = decide(&person.0, &company("spamco"), &ask.build());
    assert!(denied.is_fully_denied() && !denied.is_fully_allowed());
}
