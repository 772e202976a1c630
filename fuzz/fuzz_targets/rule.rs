//! A rule body as `POST /v1/me/rules` reads it: JSON text to a value, then
//! `serde_json::from_value::<consent_policy::Rule>`.
//!
//! Beyond "no panic": a rule that parses keeps the bounds its type promises
//! (a purpose list is never empty, a key list holds 1 to `MAX_KEYS_PER_RULE`
//! keys, a company id is valid), round-trips through its own JSON, and can be
//! described and matched.
#![no_main]

use consent_policy::{
    AttributeMatch, Bucket, CompanyId, CompanyMatch, DataRequest, GrantDuration, MAX_GRANT_SECS,
    MAX_KEYS_PER_RULE, PurposeMatch, Rule,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let Ok(rule) = serde_json::from_value::<Rule>(value) else {
        return;
    };

    match &rule.purposes {
        PurposeMatch::Any => {}
        PurposeMatch::OneOf(purposes) => assert!(!purposes.is_empty()),
    }
    match &rule.attributes {
        AttributeMatch::Any | AttributeMatch::Bucket(_) => {}
        AttributeMatch::Keys(keys) => assert!((1..=MAX_KEYS_PER_RULE).contains(&keys.len())),
    }
    if let CompanyMatch::Only(id) = &rule.company {
        assert_eq!(CompanyId::parse(id.as_str()).as_ref(), Ok(id));
    }
    if let Some(max) = &rule.max_duration {
        assert!(max.as_secs() > 0 && max.as_secs() <= MAX_GRANT_SECS);
    }

    // What the server stores and lists is the rule's own JSON: it reads back the same.
    let json = serde_json::to_string(&rule).expect("a rule serialises");
    let back: Rule = serde_json::from_str(&json).expect("a rule's own JSON parses");
    assert_eq!(back, rule);
    let back: Rule =
        serde_json::from_value(serde_json::to_value(&rule).expect("a rule serialises"))
            .expect("a rule's own JSON value parses");
    assert_eq!(back, rule);

    // Describing and matching never fail.
    assert!(!rule.describe().is_empty());
    let company = CompanyId::parse("acme").expect("a valid company id");
    let request = DataRequest::parse_json(
        r#"{"type":"apiome_data","attributes":["email","x-shoe-size"],"purpose":"marketing","duration":"P30D","offer":{"amount_micros":50000,"currency":"USD"}}"#,
        &GrantDuration::one_year(),
    )
    .expect("the sample request is valid");
    let _ = rule.matches_request(&company, &request);
    for key in request.attributes() {
        let _ = rule.matches(&company, &request, key, Bucket::Public);
    }
});
