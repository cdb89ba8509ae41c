//! The chain in the database, written once for both ([`SqlTx`]): each chain's head read at a
//! transaction's first link and written back before it commits, a link appended for every
//! ledger entry, finalised round and pool entry, the audit that walks every chain, and the
//! heads an operator copies out as checkpoints. The hashing itself is [`super::chain`]'s.

use sha2::{Digest, Sha256};

use super::chain::{
    self, ChainBreak, ChainHash, ChainKey, Field, Head, LinkTable, OwnedField, StoredLink,
    ENTRY_FIELDS, POOL_FIELDS, ROUND_FIELDS,
};
use super::ledger::{ChainHead, ChainHeads, ChainReport, HeadsScope, LedgerError};
use super::sql::{args, Arg, Row, SqlTx};
use crate::ids::RoundId;

/// The breaks an audit lists before it stops naming more (each chain reports its first one).
pub const MAX_BREAKS_LISTED: usize = 100;

/// A head as stored (`chain_seq`, `chain_head`), checked to be a hash.
fn parse_head(key: &ChainKey, links: i64, hash: &str) -> Result<Head, LedgerError> {
    let hash = ChainHash::parse(hash).ok_or_else(|| {
        LedgerError::Invariant(format!("{key}: stored chain head {hash:?} is not a hash"))
    })?;
    Ok(Head { links, hash })
}

/// A head from a row whose first two columns are `chain_seq, chain_head`.
fn stored_head(row: &Row, key: &ChainKey) -> Result<Head, LedgerError> {
    parse_head(key, row.i64(0)?, &row.text(1)?)
}

/// Records a head read by a statement the movement runs anyway (the balance update's
/// `RETURNING`, the pool levels' locking read), so its first link needs no read of its own.
/// A chain this transaction already extends keeps its own, newer head.
pub(crate) fn preload<T: SqlTx>(
    tx: &mut T,
    key: ChainKey,
    links: i64,
    hash: &str,
) -> Result<(), LedgerError> {
    let head = parse_head(&key, links, hash)?;
    tx.chains().loaded(key, head);
    Ok(())
}

/// The head of `key` as this transaction sees it, read (and on PostgreSQL locked) at the first
/// touch. The row is the one the movement already locked for its money, so no new wait.
async fn head<T: SqlTx>(tx: &mut T, key: &ChainKey) -> Result<Head, LedgerError> {
    if let Some(head) = tx.chains().head(key) {
        return Ok(head);
    }
    let lock = tx.lock_rows();
    let row = match key {
        ChainKey::Player(player) => {
            let sql =
                format!("SELECT chain_seq, chain_head FROM accounts WHERE player_id = $1{lock}");
            tx.row(&sql, args![player.as_str()]).await?
        }
        ChainKey::Pool(pool, level) => {
            let sql = format!(
                "SELECT chain_seq, chain_head FROM jackpot_pools \
                 WHERE pool_id = $1 AND level = $2{lock}"
            );
            tx.row(&sql, args![pool.as_str(), level.as_str()]).await?
        }
    };
    let row = row.ok_or_else(|| LedgerError::Invariant(format!("{key}: no row holds its head")))?;
    let head = stored_head(&row, key)?;
    tx.chains().loaded(key.clone(), head);
    Ok(head)
}

/// Appends a link over `fields` (the row's values, exactly as they are bound) to `key`'s chain:
/// its number and hash, to be stored on the row.
pub(crate) async fn append<T: SqlTx>(
    tx: &mut T,
    key: &ChainKey,
    table: LinkTable,
    fields: &[Arg<'_>],
) -> Result<Head, LedgerError> {
    head(tx, key).await?;
    let fields: Vec<Field<'_>> = fields.iter().map(Arg::field).collect();
    tx.chains()
        .append(key, table, &fields)
        .ok_or_else(|| LedgerError::Invariant(format!("{key}: head not loaded")))
}

/// Runs a write of one round (`INSERT` or `UPDATE`, without `RETURNING`) and keeps the row it
/// leaves, so the round's link needs no read of its own: every write of a round a movement
/// finalises goes through here. The number of rows written (0 or 1).
pub(crate) async fn write_round<T: SqlTx>(
    tx: &mut T,
    sql: &str,
    a: &[Arg<'_>],
) -> Result<u64, LedgerError> {
    let sql = format!("{sql} RETURNING {ROUND_FIELDS}");
    let Some(row) = tx.row(&sql, a).await? else {
        return Ok(0);
    };
    let round = row.text(0)?;
    let fields = row.0.iter().map(|v| v.field()).collect();
    tx.chains().round_written(round, fields);
    Ok(1)
}

/// Links a round to its player's chain once it is final (settled or voided), over the row as
/// its last write left it: called after every statement of the movement that finalised it.
pub(crate) async fn link_round<T: SqlTx>(tx: &mut T, round: &RoundId) -> Result<(), LedgerError> {
    let fields = match tx.chains().take_round(round.as_str()) {
        Some(fields) => fields,
        None => {
            let sql = format!("SELECT {ROUND_FIELDS} FROM rounds WHERE round_id = $1");
            let row = tx.row(&sql, args![round.as_str()]).await?.ok_or_else(|| {
                LedgerError::Invariant(format!("round {round} to link is not stored"))
            })?;
            row.0.iter().map(|v| v.field()).collect()
        }
    };
    let player = match fields.get(1) {
        Some(OwnedField::Text(p)) => p.clone(),
        _ => return Err(LedgerError::Invariant(format!("round {round}: no player"))),
    };
    let key = ChainKey::Player(player);
    head(tx, &key).await?;
    let borrowed: Vec<Field<'_>> = fields.iter().map(OwnedField::as_field).collect();
    let head = tx
        .chains()
        .append(&key, LinkTable::Round, &borrowed)
        .ok_or_else(|| LedgerError::Invariant(format!("{key}: head not loaded")))?;
    let hash = head.hash.to_hex();
    let linked = tx
        .exec(
            "UPDATE rounds SET chain_seq = $1, chain_hash = $2 \
             WHERE round_id = $3 AND chain_seq IS NULL",
            args![head.links, hash.as_str(), round.as_str()],
        )
        .await?;
    if linked != 1 {
        return Err(LedgerError::Invariant(format!(
            "round {round} linked twice"
        )));
    }
    Ok(())
}

/// Writes every head this transaction moved, each only if it is still the head it read (one
/// row each; a head that moved meanwhile is a broken invariant, never overwritten).
pub(crate) async fn flush<T: SqlTx>(tx: &mut T) -> Result<(), LedgerError> {
    let moved: Vec<(ChainKey, Head, Head)> = tx
        .chains()
        .moved()
        .map(|(k, stored, now)| (k.clone(), stored, now))
        .collect();
    for (key, stored, now) in moved {
        let (hash, was) = (now.hash.to_hex(), stored.hash.to_hex());
        let written = match &key {
            ChainKey::Player(player) => {
                tx.exec(
                    "UPDATE accounts SET chain_seq = $1, chain_head = $2 \
                     WHERE player_id = $3 AND chain_seq = $4 AND chain_head = $5",
                    args![
                        now.links,
                        hash.as_str(),
                        player.as_str(),
                        stored.links,
                        was.as_str()
                    ],
                )
                .await?
            }
            ChainKey::Pool(pool, level) => {
                tx.exec(
                    "UPDATE jackpot_pools SET chain_seq = $1, chain_head = $2 \
                     WHERE pool_id = $3 AND level = $4 AND chain_seq = $5 AND chain_head = $6",
                    args![
                        now.links,
                        hash.as_str(),
                        pool.as_str(),
                        level.as_str(),
                        stored.links,
                        was.as_str()
                    ],
                )
                .await?
            }
        };
        if written != 1 {
            return Err(LedgerError::Invariant(format!(
                "{key}: chain head moved under a transaction (expected {} links)",
                stored.links
            )));
        }
    }
    tx.chains().clear();
    Ok(())
}

fn stored_links(
    rows: &[Row],
    table: LinkTable,
    with_seq: bool,
) -> Result<Vec<StoredLink>, LedgerError> {
    // Columns: chain_seq, chain_hash, [seq], then the table's link fields (the first names it).
    let first = if with_seq { 3 } else { 2 };
    rows.iter()
        .map(|r| {
            Ok(StoredLink {
                table,
                n: r.i64(0)?,
                hash: r.text(1)?,
                seq: if with_seq { Some(r.i64(2)?) } else { None },
                name: r.text(first)?,
                fields: r.0[first..].iter().map(|v| v.field()).collect(),
            })
        })
        .collect()
}

fn note(report: &mut ChainReport, broken: ChainBreak) {
    report.broken_chains += 1;
    if report.breaks.len() < MAX_BREAKS_LISTED {
        report.breaks.push(broken.to_string());
    }
}

/// Walks every chain: each player's entries and rounds, each jackpot level's entries, and any
/// row written since the chain began that carries no link. Runs in one snapshot.
pub async fn audit<T: SqlTx>(tx: &mut T) -> Result<ChainReport, LedgerError> {
    let mut report = ChainReport::default();
    let origin = tx
        .row(
            "SELECT entries_seq, jackpot_seq, at_ms FROM chain_origin",
            args![],
        )
        .await?
        .ok_or_else(|| LedgerError::Invariant("chain_origin has no row".into()))?;
    let (entries_origin, jackpot_origin, at_origin) =
        (origin.i64(0)?, origin.i64(1)?, origin.i64(2)?);
    let players = tx
        .rows(
            "SELECT chain_seq, chain_head, player_id FROM accounts ORDER BY player_id",
            args![],
        )
        .await?;
    for p in &players {
        let player = p.text(2)?;
        let key = ChainKey::Player(player.clone());
        let head = stored_head(p, &key)?;
        let sql = format!(
            "SELECT chain_seq, chain_hash, seq, {ENTRY_FIELDS} FROM ledger_entries \
             WHERE player_id = $1 AND chain_seq IS NOT NULL"
        );
        let mut links = stored_links(
            &tx.rows(&sql, args![player.as_str()]).await?,
            LinkTable::Entry,
            true,
        )?;
        let sql = format!(
            "SELECT chain_seq, chain_hash, {ROUND_FIELDS} FROM rounds \
             WHERE player_id = $1 AND chain_seq IS NOT NULL"
        );
        links.extend(stored_links(
            &tx.rows(&sql, args![player.as_str()]).await?,
            LinkTable::Round,
            false,
        )?);
        report.chains += 1;
        report.links += links.len() as u64;
        if let Err(broken) = chain::verify(&key, head, links) {
            note(&mut report, broken);
        }
    }
    let levels = tx
        .rows(
            "SELECT chain_seq, chain_head, pool_id, level FROM jackpot_pools ORDER BY pool_id, level",
            args![],
        )
        .await?;
    for l in &levels {
        let (pool, level) = (l.text(2)?, l.text(3)?);
        let key = ChainKey::Pool(pool.clone(), level.clone());
        let head = stored_head(l, &key)?;
        let sql = format!(
            "SELECT chain_seq, chain_hash, seq, {POOL_FIELDS} FROM jackpot_entries \
             WHERE pool_id = $1 AND level = $2 AND chain_seq IS NOT NULL"
        );
        let rows = tx.rows(&sql, args![pool.as_str(), level.as_str()]).await?;
        let links = stored_links(&rows, LinkTable::Pool, true)?;
        report.chains += 1;
        report.links += links.len() as u64;
        if let Err(broken) = chain::verify(&key, head, links) {
            note(&mut report, broken);
        }
    }
    // Rows without a link: before the chain began (counted), or written around the ledger.
    let unlinked = [
        (
            "SELECT tx_id, CASE WHEN seq > $1 THEN 1 ELSE 0 END FROM ledger_entries \
             WHERE chain_seq IS NULL",
            entries_origin,
            "entry",
        ),
        (
            "SELECT tx_id, CASE WHEN seq > $1 THEN 1 ELSE 0 END FROM jackpot_entries \
             WHERE chain_seq IS NULL",
            jackpot_origin,
            "jackpot entry",
        ),
        (
            "SELECT round_id, CASE WHEN COALESCE(settled_at_ms, created_at_ms) > $1 THEN 1 ELSE 0 END \
             FROM rounds WHERE chain_seq IS NULL AND status <> 'open'",
            at_origin,
            "round",
        ),
    ];
    for (sql, origin, what) in unlinked {
        for row in tx.rows(sql, args![origin]).await? {
            if row.i64(1)? != 0 {
                report.broken_chains += 1;
                if report.breaks.len() < MAX_BREAKS_LISTED {
                    report.breaks.push(format!(
                        "{what} {} carries no link: it was written around the ledger",
                        row.text(0)?
                    ));
                }
            } else {
                report.before_chain += 1;
            }
        }
    }
    Ok(report)
}

/// The name of a chain in an export of heads (`player:<id>`, `jackpot:<pool>:<level>`).
pub fn chain_name(key: &ChainKey) -> String {
    match key {
        ChainKey::Player(p) => format!("player:{p}"),
        ChainKey::Pool(pool, level) => format!("jackpot:{pool}:{level}"),
    }
}

/// The digest of a list of heads, built one head at a time ([`heads_digest`]).
struct HeadsDigest(Sha256);

impl HeadsDigest {
    fn new() -> HeadsDigest {
        let mut h = Sha256::new();
        h.update(b"croupier-heads-v1\0");
        HeadsDigest(h)
    }

    fn add(&mut self, head: &ChainHead) -> Result<(), LedgerError> {
        let hash = ChainHash::parse(&head.head)
            .ok_or_else(|| LedgerError::Invariant(format!("{}: head is not a hash", head.chain)))?;
        self.0.update((head.chain.len() as u32).to_be_bytes());
        self.0.update(head.chain.as_bytes());
        self.0.update((head.links as u64).to_be_bytes());
        self.0.update(hash.as_bytes());
        Ok(())
    }

    fn finish(self) -> ChainHash {
        ChainHash::from_bytes(self.0.finalize().into())
    }
}

/// The digest of a list of heads, so one short value (a log line) vouches for a whole export:
/// SHA-256 over `"croupier-heads-v1" 0x00` then, per head in order, `u32be(len) name
/// u64be(links) hash`.
pub fn heads_digest(heads: &[ChainHead]) -> Result<ChainHash, LedgerError> {
    let mut digest = HeadsDigest::new();
    for head in heads {
        digest.add(head)?;
    }
    Ok(digest.finish())
}

/// Heads one statement reads when only their digest is wanted: the scheduled checkpoint holds
/// at most this many (about 1.5 MB) whatever the number of players.
pub const DIGEST_PAGE: i64 = 10_000;

/// One head as exported, from a row `chain_seq, chain_head, player_id` (an account) or
/// `chain_seq, chain_head, pool_id, level` (a jackpot level).
fn exported(r: &Row) -> Result<ChainHead, LedgerError> {
    let key = if r.0.len() == 4 {
        ChainKey::Pool(r.text(2)?, r.text(3)?)
    } else {
        ChainKey::Player(r.text(2)?)
    };
    Ok(ChainHead {
        chain: chain_name(&key),
        links: r.i64(0)?,
        head: r.text(1)?,
    })
}

fn exported_all(rows: &[Row]) -> Result<Vec<ChainHead>, LedgerError> {
    rows.iter().map(exported).collect()
}

/// Every jackpot level's head.
async fn pool_heads<T: SqlTx>(tx: &mut T) -> Result<Vec<ChainHead>, LedgerError> {
    let rows = tx
        .rows(
            "SELECT chain_seq, chain_head, pool_id, level FROM jackpot_pools",
            args![],
        )
        .await?;
    exported_all(&rows)
}

/// The digest of every chain's head, as [`heads`] with [`HeadsScope::All`] gives it, read a
/// page of accounts at a time in byte order (the order a sorted export has: `jackpot:` names
/// before `player:` ones), so memory stays bounded. `(digest, chains, links)`.
pub async fn all_heads_digest<T: SqlTx>(tx: &mut T) -> Result<(ChainHash, u64, i64), LedgerError> {
    let mut digest = HeadsDigest::new();
    let (mut chains, mut links) = (0u64, 0i64);
    let mut pools = pool_heads(tx).await?;
    pools.sort_by(|a, b| a.chain.cmp(&b.chain));
    let mut add = |head: &ChainHead| -> Result<(), LedgerError> {
        chains += 1;
        links += head.links;
        digest.add(head)
    };
    for head in &pools {
        add(head)?;
    }
    let sql = format!(
        "SELECT chain_seq, chain_head, player_id FROM accounts WHERE player_id{order} > $1 \
         ORDER BY player_id{order} LIMIT $2",
        order = tx.byte_order()
    );
    let mut after = String::new();
    loop {
        let rows = tx.rows(&sql, args![after.as_str(), DIGEST_PAGE]).await?;
        for r in &rows {
            add(&exported(r)?)?;
        }
        match rows.last() {
            Some(last) if rows.len() as i64 == DIGEST_PAGE => after = last.text(2)?,
            _ => break,
        }
    }
    Ok((digest.finish(), chains, links))
}

/// The stored hash of link `n` of a named chain, if that link exists.
async fn link_at<T: SqlTx>(tx: &mut T, chain: &str, n: i64) -> Result<Option<String>, LedgerError> {
    let found = if let Some(player) = chain.strip_prefix("player:") {
        let entry = tx
            .row(
                "SELECT chain_hash FROM ledger_entries WHERE player_id = $1 AND chain_seq = $2",
                args![player, n],
            )
            .await?;
        match entry {
            Some(row) => Some(row),
            None => {
                tx.row(
                    "SELECT chain_hash FROM rounds WHERE player_id = $1 AND chain_seq = $2",
                    args![player, n],
                )
                .await?
            }
        }
    } else if let Some((pool, level)) = chain
        .strip_prefix("jackpot:")
        .and_then(|rest| rest.rsplit_once(':'))
    {
        tx.row(
            "SELECT chain_hash FROM jackpot_entries \
             WHERE pool_id = $1 AND level = $2 AND chain_seq = $3",
            args![pool, level, n],
        )
        .await?
    } else {
        return Err(LedgerError::Invariant(format!("{chain:?} names no chain")));
    };
    found.map(|r| r.text(0)).transpose()
}

/// Checks a checkpoint taken earlier ([`heads`]): its digest, then each head: the chain's link
/// of that number must still exist with that hash (the chains themselves are the audit's).
pub async fn check_heads<T: SqlTx>(
    tx: &mut T,
    checkpoint: &ChainHeads,
) -> Result<Vec<String>, LedgerError> {
    let mut problems = Vec::new();
    match heads_digest(&checkpoint.heads) {
        Ok(d) if d.to_hex() == checkpoint.digest => {}
        Ok(d) => problems.push(format!(
            "the checkpoint's digest is {} but its heads give {d}: it is not the export it claims",
            checkpoint.digest
        )),
        Err(e) => problems.push(e.to_string()),
    }
    for head in &checkpoint.heads {
        if problems.len() >= MAX_BREAKS_LISTED {
            break;
        }
        if head.links == 0 {
            continue;
        }
        let stored = match link_at(tx, &head.chain, head.links).await {
            Ok(stored) => stored,
            Err(e) => {
                problems.push(e.to_string());
                continue;
            }
        };
        match stored {
            Some(hash) if hash == head.head => {}
            Some(hash) => problems.push(format!(
                "{}: link {} is now {hash}, the checkpoint says {}: history was rewritten",
                head.chain, head.links, head.head
            )),
            None => problems.push(format!(
                "{}: link {} of the checkpoint no longer exists",
                head.chain, head.links
            )),
        }
    }
    Ok(problems)
}

/// Chains' heads, sorted by name, with their digest, in one snapshot: every player's and every
/// jackpot level's, or a page of one operator's players.
pub async fn heads<T: SqlTx>(
    tx: &mut T,
    scope: &HeadsScope,
    now: i64,
) -> Result<ChainHeads, LedgerError> {
    let rows = match scope {
        HeadsScope::Operator {
            operator,
            after,
            limit,
        } => {
            tx.rows(
                "SELECT chain_seq, chain_head, player_id FROM accounts \
                 WHERE operator_id = $1 AND player_id > $2 ORDER BY player_id LIMIT $3",
                args![
                    operator.as_str(),
                    after.as_deref().unwrap_or(""),
                    i64::from(*limit)
                ],
            )
            .await?
        }
        HeadsScope::All => {
            tx.rows(
                "SELECT chain_seq, chain_head, player_id FROM accounts",
                args![],
            )
            .await?
        }
    };
    let mut heads = exported_all(&rows)?;
    if *scope == HeadsScope::All {
        heads.extend(pool_heads(tx).await?);
    }
    heads.sort_by(|a, b| a.chain.cmp(&b.chain));
    let digest = heads_digest(&heads)?.to_hex();
    let next_cursor = match scope {
        HeadsScope::Operator { limit, .. } if rows.len() as u64 == u64::from(*limit) => {
            rows.last().map(|r| r.text(2)).transpose()?
        }
        _ => None,
    };
    Ok(ChainHeads {
        taken_at_ms: now,
        digest,
        heads,
        next_cursor,
    })
}
