//! Test support: starts the real `croupier` binary on a free loopback port with a throw-away
//! data directory, and talks to it with real HTTP and WebSocket clients.
//!
//! | file | gives a test |
//! |---|---|
//! | `mod.rs` | `Server` (the real binary), sessions, PostgreSQL databases, ports, metrics |
//! | `config.rs` | `NodeConfig`: the typed config a node starts on; `ClusterLines` |
//! | `client.rs` | `Client`: a WebSocket player, and waiting for frames |
//! | `proxies.rs` | nginx and HAProxy in front of nodes, on the shipped configs |
//! | `own_redis.rs` | a Redis of the test's own, to stop and restart |
//! | `spinners.rs` | closed-loop spinners and their books |
//! | `tls.rs` | throw-away certificates, and HTTP / WebSocket clients that trust them |
#![allow(dead_code)]

mod client;
mod config;
mod own_redis;
mod proxies;
mod spinners;
mod tls;
// Shared by every module of the test binary; each uses some of it (like the dead_code
// allowance above).
#[allow(unused_imports)]
pub use client::*;
#[allow(unused_imports)]
pub use config::{ClusterLines, NodeConfig};
#[allow(unused_imports)]
pub use own_redis::*;
#[allow(unused_imports)]
pub use proxies::*;
#[allow(unused_imports)]
pub use spinners::*;
#[allow(unused_imports)]
pub use tls::*;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Longest a test waits for any one reply: generous for a loaded 2-core CI machine.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(20);

pub struct Server {
    pub child: Child,
    /// `http://127.0.0.1:<port>` of the admin listener (/metrics, /v1/cluster, /v1/admin/*).
    pub admin: String,
    /// `http(s)://127.0.0.1:<port>` of the operator listener (/v1/operator/*).
    pub operator: String,
    pub base: String,
    pub data_dir: PathBuf,
    pub config: PathBuf,
    _keep: Option<tempfile::TempDir>,
}

/// A WebSocket upgrade request.
pub type WsRequest = tokio_tungstenite::tungstenite::handshake::client::Request;

/// The upgrade request to `base`'s WebSocket (`http://host:port`, `https://…` or `ws://…`)
/// carrying `token` in its `Authorization` header: tokens never travel in URLs.
pub fn ws_request(base: &str, token: &str) -> WsRequest {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let url = format!("{}/v1/ws", base.replacen("http", "ws", 1));
    let mut request = url.into_client_request().expect("a WebSocket URL");
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {token}")
            .parse()
            .expect("a token is a header value"),
    );
    request
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shipped tables on fast timings: `betting` seconds of betting, 1 s closed, result and
/// settled each.
pub fn fast_tables(betting: u64) -> String {
    croupier::table::testing::fast_tables_text(betting)
}

/// `croupier serve` on this config and data directory, with these variables and none of the
/// secrets of the test's own environment, run until it exits: for start-up refusals. Its
/// stdout and stderr are in the output.
pub fn serve_until_exit(
    config: &Path,
    data_dir: &Path,
    env: &[(&str, &str)],
) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_croupier"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
            "--operator-listen",
            "127.0.0.1:0",
            "--config",
        ])
        .arg(config)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("CROUPIER_AUTH_SECRET")
        .env_remove("CROUPIER_ADMIN_KEY")
        .envs(env.iter().copied())
        .output()
        .expect("croupier binary runs")
}

impl Server {
    /// A node on the shipped config (see [`NodeConfig`] for any other).
    pub fn start() -> Server {
        NodeConfig::shipped().start()
    }

    /// Keeps `dir` (the node's config and data) until the server is dropped.
    pub fn keep(&mut self, dir: tempfile::TempDir) {
        self._keep = Some(dir);
    }

    /// Starts a server on an existing config and data directory (used to restart after a kill).
    pub fn spawn(config: &Path, data_dir: &Path) -> Server {
        Self::spawn_logged(config, data_dir, Stdio::inherit(), "warn")
    }

    /// Like [`Server::spawn`], with the server's log (stderr) sent to `log` at `rust_log`.
    pub fn spawn_logged(config: &Path, data_dir: &Path, log: Stdio, rust_log: &str) -> Server {
        Self::spawn_with(config, data_dir, log, rust_log, &[])
    }

    /// Like [`Server::spawn_logged`], with these variables in the server's environment.
    pub fn spawn_with(
        config: &Path,
        data_dir: &Path,
        log: Stdio,
        rust_log: &str,
        env: &[(&str, &str)],
    ) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_croupier"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--admin-listen",
                "127.0.0.1:0",
                "--operator-listen",
                "127.0.0.1:0",
                "--config",
            ])
            .arg(config)
            .arg("--data-dir")
            .arg(data_dir)
            .env("RUST_LOG", rust_log)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("croupier binary starts");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let mut admin = String::new();
        let mut operator = String::new();
        let base = loop {
            let line = lines
                .next()
                .expect("server printed its address before exiting")
                .unwrap();
            if let Some(addr) = line.strip_prefix("admin listening on ") {
                admin = addr.trim().to_string();
            } else if let Some(addr) = line.strip_prefix("operator listening on ") {
                operator = addr.trim().to_string();
            } else if let Some(addr) = line.strip_prefix("listening on ") {
                break addr.trim().to_string();
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server {
            child,
            base,
            admin,
            operator,
            data_dir: data_dir.to_path_buf(),
            config: config.to_path_buf(),
            _keep: None,
        }
    }

    /// The upgrade request to this node's WebSocket with `token` as its bearer.
    pub fn ws_request(&self, token: &str) -> WsRequest {
        ws_request(&self.base, token)
    }

    pub fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    pub fn sigterm(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(status.success());
        self.sigterm_wait()
    }

    /// Waits for the process to exit after a signal sent elsewhere.
    pub fn sigterm_wait(&mut self) -> std::process::ExitStatus {
        for _ in 0..300 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("server did not exit within 30 s of SIGTERM");
    }

    /// Runs `croupier audit` on this server's ledger.
    pub fn audit(&self) -> (bool, String) {
        self.ledger_command("audit")
    }

    /// `croupier reconcile` on this node's config and data: the audit, every jackpot pool and
    /// the books per operator; whether it passed, and what it printed.
    pub fn reconcile(&self) -> (bool, String) {
        self.ledger_command("reconcile")
    }

    fn ledger_command(&self, command: &str) -> (bool, String) {
        let (ok, stdout, _) = self.command(&[command]);
        (ok, stdout)
    }

    /// `croupier <args> --config <this node's> --data-dir <this node's>`: whether it
    /// succeeded, its stdout and its stderr.
    pub fn command(&self, args: &[&str]) -> (bool, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_croupier"))
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Session {
    pub token: String,
    pub player: String,
    pub balance: String,
}

/// A new demo session in EUR: the server chooses the player (`demo-…`); `label` only names
/// the session in a failure. The same player is reached again with `Session::token`.
pub async fn open_session(server: &Server, label: &str) -> Session {
    open_session_at(&server.base, label).await
}

/// [`open_session`] at any base URL (a load balancer in front of nodes).
pub async fn open_session_at(base: &str, label: &str) -> Session {
    let reply = http()
        .post(format!("{base}/v1/sessions"))
        .json(&json!({"currency": "EUR"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 201, "session for {label}");
    let body: Value = reply.json().await.unwrap();
    assert_eq!(body["demo"], true, "{body}");
    Session {
        token: body["token"].as_str().unwrap().to_string(),
        player: body["player_id"].as_str().unwrap().to_string(),
        balance: body["balance"].as_str().unwrap().to_string(),
    }
}

/// A real session of `player` of the operator whose key is `key` (see [`Operator`]), launched
/// on starfall; nothing is deposited.
pub async fn operator_session(server: &Server, key: &str, player: &str, currency: &str) -> Session {
    let reply = http()
        .post(format!("{}/v1/operator/launch", server.operator))
        .bearer_auth(key)
        .json(&json!({
            "player_id": player, "currency": currency, "game": "starfall",
            "language": "en", "country": "DE", "mode": "real",
        }))
        .send()
        .await
        .unwrap();
    let status = reply.status();
    let body: Value = reply.json().await.unwrap();
    assert_eq!(status, 201, "launch of {player}: {body}");
    assert_eq!(body["mode"], "real", "{body}");
    Session {
        token: body["token"].as_str().unwrap().to_string(),
        player: player.to_string(),
        balance: body["balance"].as_str().unwrap().to_string(),
    }
}

/// An operator of a test: its id and a key; [`Operator::file`] is its operators.toml entry.
pub struct Operator {
    pub id: &'static str,
    pub key: String,
}

impl Operator {
    /// `id` with a fresh key.
    pub fn new(id: &'static str) -> Operator {
        let (key, _) = croupier::operator::keys::generate().expect("the OS has randomness");
        Operator { id, key }
    }

    /// Its `[[operator]]` entry, in `currencies`, with `lines` added (e.g. a rate).
    pub fn entry(&self, currencies: &[&str], lines: &str) -> String {
        let hash = croupier::operator::keys::KeyHash::of(&self.key);
        let currencies: Vec<String> = currencies.iter().map(|c| format!("{c:?}")).collect();
        format!(
            "[[operator]]\nid = \"{}\"\ncurrencies = [{}]\nwallet = \"transfer\"\n\
             jurisdiction = \"default\"\nkey_hashes = [\"{hash}\"]\n{lines}\n",
            self.id,
            currencies.join(", ")
        )
    }
}

/// A pool that drops often: mini about one spin in 20 (mystery, 5% of every bet) and at its
/// 3.00 ceiling; fed by both slots.
pub const HOT_POOL: &str = r#"
[[pool]]
id = "hot"
currency = "EUR"
games = ["classic_sevens", "starfall"]

[[pool.level]]
name = "mini"
contribution = "0.05"
seed = "1.00"
mystery_drop_at = "2.00"
must_drop_by = "3.00"
"#;

/// A fresh database on the PostgreSQL the test script started (`CROUPIER_TEST_PG`), as a URL;
/// `None` with a note outside the script, a failure inside it (`CROUPIER_REQUIRE_SERVICES`).
pub async fn pg_database(prefix: &str) -> Option<String> {
    let Ok(base) = std::env::var("CROUPIER_TEST_PG") else {
        assert!(
            std::env::var_os("CROUPIER_REQUIRE_SERVICES").is_none(),
            "CROUPIER_TEST_PG is not set: run the suite with scripts/test.sh"
        );
        eprintln!("skipped: CROUPIER_TEST_PG is not set (scripts/test.sh sets it)");
        return None;
    };
    let name = format!("{prefix}_{}", uuid_like().replace('-', "_"));
    croupier::wallet::postgres::create_database(&format!("{base}/postgres"), &name)
        .await
        .unwrap();
    Some(format!("{base}/{name}"))
}

/// The wall clock in Unix ms, as the server's timestamps read.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{nanos}-{}", N.fetch_add(1, Ordering::Relaxed))
}

/// Parses an amount string into integer cents.
pub fn cents(text: &str) -> i64 {
    let d: rust_decimal::Decimal = text.parse().unwrap();
    (d * rust_decimal::Decimal::from(100)).try_into().unwrap()
}

/// The node's /metrics text.
pub async fn metrics_text(node: &Server) -> String {
    reqwest::get(format!("{}/metrics", node.admin))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The sum of every sample of the metric family `name` (all label sets) on a node.
pub async fn metric_sum(node: &Server, name: &str) -> f64 {
    let text = metrics_text(node).await;
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// A sample of a node's `/metrics` (`name` with its labels, as printed), 0 if absent.
pub async fn metric(node: &Server, name: &str) -> f64 {
    let text = metrics_text(node).await;
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

/// A JSON `GET` of the players' listener: `path` of `server`, its body.
pub async fn get_json(server: &Server, path: &str) -> Value {
    reqwest::get(format!("{}{path}", server.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The jackpot levels `GET /v1/jackpots` lists (the pools in force).
pub async fn jackpot_levels(server: &Server) -> Vec<Value> {
    get_json(server, "/v1/jackpots").await["jackpots"]
        .as_array()
        .unwrap()
        .clone()
}

/// A node's `GET /v1/cluster`: its name, the live nodes, who runs each table.
pub async fn cluster_view(node: &Server) -> Value {
    reqwest::get(format!("{}/v1/cluster", node.admin))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}
