//! The pure core of the apiome ledger: a tamper-evident, append-only log of
//! consent and money events that an auditor can verify without trusting the
//! server, and the double-entry books those events describe.
//!
//! No I/O, no clock, no randomness: times, keys and ids come in as values.
//!
//! # The pieces
//!
//! * [`merkle`] — the log is a Merkle tree hashed exactly as RFC 9162 §2.1
//!   (SHA-256; leaf = H(0x00 || bytes); node = H(0x01 || left || right);
//!   empty tree = H("")). [`Tree`] holds it in memory; [`HashStore`] lets the
//!   server answer from the perfect-subtree hashes it keeps in its database.
//! * [`proof`] — inclusion and consistency proofs (RFC 9162 §2.1.3, §2.1.4),
//!   their verifiers, and the list of nodes a store must load for each.
//! * [`checkpoint`] — the C2SP `tlog-checkpoint` body (origin, tree size,
//!   base64 root hash, optional extension lines) and its signing.
//! * [`note`] — C2SP `signed-note` with Ed25519 keys: `— <name> <base64(key
//!   ID || signature)>` lines, `name+id+key` verifier keys, as Go's
//!   `golang.org/x/mod/sumdb/note` writes them.
//! * [`entry`] — the events (request made or decided, grant created, revoked
//!   or expired, disclosure, transfer pending, posted or voided, company
//!   blocked or unblocked, wallet funded) and their canonical, versioned byte
//!   encoding, which is the leaf data of the log. Entries name attributes,
//!   never hold their values.
//! * [`money`], [`account`], [`transfer`], [`books`] — double-entry books in
//!   integer micro-units: company wallets are funded, offers reserve money
//!   (pending), approval posts it, refusal voids it; each transfer applies
//!   at most once and debits always equal credits.
//!
//! # How they fit
//!
//! The server encodes an [`Entry`], checks it against its [`Books`] with
//! [`Books::apply`], appends [`Entry::encode`] as the next leaf, and
//! periodically signs a [`Checkpoint`] of the tree head with
//! [`sign_checkpoint`]. An auditor fetches the checkpoint note and verifies
//! it with [`open_checkpoint`], checks entries with [`verify_inclusion`],
//! checks that the log only grew with [`verify_consistency`], and rebuilds
//! the balances with [`Books::replay`].

pub mod account;
pub mod books;
pub mod checkpoint;
pub mod entry;
pub mod merkle;
pub mod money;
pub mod note;
pub mod proof;
pub mod receipt;
pub mod transfer;

pub use account::{AccountId, Balance};
pub use books::{Applied, Books, BooksError, InvariantError, ReplayError};
pub use checkpoint::{Checkpoint, CheckpointError, open_checkpoint, sign_checkpoint};
pub use entry::{Entry, EntryError, EntryKind, NameList, ShortText, to_hex};
pub use merkle::{
    EMPTY_ROOT, Frontier, Hash, HashStore, Tree, leaf_hash, node_hash, root_at, root_from_leaves,
};
pub use money::{Currency, Money};
pub use note::{NoteError, NoteSigner, NoteVerifier, open};
pub use proof::{
    MAX_PROOF_LEN, MAX_TREE_SIZE, NodeId, ProofError, VerifyError, consistency_proof,
    consistency_proof_nodes, inclusion_proof, inclusion_proof_nodes, root_nodes,
    verify_consistency, verify_inclusion,
};
pub use receipt::{ReceiptClaims, ReceiptEvent, receipt_hash};
pub use transfer::{Transfer, TransferState};
