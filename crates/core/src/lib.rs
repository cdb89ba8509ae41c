//! # croupier-core — the rules of croupier, pure
//!
//! Everything here is a function of its inputs: no actor, no async runtime, no database, no
//! network (the crate depends on none of actix, tokio, sqlx, rusqlite or redis, so the
//! compiler keeps it that way). Live play, the exact RTP calculator, the simulator and the
//! tests all run this very code.
//!
//! ## Map
//! ```text
//!  ids, money ──────────────▶ every other module (values that can only be valid)
//!  rng::RandomSource ───────▶ games::{slot, roulette, baccarat}, table::rules, jackpot::math
//!  exact (Ratio, Fraction) ─▶ games::slot::rtp, roulette and baccarat house edges
//!  games::slot ─ symbol ─ config (game files; config/validate) ─ eval (one spin) ─ rtp ─ simulate
//!  table ─ config (tables.toml) ─ round (state machine) ─ book (bets of a round) ─ rules
//!  jackpot ─ config (jackpots.toml) ─ math (micro-units, mystery odds) ─ claims
//!  jurisdiction ─ profile (jurisdictions.toml) ─ rules (one session's caps) ─ pace (interval)
//!  protocol (frames, ErrorCode) ◀── the server, the load tester and the tests
//!  clock, data (reading data files) ◀── the shells
//! ```
//!
//! | module | owns |
//! |---|---|
//! | [`ids`] | `PlayerId`, `ReqId`, `RoundId`: values that can only be valid |
//! | [`money`] | currencies and amounts on `rust_decimal`, parsed from strings, never floats |
//! | [`protocol`] | every WebSocket frame and the stable error codes |
//! | [`clock`] | the one wall clock (Unix ms and s) |
//! | [`data`] | reading the operator's data files with errors that name the key |
//! | [`rng`] | the ChaCha20 generator, unbiased range sampling, test doubles |
//! | [`exact`] | exact fractions: PAR-sheet ratios and house edges, one gcd |
//! | [`games`] | slot evaluation, exact RTP and simulation; European roulette; punto banco |
//! | [`jackpot`] | pools and levels, exact micro-unit arithmetic, claims and wins |
//! | [`jurisdiction`] | market rules as data: profiles, a session's stake caps, speed of play |
//! | [`table`] | live tables: the table file, round machine, bet book and rules |

pub mod clock;
pub mod data;
pub mod exact;
pub mod games;
pub mod ids;
pub mod jackpot;
pub mod jurisdiction;
pub mod money;
pub mod protocol;
pub mod rng;
pub mod table;
