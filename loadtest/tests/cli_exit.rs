//! The binary end to end against the in-process stand-in server: exit 0 and a JSON report when
//! the money is right, exit 3 when the server charged a resend twice, and the echo subcommand.

use crate::support::{start_mock, MockConfig};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_croupier-loadtest");
const CHILD_TIMEOUT: Duration = Duration::from_secs(120);

async fn run_bin(args: &[&str]) -> (i32, String) {
    let child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn the binary");
    let out = tokio::time::timeout(CHILD_TIMEOUT, child.wait_with_output())
        .await
        .expect("binary finished in time")
        .expect("binary output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honest_server_exits_zero_with_json() {
    let url = start_mock(MockConfig::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("report.json");
    let json_s = json.to_string_lossy().to_string();
    let (code, out) = run_bin(&[
        "--target",
        &url,
        "--players",
        "8",
        "--spins-per-player",
        "10",
        "--chaos-drop",
        "3",
        "--json",
        &json_s,
        "--progress",
        "off",
        "--fail-on-errors",
    ])
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("money audit  PASSED"), "{out}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json written")).expect("json");
    assert_eq!(v["spins"], 80);
    assert_eq!(v["audit_passed"], true);
    assert_eq!(v["audit"]["matched"], 8);
    assert_eq!(v["error_frames"], 0);
    assert!(v["latency"]["spin"]["p99_ms"].is_number());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn double_charge_exits_three() {
    let url = start_mock(MockConfig {
        cheat_on_resend: true,
        ..MockConfig::default()
    })
    .await;
    let (code, out) = run_bin(&[
        "--target",
        &url,
        "--players",
        "4",
        "--spins-per-player",
        "6",
        "--chaos-drop",
        "2",
        "--progress",
        "off",
    ])
    .await;
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("MISMATCH"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_flags_are_refused() {
    let (code, out) = run_bin(&["--scenario", "table", "--progress", "off"]).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("live tables"), "{out}");
    let (code, out) = run_bin(&["--target", "http://10.0.0.1:80", "--progress", "off"]).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("loopback"), "{out}");
    let (code, out) = run_bin(&[
        "--players",
        "100000",
        "--progress",
        "off",
        "--echo",
        "-t",
        "ws://127.0.0.1:1",
    ])
    .await;
    assert_eq!(code, 1, "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ceiling_auto_runs_the_echo_child() {
    let url = start_mock(MockConfig::default()).await;
    let (code, out) = run_bin(&[
        "--target",
        &url,
        "--players",
        "4",
        "--spins-per-player",
        "20",
        "--ceiling",
        "auto",
        "--progress",
        "off",
    ])
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("% of the transport ceiling"), "{out}");
}
