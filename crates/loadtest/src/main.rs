//! `apiome-load`: seeds a database of the size the performance issue names,
//! starts the release `apiome` on loopback, drives it (and, for tokens and
//! introspection, a locally installed `oidc-provider`) with a bounded
//! closed-loop load, and prints one Markdown table.
//!
//! ```sh
//! cargo run --release -p loadtest -- bench            # seed if needed, then the table
//! cargo run --release -p loadtest -- bench --scale 10 # a 10x smaller seed
//! ```
//!
//! Every loop is bounded in time (`--seconds`) and in requests
//! (`--max-requests`); every target is 127.0.0.1.

mod drive;
mod http;
mod peer;
mod seed;
mod serve;
mod workloads;
mod writes;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "apiome-load",
    about = "Seed, drive and measure apiome against a peer"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone, Copy)]
struct Size {
    /// Divide every seeded count by this (1, 10, 100, 1000: the scaling curve).
    #[arg(long, default_value_t = 1)]
    scale: u64,
}

impl Size {
    fn plan(self) -> seed::Plan {
        seed::Plan::full().scaled(self.scale)
    }
}

#[derive(clap::Args, Clone)]
struct Load {
    /// Concurrent connections per workload.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Measured seconds per workload (after one second of warm-up).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// A bound on requests per workload, whatever the time.
    #[arg(long, default_value_t = 2_000_000)]
    max_requests: u64,
    /// Workloads to run (token, introspect, data, request, proof).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "token,introspect,data,request,proof"
    )]
    only: Vec<String>,
    /// The `apiome` binary (default: `target/dist/apiome`, built first).
    #[arg(long)]
    apiome: Option<PathBuf>,
    /// Skip the oidc-provider peer.
    #[arg(long)]
    no_peer: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Creates (or reuses) a seeded data directory and prints its summary.
    Seed {
        #[command(flatten)]
        size: Size,
        /// Where (default `target/bench/seed-SCALE`). A named directory is
        /// seeded only if empty or new, and reused only if it holds a seed
        /// of this `--scale`; it is never deleted.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Seeds if needed, starts the server and the peer, prints the table.
    Bench {
        #[command(flatten)]
        size: Size,
        #[command(flatten)]
        load: Load,
        /// The seed to serve (default `target/bench/seed-SCALE`), as for `seed`.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

/// The workspace root, from this crate's manifest directory.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The seed directory, and whether it is the harness's own (under
/// `target/bench`), which it may clear and seed again; a directory named
/// with `--data-dir` is never deleted.
fn seed_dir(data_dir: Option<PathBuf>, scale: u64) -> (PathBuf, seed::Ownership) {
    match data_dir {
        Some(dir) => (dir, seed::Ownership::Named),
        None => (
            workspace_root().join(format!("target/bench/seed-{scale}")),
            seed::Ownership::Harness,
        ),
    }
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Seed { size, data_dir } => {
                let (dir, ours) = seed_dir(data_dir, size.scale);
                let seeded = seed::ensure(&dir, size.plan(), ours).await?;
                println!("{}", serde_json::to_string_pretty(&seeded.summary())?);
                Ok(())
            }
            Command::Bench {
                size,
                load,
                data_dir,
            } => {
                let (dir, ours) = seed_dir(data_dir, size.scale);
                let seeded = seed::ensure(&dir, size.plan(), ours).await?;
                bench(&dir, &seeded, &load).await
            }
        }
    })
}

async fn bench(dir: &Path, seeded: &seed::Seeded, load: &Load) -> Result<()> {
    let apiome = match &load.apiome {
        Some(path) => path.clone(),
        None => serve::build_release()?,
    };
    let settings = drive::Settings {
        connections: load.connections,
        warm_up: Duration::from_secs(1),
        measure: Duration::from_secs(load.seconds),
        max_requests: load.max_requests,
    };
    let wants = |name: &str| load.only.iter().any(|w| w == name);

    let server = serve::Server::start(&apiome, dir).await?;
    let mut rows = Vec::new();
    let result = workloads::apiome(&server, seeded, &settings, &wants, &mut rows).await;
    let memory = server.peak_memory();
    let writes = drive::client()
        .get(format!("{}/metrics", server.admin))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status);
    let writes = match writes {
        Ok(answer) => answer.text().await.map(|text| writes::summary(&text)),
        Err(error) => Err(error),
    };
    server.stop();
    result?;

    let mut peer_rows = Vec::new();
    if !load.no_peer && (wants("token") || wants("introspect")) {
        let peer = peer::Peer::start(&workspace_root())
            .await
            .context("starting the oidc-provider peer (crates/loadtest/peer/run-peer)")?;
        let result = workloads::peer(&peer, &settings, &wants, &mut peer_rows).await;
        peer.stop();
        result?;
    }

    println!();
    println!(
        "apiome-load: seed {} people, {} companies, {} grants, {} ledger entries; \
         {} connections, {} s per workload after 1 s warm-up; {} cores shared by server and load",
        seeded.people,
        seeded.companies,
        seeded.grants,
        seeded.ledger_size,
        settings.connections,
        load.seconds,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    println!();
    println!("| workload | server | requests/s | p50 | p99 | errors | vs peer | CPU stolen |");
    println!("|---|---|---|---|---|---|---|---|");
    for row in &rows {
        let ratio = peer_rows
            .iter()
            .find(|p: &&workloads::Row| p.workload == row.compare_with)
            .map(|p| format!("{:.1}x", row.stats.rate() / p.stats.rate().max(1e-9)))
            .unwrap_or_default();
        println!("{}", row.markdown("apiome", &ratio));
    }
    for row in &peer_rows {
        println!("{}", row.markdown("oidc-provider", ""));
    }
    println!();
    match memory {
        Some(kib) => println!(
            "apiome peak resident memory (VmHWM): {:.1} MiB",
            kib as f64 / 1024.0
        ),
        None => println!("apiome peak resident memory: unavailable"),
    }
    match writes {
        Ok(summary) => {
            println!();
            println!("apiome's SQLite writers over the run (from its /metrics):");
            print!("{summary}");
        }
        Err(error) => println!("apiome's /metrics: unavailable ({error})"),
    }
    // A figure made of wrong answers is no figure.
    let failed: Vec<&str> = rows
        .iter()
        .chain(&peer_rows)
        .filter(|r| r.stats.errors > 0 || r.stats.ok == 0)
        .map(|r| r.workload)
        .collect();
    if !failed.is_empty() {
        anyhow::bail!("workloads with errors or no answers: {}", failed.join(", "));
    }
    Ok(())
}
