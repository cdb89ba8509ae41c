//! `Client`: a real WebSocket player, and helpers that wait for frames.

use croupier::protocol::ServerFrame;

use super::*;

/// Server pushes that may interleave with any reply when jackpots are on.
pub const JACKPOT_PUSHES: [&str; 2] = ["jackpot_update", "jackpot_won"];

pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub welcome: Value,
    /// The session token it connected with (to reconnect as the same player).
    pub token: String,
}

impl Client {
    pub async fn connect(server: &Server, token: &str) -> Client {
        Self::connect_at(&server.base, token).await
    }

    /// [`Client::connect`] at any base URL (a load balancer in front of nodes).
    pub async fn connect_at(base: &str, token: &str) -> Client {
        let (mut ws, _) = ws_connect(ws_request(base, token))
            .await
            .expect("websocket upgrade");
        let welcome = next_json(&mut ws).await;
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        Client {
            ws,
            welcome,
            token: token.to_string(),
        }
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws.send(Message::Text(text.into())).await.unwrap();
    }

    pub async fn send(&mut self, frame: Value) {
        self.send_text(&frame.to_string()).await;
    }

    /// Sends, reporting a broken connection instead of panicking.
    pub async fn ws_send(
        &mut self,
        frame: Value,
    ) -> Result<(), tokio_tungstenite::tungstenite::Error> {
        self.ws.send(Message::Text(frame.to_string().into())).await
    }

    /// The next JSON text frame, or `None` if the connection broke or closed.
    pub async fn try_recv(&mut self) -> Option<Value> {
        try_next_json(&mut self.ws).await
    }

    pub async fn recv(&mut self) -> Value {
        next_json(&mut self.ws).await
    }

    /// Sends a frame and returns the next frame that is not a jackpot push (pool updates and
    /// win announcements arrive at any time when jackpots are on).
    pub async fn request(&mut self, frame: Value) -> Value {
        self.send(frame).await;
        loop {
            let reply = self.recv().await;
            if !JACKPOT_PUSHES.contains(&reply["type"].as_str().unwrap_or("")) {
                return reply;
            }
        }
    }

    pub async fn balance(&mut self) -> String {
        let reply = self
            .request(json!({"type": "balance", "req_id": format!("bal-{}", uuid_like())}))
            .await;
        assert_eq!(reply["type"], "balance", "{reply}");
        reply["balance"].as_str().unwrap().to_string()
    }
}

/// The next JSON text frame, or `None` if the connection broke, closed or stayed silent for
/// [`REPLY_TIMEOUT`].
/// A frame the server sent, checked against the protocol's own types: every frame a test
/// receives must parse as a `croupier::protocol::ServerFrame` (which refuses unknown fields),
/// so the server, `docs/protocol.md` and the types cannot drift apart. Returned as JSON for
/// the assertions; [`typed`] gives the frame itself.
pub fn parsed(text: &str) -> Value {
    if let Err(error) = serde_json::from_str::<ServerFrame>(text) {
        panic!("the server sent a frame the protocol types do not describe ({error}): {text}");
    }
    serde_json::from_str(text).expect("server sends JSON")
}

/// A received frame as the protocol's type.
pub fn typed(frame: &Value) -> ServerFrame {
    serde_json::from_value(frame.clone()).expect("a frame parsed by `parsed`")
}

pub async fn try_next_json(ws: &mut WebSocketStream<MaybeTlsStream<TcpStream>>) -> Option<Value> {
    loop {
        let message = tokio::time::timeout(REPLY_TIMEOUT, ws.next())
            .await
            .ok()??
            .ok()?;
        match message {
            Message::Text(text) => return Some(parsed(&text)),
            Message::Close(_) => return None,
            _ => continue,
        }
    }
}

/// The next text frame as JSON (pings and pongs skipped), or a panic after [`REPLY_TIMEOUT`].
pub async fn next_json(ws: &mut WebSocketStream<MaybeTlsStream<TcpStream>>) -> Value {
    loop {
        let message = tokio::time::timeout(REPLY_TIMEOUT, ws.next())
            .await
            .expect("reply within the timeout")
            .expect("connection open")
            .expect("valid websocket message");
        match message {
            Message::Text(text) => return parsed(&text),
            Message::Close(frame) => {
                return json!({"type": "__closed", "frame": format!("{frame:?}")})
            }
            _ => continue,
        }
    }
}

/// Betting time a test needs left in a round to place its handful of bets; a `betting_open`
/// read later than that (the test stalled, frames queued) is skipped for the next round's.
pub const BETTING_LEFT_NEEDED_MS: i64 = 1_500;

/// Whether `frame` opens betting with at least [`BETTING_LEFT_NEEDED_MS`] still to go.
pub fn fresh_betting_open(frame: &Value) -> bool {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    frame["type"] == "betting_open"
        && frame["closes_at"].as_i64().unwrap_or(0) - now_ms >= BETTING_LEFT_NEEDED_MS
}

/// Frames a test reads while waiting for one kind: live tables push about one frame a second.
pub const MAX_FRAMES_WAITED: usize = 600;

/// Reads frames until one matches, skipping the others (countdowns, other events).
pub async fn wait_for(client: &mut Client, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..MAX_FRAMES_WAITED {
        let frame = client.recv().await;
        assert_ne!(frame["type"], "__closed", "closed while waiting for {what}");
        if pred(&frame) {
            return frame;
        }
    }
    panic!("no {what} within {MAX_FRAMES_WAITED} frames");
}

/// A new demo player's connection seated at `table` (its `table_state` checked).
pub async fn seated(server: &Server, player: &str, table: &str) -> Client {
    let session = open_session(server, player).await;
    let mut client = Client::connect(server, &session.token).await;
    let state = ask(
        &mut client,
        json!({"type": "join_table", "req_id": format!("join-{player}"), "table": table}),
    )
    .await;
    assert_eq!(state["type"], "table_state", "{state}");
    assert_eq!(state["table"]["id"], table);
    client
}

/// Sends a request and waits for the frame answering its `req_id` (pushes skipped).
pub async fn ask(client: &mut Client, frame: Value) -> Value {
    let req_id = frame["req_id"].clone();
    client.send(frame).await;
    wait_for(client, "the reply", |f| f["req_id"] == req_id).await
}
