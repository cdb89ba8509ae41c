//! The tamper-evident chain (pure: no I/O): how a ledger row becomes a link, how a link's hash
//! is computed from the one before it, and how a chain read back is checked.
//!
//! Every money row is a link of exactly one chain: a player's chain holds their ledger entries
//! and their rounds (each round once, when it is settled or voided); a jackpot level's chain
//! holds that level's pool entries. A chain's head (link count and last hash) is kept on the
//! row the transaction already locks and writes for the money (the account, the pool level),
//! so chaining adds no new point of contention: transactions of different players never wait
//! for each other, and group commit stays as fast as it was. One global chain would make every
//! transaction read and write one row: a serial point on PostgreSQL, the cost issue 14 removed.
//!
//! The encoding (version 1), written out so a lab can recompute it without our code:
//! ```text
//! H(0) = 32 zero bytes
//! H(n) = SHA-256( "croupier-chain-v1" 0x00 || H(n-1) || u64be(n) || table || u32be(fields)
//!                 || field ... )
//! table: b'e' a ledger entry, b'r' a round, b'j' a jackpot pool entry
//! field: 0x00 (NULL) | 0x01 i64be (integer) | 0x02 u32be(len) utf-8 bytes (text)
//! ```
//! The fields of each table, in order, are [`ENTRY_FIELDS`], [`ROUND_FIELDS`] and
//! [`POOL_FIELDS`]: the columns as stored, so the writer hashes what it binds and the audit
//! hashes what it reads, through this one function.

use std::collections::HashMap;
use std::fmt;

use sha2::{Digest, Sha256};

/// The columns of `ledger_entries` a link covers, in hashing order.
pub const ENTRY_FIELDS: &str =
    "tx_id, player_id, kind, amount_minor, balance_after_minor, round_id, created_at_ms";
/// The columns of `rounds` a link covers, in hashing order (the round as it was finalised).
pub const ROUND_FIELDS: &str = "round_id, player_id, req_id, game, status, bet_minor, \
     stake_minor, win_minor, free_spin, multiplier, balance_after_minor, outcome, created_at_ms, \
     settled_at_ms, jackpot_pool, jackpot_micro, jackpot_draws, node_id, campaign_id";
/// The columns of `jackpot_entries` a link covers, in hashing order.
pub const POOL_FIELDS: &str = "tx_id, pool_id, level, cycle, kind, amount_micro, bets, round_id, \
     player_id, created_at_ms";

const DOMAIN: &[u8] = b"croupier-chain-v1\0";

/// A link's or a head's SHA-256: 32 bytes, stored as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChainHash([u8; 32]);

impl ChainHash {
    /// The hash before the first link of every chain.
    pub const GENESIS: ChainHash = ChainHash([0; 32]);

    /// Parses the stored form: exactly 64 hex digits.
    pub fn parse(hex_digits: &str) -> Option<ChainHash> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(hex_digits, &mut bytes).ok()?;
        Some(ChainHash(bytes))
    }

    pub fn from_bytes(bytes: [u8; 32]) -> ChainHash {
        ChainHash(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_hex(self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainHash({self})")
    }
}

/// The table a link comes from; part of what is hashed, so a row cannot pass for another kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkTable {
    Entry,
    Round,
    Pool,
}

impl LinkTable {
    fn tag(self) -> u8 {
        match self {
            LinkTable::Entry => b'e',
            LinkTable::Round => b'r',
            LinkTable::Pool => b'j',
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LinkTable::Entry => "entry",
            LinkTable::Round => "round",
            LinkTable::Pool => "jackpot entry",
        }
    }
}

/// One column value of a link, as bound or as read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field<'a> {
    Null,
    Int(i64),
    Text(&'a str),
}

/// `H(n)` from `H(n-1)`: the one hash function of every chain.
pub fn link_hash(prev: &ChainHash, n: i64, table: LinkTable, fields: &[Field<'_>]) -> ChainHash {
    let mut h = Sha256::new();
    h.update(DOMAIN);
    h.update(prev.0);
    h.update((n as u64).to_be_bytes());
    h.update([table.tag()]);
    h.update((fields.len() as u32).to_be_bytes());
    for field in fields {
        match field {
            Field::Null => h.update([0u8]),
            Field::Int(v) => {
                h.update([1u8]);
                h.update(v.to_be_bytes());
            }
            Field::Text(s) => {
                h.update([2u8]);
                h.update((s.len() as u32).to_be_bytes());
                h.update(s.as_bytes());
            }
        }
    }
    ChainHash(h.finalize().into())
}

/// Which chain a link belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChainKey {
    Player(String),
    /// A jackpot level: `(pool, level)`.
    Pool(String, String),
}

impl fmt::Display for ChainKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainKey::Player(p) => write!(f, "player {p}"),
            ChainKey::Pool(pool, level) => write!(f, "jackpot {pool}/{level}"),
        }
    }
}

/// A chain's head: how many links it has and the last one's hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub links: i64,
    pub hash: ChainHash,
}

impl Head {
    pub const EMPTY: Head = Head {
        links: 0,
        hash: ChainHash::GENESIS,
    };
}

#[derive(Debug)]
struct Cursor {
    stored: Head,
    now: Head,
}

/// The chains one transaction extends: each head as read at its first link in this
/// transaction, and as it stands now. Lives and dies with its transaction (it is part of the
/// transaction's handle), so a rolled-back batch leaves no advanced head behind.
#[derive(Debug, Default)]
pub struct Chains {
    cursors: HashMap<ChainKey, Cursor>,
    /// Each round as this transaction's last write of it returned it (its link fields), so
    /// linking a round just finalised needs no read of its own.
    rounds: HashMap<String, Vec<OwnedField>>,
}

impl Chains {
    /// The head this transaction sees for `key`, if it read it already.
    pub fn head(&self, key: &ChainKey) -> Option<Head> {
        self.cursors.get(key).map(|c| c.now)
    }

    /// Records the head read from the database (first touch in this transaction).
    pub fn loaded(&mut self, key: ChainKey, stored: Head) {
        self.cursors.entry(key).or_insert(Cursor {
            stored,
            now: stored,
        });
    }

    /// Appends one link to a loaded chain; the link's number and hash. `None` if the chain's
    /// head was not loaded first (a caller's bug).
    pub fn append(
        &mut self,
        key: &ChainKey,
        table: LinkTable,
        fields: &[Field<'_>],
    ) -> Option<Head> {
        let cursor = self.cursors.get_mut(key)?;
        let n = cursor.now.links + 1;
        let hash = link_hash(&cursor.now.hash, n, table, fields);
        cursor.now = Head { links: n, hash };
        Some(cursor.now)
    }

    /// The heads this transaction moved, to be written before it commits: each chain with
    /// its head as read and as it stands now.
    pub fn moved(&self) -> impl Iterator<Item = (&ChainKey, Head, Head)> {
        self.cursors
            .iter()
            .filter(|(_, c)| c.now != c.stored)
            .map(|(k, c)| (k, c.stored, c.now))
    }

    /// The head as read and as it stands now, if this transaction loaded it.
    pub fn cursor(&self, key: &ChainKey) -> Option<(Head, Head)> {
        self.cursors.get(key).map(|c| (c.stored, c.now))
    }

    /// Records that the head as it stands now was written (by a statement that updated its
    /// row anyway), so the final write skips it.
    pub fn written(&mut self, key: &ChainKey) {
        if let Some(c) = self.cursors.get_mut(key) {
            c.stored = c.now;
        }
    }

    /// Records a round's link fields as a write of it just returned them.
    pub fn round_written(&mut self, round: String, fields: Vec<OwnedField>) {
        self.rounds.insert(round, fields);
    }

    /// A round's link fields as its last write in this transaction returned them.
    pub fn take_round(&mut self, round: &str) -> Option<Vec<OwnedField>> {
        self.rounds.remove(round)
    }

    /// Forgets everything (after the heads were written).
    pub fn clear(&mut self) {
        self.cursors.clear();
        self.rounds.clear();
    }
}

/// One link as read back for the audit.
#[derive(Debug, Clone)]
pub struct StoredLink {
    pub table: LinkTable,
    /// The link's number in its chain.
    pub n: i64,
    pub hash: String,
    /// What names the row to a person: a transaction id or a round id.
    pub name: String,
    /// For entries: the database's own insertion order (`seq`), which must follow the chain's.
    pub seq: Option<i64>,
    pub fields: Vec<OwnedField>,
}

/// A [`Field`] that owns its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnedField {
    Null,
    Int(i64),
    Text(String),
}

impl OwnedField {
    pub fn as_field(&self) -> Field<'_> {
        match self {
            OwnedField::Null => Field::Null,
            OwnedField::Int(v) => Field::Int(*v),
            OwnedField::Text(s) => Field::Text(s),
        }
    }
}

/// Why a chain does not verify: the first thing found wrong, naming the row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    #[error("{key}: link {n} ({table} {name}) does not hash to what is stored: it was altered")]
    Altered {
        key: String,
        n: i64,
        table: &'static str,
        name: String,
    },
    #[error("{key}: link {n} is missing (the next one found is {found}, {table} {name})")]
    Missing {
        key: String,
        n: i64,
        found: i64,
        table: &'static str,
        name: String,
    },
    #[error("{key}: link {n} appears twice ({first} and {second})")]
    Duplicate {
        key: String,
        n: i64,
        first: String,
        second: String,
    },
    #[error("{key}: entries {earlier} and {later} are out of order")]
    Reordered {
        key: String,
        earlier: String,
        later: String,
    },
    #[error(
        "{key}: the head says {head_links} links ending {head_hash}, the rows give {links} ending {hash}"
    )]
    Head {
        key: String,
        head_links: i64,
        head_hash: String,
        links: i64,
        hash: String,
    },
}

/// Checks one chain: links numbered 1, 2, … with no gap or repeat, each hash recomputed from
/// the one before, entries in the database's own order, and the stored head at the end. Returns
/// the head the rows give.
pub fn verify(key: &ChainKey, head: Head, mut links: Vec<StoredLink>) -> Result<Head, ChainBreak> {
    links.sort_by_key(|l| l.n);
    let key_name = key.to_string();
    let mut at = Head::EMPTY;
    let mut last_entry: Option<(i64, &str)> = None;
    for (i, link) in links.iter().enumerate() {
        let n = at.links + 1;
        if link.n < n {
            let first = links[i - 1].name.clone();
            return Err(ChainBreak::Duplicate {
                key: key_name,
                n: link.n,
                first,
                second: link.name.clone(),
            });
        }
        if link.n > n {
            return Err(ChainBreak::Missing {
                key: key_name,
                n,
                found: link.n,
                table: link.table.as_str(),
                name: link.name.clone(),
            });
        }
        let fields: Vec<Field<'_>> = link.fields.iter().map(OwnedField::as_field).collect();
        let hash = link_hash(&at.hash, n, link.table, &fields);
        if ChainHash::parse(&link.hash) != Some(hash) {
            return Err(ChainBreak::Altered {
                key: key_name,
                n,
                table: link.table.as_str(),
                name: link.name.clone(),
            });
        }
        if let Some(seq) = link.seq {
            if let Some((before, name)) = last_entry {
                if seq <= before {
                    return Err(ChainBreak::Reordered {
                        key: key_name,
                        earlier: name.to_string(),
                        later: link.name.clone(),
                    });
                }
            }
            last_entry = Some((seq, &link.name));
        }
        at = Head { links: n, hash };
    }
    if at != head {
        return Err(ChainBreak::Head {
            key: key_name,
            head_links: head.links,
            head_hash: head.hash.to_hex(),
            links: at.links,
            hash: at.hash.to_hex(),
        });
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn player() -> ChainKey {
        ChainKey::Player("p1".into())
    }

    fn entry(name: &str, amount: i64) -> Vec<OwnedField> {
        vec![
            OwnedField::Text(name.into()),
            OwnedField::Text("p1".into()),
            OwnedField::Text("deposit".into()),
            OwnedField::Int(amount),
            OwnedField::Int(amount),
            OwnedField::Null,
            OwnedField::Int(1),
        ]
    }

    /// A chain of `n` deposits built through `Chains`, as the writer builds it.
    fn built(n: i64) -> (Head, Vec<StoredLink>) {
        let mut chains = Chains::default();
        chains.loaded(player(), Head::EMPTY);
        let mut links = Vec::new();
        for i in 1..=n {
            let fields = entry(&format!("t{i}"), i * 100);
            let borrowed: Vec<Field<'_>> = fields.iter().map(OwnedField::as_field).collect();
            let head = chains
                .append(&player(), LinkTable::Entry, &borrowed)
                .unwrap();
            links.push(StoredLink {
                table: LinkTable::Entry,
                n: head.links,
                hash: head.hash.to_hex(),
                name: format!("t{i}"),
                seq: Some(i * 10),
                fields,
            });
        }
        (chains.head(&player()).unwrap(), links)
    }

    #[test]
    fn a_chain_as_written_verifies() {
        let (head, links) = built(5);
        assert_eq!(head.links, 5);
        assert_eq!(verify(&player(), head, links), Ok(head));
        assert_eq!(verify(&player(), Head::EMPTY, vec![]), Ok(Head::EMPTY));
    }

    #[test]
    fn the_encoding_is_pinned() {
        // Changing the encoding would make every stored chain fail: this value is version 1.
        let h = link_hash(
            &ChainHash::GENESIS,
            1,
            LinkTable::Entry,
            &[Field::Text("t"), Field::Int(-5), Field::Null],
        );
        let mut expected = Sha256::new();
        expected.update(b"croupier-chain-v1\0");
        expected.update([0u8; 32]);
        expected.update(1u64.to_be_bytes());
        expected.update(b"e");
        expected.update(3u32.to_be_bytes());
        expected.update([2, 0, 0, 0, 1, b't']);
        expected.update([1]);
        expected.update((-5i64).to_be_bytes());
        expected.update([0]);
        let expected: [u8; 32] = expected.finalize().into();
        assert_eq!(h, ChainHash(expected));
        // Text and integer never collide, nor does a NULL with an empty text.
        let a = link_hash(&ChainHash::GENESIS, 1, LinkTable::Entry, &[Field::Null]);
        let b = link_hash(&ChainHash::GENESIS, 1, LinkTable::Entry, &[Field::Text("")]);
        let c = link_hash(&ChainHash::GENESIS, 1, LinkTable::Round, &[Field::Null]);
        assert!(a != b && a != c && b != c);
    }

    #[test]
    fn an_edited_amount_is_named() {
        let (head, mut links) = built(5);
        links[2].fields[3] = OwnedField::Int(99_999);
        let err = verify(&player(), head, links).unwrap_err();
        assert!(
            matches!(&err, ChainBreak::Altered { n: 3, name, .. } if name == "t3"),
            "{err}"
        );
    }

    #[test]
    fn a_deleted_row_is_named() {
        let (head, mut links) = built(5);
        links.remove(1);
        let err = verify(&player(), head, links).unwrap_err();
        assert!(
            matches!(err, ChainBreak::Missing { n: 2, found: 3, .. }),
            "{err}"
        );
        let (head, mut links) = built(5);
        links.pop();
        let err = verify(&player(), head, links).unwrap_err();
        assert!(
            matches!(
                err,
                ChainBreak::Head {
                    head_links: 5,
                    links: 4,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn reordered_rows_are_found_either_way() {
        // Their link numbers swapped: the hashes no longer follow.
        let (head, mut links) = built(5);
        let (a, b) = (links[1].n, links[3].n);
        links[1].n = b;
        links[3].n = a;
        assert!(matches!(
            verify(&player(), head, links),
            Err(ChainBreak::Altered { n: 2, .. })
        ));
        // Their database order swapped, links intact: the entries are out of order.
        let (head, mut links) = built(5);
        let (a, b) = (links[1].seq, links[3].seq);
        links[1].seq = b;
        links[3].seq = a;
        let err = verify(&player(), head, links).unwrap_err();
        assert!(
            matches!(&err, ChainBreak::Reordered { later, .. } if later == "t3"),
            "{err}"
        );
    }

    #[test]
    fn a_duplicate_and_a_forged_head_are_found() {
        let (head, mut links) = built(3);
        let copy = links[1].clone();
        links.insert(2, copy);
        assert!(matches!(
            verify(&player(), head, links),
            Err(ChainBreak::Duplicate { n: 2, .. })
        ));
        let (mut head, links) = built(3);
        head.hash = ChainHash::GENESIS;
        assert!(matches!(
            verify(&player(), head, links),
            Err(ChainBreak::Head { .. })
        ));
    }

    #[test]
    fn moved_lists_only_the_chains_a_transaction_extended() {
        let mut chains = Chains::default();
        chains.loaded(player(), Head::EMPTY);
        chains.loaded(ChainKey::Player("p2".into()), Head::EMPTY);
        assert!(chains
            .append(&ChainKey::Player("p3".into()), LinkTable::Entry, &[])
            .is_none());
        chains.append(&player(), LinkTable::Entry, &[]).unwrap();
        let moved: Vec<_> = chains
            .moved()
            .map(|(k, _, h)| (k.clone(), h.links))
            .collect();
        assert_eq!(moved, vec![(player(), 1)]);
    }

    #[test]
    fn hashes_parse_only_from_64_hex_digits() {
        let h = link_hash(&ChainHash::GENESIS, 1, LinkTable::Pool, &[]);
        assert_eq!(ChainHash::parse(&h.to_hex()), Some(h));
        assert_eq!(ChainHash::parse("00"), None);
        assert_eq!(ChainHash::parse(&"g".repeat(64)), None);
        assert_eq!(ChainHash::parse(&"0".repeat(64)), Some(ChainHash::GENESIS));
    }
}
