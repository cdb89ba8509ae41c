//! RTP variants against the real binary: a profile that offers only `starfall_94` lists only
//! it, refuses the other variant (a spin and a launch) with nothing changed, and the variant
//! it offers plays, is recalled under its own id and feeds the pool its game feeds; a profile
//! naming a variant no game has stops start-up naming the key.

use serde_json::{json, Value};

use crate::common::*;
use crate::jurisdictions::{balance_of, funded_launch, house, launch, launch_body, player};

/// The default profile offers every variant; players from "RV" get starfall at 94 % only.
const NARROW: &str = r#"
[[profile]]
id = "default"
name = "Permissive"

[[profile]]
id = "narrow"
name = "One variant of starfall"
countries = ["RV"]
rtp_variants = { starfall = ["94"] }
"#;

/// A pool fed by starfall (by its name, so by every variant of it).
const POOL: &str = r#"
[[pool]]
id = "stars"
currency = "EUR"
games = ["starfall"]

[[pool.level]]
name = "mini"
contribution = "0.01"
seed = "10.00"
must_drop_by = "1000.00"
"#;

fn ids(games: &Value) -> Vec<String> {
    games
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap().to_string())
        .collect()
}

async fn pool_value(server: &Server) -> i64 {
    cents(jackpot_levels(server).await[0]["value"].as_str().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_offers_only_its_rtp_variants_and_the_others_cannot_be_played() {
    let op = house();
    let server = NodeConfig::shipped()
        .fast()
        .no_tables()
        .jurisdictions(NARROW)
        .jackpots(POOL)
        .operators(&op.entry(&["EUR"], ""))
        .start();

    // The public catalogue lists every variant, each with its game and stated RTP.
    let catalogue: Value = reqwest::get(format!("{}/v1/games", server.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let all = ids(&catalogue["games"]);
    assert_eq!(
        all,
        [
            "classic_sevens",
            "classic_sevens_94",
            "starfall",
            "starfall_94"
        ],
        "{catalogue}"
    );
    let s94 = &catalogue["games"][3];
    assert_eq!(
        (&s94["family"], &s94["variant"], &s94["rtp"]),
        (&json!("starfall"), &json!("94"), &json!("0.9410")),
        "{s94}"
    );
    assert_eq!(catalogue["games"][2]["rtp"], "0.9602", "{catalogue}");

    // A player under the narrow profile, launched into the variant it offers, sees starfall
    // at 94 % only.
    let mut into = launch_body("rv", "EUR", "RV", None);
    into["game"] = json!("starfall_94");
    let (mut rv, _, _) = funded_launch(&server, &op, into).await;
    let games = rv.request(json!({"type": "games", "req_id": "g1"})).await;
    assert_eq!(
        ids(&games["games"]),
        ["classic_sevens", "classic_sevens_94", "starfall_94"],
        "{games}"
    );
    // The variant it does not offer is refused before anything moves.
    let before = balance_of(&server, &op, "rv").await;
    let pool_before = pool_value(&server).await;
    let refused = json!({"type": "spin", "req_id": "s1", "game": "starfall", "bet": "1.00"});
    let r = rv.request(refused.clone()).await;
    assert_eq!(r["code"], "game_not_offered", "{r}");
    assert!(r["message"].as_str().unwrap().contains("narrow"), "{r}");
    let r = rv.request(refused).await;
    assert_eq!(
        r["code"], "game_not_offered",
        "a resend gets the same answer: {r}"
    );
    assert_eq!(balance_of(&server, &op, "rv").await, before);
    assert_eq!(pool_value(&server).await, pool_before);
    let history = rv
        .request(json!({"type": "history", "req_id": "h0", "limit": 10}))
        .await;
    assert_eq!(history["rounds"], json!([]), "{history}");

    // The one it offers plays, feeds the pool its game feeds, and is recalled by its id.
    let r = rv
        .request(json!({"type": "spin", "req_id": "s2", "game": "starfall_94", "bet": "1.00"}))
        .await;
    assert_eq!(r["type"], "spin_result", "{r}");
    assert_eq!(
        pool_value(&server).await,
        pool_before + 1,
        "1 % of 1.00 fed"
    );
    let history = rv
        .request(json!({"type": "history", "req_id": "h1", "limit": 10}))
        .await;
    assert_eq!(history["rounds"][0]["game"], "starfall_94", "{history}");

    // A launch straight into the variant the profile does not offer is refused.
    let (status, body) = launch(&server, &op, launch_body("rv2", "EUR", "RV", None)).await;
    assert_eq!(
        (status, &body["code"]),
        (403, &json!("game_not_offered")),
        "{body}"
    );
    let mut ok = launch_body("rv2", "EUR", "RV", None);
    ok["game"] = json!("starfall_94");
    let (status, body) = launch(&server, &op, ok).await;
    assert_eq!(status, 201, "{body}");

    // A player under the default profile is offered everything.
    let (mut fr, _, _) = player(&server, &op, "fr", "EUR", "FR", None).await;
    let games = fr.request(json!({"type": "games", "req_id": "g2"})).await;
    assert_eq!(ids(&games["games"]), all, "{games}");
    let r = fr
        .request(json!({"type": "spin", "req_id": "s3", "game": "starfall", "bet": "1.00"}))
        .await;
    assert_eq!(r["type"], "spin_result", "{r}");
}

#[test]
fn a_profile_naming_a_variant_no_game_has_stops_start_up() {
    let dir = tempfile::tempdir().unwrap();
    for (variants, needle) in [
        (
            r#"{ starfall = ["95"] }"#,
            r#"starfall has no RTP variant "95""#,
        ),
        (r#"{ moonfall = ["96"] }"#, r#"no slot game "moonfall""#),
    ] {
        let profiles = NARROW.replace(r#"{ starfall = ["94"] }"#, variants);
        let config = NodeConfig::shipped()
            .no_tables()
            .jurisdictions(&profiles)
            .write(dir.path());
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_croupier"))
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(&config)
            .output()
            .unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("profile narrow: rtp_variants."), "{stderr}");
        assert!(stderr.contains(needle), "{needle} missing from: {stderr}");
    }
}
