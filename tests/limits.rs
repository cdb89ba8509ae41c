//! Player limits against the real binary with real clients: loss and wager limits refusing the
//! spin that would cross them (`limit_reached` with the limit and its reset, nothing moved), a
//! raise waiting for its cooling-off while a cut applies at once, deposit limits on the operator
//! API, a session-time limit, the player reading their own limits, a limit set on one node of a
//! cluster holding on another, and every bad input to the endpoint refused with nothing changed.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::*;
use crate::jurisdictions::balance_of;

/// A paid spin of a game without free spins: a spin of starfall after it awarded free spins
/// plays one of them (never limited), which would make these tests depend on the draw.
fn spin(req_id: &str, bet: &str) -> Value {
    json!({"type": "spin", "req_id": req_id, "game": "classic_sevens", "bet": bet})
}
use crate::operators::{call, money, transfer, Reply};

/// Long enough to see a raise wait, short enough to see it apply.
const COOLING_OFF_SECONDS: u64 = 2;

fn house() -> Operator {
    Operator::new("house")
}

fn node(op: &Operator) -> NodeConfig {
    NodeConfig::shipped()
        .fast()
        .no_tables()
        .operators(&op.entry(&["EUR"], ""))
        .with(|c| c.jurisdictions.limit_raise_cooling_off_seconds = COOLING_OFF_SECONDS)
}

async fn set_limit(server: &Server, op: &Operator, player: &str, body: Value) -> Reply {
    let path = format!("/v1/operator/players/{player}/limits");
    call(server, &op.key, "POST", &path, Some(&body.to_string())).await
}

async fn limits_of(server: &Server, op: &Operator, player: &str) -> Reply {
    let path = format!("/v1/operator/players/{player}/limits");
    call(server, &op.key, "GET", &path, None).await
}

/// A new session of `name` (a real-money launch); its token.
async fn launch(server: &Server, op: &Operator, name: &str) -> String {
    let body = json!({
        "player_id": name, "currency": "EUR", "game": "starfall",
        "language": "en", "country": "MT", "mode": "real",
    });
    let path = "/v1/operator/launch";
    let r = call(server, &op.key, "POST", path, Some(&body.to_string())).await;
    assert_eq!(r.status, 201, "{r:?}");
    r.body["token"].as_str().unwrap().to_string()
}

/// A funded (100.00 EUR), launched and connected player, and its session token.
async fn player(server: &Server, op: &Operator, name: &str) -> (Client, String) {
    let r = transfer(
        server,
        &op.key,
        name,
        "deposits",
        money(&format!("fund-{name}"), "100.00", "EUR"),
    )
    .await;
    assert_eq!(r.status, 201, "{r:?}");
    let token = launch(server, op, name).await;
    (Client::connect(server, &token).await, token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spin_that_would_cross_a_loss_or_wager_limit_is_refused_and_moves_nothing() {
    let op = house();
    let server = node(&op).start();
    let (mut ann, _) = player(&server, &op, "ann").await;
    // A wager limit of 1.00 a day counts stakes whatever they won: after 0.40, 0.80 is refused
    // with the reset a day after the first stake's hour, and nothing moves.
    let before = now_ms();
    let r = set_limit(
        &server,
        &op,
        "ann",
        json!({"kind": "wager", "period": "day", "amount": "1.00"}),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["limits"][0]["amount"], "1.00", "{r:?}");
    let r = ann.request(spin("a1", "0.40")).await;
    assert_eq!(r["type"], "spin_result", "{r}");
    let after = balance_of(&server, &op, "ann").await;
    let refused = ann.request(spin("a2", "0.80")).await;
    assert_eq!(refused["code"], "limit_reached", "{refused}");
    let limit = &refused["limit"];
    assert_eq!(
        (&limit["kind"], &limit["period"], &limit["amount"]),
        (&json!("wager"), &json!("day"), &json!("1.00")),
        "{refused}"
    );
    let resets = limit["resets_at_ms"].as_i64().expect("a reset time");
    let day = 86_400_000;
    assert!(
        resets > before + day - 3_600_000 && resets <= now_ms() + day + 3_600_000,
        "{refused}"
    );
    let message = refused["message"].as_str().unwrap();
    assert!(
        message.contains("wager limit of 1.00 EUR per day"),
        "{message}"
    );
    assert_eq!(
        balance_of(&server, &op, "ann").await,
        after,
        "a refused spin moves nothing"
    );
    // A loss limit of 0.50: a stake of 1.00 could lose more than the limit by itself, so it is
    // refused with no reset time (no window rolling makes room for it).
    let r = set_limit(
        &server,
        &op,
        "ann",
        json!({"kind": "loss", "period": "day", "amount": "0.50"}),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    let refused = ann.request(spin("a3", "1.00")).await;
    assert_eq!(refused["code"], "limit_reached", "{refused}");
    assert_eq!(refused["limit"]["kind"], "loss", "{refused}");
    assert!(refused["limit"].get("resets_at_ms").is_none(), "{refused}");
    assert_eq!(balance_of(&server, &op, "ann").await, after);
    // The player reads their own limits: both in force, the wager limit with 0.40 used.
    let mine = ann.request(json!({"type": "limits", "req_id": "l1"})).await;
    assert_eq!(mine["type"], "limits", "{mine}");
    let list = mine["limits"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{mine}");
    let wager = list.iter().find(|l| l["kind"] == "wager").expect("wager");
    assert_eq!(
        (&wager["amount"], &wager["used"]),
        (&json!("1.00"), &json!("0.40")),
        "{mine}"
    );
    assert!(wager.get("pending").is_none(), "{mine}");
    // Removals wait for the cooling-off; meanwhile both limits stand.
    for kind in ["wager", "loss"] {
        let r = set_limit(
            &server,
            &op,
            "ann",
            json!({"kind": kind, "period": "day", "amount": null}),
        )
        .await;
        assert_eq!(r.status, 200, "{r:?}");
    }
    let mine = ann.request(json!({"type": "limits", "req_id": "l2"})).await;
    let list = mine["limits"].as_array().unwrap();
    assert!(
        list.iter()
            .all(|l| l["pending"]["from_ms"].is_i64() && l["pending"].get("amount").is_none()),
        "{mine}"
    );
    let from = list
        .iter()
        .map(|l| l["pending"]["from_ms"].as_i64().unwrap())
        .max()
        .unwrap();
    assert_eq!(
        ann.request(spin("a2", "0.80")).await["code"],
        "limit_reached"
    );
    // The refusal is not kept for its req_id: once the limits are gone, the same request plays.
    tokio::time::sleep(Duration::from_millis((from - now_ms()).max(0) as u64 + 100)).await;
    let r = ann.request(spin("a2", "0.80")).await;
    assert_eq!(r["type"], "spin_result", "{r}");
    let mine = ann.request(json!({"type": "limits", "req_id": "l3"})).await;
    assert_eq!(mine["limits"], json!([]), "{mine}");
    let (ok, report) = server.reconcile();
    assert!(ok, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raise_waits_its_cooling_off_and_a_cut_applies_at_once() {
    let op = house();
    let server = node(&op).start();
    let (mut bea, _) = player(&server, &op, "bea").await;
    let key = json!({"kind": "wager", "period": "week"});
    let with = |amount: Value| {
        let mut body = key.clone();
        body["amount"] = amount;
        body
    };
    set_limit(&server, &op, "bea", with(json!("1.00"))).await;
    let r = bea.request(spin("b1", "1.00")).await;
    assert_eq!(r["type"], "spin_result", "{r}");
    // A raise: the old limit stands until the cooling-off has passed.
    let r = set_limit(&server, &op, "bea", with(json!("5.00"))).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["cooling_off_seconds"], COOLING_OFF_SECONDS);
    let limit = &r.body["limits"][0];
    assert_eq!(
        (&limit["amount"], &limit["pending"]["amount"]),
        (&json!("1.00"), &json!("5.00")),
        "{r:?}"
    );
    let from = limit["pending"]["from_ms"].as_i64().unwrap();
    let refused = bea.request(spin("b2", "1.00")).await;
    assert_eq!(refused["code"], "limit_reached", "{refused}");
    assert_eq!(refused["limit"]["amount"], "1.00");
    let wait = (from - now_ms()).max(0) as u64 + 100;
    tokio::time::sleep(Duration::from_millis(wait)).await;
    let r = bea.request(spin("b2", "1.00")).await;
    assert_eq!(r["type"], "spin_result", "the raise applied: {r}");
    // A cut below what is used applies at once.
    let r = set_limit(&server, &op, "bea", with(json!("1.50"))).await;
    let limit = &r.body["limits"][0];
    assert_eq!(limit["amount"], "1.50", "{r:?}");
    assert!(limit.get("pending").is_none(), "{r:?}");
    let refused = bea.request(spin("b3", "0.20")).await;
    assert_eq!(refused["code"], "limit_reached", "{refused}");
    assert_eq!(
        limits_of(&server, &op, "bea").await.body["limits"][0]["used"],
        "2.00"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deposit_over_a_deposit_limit_is_refused_and_bad_requests_change_nothing() {
    let op = house();
    let server = node(&op).start();
    let (_cal, _) = player(&server, &op, "cal").await;
    // The first limit counts the month before it: the 100.00 funded already.
    let r = set_limit(
        &server,
        &op,
        "cal",
        json!({"kind": "deposit", "period": "month", "amount": "150.00"}),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["limits"][0]["used"], "100.00", "{r:?}");
    let ok = transfer(
        &server,
        &op.key,
        "cal",
        "deposits",
        money("c1", "50.00", "EUR"),
    )
    .await;
    assert_eq!(ok.status, 201, "{ok:?}");
    let refused = transfer(
        &server,
        &op.key,
        "cal",
        "deposits",
        money("c2", "0.01", "EUR"),
    )
    .await;
    assert_eq!(refused.status, 409, "{refused:?}");
    assert_eq!(refused.body["code"], "limit_reached", "{refused:?}");
    let message = refused.body["message"].as_str().unwrap();
    assert!(
        message.contains("deposit limit of 150.00 EUR per month"),
        "{message}"
    );
    assert_eq!(balance_of(&server, &op, "cal").await, "150.00");
    // A replay of the accepted deposit still answers it.
    let again = transfer(
        &server,
        &op.key,
        "cal",
        "deposits",
        money("c1", "50.00", "EUR"),
    )
    .await;
    assert_eq!((again.status, again.replayed), (201, true), "{again:?}");

    let standing = limits_of(&server, &op, "cal").await.body;
    for (body, wanted) in [
        (
            json!({"kind": "fun", "period": "day", "amount": "1.00"}),
            "kind",
        ),
        (
            json!({"kind": "loss", "period": "year", "amount": "1.00"}),
            "period",
        ),
        (json!({"kind": "loss", "amount": "1.00"}), "period"),
        (
            json!({"kind": "loss", "period": "session", "amount": "1.00"}),
            "day, week or month",
        ),
        (
            json!({"kind": "loss", "period": "day", "amount": "-1.00"}),
            "amount",
        ),
        (
            json!({"kind": "loss", "period": "day", "amount": "0"}),
            "amount",
        ),
        (
            json!({"kind": "loss", "period": "day", "amount": "1.001"}),
            "amount",
        ),
        (
            json!({"kind": "loss", "period": "day", "amount": 5}),
            "invalid limit",
        ),
        (
            json!({"kind": "loss", "period": "day", "minutes": 5}),
            "amount",
        ),
        (json!({"kind": "session_time", "amount": "5"}), "minutes"),
        (json!({"kind": "session_time", "minutes": 0}), "minutes"),
        (
            json!({"kind": "session_time", "minutes": 100000}),
            "minutes",
        ),
        (
            json!({"kind": "session_time", "period": "week", "minutes": 5}),
            "session",
        ),
        (
            json!({"kind": "loss", "period": "day", "amount": "1.00", "why": "x"}),
            "unknown field",
        ),
    ] {
        let r = set_limit(&server, &op, "cal", body.clone()).await;
        assert_eq!(r.status, 400, "{body}: {r:?}");
        assert_eq!(r.body["code"], "bad_request", "{body}: {r:?}");
        let message = r.body["message"].as_str().unwrap();
        assert!(message.contains(wanted), "{body}: {message}");
    }
    let r = set_limit(
        &server,
        &op,
        "nobody",
        json!({"kind": "loss", "period": "day", "amount": "1.00"}),
    )
    .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (404, Some("unknown_player")),
        "{r:?}"
    );
    let r = call(
        &server,
        "wrong-key",
        "GET",
        "/v1/operator/players/cal/limits",
        None,
    )
    .await;
    assert_eq!(r.status, 401, "{r:?}");
    assert_eq!(
        limits_of(&server, &op, "cal").await.body,
        standing,
        "nothing changed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_time_limit_stops_play_when_its_minutes_have_passed() {
    let op = house();
    let server = node(&op).start();
    let (mut dee, _) = player(&server, &op, "dee").await;
    let r = set_limit(
        &server,
        &op,
        "dee",
        json!({"kind": "session_time", "minutes": 1}),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["limits"][0]["minutes"], 1, "{r:?}");
    let r = dee.request(spin("d1", "0.20")).await;
    assert_eq!(r["type"], "spin_result", "{r}");
    // The session began at its launch; a minute later (plus a margin) it may not stake.
    tokio::time::sleep(Duration::from_secs(61)).await;
    let before = balance_of(&server, &op, "dee").await;
    let refused = dee.request(spin("d2", "0.20")).await;
    assert_eq!(refused["code"], "limit_reached", "{refused}");
    assert_eq!(
        (&refused["limit"]["kind"], &refused["limit"]["minutes"]),
        (&json!("session_time"), &json!(1)),
        "{refused}"
    );
    assert_eq!(balance_of(&server, &op, "dee").await, before);
    // A new session (a new launch) may play again.
    let token = launch(&server, &op, "dee").await;
    let mut again = Client::connect(&server, &token).await;
    let r = again.request(spin("d3", "0.20")).await;
    assert_eq!(r["type"], "spin_result", "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_limit_set_through_one_node_holds_on_another() {
    let Some(url) = pg_database("limits").await else {
        return;
    };
    let op = house();
    let cluster = ClusterLines::new(&url);
    let config = || node(&op).cluster(&cluster);
    let (a, b) = (config().start(), config().start());
    let (_on_a, token) = player(&a, &op, "eve").await;
    let r = set_limit(
        &a,
        &op,
        "eve",
        json!({"kind": "wager", "period": "day", "amount": "0.40"}),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    let mut on_b = Client::connect(&b, &token).await;
    let r = on_b.request(spin("e1", "0.40")).await;
    assert_eq!(r["type"], "spin_result", "{r}");
    let refused = on_b.request(spin("e2", "0.20")).await;
    assert_eq!(refused["code"], "limit_reached", "{refused}");
    assert_eq!(
        limits_of(&b, &op, "eve").await.body["limits"][0]["used"],
        "0.40"
    );
    let (ok, report) = a.reconcile();
    assert!(ok, "{report}");
}
