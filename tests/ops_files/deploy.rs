//! The compose stack is complete and consistent; the Dockerfile builds a small non-root image
//! with a health check.

use std::collections::BTreeSet;

use serde_json::Value;

use super::*;

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
                && command.contains("--listen 0.0.0.0:8080")
                && command.contains("--admin-listen 0.0.0.0:8090"),
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
    // Prometheus scrapes each node's admin listener (8090), never the players' port.
    let admin: BTreeSet<String> = nodes.iter().map(|n| format!("{n}:8090")).collect();
    assert_eq!(targets, admin, "Prometheus scrape targets");
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
