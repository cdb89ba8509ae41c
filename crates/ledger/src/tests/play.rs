//! Conformance cases of the one-step spin (`PlayRound`), run on both databases by the
//! `conformance!` list of the parent suite: the stake and the win move once, a replay and a
//! refusal change nothing, the jackpot claims are decided in the transaction from the level as
//! this bet leaves it, and one-step and two-step rounds share a batch.

use super::*;

/// A PlayRound of `bet` winning `win`, feeding `feed` with `draws`, awarding `awarded`.
fn play_with(
    round: &RoundId,
    player: &str,
    req: &str,
    (bet, win): (i64, i64),
    feed: Option<&JackpotFeed>,
    draws: Vec<LevelDraw>,
    awarded: Option<FreeSpins>,
) -> Movement {
    Movement::PlayRound {
        round_id: round.clone(),
        player: pid(player),
        req_id: ReqId::parse(req).unwrap(),
        game: "g".into(),
        bet_minor: bet,
        jackpot: feed.cloned(),
        node: None,
        win_minor: win,
        outcome_json: format!("{{\"win\":{win}}}"),
        free_spins_awarded: awarded,
        jackpot_draws: draws,
        session_started_ms: None,
    }
}

pub(super) fn play(round: &RoundId, player: &str, req: &str, bet: i64, win: i64) -> Movement {
    play_with(round, player, req, (bet, win), None, Vec::new(), None)
}

fn played(result: Result<Applied, MovementError>) -> (RoundRecord, i64, bool, Vec<JackpotWin>) {
    match result {
        Ok(Applied::RoundPlayed {
            round,
            balance_minor,
            replayed,
            jackpot_wins,
            ..
        }) => (round, balance_minor, replayed, jackpot_wins),
        other => panic!("expected a played round, got {other:?}"),
    }
}

pub(super) async fn a_one_step_spin_moves_the_stake_and_the_win_once(l: &dyn Ledger) {
    l.ensure_account(&pid("p"), "EUR").await.unwrap();
    one(l, deposit("d1", "p", 1_000)).await.unwrap();
    let r = RoundId::new_v7();
    let (round, balance, replayed, _) = played(one(l, play(&r, "p", "s1", 100, 250)).await);
    assert_eq!((balance, replayed), (1_150, false));
    assert_eq!(round.status, RoundStatus::Settled);
    assert_eq!((round.bet_minor, round.win_minor), (100, 250));
    let stored = l.round(&r).await.unwrap().unwrap();
    assert_eq!(stored, round, "the answer is the round as stored");
    let kinds: Vec<(String, i64)> = l
        .entries(&pid("p"))
        .await
        .unwrap()
        .iter()
        .map(|e| (e.tx_id.clone(), e.amount_minor))
        .collect();
    assert!(kinds.contains(&(r.tx("bet"), -100)) && kinds.contains(&(r.tx("win"), 250)));
    // Resent as it was: the same round, nothing moves.
    let (again, balance, replayed, _) = played(one(l, play(&r, "p", "s1", 100, 250)).await);
    assert_eq!(
        (balance, replayed, again.round_id),
        (1_150, true, r.clone())
    );
    // The same req_id with a fresh draw (another round id and win): still the first round.
    let fresh = RoundId::new_v7();
    let (first, _, replayed, _) = played(one(l, play(&fresh, "p", "s1", 100, 9_000)).await);
    assert_eq!(
        (first.round_id, first.win_minor, replayed),
        (r.clone(), 250, true)
    );
    assert!(l.round(&fresh).await.unwrap().is_none());
    // The same req_id for another stake is another request.
    let other = one(l, play(&RoundId::new_v7(), "p", "s1", 300, 0)).await;
    assert!(
        matches!(other, Err(MovementError::TxConflict(_))),
        "{other:?}"
    );
    // More than the balance: refused, nothing written.
    let short = RoundId::new_v7();
    let refused = one(l, play(&short, "p", "s2", 5_000, 10_000)).await;
    assert_eq!(
        refused,
        Err(MovementError::InsufficientFunds {
            balance_minor: 1_150,
            needed_minor: 5_000
        })
    );
    assert!(l.round(&short).await.unwrap().is_none());
    let zero = one(l, play(&RoundId::new_v7(), "p", "s3", 0, 0)).await;
    assert_eq!(zero, Err(MovementError::NonPositiveAmount));
    let unknown = one(l, play(&RoundId::new_v7(), "nobody", "s4", 10, 0)).await;
    assert!(
        matches!(unknown, Err(MovementError::UnknownAccount(_))),
        "{unknown:?}"
    );
    assert_eq!(l.entries(&pid("p")).await.unwrap().len(), 3);
    assert_eq!(
        l.account(&pid("p")).await.unwrap().unwrap().balance_minor,
        1_150
    );
    assert!(l.audit().await.unwrap().mismatches.is_empty());
}

/// The mini level of the suite's pool with a must-drop-by ceiling at `ceiling_minor`.
fn feed_with_ceiling(ceiling_minor: i64) -> JackpotFeed {
    let mut feed = feed();
    feed.levels[0].must_drop_by_micro = Some(ceiling_minor * MICRO);
    feed
}

fn jackpot_play(
    round: &RoundId,
    player: &str,
    req: &str,
    bet: i64,
    feed: &JackpotFeed,
    draws: Vec<LevelDraw>,
) -> Movement {
    play_with(round, player, req, (bet, 0), Some(feed), draws, None)
}

/// A level's draw, with the mystery value that decided it (a hit is a value below 1 in 0..10).
fn draw(level: &str, triggered: bool, mystery_hit: bool) -> LevelDraw {
    LevelDraw {
        level: level.into(),
        triggered,
        mystery_hit,
        mystery: Some(crate::jackpot::MysteryDraw {
            numerator: 1,
            denominator: 10,
            drawn: Some(if mystery_hit { 0 } else { 7 }),
        }),
    }
}

pub(super) async fn a_one_step_spin_claims_what_its_own_bet_decides(l: &dyn Ledger) {
    with_pools(l, &["a", "b"]).await;
    // mini starts at its seed of 10.00; a bet of 100.00 adds 0.50 and reaches 10.50.
    let feed = feed_with_ceiling(1_050);
    let quiet = || vec![draw("mini", false, false), draw("major", false, false)];
    let small = RoundId::new_v7();
    let (_, balance, _, wins) =
        played(one(l, jackpot_play(&small, "a", "q1", 100, &feed, quiet())).await);
    assert!(wins.is_empty(), "below the ceiling: {wins:?}");
    assert_eq!(balance, 100_000 - 100);
    let big = RoundId::new_v7();
    let (_, balance, _, wins) =
        played(one(l, jackpot_play(&big, "b", "q2", 10_000, &feed, quiet())).await);
    assert_eq!(wins.len(), 1, "{wins:?}");
    assert_eq!((wins[0].level.as_str(), wins[0].cycle), ("mini", 1));
    assert_eq!(wins[0].reason, ClaimReason::Ceiling);
    // 10.00 seed + 0.005 (first bet) + 0.50 = 10.505 -> 10.50 paid, the carry stays.
    assert_eq!(wins[0].amount_minor, 1_050);
    assert_eq!(balance, 100_000 - 10_000 + 1_050);
    // A trigger on major and a mystery hit on mini, in one spin: both claimed, each once.
    let both = RoundId::new_v7();
    let draws = vec![draw("mini", false, true), draw("major", true, false)];
    let kept = draws.clone();
    let (_, _, _, wins) = played(one(l, jackpot_play(&both, "a", "q3", 100, &feed, draws)).await);
    // The round's recall holds every draw, mystery values included.
    let recall = l.recall(&both).await.unwrap().unwrap();
    assert_eq!(recall.jackpot_draws, kept);
    assert!(l.recall(&small).await.unwrap().unwrap().jackpot_draws.len() == 2);
    let reasons: Vec<(&str, ClaimReason)> =
        wins.iter().map(|w| (w.level.as_str(), w.reason)).collect();
    assert_eq!(
        reasons,
        [
            ("mini", ClaimReason::Mystery),
            ("major", ClaimReason::Trigger)
        ]
    );
    assert_eq!(l.jackpot_wins(&both).await.unwrap().len(), 2);
    // A draw for a level the pool does not have fails the whole commit: nothing written.
    let before = l.account(&pid("a")).await.unwrap().unwrap().balance_minor;
    let bad = RoundId::new_v7();
    let draws = vec![draw("grand", true, false)];
    let failed = l
        .commit_batch(&[jackpot_play(&bad, "a", "q4", 100, &feed, draws)])
        .await;
    assert!(
        matches!(failed, Err(LedgerError::Invariant(_))),
        "{failed:?}"
    );
    assert!(l.round(&bad).await.unwrap().is_none());
    let after = l.account(&pid("a")).await.unwrap().unwrap().balance_minor;
    assert_eq!(before, after);
    let report = l.reconcile().await.unwrap();
    assert!(report.mismatches.is_empty(), "{report:?}");
    assert_eq!(report.awards, 3);
    assert!(l.audit().await.unwrap().mismatches.is_empty());
}

pub(super) async fn a_one_step_spin_beside_two_step_rounds_in_one_batch(l: &dyn Ledger) {
    with_pools(l, &["a", "b"]).await;
    let (two, single) = (RoundId::new_v7(), RoundId::new_v7());
    let feed = feed();
    let quiet = vec![draw("mini", false, false), draw("major", false, false)];
    let batch = [
        paid_open(&two, "a", "q1", 1_000),
        jackpot_play(&single, "a", "q2", 1_000, &feed, quiet),
        claim_settle_for(&two, "a", 1, ClaimReason::Trigger),
        play(&RoundId::new_v7(), "b", "q3", 500, 2_000),
    ];
    let results = l.commit_batch(&batch).await.unwrap();
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let (_, balance, _, wins) = played(results[1].clone());
    assert!(wins.is_empty());
    assert_eq!(balance, 100_000 - 2_000);
    match &results[2] {
        Ok(Applied::RoundSettled { jackpot_wins, .. }) => {
            // The two-step round's claim on cycle 1 pays the seed and both bets' shares.
            assert_eq!(jackpot_wins.len(), 1);
            assert_eq!(jackpot_wins[0].amount_minor, 1_010);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        l.account(&pid("b")).await.unwrap().unwrap().balance_minor,
        101_500
    );
    let report = l.reconcile().await.unwrap();
    assert!(report.mismatches.is_empty(), "{report:?}");
    assert!(l.audit().await.unwrap().mismatches.is_empty());
}

/// The same spin (stake, win, free spins awarded, jackpot feed) played both ways leaves the
/// same round, the same entries and the same pool shares.
pub(super) async fn one_step_and_two_step_leave_the_same_books(l: &dyn Ledger) {
    with_pools(l, &["one", "two"]).await;
    let feed = feed();
    let awarded = FreeSpins {
        game: "g".into(),
        remaining: 3,
        bet_minor: 250,
        multiplier: 2,
    };
    let single = RoundId::new_v7();
    let quiet = vec![draw("mini", false, false), draw("major", false, false)];
    let movement = play_with(
        &single,
        "one",
        "r1",
        (250, 700),
        Some(&feed),
        quiet,
        Some(awarded.clone()),
    );
    one(l, movement).await.unwrap();
    let double = RoundId::new_v7();
    one(l, paid_open(&double, "two", "r1", 250)).await.unwrap();
    let settle = Movement::SettleRound {
        round_id: double.clone(),
        player: pid("two"),
        win_minor: 700,
        outcome_json: "{\"win\":700}".into(),
        free_spins_awarded: Some(awarded),
        jackpot_claims: Vec::new(),
        jackpot_draws: Vec::new(),
    };
    one(l, settle).await.unwrap();
    let (a, b) = (
        l.round(&single).await.unwrap().unwrap(),
        l.round(&double).await.unwrap().unwrap(),
    );
    let same = |r: &RoundRecord| {
        (
            r.status,
            r.bet_minor,
            r.stake_minor,
            r.win_minor,
            r.free_spin,
            r.multiplier,
            r.balance_after_minor,
            r.outcome_json.clone(),
            r.game.clone(),
        )
    };
    assert_eq!(same(&a), same(&b));
    let books = |player: &'static str, round: RoundId| async move {
        let entries = l.entries(&pid(player)).await.unwrap();
        let mut rows: Vec<(String, &'static str, i64, i64)> = entries
            .iter()
            .filter(|e| e.round_id.as_deref() == Some(round.as_str()))
            .map(|e| {
                let suffix = e.tx_id.rsplit(':').next().unwrap_or_default().to_string();
                (
                    suffix,
                    e.kind.as_str(),
                    e.amount_minor,
                    e.balance_after_minor,
                )
            })
            .collect();
        rows.sort();
        rows
    };
    assert_eq!(books("one", single).await, books("two", double).await);
    assert_eq!(
        l.free_spins(&pid("one")).await.unwrap(),
        l.free_spins(&pid("two")).await.unwrap()
    );
    let report = l.reconcile().await.unwrap();
    assert!(report.mismatches.is_empty(), "{report:?}");
    assert!(l.audit().await.unwrap().mismatches.is_empty());
}
