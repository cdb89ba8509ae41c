//! # croupier — a real-time casino game server
//!
//! Players play slots and live tables over a WebSocket; the server alone decides every outcome,
//! moves the money through a durable ledger exactly once, and replies in milliseconds.
//!
//! ## Map of the system
//! ```text
//!  client ──WS(S)──▶ server (actix-web, TLS by rustls when configured: /v1/sessions, /v1/ws, /health/*;
//!                   admin listener: /metrics, /v1/cluster, /v1/admin/*)
//!                   │ upgrade (server::upgrade: actix-http hands the connection over), token check
//!                   ▼
//!            session::socket loop (tokio-tungstenite, one task per connection, 1 KiB reads)
//!              ⇅ one message at a time / the send queue, in order
//!            session::PlayerSession actor (one per connection)
//!              rate limit, frame size, request queue, send queue, reply cache claim
//!                   │ spawns one task per frame: session::handler::run
//!                   ▼
//!   paid spin, one step (embedded ledger, session::one_step):
//!          wallet::WalletPool::hold ──▶ WalletActor shard (by player hash): the stake is held
//!          rng::RngPool ──▶ RngActor shard ──▶ games::slot::spin (pure) + jackpot draws
//!          wallet::WalletPool::play ──▶ WalletActor shard ──▶ Ledger (SQLite), ONE transaction:
//!              PlayRound: stake, win, outcome, jackpot shares and claims [tx "<round>:bet", ":win"]
//!   any other spin, two steps (free spins, free rounds, PostgreSQL, no hold; session::handler):
//!          WalletPool ──▶ WalletActor shard ──▶ Ledger
//!              1. OpenRound: take the stake (or a free spin)     [tx "<round>:bet"]
//!                 (OpenFreeRound: take one of an operator's free rounds, debit nothing)
//!          rng::RngPool ──▶ RngActor shard ──▶ games::slot::spin (pure) ──▶ outcome
//!          wallet::WalletPool ──▶ WalletActor shard ──▶ Ledger
//!              2. SettleRound: credit the win, store the outcome [tx "<round>:win"]
//!                   │
//!  client ◀──WS── spin_result (outcome, win, balance), only once its transaction committed
//!
//!  table bet: session handler ──Reserve──▶ table::LiveTable (one actor per table, on a table arbiter)
//!             wallet: OpenRound (debit)                  [tx "<round>-b<n>:bet"]
//!             session handler ──Confirm──▶ LiveTable     (the bet plays in the round)
//!  LiveTable: ticks the round machine ──▶ RngPool (pocket / shoe) ──▶ TableRules::settle (pure)
//!             ──▶ WalletPool: SettleRound per bet         [tx "<bet>:win"] (or VoidRound: refund)
//!             ──▶ every seat's send queue (frame serialised once, try_send; full = dropped)
//!
//!  jackpots: OpenRound / PlayRound carry the pool's shares: contributions join the bet's
//!            transaction (folded per batch); claims (trigger / mystery / ceiling) ride on
//!            SettleRound (PlayRound: decided in its transaction from the draw's result) and
//!            reset the level exactly once per (pool, level, cycle). A pusher task reads the
//!            pools every 500 ms and broadcasts changes to every session.
//!
//!  cluster (cluster.redis_url): money in PostgreSQL; sessions, the reply log, presence and
//!            table leases in Redis (cluster::{store, lease}); a table runs on its lease
//!            holder, other nodes' players reach it over pub/sub (table::cluster): asks to the
//!            holder, its events relayed back; every table movement carries the lease's
//!            fencing token, which the ledger hands out (Ledger::next_fence) and checks.
//! ```
//!
//! ## Crates
//! The pure rules live in `croupier-core` (`crates/core`): ids, money, the protocol frames
//! and error codes, the clock, slot / roulette / baccarat maths, RNG sampling, jackpot
//! arithmetic and the live-table round machine, bet book and rules. It depends on none of
//! actix, tokio, sqlx, rusqlite or redis, so the compiler keeps it pure; `croupier rtp` and
//! `croupier simulate` use nothing else. Money's system of record is `croupier-ledger`
//! (`crates/ledger`): the `Ledger` trait, its SQL written once over SQLite and PostgreSQL, the
//! migrations and the conformance suite. This crate (the server) holds the actors, the
//! sessions, the cluster and the HTTP face, and re-exports the core's modules under the same
//! names (`croupier::money`, `croupier::games`, …).
//!
//! | module | owns |
//! |---|---|
//! | [`cluster`] | what nodes share besides the ledger, in process or on Redis: pub/sub, sessions, reply log, presence, table leases |
//! | [`config`] | typed settings, validation that names the key |
//! | [`play`] | the play files in force (games, tables, pools, operators, profiles), checked together, versioned; the cluster's copy in Redis |
//! | [`reload`] | putting new play files in force on a running node at round boundaries (`croupier reload`, SIGHUP, the cluster's bundle) |
//! | [`protocol`] | every WebSocket frame and the stable error codes (core) |
//! | [`money`] | currencies and amounts on `rust_decimal`, parsed from strings (core) |
//! | [`ids`] | `PlayerId`, `ReqId`, `RoundId`: values that can only be valid (core) |
//! | [`clock`] | the one wall clock (core) |
//! | [`server`] | HTTP routes, WebSocket upgrade, start-up and shutdown |
//! | [`auth`] | session tokens: signing and checking (issuer, audience, lifetime, key id) |
//! | [`secrets`] | `auth.secret` (configured or generated), strength checks, one derived key per purpose |
//! | [`reply_cache`] | the exactly-once reply cache shared by a player's connections on a node |
//! | [`session`] | `PlayerSession` actors, frame handling (slots and table frames) |
//! | [`rng`] | `RngActor` shards; the ChaCha20 generator and unbiased sampling are the core's |
//! | [`games`] | pure game rules: slot evaluation, exact RTP, simulation (core) |
//! | [`jackpot`] | which round claims which level, live pool pushes; `jackpots.toml` and pool arithmetic are the core's |
//! | [`table`] | `LiveTable` actors, seats (`Pusher`) and tables across nodes; `tables.toml`, round machine, bet book and rules are the core's |
//! | [`wallet`] | `WalletActor` shards (group commit) over the ledger crate's `Ledger` (SQLite or PostgreSQL) |
//! | [`fair`] | provably fair play: who is offered it, seeds derived per player, rotation, a fair round's stream and proof, verification |
//! | [`replay`] | `croupier replay`: a stored round (slot stops, table result) played again through the same rules and compared with what was settled |
//! | [`checkpoint`] | the ledger's chain heads digested and logged on a schedule (`ledger.checkpoint_log_seconds`) |
//! | [`recovery`] | start-up recovery and the stale and lost-node sweepers: what a crash or a lost node left open is refunded once; expired free rounds closed |
//! | [`metrics`] | every Prometheus metric, defined once, grouped per domain (play, server, wallet, tables, jackpots, cluster) |
//! | [`tls`] | the players' listener's certificate: loading, checking, reloading without a restart; `croupier dev-cert` |
//! | [`operator`] | operators (casino brands) from `operators.toml`: currencies, wallet mode, jurisdiction, API keys kept as hashes |
//! | [`jurisdiction`] | the profile a session plays under (`jurisdictions.toml`), its rules, the round interval claimed across nodes |
//! | [`limits`] | a player's loss, wager, deposit and session-time limits as the operator API takes them and players see them (the ledger enforces them) |
//! | [`admission`] | connections per player and per address, demo sign-ups per address and node |
//! | [`app`] | the handles a node's sessions share; above `table` (which sees the node only as a `TableHost`) |
//!
//! Money rules: amounts are `Decimal` in code and integer minor units in the ledger; every
//! movement has a unique transaction id and is idempotent; a balance never goes negative; a
//! round interrupted between stake and settlement is voided and refunded at start-up (in a
//! cluster: by a survivor once the dead node has left the Redis node registry (each round
//! records its node), by the node that takes a dead node's table over, or, as the fallback,
//! by the stale-round sweeper).

pub mod admission;
pub mod app;
pub mod auth;
pub mod checkpoint;
pub mod cluster;
pub mod config;
pub mod fair;
pub mod jackpot;
pub mod jurisdiction;
pub mod limits;
pub mod metrics;
pub mod operator;
pub mod play;
pub mod recovery;
pub mod reload;
pub mod replay;
pub mod reply_cache;
pub mod rng;
pub mod secrets;
pub mod server;
pub mod session;
pub mod table;
pub mod tls;
pub mod wallet;

pub use croupier_core::{clock, games, ids, money, protocol};
