//! The reply cache's rules, without I/O.

use super::*;

fn player(p: &str) -> PlayerId {
    PlayerId::parse(p).unwrap()
}

fn spin(req: &str, bet: &str) -> ClientFrame {
    ClientFrame::Spin {
        req_id: ReqId::parse(req).unwrap(),
        game: "starfall".into(),
        bet: Some(bet.into()),
        campaign: None,
    }
}

fn table_bet(req: &str) -> ClientFrame {
    ClientFrame::TableBet {
        req_id: ReqId::parse(req).unwrap(),
        table: "baccarat_1".into(),
        kind: "player".into(),
        numbers: Vec::new(),
        amount: "1.00".into(),
    }
}

fn balance(req: &str) -> ClientFrame {
    ClientFrame::Balance {
        req_id: ReqId::parse(req).unwrap(),
    }
}

fn cache() -> ReplyCache {
    ReplyCache::new(1 << 20, Duration::from_secs(60))
}

#[tokio::test]
async fn first_claim_runs_and_resends_replay_the_same_reply() {
    let cache = cache();
    let p = player("alice");
    let Claim::Run(ticket) = cache.claim(&p, &spin("r1", "1.00")) else {
        panic!("first claim must run")
    };
    let Claim::Replay(waiting) = cache.claim(&p, &spin("r1", "1.00")) else {
        panic!("second must replay")
    };
    cache.finish(ticket, Arc::from("reply-1"), true);
    assert_eq!(ReplyCache::wait(waiting).await.as_deref(), Some("reply-1"));
    let Claim::Replay(later) = cache.claim(&p, &spin("r1", "1.00")) else {
        panic!("kept reply must replay")
    };
    assert_eq!(ReplyCache::wait(later).await.as_deref(), Some("reply-1"));
}

#[test]
fn a_req_id_reused_for_another_request_is_a_conflict() {
    let cache = cache();
    let p = player("alice");
    let Claim::Run(ticket) = cache.claim(&p, &spin("r1", "1.00")) else {
        panic!()
    };
    cache.finish(ticket, Arc::from("spun"), true);
    for other in [spin("r1", "2.00"), table_bet("r1"), balance("r1")] {
        assert!(
            matches!(cache.claim(&p, &other), Claim::Conflict),
            "{other:?}"
        );
    }
}

#[test]
fn read_only_frames_are_not_remembered() {
    let cache = cache();
    let p = player("bob");
    for _ in 0..3 {
        let Claim::Run(ticket) = cache.claim(&p, &balance("b1")) else {
            panic!("a balance runs every time")
        };
        cache.finish(ticket, Arc::from("{\"balance\":\"1.00\"}"), true);
    }
    assert_eq!(cache.entry_count(), 0, "nothing kept for a read");
    // ... and a spin may not take a req_id a read used (nothing remembers it): it runs.
    assert!(matches!(
        cache.claim(&p, &spin("b1", "1.00")),
        Claim::Run(_)
    ));
}

#[test]
fn each_player_keeps_only_the_latest_replies() {
    let cache = cache();
    let p = player("carol");
    for i in 0..REPLIES_PER_PLAYER + 10 {
        let Claim::Run(t) = cache.claim(&p, &spin(&format!("s{i}"), "1.00")) else {
            panic!()
        };
        cache.finish(t, Arc::from("x".repeat(100)), true);
    }
    assert!(
        matches!(cache.claim(&p, &spin("s0", "1.00")), Claim::Run(_)),
        "the oldest went"
    );
    let last = format!("s{}", REPLIES_PER_PLAYER + 9);
    assert!(matches!(
        cache.claim(&p, &spin(&last, "1.00")),
        Claim::Replay(_)
    ));
}

#[test]
fn the_cache_is_bounded_in_bytes() {
    let limit = 256 * 1024;
    let cache = ReplyCache::new(limit, Duration::from_secs(60));
    // 2,000 players, each with 10 replies of 2 KB: 40 MB asked for, 256 KB kept.
    for n in 0..2_000 {
        let p = player(&format!("p{n}"));
        for i in 0..10 {
            if let Claim::Run(t) = cache.claim(&p, &spin(&format!("s{i}"), "1.00")) {
                cache.finish(t, Arc::from("y".repeat(2_048)), true);
            }
        }
    }
    let held = cache.weighted_bytes();
    assert!(held <= limit, "{held} bytes held, limit {limit}");
    assert!(held > limit / 4, "the cache is used: {held}");
}

#[tokio::test]
async fn a_preloaded_reply_replays_and_never_overwrites_this_nodes_own() {
    let cache = cache();
    let p = player("dora");
    let first = spin("r1", "1.00");
    cache.preload(
        &p,
        first.req_id(),
        Fingerprint::of(&first),
        Arc::from("from-another-node"),
    );
    let Claim::Replay(slot) = cache.claim(&p, &first) else {
        panic!("a preloaded reply must replay")
    };
    assert_eq!(
        ReplyCache::wait(slot).await.as_deref(),
        Some("from-another-node")
    );
    assert!(matches!(
        cache.claim(&p, &spin("r1", "5.00")),
        Claim::Conflict
    ));
    let second = spin("r2", "1.00");
    let Claim::Run(ticket) = cache.claim(&p, &second) else {
        panic!()
    };
    cache.preload(
        &p,
        second.req_id(),
        Fingerprint::of(&second),
        Arc::from("stale"),
    );
    cache.finish(ticket, Arc::from("mine"), true);
    let Claim::Replay(slot) = cache.claim(&p, &second) else {
        panic!()
    };
    assert_eq!(ReplyCache::wait(slot).await.as_deref(), Some("mine"));
}

#[test]
fn transient_replies_are_not_kept() {
    let cache = cache();
    let p = player("bob");
    let Claim::Run(ticket) = cache.claim(&p, &spin("r1", "1.00")) else {
        panic!()
    };
    cache.finish(ticket, Arc::from("busy"), false);
    assert!(matches!(
        cache.claim(&p, &spin("r1", "1.00")),
        Claim::Run(_)
    ));
}

#[test]
fn players_do_not_share_req_ids() {
    let cache = cache();
    let Claim::Run(_t) = cache.claim(&player("a"), &spin("same", "1.00")) else {
        panic!()
    };
    assert!(matches!(
        cache.claim(&player("b"), &spin("same", "1.00")),
        Claim::Run(_)
    ));
}

#[tokio::test]
async fn a_dropped_ticket_releases_waiters() {
    let cache = cache();
    let p = player("c");
    let Claim::Run(ticket) = cache.claim(&p, &spin("r", "1.00")) else {
        panic!()
    };
    let Claim::Replay(waiting) = cache.claim(&p, &spin("r", "1.00")) else {
        panic!()
    };
    drop(ticket);
    assert_eq!(ReplyCache::wait(waiting).await, None);
}
