//! Security findings of the review (issue 13), each attacked as an outsider would, against the
//! real binary: who may open which session, which tokens pass, how secrets are taken. Every
//! refused attempt must change nothing (`audit` stays clean, no account appears).

use crate::common;

use std::process::Stdio;

use common::*;
use croupier::secrets::{KeyRing, Purpose};
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::{json, Value};

const OPERATOR_KEY: &str = "crk_5ad015a3bf4f1b2b0b822cd15d6c15b0f00a08aa5ad015a3bf4f1b2b0b822cd1";
const RIVAL_KEY: &str = "crk_9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

/// The operators of these tests: `house` (OPERATOR_KEY) and `rival` (RIVAL_KEY), in EUR.
fn operators() -> String {
    let house = Operator {
        id: "house",
        key: OPERATOR_KEY.into(),
    };
    let rival = Operator {
        id: "rival",
        key: RIVAL_KEY.into(),
    };
    format!("{}{}", house.entry(&["EUR"], ""), rival.entry(&["EUR"], ""))
}
const SECRET: &str = "node-secret-9f86d081884c7d659a2feaa0c55ad015a3bf";

async fn post_session(server: &Server, key: Option<&str>, body: Value) -> (u16, Value) {
    let mut request = reqwest::Client::new().post(format!("{}/v1/sessions", server.base));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let reply = request.json(&body).send().await.unwrap();
    let status = reply.status().as_u16();
    (status, reply.json().await.unwrap_or(Value::Null))
}

/// The upgrade's HTTP status for this token (101 when it is accepted).
async fn upgrade_status(server: &Server, token: &str) -> u16 {
    match tokio_tungstenite::connect_async(server.ws_request(token)).await {
        Ok((_, response)) => response.status().as_u16(),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("upgrade failed without an HTTP answer: {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_mode_hands_out_only_fresh_demo_players() {
    let server = NodeConfig::shipped()
        .no_tables()
        .operators(&operators())
        .start();
    // The operator opens a real player, who starts at 0.00.
    let alice = operator_session(&server, OPERATOR_KEY, "alice", "EUR").await;
    assert_eq!(alice.balance, "0.00");

    // Anyone gets a demo player: a fresh, server-chosen id each time, funded once.
    let one = open_session(&server, "one").await;
    let two = open_session(&server, "two").await;
    assert!(one.player.starts_with("demo-") && two.player.starts_with("demo-"));
    assert_ne!(one.player, two.player);
    assert_eq!(one.balance, "1000.00");

    // No caller chooses a player without the operator key: not a real one, not a demo one.
    for named in ["alice", one.player.as_str(), "bob"] {
        let (status, body) = post_session(&server, None, json!({"player_id": named})).await;
        assert_eq!(status, 400, "{named}: {body}");
        assert_eq!(body["code"], "bad_request", "{body}");
    }
    // This door opens demo sessions only: with any key it names the operators' door, and an
    // operator's launch reaches its own players, never a demo one.
    for key in [OPERATOR_KEY, "not-the-key-5ad015a3bf4f1b2b0b822cd15d6c1"] {
        let (status, body) = post_session(
            &server,
            Some(key),
            json!({"player_id": one.player, "currency": "EUR"}),
        )
        .await;
        assert_eq!(status, 400, "{body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("/v1/operator/launch"),
            "{body}"
        );
    }
    let launched = operator_session(&server, OPERATOR_KEY, &one.player, "EUR").await;
    assert_eq!(
        launched.balance, "0.00",
        "house's player named like a demo one is not it"
    );

    // The demo player is resumed with its own token only, and still has its money.
    let mut again = Client::connect(&server, &one.token).await;
    assert_eq!(again.welcome["player_id"], one.player.as_str());
    assert_eq!(again.balance().await, "1000.00");
    let mut real = Client::connect(&server, &alice.token).await;
    assert_eq!(
        real.balance().await,
        "0.00",
        "demo money never reaches a real player"
    );

    // alice, house's player named like the demo one, two demo players: nothing else was
    // created by the refused requests.
    let (ok, report) = server.audit();
    assert!(ok && report.contains("accounts 4 "), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_without_a_secret_generates_one_into_its_data_directory() {
    let server = NodeConfig::shipped().no_tables().start();
    let config = std::fs::read_to_string(&server.config).unwrap();
    assert!(
        config.contains("secret = \"\""),
        "the shipped config holds no secret"
    );
    let path = server
        .data_dir
        .join(croupier::secrets::GENERATED_SECRET_FILE);
    let secret = std::fs::read_to_string(&path).unwrap();
    croupier::secrets::check_strength("auth.secret", secret.trim()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "readable by the node's user only");
    }
    // A token signed with the key derived from that secret is this node's; the same claims
    // under the secret that used to ship in default.toml are nobody's.
    let session = open_session(&server, "gen").await;
    assert_eq!(upgrade_status(&server, &session.token).await, 101);
    let claims = claims_for(&session.player, "EUR", "croupier");
    let old_dev = "dev-only-secret-change-me-in-production-0123456789";
    assert_eq!(
        upgrade_status(&server, &sign(old_dev, &claims)).await,
        401,
        "the old shipped secret signs nothing"
    );
}

/// Claims as croupier writes them, for `player`, with a fresh session id.
fn claims_for(player: &str, currency: &str, audience: &str) -> Value {
    let now = croupier::clock::unix_now();
    json!({
        "sub": player, "cur": currency, "sid": uuid_like(), "demo": false,
        "iss": "croupier", "aud": audience, "iat": now, "exp": now + 3600,
    })
}

/// A token over `claims` signed as a node with `secret` signs them.
fn sign(secret: &str, claims: &Value) -> String {
    let ring = KeyRing::new(secret, &[], Purpose::Tokens);
    let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(ring.current.id().to_string());
    encode(
        &header,
        claims,
        &EncodingKey::from_secret(ring.current.bytes()),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_checked_against_the_deployment_and_the_session() {
    // An insider who knows the secret still cannot make a token the node accepts unless it
    // matches a session the node opened.
    let server = NodeConfig::shipped()
        .no_tables()
        .with(|c| {
            c.auth.secret = SECRET.into();
            c.auth.token_ttl_seconds = 3600;
        })
        .start();
    let session = open_session(&server, "claims").await;
    assert_eq!(upgrade_status(&server, &session.token).await, 101);
    let now = croupier::clock::unix_now();
    let mut cases: Vec<(&str, Value)> = Vec::new();
    let mut c = claims_for(&session.player, "EUR", "croupier");
    c["exp"] = json!(4_102_444_800u64);
    cases.push(("expires in 2100", c));
    let mut c = claims_for(&session.player, "EUR", "croupier");
    c["iat"] = json!(now - 60);
    c["exp"] = json!(now - 30);
    cases.push(("expired", c));
    cases.push((
        "another audience",
        claims_for(&session.player, "EUR", "staging"),
    ));
    let mut c = claims_for(&session.player, "EUR", "croupier");
    c["iss"] = json!("someone-else");
    cases.push(("another issuer", c));
    cases.push((
        "a session the node never opened",
        claims_for(&session.player, "EUR", "croupier"),
    ));
    cases.push((
        "a GBP claim on an EUR account",
        claims_for(&session.player, "GBP", "croupier"),
    ));
    let welcome = Client::connect(&server, &session.token).await.welcome;
    let real_sid = welcome["session_id"].clone();
    let mut c = claims_for(&session.player, "GBP", "croupier");
    c["sid"] = real_sid.clone();
    cases.push(("the real session id with GBP", c));
    let mut c = claims_for("alice", "EUR", "croupier");
    c["sid"] = real_sid;
    cases.push(("the real session id for another player", c));
    for (what, claims) in &cases {
        assert_eq!(
            upgrade_status(&server, &sign(SECRET, claims)).await,
            401,
            "{what}: {claims}"
        );
    }
    // Signed with the raw secret rather than the token key derived from it.
    let raw = encode(
        &Header::default(),
        &cases[4].1,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    assert_eq!(upgrade_status(&server, &raw).await, 401);
    let (ok, report) = server.audit();
    assert!(ok && report.contains("accounts 1 "), "{report}");
}

/// `croupier serve` on this config and environment must stop at start-up naming `key`.
fn refused_at_start(config: &std::path::Path, env: &[(&str, &str)], key: &str) {
    let dir = tempfile::tempdir().unwrap();
    let out = serve_until_exit(config, dir.path(), env);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{key}: started anyway");
    assert!(stderr.contains(key), "{key} named in: {stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_taken_from_the_environment_and_weak_ones_refused() {
    let dir = tempfile::tempdir().unwrap();
    let real_money = NodeConfig::shipped()
        .no_tables()
        .with(|c| c.auth.demo_mode = false)
        .operators(&operators())
        .write(dir.path());
    // The file has no secret: the environment alone provides it.
    let server = Server::spawn_with(
        &real_money,
        &dir.path().join("data"),
        Stdio::inherit(),
        "warn",
        &[("CROUPIER_AUTH_SECRET", SECRET)],
    );
    let (status, body) = post_session(&server, None, json!({})).await;
    assert_eq!(status, 401, "no demo sessions with demo mode off: {body}");
    let alice = operator_session(&server, OPERATOR_KEY, "alice", "EUR").await;
    assert_eq!(upgrade_status(&server, &alice.token).await, 101);
    assert!(
        !server
            .data_dir
            .join(croupier::secrets::GENERATED_SECRET_FILE)
            .exists(),
        "a configured secret is used, none generated"
    );
    drop(server);

    let weak = [
        ("CROUPIER_AUTH_SECRET", "a".repeat(48)),
        ("CROUPIER_AUTH_SECRET", "0123456789".repeat(5)),
        ("CROUPIER_AUTH_SECRET", "too-short".to_string()),
    ];
    for (name, value) in &weak {
        refused_at_start(&real_money, &[(name, value)], "auth.secret");
    }
    // Without demo mode a node needs operators: a file naming none, or no file, is refused.
    let nobody = NodeConfig::shipped()
        .no_tables()
        .with(|c| c.auth.demo_mode = false)
        .write(&dir.path().join("nobody").tap_mkdir());
    refused_at_start(
        &nobody,
        &[("CROUPIER_AUTH_SECRET", SECRET)],
        "lists no operator",
    );
    let no_file = NodeConfig::shipped()
        .no_tables()
        .with(|c| {
            c.auth.demo_mode = false;
            c.operators.file = Default::default();
        })
        .write(&dir.path().join("no-file").tap_mkdir());
    refused_at_start(
        &no_file,
        &[("CROUPIER_AUTH_SECRET", SECRET)],
        "operators.file",
    );
    // A broken operators file stops the node with the key named.
    let broken = NodeConfig::shipped()
        .no_tables()
        .operators(&operators().replace("\"transfer\"", "\"cash\""))
        .write(&dir.path().join("broken").tap_mkdir());
    refused_at_start(&broken, &[], "operator[0].wallet");
    // Demo play is refused on a shared PostgreSQL ledger unless allowed; a cluster needs a
    // shared secret (a generated one would differ per node).
    let on_pg = NodeConfig::shipped()
        .no_tables()
        .with(|c| c.ledger.postgres_url = "postgres://127.0.0.1:1/none".into())
        .write(&dir.path().join("pg").tap_mkdir());
    refused_at_start(&on_pg, &[], "auth.demo_on_shared_ledger");
    let clustered = NodeConfig::shipped()
        .no_tables()
        .with(|c| c.cluster.redis_url = "redis://127.0.0.1:1/0".into())
        .write(&dir.path().join("cl").tap_mkdir());
    refused_at_start(&clustered, &[], "auth.secret");
}

trait TapMkdir {
    fn tap_mkdir(self) -> Self;
}

impl TapMkdir for std::path::PathBuf {
    fn tap_mkdir(self) -> Self {
        std::fs::create_dir_all(&self).unwrap();
        self
    }
}

/// The reason of the close frame `client` gets within `limit` (other frames are skipped).
async fn closed_within(client: &mut Client, limit: std::time::Duration) -> Option<String> {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, client.ws.next()).await {
            Err(_) => return None,
            Ok(Some(Ok(Message::Close(frame)))) => {
                return Some(frame.map(|f| f.reason.to_string()).unwrap_or_default())
            }
            Ok(Some(Ok(_))) => continue,
            Ok(_) => return Some(String::new()),
        }
    }
}

async fn revoke(server: &Server, key: &str, body: Value) -> (u16, Value) {
    let reply = reqwest::Client::new()
        .post(format!("{}/v1/operator/sessions/revoke", server.operator))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = reply.status().as_u16();
    (status, reply.json().await.unwrap_or(Value::Null))
}

/// One second, the bound for a revocation to reach every connection.
const WITHIN: std::time::Duration = std::time::Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_ends_a_session_or_all_of_a_players_at_once() {
    let server = NodeConfig::shipped()
        .no_tables()
        .operators(&operators())
        .start();
    let phone = operator_session(&server, OPERATOR_KEY, "alice", "EUR").await;
    let laptop = operator_session(&server, OPERATOR_KEY, "alice", "EUR").await;
    let bob = operator_session(&server, OPERATOR_KEY, "bob", "EUR").await;
    let mut on_phone = Client::connect(&server, &phone.token).await;
    let mut on_laptop = Client::connect(&server, &laptop.token).await;
    let mut on_bob = Client::connect(&server, &bob.token).await;
    let phone_sid = on_phone.welcome["session_id"].as_str().unwrap().to_string();

    // Bad revoke requests change nothing.
    for body in [
        json!({}),
        json!({"session_id": phone_sid, "player_id": "alice"}),
        json!({"player_id": "not valid"}),
        json!({"session_id": ""}),
        json!({"session_id": "x", "extra": 1}),
    ] {
        let (status, reply) = revoke(&server, OPERATOR_KEY, body.clone()).await;
        assert_eq!(status, 400, "{body}: {reply}");
    }
    let (status, _) = revoke(
        &server,
        "wrong-key-5ad015a3bf4f1b2b0b822cd15d6c1",
        json!({"player_id": "alice"}),
    )
    .await;
    assert_eq!(status, 401);
    // Another operator's key reaches none of house's sessions: its alice is another player,
    // and house's session ids are unknown to it.
    for body in [
        json!({"player_id": "alice"}),
        json!({"session_id": phone_sid}),
    ] {
        let (status, reply) = revoke(&server, RIVAL_KEY, body.clone()).await;
        assert_eq!(
            (status, &reply["revoked"]),
            (200, &json!([])),
            "{body}: {reply}"
        );
    }
    assert_eq!(on_phone.balance().await, "0.00", "still connected");

    // One session: its connection closes within a second, its token opens nothing more.
    let (status, reply) = revoke(&server, OPERATOR_KEY, json!({"session_id": phone_sid})).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["revoked"], json!([phone_sid]));
    assert_eq!(
        closed_within(&mut on_phone, WITHIN).await.as_deref(),
        Some("session revoked")
    );
    assert_eq!(upgrade_status(&server, &phone.token).await, 401);
    assert_eq!(
        on_laptop.balance().await,
        "0.00",
        "the other session plays on"
    );

    // All of a player's: the laptop goes too, bob stays.
    let (status, reply) = revoke(&server, OPERATOR_KEY, json!({"player_id": "alice"})).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["revoked"].as_array().unwrap().len(), 1, "{reply}");
    assert_eq!(
        closed_within(&mut on_laptop, WITHIN).await.as_deref(),
        Some("session revoked")
    );
    assert_eq!(upgrade_status(&server, &laptop.token).await, 401);
    assert_eq!(on_bob.balance().await, "0.00");

    // A restart remembers: the revoked tokens stay refused, bob's session still opens.
    drop(on_bob);
    let mut server = server;
    let status = server.sigterm();
    assert!(status.success(), "{status:?}");
    let restarted = Server::spawn(&server.config, &server.data_dir);
    assert_eq!(upgrade_status(&restarted, &phone.token).await, 401);
    assert_eq!(upgrade_status(&restarted, &laptop.token).await, 401);
    assert_eq!(upgrade_status(&restarted, &bob.token).await, 101);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_reaches_every_node_of_a_cluster_within_a_second() {
    let Some(pg) = pg_database("revoke").await else {
        return;
    };
    let cluster = ClusterLines::new(&pg);
    let a = NodeConfig::shipped()
        .no_tables()
        .cluster(&cluster)
        .operators(&operators())
        .start();
    let dir = tempfile::tempdir().unwrap();
    let b = Server::spawn(&a.config, &dir.path().join("b"));
    let session = operator_session(&a, OPERATOR_KEY, "carol", "EUR").await;
    // The session opened on A is good on B (the record is shared) ...
    let mut on_b = Client::connect(&b, &session.token).await;
    let sid = on_b.welcome["session_id"].as_str().unwrap().to_string();
    // ... and ended from A, it closes on B within a second, and neither node opens it again.
    let (status, reply) = revoke(&a, OPERATOR_KEY, json!({"player_id": "carol"})).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["revoked"], json!([sid]));
    assert_eq!(
        closed_within(&mut on_b, WITHIN).await.as_deref(),
        Some("session revoked")
    );
    assert_eq!(upgrade_status(&a, &session.token).await, 401);
    assert_eq!(upgrade_status(&b, &session.token).await, 401);
}

/// The upgrade's HTTP status for a URL with no bearer header.
async fn url_upgrade_status(url: &str) -> u16 {
    match tokio_tungstenite::connect_async(url).await {
        Ok((_, response)) => response.status().as_u16(),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("upgrade failed without an HTTP answer: {other}"),
    }
}

async fn ticket(server: &Server, bearer: Option<&str>) -> (u16, Value) {
    let mut request = reqwest::Client::new().post(format!("{}/v1/ws-tickets", server.base));
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let reply = request.send().await.unwrap();
    let status = reply.status().as_u16();
    (status, reply.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_stay_out_of_urls_and_tickets_open_one_upgrade() {
    let server = NodeConfig::shipped()
        .no_tables()
        .operators(&operators())
        .start();
    let session = open_session(&server, "ticket").await;
    let ws = server.base.replace("http://", "ws://");
    // The long-lived token in the URL is refused, valid or not.
    assert_eq!(
        url_upgrade_status(&format!("{ws}/v1/ws?token={}", session.token)).await,
        400
    );
    // A ticket: good for one upgrade, then never again.
    let (status, body) = ticket(&server, Some(&session.token)).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["expires_in_seconds"], 30);
    let t = body["ticket"].as_str().unwrap().to_string();
    assert_eq!(t.len(), 64);
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("{ws}/v1/ws?ticket={t}"))
        .await
        .expect("the ticket opens the socket");
    let welcome = next_json(&mut socket).await;
    assert_eq!(welcome["player_id"], session.player.as_str(), "{welcome}");
    assert_eq!(
        url_upgrade_status(&format!("{ws}/v1/ws?ticket={t}")).await,
        401,
        "a ticket opens one upgrade only"
    );
    // Bad tickets, and a ticket with a bearer besides.
    for bad in [
        "",
        "short",
        &"g".repeat(64),
        &"0".repeat(64),
        &format!("{t}0"),
    ] {
        assert_eq!(
            url_upgrade_status(&format!("{ws}/v1/ws?ticket={bad}")).await,
            401,
            "{bad:?}"
        );
    }
    let (_, body) = ticket(&server, Some(&session.token)).await;
    let fresh = body["ticket"].as_str().unwrap();
    let mut both = server.ws_request(&session.token);
    *both.uri_mut() = format!("{ws}/v1/ws?ticket={fresh}").parse().unwrap();
    match tokio_tungstenite::connect_async(both).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 400),
        other => panic!("a bearer and a ticket together: {other:?}"),
    }
    // No ticket for no token, a forged one, or a revoked session.
    assert_eq!(ticket(&server, None).await.0, 401);
    assert_eq!(ticket(&server, Some("a.b.c")).await.0, 401);
    let real = operator_session(&server, OPERATOR_KEY, "dora", "EUR").await;
    let (_, body) = ticket(&server, Some(&real.token)).await;
    let issued_before = body["ticket"].as_str().unwrap().to_string();
    revoke(&server, OPERATOR_KEY, json!({"player_id": "dora"})).await;
    assert_eq!(ticket(&server, Some(&real.token)).await.0, 401);
    assert_eq!(
        url_upgrade_status(&format!("{ws}/v1/ws?ticket={issued_before}")).await,
        401,
        "a ticket of a session revoked since is refused"
    );
}

fn red(req_id: &str) -> Value {
    json!({"type": "table_bet", "req_id": req_id, "table": "roulette_1", "kind": "red",
           "numbers": [], "amount": "1.00"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seats_belong_to_the_connection_not_the_token() {
    let server = NodeConfig::shipped().fast().tables(&fast_tables(4)).start();
    let session = open_session(&server, "seats").await;
    let mut sitting = Client::connect(&server, &session.token).await;
    let mut other = Client::connect(&server, &session.token).await;
    let state = ask(
        &mut sitting,
        json!({"type": "join_table", "req_id": "j", "table": "roulette_1"}),
    )
    .await;
    assert_eq!(state["type"], "table_state", "{state}");
    // The second connection on the same token never joined: it may not bet there.
    wait_for(&mut sitting, "betting open", fresh_betting_open).await;
    let refused = ask(&mut other, red("o1")).await;
    assert_eq!(refused["code"], "not_seated", "{refused}");
    // Both seated; one closes; the other still sits and bets.
    let state = ask(
        &mut other,
        json!({"type": "join_table", "req_id": "j2", "table": "roulette_1"}),
    )
    .await;
    assert_eq!(state["type"], "table_state", "{state}");
    drop(sitting);
    wait_for(&mut other, "betting open", fresh_betting_open).await;
    let accepted = ask(&mut other, red("o2")).await;
    assert_eq!(accepted["type"], "bet_accepted", "{accepted}");
    let (ok, report) = server.audit();
    assert!(ok, "{report}");
}

fn spin(req_id: &str, bet: &str) -> Value {
    json!({"type": "spin", "req_id": req_id, "game": "classic_sevens", "bet": bet})
}

fn baccarat(req_id: &str) -> Value {
    json!({"type": "table_bet", "req_id": req_id, "table": "baccarat_1", "kind": "player",
           "numbers": [], "amount": "1.00"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_req_id_names_one_request_in_the_cache_and_in_the_ledger() {
    let mut server = NodeConfig::shipped().fast().tables(&fast_tables(3)).start();
    let session = open_session(&server, "reuse").await;
    let mut c = Client::connect(&server, &session.token).await;
    let joined = ask(
        &mut c,
        json!({"type": "join_table", "req_id": "j", "table": "baccarat_1"}),
    )
    .await;
    assert_eq!(joined["type"], "table_state", "{joined}");
    let spun = ask(&mut c, spin("s1", "1.00")).await;
    assert_eq!(spun["type"], "spin_result", "{spun}");
    wait_for(&mut c, "betting open", fresh_betting_open).await;
    let bet = ask(&mut c, baccarat("b1")).await;
    assert_eq!(bet["type"], "bet_accepted", "{bet}");
    let balance = c.balance().await;
    // From the cache: another kind, another stake, a read on a spin's req_id.
    for other in [baccarat("s1"), spin("s1", "2.00"), spin("b1", "1.00")] {
        let reply = ask(&mut c, other.clone()).await;
        assert_eq!(reply["code"], "duplicate_request", "{other}: {reply}");
        assert_eq!(reply["req_id"], other["req_id"]);
    }
    let read = ask(&mut c, json!({"type": "balance", "req_id": "s1"})).await;
    assert_eq!(read["code"], "duplicate_request", "{read}");
    // The same requests replay.
    assert_eq!(ask(&mut c, spin("s1", "1.00")).await, spun);
    assert_eq!(c.balance().await, balance, "nothing moved");

    // After a restart the cache is empty: the ledger tells the requests apart.
    drop(c);
    let status = server.sigterm();
    assert!(status.success(), "{status:?}");
    let restarted = Server::spawn(&server.config, &server.data_dir);
    let mut c = Client::connect(&restarted, &session.token).await;
    let balance = c.balance().await;
    ask(
        &mut c,
        json!({"type": "join_table", "req_id": "j2", "table": "baccarat_1"}),
    )
    .await;
    wait_for(&mut c, "betting open", fresh_betting_open).await;
    for other in [baccarat("s1"), spin("b1", "1.00"), spin("s1", "5.00")] {
        let reply = ask(&mut c, other.clone()).await;
        assert_eq!(reply["code"], "duplicate_request", "{other}: {reply}");
    }
    let replayed = ask(&mut c, spin("s1", "1.00")).await;
    assert_eq!(replayed["round_id"], spun["round_id"], "{replayed}");
    assert_eq!(c.balance().await, balance, "nothing moved");
    let (ok, report) = restarted.audit();
    assert!(ok, "{report}");
}

/// VmRSS of a process, in KiB (Linux).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_with_fresh_req_ids_do_not_grow_the_reply_cache() {
    let server = NodeConfig::shipped()
        .fast()
        .no_tables()
        .with(|c| {
            c.session.rate_per_second = 10_000;
            c.session.burst = 10_000;
        })
        .start();
    let session = open_session(&server, "reads").await;
    let mut c = Client::connect(&server, &session.token).await;
    for i in 0..50 {
        let r = ask(&mut c, spin(&format!("h{i}"), "0.05")).await;
        assert_eq!(r["type"], "spin_result", "{r}");
    }
    let history = json!({"type": "history", "req_id": "warm", "limit": 50});
    let one = ask(&mut c, history).await;
    let reply_bytes = one.to_string().len();
    assert!(reply_bytes > 10_000, "a big reply: {reply_bytes} bytes");
    let pid = server.child.id();
    let before = rss_kib(pid);
    const READS: usize = 3_000;
    for i in 0..READS {
        let r = ask(
            &mut c,
            json!({"type": "history", "req_id": format!("r{i}"), "limit": 50}),
        )
        .await;
        assert_eq!(r["type"], "history", "{r}");
    }
    let grown_kib = rss_kib(pid).saturating_sub(before);
    // Kept, they would be READS x reply_bytes (about 45 MB); nothing of them is kept.
    let if_kept_kib = (READS * reply_bytes / 1024) as u64;
    assert!(
        grown_kib < if_kept_kib / 4,
        "RSS grew {grown_kib} KiB over {READS} reads of {reply_bytes} bytes"
    );
    eprintln!("{READS} history reads of {reply_bytes} bytes: RSS +{grown_kib} KiB (kept: ~{if_kept_kib} KiB)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_and_sign_ups_are_bounded() {
    let server = NodeConfig::shipped()
        .no_tables()
        .with(|c| {
            c.session.max_connections_per_player = 3;
            c.server.max_connections_per_address = 5;
            c.auth.demo_signups_per_address_per_minute = 4;
        })
        .start();
    // Sign-ups: four from this address, then 429 and no account made.
    let mut sessions = Vec::new();
    for i in 0..4 {
        sessions.push(open_session(&server, &format!("s{i}")).await);
    }
    let (status, body) = post_session(&server, None, json!({})).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["code"], "rate_limited");
    let (ok, report) = server.audit();
    assert!(ok && report.contains("accounts 4 "), "{report}");

    // Connections: three per player, five per address; a closed one gives its place back.
    let mut first = Vec::new();
    for _ in 0..3 {
        first.push(Client::connect(&server, &sessions[0].token).await);
    }
    assert_eq!(upgrade_status(&server, &sessions[0].token).await, 429);
    first.pop();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    first.push(Client::connect(&server, &sessions[0].token).await);
    let mut second = Vec::new();
    for _ in 0..2 {
        second.push(Client::connect(&server, &sessions[1].token).await);
    }
    assert_eq!(
        upgrade_status(&server, &sessions[2].token).await,
        429,
        "the address holds five"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_holds_at_most_its_websockets_and_a_closed_one_frees_its_place() {
    let server = NodeConfig::shipped()
        .no_tables()
        .with(|c| c.server.max_websockets = 3)
        .start();
    let mut sessions = Vec::new();
    for i in 0..4 {
        sessions.push(open_session(&server, &format!("w{i}")).await);
    }
    let mut open = Vec::new();
    for session in &sessions[..3] {
        open.push(Client::connect(&server, &session.token).await);
    }
    let refused = tokio_tungstenite::connect_async(server.ws_request(&sessions[3].token)).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 503);
            let body: Value = serde_json::from_slice(response.body().as_deref().unwrap()).unwrap();
            assert_eq!(body["code"], "server_busy", "{body}");
            assert!(
                body["message"]
                    .as_str()
                    .unwrap()
                    .contains("server.max_websockets"),
                "{body}"
            );
        }
        other => panic!("a fourth socket on a node of three: {other:?}"),
    }
    // The three still play; closing one gives its place to the fourth.
    let spin = open[0]
        .request(
            json!({"type": "spin", "req_id": "after-refusal", "game": "starfall",
                        "bet": "1.00"}),
        )
        .await;
    assert_eq!(spin["type"], "spin_result", "{spin}");
    open.pop();
    let mut fourth = None;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if upgrade_status(&server, &sessions[3].token).await == 101 {
            fourth = Some(());
            break;
        }
    }
    assert!(fourth.is_some(), "the closed socket's place was given back");
}

/// Sends `request` as raw bytes on a fresh connection; the answer's status and body.
async fn raw_answer(server: &Server, request: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = server.base.trim_start_matches("http://").to_string();
    let mut socket = tokio::net::TcpStream::connect(&address).await.unwrap();
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        socket.read_to_end(&mut answer),
    )
    .await;
    let text = String::from_utf8_lossy(&answer).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_upgrades_get_clear_answers_and_spend_no_ticket() {
    let server = NodeConfig::shipped().no_tables().start();
    let session = open_session(&server, "handshake").await;
    let (_, body) = ticket(&server, Some(&session.token)).await;
    let t = body["ticket"].as_str().unwrap().to_string();
    let head = |method: &str, path: &str, extra: &str| {
        format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n{extra}\r\n"
        )
    };
    let key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    let version = "Sec-WebSocket-Version: 13\r\n";
    let ws = format!("/v1/ws?ticket={t}");
    for (request, status, says) in [
        (head("GET", &ws, key), 426, "Sec-WebSocket-Version"),
        (head("GET", &ws, &format!("{version}Sec-WebSocket-Key: short\r\n")), 400, "Sec-WebSocket-Key"),
        (head("GET", &ws, version), 400, "Sec-WebSocket-Key"),
        (head("POST", &ws, &format!("{key}{version}")), 400, "GET"),
        (head("GET", "/v1/sessions", &format!("{key}{version}")), 404, "/v1/ws"),
        (
            format!("GET {ws} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n{key}{version}\r\n"),
            400,
            "websocket",
        ),
    ] {
        let (got, body) = raw_answer(&server, &request).await;
        assert_eq!(got, status, "{request:?}: {body}");
        let body: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
        assert_eq!(body["code"], "bad_request", "{body}");
        assert!(body["message"].as_str().unwrap().contains(says), "{body}");
    }
    // A GET of /v1/ws that asks for no upgrade at all reaches the routes: 400 too.
    let plain = reqwest::get(format!("{}/v1/ws", server.base))
        .await
        .unwrap();
    assert_eq!(plain.status().as_u16(), 400);
    // None of them spent the ticket: it still opens the socket, once.
    let ws_url = server.base.replace("http://", "ws://");
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("{ws_url}{ws}"))
        .await
        .expect("the ticket is still good");
    let welcome = next_json(&mut socket).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_sent_byte_by_byte_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = NodeConfig::shipped()
        .no_tables()
        .with(|c| c.server.body_timeout_seconds = 1)
        .start();
    let address = server.base.trim_start_matches("http://").to_string();
    let mut slow = tokio::net::TcpStream::connect(&address).await.unwrap();
    slow.write_all(
        b"POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{",
    )
    .await
    .unwrap();
    let started = std::time::Instant::now();
    let mut answer = Vec::new();
    // A byte every 300 ms; bounded to 20 bytes (6 s).
    for _ in 0..20 {
        let mut buf = [0u8; 512];
        match tokio::time::timeout(std::time::Duration::from_millis(300), slow.read(&mut buf)).await
        {
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => {
                answer.extend_from_slice(&buf[..n]);
                break;
            }
            Ok(Err(_)) => break,
            Err(_) => {}
        }
        if slow.write_all(b" ").await.is_err() {
            break;
        }
        assert_eq!(
            reqwest::get(format!("{}/health/live", server.base))
                .await
                .unwrap()
                .status(),
            200,
            "the node keeps answering"
        );
    }
    let waited = started.elapsed();
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(
        waited < std::time::Duration::from_secs(3),
        "cut off after {waited:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_frames_and_pings_are_rate_limited_and_a_flood_is_closed() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    let server = NodeConfig::shipped()
        .no_tables()
        .with(|c| {
            c.session.rate_per_second = 5;
            c.session.burst = 5;
            c.session.flood_close_after = 30;
        })
        .start();
    for flood in [
        Message::Binary(vec![7u8; 60_000].into()),
        Message::Ping(vec![1u8; 100].into()),
    ] {
        let session = open_session(&server, "flood").await;
        let mut c = Client::connect(&server, &session.token).await;
        for _ in 0..200 {
            if c.ws.send(flood.clone()).await.is_err() {
                break;
            }
        }
        assert_eq!(
            closed_within(&mut c, std::time::Duration::from_secs(5))
                .await
                .as_deref(),
            Some("rate limit exceeded"),
            "{:?} flood",
            flood
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_endpoints_live_on_their_own_listener_with_their_own_key() {
    const ADMIN_KEY: &str = "admin-key-9f86d081884c7d659a2feaa0c55ad015";
    let server = NodeConfig::shipped()
        .no_tables()
        .operators(&operators())
        .with(|c| c.auth.admin_key = ADMIN_KEY.into())
        .start();
    let http = reqwest::Client::new();
    // Where players connect, and where operators call: none of it.
    for (base, method, path) in [
        (&server.base, "GET", "/metrics"),
        (&server.base, "GET", "/v1/cluster"),
        (&server.base, "POST", "/v1/admin/drain"),
        (&server.base, "POST", "/v1/admin/reload"),
        (&server.base, "GET", "/v1/admin/players/alice"),
        (&server.base, "POST", "/v1/operator/sessions/revoke"),
        (&server.base, "POST", "/v1/operator/launch"),
        (&server.operator, "POST", "/v1/admin/drain"),
        (&server.operator, "POST", "/v1/admin/reload"),
        (&server.operator, "GET", "/metrics"),
        (&server.operator, "POST", "/v1/sessions"),
    ] {
        let url = format!("{base}{path}");
        let request = if method == "GET" {
            http.get(url)
        } else {
            http.post(url)
        };
        let status = request
            .bearer_auth(ADMIN_KEY)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 404, "{method} {base}{path}");
    }
    // On the admin listener: metrics and the cluster view; draining needs the admin key, and
    // the operator's key (which opens sessions) is not it.
    let metrics = http
        .get(format!("{}/metrics", server.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    let drain = format!("{}/v1/admin/drain", server.admin);
    let reload = format!("{}/v1/admin/reload", server.admin);
    for key in [OPERATOR_KEY, "", "wrong-key-5ad015a3bf4f1b2b0b822cd15d6c1"] {
        for url in [&drain, &reload] {
            let status = http
                .post(url)
                .bearer_auth(key)
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(status, 401, "{url} with {key:?}");
        }
    }
    let status = http
        .post(&drain)
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 202);
}
