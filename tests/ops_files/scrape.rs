//! A real node's /metrics: every `croupier_*` series a dashboard or an alert uses is exported.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::time::{Duration, Instant};

use croupier::ids::{PlayerId, ReqId, RoundId};
use croupier::wallet::sqlite::{Durability, SqliteLedger};
use croupier::wallet::{Ledger, Movement};
use serde_json::json;

use super::common::*;
use super::files::*;
use super::promql::*;
use super::promtool::promtool;
use super::*;

/// A parsed Prometheus text exposition.
#[derive(Default)]
pub(crate) struct Scrape {
    /// Family name -> type.
    pub(crate) families: BTreeMap<String, String>,
    /// Sample name -> label names seen on it.
    pub(crate) samples: BTreeMap<String, BTreeSet<String>>,
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

pub(crate) async fn scrape(server: &Server) -> String {
    let reply = reqwest::get(format!("{}/metrics", server.admin))
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    reply.text().await.unwrap()
}

/// Every referenced `croupier_*` selector that this scrape does not satisfy.
pub(crate) fn missing(scrape: &Scrape, exprs: &[Expr], recorded: &BTreeSet<String>) -> Vec<String> {
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
pub(crate) async fn leave_a_round_open(server: &Server, player: &str) {
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
            session_started_ms: None,
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
    let mut first = NodeConfig::shipped().fast().shipped_jackpots().start();
    let void = open_session(&first, "ops-void").await;
    first.sigterm();
    leave_a_round_open(&first, &void.player).await;
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
