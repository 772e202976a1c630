//! C2SP `tlog-checkpoint`: the signed statement of the log's size and head.
//!
//! ```text
//! <origin>\n
//! <tree size, decimal, no leading zeros>\n
//! <base64 (standard, padded) of the 32-byte root hash>\n
//! <optional extension lines, each non-empty>\n
//! ```
//!
//! A checkpoint is signed as a [signed note](crate::note); the log's key
//! name should equal the origin.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::merkle::Hash;
use crate::note::{self, NoteError, NoteSigner, NoteVerifier};

/// Longest origin line, in bytes.
pub const MAX_ORIGIN_BYTES: usize = 256;
/// Longest extension line, in bytes.
pub const MAX_EXTENSION_BYTES: usize = 1024;
/// Most extension lines in one checkpoint.
pub const MAX_EXTENSIONS: usize = 16;

/// Why a checkpoint was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The origin is empty, too long, or holds whitespace, a control character or `+`.
    #[error(
        "origin must be 1..={MAX_ORIGIN_BYTES} bytes with no whitespace, control character or '+'"
    )]
    InvalidOrigin,
    /// The body does not end in a newline.
    #[error("checkpoint body must end in a newline")]
    MissingFinalNewline,
    /// The body has fewer than three lines.
    #[error("checkpoint body needs origin, tree size and root hash lines")]
    MissingLine,
    /// The tree size line is not a canonical decimal `u64`.
    #[error("tree size must be decimal digits with no leading zero, fitting in 64 bits")]
    InvalidTreeSize,
    /// The root hash line is not canonical base64 of 32 bytes.
    #[error("root hash must be standard base64 of 32 bytes")]
    InvalidRootHash,
    /// An extension line is empty, too long or holds a control character.
    #[error("extension lines must be 1..={MAX_EXTENSION_BYTES} bytes with no control character")]
    InvalidExtension,
    /// More than [`MAX_EXTENSIONS`] extension lines.
    #[error("more than {MAX_EXTENSIONS} extension lines")]
    TooManyExtensions,
    /// The signed note around the checkpoint was refused.
    #[error(transparent)]
    Note(#[from] NoteError),
}

/// A log's tree head at one size, with its origin: the text of a checkpoint note.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Checkpoint {
    origin: String,
    tree_size: u64,
    #[serde(serialize_with = "serialize_base64")]
    root_hash: Hash,
    extensions: Vec<String>,
}

fn serialize_base64<S: serde::Serializer>(hash: &Hash, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&BASE64.encode(hash))
}

fn check_origin(origin: &str) -> Result<(), CheckpointError> {
    if origin.len() <= MAX_ORIGIN_BYTES && note::is_valid_key_name(origin) {
        Ok(())
    } else {
        Err(CheckpointError::InvalidOrigin)
    }
}

fn check_extension(line: &str) -> Result<(), CheckpointError> {
    let ok = !line.is_empty()
        && line.len() <= MAX_EXTENSION_BYTES
        && !line.chars().any(char::is_control);
    if ok {
        Ok(())
    } else {
        Err(CheckpointError::InvalidExtension)
    }
}

fn parse_tree_size(line: &str) -> Result<u64, CheckpointError> {
    let canonical = !line.is_empty()
        && line.bytes().all(|b| b.is_ascii_digit())
        && (line == "0" || !line.starts_with('0'));
    if !canonical {
        return Err(CheckpointError::InvalidTreeSize);
    }
    line.parse().map_err(|_| CheckpointError::InvalidTreeSize)
}

impl Checkpoint {
    /// A checkpoint with no extension lines.
    pub fn new(
        origin: impl Into<String>,
        tree_size: u64,
        root_hash: Hash,
    ) -> Result<Self, CheckpointError> {
        let origin = origin.into();
        check_origin(&origin)?;
        Ok(Self {
            origin,
            tree_size,
            root_hash,
            extensions: Vec::new(),
        })
    }

    /// Adds one extension line.
    pub fn with_extension(mut self, line: impl Into<String>) -> Result<Self, CheckpointError> {
        let line = line.into();
        check_extension(&line)?;
        if self.extensions.len() >= MAX_EXTENSIONS {
            return Err(CheckpointError::TooManyExtensions);
        }
        self.extensions.push(line);
        Ok(self)
    }

    /// The log's origin line.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Number of leaves in the tree this checkpoint commits to.
    pub fn tree_size(&self) -> u64 {
        self.tree_size
    }

    /// The tree head at that size.
    pub fn root_hash(&self) -> &Hash {
        &self.root_hash
    }

    /// The extension lines, in order.
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }

    /// The note text: origin, size, base64 root and extensions, each ending in `\n`.
    pub fn to_body(&self) -> String {
        let mut body = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.tree_size,
            BASE64.encode(self.root_hash)
        );
        for line in &self.extensions {
            body.push_str(line);
            body.push('\n');
        }
        body
    }

    /// Parses a note text strictly; `parse_body(c.to_body()) == c` for every checkpoint.
    pub fn parse_body(body: &str) -> Result<Self, CheckpointError> {
        let body = body
            .strip_suffix('\n')
            .ok_or(CheckpointError::MissingFinalNewline)?;
        let mut lines = body.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(CheckpointError::MissingLine);
        };
        check_origin(origin)?;
        let tree_size = parse_tree_size(size)?;
        let root_hash: Hash = BASE64
            .decode(root)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or(CheckpointError::InvalidRootHash)?;
        let mut checkpoint = Self::new(origin, tree_size, root_hash)?;
        for line in lines {
            checkpoint = checkpoint.with_extension(line)?;
        }
        Ok(checkpoint)
    }
}

/// Signs a checkpoint into a signed note.
pub fn sign_checkpoint(checkpoint: &Checkpoint, signer: &NoteSigner) -> String {
    signer
        .sign(&checkpoint.to_body())
        .expect("a checkpoint body is short, ends in a newline and holds no control character")
}

/// Verifies a signed checkpoint note by `verifier` and parses its body.
pub fn open_checkpoint(note: &str, verifier: &NoteVerifier) -> Result<Checkpoint, CheckpointError> {
    let text = note::open(note, verifier)?;
    Checkpoint::parse_body(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ORIGIN: &str = "apiome.example/ledger";

    fn signer() -> NoteSigner {
        NoteSigner::from_seed(ORIGIN, [42; 32]).unwrap()
    }

    #[test]
    fn c2sp_example_body_parses_and_round_trips() {
        let body =
            "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
        let checkpoint = Checkpoint::parse_body(body).unwrap();
        assert_eq!(checkpoint.origin(), "example.com/behind-the-sofa");
        assert_eq!(checkpoint.tree_size(), 20852163);
        assert_eq!(checkpoint.to_body(), body);
    }

    #[test]
    fn extension_lines_are_preserved() {
        let body = format!(
            "{ORIGIN}\n0\n{}\nTimestamp: 1\nfoo bar\n",
            BASE64.encode([0u8; 32])
        );
        let checkpoint = Checkpoint::parse_body(&body).unwrap();
        assert_eq!(checkpoint.extensions(), ["Timestamp: 1", "foo bar"]);
        assert_eq!(checkpoint.to_body(), body);
    }

    #[test]
    fn malformed_bodies_are_refused() {
        let root = BASE64.encode([1u8; 32]);
        let cases = [
            (
                format!("{ORIGIN}\n5\n{root}"),
                CheckpointError::MissingFinalNewline,
            ),
            (format!("{ORIGIN}\n5\n"), CheckpointError::MissingLine),
            (format!("\n5\n{root}\n"), CheckpointError::InvalidOrigin),
            (format!("a b\n5\n{root}\n"), CheckpointError::InvalidOrigin),
            (
                format!("{ORIGIN}\n05\n{root}\n"),
                CheckpointError::InvalidTreeSize,
            ),
            (
                format!("{ORIGIN}\n+5\n{root}\n"),
                CheckpointError::InvalidTreeSize,
            ),
            (
                format!("{ORIGIN}\n\n{root}\n"),
                CheckpointError::InvalidTreeSize,
            ),
            (
                format!("{ORIGIN}\n18446744073709551616\n{root}\n"),
                CheckpointError::InvalidTreeSize,
            ),
            (
                format!("{ORIGIN}\n5\n{}\n", BASE64.encode([1u8; 31])),
                CheckpointError::InvalidRootHash,
            ),
            (
                format!("{ORIGIN}\n5\n{}\n", root.trim_end_matches('=')),
                CheckpointError::InvalidRootHash,
            ),
            (
                format!("{ORIGIN}\n5\n{root}\n\n"),
                CheckpointError::InvalidExtension,
            ),
            (
                format!("{ORIGIN}\n5\n{root}\nbell\x07\n"),
                CheckpointError::InvalidExtension,
            ),
        ];
        for (body, want) in cases {
            assert_eq!(Checkpoint::parse_body(&body), Err(want), "{body:?}");
        }
        let many: String = (0..=MAX_EXTENSIONS).map(|i| format!("ext{i}\n")).collect();
        assert_eq!(
            Checkpoint::parse_body(&format!("{ORIGIN}\n5\n{root}\n{many}")),
            Err(CheckpointError::TooManyExtensions)
        );
        assert_eq!(
            Checkpoint::parse_body(&format!("{ORIGIN}\n{}\n{root}\n", u64::MAX))
                .unwrap()
                .tree_size(),
            u64::MAX
        );
    }

    #[test]
    fn signed_checkpoint_opens_to_the_same_checkpoint() {
        let checkpoint = Checkpoint::new(ORIGIN, 8, [7; 32]).unwrap();
        let note = sign_checkpoint(&checkpoint, &signer());
        assert!(note.starts_with(&checkpoint.to_body()));
        assert!(note.contains(&format!("\n\n— {ORIGIN} ")));
        let opened = open_checkpoint(&note, &signer().verifier()).unwrap();
        assert_eq!(opened, checkpoint);
    }

    #[test]
    fn checkpoint_signed_by_another_key_is_refused() {
        let checkpoint = Checkpoint::new(ORIGIN, 8, [7; 32]).unwrap();
        let other = NoteSigner::from_seed("someone.else", [1; 32]).unwrap();
        let note = sign_checkpoint(&checkpoint, &other);
        assert!(matches!(
            open_checkpoint(&note, &signer().verifier()),
            Err(CheckpointError::Note(NoteError::NotSignedByKey(_)))
        ));
    }

    #[test]
    fn tampered_tree_size_breaks_the_signature() {
        let checkpoint = Checkpoint::new(ORIGIN, 8, [7; 32]).unwrap();
        let note = sign_checkpoint(&checkpoint, &signer()).replacen("\n8\n", "\n9\n", 1);
        assert!(matches!(
            open_checkpoint(&note, &signer().verifier()),
            Err(CheckpointError::Note(NoteError::BadSignature(_)))
        ));
    }

    #[test]
    fn checkpoint_serialises_root_as_base64() {
        let checkpoint = Checkpoint::new(ORIGIN, 1, [0; 32]).unwrap();
        let json = serde_json::to_value(&checkpoint).unwrap();
        assert_eq!(json["root_hash"], BASE64.encode([0u8; 32]));
        assert_eq!(json["tree_size"], 1);
    }

    proptest! {
        #[test]
        fn every_checkpoint_round_trips_through_its_body(
            origin in "[a-z0-9./-]{1,40}",
            tree_size in any::<u64>(),
            root_hash in any::<[u8; 32]>(),
            extensions in proptest::collection::vec("[ -~]{1,30}", 0..4),
        ) {
            let mut checkpoint = Checkpoint::new(origin, tree_size, root_hash).unwrap();
            for line in extensions {
                checkpoint = checkpoint.with_extension(line).unwrap();
            }
            prop_assert_eq!(Checkpoint::parse_body(&checkpoint.to_body()).unwrap(), checkpoint);
        }

        #[test]
        fn parse_body_never_panics(body in "(?s).{0,200}") {
            if let Ok(checkpoint) = Checkpoint::parse_body(&body) {
                prop_assert_eq!(checkpoint.to_body(), body);
            }
        }
    }
}
