//! The version of the play files in force, on real nodes: two nodes on the same files report
//! the same `config_version` (in `/v1/cluster` and `croupier_config_info`), a node whose
//! jurisdictions file differs reports another. The three-node case is in `cluster_tables`.

use crate::common::*;

async fn version(node: &Server) -> String {
    cluster_view(node).await["config_version"]
        .as_str()
        .expect("/v1/cluster names the config version")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_on_the_same_play_files_report_one_version_and_a_changed_file_another() {
    let a = NodeConfig::shipped().no_tables().start();
    let b = NodeConfig::shipped().no_tables().start();
    let other = NodeConfig::shipped()
        .no_tables()
        .jurisdictions("[[profile]]\nid = \"default\"\nname = \"Only the default\"\n")
        .start();
    let (va, vb, vo) = (version(&a).await, version(&b).await, version(&other).await);
    assert_eq!(va.len(), 16, "{va}");
    assert!(va.bytes().all(|c| c.is_ascii_hexdigit()), "{va}");
    assert_eq!(va, vb, "same files, same version");
    assert_ne!(va, vo, "another jurisdictions file, another version");
    let metrics = metrics_text(&a).await;
    assert!(
        metrics.contains(&format!("croupier_config_info{{version=\"{va}\"}} 1")),
        "{}",
        metrics
            .lines()
            .filter(|l| l.contains("config_info"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
