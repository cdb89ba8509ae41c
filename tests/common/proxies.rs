//! nginx and HAProxy in front of test nodes, on the shipped configs with only their addresses
//! moved to loopback.

use super::*;

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
