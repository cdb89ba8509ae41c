//! Conformance cases of an operator's free rounds, run on both databases by the parent suite's
//! `conformance!` list: granted once, played without a debit, refused when they cannot be
//! played (and nothing changes), given back on a void while active, cancelled and expired with
//! every event recorded, and the audit adding each grant up.

use super::*;
use crate::clock::now_ms;
use crate::free_rounds::remaining_from;
use crate::ids::CampaignId;

fn cid(name: &str) -> CampaignId {
    CampaignId::parse(name).unwrap()
}

fn ask(campaign: &str, rounds: u32, expires_at_ms: i64) -> FreeRoundsGrant {
    FreeRoundsGrant {
        campaign: cid(campaign),
        game: "g".into(),
        bet_minor: 20,
        rounds,
        expires_at_ms,
    }
}

fn an_hour() -> i64 {
    now_ms() + 3_600_000
}

fn grant(player: &str, ask: FreeRoundsGrant) -> Movement {
    Movement::GrantFreeRounds {
        player: pid(player),
        grant: ask,
    }
}

fn free_round(round: &RoundId, player: &str, req: &str, campaign: &str) -> Movement {
    Movement::OpenFreeRound {
        round_id: round.clone(),
        player: pid(player),
        req_id: ReqId::parse(req).unwrap(),
        game: "g".into(),
        campaign: cid(campaign),
        node: None,
    }
}

fn cancel(player: &str, campaign: &str) -> Movement {
    Movement::CancelFreeRounds {
        player: pid(player),
        campaign: cid(campaign),
    }
}

fn granted(result: Result<Applied, MovementError>) -> (FreeRounds, bool) {
    match result {
        Ok(Applied::FreeRoundsGranted { grant, replayed })
        | Ok(Applied::FreeRoundsCancelled { grant, replayed }) => (grant, replayed),
        other => panic!("expected a grant, got {other:?}"),
    }
}

fn unavailable(campaign: &str, reason: &str) -> Result<Applied, MovementError> {
    Err(MovementError::FreeRoundsUnavailable {
        campaign: campaign.into(),
        reason: reason.into(),
    })
}

async fn funded(l: &dyn Ledger, player: &str) {
    l.ensure_account(&pid(player), "EUR").await.unwrap();
    one(l, deposit(&format!("{player}:d"), player, 1_000))
        .await
        .unwrap();
}

async fn balance(l: &dyn Ledger, player: &str) -> i64 {
    l.account(&pid(player))
        .await
        .unwrap()
        .unwrap()
        .balance_minor
}

async fn left(l: &dyn Ledger, player: &str) -> u32 {
    l.free_rounds(&pid(player), None).await.unwrap()[0].remaining
}

/// Every grant's events add up to its count, the audit agrees, and nothing else is off.
async fn books_close(l: &dyn Ledger, player: &str) {
    for g in l.free_rounds(&pid(player), None).await.unwrap() {
        let events = l
            .free_round_events(&pid(player), &g.campaign)
            .await
            .unwrap();
        assert_eq!(
            remaining_from(&events),
            i64::from(g.remaining),
            "{g:?} {events:?}"
        );
    }
    let audit = l.audit().await.unwrap();
    assert!(audit.mismatches.is_empty(), "{:?}", audit.mismatches);
}

pub(super) async fn free_rounds_are_granted_once_and_played_without_a_debit(l: &dyn Ledger) {
    funded(l, "op:f").await;
    let expires = an_hour();
    let (g, replayed) = granted(one(l, grant("op:f", ask("c1", 3, expires))).await);
    assert!(!replayed && g.granted == 3 && g.remaining == 3 && g.bet_minor == 20);
    assert_eq!(g.status, FreeRoundsStatus::Active);
    // The same grant again is answered as it stands; other details are a conflict.
    let (again, replayed) = granted(one(l, grant("op:f", ask("c1", 3, expires))).await);
    assert!(replayed && again == g);
    for other in [ask("c1", 4, expires), ask("c1", 3, expires + 1)] {
        let refused = one(l, grant("op:f", other)).await;
        assert!(
            matches!(refused, Err(MovementError::TxConflict(_))),
            "{refused:?}"
        );
    }
    assert_eq!(
        one(l, grant("op:nobody", ask("c1", 3, expires))).await,
        Err(MovementError::UnknownAccount("op:nobody".into()))
    );
    assert_eq!(
        one(l, grant("op:f", ask("c0", 0, expires))).await,
        Err(MovementError::NonPositiveAmount)
    );
    let r1 = RoundId::new_v7();
    let opened = one(l, free_round(&r1, "op:f", "q1", "c1")).await.unwrap();
    let Applied::RoundOpened {
        round,
        balance_minor: 1_000,
        free_rounds_left: Some(2),
        replayed: false,
        jackpot,
        ..
    } = opened
    else {
        panic!("{opened:?}")
    };
    assert!(jackpot.is_empty(), "a free round feeds no jackpot");
    assert_eq!((round.bet_minor, round.stake_minor), (0, 20));
    assert_eq!(round.campaign.as_deref(), Some("c1"));
    assert!(
        !round.free_spin,
        "a free round is not one of the game's free spins"
    );
    // A resend answers the same round and takes nothing more.
    let resent = one(l, free_round(&RoundId::new_v7(), "op:f", "q1", "c1")).await;
    assert!(
        matches!(resent, Ok(Applied::RoundOpened { replayed: true, ref round, .. }) if round.round_id == r1),
        "{resent:?}"
    );
    // The req_id reused for a paid spin is another request.
    let reused = one(l, open(&RoundId::new_v7(), "op:f", "q1", Some(20))).await;
    assert!(
        matches!(reused, Err(MovementError::TxConflict(_))),
        "{reused:?}"
    );
    one(l, settle(&r1, "op:f", 50)).await.unwrap();
    assert_eq!(balance(l, "op:f").await, 1_050);
    let kinds: Vec<EntryKind> = l
        .entries(&pid("op:f"))
        .await
        .unwrap()
        .iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [EntryKind::Deposit, EntryKind::Win],
        "no stake entry for a free round"
    );
    let listed = l.free_rounds(&pid("op:f"), Some(now_ms())).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].remaining, 2);
    let events = l.free_round_events(&pid("op:f"), &cid("c1")).await.unwrap();
    let seen: Vec<(FreeRoundEventKind, u32)> = events.iter().map(|e| (e.kind, e.rounds)).collect();
    assert_eq!(
        seen,
        [
            (FreeRoundEventKind::Grant, 3),
            (FreeRoundEventKind::Play, 1)
        ]
    );
    assert_eq!(events[1].round_id.as_deref(), Some(r1.as_str()));
    let recall = l.recall(&r1).await.unwrap().unwrap();
    assert_eq!(recall.round.campaign.as_deref(), Some("c1"));
    books_close(l, "op:f").await;
    assert_eq!(l.audit().await.unwrap().free_round_grants, 1);
}

pub(super) async fn free_rounds_that_cannot_be_played_are_refused_and_change_nothing(
    l: &dyn Ledger,
) {
    funded(l, "op:n").await;
    one(l, grant("op:n", ask("one", 1, an_hour())))
        .await
        .unwrap();
    let r = RoundId::new_v7();
    one(l, free_round(&r, "op:n", "q1", "one")).await.unwrap();
    one(l, settle(&r, "op:n", 0)).await.unwrap();
    let mut other_game = free_round(&RoundId::new_v7(), "op:n", "q3", "one");
    if let Movement::OpenFreeRound { game, .. } = &mut other_game {
        *game = "h".into();
    }
    let refusals = [
        (
            free_round(&RoundId::new_v7(), "op:n", "q2", "one"),
            unavailable("one", "all its rounds are played"),
        ),
        (other_game, unavailable("one", "it is for g")),
        (
            free_round(&RoundId::new_v7(), "op:n", "q4", "nope"),
            unavailable("nope", "no such campaign"),
        ),
    ];
    for (movement, refusal) in refusals {
        assert_eq!(one(l, movement).await, refusal);
    }
    // Cancelled: the rest is gone at once, a second cancel changes nothing.
    one(l, grant("op:n", ask("gone", 5, an_hour())))
        .await
        .unwrap();
    let (g, replayed) = granted(one(l, cancel("op:n", "gone")).await);
    assert!(!replayed && g.status == FreeRoundsStatus::Cancelled && g.remaining == 0);
    let (_, replayed) = granted(one(l, cancel("op:n", "gone")).await);
    assert!(replayed);
    assert_eq!(
        one(l, free_round(&RoundId::new_v7(), "op:n", "q5", "gone")).await,
        unavailable("gone", "it was cancelled")
    );
    assert_eq!(
        one(l, cancel("op:n", "never")).await,
        Err(MovementError::UnknownCampaign("never".into()))
    );
    // Expired: unplayable from the instant it expires, closed (with its loss) by the sweep.
    one(l, grant("op:n", ask("soon", 4, now_ms() + 300)))
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(
        one(l, free_round(&RoundId::new_v7(), "op:n", "q6", "soon")).await,
        unavailable("soon", "it has expired")
    );
    assert_eq!(
        one(l, grant("op:n", ask("late", 1, now_ms() - 1))).await,
        unavailable("late", "it expires before it is granted")
    );
    let playable = l.free_rounds(&pid("op:n"), Some(now_ms())).await.unwrap();
    assert!(playable.is_empty(), "{playable:?}");
    assert_eq!(l.expire_free_rounds().await.unwrap(), 1);
    assert_eq!(
        l.expire_free_rounds().await.unwrap(),
        0,
        "an expiry is recorded once"
    );
    let events = l
        .free_round_events(&pid("op:n"), &cid("soon"))
        .await
        .unwrap();
    assert_eq!(
        events.last().map(|e| (e.kind, e.rounds)),
        Some((FreeRoundEventKind::Expire, 4))
    );
    let all = l.free_rounds(&pid("op:n"), None).await.unwrap();
    let soon = all.iter().find(|g| g.campaign.as_str() == "soon").unwrap();
    assert_eq!(
        (soon.status, soon.remaining),
        (FreeRoundsStatus::Expired, 0)
    );
    // The game's own free spins come first: a campaign spin beside them is refused.
    one(l, grant("op:n", ask("later", 2, an_hour())))
        .await
        .unwrap();
    let paid = RoundId::new_v7();
    one(l, open(&paid, "op:n", "q7", Some(100))).await.unwrap();
    let award = Movement::SettleRound {
        round_id: paid.clone(),
        player: pid("op:n"),
        win_minor: 0,
        outcome_json: "{}".into(),
        free_spins_awarded: Some(FreeSpins {
            game: "g".into(),
            remaining: 1,
            bet_minor: 100,
            multiplier: 2,
        }),
        jackpot_claims: Vec::new(),
        jackpot_draws: Vec::new(),
    };
    one(l, award).await.unwrap();
    assert_eq!(
        one(l, free_round(&RoundId::new_v7(), "op:n", "q8", "later")).await,
        Err(MovementError::FreeSpinsPending("g".into()))
    );
    let later = l
        .free_round_events(&pid("op:n"), &cid("later"))
        .await
        .unwrap();
    assert_eq!(later.len(), 1, "the refused spin took nothing: {later:?}");
    assert_eq!(balance(l, "op:n").await, 900);
    books_close(l, "op:n").await;
}

pub(super) async fn a_voided_free_round_goes_back_while_its_campaign_is_active(l: &dyn Ledger) {
    funded(l, "op:v").await;
    one(l, grant("op:v", ask("c", 2, an_hour()))).await.unwrap();
    let void = |round: &RoundId| Movement::VoidRound {
        round_id: round.clone(),
        player: pid("op:v"),
    };
    let r1 = RoundId::new_v7();
    one(l, free_round(&r1, "op:v", "q1", "c")).await.unwrap();
    let voided = one(l, void(&r1)).await;
    assert_eq!(
        voided,
        Ok(Applied::RoundVoided {
            balance_minor: 1_000,
            replayed: false
        })
    );
    assert_eq!(left(l, "op:v").await, 2, "the voided round is given back");
    one(l, void(&r1)).await.unwrap();
    assert_eq!(left(l, "op:v").await, 2, "and only once");
    // Opened, then the campaign cancelled: the round still settles or voids, nothing comes back.
    let r2 = RoundId::new_v7();
    one(l, free_round(&r2, "op:v", "q2", "c")).await.unwrap();
    let (g, _) = granted(one(l, cancel("op:v", "c")).await);
    assert_eq!(g.remaining, 0);
    one(l, void(&r2)).await.unwrap();
    assert_eq!(left(l, "op:v").await, 0);
    let events = l.free_round_events(&pid("op:v"), &cid("c")).await.unwrap();
    let seen: Vec<(FreeRoundEventKind, u32)> = events.iter().map(|e| (e.kind, e.rounds)).collect();
    use FreeRoundEventKind::*;
    assert_eq!(
        seen,
        [(Grant, 2), (Play, 1), (Void, 1), (Play, 1), (Cancel, 1)]
    );
    assert_eq!(balance(l, "op:v").await, 1_000);
    books_close(l, "op:v").await;
}

/// Twenty identical grants at once give the rounds once; ten spins at once for the last round
/// play it once.
pub(super) async fn concurrent_grants_and_spins_of_one_campaign_count_once(l: &dyn Ledger) {
    funded(l, "op:c").await;
    let expires = an_hour();
    let asks: Vec<Movement> = (0..20)
        .map(|_| grant("op:c", ask("c", 1, expires)))
        .collect();
    let grants = asks.iter().map(|a| l.commit_batch(std::slice::from_ref(a)));
    let grants: Vec<_> = futures_util::future::join_all(grants).await;
    let fresh = grants
        .into_iter()
        .map(|b| granted(b.unwrap().remove(0)))
        .filter(|(_, replayed)| !replayed)
        .count();
    assert_eq!(fresh, 1);
    let spins: Vec<Movement> = (0..10)
        .map(|i| free_round(&RoundId::new_v7(), "op:c", &format!("q{i}"), "c"))
        .collect();
    let spins = spins
        .iter()
        .map(|s| l.commit_batch(std::slice::from_ref(s)));
    let results: Vec<_> = futures_util::future::join_all(spins).await;
    let played = results
        .into_iter()
        .filter(|b| matches!(b.as_ref().unwrap()[0], Ok(Applied::RoundOpened { .. })))
        .count();
    assert_eq!(played, 1);
    books_close(l, "op:c").await;
}
