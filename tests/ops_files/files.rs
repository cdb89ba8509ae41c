//! The dashboards and rules as shipped, and the PromQL expressions in them.

use std::collections::BTreeSet;

use serde_json::Value;

use super::*;

pub(crate) fn dashboards() -> Vec<(String, Value)> {
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
pub(crate) fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().into_iter().flatten() {
        out.push(panel);
        out.extend(panel["panels"].as_array().into_iter().flatten());
    }
    out
}

pub(crate) struct Expr {
    pub(crate) origin: String,
    pub(crate) text: String,
    /// PromQL (false for Grafana's label_values(...) variable queries).
    pub(crate) promql: bool,
}

pub(crate) fn dashboard_exprs(file: &str, dashboard: &Value) -> Vec<Expr> {
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

pub(crate) fn rules() -> Vec<Value> {
    let alerts = yaml("deploy/alerts.yml");
    alerts["groups"]
        .as_array()
        .expect("alerts.yml has groups")
        .iter()
        .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
        .collect()
}

pub(crate) fn rule_exprs(rules: &[Value]) -> Vec<Expr> {
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

pub(crate) fn recorded_names(rules: &[Value]) -> BTreeSet<String> {
    rules
        .iter()
        .filter_map(|r| r["record"].as_str().map(String::from))
        .collect()
}

pub(crate) fn all_exprs() -> Vec<Expr> {
    let mut out: Vec<Expr> = dashboards()
        .iter()
        .flat_map(|(f, d)| dashboard_exprs(f, d))
        .collect();
    out.extend(rule_exprs(&rules()));
    out
}
