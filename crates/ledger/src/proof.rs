//! Inclusion and consistency proofs (RFC 9162 §2.1.3 and §2.1.4): making them
//! from a [`HashStore`], and verifying them with nothing but hashes.
//!
//! Proofs are lists of 32-byte hashes, lowest level first, exactly as the RFC
//! defines them, so any RFC 6962/9162 verifier accepts them. A proof for a
//! `u64`-sized tree never has more than [`MAX_PROOF_LEN`] hashes; verifiers
//! reject longer ones before hashing anything.

use std::cell::RefCell;

use crate::merkle::{EMPTY_ROOT, Hash, HashStore, node_hash, range_hash, split_point};

/// Largest tree size a proof can be made or verified for (2^63 leaves).
///
/// Keeping sizes to 63 bits keeps every proof within [`MAX_PROOF_LEN`].
pub const MAX_TREE_SIZE: u64 = 1 << 63;

/// Upper bound on the number of hashes in any proof (for trees up to [`MAX_TREE_SIZE`]).
pub const MAX_PROOF_LEN: usize = 64;

/// Why a proof could not be produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is not in a tree of size {tree_size}")]
    IndexOutOfRange {
        /// The requested leaf index.
        index: u64,
        /// The tree size it was asked against.
        tree_size: u64,
    },
    /// The tree size asked for is larger than the log.
    #[error("tree size {tree_size} is beyond the log's {leaf_count} leaves")]
    SizeOutOfRange {
        /// The requested tree size.
        tree_size: u64,
        /// How many leaves the log holds.
        leaf_count: u64,
    },
    /// A consistency proof was asked from a larger tree to a smaller one.
    #[error("first tree size {first} is greater than second tree size {second}")]
    FirstGreaterThanSecond {
        /// The older tree size.
        first: u64,
        /// The newer tree size.
        second: u64,
    },
    /// The store did not hold a perfect subtree hash the proof needs.
    #[error("the store has no hash for the perfect subtree {index} at level {level}")]
    MissingNode {
        /// Level of the missing subtree (0 = leaves).
        level: u32,
        /// Index of the missing subtree within its level.
        index: u64,
    },
}

/// Why a proof did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is not in a tree of size {tree_size}")]
    IndexOutOfRange {
        /// The claimed leaf index.
        index: u64,
        /// The claimed tree size.
        tree_size: u64,
    },
    /// The first tree is larger than the second.
    #[error("first tree size {first} is greater than second tree size {second}")]
    FirstGreaterThanSecond {
        /// The claimed older tree size.
        first: u64,
        /// The claimed newer tree size.
        second: u64,
    },
    /// The tree size is beyond [`MAX_TREE_SIZE`].
    #[error("tree size {tree_size} is beyond the largest supported, {MAX_TREE_SIZE}")]
    TreeTooLarge {
        /// The claimed tree size.
        tree_size: u64,
    },
    /// The proof has more hashes than any valid proof can have.
    #[error("proof has {len} hashes; no proof has more than {MAX_PROOF_LEN}")]
    ProofTooLong {
        /// Number of hashes received.
        len: usize,
    },
    /// The proof has the wrong number of hashes for these sizes.
    #[error("proof has {actual} hashes; these sizes need {expected}")]
    WrongProofLength {
        /// Number of hashes a valid proof has.
        expected: usize,
        /// Number of hashes received.
        actual: usize,
    },
    /// The inclusion proof leads to a different tree head.
    #[error("inclusion proof does not lead to the given tree head")]
    RootMismatch,
    /// The consistency proof does not reproduce the first tree head.
    #[error("consistency proof does not reproduce the first tree head")]
    FirstRootMismatch,
    /// The consistency proof does not reproduce the second tree head.
    #[error("consistency proof does not reproduce the second tree head")]
    SecondRootMismatch,
}

/// One perfect subtree: leaves `[index * 2^level, (index + 1) * 2^level)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId {
    /// Height of the subtree (0 = a single leaf).
    pub level: u32,
    /// Position of the subtree among those of its level.
    pub index: u64,
}

fn check_size<S: HashStore + ?Sized>(store: &S, tree_size: u64) -> Result<(), ProofError> {
    let leaf_count = store.leaf_count();
    if tree_size > leaf_count {
        return Err(ProofError::SizeOutOfRange {
            tree_size,
            leaf_count,
        });
    }
    Ok(())
}

/// The inclusion proof of leaf `index` in the tree of the first `tree_size`
/// leaves (RFC 9162 §2.1.3.1, `PATH(m, D[n])`).
pub fn inclusion_proof<S: HashStore + ?Sized>(
    store: &S,
    index: u64,
    tree_size: u64,
) -> Result<Vec<Hash>, ProofError> {
    check_size(store, tree_size)?;
    if index >= tree_size {
        return Err(ProofError::IndexOutOfRange { index, tree_size });
    }
    // Walk from the root down to the leaf, collecting the sibling at each
    // split; the RFC lists them leaf-first, so reverse at the end.
    let mut path = Vec::with_capacity(64);
    let (mut lo, mut hi) = (0u64, tree_size);
    while hi - lo > 1 {
        let k = split_point(hi - lo);
        if index < lo + k {
            path.push(range_hash(store, lo + k, hi)?);
            hi = lo + k;
        } else {
            path.push(range_hash(store, lo, lo + k)?);
            lo += k;
        }
    }
    path.reverse();
    debug_assert_eq!(path.len(), inclusion_proof_len(index, tree_size));
    Ok(path)
}

/// The consistency proof between the trees of the first `first` and the
/// first `second` leaves (RFC 9162 §2.1.4.1, `PROOF(m, D[n])`).
///
/// Empty when `first` is 0 or equal to `second`: those are consistent by
/// definition.
pub fn consistency_proof<S: HashStore + ?Sized>(
    store: &S,
    first: u64,
    second: u64,
) -> Result<Vec<Hash>, ProofError> {
    check_size(store, second)?;
    if first > second {
        return Err(ProofError::FirstGreaterThanSecond { first, second });
    }
    if first == 0 || first == second {
        return Ok(Vec::new());
    }
    // SUBPROOF(m, D[lo:hi], b), unrolled from the top; reversed at the end.
    let mut path = Vec::with_capacity(64);
    let (mut lo, mut hi) = (0u64, second);
    let mut m = first;
    let mut whole_first_tree = true;
    loop {
        let n = hi - lo;
        if m == n {
            if !whole_first_tree {
                path.push(range_hash(store, lo, hi)?);
            }
            break;
        }
        let k = split_point(n);
        if m <= k {
            path.push(range_hash(store, lo + k, hi)?);
            hi = lo + k;
        } else {
            path.push(range_hash(store, lo, lo + k)?);
            m -= k;
            lo += k;
            whole_first_tree = false;
        }
    }
    path.reverse();
    debug_assert_eq!(path.len(), consistency_proof_len(first, second));
    Ok(path)
}

/// Number of hashes in the inclusion proof of `index` in a tree of `tree_size`.
///
/// Requires `index < tree_size`.
pub fn inclusion_proof_len(index: u64, tree_size: u64) -> usize {
    debug_assert!(index < tree_size);
    // Levels where the paths to `index` and to the last leaf diverge, plus
    // the left siblings above that point.
    let inner = 64 - (index ^ (tree_size - 1)).leading_zeros();
    let border = (index.checked_shr(inner).unwrap_or(0)).count_ones();
    (inner + border) as usize
}

/// Number of hashes in the consistency proof from `first` to `second`.
pub fn consistency_proof_len(first: u64, second: u64) -> usize {
    if first == 0 || first >= second {
        return 0;
    }
    let shift = first.trailing_zeros();
    let inner = 64 - ((first - 1) ^ (second - 1)).leading_zeros();
    let border = ((first - 1).checked_shr(inner).unwrap_or(0)).count_ones();
    // A first tree that is itself a perfect subtree is not sent: the verifier has its head.
    let seed = usize::from(!first.is_power_of_two());
    seed + (inner - shift + border) as usize
}

/// Verifies that `leaf_hash` is leaf `index` of the tree of `tree_size`
/// leaves whose head is `root` (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf_hash: &Hash,
    index: u64,
    tree_size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), VerifyError> {
    if index >= tree_size {
        return Err(VerifyError::IndexOutOfRange { index, tree_size });
    }
    if tree_size > MAX_TREE_SIZE {
        return Err(VerifyError::TreeTooLarge { tree_size });
    }
    if proof.len() > MAX_PROOF_LEN {
        return Err(VerifyError::ProofTooLong { len: proof.len() });
    }
    let expected = inclusion_proof_len(index, tree_size);
    if proof.len() != expected {
        return Err(VerifyError::WrongProofLength {
            expected,
            actual: proof.len(),
        });
    }
    let mut f_n = index;
    let mut s_n = tree_size - 1;
    let mut r = *leaf_hash;
    for p in proof {
        if s_n == 0 {
            return Err(VerifyError::RootMismatch);
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 || r != *root {
        return Err(VerifyError::RootMismatch);
    }
    Ok(())
}

/// Verifies that the tree of `second` leaves with head `second_root` extends
/// the tree of `first` leaves with head `first_root` (RFC 9162 §2.1.4.2).
///
/// `first == second` needs an empty proof and equal heads; `first == 0`
/// needs an empty proof and the empty tree's head as `first_root`.
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &Hash,
    second_root: &Hash,
    proof: &[Hash],
) -> Result<(), VerifyError> {
    if first > second {
        return Err(VerifyError::FirstGreaterThanSecond { first, second });
    }
    if second > MAX_TREE_SIZE {
        return Err(VerifyError::TreeTooLarge { tree_size: second });
    }
    if proof.len() > MAX_PROOF_LEN {
        return Err(VerifyError::ProofTooLong { len: proof.len() });
    }
    let expected = consistency_proof_len(first, second);
    if proof.len() != expected {
        return Err(VerifyError::WrongProofLength {
            expected,
            actual: proof.len(),
        });
    }
    if first == 0 {
        return if *first_root == EMPTY_ROOT {
            Ok(())
        } else {
            Err(VerifyError::FirstRootMismatch)
        };
    }
    if first == second {
        return if first_root == second_root {
            Ok(())
        } else {
            Err(VerifyError::SecondRootMismatch)
        };
    }
    debug_assert!(!proof.is_empty(), "0 < first < second always needs a proof");
    // When the first tree is a perfect subtree the proof omits its head.
    let (seed, rest) = if first.is_power_of_two() {
        (*first_root, proof)
    } else {
        (proof[0], &proof[1..])
    };
    let mut f_n = first - 1;
    let mut s_n = second - 1;
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let mut fr = seed;
    let mut sr = seed;
    for c in rest {
        if s_n == 0 {
            return Err(VerifyError::SecondRootMismatch);
        }
        if f_n & 1 == 1 || f_n == s_n {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if fr != *first_root {
        return Err(VerifyError::FirstRootMismatch);
    }
    if s_n != 0 || sr != *second_root {
        return Err(VerifyError::SecondRootMismatch);
    }
    Ok(())
}

/// A store that answers every lookup with a zero hash and remembers what was
/// asked: the proof algorithms' access pattern depends only on sizes, so
/// running them against it lists the nodes a real store must load.
struct Recorder {
    leaf_count: u64,
    asked: RefCell<Vec<NodeId>>,
}

impl HashStore for Recorder {
    fn leaf_count(&self) -> u64 {
        self.leaf_count
    }

    fn perfect_subtree(&self, level: u32, index: u64) -> Option<Hash> {
        self.asked.borrow_mut().push(NodeId { level, index });
        Some([0; 32])
    }
}

fn recorded(
    leaf_count: u64,
    run: impl FnOnce(&Recorder) -> Result<(), ProofError>,
) -> Result<Vec<NodeId>, ProofError> {
    let recorder = Recorder {
        leaf_count,
        asked: RefCell::new(Vec::new()),
    };
    run(&recorder)?;
    let mut nodes = recorder.asked.into_inner();
    nodes.sort_unstable();
    nodes.dedup();
    Ok(nodes)
}

/// The perfect subtrees [`crate::merkle::root_at`] reads for `tree_size`,
/// so a database-backed store can load exactly those.
pub fn root_nodes(tree_size: u64) -> Vec<NodeId> {
    // The recorder has exactly `tree_size` leaves and never misses a node.
    recorded(tree_size, |store| {
        crate::merkle::root_at(store, tree_size).map(drop)
    })
    .unwrap_or_default()
}

/// The perfect subtrees [`inclusion_proof`] reads for these arguments.
pub fn inclusion_proof_nodes(index: u64, tree_size: u64) -> Result<Vec<NodeId>, ProofError> {
    recorded(tree_size, |store| {
        inclusion_proof(store, index, tree_size).map(drop)
    })
}

/// The perfect subtrees [`consistency_proof`] reads for these arguments.
pub fn consistency_proof_nodes(first: u64, second: u64) -> Result<Vec<NodeId>, ProofError> {
    recorded(second, |store| {
        consistency_proof(store, first, second).map(drop)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{Tree, leaf_hash, root_from_leaves};
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn h(s: &str) -> Hash {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    const LEAVES: [&str; 8] = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ];

    fn reference_tree() -> Tree {
        Tree::from_leaf_hashes(LEAVES.iter().map(|l| leaf_hash(&hex::decode(l).unwrap())))
    }

    /// Inclusion proofs from transparency-dev/merkle proof/verify_test.go
    /// (there the leaf is 1-based; here 0-based).
    fn reference_inclusion_proofs() -> Vec<(u64, u64, Vec<Hash>)> {
        vec![
            (0, 1, vec![]),
            (
                0,
                8,
                vec![
                    h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
                    h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                    h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
                ],
            ),
            (
                5,
                8,
                vec![
                    h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
                    h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
                    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
                ],
            ),
            (
                2,
                3,
                vec![h(
                    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
                )],
            ),
            (
                1,
                5,
                vec![
                    h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
                    h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                    h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
                ],
            ),
        ]
    }

    /// Consistency proofs from transparency-dev/merkle proof/verify_test.go.
    fn reference_consistency_proofs() -> Vec<(u64, u64, Vec<Hash>)> {
        vec![
            (1, 1, vec![]),
            (
                1,
                8,
                vec![
                    h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
                    h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                    h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
                ],
            ),
            (
                6,
                8,
                vec![
                    h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
                    h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
                    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
                ],
            ),
            (
                2,
                5,
                vec![
                    h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                    h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
                ],
            ),
            (
                6,
                7,
                vec![
                    h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
                    h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
                    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
                ],
            ),
        ]
    }

    #[test]
    fn inclusion_proofs_match_rfc6962_reference_vectors() {
        let tree = reference_tree();
        for (index, size, want) in reference_inclusion_proofs() {
            let got = tree.inclusion_proof(index, size).unwrap();
            assert_eq!(got, want, "leaf {index} in tree {size}");
            let leaf = tree.leaf(index).unwrap();
            let root = tree.root_at(size).unwrap();
            verify_inclusion(&leaf, index, size, &want, &root).unwrap();
        }
    }

    #[test]
    fn consistency_proofs_match_rfc6962_reference_vectors() {
        let tree = reference_tree();
        for (first, second, want) in reference_consistency_proofs() {
            let got = tree.consistency_proof(first, second).unwrap();
            assert_eq!(got, want, "{first} -> {second}");
            let r1 = tree.root_at(first).unwrap();
            let r2 = tree.root_at(second).unwrap();
            verify_consistency(first, second, &r1, &r2, &want).unwrap();
        }
    }

    /// Every mutation transparency-dev's verifier tests apply to an inclusion proof.
    fn corrupted_inclusion_is_rejected(
        leaf: &Hash,
        index: u64,
        size: u64,
        proof: &[Hash],
        root: &Hash,
    ) {
        let other = [0xab; 32];
        let mut probes: Vec<(u64, u64, Hash, Vec<Hash>, Hash)> = vec![
            (index.wrapping_sub(1), size, *leaf, proof.to_vec(), *root),
            (index + 1, size, *leaf, proof.to_vec(), *root),
            (index ^ 2, size, *leaf, proof.to_vec(), *root),
            (index, size * 2, *leaf, proof.to_vec(), *root),
            (index, size / 2, *leaf, proof.to_vec(), *root),
            (index, size, leaf_hash(b"WrongLeaf"), proof.to_vec(), *root),
            (index, size, *leaf, proof.to_vec(), EMPTY_ROOT),
            (index, size, *leaf, proof.to_vec(), other),
            (index, size, *leaf, [proof, &[*root]].concat(), *root),
            (index, size, *leaf, [&[*root], proof].concat(), *root),
        ];
        if !proof.is_empty() {
            probes.push((index, size, *leaf, proof[..proof.len() - 1].to_vec(), *root));
        }
        for i in 0..proof.len() {
            let mut wrong = proof.to_vec();
            wrong[i][0] ^= 8;
            probes.push((index, size, *leaf, wrong, *root));
        }
        for (i, s, l, p, r) in probes {
            assert!(
                verify_inclusion(&l, i, s, &p, &r).is_err(),
                "corrupted probe verified: index {i} size {s}"
            );
        }
    }

    #[test]
    fn corrupted_reference_inclusion_proofs_are_rejected() {
        let tree = reference_tree();
        for (index, size, proof) in reference_inclusion_proofs() {
            let leaf = tree.leaf(index).unwrap();
            let root = tree.root_at(size).unwrap();
            corrupted_inclusion_is_rejected(&leaf, index, size, &proof, &root);
        }
    }

    #[test]
    fn corrupted_reference_consistency_proofs_are_rejected() {
        let tree = reference_tree();
        for (first, second, proof) in reference_consistency_proofs() {
            if proof.is_empty() {
                continue;
            }
            let r1 = tree.root_at(first).unwrap();
            let r2 = tree.root_at(second).unwrap();
            let mut probes: Vec<(u64, u64, Hash, Hash, Vec<Hash>)> = vec![
                (first - 1, second, r1, r2, proof.clone()),
                (first + 1, second, r1, r2, proof.clone()),
                (first ^ 2, second, r1, r2, proof.clone()),
                (first, second * 2, r1, r2, proof.clone()),
                (first, second / 2, r1, r2, proof.clone()),
                (first, second, [1; 32], r2, proof.clone()),
                (first, second, r1, [2; 32], proof.clone()),
                (first, second, r2, r1, proof.clone()),
                (first, second, r1, r2, vec![]),
                (first, second, r1, r2, [&proof[..], &[r1]].concat()),
                (first, second, r1, r2, [&proof[..], &[r2]].concat()),
                (first, second, r1, r2, [&[r1], &proof[..]].concat()),
                (first, second, r1, r2, [&[r2], &proof[..]].concat()),
                (first, second, r1, r2, [&[proof[0]], &proof[..]].concat()),
                (first, second, r1, r2, proof[..proof.len() - 1].to_vec()),
            ];
            for i in 0..proof.len() {
                let mut wrong = proof.clone();
                wrong[i][0] ^= 16;
                probes.push((first, second, r1, r2, wrong));
            }
            for (f, s, a, b, p) in probes {
                assert!(
                    verify_consistency(f, s, &a, &b, &p).is_err(),
                    "corrupted probe verified: {f} -> {s}"
                );
            }
        }
    }

    #[test]
    fn trivial_consistency_cases_follow_the_rules() {
        let some = [7u8; 32];
        // Equal sizes: empty proof and equal heads only.
        assert!(verify_consistency(3, 3, &some, &some, &[]).is_ok());
        assert!(verify_consistency(3, 3, &some, &EMPTY_ROOT, &[]).is_err());
        assert!(verify_consistency(3, 3, &some, &some, &[some]).is_err());
        // From the empty tree: empty proof and the empty head.
        assert!(verify_consistency(0, 5, &EMPTY_ROOT, &some, &[]).is_ok());
        assert!(verify_consistency(0, 5, &some, &some, &[]).is_err());
        assert!(verify_consistency(0, 0, &EMPTY_ROOT, &EMPTY_ROOT, &[some]).is_err());
        // Time travel.
        assert_eq!(
            verify_consistency(2, 1, &some, &some, &[]),
            Err(VerifyError::FirstGreaterThanSecond {
                first: 2,
                second: 1
            })
        );
        // A real gap needs a proof.
        assert!(matches!(
            verify_consistency(1, 2, &some, &some, &[]),
            Err(VerifyError::WrongProofLength { .. })
        ));
    }

    #[test]
    fn bad_arguments_are_typed_errors_not_panics() {
        let tree = reference_tree();
        assert_eq!(
            tree.inclusion_proof(8, 8),
            Err(ProofError::IndexOutOfRange {
                index: 8,
                tree_size: 8
            })
        );
        assert_eq!(
            tree.inclusion_proof(0, 0),
            Err(ProofError::IndexOutOfRange {
                index: 0,
                tree_size: 0
            })
        );
        assert_eq!(
            tree.inclusion_proof(0, 9),
            Err(ProofError::SizeOutOfRange {
                tree_size: 9,
                leaf_count: 8
            })
        );
        assert_eq!(
            tree.consistency_proof(5, 3),
            Err(ProofError::FirstGreaterThanSecond {
                first: 5,
                second: 3
            })
        );
        assert_eq!(
            tree.consistency_proof(3, u64::MAX),
            Err(ProofError::SizeOutOfRange {
                tree_size: u64::MAX,
                leaf_count: 8
            })
        );
        assert!(tree.consistency_proof(0, 8).unwrap().is_empty());
        assert!(tree.consistency_proof(8, 8).unwrap().is_empty());
        let leaf = tree.leaf(0).unwrap();
        assert_eq!(
            verify_inclusion(&leaf, 0, 0, &[], &leaf),
            Err(VerifyError::IndexOutOfRange {
                index: 0,
                tree_size: 0
            })
        );
        assert_eq!(
            verify_inclusion(&leaf, u64::MAX, u64::MAX, &[], &leaf),
            Err(VerifyError::IndexOutOfRange {
                index: u64::MAX,
                tree_size: u64::MAX
            })
        );
        let long = vec![leaf; MAX_PROOF_LEN + 1];
        assert_eq!(
            verify_inclusion(&leaf, 0, 2, &long, &leaf),
            Err(VerifyError::ProofTooLong { len: 65 })
        );
        assert_eq!(
            verify_consistency(1, 2, &leaf, &leaf, &long),
            Err(VerifyError::ProofTooLong { len: 65 })
        );
    }

    #[test]
    fn proofs_at_the_largest_sizes_have_bounded_length() {
        let max = MAX_TREE_SIZE;
        assert_eq!(inclusion_proof_len(0, max), 63);
        assert_eq!(inclusion_proof_len(max - 1, max), 63);
        assert_eq!(inclusion_proof_len(0, max - 1), 63);
        assert_eq!(consistency_proof_len(3, max - 1), MAX_PROOF_LEN);
        for first in [1, 2, 3, 5, 1 << 40, (1 << 40) + 1, max - 2, max - 1] {
            for second in [max - 1, max] {
                assert!(consistency_proof_len(first, second) <= MAX_PROOF_LEN);
            }
        }
        // Beyond the bound a consistency proof would need 65 hashes: refused.
        assert_eq!(consistency_proof_len(3, u64::MAX), MAX_PROOF_LEN + 1);
        let h = [0u8; 32];
        assert_eq!(
            verify_consistency(3, u64::MAX, &h, &h, &[h; 65]),
            Err(VerifyError::TreeTooLarge {
                tree_size: u64::MAX
            })
        );
        assert_eq!(
            verify_inclusion(&h, 0, max + 1, &[h; 64], &h),
            Err(VerifyError::TreeTooLarge { tree_size: max + 1 })
        );
    }

    #[test]
    fn every_inclusion_proof_verifies_for_every_size_up_to_300() {
        let leaves: Vec<Hash> = (0..300u64).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        let tree = Tree::from_leaf_hashes(leaves.iter().copied());
        for size in 1..=300u64 {
            let root = root_from_leaves(&leaves[..size as usize]);
            for index in 0..size {
                let proof = tree.inclusion_proof(index, size).unwrap();
                assert_eq!(proof.len(), inclusion_proof_len(index, size));
                verify_inclusion(&leaves[index as usize], index, size, &proof, &root)
                    .unwrap_or_else(|e| panic!("leaf {index} of {size}: {e}"));
                // A different leaf at the same place never verifies.
                let other = leaves[((index + 1) % 300) as usize];
                assert!(verify_inclusion(&other, index, size, &proof, &root).is_err());
                if size > 1 {
                    let wrong_index = (index + 1) % size;
                    assert!(
                        verify_inclusion(&leaves[index as usize], wrong_index, size, &proof, &root)
                            .is_err()
                    );
                }
            }
        }
    }

    #[test]
    fn every_consistency_proof_verifies_for_sizes_up_to_130() {
        let leaves: Vec<Hash> = (0..130u64).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        let tree = Tree::from_leaf_hashes(leaves.iter().copied());
        let roots: Vec<Hash> = (0..=130).map(|n| root_from_leaves(&leaves[..n])).collect();
        for second in 1..=130u64 {
            for first in 1..=second {
                let proof = tree.consistency_proof(first, second).unwrap();
                assert_eq!(proof.len(), consistency_proof_len(first, second));
                let (r1, r2) = (&roots[first as usize], &roots[second as usize]);
                verify_consistency(first, second, r1, r2, &proof)
                    .unwrap_or_else(|e| panic!("{first} -> {second}: {e}"));
                if first < second {
                    // Swapped heads never verify. (A neighbouring size may: a
                    // head does not commit to its size, which is why the
                    // checkpoint signs the size beside it.)
                    assert!(verify_consistency(first, second, r2, r1, &proof).is_err());
                    assert!(verify_consistency(first, second * 2, r1, r2, &proof).is_err());
                    for (i, _) in proof.iter().enumerate() {
                        let mut wrong = proof.clone();
                        wrong[i][31] ^= 1;
                        assert!(verify_consistency(first, second, r1, r2, &wrong).is_err());
                    }
                }
            }
        }
    }

    /// A store that only holds the nodes the planner said to load.
    struct Loaded {
        leaf_count: u64,
        nodes: HashMap<NodeId, Hash>,
    }

    impl HashStore for Loaded {
        fn leaf_count(&self) -> u64 {
            self.leaf_count
        }
        fn perfect_subtree(&self, level: u32, index: u64) -> Option<Hash> {
            self.nodes.get(&NodeId { level, index }).copied()
        }
    }

    fn load(tree: &Tree, nodes: &[NodeId]) -> Loaded {
        Loaded {
            leaf_count: tree.len(),
            nodes: nodes
                .iter()
                .map(|n| (*n, tree.perfect_subtree(n.level, n.index).unwrap()))
                .collect(),
        }
    }

    #[test]
    fn planned_nodes_are_exactly_enough_for_a_database_store() {
        let tree = Tree::from_leaf_hashes((0..100u64).map(|i| leaf_hash(&i.to_be_bytes())));
        for size in 1..=100u64 {
            let store = load(&tree, &root_nodes(size));
            assert_eq!(
                crate::merkle::root_at(&store, size).unwrap(),
                tree.root_at(size).unwrap()
            );
            for index in (0..size).step_by(7) {
                let nodes = inclusion_proof_nodes(index, size).unwrap();
                assert!(nodes.len() <= 2 * 64);
                let store = load(&tree, &nodes);
                assert_eq!(
                    inclusion_proof(&store, index, size).unwrap(),
                    tree.inclusion_proof(index, size).unwrap()
                );
            }
            for first in (1..=size).step_by(5) {
                let store = load(&tree, &consistency_proof_nodes(first, size).unwrap());
                assert_eq!(
                    consistency_proof(&store, first, size).unwrap(),
                    tree.consistency_proof(first, size).unwrap()
                );
            }
        }
        let empty = Loaded {
            leaf_count: 10,
            nodes: HashMap::new(),
        };
        assert_eq!(
            inclusion_proof(&empty, 3, 10),
            Err(ProofError::MissingNode { level: 1, index: 4 })
        );
        assert!(inclusion_proof_nodes(5, 5).is_err());
    }

    #[test]
    fn a_million_leaf_proof_reads_few_nodes() {
        let size = 1_000_000u64;
        let nodes = inclusion_proof_nodes(999_999, size).unwrap();
        assert!(nodes.len() <= 40, "{} nodes", nodes.len());
        let nodes = consistency_proof_nodes(123_457, size).unwrap();
        assert!(nodes.len() <= 60, "{} nodes", nodes.len());
    }

    proptest! {
        #[test]
        fn any_single_byte_change_breaks_an_inclusion_proof(
            size in 1u64..400,
            index_seed in any::<u64>(),
            target in 0usize..3,
            position in 0usize..64,
            byte in 0usize..32,
            flip in 1u8..=255,
        ) {
            let index = index_seed % size;
            let leaves: Vec<Hash> = (0..size).map(|i| leaf_hash(&i.to_be_bytes())).collect();
            let tree = Tree::from_leaf_hashes(leaves.iter().copied());
            let mut leaf = leaves[index as usize];
            let mut proof = tree.inclusion_proof(index, size).unwrap();
            let mut root = tree.root();
            prop_assert!(verify_inclusion(&leaf, index, size, &proof, &root).is_ok());
            match target {
                0 => leaf[byte] ^= flip,
                1 if !proof.is_empty() => {
                    let at = position % proof.len();
                    proof[at][byte] ^= flip;
                }
                _ => root[byte] ^= flip,
            }
            prop_assert!(verify_inclusion(&leaf, index, size, &proof, &root).is_err());
        }

        #[test]
        fn any_single_byte_change_breaks_a_consistency_proof(
            second in 2u64..400,
            first_seed in any::<u64>(),
            target in 0usize..3,
            position in 0usize..64,
            byte in 0usize..32,
            flip in 1u8..=255,
        ) {
            let first = 1 + first_seed % (second - 1);
            let tree = Tree::from_leaf_hashes((0..second).map(|i| leaf_hash(&i.to_be_bytes())));
            let mut r1 = tree.root_at(first).unwrap();
            let mut r2 = tree.root();
            let mut proof = tree.consistency_proof(first, second).unwrap();
            prop_assert!(verify_consistency(first, second, &r1, &r2, &proof).is_ok());
            match target {
                0 => r1[byte] ^= flip,
                1 => {
                    let at = position % proof.len();
                    proof[at][byte] ^= flip;
                }
                _ => r2[byte] ^= flip,
            }
            prop_assert!(verify_consistency(first, second, &r1, &r2, &proof).is_err());
        }

        #[test]
        fn verifiers_never_panic_on_arbitrary_input(
            index in any::<u64>(),
            size in any::<u64>(),
            proof in proptest::collection::vec(any::<[u8; 32]>(), 0..70),
            root in any::<[u8; 32]>(),
        ) {
            let _ = verify_inclusion(&root, index, size, &proof, &root);
            let _ = verify_consistency(index, size, &root, &root, &proof);
            let _ = verify_consistency(index.min(size), size, &root, &root, &proof);
        }
    }
}
