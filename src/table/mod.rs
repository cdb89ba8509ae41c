//! Live tables (issue 4, in progress): table definitions from `config/tables.toml` and the
//! pure round state machine. The `LiveTable` actor that drives them, the table frames of the
//! protocol and table bets in the ledger are not built yet; nothing here is wired into the
//! server, so no behaviour a player can reach depends on it.

pub mod config;
pub mod round;
