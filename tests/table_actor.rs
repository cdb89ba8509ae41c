//! The `LiveTable` actor in-process, on a real SQLite ledger, real wallet and RNG actors: a
//! seat whose send queue fills is dropped with a close reason while its bets still settle,
//! and the other seats get every event.

use std::time::Duration;

use croupier::ids::{PlayerId, ReqId};
use croupier::money::Money;
use croupier::table::actor::{Confirm, Describe, Join, Reserve, SitDown};
use croupier::table::rules::TableRules;
use croupier::table::testing::{embedded_deps, fast_tables};
use croupier::table::Pusher;
use croupier::table::TableRegistry;
use croupier::wallet::{Applied, Movement, RoundStatus};

/// Polls at most this many times, 50 ms apart, for a condition that needs a round to pass.
const POLLS: usize = 400;

#[actix_rt::test]
async fn a_stalled_seat_is_dropped_and_its_bet_still_settles() {
    let dir = tempfile::tempdir().unwrap();
    let (deps, ledger) = embedded_deps(&dir.path().join("l.db")).await;
    let (wallet, metrics) = (deps.wallet.clone(), deps.metrics.clone());
    let configs = fast_tables(2);
    let roulette = configs
        .iter()
        .find(|t| t.id == "roulette_1")
        .unwrap()
        .clone();
    let registry = TableRegistry::start(configs, deps, 1);
    let table = registry.get("roulette_1").unwrap();

    let slow = PlayerId::parse("slow").unwrap();
    wallet
        .apply(Movement::EnsureAccount {
            player: slow.clone(),
            currency: "EUR".into(),
        })
        .await
        .unwrap();
    wallet
        .apply(Movement::Deposit {
            tx_id: "fund-slow".into(),
            player: slow.clone(),
            amount_minor: 10_000,
        })
        .await
        .unwrap();
    // The slow seat's queue holds two frames and is never read; the watcher's is read.
    let (slow_pusher, _never_read) = Pusher::detached("s-slow", 2);
    let (watch_pusher, mut watched) = Pusher::detached("s-watch", 1024);
    for (player, pusher) in [("slow", slow_pusher.clone()), ("watcher", watch_pusher)] {
        let join = Join {
            player: PlayerId::parse(player).unwrap(),
            pusher,
            again: SitDown::First,
        };
        assert!(table.local().unwrap().send(join).await.unwrap().is_ok());
    }
    // Bet as the slow player while betting is open: reserve, debit, confirm.
    let amount = Money::parse_positive("1.00", &roulette.currency).unwrap();
    let bet = TableRules::of(&roulette)
        .parse_bet(&roulette, "red", &[], &amount)
        .unwrap();
    let reserved = loop {
        let reserve = Reserve {
            player: slow.clone(),
            req_id: ReqId::parse("bet-1").unwrap(),
            bet,
            amount: amount.clone(),
            pusher: slow_pusher.clone(),
        };
        match table.local().unwrap().send(reserve).await.unwrap() {
            Ok(reserved) => break reserved,
            Err(e) => {
                assert_eq!(e.to_string(), "betting is closed for this round");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    let opened = wallet
        .apply(Movement::OpenRound {
            round_id: reserved.bet_id.clone(),
            player: slow.clone(),
            req_id: ReqId::parse("bet-1").unwrap(),
            game: "roulette_1".into(),
            bet_minor: Some(100),
            try_free_spin: false,
            jackpot: None,
            opened_json: None,
            node: None,
            session_started_ms: None,
        })
        .await
        .unwrap();
    assert!(matches!(
        opened,
        Applied::RoundOpened {
            balance_minor: 9_900,
            ..
        }
    ));
    let confirm = Confirm {
        round_id: reserved.round_id.clone(),
        bet_id: reserved.bet_id.clone(),
        claims: Vec::new(),
        draws: Vec::new(),
    };
    table.local().unwrap().send(confirm).await.unwrap().unwrap();

    // The slow seat is dropped once its queue is full; the watcher stays.
    let mut seated = 2;
    for _ in 0..POLLS {
        seated = table.local().unwrap().send(Describe).await.unwrap().seated;
        if seated == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(seated, 1, "the stalled seat was dropped");
    let dropped = metrics
        .tables
        .slow_clients_dropped
        .with_label_values(&["roulette_1"])
        .get();
    assert_eq!(dropped, 1);

    // Its bet settles all the same, by the rules, in the ledger.
    let mut round = None;
    for _ in 0..POLLS {
        round = ledger.round(&reserved.bet_id).await.unwrap();
        if round
            .as_ref()
            .is_some_and(|r| r.status != RoundStatus::Open)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let round = round.unwrap();
    assert_eq!(round.status, RoundStatus::Settled);
    let outcome: serde_json::Value =
        serde_json::from_str(round.outcome_json.as_deref().unwrap()).unwrap();
    let pocket = outcome["result"]["pocket"].as_u64().unwrap();
    let red = outcome["result"]["colour"] == "red";
    assert_eq!(
        round.win_minor,
        if red { 200 } else { 0 },
        "pocket {pocket}"
    );
    let account = ledger.account(&slow).await.unwrap().unwrap();
    assert_eq!(account.balance_minor, 9_900 + round.win_minor);

    // The watcher saw the whole round: open, countdown, closed, result, settled.
    let mut kinds = Vec::new();
    for _ in 0..POLLS {
        while let Some(text) = watched.try_recv_text() {
            let frame: serde_json::Value = serde_json::from_str(&text).unwrap();
            kinds.push(frame["type"].as_str().unwrap().to_string());
        }
        if kinds.iter().any(|k| k == "round_settled") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for wanted in [
        "betting_countdown",
        "betting_closed",
        "round_result",
        "round_settled",
    ] {
        assert!(
            kinds.iter().any(|k| k == wanted),
            "{wanted} missing from {kinds:?}"
        );
    }
    let audit = ledger.audit().await.unwrap();
    assert!(audit.mismatches.is_empty(), "{audit:?}");
}
