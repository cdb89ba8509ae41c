//! TLS on a node's players' listener (`server.tls_cert` / `server.tls_key`): a spin over
//! `wss://` with a throw-away certificate, plain HTTP refused on that port, a renewed
//! certificate served without a restart while open connections play on, a bad renewal that
//! changes nothing, bad settings that stop start-up, and `croupier dev-cert` itself. Through
//! the shipped nginx and HAProxy configs TLS is tested in tests/ops_files/nginx.rs,
//! tests/haproxy.rs and every cluster test that plays through a balancer.

use crate::common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Longest a test waits for the node to notice changed certificate files (read every second).
const RELOAD_NOTICED_WITHIN: Duration = Duration::from_secs(15);

fn spin(req_id: &str) -> serde_json::Value {
    json!({"type": "spin", "req_id": req_id, "game": "classic_sevens", "bet": "0.10"})
}

/// What a plain-HTTP request to `address` gets back (bounded): the bytes before the node
/// closed the connection.
async fn plain_http_answer(address: &str) -> Vec<u8> {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"GET /health/live HTTP/1.1\r\nHost: croupier\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer));
    let _ = read.await.expect("the node closes a plain-HTTP connection");
    answer
}

/// The certificate a fresh `wss://` connection to `server` is served.
async fn served_certificate(
    server: &Server,
    token: &str,
) -> rustls::pki_types::CertificateDer<'static> {
    let (ws, _) = ws_connect(server.ws_request(token))
        .await
        .expect("wss:// upgrade");
    peer_certificate(&ws).expect("a TLS connection")
}

/// Waits (bounded by [`RELOAD_NOTICED_WITHIN`]) until new connections are served `cert`.
async fn until_served(
    server: &Server,
    token: &str,
    cert: &rustls::pki_types::CertificateDer<'static>,
) {
    let started = Instant::now();
    while served_certificate(server, token).await != *cert {
        assert!(
            started.elapsed() < RELOAD_NOTICED_WITHIN,
            "the new certificate was never served"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_a_certificate_plays_over_wss_and_refuses_plain_http() {
    let ca = TestCa::new();
    let server = NodeConfig::shipped().no_tables().tls(&ca).start();
    assert!(server.base.starts_with("https://"), "{}", server.base);
    let session = open_session(&server, "tls").await;
    let mut client = Client::connect(&server, &session.token).await;
    assert_eq!(peer_certificate(&client.ws), Some(ca.leaf()));
    let reply = client.request(spin("t1")).await;
    assert_eq!(reply["type"], "spin_result", "{reply}");
    let balance = client.balance().await;
    assert_eq!(balance, reply["balance"].as_str().unwrap());

    // The same port in plain HTTP: no HTTP answer at all, neither for a request nor an upgrade.
    let address = server.base.trim_start_matches("https://");
    let answer = plain_http_answer(address).await;
    assert!(
        !answer.starts_with(b"HTTP/"),
        "plain HTTP answered: {}",
        String::from_utf8_lossy(&answer)
    );
    let plain = format!("http://{address}");
    assert!(ws_connect(ws_request(&plain, &session.token))
        .await
        .is_err());
    assert!(reqwest::get(format!("{plain}/health/live")).await.is_err());
    // A client that does not trust the authority is refused by its own TLS check.
    let stranger = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .build()
        .unwrap();
    assert!(stranger
        .get(format!("{}/health/live", server.base))
        .send()
        .await
        .is_err());

    // The admin listener stays plain HTTP (loopback or a private network), and shows the expiry.
    let not_after = metric(
        &server,
        "croupier_tls_certificate_not_after_timestamp_seconds",
    )
    .await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let days = (not_after - now) / 86_400.0;
    assert!(
        (29.0..=30.0).contains(&days),
        "certificate valid {days} more days"
    );
    assert_eq!(metric(&server, "croupier_tls_reload_failing").await, 0.0);
    let (ok, report) = server.audit();
    assert!(ok, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewed_certificate_is_served_without_a_restart_and_a_bad_one_changes_nothing() {
    let ca = TestCa::new();
    let server = NodeConfig::shipped().no_tables().tls(&ca).start();
    let session = open_session(&server, "renew").await;
    let first = ca.leaf();
    let mut open = Client::connect(&server, &session.token).await;
    assert_eq!(peer_certificate(&open.ws), Some(first.clone()));

    // Renewed on disk: new connections get the new certificate, the open one plays on.
    ca.renew();
    let second = ca.leaf();
    assert_ne!(first, second);
    until_served(&server, &session.token, &second).await;
    assert_eq!(
        metric(&server, "croupier_tls_certificate_reloads_total").await,
        1.0
    );
    let reply = open.request(spin("r1")).await;
    assert_eq!(reply["type"], "spin_result", "{reply}");

    // A renewal gone wrong (the key of another certificate): refused, the second pair stays.
    let other = TestCa::new();
    std::fs::copy(&other.files.key, &ca.files.key).unwrap();
    let started = Instant::now();
    while metric(&server, "croupier_tls_reload_failing").await != 1.0 {
        assert!(
            started.elapsed() < RELOAD_NOTICED_WITHIN,
            "bad pair never noticed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(served_certificate(&server, &session.token).await, second);
    let mut again = Client::connect(&server, &session.token).await;
    let reply = again.request(spin("r2")).await;
    assert_eq!(reply["type"], "spin_result", "{reply}");

    // Put right: served, and the alarm clears.
    ca.renew();
    let third = ca.leaf();
    until_served(&server, &session.token, &third).await;
    assert_eq!(metric(&server, "croupier_tls_reload_failing").await, 0.0);
    assert_eq!(
        metric(&server, "croupier_tls_certificate_reloads_total").await,
        2.0
    );
    let (ok, report) = server.audit();
    assert!(ok, "{report}");
}

/// `croupier serve` with these TLS settings must stop at start-up, saying `why`.
fn refused(cert: &std::path::Path, key: &std::path::Path, why: &str) {
    let dir = tempfile::tempdir().unwrap();
    let config = NodeConfig::shipped()
        .no_tables()
        .with(|c| {
            c.server.tls_cert = cert.to_path_buf();
            c.server.tls_key = key.to_path_buf();
        })
        .write(dir.path());
    let out = serve_until_exit(&config, &dir.path().join("data"), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{why}: started anyway");
    assert!(
        !stdout.contains("listening on"),
        "{why}: listened before refusing"
    );
    assert!(stderr.contains(why), "{why} in: {stderr}");
    assert!(
        !dir.path().join("data").join("croupier.db").exists(),
        "{why}: ledger created"
    );
}

#[test]
fn bad_tls_settings_stop_start_up_with_the_reason() {
    let ca = TestCa::new();
    let other = TestCa::new();
    let none = std::path::PathBuf::new();
    let missing = ca.dir.path().join("missing.pem");
    refused(&ca.files.cert, &none, "server.tls_key");
    refused(&none, &ca.files.key, "server.tls_cert");
    refused(&missing, &ca.files.key, "cannot read");
    refused(
        &ca.files.cert,
        &other.files.key,
        "is not the key of the certificate",
    );
    refused(&ca.files.key, &ca.files.key, "no PEM certificate");
    refused(&ca.files.cert, &ca.files.cert, "no PEM private key");
}

#[test]
fn dev_cert_writes_a_pair_keeps_it_and_renews_it_from_the_same_authority() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tls");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_croupier"))
            .arg("dev-cert")
            .arg("--out")
            .arg(&out)
            .args(args)
            .output()
            .unwrap()
    };
    let first = run(&["--name", "play.example", "--days", "7"]);
    let said = String::from_utf8_lossy(&first.stdout);
    assert!(first.status.success(), "{said}");
    assert!(
        said.contains("play.example") && said.contains("(new)"),
        "{said}"
    );
    assert!(said.contains("CROUPIER_TLS_CERT="), "{said}");
    let cert = std::fs::read(out.join("cert.pem")).unwrap();
    let ca = std::fs::read(out.join("ca.pem")).unwrap();

    let kept = run(&[]);
    assert!(kept.status.success());
    assert!(String::from_utf8_lossy(&kept.stdout).contains("kept"));
    assert_eq!(std::fs::read(out.join("cert.pem")).unwrap(), cert);

    let renewed = run(&["--force"]);
    assert!(String::from_utf8_lossy(&renewed.stdout).contains("(reused)"));
    assert_ne!(std::fs::read(out.join("cert.pem")).unwrap(), cert);
    assert_eq!(std::fs::read(out.join("ca.pem")).unwrap(), ca);

    for bad in [&["--days", "0"][..], &["--days", "5000"], &["--days", "x"]] {
        let refused = run(&[bad, &["--force"]].concat());
        assert!(!refused.status.success(), "{bad:?} accepted");
        assert!(!refused.stderr.is_empty(), "{bad:?}: no reason given");
    }
    assert_eq!(std::fs::read(out.join("ca.pem")).unwrap(), ca);
}
