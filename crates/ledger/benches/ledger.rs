//! Throughput of the ledger's hot paths at a realistic log size.
//!
//! Run with `cargo bench -p ledger --bench ledger`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ledger::{
    Checkpoint, Currency, Entry, EntryKind, Money, NameList, NoteSigner, ShortText, Tree,
    leaf_hash, open_checkpoint, sign_checkpoint, verify_consistency, verify_inclusion,
};

const LEAVES: u64 = 1_000_000;

fn million_leaf_tree() -> Tree {
    Tree::from_leaf_hashes((0..LEAVES).map(|i| leaf_hash(&i.to_be_bytes())))
}

fn text(s: &str) -> ShortText {
    ShortText::new(s).expect("benchmark text is short")
}

fn sample_entry() -> Entry {
    Entry::new(
        1_700_000_000_000,
        EntryKind::RequestMade {
            request_id: text("0b7f9a1e-3c55-4e1a-9d0e-5b2f6c7d8e9f"),
            company_id: text("acme-analytics"),
            person: text("p_5f1d0c8e2b7a4f93"),
            attributes: NameList::from_strs(&["email", "interests", "location_city"])
                .expect("three names fit"),
            purpose: text("marketing"),
            duration_secs: 30 * 24 * 3600,
            offer: Some(Money::new(
                50_000,
                Currency::new("USD").expect("USD is a currency code"),
            )),
        },
    )
}

fn merkle(c: &mut Criterion) {
    let tree = million_leaf_tree();
    let root = tree.root();
    let mut group = c.benchmark_group("merkle");
    group.throughput(Throughput::Elements(1));

    // Appends to one growing tree: each sample adds leaves past the first
    // million, so this is the amortised cost at that size.
    let mut growing = tree.clone();
    group.bench_function("append_1_leaf_to_1m", |b| {
        b.iter(|| growing.append(black_box(b"leaf")));
    });
    drop(growing);

    group.bench_function("root_at_1m", |b| {
        b.iter(|| tree.root_at(black_box(LEAVES - 1)));
    });

    let mut index = 0u64;
    group.bench_function("inclusion_proof_at_1m", |b| {
        b.iter(|| {
            index = (index + 7_919) % LEAVES;
            tree.inclusion_proof(black_box(index), LEAVES)
        });
    });

    let mut first = 1u64;
    group.bench_function("consistency_proof_at_1m", |b| {
        b.iter(|| {
            first = first % (LEAVES - 1) + 104_729;
            tree.consistency_proof(black_box(first.min(LEAVES - 1)), LEAVES)
        });
    });

    let proof_index = 123_457;
    let proof = tree
        .inclusion_proof(proof_index, LEAVES)
        .expect("index is in the tree");
    let leaf = tree.leaf(proof_index).expect("index is in the tree");
    group.bench_function("verify_inclusion_at_1m", |b| {
        b.iter(|| verify_inclusion(black_box(&leaf), proof_index, LEAVES, &proof, &root));
    });

    let first_size = 654_321;
    let first_root = tree.root_at(first_size).expect("size is in the tree");
    let consistency = tree
        .consistency_proof(first_size, LEAVES)
        .expect("sizes are in the tree");
    group.bench_function("verify_consistency_at_1m", |b| {
        b.iter(|| {
            verify_consistency(
                first_size,
                LEAVES,
                black_box(&first_root),
                &root,
                &consistency,
            )
        });
    });
    group.finish();
}

fn entries(c: &mut Criterion) {
    let entry = sample_entry();
    let bytes = entry.encode();
    let mut group = c.benchmark_group("entry");
    group.throughput(Throughput::Elements(1));
    group.bench_function("encode", |b| b.iter(|| black_box(&entry).encode()));
    group.bench_function("decode", |b| b.iter(|| Entry::decode(black_box(&bytes))));
    group.finish();
}

fn checkpoints(c: &mut Criterion) {
    let signer = NoteSigner::from_seed("apiome.example/ledger", [7; 32]).expect("valid key name");
    let verifier = signer.verifier();
    let checkpoint =
        Checkpoint::new("apiome.example/ledger", LEAVES, [9; 32]).expect("valid origin");
    let note = sign_checkpoint(&checkpoint, &signer);
    let mut group = c.benchmark_group("checkpoint");
    group.throughput(Throughput::Elements(1));
    group.bench_function("sign", |b| {
        b.iter(|| sign_checkpoint(black_box(&checkpoint), &signer))
    });
    group.bench_function("open", |b| {
        b.iter(|| open_checkpoint(black_box(&note), &verifier))
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = merkle, entries, checkpoints
}
criterion_main!(benches);
