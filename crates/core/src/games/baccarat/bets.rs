//! The bets of punto banco, what each pays under both commission variants, and settling
//! stakes against a coup (winnings rounded down to the minor unit).

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BaccaratBet {
    Player,
    Banker,
    Tie,
    PlayerPair,
    BankerPair,
}

impl BaccaratBet {
    pub const ALL: [BaccaratBet; 5] = [
        BaccaratBet::Player,
        BaccaratBet::Banker,
        BaccaratBet::Tie,
        BaccaratBet::PlayerPair,
        BaccaratBet::BankerPair,
    ];

    pub fn parse(kind: &str) -> Result<BaccaratBet, BaccaratError> {
        BaccaratBet::ALL
            .into_iter()
            .find(|bet| bet.kind() == kind)
            .ok_or_else(|| BaccaratError::UnknownBetKind(kind.to_string()))
    }

    pub fn kind(&self) -> &'static str {
        match self {
            BaccaratBet::Player => "player",
            BaccaratBet::Banker => "banker",
            BaccaratBet::Tie => "tie",
            BaccaratBet::PlayerPair => "player_pair",
            BaccaratBet::BankerPair => "banker_pair",
        }
    }
}

/// How a winning banker bet is paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Commission {
    /// Banker pays 0.95:1 (a 5% commission on the winnings).
    Standard,
    /// Banker pays 1:1, except a banker win on a total of 6 pays 1:2.
    NoCommission,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Win,
    Lose,
    Push,
}

/// One bet placed on a coup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaccaratStake {
    /// Opaque id chosen by the caller, echoed in the settlement.
    pub bet_id: String,
    pub bet: BaccaratBet,
    pub amount: Money,
}

/// The result of one stake: `returned` is stake + winnings on a win, the stake on a push,
/// zero on a loss.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaccaratSettlement {
    pub bet_id: String,
    pub outcome: Outcome,
    pub returned: Money,
}

/// Player, tie and pair winnings per unit staked.
pub(super) const PLAYER_PAYS: i64 = 1;
pub(super) const TIE_PAYS: i64 = 8;
pub(super) const PAIR_PAYS: i64 = 11;

/// Winnings per unit staked for a winning banker bet on this coup, e.g. 0.95 (standard).
pub(super) fn banker_pays(coup: &Coup, commission: Commission) -> Decimal {
    match commission {
        Commission::Standard => Decimal::new(95, 2),
        Commission::NoCommission if coup.banker_won_on_six => Decimal::new(5, 1),
        Commission::NoCommission => Decimal::ONE,
    }
}

/// The outcome of `bet` on `coup`, with the winnings per unit staked when it wins.
pub(super) fn judge(bet: BaccaratBet, coup: &Coup, commission: Commission) -> (Outcome, Decimal) {
    let win_if = |won: bool, pays: Decimal| {
        if won {
            (Outcome::Win, pays)
        } else {
            (Outcome::Lose, Decimal::ZERO)
        }
    };
    match (bet, coup.winner) {
        (BaccaratBet::Player | BaccaratBet::Banker, Winner::Tie) => (Outcome::Push, Decimal::ZERO),
        (BaccaratBet::Player, winner) => win_if(winner == Winner::Player, PLAYER_PAYS.into()),
        (BaccaratBet::Banker, winner) => {
            win_if(winner == Winner::Banker, banker_pays(coup, commission))
        }
        (BaccaratBet::Tie, winner) => win_if(winner == Winner::Tie, TIE_PAYS.into()),
        (BaccaratBet::PlayerPair, _) => win_if(coup.player_pair, PAIR_PAYS.into()),
        (BaccaratBet::BankerPair, _) => win_if(coup.banker_pair, PAIR_PAYS.into()),
    }
}

/// Settles every stake against `coup`, in the order given.
///
/// Winnings are `stake × ratio` rounded DOWN to the currency's minor unit
/// ([`Money::mul_floor`]); only the 0.95 and 0.5 ratios can leave a fraction, so the 5%
/// commission is in effect rounded up: a 0.10 EUR banker win pays 0.09 and returns 0.19.
/// Fails only if a return would exceed the largest amount `Money` can hold.
pub fn settle(
    bets: &[BaccaratStake],
    coup: &Coup,
    commission: Commission,
) -> Result<Vec<BaccaratSettlement>, BaccaratError> {
    bets.iter()
        .map(|stake| {
            let (outcome, pays) = judge(stake.bet, coup, commission);
            let returned = match outcome {
                Outcome::Win => {
                    let winnings = stake.amount.mul_floor(pays)?;
                    stake.amount.checked_add(&winnings)?
                }
                Outcome::Push => stake.amount.clone(),
                Outcome::Lose => Money::zero(stake.amount.currency()),
            };
            Ok(BaccaratSettlement {
                bet_id: stake.bet_id.clone(),
                outcome,
                returned,
            })
        })
        .collect()
}
