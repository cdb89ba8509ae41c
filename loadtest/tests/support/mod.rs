//! A small in-process stand-in for croupier, enough for the tester's own tests: sessions, games,
//! the WebSocket with `welcome`, `spin` (wins, free spins), `balance`, and the per-player reply
//! cache (a resent `req_id` gets the first reply). `cheat_on_resend` makes it charge a resend
//! again, so the tests can prove the money audit catches a double charge.

#![allow(dead_code)]

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
pub struct MockConfig {
    pub start_balance: Decimal,
    pub cheat_on_resend: bool,
    pub min_bet: Decimal,
}

impl Default for MockConfig {
    fn default() -> Self {
        MockConfig {
            start_balance: Decimal::new(100_000, 2),
            cheat_on_resend: false,
            min_bet: Decimal::new(10, 2),
        }
    }
}

struct PlayerState {
    balance: Decimal,
    free_spins: u32,
    free_bet: Decimal,
    rng: u64,
    replies: HashMap<String, String>,
}

#[derive(Clone)]
struct AppState {
    cfg: MockConfig,
    players: Arc<Mutex<HashMap<String, PlayerState>>>,
}

/// Starts the mock on 127.0.0.1 (any port) and returns its `http://` base URL.
pub async fn start_mock(cfg: MockConfig) -> String {
    let state = AppState {
        cfg,
        players: Arc::new(Mutex::new(HashMap::new())),
    };
    let app = Router::new()
        .route("/v1/sessions", post(open_session))
        .route("/v1/games", get(games))
        .route("/v1/ws", get(ws))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("bind mock");
    let addr = listener.local_addr().expect("mock addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

fn money(d: Decimal) -> String {
    format!("{:.2}", d)
}

async fn open_session(State(st): State<AppState>, Json(body): Json<Value>) -> Response {
    // Like croupier's demo mode: the server chooses the player; naming one is refused.
    if body.get("player_id").is_some() {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"code": "bad_request"})),
        )
            .into_response();
    }
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let player = format!("demo-{n}");
    let player = player.as_str();
    let mut players = st.players.lock().expect("lock");
    let seed = player.bytes().fold(0x9e37_79b9_7f4a_7c15u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let p = players
        .entry(player.to_owned())
        .or_insert_with(|| PlayerState {
            balance: st.cfg.start_balance,
            free_spins: 0,
            free_bet: Decimal::ZERO,
            rng: seed | 1,
            replies: HashMap::new(),
        });
    let reply = json!({"token": format!("tok.{player}"), "player_id": player, "currency": "EUR",
        "balance": money(p.balance), "expires_at": 1_795_000_000u64});
    (StatusCode::CREATED, Json(reply)).into_response()
}

async fn games(State(st): State<AppState>) -> Json<Value> {
    Json(
        json!({"games": [{"id": "classic_sevens", "name": "Classic Sevens", "reels": 3,
        "rows": 3, "lines": 5, "min_bet": money(st.cfg.min_bet), "max_bet": "50.00",
        "bet_step": "0.05"}]}),
    )
}

async fn ws(
    ws: WebSocketUpgrade,
    headers: axum::http::HeaderMap,
    State(st): State<AppState>,
) -> Response {
    // The token comes as a bearer, as croupier takes it (never in the URL).
    let player = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer tok."))
        .map(str::to_owned);
    let known = player
        .as_ref()
        .is_some_and(|p| st.players.lock().expect("lock").contains_key(p));
    match (player, known) {
        (Some(p), true) => ws.on_upgrade(move |socket| session(socket, st, p)),
        _ => (
            StatusCode::UNAUTHORIZED,
            Json(json!({"code": "invalid_token"})),
        )
            .into_response(),
    }
}

async fn session(mut socket: WebSocket, st: AppState, player: String) {
    let welcome = {
        let players = st.players.lock().expect("lock");
        let balance = players.get(&player).map(|p| p.balance).unwrap_or_default();
        json!({"type": "welcome", "session_id": "s", "player_id": player, "currency": "EUR",
            "balance": money(balance), "free_spins": [],
            "limits": {"max_frame_bytes": 4096, "rate_per_second": 1000, "burst": 1000}})
    };
    if socket
        .send(Message::Text(welcome.to_string().into()))
        .await
        .is_err()
    {
        return;
    }
    while let Some(Ok(msg)) = socket.recv().await {
        let Message::Text(text) = msg else { continue };
        let reply = handle(&st, &player, text.as_str());
        if socket.send(Message::Text(reply.into())).await.is_err() {
            return;
        }
    }
}

fn error(req_id: &str, code: &str) -> String {
    json!({"type": "error", "req_id": req_id, "code": code, "message": code}).to_string()
}

fn handle(st: &AppState, player: &str, text: &str) -> String {
    let Ok(frame) = serde_json::from_str::<Value>(text) else {
        return error("", "bad_frame");
    };
    let req_id = frame
        .get("req_id")
        .and_then(|r| r.as_str())
        .unwrap_or("")
        .to_owned();
    let mut players = st.players.lock().expect("lock");
    let Some(p) = players.get_mut(player) else {
        return error(&req_id, "internal");
    };
    let kind = frame.get("type").and_then(|t| t.as_str()).unwrap_or("");
    if let Some(first) = p.replies.get(&req_id) {
        if st.cfg.cheat_on_resend && kind == "spin" {
            // The bug the audit must catch: a resend charged again.
            if let Some(bet) = frame.get("bet").and_then(|b| b.as_str()) {
                p.balance -= Decimal::from_str(bet).unwrap_or_default();
            }
        }
        return first.clone();
    }
    let reply = match kind {
        "spin" => {
            let Some(bet) = frame
                .get("bet")
                .and_then(|b| b.as_str())
                .and_then(|b| Decimal::from_str(b).ok())
            else {
                return error(&req_id, "bad_amount");
            };
            let free = p.free_spins > 0;
            if !free && p.balance < bet {
                return error(&req_id, "insufficient_funds");
            }
            let (debit, stake) = if free {
                p.free_spins -= 1;
                (Decimal::ZERO, p.free_bet)
            } else {
                (bet, bet)
            };
            // xorshift64
            p.rng ^= p.rng << 13;
            p.rng ^= p.rng >> 7;
            p.rng ^= p.rng << 17;
            let roll = p.rng % 100;
            // Return to player ≈ 0.89 + free spins ≈ 0.94: players lose money over time.
            let mult = match roll {
                0..=64 => 0,
                65..=79 => 1,
                80..=91 => 2,
                92..=97 => 5,
                _ => 10,
            };
            let win = stake * Decimal::from(mult);
            let awarded = if !free && (p.rng >> 8) % 50 == 0 {
                3
            } else {
                0
            };
            if awarded > 0 {
                p.free_spins += awarded;
                p.free_bet = bet;
            }
            p.balance = p.balance - debit + win;
            json!({"type": "spin_result", "req_id": req_id, "round_id": format!("r-{}", p.rng),
                "game": "classic_sevens", "bet": money(debit), "win": money(win),
                "balance": money(p.balance), "free_spin": free,
                "outcome": {"stops": [1, 2, 3], "grid": [["A", "B", "C"]], "line_wins": [],
                    "scatter_win": null, "free_spins_awarded": awarded, "multiplier": 1,
                    "win_multiple": mult.to_string()},
                "free_spins_remaining": p.free_spins})
            .to_string()
        }
        "balance" => json!({"type": "balance", "req_id": req_id, "currency": "EUR",
            "balance": money(p.balance)})
        .to_string(),
        _ => return error(&req_id, "unknown_type"),
    };
    p.replies.insert(req_id, reply.clone());
    reply
}
