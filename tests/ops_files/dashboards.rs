//! Every Grafana dashboard: titles, units, a fixed datasource, known variables; promtool
//! parses every expression once its variables are substituted.

use std::collections::BTreeSet;

use serde_json::Value;

use super::files::*;
use super::promql::*;
use super::*;

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
pub(crate) fn substitute(expr: &str, dashboard: &Value) -> String {
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
