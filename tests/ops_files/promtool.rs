//! The Prometheus config and alert rules pass promtool (and its rule tests); the games'
//! reference recording rules match the PAR sheets `croupier rtp` prints.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::json;

use super::dashboards::substitute;
use super::files::*;
use super::*;

pub(crate) fn promtool() -> PathBuf {
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

/// The figures `croupier rtp` prints for a game file, one per RTP variant (its main game
/// first): (game id, exact RTP, hit frequency, volatility).
pub(crate) fn par_sheets(game_file: &Path) -> Vec<(String, f64, f64, f64)> {
    let (ok, out) = run(Command::new(env!("CARGO_BIN_EXE_croupier"))
        .arg("rtp")
        .arg(game_file));
    assert!(ok, "croupier rtp {}:\n{out}", game_file.display());
    out.split("PAR sheet: ")
        .skip(1)
        .map(|sheet| {
            let after = |line_start: &str, marker: &str| -> f64 {
                let line = sheet
                    .lines()
                    .map(str::trim)
                    .find(|l| l.starts_with(line_start))
                    .unwrap_or_else(|| panic!("no {line_start:?} line in:\n{sheet}"));
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
            // "Starfall (starfall_94, RTP variant 94)" or "Starfall (starfall)".
            let heading = sheet.lines().next().unwrap_or_default();
            let id: String = heading
                .split_once('(')
                .map(|(_, rest)| rest)
                .unwrap_or_default()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            assert!(!id.is_empty(), "no game id in {heading:?}");
            (
                id,
                after("TOTAL RTP", "= "),
                after("hit frequency", "hit frequency") / 100.0,
                after("volatility", "volatility"),
            )
        })
        .collect()
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
    for (id, rtp, hit, volatility) in games_dir.iter().flat_map(|file| par_sheets(file)) {
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
