//! The `verify` command: checkpoint, entries, tree, consistency, books.

use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ledger::{Applied, Books, Checkpoint, Entry, Frontier, Hash, NoteVerifier};
use serde::Deserialize;

/// Entries asked for per request: the server's page bound.
const PAGE: u64 = 1000;
/// How long one HTTP request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// What `verify` was given.
pub struct Args {
    /// The server's base URL.
    pub url: String,
    /// The pinned verifier key.
    pub key: String,
    /// The auditor's client id.
    pub client_id: String,
    /// The auditor's client secret.
    pub client_secret: String,
    /// Where the last verified checkpoint is kept.
    pub state: Option<PathBuf>,
}

/// What a successful run found.
pub struct Summary {
    origin: String,
    tree_size: u64,
    root: Hash,
    entries_checked: u64,
    money_entries: u64,
    transfers: usize,
    accounts: usize,
    previous: Option<u64>,
    elapsed: Duration,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let consistency = match self.previous {
            Some(size) => format!(
                "it is consistent with the previously verified checkpoint of size {size} (the log only grew)"
            ),
            None => "no previous checkpoint was given, so growth was not checked".to_owned(),
        };
        write!(
            f,
            "OK: the log {} of tree size {} with root {} is signed by the pinned key; \
             all {} entries were downloaded, decoded and hashed, and their RFC 9162 root \
             equals the checkpoint's; {consistency}; {} money entries replayed into {} \
             transfers over {} accounts, debits equal credits, no wallet is negative, no \
             payout exceeds the person's earnings and no transfer was applied twice (balances ok), in {:.1} s.",
            self.origin,
            self.tree_size,
            BASE64.encode(self.root),
            self.entries_checked,
            self.money_entries,
            self.transfers,
            self.accounts,
            self.elapsed.as_secs_f64(),
        )
    }
}

#[derive(Deserialize)]
struct TokenBody {
    access_token: String,
}

#[derive(Deserialize)]
struct EntriesBody {
    entries: Vec<EntryBody>,
}

#[derive(Deserialize)]
struct EntryBody {
    index: u64,
    leaf: String,
}

#[derive(Deserialize)]
struct ProofBody {
    proof: Vec<String>,
}

#[derive(Deserialize)]
struct InclusionBody {
    proof: Vec<String>,
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

fn hashes(list: &[String]) -> anyhow::Result<Vec<Hash>> {
    list.iter()
        .map(|h| {
            BASE64
                .decode(h)
                .ok()
                .and_then(|b| Hash::try_from(b.as_slice()).ok())
                .ok_or_else(|| anyhow!("the server sent a proof hash that is not 32 base64 bytes"))
        })
        .collect()
}

impl Client {
    async fn get(&self, path: &str) -> anyhow::Result<reqwest::Response> {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("GET {path}"))?;
        if !response.status().is_success() {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            bail!(
                "GET {path} answered {status}: {}",
                body.chars().take(500).collect::<String>()
            );
        }
        Ok(response)
    }

    async fn consistency(&self, first: u64, second: u64) -> anyhow::Result<Vec<Hash>> {
        let body: ProofBody = self
            .get(&format!(
                "/v1/ledger/proofs/consistency?first={first}&second={second}"
            ))
            .await?
            .json()
            .await
            .context("reading a consistency proof")?;
        hashes(&body.proof)
    }

    async fn inclusion(&self, index: u64, tree_size: u64) -> anyhow::Result<Vec<Hash>> {
        let body: InclusionBody = self
            .get(&format!(
                "/v1/ledger/proofs/inclusion?index={index}&tree_size={tree_size}"
            ))
            .await?
            .json()
            .await
            .context("reading an inclusion proof")?;
        hashes(&body.proof)
    }
}

/// Runs the whole verification.
pub async fn run(args: &Args) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let verifier = NoteVerifier::from_vkey(args.key.trim())
        .map_err(|e| anyhow!("--key is not a verifier key: {e}"))?;
    let http = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .context("building the HTTP client")?;
    let base = args.url.trim_end_matches('/').to_owned();

    let token: TokenBody = {
        let response = http
            .post(format!("{base}/oauth/token"))
            .basic_auth(&args.client_id, Some(&args.client_secret))
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", "ledger:read"),
            ])
            .send()
            .await
            .context("asking /oauth/token for an access token")?;
        if !response.status().is_success() {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            bail!("the token endpoint refused the auditor credentials ({status}): {body}");
        }
        response
            .json()
            .await
            .context("reading the token response")?
    };
    let client = Client {
        http,
        base,
        token: token.access_token,
    };

    let note = client
        .get("/v1/ledger/checkpoint")
        .await?
        .text()
        .await
        .context("reading the checkpoint")?;
    let checkpoint = ledger::open_checkpoint(&note, &verifier)
        .map_err(|e| anyhow!("the checkpoint is not signed by the pinned key: {e}"))?;
    let tree_size = checkpoint.tree_size();
    let root = *checkpoint.root_hash();

    let previous = match &args.state {
        Some(path) if path.exists() => {
            let old_note = std::fs::read_to_string(path)
                .with_context(|| format!("reading the state file {}", path.display()))?;
            let old = ledger::open_checkpoint(&old_note, &verifier).map_err(|e| {
                anyhow!(
                    "the state file {} holds no checkpoint signed by the pinned key: {e}",
                    path.display()
                )
            })?;
            check_growth(&client, &old, &checkpoint).await?;
            Some(old.tree_size())
        }
        _ => None,
    };

    let mut frontier = Frontier::new();
    let mut books = Books::new();
    let mut money_entries = 0u64;
    while frontier.len() < tree_size {
        let start = frontier.len();
        let end = (start + PAGE).min(tree_size);
        let page: EntriesBody = client
            .get(&format!("/v1/ledger/entries?start={start}&end={end}"))
            .await?
            .json()
            .await
            .with_context(|| format!("reading entries {start}..{end}"))?;
        if page.entries.len() as u64 != end - start {
            bail!(
                "asked for entries {start}..{end}, got {} entries",
                page.entries.len()
            );
        }
        let mut leaves = Vec::with_capacity(page.entries.len());
        for (expected, body) in (start..end).zip(&page.entries) {
            if body.index != expected {
                bail!(
                    "entry {expected}: the server sent index {} in its place",
                    body.index
                );
            }
            let leaf = BASE64
                .decode(&body.leaf)
                .map_err(|e| anyhow!("entry {expected}: its leaf is not base64: {e}"))?;
            frontier.append(&leaf);
            leaves.push(leaf);
        }
        // The prefix rebuilt so far must be the one the checkpoint commits to.
        let proof = client.consistency(end, tree_size).await?;
        if ledger::verify_consistency(end, tree_size, &frontier.root(), &root, &proof).is_err() {
            let index = locate(&client, start, &leaves, tree_size, &root).await?;
            bail!(
                "entry {index}: its bytes are not the ones the signed checkpoint (tree size \
                 {tree_size}) commits to: the entry was altered after it was logged"
            );
        }
        for (index, leaf) in (start..end).zip(&leaves) {
            let entry = Entry::decode(leaf)
                .map_err(|e| anyhow!("entry {index}: its bytes do not decode: {e}"))?;
            match books.apply(&entry) {
                Ok(Applied::NotMoney) => {}
                Ok(Applied::Applied) => money_entries += 1,
                Ok(Applied::AlreadyApplied) => bail!(
                    "entry {index}: it applies a transfer that was already applied ({})",
                    entry.kind.name()
                ),
                Err(e) => bail!(
                    "entry {index}: the books refuse it ({}): {e}",
                    entry.kind.name()
                ),
            }
        }
    }
    if frontier.root() != root {
        bail!(
            "the root of all {tree_size} entries is {}, the checkpoint says {}",
            BASE64.encode(frontier.root()),
            BASE64.encode(root)
        );
    }
    books.check_invariants().map_err(|e| {
        anyhow!("the books rebuilt from all {tree_size} entries break an invariant: {e}")
    })?;

    if let Some(path) = &args.state {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, &note)
            .and_then(|()| std::fs::rename(&tmp, path))
            .with_context(|| format!("saving the checkpoint to {}", path.display()))?;
    }
    Ok(Summary {
        origin: checkpoint.origin().to_owned(),
        tree_size,
        root,
        entries_checked: frontier.len(),
        money_entries,
        transfers: books.transfers().count(),
        accounts: books.accounts().count(),
        previous,
        elapsed: started.elapsed(),
    })
}

/// Proves that `new` extends `old`: a smaller size, a different root at the
/// same size, or a consistency proof that does not verify means history
/// was rewritten or cut.
async fn check_growth(client: &Client, old: &Checkpoint, new: &Checkpoint) -> anyhow::Result<()> {
    let (first, second) = (old.tree_size(), new.tree_size());
    if second < first {
        bail!(
            "the log shrank: the last verified checkpoint had {first} entries, this one has \
             {second}; entries {second}..{first} were removed"
        );
    }
    let proof = client.consistency(first, second).await?;
    ledger::verify_consistency(first, second, old.root_hash(), new.root_hash(), &proof).map_err(
        |e| {
            anyhow!(
                "the checkpoint of size {second} is not consistent with the last verified one \
                 of size {first} ({e}): the first {first} entries were rewritten"
            )
        },
    )
}

/// Finds the first leaf of a page that the checkpoint does not include,
/// with one inclusion proof per leaf (only when a page already failed).
async fn locate(
    client: &Client,
    start: u64,
    leaves: &[Vec<u8>],
    tree_size: u64,
    root: &Hash,
) -> anyhow::Result<u64> {
    for (index, leaf) in (start..).zip(leaves) {
        let proof = client.inclusion(index, tree_size).await?;
        if ledger::verify_inclusion(&ledger::leaf_hash(leaf), index, tree_size, &proof, root)
            .is_err()
        {
            return Ok(index);
        }
    }
    Err(anyhow!(
        "entries {start}..{} do not match the signed checkpoint, yet each has a valid \
         inclusion proof: the server's proofs contradict each other",
        start + leaves.len() as u64
    ))
}
