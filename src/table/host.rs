//! [`TableHost`]: what the tables across nodes (`table::cluster`) need from the node they run
//! on, and nothing more. The node (`App`) implements it in `session::tables`, where seating a
//! connection and placing a bet are written, so the table layer never reaches up into the
//! sessions or the node state.

use std::sync::Arc;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use super::actor::SitDown;
use super::seat::Pusher;
use super::{TableRegistry, TableSlot};
use crate::cluster::SharedState;
use crate::ids::{PlayerId, ReqId};
use crate::metrics::Metrics;
use crate::money::{Currency, CurrencyTable};
use crate::protocol::ServerFrame;
use crate::wallet::WalletPool;

/// A bet a player of another node asked this node's table to place.
pub struct RemoteBet<'a> {
    pub player: PlayerId,
    pub currency: Currency,
    pub session: &'a str,
    pub req_id: &'a ReqId,
    pub kind: &'a str,
    pub numbers: &'a [u8],
    pub amount: &'a str,
    /// The bettor's jurisdiction profile and age band (its session's record).
    pub profile: String,
    pub age_band: Option<croupier_core::jurisdiction::AgeBand>,
    /// When the bettor's session began (Unix ms), for a session-time limit.
    pub session_started_ms: Option<i64>,
}

/// The node, as its live tables see it.
#[async_trait]
pub trait TableHost: Send + Sync + 'static {
    fn tables(&self) -> &TableRegistry;
    fn metrics(&self) -> &Metrics;
    fn wallet(&self) -> &WalletPool;
    fn shared(&self) -> &Arc<dyn SharedState>;
    fn currencies(&self) -> &CurrencyTable;
    /// Cancelled when the node stops: every table task ends.
    fn shutdown(&self) -> &CancellationToken;

    /// Seats one of this node's connections at the table wherever it runs now (a new holder
    /// after a takeover); the error's text on failure.
    async fn sit_down(
        &self,
        slot: &TableSlot,
        player: &PlayerId,
        pusher: &Pusher,
        how: SitDown,
    ) -> Result<(), String>;

    /// Places a bet for a player of another node exactly as for one of this node's own (the
    /// same reservation, debit and confirmation); the reply frame for the asker.
    async fn remote_bet(
        &self,
        slot: &TableSlot,
        bet: RemoteBet<'_>,
        pusher: &Pusher,
    ) -> ServerFrame;
}
