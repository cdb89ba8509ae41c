//! The messages a node receives for its tables: answers to its own asks, each table's events
//! from the node running it (relayed to this node's seats), and other nodes' asks while this
//! node runs the table (served with the same join and bet code as its own players').

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use super::super::actor;
use super::super::host::{RemoteBet, TableHost};
use super::super::seat::{addressed_to, PushError, Pusher};
use super::super::{LocalSeat, Run, TableSlot};
use super::{
    ask_channel, node_channel, opened, table_channel, Answer, Ask, AskOp, RemoteError,
    TableCluster, ASKS_IN_FLIGHT,
};
use crate::protocol::ErrorCode;

/// How long a node goes on relaying a removed table's events to its seats: the table's node
/// settles the round under way (at most a round) and then says `table_closed`.
pub const RETIRED_RELAY_GRACE: Duration = Duration::from_secs(300);

/// The next message of a bus channel, or `None` once the node shuts down or `until` ends.
/// Messages a slow reader missed are counted in the log as `what` and skipped.
async fn next_message(
    app: &dyn TableHost,
    rx: &mut tokio::sync::broadcast::Receiver<Arc<str>>,
    what: &str,
    until: impl std::future::Future<Output = ()>,
) -> Option<Arc<str>> {
    use tokio::sync::broadcast::error::RecvError;
    tokio::pin!(until);
    loop {
        tokio::select! {
            _ = app.shutdown().cancelled() => return None,
            _ = &mut until => return None,
            next = rx.recv() => match next {
                Ok(text) => return Some(text),
                Err(RecvError::Lagged(n)) => tracing::warn!(skipped = n, what, "bus messages skipped"),
                Err(RecvError::Closed) => return None,
            },
        }
    }
}

pub(super) async fn receive_answers(app: Arc<dyn TableHost>, cluster: Arc<TableCluster>) {
    let Some(mut answers) = cluster.bus.listen(&node_channel(&cluster.node)) else {
        return;
    };
    let mut forever = std::future::pending();
    while let Some(text) = next_message(
        app.as_ref(),
        &mut answers,
        "answers (their asks time out)",
        &mut forever,
    )
    .await
    {
        let Some(body) = opened(&cluster.seal, &text) else {
            continue;
        };
        if let Ok(answer) = serde_json::from_str::<Answer>(body) {
            if let Some((_, waiting)) = cluster.pending.remove(&answer.id) {
                let _ = waiting.send(answer);
            }
        }
    }
}

/// Delivers the table's events published by the node running it to this node's seats.
///
/// A removed table's events are relayed until its `table_closed` (or [`RETIRED_RELAY_GRACE`]
/// after the removal): the players seated here see its last round settle.
pub(super) async fn relay(app: Arc<dyn TableHost>, cluster: Arc<TableCluster>, id: String) {
    let (Some(slot), Some(mut events)) = (
        app.tables().get(&id),
        cluster.bus.listen(&table_channel(&id)),
    ) else {
        return;
    };
    let retired = slot.retired.clone();
    let until = async move {
        retired.cancelled().await;
        tokio::time::sleep(RETIRED_RELAY_GRACE).await;
    };
    tokio::pin!(until);
    while let Some(text) = next_message(app.as_ref(), &mut events, "table events", &mut until).await
    {
        let Some(body) = opened(&cluster.seal, &text) else {
            continue;
        };
        relay_frame(app.as_ref(), &slot, &cluster, body);
        if slot.retired.is_cancelled() && body.contains("\"type\":\"table_closed\"") {
            return; // the removed table's last word
        }
    }
}

/// One event of the table's node (`<from>\t<to>\t<frame>`) to the seats of this node it is
/// addressed to.
fn relay_frame(app: &dyn TableHost, slot: &TableSlot, cluster: &TableCluster, body: &str) {
    let mut parts = body.splitn(3, '\t');
    let (Some(from), Some(to), Some(frame)) = (parts.next(), parts.next(), parts.next()) else {
        return;
    };
    if from == cluster.node.as_ref() || matches!(slot.run(), Run::Here { .. }) {
        return; // this node's own events reach its seats directly
    }
    let frame: Arc<str> = Arc::from(frame);
    let addressed =
        |seat: &LocalSeat| addressed_to(to, seat.player.as_str(), &seat.pusher.connection);
    for seat in slot.local_seats().into_iter().filter(addressed) {
        match seat.pusher.push(frame.clone()) {
            Ok(()) => app.metrics().server.ws_messages_sent.inc(),
            Err(PushError::Full) => {
                seat.pusher.kick(actor::TOO_FAR_BEHIND);
                slot.remove_seat(&seat.pusher.connection);
                app.metrics()
                    .tables
                    .slow_clients_dropped
                    .with_label_values(&[&slot.id])
                    .inc();
            }
            Err(PushError::Gone) => {
                slot.remove_seat(&seat.pusher.connection);
            }
        }
    }
}

/// Serves other nodes' asks while this node runs the table.
///
/// Ends when a reload removes the table: other nodes no longer ask (their slot is gone).
pub(super) async fn serve_asks(app: Arc<dyn TableHost>, cluster: Arc<TableCluster>, id: String) {
    let (Some(slot), Some(mut asks)) =
        (app.tables().get(&id), cluster.bus.listen(&ask_channel(&id)))
    else {
        return;
    };
    let retired = slot.retired.clone();
    drop(slot);
    let until = retired.cancelled_owned();
    tokio::pin!(until);
    let in_flight = Arc::new(Semaphore::new(ASKS_IN_FLIGHT));
    while let Some(text) = next_message(
        app.as_ref(),
        &mut asks,
        "asks (their askers time out)",
        &mut until,
    )
    .await
    {
        let Some(ask) =
            opened(&cluster.seal, &text).and_then(|b| serde_json::from_str::<Ask>(b).ok())
        else {
            continue;
        };
        if ask.to != cluster.node.as_ref() {
            continue;
        }
        let Ok(permit) = in_flight.clone().try_acquire_owned() else {
            let err = RemoteError {
                code: ErrorCode::ServerBusy,
                message: "the table's node is busy; retry".into(),
            };
            let answer = Answer {
                id: ask.id,
                ok: None,
                err: Some(err),
            };
            cluster.answer(&ask.from, answer).await;
            continue;
        };
        let (app, cluster, id) = (app.clone(), cluster.clone(), id.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let (asker, ask_id) = (ask.from.clone(), ask.id.clone());
            let result = serve_ask(app.as_ref(), &id, ask).await;
            if ask_id.is_empty() {
                return; // a tell
            }
            let answer = match result {
                Ok(value) => Answer {
                    id: ask_id,
                    ok: Some(value),
                    err: None,
                },
                Err(err) => Answer {
                    id: ask_id,
                    ok: None,
                    err: Some(err),
                },
            };
            cluster.answer(&asker, answer).await;
        });
    }
}

async fn serve_ask(
    app: &dyn TableHost,
    id: &str,
    ask: Ask,
) -> Result<serde_json::Value, RemoteError> {
    let not_here = || RemoteError {
        code: ErrorCode::ServerBusy,
        message: "the table is moving to another node; retry".into(),
    };
    let slot = app.tables().get(id).ok_or_else(not_here)?;
    let slot: &TableSlot = &slot;
    let Run::Here {
        addr,
        running: Some(running),
    } = slot.run()
    else {
        return Err(not_here());
    };
    let remote = |session: &str| Pusher::remote(session, &ask.from, running.outbox.clone());
    let to_value = |v: Result<serde_json::Value, serde_json::Error>| {
        v.map_err(|e| RemoteError {
            code: ErrorCode::Internal,
            message: e.to_string(),
        })
    };
    match ask.op {
        AskOp::Join {
            player,
            session,
            again,
        } => {
            let join = actor::Join {
                player,
                pusher: remote(&session),
                again,
            };
            match tokio::time::timeout(crate::table::TABLE_REPLY_TIMEOUT, addr.send(join)).await {
                Ok(Ok(Ok(joined))) => to_value(serde_json::to_value(joined)),
                Ok(Ok(Err(e))) => Err(RemoteError {
                    code: e.code(),
                    message: e.to_string(),
                }),
                _ => Err(not_here()),
            }
        }
        AskOp::Leave { session } => {
            let _ = addr.try_send(actor::Leave {
                connection: session,
            });
            Ok(serde_json::Value::Null)
        }
        AskOp::Describe => {
            match tokio::time::timeout(
                crate::table::TABLE_REPLY_TIMEOUT,
                addr.send(actor::Describe),
            )
            .await
            {
                Ok(Ok(view)) => to_value(serde_json::to_value(view)),
                _ => Err(not_here()),
            }
        }
        AskOp::Bet {
            player,
            currency,
            session,
            req_id,
            kind,
            numbers,
            amount,
            profile,
            age_band,
            session_started_ms,
        } => {
            let currency = app.currencies().get(&currency).map_err(|e| RemoteError {
                code: ErrorCode::WrongCurrency,
                message: e.to_string(),
            })?;
            let bet = RemoteBet {
                player,
                currency,
                session: &session,
                req_id: &req_id,
                kind: &kind,
                numbers: &numbers,
                amount: &amount,
                profile,
                age_band,
                session_started_ms,
            };
            let reply = app.remote_bet(slot, bet, &remote(&session)).await;
            to_value(serde_json::to_value(reply))
        }
    }
}
