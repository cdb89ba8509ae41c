//! Conformance cases of money in and out (deposits and operator withdrawals), run on both
//! databases by the parent suite's `conformance!` list, and the books per operator.

use super::*;

fn withdraw(tx: &str, player: &str, amount: i64) -> Movement {
    Movement::Withdraw {
        tx_id: tx.into(),
        player: pid(player),
        amount_minor: amount,
    }
}

fn balance(result: Result<Applied, MovementError>) -> (i64, bool) {
    match result {
        Ok(Applied::Withdrawn {
            balance_minor,
            replayed,
        })
        | Ok(Applied::Deposited {
            balance_minor,
            replayed,
        }) => (balance_minor, replayed),
        other => panic!("expected a transfer, got {other:?}"),
    }
}

pub(super) async fn a_withdrawal_applies_once_and_never_below_zero(l: &dyn Ledger) {
    l.ensure_account(&pid("op:w"), "EUR").await.unwrap();
    one(l, deposit("op:d1", "op:w", 1_000)).await.unwrap();
    assert_eq!(
        balance(one(l, withdraw("op:w1", "op:w", 300)).await),
        (700, false)
    );
    // The same id and details: the first answer, nothing moved.
    assert_eq!(
        balance(one(l, withdraw("op:w1", "op:w", 300)).await),
        (700, true)
    );
    // The same id for anything else is a conflict: another amount, or a deposit.
    for reused in [
        withdraw("op:w1", "op:w", 301),
        deposit("op:w1", "op:w", 300),
    ] {
        assert_eq!(
            one(l, reused).await,
            Err(MovementError::TxConflict("op:w1".into()))
        );
    }
    assert_eq!(
        one(l, withdraw("op:w2", "op:w", 701)).await,
        Err(MovementError::InsufficientFunds {
            balance_minor: 700,
            needed_minor: 701
        })
    );
    for refused in [withdraw("op:w3", "op:w", 0), withdraw("op:w4", "op:w", -5)] {
        assert_eq!(one(l, refused).await, Err(MovementError::NonPositiveAmount));
    }
    assert_eq!(
        one(l, withdraw("op:w5", "op:nobody", 1)).await,
        Err(MovementError::UnknownAccount("op:nobody".into()))
    );
    // A refused id was not used up: it may carry a later, valid withdrawal.
    assert_eq!(
        balance(one(l, withdraw("op:w2", "op:w", 700)).await),
        (0, false)
    );
    let entries = l.entries(&pid("op:w")).await.unwrap();
    let kinds: Vec<(EntryKind, i64)> = entries.iter().map(|e| (e.kind, e.amount_minor)).collect();
    assert_eq!(
        kinds.len(),
        3,
        "one deposit and two withdrawals, whatever was replayed or refused: {kinds:?}"
    );
    assert!(
        kinds.contains(&(EntryKind::Withdrawal, -300))
            && kinds.contains(&(EntryKind::Withdrawal, -700))
    );
    assert!(l.audit().await.unwrap().mismatches.is_empty());
}

pub(super) async fn the_books_close_per_operator_and_currency(l: &dyn Ledger) {
    l.ensure_account(&pid("house:alice"), "EUR").await.unwrap();
    l.ensure_account(&pid("rival:alice"), "EUR").await.unwrap();
    l.ensure_account(&pid("rival:bob"), "GBP").await.unwrap();
    l.ensure_account(&pid("demo-1"), "EUR").await.unwrap();
    one(l, deposit("house:d1", "house:alice", 5_000))
        .await
        .unwrap();
    one(l, deposit("rival:d1", "rival:alice", 2_000))
        .await
        .unwrap();
    one(l, deposit("rival:d2", "rival:bob", 900)).await.unwrap();
    one(l, deposit("demo:demo-1", "demo-1", 100_000))
        .await
        .unwrap();
    one(l, withdraw("house:w1", "house:alice", 1_000))
        .await
        .unwrap();
    one(l, play(&RoundId::new_v7(), "house:alice", "s1", 200, 500))
        .await
        .unwrap();
    one(l, play(&RoundId::new_v7(), "rival:alice", "s1", 100, 0))
        .await
        .unwrap();
    let r = RoundId::new_v7();
    one(l, open(&r, "rival:bob", "t1", Some(50))).await.unwrap();
    one(
        l,
        Movement::VoidRound {
            round_id: r,
            player: pid("rival:bob"),
        },
    )
    .await
    .unwrap();
    let report = l.audit().await.unwrap();
    assert!(report.mismatches.is_empty(), "{:?}", report.mismatches);
    let book = |op: Option<&str>, cur: &str| {
        report
            .books
            .iter()
            .find(|b| b.operator.as_deref() == op && b.currency == cur)
            .cloned()
            .unwrap_or_else(|| panic!("no books for {op:?} {cur}: {:?}", report.books))
    };
    let house = book(Some("house"), "EUR");
    assert_eq!(
        (
            house.accounts,
            house.deposits,
            house.withdrawals,
            house.stakes,
            house.wins
        ),
        (1, 5_000, 1_000, 200, 500)
    );
    assert_eq!(house.balances, 4_300);
    let rival = book(Some("rival"), "EUR");
    assert_eq!(
        (rival.deposits, rival.stakes, rival.balances),
        (2_000, 100, 1_900)
    );
    let rival_gbp = book(Some("rival"), "GBP");
    assert_eq!(
        (rival_gbp.stakes, rival_gbp.refunds, rival_gbp.balances),
        (50, 50, 900)
    );
    assert_eq!(book(None, "EUR").balances, 100_000);
    assert_eq!(report.books.len(), 4);
}
