//! Jurisdiction profiles: the rules of a regulated market as data (`config/jurisdictions.toml`)
//! and what they mean for one session, as pure values the server enforces.
//!
//! ```text
//!  profile  ─ the file: named profiles, the countries each covers, checked with the key named
//!  rules    ─ one session's rules: its profile read in its currency and age band (stake caps)
//!  pace     ─ the minimum time between the starts of two slot rounds, decided from the last one
//!  harm     ─ one session watched for loss chasing and long play (the rules a profile sets)
//!  reality  ─ a session's reality checks: when one is due, waiting for the player's acknowledgement
//! ```
//!
//! The server reads a session's profile once, when the session opens (the operator's profile,
//! or the profile of the player's country named at launch), keeps its name in the session
//! record every node reads, and checks every spin and table bet against it before any money
//! moves (docs/jurisdictions.md lists each rule, its source and where it is enforced).

pub mod harm;
pub mod pace;
pub mod profile;
pub mod reality;
pub mod rules;

pub use harm::{HarmFlag, HarmRules, HarmWatch};
pub use pace::{pace, Paced};
pub use profile::{Profile, ProfileError, Profiles, DEFAULT_PROFILE};
pub use reality::RealityClock;
pub use rules::{AgeBand, RulesError, SessionRules};
