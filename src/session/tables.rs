//! The live-table frames of a session: join, leave and bet. A bet is parsed and checked
//! against the table's limits here (pure, off the table's thread), reserved at the table,
//! debited through the wallet (exactly once per `req_id`), then confirmed at the table.

use super::handler::{money, void, PlayError};
use super::{Caller, SessionLink, MAX_TABLES_PER_SESSION};
use crate::app::App;
use crate::ids::ReqId;
use crate::money::Money;
use crate::protocol::ServerFrame;
use crate::table::actor::{round_of_bet, Cancel, Confirm, Join, Reserve};
use crate::table::{TableError, TableHandle, TABLE_REPLY_TIMEOUT};
use crate::wallet::{Applied, LedgerError, Movement, MovementError, RoundStatus, WalletError};

/// A `table_bet` frame's fields.
pub struct BetRequest<'a> {
    pub table: &'a str,
    pub kind: &'a str,
    pub numbers: &'a [u8],
    pub amount: &'a str,
}

fn table<'a>(app: &'a App, id: &str) -> Result<&'a TableHandle, PlayError> {
    app.tables
        .get(id)
        .ok_or_else(|| PlayError::UnknownTable(id.chars().take(64).collect()))
}

/// Sends `msg` to the table and waits (bounded) for its answer.
async fn ask<M>(t: &TableHandle, msg: M) -> Result<M::Result, PlayError>
where
    M: actix::Message + Send + 'static,
    M::Result: Send,
    crate::table::LiveTable: actix::Handler<M>,
{
    match tokio::time::timeout(TABLE_REPLY_TIMEOUT, t.addr.send(msg)).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(_)) | Err(_) => Err(PlayError::TableBusy),
    }
}

fn joined(link: &SessionLink) -> std::sync::MutexGuard<'_, std::collections::BTreeSet<String>> {
    link.joined
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub async fn join(
    app: &App,
    caller: &Caller,
    link: &SessionLink,
    req_id: &ReqId,
    id: &str,
) -> Result<ServerFrame, PlayError> {
    let t = table(app, id)?;
    {
        let joined = joined(link);
        if !joined.contains(id) && joined.len() >= MAX_TABLES_PER_SESSION {
            return Err(PlayError::TooManyTables(MAX_TABLES_PER_SESSION));
        }
    }
    let msg = Join {
        player: caller.player.clone(),
        pusher: link.pusher.clone(),
    };
    let state = ask(t, msg).await??;
    joined(link).insert(id.to_string());
    Ok(ServerFrame::TableState {
        req_id: req_id.to_string(),
        table: state.view,
        your_bets: state.your_bets,
        recent: state.recent,
    })
}

pub fn leave(
    app: &App,
    link: &SessionLink,
    req_id: &ReqId,
    id: &str,
) -> Result<ServerFrame, PlayError> {
    table(app, id)?;
    if !joined(link).remove(id) {
        return Err(PlayError::NotJoined(id.to_string()));
    }
    app.tables.leave(id, &link.pusher.session_id);
    Ok(ServerFrame::LeftTable {
        req_id: req_id.to_string(),
        table: id.to_string(),
    })
}

pub async fn bet(
    app: &App,
    caller: &Caller,
    link: &SessionLink,
    req_id: &ReqId,
    request: BetRequest<'_>,
) -> Result<ServerFrame, PlayError> {
    let t = table(app, request.table)?;
    let config = &t.config;
    if config.currency.code() != caller.currency.code() {
        return Err(PlayError::WrongCurrency {
            table: config.id.clone(),
            table_currency: config.currency.code().to_string(),
            yours: caller.currency.code().to_string(),
        });
    }
    let amount = Money::parse_positive(request.amount, &config.currency)?;
    let bet = t
        .rules
        .parse_bet(config, request.kind, request.numbers, &amount)?;
    let reserve = Reserve {
        player: caller.player.clone(),
        req_id: req_id.clone(),
        bet,
        amount: amount.clone(),
        pusher: link.pusher.clone(),
    };
    let reserved = ask(t, reserve).await??;
    tracing::Span::current().record("round", tracing::field::display(&reserved.round_id));
    let cancel = || {
        let _ = t.addr.try_send(Cancel {
            round_id: reserved.round_id.clone(),
            bet_id: reserved.bet_id.clone(),
        });
    };
    let opened = app
        .wallet
        .apply(Movement::OpenRound {
            round_id: reserved.bet_id.clone(),
            player: caller.player.clone(),
            req_id: req_id.clone(),
            game: config.id.clone(),
            bet_minor: Some(amount.minor()),
            try_free_spin: false,
            jackpot: app.jackpots.feed_for(&config.id, &config.currency),
        })
        .await;
    let (round, balance_minor, replayed, seen) = match opened {
        Ok(Applied::RoundOpened {
            round,
            balance_minor,
            replayed,
            jackpot,
            ..
        }) => (round, balance_minor, replayed, jackpot),
        Ok(other) => {
            cancel();
            let what = format!("OpenRound for a table bet answered {other:?}");
            return Err(LedgerError::Invariant(what).into());
        }
        Err(WalletError::Refused(MovementError::InsufficientFunds {
            balance_minor,
            needed_minor,
        })) => {
            cancel();
            return Err(PlayError::InsufficientFunds {
                balance: money(balance_minor, &caller.currency),
                bet: money(needed_minor, &caller.currency),
            });
        }
        Err(e) => {
            cancel();
            return Err(e.into());
        }
    };
    let accepted = |round_id: &str, bet_id: &str, balance_minor: i64| ServerFrame::BetAccepted {
        req_id: req_id.to_string(),
        table: config.id.clone(),
        round_id: round_id.to_string(),
        bet_id: bet_id.to_string(),
        kind: bet.kind().to_string(),
        numbers: request.numbers.to_vec(),
        amount: amount.to_string(),
        balance: money(balance_minor, &caller.currency),
    };
    if replayed {
        // This req_id was debited before (the reply cache forgot it): that bet stands, once.
        cancel();
        let bet_id = round.round_id.as_str();
        return match round.status {
            RoundStatus::Void => Err(PlayError::RoundVoid(bet_id.to_string())),
            RoundStatus::Open | RoundStatus::Settled => Ok(accepted(
                round_of_bet(bet_id),
                bet_id,
                round.balance_after_minor,
            )),
        };
    }
    // The bet's jackpot draw (mystery, ceiling) is made now, on an RNG shard; it is paid
    // with the bet's settlement. A draw that fails only loses the chance, never money.
    let claims = match app
        .jackpots
        .pool_for(&config.id)
        .filter(|_| !seen.is_empty())
    {
        Some(pool) => {
            let table_id = config.id.clone();
            app.rng
                .draw(move |rng| crate::jackpot::claims_for(&pool, &table_id, &seen, None, rng))
                .await
                .unwrap_or_default()
        }
        None => Vec::new(),
    };
    let confirm = Confirm {
        round_id: reserved.round_id.clone(),
        bet_id: reserved.bet_id.clone(),
        claims,
    };
    match ask(t, confirm).await {
        Ok(Ok(())) => Ok(accepted(
            reserved.round_id.as_str(),
            reserved.bet_id.as_str(),
            balance_minor,
        )),
        Ok(Err(TableError::TooLate)) | Err(PlayError::TableBusy) | Ok(Err(_)) => {
            // Debited, but the round settled (or the table did not answer): refund it now.
            void(app, &round, "late_debit").await;
            Err(TableError::TooLate.into())
        }
        Err(other) => Err(other),
    }
}
