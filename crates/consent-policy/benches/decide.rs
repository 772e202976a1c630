//! One decision for a realistic person: 50 recorded attributes, 30 rules that
//! mostly do not match (so all are scanned), a request for 5 attributes.

use std::hint::black_box;

use consent_policy::{
    AttributeKey, AttributeMatch, Bucket, CompanyId, CompanyMatch, Currency, DataRequest, Effect,
    GrantDuration, Money, Profile, Purpose, PurposeMatch, Rule, SharingDefault, decide,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn key(text: &str) -> AttributeKey {
    AttributeKey::parse(text).expect("benchmark keys are valid")
}

fn company(text: &str) -> CompanyId {
    CompanyId::parse(text).expect("benchmark ids are valid")
}

fn person() -> Profile {
    let mut profile = Profile {
        default: SharingDefault::AskMe,
        ..Profile::default()
    };
    for (i, k) in AttributeKey::catalogue().enumerate() {
        profile.buckets.insert(k, Bucket::ALL[i % 3]);
    }
    for i in 0..38 {
        profile
            .buckets
            .insert(key(&format!("x-custom-{i}")), Bucket::ALL[i % 3]);
    }
    assert_eq!(profile.buckets.len(), 50);
    profile.buckets.insert(key("email"), Bucket::SemiPrivate);
    profile.buckets.insert(key("interests"), Bucket::Public);
    profile
        .buckets
        .insert(key("location_city"), Bucket::SemiPrivate);
    profile
        .buckets
        .insert(key("x-custom-7"), Bucket::SemiPrivate);
    for i in 0..29 {
        let rule = match i % 5 {
            // Another company.
            0 => Rule::new(
                CompanyMatch::Only(company(&format!("other-{i}"))),
                PurposeMatch::Any,
                AttributeMatch::Any,
                Effect::Allow,
            ),
            // Other purposes.
            1 => Rule::new(
                CompanyMatch::Any,
                PurposeMatch::one_of([Purpose::Research, Purpose::Analytics]),
                AttributeMatch::Any,
                Effect::Deny,
            ),
            // Keys not in the request.
            2 => Rule::new(
                CompanyMatch::Only(company("acme")),
                PurposeMatch::one_of([Purpose::Marketing]),
                AttributeMatch::keys([key("phone"), key("occupation"), key("x-custom-30")]),
                Effect::Allow,
            ),
            // An offer in another currency.
            3 => Rule::new(
                CompanyMatch::Any,
                PurposeMatch::Any,
                AttributeMatch::Bucket(Bucket::SemiPrivate),
                Effect::Allow,
            )
            .with_min_offer(Money::new(10_000, Currency::EUR)),
            // Too short a grant.
            _ => Rule::new(
                CompanyMatch::Any,
                PurposeMatch::Any,
                AttributeMatch::Any,
                Effect::Allow,
            )
            .with_max_duration(GrantDuration::parse("P7D").expect("valid duration")),
        };
        profile.rules.push(rule);
    }
    // The last rule matches two of the requested attributes.
    profile.rules.push(
        Rule::new(
            CompanyMatch::Only(company("acme")),
            PurposeMatch::one_of([Purpose::Marketing]),
            AttributeMatch::keys([key("email"), key("x-custom-7")]),
            Effect::Allow,
        )
        .with_min_offer(Money::new(50_000, Currency::USD)),
    );
    assert_eq!(profile.rules.len(), 30);
    profile.blocked.insert(company("spamco"));
    profile
}

fn bench_decide(c: &mut Criterion) {
    let profile = person();
    let acme = company("acme");
    let request = DataRequest::parse_json(
        r#"{"type": "apiome_data",
            "attributes": ["email", "interests", "location_city", "x-custom-7", "birth_date"],
            "purpose": "marketing", "duration": "P30D",
            "offer": {"amount_micros": 50000, "currency": "USD"}}"#,
        &profile.max_duration,
    )
    .expect("valid request");
    let decision = decide(&profile, &acme, &request);
    assert_eq!(decision.allowed().count(), 3);

    let mut group = c.benchmark_group("decide");
    group.throughput(Throughput::Elements(1));
    group.bench_function("50_attributes_30_rules_5_requested", |b| {
        b.iter(|| decide(black_box(&profile), black_box(&acme), black_box(&request)));
    });
    group.finish();
}

criterion_group!(benches, bench_decide);
criterion_main!(benches);
