//! Unit tests of `handler`.

use super::*;
use crate::wallet::RoundStatus;

fn round(node: Option<&str>, created_at_ms: i64) -> RoundRecord {
    RoundRecord {
        round_id: RoundId::parse("r1").unwrap(),
        player: PlayerId::parse("p").unwrap(),
        req_id: ReqId::parse("q").unwrap(),
        game: "starfall".into(),
        status: RoundStatus::Open,
        bet_minor: 100,
        stake_minor: 100,
        win_minor: 0,
        free_spin: false,
        multiplier: 1,
        balance_after_minor: 0,
        outcome_json: None,
        created_at_ms,
        node: node.map(str::to_string),
    }
}

#[test]
fn only_a_round_of_a_node_gone_from_the_registry_past_the_grace_is_lost() {
    let grace = NODE_LOST_GRACE.as_millis() as i64;
    let live: std::collections::HashSet<String> = ["me", "b"].map(String::from).into();
    let now = 1_000_000;
    let old = now - grace;
    assert!(opened_by_a_lost_node(
        &round(Some("dead"), old),
        "me",
        &live,
        now
    ));
    // Not lost: a live node's, this node's own, not recorded, or too young to tell.
    assert!(!opened_by_a_lost_node(
        &round(Some("b"), old),
        "me",
        &live,
        now
    ));
    assert!(!opened_by_a_lost_node(
        &round(Some("me"), old),
        "me",
        &live,
        now
    ));
    assert!(!opened_by_a_lost_node(&round(None, old), "me", &live, now));
    assert!(!opened_by_a_lost_node(
        &round(Some("dead"), old + 1),
        "me",
        &live,
        now
    ));
}
