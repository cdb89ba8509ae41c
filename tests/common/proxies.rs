//! nginx and HAProxy in front of test nodes, on the shipped configs with only their addresses
//! moved to loopback and their certificates pointed at a throw-away [`TestCa`]: players reach
//! them over TLS (`base` is `https://`), as the shipped configs require.

use super::*;

/// The two ports a balancer listens on: players over TLS, and plain HTTP (redirects only).
#[derive(Clone, Copy)]
pub struct BalancerPorts {
    pub tls: u16,
    pub plain: u16,
}

impl BalancerPorts {
    pub fn free() -> BalancerPorts {
        BalancerPorts {
            tls: free_port(),
            plain: free_port(),
        }
    }

    /// `https://127.0.0.1:<tls>`: where players go.
    pub fn base(&self) -> String {
        format!("https://127.0.0.1:{}", self.tls)
    }

    /// `http://127.0.0.1:<plain>`: answered with redirects only.
    pub fn plain_base(&self) -> String {
        format!("http://127.0.0.1:{}", self.plain)
    }
}

/// deploy/nginx.conf with its three `server croupierN:8080` upstreams pointed at `nodes`, its
/// `listen 8080;` and `listen 8443 ssl;` on loopback `ports`, and its certificate paths at
/// `ca`'s files: the shipped balancer, run by the tests.
pub fn nginx_conf(nodes: &[&str; 3], ports: BalancerPorts, ca: &TestCa) -> String {
    let mut next = nodes.iter();
    let (text, changed) = rewrite_lines("deploy/nginx.conf", |trimmed| {
        if let Some(rest) = trimmed.strip_prefix("server croupier") {
            let options = rest.split_once(' ').map_or("", |(_, o)| o);
            let node = next.next().expect("three upstream servers");
            return Some(format!("server {node} {options}"));
        }
        match trimmed {
            "listen 8080;" => Some(format!("listen 127.0.0.1:{};", ports.plain)),
            "listen 8443 ssl;" => Some(format!("listen 127.0.0.1:{} ssl;", ports.tls)),
            "ssl_certificate tls/cert.pem;" => {
                Some(format!("ssl_certificate {};", ca.files.cert.display()))
            }
            "ssl_certificate_key tls/key.pem;" => {
                Some(format!("ssl_certificate_key {};", ca.files.key.display()))
            }
            _ => None,
        }
    });
    assert_eq!(
        changed, 7,
        "deploy/nginx.conf has three `server croupierN:8080` lines, `listen 8080;`, \
         `listen 8443 ssl;`, `ssl_certificate tls/cert.pem;` and `ssl_certificate_key tls/key.pem;`"
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
/// [`nginx_conf`]) and a throw-away certificate; stopped when dropped.
pub struct Nginx {
    child: std::process::Child,
    _prefix: tempfile::TempDir,
    pub ca: TestCa,
    /// `https://127.0.0.1:<port>`: the players' side.
    pub base: String,
    /// `http://127.0.0.1:<port>`: plain HTTP, answered with redirects to https.
    pub plain: String,
}

impl Nginx {
    pub fn binary() -> &'static str {
        ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("nginx is missing: run scripts/install-test-deps.sh")
    }

    pub async fn start(nodes: &[Server]) -> Nginx {
        let addresses = node_addresses(nodes);
        Self::start_at([&*addresses[0], &*addresses[1], &*addresses[2]]).await
    }

    /// In front of these `host:port` upstreams (one node may be named three times).
    pub async fn start_at(upstreams: [&str; 3]) -> Nginx {
        let ports = BalancerPorts::free();
        let ca = TestCa::new();
        let prefix = tempfile::tempdir().unwrap();
        let conf = prefix.path().join("nginx.conf");
        std::fs::write(&conf, nginx_conf(&upstreams, ports, &ca)).unwrap();
        let child = Command::new(Self::binary())
            .arg("-c")
            .arg(&conf)
            .arg("-p")
            .arg(format!("{}/", prefix.path().display()))
            .args(["-g", "daemon off; master_process off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let base = ports.base();
        let http = http();
        for _ in 0..100 {
            if http
                .get(format!("{base}/health/ready"))
                .send()
                .await
                .is_ok()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Nginx {
            child,
            _prefix: prefix,
            ca,
            base,
            plain: ports.plain_base(),
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
/// lines at `nodes`, the player frontend on `ports` (TLS with `ca`'s bundle, and plain), the
/// stats frontend on `stats`.
pub fn haproxy_conf(nodes: &[&str; 3], ports: BalancerPorts, stats: u16, ca: &TestCa) -> String {
    let mut next = nodes.iter();
    let (text, changed) = rewrite_lines("deploy/haproxy.cfg", |trimmed| {
        let mut words = trimmed.split_whitespace();
        match (words.next(), words.next()) {
            (Some("server"), Some(name)) if name.starts_with("croupier") => {
                let node = next.next().expect("three backend servers");
                Some(format!("server {name} {node}"))
            }
            (Some("bind"), Some(":8443")) => {
                let options: Vec<&str> = words.collect();
                let options = options.join(" ").replace(
                    "/usr/local/etc/haproxy/tls/bundle.pem",
                    &ca.files.bundle.display().to_string(),
                );
                Some(format!("bind 127.0.0.1:{} {options}", ports.tls))
            }
            (Some("bind"), Some(":8080")) => Some(format!("bind 127.0.0.1:{}", ports.plain)),
            (Some("bind"), Some(":8404")) => Some(format!("bind 127.0.0.1:{stats}")),
            _ => None,
        }
    });
    assert_eq!(
        changed, 6,
        "deploy/haproxy.cfg has three `server croupierN` lines, `bind :8443`, `bind :8080` and \
         `bind :8404`"
    );
    assert!(
        text.contains(&ca.files.bundle.display().to_string()),
        "`bind :8443` names /usr/local/etc/haproxy/tls/bundle.pem"
    );
    text
}

/// HAProxy in front of three nodes with the shipped `deploy/haproxy.cfg` (rewritten by
/// [`haproxy_conf`]) and a throw-away certificate, in the foreground; stopped when dropped.
pub struct Haproxy {
    child: std::process::Child,
    _dir: tempfile::TempDir,
    pub ca: TestCa,
    /// `https://127.0.0.1:<port>`: the players' side.
    pub base: String,
    /// `http://127.0.0.1:<port>`: plain HTTP, answered with redirects to https.
    pub plain: String,
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
        let (ports, stats_port) = (BalancerPorts::free(), free_port());
        let ca = TestCa::new();
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("haproxy.cfg");
        std::fs::write(&conf, haproxy_conf(&refs, ports, stats_port, &ca)).unwrap();
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
            ca,
            base: ports.base(),
            plain: ports.plain_base(),
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

/// On a balancer's plain-HTTP port every request, the WebSocket upgrade and the session POST
/// included, is answered 308 to the same path over https and reaches no node.
pub async fn plain_http_is_only_redirected(plain: &str) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for (method, path) in [
        (reqwest::Method::GET, "/health/ready"),
        (reqwest::Method::POST, "/v1/sessions"),
        (reqwest::Method::GET, "/v1/ws?ticket=abc"),
    ] {
        let reply = http
            .request(method.clone(), format!("{plain}{path}"))
            .header("upgrade", "websocket")
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 308, "{method} {path} over plain HTTP");
        let location = reply.headers()["location"].to_str().unwrap().to_string();
        assert!(
            location.starts_with("https://") && location.ends_with(path),
            "{method} {path}: redirected to {location}"
        );
    }
}
