//! Test support: starts the real `croupier` binary on a free loopback port with a throw-away
//! data directory, and talks to it with real HTTP and WebSocket clients.
#![allow(dead_code)]

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
    pub base: String,
    pub data_dir: PathBuf,
    pub config: PathBuf,
    _keep: Option<tempfile::TempDir>,
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Writes a config derived from the shipped default with `edits` applied (line replacements).
pub fn config_with(dir: &Path, edits: &[(&str, &str)]) -> PathBuf {
    let mut text = std::fs::read_to_string(repo_root().join("config/default.toml")).unwrap();
    for (from, to) in edits {
        assert!(text.contains(from), "config edit target missing: {from}");
        text = text.replacen(from, to, 1);
    }
    let games = repo_root().join("config/games");
    text = text.replacen(
        "dir = \"config/games\"",
        &format!("dir = {:?}", games.display().to_string()),
        1,
    );
    // Jackpots are off unless a test asks for them (edit `file = ""` under [jackpots] back):
    // a mystery win would credit a player on top of the slot win, and the exact-balance
    // arithmetic of the other tests would have to expect it. tests/jackpots.rs runs them.
    if !edits
        .iter()
        .any(|(from, _)| from.contains("config/jackpots.toml"))
    {
        text = text.replacen("file = \"config/jackpots.toml\"", "file = \"\"", 1);
    }
    let tables = repo_root().join("config/tables.toml");
    text = text.replacen(
        "file = \"config/tables.toml\"",
        &format!("file = {:?}", tables.display().to_string()),
        1,
    );
    let path = dir.join("croupier.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The shipped tables on fast timings: `betting` seconds of betting, 1 s closed, result and
/// settled each.
pub fn fast_tables(betting: u64) -> String {
    croupier::table::testing::fast_tables_text(betting)
}

impl Server {
    /// Starts a server whose live tables are `tables` (a tables.toml text).
    pub fn start_with_tables(edits: &[(&str, &str)], tables: &str) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let tables_path = dir.path().join("tables.toml");
        std::fs::write(&tables_path, tables).unwrap();
        let file_line = format!("file = {:?}", tables_path.display().to_string());
        let mut all: Vec<(&str, &str)> = edits.to_vec();
        all.push(("file = \"config/tables.toml\"", &file_line));
        let config = config_with(dir.path(), &all);
        let data_dir = dir.path().join("data");
        let mut server = Self::spawn(&config, &data_dir);
        server._keep = Some(dir);
        server
    }

    pub fn start() -> Server {
        Self::start_with(&[])
    }

    pub fn start_with(edits: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let config = config_with(dir.path(), edits);
        let data_dir = dir.path().join("data");
        let mut server = Self::spawn(&config, &data_dir);
        server._keep = Some(dir);
        server
    }

    /// Starts a server on an existing config and data directory (used to restart after a kill).
    pub fn spawn(config: &Path, data_dir: &Path) -> Server {
        Self::spawn_logged(config, data_dir, Stdio::inherit(), "warn")
    }

    /// Like [`Server::spawn`], with the server's log (stderr) sent to `log` at `rust_log`.
    pub fn spawn_logged(config: &Path, data_dir: &Path, log: Stdio, rust_log: &str) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_croupier"))
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(config)
            .arg("--data-dir")
            .arg(data_dir)
            .env("RUST_LOG", rust_log)
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("croupier binary starts");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let base = loop {
            let line = lines
                .next()
                .expect("server printed its address before exiting")
                .unwrap();
            if let Some(addr) = line.strip_prefix("listening on ") {
                break addr.trim().to_string();
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server {
            child,
            base,
            data_dir: data_dir.to_path_buf(),
            config: config.to_path_buf(),
            _keep: None,
        }
    }

    pub fn ws_url(&self, token: &str) -> String {
        format!(
            "{}/v1/ws?token={token}",
            self.base.replace("http://", "ws://")
        )
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
        let out = Command::new(env!("CARGO_BIN_EXE_croupier"))
            .args(["audit", "--config"])
            .arg(&self.config)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
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

pub async fn open_session(server: &Server, player: &str) -> Session {
    open_session_at(&server.base, player).await
}

/// [`open_session`] at any base URL (a load balancer in front of nodes).
pub async fn open_session_at(base: &str, player: &str) -> Session {
    let reply = reqwest::Client::new()
        .post(format!("{base}/v1/sessions"))
        .json(&json!({"player_id": player, "currency": "EUR"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 201, "session for {player}");
    let body: Value = reply.json().await.unwrap();
    Session {
        token: body["token"].as_str().unwrap().to_string(),
        player: player.to_string(),
        balance: body["balance"].as_str().unwrap().to_string(),
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

/// Writes `pools` as a jackpots file in `dir`; the config line that points at it (pass it as
/// the replacement of `file = "config/jackpots.toml"`).
pub fn jackpots_file(dir: &Path, pools: &str) -> String {
    let file = dir.join("jackpots.toml");
    std::fs::write(&file, pools).unwrap();
    format!("file = {:?}", file.display().to_string())
}

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

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// deploy/nginx.conf with its three `server croupierN:8080` upstreams pointed at `nodes` and
/// `listen 8080;` on a loopback port: the shipped balancer, run by the tests.
pub fn nginx_conf(nodes: &[&str; 3], listen: u16) -> String {
    let mut next = nodes.iter();
    let (text, changed) = rewrite_lines("deploy/nginx.conf", |trimmed| {
        if let Some(rest) = trimmed.strip_prefix("server croupier") {
            let options = rest.split_once(' ').map_or("", |(_, o)| o);
            let node = next.next().expect("three upstream servers");
            Some(format!("server {node} {options}"))
        } else {
            (trimmed == "listen 8080;").then(|| format!("listen 127.0.0.1:{listen};"))
        }
    });
    assert_eq!(
        changed, 4,
        "deploy/nginx.conf has three `server croupierN:8080` lines and `listen 8080;`"
    );
    text
}

/// The repository file `path` with each line `rewrite` returns a replacement for (given the
/// line without its indent, which the replacement keeps); and how many lines it replaced.
fn rewrite_lines(path: &str, mut rewrite: impl FnMut(&str) -> Option<String>) -> (String, usize) {
    let original = std::fs::read_to_string(repo_root().join(path)).unwrap();
    let mut changed = 0;
    let mut text = String::with_capacity(original.len());
    for line in original.lines() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        match rewrite(trimmed) {
            Some(new) => {
                changed += 1;
                text.push_str(indent);
                text.push_str(&new);
            }
            None => text.push_str(line),
        }
        text.push('\n');
    }
    (text, changed)
}

/// The nodes' `host:port` addresses, for a balancer's config.
fn node_addresses(nodes: &[Server]) -> [String; 3] {
    let address = |i: usize| nodes[i].base.trim_start_matches("http://").to_string();
    [address(0), address(1), address(2)]
}

/// nginx in front of three nodes, with the shipped `deploy/nginx.conf` (rewritten by
/// [`nginx_conf`]); stopped when dropped.
pub struct Nginx {
    child: std::process::Child,
    _prefix: tempfile::TempDir,
    /// `http://127.0.0.1:<port>`
    pub base: String,
}

impl Nginx {
    pub async fn start(nodes: &[Server]) -> Nginx {
        let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("nginx is missing: run scripts/install-test-deps.sh");
        let addresses = node_addresses(nodes);
        let refs = [&*addresses[0], &*addresses[1], &*addresses[2]];
        let port = free_port();
        let prefix = tempfile::tempdir().unwrap();
        let conf = prefix.path().join("nginx.conf");
        std::fs::write(&conf, nginx_conf(&refs, port)).unwrap();
        let child = Command::new(nginx)
            .arg("-c")
            .arg(&conf)
            .arg("-p")
            .arg(format!("{}/", prefix.path().display()))
            .args(["-g", "daemon off; master_process off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if reqwest::get(format!("{base}/health/ready")).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Nginx {
            child,
            _prefix: prefix,
            base,
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `deploy/haproxy.cfg` pointed at test nodes: the three `server croupierN croupierN:8080`
/// lines at `nodes`, the player frontend on `listen`, the stats frontend on `stats`.
pub fn haproxy_conf(nodes: &[&str; 3], listen: u16, stats: u16) -> String {
    let mut next = nodes.iter();
    let (text, changed) = rewrite_lines("deploy/haproxy.cfg", |trimmed| {
        let mut words = trimmed.split_whitespace();
        match (words.next(), words.next()) {
            (Some("server"), Some(name)) if name.starts_with("croupier") => {
                let node = next.next().expect("three backend servers");
                Some(format!("server {name} {node}"))
            }
            (Some("bind"), Some(":8080")) => Some(format!("bind 127.0.0.1:{listen}")),
            (Some("bind"), Some(":8404")) => Some(format!("bind 127.0.0.1:{stats}")),
            _ => None,
        }
    });
    assert_eq!(
        changed, 5,
        "deploy/haproxy.cfg has three `server croupierN` lines, `bind :8080` and `bind :8404`"
    );
    text
}

/// HAProxy in front of three nodes with the shipped `deploy/haproxy.cfg` (rewritten by
/// [`haproxy_conf`]), in the foreground; stopped when dropped.
pub struct Haproxy {
    child: std::process::Child,
    _dir: tempfile::TempDir,
    /// `http://127.0.0.1:<port>`: the players' side.
    pub base: String,
    /// HAProxy's stats page, `http://127.0.0.1:<port>/stats`.
    pub stats: String,
}

impl Haproxy {
    /// Debian's haproxy binary (in /usr/sbin, which a non-root PATH may lack).
    pub fn binary() -> &'static str {
        ["/usr/sbin/haproxy", "/usr/bin/haproxy"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("haproxy is missing: run scripts/install-test-deps.sh")
    }

    pub async fn start(nodes: &[Server]) -> Haproxy {
        let haproxy = Self::binary();
        let addresses = node_addresses(nodes);
        let refs = [&*addresses[0], &*addresses[1], &*addresses[2]];
        let (port, stats_port) = (free_port(), free_port());
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("haproxy.cfg");
        std::fs::write(&conf, haproxy_conf(&refs, port, stats_port)).unwrap();
        let child = Command::new(haproxy)
            .arg("-db")
            .arg("-f")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut proxy = Haproxy {
            child,
            _dir: dir,
            base: format!("http://127.0.0.1:{port}"),
            stats: format!("http://127.0.0.1:{stats_port}/stats"),
        };
        for _ in 0..100 {
            if reqwest::get(&proxy.stats).await.is_ok() {
                break;
            }
            if let Ok(Some(status)) = proxy.child.try_wait() {
                panic!("haproxy exited ({status}): run it on the config to see why");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        proxy
    }

    /// Each backend server's state as HAProxy's checks see it (`UP`, `DOWN`, `UP 1/2`, ...),
    /// by server name (`croupier1`..`croupier3`).
    pub async fn server_states(&self) -> std::collections::BTreeMap<String, String> {
        let csv = reqwest::get(format!("{};csv", self.stats))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let mut lines = csv.lines();
        let header: Vec<&str> = lines
            .next()
            .unwrap_or("")
            .trim_start_matches("# ")
            .split(',')
            .collect();
        let column = |name: &str| header.iter().position(|h| *h == name).unwrap();
        let (proxy, server, status) = (column("pxname"), column("svname"), column("status"));
        lines
            .map(|l| l.split(',').collect::<Vec<_>>())
            .filter(|row| row.len() > status && row[proxy] == "croupier")
            .filter(|row| row[server].starts_with("croupier"))
            .map(|row| (row[server].to_string(), row[status].to_string()))
            .collect()
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Server pushes that may interleave with any reply when jackpots are on.
pub const JACKPOT_PUSHES: [&str; 2] = ["jackpot_update", "jackpot_won"];

pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub welcome: Value,
}

impl Client {
    pub async fn connect(server: &Server, token: &str) -> Client {
        Self::connect_at(&server.base, token).await
    }

    /// [`Client::connect`] at any base URL (a load balancer in front of nodes).
    pub async fn connect_at(base: &str, token: &str) -> Client {
        let url = format!("{}/v1/ws?token={token}", base.replace("http://", "ws://"));
        let (mut ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket upgrade");
        let welcome = next_json(&mut ws).await;
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        Client { ws, welcome }
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

pub fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{nanos}-{}", N.fetch_add(1, Ordering::Relaxed))
}

/// The next JSON text frame, or `None` if the connection broke, closed or stayed silent for
/// [`REPLY_TIMEOUT`].
pub async fn try_next_json(ws: &mut WebSocketStream<MaybeTlsStream<TcpStream>>) -> Option<Value> {
    loop {
        let message = tokio::time::timeout(REPLY_TIMEOUT, ws.next())
            .await
            .ok()??
            .ok()?;
        match message {
            Message::Text(text) => return serde_json::from_str(&text).ok(),
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
            Message::Text(text) => return serde_json::from_str(&text).expect("server sends JSON"),
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

/// Config edits that lift the per-connection rate limit: closed-loop test clients send far
/// more than the 50 frames/s a real player gets.
pub const FAST: &[(&str, &str)] = &[
    ("rate_per_second = 50", "rate_per_second = 10000"),
    ("burst = 100", "burst = 10000"),
];

/// Parses an amount string into integer cents.
pub fn cents(text: &str) -> i64 {
    let d: rust_decimal::Decimal = text.parse().unwrap();
    (d * rust_decimal::Decimal::from(100)).try_into().unwrap()
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

/// Sends a request and waits for the frame answering its `req_id` (pushes skipped).
pub async fn ask(client: &mut Client, frame: Value) -> Value {
    let req_id = frame["req_id"].clone();
    client.send(frame).await;
    wait_for(client, "the reply", |f| f["req_id"] == req_id).await
}

async fn metrics_text(node: &Server) -> String {
    reqwest::get(format!("{}/metrics", node.base))
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

/// What puts a node in cluster mode for a test: the test PostgreSQL database `postgres_url`
/// (from [`pg_database`]), the test script's Redis, and a Redis namespace of its own (no lease,
/// reply log or event of another test).
pub struct ClusterLines {
    pub redis_url: String,
    pub namespace: String,
    lines: [String; 3],
}

impl ClusterLines {
    pub fn new(postgres_url: &str) -> ClusterLines {
        let redis_url = std::env::var("CROUPIER_TEST_REDIS").expect("scripts/test.sh starts Redis");
        Self::on(postgres_url, &redis_url)
    }

    /// [`ClusterLines::new`] on a Redis of the test's own ([`OwnRedis`]).
    pub fn on(postgres_url: &str, redis_url: &str) -> ClusterLines {
        let redis_url = redis_url.to_string();
        let namespace = format!("t{}", uuid_like());
        let lines = [
            format!("postgres_url = {postgres_url:?}"),
            format!("redis_url = {redis_url:?}"),
            format!("namespace = {namespace:?}"),
        ];
        ClusterLines {
            redis_url,
            namespace,
            lines,
        }
    }

    /// The config edits, for [`config_with`] and the `Server::start_*` helpers.
    pub fn edits(&self) -> Vec<(&str, &str)> {
        vec![
            ("postgres_url = \"\"", self.lines[0].as_str()),
            ("redis_url = \"\"", self.lines[1].as_str()),
            ("namespace = \"croupier\"", self.lines[2].as_str()),
        ]
    }
}

/// A node's `GET /v1/cluster`: its name, the live nodes, who runs each table.
pub async fn cluster_view(node: &Server) -> Value {
    reqwest::get(format!("{}/v1/cluster", node.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A Redis of the test's own on a free loopback port, without persistence: stopping it or
/// starting it again empty disturbs no other test.
pub struct OwnRedis {
    port: u16,
    child: Option<Child>,
}

impl OwnRedis {
    /// Starts it again on the same port, empty, after [`OwnRedis::stop`].
    pub fn start_again(&mut self) {
        self.child = Some(Self::start_on(self.port));
    }

    fn start_on(port: u16) -> Child {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (scripts/install-test-deps.sh installs it)");
        let mut child = child;
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return child;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("redis-server did not listen on {port}");
    }

    pub fn start() -> OwnRedis {
        let port = free_port();
        OwnRedis {
            child: Some(Self::start_on(port)),
            port,
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Stops it (SIGKILL): everything it held is gone.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, empty.
    pub fn restart(&mut self) {
        self.stop();
        self.child = Some(Self::start_on(self.port));
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Connection attempts a [`spinner`] makes before it gives up (200 ms apart).
pub const SPINNER_CONNECT_ATTEMPTS: usize = 50;

/// Spins `classic_sevens` at 1.00 until `stop`, `pause` apart, reconnecting with the token when
/// the connection breaks; a spin answered busy is resent with its `req_id` until answered.
/// Returns the cents staked and won over every acknowledged spin, the final balance and how
/// many busy answers it got.
pub async fn spinner(
    server: String,
    token: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    pause: Duration,
) -> (i64, i64, i64, usize) {
    let url = format!("{}/v1/ws?token={token}", server.replace("http://", "ws://"));
    // A node that just died, or one that cannot read the session yet: try again, bounded.
    let connect = || async {
        for _ in 0..SPINNER_CONNECT_ATTEMPTS {
            if let Ok((mut ws, _)) = tokio_tungstenite::connect_async(&url).await {
                if next_json(&mut ws).await["type"] == "welcome" {
                    return Some(ws);
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        None
    };
    let mut ws = connect().await.expect("first connection");
    let (mut staked, mut won, mut busy) = (0, 0, 0);
    let mut i = 0;
    // A spin answered "busy" may still commit: resend its req_id until it is answered, even
    // after `stop` (bounded), so the books below count it.
    let mut unresolved = false;
    let mut resends_after_stop = 0;
    while !stop.load(std::sync::atomic::Ordering::Relaxed)
        || (unresolved && resends_after_stop < 200)
    {
        if stop.load(std::sync::atomic::Ordering::Relaxed) {
            resends_after_stop += 1;
        }
        let req = format!("s{i}");
        let frame = json!({"type": "spin", "req_id": req, "game": "classic_sevens", "bet": "1.00"});
        if ws.send(frame.to_string().into()).await.is_err() {
            ws = connect().await.expect("reconnect");
            continue;
        }
        let reply = loop {
            match try_next_json(&mut ws).await {
                Some(r) if r["req_id"] == req.as_str() => break Some(r),
                Some(_) => continue,
                None => break None,
            }
        };
        let Some(reply) = reply else {
            // The node died under the spin: it may have committed; resend its req_id.
            unresolved = true;
            ws = connect().await.expect("reconnect");
            continue;
        };
        match reply["type"].as_str() {
            Some("spin_result") => {
                staked += cents(reply["bet"].as_str().unwrap());
                won += cents(reply["win"].as_str().unwrap());
                i += 1;
                unresolved = false;
            }
            // Opened on a node that died: voided and refunded, nothing staked.
            Some("error") if reply["code"] == "round_void" => {
                i += 1;
                unresolved = false;
            }
            _ if reply["code"] == "server_busy" || reply["code"] == "service_unavailable" => {
                busy += 1;
                unresolved = true;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            _ => panic!("unexpected reply {reply}"),
        }
        tokio::time::sleep(pause).await;
    }
    let balance = loop {
        let _ = ws
            .send(
                json!({"type": "balance", "req_id": "final"})
                    .to_string()
                    .into(),
            )
            .await;
        let Some(r) = try_next_json(&mut ws).await else {
            ws = connect().await.expect("reconnect");
            continue;
        };
        if r["type"] == "balance" {
            break cents(r["balance"].as_str().unwrap());
        }
    };
    (staked, won, balance, busy)
}

/// What a set of [`spinner`]s did, added up.
pub struct SpinTotals {
    pub staked: i64,
    pub won: i64,
    pub balances: i64,
    pub busy: usize,
    /// The least any one spinner staked (0: one never got a spin in).
    pub least_staked: i64,
}

/// Waits for every spinner and adds up their books.
pub async fn spinners_done(
    spinners: Vec<tokio::task::JoinHandle<(i64, i64, i64, usize)>>,
) -> SpinTotals {
    let mut totals = SpinTotals {
        staked: 0,
        won: 0,
        balances: 0,
        busy: 0,
        least_staked: i64::MAX,
    };
    for spinner in spinners {
        let (staked, won, balance, busy) = spinner.await.unwrap();
        totals.staked += staked;
        totals.won += won;
        totals.balances += balance;
        totals.busy += busy;
        totals.least_staked = totals.least_staked.min(staked);
    }
    totals
}
