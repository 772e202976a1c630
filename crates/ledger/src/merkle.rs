//! The RFC 9162 §2.1 Merkle tree: hashing, the tree head of any size, and an
//! in-memory append-only tree.
//!
//! Every hash the proofs need is the hash of a *perfect* subtree (2^level
//! leaves starting at a multiple of 2^level) or is computed on the fly from
//! a handful of them along the right edge of the tree. A store therefore only
//! has to keep perfect subtree hashes ([`HashStore`]); [`Tree`] keeps them in
//! memory, level by level, and the server can keep the same rows in a
//! database table `(level, index, hash)`.

use sha2::{Digest, Sha256};

use crate::proof::ProofError;

/// A SHA-256 digest: a leaf hash, an interior node hash or a tree head.
pub type Hash = [u8; 32];

/// Number of bytes in a [`tyalias@Hash`].
pub const HASH_LEN: usize = 32;

/// The root of the empty tree: SHA-256 of the empty string (RFC 9162 §2.1.1).
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// Highest perfect-subtree level a `u64`-sized tree can have (2^63 leaves).
pub const MAX_LEVEL: u32 = 63;

/// Hashes one leaf: SHA-256(0x00 || leaf bytes).
pub fn leaf_hash(leaf: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(leaf);
    hasher.finalize().into()
}

/// Hashes an interior node: SHA-256(0x01 || left || right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// The RFC 9162 split point: the largest power of two strictly below `n`.
///
/// Only meaningful for `n >= 2`.
pub(crate) fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2, "a tree of {n} leaves has no split");
    1u64 << (63 - (n - 1).leading_zeros())
}

/// The tree head by the recursive definition of RFC 9162 §2.1.1 (MTH), over
/// leaf hashes. The reference against which the fast paths are tested.
pub fn root_from_leaves(leaf_hashes: &[Hash]) -> Hash {
    match leaf_hashes.len() {
        0 => EMPTY_ROOT,
        1 => leaf_hashes[0],
        n => {
            // `n` fits in u64 on every platform Rust supports.
            let k = split_point(n as u64) as usize;
            node_hash(
                &root_from_leaves(&leaf_hashes[..k]),
                &root_from_leaves(&leaf_hashes[k..]),
            )
        }
    }
}

/// Read access to the perfect subtree hashes of an append-only log.
///
/// `perfect_subtree(level, index)` is the hash of leaves
/// `[index * 2^level, (index + 1) * 2^level)`; level 0 holds the leaf hashes.
/// It must be available for every such range that lies wholly below
/// `leaf_count()`. Implementations may return `None` for a node they did not
/// load; the proof functions then fail with [`ProofError::MissingNode`].
pub trait HashStore {
    /// Number of leaves in the log.
    fn leaf_count(&self) -> u64;
    /// Hash of the perfect subtree `index` at `level`, if the store holds it.
    fn perfect_subtree(&self, level: u32, index: u64) -> Option<Hash>;
}

/// Looks up one perfect subtree, turning absence into a typed error.
pub(crate) fn fetch<S: HashStore + ?Sized>(
    store: &S,
    level: u32,
    index: u64,
) -> Result<Hash, ProofError> {
    store
        .perfect_subtree(level, index)
        .ok_or(ProofError::MissingNode { level, index })
}

/// MTH of leaves `[start, end)`, where `start` is aligned to the largest
/// power of two not above `end - start` (true for every range the RFC 9162
/// recursion visits). Uses O(log n) perfect-subtree lookups.
pub(crate) fn range_hash<S: HashStore + ?Sized>(
    store: &S,
    start: u64,
    end: u64,
) -> Result<Hash, ProofError> {
    debug_assert!(start < end, "empty range {start}..{end}");
    // Decompose [start, end) into perfect subtrees, largest first, then fold
    // from the right: MTH(a ++ b) = node(MTH(a), MTH(b)) with a perfect.
    let mut parts: [Hash; 64] = [[0; HASH_LEN]; 64];
    let mut count = 0usize;
    let mut lo = start;
    while lo < end {
        let len = end - lo;
        let level = 63 - len.leading_zeros();
        debug_assert!(
            lo.trailing_zeros() >= level || lo == 0,
            "range {start}..{end} is not RFC 9162 aligned"
        );
        parts[count] = fetch(store, level, lo >> level)?;
        count += 1;
        lo += 1u64 << level;
    }
    let mut acc = parts[count - 1];
    for part in parts[..count - 1].iter().rev() {
        acc = node_hash(part, &acc);
    }
    Ok(acc)
}

/// The tree head of the first `tree_size` leaves of `store`.
pub fn root_at<S: HashStore + ?Sized>(store: &S, tree_size: u64) -> Result<Hash, ProofError> {
    let leaf_count = store.leaf_count();
    if tree_size > leaf_count {
        return Err(ProofError::SizeOutOfRange {
            tree_size,
            leaf_count,
        });
    }
    if tree_size == 0 {
        return Ok(EMPTY_ROOT);
    }
    range_hash(store, 0, tree_size)
}

/// The right edge of an append-only Merkle tree: one hash per perfect
/// subtree of the current size (at most 64), enough to append and to compute
/// the root, in O(log n) memory. For streaming a whole log (an auditor's
/// check) without holding its leaves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    /// `(level, hash)`, largest (leftmost) subtree first.
    subtrees: Vec<(u32, Hash)>,
    size: u64,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of leaves appended.
    pub fn len(&self) -> u64 {
        self.size
    }

    /// Whether no leaf was appended.
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// Appends raw leaf bytes (hashed with [`leaf_hash`]); returns the leaf's index.
    pub fn append(&mut self, leaf: &[u8]) -> u64 {
        self.push_leaf_hash(leaf_hash(leaf))
    }

    /// Appends a leaf hash; returns the leaf's index.
    pub fn push_leaf_hash(&mut self, hash: Hash) -> u64 {
        let index = self.size;
        assert!(index < crate::proof::MAX_TREE_SIZE, "tree is full");
        let mut node = (0u32, hash);
        while let Some(&(level, left)) = self.subtrees.last() {
            if level != node.0 {
                break;
            }
            self.subtrees.pop();
            node = (level + 1, node_hash(&left, &node.1));
        }
        self.subtrees.push(node);
        self.size += 1;
        // The subtrees decompose the size exactly: one per set bit.
        debug_assert_eq!(self.subtrees.len() as u32, self.size.count_ones());
        index
    }

    /// The tree head of the leaves appended so far.
    pub fn root(&self) -> Hash {
        let mut iter = self.subtrees.iter().rev();
        let Some(&(_, mut root)) = iter.next() else {
            return EMPTY_ROOT;
        };
        for (_, left) in iter {
            root = node_hash(left, &root);
        }
        root
    }
}

/// An in-memory append-only Merkle tree that keeps every perfect subtree hash.
///
/// `levels[k][i]` is the hash of leaves `[i * 2^k, (i + 1) * 2^k)`. Appending
/// is amortised O(1) hashes; roots and proofs for any earlier size take
/// O(log n) lookups. Memory is about two hashes (64 bytes) per leaf.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tree {
    levels: Vec<Vec<Hash>>,
}

impl Tree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a tree from leaf hashes, in order.
    pub fn from_leaf_hashes<I: IntoIterator<Item = Hash>>(leaf_hashes: I) -> Self {
        let mut tree = Self::new();
        for hash in leaf_hashes {
            tree.push_leaf_hash(hash);
        }
        tree
    }

    /// Number of leaves.
    pub fn len(&self) -> u64 {
        self.levels.first().map_or(0, |leaves| leaves.len() as u64)
    }

    /// Whether the tree has no leaves.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends raw leaf bytes (hashed with [`leaf_hash`]); returns the new leaf's index.
    pub fn append(&mut self, leaf: &[u8]) -> u64 {
        self.push_leaf_hash(leaf_hash(leaf))
    }

    /// Appends an already computed leaf hash; returns the new leaf's index.
    pub fn push_leaf_hash(&mut self, hash: Hash) -> u64 {
        let size_before = self.len();
        assert!(size_before < crate::proof::MAX_TREE_SIZE, "tree is full");
        if self.levels.is_empty() {
            self.levels.push(Vec::new());
        }
        self.levels[0].push(hash);
        // Complete every perfect subtree the new leaf closes.
        let mut level = 0usize;
        while self.levels[level].len().is_multiple_of(2) {
            let n = self.levels[level].len();
            let parent = node_hash(&self.levels[level][n - 2], &self.levels[level][n - 1]);
            if self.levels.len() == level + 1 {
                self.levels.push(Vec::new());
            }
            self.levels[level + 1].push(parent);
            level += 1;
        }
        // A tree size never shrinks and grows by exactly one per append.
        assert_eq!(
            self.len(),
            size_before + 1,
            "append must grow the tree by one"
        );
        size_before
    }

    /// Hash of leaf `index`, if it exists.
    pub fn leaf(&self, index: u64) -> Option<Hash> {
        self.perfect_subtree(0, index)
    }

    /// The current tree head.
    pub fn root(&self) -> Hash {
        match root_at(self, self.len()) {
            Ok(root) => root,
            // Every perfect subtree below len() is held in memory.
            Err(error) => unreachable!("in-memory tree lost a node: {error}"),
        }
    }

    /// The tree head at an earlier (or the current) size.
    pub fn root_at(&self, tree_size: u64) -> Result<Hash, ProofError> {
        root_at(self, tree_size)
    }

    /// Inclusion proof of leaf `index` in the tree of size `tree_size`.
    pub fn inclusion_proof(&self, index: u64, tree_size: u64) -> Result<Vec<Hash>, ProofError> {
        crate::proof::inclusion_proof(self, index, tree_size)
    }

    /// Consistency proof between the trees of sizes `first` and `second`.
    pub fn consistency_proof(&self, first: u64, second: u64) -> Result<Vec<Hash>, ProofError> {
        crate::proof::consistency_proof(self, first, second)
    }
}

impl HashStore for Tree {
    fn leaf_count(&self) -> u64 {
        self.len()
    }

    fn perfect_subtree(&self, level: u32, index: u64) -> Option<Hash> {
        let row = self.levels.get(usize::try_from(level).ok()?)?;
        row.get(usize::try_from(index).ok()?).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The RFC 6962 reference leaves used by Certificate Transparency implementations.
    pub(crate) const REFERENCE_LEAVES: [&str; 8] = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ];

    /// Their tree heads at sizes 0..=8 (transparency-dev/merkle test data).
    const REFERENCE_ROOTS: [&str; 9] = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    fn reference_tree() -> Tree {
        let mut tree = Tree::new();
        for leaf in REFERENCE_LEAVES {
            tree.append(&hex::decode(leaf).unwrap());
        }
        tree
    }

    pub(crate) fn synthetic_leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(EMPTY_ROOT, <[u8; 32]>::from(Sha256::digest(b"")));
        assert_eq!(Tree::new().root(), EMPTY_ROOT);
        assert_eq!(root_from_leaves(&[]), EMPTY_ROOT);
    }

    #[test]
    fn roots_match_rfc6962_reference_vectors_at_every_size() {
        let tree = reference_tree();
        for (size, want) in REFERENCE_ROOTS.iter().enumerate() {
            let got = tree.root_at(size as u64).unwrap();
            assert_eq!(hex::encode(got), *want, "size {size}");
        }
        assert_eq!(hex::encode(tree.root()), REFERENCE_ROOTS[8]);
    }

    #[test]
    fn reference_mth_matches_rfc6962_vectors() {
        let leaves: Vec<Hash> = REFERENCE_LEAVES
            .iter()
            .map(|l| leaf_hash(&hex::decode(l).unwrap()))
            .collect();
        for (size, want) in REFERENCE_ROOTS.iter().enumerate() {
            assert_eq!(hex::encode(root_from_leaves(&leaves[..size])), *want);
        }
    }

    #[test]
    fn split_is_largest_power_of_two_below_n() {
        for (n, k) in [
            (2u64, 1u64),
            (3, 2),
            (4, 2),
            (5, 4),
            (8, 4),
            (9, 8),
            (1000, 512),
            (1 << 40, 1 << 39),
            ((1 << 63) + 1, 1 << 63),
            (u64::MAX, 1 << 63),
        ] {
            assert_eq!(split_point(n), k, "n = {n}");
        }
    }

    #[test]
    fn tree_root_equals_reference_mth_for_every_size_up_to_300() {
        let leaves = synthetic_leaves(300);
        let mut tree = Tree::new();
        for (i, hash) in leaves.iter().enumerate() {
            assert_eq!(tree.push_leaf_hash(*hash), i as u64);
            assert_eq!(
                tree.root(),
                root_from_leaves(&leaves[..=i]),
                "size {}",
                i + 1
            );
        }
        for size in 0..=300u64 {
            assert_eq!(
                tree.root_at(size).unwrap(),
                root_from_leaves(&leaves[..size as usize])
            );
        }
    }

    #[test]
    fn root_beyond_the_tree_is_an_error() {
        let tree = reference_tree();
        assert_eq!(
            tree.root_at(9),
            Err(ProofError::SizeOutOfRange {
                tree_size: 9,
                leaf_count: 8
            })
        );
        assert!(tree.root_at(u64::MAX).is_err());
    }

    #[test]
    fn perfect_subtrees_beyond_the_store_are_absent() {
        let tree = reference_tree();
        assert_eq!(tree.perfect_subtree(3, 0), Some(tree.root()));
        assert_eq!(tree.perfect_subtree(3, 1), None);
        assert_eq!(tree.perfect_subtree(4, 0), None);
        assert_eq!(tree.perfect_subtree(u32::MAX, u64::MAX), None);
    }

    proptest! {
        #[test]
        fn tree_root_equals_reference_mth_for_random_sizes(n in 0u64..700) {
            let leaves = synthetic_leaves(n);
            let tree = Tree::from_leaf_hashes(leaves.iter().copied());
            prop_assert_eq!(tree.len(), n);
            prop_assert_eq!(tree.root(), root_from_leaves(&leaves));
        }

        #[test]
        fn tree_size_never_shrinks_and_old_roots_never_change(
            leaves in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..8), 1..80)
        ) {
            let mut tree = Tree::new();
            let mut roots = vec![tree.root()];
            for leaf in &leaves {
                let before = tree.len();
                tree.append(leaf);
                prop_assert_eq!(tree.len(), before + 1);
                roots.push(tree.root());
            }
            for (size, root) in roots.iter().enumerate() {
                prop_assert_eq!(tree.root_at(size as u64).unwrap(), *root);
            }
        }
    }

    proptest! {
        #[test]
        fn frontier_root_equals_reference_mth_at_every_size(n in 0u64..300) {
            let leaves = synthetic_leaves(n);
            let mut frontier = Frontier::new();
            let mut tree = Tree::new();
            prop_assert_eq!(frontier.root(), EMPTY_ROOT);
            for (i, leaf) in leaves.iter().enumerate() {
                prop_assert_eq!(frontier.push_leaf_hash(*leaf), i as u64);
                tree.push_leaf_hash(*leaf);
                prop_assert_eq!(frontier.root(), tree.root());
            }
            prop_assert_eq!(frontier.len(), n);
            prop_assert_eq!(frontier.root(), root_from_leaves(&leaves));
        }
    }
}
