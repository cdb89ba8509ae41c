//! One conformance suite, run on the in-process store and on Redis (the test script's,
//! `CROUPIER_TEST_REDIS`).
use super::*;
use crate::clock::now_ms;

async fn redis_store() -> Option<RedisState> {
    Some(RedisState::new(crate::cluster::test_redis().await?))
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::now_v7().simple())
}

macro_rules! conformance {
        ($($case:ident),* $(,)?) => {
            mod in_process {
                $(
                    #[tokio::test]
                    async fn $case() {
                        super::$case(&super::InProcessState::default()).await;
                    }
                )*
            }
            mod on_redis {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $case() {
                        if let Some(store) = super::redis_store().await {
                            super::$case(&store).await;
                        }
                    }
                )*
            }
        };
    }

conformance!(
    sessions_are_shared_and_expire_with_the_token,
    revoked_sessions_are_gone_and_marked,
    a_ticket_is_good_once,
    replies_survive_for_another_node_bounded_per_player,
    presence_and_nodes_follow_heartbeats,
    round_starts_are_paced_and_released_only_by_their_claim,
);

async fn sessions_are_shared_and_expire_with_the_token(store: &dyn SharedState) {
    let now = crate::clock::unix_now();
    let live = SessionRecord {
        session_id: unique("s"),
        player: PlayerId::parse(&unique("p")).unwrap(),
        currency: "EUR".into(),
        opened_at_ms: now_ms(),
        expires_at: now + 3600,
        profile: "uk".into(),
        age_band: Some(croupier_core::jurisdiction::AgeBand::From18To24),
    };
    store.open_session(&live).await.unwrap();
    assert_eq!(
        store.session(&live.session_id).await.unwrap(),
        Some(live.clone())
    );
    assert_eq!(store.session(&unique("missing")).await.unwrap(), None);
    let expired = SessionRecord {
        session_id: unique("s"),
        expires_at: now - 1,
        ..live
    };
    store.open_session(&expired).await.unwrap();
    assert_eq!(store.session(&expired.session_id).await.unwrap(), None);
}

async fn revoked_sessions_are_gone_and_marked(store: &dyn SharedState) {
    let now = crate::clock::unix_now();
    let player = PlayerId::parse(&unique("p")).unwrap();
    let record = |sid: String| SessionRecord {
        session_id: sid,
        player: player.clone(),
        currency: "EUR".into(),
        opened_at_ms: now_ms(),
        expires_at: now + 3600,
        profile: "default".into(),
        age_band: None,
    };
    let (one, two) = (record(unique("s")), record(unique("s")));
    store.open_session(&one).await.unwrap();
    store.open_session(&two).await.unwrap();
    let mut sids = store.player_sessions(&player).await.unwrap();
    sids.sort();
    let mut expected = vec![one.session_id.clone(), two.session_id.clone()];
    expected.sort();
    assert_eq!(sids, expected);
    assert_eq!(
        store.revoke_session(&one.session_id).await.unwrap(),
        Some(one.clone())
    );
    assert_eq!(store.session(&one.session_id).await.unwrap(), None);
    assert_eq!(
        store.player_sessions(&player).await.unwrap(),
        vec![two.session_id.clone()]
    );
    let never = unique("never");
    assert_eq!(store.revoke_session(&never).await.unwrap(), None);
    let asked: Vec<Arc<str>> = [&one.session_id, &two.session_id, &never, &unique("x")]
        .into_iter()
        .map(|s| Arc::from(s.as_str()))
        .collect();
    let revoked = store.revoked(&asked).await.unwrap();
    assert_eq!(revoked, vec![asked[0].clone(), asked[2].clone()]);
}

async fn a_ticket_is_good_once(store: &dyn SharedState) {
    let ticket = unique("t");
    store
        .put_ticket(&ticket, "the.token.itself", TICKET_TTL)
        .await
        .unwrap();
    assert_eq!(
        store.take_ticket(&ticket).await.unwrap().as_deref(),
        Some("the.token.itself")
    );
    assert_eq!(store.take_ticket(&ticket).await.unwrap(), None, "used");
    assert_eq!(store.take_ticket(&unique("never")).await.unwrap(), None);
}

async fn replies_survive_for_another_node_bounded_per_player(store: &dyn SharedState) {
    let player = PlayerId::parse(&unique("p")).unwrap();
    let other = PlayerId::parse(&unique("q")).unwrap();
    let total = REPLIES_PER_PLAYER + 6;
    for i in 0..total {
        let req = ReqId::parse(&format!("r{i}")).unwrap();
        assert!(store.record_reply(&player, &req, &format!("{{\"n\":{i}}}\nline two")));
    }
    store.record_reply(&other, &ReqId::parse("r0").unwrap(), "theirs");
    // The Redis writer is asynchronous: wait (bounded) for the last reply to land.
    let mut replies = Vec::new();
    for _ in 0..100 {
        replies = store.recent_replies(&player).await.unwrap();
        if replies.last().map(|(r, _)| r.as_str()) == Some(&format!("r{}", total - 1)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(replies.len(), REPLIES_PER_PLAYER, "bounded per player");
    let (last_req, last) = replies.last().unwrap();
    assert_eq!(last_req, &format!("r{}", total - 1));
    assert_eq!(last.as_ref(), format!("{{\"n\":{}}}\nline two", total - 1));
    assert!(
        replies.iter().all(|(r, _)| r != "r0"),
        "the oldest went first"
    );
    let none = PlayerId::parse(&unique("nobody")).unwrap();
    assert!(store.recent_replies(&none).await.unwrap().is_empty());
}

async fn presence_and_nodes_follow_heartbeats(store: &dyn SharedState) {
    // Node b's heartbeat must outlive two Redis round trips on a busy machine, then lapse.
    const B_TTL: Duration = Duration::from_millis(1500);
    let (a, b) = (unique("node-a"), unique("node-b"));
    let player = PlayerId::parse(&unique("p")).unwrap();
    let info = |node: &str, ready| NodeInfo {
        node: node.to_string(),
        version: "test".into(),
        config_version: "0123456789abcdef".into(),
        ready,
        players: 1,
        tables: vec!["roulette_1".into()],
        started_at_ms: now_ms(),
        seen_at_ms: now_ms(),
    };
    store
        .heartbeat(
            &info(&a, true),
            std::slice::from_ref(&player),
            Duration::from_secs(30),
        )
        .await
        .unwrap();
    store.heartbeat(&info(&b, false), &[], B_TTL).await.unwrap();
    let names = |nodes: Vec<NodeInfo>| -> Vec<String> {
        nodes
            .into_iter()
            .map(|n| n.node)
            .filter(|n| n == &a || n == &b)
            .collect()
    };
    assert_eq!(
        names(store.nodes().await.unwrap()),
        vec![a.clone(), b.clone()]
    );
    assert_eq!(store.presence(&player).await.unwrap(), Some(a.clone()));
    tokio::time::sleep(B_TTL + Duration::from_millis(200)).await;
    assert_eq!(
        names(store.nodes().await.unwrap()),
        vec![a.clone()],
        "b expired"
    );
    store.forget_node(&a).await.unwrap();
    assert!(names(store.nodes().await.unwrap()).is_empty());
}

async fn round_starts_are_paced_and_released_only_by_their_claim(store: &dyn SharedState) {
    use croupier_core::jurisdiction::Paced;
    let player = PlayerId::parse(&unique("p")).unwrap();
    let interval = 2_000;
    assert_eq!(
        store
            .claim_round_start(&player, interval, "a")
            .await
            .unwrap(),
        Paced::Go
    );
    // A second claim inside the interval waits for the rest of it, and takes nothing.
    match store
        .claim_round_start(&player, interval, "b")
        .await
        .unwrap()
    {
        Paced::Wait { retry_after_ms } => assert!((1..=interval).contains(&retry_after_ms)),
        Paced::Go => panic!("a second start inside the interval"),
    }
    // Another claim's token does not release the first.
    store.release_round_start(&player, "b").await.unwrap();
    assert!(matches!(
        store
            .claim_round_start(&player, interval, "c")
            .await
            .unwrap(),
        Paced::Wait { .. }
    ));
    // The first claim's own release gives the start back at once.
    store.release_round_start(&player, "a").await.unwrap();
    assert_eq!(
        store
            .claim_round_start(&player, interval, "d")
            .await
            .unwrap(),
        Paced::Go
    );
    // Another player is paced on its own; a short interval passes by itself.
    let other = PlayerId::parse(&unique("p")).unwrap();
    assert_eq!(
        store.claim_round_start(&other, 50, "e").await.unwrap(),
        Paced::Go
    );
    tokio::time::sleep(std::time::Duration::from_millis(80)).await;
    assert_eq!(
        store.claim_round_start(&other, 50, "f").await.unwrap(),
        Paced::Go
    );
}
