//! Checking a provably fair round (pure): from its revealed server seed (or one the player
//! gives), its client seed and its nonce, the round's reels are drawn again exactly as live
//! play drew them, evaluated in the round's mode and paid on its stake, and compared with what
//! was settled. Used by `croupier verify` and `GET /v1/fair/rounds/{id}`.

use serde::Serialize;
use serde_json::Value;

use crate::games::slot::{self, SpinOutcome};
use crate::games::GameCatalog;
use crate::money::{Currency, Money};
use crate::rng::fair::{ClientSeed, FairStream, ServerSeed};
use crate::wallet::{FairRound, RoundStatus};

/// Why a round cannot be verified.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("the seed of round {0} is still in force: rotate it to reveal it")]
    NotRevealed(String),
    #[error("a server seed is 64 hex digits")]
    BadSeed,
    #[error("round {round} is of {game}, which is not a slot game here")]
    UnknownGame { round: String, game: String },
    #[error("the stored record of round {round} cannot be read: {why}")]
    BadRecord { round: String, why: String },
}

/// What the check found. `verified` only when every part holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub round_id: String,
    pub game: String,
    /// `settled`, or `void` (its stake was refunded; its nonce drew nothing that was paid).
    pub status: String,
    pub seed_index: i64,
    pub nonce: i64,
    pub client_seed: String,
    pub commitment: String,
    pub server_seed: String,
    /// SHA-256 of the server seed equals the commitment shown before play.
    pub commitment_matches: bool,
    /// The seed, client seed and nonce the round's outcome names are this round's.
    pub proof_matches: bool,
    /// The reels drawn again from the seed.
    pub stops: Vec<u32>,
    /// The reels as settled (none for a void round).
    pub settled_stops: Option<Vec<u32>>,
    /// The outcome drawn again equals the settled one (grid, wins, free spins).
    pub outcome_matches: bool,
    /// The stake times the win multiple drawn again equals the win paid.
    pub win_matches: bool,
    pub win: String,
    pub verified: bool,
}

/// Verifies `fair` (a round that played in `currency`) with the games of `catalog`, using the
/// revealed seed, or `server_seed` when the player gives one (a forged seed fails).
pub fn verify(
    catalog: &GameCatalog,
    fair: &FairRound,
    currency: &Currency,
    server_seed: Option<&str>,
) -> Result<Verdict, VerifyError> {
    let round = &fair.round;
    let id = round.round_id.to_string();
    let bad = |why: String| VerifyError::BadRecord {
        round: id.clone(),
        why,
    };
    let seed_hex = match (server_seed, fair.seed.server_seed.as_deref()) {
        (Some(given), _) => given,
        (None, Some(revealed)) => revealed,
        (None, None) => return Err(VerifyError::NotRevealed(id)),
    };
    let server = ServerSeed::parse(seed_hex).ok_or(VerifyError::BadSeed)?;
    let client = ClientSeed::parse(&fair.seed.client_seed).map_err(|e| bad(e.to_string()))?;
    let game = catalog
        .slot(&round.game)
        .ok_or_else(|| VerifyError::UnknownGame {
            round: id.clone(),
            game: round.game.clone(),
        })?;
    let mode = crate::replay::spin_mode(round);
    let nonce = u64::try_from(fair.nonce).map_err(|_| bad("negative nonce".into()))?;
    let drawn = slot::spin(game, mode, &mut FairStream::new(&server, &client, nonce));
    let stake = Money::from_minor(round.stake_minor, currency).map_err(|e| bad(e.to_string()))?;
    let win = stake
        .mul_floor(drawn.win_multiple)
        .map_err(|e| bad(e.to_string()))?;
    let commitment_matches = server.commitment() == fair.seed.commitment;
    let (settled, proof_matches, win_matches) = match round.status {
        RoundStatus::Settled => {
            let text = round
                .outcome_json
                .as_deref()
                .ok_or_else(|| bad("no outcome".into()))?;
            let value: Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
            let proof = &value["fair"];
            let proof_matches = proof["seed_index"] == fair.seed.seed_index
                && proof["nonce"] == fair.nonce
                && proof["commitment"] == fair.seed.commitment.as_str()
                && proof["client_seed"] == fair.seed.client_seed.as_str();
            let stored: SpinOutcome =
                serde_json::from_value(value).map_err(|e| bad(e.to_string()))?;
            (Some(stored), proof_matches, win.minor() == round.win_minor)
        }
        // A void round paid nothing and refunded its stake: its nonce is accounted for, its
        // reels can still be drawn, there is no settled outcome to compare.
        RoundStatus::Void => (None, true, round.win_minor == 0),
        RoundStatus::Open => {
            return Err(bad("the round is still open".into()));
        }
    };
    let outcome_matches = settled.as_ref().map_or(true, |s| *s == drawn);
    Ok(Verdict {
        round_id: id,
        game: game.id().to_string(),
        status: round.status.as_str().to_string(),
        seed_index: fair.seed.seed_index,
        nonce: fair.nonce,
        client_seed: fair.seed.client_seed.clone(),
        commitment: fair.seed.commitment.clone(),
        server_seed: server.to_hex(),
        commitment_matches,
        proof_matches,
        settled_stops: settled.map(|s| s.stops),
        stops: drawn.stops.clone(),
        outcome_matches,
        win_matches,
        win: win.to_string(),
        verified: commitment_matches && proof_matches && outcome_matches && win_matches,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::games::slot::SpinMode;
    use crate::ids::{PlayerId, ReqId, RoundId};
    use crate::wallet::{FairSeed, RoundRecord};

    fn catalog() -> GameCatalog {
        GameCatalog::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/games"))
            .unwrap()
    }

    /// A settled fair round of starfall at nonce `nonce`, drawn honestly from `seed`.
    fn fair_round(catalog: &GameCatalog, seed: &ServerSeed, nonce: i64) -> FairRound {
        let game = catalog.slot("starfall").unwrap();
        let client = ClientSeed::parse("lab").unwrap();
        let drawn = slot::spin(
            game,
            SpinMode::Base,
            &mut FairStream::new(seed, &client, nonce as u64),
        );
        let eur = Currency::new("EUR", 2).unwrap();
        let win = Money::from_minor(100, &eur)
            .unwrap()
            .mul_floor(drawn.win_multiple)
            .unwrap();
        let mut outcome = serde_json::to_value(&drawn).unwrap();
        outcome["fair"] = serde_json::json!({
            "seed_index": 0, "commitment": seed.commitment(), "client_seed": "lab", "nonce": nonce,
        });
        FairRound {
            round: RoundRecord {
                round_id: RoundId::new_v7(),
                player: PlayerId::parse("house:alice").unwrap(),
                req_id: ReqId::parse("r").unwrap(),
                game: "starfall".into(),
                status: RoundStatus::Settled,
                bet_minor: 100,
                stake_minor: 100,
                win_minor: win.minor(),
                free_spin: false,
                multiplier: 1,
                balance_after_minor: 0,
                outcome_json: Some(outcome.to_string()),
                created_at_ms: 0,
                node: None,
                campaign: None,
            },
            nonce,
            seed: FairSeed {
                player: PlayerId::parse("house:alice").unwrap(),
                seed_index: 0,
                commitment: seed.commitment(),
                key_id: "k".into(),
                client_seed: "lab".into(),
                next_nonce: nonce + 1,
                created_at_ms: 0,
                revealed_at_ms: Some(1),
                server_seed: Some(seed.to_hex()),
            },
        }
    }

    #[test]
    fn honest_rounds_verify_and_forged_seeds_wins_or_nonces_do_not() {
        let catalog = catalog();
        let eur = Currency::new("EUR", 2).unwrap();
        let seed = ServerSeed::from_bytes([7; 32]);
        for nonce in 0..200 {
            let round = fair_round(&catalog, &seed, nonce);
            let verdict = verify(&catalog, &round, &eur, None).unwrap();
            assert!(verdict.verified, "{verdict:?}");

            let forged = ServerSeed::from_bytes([8; 32]).to_hex();
            let verdict = verify(&catalog, &round, &eur, Some(&forged)).unwrap();
            assert!(!verdict.verified && !verdict.commitment_matches);

            let mut paid_more = round.clone();
            paid_more.round.win_minor += 1;
            assert!(
                !verify(&catalog, &paid_more, &eur, None)
                    .unwrap()
                    .win_matches
            );

            let mut other_nonce = round.clone();
            other_nonce.nonce += 1;
            let verdict = verify(&catalog, &other_nonce, &eur, None).unwrap();
            assert!(!verdict.verified && !verdict.proof_matches);
        }
        let mut secret = fair_round(&catalog, &seed, 0);
        secret.seed.server_seed = None;
        assert!(matches!(
            verify(&catalog, &secret, &eur, None),
            Err(VerifyError::NotRevealed(_))
        ));
        assert_eq!(
            verify(&catalog, &secret, &eur, Some("zz")),
            Err(VerifyError::BadSeed)
        );
    }
}
