//! One session's rules: its profile read in the session's currency and the player's age band,
//! made once when the session is admitted. A session that its profile cannot serve (a capped
//! market in a currency it does not cap, an age band it needs and was not given) never opens.

use std::sync::Arc;

use super::profile::Profile;
use crate::money::{minor_text, Currency};
use crate::protocol::ErrorCode;

/// The player's age band, as the operator's launch gives it (the operator verified the age).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum AgeBand {
    #[serde(rename = "18-24")]
    From18To24,
    #[serde(rename = "25+")]
    From25,
}

impl AgeBand {
    pub fn parse(text: &str) -> Option<AgeBand> {
        match text {
            "18-24" => Some(AgeBand::From18To24),
            "25+" => Some(AgeBand::From25),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    #[error("the stake is over the {profile} limit of {cap} per {what}")]
    StakeLimit {
        profile: String,
        cap: String,
        what: &'static str,
    },
    #[error("profile {profile} caps stakes in {capped} only; a session in {currency} cannot open")]
    CurrencyNotCapped {
        profile: String,
        capped: String,
        currency: String,
    },
    #[error("profile {profile} needs the player's age_band (\"18-24\" or \"25+\") at launch")]
    AgeBandRequired { profile: String },
    #[error("game {game} is not offered under profile {profile} (see the games list)")]
    GameNotOffered { profile: String, game: String },
}

impl RulesError {
    pub fn code(&self) -> ErrorCode {
        match self {
            RulesError::StakeLimit { .. } => ErrorCode::StakeLimit,
            RulesError::CurrencyNotCapped { .. } => ErrorCode::CurrencyNotAllowed,
            RulesError::AgeBandRequired { .. } => ErrorCode::BadRequest,
            RulesError::GameNotOffered { .. } => ErrorCode::GameNotOffered,
        }
    }
}

/// The rules one session plays under.
#[derive(Debug, Clone)]
pub struct SessionRules {
    pub profile: Arc<Profile>,
    pub age_band: Option<AgeBand>,
    /// The slot stake cap in the session's currency (the 18-24 one where it applies).
    pub slot_cap_minor: Option<i64>,
    pub table_cap_minor: Option<i64>,
    currency: Currency,
}

fn cap_in(
    profile: &Profile,
    caps: &std::collections::BTreeMap<String, i64>,
    currency: &Currency,
) -> Result<Option<i64>, RulesError> {
    if caps.is_empty() {
        return Ok(None);
    }
    match caps.get(currency.code()) {
        Some(cap) => Ok(Some(*cap)),
        None => Err(RulesError::CurrencyNotCapped {
            profile: profile.id.clone(),
            capped: caps.keys().cloned().collect::<Vec<_>>().join(", "),
            currency: currency.code().to_string(),
        }),
    }
}

impl SessionRules {
    pub fn new(
        profile: Arc<Profile>,
        currency: &Currency,
        age_band: Option<AgeBand>,
    ) -> Result<SessionRules, RulesError> {
        let adult = cap_in(&profile, &profile.slot_stake_cap, currency)?;
        let young = cap_in(&profile, &profile.slot_stake_cap_18_24, currency)?;
        let slot_cap_minor = match (young, age_band) {
            (None, _) => adult,
            (Some(_), None) => {
                return Err(RulesError::AgeBandRequired {
                    profile: profile.id.clone(),
                })
            }
            (Some(young), Some(AgeBand::From18To24)) => Some(young),
            (Some(_), Some(AgeBand::From25)) => adult,
        };
        let table_cap_minor = cap_in(&profile, &profile.table_stake_cap, currency)?;
        Ok(SessionRules {
            profile,
            age_band,
            slot_cap_minor,
            table_cap_minor,
            currency: currency.clone(),
        })
    }

    /// The permissive rules of the default profile (tests, tools).
    pub fn permissive(currency: &Currency) -> SessionRules {
        SessionRules {
            profile: Arc::new(Profile::permissive(super::DEFAULT_PROFILE)),
            age_band: None,
            slot_cap_minor: None,
            table_cap_minor: None,
            currency: currency.clone(),
        }
    }

    fn check(
        &self,
        cap: Option<i64>,
        stake_minor: i64,
        what: &'static str,
    ) -> Result<(), RulesError> {
        match cap {
            Some(cap) if stake_minor > cap => Err(RulesError::StakeLimit {
                profile: self.profile.id.clone(),
                cap: format!(
                    "{} {}",
                    minor_text(cap, &self.currency),
                    self.currency.code()
                ),
                what,
            }),
            _ => Ok(()),
        }
    }

    /// A slot spin's stake against the cap.
    pub fn check_slot_stake(&self, stake_minor: i64) -> Result<(), RulesError> {
        self.check(self.slot_cap_minor, stake_minor, "spin")
    }

    /// One table bet against the cap.
    pub fn check_table_stake(&self, stake_minor: i64) -> Result<(), RulesError> {
        self.check(self.table_cap_minor, stake_minor, "table bet")
    }

    /// Whether the session may play `game` (its RTP variant allowed by the profile).
    pub fn check_game(&self, game: &crate::games::slot::SlotGame) -> Result<(), RulesError> {
        if self.profile.offers(game) {
            Ok(())
        } else {
            Err(RulesError::GameNotOffered {
                profile: self.profile.id.clone(),
                game: game.id().to_string(),
            })
        }
    }

    pub fn min_round_interval_ms(&self) -> u64 {
        self.profile.min_round_interval_ms
    }

    /// What the client is told in the welcome frame.
    pub fn view(&self) -> crate::protocol::RulesView {
        let p = &self.profile;
        let money = |m: Option<i64>| m.map(|m| minor_text(m, &self.currency));
        crate::protocol::RulesView {
            profile: p.id.clone(),
            min_round_interval_ms: p.min_round_interval_ms,
            slot_stake_cap: money(self.slot_cap_minor),
            table_stake_cap: money(self.table_cap_minor),
            jackpots: p.jackpots,
            autoplay: p.autoplay,
            turbo: p.turbo,
            celebrate_wins_below_stake: p.celebrate_wins_below_stake,
            reality_check_minutes: p.reality_check_minutes,
            show_net_position: p.show_net_position,
            show_elapsed_time: p.show_elapsed_time,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn gbp() -> Currency {
        Currency::new("GBP", 2).unwrap()
    }

    fn uk() -> Arc<Profile> {
        let mut p = Profile::permissive("uk");
        p.slot_stake_cap = BTreeMap::from([("GBP".to_string(), 500)]);
        p.slot_stake_cap_18_24 = BTreeMap::from([("GBP".to_string(), 200)]);
        Arc::new(p)
    }

    #[test]
    fn the_cap_follows_the_age_band() {
        let adult = SessionRules::new(uk(), &gbp(), Some(AgeBand::From25)).unwrap();
        assert_eq!(adult.slot_cap_minor, Some(500));
        assert!(adult.check_slot_stake(500).is_ok());
        let error = adult.check_slot_stake(501).unwrap_err();
        assert_eq!(error.code(), ErrorCode::StakeLimit);
        assert!(error.to_string().contains("5.00 GBP"), "{error}");
        let young = SessionRules::new(uk(), &gbp(), Some(AgeBand::From18To24)).unwrap();
        assert!(young.check_slot_stake(200).is_ok());
        assert!(young.check_slot_stake(201).is_err());
        assert!(young.check_table_stake(1_000_000).is_ok(), "no table cap");
    }

    #[test]
    fn sessions_the_profile_cannot_serve_do_not_open() {
        let eur = Currency::new("EUR", 2).unwrap();
        assert!(matches!(
            SessionRules::new(uk(), &eur, Some(AgeBand::From25)),
            Err(RulesError::CurrencyNotCapped { .. })
        ));
        assert!(matches!(
            SessionRules::new(uk(), &gbp(), None),
            Err(RulesError::AgeBandRequired { .. })
        ));
        let open = SessionRules::new(Arc::new(Profile::permissive("x")), &eur, None).unwrap();
        assert!(open.check_slot_stake(i64::MAX).is_ok());
    }

    #[test]
    fn age_bands_read_as_launched() {
        assert_eq!(AgeBand::parse("18-24"), Some(AgeBand::From18To24));
        assert_eq!(AgeBand::parse("25+"), Some(AgeBand::From25));
        for bad in ["", "18", "25", "adult", "18-25"] {
            assert_eq!(AgeBand::parse(bad), None, "{bad}");
        }
    }
}
