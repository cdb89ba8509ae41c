//! The shipped nginx and HAProxy configs log the path of every request but never its query
//! string: a WebSocket ticket (`/v1/ws?ticket=…`) or any other value a client puts in a URL
//! must not reach the balancers' logs.

use std::time::Duration;

use super::common::*;
use super::*;

/// A value no log line may contain.
const MARK: &str = "secretquerymark0123456789";

/// Sends requests carrying [`MARK`] in their query string to `base`; bounded waits.
async fn requests_with_a_marked_query(base: &str) {
    let http = http();
    for path in [
        format!("/health/ready?ticket={MARK}"),
        format!("/v1/ws?ticket={MARK}"),
        format!("/v1/games?x={MARK}&y=1"),
    ] {
        let _ = http
            .get(format!("{base}{path}"))
            .timeout(Duration::from_secs(5))
            .send()
            .await;
    }
}

/// Stops `child` and returns what it wrote to stdout.
fn stop_and_read(mut child: std::process::Child) -> String {
    std::thread::sleep(Duration::from_millis(300));
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Waits (bounded) until `base` answers anything.
async fn answering(base: &str) {
    for _ in 0..100 {
        if http()
            .get(format!("{base}/health/live"))
            .send()
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{base} never answered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn balancer_access_logs_drop_query_strings() {
    let node = NodeConfig::shipped().fast().no_tables().start();
    let upstream = node.base.trim_start_matches("http://").to_string();
    let upstreams = [&*upstream; 3];

    let ca = TestCa::new();
    let prefix = tempfile::tempdir().unwrap();
    let ports = BalancerPorts::free();
    let conf = prefix.path().join("nginx.conf");
    std::fs::write(&conf, nginx_conf(&upstreams, ports, &ca)).unwrap();
    let nginx = Command::new(require("nginx"))
        .arg("-c")
        .arg(&conf)
        .arg("-p")
        .arg(format!("{}/", prefix.path().display()))
        .args(["-g", "daemon off; master_process off;"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = ports.base();
    answering(&base).await;
    requests_with_a_marked_query(&base).await;
    requests_with_a_marked_query(&ports.plain_base()).await;
    let log = stop_and_read(nginx);
    assert!(
        log.contains("/health/ready"),
        "nginx logged requests:\n{log}"
    );
    assert!(log.contains("/v1/ws"), "{log}");
    assert!(!log.contains(MARK), "a query string in nginx's log:\n{log}");

    let dir = tempfile::tempdir().unwrap();
    let (ports, stats) = (BalancerPorts::free(), free_port());
    let cfg = dir.path().join("haproxy.cfg");
    std::fs::write(&cfg, haproxy_conf(&upstreams, ports, stats, &ca)).unwrap();
    let haproxy = Command::new(Haproxy::binary())
        .arg("-f")
        .arg(&cfg)
        .arg("-db")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = ports.base();
    answering(&base).await;
    requests_with_a_marked_query(&base).await;
    requests_with_a_marked_query(&ports.plain_base()).await;
    let log = stop_and_read(haproxy);
    assert!(
        log.contains("/health/ready"),
        "HAProxy logged requests:\n{log}"
    );
    assert!(
        !log.contains(MARK),
        "a query string in HAProxy's log:\n{log}"
    );
}
