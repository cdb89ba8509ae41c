//! Harm flags in SQL, written once for SQLite and PostgreSQL: a flag raised at most once per
//! session and rule (a second raise changes nothing), and a player's flags read back, newest
//! first. The rules that raise them are the core's `jurisdiction::harm`.

use super::ledger::{HarmFlagRecord, LedgerError};
use super::sql::{args, SqlTx};
use crate::ids::PlayerId;

/// The most flags one read returns: a player's newest.
pub const MAX_FLAGS_LISTED: i64 = 200;

/// Records a flag; `true` if it is new (the session had not raised this rule yet).
pub async fn raise<T: SqlTx>(tx: &mut T, flag: &HarmFlagRecord) -> Result<bool, LedgerError> {
    let written = tx
        .exec(
            "INSERT INTO harm_flags (player_id, session_id, rule, profile, raised_at_ms) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (player_id, session_id, rule) DO NOTHING",
            args![
                flag.player.as_str(),
                flag.session_id.as_str(),
                flag.rule.as_str(),
                flag.profile.as_str(),
                flag.raised_at_ms
            ],
        )
        .await?;
    Ok(written == 1)
}

/// The player's flags, newest first (at most [`MAX_FLAGS_LISTED`]).
pub async fn flags<T: SqlTx>(
    tx: &mut T,
    player: &PlayerId,
) -> Result<Vec<HarmFlagRecord>, LedgerError> {
    let rows = tx
        .rows(
            "SELECT session_id, rule, profile, raised_at_ms FROM harm_flags \
             WHERE player_id = $1 ORDER BY raised_at_ms DESC, rule LIMIT $2",
            args![player.as_str(), MAX_FLAGS_LISTED],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(HarmFlagRecord {
                player: player.clone(),
                session_id: r.text(0)?,
                rule: r.text(1)?,
                profile: r.text(2)?,
                raised_at_ms: r.i64(3)?,
            })
        })
        .collect()
}
