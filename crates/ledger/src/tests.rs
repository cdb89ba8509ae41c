//! The ledger conformance suite: every case runs against SQLite (a real file) and PostgreSQL
//! (a fresh database on the server the test script starts; `CROUPIER_TEST_PG` names it):
//! idempotency, conflicts, refusals that change nothing, free spins, voids, jackpots. A property
//! test drives random movement sequences through SQLite and checks every invariant.
//!
//! About 1,000 lines, on purpose: one suite, so each case runs on both databases from one
//! definition and a case can never exist for one back end only. The one-step spin's cases are
//! in `tests/play.rs`, money in and out in
//! `tests/transfer.rs`, statements and recall in `tests/recall.rs`, an operator's free rounds in
//! `tests/free_rounds.rs`, time-outs and self-exclusions in `tests/exclusion.rs`,
//! player limits in `tests/limits.rs`, all run by the same macro; the tamper-evident chain's cases, which
//! edit rows behind the ledger's back, in `tests/chain.rs` with a macro of their own.

use proptest::prelude::*;

use super::ledger::*;
use super::sqlite::{Durability, SqliteLedger};
use crate::ids::{PlayerId, ReqId, RoundId};

/// A SQLite ledger as shipped: `synchronous = "full"`, so every case also runs through the
/// pipelined fsync (answers and reads held until the syncer's fsync).
async fn ledger() -> (SqliteLedger, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let ledger = SqliteLedger::open(&dir.path().join("l.db"), Durability::Full)
        .await
        .unwrap();
    (ledger, dir)
}

/// A PostgreSQL ledger on a database of its own, or `None` (with a note) when no server was
/// given; under the test script (`CROUPIER_REQUIRE_SERVICES=1`) a missing server fails.
async fn pg_ledger() -> Option<super::postgres::PgLedger> {
    pg_ledger_at().await.map(|(ledger, _)| ledger)
}

/// [`pg_ledger`] and the URL of its database, for the cases that edit rows behind its back.
async fn pg_ledger_at() -> Option<(super::postgres::PgLedger, String)> {
    let Ok(base) = std::env::var("CROUPIER_TEST_PG") else {
        assert!(
            std::env::var_os("CROUPIER_REQUIRE_SERVICES").is_none(),
            "CROUPIER_TEST_PG is not set: run the suite with scripts/test.sh"
        );
        eprintln!("skipped on PostgreSQL: CROUPIER_TEST_PG is not set (scripts/test.sh sets it)");
        return None;
    };
    let name = format!("ledger_{}", uuid::Uuid::now_v7().simple());
    super::postgres::create_database(&format!("{base}/postgres"), &name)
        .await
        .unwrap();
    let url = format!("{base}/{name}");
    let ledger = super::postgres::PgLedger::connect(&url, 8).await.unwrap();
    Some((ledger, url))
}

/// Each case as a test on each database.
macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let (l, _dir) = super::ledger().await;
                    super::$case(&l).await;
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    if let Some(l) = super::pg_ledger().await {
                        super::$case(&l).await;
                    }
                }
            )*
        }
    };
}

conformance!(
    a_transaction_id_applies_once_and_conflicts_are_refused,
    refused_movements_change_nothing_and_do_not_stop_the_batch,
    rounds_open_settle_and_replay,
    free_spins_are_taken_one_at_a_time_and_given_back_on_void,
    void_refunds_exactly_once,
    contributions_are_exact_and_folded_per_batch,
    a_cycle_is_won_once_and_the_second_claim_gets_the_fresh_seed,
    a_ceiling_claim_on_a_cycle_already_won_lapses,
    a_free_spin_feeds_nothing_and_a_replayed_open_adds_nothing,
    concurrent_batches_on_one_pool_add_up,
    a_raised_fence_refuses_the_old_owners_bets_and_settlements,
    a_req_id_reused_for_another_request_is_a_conflict,
    fencing_tokens_never_repeat_even_when_nodes_race_for_a_table,
    a_one_step_spin_moves_the_stake_and_the_win_once,
    a_one_step_spin_claims_what_its_own_bet_decides,
    a_one_step_spin_beside_two_step_rounds_in_one_batch,
    one_step_and_two_step_leave_the_same_books,
    a_withdrawal_applies_once_and_never_below_zero,
    the_books_close_per_operator_and_currency,
    a_statement_pages_through_every_entry_once,
    a_recall_holds_the_round_and_only_its_entries,
    free_rounds_are_granted_once_and_played_without_a_debit,
    free_rounds_that_cannot_be_played_are_refused_and_change_nothing,
    a_voided_free_round_goes_back_while_its_campaign_is_active,
    concurrent_grants_and_spins_of_one_campaign_count_once,
    fair_rounds_take_nonces_in_order_and_a_rotation_reveals_once,
    a_seed_that_does_not_match_its_commitment_is_never_revealed,
    an_exclusion_is_extended_but_never_shortened,
    an_ended_exclusion_gives_way_to_a_new_one,
    a_stake_over_a_limit_is_refused_and_changes_nothing,
    a_raise_waits_its_cooling_off_and_a_cut_applies_at_once,
    a_first_limit_counts_the_play_before_it,
    deposit_and_session_time_limits_refuse_before_money_moves,
    session_totals_count_what_was_staked_and_won_since_a_time,
    a_harm_flag_is_raised_once_per_session_and_rule,
);

mod play;
use play::*;
mod transfer;
use transfer::*;
mod recall;
use recall::*;
mod free_rounds;
use free_rounds::*;
mod chain;
mod fair;
use fair::*;
mod exclusion;
use exclusion::*;
mod limits;
use limits::*;

fn pid(name: &str) -> PlayerId {
    PlayerId::parse(name).unwrap()
}

fn deposit(tx: &str, player: &str, amount: i64) -> Movement {
    Movement::Deposit {
        tx_id: tx.into(),
        player: pid(player),
        amount_minor: amount,
    }
}

fn open(round: &RoundId, player: &str, req: &str, bet: Option<i64>) -> Movement {
    Movement::OpenRound {
        round_id: round.clone(),
        player: pid(player),
        req_id: ReqId::parse(req).unwrap(),
        game: "g".into(),
        bet_minor: bet,
        try_free_spin: true,
        jackpot: None,
        opened_json: None,
        node: None,
        session_started_ms: None,
    }
}

fn settle(round: &RoundId, player: &str, win: i64) -> Movement {
    Movement::SettleRound {
        round_id: round.clone(),
        player: pid(player),
        win_minor: win,
        outcome_json: format!("{{\"win\":{win}}}"),
        free_spins_awarded: None,
        jackpot_claims: Vec::new(),
        jackpot_draws: Vec::new(),
    }
}

async fn one(ledger: &dyn Ledger, m: Movement) -> Result<Applied, MovementError> {
    ledger.commit_batch(&[m]).await.unwrap().remove(0)
}

/// A table changes hands: the new owner's token refuses the old owner's bets and settlements
/// (nothing changes), and the new owner's own movements apply.
async fn a_raised_fence_refuses_the_old_owners_bets_and_settlements(l: &dyn Ledger) {
    l.ensure_account(&pid("a"), "EUR").await.unwrap();
    one(l, deposit("d1", "a", 1000)).await.unwrap();
    let never_raised = Fence {
        table: "roulette_1".into(),
        token: 1,
    };
    let unfenced_first = one(
        l,
        open(&RoundId::new_v7(), "a", "q0", Some(1)).fenced(Some(&never_raised)),
    )
    .await;
    assert!(
        matches!(
            unfenced_first,
            Err(MovementError::Fenced { current: 0, .. })
        ),
        "{unfenced_first:?}"
    );
    let old = Fence {
        table: "roulette_1".into(),
        token: l.next_fence("roulette_1").await.unwrap(),
    };
    assert_eq!(old.token, 1, "a table's first token");
    let r1 = RoundId::new_v7();
    // A table bet keeps what was bet with the round, for whoever voids it.
    let details =
        r#"{"table":"roulette_1","table_round":"t1","bet":{"kind":"red"},"amount":"1.00"}"#;
    let mut bet = open(&r1, "a", "q1", Some(100));
    if let Movement::OpenRound {
        opened_json, node, ..
    } = &mut bet
    {
        *opened_json = Some(details.to_string());
        *node = Some("node-a".to_string());
    }
    one(l, bet.fenced(Some(&old))).await.unwrap();
    let new = Fence {
        table: "roulette_1".into(),
        token: l.next_fence("roulette_1").await.unwrap(),
    };
    assert_eq!(new.token, 2);
    let late_settle = one(l, settle(&r1, "a", 500).fenced(Some(&old))).await;
    assert_eq!(
        late_settle,
        Err(MovementError::Fenced {
            table: "roulette_1".into(),
            token: 1,
            current: 2
        })
    );
    let late_bet = one(
        l,
        open(&RoundId::new_v7(), "a", "q2", Some(100)).fenced(Some(&old)),
    )
    .await;
    assert!(
        matches!(late_bet, Err(MovementError::Fenced { .. })),
        "{late_bet:?}"
    );
    assert_eq!(
        l.account(&pid("a")).await.unwrap().unwrap().balance_minor,
        900
    );
    assert_eq!(
        l.round(&r1).await.unwrap().unwrap().status,
        RoundStatus::Open
    );
    // The new owner voids the round in flight: refunded once.
    let void = Movement::VoidRound {
        round_id: r1.clone(),
        player: pid("a"),
    };
    assert!(matches!(
        one(l, void.clone()).await,
        Ok(Applied::RoundVoided {
            balance_minor: 1000,
            replayed: false
        })
    ));
    let voided = l.round(&r1).await.unwrap().unwrap();
    assert_eq!(voided.status, RoundStatus::Void);
    assert_eq!(
        voided.outcome_json.as_deref(),
        Some(details),
        "kept through the void"
    );
    assert_eq!(
        voided.node.as_deref(),
        Some("node-a"),
        "the node that opened it"
    );
    let r2 = RoundId::new_v7();
    one(l, open(&r2, "a", "q3", Some(100)).fenced(Some(&new)))
        .await
        .unwrap();
    let paid = one(l, settle(&r2, "a", 200).fenced(Some(&new))).await;
    assert!(
        matches!(
            paid,
            Ok(Applied::RoundSettled {
                balance_minor: 1100,
                ..
            })
        ),
        "{paid:?}"
    );
    assert!(l.audit().await.unwrap().mismatches.is_empty());
    // Other tables are not touched by this one's fence.
    assert_eq!(l.next_fence("baccarat_1").await.unwrap(), 1);
}

/// Nodes race for a table (after a Redis flush every one of them may believe the lease is
/// free): each raise hands out a token no other raise ever got, tokens only grow, and only
/// the last one moves money; every older holder is refused with nothing changed.
async fn fencing_tokens_never_repeat_even_when_nodes_race_for_a_table(l: &dyn Ledger) {
    const NODES: usize = 4;
    const ROUNDS: usize = 5;
    l.ensure_account(&pid("a"), "EUR").await.unwrap();
    one(l, deposit("d1", "a", 1000)).await.unwrap();
    let mut seen = std::collections::BTreeSet::new();
    let mut highest = 0;
    for _ in 0..ROUNDS {
        let raises = (0..NODES).map(|_| l.next_fence("roulette_1"));
        let tokens: Vec<i64> = futures_util::future::join_all(raises)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        for token in &tokens {
            assert!(
                seen.insert(*token),
                "token {token} handed out twice: {seen:?}"
            );
            assert!(
                *token > highest,
                "tokens only grow: {token} after {highest}"
            );
        }
        highest = *tokens.iter().max().unwrap();
        assert_eq!(
            tokens.iter().min().unwrap() + NODES as i64 - 1,
            highest,
            "no gap and no repeat: {tokens:?}"
        );
        for token in tokens.iter().filter(|t| **t != highest) {
            let stale = Fence {
                table: "roulette_1".into(),
                token: *token,
            };
            let refused = one(
                l,
                open(&RoundId::new_v7(), "a", &format!("q{token}"), Some(100)).fenced(Some(&stale)),
            )
            .await;
            assert_eq!(
                refused,
                Err(MovementError::Fenced {
                    table: "roulette_1".into(),
                    token: *token,
                    current: highest
                })
            );
        }
        let current = Fence {
            table: "roulette_1".into(),
            token: highest,
        };
        let round = RoundId::new_v7();
        one(
            l,
            open(&round, "a", &format!("q{highest}"), Some(100)).fenced(Some(&current)),
        )
        .await
        .unwrap();
        one(l, settle(&round, "a", 100).fenced(Some(&current)))
            .await
            .unwrap();
    }
    assert_eq!(seen.len(), NODES * ROUNDS);
    assert_eq!(*seen.iter().next().unwrap(), 1);
    assert_eq!(highest, (NODES * ROUNDS) as i64);
    assert_eq!(
        l.account(&pid("a")).await.unwrap().unwrap().balance_minor,
        1000,
        "only the current holder's bets moved money, and each was paid back"
    );
    assert!(l.audit().await.unwrap().mismatches.is_empty());
}

async fn a_transaction_id_applies_once_and_conflicts_are_refused(l: &dyn Ledger) {
    l.ensure_account(&pid("a"), "EUR").await.unwrap();
    assert_eq!(
        one(l, deposit("d1", "a", 1000)).await,
        Ok(Applied::Deposited {
            balance_minor: 1000,
            replayed: false
        })
    );
    assert_eq!(
        one(l, deposit("d1", "a", 1000)).await,
        Ok(Applied::Deposited {
            balance_minor: 1000,
            replayed: true
        })
    );
    assert_eq!(
        one(l, deposit("d1", "a", 999)).await,
        Err(MovementError::TxConflict("d1".into()))
    );
    assert_eq!(
        l.account(&pid("a")).await.unwrap().unwrap().balance_minor,
        1000
    );
    assert_eq!(l.entries(&pid("a")).await.unwrap().len(), 1);
}

async fn refused_movements_change_nothing_and_do_not_stop_the_batch(l: &dyn Ledger) {
    l.ensure_account(&pid("a"), "EUR").await.unwrap();
    let r1 = RoundId::new_v7();
    let r2 = RoundId::new_v7();
    let results = l
        .commit_batch(&[
            deposit("d", "a", 100),
            open(&r1, "a", "q1", Some(500)), // more than the balance
            open(&r2, "a", "q2", Some(60)),
            deposit("x", "nobody", 5),
            open(&RoundId::new_v7(), "a", "q3", None), // no bet, no free spins
            open(&RoundId::new_v7(), "a", "q4", Some(0)),
        ])
        .await
        .unwrap();
    assert!(matches!(
        results[1],
        Err(MovementError::InsufficientFunds {
            balance_minor: 100,
            needed_minor: 500
        })
    ));
    assert!(matches!(
        results[2],
        Ok(Applied::RoundOpened {
            balance_minor: 40,
            ..
        })
    ));
    assert!(matches!(results[3], Err(MovementError::UnknownAccount(_))));
    assert_eq!(results[4], Err(MovementError::BetRequired));
    assert_eq!(results[5], Err(MovementError::NonPositiveAmount));
    assert!(l.round(&r1).await.unwrap().is_none());
    assert_eq!(
        l.account(&pid("a")).await.unwrap().unwrap().balance_minor,
        40
    );
    assert!(l.audit().await.unwrap().mismatches.is_empty());
}

/// A `req_id` names one request: reused for another game (a spin's for a table bet) or another
/// stake, it is refused, and nothing moves.
async fn a_req_id_reused_for_another_request_is_a_conflict(l: &dyn Ledger) {
    l.ensure_account(&pid("a"), "EUR").await.unwrap();
    one(l, deposit("d", "a", 1000)).await.unwrap();
    one(l, open(&RoundId::new_v7(), "a", "q", Some(100)))
        .await
        .unwrap();
    let mut table_bet = open(&RoundId::new_v7(), "a", "q", Some(100));
    if let Movement::OpenRound { game, .. } = &mut table_bet {
        *game = "roulette_1".into();
    }
    for other in [table_bet, open(&RoundId::new_v7(), "a", "q", Some(200))] {
        let refused = one(l, other).await;
        assert!(
            matches!(refused, Err(MovementError::TxConflict(_))),
            "{refused:?}"
        );
    }
    let account = l.account(&pid("a")).await.unwrap().unwrap();
    assert_eq!(account.balance_minor, 900, "nothing moved");
    // The very same request still replays.
    let again = one(l, open(&RoundId::new_v7(), "a", "q", Some(100))).await;
    assert!(
        matches!(again, Ok(Applied::RoundOpened { replayed: true, .. })),
        "{again:?}"
    );
}

async fn rounds_open_settle_and_replay(l: &dyn Ledger) {
    l.ensure_account(&pid("a"), "EUR").await.unwrap();
    one(l, deposit("d", "a", 1000)).await.unwrap();
    let r = RoundId::new_v7();
    one(l, open(&r, "a", "q", Some(100))).await.unwrap();
    // The same req_id opens nothing new, whatever round id it comes with.
    let again = one(l, open(&RoundId::new_v7(), "a", "q", Some(100)))
        .await
        .unwrap();
    let Applied::RoundOpened {
        round,
        replayed: true,
        ..
    } = again
    else {
        panic!("{again:?}")
    };
    assert_eq!(round.round_id, r);
    assert_eq!(
        one(l, settle(&r, "a", 250)).await,
        Ok(Applied::RoundSettled {
            balance_minor: 1150,
            replayed: false,
            jackpot_wins: Vec::new(),
        })
    );
    assert_eq!(
        one(l, settle(&r, "a", 250)).await,
        Ok(Applied::RoundSettled {
            balance_minor: 1150,
            replayed: true,
            jackpot_wins: Vec::new(),
        })
    );
    assert!(matches!(
        one(l, settle(&r, "a", 999)).await,
        Err(MovementError::TxConflict(_))
    ));
    assert!(matches!(
        one(l, settle(&r, "b", 250)).await,
        Err(MovementError::UnknownAccount(_))
    ));
    l.ensure_account(&pid("b"), "EUR").await.unwrap();
    assert!(matches!(
        one(l, settle(&r, "b", 250)).await,
        Err(MovementError::TxConflict(_))
    ));
    assert_eq!(
        l.account(&pid("b")).await.unwrap().unwrap().balance_minor,
        0
    );
    assert!(matches!(
        one(
            l,
            Movement::VoidRound {
                round_id: r.clone(),
                player: pid("a")
            }
        )
        .await,
        Err(MovementError::RoundNotOpen(_))
    ));
    let round = l.round(&r).await.unwrap().unwrap();
    assert_eq!(
        (round.status, round.win_minor, round.balance_after_minor),
        (RoundStatus::Settled, 250, 1150)
    );
    assert!(l.audit().await.unwrap().mismatches.is_empty());
}

async fn free_spins_are_taken_one_at_a_time_and_given_back_on_void(l: &dyn Ledger) {
    l.ensure_account(&pid("a"), "EUR").await.unwrap();
    one(l, deposit("d", "a", 1000)).await.unwrap();
    let r = RoundId::new_v7();
    one(l, open(&r, "a", "q0", Some(100))).await.unwrap();
    let awarded = Movement::SettleRound {
        round_id: r.clone(),
        player: pid("a"),
        win_minor: 0,
        outcome_json: "{}".into(),
        free_spins_awarded: Some(FreeSpins {
            game: "g".into(),
            remaining: 2,
            bet_minor: 100,
            multiplier: 3,
        }),
        jackpot_claims: Vec::new(),
        jackpot_draws: Vec::new(),
    };
    one(l, awarded).await.unwrap();
    let f1 = RoundId::new_v7();
    let opened = one(l, open(&f1, "a", "q1", None)).await.unwrap();
    let Applied::RoundOpened {
        round,
        free_spins_left: 1,
        balance_minor: 900,
        ..
    } = opened
    else {
        panic!("{opened:?}")
    };
    assert!(
        round.free_spin
            && round.stake_minor == 100
            && round.multiplier == 3
            && round.bet_minor == 0
    );
    // Voiding a free-spin round gives the spin back and moves no money.
    one(
        l,
        Movement::VoidRound {
            round_id: f1.clone(),
            player: pid("a"),
        },
    )
    .await
    .unwrap();
    assert_eq!(l.free_spins(&pid("a")).await.unwrap()[0].remaining, 2);
    for q in ["q2", "q3"] {
        let r = RoundId::new_v7();
        one(l, open(&r, "a", q, Some(100))).await.unwrap();
        one(l, settle(&r, "a", 10)).await.unwrap();
    }
    assert!(l.free_spins(&pid("a")).await.unwrap().is_empty());
    // Now a spin without a bet is refused; with a bet it is paid.
    assert_eq!(
        one(l, open(&RoundId::new_v7(), "a", "q4", None)).await,
        Err(MovementError::BetRequired)
    );
    assert_eq!(
        l.account(&pid("a")).await.unwrap().unwrap().balance_minor,
        920
    );
    assert!(l.audit().await.unwrap().mismatches.is_empty());
}

async fn void_refunds_exactly_once(l: &dyn Ledger) {
    l.ensure_account(&pid("a"), "EUR").await.unwrap();
    one(l, deposit("d", "a", 1000)).await.unwrap();
    let r = RoundId::new_v7();
    one(l, open(&r, "a", "q", Some(300))).await.unwrap();
    let void = Movement::VoidRound {
        round_id: r.clone(),
        player: pid("a"),
    };
    assert_eq!(
        one(l, void.clone()).await,
        Ok(Applied::RoundVoided {
            balance_minor: 1000,
            replayed: false
        })
    );
    assert_eq!(
        one(l, void).await,
        Ok(Applied::RoundVoided {
            balance_minor: 1000,
            replayed: true
        })
    );
    assert!(matches!(
        one(l, settle(&r, "a", 5)).await,
        Err(MovementError::RoundNotOpen(_))
    ));
    assert!(l.open_rounds().await.unwrap().is_empty());
    assert_eq!(l.entries(&pid("a")).await.unwrap().len(), 3);
}

#[derive(Debug, Clone)]
enum Step {
    Deposit(u8, i64),
    Spin(u8, i64, i64),
    OpenOnly(u8, i64),
    VoidOpen,
    Replay,
    /// A one-step spin (`PlayRound`).
    Play(u8, i64, i64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0u8..3, 1i64..5_000).prop_map(|(p, a)| Step::Deposit(p, a)),
        (0u8..3, 1i64..3_000, 0i64..10_000).prop_map(|(p, b, w)| Step::Spin(p, b, w)),
        (0u8..3, 1i64..3_000).prop_map(|(p, b)| Step::OpenOnly(p, b)),
        Just(Step::VoidOpen),
        Just(Step::Replay),
        (0u8..3, 1i64..3_000, 0i64..10_000).prop_map(|(p, b, w)| Step::Play(p, b, w)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Whatever happens, in whatever batches: balances never go negative, every balance equals
    /// the sum of its entries, and the books add up to deposits − bets + wins + refunds.
    #[test]
    fn random_movements_keep_the_books(steps in proptest::collection::vec(step(), 1..60), batch in 1usize..8) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            let (l, _d) = ledger().await;
            let names = ["p0", "p1", "p2"];
            for n in names { l.ensure_account(&pid(n), "EUR").await.unwrap(); }
            let mut movements = Vec::new();
            let mut open_rounds: Vec<(RoundId, &str)> = Vec::new();
            for (i, s) in steps.iter().enumerate() {
                match s {
                    Step::Deposit(p, a) => movements.push(deposit(&format!("d{i}"), names[*p as usize], *a)),
                    Step::Spin(p, b, w) => {
                        let r = RoundId::new_v7();
                        movements.push(open(&r, names[*p as usize], &format!("s{i}"), Some(*b)));
                        movements.push(settle(&r, names[*p as usize], *w));
                    }
                    Step::OpenOnly(p, b) => {
                        let r = RoundId::new_v7();
                        movements.push(open(&r, names[*p as usize], &format!("o{i}"), Some(*b)));
                        open_rounds.push((r, names[*p as usize]));
                    }
                    Step::VoidOpen => if let Some((r, p)) = open_rounds.pop() {
                        movements.push(Movement::VoidRound { round_id: r, player: pid(p) });
                    },
                    Step::Replay => if let Some(m) = movements.last().cloned() { movements.push(m) },
                    Step::Play(p, b, w) => {
                        let r = RoundId::new_v7();
                        movements.push(play::play(&r, names[*p as usize], &format!("y{i}"), *b, *w));
                    }
                }
            }
            for chunk in movements.chunks(batch) {
                let results = l.commit_batch(chunk).await.unwrap();
                for r in results {
                    if let Ok(Applied::RoundOpened { balance_minor, .. } | Applied::RoundSettled { balance_minor, .. }
                        | Applied::Deposited { balance_minor, .. } | Applied::RoundVoided { balance_minor, .. }
                        | Applied::RoundPlayed { balance_minor, .. }) = r {
                        prop_assert!(balance_minor >= 0);
                    }
                }
            }
            let report = l.audit().await.unwrap();
            prop_assert!(report.mismatches.is_empty(), "{:?}", report.mismatches);
            for n in names {
                let entries = l.entries(&pid(n)).await.unwrap();
                let sum: i64 = entries.iter().map(|e| e.amount_minor).sum();
                let balance = l.account(&pid(n)).await.unwrap().unwrap().balance_minor;
                prop_assert_eq!(sum, balance);
                let mut ids: Vec<&str> = entries.iter().map(|e| e.tx_id.as_str()).collect();
                ids.sort();
                ids.dedup();
                prop_assert_eq!(ids.len(), entries.len(), "transaction ids are unique");
                for e in &entries {
                    let sign_ok = match e.kind {
                        EntryKind::Bet => e.amount_minor < 0,
                        _ => e.amount_minor > 0,
                    };
                    prop_assert!(sign_ok, "{e:?}");
                }
            }
            Ok(())
        })?;
    }
}

// ------------------------------------------------------------------------------- jackpots

const MICRO: i64 = crate::jackpot::math::MICRO_PER_MINOR;

fn feed() -> JackpotFeed {
    JackpotFeed {
        pool: "net".into(),
        levels: vec![
            LevelFeed {
                level: "mini".into(),
                contribution_ppm: 5_000,
                reserve_ppm: 1_000,
                must_drop_by_micro: None,
            },
            LevelFeed {
                level: "major".into(),
                contribution_ppm: 2_500,
                reserve_ppm: 0,
                must_drop_by_micro: None,
            },
        ],
    }
}

async fn with_pools(l: &dyn Ledger, players: &[&str]) {
    let specs: Vec<PoolSpec> = [("mini", 10), ("major", 500)]
        .into_iter()
        .map(|(level, seed)| PoolSpec {
            pool: "net".into(),
            level: level.into(),
            currency: "EUR".into(),
            seed_micro: seed * 100 * MICRO,
        })
        .collect();
    l.ensure_pools(&specs).await.unwrap();
    l.ensure_pools(&specs).await.unwrap(); // idempotent
    for p in players {
        l.ensure_account(&pid(p), "EUR").await.unwrap();
        one(l, deposit(&format!("d-{p}"), p, 100_000))
            .await
            .unwrap();
    }
}

fn paid_open(round: &RoundId, player: &str, req: &str, bet: i64) -> Movement {
    Movement::OpenRound {
        round_id: round.clone(),
        player: pid(player),
        req_id: ReqId::parse(req).unwrap(),
        game: "g".into(),
        bet_minor: Some(bet),
        try_free_spin: false,
        jackpot: Some(feed()),
        opened_json: None,
        node: None,
        session_started_ms: None,
    }
}

fn claim_settle(round: &RoundId, player: &str, cycle: i64) -> Movement {
    claim_settle_for(round, player, cycle, ClaimReason::Mystery)
}

fn claim_settle_for(round: &RoundId, player: &str, cycle: i64, reason: ClaimReason) -> Movement {
    Movement::SettleRound {
        round_id: round.clone(),
        player: pid(player),
        win_minor: 0,
        outcome_json: "{}".into(),
        free_spins_awarded: None,
        jackpot_claims: vec![JackpotClaim {
            pool: "net".into(),
            level: "mini".into(),
            cycle,
            reason,
        }],
        jackpot_draws: Vec::new(),
    }
}

fn level(pools: &[PoolState], name: &str) -> PoolState {
    pools.iter().find(|p| p.level == name).unwrap().clone()
}

async fn contributions_are_exact_and_folded_per_batch(l: &dyn Ledger) {
    with_pools(l, &["a", "b"]).await;
    // 3 bets of 1.01 in ONE batch: 0.5% of 101 cents = 0.505 cents each, exact.
    let batch: Vec<Movement> = (0..3)
        .map(|i| {
            paid_open(
                &RoundId::new_v7(),
                ["a", "b", "a"][i],
                &format!("q{i}"),
                101,
            )
        })
        .collect();
    let results = l.commit_batch(&batch).await.unwrap();
    let seen: Vec<Vec<LevelSeen>> = results
        .into_iter()
        .map(|r| match r.unwrap() {
            Applied::RoundOpened { jackpot, .. } => jackpot,
            other => panic!("{other:?}"),
        })
        .collect();
    // Each bet sees the level as it left it, in order.
    let mini_after: Vec<i64> = seen.iter().map(|s| s[0].value_micro).collect();
    let seed = 1_000 * MICRO;
    assert_eq!(
        mini_after,
        vec![seed + 505_000, seed + 1_010_000, seed + 1_515_000]
    );
    let pools = l.pools().await.unwrap();
    let mini = level(&pools, "mini");
    assert_eq!(
        mini.value_micro,
        seed + 1_515_000,
        "1.515 cents: the half cent is kept"
    );
    assert_eq!(mini.reserve_micro, 3 * 101 * 1_000);
    assert_eq!(
        level(&pools, "major").value_micro,
        50_000 * MICRO + 3 * 252_500
    );
    // Folded: one contribution entry per level for the whole batch.
    let report = l.reconcile().await.unwrap();
    assert!(report.mismatches.is_empty(), "{report:?}");
    assert_eq!(report.contributions_micro, 3 * 505_000 + 3 * 252_500);
    assert!(l.audit().await.unwrap().mismatches.is_empty());
}

async fn a_cycle_is_won_once_and_the_second_claim_gets_the_fresh_seed(l: &dyn Ledger) {
    with_pools(l, &["a", "b"]).await;
    let (ra, rb) = (RoundId::new_v7(), RoundId::new_v7());
    one(l, paid_open(&ra, "a", "qa", 10_000)).await.unwrap();
    one(l, paid_open(&rb, "b", "qb", 10_000)).await.unwrap();
    // Both saw cycle 1 (value 10.00 + 2 × 0.50); both claim it, in one batch.
    let results = l
        .commit_batch(&[claim_settle(&ra, "a", 1), claim_settle(&rb, "b", 1)])
        .await
        .unwrap();
    let wins: Vec<JackpotWin> = results
        .into_iter()
        .map(|r| match r.unwrap() {
            Applied::RoundSettled {
                mut jackpot_wins, ..
            } => jackpot_wins.remove(0),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!((wins[0].cycle, wins[0].amount_minor), (1, 1_100));
    // The second claim finds cycle 1 won: it takes cycle 2, the fresh 10.00 seed.
    assert_eq!((wins[1].cycle, wins[1].amount_minor), (2, 1_000));
    let a = l.account(&pid("a")).await.unwrap().unwrap().balance_minor;
    let b = l.account(&pid("b")).await.unwrap().unwrap().balance_minor;
    assert_eq!((a, b), (100_000 - 10_000 + 1_100, 100_000 - 10_000 + 1_000));
    let mini = level(&l.pools().await.unwrap(), "mini");
    assert_eq!((mini.cycle, mini.value_micro), (3, 1_000 * MICRO));
    // The reserve (0.1% of 200.00 = 20 cents) funded the first reset; the house the rest.
    assert_eq!(mini.reserve_micro, 0);
    // A settlement resent after the win pays nothing more.
    match one(l, claim_settle(&ra, "a", 1)).await.unwrap() {
        Applied::RoundSettled {
            replayed: true,
            jackpot_wins,
            ..
        } => assert_eq!(jackpot_wins, vec![wins[0].clone()]),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        l.account(&pid("a")).await.unwrap().unwrap().balance_minor,
        a
    );
    let report = l.reconcile().await.unwrap();
    assert!(report.mismatches.is_empty(), "{report:?}");
    assert_eq!(report.awards, 2);
    assert!(l.audit().await.unwrap().mismatches.is_empty());
    // Conservation: deposits = balances + pools (all levels, with reserves) + house.
    let pools = l.pools().await.unwrap();
    let in_pools: i64 = pools.iter().map(|p| p.value_micro + p.reserve_micro).sum();
    let reserve_saved = 2 * 10_000 * 1_000; // 0.1% of two 100.00 bets: 20 cents
    let reserve_used = 20 * MICRO; // all of it went into the first reset's seed
    assert_eq!(
        in_pools,
        report.seeds_micro + report.contributions_micro + reserve_saved
            - report.payouts_micro
            - reserve_used
    );
}

/// Under load every bet between the one that crossed a level's must-drop-by ceiling and its
/// settlement sees the level past the ceiling and claims it. Only the cycle they saw drops:
/// the first claim wins it, the others lapse (the fresh cycle is at its seed, far below).
async fn a_ceiling_claim_on_a_cycle_already_won_lapses(l: &dyn Ledger) {
    with_pools(l, &["a", "b", "c", "d", "e"]).await;
    let rounds = [RoundId::new_v7(), RoundId::new_v7(), RoundId::new_v7()];
    for (r, p) in rounds.iter().zip(["a", "b", "c"]) {
        one(l, paid_open(r, p, &format!("q{p}"), 10_000))
            .await
            .unwrap();
    }
    let settle = |i: usize, p: &str| claim_settle_for(&rounds[i], p, 1, ClaimReason::Ceiling);
    // New bets between the claims feed the fresh cycle; a lapsed claim flushes them once more
    // in the same batch (each flush's entries need their own ids).
    let batch = [
        settle(0, "a"),
        paid_open(&RoundId::new_v7(), "d", "qd", 10_000),
        settle(1, "b"),
        paid_open(&RoundId::new_v7(), "e", "qe", 10_000),
        settle(2, "c"),
    ];
    let results = l.commit_batch(&batch).await.unwrap();
    let wins: Vec<Vec<JackpotWin>> = results
        .into_iter()
        .filter_map(|r| match r.unwrap() {
            Applied::RoundSettled { jackpot_wins, .. } => Some(jackpot_wins),
            Applied::RoundOpened { .. } => None,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(wins[0].len(), 1);
    assert_eq!((wins[0][0].cycle, wins[0][0].amount_minor), (1, 1_150));
    assert!(wins[1].is_empty() && wins[2].is_empty(), "{wins:?}");
    let balance =
        |p: &'static str| async move { l.account(&pid(p)).await.unwrap().unwrap().balance_minor };
    assert_eq!(balance("a").await, 100_000 - 10_000 + 1_150);
    assert_eq!(balance("b").await, 100_000 - 10_000);
    assert_eq!(balance("c").await, 100_000 - 10_000);
    let mini = level(&l.pools().await.unwrap(), "mini");
    assert_eq!(
        (mini.cycle, mini.value_micro),
        (2, 1_100 * MICRO),
        "the fresh seed and two contributions of 0.50"
    );
    // Resent, the lapsed settlements still pay nothing.
    match one(
        l,
        claim_settle_for(&rounds[1], "b", 1, ClaimReason::Ceiling),
    )
    .await
    .unwrap()
    {
        Applied::RoundSettled {
            replayed: true,
            jackpot_wins,
            ..
        } => assert!(jackpot_wins.is_empty()),
        other => panic!("{other:?}"),
    }
    let report = l.reconcile().await.unwrap();
    assert!(report.mismatches.is_empty(), "{report:?}");
    assert_eq!(report.awards, 1);
    assert!(l.audit().await.unwrap().mismatches.is_empty());
}

async fn a_free_spin_feeds_nothing_and_a_replayed_open_adds_nothing(l: &dyn Ledger) {
    with_pools(l, &["a"]).await;
    let r = RoundId::new_v7();
    one(l, paid_open(&r, "a", "q", 1_000)).await.unwrap();
    let before = l.pools().await.unwrap();
    // The same req_id again: the original round, no second contribution.
    match one(l, paid_open(&RoundId::new_v7(), "a", "q", 1_000))
        .await
        .unwrap()
    {
        Applied::RoundOpened {
            replayed: true,
            jackpot,
            ..
        } => assert!(jackpot.is_empty()),
        other => panic!("{other:?}"),
    }
    assert_eq!(l.pools().await.unwrap(), before);
    let report = l.reconcile().await.unwrap();
    assert!(report.mismatches.is_empty(), "{report:?}");
}

/// Many batches at once on one pool (PostgreSQL runs them in concurrent transactions): every
/// bet's contribution lands once, the claims pay each cycle once, and the books balance.
async fn concurrent_batches_on_one_pool_add_up(l: &dyn Ledger) {
    let players: Vec<String> = (0..8).map(|i| format!("c{i}")).collect();
    let names: Vec<&str> = players.iter().map(String::as_str).collect();
    with_pools(l, &names).await;
    let batches = (0..8).map(|p| {
        let player = names[p];
        async move {
            let mut movements = Vec::new();
            for i in 0..20 {
                let r = RoundId::new_v7();
                movements.push(paid_open(&r, player, &format!("q{i}"), 100));
                // Every fifth round claims mini's cycle 1: the first claim wins it, the
                // others win the cycles that follow (the fresh-seed rule).
                let mut settle = claim_settle(&r, player, 1);
                if let Movement::SettleRound { jackpot_claims, .. } = &mut settle {
                    if i % 5 != 4 {
                        jackpot_claims.clear();
                    }
                }
                movements.push(settle);
            }
            l.commit_batch(&movements).await.unwrap()
        }
    });
    let results = futures_util::future::join_all(batches).await;
    let mut paid = 0i64;
    for r in results.into_iter().flatten() {
        if let Ok(Applied::RoundSettled { jackpot_wins, .. }) = r.clone() {
            paid += jackpot_wins.iter().map(|w| w.amount_minor).sum::<i64>();
        } else {
            assert!(r.is_ok(), "{r:?}");
        }
    }
    let report = l.reconcile().await.unwrap();
    assert!(report.mismatches.is_empty(), "{report:?}");
    assert_eq!(
        report.awards,
        8 * 4,
        "four claims per player, each paid once"
    );
    assert_eq!(report.payouts_micro, paid * MICRO);
    // 160 bets of 1.00: mini gets 0.5% and major 0.25% of each, exactly.
    assert_eq!(report.contributions_micro, 160 * 100 * (5_000 + 2_500));
    assert!(l.audit().await.unwrap().mismatches.is_empty());
}
