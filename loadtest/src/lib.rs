//! croupier-loadtest: drives virtual players against croupier over WebSocket (or against the
//! echo server for the transport ceiling), measures latency and throughput, and audits every
//! player's money against the server; `operator` drives the operator API (deposits, launches).
//! `main.rs` is only the command-line edge of this library.

pub mod books;
pub mod ceiling;
pub mod cli;
pub mod echo;
pub mod fanout;
pub mod hold;
pub mod limits;
pub mod memory;
pub mod metrics;
pub mod operator;
pub mod player;
pub mod progress;
pub mod protocol;
pub mod report;
pub mod runner;
pub mod target;

pub use runner::{run, RunConfig, RunError};
