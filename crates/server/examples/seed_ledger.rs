//! Seeds a SQLite database with a large, valid ledger and measures the two
//! store-level figures of docs/benchmarks.md: appends per second with
//! batching, and inclusion proofs per second at that size.
//!
//! ```sh
//! cargo run --release -p server --example seed_ledger -- /tmp/apiome-bench/data 1000000
//! ```
//!
//! The database is `<data dir>/apiome.db`, where `apiome serve --data-dir`
//! finds it. Every tenth entry is money (a wallet top-up, a held payment and
//! its posting), so `apiome-audit verify` replays real books.

#![allow(clippy::unwrap_used, reason = "a benchmark tool: a failure aborts it")]

use std::time::Instant;

use ledger::{Currency, Entry, EntryKind, Money, NameList, ShortText};
use store::{DatabaseUrl, Store};

fn text(s: String) -> ShortText {
    ShortText::new(s).unwrap()
}

/// The `i`th entry of a plausible log.
fn entry(i: u64, eur: Currency) -> Entry {
    let company = text(format!("company-{}", i % 97));
    let person = text(format!("p-{:032x}", i % 10_007));
    let time = 1_764_000_000_000 + i as i64;
    let kind = match i % 10 {
        0 => EntryKind::WalletFunded {
            transfer_id: text(format!("fund-{i}")),
            company_id: company,
            amount: Money::new(1_000_000, eur),
        },
        1 => EntryKind::TransferPending {
            transfer_id: text(format!("pay-{i}")),
            company_id: text(format!("company-{}", (i - 1) % 97)),
            person,
            amount: Money::new(50_000, eur),
        },
        2 => EntryKind::TransferPosted {
            transfer_id: text(format!("pay-{}", i - 1)),
        },
        3 | 6 => EntryKind::GrantCreated {
            grant_id: text(format!("grant-{i}")),
            request_id: text(format!("req-{i}")),
            company_id: company,
            person,
            attributes: NameList::from_strs(&["email", "interests"]).unwrap(),
            purpose: text("marketing".to_owned()),
            duration_secs: 2_592_000,
            price: Some(Money::new(50_000, eur)),
            receipt: None,
        },
        _ => EntryKind::Disclosure {
            grant_id: text(format!("grant-{}", i - i % 3)),
            company_id: company,
            person,
            attributes: NameList::from_strs(&["email", "interests"]).unwrap(),
            withheld: NameList::default(),
        },
    };
    Entry::new(time, kind)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let data_dir =
        std::path::PathBuf::from(args.next().expect("usage: seed_ledger DATA_DIR COUNT"));
    let count: u64 = args
        .next()
        .expect("usage: seed_ledger DATA_DIR COUNT")
        .parse()
        .unwrap();
    let proofs: u64 = args.next().map_or(20_000, |n| n.parse().unwrap());
    std::fs::create_dir_all(&data_dir).unwrap();
    let url = DatabaseUrl::Sqlite(data_dir.join("apiome.db"));
    let keys = server::data_keys::load(&data_dir).unwrap();
    let store = Store::open(&url, keys).await.unwrap();
    store.migrate().await.unwrap();
    let eur = Currency::new("EUR").unwrap();

    let start_size = store.ledger_size().await.unwrap();
    let batch = store::MAX_APPEND_ENTRIES as u64;
    let started = Instant::now();
    let mut next = start_size;
    while next < start_size + count {
        let n = batch.min(start_size + count - next);
        let entries: Vec<Entry> = (next..next + n).map(|i| entry(i, eur)).collect();
        store.append_standalone(&entries).await.unwrap();
        next += n;
    }
    let append_s = started.elapsed().as_secs_f64();
    let size = store.ledger_size().await.unwrap();
    println!(
        "appended {count} entries in batches of {batch}: {append_s:.1} s, {:.0} entries/s; log size {size}",
        count as f64 / append_s
    );

    // Inclusion proofs at the full size, for indices spread over the log.
    // The first pass reads every upper subtree once into the store's
    // cache (and the file into the OS page cache); the second is warm.
    for pass in ["cold", "warm"] {
        let started = Instant::now();
        let mut index = 0u64;
        for _ in 0..proofs {
            index = (index + 7_919_993) % size;
            let proof = store.inclusion_proof(index, size).await.unwrap();
            assert!(proof.proof.len() <= 64);
        }
        let proof_s = started.elapsed().as_secs_f64();
        println!(
            "{proofs} inclusion proofs at tree size {size}, one task, {pass}: {proof_s:.2} s, {:.0} proofs/s",
            proofs as f64 / proof_s
        );
    }
    let started = Instant::now();
    let tasks: Vec<_> = (0..2u64)
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut index = t;
                for _ in 0..proofs / 2 {
                    index = (index + 7_919_993) % size;
                    store.inclusion_proof(index, size).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let proof_s = started.elapsed().as_secs_f64();
    println!(
        "{proofs} inclusion proofs at tree size {size}, two tasks, warm: {proof_s:.2} s, {:.0} proofs/s",
        proofs as f64 / proof_s
    );
}
