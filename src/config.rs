//! Typed configuration from `config/default.toml`: every setting, its default and its bounds.
//!
//! Unknown keys and invalid values stop start-up with a message naming the key
//! (`session.max_frame_bytes: must be between 256 and 1048576, got 10`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::money::{Currency, CurrencyTable, Money};
use crate::secrets::{check_strength, SecretError};
use croupier_ledger::sqlite::Durability;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {key}: {message}")]
    Invalid {
        path: String,
        key: String,
        message: String,
    },
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub auth: AuthConfig,
    pub currencies: CurrencyTable,
    pub ledger: LedgerConfig,
    pub rng: RngConfig,
    pub session: SessionConfig,
    pub games: GamesConfig,
    pub tables: TablesConfig,
    pub jackpots: JackpotsConfig,
    pub operators: OperatorsConfig,
    pub jurisdictions: JurisdictionsConfig,
    pub cluster: ClusterConfig,
    pub log: LogConfig,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// The admin listener: /metrics, /v1/cluster, /v1/admin/*, health; never for players.
    pub admin_listen: SocketAddr,
    /// The operators' back-office API (/v1/operator/*): launch, money in and out, recall.
    pub operator_listen: SocketAddr,
    /// The players' listener as players reach it (`https://play.example.com`), the start of
    /// launch URLs; `""`: the listener's own address.
    pub public_url: String,
    pub workers: usize,
    pub max_connections: usize,
    /// Open WebSockets one client address may hold.
    pub max_connections_per_address: u32,
    /// Open WebSockets the node holds at once (counted from the upgrade to the close); one
    /// more is refused `503 server_busy`. (`max_connections` bounds the HTTP connections of a
    /// worker; an upgraded WebSocket leaves actix-http and is counted here.)
    pub max_websockets: u32,
    /// Longest a client may take to send a request's head and body.
    pub body_timeout_seconds: u64,
    pub shutdown_grace_seconds: u64,
    pub data_dir: PathBuf,
    /// PEM certificate chain (end-entity first) of the players' listener; empty: plain HTTP.
    pub tls_cert: PathBuf,
    /// PEM private key of `tls_cert`; set both or neither.
    pub tls_key: PathBuf,
    /// How often the certificate files are read again (a renewal is served without a restart).
    pub tls_reload_seconds: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// `""`: a single node generates one into its data directory (`secrets.rs`).
    pub secret: String,
    /// Secrets used before the current one: their tokens and seals are still accepted (a
    /// rotation), nothing new is signed with them.
    pub previous_secrets: Vec<String>,
    pub token_ttl_seconds: u64,
    pub demo_mode: bool,
    /// Demo mode on a PostgreSQL ledger (shared with real money) only when this is true.
    pub demo_on_shared_ledger: bool,
    /// The key of node administration (drain): not the operator's key.
    pub admin_key: String,
    pub demo_balance: String,
    pub demo_currency: String,
    /// Demo sign-ups one client address may make per minute.
    pub demo_signups_per_address_per_minute: u32,
    /// Demo sign-ups one node accepts per second, over all addresses.
    pub demo_signups_per_second: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerConfig {
    pub path: PathBuf,
    pub synchronous: Durability,
    pub wallet_shards: usize,
    pub wallet_queue: usize,
    pub batch_max: usize,
    /// A paid spin holds its stake on its wallet shard before the draw and commits stake and
    /// settlement in one transaction (embedded ledger only; PostgreSQL always takes two).
    pub one_step_spins: bool,
    /// `""`: the embedded SQLite ledger; else the PostgreSQL URL of the cluster's ledger.
    pub postgres_url: String,
    /// A round open longer than this has lost its node: voided and refunded by the sweeper.
    pub stale_round_seconds: u64,
    pub postgres_max_connections: u32,
    /// Every this many seconds the node logs the digest of every chain's head (0: never), so
    /// shipped logs hold checkpoints of the tamper-evident ledger outside croupier.
    pub checkpoint_log_seconds: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RngConfig {
    pub shards: usize,
    pub mailbox: usize,
    pub reseed_after_draws: u64,
    pub reseed_interval_seconds: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SessionConfig {
    pub max_frame_bytes: usize,
    /// Open WebSockets one player may hold on one node.
    pub max_connections_per_player: u32,
    pub rate_per_second: u32,
    pub burst: u32,
    pub flood_close_after: u32,
    /// Bytes the exactly-once reply cache may hold over all players.
    pub reply_cache_bytes: u64,
    pub send_queue_frames: usize,
    pub idle_timeout_seconds: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GamesConfig {
    pub dir: PathBuf,
    /// Demo players' slot rounds are provably fair (docs/fairness.md); an operator's players'
    /// follow the operator's `provably_fair` (operators.toml).
    pub provably_fair_demo: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TablesConfig {
    /// Live tables definition file; `""` runs no tables.
    pub file: PathBuf,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// `""`: one node, events in process; else the Redis the nodes share (redis://host:port/db).
    pub redis_url: String,
    /// This node's name in the cluster (`""`: generated at start from the host name).
    pub node_id: String,
    /// Prefix of every Redis key and channel: deployments sharing one Redis stay apart.
    pub namespace: String,
    /// How long a live table's lease lasts unrenewed: when its node dies, another takes the
    /// table after at most this long (plus one renewal period).
    pub table_lease_ms: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JackpotsConfig {
    /// Progressive jackpot pools file; `""` runs no jackpots.
    pub file: PathBuf,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorsConfig {
    /// The operators (casino brands) and their hashed API keys; `""`: none (demo play only).
    pub file: PathBuf,
}

/// The longest cooling-off a limit raise may be given (90 days: longer is a lock, not a limit).
pub const MAX_COOLING_OFF_SECONDS: u64 = 90 * 86_400;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JurisdictionsConfig {
    /// The jurisdiction profiles (speed of play, stake caps, what the client may offer);
    /// `""`: only the permissive `default` profile.
    pub file: PathBuf,
    /// How long a looser player limit (or a limit's removal) waits before it applies; a
    /// tighter one applies at once. UKGC LCCP SR 3.3.3 and common practice: 24 hours.
    pub limit_raise_cooling_off_seconds: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub format: LogFormat,
    pub level: String,
}

pub use croupier_core::data::{is_data_id, read_data_file, toml_with_key};

/// Values derived once from the config and checked: what the server actually runs with.
#[derive(Debug, Clone)]
pub struct Demo {
    pub balance: Money,
}

impl ServerConfig {
    /// Whether the players' listener speaks TLS.
    pub fn tls(&self) -> bool {
        !self.tls_cert.as_os_str().is_empty()
    }
}

impl Config {
    /// Reads a config file: every key typed and known, the values not yet checked. The caller
    /// applies the command-line and environment overrides, then calls [`Config::validate`]
    /// once, so a value given only in the environment (`CROUPIER_AUTH_SECRET`) is enough.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::read(&text, &path.display().to_string())
    }

    /// Parses and validates a config text (no overrides).
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let config = Self::read(text, origin)?;
        config.validate(origin)?;
        Ok(config)
    }

    fn read(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let deserializer = toml::Deserializer::new(text);
        let config: Config = serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let key = e.path().to_string();
            let mut message = e.inner().message().to_string();
            if let Some(span) = e.inner().span() {
                let line = text[..span.start.min(text.len())].lines().count().max(1);
                message = format!("{message} (line {line})");
            }
            ConfigError::Invalid {
                path: origin.to_string(),
                key,
                message,
            }
        })?;
        Ok(config)
    }

    /// Checks every value; run again after command-line or environment overrides.
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let fail = |key: &str, message: String| ConfigError::Invalid {
            path: origin.to_string(),
            key: key.to_string(),
            message,
        };
        let range = |key: &str, value: u64, min: u64, max: u64| {
            if value < min || value > max {
                Err(fail(
                    key,
                    format!("must be between {min} and {max}, got {value}"),
                ))
            } else {
                Ok(())
            }
        };
        range("server.workers", self.server.workers as u64, 0, 64)?;
        range(
            "jurisdictions.limit_raise_cooling_off_seconds",
            self.jurisdictions.limit_raise_cooling_off_seconds,
            1,
            MAX_COOLING_OFF_SECONDS,
        )?;
        range(
            "server.max_connections",
            self.server.max_connections as u64,
            1,
            1_000_000,
        )?;
        range(
            "server.max_connections_per_address",
            self.server.max_connections_per_address.into(),
            1,
            1_000_000,
        )?;
        range(
            "server.max_websockets",
            self.server.max_websockets.into(),
            1,
            1_000_000,
        )?;
        range(
            "server.body_timeout_seconds",
            self.server.body_timeout_seconds,
            1,
            300,
        )?;
        range(
            "session.max_connections_per_player",
            self.session.max_connections_per_player.into(),
            1,
            1_000,
        )?;
        range(
            "auth.demo_signups_per_address_per_minute",
            self.auth.demo_signups_per_address_per_minute.into(),
            1,
            1_000_000,
        )?;
        range(
            "auth.demo_signups_per_second",
            self.auth.demo_signups_per_second.into(),
            1,
            1_000_000,
        )?;
        let (cert, key) = (&self.server.tls_cert, &self.server.tls_key);
        if cert.as_os_str().is_empty() != key.as_os_str().is_empty() {
            let missing = if cert.as_os_str().is_empty() {
                "server.tls_cert"
            } else {
                "server.tls_key"
            };
            return Err(fail(
                missing,
                "server.tls_cert and server.tls_key go together: set both (TLS) or neither \
                 (plain HTTP)"
                    .into(),
            ));
        }
        range(
            "server.tls_reload_seconds",
            self.server.tls_reload_seconds,
            1,
            3_600,
        )?;
        range(
            "server.shutdown_grace_seconds",
            self.server.shutdown_grace_seconds,
            1,
            600,
        )?;
        range(
            "auth.token_ttl_seconds",
            self.auth.token_ttl_seconds,
            60,
            crate::cluster::MAX_TOKEN_SECONDS,
        )?;
        if self.currencies.0.is_empty() {
            return Err(fail(
                "currencies",
                "at least one currency is required".into(),
            ));
        }
        for (code, scale) in &self.currencies.0 {
            Currency::new(code, *scale)
                .map_err(|e| fail(&format!("currencies.{code}"), e.to_string()))?;
        }
        self.demo().map_err(|(key, message)| fail(key, message))?;
        range(
            "ledger.wallet_shards",
            self.ledger.wallet_shards as u64,
            0,
            256,
        )?;
        range(
            "ledger.wallet_queue",
            self.ledger.wallet_queue as u64,
            16,
            1_000_000,
        )?;
        range("ledger.batch_max", self.ledger.batch_max as u64, 1, 10_000)?;
        range(
            "ledger.checkpoint_log_seconds",
            self.ledger.checkpoint_log_seconds,
            0,
            86_400,
        )?;
        range(
            "ledger.stale_round_seconds",
            self.ledger.stale_round_seconds,
            5,
            86_400,
        )?;
        range(
            "ledger.postgres_max_connections",
            u64::from(self.ledger.postgres_max_connections),
            1,
            1_000,
        )?;
        range(
            "cluster.table_lease_ms",
            self.cluster.table_lease_ms,
            2 * crate::cluster::LEASE_RENEW_EVERY.as_millis() as u64,
            60_000,
        )?;
        let ns = &self.cluster.namespace;
        if ns.is_empty()
            || ns.len() > 32
            || !ns
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        {
            return Err(fail(
                "cluster.namespace",
                "1 to 32 of A-Z a-z 0-9 _ . -".into(),
            ));
        }
        let node = &self.cluster.node_id;
        if node.len() > 64
            || !node
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        {
            return Err(fail(
                "cluster.node_id",
                "at most 64 of A-Z a-z 0-9 _ . - (or empty: generated)".into(),
            ));
        }
        let redis = &self.cluster.redis_url;
        if !(redis.is_empty() || redis.starts_with("redis://") || redis.starts_with("rediss://")) {
            return Err(fail(
                "cluster.redis_url",
                "must be empty (one node) or a redis:// URL".into(),
            ));
        }
        let url = &self.ledger.postgres_url;
        if !(url.is_empty() || url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(fail(
                "ledger.postgres_url",
                "must be empty (embedded SQLite) or a postgres:// URL".into(),
            ));
        }
        self.validate_secrets()
            .map_err(|e| fail(e.key(), e.to_string()))?;
        if self.auth.demo_mode
            && !self.ledger.postgres_url.is_empty()
            && !self.auth.demo_on_shared_ledger
        {
            return Err(fail(
                "auth.demo_mode",
                "demo mode on a PostgreSQL ledger (shared with real money) needs \
                 auth.demo_on_shared_ledger = true"
                    .into(),
            ));
        }
        if self.server.admin_listen == self.server.listen && self.server.listen.port() != 0 {
            return Err(fail(
                "server.admin_listen",
                "must differ from server.listen: players never reach the admin endpoints".into(),
            ));
        }
        let operator = self.server.operator_listen;
        if operator.port() != 0
            && (operator == self.server.listen || operator == self.server.admin_listen)
        {
            return Err(fail(
                "server.operator_listen",
                "must differ from server.listen and server.admin_listen: the back office has \
                 its own door"
                    .into(),
            ));
        }
        let public = &self.server.public_url;
        let web_url = public.starts_with("https://") || public.starts_with("http://");
        if !public.is_empty() && (!web_url || public.len() > 512) {
            return Err(fail(
                "server.public_url",
                format!(
                    "must be empty or an http(s) URL of at most 512 characters, got {public:?}"
                ),
            ));
        }
        if !self.auth.demo_mode && self.operators.file.as_os_str().is_empty() {
            return Err(fail(
                "operators.file",
                "without demo mode only operators open sessions: name the operators file".into(),
            ));
        }
        range("rng.shards", self.rng.shards as u64, 0, 256)?;
        range("rng.mailbox", self.rng.mailbox as u64, 16, 1_000_000)?;
        range(
            "rng.reseed_after_draws",
            self.rng.reseed_after_draws,
            1_000,
            u64::MAX,
        )?;
        range(
            "rng.reseed_interval_seconds",
            self.rng.reseed_interval_seconds,
            1,
            86_400,
        )?;
        range(
            "session.max_frame_bytes",
            self.session.max_frame_bytes as u64,
            256,
            1 << 20,
        )?;
        range(
            "session.rate_per_second",
            self.session.rate_per_second.into(),
            1,
            10_000,
        )?;
        range("session.burst", self.session.burst.into(), 1, 100_000)?;
        range(
            "session.flood_close_after",
            self.session.flood_close_after.into(),
            1,
            1_000_000,
        )?;
        range(
            "session.reply_cache_bytes",
            self.session.reply_cache_bytes,
            1 << 20,
            1 << 36,
        )?;
        range(
            "session.send_queue_frames",
            self.session.send_queue_frames as u64,
            4,
            100_000,
        )?;
        range(
            "session.idle_timeout_seconds",
            self.session.idle_timeout_seconds,
            5,
            86_400,
        )?;
        if self
            .log
            .level
            .parse::<tracing_subscriber::EnvFilter>()
            .is_err()
        {
            return Err(fail(
                "log.level",
                format!("not a log filter: {:?}", self.log.level),
            ));
        }
        Ok(())
    }

    /// The secrets: strong enough, one per purpose, and present where a node cannot make its
    /// own (every node of a cluster must share `auth.secret`).
    fn validate_secrets(&self) -> Result<(), SecretError> {
        let auth = &self.auth;
        if auth.secret.is_empty() {
            if !self.cluster.redis_url.is_empty() {
                return Err(SecretError::Missing {
                    key: "auth.secret",
                    why: "the nodes of a cluster must share one (set CROUPIER_AUTH_SECRET)",
                });
            }
        } else {
            check_strength("auth.secret", &auth.secret)?;
        }
        for previous in &auth.previous_secrets {
            check_strength("auth.previous_secrets", previous)?;
        }
        if !auth.admin_key.is_empty() {
            check_strength("auth.admin_key", &auth.admin_key)?;
            let reused =
                auth.admin_key == auth.secret || auth.previous_secrets.contains(&auth.admin_key);
            if reused {
                return Err(SecretError::Reused {
                    key: "auth.admin_key",
                });
            }
        }
        Ok(())
    }

    /// The demo currency and balance, parsed.
    pub fn demo(&self) -> Result<Demo, (&'static str, String)> {
        let currency = self
            .currencies
            .get(&self.auth.demo_currency)
            .map_err(|e| ("auth.demo_currency", e.to_string()))?;
        let balance = Money::parse(&self.auth.demo_balance, &currency)
            .map_err(|e| ("auth.demo_balance", e.to_string()))?;
        if balance.amount() > Decimal::from(1_000_000_000) {
            return Err(("auth.demo_balance", "must be at most 1000000000".into()));
        }
        Ok(Demo { balance })
    }

    pub fn ledger_path(&self) -> PathBuf {
        self.server.data_dir.join(&self.ledger.path)
    }

    /// Worker-like counts where 0 means "one per core".
    pub fn per_core(n: usize) -> usize {
        if n > 0 {
            n
        } else {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        }
    }
}

#[cfg(test)]
mod tests;
