//! Conformance cases of player limits, run on both databases by the parent suite's
//! `conformance!` list: a stake that would cross a loss or wager limit is refused in its own
//! transaction with the limit and its reset time, and nothing moves (one-step and two-step
//! alike); a replayed request still answers its round; a raise waits for its cooling-off while a
//! cut applies at once; a first limit counts the month of play before it; deposit and
//! session-time limits refuse before any money moves. A session's totals (for reality checks)
//! count what was staked and won since a time; a harm flag is kept once per session and rule.

use super::play::play;
use super::*;
use crate::clock::now_ms;
use crate::limits::{LimitKey, LimitKind, Period, BUCKET_MS};

fn key(kind: LimitKind, period: Period) -> LimitKey {
    LimitKey::new(kind, period).unwrap()
}

const DAY: i64 = 86_400_000;

async fn balance(l: &dyn Ledger, player: &str) -> i64 {
    l.account(&pid(player))
        .await
        .unwrap()
        .unwrap()
        .balance_minor
}

async fn funded(l: &dyn Ledger, player: &str, amount: i64) {
    l.ensure_account(&pid(player), "EUR").await.unwrap();
    one(l, deposit(&format!("fund:{player}"), player, amount))
        .await
        .unwrap();
}

fn limit_of(refused: &Result<Applied, MovementError>) -> (LimitKind, Period, i64, Option<i64>) {
    match refused {
        Err(MovementError::LimitReached {
            kind,
            period,
            limit,
            resets_at_ms,
        }) => (*kind, *period, *limit, *resets_at_ms),
        other => panic!("expected limit_reached, got {other:?}"),
    }
}

pub(super) async fn a_stake_over_a_limit_is_refused_and_changes_nothing(l: &dyn Ledger) {
    funded(l, "lim:a", 10_000).await;
    let p = pid("lim:a");
    let set = l
        .set_limit(&p, key(LimitKind::Loss, Period::Day), Some(500), DAY)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(set.in_force(now_ms()), Some(500));
    // 300 lost, then a win of 100 on a stake of 100: net loss 300.
    one(l, play(&RoundId::new_v7(), "lim:a", "q1", 300, 0))
        .await
        .unwrap();
    one(l, play(&RoundId::new_v7(), "lim:a", "q2", 100, 100))
        .await
        .unwrap();
    let report = l.limits(&p).await.unwrap();
    let day = report.used(Period::Day).unwrap();
    assert_eq!((day.wagered, day.won), (400, 100));
    assert_eq!(day.used(LimitKind::Loss), 300);
    // 300 + 201 > 500: refused, one-step and two-step alike, and nothing moved.
    let before = (
        balance(l, "lim:a").await,
        l.entries(&p).await.unwrap().len(),
    );
    let at = now_ms();
    let refused = one(l, play(&RoundId::new_v7(), "lim:a", "q3", 201, 0)).await;
    let (kind, period, limit, resets) = limit_of(&refused);
    assert_eq!((kind, period, limit), (LimitKind::Loss, Period::Day, 500));
    let resets = resets.expect("a reset time");
    assert!(
        resets > at + DAY - BUCKET_MS && resets <= at + DAY + BUCKET_MS,
        "{resets}"
    );
    let two_step = one(l, open(&RoundId::new_v7(), "lim:a", "q4", Some(201))).await;
    assert_eq!(limit_of(&two_step).0, LimitKind::Loss);
    let after = (
        balance(l, "lim:a").await,
        l.entries(&p).await.unwrap().len(),
    );
    assert_eq!(before, after, "a refused stake moves nothing");
    assert_eq!(
        l.round_by_req(&p, &ReqId::parse("q3").unwrap())
            .await
            .unwrap(),
        None
    );
    // Exactly up to the limit is allowed.
    one(l, play(&RoundId::new_v7(), "lim:a", "q5", 200, 0))
        .await
        .unwrap();
    // A replayed request answers its round, even with the limit now reached.
    let replay = one(l, play(&RoundId::new_v7(), "lim:a", "q1", 300, 0))
        .await
        .unwrap();
    assert!(matches!(
        replay,
        Applied::RoundPlayed { replayed: true, .. }
    ));
    // A wager limit counts stakes whatever was won; a voided stake is taken off again.
    l.set_limit(&p, key(LimitKind::Wager, Period::Week), Some(700), DAY)
        .await
        .unwrap();
    let r = RoundId::new_v7();
    assert_eq!(
        limit_of(&one(l, open(&r, "lim:a", "q6", Some(1))).await).0,
        LimitKind::Loss
    );
    l.set_limit(&p, key(LimitKind::Loss, Period::Day), None, DAY)
        .await
        .unwrap();
    // The loss limit's removal waits its cooling-off: it still refuses.
    assert_eq!(
        limit_of(&one(l, open(&r, "lim:a", "q6", Some(1))).await).0,
        LimitKind::Loss
    );
    // Another player's limits do not touch this one.
    funded(l, "lim:free", 1_000).await;
    one(l, play(&RoundId::new_v7(), "lim:free", "q1", 900, 0))
        .await
        .unwrap();
    assert!(l.limits(&pid("lim:free")).await.unwrap().limits.is_empty());
    let audit = l.audit().await.unwrap();
    assert!(audit.mismatches.is_empty(), "{:?}", audit.mismatches);
}

pub(super) async fn a_raise_waits_its_cooling_off_and_a_cut_applies_at_once(l: &dyn Ledger) {
    funded(l, "lim:b", 10_000).await;
    let p = pid("lim:b");
    let k = key(LimitKind::Wager, Period::Day);
    l.set_limit(&p, k, Some(100), 300).await.unwrap();
    one(l, open(&RoundId::new_v7(), "lim:b", "q1", Some(100)))
        .await
        .unwrap();
    assert_eq!(
        limit_of(&one(l, open(&RoundId::new_v7(), "lim:b", "q2", Some(1))).await).2,
        100
    );
    // A raise waits 300 ms: the old limit still refuses meanwhile.
    let raised = l.set_limit(&p, k, Some(1_000), 300).await.unwrap().unwrap();
    let waiting = raised.waiting(now_ms()).expect("a raise waits");
    assert_eq!(waiting.amount, Some(1_000));
    assert_eq!(raised.amount, Some(100));
    assert!(one(l, open(&RoundId::new_v7(), "lim:b", "q3", Some(1)))
        .await
        .is_err());
    tokio::time::sleep(std::time::Duration::from_millis(350)).await;
    one(l, open(&RoundId::new_v7(), "lim:b", "q4", Some(400)))
        .await
        .expect("the raise applies after its cooling-off");
    // A cut below what is used applies at once.
    let cut = l.set_limit(&p, k, Some(50), 300).await.unwrap().unwrap();
    assert_eq!((cut.in_force(now_ms()), cut.pending), (Some(50), None));
    assert_eq!(
        limit_of(&one(l, open(&RoundId::new_v7(), "lim:b", "q5", Some(1))).await).2,
        50
    );
    let report = l.limits(&p).await.unwrap();
    assert_eq!(report.limits.len(), 1);
    assert_eq!(report.used(Period::Day).unwrap().wagered, 500);
    // No account, no limit.
    assert_eq!(
        l.set_limit(&pid("lim:nobody"), k, Some(1), 300)
            .await
            .unwrap(),
        None
    );
}

pub(super) async fn a_first_limit_counts_the_play_before_it(l: &dyn Ledger) {
    funded(l, "lim:c", 10_000).await;
    let p = pid("lim:c");
    one(l, play(&RoundId::new_v7(), "lim:c", "q1", 400, 150))
        .await
        .unwrap();
    let r = RoundId::new_v7();
    one(l, open(&r, "lim:c", "q2", Some(100))).await.unwrap();
    one(
        l,
        Movement::VoidRound {
            round_id: r,
            player: p.clone(),
        },
    )
    .await
    .unwrap();
    l.set_limit(
        &p,
        key(LimitKind::Deposit, Period::Month),
        Some(20_000),
        DAY,
    )
    .await
    .unwrap();
    let month = l.limits(&p).await.unwrap().used(Period::Month).unwrap();
    // The fund (10,000), the stake of 400 (the voided 100 taken off) and the win of 150.
    assert_eq!(
        (month.deposited, month.wagered, month.won),
        (10_000, 400, 150)
    );
    // Counting goes on after the first limit, a void included.
    let r = RoundId::new_v7();
    one(l, open(&r, "lim:c", "q3", Some(50))).await.unwrap();
    one(l, settle(&r, "lim:c", 20)).await.unwrap();
    let r2 = RoundId::new_v7();
    one(l, open(&r2, "lim:c", "q4", Some(70))).await.unwrap();
    one(
        l,
        Movement::VoidRound {
            round_id: r2,
            player: p.clone(),
        },
    )
    .await
    .unwrap();
    let day = l.limits(&p).await.unwrap().used(Period::Day).unwrap();
    assert_eq!((day.wagered, day.won), (450, 170));
    assert_eq!(
        l.prune_activity().await.unwrap(),
        0,
        "nothing is a month old"
    );
}

pub(super) async fn deposit_and_session_time_limits_refuse_before_money_moves(l: &dyn Ledger) {
    funded(l, "lim:d", 1_000).await;
    let p = pid("lim:d");
    l.set_limit(&p, key(LimitKind::Deposit, Period::Day), Some(1_500), DAY)
        .await
        .unwrap();
    one(l, deposit("d2", "lim:d", 500)).await.unwrap();
    let refused = one(l, deposit("d3", "lim:d", 1)).await;
    assert_eq!(limit_of(&refused).0, LimitKind::Deposit);
    assert_eq!(balance(l, "lim:d").await, 1_500);
    // A replayed deposit still answers the first.
    let again = one(l, deposit("d2", "lim:d", 500)).await.unwrap();
    assert!(matches!(again, Applied::Deposited { replayed: true, .. }));
    // Withdrawals are never limited.
    one(
        l,
        Movement::Withdraw {
            tx_id: "w1".into(),
            player: p.clone(),
            amount_minor: 100,
        },
    )
    .await
    .unwrap();
    // A session-time limit of 1 minute: a session begun 2 minutes ago may not stake.
    l.set_limit(
        &p,
        key(LimitKind::SessionTime, Period::Session),
        Some(1),
        DAY,
    )
    .await
    .unwrap();
    let in_session = |req: &str, started: i64| {
        let mut m = open(&RoundId::new_v7(), "lim:d", req, Some(10));
        if let Movement::OpenRound {
            session_started_ms, ..
        } = &mut m
        {
            *session_started_ms = Some(started);
        }
        m
    };
    let late = one(l, in_session("q1", now_ms() - 120_000)).await;
    assert_eq!(
        limit_of(&late),
        (LimitKind::SessionTime, Period::Session, 1, None)
    );
    one(l, in_session("q2", now_ms() - 1_000))
        .await
        .expect("a fresh session may play");
    assert_eq!(balance(l, "lim:d").await, 1_390);
}

pub(super) async fn session_totals_count_what_was_staked_and_won_since_a_time(l: &dyn Ledger) {
    funded(l, "lim:e", 1_000).await;
    let p = pid("lim:e");
    one(l, play(&RoundId::new_v7(), "lim:e", "q1", 100, 0))
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let since = now_ms();
    one(l, play(&RoundId::new_v7(), "lim:e", "q2", 200, 350))
        .await
        .unwrap();
    let open_one = RoundId::new_v7();
    one(l, open(&open_one, "lim:e", "q3", Some(40)))
        .await
        .unwrap();
    let voided = RoundId::new_v7();
    one(l, open(&voided, "lim:e", "q4", Some(70)))
        .await
        .unwrap();
    one(
        l,
        Movement::VoidRound {
            round_id: voided,
            player: p.clone(),
        },
    )
    .await
    .unwrap();
    let totals = l.session_totals(&p, since).await.unwrap();
    // q2 and the open q3; not q1 (before), not the voided q4.
    assert_eq!((totals.staked_minor, totals.won_minor), (240, 350));
    let all = l.session_totals(&p, 0).await.unwrap();
    assert_eq!(all.staked_minor, 340);
    let nobody = l.session_totals(&pid("lim:nobody"), 0).await.unwrap();
    assert_eq!(nobody, SessionTotals::default());
}

pub(super) async fn a_harm_flag_is_raised_once_per_session_and_rule(l: &dyn Ledger) {
    let p = pid("lim:harm");
    let flag = |session: &str, rule: &str, at| HarmFlagRecord {
        player: p.clone(),
        session_id: session.into(),
        rule: rule.into(),
        profile: "uk".into(),
        raised_at_ms: at,
    };
    assert!(l
        .raise_harm_flag(flag("s1", "loss_chasing", 10))
        .await
        .unwrap());
    assert!(
        !l.raise_harm_flag(flag("s1", "loss_chasing", 20))
            .await
            .unwrap(),
        "once"
    );
    assert!(l
        .raise_harm_flag(flag("s1", "long_session", 30))
        .await
        .unwrap());
    assert!(l
        .raise_harm_flag(flag("s2", "loss_chasing", 40))
        .await
        .unwrap());
    // An unknown rule is refused by the schema and changes nothing.
    assert!(l.raise_harm_flag(flag("s3", "sad", 50)).await.is_err());
    let flags = l.harm_flags(&p).await.unwrap();
    let seen: Vec<(&str, &str, i64)> = flags
        .iter()
        .map(|f| (f.session_id.as_str(), f.rule.as_str(), f.raised_at_ms))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("s2", "loss_chasing", 40),
            ("s1", "long_session", 30),
            ("s1", "loss_chasing", 10)
        ]
    );
    assert!(l.harm_flags(&pid("lim:calm")).await.unwrap().is_empty());
}
