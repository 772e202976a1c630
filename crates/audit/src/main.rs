//! `apiome-audit`: checks an apiome ledger from the outside.
//!
//! `apiome-audit verify` fetches the signed checkpoint, checks its signature
//! against the pinned verifier key, downloads every entry in pages while
//! keeping only the tree's frontier (O(log n) memory for the tree), and
//! proves page by page that the prefix it rebuilt is the one the checkpoint
//! commits to (RFC 9162 consistency proofs); on a mismatch it finds the
//! damaged entry with inclusion proofs and names its index. It replays the
//! money entries into double-entry books and checks their invariants, and
//! with `--state` proves that the log only grew since the last run.
//!
//! `apiome-audit receipt FILE_OR_URL` checks one consent receipt: its JWS
//! against the server's JWKS, and its hash in the ledger entry it names,
//! proved included in a checkpoint signed by the pinned key.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod receipt;
mod verify;

/// Verifies an apiome transparency log without trusting the server.
#[derive(Parser)]
#[command(name = "apiome-audit", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Verify the whole log against its latest signed checkpoint.
    Verify {
        /// The server's base URL, e.g. https://apiome.example.
        #[arg(long)]
        url: String,
        /// The log's verifier key (`name+keyid+base64`, as served at
        /// /v1/ledger/public-key), pinned out of band.
        #[arg(long, env = "APIOME_AUDIT_KEY")]
        key: String,
        /// The auditor's client id (from `apiome auditor create`).
        #[arg(long, env = "APIOME_AUDIT_CLIENT_ID", allow_hyphen_values = true)]
        client_id: String,
        /// The auditor's client secret (it may start with `-`).
        #[arg(
            long,
            env = "APIOME_AUDIT_CLIENT_SECRET",
            hide_env_values = true,
            allow_hyphen_values = true
        )]
        client_secret: String,
        /// A file holding the last verified checkpoint: read to prove the
        /// log only grew since, written with the new one on success.
        #[arg(long)]
        state: Option<PathBuf>,
    },
    /// Check one consent receipt against the JWKS and the log.
    Receipt {
        /// The receipt's JSON (as `GET /v1/me/receipts/{id}` serves it): a
        /// file, or an http(s) URL.
        source: String,
        /// The log's verifier key, pinned out of band.
        #[arg(long, env = "APIOME_AUDIT_KEY")]
        key: String,
        /// The server's base URL [default: the receipt's `iss`].
        #[arg(long)]
        url: Option<String>,
        /// A bearer token sent when SOURCE is a URL.
        #[arg(long, env = "APIOME_AUDIT_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("apiome-audit: cannot start: {e}");
            return ExitCode::from(2);
        }
    };
    match cli.command {
        Command::Verify {
            url,
            key,
            client_id,
            client_secret,
            state,
        } => {
            let args = verify::Args {
                url,
                key,
                client_id,
                client_secret,
                state,
            };
            match runtime.block_on(verify::run(&args)) {
                Ok(summary) => {
                    println!("{summary}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("apiome-audit: verification FAILED: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Receipt {
            source,
            key,
            url,
            token,
        } => {
            let args = receipt::Args {
                source,
                key,
                url,
                token,
            };
            match runtime.block_on(receipt::run(&args)) {
                Ok(summary) => {
                    println!("{summary}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("apiome-audit: receipt check FAILED: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
