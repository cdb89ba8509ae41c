//! A test node's configuration, built as the typed [`croupier::config::Config`]: the shipped
//! `config/default.toml` read once, the test's changes made in Rust
//! (`.with(|c| c.auth.demo_balance = "10.00".into())`), written out as TOML for the binary.
//! A changed key name breaks the build of the tests, not their behaviour.

use std::path::{Path, PathBuf};

use croupier::config::Config;

use super::{repo_root, uuid_like, Server};

/// The shipped config as a test starts from it: the repository's games and tables, jackpots
/// off. (A mystery win would credit a player on top of the slot win, and the exact-balance
/// arithmetic of the other tests would have to expect it; tests/jackpots.rs turns them on.)
pub struct NodeConfig {
    pub config: Config,
    tables: Option<String>,
    jackpots: Option<String>,
    operators: Option<String>,
    jurisdictions: Option<String>,
}

impl NodeConfig {
    pub fn shipped() -> NodeConfig {
        let text = std::fs::read_to_string(repo_root().join("config/default.toml")).unwrap();
        let mut config: Config = toml::from_str(&text).expect("config/default.toml parses");
        config.games.dir = repo_root().join("config/games");
        config.tables.file = repo_root().join("config/tables.toml");
        config.jackpots.file = PathBuf::new();
        config.operators.file = repo_root().join("config/operators.toml");
        // No market rules unless a test asks (tests/jurisdictions.rs): the shipped profiles
        // pace spins seconds apart, which the closed-loop tests do not expect.
        config.jurisdictions.file = PathBuf::new();
        // Every test player signs up from 127.0.0.1: the shipped per-address budget (60 a
        // minute) is for the public internet. tests/security.rs sets its own to test it.
        config.auth.demo_signups_per_address_per_minute = 100_000;
        config.auth.demo_signups_per_second = 100_000;
        NodeConfig {
            config,
            tables: None,
            jackpots: None,
            operators: None,
            jurisdictions: None,
        }
    }

    /// Any change to the typed config.
    pub fn with(mut self, change: impl FnOnce(&mut Config)) -> NodeConfig {
        change(&mut self.config);
        self
    }

    /// Lifts the per-connection rate limit: closed-loop test clients send far more than the
    /// 50 frames/s a real player gets.
    pub fn fast(self) -> NodeConfig {
        self.with(|c| {
            c.session.rate_per_second = 10_000;
            c.session.burst = 10_000;
        })
    }

    /// No live tables.
    pub fn no_tables(self) -> NodeConfig {
        self.with(|c| c.tables.file = PathBuf::new())
    }

    /// These live tables (a tables.toml text), written beside the config.
    pub fn tables(mut self, text: &str) -> NodeConfig {
        self.tables = Some(text.to_string());
        self
    }

    /// These jackpot pools (a jackpots.toml text), written beside the config.
    pub fn jackpots(mut self, pools: &str) -> NodeConfig {
        self.jackpots = Some(pools.to_string());
        self
    }

    /// These operators (an operators.toml text, e.g. from `Operator::entry`), written beside
    /// the config.
    pub fn operators(mut self, text: &str) -> NodeConfig {
        self.operators = Some(text.to_string());
        self
    }

    /// These jurisdiction profiles (a jurisdictions.toml text), written beside the config.
    pub fn jurisdictions(mut self, text: &str) -> NodeConfig {
        self.jurisdictions = Some(text.to_string());
        self
    }

    /// The shipped jurisdiction profiles (default, uk, de).
    pub fn shipped_jurisdictions(self) -> NodeConfig {
        self.with(|c| c.jurisdictions.file = repo_root().join("config/jurisdictions.toml"))
    }

    /// The shipped jackpot pools.
    pub fn shipped_jackpots(self) -> NodeConfig {
        self.with(|c| c.jackpots.file = repo_root().join("config/jackpots.toml"))
    }

    /// A cluster node on this PostgreSQL ledger and Redis, in the deployment `cluster` names.
    pub fn cluster(self, cluster: &ClusterLines) -> NodeConfig {
        let (pg, redis, namespace, secret) = (
            cluster.postgres_url.clone(),
            cluster.redis_url.clone(),
            cluster.namespace.clone(),
            cluster.secret.clone(),
        );
        self.with(|c| {
            c.ledger.postgres_url = pg;
            c.cluster.redis_url = redis;
            c.cluster.namespace = namespace;
            c.auth.secret = secret;
            // The tests play demo sessions on the cluster's PostgreSQL ledger.
            c.auth.demo_on_shared_ledger = true;
        })
    }

    /// A node on this PostgreSQL ledger (no Redis), playing demo sessions on it.
    pub fn postgres(self, url: &str) -> NodeConfig {
        let url = url.to_string();
        self.with(|c| {
            c.ledger.postgres_url = url;
            c.auth.demo_on_shared_ledger = true;
        })
    }

    /// TLS on the players' listener with `ca`'s pair, read again every second.
    pub fn tls(self, ca: &super::TestCa) -> NodeConfig {
        let (cert, key) = (ca.files.cert.clone(), ca.files.key.clone());
        self.with(|c| {
            c.server.tls_cert = cert;
            c.server.tls_key = key;
            c.server.tls_reload_seconds = 1;
        })
    }

    /// Writes the config (and its tables, jackpots and operators files, if given) into `dir`; the path of
    /// the config file.
    pub fn write(&self, dir: &Path) -> PathBuf {
        let mut config = self.config.clone();
        if let Some(tables) = &self.tables {
            config.tables.file = dir.join("tables.toml");
            std::fs::write(&config.tables.file, tables).unwrap();
        }
        if let Some(pools) = &self.jackpots {
            config.jackpots.file = dir.join("jackpots.toml");
            std::fs::write(&config.jackpots.file, pools).unwrap();
        }
        if let Some(operators) = &self.operators {
            config.operators.file = dir.join("operators.toml");
            std::fs::write(&config.operators.file, operators).unwrap();
        }
        if let Some(profiles) = &self.jurisdictions {
            config.jurisdictions.file = dir.join("jurisdictions.toml");
            std::fs::write(&config.jurisdictions.file, profiles).unwrap();
        }
        let path = dir.join("croupier.toml");
        std::fs::write(
            &path,
            toml::to_string(&config).expect("the config serialises"),
        )
        .unwrap();
        path
    }

    /// Starts a node on this config with a throw-away data directory.
    pub fn start(self) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let config = self.write(dir.path());
        let mut server = Server::spawn(&config, &dir.path().join("data"));
        server.keep(dir);
        server
    }
}

/// Where a test cluster keeps its money and shared state: a PostgreSQL database of its own, a
/// Redis (the test script's, or the test's own), a Redis namespace of its own, and the secret
/// its nodes share.
pub struct ClusterLines {
    pub postgres_url: String,
    pub redis_url: String,
    pub namespace: String,
    pub secret: String,
}

impl ClusterLines {
    pub fn new(postgres_url: &str) -> ClusterLines {
        let redis_url = std::env::var("CROUPIER_TEST_REDIS").expect("scripts/test.sh starts Redis");
        Self::on(postgres_url, &redis_url)
    }

    /// [`ClusterLines::new`] on a Redis of the test's own (`OwnRedis`).
    pub fn on(postgres_url: &str, redis_url: &str) -> ClusterLines {
        ClusterLines {
            postgres_url: postgres_url.to_string(),
            redis_url: redis_url.to_string(),
            namespace: format!("t{}", uuid_like()),
            secret: format!(
                "{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            ),
        }
    }
}
