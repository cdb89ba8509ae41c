//! One virtual player: its session, its WebSocket, its spin loop (closed or open loop), its
//! books, and the resend-with-the-same-`req_id` path after a dropped connection (including the
//! deliberate drops of `--chaos-drop`), then its part of the money audit.
//!
//! About 730 lines, on purpose: connecting, the spin loop and resending after a drop share one
//! player's state (pending spin, books, sequence), and the exactly-once checks are only
//! readable with the three side by side. The wire format is the core crate's (`protocol`).

use crate::books::{Booked, Books, PlayerAudit};
use crate::limits;
use crate::metrics::{Kind, Metrics};
use crate::protocol::{self, Limits, ServerFrame, SpinResult};
use crate::target::{self, Target};
use futures_util::{SinkExt, StreamExt};
use rust_decimal::Decimal;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::{watch, Semaphore};
use tokio::time::{sleep, sleep_until, timeout, timeout_at};
use tokio_tungstenite::tungstenite::{self, protocol::WebSocketConfig, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What every player of a run shares.
pub struct Shared {
    pub metrics: Arc<Metrics>,
    pub http: reqwest::Client,
    pub connect_slots: Semaphore,
    pub session_slots: Semaphore,
    pub ws_config: WebSocketConfig,
    pub echo: Option<EchoPad>,
    pub currency: String,
    pub bet: Decimal,
    pub spins_per_player: Option<u64>,
    /// No spin is sent after this instant.
    pub spin_deadline: Instant,
    /// Open loop: the instant of global slot 0 and the time between one player's slots.
    pub schedule: Option<Schedule>,
    pub think_time: Duration,
    pub ignore_rate_limit: bool,
    pub chaos_drop: Option<u64>,
    pub stop: watch::Receiver<bool>,
}

/// Echo mode: the padding that grows a spin frame to the size of a spin result.
pub struct EchoPad(pub String);

/// Open-loop schedule: player `i` sends at `t0 + i/rate + k·interval`, so all players together
/// send evenly at `rate`; latency is measured from these instants (no coordinated omission).
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    pub t0: Instant,
    pub rate: f64,
    pub interval: Duration,
}

/// A WebSocket that keeps the "connected" gauge right when it goes away.
struct Conn {
    ws: Ws,
    metrics: Arc<Metrics>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.metrics.connection_closed();
    }
}

/// A spin that was sent and not answered yet: resent as is until answered.
#[derive(Debug, Clone)]
struct PendingSpin {
    seq: u64,
    req_id: String,
    text: String,
}

/// What one exchange (send, maybe resend, read the reply) gave.
struct Reply {
    frame: ServerFrame,
    raw: tungstenite::Utf8Bytes,
}

pub struct Player {
    pub idx: usize,
    pub id: String,
    pub game: String,
    target: Arc<Target>,
    shared: Arc<Shared>,
    token: Option<String>,
    conn: Option<Conn>,
    pub books: Option<Books>,
    next_seq: u64,
    pending: Option<PendingSpin>,
    limits: Limits,
    /// Why the spin loop ended before its deadline / spin count, if it did.
    pub stopped: Option<String>,
}

fn ws_reason(e: &tungstenite::Error) -> String {
    use tungstenite::Error as E;
    match e {
        E::Io(io) => limits::io_reason(io),
        E::Http(resp) => {
            let code = resp
                .body()
                .as_deref()
                .and_then(|b| serde_json::from_slice::<crate::protocol::HttpError>(b).ok())
                .map(|e| format!(" {}", e.code))
                .unwrap_or_default();
            format!("HTTP {}{code}", resp.status().as_u16())
        }
        E::ConnectionClosed | E::AlreadyClosed => "closed".into(),
        E::Protocol(p) => format!("protocol: {p}"),
        E::Capacity(c) => format!("capacity: {c}"),
        other => other.to_string(),
    }
}

fn is_busy(code: &str) -> bool {
    matches!(code, "server_busy" | "service_unavailable")
}

impl Player {
    pub fn new(
        idx: usize,
        id: String,
        game: String,
        target: Arc<Target>,
        shared: Arc<Shared>,
    ) -> Self {
        Player {
            idx,
            id,
            game,
            target,
            shared,
            token: None,
            conn: None,
            books: None,
            next_seq: 0,
            pending: None,
            limits: Limits::default(),
            stopped: None,
        }
    }

    fn metrics(&self) -> &Metrics {
        &self.shared.metrics
    }

    fn stop_requested(&self) -> bool {
        *self.shared.stop.borrow()
    }

    /// Sleeps until `t`; false if the run was stopped meanwhile.
    async fn sleep_until_or_stop(&self, t: Instant) -> bool {
        let mut stop = self.shared.stop.clone();
        if *stop.borrow() {
            return false;
        }
        tokio::select! {
            _ = sleep_until(t.into()) => true,
            _ = stop.wait_for(|s| *s) => false,
        }
    }

    /// Opens the session (server mode) and the WebSocket. False if the player cannot play.
    pub async fn start(&mut self, at: Instant) -> bool {
        let ok = self.start_inner(at).await;
        self.metrics().started.fetch_add(1, Relaxed);
        ok
    }

    async fn start_inner(&mut self, at: Instant) -> bool {
        if !self.sleep_until_or_stop(at).await {
            self.stopped = Some("stopped before start".into());
            return false;
        }
        if self.shared.echo.is_none() {
            if let Err(why) = self.open_session().await {
                self.stopped = Some(why);
                return false;
            }
        }
        for attempt in 0..limits::SESSION_ATTEMPTS {
            if attempt > 0 {
                sleep(limits::RECONNECT_BACKOFF * attempt).await;
            }
            if self.connect().await.is_ok() {
                if self.shared.echo.is_some() {
                    // Echo mode has no session: a player counts as started once connected.
                    self.metrics().sessions.fetch_add(1, Relaxed);
                }
                return true;
            }
        }
        self.stopped = Some("could not connect the WebSocket".into());
        // With a session, the books still get audited (nothing was spent).
        self.books.is_some()
    }

    async fn open_session(&mut self) -> Result<(), String> {
        let mut last = String::new();
        let mut started;
        for attempt in 0..limits::SESSION_ATTEMPTS {
            if attempt > 0 {
                sleep(limits::RECONNECT_BACKOFF * attempt).await;
            }
            let res = {
                let _slot = self.shared.session_slots.acquire().await;
                started = Instant::now();
                target::open_session(&self.shared.http, &self.target, &self.shared.currency).await
            };
            match res {
                Ok(reply) => {
                    self.metrics()
                        .record(self.idx, Kind::Session, started.elapsed());
                    self.metrics().sessions.fetch_add(1, Relaxed);
                    self.books = Some(Books::new(reply.balance));
                    self.token = Some(reply.token);
                    // The server chose the (demo) player: reports name it.
                    self.id = reply.player_id;
                    return Ok(());
                }
                Err(e) => {
                    last = e.to_string();
                    self.metrics().connection_failure(&last);
                    if !e.retryable() {
                        break;
                    }
                }
            }
        }
        Err(last)
    }

    /// Connects the WebSocket and reads `welcome`. Failures are counted by reason.
    async fn connect(&mut self) -> Result<(), String> {
        self.conn = None;
        let request = self.target.ws_request(self.token.as_deref())?;
        // The slot bounds handshakes under way (through `welcome`); waiting for one is the
        // tester's own queue, so the timeout and the connect latency start once it is held.
        let shared = self.shared.clone();
        let _slot = shared.connect_slots.acquire().await;
        let started = Instant::now();
        let deadline = started + limits::WS_CONNECT_TIMEOUT;
        let res = timeout_at(
            deadline.into(),
            tokio_tungstenite::connect_async_with_config(
                request,
                Some(self.shared.ws_config),
                true,
            ),
        )
        .await;
        let mut ws = match res {
            Err(_) => return Err(self.connect_failed("ws connect: timeout".into())),
            Ok(Err(e)) => return Err(self.connect_failed(format!("ws connect: {}", ws_reason(&e)))),
            Ok(Ok((ws, _))) => ws,
        };
        // The first frame is `welcome`.
        let welcome = loop {
            match timeout_at(deadline.into(), ws.next()).await {
                Err(_) => return Err(self.connect_failed("welcome: timeout".into())),
                Ok(None) => return Err(self.connect_failed("welcome: closed".into())),
                Ok(Some(Err(e))) => {
                    return Err(self.connect_failed(format!("welcome: {}", ws_reason(&e))))
                }
                Ok(Some(Ok(Message::Text(t)))) => match ServerFrame::parse(&t) {
                    Ok(f @ ServerFrame::Welcome { .. }) => break f,
                    _ => {
                        self.metrics().unexpected_frames.fetch_add(1, Relaxed);
                    }
                },
                Ok(Some(Ok(Message::Close(c)))) => {
                    let why = c
                        .map(|c| format!("{} {}", u16::from(c.code), c.reason))
                        .unwrap_or_default();
                    return Err(self.connect_failed(format!("welcome: closed {why}")));
                }
                // Pings are answered by tungstenite.
                Ok(Some(Ok(_))) => {}
            }
        };
        if let ServerFrame::Welcome {
            balance, limits, ..
        } = welcome
        {
            if let Some(l) = limits {
                self.limits = l;
                if let Some(r) = l.rate_per_second {
                    self.metrics().server_rate_limit.store(r, Relaxed);
                }
            }
            // With nothing in flight, the welcome balance must already match the books.
            if let (Some(b), Some(books), None) = (balance, self.books.as_mut(), &self.pending) {
                if b != books.expected() && books.drift.len() < 5 {
                    let note = format!("welcome: server balance {b}, books {}", books.expected());
                    books.drift.push(note);
                }
            }
        }
        self.metrics()
            .record(self.idx, Kind::Connect, started.elapsed());
        self.metrics().connection_opened();
        self.conn = Some(Conn {
            ws,
            metrics: self.shared.metrics.clone(),
        });
        Ok(())
    }

    fn connect_failed(&self, reason: String) -> String {
        self.metrics().connection_failure(&reason);
        reason
    }

    /// Sends `text` (whose `req_id` is `req_id`) and returns its reply. A dropped connection or a
    /// reply timeout reconnects and resends the same frame, same `req_id`, a bounded number of
    /// times. `chaos` drops the connection on purpose right after the first send.
    async fn exchange(&mut self, req_id: &str, text: &str, chaos: bool) -> Result<Reply, String> {
        let mut attempt: u32 = 0;
        let mut last_failure = String::new();
        loop {
            if attempt > limits::MAX_RECONNECTS_PER_REQUEST {
                return Err(format!("no reply after {attempt} attempts: {last_failure}"));
            }
            if self.conn.is_none() {
                if attempt > 0 {
                    sleep(limits::RECONNECT_BACKOFF * attempt).await;
                }
                if let Err(why) = self.connect().await {
                    last_failure = why;
                    attempt += 1;
                    continue;
                }
            }
            if attempt > 0 {
                self.metrics().retries.fetch_add(1, Relaxed);
            }
            let Some(conn) = self.conn.as_mut() else {
                continue;
            };
            let sent = timeout(
                limits::REPLY_TIMEOUT,
                conn.ws.send(Message::text(text.to_owned())),
            )
            .await;
            match sent {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    last_failure = format!("send: {}", ws_reason(&e));
                    self.dropped(false);
                    attempt += 1;
                    continue;
                }
                Err(_) => {
                    last_failure = "send: timeout".into();
                    self.dropped(true);
                    attempt += 1;
                    continue;
                }
            }
            if chaos && attempt == 0 {
                // Drop the socket without a close handshake, as a network failure would.
                self.conn = None;
                self.metrics().chaos_drops.fetch_add(1, Relaxed);
                attempt += 1;
                continue;
            }
            match self.read_reply(req_id).await {
                Ok(r) => return Ok(r),
                Err((why, timed_out)) => {
                    last_failure = why;
                    self.dropped(timed_out);
                    attempt += 1;
                }
            }
        }
    }

    fn dropped(&mut self, timed_out: bool) {
        self.conn = None;
        self.metrics().drops.fetch_add(1, Relaxed);
        if timed_out {
            self.metrics().timeouts.fetch_add(1, Relaxed);
        }
    }

    /// Reads until the reply to `req_id`. Err: (why, was it a timeout).
    async fn read_reply(&mut self, req_id: &str) -> Result<Reply, (String, bool)> {
        let deadline = Instant::now() + limits::REPLY_TIMEOUT;
        let metrics = self.shared.metrics.clone();
        let Some(conn) = self.conn.as_mut() else {
            return Err(("not connected".into(), false));
        };
        loop {
            let msg = match timeout_at(deadline.into(), conn.ws.next()).await {
                Err(_) => return Err(("reply timeout".into(), true)),
                Ok(None) => return Err(("closed".into(), false)),
                Ok(Some(Err(e))) => return Err((ws_reason(&e), false)),
                Ok(Some(Ok(m))) => m,
            };
            match msg {
                Message::Text(raw) => match ServerFrame::parse(&raw) {
                    Ok(frame) if frame.req_id() == Some(req_id) => return Ok(Reply { frame, raw }),
                    Ok(ServerFrame::Reconnect { .. }) => {
                        metrics.reconnect_pushes.fetch_add(1, Relaxed);
                    }
                    Ok(_) => {
                        metrics.unexpected_frames.fetch_add(1, Relaxed);
                    }
                    Err(e) => {
                        // A reply to us that we cannot read (money as a number, say) is an error
                        // of the server: stop waiting for it instead of resending it forever.
                        let ours = serde_json::from_str::<serde_json::Value>(&raw)
                            .ok()
                            .and_then(|v| {
                                v.get("req_id")
                                    .and_then(|r| r.as_str())
                                    .map(|r| r == req_id)
                            })
                            .unwrap_or(false);
                        metrics.unexpected_frames.fetch_add(1, Relaxed);
                        if ours {
                            return Ok(Reply {
                                frame: ServerFrame::Error {
                                    req_id: Some(req_id.to_owned()),
                                    code: "client:unreadable_reply".into(),
                                    message: e.to_string(),
                                },
                                raw,
                            });
                        }
                    }
                },
                Message::Close(c) => {
                    let why = c
                        .map(|c| format!("closed by server: {} {}", u16::from(c.code), c.reason))
                        .unwrap_or_else(|| "closed by server".into());
                    return Err((why, false));
                }
                // Pings are answered by tungstenite; nothing else is expected.
                _ => {}
            }
        }
    }

    fn spin_text(&self, req_id: &str) -> String {
        let pad = self.shared.echo.as_ref().map(|p| p.0.as_str());
        protocol::spin_text(req_id, &self.game, self.shared.bet, pad)
    }

    /// The spin loop: until the spin count, the deadline, a stop, or an error that ends it.
    pub async fn play(&mut self) {
        if self.stopped.is_some() {
            return;
        }
        let shared = self.shared.clone();
        let mut done: u64 = 0;
        let mut consecutive_errors: u32 = 0;
        let mut last_sent: Option<Instant> = None;
        // Open loop: first slot of this player at or after now.
        let mut slot: u64 = 0;
        let mut phase = Duration::ZERO;
        if let Some(s) = shared.schedule {
            phase = Duration::from_secs_f64(self.idx as f64 / s.rate);
            let since = Instant::now().saturating_duration_since(s.t0 + phase);
            slot = since.as_nanos().div_ceil(s.interval.as_nanos().max(1)) as u64;
        }
        loop {
            if self.stop_requested() {
                self.stopped.get_or_insert_with(|| "stopped".into());
                break;
            }
            if shared.spins_per_player.is_some_and(|n| done >= n) {
                break;
            }
            let scheduled = match shared.schedule {
                Some(s) => {
                    let offset = s.interval.as_nanos().saturating_mul(u128::from(slot));
                    let t = s.t0
                        + phase
                        + Duration::from_nanos(offset.min(u128::from(u64::MAX)) as u64);
                    slot += 1;
                    if t >= shared.spin_deadline {
                        break;
                    }
                    if t > Instant::now() && !self.sleep_until_or_stop(t).await {
                        continue;
                    }
                    t
                }
                None => {
                    // Closed loop: stay under the server's per-connection rate limit.
                    if let (Some(last), Some(r), false) = (
                        last_sent,
                        self.limits.rate_per_second,
                        shared.ignore_rate_limit,
                    ) {
                        let gap = Duration::from_secs_f64(
                            1.0 / (r.max(1) as f64 * limits::RATE_LIMIT_MARGIN),
                        );
                        let t = last + gap;
                        if t > Instant::now() && !self.sleep_until_or_stop(t).await {
                            continue;
                        }
                    }
                    Instant::now()
                }
            };
            last_sent = Some(scheduled);
            if Instant::now() >= shared.spin_deadline {
                break;
            }
            let seq = self.next_seq;
            self.next_seq += 1;
            let req_id = format!("s{seq}");
            let text = self.spin_text(&req_id);
            self.pending = Some(PendingSpin { seq, req_id, text });
            let chaos = shared
                .chaos_drop
                .is_some_and(|n| (seq + 1).is_multiple_of(n));
            match self.resolve_pending(chaos, Some(scheduled)).await {
                Ok(None) => {
                    done += 1;
                    consecutive_errors = 0;
                }
                Ok(Some(code)) => {
                    consecutive_errors += 1;
                    if consecutive_errors >= limits::MAX_CONSECUTIVE_ERRORS {
                        self.stopped = Some(format!("{consecutive_errors} error frames in a row"));
                        break;
                    }
                    match code.as_str() {
                        "rate_limited" => {
                            let per_s = self.limits.rate_per_second.unwrap_or(20).max(1);
                            sleep(Duration::from_millis(1000 / per_s)).await;
                        }
                        "internal" | "round_void" => sleep(limits::BUSY_BACKOFF).await,
                        "insufficient_funds" => {
                            self.stopped = Some("insufficient funds".into());
                            break;
                        }
                        other => {
                            self.stopped = Some(format!("error frame {other}"));
                            break;
                        }
                    }
                }
                Err(why) => {
                    self.stopped = Some(why);
                    break;
                }
            }
            if shared.schedule.is_none() && !shared.think_time.is_zero() {
                let until = Instant::now() + shared.think_time;
                if !self.sleep_until_or_stop(until).await {
                    continue;
                }
            }
        }
    }

    /// Sends the pending spin until it is answered. Ok(None): booked; Ok(Some(code)): an error
    /// frame that changed nothing (pending cleared); Err: no reply (pending kept for the audit).
    async fn resolve_pending(
        &mut self,
        chaos: bool,
        scheduled: Option<Instant>,
    ) -> Result<Option<String>, String> {
        let Some(p) = self.pending.clone() else {
            return Ok(None);
        };
        let sent = Instant::now();
        self.metrics().spin_sent(sent);
        let mut busy_tries = 0;
        let reply = loop {
            let r = self
                .exchange(&p.req_id, &p.text, chaos && busy_tries == 0)
                .await?;
            match &r.frame {
                ServerFrame::Error { code, .. } if is_busy(code) => {
                    self.metrics().error_frame(code);
                    busy_tries += 1;
                    if busy_tries > limits::MAX_BUSY_RETRIES {
                        return Err(format!("still {code} after {busy_tries} tries"));
                    }
                    self.metrics().busy_retries.fetch_add(1, Relaxed);
                    sleep(limits::BUSY_BACKOFF * busy_tries).await;
                }
                _ => break r,
            }
        };
        let now = Instant::now();
        match &reply.frame {
            ServerFrame::SpinResult(r) => {
                self.pending = None;
                self.record_spin(now, sent, scheduled);
                if r.free_spin {
                    self.metrics().free_spins.fetch_add(1, Relaxed);
                }
                self.book(p.seq, r);
            }
            ServerFrame::Spin { .. } => {
                self.pending = None;
                self.record_spin(now, sent, scheduled);
            }
            ServerFrame::Error { code, .. } => {
                // Error frames never change state: the spin did not happen.
                self.pending = None;
                self.metrics().error_frame(code);
                return Ok(Some(code.clone()));
            }
            _ => {
                self.pending = None;
                self.metrics().error_frame("client:unexpected_reply_type");
                return Ok(Some("client:unexpected_reply_type".into()));
            }
        }
        if chaos {
            self.replay_probe(&p, &reply.raw).await;
        }
        Ok(None)
    }

    fn record_spin(&self, now: Instant, sent: Instant, scheduled: Option<Instant>) {
        let m = self.metrics();
        m.record(self.idx, Kind::Spin, now - scheduled.unwrap_or(sent));
        if scheduled.is_some() && self.shared.schedule.is_some() {
            m.record(self.idx, Kind::SpinService, now - sent);
        }
        m.spin_replied(now);
    }

    fn book(&mut self, seq: u64, r: &SpinResult) {
        let bet = self.shared.bet;
        if let Some(books) = self.books.as_mut() {
            // A replayed reply for a booked spin cannot reach here (each seq is resolved once).
            let _: Booked = books.book_spin(seq, bet, r);
        }
    }

    /// After a resend, sends the same `req_id` once more: the server must answer with the very
    /// first reply, byte for byte, and change nothing (checked by the audit).
    async fn replay_probe(&mut self, p: &PendingSpin, first: &tungstenite::Utf8Bytes) {
        let m = self.shared.metrics.clone();
        m.replay_checks.fetch_add(1, Relaxed);
        match self.exchange(&p.req_id, &p.text, false).await {
            Ok(again) => {
                if again.raw != *first {
                    m.replay_mismatches.fetch_add(1, Relaxed);
                }
                if let (ServerFrame::SpinResult(r), Some(books)) =
                    (&again.frame, self.books.as_mut())
                {
                    // Must be recognised as already booked.
                    if books.book_spin(p.seq, self.shared.bet, r) == Booked::New {
                        m.replay_mismatches.fetch_add(1, Relaxed);
                    }
                }
            }
            Err(_) => {
                // The connection failed again; the audit still proves the money.
            }
        }
    }

    /// The audit: resolve a spin left unanswered, then fetch the balance from the server.
    pub async fn audit(&mut self) -> Option<PlayerAudit> {
        self.books.as_ref()?;
        if self.pending.is_some() {
            match self.resolve_pending(false, None).await {
                Ok(_) => {}
                Err(why) => {
                    return Some(PlayerAudit::Unverified(format!(
                        "last spin unanswered: {why}"
                    )))
                }
            }
        }
        let mut last = String::new();
        for attempt in 0..limits::MAX_BUSY_RETRIES {
            if attempt > 0 {
                sleep(limits::BUSY_BACKOFF * attempt).await;
            }
            let req_id = format!("b{}", self.next_seq);
            self.next_seq += 1;
            let text = protocol::balance_text(&req_id);
            let started = Instant::now();
            match self.exchange(&req_id, &text, false).await {
                Ok(Reply {
                    frame: ServerFrame::Balance { balance, .. },
                    ..
                }) => {
                    self.metrics()
                        .record(self.idx, Kind::Balance, started.elapsed());
                    return Some(PlayerAudit::Balance(balance));
                }
                Ok(Reply {
                    frame: ServerFrame::Error { code, .. },
                    ..
                }) => {
                    self.metrics().error_frame(&code);
                    last = format!("balance: error {code}");
                    if !(is_busy(&code) || code == "rate_limited") {
                        break;
                    }
                }
                Ok(_) => {
                    last = "balance: unexpected reply".into();
                    break;
                }
                Err(why) => {
                    last = format!("balance: {why}");
                    break;
                }
            }
        }
        Some(PlayerAudit::Unverified(last))
    }

    /// Closes the WebSocket politely (bounded).
    pub async fn close(&mut self) {
        if let Some(mut c) = self.conn.take() {
            let _ = timeout(Duration::from_secs(2), c.ws.close(None)).await;
        }
    }
}
