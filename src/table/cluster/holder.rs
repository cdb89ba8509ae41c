//! Each table's lease, as one node sees it: the holder renews it and runs the table; the others
//! take it when it is free (raise the fence in the ledger, stamp the lease, refund what the old
//! holder left open, run the table) or follow whoever holds it (seat this node's connections
//! at the new holder).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::super::actor::{self, Running, SitDown};
use super::super::host::TableHost;
use super::super::seat::TableOutbox;
use super::super::{Run, TableSlot};
use super::{table_channel, TableCluster};
use crate::cluster::lease::{Holder, TAKING};
use crate::cluster::LEASE_RENEW_EVERY;
use crate::ids::PlayerId;
use crate::money::Money;
use crate::protocol::ServerFrame;
use crate::wallet::{Applied, Fence, Movement, RoundRecord};

/// Every this many lease renewals, the holder drops the seats of nodes that died.
const PRUNE_EVERY_RENEWALS: u64 = 5;
/// Attempts to seat a connection again at a table's new node (it may still be taking over).
const RESEAT_ATTEMPTS: u32 = 20;
const RESEAT_BACKOFF: Duration = Duration::from_millis(250);

/// The table's lease, as seen from this node: renew it while running the table; otherwise
/// take it when it is free, or follow whoever holds it.
pub(super) async fn hold_lease(app: Arc<dyn TableHost>, cluster: Arc<TableCluster>, id: String) {
    let Some(slot) = app.tables().get(&id) else {
        return;
    };
    let slot: &TableSlot = &slot;
    let ttl = cluster.leases.ttl();
    let mut ticker = tokio::time::interval(LEASE_RENEW_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_renewed = Instant::now();
    let mut renewals = 0u64;
    let mut warned = false;
    loop {
        tokio::select! {
            _ = app.shutdown().cancelled() => return,
            _ = ticker.tick() => {}
        }
        if slot.retired.is_cancelled() && retired_and_done(app.as_ref(), &cluster, slot).await {
            return;
        }
        match slot.run() {
            Run::Here {
                addr,
                running: Some(running),
            } => match cluster
                .leases
                .renew(&id, &cluster.node, running.fence.token)
                .await
            {
                Ok(true) => {
                    last_renewed = Instant::now();
                    renewals += 1;
                    if renewals % PRUNE_EVERY_RENEWALS == 0 {
                        if let Ok(nodes) = app.shared().nodes().await {
                            let alive: HashSet<String> =
                                nodes.into_iter().map(|n| n.node).collect();
                            let _ = addr.try_send(actor::PruneNodes { alive });
                        }
                    }
                }
                Ok(false) => give_up(
                    app.as_ref(),
                    slot,
                    &addr,
                    "the lease was taken by another node",
                ),
                Err(error) => {
                    // Past the lease period another node may hold the table: stop now.
                    if last_renewed.elapsed() + LEASE_RENEW_EVERY >= ttl {
                        give_up(
                            app.as_ref(),
                            slot,
                            &addr,
                            "redis unreachable for a lease period",
                        );
                    } else {
                        tracing::warn!(%error, table = %id, "lease not renewed; retrying");
                    }
                }
            },
            Run::Here { running: None, .. } => return, // one node: nothing to hold
            current => {
                if !cluster.taking() {
                    continue;
                }
                match cluster.leases.acquire(&id, &cluster.node).await {
                    Ok(true) => {
                        warned = false;
                        if take_over(&app, &cluster, slot).await {
                            last_renewed = Instant::now();
                        }
                    }
                    Ok(false) => match cluster.leases.holder(&id).await {
                        Ok(Some(holder)) => follow(&app, slot, current, holder),
                        Ok(None) => {}
                        Err(error) => tracing::debug!(%error, table = %id, "lease holder unknown"),
                    },
                    Err(error) => {
                        if !warned {
                            tracing::warn!(%error, table = %id, "cannot look at the table's lease");
                            warned = true;
                        }
                    }
                }
            }
        }
    }
}

/// A reload removed the table. Running it here, the lease is kept (renewed below) while the
/// table settles its last round, and given back once its actor has stopped; not running it,
/// there is nothing to hold. Whether the lease task is done.
async fn retired_and_done(app: &dyn TableHost, cluster: &TableCluster, slot: &TableSlot) -> bool {
    match slot.run() {
        Run::Here {
            addr,
            running: Some(running),
        } => {
            if addr.connected() {
                return false; // still settling
            }
            slot.set_run(Run::Nobody);
            cluster.release(&slot.id, running.fence.token).await;
            app.metrics()
                .tables
                .owned
                .with_label_values(&[&slot.id])
                .set(0);
            tracing::info!(table = %slot.id, "removed table stopped here; its lease given back");
            true
        }
        _ => true,
    }
}

/// This node lost the table: stop running it (its refunds are fenced: the new holder's void
/// wins), and let the lease task find the new holder.
fn give_up(
    app: &dyn TableHost,
    slot: &TableSlot,
    addr: &actix::Addr<crate::table::LiveTable>,
    why: &str,
) {
    tracing::warn!(table = %slot.id, why, "no longer running this table");
    slot.set_run(Run::Nobody);
    app.metrics()
        .tables
        .owned
        .with_label_values(&[&slot.id])
        .set(0);
    let (done, _wait) = oneshot::channel();
    addr.do_send(actor::Stop {
        reason: "owner_lost",
        done,
    });
}

/// The `bet_settled` telling a bettor that `round`, a bet the old node left open, was voided
/// and refunded, from the details stored when the bet was debited; `None` if it has none.
pub(super) fn refund_frame(
    table: &crate::table::config::TableConfig,
    round: &RoundRecord,
    balance_minor: i64,
) -> Option<ServerFrame> {
    let opened: serde_json::Value = serde_json::from_str(round.outcome_json.as_deref()?).ok()?;
    let amount = Money::from_minor(round.bet_minor, &table.currency).ok()?;
    let balance = Money::from_minor(balance_minor, &table.currency).ok()?;
    Some(ServerFrame::BetSettled {
        table: table.id.clone(),
        round_id: opened["table_round"].as_str()?.to_string(),
        bet_id: round.round_id.to_string(),
        kind: opened["bet"]["kind"].as_str()?.to_string(),
        amount: amount.to_string(),
        outcome: "void".to_string(),
        returned: amount.to_string(),
        balance: balance.to_string(),
        jackpot_wins: Vec::new(),
    })
}

/// Another node runs the table: seat this node's connections there if it is a new holder.
/// A new token is a new holder even on the same node (it took the table again after losing
/// its lease, e.g. when Redis came back empty): its `LiveTable` is new and has no seats.
fn follow(app: &Arc<dyn TableHost>, slot: &TableSlot, current: Run, holder: Holder) {
    if holder.token == TAKING {
        return; // still raising its token: follow it once it runs the table
    }
    if matches!(&current, Run::There { node, token } if *node == holder.node && *token == holder.token)
    {
        return;
    }
    tracing::info!(table = %slot.id, node = %holder.node, token = holder.token, "table runs on another node");
    slot.set_run(Run::There {
        node: holder.node.clone(),
        token: holder.token,
    });
    let seats = slot.local_seats();
    if seats.is_empty() {
        return;
    }
    let (app, id) = (app.clone(), slot.id.clone());
    tokio::spawn(async move {
        let Some(slot) = app.tables().get(&id) else {
            return;
        };
        let slot: &TableSlot = &slot;
        let same_holder = |run: Run| matches!(run, Run::There { ref node, token } if *node == holder.node && token == holder.token);
        for seat in seats {
            for attempt in 1..=RESEAT_ATTEMPTS {
                if !slot.has_seat(&seat.pusher.connection) || !same_holder(slot.run()) {
                    break;
                }
                let sat = app
                    .sit_down(slot, &seat.player, &seat.pusher, SitDown::Again)
                    .await;
                match sat {
                    Ok(_) => break,
                    Err(error) if attempt == RESEAT_ATTEMPTS => {
                        tracing::warn!(table = %id, %error, "could not seat a player at the table's new node");
                    }
                    Err(_) => tokio::time::sleep(RESEAT_BACKOFF).await,
                }
            }
        }
    });
}

/// Takes over the table whose lease this node has just taken: raise a new token in the
/// ledger (the old holder's movements are refused from then on), stamp the lease with it,
/// refund what the old holder left open, run it. `false` if it could not (the lease is given
/// back, or already lost).
async fn take_over(
    app: &Arc<dyn TableHost>,
    cluster: &Arc<TableCluster>,
    slot: &TableSlot,
) -> bool {
    let id = slot.id.clone();
    let ledger = app.wallet().ledger();
    let token = match ledger.next_fence(&id).await {
        Ok(token) => token,
        Err(error) => {
            tracing::warn!(%error, table = %id, "cannot raise the table's fence; not taking it");
            cluster.release(&id, TAKING).await;
            return false;
        }
    };
    match cluster.leases.stamp(&id, &cluster.node, token).await {
        Ok(true) => {}
        Ok(false) => {
            // The lease expired (or Redis lost it) while the ledger raised the token: another
            // node may be taking the table; the raised token is simply never used.
            tracing::warn!(table = %id, token, "lost the lease while raising its fence; not taking the table");
            return false;
        }
        Err(error) => {
            tracing::warn!(%error, table = %id, token, "cannot stamp the lease; not taking the table");
            cluster.release(&id, TAKING).await;
            return false;
        }
    }
    let fence = Fence {
        table: id.clone(),
        token,
    };
    let open = match ledger.open_rounds().await {
        Ok(open) => open,
        Err(error) => {
            tracing::warn!(%error, table = %id, "cannot read the open rounds; not taking the table");
            return false;
        }
    };
    let outbox = TableOutbox::start(
        cluster.bus.clone(),
        cluster.node.clone(),
        cluster.seal.clone(),
        table_channel(&id),
    );
    let mut voided_rounds = std::collections::BTreeSet::new();
    let mut refunds: Vec<(PlayerId, Arc<str>)> = Vec::new();
    for round in open.into_iter().filter(|r| r.game == id) {
        let void = Movement::VoidRound {
            round_id: round.round_id.clone(),
            player: round.player.clone(),
        }
        .fenced(Some(&fence));
        match app.wallet().apply(void).await {
            Ok(Applied::RoundVoided {
                replayed,
                balance_minor,
                ..
            }) => {
                if !replayed {
                    app.metrics()
                        .wallet
                        .rounds_voided
                        .with_label_values(&["owner_lost"])
                        .inc();
                    match refund_frame(&slot.config(), &round, balance_minor) {
                        Some(frame) => {
                            refunds.push((round.player.clone(), Arc::from(frame.to_json())))
                        }
                        None => {
                            tracing::warn!(table = %id, round = %round.round_id, "refunded, but the bet was stored without its details: the player learns it from balance and history");
                        }
                    }
                }
                voided_rounds.insert(actor::round_of_bet(round.round_id.as_str()).to_string());
            }
            Ok(_) | Err(_) => {
                tracing::warn!(table = %id, round = %round.round_id, "bet left open by the old node not refunded now; the stale sweeper will");
            }
        }
    }
    for round_id in &voided_rounds {
        let frame = ServerFrame::RoundVoid {
            table: id.clone(),
            round_id: round_id.clone(),
            reason: "owner_lost".into(),
        };
        let text: Arc<str> = Arc::from(frame.to_json());
        outbox.send_all(text.clone());
        for seat in slot.local_seats() {
            let _ = seat.pusher.push(text.clone());
        }
    }
    // Each refunded bettor's own `bet_settled`, to their seats here and on every other node (a
    // player who has not sat down again yet sees the refund in balance and history).
    for (player, text) in refunds {
        outbox.send_to_player(&player, text.clone());
        for seat in slot
            .local_seats()
            .into_iter()
            .filter(|s| s.player == player)
        {
            let _ = seat.pusher.push(text.clone());
        }
    }
    if !voided_rounds.is_empty() {
        tracing::warn!(table = %id, rounds = voided_rounds.len(), "voided and refunded the rounds the previous node left open");
    }
    let running = Running { fence, outbox };
    let addr = slot.start_here(app.tables().deps(), Some(running));
    app.metrics().tables.owned.with_label_values(&[&id]).set(1);
    app.metrics()
        .tables
        .leases_acquired
        .with_label_values(&[&id])
        .inc();
    tracing::info!(table = %id, token, "running this table");
    for seat in slot.local_seats() {
        let join = actor::Join {
            player: seat.player,
            pusher: seat.pusher,
            again: SitDown::Again,
        };
        let _ = addr.send(join).await;
    }
    true
}
