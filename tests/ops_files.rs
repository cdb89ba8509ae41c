//! Operations files checked against each other, against promtool and nginx, and against the
//! /metrics of a real node: no dashboard panel or alert may use a metric the server does not export.
//!
//! Needs promtool, nginx and Python 3 with PyYAML (no YAML crate is a dependency):
//! scripts/install-test-deps.sh installs whatever is missing.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use croupier::ids::{PlayerId, ReqId, RoundId};
use croupier::wallet::sqlite::{Durability, SqliteLedger};
use croupier::wallet::{Ledger, Movement};
use serde_json::{json, Value};

const DATASOURCE_UID: &str = "croupier-prometheus";
const INSTALL_HINT: &str =
    "run scripts/install-test-deps.sh (as root): it installs promtool, nginx and python3-yaml";
/// Grafana unit ids used or allowed here (grafana-data valueFormats/categories.ts).
const KNOWN_UNITS: &[&str] = &[
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
const GRAFANA_BUILTIN_VARS: &[&str] = &[
    "__rate_interval",
    "__interval",
    "__interval_ms",
    "__range",
    "__range_s",
    "__range_ms",
];
/// Labels Prometheus adds at scrape time: never in the node's own exposition.
const TARGET_LABELS: &[&str] = &["job", "instance"];

// ------------------------------------------------------------------------------------ helpers

fn repo(rel: &str) -> PathBuf {
    repo_root().join(rel)
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo(rel)).unwrap_or_else(|e| panic!("cannot read {rel}: {e}"))
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

fn require(tool: &str) -> PathBuf {
    which(tool).unwrap_or_else(|| panic!("`{tool}` is not on PATH: {INSTALL_HINT}"))
}

/// Runs a command; returns (success, stdout + stderr).
fn run(command: &mut Command) -> (bool, String) {
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
fn python_with_yaml() -> PathBuf {
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
fn yaml(rel: &str) -> Value {
    let (ok, out) = run(Command::new(python_with_yaml())
        .arg("-c")
        .arg("import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)")
        .arg(repo(rel)));
    assert!(ok, "{rel} is not valid YAML:\n{out}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn strs(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

// --------------------------------------------------------------------------- files and rules

fn dashboards() -> Vec<(String, Value)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo("dashboards"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = format!("dashboards/{}", p.file_name().unwrap().to_string_lossy());
            let json = serde_json::from_str(&std::fs::read_to_string(&p).unwrap())
                .unwrap_or_else(|e| panic!("{name} is not valid JSON: {e}"));
            (name, json)
        })
        .collect()
}

/// Every panel, including those nested in collapsed rows.
fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().into_iter().flatten() {
        out.push(panel);
        out.extend(panel["panels"].as_array().into_iter().flatten());
    }
    out
}

struct Expr {
    origin: String,
    text: String,
    /// PromQL (false for Grafana's label_values(...) variable queries).
    promql: bool,
}

fn dashboard_exprs(file: &str, dashboard: &Value) -> Vec<Expr> {
    let mut out = Vec::new();
    for panel in panels(dashboard) {
        for target in panel["targets"].as_array().into_iter().flatten() {
            if let Some(expr) = target["expr"].as_str() {
                out.push(Expr {
                    origin: format!("{file}: panel {:?}", panel["title"].as_str().unwrap_or("")),
                    text: expr.to_string(),
                    promql: true,
                });
            }
        }
    }
    for variable in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if variable["type"] == "query" {
            let query = variable["query"]["query"]
                .as_str()
                .or(variable["query"].as_str())
                .unwrap_or("");
            out.push(Expr {
                origin: format!("{file}: variable {}", variable["name"]),
                text: query.to_string(),
                promql: !query.starts_with("label_values(") && !query.starts_with("query_result("),
            });
        }
    }
    out
}

fn rules() -> Vec<Value> {
    let alerts = yaml("deploy/alerts.yml");
    alerts["groups"]
        .as_array()
        .expect("alerts.yml has groups")
        .iter()
        .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
        .collect()
}

fn rule_exprs(rules: &[Value]) -> Vec<Expr> {
    rules
        .iter()
        .map(|r| Expr {
            origin: format!(
                "deploy/alerts.yml: {}",
                r["alert"].as_str().or(r["record"].as_str()).unwrap_or("?")
            ),
            text: r["expr"]
                .as_str()
                .expect("every rule has an expr")
                .to_string(),
            promql: true,
        })
        .collect()
}

fn recorded_names(rules: &[Value]) -> BTreeSet<String> {
    rules
        .iter()
        .filter_map(|r| r["record"].as_str().map(String::from))
        .collect()
}

fn all_exprs() -> Vec<Expr> {
    let mut out: Vec<Expr> = dashboards()
        .iter()
        .flat_map(|(f, d)| dashboard_exprs(f, d))
        .collect();
    out.extend(rule_exprs(&rules()));
    out
}

// -------------------------------------------------------------------------- PromQL tokenizer

/// A metric name used in an expression, with the label names its selector matches on.
#[derive(Debug, Clone)]
struct Selector {
    name: String,
    labels: Vec<String>,
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// Index just past the string literal that starts at `i`.
fn skip_string(chars: &[char], mut i: usize) -> usize {
    let quote = chars[i];
    i += 1;
    while i < chars.len() && chars[i] != quote {
        if chars[i] == '\\' && quote != '`' {
            i += 1;
        }
        i += 1;
    }
    i + 1
}

/// Label names of the matchers in `{...}` starting at `i`; returns them and the index past `}`.
fn matchers(chars: &[char], mut i: usize) -> (Vec<String>, usize) {
    let mut labels = Vec::new();
    i += 1;
    while i < chars.len() && chars[i] != '}' {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            i = skip_string(chars, i);
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && is_ident(chars[i]) {
                i += 1;
            }
            labels.push(chars[start..i].iter().collect());
        } else {
            i += 1;
        }
    }
    (labels, i + 1)
}

/// Metric names (anything not followed by `(`, outside strings, label lists and durations).
/// Callers keep what they care about: `croupier_*`, recorded `level:metric:op` names and `up`.
fn selectors(expr: &str) -> Vec<Selector> {
    let chars: Vec<char> = expr.chars().collect();
    let n = chars.len();
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            i = skip_string(&chars, i);
        } else if c == '$' {
            i += 1;
            if i < n && chars[i] == '{' {
                while i < n && chars[i] != '}' {
                    i += 1;
                }
                i += 1;
            } else {
                while i < n && is_ident(chars[i]) {
                    i += 1;
                }
            }
        } else if c.is_ascii_digit() || c == '.' {
            while i < n && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < n && is_ident(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let mut j = i;
            while j < n && chars[j].is_whitespace() {
                j += 1;
            }
            let next = chars.get(j).copied();
            let grouping = matches!(
                word.as_str(),
                "by" | "without" | "on" | "ignoring" | "group_left" | "group_right"
            );
            if grouping && next == Some('(') {
                while j < n && chars[j] != ')' {
                    j += 1;
                }
                i = j + 1;
            } else if next == Some('(') {
                // A function or aggregation.
            } else if next == Some('{') {
                let (labels, end) = matchers(&chars, j);
                out.push(Selector { name: word, labels });
                i = end;
            } else {
                out.push(Selector {
                    name: word,
                    labels: Vec::new(),
                });
            }
        } else if c == '{' {
            i = matchers(&chars, i).1;
        } else {
            i += 1;
        }
    }
    out
}

/// Grafana variables an expression uses: `$name`, `${name}`, `${name:fmt}`, `[[name]]`.
fn variables(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let chars: Vec<char> = expr.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '$' {
            let braced = chars.get(i + 1) == Some(&'{');
            let start = if braced { i + 2 } else { i + 1 };
            let mut j = start;
            while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_') {
                j += 1;
            }
            out.push(chars[start..j].iter().collect());
            i = j;
        } else if chars[i] == '[' && chars.get(i + 1) == Some(&'[') {
            let start = i + 2;
            let mut j = start;
            while j < chars.len() && chars[j] != ']' {
                j += 1;
            }
            out.push(chars[start..j].iter().collect());
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

#[test]
fn tokenizer_finds_metric_names_and_their_labels() {
    let found = selectors(
        r#"sum by (game, le) (rate(croupier_spin_duration_seconds_bucket{instance=~"$instance", game="croupier_x"}[$__rate_interval]))
           / on (game) game:croupier_theoretical_rtp:ratio offset 5m and up{job="croupier"} > 0.5 unless croupier_ready[1h:5m]"#,
    );
    let names: Vec<&str> = found.iter().map(|s| s.name.as_str()).collect();
    assert!(
        names.contains(&"croupier_spin_duration_seconds_bucket"),
        "{names:?}"
    );
    assert!(
        names.contains(&"game:croupier_theoretical_rtp:ratio"),
        "{names:?}"
    );
    assert!(
        names.contains(&"up") && names.contains(&"croupier_ready"),
        "{names:?}"
    );
    assert!(
        !names.contains(&"croupier_x") && !names.contains(&"le") && !names.contains(&"rate"),
        "{names:?}"
    );
    let bucket = found
        .iter()
        .find(|s| s.name == "croupier_spin_duration_seconds_bucket")
        .unwrap();
    assert_eq!(bucket.labels, ["instance", "game"]);
    assert_eq!(
        variables("x{a=~\"$game\"}[${window}] [[old]]"),
        ["game", "window", "old"]
    );
}

// --------------------------------------------------------------------------------- dashboards

#[test]
fn dashboards_have_titles_units_a_fixed_datasource_and_known_variables() {
    let datasources = yaml("dashboards/provisioning/datasources.yml");
    let uids: Vec<&str> = datasources["datasources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["uid"].as_str())
        .collect();
    assert_eq!(
        uids,
        [DATASOURCE_UID],
        "datasources.yml provisions the uid the dashboards use"
    );

    let all = dashboards();
    let titles: BTreeSet<&str> = all
        .iter()
        .map(|(_, d)| d["title"].as_str().unwrap_or(""))
        .collect();
    for wanted in ["Operations", "Game integrity", "Money", "Live tables"] {
        assert!(
            titles.iter().any(|t| t.ends_with(wanted)),
            "a dashboard titled ... {wanted}: {titles:?}"
        );
    }
    let mut uids = BTreeSet::new();
    let mut problems = Vec::new();
    for (file, dashboard) in &all {
        let uid = dashboard["uid"].as_str().unwrap_or("");
        if uid.is_empty() || !uids.insert(uid.to_string()) {
            problems.push(format!("{file}: missing or duplicate uid {uid:?}"));
        }
        let defined: BTreeSet<String> = dashboard["templating"]["list"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v["name"].as_str().map(String::from))
            .chain(GRAFANA_BUILTIN_VARS.iter().map(|s| s.to_string()))
            .collect();
        let mut ids = BTreeSet::new();
        for panel in panels(dashboard) {
            let title = panel["title"].as_str().unwrap_or("");
            let kind = panel["type"].as_str().unwrap_or("");
            let at = format!("{file}: {kind} panel {title:?}");
            if title.trim().is_empty() {
                problems.push(format!("{at}: no title"));
            }
            if !ids.insert(panel["id"].as_i64().unwrap_or(-1)) {
                problems.push(format!("{at}: missing or duplicate id"));
            }
            if panel["gridPos"]["w"].as_i64().is_none() || panel["gridPos"]["h"].as_i64().is_none()
            {
                problems.push(format!("{at}: no gridPos"));
            }
            if kind == "row" || kind == "text" {
                continue;
            }
            match panel["fieldConfig"]["defaults"]["unit"].as_str() {
                None | Some("") => problems.push(format!("{at}: no fieldConfig.defaults.unit")),
                Some(unit) if !KNOWN_UNITS.contains(&unit) => problems.push(format!(
                    "{at}: unit {unit:?} is not a Grafana unit id listed in KNOWN_UNITS"
                )),
                Some(_) => {}
            }
            let targets = panel["targets"].as_array().cloned().unwrap_or_default();
            if targets.is_empty() {
                problems.push(format!("{at}: no queries"));
            }
            for datasource in std::iter::once(&panel["datasource"])
                .chain(targets.iter().map(|t| &t["datasource"]))
            {
                if datasource["uid"] != DATASOURCE_UID {
                    problems.push(format!(
                        "{at}: datasource {datasource} is not uid {DATASOURCE_UID}"
                    ));
                }
            }
            for target in &targets {
                if target["expr"].as_str().unwrap_or("").trim().is_empty()
                    || target["refId"].as_str().is_none()
                {
                    problems.push(format!("{at}: a target without expr or refId"));
                }
            }
        }
        for expr in dashboard_exprs(file, dashboard) {
            for variable in variables(&expr.text) {
                if !defined.contains(&variable) {
                    problems.push(format!(
                        "{}: uses undefined variable ${variable}",
                        expr.origin
                    ));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "dashboard problems:\n{}",
        problems.join("\n")
    );
}

/// A dashboard expression with its variables replaced, so promtool can parse it.
fn substitute(expr: &str, dashboard: &Value) -> String {
    let mut values: Vec<(String, String)> = Vec::new();
    for variable in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let name = variable["name"].as_str().unwrap_or("").to_string();
        let value = match variable["type"].as_str() {
            Some("interval") => variable["current"]["value"]
                .as_str()
                .unwrap_or("1h")
                .to_string(),
            _ => "x".to_string(),
        };
        values.push((name, value));
    }
    for builtin in GRAFANA_BUILTIN_VARS {
        values.push((builtin.to_string(), "1m".to_string()));
    }
    // Longest names first, so $__range is not replaced inside $__range_s.
    values.sort_by_key(|(name, _)| std::cmp::Reverse(name.len()));
    let mut out = expr.to_string();
    for (name, value) in values {
        out = out
            .replace(&format!("${{{name}}}"), &value)
            .replace(&format!("${name}"), &value);
    }
    out
}

// ----------------------------------------------------------------------- promtool and rules

fn promtool() -> PathBuf {
    require("promtool")
}

#[test]
fn prometheus_config_and_rules_pass_promtool() {
    let promtool = promtool();
    let (ok, out) = run(Command::new(&promtool)
        .args(["check", "config"])
        .arg(repo("deploy/prometheus.yml")));
    assert!(ok, "promtool check config deploy/prometheus.yml:\n{out}");
    let (ok, out) = run(Command::new(&promtool)
        .args(["check", "rules"])
        .arg(repo("deploy/alerts.yml")));
    assert!(ok, "promtool check rules deploy/alerts.yml:\n{out}");
    let (ok, out) = run(Command::new(&promtool)
        .args(["test", "rules"])
        .arg(repo("deploy/alerts_test.yml")));
    assert!(ok, "promtool test rules deploy/alerts_test.yml:\n{out}");

    // Every dashboard query parses: checked as recording rules, variables substituted.
    let mut records = Vec::new();
    for (file, dashboard) in dashboards() {
        for expr in dashboard_exprs(&file, &dashboard)
            .into_iter()
            .filter(|e| e.promql)
        {
            records.push(json!({
                "record": format!("dashboard:expr_{}:check", records.len()),
                "expr": substitute(&expr.text, &dashboard),
                "labels": {"origin": expr.origin},
            }));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dashboard-queries.yml");
    std::fs::write(
        &path,
        json!({"groups": [{"name": "dashboards", "rules": records}]}).to_string(),
    )
    .unwrap();
    let (ok, out) = run(Command::new(&promtool).args(["check", "rules"]).arg(&path));
    let origins: Vec<String> = records
        .iter()
        .map(|r| {
            format!(
                "{} = {}",
                r["record"].as_str().unwrap(),
                r["labels"]["origin"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        ok,
        "a dashboard query is not valid PromQL:\n{out}\n{}",
        origins.join("\n")
    );

    // Alerts carry what an on-call needs.
    let prometheus = yaml("deploy/prometheus.yml");
    let jobs: Vec<&str> = prometheus["scrape_configs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["job_name"].as_str())
        .collect();
    assert!(
        jobs.contains(&"croupier"),
        "a scrape job named croupier (alerts use up{{job=\"croupier\"}}): {jobs:?}"
    );
    let mut names = BTreeSet::new();
    for rule in rules().iter().filter(|r| r["alert"].is_string()) {
        let name = rule["alert"].as_str().unwrap();
        assert!(names.insert(name.to_string()), "duplicate alert {name}");
        let severity = rule["labels"]["severity"].as_str().unwrap_or("");
        assert!(
            ["critical", "warning", "info"].contains(&severity),
            "{name}: severity {severity:?}"
        );
        for key in ["summary", "description"] {
            assert!(
                rule["annotations"][key]
                    .as_str()
                    .is_some_and(|s| !s.is_empty()),
                "{name}: no {key}"
            );
        }
    }
    for wanted in [
        "CroupierNodeDown",
        "CroupierSpinLatencyHigh",
        "CroupierServerErrorRate",
        "CroupierRtpDrift",
        "CroupierRoundsVoided",
        "CroupierWalletBatchFailures",
        "CroupierNodeNotReady",
    ] {
        assert!(names.contains(wanted), "alert {wanted} is missing");
    }
}

/// The figures `croupier rtp` prints for a game file: (exact RTP, hit frequency, volatility).
fn par_sheet(game_file: &Path) -> (f64, f64, f64) {
    let (ok, out) = run(Command::new(env!("CARGO_BIN_EXE_croupier"))
        .arg("rtp")
        .arg(game_file));
    assert!(ok, "croupier rtp {}:\n{out}", game_file.display());
    let after = |line_start: &str, marker: &str| -> f64 {
        let line = out
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with(line_start))
            .unwrap_or_else(|| panic!("no {line_start:?} line in:\n{out}"));
        let rest = &line[line
            .find(marker)
            .unwrap_or_else(|| panic!("{marker:?} in {line:?}"))
            + marker.len()..];
        let number: String = rest
            .trim_start()
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        number
            .parse()
            .unwrap_or_else(|_| panic!("a number after {marker:?} in {line:?}"))
    };
    (
        after("TOTAL RTP", "= "),
        after("hit frequency", "hit frequency") / 100.0,
        after("volatility", "volatility"),
    )
}

#[test]
fn game_reference_rules_match_the_par_sheets() {
    let mut recorded: BTreeMap<(String, String), f64> = BTreeMap::new();
    for rule in rules() {
        let Some(record) = rule["record"].as_str() else {
            continue;
        };
        if !record.starts_with("game:croupier_theoretical_") {
            continue;
        }
        let game = rule["labels"]["game"]
            .as_str()
            .expect("reference rules have a game label");
        let expr = rule["expr"].as_str().unwrap().trim();
        let value = expr
            .strip_prefix("vector(")
            .and_then(|v| v.strip_suffix(')'))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or_else(|| {
                panic!("{record}{{game={game}}}: expr must be vector(<number>), got {expr}")
            });
        recorded.insert((record.to_string(), game.to_string()), value);
    }
    let mut games_dir: Vec<PathBuf> = std::fs::read_dir(repo("config/games"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    games_dir.sort();
    assert!(!games_dir.is_empty());
    let mut problems = Vec::new();
    for file in games_dir {
        let game: toml::Value = toml::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let id = game["id"].as_str().unwrap().to_string();
        let (rtp, hit, volatility) = par_sheet(&file);
        for (record, expected, tolerance) in [
            ("game:croupier_theoretical_rtp:ratio", rtp, 1e-8),
            ("game:croupier_theoretical_hit_frequency:ratio", hit, 1e-6),
            (
                "game:croupier_theoretical_volatility:stddev",
                volatility,
                1e-6,
            ),
        ] {
            match recorded.get(&(record.to_string(), id.clone())) {
                Some(value) if (value - expected).abs() <= tolerance => {}
                Some(value) => problems.push(format!(
                    "{record}{{game=\"{id}\"}} is {value}, `croupier rtp` says {expected}"
                )),
                None => problems.push(format!(
                    "no {record}{{game=\"{id}\"}} (expected vector({expected}))"
                )),
            }
        }
    }
    assert!(
        problems.is_empty(),
        "update the croupier-game-reference group of deploy/alerts.yml:\n{}",
        problems.join("\n")
    );
}

// ------------------------------------------------------------------ the real node's /metrics

/// A parsed Prometheus text exposition.
#[derive(Default)]
struct Scrape {
    /// Family name -> type.
    families: BTreeMap<String, String>,
    /// Sample name -> label names seen on it.
    samples: BTreeMap<String, BTreeSet<String>>,
}

impl Scrape {
    fn parse(text: &str) -> Scrape {
        let mut scrape = Scrape::default();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let mut parts = rest.split_whitespace();
                if let (Some(name), Some(kind)) = (parts.next(), parts.next()) {
                    scrape.families.insert(name.to_string(), kind.to_string());
                }
                continue;
            }
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let end = line.find(['{', ' ']).unwrap_or(line.len());
            let labels = scrape.samples.entry(line[..end].to_string()).or_default();
            if line[end..].starts_with('{') {
                let chars: Vec<char> = line[end..].chars().collect();
                labels.extend(matchers(&chars, 0).0);
            }
        }
        scrape
    }

    /// Why a selector does not match this scrape, if it does not.
    fn check(&self, selector: &Selector) -> Result<(), String> {
        let name = &selector.name;
        if let Some(kind) = self.families.get(name) {
            if kind == "histogram" || kind == "summary" {
                return Err(format!(
                    "{name} is a {kind}: query {name}_bucket, _sum or _count"
                ));
            }
        } else {
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .filter(|base| {
                    self.families
                        .get(*base)
                        .is_some_and(|k| k == "histogram" || k == "summary")
                });
            if family.is_none() {
                return Err(format!("{name} is not in the scrape"));
            }
        }
        let seen = self
            .samples
            .get(name)
            .ok_or_else(|| format!("{name} has no samples in the scrape"))?;
        for label in &selector.labels {
            if !TARGET_LABELS.contains(&label.as_str()) && !seen.contains(label) {
                return Err(format!("{name} has no label {label:?} (it has {seen:?})"));
            }
        }
        Ok(())
    }
}

async fn scrape(server: &Server) -> String {
    let reply = reqwest::get(format!("{}/metrics", server.base))
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    reply.text().await.unwrap()
}

/// Every referenced `croupier_*` selector that this scrape does not satisfy.
fn missing(scrape: &Scrape, exprs: &[Expr], recorded: &BTreeSet<String>) -> Vec<String> {
    let mut problems = Vec::new();
    for expr in exprs {
        for selector in selectors(&expr.text) {
            let problem = if selector.name.contains(':') {
                (!recorded.contains(&selector.name)).then(|| {
                    format!(
                        "{} is not recorded by any rule in deploy/alerts.yml",
                        selector.name
                    )
                })
            } else if selector.name.starts_with("croupier_") {
                scrape.check(&selector).err()
            } else {
                // `up` is written by Prometheus for every target; other words are not metrics.
                None
            };
            if let Some(problem) = problem {
                problems.push(format!("{}: {problem}", expr.origin));
            }
        }
    }
    problems.sort();
    problems.dedup();
    problems
}

/// Leaves a round open in the stopped node's ledger, as a crash between stake and settlement
/// would: the restart voids it, so croupier_rounds_voided_total has a series.
async fn leave_a_round_open(server: &Server, player: &str) {
    let ledger = SqliteLedger::open(&server.data_dir.join("croupier.db"), Durability::Full)
        .await
        .unwrap();
    let opened = ledger
        .commit_batch(&[Movement::OpenRound {
            round_id: RoundId::new_v7(),
            player: PlayerId::parse(player).unwrap(),
            req_id: ReqId::parse("ops-lost-1").unwrap(),
            game: "starfall".into(),
            bet_minor: Some(100),
            try_free_spin: false,
            jackpot: None,
            opened_json: None,
            node: None,
        }])
        .await
        .unwrap();
    assert!(opened[0].is_ok(), "{opened:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_used_by_dashboards_and_alerts_is_exported() {
    let started = Instant::now();
    let exprs = all_exprs();
    let recorded = recorded_names(&rules());
    let referenced: BTreeSet<String> = exprs
        .iter()
        .flat_map(|e| selectors(&e.text))
        .map(|s| s.name)
        .filter(|n| n.starts_with("croupier_"))
        .collect();
    assert!(
        referenced.len() >= 15,
        "the tokenizer found too few metrics: {referenced:?}"
    );

    // A node whose ledger holds a round left open by a "crash": the restart voids it. The
    // shipped jackpots are on, so the jackpot metrics are exported.
    let jackpots = repo("config/jackpots.toml");
    let jackpots_line = format!("file = {:?}", jackpots.display().to_string());
    let mut edits = FAST.to_vec();
    edits.push(("file = \"config/jackpots.toml\"", &jackpots_line));
    let mut first = Server::start_with(&edits);
    open_session(&first, "ops-void").await;
    first.sigterm();
    leave_a_round_open(&first, "ops-void").await;
    let node = Server::spawn(&first.config, &first.data_dir);

    // Short load: a few players spin both games; starfall until a free spin comes up (about 1
    // in 140 paid spins award them; bounded).
    let mut wins = 0;
    let mut free_spins = 0;
    for p in 0..3 {
        let session = open_session(&node, &format!("ops-{p}")).await;
        let mut client = Client::connect(&node, &session.token).await;
        for i in 0..20 {
            let reply = client
                .request(json!({"type": "spin", "req_id": format!("c{i}"), "game": "classic_sevens", "bet": "0.05"}))
                .await;
            assert_eq!(reply["type"], "spin_result", "{reply}");
            wins += usize::from(reply["win"] != "0.00");
        }
        if p == 0 {
            for i in 0..3000 {
                let reply = client
                    .request(json!({"type": "spin", "req_id": format!("s{i}"), "game": "starfall", "bet": "0.20"}))
                    .await;
                assert_eq!(reply["type"], "spin_result", "{reply}");
                wins += usize::from(reply["win"] != "0.00");
                if reply["free_spin"] == true {
                    free_spins += 1;
                    break;
                }
            }
        }
        // One bad frame, so croupier_errors_total has a series.
        client.send_text("this is not json").await;
        let reply = client.recv().await;
        assert_eq!(reply["code"], "bad_frame", "{reply}");
        // A clean close, so croupier_websocket_closed_total has one.
        client.ws.close(None).await.unwrap();
    }
    assert!(
        wins > 0 && free_spins > 0,
        "the load produced wins ({wins}) and a free spin ({free_spins})"
    );

    // Closes are counted asynchronously: poll until the scrape has everything (bounded).
    let deadline = Instant::now() + Duration::from_secs(10);
    let (text, problems) = loop {
        let text = scrape(&node).await;
        let problems = missing(&Scrape::parse(&text), &exprs, &recorded);
        if problems.is_empty() || Instant::now() > deadline {
            break (text, problems);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        problems.is_empty(),
        "dashboards and alerts use metrics the node does not export:\n{}\n\nscrape:\n{text}",
        problems.join("\n")
    );
    let scrape = Scrape::parse(&text);

    // The exposition is clean for promtool (lint findings are printed, errors fail).
    let mut child = Command::new(promtool())
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{report}"
    );
    if !report.trim().is_empty() {
        eprintln!("promtool check metrics says:\n{report}");
    }

    // docs/operations.md describes every family the node exports.
    let docs = read("docs/operations.md");
    let undocumented: Vec<&String> = scrape
        .families
        .keys()
        .filter(|f| !docs.contains(f.as_str()))
        .collect();
    assert!(
        undocumented.is_empty(),
        "docs/operations.md does not describe {undocumented:?}"
    );

    eprintln!(
        "{} metric names from {} expressions found in a scrape of {} families ({:.1} s)",
        referenced.len(),
        exprs.len(),
        scrape.families.len(),
        started.elapsed().as_secs_f64()
    );
    drop(node);
    drop(first);
}

// ---------------------------------------------------------------------------------- nginx

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_config_passes_nginx_t_and_proxies_websockets() {
    let nginx = require("nginx");
    let node = Server::start_with(FAST);
    let upstream = node.base.trim_start_matches("http://").to_string();
    let port = free_port();
    let prefix = tempfile::tempdir().unwrap();
    let conf = prefix.path().join("nginx.conf");
    std::fs::write(&conf, nginx_conf(&[&upstream; 3], port)).unwrap();
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
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut ready = None;
    for _ in 0..100 {
        if let Ok(reply) = http.get(format!("{base}/health/ready")).send().await {
            ready = Some(reply.status());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let result = async {
        assert_eq!(
            ready,
            Some(reqwest::StatusCode::OK),
            "GET /health/ready through nginx"
        );
        let metrics = http.get(format!("{base}/metrics")).send().await.unwrap();
        assert_eq!(metrics.status(), 404, "nginx does not expose /metrics");
        let session: Value = http
            .post(format!("{base}/v1/sessions"))
            .json(&json!({"player_id": "via-nginx", "currency": "EUR"}))
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
        let (mut ws, response) =
            tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/v1/ws?token={token}"))
                .await
                .expect("WebSocket upgrade through nginx");
        assert_eq!(response.status(), 101);
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

// -------------------------------------------------------------------------- compose, Docker

#[test]
fn compose_stack_is_complete_and_consistent() {
    let compose = yaml("deploy/docker-compose.yml");
    let services = compose["services"].as_object().expect("services");
    let nodes = ["croupier1", "croupier2", "croupier3"];
    for wanted in nodes
        .iter()
        .chain(&["postgres", "redis", "nginx", "prometheus", "grafana"])
    {
        assert!(services.contains_key(*wanted), "service {wanted}");
    }
    assert_eq!(services["postgres"]["image"], "postgres:15");
    assert_eq!(services["redis"]["image"], "redis:7");

    let declared_volumes: BTreeSet<String> = compose["volumes"]
        .as_object()
        .map(|v| v.keys().cloned().collect())
        .unwrap_or_default();
    let mut data_volumes = BTreeSet::new();
    let mut problems = Vec::new();
    for (name, service) in services {
        for mount in strs(&service["volumes"]) {
            let source = mount.split(':').next().unwrap();
            if source.starts_with('.') {
                let path = repo("deploy").join(source);
                if !path.exists() {
                    problems.push(format!("{name}: bind mount source {source} does not exist"));
                }
            } else if !declared_volumes.contains(source) {
                problems.push(format!("{name}: volume {source} is not declared"));
            }
        }
        let depends: Vec<String> = match &service["depends_on"] {
            Value::Object(map) => map.keys().cloned().collect(),
            other => strs(other),
        };
        for dependency in depends {
            if !services.contains_key(&dependency) {
                problems.push(format!("{name}: depends on unknown service {dependency}"));
            }
        }
    }
    for node in nodes {
        let service = &services[node];
        let command = strs(&service["command"]).join(" ");
        assert!(
            command.contains("serve --config /etc/croupier/default.toml")
                && command.contains("--listen 0.0.0.0:8080"),
            "{node} command: {command}"
        );
        let secret = service["environment"]["CROUPIER_AUTH_SECRET"]
            .as_str()
            .unwrap_or("");
        assert!(
            secret.starts_with("${CROUPIER_AUTH_SECRET"),
            "{node} takes the secret from the environment: {secret:?}"
        );
        let mounts = strs(&service["volumes"]);
        assert!(
            mounts
                .iter()
                .any(|m| m.starts_with("../config:/etc/croupier")),
            "{node} mounts config: {mounts:?}"
        );
        let data = mounts
            .iter()
            .find(|m| m.ends_with(":/var/lib/croupier"))
            .unwrap_or_else(|| panic!("{node} keeps its ledger in a volume at /var/lib/croupier"));
        assert!(
            data_volumes.insert(data.clone()),
            "{node} shares its data volume"
        );
    }

    // nginx balances over exactly the nodes; Prometheus scrapes exactly the nodes.
    let nginx = read("deploy/nginx.conf");
    let upstreams: BTreeSet<String> = nginx
        .lines()
        .filter_map(|l| l.trim().strip_prefix("server croupier"))
        .map(|rest| format!("croupier{}", rest.split_whitespace().next().unwrap()))
        .collect();
    let expected: BTreeSet<String> = nodes.iter().map(|n| format!("{n}:8080")).collect();
    assert_eq!(upstreams, expected, "nginx upstream servers");
    for directive in [
        "proxy_http_version 1.1",
        "proxy_set_header Upgrade $http_upgrade",
        "max_fails=",
        "fail_timeout=",
    ] {
        assert!(nginx.contains(directive), "nginx.conf has {directive}");
    }
    // HAProxy, the other balancer, too, with active checks on /health/ready.
    let haproxy = read("deploy/haproxy.cfg");
    let servers: BTreeSet<String> = haproxy
        .lines()
        .filter_map(|l| l.trim().strip_prefix("server croupier"))
        .filter_map(|rest| rest.split_whitespace().nth(1).map(str::to_string))
        .collect();
    assert_eq!(servers, expected, "haproxy backend servers");
    for directive in [
        "option httpchk",
        "http-check send meth GET uri /health/ready",
        "http-check expect status 200",
        "timeout tunnel",
    ] {
        assert!(haproxy.contains(directive), "haproxy.cfg has {directive}");
    }
    let haproxy_mounts = strs(&services["haproxy"]["volumes"]);
    assert!(
        haproxy_mounts
            .iter()
            .any(|m| m.starts_with("./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg")),
        "haproxy mounts deploy/haproxy.cfg where its image looks"
    );
    let prometheus = yaml("deploy/prometheus.yml");
    let targets: BTreeSet<String> = prometheus["scrape_configs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["job_name"] == "croupier")
        .flat_map(|s| s["static_configs"].as_array().cloned().unwrap_or_default())
        .flat_map(|c| strs(&c["targets"]))
        .collect();
    assert_eq!(targets, expected, "Prometheus scrape targets");
    let nginx_mounts = strs(&services["nginx"]["volumes"]);
    assert!(
        nginx_mounts.iter().any(|m| m.starts_with("./nginx.conf:")),
        "nginx mounts deploy/nginx.conf"
    );
    let prometheus_mounts = strs(&services["prometheus"]["volumes"]);
    for file in ["prometheus.yml", "alerts.yml"] {
        assert!(
            prometheus_mounts.iter().any(|m| m.starts_with(&format!("./{file}:/etc/prometheus/{file}"))),
            "prometheus mounts {file} beside its config (rule_files is relative): {prometheus_mounts:?}"
        );
    }

    // Grafana gets the provisioning files, and the dashboards where the provider looks.
    let provider = yaml("dashboards/provisioning/dashboards.yml");
    let dashboards_path = provider["providers"][0]["options"]["path"]
        .as_str()
        .unwrap()
        .to_string();
    let grafana_mounts = strs(&services["grafana"]["volumes"]);
    for (source, target) in [
        (
            "../dashboards/provisioning/datasources.yml",
            "/etc/grafana/provisioning/datasources/",
        ),
        (
            "../dashboards/provisioning/dashboards.yml",
            "/etc/grafana/provisioning/dashboards/",
        ),
        ("../dashboards", dashboards_path.as_str()),
    ] {
        assert!(
            grafana_mounts
                .iter()
                .any(|m| m.starts_with(&format!("{source}:{target}"))),
            "grafana mounts {source} at {target}: {grafana_mounts:?}"
        );
    }
    let datasources = yaml("dashboards/provisioning/datasources.yml");
    assert_eq!(
        datasources["datasources"][0]["url"],
        "http://prometheus:9090"
    );
    assert!(
        problems.is_empty(),
        "compose problems:\n{}",
        problems.join("\n")
    );
}

#[test]
fn dockerfile_builds_a_small_non_root_image_with_a_healthcheck() {
    let dockerfile = read("Dockerfile");
    let instructions: Vec<&str> = dockerfile
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .collect();
    let froms: Vec<&str> = instructions
        .iter()
        .copied()
        .filter(|l| l.starts_with("FROM "))
        .collect();
    assert_eq!(froms.len(), 2, "two stages: {froms:?}");
    assert!(froms[0].starts_with("FROM rust:1-bookworm AS"), "{froms:?}");
    assert_eq!(froms[1], "FROM debian:bookworm-slim");
    for wanted in [
        "cargo build --release --locked",
        "USER croupier",
        "HEALTHCHECK",
        "/health/ready",
        "EXPOSE 8080",
        "/etc/croupier/default.toml",
        "/etc/croupier/games",
        "VOLUME [\"/var/lib/croupier\"]",
        "\"--listen\", \"0.0.0.0:8080\"",
    ] {
        assert!(dockerfile.contains(wanted), "Dockerfile has {wanted}");
    }
    // Everything COPY takes from the context exists and is not excluded by .dockerignore.
    let ignored: Vec<String> = read(".dockerignore")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect();
    assert!(
        ignored.iter().any(|l| l == "target"),
        ".dockerignore keeps target/ out of the context"
    );
    let mut sources = Vec::new();
    for line in instructions
        .iter()
        .filter(|l| l.starts_with("COPY ") && !l.contains("--from="))
    {
        let parts: Vec<&str> = line.split_whitespace().collect();
        sources.extend(parts[1..parts.len() - 1].iter().map(|s| s.to_string()));
        for source in &parts[1..parts.len() - 1] {
            assert!(repo(source).exists(), "COPY source {source} exists");
            let top = source.split('/').next().unwrap();
            assert!(
                !ignored.iter().any(|i| i == top || i == *source),
                "COPY source {source} is in .dockerignore"
            );
        }
    }
    // Cargo loads every workspace member's manifest before it builds anything.
    let manifest: toml::Value = toml::from_str(&read("Cargo.toml")).unwrap();
    let members = manifest["workspace"]["members"].as_array().unwrap();
    for member in members
        .iter()
        .filter_map(|m| m.as_str())
        .filter(|m| *m != ".")
    {
        assert!(
            sources
                .iter()
                .any(|s| s == member || member.starts_with(&format!("{s}/"))),
            "the build stage copies workspace member {member}: {sources:?}"
        );
    }
}

// ------------------------------------------------------------------------------------ docs

/// Metric names registered in src/metrics.rs (the string right after `&r,` or `Opts::new(`).
fn registered_metrics() -> Vec<String> {
    let source = read("src/metrics.rs");
    let mut names = Vec::new();
    for marker in ["&r,", "Opts::new("] {
        for (at, _) in source.match_indices(marker) {
            let rest = source[at + marker.len()..].trim_start();
            if let Some(rest) = rest.strip_prefix('"') {
                let name = &rest[..rest.find('"').unwrap()];
                names.push(format!("croupier_{name}"));
            }
        }
    }
    names.sort();
    names.dedup();
    names
}

/// Dotted keys of config/default.toml (`server.listen`); currency codes as `currencies`.
fn config_keys() -> Vec<String> {
    let config: toml::Table = toml::from_str(&read("config/default.toml")).unwrap();
    let mut keys = Vec::new();
    for (section, table) in &config {
        if section == "currencies" {
            keys.push(section.clone());
            continue;
        }
        for key in table.as_table().expect("sections only").keys() {
            keys.push(format!("{section}.{key}"));
        }
    }
    keys
}

#[test]
fn operations_doc_covers_every_config_key_metric_and_alert() {
    let docs = read("docs/operations.md");
    let metrics = registered_metrics();
    assert!(
        metrics.len() >= 20,
        "found the metric registrations in src/metrics.rs: {metrics:?}"
    );
    let alerts: Vec<String> = rules()
        .iter()
        .filter_map(|r| r["alert"].as_str().map(String::from))
        .collect();
    let keys = config_keys();
    let missing: Vec<String> = metrics
        .iter()
        .map(|m| (m.clone(), format!("`{m}`")))
        .chain(alerts.iter().map(|a| (a.clone(), format!("`{a}`"))))
        .chain(keys.iter().map(|k| (k.clone(), format!("`{k}`"))))
        .filter(|(_, quoted)| !docs.contains(quoted.as_str()))
        .map(|(name, _)| name)
        .collect();
    assert!(
        missing.is_empty(),
        "docs/operations.md does not describe (in backticks): {missing:?}"
    );
    for topic in [
        "SIGTERM",
        "reconnect",
        "1001",
        "/health/ready",
        "croupier audit",
        ".backup",
        "docker compose",
    ] {
        assert!(docs.contains(topic), "docs/operations.md mentions {topic}");
    }
}
