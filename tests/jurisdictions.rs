//! Jurisdiction rules against the real binary with real clients: every rule of the shipped
//! `uk` and `de` profiles (speed of play, stake caps by age band, jackpots off, what the
//! welcome tells the client), the launch's choice of profile, table stake caps, the interval
//! held across two nodes of a cluster, and every bad input refused with nothing changed.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::*;
use crate::operators::{balance, money, transfer};

/// The operator of these tests: EUR and GBP, under the permissive default of its own.
pub(crate) fn house() -> Operator {
    Operator::new("house")
}

fn node(op: &Operator) -> NodeConfig {
    NodeConfig::shipped()
        .fast()
        .no_tables()
        .shipped_jurisdictions()
        .operators(&op.entry(&["EUR", "GBP"], ""))
}

/// A launch of `player`; the whole answer.
pub(crate) async fn launch(server: &Server, op: &Operator, body: Value) -> (u16, Value) {
    let reply = reqwest::Client::new()
        .post(format!("{}/v1/operator/launch", server.operator))
        .bearer_auth(&op.key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = reply.status().as_u16();
    (status, reply.json().await.unwrap())
}

pub(crate) fn launch_body(
    player: &str,
    currency: &str,
    country: &str,
    age_band: Option<&str>,
) -> Value {
    let mut body = json!({
        "player_id": player, "currency": currency, "game": "starfall",
        "language": "en", "country": country, "mode": "real",
    });
    if let Some(band) = age_band {
        body["age_band"] = json!(band);
    }
    body
}

/// A funded, launched and connected player; its welcome frame.
pub(crate) async fn player(
    server: &Server,
    op: &Operator,
    name: &str,
    currency: &str,
    country: &str,
    age_band: Option<&str>,
) -> (Client, Value, String) {
    funded_launch(server, op, launch_body(name, currency, country, age_band)).await
}

/// The player of a launch body funded with 100.00, launched and connected; its welcome frame.
pub(crate) async fn funded_launch(
    server: &Server,
    op: &Operator,
    body: Value,
) -> (Client, Value, String) {
    let (name, currency) = (
        body["player_id"].as_str().unwrap(),
        body["currency"].as_str().unwrap(),
    );
    let tx = format!("fund-{name}");
    let r = transfer(
        server,
        &op.key,
        name,
        "deposits",
        money(&tx, "100.00", currency),
    )
    .await;
    assert_eq!(r.status, 201, "{r:?}");
    let (status, body) = launch(server, op, body).await;
    assert_eq!(status, 201, "{body}");
    let token = body["token"].as_str().unwrap().to_string();
    let client = Client::connect(server, &token).await;
    let welcome = client.welcome.clone();
    (client, welcome, token)
}

pub(crate) fn spin(req_id: &str, bet: &str) -> Value {
    json!({"type": "spin", "req_id": req_id, "game": "starfall", "bet": bet})
}

pub(crate) async fn balance_of(server: &Server, op: &Operator, player: &str) -> String {
    let r = balance(server, &op.key, player).await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body["balance"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_uk_profile_paces_rounds_caps_stakes_by_age_and_tells_the_client() {
    let op = house();
    let server = node(&op).start();
    let (mut adult, welcome, _) = player(&server, &op, "ann", "GBP", "GB", Some("25+")).await;
    let rules = &welcome["rules"];
    assert_eq!(rules["profile"], "uk", "{welcome}");
    assert_eq!(rules["min_round_interval_ms"], 2500);
    assert_eq!(rules["slot_stake_cap"], "5.00");
    assert_eq!(rules["autoplay"], false);
    assert_eq!(rules["turbo"], false);
    assert_eq!(rules["celebrate_wins_below_stake"], false);
    assert_eq!(rules["show_net_position"], true);
    assert_eq!(rules["show_elapsed_time"], true);
    assert_eq!(rules["reality_check_minutes"], 60);

    // Over the cap: refused, nothing moves, and the refusal takes no round start.
    let r = adult.request(spin("a0", "5.20")).await;
    assert_eq!(r["code"], "stake_limit", "{r}");
    assert!(r["message"].as_str().unwrap().contains("5.00 GBP"), "{r}");
    assert_eq!(balance_of(&server, &op, "ann").await, "100.00");
    // At the cap: plays at once (the refusal above started nothing).
    let first = adult.request(spin("a1", "5.00")).await;
    assert_eq!(first["type"], "spin_result", "{first}");
    let after_first = balance_of(&server, &op, "ann").await;
    // At once again: too fast, with the wait, and nothing moves.
    let t0 = Instant::now();
    let r = adult.request(spin("a2", "1.00")).await;
    assert_eq!(r["code"], "too_fast", "{r}");
    let wait = r["retry_after_ms"].as_u64().expect("retry_after_ms");
    assert!((1..=2500).contains(&wait), "{r}");
    assert_eq!(balance_of(&server, &op, "ann").await, after_first);
    // A resend of the first round answers it as it was, however soon.
    let again = adult.request(spin("a1", "5.00")).await;
    assert_eq!(again["round_id"], first["round_id"], "{again}");
    // After the wait the same req_id plays (the too_fast reply was not kept for it).
    tokio::time::sleep(Duration::from_millis(wait) + Duration::from_millis(50)).await;
    let r = adult.request(spin("a2", "1.00")).await;
    assert_eq!(r["type"], "spin_result", "{r}");
    assert!(t0.elapsed() >= Duration::from_millis(wait));

    // 18 to 24: the GBP 2 cap.
    let (mut young, welcome, _) = player(&server, &op, "bob", "GBP", "GB", Some("18-24")).await;
    assert_eq!(welcome["rules"]["slot_stake_cap"], "2.00", "{welcome}");
    let r = young.request(spin("b1", "2.20")).await;
    assert_eq!(r["code"], "stake_limit", "{r}");
    let r = young.request(spin("b2", "2.00")).await;
    assert_eq!(r["type"], "spin_result", "{r}");
    let (ok, report) = server.reconcile();
    assert!(ok, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launches_the_profile_cannot_serve_are_refused_and_create_nothing() {
    let op = house();
    let server = node(&op).start();
    for (body, status, code) in [
        // No age band where the profile caps stakes by age.
        (launch_body("cat", "GBP", "GB", None), 400, "bad_request"),
        (
            launch_body("cat", "GBP", "GB", Some("17")),
            400,
            "bad_request",
        ),
        (
            launch_body("cat", "GBP", "GB", Some("")),
            400,
            "bad_request",
        ),
        // The UK profile caps GBP only: a session in EUR cannot open.
        (
            launch_body("cat", "EUR", "GB", Some("25+")),
            403,
            "currency_not_allowed",
        ),
        // Germany caps EUR only.
        (
            launch_body("cat", "GBP", "DE", None),
            403,
            "currency_not_allowed",
        ),
    ] {
        let (got, answer) = launch(&server, &op, body.clone()).await;
        assert_eq!(
            (got, answer["code"].as_str()),
            (status, Some(code)),
            "{body}: {answer}"
        );
    }
    assert_eq!(
        balance(&server, &op.key, "cat").await.status,
        404,
        "no account was created"
    );
    // A country no profile covers plays under the operator's own (default) profile.
    let (status, body) = launch(&server, &op, launch_body("cat", "EUR", "FR", None)).await;
    assert_eq!(
        (status, body["jurisdiction"].as_str()),
        (201, Some("default")),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_german_profile_paces_five_seconds_caps_one_euro_and_keeps_players_off_jackpots() {
    let op = house();
    let server = node(&op).jackpots(HOT_POOL).start();
    // The first level's value and cycle: a bet that feeds it moves one or the other (a bet
    // whose mystery draw wins the level resets it to its seed, in the next cycle).
    let pool = || async {
        let level = &jackpot_levels(&server).await[0];
        format!(
            "{} in cycle {}",
            level["value"].as_str().unwrap(),
            level["cycle"]
        )
    };
    let start = pool().await;
    let (mut dora, welcome, _) = player(&server, &op, "dora", "EUR", "DE", None).await;
    let rules = &welcome["rules"];
    assert_eq!(rules["profile"], "de", "{welcome}");
    assert_eq!(rules["min_round_interval_ms"], 5000);
    assert_eq!(rules["slot_stake_cap"], "1.00");
    assert_eq!(rules["jackpots"], false);
    assert_eq!(rules["autoplay"], false);
    let r = dora.request(spin("d0", "1.20")).await;
    assert_eq!(r["code"], "stake_limit", "{r}");
    let r = dora.request(spin("d1", "1.00")).await;
    assert_eq!(r["type"], "spin_result", "{r}");
    let r = dora.request(spin("d2", "1.00")).await;
    assert_eq!(r["code"], "too_fast", "{r}");
    let wait = r["retry_after_ms"].as_u64().unwrap();
    assert!(
        (2500..=5000).contains(&wait),
        "five seconds, not two and a half: {r}"
    );
    tokio::time::sleep(Duration::from_millis(wait + 50)).await;
    let r = dora.request(spin("d2", "1.00")).await;
    assert_eq!(r["type"], "spin_result", "{r}");
    assert_eq!(pool().await, start, "a German player's bets fed no pool");
    // A player of another country on the same pool feeds it (the pool is on).
    let (mut fred, _, _) = player(&server, &op, "fred", "EUR", "FR", None).await;
    let r = fred.request(spin("f1", "1.00")).await;
    assert_eq!(r["type"], "spin_result", "{r}");
    assert_ne!(pool().await, start, "a default player's bet feeds the pool");
    let (ok, report) = server.reconcile();
    assert!(ok, "{report}");
}

/// A profile with a short interval and a table cap, for the table and cluster cases.
const QUICK: &str = r#"
[[profile]]
id = "default"
name = "Permissive"

[[profile]]
id = "quick"
name = "Quick test market"
countries = ["QQ"]
min_round_interval_ms = 1500
table_stake_cap = { EUR = "2.00" }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_bet_over_the_cap_is_refused_before_any_debit() {
    let op = house();
    let server = NodeConfig::shipped()
        .fast()
        .tables(&fast_tables(5))
        .jurisdictions(QUICK)
        .operators(&op.entry(&["EUR"], ""))
        .start();
    let r = transfer(
        &server,
        &op.key,
        "gil",
        "deposits",
        money("g", "50.00", "EUR"),
    )
    .await;
    assert_eq!(r.status, 201, "{r:?}");
    let (status, body) = launch(&server, &op, launch_body("gil", "EUR", "QQ", None)).await;
    assert_eq!(status, 201, "{body}");
    let mut gil = Client::connect(&server, body["token"].as_str().unwrap()).await;
    let welcome = gil.welcome.clone();
    assert_eq!(welcome["rules"]["table_stake_cap"], "2.00", "{welcome}");
    let joined = ask(
        &mut gil,
        json!({"type": "join_table", "req_id": "j", "table": "roulette_1"}),
    )
    .await;
    assert_ne!(joined["type"], "error", "{joined}");
    let bet = |req_id: &str, amount: &str| {
        json!({"type": "table_bet", "req_id": req_id, "table": "roulette_1", "kind": "red",
               "numbers": [], "amount": amount})
    };
    // Over the cap: refused whatever the round's phase, before the table or the wallet.
    let r = ask(&mut gil, bet("t1", "2.50")).await;
    assert_eq!(r["code"], "stake_limit", "{r}");
    assert!(r["message"].as_str().unwrap().contains("2.00 EUR"), "{r}");
    assert_eq!(balance_of(&server, &op, "gil").await, "50.00");
    // At the cap: not refused by the profile (taken, or betting_closed between rounds).
    let r = ask(&mut gil, bet("t2", "2.00")).await;
    assert_ne!(r["code"], "stake_limit", "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_interval_holds_across_the_nodes_of_a_cluster() {
    let Some(url) = pg_database("juris").await else {
        return;
    };
    let op = house();
    let cluster = ClusterLines::new(&url);
    let config = || {
        NodeConfig::shipped()
            .fast()
            .no_tables()
            .cluster(&cluster)
            .jurisdictions(QUICK)
            .operators(&op.entry(&["EUR"], ""))
    };
    let (a, b) = (config().start(), config().start());
    let r = transfer(&a, &op.key, "hal", "deposits", money("h", "50.00", "EUR")).await;
    assert_eq!(r.status, 201, "{r:?}");
    let (status, body) = launch(&a, &op, launch_body("hal", "EUR", "QQ", None)).await;
    assert_eq!(status, 201, "{body}");
    let token = body["token"].as_str().unwrap().to_string();
    let mut on_a = Client::connect(&a, &token).await;
    let r = on_a.request(spin("h1", "1.00")).await;
    assert_eq!(r["type"], "spin_result", "{r}");
    // The same session on the other node: the interval started on the first holds.
    let mut on_b = Client::connect(&b, &token).await;
    let r = on_b.request(spin("h2", "1.00")).await;
    assert_eq!(r["code"], "too_fast", "{r}");
    let wait = r["retry_after_ms"].as_u64().unwrap();
    assert!((1..=1500).contains(&wait), "{r}");
    tokio::time::sleep(Duration::from_millis(wait + 50)).await;
    let r = on_b.request(spin("h2", "1.00")).await;
    assert_eq!(r["type"], "spin_result", "{r}");
    let (ok, report) = a.reconcile();
    assert!(ok, "{report}");
}

async fn exclude(
    server: &Server,
    op: &Operator,
    player: &str,
    body: &str,
) -> crate::operators::Reply {
    let path = format!("/v1/operator/players/{player}/exclusion");
    crate::operators::call(server, &op.key, "POST", &path, Some(body)).await
}

async fn exclusion_of(server: &Server, op: &Operator, player: &str) -> Value {
    let path = format!("/v1/operator/players/{player}/exclusion");
    let r = crate::operators::call(server, &op.key, "GET", &path, None).await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body
}

/// Reads until the connection closes; its close frame as text.
async fn closed(client: &mut Client) -> String {
    for _ in 0..50 {
        let f = client.recv().await;
        if f["type"] == "__closed" {
            return f["frame"].to_string();
        }
    }
    panic!("the connection stayed open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exclusion_closes_the_players_sessions_refuses_launches_and_is_never_shortened() {
    let op = house();
    let server = node(&op).start();
    let (mut ivy, _, _) = player(&server, &op, "ivy", "EUR", "FR", None).await;
    let r = ivy.request(spin("i1", "1.00")).await;
    assert_eq!(r["type"], "spin_result", "{r}");
    assert_eq!(exclusion_of(&server, &op, "ivy").await["excluded"], false);
    // Bad inputs: each a clear 400, nothing set, the connection still open.
    let past = now_ms() - 1_000;
    for body in [
        r#"{"reason": "holiday"}"#.to_string(),
        r#"{"until_ms": 1}"#.to_string(),
        format!(r#"{{"until_ms": {past}, "reason": "time_out"}}"#),
        r#"{"until_ms": "tomorrow", "reason": "time_out"}"#.to_string(),
        r#"{"reason": "time_out", "note": "x"}"#.to_string(),
        format!(r#"{{"until_ms": {}, "reason": "time_out"}}"#, i64::MAX),
        "not json".to_string(),
    ] {
        let r = exclude(&server, &op, "ivy", &body).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (400, Some("bad_request")),
            "{body}: {r:?}"
        );
    }
    assert_eq!(exclusion_of(&server, &op, "ivy").await["excluded"], false);
    let r = ivy.request(spin("i2", "1.00")).await;
    assert_eq!(
        r["type"], "spin_result",
        "still playing after refused calls: {r}"
    );

    // A day's time-out: the open connection closes with the reason, within a second.
    let until = now_ms() + 86_400_000;
    let t0 = Instant::now();
    let r = exclude(
        &server,
        &op,
        "ivy",
        &format!(r#"{{"until_ms": {until}, "reason": "time_out"}}"#),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        (r.body["excluded"].as_bool(), r.body["until_ms"].as_i64()),
        (Some(true), Some(until))
    );
    assert_eq!(r.body["sessions_ended"], 1, "{r:?}");
    let frame = closed(&mut ivy).await;
    assert!(frame.contains("player excluded"), "{frame}");
    assert!(
        t0.elapsed() < Duration::from_secs(1),
        "closed in {:?}",
        t0.elapsed()
    );
    // No new launch, real or demo, and the old token opens nothing.
    for mode in ["real", "demo"] {
        let mut body = launch_body("ivy", "EUR", "FR", None);
        body["mode"] = json!(mode);
        let (status, answer) = launch(&server, &op, body).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (403, Some("player_excluded")),
            "{answer}"
        );
    }
    // Shorter: kept as it was.
    let r = exclude(
        &server,
        &op,
        "ivy",
        &format!(
            r#"{{"until_ms": {}, "reason": "operator"}}"#,
            now_ms() + 60_000
        ),
    )
    .await;
    assert_eq!(
        (r.body["until_ms"].as_i64(), r.body["reason"].as_str()),
        (Some(until), Some("time_out")),
        "{r:?}"
    );
    // Indefinite: extends it.
    let r = exclude(
        &server,
        &op,
        "ivy",
        r#"{"until_ms": null, "reason": "self_exclusion"}"#,
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    let now = exclusion_of(&server, &op, "ivy").await;
    assert_eq!(
        (
            now["excluded"].as_bool(),
            now["until_ms"].is_null(),
            now["reason"].as_str()
        ),
        (Some(true), true, Some("self_exclusion")),
        "{now}"
    );
    // Other players play on.
    let (mut jo, _, _) = player(&server, &op, "jo", "EUR", "FR", None).await;
    let r = jo.request(spin("j1", "1.00")).await;
    assert_eq!(r["type"], "spin_result", "{r}");
    let (ok, report) = server.reconcile();
    assert!(ok, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exclusion_closes_the_players_connections_on_every_node() {
    let Some(url) = pg_database("jurex").await else {
        return;
    };
    let op = house();
    let cluster = ClusterLines::new(&url);
    let config = || {
        NodeConfig::shipped()
            .fast()
            .no_tables()
            .cluster(&cluster)
            .operators(&op.entry(&["EUR"], ""))
    };
    let (a, b) = (config().start(), config().start());
    let r = transfer(&a, &op.key, "kim", "deposits", money("k", "50.00", "EUR")).await;
    assert_eq!(r.status, 201, "{r:?}");
    let mut sessions = Vec::new();
    for server in [&a, &b] {
        let (status, body) = launch(server, &op, launch_body("kim", "EUR", "FR", None)).await;
        assert_eq!(status, 201, "{body}");
        sessions.push(Client::connect(server, body["token"].as_str().unwrap()).await);
    }
    let t0 = Instant::now();
    let r = exclude(&a, &op, "kim", r#"{"reason": "self_exclusion"}"#).await;
    assert_eq!(
        (r.status, r.body["sessions_ended"].as_u64()),
        (200, Some(2)),
        "{r:?}"
    );
    for client in &mut sessions {
        let frame = closed(client).await;
        assert!(frame.contains("player excluded"), "{frame}");
    }
    assert!(
        t0.elapsed() < Duration::from_secs(1),
        "closed in {:?}",
        t0.elapsed()
    );
    let (status, answer) = launch(&b, &op, launch_body("kim", "EUR", "FR", None)).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (403, Some("player_excluded")),
        "{answer}"
    );
}

/// A profile with a reality check every minute and the session display on.
const CHECKED: &str = r#"
[[profile]]
id = "default"
name = "Permissive"

[[profile]]
id = "checked"
name = "Reality-checked test market"
countries = ["RC"]
reality_check_minutes = 1
show_net_position = true
show_elapsed_time = true
harm_long_session_minutes = 1
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reality_check_stops_play_until_acknowledged_and_spin_results_show_the_session() {
    let op = house();
    let server = NodeConfig::shipped()
        .fast()
        .no_tables()
        .jurisdictions(CHECKED)
        .operators(&op.entry(&["EUR"], ""))
        .start();
    let (mut cy, welcome, token) = player(&server, &op, "cy", "EUR", "RC", None).await;
    assert_eq!(welcome["rules"]["reality_check_minutes"], 1, "{welcome}");
    // Every spin result carries the session so far: this spin's stake and win.
    let r = cy.request(spin("c1", "1.00")).await;
    assert_eq!(r["type"], "spin_result", "{r}");
    let session = &r["session"];
    assert_eq!(session["staked"], "1.00", "{r}");
    assert_eq!(session["won"], r["win"], "{r}");
    let net = cents(session["net"].as_str().unwrap());
    assert_eq!(net, cents(r["win"].as_str().unwrap()) - 100, "{r}");
    assert!(session["elapsed_ms"].as_i64().unwrap() >= 0);
    // Nothing to acknowledge yet: a clear error, nothing changes.
    let r = cy
        .request(json!({"type": "reality_check_ack", "req_id": "k0"}))
        .await;
    assert_eq!(r["code"], "bad_request", "{r}");
    // A minute after the launch the server pushes the check by itself.
    tokio::time::sleep(Duration::from_secs(55)).await;
    let check = wait_for(&mut cy, "reality_check", |f| f["type"] == "reality_check").await;
    assert_eq!(check["interval_minutes"], 1, "{check}");
    assert!(
        check["session"]["elapsed_ms"].as_i64().unwrap() >= 60_000,
        "{check}"
    );
    assert_eq!(check["session"]["staked"], "1.00", "{check}");
    // No round starts until the player answers; other frames still work.
    let before = balance_of(&server, &op, "cy").await;
    let r = cy.request(spin("c2", "1.00")).await;
    assert_eq!(r["code"], "reality_check_pending", "{r}");
    assert_eq!(balance_of(&server, &op, "cy").await, before);
    let r = cy.request(json!({"type": "balance", "req_id": "b1"})).await;
    assert_eq!(r["type"], "balance", "{r}");
    // The answer lets play go on, with the next check an interval later.
    let r = cy
        .request(json!({"type": "reality_check_ack", "req_id": "k1"}))
        .await;
    assert_eq!(r["type"], "reality_check_acked", "{r}");
    let next = r["next_at_ms"].as_i64().unwrap();
    assert!(
        next >= now_ms() + 55_000 && next <= now_ms() + 61_000,
        "{r}"
    );
    // The refusal was not kept for its req_id: the same request plays now.
    let r = cy.request(spin("c2", "1.00")).await;
    assert_eq!(r["type"], "spin_result", "{r}");
    assert_eq!(r["session"]["staked"], "2.00", "{r}");
    // A new connection to a session past an interval gets a check at once: reconnecting does
    // not dodge one.
    let mut again = Client::connect(&server, &token).await;
    let check = wait_for(&mut again, "reality_check", |f| {
        f["type"] == "reality_check"
    })
    .await;
    assert_eq!(check["session"]["staked"], "2.00", "{check}");
    let r = again.request(spin("c3", "1.00")).await;
    assert_eq!(r["code"], "reality_check_pending", "{r}");
    // The spin a minute into the session raised the long-play flag, once.
    let flags = harm_flags(&server, &op, "cy").await;
    assert_eq!(flags.len(), 1, "{flags:?}");
    assert_eq!(
        (&flags[0]["rule"], &flags[0]["profile"]),
        (&json!("long_session"), &json!("checked"))
    );
    assert_eq!(flags[0]["session_id"], welcome["session_id"]);
    let (ok, report) = server.reconcile();
    assert!(ok, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_free_round_whose_campaign_bet_is_over_the_cap_is_refused() {
    let op = house();
    let server = node(&op).start();
    let (mut dan, _, _) = player(&server, &op, "dan", "GBP", "GB", Some("18-24")).await;
    let grant = |campaign: &str, bet: &str| {
        json!({"campaign_id": campaign, "game": "starfall", "rounds": 3, "bet": bet,
               "currency": "GBP", "expires_at": now_ms() + 3_600_000})
    };
    for (campaign, bet) in [("big", "5.00"), ("small", "2.00")] {
        let r = crate::operators::call(
            &server,
            &op.key,
            "POST",
            "/v1/operator/players/dan/free-rounds",
            Some(&grant(campaign, bet).to_string()),
        )
        .await;
        assert_eq!(r.status, 201, "{r:?}");
    }
    // 5.00 is over the GBP 2 cap of an 18-24 player: refused, the campaign untouched.
    let r = dan
        .request(json!({"type": "spin", "req_id": "f1", "game": "starfall", "campaign": "big"}))
        .await;
    assert_eq!(r["code"], "stake_limit", "{r}");
    let games = dan.request(json!({"type": "games", "req_id": "g1"})).await;
    let big = games["free_rounds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["campaign"] == "big")
        .cloned()
        .unwrap();
    assert_eq!(big["remaining"], 3, "{games}");
    // At the cap: plays (the refusal above took no round start).
    let r = dan
        .request(json!({"type": "spin", "req_id": "f2", "game": "starfall", "campaign": "small"}))
        .await;
    assert_eq!(r["type"], "spin_result", "{r}");
    assert_eq!(r["free_rounds_remaining"], 2, "{r}");
}

async fn harm_flags(server: &Server, op: &Operator, player: &str) -> Vec<Value> {
    let path = format!("/v1/operator/players/{player}/harm-flags");
    let r = crate::operators::call(server, &op.key, "GET", &path, None).await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body["flags"].as_array().unwrap().clone()
}

/// A profile that flags a session after two loss chases at 200 %.
const WATCHED: &str = r#"
[[profile]]
id = "default"
name = "Permissive"

[[profile]]
id = "watched"
name = "Harm-watched test market"
countries = ["HW"]
harm_chase_rise_percent = 200
harm_chase_count = 2
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stakes_doubled_after_losses_raise_a_loss_chasing_flag_once_without_player_ids_in_metrics()
{
    let op = house();
    let server = NodeConfig::shipped()
        .fast()
        .no_tables()
        .jurisdictions(WATCHED)
        .operators(&op.entry(&["EUR"], ""))
        .start();
    let (mut eli, welcome, _) = player(&server, &op, "eli", "EUR", "HW", None).await;
    // Double after every loss, back to the minimum after a win: every loss makes a chase
    // (a free spin the game awards stakes nothing and is no chase). Bounded: stops itself.
    let mut stake = 20;
    let mut flagged = false;
    for i in 0..60 {
        let bet = format!("{}.{:02}", stake / 100, stake % 100);
        let r = eli.request(spin(&format!("e{i}"), &bet)).await;
        assert_eq!(r["type"], "spin_result", "{r}");
        let staked = cents(r["bet"].as_str().unwrap());
        let lost = staked > 0 && cents(r["win"].as_str().unwrap()) < staked;
        stake = if lost && stake < 640 { stake * 2 } else { 20 };
        if !harm_flags(&server, &op, "eli").await.is_empty() {
            flagged = true;
            break;
        }
    }
    assert!(flagged, "sixty spins without two chases");
    // More chases raise nothing more in the session.
    for i in 0..4 {
        eli.request(spin(&format!("m{i}"), "0.20")).await;
        eli.request(spin(&format!("n{i}"), "0.80")).await;
    }
    let flags = harm_flags(&server, &op, "eli").await;
    assert_eq!(flags.len(), 1, "raised once: {flags:?}");
    assert_eq!(
        (&flags[0]["rule"], &flags[0]["profile"]),
        (&json!("loss_chasing"), &json!("watched"))
    );
    assert_eq!(flags[0]["session_id"], welcome["session_id"]);
    let metrics = metrics_text(&server).await;
    assert!(
        metrics.contains(r#"croupier_harm_flags_total{profile="watched",rule="loss_chasing"} 1"#),
        "{}",
        metrics
            .lines()
            .filter(|l| l.contains("harm"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(!metrics
        .lines()
        .any(|l| l.contains("harm") && l.contains("eli")));
    // A player of the permissive default is never watched; an unknown player has no flags.
    assert!(harm_flags(&server, &op, "nobody").await.is_empty());
}
