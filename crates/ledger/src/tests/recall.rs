//! Conformance cases of what an operator reads back: statements page through every entry once
//! in a stable order; a round's recall holds its own entries and nobody else's.

use super::*;

pub(super) async fn a_statement_pages_through_every_entry_once(l: &dyn Ledger) {
    l.ensure_account(&pid("op:s"), "EUR").await.unwrap();
    l.ensure_account(&pid("op:other"), "EUR").await.unwrap();
    one(l, deposit("op:s1", "op:s", 1_000)).await.unwrap();
    one(l, deposit("op:o1", "op:other", 1_000)).await.unwrap();
    for i in 0..4 {
        let round = RoundId::new_v7();
        one(l, play(&round, "op:s", &format!("r{i}"), 10, 5 * i))
            .await
            .unwrap();
    }
    let all = l.entries(&pid("op:s")).await.unwrap();
    let mut paged = Vec::new();
    let mut after = 0;
    loop {
        let page = l
            .statement(&pid("op:s"), (0, i64::MAX), after, 3)
            .await
            .unwrap();
        assert!(page.lines.len() <= 3);
        paged.extend(page.lines.iter().map(|line| line.entry.clone()));
        match page.next_after {
            Some(seq) => after = seq,
            None => break,
        }
    }
    assert_eq!(
        paged, all,
        "every entry of the player once, in seq order, no other's"
    );
    let page = l
        .statement(&pid("op:s"), (0, i64::MAX), 0, 100)
        .await
        .unwrap();
    assert_eq!(page.next_after, None);
    let bets: Vec<_> = page
        .lines
        .iter()
        .filter(|l| l.entry.kind == EntryKind::Bet)
        .collect();
    assert!(bets
        .iter()
        .all(|l| l.game.as_deref() == Some("g") && l.round_status.as_deref() == Some("settled")));
    assert!(page.lines[0].game.is_none(), "a deposit has no round");
    // The window is [from, to): nothing before the first entry's time, all from it on.
    let first = all[0].created_at_ms;
    let none = l.statement(&pid("op:s"), (0, first), 0, 100).await.unwrap();
    assert!(none.lines.is_empty());
    let some = l
        .statement(&pid("op:s"), (first, first + 60_000), 0, 100)
        .await
        .unwrap();
    assert_eq!(some.lines.len(), all.len());
}

pub(super) async fn a_recall_holds_the_round_and_only_its_entries(l: &dyn Ledger) {
    l.ensure_account(&pid("op:r"), "EUR").await.unwrap();
    one(l, deposit("op:r1", "op:r", 1_000)).await.unwrap();
    let played = RoundId::new_v7();
    one(l, play(&played, "op:r", "p1", 100, 250)).await.unwrap();
    // A table bet's round id extends its table round's: the two never mix.
    let table_round = RoundId::new_v7();
    let bet = RoundId::parse(&format!("{table_round}-b1")).unwrap();
    one(l, open(&bet, "op:r", "t1", Some(50))).await.unwrap();
    one(l, open(&table_round, "op:r", "t2", Some(20)))
        .await
        .unwrap();
    one(
        l,
        Movement::VoidRound {
            round_id: bet.clone(),
            player: pid("op:r"),
        },
    )
    .await
    .unwrap();
    let recall = l.recall(&played).await.unwrap().unwrap();
    assert_eq!(recall.round.status, RoundStatus::Settled);
    assert!(recall.settled_at_ms.is_some());
    let moved: Vec<(EntryKind, i64)> = recall
        .entries
        .iter()
        .map(|e| (e.kind, e.amount_minor))
        .collect();
    assert_eq!(moved, vec![(EntryKind::Bet, -100), (EntryKind::Win, 250)]);
    let voided = l.recall(&bet).await.unwrap().unwrap();
    let moved: Vec<(EntryKind, i64)> = voided
        .entries
        .iter()
        .map(|e| (e.kind, e.amount_minor))
        .collect();
    assert_eq!(moved, vec![(EntryKind::Bet, -50), (EntryKind::Refund, 50)]);
    assert_eq!(voided.round.status, RoundStatus::Void);
    let open_one = l.recall(&table_round).await.unwrap().unwrap();
    assert_eq!(
        open_one.entries.len(),
        1,
        "its own bet only: {:?}",
        open_one.entries
    );
    assert!(l.recall(&RoundId::new_v7()).await.unwrap().is_none());
}
