//! `PlayerSession`: one actor per WebSocket connection. It owns the connection's rate limit,
//! frame size check, request queue and send queue; what a frame *does* lives in
//! [`super::handler`], run as a detached task so a round completes even if the socket drops.
//!
//! Frames of one connection run one at a time, in order. Replies and pushes go through a
//! bounded send queue to a writer task; a client that lets it fill up is dropped.

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};

use super::error::{is_transient, Caller};
use super::handler;
use super::harm::Harm;
use super::reality::{Reality, REALITY_POLL_EVERY};
use super::socket::{close_frame, Connection, Incoming};
use crate::app::App;
use crate::protocol::{
    parse_client_frame, sniff_req_id, ClientFrame, ErrorCode, FreeSpinsView, LimitsView,
    ServerFrame,
};
use crate::reply_cache::{Claim, ReplyCache};
use crate::table::seat::{Kick, Outbound, Pusher};

/// Frames a connection may have waiting to run behind the one running: a client pipelining
/// more than this gets `server_busy` instead of growing our memory.
pub const MAX_QUEUED_FRAMES: usize = 32;
/// How often the idle timeout is checked.
const IDLE_CHECK_EVERY: Duration = Duration::from_secs(5);

/// Tables one connection may sit at at once: bounds the fan-out work one socket can cause.
pub const MAX_TABLES_PER_SESSION: usize = 8;

#[derive(Message)]
#[rtype(result = "()")]
struct FrameDone;

/// What a request task needs to reach its own connection and remember the tables it joined.
#[derive(Clone)]
pub struct SessionLink {
    pub pusher: Pusher,
    pub joined: Arc<std::sync::Mutex<std::collections::BTreeSet<String>>>,
    /// The connection's reality-check clock (empty when the profile has none).
    pub reality: Reality,
    /// The connection's harm watcher (empty when the profile sets no harm rule).
    pub harm: Harm,
}

pub struct PlayerSession {
    app: Arc<App>,
    caller: Caller,
    out: mpsc::Sender<Outbound>,
    /// Tells the writer to send this close frame before anything queued (taken once).
    close_now: Option<oneshot::Sender<CloseFrame>>,
    limiter: DefaultDirectRateLimiter,
    rejected_in_a_row: u32,
    last_heard: Instant,
    busy: bool,
    queue: VecDeque<ClientFrame>,
    closing: bool,
    joined: Arc<std::sync::Mutex<std::collections::BTreeSet<String>>>,
    /// Cancelled when the actor stops: ends the tasks that push to this connection.
    gone: tokio_util::sync::CancellationToken,
    /// Its claim on the player's and address's connection budgets (given back when it ends).
    _slot: crate::admission::Slot,
    /// This connection's id: its key in the node's presence map and the id of its seats.
    presence_key: Arc<str>,
    reality: Reality,
    harm: Harm,
    /// The play version the session's rules were read under: a reload's profiles hold from
    /// the session's next request ([`PlayerSession::follow_reload`]).
    rules_version: Arc<str>,
}

impl PlayerSession {
    /// The actor, and the loop that must run its socket for it (`socket::Connection::run`,
    /// handing each incoming message to the actor as [`FromSocket`]).
    pub fn new(app: Arc<App>, caller: Caller, slot: crate::admission::Slot) -> (Self, Connection) {
        let cfg = &app.config.session;
        let (out, queue) = mpsc::channel(cfg.send_queue_frames);
        let (close_now, close_rx) = oneshot::channel();
        let gone = tokio_util::sync::CancellationToken::new();
        let connection = Connection {
            queue,
            close_now: close_rx,
            gone: gone.clone(),
            // Subscribed now, forwarded once the welcome is out: it is always the first frame.
            pushes: Some(tokio_stream::wrappers::BroadcastStream::new(
                app.jackpots.subscribe(),
            )),
        };
        let rate = NonZeroU32::new(cfg.rate_per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(cfg.burst).unwrap_or(NonZeroU32::MIN);
        let rules_version = app.play().version.clone();
        let actor = Self {
            rules_version,
            limiter: RateLimiter::direct(Quota::per_second(rate).allow_burst(burst)),
            app,
            caller,
            out,
            close_now: Some(close_now),
            rejected_in_a_row: 0,
            last_heard: Instant::now(),
            busy: true, // until the welcome frame is out
            queue: VecDeque::new(),
            closing: false,
            joined: Arc::default(),
            gone,
            _slot: slot,
            presence_key: Arc::from(uuid::Uuid::new_v4().simple().to_string()),
            reality: Reality::default(),
            harm: Harm::default(),
        };
        (actor, connection)
    }

    fn link(&self, ctx: &Context<Self>) -> SessionLink {
        SessionLink {
            pusher: Pusher::local(
                &self.presence_key,
                self.out.clone(),
                ctx.address().recipient(),
            ),
            joined: self.joined.clone(),
            reality: self.reality.clone(),
            harm: self.harm.clone(),
        }
    }

    fn send(&mut self, frame: &ServerFrame, ctx: &mut Context<Self>) {
        if let ServerFrame::Error { code, .. } = frame {
            self.app
                .metrics
                .server
                .errors
                .with_label_values(&[code.as_str()])
                .inc();
        }
        self.send_text(Arc::from(frame.to_json()), ctx);
    }

    fn send_text(&mut self, text: Arc<str>, ctx: &mut Context<Self>) {
        if self.out.try_send(Outbound::Text(text)).is_err() {
            self.drop_slow_client(ctx);
        } else {
            self.app.metrics.server.ws_messages_sent.inc();
        }
    }

    fn drop_slow_client(&mut self, ctx: &mut Context<Self>) {
        self.close_now(CloseCode::Policy, "send queue full", ctx);
    }

    /// Closes at once with a close frame, bypassing the send queue (which may be full).
    fn close_now(&mut self, code: CloseCode, reason: &str, ctx: &mut Context<Self>) {
        self.app
            .metrics
            .server
            .ws_closed
            .with_label_values(&[reason])
            .inc();
        if let Some(close_now) = self.close_now.take() {
            let _ = close_now.send(close_frame(code, reason));
        }
        ctx.stop();
    }

    /// Graceful close: queued after the replies already sent, then stop.
    fn close_after_replies(
        &mut self,
        frame: Option<ServerFrame>,
        reason: CloseFrame,
        ctx: &mut Context<Self>,
    ) {
        if let Some(frame) = frame {
            let _ = self
                .out
                .try_send(Outbound::Text(Arc::from(frame.to_json())));
        }
        self.app
            .metrics
            .server
            .ws_closed
            .with_label_values(&[reason.reason.as_str()])
            .inc();
        if self
            .out
            .try_send(Outbound::Close(Box::new(reason)))
            .is_err()
        {
            self.drop_slow_client(ctx);
        }
        ctx.stop();
    }

    fn shut_down(&mut self, ctx: &mut Context<Self>) {
        let reason = if self.app.shutdown.is_cancelled() {
            "server shutting down"
        } else {
            "node draining"
        };
        self.close_after_replies(
            Some(ServerFrame::Reconnect {
                reason: reason.into(),
            }),
            close_frame(CloseCode::Away, reason),
            ctx,
        );
    }

    /// Takes a token from the connection's bucket for any frame it sends (text, binary, ping,
    /// continuation). False when the frame is over the rate: it has been answered
    /// `rate_limited` (naming `text`'s `req_id` when it can be read), or, after
    /// `session.flood_close_after` such frames in a row, the connection is being closed.
    fn admit(&mut self, text: Option<&str>, ctx: &mut Context<Self>) -> bool {
        if self.limiter.check().is_ok() {
            self.rejected_in_a_row = 0;
            return true;
        }
        self.rejected_in_a_row += 1;
        if self.rejected_in_a_row >= self.app.config.session.flood_close_after {
            self.close_now(CloseCode::Policy, "rate limit exceeded", ctx);
            return false;
        }
        let req = text.and_then(sniff_req_id).map(|r| r.to_string());
        let frame = ServerFrame::error(req, ErrorCode::RateLimited, "too many frames; slow down");
        self.send(&frame, ctx);
        false
    }

    fn on_text(&mut self, text: &str, ctx: &mut Context<Self>) {
        let kind_label;
        if !self.admit(Some(text), ctx) {
            return;
        }
        let max = self.app.config.session.max_frame_bytes;
        if text.len() > max {
            kind_label = "too_large";
            self.app
                .metrics
                .server
                .ws_messages_received
                .with_label_values(&[kind_label])
                .inc();
            let message = format!("frame of {} bytes exceeds the limit of {max}", text.len());
            let req = sniff_req_id(text).map(|r| r.to_string());
            self.send(
                &ServerFrame::error(req, ErrorCode::FrameTooLarge, message),
                ctx,
            );
            return;
        }
        match parse_client_frame(text) {
            Ok(frame) => {
                self.app
                    .metrics
                    .server
                    .ws_messages_received
                    .with_label_values(&[frame.kind()])
                    .inc();
                if self.queue.len() >= MAX_QUEUED_FRAMES {
                    let message = format!("more than {MAX_QUEUED_FRAMES} requests waiting");
                    let req = Some(frame.req_id().to_string());
                    self.send(
                        &ServerFrame::error(req, ErrorCode::ServerBusy, message),
                        ctx,
                    );
                    return;
                }
                self.queue.push_back(frame);
                self.run_next(ctx);
            }
            Err(e) => {
                self.app
                    .metrics
                    .server
                    .ws_messages_received
                    .with_label_values(&["invalid"])
                    .inc();
                self.send(&ServerFrame::error(e.req_id, e.code, e.message), ctx);
            }
        }
    }

    /// After a reload, reads the session's profile again (same profile id, age band and
    /// currency): a stake cap or interval changed by the reload holds from this request on.
    /// A profile the reload removed leaves the session on the rules it had, said in the log
    /// (a new session cannot open under it).
    fn follow_reload(&mut self) {
        let play = self.app.play();
        if play.version == self.rules_version {
            return;
        }
        self.rules_version = play.version.clone();
        let rules = &self.caller.rules;
        match crate::jurisdiction::session_rules(
            &play.profiles,
            &rules.profile.id,
            &self.caller.currency,
            rules.age_band,
        ) {
            Ok(rules) => self.caller.rules = rules,
            Err(error) => tracing::warn!(
                session = %self.caller.session_id,
                %error,
                "the reload removed this session's profile: it keeps the rules it opened under"
            ),
        }
    }

    fn run_next(&mut self, ctx: &mut Context<Self>) {
        if self.busy || self.closing {
            return;
        }
        let Some(frame) = self.queue.pop_front() else {
            return;
        };
        self.busy = true;
        self.follow_reload();
        let app = self.app.clone();
        let caller = self.caller.clone();
        let out = self.out.clone();
        let me = ctx.address();
        let link = self.link(ctx);
        let fingerprint = crate::reply_cache::Fingerprint::of(&frame);
        let remembered = crate::reply_cache::Fingerprint::remembered(&frame);
        let claim = app
            .replies
            .claim_as(&caller.player, frame.req_id(), fingerprint, remembered);
        let req_id = frame.req_id().clone();
        // Every log line of this request (and of its round) carries these fields; never the token.
        let span = tracing::info_span!(
            "request",
            session = %caller.session_id,
            player = %caller.player,
            req_id = %req_id,
            kind = frame.kind(),
            round = tracing::field::Empty,
        );
        let task = async move {
            let text: Arc<str> = match claim {
                Claim::Conflict => {
                    let frame = ServerFrame::error(
                        Some(req_id.to_string()),
                        ErrorCode::DuplicateRequest,
                        "this req_id was used for another request; use a new req_id",
                    );
                    app.metrics
                        .server
                        .errors
                        .with_label_values(&[ErrorCode::DuplicateRequest.as_str()])
                        .inc();
                    Arc::from(frame.to_json())
                }
                Claim::Replay(slot) => match ReplyCache::wait(slot).await {
                    Some(reply) => reply,
                    None => {
                        app.replies.invalidate(&caller.player, &req_id);
                        let frame = ServerFrame::error(
                            Some(req_id.to_string()),
                            ErrorCode::ServerBusy,
                            "the first attempt of this request failed; retry",
                        );
                        Arc::from(frame.to_json())
                    }
                },
                Claim::Run(ticket) => {
                    let reply = handler::run(&app, &caller, &link, frame).await;
                    let keep = match &reply {
                        ServerFrame::Error { code, .. } => {
                            app.metrics
                                .server
                                .errors
                                .with_label_values(&[code.as_str()])
                                .inc();
                            // A refusal for reusing another request's req_id is not
                            // this req_id's reply: the request it names keeps it.
                            !is_transient(*code) && *code != ErrorCode::DuplicateRequest
                        }
                        _ => true,
                    };
                    let text: Arc<str> = Arc::from(reply.to_json());
                    if keep
                        && remembered
                        && app.shared.is_shared()
                        && !app.shared.record_reply(
                            &caller.player,
                            &req_id,
                            &fingerprint.log_text(&text),
                        )
                    {
                        app.metrics.cluster.reply_log_dropped.inc();
                    }
                    app.replies.finish(ticket, text.clone(), keep);
                    text
                }
            };
            if out.try_send(Outbound::Text(text)).is_ok() {
                app.metrics.server.ws_messages_sent.inc();
            }
            me.do_send(FrameDone);
        };
        self.app
            .tasks
            .spawn(tracing::Instrument::instrument(task, span));
    }

    /// Pushes a reality check once it falls due (the figures read from the ledger first).
    fn push_reality_check(&mut self) {
        if self.closing || !self.reality.poll() {
            return;
        }
        let (app, caller, reality) = (self.app.clone(), self.caller.clone(), self.reality.clone());
        let out = self.out.clone();
        actix::spawn(async move {
            let frame = super::reality::check_frame(&app, &caller, &reality).await;
            if out
                .try_send(Outbound::Text(Arc::from(frame.to_json())))
                .is_ok()
            {
                app.metrics.server.ws_messages_sent.inc();
            }
        });
    }

    fn send_welcome(&mut self, ctx: &mut Context<Self>) {
        let app = self.app.clone();
        let caller = self.caller.clone();
        let out = self.out.clone();
        let me = ctx.address();
        actix::spawn(async move {
            if app.shared.is_shared() {
                // Replies this player got from other nodes: a resend here gets the same bytes.
                match app.shared.recent_replies(&caller.player).await {
                    Ok(replies) => {
                        for (req_id, logged) in replies {
                            let parsed = crate::ids::ReqId::parse(&req_id)
                                .ok()
                                .zip(crate::reply_cache::Fingerprint::parse_log_text(&logged));
                            if let Some((req_id, (fingerprint, reply))) = parsed {
                                app.replies
                                    .preload(&caller.player, &req_id, fingerprint, reply);
                            }
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "reply log unavailable; resends are answered from the ledger")
                    }
                }
            }
            let ledger = app.wallet.ledger();
            let account = ledger.account(&caller.player).await;
            let free = ledger.free_spins(&caller.player).await;
            let rounds = super::handler::free_rounds(&app, &caller).await;
            let frame = match (account, free, rounds) {
                (Ok(account), Ok(free), Ok(free_rounds)) => {
                    for f in &free {
                        app.free_spin_hints
                            .insert((caller.player.clone(), f.game.clone()));
                    }
                    let currency = &caller.currency;
                    let show = |minor| {
                        crate::money::Money::from_minor(minor, currency)
                            .map(|m| m.to_string())
                            .unwrap_or_default()
                    };
                    let cfg = &app.config.session;
                    ServerFrame::Welcome {
                        session_id: caller.session_id.clone(),
                        player_id: caller.player.to_string(),
                        currency: currency.code().to_string(),
                        balance: show(account.map_or(0, |a| a.balance_minor)),
                        free_spins: free
                            .into_iter()
                            .map(|f| FreeSpinsView {
                                bet: show(f.bet_minor),
                                game: f.game,
                                remaining: f.remaining,
                                multiplier: f.multiplier,
                            })
                            .collect(),
                        free_rounds,
                        limits: LimitsView {
                            max_frame_bytes: cfg.max_frame_bytes,
                            rate_per_second: cfg.rate_per_second,
                            burst: cfg.burst,
                        },
                        rules: caller.rules.view(),
                    }
                }
                (Err(e), _, _) | (_, Err(e), _) => {
                    tracing::error!(error = %e, "welcome: ledger unavailable");
                    ServerFrame::error(None, ErrorCode::ServiceUnavailable, "ledger unavailable")
                }
                (_, _, Err(e)) => {
                    tracing::error!(error = %e, "welcome: ledger unavailable");
                    ServerFrame::error(None, ErrorCode::ServiceUnavailable, "ledger unavailable")
                }
            };
            let _ = out.try_send(Outbound::Text(Arc::from(frame.to_json())));
            me.do_send(FrameDone);
        });
    }
}

impl Actor for PlayerSession {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.app.metrics.server.ws_connections.inc();
        self.app.connected.insert(
            self.presence_key.clone(),
            crate::app::Connected {
                player: self.caller.player.clone(),
                session_id: Arc::from(self.caller.session_id.as_str()),
                expires_at: self.caller.expires_at,
                kick: ctx.address().recipient(),
            },
        );
        self.app.metrics.server.ws_connections_opened.inc();
        let (shutdown, draining) = (self.app.shutdown.clone(), self.app.draining.clone());
        ctx.spawn(
            async move {
                tokio::select! {
                    _ = shutdown.cancelled() => {},
                    _ = draining.cancelled() => {},
                }
            }
            .into_actor(self)
            .map(|_, act, ctx| {
                act.closing = true;
                act.queue.clear();
                if !act.busy {
                    act.shut_down(ctx);
                }
            }),
        );
        self.reality = Reality::new(&self.caller);
        self.harm = Harm::new(&self.caller);
        if self.reality.enabled() {
            ctx.run_interval(REALITY_POLL_EVERY, |act, _ctx| act.push_reality_check());
        }
        let idle = Duration::from_secs(self.app.config.session.idle_timeout_seconds);
        ctx.run_interval(IDLE_CHECK_EVERY, move |act, ctx| {
            if act.last_heard.elapsed() > idle {
                let reason = close_frame(CloseCode::Normal, "idle timeout");
                act.close_after_replies(None, reason, ctx);
            }
        });
        self.send_welcome(ctx);
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        self.app.metrics.server.ws_connections.dec();
        self.app.connected.remove(&self.presence_key);
        self.gone.cancel();
        let joined = match self.joined.lock() {
            Ok(mut joined) => std::mem::take(&mut *joined),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        };
        for table in joined {
            self.app.tables.leave(&table, &self.presence_key);
        }
    }
}

impl Handler<Kick> for PlayerSession {
    type Result = ();

    fn handle(&mut self, msg: Kick, ctx: &mut Self::Context) {
        self.close_now(CloseCode::Policy, msg.0, ctx);
    }
}

impl Handler<FrameDone> for PlayerSession {
    type Result = ();

    fn handle(&mut self, _msg: FrameDone, ctx: &mut Self::Context) {
        self.busy = false;
        if self.closing {
            self.shut_down(ctx);
        } else {
            self.run_next(ctx);
        }
    }
}

/// What the connection loop read from the socket (`None`: its end), handed over one at a time.
#[derive(Message)]
#[rtype(result = "()")]
pub struct FromSocket(pub Incoming);

impl Handler<FromSocket> for PlayerSession {
    type Result = ();

    fn handle(&mut self, FromSocket(incoming): FromSocket, ctx: &mut Self::Context) {
        let Some(item) = incoming else {
            // The client went away; a frame task in flight still completes and settles.
            ctx.stop();
            return;
        };
        if self.closing {
            return;
        }
        self.last_heard = Instant::now();
        match item {
            Ok(WsMessage::Text(text)) => self.on_text(text.as_str(), ctx),
            // Every other frame a client can send costs a token too: binary frames and pings
            // cannot flood past the limiter. (tungstenite answers a ping with its pong itself,
            // and joins a fragmented message, at most HARD_FRAME_CAP, before it reaches here.)
            Ok(WsMessage::Binary(_) | WsMessage::Ping(_)) if !self.admit(None, ctx) => {}
            Ok(WsMessage::Binary(_)) => {
                let frame = ServerFrame::error(
                    None,
                    ErrorCode::BadFrame,
                    "binary frames are not supported; send JSON text",
                );
                self.send(&frame, ctx);
            }
            Ok(WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_)) => {}
            Ok(WsMessage::Close(_)) => {
                let reason = close_frame(CloseCode::Normal, "client closed");
                self.close_after_replies(None, reason, ctx);
            }
            Err(WsError::Capacity(_)) => {
                self.close_now(CloseCode::Size, "frame far over the size limit", ctx);
            }
            Err(WsError::Protocol(_) | WsError::Utf8) => {
                self.close_now(CloseCode::Protocol, "protocol error", ctx);
            }
            Err(error) => {
                // The socket itself failed or closed: nobody to send a close frame to.
                tracing::debug!(%error, "websocket read failed");
                ctx.stop();
            }
        }
    }
}
