//! Player sessions: the `PlayerSession` actor (one per WebSocket connection), what each client
//! frame does (`handler`, and `one_step` for a paid spin committed once, both finishing in
//! `settled`), the live-table frames (`tables`), reality checks and the session display
//! (`reality`), the harm watcher (`harm`), and the socket's settings and writer (`socket`). The reply cache is `crate::reply_cache`; how a table
//! reaches a connection is `crate::table::seat`.

pub mod access;
mod actor;
mod error;
pub mod handler;
mod harm;
mod one_step;
mod reality;
mod settled;
pub mod socket;
pub mod tables;

pub use actor::{
    FromSocket, PlayerSession, SessionLink, MAX_QUEUED_FRAMES, MAX_TABLES_PER_SESSION,
};
pub use error::{is_transient, Caller, PlayError};
