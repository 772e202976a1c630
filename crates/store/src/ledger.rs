//! The transparency log in the database: one linear, append-only list of
//! ledger entries hashed as an RFC 9162 Merkle tree, its perfect-subtree
//! hashes, and its signed checkpoints.
//!
//! # Tables
//!
//! * `ledger_entry (idx, time_unix_ms, kind, leaf, leaf_hash, person)`: the
//!   leaves; `leaf` is the exact [`Entry::encode`] bytes and `leaf_hash` its
//!   RFC 9162 leaf hash, which is also level 0 of the tree (it is not stored
//!   twice). `person` is the pseudonym the entry names, indexed with `idx`
//!   so one person's entries are found without a scan; it is not hashed.
//! * `ledger_node (position, level, idx, hash)`: every completed perfect
//!   subtree of level 1 and up. An append writes the nodes its leaves
//!   complete, so a root or a proof reads O(log n) rows and never hashes a
//!   range of leaves. The key, [`node_position`], orders nodes by the leaf
//!   that completes them, so an append writes at the end of the table's one
//!   B-tree instead of on one page per level.
//! * `ledger_head (id = 1, tree_size)`: the log's size, and the lock that
//!   keeps it linear: every append locks this row first (`FOR UPDATE` on
//!   PostgreSQL; on SQLite the writer holds the database lock from
//!   `BEGIN IMMEDIATE`), so appends from any number of server processes
//!   are serialised and take consecutive indices.
//! * `ledger_checkpoint (tree_size, root_hash, note, created_at)`: signed
//!   checkpoints, at most one per size.
//!
//! # Atomicity
//!
//! A change and its ledger entry commit together: repositories call
//! [`append_entries`] inside the same write transaction as the change.

use std::collections::HashMap;

use ledger::{Entry, Hash, HashStore, NodeId, ProofError};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use crate::entity::{ledger_checkpoint, ledger_entry, ledger_head, ledger_node};
use crate::{Backend, Store, StoreError, now};

/// Most entries one append may add (one change writes a handful).
pub const MAX_APPEND_ENTRIES: usize = 1024;
/// Most entries one [`Store::ledger_entries`] page returns.
pub const MAX_ENTRIES_PAGE: u64 = 1000;
/// Rows per multi-row INSERT: well under SQLite's bound on bound parameters.
const INSERT_CHUNK: usize = 200;
/// The primary key of the one `ledger_head` row.
const HEAD_ID: i32 = 1;

/// An inclusion proof as the store answers it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InclusionProof {
    /// The leaf's index.
    pub index: u64,
    /// The tree size the proof is for.
    pub tree_size: u64,
    /// The leaf's RFC 9162 hash.
    pub leaf_hash: Hash,
    /// The audit path, lowest level first.
    pub proof: Vec<Hash>,
}

/// One leaf of the log, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEntry {
    /// Its index in the log.
    pub index: u64,
    /// The exact leaf bytes ([`Entry::encode`]).
    pub leaf: Vec<u8>,
    /// The RFC 9162 leaf hash of `leaf`.
    pub leaf_hash: Hash,
    /// The decoded entry.
    pub entry: Entry,
}

/// One leaf of the log exactly as stored, not decoded and not checked: what
/// an auditor downloads and verifies for itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawLeaf {
    /// Its index in the log.
    pub index: u64,
    /// The stored leaf bytes.
    pub leaf: Vec<u8>,
}

/// Most entries one [`Store::person_ledger_entries`] page returns.
pub const MAX_ACTIVITY_PAGE: u64 = 100;

/// A signed checkpoint, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// The tree size it commits to.
    pub tree_size: u64,
    /// The tree head at that size.
    pub root_hash: Hash,
    /// The signed note, byte for byte.
    pub note: String,
    /// When it was stored.
    pub created_at: time::OffsetDateTime,
}

/// The perfect-subtree hashes one root or proof needs, loaded from the
/// database, as the [`HashStore`] the `ledger` crate reads.
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

/// Perfect subtrees at this level and above are kept in memory once read:
/// a complete subtree's hash never changes, so the cache needs no
/// invalidation, and at 1,000,000 leaves the levels from 6 up are ~31,000
/// hashes (about 2 MB) that answer most of every proof's path.
pub(crate) const CACHE_MIN_LEVEL: u32 = 6;
/// A bound on the cache, whatever the log's size.
const CACHE_MAX_NODES: usize = 1 << 17;

/// The ledger's in-memory read cache: upper subtree hashes and the largest
/// tree size seen committed. Shared by the clones of a [`Store`].
#[derive(Debug, Default)]
pub(crate) struct NodeCache {
    nodes: std::sync::RwLock<HashMap<NodeId, Hash>>,
    known_size: std::sync::atomic::AtomicU64,
}

impl NodeCache {
    fn known_size(&self) -> u64 {
        self.known_size.load(std::sync::atomic::Ordering::Acquire)
    }

    fn saw_size(&self, size: u64) {
        self.known_size
            .fetch_max(size, std::sync::atomic::Ordering::AcqRel);
    }

    fn get(&self, node: NodeId) -> Option<Hash> {
        self.nodes.read().ok()?.get(&node).copied()
    }

    fn insert(&self, loaded: &HashMap<NodeId, Hash>) {
        if let Ok(mut nodes) = self.nodes.write() {
            for (id, hash) in loaded {
                if id.level >= CACHE_MIN_LEVEL && nodes.len() < CACHE_MAX_NODES {
                    nodes.insert(*id, *hash);
                }
            }
        }
    }
}

/// A bad argument stays typed; a node the proof needs and the database
/// lacks means the stored tree is damaged.
fn proof_error(error: ProofError) -> StoreError {
    match error {
        ProofError::MissingNode { .. } => StoreError::corrupt(format!("ledger: {error}")),
        other => StoreError::LedgerProof(other),
    }
}

fn to_hash(bytes: &[u8], what: &str) -> Result<Hash, StoreError> {
    Hash::try_from(bytes).map_err(|_| StoreError::corrupt(format!("{what} is not 32 bytes")))
}

fn to_i64(value: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::corrupt(format!("{what} {value} exceeds i64")))
}

fn to_u64(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::corrupt(format!("{what} {value} is negative")))
}

/// The log's size, locking the head row for the rest of `txn` when `lock`
/// is set on PostgreSQL.
pub(crate) async fn head_size(
    txn: &DatabaseTransaction,
    backend: Backend,
    lock: bool,
) -> Result<u64, StoreError> {
    let mut query = ledger_head::Entity::find_by_id(HEAD_ID);
    if lock && backend == Backend::Postgres {
        query = query.lock_exclusive();
    }
    let head = query
        .one(txn)
        .await?
        .ok_or_else(|| StoreError::corrupt("ledger_head has no row"))?;
    to_u64(head.tree_size, "ledger_head.tree_size")
}

/// The largest log the store keeps: [`node_position`] needs six bits for
/// the level beside the leaf index in an `i64`.
pub(crate) const STORE_MAX_TREE_SIZE: u64 = 1 << 57;

/// The `ledger_node` key of a subtree: `(last_leaf << 6) + level`, where
/// `last_leaf` is the subtree's rightmost leaf, the one whose append
/// completes it. Keys grow with the log, and the nodes one leaf completes
/// differ in level. The migration that introduced the key computes the same
/// expression in SQL, and a CHECK holds every row to it.
fn node_position(node: NodeId) -> Result<i64, StoreError> {
    // The subtree ends within the largest tree: (index + 1) << level, with
    // no bit shifted out, is at most STORE_MAX_TREE_SIZE.
    let last_leaf = node
        .index
        .checked_add(1)
        .filter(|&end| node.level <= 57 && end <= STORE_MAX_TREE_SIZE >> node.level)
        .map(|end| end << node.level)
        .ok_or_else(|| {
            StoreError::corrupt(format!(
                "ledger: no subtree {} at level {}",
                node.index, node.level
            ))
        })?
        - 1;
    to_i64((last_leaf << 6) + u64::from(node.level), "node position")
}

/// The perfect subtrees that make up a tree of `tree_size` leaves, largest
/// (leftmost) first: the "frontier" a new leaf is merged into.
fn frontier(tree_size: u64) -> Vec<NodeId> {
    let mut nodes = Vec::with_capacity(tree_size.count_ones() as usize);
    let mut start = 0u64;
    for level in (0..64u32).rev() {
        if tree_size & (1u64 << level) != 0 {
            nodes.push(NodeId {
                level,
                index: start >> level,
            });
            start += 1u64 << level;
        }
    }
    nodes
}

/// Loads exactly `wanted`: leaf hashes from `ledger_entry`, higher levels
/// from `ledger_node`. At most two indexed queries.
async fn load_nodes<C: ConnectionTrait>(
    txn: &C,
    wanted: &[NodeId],
) -> Result<HashMap<NodeId, Hash>, StoreError> {
    let mut nodes = HashMap::with_capacity(wanted.len());
    let leaves: Vec<i64> = wanted
        .iter()
        .filter(|n| n.level == 0)
        .map(|n| to_i64(n.index, "leaf index"))
        .collect::<Result<_, _>>()?;
    if !leaves.is_empty() {
        let rows: Vec<(i64, Vec<u8>)> = ledger_entry::Entity::find()
            .select_only()
            .column(ledger_entry::Column::Idx)
            .column(ledger_entry::Column::LeafHash)
            .filter(ledger_entry::Column::Idx.is_in(leaves))
            .into_tuple()
            .all(txn)
            .await?;
        for (idx, hash) in rows {
            let id = NodeId {
                level: 0,
                index: to_u64(idx, "ledger_entry.idx")?,
            };
            nodes.insert(id, to_hash(&hash, "ledger_entry.leaf_hash")?);
        }
    }
    let higher: Vec<i64> = wanted
        .iter()
        .filter(|n| n.level > 0)
        .map(|&n| node_position(n))
        .collect::<Result<_, _>>()?;
    if !higher.is_empty() {
        let rows = ledger_node::Entity::find()
            .filter(ledger_node::Column::Position.is_in(higher))
            .all(txn)
            .await?;
        for row in rows {
            let id = NodeId {
                level: u32::try_from(row.level)
                    .map_err(|_| StoreError::corrupt("ledger_node.level is negative"))?,
                index: to_u64(row.idx, "ledger_node.idx")?,
            };
            nodes.insert(id, to_hash(&row.hash, "ledger_node.hash")?);
        }
    }
    Ok(nodes)
}

/// The current time in milliseconds since the Unix epoch, for entries.
pub(crate) fn now_unix_ms() -> i64 {
    i64::try_from(now().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// The rows one append writes, worked out before any is written.
struct AppendPlan {
    /// The log's size before the append: the first entry's index.
    size_before: u64,
    /// The log's size after it.
    size_after: u64,
    /// One per entry, in index order.
    entries: Vec<ledger_entry::Model>,
    /// The subtrees the entries complete, in the order they are completed
    /// (ascending [`node_position`]).
    nodes: Vec<ledger_node::Model>,
}

/// Checks an append's size and names the frontier nodes its plan needs;
/// `None` when there is nothing to append.
fn append_bounds(
    size_before: u64,
    entries: &[Entry],
) -> Result<Option<(u64, Vec<NodeId>)>, StoreError> {
    if entries.len() > MAX_APPEND_ENTRIES {
        return Err(StoreError::TooManyLedgerEntries {
            max: MAX_APPEND_ENTRIES,
        });
    }
    if entries.is_empty() {
        return Ok(None);
    }
    let size_after = size_before
        .checked_add(entries.len() as u64)
        .filter(|&s| s <= STORE_MAX_TREE_SIZE)
        .ok_or_else(|| StoreError::corrupt("the ledger is full"))?;
    Ok(Some((size_after, frontier(size_before))))
}

/// Merges each new leaf into the right edge of the tree (the `frontier`
/// hashes of the log at `size_before`), recording every perfect subtree it
/// completes.
fn plan_append(
    size_before: u64,
    size_after: u64,
    edge: Vec<NodeId>,
    loaded: &HashMap<NodeId, Hash>,
    entries: &[Entry],
) -> Result<AppendPlan, StoreError> {
    let mut stack: Vec<(NodeId, Hash)> = Vec::with_capacity(64);
    for id in edge {
        let hash = loaded.get(&id).copied().ok_or_else(|| {
            StoreError::corrupt(format!(
                "ledger: the subtree {} at level {} is missing",
                id.index, id.level
            ))
        })?;
        stack.push((id, hash));
    }
    let mut entry_rows = Vec::with_capacity(entries.len());
    let mut node_rows = Vec::new();
    for (offset, entry) in entries.iter().enumerate() {
        let index = size_before + offset as u64;
        let leaf = entry.encode();
        let leaf_hash = ledger::leaf_hash(&leaf);
        entry_rows.push(ledger_entry::Model {
            idx: to_i64(index, "leaf index")?,
            time_unix_ms: entry.time_unix_ms,
            kind: entry.kind.name().to_owned(),
            leaf,
            leaf_hash: leaf_hash.to_vec(),
            person: entry.kind.person().map(|p| p.as_str().to_owned()),
        });
        stack.push((NodeId { level: 0, index }, leaf_hash));
        while stack.len() >= 2 && stack[stack.len() - 1].0.level == stack[stack.len() - 2].0.level {
            let (right_id, right) = stack.pop().expect("two nodes on the stack");
            let (left_id, left) = stack.pop().expect("two nodes on the stack");
            assert!(
                left_id.index.is_multiple_of(2) && right_id.index == left_id.index + 1,
                "siblings are adjacent"
            );
            let parent = NodeId {
                level: left_id.level + 1,
                index: left_id.index / 2,
            };
            let hash = ledger::node_hash(&left, &right);
            node_rows.push(ledger_node::Model {
                position: node_position(parent)?,
                level: parent.level as i32,
                idx: to_i64(parent.index, "node index")?,
                hash: hash.to_vec(),
            });
            stack.push((parent, hash));
        }
    }
    // The right edge now decomposes the new size exactly.
    debug_assert_eq!(
        stack.iter().map(|(id, _)| id.level).collect::<Vec<_>>(),
        frontier(size_after)
            .iter()
            .map(|id| id.level)
            .collect::<Vec<_>>()
    );
    Ok(AppendPlan {
        size_before,
        size_after,
        entries: entry_rows,
        nodes: node_rows,
    })
}

/// Appends `entries` to the log inside the caller's write transaction and
/// returns the index of the first one (the log's size when there are none).
///
/// Must run in a transaction from [`Store::write_txn`]: it locks the head
/// row, so concurrent appends (from this process or others on the same
/// PostgreSQL) wait their turn and the log stays one gap-free sequence. The
/// entries, the subtree hashes they complete and the new size commit or
/// roll back with the caller's change.
pub(crate) async fn append_entries(
    txn: &DatabaseTransaction,
    backend: Backend,
    entries: &[Entry],
) -> Result<u64, StoreError> {
    let size_before = head_size(txn, backend, true).await?;
    let Some((size_after, edge)) = append_bounds(size_before, entries)? else {
        return Ok(size_before);
    };
    let loaded = load_nodes(txn, &edge).await?;
    let plan = plan_append(size_before, size_after, edge, &loaded, entries)?;

    let mut rows = plan.entries.into_iter().map(Into::into).peekable();
    while rows.peek().is_some() {
        let chunk: Vec<ledger_entry::ActiveModel> = rows.by_ref().take(INSERT_CHUNK).collect();
        ledger_entry::Entity::insert_many(chunk)
            .exec_without_returning(txn)
            .await?;
    }
    let mut rows = plan.nodes.into_iter().map(Into::into).peekable();
    while rows.peek().is_some() {
        let chunk: Vec<ledger_node::ActiveModel> = rows.by_ref().take(INSERT_CHUNK).collect();
        ledger_node::Entity::insert_many(chunk)
            .exec_without_returning(txn)
            .await?;
    }
    // A tree size never shrinks, and only the holder of the head lock moves it.
    let moved = ledger_head::Entity::update_many()
        .col_expr(
            ledger_head::Column::TreeSize,
            Expr::value(to_i64(plan.size_after, "tree size")?),
        )
        .filter(ledger_head::Column::Id.eq(HEAD_ID))
        .filter(ledger_head::Column::TreeSize.eq(to_i64(plan.size_before, "tree size")?))
        .exec(txn)
        .await?;
    if moved.rows_affected != 1 {
        return Err(StoreError::LedgerHeadMoved);
    }
    crate::receipt::note_indexes(txn, plan.size_before, entries).await?;
    Ok(plan.size_before)
}

/// [`append_entries`] on a SQLite connection of the caller's own, inside
/// its `BEGIN IMMEDIATE` transaction (see [`crate::sqlite_writer`]): the
/// same rows, written by the same plan, without a trip through sqlx per
/// statement.
pub(crate) fn append_entries_sqlite(
    txn: &rusqlite::Transaction<'_>,
    entries: &[Entry],
) -> Result<u64, StoreError> {
    use rusqlite::{OptionalExtension, params};
    let error = |e| crate::sqlite_writer::database_error("appending to the ledger", e);
    let size: i64 = txn
        .prepare_cached("SELECT tree_size FROM ledger_head WHERE id = ?1")
        .and_then(|mut head| head.query_row([HEAD_ID], |row| row.get(0)))
        .map_err(error)?;
    let size_before = to_u64(size, "ledger_head.tree_size")?;
    let Some((size_after, edge)) = append_bounds(size_before, entries)? else {
        return Ok(size_before);
    };
    let mut loaded = HashMap::with_capacity(edge.len());
    for &node in &edge {
        let (sql, key) = if node.level == 0 {
            (
                "SELECT leaf_hash FROM ledger_entry WHERE idx = ?1",
                to_i64(node.index, "leaf index")?,
            )
        } else {
            (
                "SELECT hash FROM ledger_node WHERE position = ?1",
                node_position(node)?,
            )
        };
        let hash: Option<Vec<u8>> = txn
            .prepare_cached(sql)
            .and_then(|mut read| read.query_row([key], |row| row.get(0)).optional())
            .map_err(error)?;
        if let Some(hash) = hash {
            loaded.insert(node, to_hash(&hash, "a frontier hash")?);
        }
    }
    let plan = plan_append(size_before, size_after, edge, &loaded, entries)?;
    {
        let mut insert = txn
            .prepare_cached(
                "INSERT INTO ledger_entry (idx, time_unix_ms, kind, leaf, leaf_hash, person) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .map_err(error)?;
        for row in &plan.entries {
            insert
                .execute(params![
                    row.idx,
                    row.time_unix_ms,
                    row.kind,
                    row.leaf,
                    row.leaf_hash,
                    row.person
                ])
                .map_err(error)?;
        }
        let mut insert = txn
            .prepare_cached(
                "INSERT INTO ledger_node (position, level, idx, hash) VALUES (?1, ?2, ?3, ?4)",
            )
            .map_err(error)?;
        for row in &plan.nodes {
            insert
                .execute(params![row.position, row.level, row.idx, row.hash])
                .map_err(error)?;
        }
    }
    let (after, before) = (
        to_i64(plan.size_after, "tree size")?,
        to_i64(plan.size_before, "tree size")?,
    );
    let moved = txn
        .prepare_cached("UPDATE ledger_head SET tree_size = ?1 WHERE id = ?2 AND tree_size = ?3")
        .and_then(|mut head| head.execute(params![after, HEAD_ID, before]))
        .map_err(error)?;
    if moved != 1 {
        return Err(StoreError::LedgerHeadMoved);
    }
    Ok(plan.size_before)
}

impl Store {
    /// Appends entries that belong to no other change, in a transaction of
    /// their own; returns the index of the first.
    pub async fn append_standalone(&self, entries: &[Entry]) -> Result<u64, StoreError> {
        let (_turn, txn) = self.write_txn().await?;
        let first = append_entries(&txn, self.backend(), entries).await?;
        txn.commit().await?;
        Ok(first)
    }

    /// Number of entries in the log.
    pub async fn ledger_size(&self) -> Result<u64, StoreError> {
        let txn = self.read_txn().await?;
        head_size(&txn, self.backend(), false).await
    }

    /// The tree head at `tree_size` (at most the log's size).
    pub async fn ledger_root(&self, tree_size: u64) -> Result<Hash, StoreError> {
        let txn = self.read_txn().await?;
        let store = self
            .load_for(&txn, tree_size, |size| Ok(ledger::root_nodes(size)))
            .await?;
        ledger::root_at(&store, tree_size).map_err(proof_error)
    }

    /// Reads every stored subtree hash the proof cache keeps (level
    /// [`CACHE_MIN_LEVEL`] and up, at most its bound) in one query, so the
    /// first proofs after a start are as fast as later ones. At 1,000,000
    /// leaves: ~31,000 hashes, about 2 MB. Returns how many were loaded.
    pub async fn warm_ledger_cache(&self) -> Result<usize, StoreError> {
        // A literal, not a bound parameter, so that SQLite's planner sees
        // the condition of the partial index `ix_ledger_node_upper`.
        const _: () = assert!(
            CACHE_MIN_LEVEL == 6,
            "ix_ledger_node_upper covers level >= 6"
        );
        let rows = ledger_node::Entity::find()
            .filter(Expr::cust("level >= 6"))
            .order_by_desc(ledger_node::Column::Level)
            .limit(CACHE_MAX_NODES as u64)
            .all(&self.db)
            .await?;
        let mut loaded = HashMap::with_capacity(rows.len());
        for row in rows {
            let id = NodeId {
                level: u32::try_from(row.level)
                    .map_err(|_| StoreError::corrupt("ledger_node.level is negative"))?,
                index: to_u64(row.idx, "ledger_node.idx")?,
            };
            loaded.insert(id, to_hash(&row.hash, "ledger_node.hash")?);
        }
        self.ledger_cache.insert(&loaded);
        Ok(loaded.len())
    }

    /// The inclusion proof of leaf `index` in the tree of `tree_size` leaves.
    pub async fn inclusion_proof(
        &self,
        index: u64,
        tree_size: u64,
    ) -> Result<InclusionProof, StoreError> {
        // Leaves below a size once read are committed and never change, so
        // a proof needs no transaction: at most one query for the leaves
        // of the (at most two) 64-leaf blocks holding its low nodes, and
        // one for upper nodes the cache has not seen yet.
        let leaf_count = match self.ledger_cache.known_size() {
            known if tree_size <= known => known,
            _ => {
                let size = self.ledger_size().await?;
                self.ledger_cache.saw_size(size);
                size
            }
        };
        if tree_size > leaf_count {
            return Err(StoreError::LedgerProof(ProofError::SizeOutOfRange {
                tree_size,
                leaf_count,
            }));
        }
        let mut wanted = ledger::inclusion_proof_nodes(index, tree_size).map_err(proof_error)?;
        wanted.push(NodeId { level: 0, index });
        let mut nodes = HashMap::with_capacity(wanted.len());
        let mut low = Vec::new();
        let mut high = Vec::new();
        for node in wanted {
            if node.level < CACHE_MIN_LEVEL {
                low.push(node);
            } else if let Some(hash) = self.ledger_cache.get(node) {
                nodes.insert(node, hash);
            } else {
                high.push(node);
            }
        }
        if !low.is_empty() {
            nodes.extend(self.low_nodes(&low, tree_size).await?);
        }
        if !high.is_empty() {
            let loaded = load_nodes(&self.db, &high).await?;
            self.ledger_cache.insert(&loaded);
            nodes.extend(loaded);
        }
        let store = Loaded { leaf_count, nodes };
        let proof = ledger::inclusion_proof(&store, index, tree_size).map_err(proof_error)?;
        let leaf_hash = store
            .perfect_subtree(0, index)
            .ok_or_else(|| StoreError::corrupt(format!("ledger: leaf {index} is missing")))?;
        Ok(InclusionProof {
            index,
            tree_size,
            leaf_hash,
            proof,
        })
    }

    /// Perfect subtrees below [`CACHE_MIN_LEVEL`], hashed from the leaf
    /// hashes of the aligned blocks that hold them, read in one query.
    async fn low_nodes(
        &self,
        low: &[NodeId],
        tree_size: u64,
    ) -> Result<HashMap<NodeId, Hash>, StoreError> {
        let block = 1u64 << CACHE_MIN_LEVEL;
        let mut blocks: Vec<u64> = low.iter().map(|n| (n.index << n.level) / block).collect();
        blocks.sort_unstable();
        blocks.dedup();
        let mut leaves = HashMap::with_capacity(blocks.len() * block as usize);
        for b in blocks {
            let start = b * block;
            let end = (start + block).min(tree_size);
            for (idx, hash) in self.leaf_hash_range(start, end).await? {
                leaves.insert(
                    to_u64(idx, "ledger_entry.idx")?,
                    to_hash(&hash, "ledger_entry.leaf_hash")?,
                );
            }
        }
        let mut nodes = HashMap::with_capacity(low.len());
        for node in low {
            let first = node.index << node.level;
            let hashes: Vec<Hash> = (first..first + (1u64 << node.level))
                .map(|i| {
                    leaves
                        .get(&i)
                        .copied()
                        .ok_or_else(|| StoreError::corrupt(format!("ledger: leaf {i} is missing")))
                })
                .collect::<Result<_, _>>()?;
            nodes.insert(*node, ledger::root_from_leaves(&hashes));
        }
        Ok(nodes)
    }

    /// The leaf hashes of `[start, end)`: on SQLite from the synchronous
    /// [`SqliteReader`](crate::sqlite_reader::SqliteReader), on PostgreSQL by a
    /// prepared statement on the pool.
    async fn leaf_hash_range(
        &self,
        start: u64,
        end: u64,
    ) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
        let start = to_i64(start, "leaf index")?;
        let end = to_i64(end, "leaf index")?;
        let rows = match self.backend() {
            Backend::Sqlite => match &self.sqlite_reader {
                Some(reader) => return reader.leaf_hashes(start, end),
                None => {
                    sea_orm::sqlx::query_as(
                        "SELECT idx, leaf_hash FROM ledger_entry WHERE idx >= ?1 AND idx < ?2",
                    )
                    .bind(start)
                    .bind(end)
                    .fetch_all(self.db.get_sqlite_connection_pool())
                    .await
                }
            },
            Backend::Postgres => {
                sea_orm::sqlx::query_as(
                    "SELECT idx, leaf_hash FROM ledger_entry WHERE idx >= $1 AND idx < $2",
                )
                .bind(start)
                .bind(end)
                .fetch_all(self.db.get_postgres_connection_pool())
                .await
            }
        };
        rows.map_err(|error| {
            StoreError::Database(sea_orm::DbErr::Query(sea_orm::RuntimeErr::SqlxError(
                std::sync::Arc::new(error),
            )))
        })
    }

    /// The consistency proof from the tree of `first` leaves to the tree of
    /// `second` leaves.
    pub async fn consistency_proof(
        &self,
        first: u64,
        second: u64,
    ) -> Result<Vec<Hash>, StoreError> {
        let txn = self.read_txn().await?;
        let store = self
            .load_for(&txn, second, |size| {
                ledger::consistency_proof_nodes(first, size)
            })
            .await?;
        ledger::consistency_proof(&store, first, second).map_err(proof_error)
    }

    /// Reads the log's size and, when `tree_size` is within it, exactly the
    /// nodes `plan` lists for that size.
    async fn load_for(
        &self,
        txn: &DatabaseTransaction,
        tree_size: u64,
        plan: impl FnOnce(u64) -> Result<Vec<NodeId>, ProofError>,
    ) -> Result<Loaded, StoreError> {
        let leaf_count = head_size(txn, self.backend(), false).await?;
        if tree_size > leaf_count {
            return Err(StoreError::LedgerProof(ProofError::SizeOutOfRange {
                tree_size,
                leaf_count,
            }));
        }
        let wanted = plan(tree_size).map_err(proof_error)?;
        let nodes = load_nodes(txn, &wanted).await?;
        Ok(Loaded { leaf_count, nodes })
    }

    /// Entries `[start, end)`, cut to the log's size and to
    /// [`MAX_ENTRIES_PAGE`] entries; empty when `start` is at or past the end.
    pub async fn ledger_entries(
        &self,
        start: u64,
        end: u64,
    ) -> Result<Vec<StoredEntry>, StoreError> {
        let txn = self.read_txn().await?;
        let size = head_size(&txn, self.backend(), false).await?;
        let end = end.min(size).min(start.saturating_add(MAX_ENTRIES_PAGE));
        if start >= end {
            return Ok(Vec::new());
        }
        let rows = ledger_entry::Entity::find()
            .filter(ledger_entry::Column::Idx.gte(to_i64(start, "start")?))
            .filter(ledger_entry::Column::Idx.lt(to_i64(end, "end")?))
            .order_by_asc(ledger_entry::Column::Idx)
            .all(&txn)
            .await?;
        if rows.len() as u64 != end - start {
            return Err(StoreError::corrupt(format!(
                "ledger: entries {start}..{end} have gaps"
            )));
        }
        rows.into_iter()
            .zip(start..end)
            .map(|(row, index)| {
                if to_u64(row.idx, "ledger_entry.idx")? != index {
                    return Err(StoreError::corrupt(format!(
                        "ledger: entry {index} is missing"
                    )));
                }
                let leaf_hash = to_hash(&row.leaf_hash, "ledger_entry.leaf_hash")?;
                if ledger::leaf_hash(&row.leaf) != leaf_hash {
                    return Err(StoreError::corrupt(format!(
                        "ledger: entry {index} does not match its leaf hash"
                    )));
                }
                let entry = Entry::decode(&row.leaf)
                    .map_err(|e| StoreError::corrupt(format!("ledger: entry {index}: {e}")))?;
                Ok(StoredEntry {
                    index,
                    leaf: row.leaf,
                    leaf_hash,
                    entry,
                })
            })
            .collect()
    }

    /// Leaves `[start, end)` byte for byte, cut like [`Store::ledger_entries`].
    /// Unlike it, nothing is decoded or checked against `leaf_hash`: the
    /// bytes go to auditors as stored, so damage is theirs to find (and to
    /// name by index) rather than a server error that hides it.
    pub async fn ledger_leaves(&self, start: u64, end: u64) -> Result<Vec<RawLeaf>, StoreError> {
        let txn = self.read_txn().await?;
        let size = head_size(&txn, self.backend(), false).await?;
        let end = end.min(size).min(start.saturating_add(MAX_ENTRIES_PAGE));
        if start >= end {
            return Ok(Vec::new());
        }
        let rows: Vec<(i64, Vec<u8>)> = ledger_entry::Entity::find()
            .select_only()
            .column(ledger_entry::Column::Idx)
            .column(ledger_entry::Column::Leaf)
            .filter(ledger_entry::Column::Idx.gte(to_i64(start, "start")?))
            .filter(ledger_entry::Column::Idx.lt(to_i64(end, "end")?))
            .order_by_asc(ledger_entry::Column::Idx)
            .into_tuple()
            .all(&txn)
            .await?;
        let mut leaves = Vec::with_capacity(rows.len());
        for ((idx, leaf), index) in rows.into_iter().zip(start..end) {
            if to_u64(idx, "ledger_entry.idx")? != index {
                return Err(StoreError::corrupt(format!(
                    "ledger: entry {index} is missing"
                )));
            }
            leaves.push(RawLeaf { index, leaf });
        }
        if leaves.len() as u64 != end - start {
            return Err(StoreError::corrupt(format!(
                "ledger: entries {start}..{end} have gaps"
            )));
        }
        Ok(leaves)
    }

    /// The entries naming `pseudonym`, newest first: those with an index
    /// below `before` (all when `None`), at most `limit` (itself capped at
    /// [`MAX_ACTIVITY_PAGE`]). Reads the `(person, idx)` index, not the log.
    pub async fn person_ledger_entries(
        &self,
        pseudonym: &str,
        before: Option<u64>,
        limit: u64,
    ) -> Result<Vec<RawLeaf>, StoreError> {
        let limit = limit.clamp(1, MAX_ACTIVITY_PAGE);
        let mut query = ledger_entry::Entity::find()
            .select_only()
            .column(ledger_entry::Column::Idx)
            .column(ledger_entry::Column::Leaf)
            .filter(ledger_entry::Column::Person.eq(pseudonym));
        if let Some(before) = before {
            query = query.filter(
                ledger_entry::Column::Idx.lt(to_i64(before.min(i64::MAX as u64), "before")?),
            );
        }
        let rows: Vec<(i64, Vec<u8>)> = query
            .order_by_desc(ledger_entry::Column::Idx)
            .limit(limit)
            .into_tuple()
            .all(&self.db)
            .await?;
        rows.into_iter()
            .map(|(idx, leaf)| {
                Ok(RawLeaf {
                    index: to_u64(idx, "ledger_entry.idx")?,
                    leaf,
                })
            })
            .collect()
    }

    /// The signed checkpoint of the largest tree size, if any was saved.
    pub async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        let row = ledger_checkpoint::Entity::find()
            .order_by_desc(ledger_checkpoint::Column::TreeSize)
            .limit(1)
            .one(&self.db)
            .await?;
        row.map(StoredCheckpoint::try_from).transpose()
    }

    /// Saves a signed checkpoint of `tree_size` whose head is `root_hash`,
    /// after checking that head against the log. Idempotent per tree size:
    /// when one is stored already (by this or another process), that one is
    /// kept and returned.
    pub async fn save_checkpoint(
        &self,
        tree_size: u64,
        root_hash: &Hash,
        note: &str,
    ) -> Result<StoredCheckpoint, StoreError> {
        if self.ledger_root(tree_size).await? != *root_hash {
            return Err(StoreError::CheckpointRootMismatch { tree_size });
        }
        let size = to_i64(tree_size, "tree size")?;
        let (_turn, txn) = self.write_txn().await?;
        let row = ledger_checkpoint::ActiveModel {
            tree_size: Set(size),
            root_hash: Set(root_hash.to_vec()),
            note: Set(note.to_owned()),
            created_at: Set(now()),
        };
        ledger_checkpoint::Entity::insert(row)
            .on_conflict_do_nothing()
            .exec_without_returning(&txn)
            .await?;
        let stored = ledger_checkpoint::Entity::find_by_id(size)
            .one(&txn)
            .await?
            .ok_or_else(|| StoreError::corrupt("ledger: the checkpoint just saved is gone"))?;
        txn.commit().await?;
        StoredCheckpoint::try_from(stored)
    }
}

impl TryFrom<ledger_checkpoint::Model> for StoredCheckpoint {
    type Error = StoreError;
    fn try_from(row: ledger_checkpoint::Model) -> Result<Self, StoreError> {
        Ok(StoredCheckpoint {
            tree_size: to_u64(row.tree_size, "ledger_checkpoint.tree_size")?,
            root_hash: to_hash(&row.root_hash, "ledger_checkpoint.root_hash")?,
            note: row.note,
            created_at: row.created_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use ledger::{EntryKind, ShortText, Tree, verify_consistency, verify_inclusion};

    use super::*;
    use crate::{Handle, store_test};

    fn entry(tag: &str) -> Entry {
        Entry::new(
            1_700_000_000_000,
            EntryKind::TransferPosted {
                transfer_id: ShortText::new(tag).unwrap(),
            },
        )
    }

    fn entries(from: u64, count: u64) -> Vec<Entry> {
        (from..from + count)
            .map(|i| entry(&format!("t-{i}")))
            .collect()
    }

    async fn count(store: &Store, table: &str) -> u64 {
        store
            .query_text(&format!("SELECT CAST(COUNT(*) AS TEXT) FROM {table}"))
            .await
            .unwrap()
            .unwrap()
            .parse()
            .unwrap()
    }

    /// The in-memory tree of everything the store holds, from its leaves.
    async fn tree_of(store: &Store) -> Tree {
        let size = store.ledger_size().await.unwrap();
        let mut tree = Tree::new();
        let mut start = 0;
        while start < size {
            let page = store.ledger_entries(start, size).await.unwrap();
            for stored in &page {
                assert_eq!(stored.index, tree.len());
                assert_eq!(stored.leaf, stored.entry.encode());
                tree.append(&stored.leaf);
            }
            start += page.len() as u64;
        }
        tree
    }

    store_test!(roots_and_proofs_match_the_in_memory_tree, |store| {
        let mut expected = Tree::new();
        assert_eq!(store.ledger_size().await.unwrap(), 0);
        assert_eq!(store.ledger_root(0).await.unwrap(), ledger::EMPTY_ROOT);
        // Batches of 1, 2, 3, ... leaves, so appends start and end at every
        // kind of boundary.
        let mut batch = 1;
        while expected.len() < 130 {
            let new = entries(expected.len(), batch);
            let first = store.append_standalone(&new).await.unwrap();
            assert_eq!(first, expected.len());
            for e in &new {
                expected.append(&e.encode());
            }
            assert_eq!(store.ledger_size().await.unwrap(), expected.len());
            assert_eq!(
                store.ledger_root(expected.len()).await.unwrap(),
                expected.root()
            );
            batch += 1;
        }
        let size = expected.len();
        assert_eq!(
            count(store, "ledger_node").await,
            size - u64::from(size.count_ones()),
            "one row per completed subtree of level 1 and up"
        );
        for tree_size in 0..=size {
            let root = expected.root_at(tree_size).unwrap();
            assert_eq!(store.ledger_root(tree_size).await.unwrap(), root);
            for index in (0..tree_size).step_by(7).chain(tree_size.checked_sub(1)) {
                let proof = store.inclusion_proof(index, tree_size).await.unwrap();
                assert_eq!(proof.leaf_hash, expected.leaf(index).unwrap());
                assert_eq!(
                    proof.proof,
                    expected.inclusion_proof(index, tree_size).unwrap()
                );
                verify_inclusion(&proof.leaf_hash, index, tree_size, &proof.proof, &root).unwrap();
            }
            for first in (0..=tree_size).step_by(9).chain([tree_size]) {
                let proof = store.consistency_proof(first, tree_size).await.unwrap();
                assert_eq!(proof, expected.consistency_proof(first, tree_size).unwrap());
                let first_root = expected.root_at(first).unwrap();
                verify_consistency(first, tree_size, &first_root, &root, &proof).unwrap();
            }
        }
        assert_eq!(tree_of(store).await.root(), expected.root());
    });

    #[test]
    fn node_positions_grow_with_the_log_and_name_one_node_each() {
        // Every node a tree of 1,000 leaves completes, in the order appends
        // complete them (leaf by leaf, lowest level first).
        let mut seen = std::collections::HashSet::new();
        let mut previous = None;
        for leaf in 0u64..1000 {
            let mut level = 1;
            while (leaf + 1).is_multiple_of(1 << level) {
                let node = NodeId {
                    level,
                    index: (leaf + 1) / (1 << level) - 1,
                };
                let position = node_position(node).unwrap();
                assert!(previous < Some(position), "{node:?}");
                assert!(seen.insert(position));
                assert_eq!(position >> 6, leaf as i64);
                assert_eq!(position & 63, i64::from(level));
                previous = Some(position);
                level += 1;
            }
        }
        assert_eq!(seen.len(), 1000 - 1000u32.count_ones() as usize);
        // The largest tree the store keeps, and nothing past it.
        let last = NodeId {
            level: 57,
            index: 0,
        };
        assert_eq!(
            node_position(last).unwrap(),
            (((STORE_MAX_TREE_SIZE - 1) << 6) + 57) as i64
        );
        for beyond in [
            NodeId {
                level: 57,
                index: 1,
            },
            NodeId {
                level: 58,
                index: 0,
            },
            NodeId {
                level: 64,
                index: 0,
            },
            NodeId {
                level: 1,
                index: u64::MAX,
            },
            NodeId {
                level: 10,
                index: 1 << 60,
            },
        ] {
            assert!(node_position(beyond).is_err(), "{beyond:?}");
        }
    }

    store_test!(the_node_position_migration_keeps_every_hash, |store| {
        use migrations::{Migrator, MigratorTrait};
        let new = entries(0, 300);
        store.append_standalone(&new).await.unwrap();
        let mut expected = Tree::new();
        for e in &new {
            expected.append(&e.encode());
        }
        // Back to the table keyed by (level, idx), with the rows it held...
        Migrator::down(&store.db, Some(1)).await.unwrap();
        assert_eq!(count(store, "ledger_node").await, 300 - 4);
        // ... and forward again: the rows come back under their positions,
        // which the CHECK ties to (level, idx), and serve the same proofs.
        Migrator::up(&store.db, None).await.unwrap();
        assert_eq!(count(store, "ledger_node").await, 300 - 4);
        let mismatched = store
            .query_text(
                "SELECT CAST(COUNT(*) AS TEXT) FROM ledger_node \
                 WHERE position <> ((((idx + 1) << level) - 1) * 64 + level)",
            )
            .await
            .unwrap();
        assert_eq!(mismatched.as_deref(), Some("0"));
        let stray = store
            .execute_unprepared(
                "INSERT INTO ledger_node (position, level, idx, hash) \
                 SELECT 1, 1, 0, hash FROM ledger_node WHERE position = 65",
            )
            .await
            .expect_err("a position that does not match its node");
        assert!(
            stray.to_string().to_lowercase().contains("check"),
            "{stray}"
        );
        for size in [1, 2, 64, 65, 255, 256, 300] {
            assert_eq!(
                store.ledger_root(size).await.unwrap(),
                expected.root_at(size).unwrap()
            );
            for index in [0, size / 2, size - 1] {
                let proof = store.inclusion_proof(index, size).await.unwrap();
                assert_eq!(proof.proof, expected.inclusion_proof(index, size).unwrap());
            }
        }
        store.append_standalone(&entries(300, 1)).await.unwrap();
        expected.append(&entries(300, 1)[0].encode());
        assert_eq!(store.ledger_root(301).await.unwrap(), expected.root());
    });

    store_test!(a_warmed_cache_serves_the_same_proofs, |store| {
        let mut expected = Tree::new();
        let new = entries(0, 700);
        store.append_standalone(&new).await.unwrap();
        for e in &new {
            expected.append(&e.encode());
        }
        // 700 leaves: ten complete 64-leaf subtrees, five of 128, two of
        // 256, one of 512.
        assert_eq!(store.warm_ledger_cache().await.unwrap(), 10 + 5 + 2 + 1);
        for size in [1, 64, 65, 300, 700] {
            for index in [0, size / 2, size - 1] {
                let proof = store.inclusion_proof(index, size).await.unwrap();
                assert_eq!(proof.proof, expected.inclusion_proof(index, size).unwrap());
            }
        }
    });

    store_test!(impossible_proof_arguments_are_typed_errors, |store| {
        store.append_standalone(&entries(0, 5)).await.unwrap();
        let err = store.inclusion_proof(5, 5).await.unwrap_err();
        assert!(matches!(
            err,
            StoreError::LedgerProof(ProofError::IndexOutOfRange { .. })
        ));
        let err = store.inclusion_proof(0, 6).await.unwrap_err();
        assert!(matches!(
            err,
            StoreError::LedgerProof(ProofError::SizeOutOfRange {
                tree_size: 6,
                leaf_count: 5
            })
        ));
        let err = store.inclusion_proof(0, u64::MAX).await.unwrap_err();
        assert!(matches!(
            err,
            StoreError::LedgerProof(ProofError::SizeOutOfRange { .. })
        ));
        let err = store.consistency_proof(4, 3).await.unwrap_err();
        assert!(matches!(
            err,
            StoreError::LedgerProof(ProofError::FirstGreaterThanSecond { .. })
        ));
        let err = store.consistency_proof(1, 9).await.unwrap_err();
        assert!(matches!(
            err,
            StoreError::LedgerProof(ProofError::SizeOutOfRange { .. })
        ));
        assert!(matches!(
            store.ledger_root(6).await.unwrap_err(),
            StoreError::LedgerProof(ProofError::SizeOutOfRange { .. })
        ));
        assert!(store.ledger_entries(5, 10).await.unwrap().is_empty());
        assert!(store.ledger_entries(3, 2).await.unwrap().is_empty());
        assert_eq!(store.ledger_entries(3, 100).await.unwrap().len(), 2);
    });

    store_test!(entry_pages_are_bounded, |store| {
        store.append_standalone(&entries(0, 1010)).await.unwrap();
        let page = store.ledger_entries(0, u64::MAX).await.unwrap();
        assert_eq!(page.len() as u64, MAX_ENTRIES_PAGE);
        let rest = store.ledger_entries(1000, u64::MAX).await.unwrap();
        assert_eq!(rest.len(), 10);
        assert_eq!(rest[9].index, 1009);
        assert_eq!(rest[9].entry, entry("t-1009"));
        let err = store
            .append_standalone(&entries(0, MAX_APPEND_ENTRIES as u64 + 1))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::TooManyLedgerEntries { .. }));
        assert_eq!(store.ledger_size().await.unwrap(), 1010);
    });

    store_test!(a_rolled_back_change_leaves_no_entry_and_no_node, |store| {
        store.append_standalone(&entries(0, 3)).await.unwrap();
        let root = store.ledger_root(3).await.unwrap();
        {
            let (_turn, txn) = store.write_txn().await.unwrap();
            use sea_orm::ActiveModelTrait;
            crate::entity::company::ActiveModel {
                id: Set("acme".to_owned()),
                name: Set("Acme".to_owned()),
                created_at: Set(now()),
                sandbox: Set(false),
                contact: Set(None),
            }
            .insert(&txn)
            .await
            .expect("a change in the same transaction");
            let first = append_entries(&txn, store.backend(), &entries(3, 6))
                .await
                .unwrap();
            assert_eq!(first, 3);
            txn.rollback().await.unwrap();
        }
        assert_eq!(store.ledger_size().await.unwrap(), 3);
        assert_eq!(count(store, "ledger_entry").await, 3);
        assert_eq!(count(store, "ledger_node").await, 1);
        assert_eq!(count(store, "company").await, 0, "the change went too");
        assert_eq!(store.ledger_root(3).await.unwrap(), root);
        // The next append takes the indices the rolled-back one did not keep.
        assert_eq!(store.append_standalone(&entries(3, 6)).await.unwrap(), 3);
        let mut expected = Tree::new();
        for e in entries(0, 9) {
            expected.append(&e.encode());
        }
        assert_eq!(store.ledger_root(9).await.unwrap(), expected.root());
    });

    store_test!(concurrent_appends_make_one_gap_free_log, |store| {
        const TASKS: u64 = 8;
        const PER_TASK: u64 = 50;
        let mut tasks = Vec::new();
        for task in 0..TASKS {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..PER_TASK {
                    // Every fifth append carries two entries.
                    let mut batch = vec![entry(&format!("{task}-{i}"))];
                    if i % 5 == 0 {
                        batch.push(entry(&format!("{task}-{i}-b")));
                    }
                    store.append_standalone(&batch).await.unwrap();
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let total = TASKS * PER_TASK + TASKS * PER_TASK / 5;
        assert_eq!(store.ledger_size().await.unwrap(), total);
        assert_eq!(count(store, "ledger_entry").await, total);
        let tree = tree_of(store).await;
        assert_eq!(tree.len(), total);
        let mut seen: Vec<Vec<u8>> = store
            .ledger_entries(0, total)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.leaf)
            .collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len() as u64, total, "no entry is written twice");
        assert_eq!(store.ledger_root(total).await.unwrap(), tree.root());
        assert_eq!(
            count(store, "ledger_node").await,
            total - u64::from(total.count_ones())
        );
        for index in [0, 1, total / 2, total - 1] {
            let proof = store.inclusion_proof(index, total).await.unwrap();
            verify_inclusion(&proof.leaf_hash, index, total, &proof.proof, &tree.root()).unwrap();
        }
    });

    store_test!(
        block_and_unblock_record_one_entry_each_and_none_for_no_ops,
        |store| {
            let ada = store
                .create_person(&Handle::parse("ada").unwrap())
                .await
                .unwrap();
            let acme = consent_policy::CompanyId::parse("acme").unwrap();
            store.create_company(&acme, "Acme").await.unwrap();
            let person = ShortText::new(ada.pseudonym.clone()).unwrap();
            let company_id = ShortText::new("acme").unwrap();

            assert!(!store.unblock_company(&ada.id, &acme).await.unwrap());
            assert_eq!(store.ledger_size().await.unwrap(), 0);

            for _ in 0..2 {
                let tx = store.begin().await.unwrap();
                tx.insert_block(&ada.id, &acme).await.unwrap();
                tx.commit().await.unwrap();
            }
            let log = store.ledger_entries(0, 10).await.unwrap();
            assert_eq!(log.len(), 1);
            assert_eq!(
                log[0].entry.kind,
                EntryKind::CompanyBlocked {
                    company_id: company_id.clone(),
                    person: person.clone()
                }
            );

            assert!(store.unblock_company(&ada.id, &acme).await.unwrap());
            assert!(!store.unblock_company(&ada.id, &acme).await.unwrap());
            let log = store.ledger_entries(0, 10).await.unwrap();
            assert_eq!(log.len(), 2);
            assert_eq!(
                log[1].entry.kind,
                EntryKind::CompanyUnblocked { company_id, person }
            );
            assert!(log[0].entry.time_unix_ms <= log[1].entry.time_unix_ms);
            // No value and no handle in the leaves: only ids and the pseudonym.
            for stored in &log {
                let text = String::from_utf8_lossy(&stored.leaf);
                assert!(!text.contains("ada") || text.contains(&ada.pseudonym));
                assert!(!text.contains(ada.id.as_str()));
            }
        }
    );

    store_test!(checkpoints_are_saved_once_per_size_and_checked, |store| {
        assert_eq!(store.latest_checkpoint().await.unwrap(), None);
        store.append_standalone(&entries(0, 4)).await.unwrap();
        let root2 = store.ledger_root(2).await.unwrap();
        let root4 = store.ledger_root(4).await.unwrap();
        let saved = store
            .save_checkpoint(2, &root2, "note two\n")
            .await
            .unwrap();
        assert_eq!(saved.tree_size, 2);
        assert_eq!(saved.note, "note two\n");
        let again = store
            .save_checkpoint(2, &root2, "another note\n")
            .await
            .unwrap();
        assert_eq!(again.note, "note two\n", "the first one stays");
        store
            .save_checkpoint(4, &root4, "note four\n")
            .await
            .unwrap();
        let latest = store.latest_checkpoint().await.unwrap().unwrap();
        assert_eq!((latest.tree_size, latest.root_hash), (4, root4));
        assert!(matches!(
            store.save_checkpoint(3, &root4, "x\n").await.unwrap_err(),
            StoreError::CheckpointRootMismatch { tree_size: 3 }
        ));
        assert!(matches!(
            store.save_checkpoint(5, &root4, "x\n").await.unwrap_err(),
            StoreError::LedgerProof(ProofError::SizeOutOfRange { .. })
        ));
        assert_eq!(count(store, "ledger_checkpoint").await, 2);
    });

    fn blocked(person: &str, n: u64) -> Entry {
        Entry::new(
            1_700_000_000_000 + n as i64,
            EntryKind::CompanyBlocked {
                company_id: ShortText::new(format!("co-{n}")).unwrap(),
                person: ShortText::new(person).unwrap(),
            },
        )
    }

    store_test!(
        a_persons_entries_come_from_the_index_newest_first,
        |store| {
            // p-a, p-b and entries naming no one, interleaved.
            let mut log = Vec::new();
            for n in 0..30u64 {
                log.push(match n % 3 {
                    0 => blocked("p-a", n),
                    1 => blocked("p-b", n),
                    _ => entry(&format!("t-{n}")),
                });
            }
            store.append_standalone(&log).await.unwrap();
            let of = |person: &'static str, before: Option<u64>, limit: u64| async move {
                store
                    .person_ledger_entries(person, before, limit)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|raw| raw.index)
                    .collect::<Vec<_>>()
            };
            let a: Vec<u64> = (0..30).filter(|n| n % 3 == 0).rev().collect();
            assert_eq!(of("p-a", None, 100).await, a);
            assert_eq!(of("p-a", None, 3).await, a[..3]);
            assert_eq!(of("p-a", Some(a[2]), 3).await, a[3..6]);
            assert_eq!(of("p-b", Some(2), 100).await, vec![1]);
            assert!(of("p-nobody", None, 100).await.is_empty());
            // Each row's person is the entry's own, read back from the leaf.
            for raw in store.person_ledger_entries("p-b", None, 100).await.unwrap() {
                let entry = Entry::decode(&raw.leaf).unwrap();
                assert_eq!(entry.kind.person().map(ShortText::as_str), Some("p-b"));
            }
            assert_eq!(
                count(store, "ledger_entry WHERE person IS NULL").await,
                10,
                "entries naming no one have no person"
            );
            // The limit is bounded.
            let many: Vec<Entry> = (0..150).map(|n| blocked("p-c", n)).collect();
            store.append_standalone(&many).await.unwrap();
            assert_eq!(
                of("p-c", None, u64::MAX).await.len() as u64,
                MAX_ACTIVITY_PAGE
            );
        }
    );

    store_test!(leaves_are_served_byte_for_byte_and_bounded, |store| {
        let log = entries(0, 1005);
        store.append_standalone(&log).await.unwrap();
        let page = store.ledger_leaves(0, u64::MAX).await.unwrap();
        assert_eq!(page.len() as u64, MAX_ENTRIES_PAGE);
        for raw in &page {
            assert_eq!(raw.leaf, log[raw.index as usize].encode());
        }
        let rest = store.ledger_leaves(1000, 2000).await.unwrap();
        assert_eq!(
            rest.iter().map(|r| r.index).collect::<Vec<_>>(),
            (1000..1005).collect::<Vec<_>>()
        );
        assert!(store.ledger_leaves(1005, 2000).await.unwrap().is_empty());
        assert!(store.ledger_leaves(7, 3).await.unwrap().is_empty());
    });
}
