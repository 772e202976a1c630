//! Access tokens: the signature on every token issued and the check on
//! every API call, first and later sight (`cargo bench -p authz --bench token`).

#![allow(missing_docs, clippy::unwrap_used, reason = "a benchmark")]

use std::hint::black_box;

use authz::{ClientId, KeySet, OsRandom, TokenSettings, UnixTime, VerifiedTokens};
use criterion::{Criterion, criterion_group, criterion_main};

fn tokens(c: &mut Criterion) {
    let now = UnixTime::from_secs(1_764_000_000);
    let keys = KeySet::generate(&mut OsRandom, now).unwrap();
    let settings =
        TokenSettings::new("https://apiome.example", "https://apiome.example", 300).unwrap();
    let client = ClientId::generate(&mut OsRandom).unwrap();
    let claims = settings
        .client_claims(&client, Some("requests"), now, &mut OsRandom)
        .unwrap();
    let token = keys.sign(&claims).unwrap();

    c.bench_function("jwt/sign_ed25519", |b| {
        b.iter(|| keys.sign(black_box(&claims)).unwrap())
    });
    c.bench_function("jwt/verify_ed25519", |b| {
        b.iter(|| keys.verify(black_box(&token), &settings, now).unwrap())
    });
    // A token seen before: its hash, a lookup, the time and key checks.
    let verified = VerifiedTokens::new(authz::verified::DEFAULT_CAPACITY);
    verified.verify(&keys, &token, &settings, now).unwrap();
    c.bench_function("jwt/verify_remembered", |b| {
        b.iter(|| {
            verified
                .verify(&keys, black_box(&token), &settings, now)
                .unwrap()
        })
    });
}

criterion_group!(benches, tokens);
criterion_main!(benches);
