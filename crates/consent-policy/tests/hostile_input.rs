//! Hostile input for rules: whatever JSON a person (or an attacker with
//! their session) sends as a rule, deserialising never panics, and an
//! accepted rule survives a round trip unchanged.
//!
//! The stable-toolchain stand-in for a cargo-fuzz target (which needs
//! nightly): `PROPTEST_CASES=1000000 cargo test -p consent-policy --test
//! hostile_input` runs a longer budget by hand.

#![allow(clippy::unwrap_used, reason = "test")]

use consent_policy::Rule;
use proptest::prelude::*;

const VALID: &str = r#"{"company":"any","purposes":["marketing"],"attributes":{"keys":["interests"]},"min_offer":{"amount_micros":50000,"currency":"USD"},"max_duration":"P30D","effect":"allow"}"#;

fn json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        "(?s).{0,16}".prop_map(serde_json::Value::from),
        prop_oneof![
            Just("any"),
            Just("allow"),
            Just("deny"),
            Just("ask"),
            Just("marketing"),
            Just("resale"),
            Just("interests"),
            Just("semi_private"),
            Just("P30D"),
            Just("USD"),
        ]
        .prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("company".to_owned()),
                    Just("purposes".to_owned()),
                    Just("attributes".to_owned()),
                    Just("keys".to_owned()),
                    Just("bucket".to_owned()),
                    Just("min_offer".to_owned()),
                    Just("amount_micros".to_owned()),
                    Just("currency".to_owned()),
                    Just("max_duration".to_owned()),
                    Just("effect".to_owned()),
                    "[a-z_]{0,8}"
                ],
                inner,
                0..7
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// 2,000 cases in `cargo test`; `PROPTEST_CASES` for a longer run by hand.
fn budget() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(budget()))]

    #[test]
    fn arbitrary_json_never_panics_and_accepted_rules_round_trip(value in json()) {
        if let Ok(rule) = serde_json::from_value::<Rule>(value) {
            let again: Rule = serde_json::from_value(serde_json::to_value(&rule).unwrap()).unwrap();
            prop_assert_eq!(again, rule);
        }
    }

    #[test]
    fn mutations_of_a_valid_rule_never_panic(
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = VALID.as_bytes().to_vec();
        let i = at.index(bytes.len());
        bytes[i] = byte;
        bytes.truncate(cut.index(bytes.len() + 1).max(i));
        let _ = serde_json::from_slice::<Rule>(&bytes);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = serde_json::from_slice::<Rule>(&bytes);
    }
}

#[test]
fn the_valid_rule_used_for_mutations_parses() {
    serde_json::from_str::<Rule>(VALID).unwrap();
}
