//! The config's own checks: the shipped file is valid and round-trips, and every bad value
//! is refused naming its key.
use super::*;

const DEFAULT: &str = include_str!("../../config/default.toml");

#[test]
fn shipped_default_config_is_valid() {
    let config = Config::parse(DEFAULT, "default.toml").unwrap();
    assert!(config.auth.demo_mode);
}

/// The test harness writes configs by serialising a `Config`: every key must survive the
/// round trip, or a test would silently run with the default of a key it set.
#[test]
fn a_config_written_back_reads_the_same() {
    let config = Config::parse(DEFAULT, "default.toml").unwrap();
    let written = toml::to_string(&config).unwrap();
    let again = Config::parse(&written, "written.toml").unwrap();
    assert_eq!(format!("{config:?}"), format!("{again:?}"));
    assert_eq!(written, toml::to_string(&again).unwrap());
}

fn error_for(from: &str, to: &str) -> String {
    assert!(
        DEFAULT.contains(from),
        "test edits a line that exists: {from}"
    );
    let text = DEFAULT.replacen(from, to, 1);
    Config::parse(&text, "default.toml")
        .unwrap_err()
        .to_string()
}

#[test]
fn unknown_key_is_named() {
    let e = error_for("[session]\n", "[session]\nmax_frames = 3\n");
    assert!(e.contains("max_frames"), "{e}");
}

#[test]
fn invalid_values_are_named() {
    let e = error_for("max_frame_bytes = 4096", "max_frame_bytes = 10");
    assert!(
        e.contains("session.max_frame_bytes") && e.contains("between"),
        "{e}"
    );
    let e = error_for("demo_balance = \"1000.00\"", "demo_balance = \"10.001\"");
    assert!(e.contains("auth.demo_balance"), "{e}");
    let e = error_for("listen = \"127.0.0.1:8080\"", "listen = \"nowhere\"");
    assert!(e.contains("server.listen"), "{e}");
    let e = error_for("synchronous = \"full\"", "synchronous = \"sometimes\"");
    assert!(e.contains("ledger.synchronous"), "{e}");
    let text = DEFAULT
        .replacen("demo_mode = true", "demo_mode = false", 1)
        .replacen("file = \"config/operators.toml\"", "file = \"\"", 1);
    let e = Config::parse(&text, "default.toml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("operators.file"), "{e}");
    let e = error_for("public_url = \"\"", "public_url = \"play.example.com\"");
    assert!(e.contains("server.public_url"), "{e}");
    let e = error_for(
        "operator_listen = \"127.0.0.1:8081\"",
        "operator_listen = \"127.0.0.1:8090\"",
    );
    assert!(e.contains("server.operator_listen"), "{e}");
}

#[test]
fn secrets_are_checked_with_the_key_named() {
    let strong = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    for (from, to, key, says) in [
        (
            "secret = \"\"",
            "secret = \"short\"",
            "auth.secret",
            "at least 32",
        ),
        (
            "secret = \"\"",
            "secret = \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",
            "auth.secret",
            "predictable",
        ),
        (
            "admin_key = \"\"",
            "admin_key = \"0123456789012345678901234567890123456789\"",
            "auth.admin_key",
            "predictable",
        ),
        (
            "redis_url = \"\"",
            "redis_url = \"redis://127.0.0.1:6379/0\"",
            "auth.secret",
            "cluster",
        ),
        (
            "postgres_url = \"\"",
            "postgres_url = \"postgres://db/croupier\"",
            "auth.demo_mode",
            "demo_on_shared_ledger",
        ),
    ] {
        let e = error_for(from, to);
        assert!(e.contains(key) && e.contains(says), "{to}: {e}");
    }
    // The admin key may not be the secret.
    let text = DEFAULT
        .replacen("secret = \"\"", &format!("secret = \"{strong}\""), 1)
        .replacen("admin_key = \"\"", &format!("admin_key = \"{strong}\""), 1);
    let e = Config::parse(&text, "default.toml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("auth.admin_key") && e.contains("differ"), "{e}");
    // Demo mode off with an operators file and a generated secret is a valid single node.
    let text = DEFAULT.replacen("demo_mode = true", "demo_mode = false", 1);
    Config::parse(&text, "default.toml").unwrap();
}

/// A config file that leaves the secrets to the environment is not refused before the
/// environment is applied: `load` only reads, the caller validates once.
#[test]
fn load_leaves_validation_to_the_caller() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(
        &path,
        DEFAULT.replacen("demo_mode = true", "demo_mode = false", 1),
    )
    .unwrap();
    let mut config = Config::load(&path).unwrap();
    config.auth.admin_key = "short".into();
    assert!(config.validate("file").is_err(), "a weak admin key");
    config.auth.admin_key = "Correct-Horse-Battery-Staple-42-Zebra".into();
    config.validate("file + environment").unwrap();
}

#[test]
fn invalid_cluster_values_are_named() {
    for (from, to, key) in [
        (
            "namespace = \"croupier\"",
            "namespace = \"\"",
            "cluster.namespace",
        ),
        (
            "namespace = \"croupier\"",
            "namespace = \"a:b\"",
            "cluster.namespace",
        ),
        (
            "node_id = \"\"",
            "node_id = \"node one\"",
            "cluster.node_id",
        ),
        (
            "table_lease_ms = 5000",
            "table_lease_ms = 500",
            "cluster.table_lease_ms",
        ),
        (
            "table_lease_ms = 5000",
            "table_lease_ms = 600000",
            "cluster.table_lease_ms",
        ),
        (
            "redis_url = \"\"",
            "redis_url = \"http://redis\"",
            "cluster.redis_url",
        ),
    ] {
        let e = error_for(from, to);
        assert!(e.contains(key), "{to}: {e}");
    }
}
