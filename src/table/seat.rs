//! How a live table reaches a seated connection: a [`Pusher`], either the connection's own
//! bounded send queue on this node (and a way to drop it), or the table's outbox to the node
//! the connection is on (cluster mode). Pushing never waits: a frame is serialised once for
//! all seats and `try_send` to each.

use std::sync::Arc;

use actix::prelude::*;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

use crate::cluster::{Bus, Seal};
use crate::ids::PlayerId;

/// Frames a table's outbox holds for the bus; a burst past this is dropped (the remote
/// players miss that event, like a local player whose queue is full).
pub const OUTBOX_QUEUE: usize = 8192;
/// Frames published per round trip by an outbox.
const OUTBOX_BATCH: usize = 256;

/// What a connection's writer task sends: the connection's send queue holds these.
/// (Pings are answered by tungstenite itself, so a pong never waits behind the queue.)
pub enum Outbound {
    Text(Arc<str>),
    /// Boxed: it is rare, and a bare `CloseFrame` would make every slot of every send queue
    /// 40 bytes instead of 24.
    Close(Box<CloseFrame>),
}

/// Closes the connection at once with a policy close frame (a table dropping a client that
/// fell too far behind).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Kick(pub &'static str);

/// Why a push did not reach a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushError {
    /// The connection's send queue is full: it is too far behind.
    Full,
    /// The connection is gone.
    Gone,
}

/// How a live table reaches one connection: its bounded send queue and a way to drop it, or,
/// for a player connected to another node, the table's outbox to that node (cluster mode).
/// Pushing is a `try_send` of a frame serialised once for all seats: it never waits.
#[derive(Clone)]
pub struct Pusher {
    route: PushRoute,
    /// The connection this seat belongs to (a seat is a connection's, not a token's: two
    /// connections on one session sit, bet and leave apart).
    pub connection: Arc<str>,
}

#[derive(Clone)]
enum PushRoute {
    Local {
        out: mpsc::Sender<Outbound>,
        /// `None` for a detached pusher (benchmarks): nothing to close.
        session: Option<Recipient<Kick>>,
    },
    Remote {
        node: Arc<str>,
        outbox: TableOutbox,
    },
}

impl Pusher {
    pub fn push(&self, text: Arc<str>) -> Result<(), PushError> {
        match &self.route {
            PushRoute::Local { out, .. } => {
                out.try_send(Outbound::Text(text)).map_err(|e| match e {
                    mpsc::error::TrySendError::Full(_) => PushError::Full,
                    mpsc::error::TrySendError::Closed(_) => PushError::Gone,
                })
            }
            PushRoute::Remote { outbox, .. } => outbox.send_to(&self.connection, text),
        }
    }

    /// Drops the connection (a remote one is dropped by its own node when it falls behind).
    pub fn kick(&self, reason: &'static str) {
        if let PushRoute::Local {
            session: Some(session),
            ..
        } = &self.route
        {
            session.do_send(Kick(reason));
        }
    }

    /// The node a remote seat's connection is on; `None` for a connection on this node.
    pub fn remote_node(&self) -> Option<&str> {
        match &self.route {
            PushRoute::Local { .. } => None,
            PushRoute::Remote { node, .. } => Some(node),
        }
    }

    /// A seat whose connection is on this node: pushes go to its send queue, and a kick to
    /// its actor.
    pub fn local(
        connection: &str,
        out: mpsc::Sender<Outbound>,
        session: Recipient<Kick>,
    ) -> Pusher {
        Pusher {
            route: PushRoute::Local {
                out,
                session: Some(session),
            },
            connection: Arc::from(connection),
        }
    }

    /// A seat whose connection is on another node: pushes go out through the table's outbox.
    pub fn remote(connection: &str, node: &str, outbox: TableOutbox) -> Pusher {
        Pusher {
            route: PushRoute::Remote {
                node: Arc::from(node),
                outbox,
            },
            connection: Arc::from(connection),
        }
    }

    /// A pusher whose connection is an in-process queue: for the fan-out benchmark and tests.
    #[doc(hidden)]
    pub fn detached(connection: &str, queue: usize) -> (Pusher, DetachedQueue) {
        let (out, rx) = mpsc::channel(queue);
        let pusher = Pusher {
            route: PushRoute::Local { out, session: None },
            connection: Arc::from(connection),
        };
        (pusher, DetachedQueue(rx))
    }
}

/// The receiving end of a detached pusher: the texts a connection would have been sent.
pub struct DetachedQueue(mpsc::Receiver<Outbound>);

impl DetachedQueue {
    pub fn try_recv_text(&mut self) -> Option<Arc<str>> {
        loop {
            match self.0.try_recv().ok()? {
                Outbound::Text(text) => return Some(text),
                Outbound::Close(_) => continue,
            }
        }
    }
}

/// A table's way to the players seated on other nodes: frames queued here are published on
/// the table's channel by one task, in order, batched. Never waits.
#[derive(Clone)]
pub struct TableOutbox(mpsc::Sender<(Arc<str>, Arc<str>)>);

/// The address of a frame for every seat on the other nodes.
const TO_EVERYONE: &str = "*";
/// Prefix of an address naming a player (every seat of theirs), not a session.
const TO_PLAYER: &str = "player:";

/// Whether a frame the outbox addressed `to` is for this seat (the relay's side of
/// [`TableOutbox::send_all`], [`TableOutbox::send_to_player`] and [`TableOutbox::send_to`]).
pub fn addressed_to(to: &str, player: &str, session: &str) -> bool {
    match to.strip_prefix(TO_PLAYER) {
        _ if to == TO_EVERYONE => true,
        Some(named) => named == player,
        None => session == to,
    }
}

impl TableOutbox {
    /// Starts an outbox publishing on `channel` of `bus` (the table's); it ends when the last
    /// sender is dropped.
    pub fn start(bus: Bus, node: Arc<str>, seal: Seal, channel: String) -> TableOutbox {
        let (tx, mut rx) = mpsc::channel::<(Arc<str>, Arc<str>)>(OUTBOX_QUEUE);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while batch.len() < OUTBOX_BATCH {
                    match rx.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                let messages: Vec<Arc<str>> = batch
                    .iter()
                    .map(|(to, text)| Arc::from(seal.seal(&format!("{node}\t{to}\t{text}"))))
                    .collect();
                if let Err(error) = bus.publish_on(&channel, &messages).await {
                    tracing::warn!(%error, frames = messages.len(), table = %channel, "table events not published to other nodes");
                }
            }
        });
        TableOutbox(tx)
    }

    pub fn send_all(&self, text: Arc<str>) {
        let _ = self.0.try_send((Arc::from(TO_EVERYONE), text));
    }

    /// To every seat `player` holds at the table, on every other node.
    pub fn send_to_player(&self, player: &PlayerId, text: Arc<str>) {
        let to: Arc<str> = Arc::from(format!("{TO_PLAYER}{player}"));
        let _ = self.0.try_send((to, text));
    }

    pub fn send_to(&self, session: &Arc<str>, text: Arc<str>) -> Result<(), PushError> {
        self.0
            .try_send((session.clone(), text))
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => PushError::Full,
                mpsc::error::TrySendError::Closed(_) => PushError::Gone,
            })
    }
}
