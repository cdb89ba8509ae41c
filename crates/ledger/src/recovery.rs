//! Which open rounds recovery and the sweepers refund, as pure rules over the ledger's round
//! records: a round left open by a crash (start-up recovery), one open past the stale period
//! (the stale sweeper, a resend), and one whose node has left the cluster (the lost-node
//! sweeper, a resend). The server schedules them and voids through its wallet shards.

use std::collections::HashSet;

use crate::ledger::RoundRecord;

/// Whether `round` has been open for at least `older_than_ms` at `now_ms` (0: every round).
pub fn open_at_least(round: &RoundRecord, now_ms: i64, older_than_ms: i64) -> bool {
    now_ms - round.created_at_ms >= older_than_ms
}

/// Whether `round` was opened by a node that has left the cluster: recorded, not `me`,
/// absent from `live`, and open for at least `grace_ms` (how long a node's registry entry
/// outlives its last heartbeat, so a node that is alive or only just started is never taken
/// for lost). Live-table bets are not judged here: the node that takes their table over
/// refunds them.
pub fn opened_by_a_lost_node(
    round: &RoundRecord,
    me: &str,
    live: &HashSet<String>,
    now_ms: i64,
    grace_ms: i64,
) -> bool {
    round
        .node
        .as_deref()
        .is_some_and(|node| node != me && !live.contains(node))
        && open_at_least(round, now_ms, grace_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{PlayerId, ReqId, RoundId};
    use crate::ledger::RoundStatus;

    const GRACE: i64 = 6_000;

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
            campaign: None,
        }
    }

    #[test]
    fn only_a_round_of_a_node_gone_from_the_registry_past_the_grace_is_lost() {
        let live: HashSet<String> = ["me", "b"].map(String::from).into();
        let now = 1_000_000;
        let old = now - GRACE;
        let lost = |r: &RoundRecord| opened_by_a_lost_node(r, "me", &live, now, GRACE);
        assert!(lost(&round(Some("dead"), old)));
        // Not lost: a live node's, this node's own, not recorded, or too young to tell.
        assert!(!lost(&round(Some("b"), old)));
        assert!(!lost(&round(Some("me"), old)));
        assert!(!lost(&round(None, old)));
        assert!(!lost(&round(Some("dead"), old + 1)));
    }

    #[test]
    fn a_round_is_old_enough_from_its_age_on() {
        let r = round(None, 1_000);
        assert!(open_at_least(&r, 1_000, 0), "0 takes every round");
        assert!(open_at_least(&r, 61_000, 60_000));
        assert!(!open_at_least(&r, 60_999, 60_000));
    }
}
