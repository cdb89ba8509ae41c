//! Operations files checked against each other, against promtool and nginx, and against the
//! /metrics of a real node: no dashboard panel or alert may use a metric the server does not export.
//!
//! Needs promtool, nginx and Python 3 with PyYAML (no YAML crate is a dependency):
//! scripts/install-test-deps.sh installs whatever is missing.//!
//! A module of the integration test binary, one file per concern:
//!
//! | file | checks |
//! |---|---|
//! | `files.rs` | reading the dashboards and rules, and the expressions in them |
//! | `promql.rs` | the small PromQL tokenizer the checks use (metric names, labels, variables) |
//! | `dashboards.rs` | dashboard titles, units, datasource, variables; promtool parses every expression |
//! | `promtool.rs` | the Prometheus config and rules, and the games' reference rules vs their PAR sheets |
//! | `scrape.rs` | every metric a dashboard or alert uses is exported by a real node |
//! | `nginx.rs` | the shipped nginx config passes `nginx -t` and proxies WebSockets |
//! | `balancer_logs.rs` | nginx's and HAProxy's access logs name paths, never query strings |
//! | `deploy.rs` | the compose stack and the Dockerfile |
//! | `docs.rs` | docs/operations.md covers every config key, metric and alert |

use crate::common;

mod balancer_logs;
mod dashboards;
mod deploy;
mod docs;
mod files;
mod nginx;
mod promql;
mod promtool;
mod scrape;

use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;

use common::repo_root;

pub(crate) const DATASOURCE_UID: &str = "croupier-prometheus";
pub(crate) const INSTALL_HINT: &str =
    "run scripts/install-test-deps.sh (as root): it installs promtool, nginx and python3-yaml";
/// Grafana unit ids used or allowed here (grafana-data valueFormats/categories.ts).
pub(crate) const KNOWN_UNITS: &[&str] = &[
    "none",
    "short",
    "sishort",
    "locale",
    "percent",
    "percentunit",
    "s",
    "ms",
    "µs",
    "ns",
    "m",
    "h",
    "d",
    "dtdurations",
    "dtdurationms",
    "bytes",
    "decbytes",
    "cps",
    "ops",
    "reqps",
    "rps",
    "wps",
    "eps",
    "mps",
    "bool",
    "bool_yes_no",
    "bool_on_off",
    "currencyEUR",
    "currencyUSD",
    "currencyGBP",
];
pub(crate) const GRAFANA_BUILTIN_VARS: &[&str] = &[
    "__rate_interval",
    "__interval",
    "__interval_ms",
    "__range",
    "__range_s",
    "__range_ms",
];
/// Labels Prometheus adds at scrape time: never in the node's own exposition.
pub(crate) const TARGET_LABELS: &[&str] = &["job", "instance"];

pub(crate) fn repo(rel: &str) -> PathBuf {
    repo_root().join(rel)
}

pub(crate) fn read(rel: &str) -> String {
    std::fs::read_to_string(repo(rel)).unwrap_or_else(|e| panic!("cannot read {rel}: {e}"))
}

pub(crate) fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

pub(crate) fn require(tool: &str) -> PathBuf {
    which(tool).unwrap_or_else(|| panic!("`{tool}` is not on PATH: {INSTALL_HINT}"))
}

/// Runs a command; returns (success, stdout + stderr).
pub(crate) fn run(command: &mut Command) -> (bool, String) {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A Python 3 that can import yaml (the first of python3 on PATH, /usr/bin/python3).
pub(crate) fn python_with_yaml() -> PathBuf {
    let candidates = [which("python3"), Some(PathBuf::from("/usr/bin/python3"))];
    candidates
        .into_iter()
        .flatten()
        .find(|py| {
            Command::new(py)
                .args(["-c", "import yaml"])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .unwrap_or_else(|| panic!("no python3 with PyYAML: {INSTALL_HINT}"))
}

/// A YAML file as JSON, parsed by PyYAML's safe_load (which also applies `<<` merge keys).
pub(crate) fn yaml(rel: &str) -> Value {
    let (ok, out) = run(Command::new(python_with_yaml())
        .arg("-c")
        .arg("import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)")
        .arg(repo(rel)));
    assert!(ok, "{rel} is not valid YAML:\n{out}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

pub(crate) fn strs(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}
