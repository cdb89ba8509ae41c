//! Provably fair seeds in the ledger, written once for both databases ([`SqlTx`]): a seed
//! started or rotated (`Movement::RotateSeed`), the nonce a fair round takes in the
//! transaction that opens it (`Movement::Fair`), and fair rounds read back for verification.

use super::fair::{rotation_fits, FairNonce, FairSeed, NewSeed, Reveal};
use super::ledger::FairRound;
use super::ledger::{Applied, LedgerError, MovementError};
use super::ledger_sql::Outcome;
use super::read_sql::{invalid, query_round};
use super::sql::{args, Row, SqlTx};
use crate::ids::{PlayerId, RoundId};

const SEED_COLUMNS: &str = "player_id, seed_index, commitment, key_id, client_seed, next_nonce, \
     created_at_ms, revealed_at_ms, server_seed";

fn seed_from_row(row: &Row) -> Result<FairSeed, LedgerError> {
    Ok(FairSeed {
        player: PlayerId::parse(&row.text(0)?).map_err(|_| invalid("fair_seeds.player_id"))?,
        seed_index: row.i64(1)?,
        commitment: row.text(2)?,
        key_id: row.text(3)?,
        client_seed: row.text(4)?,
        next_nonce: row.i64(5)?,
        created_at_ms: row.i64(6)?,
        revealed_at_ms: row.opt_i64(7)?,
        server_seed: row.opt_text(8)?,
    })
}

/// The player's seed in force; `lock` keeps it locked to commit (PostgreSQL), so a rotation
/// on another node waits for the round taking its nonce.
async fn in_force<T: SqlTx>(
    tx: &mut T,
    player: &PlayerId,
    lock: bool,
) -> Result<Option<FairSeed>, LedgerError> {
    let lock = if lock { tx.lock_rows() } else { "" };
    let sql = format!(
        "SELECT {SEED_COLUMNS} FROM fair_seeds WHERE player_id = $1 AND revealed_at_ms IS NULL{lock}"
    );
    tx.row(&sql, args![player.as_str()])
        .await?
        .map(|r| seed_from_row(&r))
        .transpose()
}

pub async fn seed_in_force<T: SqlTx>(
    tx: &mut T,
    player: &PlayerId,
) -> Result<Option<FairSeed>, LedgerError> {
    in_force(tx, player, false).await
}

async fn seed_at<T: SqlTx>(
    tx: &mut T,
    player: &PlayerId,
    seed_index: i64,
) -> Result<Option<FairSeed>, LedgerError> {
    let sql =
        format!("SELECT {SEED_COLUMNS} FROM fair_seeds WHERE player_id = $1 AND seed_index = $2");
    tx.row(&sql, args![player.as_str(), seed_index])
        .await?
        .map(|r| seed_from_row(&r))
        .transpose()
}

/// A rotation: reveals the seed in force (if any) and starts `next`, or, when `next` already
/// exists (the same rotation again), answers what it left. The revealed seed must hash to the
/// commitment the player was shown: a seed that does not is never written.
pub async fn rotate<T: SqlTx>(
    tx: &mut T,
    player: &PlayerId,
    reveal: Option<&Reveal>,
    next: &NewSeed,
    now: i64,
) -> Outcome {
    if let Some(existing) = seed_at(tx, player, next.seed_index).await? {
        if existing.commitment != next.commitment {
            return Ok(Err(MovementError::StaleSeed(next.seed_index)));
        }
        let revealed = match reveal {
            Some(r) => seed_at(tx, player, r.seed_index).await?,
            None => None,
        };
        return Ok(Ok(Applied::SeedRotated {
            revealed,
            current: existing,
            replayed: true,
        }));
    }
    let current = in_force(tx, player, true).await?;
    if !rotation_fits(current.as_ref(), reveal, next) {
        let index = current.map_or(next.seed_index, |c| c.seed_index);
        return Ok(Err(MovementError::StaleSeed(index)));
    }
    let mut revealed = None;
    if let (Some(reveal), Some(mut seed)) = (reveal, current) {
        if croupier_core::rng::fair::commitment_of_hex(&reveal.server_seed).as_deref()
            != Some(seed.commitment.as_str())
        {
            return Err(LedgerError::Invariant(format!(
                "{player}: the seed revealed for index {} does not match its commitment",
                seed.seed_index
            )));
        }
        let changed = tx
            .exec(
                "UPDATE fair_seeds SET revealed_at_ms = $1, server_seed = $2 \
                 WHERE player_id = $3 AND seed_index = $4 AND revealed_at_ms IS NULL",
                args![
                    now,
                    reveal.server_seed.as_str(),
                    player.as_str(),
                    seed.seed_index
                ],
            )
            .await?;
        if changed != 1 {
            return Ok(Err(MovementError::StaleSeed(seed.seed_index)));
        }
        seed.revealed_at_ms = Some(now);
        seed.server_seed = Some(reveal.server_seed.clone());
        revealed = Some(seed);
    }
    tx.exec(
        "INSERT INTO fair_seeds (player_id, seed_index, commitment, key_id, client_seed, \
         next_nonce, created_at_ms) VALUES ($1, $2, $3, $4, $5, 0, $6)",
        args![
            player.as_str(),
            next.seed_index,
            next.commitment.as_str(),
            next.key_id.as_str(),
            next.client_seed.as_str(),
            now
        ],
    )
    .await?;
    let current = FairSeed {
        player: player.clone(),
        seed_index: next.seed_index,
        commitment: next.commitment.clone(),
        key_id: next.key_id.clone(),
        client_seed: next.client_seed.clone(),
        next_nonce: 0,
        created_at_ms: now,
        revealed_at_ms: None,
        server_seed: None,
    };
    Ok(Ok(Applied::SeedRotated {
        revealed,
        current,
        replayed: false,
    }))
}

/// Whether the player has a seed in force, locking it to commit (checked before a fair round
/// opens, so a round never opens without a nonce to take).
pub async fn has_seed<T: SqlTx>(tx: &mut T, player: &PlayerId) -> Result<bool, LedgerError> {
    Ok(in_force(tx, player, true).await?.is_some())
}

/// Takes the next nonce of the player's seed in force for `round_id`, just opened in this
/// transaction. The database refuses a nonce used twice (`fair_rounds` is unique on it).
pub async fn take_nonce<T: SqlTx>(
    tx: &mut T,
    player: &PlayerId,
    round_id: &RoundId,
) -> Result<FairNonce, LedgerError> {
    let row = tx
        .row(
            "UPDATE fair_seeds SET next_nonce = next_nonce + 1 \
             WHERE player_id = $1 AND revealed_at_ms IS NULL \
             RETURNING seed_index, next_nonce - 1, commitment, client_seed, key_id",
            args![player.as_str()],
        )
        .await?
        .ok_or_else(|| {
            LedgerError::Invariant(format!(
                "{player}: the seed in force vanished under {round_id}"
            ))
        })?;
    let nonce = FairNonce {
        seed_index: row.i64(0)?,
        nonce: row.i64(1)?,
        commitment: row.text(2)?,
        client_seed: row.text(3)?,
        key_id: row.text(4)?,
    };
    tx.exec(
        "INSERT INTO fair_rounds (round_id, player_id, seed_index, nonce) VALUES ($1, $2, $3, $4)",
        args![
            round_id.as_str(),
            player.as_str(),
            nonce.seed_index,
            nonce.nonce
        ],
    )
    .await?;
    Ok(nonce)
}

/// The nonce `round_id` took, if it is a fair round.
pub async fn nonce_of<T: SqlTx>(
    tx: &mut T,
    round_id: &RoundId,
) -> Result<Option<FairNonce>, LedgerError> {
    let row = tx
        .row(
            "SELECT f.seed_index, f.nonce, s.commitment, s.client_seed, s.key_id FROM fair_rounds f \
             JOIN fair_seeds s ON s.player_id = f.player_id AND s.seed_index = f.seed_index \
             WHERE f.round_id = $1",
            args![round_id.as_str()],
        )
        .await?;
    row.map(|r| {
        Ok(FairNonce {
            seed_index: r.i64(0)?,
            nonce: r.i64(1)?,
            commitment: r.text(2)?,
            client_seed: r.text(3)?,
            key_id: r.text(4)?,
        })
    })
    .transpose()
}

/// A fair round, its nonce and its seed.
pub async fn fair_round<T: SqlTx>(
    tx: &mut T,
    round_id: &RoundId,
) -> Result<Option<FairRound>, LedgerError> {
    let Some(row) = tx
        .row(
            "SELECT player_id, seed_index, nonce FROM fair_rounds WHERE round_id = $1",
            args![round_id.as_str()],
        )
        .await?
    else {
        return Ok(None);
    };
    let player = PlayerId::parse(&row.text(0)?).map_err(|_| invalid("fair_rounds.player_id"))?;
    let (seed_index, nonce) = (row.i64(1)?, row.i64(2)?);
    let round = query_round(tx, "round_id = $1", args![round_id.as_str()])
        .await?
        .ok_or_else(|| LedgerError::Invariant(format!("fair round {round_id} has no round")))?;
    let seed = seed_at(tx, &player, seed_index).await?.ok_or_else(|| {
        LedgerError::Invariant(format!("fair round {round_id} names no seed {seed_index}"))
    })?;
    Ok(Some(FairRound { round, nonce, seed }))
}
