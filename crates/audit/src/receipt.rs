//! The `receipt` command: checks one consent receipt against the log.
//!
//! 1. The JWS verifies (EdDSA) with the key its `kid` names in the
//!    server's JWKS (`/oauth/jwks`), and its `typ` is a receipt's.
//! 2. SHA-256 of the JWS is the hash the receipt document claims, and the
//!    one in the ledger entry it names (a `grant_created` / `grant_revoked`
//!    entry, kind 0x1a / 0x1b, of the grant the receipt records).
//! 3. That entry is in the log: its RFC 9162 inclusion proof at its index
//!    leads to the root of a checkpoint signed by the pinned log key.
//!
//! Nothing here needs an auditor's credentials: the receipt document
//! carries the entry's bytes, and checkpoints and proofs are public.

use std::fmt;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD as BASE64, URL_SAFE_NO_PAD as B64URL};
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use ledger::receipt::{RECEIPT_TYP, ReceiptClaims};
use ledger::{Entry, EntryKind, Hash, NoteVerifier, receipt_hash, to_hex};
use serde::Deserialize;

/// How long one HTTP request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// The largest receipt document read.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// What `receipt` was given.
pub struct Args {
    /// A file holding the receipt document, or an `http(s)://` URL serving it.
    pub source: String,
    /// The pinned log verifier key.
    pub key: String,
    /// The server's base URL; the receipt's `iss` when not given.
    pub url: Option<String>,
    /// A bearer token for a URL source (a company's access token).
    pub token: Option<String>,
}

/// The receipt document, as `GET /v1/me/receipts/{id}` serves it.
#[derive(Deserialize)]
struct Document {
    jws: String,
    sha256: Option<String>,
    ledger_index: Option<u64>,
    ledger_leaf: Option<String>,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: String,
    typ: Option<String>,
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kid: Option<String>,
    kty: String,
    crv: Option<String>,
    x: Option<String>,
}

#[derive(Deserialize)]
struct InclusionBody {
    proof: Vec<String>,
}

/// What a successful check found.
pub struct Summary {
    receipt_id: String,
    event: &'static str,
    kid: String,
    hash: Hash,
    index: u64,
    tree_size: u64,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "OK: receipt {} ({}) is signed by key {} of the server's JWKS; its SHA-256 {} is \
             in ledger entry {}, which is included in the checkpoint of tree size {} signed \
             by the pinned log key.",
            self.receipt_id,
            self.event,
            self.kid,
            to_hex(&self.hash),
            self.index,
            self.tree_size
        )
    }
}

/// Runs the check.
pub async fn run(args: &Args) -> anyhow::Result<Summary> {
    let verifier = NoteVerifier::from_vkey(args.key.trim())
        .map_err(|e| anyhow!("--key is not a verifier key: {e}"))?;
    let http = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .context("building the HTTP client")?;
    let document = load(&http, args).await?;
    let (header, claims) = parts(&document.jws)?;
    let base = args
        .url
        .clone()
        .unwrap_or_else(|| claims.iss.clone())
        .trim_end_matches('/')
        .to_owned();
    let jwks: Jwks = get(&http, &format!("{base}/oauth/jwks"))
        .await?
        .json()
        .await
        .context("reading the JWKS")?;
    verify_signature(&document.jws, &header, &jwks)?;

    let hash = receipt_hash(&document.jws);
    if let Some(claimed) = &document.sha256
        && !claimed.eq_ignore_ascii_case(&to_hex(&hash))
    {
        bail!(
            "the document says sha256 {claimed}, the JWS hashes to {}",
            to_hex(&hash)
        );
    }
    let index = document
        .ledger_index
        .ok_or_else(|| anyhow!("the receipt names no ledger entry yet"))?;
    let leaf = BASE64
        .decode(
            document
                .ledger_leaf
                .as_deref()
                .ok_or_else(|| anyhow!("the document carries no `ledger_leaf`"))?,
        )
        .map_err(|e| anyhow!("`ledger_leaf` is not base64: {e}"))?;
    check_entry(&leaf, &hash, &claims)?;

    let note = get(&http, &format!("{base}/v1/ledger/checkpoint"))
        .await?
        .text()
        .await
        .context("reading the checkpoint")?;
    let checkpoint = ledger::open_checkpoint(&note, &verifier)
        .map_err(|e| anyhow!("the checkpoint is not signed by the pinned key: {e}"))?;
    let tree_size = checkpoint.tree_size();
    if index >= tree_size {
        bail!(
            "entry {index} is not in the latest checkpoint yet (tree size {tree_size}); \
             checkpoints are signed every second, try again"
        );
    }
    let proof: InclusionBody = get(
        &http,
        &format!("{base}/v1/ledger/proofs/inclusion?index={index}&tree_size={tree_size}"),
    )
    .await?
    .json()
    .await
    .context("reading the inclusion proof")?;
    let proof = proof
        .proof
        .iter()
        .map(|h| {
            BASE64
                .decode(h)
                .ok()
                .and_then(|b| Hash::try_from(b.as_slice()).ok())
                .ok_or_else(|| anyhow!("a proof hash is not 32 base64 bytes"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    ledger::verify_inclusion(
        &ledger::leaf_hash(&leaf),
        index,
        tree_size,
        &proof,
        checkpoint.root_hash(),
    )
    .map_err(|e| {
        anyhow!("entry {index} is not the one the signed checkpoint includes at that index: {e}")
    })?;
    Ok(Summary {
        receipt_id: claims.receipt_id,
        event: claims.event.kind.as_str(),
        kid: header.kid,
        hash,
        index,
        tree_size,
    })
}

async fn load(http: &reqwest::Client, args: &Args) -> anyhow::Result<Document> {
    let bytes = if args.source.starts_with("http://") || args.source.starts_with("https://") {
        let mut request = http.get(&args.source);
        if let Some(token) = &args.token {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("GET {}", args.source))?;
        if !response.status().is_success() {
            bail!("GET {} answered {}", args.source, response.status());
        }
        response.bytes().await?.to_vec()
    } else {
        std::fs::read(&args.source).with_context(|| format!("reading {}", args.source))?
    };
    if bytes.len() > MAX_DOCUMENT_BYTES {
        bail!("the receipt document is over {MAX_DOCUMENT_BYTES} bytes");
    }
    serde_json::from_slice(&bytes).context("the receipt document is not a receipt's JSON")
}

async fn get(http: &reqwest::Client, url: &str) -> anyhow::Result<reqwest::Response> {
    let response = http
        .get(url)
        .send()
        .await
        .with_context(|| format!("GET {url}"))?;
    if !response.status().is_success() {
        bail!("GET {url} answered {}", response.status());
    }
    Ok(response)
}

fn parts(jws: &str) -> anyhow::Result<(Header, ReceiptClaims)> {
    let mut pieces = jws.split('.');
    let (Some(header), Some(payload), Some(_), None) =
        (pieces.next(), pieces.next(), pieces.next(), pieces.next())
    else {
        bail!("the receipt is not a compact JWS (three dot-separated parts)");
    };
    let header: Header = serde_json::from_slice(
        &B64URL
            .decode(header)
            .map_err(|e| anyhow!("the JWS header is not base64url: {e}"))?,
    )
    .context("the JWS header is not JSON")?;
    let claims: ReceiptClaims = serde_json::from_slice(
        &B64URL
            .decode(payload)
            .map_err(|e| anyhow!("the JWS payload is not base64url: {e}"))?,
    )
    .context("the JWS payload is not a receipt's claims")?;
    Ok((header, claims))
}

fn verify_signature(jws: &str, header: &Header, jwks: &Jwks) -> anyhow::Result<()> {
    if header.alg != "EdDSA" {
        bail!("the receipt is signed with {}, not EdDSA", header.alg);
    }
    if header.typ.as_deref() != Some(RECEIPT_TYP) {
        bail!("the JWS `typ` is not {RECEIPT_TYP}: it is not a consent receipt");
    }
    let jwk = jwks
        .keys
        .iter()
        .find(|k| k.kid.as_deref() == Some(header.kid.as_str()))
        .ok_or_else(|| anyhow!("the server's JWKS has no key {}", header.kid))?;
    if jwk.kty != "OKP" || jwk.crv.as_deref() != Some("Ed25519") {
        bail!("key {} is not an Ed25519 key", header.kid);
    }
    let x: [u8; 32] = jwk
        .x
        .as_deref()
        .and_then(|x| B64URL.decode(x).ok())
        .and_then(|x| x.try_into().ok())
        .ok_or_else(|| anyhow!("key {} has no 32-byte `x`", header.kid))?;
    let key = VerifyingKey::from_bytes(&x).map_err(|e| anyhow!("key {}: {e}", header.kid))?;
    let (signed, signature) = jws
        .rsplit_once('.')
        .ok_or_else(|| anyhow!("the JWS has no signature"))?;
    let signature: [u8; 64] = B64URL
        .decode(signature)
        .ok()
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| anyhow!("the JWS signature is not 64 base64url bytes"))?;
    key.verify(signed.as_bytes(), &Signature::from_bytes(&signature))
        .map_err(|_| {
            anyhow!(
                "the receipt's signature does not verify with key {}: it was altered",
                header.kid
            )
        })
}

fn check_entry(leaf: &[u8], hash: &Hash, claims: &ReceiptClaims) -> anyhow::Result<()> {
    let entry =
        Entry::decode(leaf).map_err(|e| anyhow!("the ledger entry does not decode: {e}"))?;
    let (grant_id, receipt) = match &entry.kind {
        EntryKind::GrantCreated {
            grant_id, receipt, ..
        }
        | EntryKind::GrantRevoked {
            grant_id, receipt, ..
        } => (grant_id, receipt),
        other => bail!("the ledger entry is a {}, not a grant's", other.name()),
    };
    if grant_id.as_str() != claims.record_id {
        bail!(
            "the ledger entry is grant {}'s, the receipt is grant {}'s",
            grant_id,
            claims.record_id
        );
    }
    match receipt {
        Some(logged) if logged == hash => Ok(()),
        Some(logged) => bail!(
            "the ledger entry holds receipt hash {}, this receipt hashes to {}",
            to_hex(logged),
            to_hex(hash)
        ),
        None => bail!("the ledger entry holds no receipt hash"),
    }
}
