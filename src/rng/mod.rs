//! Randomness for the server: the `RngActor` shards that own one generator each. The
//! generator, the sampling and the test doubles are the core crate's ([`croupier_core::rng`]).

mod actor;

pub use actor::{Draw, RngActor, RngError, RngPool};
pub use croupier_core::rng::*;
