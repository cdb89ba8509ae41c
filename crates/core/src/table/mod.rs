//! Live-table rules, pure: the table file ([`config`]), the round state machine ([`round`]),
//! the bet book of one round ([`book`]) and one face over roulette and baccarat ([`rules`]).
//! The server's `LiveTable` actor feeds them clock ticks and moves the money.

pub mod book;
pub mod config;
pub mod round;
pub mod rules;

pub use config::TableConfig;
