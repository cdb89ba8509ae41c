//! `App`: what every request handler and session shares on one node — config, games, live
//! tables, wallet and RNG pools, the reply cache, metrics, and the shutdown signal.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::TokenKeys;
use crate::config::Config;
use crate::ids::PlayerId;
use crate::jackpot::Jackpots;
use crate::metrics::Metrics;
use crate::money::{Currency, CurrencyTable};
use crate::reply_cache::ReplyCache;
use crate::rng::RngPool;
use crate::table::TableRegistry;
use crate::wallet::WalletPool;

/// One WebSocket connection on this node, as the node's session watcher sees it.
#[derive(Clone)]
pub struct Connected {
    pub player: PlayerId,
    /// The session its token names.
    pub session_id: Arc<str>,
    /// When its token expires (Unix seconds): the connection is closed then.
    pub expires_at: u64,
    /// Closes the connection with a reason.
    pub kick: actix::Recipient<crate::table::seat::Kick>,
}

/// How long a cached reply is kept for resends: longer than any sane client retry loop.
pub const REPLY_CACHE_TTL: Duration = Duration::from_secs(3600);

pub struct App {
    pub config: Config,
    pub currencies: CurrencyTable,
    pub demo_currency: Currency,
    pub metrics: Arc<Metrics>,
    pub wallet: WalletPool,
    pub rng: RngPool,
    /// The games, profiles, operators and the table and pool configs in force, swapped whole
    /// by a reload (`crate::reload`): read it with [`App::play`].
    play: arc_swap::ArcSwap<crate::play::Play>,
    /// One reload at a time on this node.
    pub reloading: tokio::sync::Mutex<()>,
    /// The cluster's play bundle in Redis (`None` on one node).
    pub play_store: Option<crate::play::shared::PlayStore>,
    pub tables: TableRegistry,
    pub jackpots: Arc<Jackpots>,
    pub replies: ReplyCache,
    /// Connections per player and address, demo sign-ups.
    pub admission: Arc<crate::admission::Admission>,
    pub tokens: TokenKeys,
    /// The keys provably fair server seeds are derived under.
    pub fair_keys: crate::fair::FairKeys,
    /// Cancelled when the node shuts down or drains: sessions finish their request and close.
    pub shutdown: CancellationToken,
    /// Cancelled once a drain has handed this node's tables over: sessions are told to
    /// reconnect (to another node) after their request in flight.
    pub draining: CancellationToken,
    /// Every request task in flight; shutdown waits for them before flushing the wallet.
    pub tasks: TaskTracker,
    /// Every player socket's loop (`session::socket`); shutdown waits for their close frames.
    pub sockets: TaskTracker,
    /// Which players hold free spins on which game, as this node last saw it (loaded at
    /// connect, set on award, cleared when used up). It only decides whether a spin first
    /// asks the ledger for a free spin; the ledger's count is the truth. Entries exist only
    /// while free spins are held, so it is bounded by the players holding them.
    pub free_spin_hints: dashmap::DashSet<(PlayerId, String)>,
    /// Sessions, the shared reply log, presence: in process, or Redis in a cluster.
    pub shared: Arc<dyn crate::cluster::SharedState>,
    /// The cluster's pub/sub (in process for one node): session control rides here.
    pub bus: crate::cluster::Bus,
    /// This node's name in the cluster.
    pub node: Arc<str>,
    /// This node's connections, by connection key (presence, kicks; bounded by connections).
    pub connected: dashmap::DashMap<Arc<str>, Connected>,
    /// The players' listener as players reach it (`http(s)://host:port`), set once it is bound.
    public_url: std::sync::OnceLock<String>,
    ready: AtomicBool,
}

impl App {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: Config,
        demo_currency: Currency,
        metrics: Arc<Metrics>,
        wallet: WalletPool,
        rng: RngPool,
        play: crate::play::Play,
        play_store: Option<crate::play::shared::PlayStore>,
        tables: TableRegistry,
        jackpots: Arc<Jackpots>,
        tokens: TokenKeys,
        fair_keys: crate::fair::FairKeys,
        shared: Arc<dyn crate::cluster::SharedState>,
        bus: crate::cluster::Bus,
        node: Arc<str>,
    ) -> Self {
        let admission = crate::admission::Admission::new(crate::admission::Limits {
            per_player: config.session.max_connections_per_player,
            per_address: config.server.max_connections_per_address,
            node: config.server.max_websockets,
            signups_per_address_per_minute: config.auth.demo_signups_per_address_per_minute,
            signups_per_second: config.auth.demo_signups_per_second,
        });
        let replies = ReplyCache::new(config.session.reply_cache_bytes, REPLY_CACHE_TTL);
        Self {
            currencies: config.currencies.clone(),
            config,
            demo_currency,
            metrics,
            wallet,
            rng,
            play: arc_swap::ArcSwap::from_pointee(play),
            reloading: tokio::sync::Mutex::new(()),
            play_store,
            tables,
            jackpots,
            replies,
            admission,
            tokens,
            fair_keys,
            shutdown: CancellationToken::new(),
            draining: CancellationToken::new(),
            tasks: TaskTracker::new(),
            sockets: TaskTracker::new(),
            free_spin_hints: dashmap::DashSet::new(),
            shared,
            bus,
            node,
            connected: dashmap::DashMap::new(),
            public_url: std::sync::OnceLock::new(),
            ready: AtomicBool::new(false),
        }
    }

    /// A round open longer than this (ms) has lost its node: the sweeper voids it. A
    /// live-table bet stays open for its whole round: never call that stale, whatever the
    /// tables in force say now.
    pub fn stale_round_ms(&self) -> i64 {
        let longest_round = self
            .play()
            .tables
            .iter()
            .map(|t| {
                let d = t.timings;
                (d.betting + d.closed + d.result + d.settle).as_millis() as i64
            })
            .max()
            .unwrap_or(0);
        (self.config.ledger.stale_round_seconds as i64 * 1000).max(2 * longest_round)
    }

    /// The play in force (games, profiles, operators, table and pool configs). A request
    /// reads it once and keeps what it read: a round started before a reload finishes under
    /// the rules it started with.
    pub fn play(&self) -> arc_swap::Guard<Arc<crate::play::Play>> {
        self.play.load()
    }

    /// The play in force, to keep across awaits.
    pub fn play_arc(&self) -> Arc<crate::play::Play> {
        self.play.load_full()
    }

    /// Puts `next` in force (`crate::reload` has checked it and readied the ledger, the
    /// tables and the pools for it); the play it replaces.
    pub fn swap_play(&self, next: crate::play::Play) -> Arc<crate::play::Play> {
        self.play.swap(Arc::new(next))
    }

    /// The jackpot share a bet of `player` on `game` carries. None for demo play on a
    /// deployment that takes real money (it has operators): fun money neither feeds nor wins
    /// a pool that real players play for. On a demo-only deployment demo play has jackpots.
    ///
    /// `rules`: the player's jurisdiction, which may forbid jackpots (a round that feeds no
    /// pool draws no claim on it either).
    pub fn jackpot_feed(
        &self,
        game: &str,
        currency: &Currency,
        player: &PlayerId,
        rules: &croupier_core::jurisdiction::SessionRules,
    ) -> Option<(
        crate::wallet::JackpotFeed,
        Arc<crate::jackpot::config::PoolConfig>,
    )> {
        let fun_beside_real = player.operator().is_none() && !self.play().operators.is_empty();
        if fun_beside_real || !rules.profile.jackpots {
            return None;
        }
        self.jackpots.feed_for(game, currency)
    }

    /// Whether `player`'s slot rounds are provably fair (docs/fairness.md): their operator's
    /// `provably_fair`, or, for a demo player, `games.provably_fair_demo`.
    pub fn fair_offered(&self, player: &PlayerId) -> bool {
        match player.operator() {
            Some(operator) => self
                .play()
                .operators
                .get(operator)
                .is_some_and(|o| o.provably_fair),
            None => self.config.games.provably_fair_demo,
        }
    }

    /// Where players reach this node (launch URLs start with it): `server.public_url`, or the
    /// players' listener as bound.
    pub fn public_url(&self) -> &str {
        self.public_url.get().map_or("", String::as_str)
    }

    /// Sets [`App::public_url`] once the listener is bound (later calls change nothing).
    pub fn set_public_url(&self, url: String) {
        let _ = self.public_url.set(url.trim_end_matches('/').to_string());
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire) && !self.shutdown.is_cancelled()
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Release);
        self.metrics.server.ready.set(i64::from(ready));
    }
}
