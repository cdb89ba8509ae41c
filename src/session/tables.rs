//! The live-table frames of a session: join, leave and bet. A bet is parsed and checked
//! against the table's limits here (pure, off the table's thread), reserved at the table,
//! debited through the wallet (exactly once per `req_id`), then confirmed at the table.
//!
//! In a cluster the table may run on another node: a join or a bet is then asked of that node
//! over the bus ([`crate::table::cluster`]), which runs the same code with a remote seat, and
//! its reply comes back as this request's reply.

use std::sync::Arc;

use actix::Addr;

use super::error::{money, PlayError};
use super::{Caller, SessionLink, MAX_TABLES_PER_SESSION};
use crate::app::App;
use crate::ids::ReqId;
use crate::money::Money;
use crate::protocol::ServerFrame;
use crate::table::actor::{round_of_bet, Cancel, Confirm, Join, Joined, Reserve, SitDown};
use crate::table::cluster::AskOp;
use crate::table::host::{RemoteBet, TableHost};
use crate::table::rules::TableBet;
use crate::table::Pusher;
use crate::table::{LiveTable, LocalSeat, Run, TableError, TableSlot, TABLE_REPLY_TIMEOUT};
use crate::wallet::{Applied, Fence, LedgerError, Movement, RoundStatus};

/// A `table_bet` frame's fields.
pub struct BetRequest<'a> {
    pub table: &'a str,
    pub kind: &'a str,
    pub numbers: &'a [u8],
    pub amount: &'a str,
}

fn table(app: &App, id: &str) -> Result<Arc<TableSlot>, PlayError> {
    app.tables
        .get(id)
        .ok_or_else(|| PlayError::UnknownTable(id.chars().take(64).collect()))
}

/// Sends `msg` to the table and waits (bounded) for its answer.
async fn ask<M>(addr: &Addr<LiveTable>, msg: M) -> Result<M::Result, PlayError>
where
    M: actix::Message + Send + 'static,
    M::Result: Send,
    crate::table::LiveTable: actix::Handler<M>,
{
    match tokio::time::timeout(TABLE_REPLY_TIMEOUT, addr.send(msg)).await {
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
    if t.retired.is_cancelled() {
        return Err(PlayError::UnknownTable(id.chars().take(64).collect()));
    }
    {
        let joined = joined(link);
        if !joined.contains(id) && joined.len() >= MAX_TABLES_PER_SESSION {
            return Err(PlayError::TooManyTables(MAX_TABLES_PER_SESSION));
        }
    }
    // Seated here first, so the table's events reach this connection from the first one.
    t.add_seat(LocalSeat {
        player: caller.player.clone(),
        pusher: link.pusher.clone(),
    });
    let state = match sit_down(app, &t, &caller.player, &link.pusher, SitDown::First).await {
        Ok(state) => state,
        Err(e) => {
            t.remove_seat(&link.pusher.connection);
            return Err(e);
        }
    };
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
    app.tables.leave(id, &link.pusher.connection);
    Ok(ServerFrame::LeftTable {
        req_id: req_id.to_string(),
        table: id.to_string(),
    })
}

/// Seats `pusher`'s connection at the table, wherever it runs.
pub async fn sit_down(
    app: &App,
    t: &TableSlot,
    player: &crate::ids::PlayerId,
    pusher: &Pusher,
    again: SitDown,
) -> Result<Joined, PlayError> {
    match t.run() {
        Run::Here { addr, .. } => {
            let msg = Join {
                player: player.clone(),
                pusher: pusher.clone(),
                again,
            };
            Ok(ask(&addr, msg).await??)
        }
        Run::There { node, .. } => {
            let cluster = app.tables.cluster().ok_or(PlayError::TableBusy)?;
            let op = AskOp::Join {
                player: player.clone(),
                session: pusher.connection.to_string(),
                again,
            };
            let value = cluster.ask(&t.id, &node, op).await?;
            serde_json::from_value(value)
                .map_err(|e| PlayError::Ledger(LedgerError::Invariant(format!("join answer: {e}"))))
        }
        Run::Nobody => Err(PlayError::TableBusy),
    }
}

/// The bet as the table will take it: right currency, a valid amount, within the limits.
fn parse_bet(
    t: &TableSlot,
    caller: &Caller,
    request: &BetRequest<'_>,
) -> Result<(Money, TableBet), PlayError> {
    let config = &t.config();
    if config.currency.code() != caller.currency.code() {
        return Err(PlayError::WrongCurrency {
            table: config.id.clone(),
            table_currency: config.currency.code().to_string(),
            yours: caller.currency.code().to_string(),
        });
    }
    let amount = Money::parse_positive(request.amount, &config.currency)?;
    let bet = crate::table::rules::TableRules::of(config).parse_bet(
        config,
        request.kind,
        request.numbers,
        &amount,
    )?;
    caller
        .rules
        .check_table_stake(amount.minor())
        .map_err(crate::jurisdiction::JurisdictionError::from)?;
    Ok((amount, bet))
}

pub async fn bet(
    app: &App,
    caller: &Caller,
    link: &SessionLink,
    req_id: &ReqId,
    request: BetRequest<'_>,
) -> Result<ServerFrame, PlayError> {
    let t = table(app, request.table)?;
    let t: &TableSlot = &t;
    let (amount, bet) = parse_bet(t, caller, &request)?;
    match t.run() {
        Run::Here { addr, running } => {
            let fence = running.map(|r| r.fence);
            let here = Here {
                addr: &addr,
                fence: fence.as_ref(),
            };
            place(
                app,
                caller,
                &link.pusher,
                req_id,
                t,
                here,
                &request,
                amount,
                bet,
            )
            .await
        }
        Run::There { node, .. } => {
            // The table's node seats a bettor this node vouches for (see `bet_for_remote`), so
            // this node checks the seat: a connection that never joined is refused here.
            if !t.has_seat(&link.pusher.connection) {
                return Err(TableError::NotSeated.into());
            }
            let cluster = app.tables.cluster().ok_or(PlayError::TableBusy)?;
            let op = AskOp::Bet {
                player: caller.player.clone(),
                currency: caller.currency.code().to_string(),
                session: link.pusher.connection.to_string(),
                req_id: req_id.clone(),
                kind: request.kind.to_string(),
                numbers: request.numbers.to_vec(),
                amount: request.amount.to_string(),
                profile: caller.rules.profile.id.clone(),
                age_band: caller.rules.age_band,
                session_started_ms: caller.session_started_ms,
            };
            let value = cluster.ask(&t.id, &node, op).await?;
            serde_json::from_value(value)
                .map_err(|e| PlayError::Ledger(LedgerError::Invariant(format!("bet answer: {e}"))))
        }
        Run::Nobody => Err(PlayError::TableBusy),
    }
}

/// A bet asked of this node by another node's player (this node runs the table): the same
/// checks and money path, with a seat whose pushes go back through the table's outbox.
///
/// The asking node only asks for a connection seated there. If this table has no seat for it
/// (the table was taken again and the asking node has not seated its players at the new one
/// yet), the bettor is seated again first: a `join_table` answered "seated" means the next
/// bet is taken, whatever moved in between.
pub async fn bet_for_remote(
    app: &App,
    t: &TableSlot,
    caller: &Caller,
    pusher: &Pusher,
    req_id: &ReqId,
    request: BetRequest<'_>,
) -> ServerFrame {
    let placed = async {
        let (amount, bet) = parse_bet(t, caller, &request)?;
        let Run::Here { addr, running } = t.run() else {
            return Err(PlayError::TableBusy);
        };
        let fence = running.map(|r| r.fence);
        let here = || Here {
            addr: &addr,
            fence: fence.as_ref(),
        };
        let place_here = || {
            let amount = amount.clone();
            place(
                app,
                caller,
                pusher,
                req_id,
                t,
                here(),
                &request,
                amount,
                bet,
            )
        };
        let first = place_here().await;
        if !matches!(first, Err(PlayError::Table(TableError::NotSeated))) {
            return first;
        }
        let join = Join {
            player: caller.player.clone(),
            pusher: pusher.clone(),
            again: SitDown::Again,
        };
        ask(&addr, join).await??;
        place_here().await
    };
    placed.await.unwrap_or_else(|error| {
        ServerFrame::error(Some(req_id.to_string()), error.code(), error.to_string())
    })
}

/// The table actor this node runs, and the fence its money moves under.
struct Here<'a> {
    addr: &'a Addr<LiveTable>,
    fence: Option<&'a Fence>,
}

/// Reserves the bet at the table, debits it, confirms it.
#[allow(clippy::too_many_arguments)]
async fn place(
    app: &App,
    caller: &Caller,
    pusher: &Pusher,
    req_id: &ReqId,
    t: &TableSlot,
    here: Here<'_>,
    request: &BetRequest<'_>,
    amount: Money,
    bet: TableBet,
) -> Result<ServerFrame, PlayError> {
    let config = &t.config();
    let bet_spec = bet.spec();
    let reserve = Reserve {
        player: caller.player.clone(),
        req_id: req_id.clone(),
        bet,
        amount: amount.clone(),
        pusher: pusher.clone(),
    };
    let reserved = ask(here.addr, reserve).await??;
    tracing::Span::current().record("round", tracing::field::display(&reserved.round_id));
    let cancel = || {
        let _ = here.addr.try_send(Cancel {
            round_id: reserved.round_id.clone(),
            bet_id: reserved.bet_id.clone(),
        });
    };
    let (feed, pool) = app
        .jackpot_feed(&config.id, &config.currency, &caller.player, &caller.rules)
        .unzip();
    let opened = app
        .wallet
        .apply(
            Movement::OpenRound {
                round_id: reserved.bet_id.clone(),
                player: caller.player.clone(),
                req_id: req_id.clone(),
                game: config.id.clone(),
                bet_minor: Some(amount.minor()),
                try_free_spin: false,
                jackpot: feed,
                opened_json: Some(
                    serde_json::json!({
                        "table": config.id,
                        "table_round": reserved.round_id.as_str(),
                        "bet": bet_spec,
                        "amount": amount.to_string(),
                    })
                    .to_string(),
                ),
                node: Some(app.node.to_string()),
                session_started_ms: caller.session_started_ms,
            }
            .fenced(here.fence),
        )
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
        Err(e) => {
            cancel();
            return Err(super::settled::refusal(e, &caller.currency));
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
    let (claims, draws) = match pool.filter(|_| !seen.is_empty()) {
        Some(pool) => {
            let (table_id, stake) = (config.id.clone(), round.bet_minor);
            app.rng
                .draw(move |rng| {
                    crate::jackpot::claims_for(&pool, &table_id, stake, &seen, None, rng)
                })
                .await
                .unwrap_or_default()
        }
        None => Default::default(),
    };
    let confirm = Confirm {
        round_id: reserved.round_id.clone(),
        bet_id: reserved.bet_id.clone(),
        claims,
        draws,
    };
    match ask(here.addr, confirm).await {
        Ok(Ok(())) => Ok(accepted(
            reserved.round_id.as_str(),
            reserved.bet_id.as_str(),
            balance_minor,
        )),
        Ok(Err(TableError::TooLate)) | Err(PlayError::TableBusy) | Ok(Err(_)) => {
            // Debited, but the round settled (or the table did not answer): refund it now.
            crate::recovery::void(app, &round, "late_debit").await;
            Err(TableError::TooLate.into())
        }
        Err(other) => Err(other),
    }
}

/// The node, as its live tables see it: seating and betting are this module's code.
#[async_trait::async_trait]
impl TableHost for App {
    fn tables(&self) -> &crate::table::TableRegistry {
        &self.tables
    }
    fn metrics(&self) -> &crate::metrics::Metrics {
        &self.metrics
    }
    fn wallet(&self) -> &crate::wallet::WalletPool {
        &self.wallet
    }
    fn shared(&self) -> &std::sync::Arc<dyn crate::cluster::SharedState> {
        &self.shared
    }
    fn currencies(&self) -> &crate::money::CurrencyTable {
        &self.currencies
    }
    fn shutdown(&self) -> &tokio_util::sync::CancellationToken {
        &self.shutdown
    }

    async fn sit_down(
        &self,
        slot: &TableSlot,
        player: &crate::ids::PlayerId,
        pusher: &Pusher,
        how: SitDown,
    ) -> Result<(), String> {
        sit_down(self, slot, player, pusher, how)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    async fn remote_bet(
        &self,
        slot: &TableSlot,
        bet: RemoteBet<'_>,
        pusher: &Pusher,
    ) -> ServerFrame {
        // The asking node's session rules, rebuilt here from the same profiles file.
        let rules = match crate::jurisdiction::session_rules(
            &self.play().profiles,
            &bet.profile,
            &bet.currency,
            bet.age_band,
        ) {
            Ok(rules) => rules,
            Err(error) => {
                return ServerFrame::error(
                    Some(bet.req_id.to_string()),
                    error.code(),
                    error.to_string(),
                )
            }
        };
        let caller = Caller {
            player: bet.player,
            currency: bet.currency,
            session_id: bet.session.to_string(),
            // A bet asked by another node: that node holds the connection and its expiry.
            expires_at: u64::MAX,
            rules,
            session_started_ms: bet.session_started_ms,
        };
        let request = BetRequest {
            table: &slot.id,
            kind: bet.kind,
            numbers: bet.numbers,
            amount: bet.amount,
        };
        bet_for_remote(self, slot, &caller, pusher, bet.req_id, request).await
    }
}
