//! Hostile input for the `authorization_details` parser: arbitrary text,
//! arbitrary JSON, and one-byte mutations of a valid request never panic,
//! and whatever is accepted is a request the policy can evaluate.
//!
//! The stable-toolchain stand-in for a cargo-fuzz target (which needs
//! nightly): `PROPTEST_CASES=1000000 cargo test -p authz --test
//! hostile_input` runs a longer budget by hand.

#![allow(clippy::unwrap_used, reason = "test")]

use authz::request::parse_authorization_details;
use proptest::prelude::*;

const VALID: &str = r#"[{"type":"apiome_data","attributes":["email","postal_address"],"purpose":"service_provision","duration":"P30D","offer":{"amount_micros":50000,"currency":"EUR"}}]"#;

fn json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
            .map_or(serde_json::Value::Null, serde_json::Value::Number)),
        "(?s).{0,20}".prop_map(serde_json::Value::from),
        prop_oneof![
            Just("apiome_data"),
            Just("type"),
            Just("attributes"),
            Just("purpose"),
            Just("duration"),
            Just("offer"),
            Just("amount_micros"),
            Just("currency"),
            Just("email"),
            Just("P30D"),
            Just("EUR"),
            Just("marketing"),
        ]
        .prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("type".to_owned()),
                    Just("attributes".to_owned()),
                    Just("purpose".to_owned()),
                    Just("duration".to_owned()),
                    Just("offer".to_owned()),
                    Just("amount_micros".to_owned()),
                    Just("currency".to_owned()),
                    "[a-z_]{0,8}"
                ],
                inner,
                0..6
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
    fn arbitrary_text_never_panics(text in "(?s).{0,300}") {
        let _ = parse_authorization_details(&text);
    }

    #[test]
    fn arbitrary_json_never_panics_and_accepted_requests_are_whole(value in json()) {
        if let Ok(request) = parse_authorization_details(&value.to_string()) {
            prop_assert!(!request.attributes().is_empty());
        }
    }

    #[test]
    fn mutations_of_a_valid_request_never_panic(
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = VALID.as_bytes().to_vec();
        let i = at.index(bytes.len());
        bytes[i] = byte;
        bytes.truncate(cut.index(bytes.len() + 1).max(i));
        if let Ok(text) = std::str::from_utf8(&bytes) {
            let _ = parse_authorization_details(text);
        }
    }
}

#[test]
fn the_valid_request_used_for_mutations_parses() {
    assert!(parse_authorization_details(VALID).is_ok());
}
