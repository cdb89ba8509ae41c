//! Player sessions: the `PlayerSession` actor (one per WebSocket connection), what each client
//! frame does (`handler`), and the exactly-once reply cache shared by a player's connections.

mod actor;
mod error;
pub mod handler;
mod reply_cache;
pub mod tables;

pub use actor::{
    DetachedQueue, Kick, PlayerSession, PushError, Pusher, SessionLink, MAX_QUEUED_FRAMES,
    MAX_TABLES_PER_SESSION,
};
pub use error::{is_transient, Caller, PlayError};
pub use reply_cache::{Claim, ReplyCache, Ticket};
