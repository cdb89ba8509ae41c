//! docs/operations.md describes every config key, metric and alert, and the operations topics.

use super::files::rules;
use super::*;

/// Metric names registered in src/metrics/ (the string right after `r,` or `Opts::new(`).
pub(crate) fn registered_metrics() -> Vec<String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo("src/metrics"))
        .expect("src/metrics/")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .collect();
    files.sort();
    let source: String = files
        .iter()
        .map(|p| std::fs::read_to_string(p).expect("a metrics source file"))
        .collect();
    let mut names = Vec::new();
    for marker in ["r,", "Opts::new("] {
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
pub(crate) fn config_keys() -> Vec<String> {
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
        "found the metric registrations in src/metrics/: {metrics:?}"
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
