//! The jurisdictions file: named profiles, each the rules of one market (speed of play, stake
//! caps, what the client may offer, reality checks, what the client must show), and the
//! countries each covers. Read once at start-up and checked with messages that name the key.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;

use super::harm::HarmRules;
use crate::data::is_data_id;
use crate::games::slot::{is_variant_id, SlotGame, MAX_VARIANTS, MAX_VARIANT_ID_LEN};
use crate::games::GameCatalog;
use crate::money::{CurrencyTable, Money};

/// The profile of a session that names none: demo sign-ups, and the shipped permissive one.
pub const DEFAULT_PROFILE: &str = "default";
/// Profiles one file may hold: each is checked at every launch naming a country.
pub const MAX_PROFILES: usize = 100;
/// Longest minimum interval between two slot rounds a profile may set (the strictest market
/// known, Germany, asks 5 s; a minute is a typo, not a rule).
pub const MAX_ROUND_INTERVAL_MS: u64 = 60_000;
/// Longest reality-check interval (a day: longer is no check at all).
pub const MAX_REALITY_CHECK_MINUTES: u32 = 1_440;
/// The steepest stake rise a chase rule may ask for (100 times the stake): a larger bar
/// would never be met.
pub const MAX_CHASE_RISE_PERCENT: u32 = 10_000;
/// The most chases a rule may wait for in one session.
pub const MAX_CHASE_COUNT: u32 = 1_000;
/// The longest session a long-play rule may allow (a week).
pub const MAX_LONG_SESSION_MINUTES: u32 = 7 * 1_440;

/// A profile's harm rules make sense: a chase is a rise (over 100 %), both chase keys or
/// neither, every bound kept.
fn check_harm(
    harm: &HarmRules,
    fail: &impl Fn(String, String) -> ProfileError,
) -> Result<(), ProfileError> {
    let (rise, count) = (harm.chase_rise_percent, harm.chase_count);
    if rise != 0 && !(101..=MAX_CHASE_RISE_PERCENT).contains(&rise) {
        return Err(fail(
            "harm_chase_rise_percent".into(),
            format!("0 (off) or 101 to {MAX_CHASE_RISE_PERCENT}: a chase raises the stake"),
        ));
    }
    if count > MAX_CHASE_COUNT || (rise == 0) != (count == 0) {
        return Err(fail(
            "harm_chase_count".into(),
            format!("1 to {MAX_CHASE_COUNT} with harm_chase_rise_percent, 0 without it"),
        ));
    }
    if harm.long_session_minutes > MAX_LONG_SESSION_MINUTES {
        return Err(fail(
            "harm_long_session_minutes".into(),
            format!("0 (off) to {MAX_LONG_SESSION_MINUTES}"),
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("jurisdictions.toml: {key}: {message}")]
pub struct ProfileError {
    pub key: String,
    pub message: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    id: String,
    name: String,
    #[serde(default)]
    countries: Vec<String>,
    #[serde(default)]
    min_round_interval_ms: u64,
    #[serde(default)]
    slot_stake_cap: BTreeMap<String, String>,
    #[serde(default)]
    slot_stake_cap_18_24: BTreeMap<String, String>,
    #[serde(default)]
    table_stake_cap: BTreeMap<String, String>,
    #[serde(default = "yes")]
    jackpots: bool,
    #[serde(default = "yes")]
    autoplay: bool,
    #[serde(default = "yes")]
    turbo: bool,
    #[serde(default = "yes")]
    celebrate_wins_below_stake: bool,
    #[serde(default)]
    reality_check_minutes: u32,
    #[serde(default)]
    show_net_position: bool,
    #[serde(default)]
    show_elapsed_time: bool,
    #[serde(default)]
    harm_chase_rise_percent: u32,
    #[serde(default)]
    harm_chase_count: u32,
    #[serde(default)]
    harm_long_session_minutes: u32,
    #[serde(default)]
    rtp_variants: BTreeMap<String, Vec<String>>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    profile: Vec<RawProfile>,
}

/// One market's rules, checked. Amounts are minor units of the currency they are keyed by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub id: String,
    pub name: String,
    /// ISO 3166-1 alpha-2 codes of the countries whose players play under it.
    pub countries: Vec<String>,
    /// Minimum time between the starts of two slot rounds of one player (0: none).
    pub min_round_interval_ms: u64,
    /// Largest stake of one slot spin, per currency. Not empty: a session in a currency it
    /// does not name cannot open (the cap cannot be converted on the server).
    pub slot_stake_cap: BTreeMap<String, i64>,
    /// The same for players aged 18 to 24 (the launch must give the age band when set).
    pub slot_stake_cap_18_24: BTreeMap<String, i64>,
    /// Largest single live-table bet, per currency.
    pub table_stake_cap: BTreeMap<String, i64>,
    /// Whether its players feed and may win progressive jackpots.
    pub jackpots: bool,
    /// Whether the client may offer autoplay, turbo or slam-stop, and celebrate a win smaller
    /// than the stake: told to the client in the welcome (the server enforces the interval).
    pub autoplay: bool,
    pub turbo: bool,
    pub celebrate_wins_below_stake: bool,
    /// Minutes between two reality checks of a session (0: none).
    pub reality_check_minutes: u32,
    /// Whether every spin result carries the session's net position and elapsed time.
    pub show_net_position: bool,
    pub show_elapsed_time: bool,
    /// The patterns of one session that raise a harm flag (docs/jurisdictions.md).
    pub harm: HarmRules,
    /// The RTP variants that may be offered, per game (its file's id); a game not named
    /// offers every variant, an empty list none.
    pub rtp_variants: BTreeMap<String, Vec<String>>,
}

impl Profile {
    /// The permissive profile: no interval, no caps, everything allowed, no reality check.
    pub fn permissive(id: &str) -> Profile {
        Profile {
            id: id.to_string(),
            name: "Permissive default".to_string(),
            countries: Vec::new(),
            min_round_interval_ms: 0,
            slot_stake_cap: BTreeMap::new(),
            slot_stake_cap_18_24: BTreeMap::new(),
            table_stake_cap: BTreeMap::new(),
            jackpots: true,
            autoplay: true,
            turbo: true,
            celebrate_wins_below_stake: true,
            reality_check_minutes: 0,
            show_net_position: false,
            show_elapsed_time: false,
            harm: HarmRules::default(),
            rtp_variants: BTreeMap::new(),
        }
    }

    /// Whether a game may be offered under this profile: its family not named in
    /// `rtp_variants`, or its variant listed there.
    pub fn offers(&self, game: &SlotGame) -> bool {
        match self.rtp_variants.get(game.family()) {
            None => true,
            Some(allowed) => game
                .variant()
                .is_some_and(|v| allowed.iter().any(|a| a == v)),
        }
    }
}

/// Every profile of the deployment, by id and by country; cheap to share.
#[derive(Debug, Clone)]
pub struct Profiles {
    by_id: Arc<BTreeMap<String, Arc<Profile>>>,
    by_country: Arc<BTreeMap<String, String>>,
}

impl Default for Profiles {
    /// A deployment without a jurisdictions file: only the permissive default.
    fn default() -> Self {
        let mut by_id = BTreeMap::new();
        by_id.insert(
            DEFAULT_PROFILE.to_string(),
            Arc::new(Profile::permissive(DEFAULT_PROFILE)),
        );
        Profiles {
            by_id: Arc::new(by_id),
            by_country: Arc::default(),
        }
    }
}

fn caps(
    raw: &BTreeMap<String, String>,
    currencies: &CurrencyTable,
    fail: &dyn Fn(String, String) -> ProfileError,
    key: &str,
) -> Result<BTreeMap<String, i64>, ProfileError> {
    let mut out = BTreeMap::new();
    for (code, text) in raw {
        let at = format!("{key}.{code}");
        let currency = currencies
            .get(code)
            .map_err(|e| fail(at.clone(), e.to_string()))?;
        let cap = Money::parse_positive(text, &currency).map_err(|e| fail(at, e.to_string()))?;
        out.insert(code.clone(), cap.minor());
    }
    Ok(out)
}

impl Profiles {
    /// Reads and checks a jurisdictions file. It must hold the `default` profile (the rules of
    /// a session that names none).
    pub fn parse(text: &str, currencies: &CurrencyTable) -> Result<Profiles, ProfileError> {
        let raw: RawFile = crate::data::toml_with_key(text)
            .map_err(|(key, message)| ProfileError { key, message })?;
        if raw.profile.len() > MAX_PROFILES {
            return Err(ProfileError {
                key: "profile".into(),
                message: format!("at most {MAX_PROFILES} profiles"),
            });
        }
        let mut by_id = BTreeMap::new();
        let mut by_country: BTreeMap<String, String> = BTreeMap::new();
        for (i, p) in raw.profile.into_iter().enumerate() {
            let fail = |key: String, message: String| ProfileError {
                key: format!("profile[{i}].{key}"),
                message,
            };
            if !is_data_id(&p.id) {
                return Err(fail("id".into(), "1-64 characters of a-z 0-9 _".into()));
            }
            if by_id.contains_key(&p.id) {
                return Err(fail("id".into(), format!("{} is listed twice", p.id)));
            }
            if p.name.trim().is_empty() || p.name.len() > 200 {
                return Err(fail("name".into(), "1 to 200 characters".into()));
            }
            for (j, c) in p.countries.iter().enumerate() {
                if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
                    return Err(fail(
                        format!("countries[{j}]"),
                        format!("an ISO 3166-1 alpha-2 code such as GB, got {c:?}"),
                    ));
                }
                if let Some(other) = by_country.insert(c.clone(), p.id.clone()) {
                    return Err(fail(
                        format!("countries[{j}]"),
                        format!("{c} is already covered by profile {other}"),
                    ));
                }
            }
            if p.min_round_interval_ms > MAX_ROUND_INTERVAL_MS {
                return Err(fail(
                    "min_round_interval_ms".into(),
                    format!("at most {MAX_ROUND_INTERVAL_MS}"),
                ));
            }
            if p.reality_check_minutes > MAX_REALITY_CHECK_MINUTES {
                return Err(fail(
                    "reality_check_minutes".into(),
                    format!("0 (none) to {MAX_REALITY_CHECK_MINUTES}"),
                ));
            }
            let harm = HarmRules {
                chase_rise_percent: p.harm_chase_rise_percent,
                chase_count: p.harm_chase_count,
                long_session_minutes: p.harm_long_session_minutes,
            };
            check_harm(&harm, &fail)?;
            let slot_stake_cap = caps(&p.slot_stake_cap, currencies, &fail, "slot_stake_cap")?;
            let young = caps(
                &p.slot_stake_cap_18_24,
                currencies,
                &fail,
                "slot_stake_cap_18_24",
            )?;
            for (code, cap) in &young {
                match slot_stake_cap.get(code) {
                    Some(adult) if cap <= adult => {}
                    _ => {
                        return Err(fail(
                            format!("slot_stake_cap_18_24.{code}"),
                            "needs a slot_stake_cap in the same currency at least as high".into(),
                        ))
                    }
                }
            }
            let table_stake_cap = caps(&p.table_stake_cap, currencies, &fail, "table_stake_cap")?;
            check_rtp_variants(&p.rtp_variants, &fail)?;
            let profile = Profile {
                id: p.id.clone(),
                name: p.name,
                countries: p.countries,
                min_round_interval_ms: p.min_round_interval_ms,
                slot_stake_cap,
                slot_stake_cap_18_24: young,
                table_stake_cap,
                jackpots: p.jackpots,
                autoplay: p.autoplay,
                turbo: p.turbo,
                celebrate_wins_below_stake: p.celebrate_wins_below_stake,
                reality_check_minutes: p.reality_check_minutes,
                show_net_position: p.show_net_position,
                show_elapsed_time: p.show_elapsed_time,
                harm,
                rtp_variants: p.rtp_variants,
            };
            by_id.insert(p.id, Arc::new(profile));
        }
        if !by_id.contains_key(DEFAULT_PROFILE) {
            return Err(ProfileError {
                key: "profile".into(),
                message: format!(
                    "define the {DEFAULT_PROFILE:?} profile: the rules of sessions that name none"
                ),
            });
        }
        Ok(Profiles {
            by_id: Arc::new(by_id),
            by_country: Arc::new(by_country),
        })
    }

    pub fn get(&self, id: &str) -> Option<&Arc<Profile>> {
        self.by_id.get(id)
    }

    /// The profile every session falls back on.
    pub fn default_profile(&self) -> &Arc<Profile> {
        self.by_id
            .get(DEFAULT_PROFILE)
            .expect("parse and default both hold the default profile")
    }

    /// The profile a launch applies: the one covering the player's country, else `fallback`
    /// (the operator's own profile).
    pub fn for_launch(&self, country: &str, fallback: &str) -> Option<&Arc<Profile>> {
        match self.by_country.get(country) {
            Some(id) => self.by_id.get(id),
            None => self.by_id.get(fallback),
        }
    }

    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.by_id.keys().map(String::as_str)
    }

    /// Every game and variant a profile's `rtp_variants` names exists in `games` (checked at
    /// start-up, when both files are read): a typo would otherwise hide a game silently.
    pub fn check_games(&self, games: &GameCatalog) -> Result<(), ProfileError> {
        for (id, profile) in self.by_id.iter() {
            for (family, allowed) in &profile.rtp_variants {
                let key = format!("profile {id}: rtp_variants.{family}");
                let variants: Vec<&str> = games
                    .slots()
                    .filter(|g| g.family() == family)
                    .filter_map(|g| g.variant())
                    .collect();
                if !games.slots().any(|g| g.family() == family) {
                    return Err(ProfileError {
                        key,
                        message: format!("no slot game {family:?} in the games directory"),
                    });
                }
                if let Some(unknown) = allowed.iter().find(|v| !variants.contains(&v.as_str())) {
                    return Err(ProfileError {
                        key,
                        message: format!(
                            "{family} has no RTP variant {unknown:?} (it has: {})",
                            variants.join(", ")
                        ),
                    });
                }
            }
        }
        Ok(())
    }
}

/// `rtp_variants` is well formed: game ids, a short list of distinct variant ids.
fn check_rtp_variants(
    raw: &BTreeMap<String, Vec<String>>,
    fail: &dyn Fn(String, String) -> ProfileError,
) -> Result<(), ProfileError> {
    for (family, allowed) in raw {
        let key = format!("rtp_variants.{family}");
        if !is_data_id(family) {
            return Err(fail(key, "a game id (a-z 0-9 _)".into()));
        }
        if allowed.len() > MAX_VARIANTS + 1 {
            return Err(fail(key, format!("at most {} variants", MAX_VARIANTS + 1)));
        }
        for (j, v) in allowed.iter().enumerate() {
            let well_formed = is_variant_id(v);
            if !well_formed {
                return Err(fail(
                    format!("{key}[{j}]"),
                    format!("{v:?} is not a variant id (1 to {MAX_VARIANT_ID_LEN} of a-z 0-9)"),
                ));
            }
            if allowed[..j].contains(v) {
                return Err(fail(
                    format!("{key}[{j}]"),
                    format!("{v:?} is listed twice"),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
