//! The tamper-evident chain on both databases: every kind of movement extends its chain and
//! the audit walks them all clean; then the rows are edited behind the ledger's back, directly
//! in SQLite or PostgreSQL (an amount changed with its balances made to agree, a row deleted,
//! two rows reordered, a round and a pool entry edited, a row inserted around the ledger), and
//! each time the audit names the first row that breaks its chain. A checkpoint of heads taken
//! earlier still holds until history is rewritten, and a forged checkpoint is refused.

use super::*;
use crate::chain::ChainHash;

/// Raw SQL on the ledger's own database, as someone with access to it would run it.
enum Raw {
    Lite(std::path::PathBuf),
    Pg(sqlx::PgPool),
}

impl Raw {
    async fn exec(&self, sql: &str) {
        match self {
            Raw::Lite(path) => {
                let conn = rusqlite::Connection::open(path).unwrap();
                conn.busy_timeout(std::time::Duration::from_secs(5))
                    .unwrap();
                conn.execute_batch(sql).unwrap();
            }
            Raw::Pg(pool) => {
                sqlx::raw_sql(sql).execute(pool).await.unwrap();
            }
        }
    }
}

/// Each case on SQLite and on PostgreSQL, with raw access to the same database.
macro_rules! tamper_cases {
    ($($case:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let (l, dir) = super::super::ledger().await;
                    let raw = super::Raw::Lite(dir.path().join("l.db"));
                    super::$case(&l, &raw).await;
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    if let Some((l, url)) = super::super::pg_ledger_at().await {
                        let pool = sqlx::PgPool::connect(&url).await.unwrap();
                        super::$case(&l, &super::Raw::Pg(pool)).await;
                    }
                }
            )*
        }
    };
}

tamper_cases!(
    every_movement_extends_its_chain_and_the_audit_walks_them,
    an_amount_edited_with_its_balances_made_to_agree_is_found,
    a_deleted_row_is_found,
    two_reordered_rows_are_found,
    an_edited_round_and_an_edited_pool_entry_are_found,
    a_row_written_around_the_ledger_is_found,
    a_checkpoint_holds_until_history_is_rewritten,
);

/// Player `a` (with pools): a deposit, a one-step spin that feeds the pool and wins, a
/// two-step round, a voided round and a withdrawal. Returns the links `a`'s chain must hold.
async fn a_bit_of_everything(l: &dyn Ledger) -> u64 {
    with_pools(l, &["a", "b"]).await;
    let mut links = 1; // with_pools' deposit
    one(l, deposit("d2", "a", 500)).await.unwrap();
    links += 1;
    let feed = feed();
    let spin = RoundId::new_v7();
    let mut m = play(&spin, "a", "q1", 200, 300);
    if let Movement::PlayRound {
        jackpot,
        jackpot_draws,
        ..
    } = &mut m
    {
        *jackpot = Some(feed.clone());
        *jackpot_draws = vec![]; // fed, no draw decided
    }
    one(l, m).await.unwrap();
    links += 3; // bet, win, round
    let two = RoundId::new_v7();
    one(l, open(&two, "a", "q2", Some(100))).await.unwrap();
    one(l, settle(&two, "a", 0)).await.unwrap();
    links += 2; // bet, round (no win entry for 0)
    let voided = RoundId::new_v7();
    one(l, open(&voided, "a", "q3", Some(100))).await.unwrap();
    let void = Movement::VoidRound {
        round_id: voided.clone(),
        player: pid("a"),
    };
    one(l, void.clone()).await.unwrap();
    one(l, void).await.unwrap(); // a replay links nothing
    links += 3; // bet, refund, round
    let withdraw = Movement::Withdraw {
        tx_id: "w1".into(),
        player: pid("a"),
        amount_minor: 50,
    };
    one(l, withdraw.clone()).await.unwrap();
    one(l, withdraw).await.unwrap(); // a replay links nothing
    links += 1;
    links
}

fn head_of<'h>(heads: &'h ChainHeads, chain: &str) -> &'h ChainHead {
    heads.heads.iter().find(|h| h.chain == chain).unwrap()
}

async fn breaks(l: &dyn Ledger) -> Vec<String> {
    let report = l.audit().await.unwrap();
    for b in &report.chain.breaks {
        assert!(
            report.mismatches.contains(b),
            "a chain break is an audit mismatch: {b}"
        );
    }
    report.chain.breaks
}

async fn every_movement_extends_its_chain_and_the_audit_walks_them(l: &dyn Ledger, _: &Raw) {
    let links = a_bit_of_everything(l).await;
    let report = l.audit().await.unwrap();
    assert!(report.mismatches.is_empty(), "{:?}", report.mismatches);
    // Two players and two jackpot levels.
    assert_eq!(report.chain.chains, 4);
    assert_eq!(report.chain.before_chain, 0);
    let heads = l.chain_heads(HeadsScope::All).await.unwrap();
    assert_eq!(head_of(&heads, "player:a").links as u64, links);
    assert_eq!(head_of(&heads, "player:b").links, 1);
    // Each level: its seed, then the spin's contribution and reserve rows.
    assert!(head_of(&heads, "jackpot:net:mini").links >= 2, "{heads:?}");
    let total: i64 = heads.heads.iter().map(|h| h.links).sum();
    assert_eq!(total as u64, report.chain.links);
    assert_ne!(
        head_of(&heads, "player:a").head,
        ChainHash::GENESIS.to_hex()
    );
    // The scheduled checkpoint's digest, read a page at a time, is the export's.
    let (digest, chains, all_links) = l.heads_digest().await.unwrap();
    assert_eq!(digest, heads.digest);
    assert_eq!((chains, all_links), (heads.heads.len() as u64, total));
    // The export vouches for itself, and an operator's own export holds its players only.
    assert!(l.check_heads(heads.clone()).await.unwrap().is_empty());
    let nobody = HeadsScope::Operator {
        operator: "nobody".into(),
        after: None,
        limit: 10,
    };
    assert!(l.chain_heads(nobody).await.unwrap().heads.is_empty());
}

async fn an_amount_edited_with_its_balances_made_to_agree_is_found(l: &dyn Ledger, raw: &Raw) {
    a_bit_of_everything(l).await;
    assert!(breaks(l).await.is_empty());
    // d2 was 5.00; make it 50.00 and make every later balance agree, so the balances audit
    // (each balance the sum of its entries) has nothing to say: only the chain can tell.
    raw.exec(
        "UPDATE ledger_entries SET amount_minor = amount_minor + 4500 WHERE tx_id = 'd2';
         UPDATE ledger_entries SET balance_after_minor = balance_after_minor + 4500
             WHERE player_id = 'a' AND seq >= (SELECT seq FROM ledger_entries WHERE tx_id = 'd2');
         UPDATE rounds SET balance_after_minor = balance_after_minor + 4500 WHERE player_id = 'a';
         UPDATE accounts SET balance_minor = balance_minor + 4500 WHERE player_id = 'a';",
    )
    .await;
    let found = breaks(l).await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("player a: link 2 (entry d2)") && found[0].contains("altered"),
        "{found:?}"
    );
}

async fn a_deleted_row_is_found(l: &dyn Ledger, raw: &Raw) {
    a_bit_of_everything(l).await;
    raw.exec("DELETE FROM ledger_entries WHERE tx_id = 'd2'")
        .await;
    let found = breaks(l).await;
    assert!(
        found
            .iter()
            .any(|b| b.contains("player a: link 2 is missing")),
        "{found:?}"
    );
    // The last link deleted: the head still counts it.
    raw.exec("DELETE FROM ledger_entries WHERE tx_id = 'w1'")
        .await;
    raw.exec("DELETE FROM ledger_entries WHERE player_id = 'b'")
        .await;
    let found = breaks(l).await;
    assert!(
        found
            .iter()
            .any(|b| b.starts_with("player b: the head says 1 links")),
        "{found:?}"
    );
}

async fn two_reordered_rows_are_found(l: &dyn Ledger, raw: &Raw) {
    a_bit_of_everything(l).await;
    // Their places in the chain swapped: the hashes no longer follow one another.
    raw.exec(
        "UPDATE ledger_entries SET chain_seq = -1 WHERE tx_id = 'd2';
         UPDATE ledger_entries SET chain_seq = 2 WHERE tx_id = 'w1';
         UPDATE ledger_entries SET chain_seq = (SELECT chain_seq FROM accounts WHERE player_id = 'a')
             WHERE tx_id = 'd2';",
    )
    .await;
    let found = breaks(l).await;
    assert!(
        found
            .iter()
            .any(|b| b.contains("player a: link 2 (entry w1)")),
        "{found:?}"
    );
}

async fn an_edited_round_and_an_edited_pool_entry_are_found(l: &dyn Ledger, raw: &Raw) {
    a_bit_of_everything(l).await;
    raw.exec(
        "UPDATE rounds SET outcome = '{\"win\":99999}' WHERE req_id = 'q1';
         UPDATE jackpot_entries SET amount_micro = amount_micro + 1
             WHERE kind = 'contribution' AND level = 'mini';",
    )
    .await;
    let found = breaks(l).await;
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(
        found
            .iter()
            .any(|b| b.starts_with("player a:") && b.contains("(round ")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|b| b.starts_with("jackpot net/mini:") && b.contains("altered")),
        "{found:?}"
    );
}

async fn a_row_written_around_the_ledger_is_found(l: &dyn Ledger, raw: &Raw) {
    a_bit_of_everything(l).await;
    raw.exec(
        "INSERT INTO ledger_entries (tx_id, player_id, kind, amount_minor, balance_after_minor, \
         round_id, created_at_ms) VALUES ('forged', 'b', 'deposit', 1, 1, NULL, 1)",
    )
    .await;
    let found = breaks(l).await;
    assert!(
        found
            .iter()
            .any(|b| b == "entry forged carries no link: it was written around the ledger"),
        "{found:?}"
    );
}

async fn a_checkpoint_holds_until_history_is_rewritten(l: &dyn Ledger, raw: &Raw) {
    a_bit_of_everything(l).await;
    let checkpoint = l.chain_heads(HeadsScope::All).await.unwrap();
    // Play on: the ledger still extends the checkpoint.
    one(l, deposit("d3", "a", 100)).await.unwrap();
    assert!(l.check_heads(checkpoint.clone()).await.unwrap().is_empty());
    // The export as JSON, as an operator keeps it, reads back the same.
    let json = serde_json::to_string(&checkpoint).unwrap();
    let kept: ChainHeads = serde_json::from_str(&json).unwrap();
    assert_eq!(kept, checkpoint);
    // A forged checkpoint (a head changed without its digest) is not the export it claims.
    let mut forged = checkpoint.clone();
    forged.heads[0].links += 1;
    let problems = l.check_heads(forged).await.unwrap();
    assert!(
        problems[0].contains("is not the export it claims"),
        "{problems:?}"
    );
    // History rewritten from the checkpointed link on (every hash recomputed to agree would
    // look the same to the checkpoint): the link no longer has the hash kept outside.
    let a = head_of(&checkpoint, "player:a");
    raw.exec(&format!(
        "UPDATE ledger_entries SET chain_hash = '{}' WHERE player_id = 'a' AND chain_seq = {};
         UPDATE rounds SET chain_hash = '{}' WHERE player_id = 'a' AND chain_seq = {};",
        ChainHash::GENESIS.to_hex(),
        a.links,
        ChainHash::GENESIS.to_hex(),
        a.links
    ))
    .await;
    let problems = l.check_heads(checkpoint.clone()).await.unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("history was rewritten"),
        "{problems:?}"
    );
    raw.exec("DELETE FROM ledger_entries WHERE player_id = 'b'")
        .await;
    let problems = l.check_heads(checkpoint).await.unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p == "player:b: link 1 of the checkpoint no longer exists"),
        "{problems:?}"
    );
}
