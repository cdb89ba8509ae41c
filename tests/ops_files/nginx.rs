//! The shipped nginx config passes `nginx -t`, proxies HTTP and WebSockets to a real node over
//! TLS, and answers plain HTTP with redirects only.

use std::time::Duration;

use serde_json::json;

use super::common::*;
use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_config_passes_nginx_t_and_proxies_websockets_over_tls() {
    let nginx = require("nginx");
    let node = NodeConfig::shipped().fast().start();
    let upstream = node.base.trim_start_matches("http://").to_string();
    let ports = BalancerPorts::free();
    let ca = TestCa::new();
    let prefix = tempfile::tempdir().unwrap();
    let conf = prefix.path().join("nginx.conf");
    std::fs::write(&conf, nginx_conf(&[&upstream; 3], ports, &ca)).unwrap();
    let prefix_arg = format!("{}/", prefix.path().display());
    let (ok, out) = run(Command::new(&nginx)
        .arg("-t")
        .arg("-c")
        .arg(&conf)
        .arg("-p")
        .arg(&prefix_arg));
    assert!(
        ok,
        "nginx -t on deploy/nginx.conf (upstreams on {upstream}):\n{out}"
    );

    // Run it in the foreground, single process, and play through it.
    let mut proxy = Command::new(&nginx)
        .arg("-c")
        .arg(&conf)
        .arg("-p")
        .arg(&prefix_arg)
        .args(["-g", "daemon off; master_process off;"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let base = ports.base();
    let http = http();
    let mut ready = None;
    for _ in 0..100 {
        if let Ok(reply) = http.get(format!("{base}/health/ready")).send().await {
            ready = Some(reply);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let result = async {
        let ready = ready.expect("GET /health/ready through nginx over https");
        assert_eq!(ready.status(), reqwest::StatusCode::OK);
        assert_eq!(
            ready.headers()["strict-transport-security"],
            "max-age=31536000",
            "HSTS on every https answer"
        );
        let metrics = http.get(format!("{base}/metrics")).send().await.unwrap();
        assert_eq!(metrics.status(), 404, "nginx does not expose /metrics");
        plain_http_is_only_redirected(&ports.plain_base()).await;
        let session: Value = http
            .post(format!("{base}/v1/sessions"))
            .json(&json!({"currency": "EUR"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = session["token"]
            .as_str()
            .expect("a session through nginx")
            .to_string();
        let (mut ws, response) = ws_connect(ws_request(&base, &token))
            .await
            .expect("WebSocket upgrade through nginx over wss://");
        assert_eq!(response.status(), 101);
        assert_eq!(
            peer_certificate(&ws),
            Some(ca.leaf()),
            "nginx serves the pair it was given"
        );
        let welcome = next_json(&mut ws).await;
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        use futures_util::SinkExt;
        let spin = json!({"type": "spin", "req_id": "n1", "game": "classic_sevens", "bet": "0.05"});
        ws.send(tokio_tungstenite::tungstenite::Message::Text(
            spin.to_string().into(),
        ))
        .await
        .unwrap();
        let reply = next_json(&mut ws).await;
        assert_eq!(reply["type"], "spin_result", "{reply}");
    };
    let outcome = tokio::time::timeout(Duration::from_secs(60), result).await;
    let _ = proxy.kill();
    let out = proxy.wait_with_output().unwrap();
    outcome.unwrap_or_else(|_| {
        panic!(
            "timed out; nginx said:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
}
