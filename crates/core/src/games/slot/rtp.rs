//! Exact return to player (the PAR sheet): enumerates every combination of reel stops with the
//! live line rule, counts every win exactly in integers, and adds free spins by expected value.
//! The RTP figures are exact rationals ([`Ratio`]); only the volatility (a square root) is a float.
//!
//! Free spins use the same strips as the base game. With `C` combinations, `V` the base win
//! summed over all combinations and `A` the free spins awarded summed over all combinations,
//! a spin awards `a = A / C` free spins on average. With retriggers each free spin awards `a`
//! more, so a paid spin is followed by `a + a² + … = a / (1 − a)` free spins on average (a < 1
//! is enforced when the game is loaded); without retriggers by `a`. Each free spin returns the
//! base RTP times the multiplier `m`, hence `total = base × (1 + m · E[free spins])`.

use std::fmt;

use rayon::prelude::*;
use rust_decimal::Decimal;

use super::config::SpinMode;
use super::config::{SlotGame, Sym};
use super::eval::{win_units, LineRun};
use crate::exact::Ratio;

/// One line-pay entry of the PAR sheet (per line played).
#[derive(Debug, Clone, PartialEq)]
pub struct ParLineWin {
    pub symbol: String,
    pub count: usize,
    /// In line bets.
    pub pay: u32,
    /// Number of (combination, line) pairs paying exactly this win, over all `combinations × lines`.
    pub hits: u64,
    /// `hits / (combinations × lines)`: chance that one given line pays it.
    pub probability: Ratio,
    /// Its part of the base-game RTP, in total bets: `probability × pay`.
    pub base_rtp: Ratio,
    /// Its part of the total RTP, base and free spins: `base_rtp / base RTP` (free spins scale
    /// every win alike, so this is also its share of the total).
    pub share: Ratio,
}

/// One scatter-count entry of the PAR sheet (per spin).
#[derive(Debug, Clone, PartialEq)]
pub struct ParScatterWin {
    pub count: usize,
    /// In total bets.
    pub pay: u32,
    pub free_spins: u32,
    /// Number of combinations showing exactly `count` scatters.
    pub hits: u64,
    pub probability: Ratio,
    pub base_rtp: Ratio,
    pub share: Ratio,
}

/// The exact mathematics of a game.
#[derive(Debug, Clone, PartialEq)]
pub struct ParSheet {
    pub game_id: String,
    pub game_name: String,
    /// The RTP variant this sheet is of, if the game names its variants.
    pub variant: Option<String>,
    /// The RTP the game states to players (`rtp` in its file), if any.
    pub stated_rtp: Option<Decimal>,
    pub reels: usize,
    pub rows: usize,
    pub lines: usize,
    pub strip_lengths: Vec<usize>,
    pub target_rtp: (Decimal, Decimal),
    /// Product of the strip lengths.
    pub combinations: u128,
    /// Line pays of one paid spin, in total bets.
    pub line_rtp: Ratio,
    /// Scatter pays of one paid spin, in total bets.
    pub scatter_rtp: Ratio,
    /// `line_rtp + scatter_rtp`.
    pub base_rtp: Ratio,
    /// Expected free-spin wins per paid spin, in total bets.
    pub free_spins_rtp: Ratio,
    /// `base_rtp + free_spins_rtp`.
    pub total_rtp: Ratio,
    /// Share of spins that win anything.
    pub hit_frequency: Ratio,
    /// Share of spins that award free spins (zero without free spins).
    pub trigger_frequency: Ratio,
    /// `a`: free spins awarded per spin on average.
    pub awards_per_spin: Ratio,
    /// Expected free spins played per paid spin, retriggers included.
    pub free_spins_per_paid_spin: Ratio,
    /// Expected free spins per trigger, retriggers included (zero without free spins).
    pub free_spins_per_trigger: Ratio,
    pub free_spin_multiplier: u32,
    /// Standard deviation of the return of one paid spin (free spins included), in total
    /// bets, from the exact first and second moments.
    pub volatility: f64,
    /// Line wins by symbol (declaration order) and count (descending).
    pub line_wins: Vec<ParLineWin>,
    /// Scatter counts that pay or award free spins.
    pub scatter_wins: Vec<ParScatterWin>,
}

impl ParSheet {
    /// Whether the RTP the game states is the exact RTP rounded to as many places as the
    /// statement has (true when it states none).
    pub fn stated_matches(&self) -> bool {
        match self.stated_rtp {
            Some(stated) => self.total_rtp.to_decimal(stated.scale()) == stated,
            None => true,
        }
    }

    /// Whether the exact total RTP lies inside the game's documented target range.
    pub fn in_target(&self) -> bool {
        let (min, max) = self.target_rtp;
        let rtp = self.total_rtp;
        // Compare exactly: d vs num/den ⇔ mantissa·den vs num·10^scale.
        let cmp = |d: Decimal| -> Option<std::cmp::Ordering> {
            let d = d.normalize();
            let scale = 10u128.checked_pow(d.scale())?;
            let lhs = d.mantissa().unsigned_abs().checked_mul(rtp.denom())?;
            let rhs = rtp.numer().checked_mul(scale)?;
            Some(lhs.cmp(&rhs))
        };
        matches!(cmp(min), Some(o) if o.is_le()) && matches!(cmp(max), Some(o) if o.is_ge())
    }
}

/// Exact integer counts over a set of combinations.
#[derive(Clone)]
struct Tally {
    combinations: u64,
    /// `line_hits[symbol * (reels + 1) + count]`.
    line_hits: Vec<u64>,
    /// `scatter_hits[n]`: combinations with `n` scatters in view.
    scatter_hits: Vec<u64>,
    /// Spins with any win.
    winning: u64,
    /// Spins awarding free spins.
    triggers: u64,
    // Moments of v (base win in 1/lines of the total bet) and k (free spins awarded).
    sum_v: u128,
    sum_v2: u128,
    sum_k: u128,
    sum_k2: u128,
    sum_vk: u128,
}

impl Tally {
    fn new(game: &SlotGame) -> Tally {
        Tally {
            combinations: 0,
            line_hits: vec![0; game.symbols().len() * (game.reels() + 1)],
            scatter_hits: vec![0; game.reels() * game.rows() + 1],
            winning: 0,
            triggers: 0,
            sum_v: 0,
            sum_v2: 0,
            sum_k: 0,
            sum_k2: 0,
            sum_vk: 0,
        }
    }

    fn merge(mut self, other: Tally) -> Tally {
        self.combinations += other.combinations;
        for (a, b) in self.line_hits.iter_mut().zip(&other.line_hits) {
            *a += b;
        }
        for (a, b) in self.scatter_hits.iter_mut().zip(&other.scatter_hits) {
            *a += b;
        }
        self.winning += other.winning;
        self.triggers += other.triggers;
        self.sum_v += other.sum_v;
        self.sum_v2 += other.sum_v2;
        self.sum_k += other.sum_k;
        self.sum_k2 += other.sum_k2;
        self.sum_vk += other.sum_vk;
        self
    }
}

/// Enumerates every combination of stops (in parallel over the stops of the first reels) and
/// builds the PAR sheet. Exact; a few seconds for 5 reels of ~32 stops on 2 cores.
pub fn exact_rtp(game: &SlotGame) -> ParSheet {
    let lengths = game.strip_lengths();
    // Parallel work items: every stop pair of reels 1 and 2 (never the last reel, which the
    // inner loop sweeps).
    let outer_reels = (lengths.len() - 1).min(2);
    let outer: usize = lengths[..outer_reels].iter().product();
    let tally = (0..outer)
        .into_par_iter()
        .fold(
            || Tally::new(game),
            |mut tally, index| {
                let mut stops = vec![0usize; lengths.len()];
                let mut rest = index;
                for reel in (0..outer_reels).rev() {
                    stops[reel] = rest % lengths[reel];
                    rest /= lengths[reel];
                }
                enumerate_from(game, &lengths, outer_reels, &mut stops, &mut tally);
                tally
            },
        )
        .reduce(|| Tally::new(game), Tally::merge);
    build_sheet(game, &tally)
}

/// Runs every combination of the reels from `first` on, the earlier stops fixed.
///
/// For each prefix (all reels but the last) each line is run up to the last reel once. A line
/// already settled pays the same for every last stop; for the others the win is worked out for
/// each symbol the last strip holds and added to a per-row table. Each stop of the last reel
/// then costs one table look-up per row, and the per-line hit counts are weighted by how often
/// each symbol appears on the last strip (every row shows every stop exactly once).
fn enumerate_from(
    game: &SlotGame,
    lengths: &[usize],
    first: usize,
    stops: &mut [usize],
    tally: &mut Tally,
) {
    let reels = lengths.len();
    let last = reels - 1;
    let last_len = lengths[last];
    let rows = game.rows();
    let symbols = game.symbols().len();
    let stride = reels + 1;
    let scatter_pays = game.scatter_pays_table();
    let lines = game.lines();

    let mut last_count = vec![0u64; symbols];
    for stop in 0..last_len {
        last_count[game.window(last, stop)[0] as usize] += 1;
    }
    let last_symbols: Vec<Sym> = (0..symbols)
        .filter(|&s| last_count[s] > 0)
        .map(|s| s as Sym)
        .collect();
    // pays_by_row[row * symbols + s]: line pays of the lines ending on `row` if it shows `s`.
    let mut pays_by_row = vec![0u64; rows * symbols];

    loop {
        pays_by_row.fill(0);
        let mut settled_pay = 0u64;
        for line in game.paylines() {
            let mut run = LineRun::new(game);
            for reel in 0..last {
                run.push(game.window(reel, stops[reel])[line[reel]]);
            }
            if run.is_settled() {
                if let Some(win) = run.finish(game) {
                    settled_pay += u64::from(win.pay);
                    tally.line_hits[win.symbol as usize * stride + win.count] += last_len as u64;
                }
                continue;
            }
            let row = line[last];
            for &s in &last_symbols {
                let mut full = run;
                full.push(s);
                if let Some(win) = full.finish(game) {
                    pays_by_row[row * symbols + s as usize] += u64::from(win.pay);
                    tally.line_hits[win.symbol as usize * stride + win.count] +=
                        last_count[s as usize];
                }
            }
        }
        let prefix_scatters: u32 = (0..last).map(|r| game.scatters_in_view(r, stops[r])).sum();

        for stop in 0..last_len {
            let view = game.window(last, stop);
            let line_sum = settled_pay
                + view
                    .iter()
                    .enumerate()
                    .map(|(row, &s)| pays_by_row[row * symbols + s as usize])
                    .sum::<u64>();
            let scatters = prefix_scatters + game.scatters_in_view(last, stop);
            tally.scatter_hits[scatters as usize] += 1;
            let v = u128::from(win_units(line_sum, scatter_pays[scatters as usize], lines));
            let k = u128::from(game.award(scatters, SpinMode::Base));
            tally.winning += u64::from(v > 0);
            tally.triggers += u64::from(k > 0);
            tally.sum_v += v;
            tally.sum_v2 += v * v;
            tally.sum_k += k;
            tally.sum_k2 += k * k;
            tally.sum_vk += v * k;
        }
        tally.combinations += last_len as u64;

        // Next prefix: odometer over reels first..last, the highest reel fastest.
        let mut reel = last;
        loop {
            if reel == first {
                return;
            }
            reel -= 1;
            stops[reel] += 1;
            if stops[reel] < lengths[reel] {
                break;
            }
            stops[reel] = 0;
        }
    }
}

fn build_sheet(game: &SlotGame, t: &Tally) -> ParSheet {
    let c = u128::from(t.combinations);
    let lines = game.lines() as u128;
    let reels = game.reels();
    let line_plays = c * lines;

    let line_units: u128 = game
        .symbols()
        .iter()
        .enumerate()
        .flat_map(|(s, _)| (1..=reels).map(move |n| (s, n)))
        .map(|(s, n)| {
            u128::from(t.line_hits[s * (reels + 1) + n])
                * u128::from(game.line_pays_of(s as Sym)[n])
        })
        .sum();
    let scatter_units: u128 = t
        .scatter_hits
        .iter()
        .enumerate()
        .map(|(n, &h)| u128::from(h) * u128::from(game.scatter_pay(n)))
        .sum();
    debug_assert_eq!(line_units + lines * scatter_units, t.sum_v);

    let line_rtp = Ratio::new(line_units, line_plays);
    let scatter_rtp = Ratio::new(scatter_units, c);
    let base_rtp = Ratio::new(t.sum_v, line_plays);

    let (multiplier, retrigger) = game
        .free_spins()
        .map_or((0, false), |f| (f.multiplier(), f.retrigger()));
    // Free spins awarded per spin, in base spins and in free spins.
    let awards_per_spin = Ratio::new(t.sum_k, c);
    let free_awards = if retrigger { t.sum_k } else { 0 };
    // E[free spins per paid spin] = a / (1 − a′), a′ = a with retriggers, 0 without.
    let free_spins_per_paid_spin = Ratio::new(t.sum_k, c - free_awards);
    let free_spins_rtp =
        free_spins_per_paid_spin * Ratio::new(u128::from(multiplier), 1) * base_rtp;
    let total_rtp = base_rtp + free_spins_rtp;
    let trigger_frequency = Ratio::new(u128::from(t.triggers), c);
    let free_spins_per_trigger = if t.triggers == 0 {
        Ratio::ZERO
    } else {
        free_spins_per_paid_spin / trigger_frequency
    };

    let share = |part: Ratio| {
        if base_rtp.is_zero() {
            Ratio::ZERO
        } else {
            part / base_rtp
        }
    };

    let mut line_wins = Vec::new();
    for (s, symbol) in game.symbols().iter().enumerate() {
        for count in (1..=reels).rev() {
            let pay = game.line_pays_of(s as Sym)[count];
            if pay == 0 {
                continue;
            }
            let hits = t.line_hits[s * (reels + 1) + count];
            let probability = Ratio::new(u128::from(hits), line_plays);
            let part = probability * Ratio::new(u128::from(pay), 1);
            line_wins.push(ParLineWin {
                symbol: symbol.clone(),
                count,
                pay,
                hits,
                probability,
                base_rtp: part,
                share: share(part),
            });
        }
    }
    let mut scatter_wins = Vec::new();
    for (count, &hits) in t.scatter_hits.iter().enumerate().rev() {
        let pay = game.scatter_pay(count);
        let free_spins = game.award(count as u32, SpinMode::Base);
        // Counts above the number of reels need stacked scatters; list them only if they occur.
        if (pay == 0 && free_spins == 0) || (hits == 0 && count > reels) {
            continue;
        }
        let probability = Ratio::new(u128::from(hits), c);
        let part = probability * Ratio::new(u128::from(pay), 1);
        scatter_wins.push(ParScatterWin {
            count,
            pay,
            free_spins,
            hits,
            probability,
            base_rtp: part,
            share: share(part),
        });
    }
    scatter_wins.reverse();

    ParSheet {
        game_id: game.id().to_string(),
        game_name: game.name().to_string(),
        variant: game.variant().map(str::to_string),
        stated_rtp: game.rtp(),
        reels,
        rows: game.rows(),
        lines: game.lines(),
        strip_lengths: game.strip_lengths(),
        target_rtp: game.target_rtp(),
        combinations: c,
        line_rtp,
        scatter_rtp,
        base_rtp,
        free_spins_rtp,
        total_rtp,
        hit_frequency: Ratio::new(u128::from(t.winning), c),
        trigger_frequency,
        awards_per_spin,
        free_spins_per_paid_spin,
        free_spins_per_trigger,
        free_spin_multiplier: multiplier,
        volatility: volatility(t, lines as f64, multiplier, retrigger),
        line_wins,
        scatter_wins,
    }
}

/// Standard deviation of the return X of one paid spin, in total bets.
///
/// X = W + Σ_{j≤K} Y_j, where (W, K) is the base win and award of the paid spin and the Y_j are
/// independent copies of the return of one free spin, Y = m·W′ + Σ_{j≤K′} Y_j (K′ = K with
/// retriggers, 0 without). With μ = E[Y] = m·E[W] / (1 − E[K′]):
///   E[Y²] = (m²E[W²] + 2mμE[WK′] + E[K′(K′−1)]μ²) / (1 − E[K′])
///   E[X²] = E[W²] + 2μE[WK] + E[K]E[Y²] + E[K(K−1)]μ²
fn volatility(t: &Tally, lines: f64, multiplier: u32, retrigger: bool) -> f64 {
    let c = t.combinations as f64;
    let m = f64::from(multiplier);
    let ew = t.sum_v as f64 / c / lines;
    let ew2 = t.sum_v2 as f64 / c / (lines * lines);
    let ek = t.sum_k as f64 / c;
    let ek2 = t.sum_k2 as f64 / c;
    let ewk = t.sum_vk as f64 / c / lines;
    let (ek_f, ek2_f, ewk_f) = if retrigger {
        (ek, ek2, ewk)
    } else {
        (0.0, 0.0, 0.0)
    };
    let mu = m * ew / (1.0 - ek_f);
    let ey2 = (m * m * ew2 + 2.0 * m * mu * ewk_f + (ek2_f - ek_f) * mu * mu) / (1.0 - ek_f);
    let ex = ew + ek * mu;
    let ex2 = ew2 + 2.0 * mu * ewk + ek * ey2 + (ek2 - ek) * mu * mu;
    (ex2 - ex * ex).max(0.0).sqrt()
}

fn percent(r: Ratio, dp: u32) -> Decimal {
    (r * Ratio::new(100, 1)).to_decimal(dp)
}

fn one_in(r: Ratio) -> String {
    if r.is_zero() {
        "never".to_string()
    } else {
        format!("1 in {}", Ratio::new(r.denom(), r.numer()).to_decimal(1))
    }
}

impl fmt::Display for ParSheet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lengths: Vec<String> = self.strip_lengths.iter().map(|l| l.to_string()).collect();
        match &self.variant {
            Some(v) => writeln!(
                f,
                "PAR sheet: {} ({}, RTP variant {v})",
                self.game_name, self.game_id
            )?,
            None => writeln!(f, "PAR sheet: {} ({})", self.game_name, self.game_id)?,
        }
        writeln!(
            f,
            "  layout              {} reels × {} rows, {} lines, strips of {} stops",
            self.reels,
            self.rows,
            self.lines,
            lengths.join("/")
        )?;
        writeln!(f, "  combinations        {}", self.combinations)?;
        writeln!(f, "  line pays           {}%", percent(self.line_rtp, 4))?;
        writeln!(f, "  scatter pays        {}%", percent(self.scatter_rtp, 4))?;
        writeln!(f, "  base game RTP       {}%", percent(self.base_rtp, 4))?;
        writeln!(
            f,
            "  free spins RTP      {}%",
            percent(self.free_spins_rtp, 4)
        )?;
        writeln!(
            f,
            "  TOTAL RTP           {}%  (exact {} = {}; target {}..{}: {})",
            percent(self.total_rtp, 4),
            self.total_rtp,
            self.total_rtp.to_decimal(8),
            self.target_rtp.0,
            self.target_rtp.1,
            if self.in_target() {
                "inside"
            } else {
                "OUTSIDE"
            }
        )?;
        if let Some(stated) = self.stated_rtp {
            writeln!(
                f,
                "  stated RTP          {}%  ({})",
                (stated * Decimal::ONE_HUNDRED).normalize(),
                if self.stated_matches() {
                    "the exact RTP, rounded"
                } else {
                    "DIFFERS from the exact RTP"
                }
            )?;
        }
        writeln!(
            f,
            "  hit frequency       {}%  ({})",
            percent(self.hit_frequency, 2),
            one_in(self.hit_frequency)
        )?;
        if self.free_spin_multiplier > 0 {
            writeln!(
                f,
                "  free spins trigger  {}%  ({}); a = {} awarded per spin; {} free spins per trigger at ×{}",
                percent(self.trigger_frequency, 3),
                one_in(self.trigger_frequency),
                self.awards_per_spin.to_decimal(5),
                self.free_spins_per_trigger.to_decimal(3),
                self.free_spin_multiplier
            )?;
        }
        writeln!(
            f,
            "  volatility          {:.3} (standard deviation per paid spin, in total bets)",
            self.volatility
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "  line wins (per line)   pay          hits       1 in  RTP part %   share %"
        )?;
        for w in &self.line_wins {
            let label = format!("{} ×{}", w.symbol, w.count);
            writeln!(
                f,
                "  {:<20} {:>6} {:>13} {:>10} {:>10} {:>9}",
                label,
                w.pay,
                w.hits,
                inverse(w.probability),
                percent(w.base_rtp, 4),
                percent(w.share, 2)
            )?;
        }
        if !self.scatter_wins.is_empty() {
            writeln!(f)?;
            writeln!(
                f,
                "  scatters (per spin)    pay  free         hits       1 in  RTP part %   share %"
            )?;
            for w in &self.scatter_wins {
                writeln!(
                    f,
                    "  {:<20} {:>6} {:>5} {:>12} {:>10} {:>10} {:>9}",
                    format!("{} scatters", w.count),
                    w.pay,
                    w.free_spins,
                    w.hits,
                    inverse(w.probability),
                    percent(w.base_rtp, 4),
                    percent(w.share, 2)
                )?;
            }
        }
        if !self.free_spins_rtp.is_zero() {
            writeln!(f)?;
            writeln!(
                f,
                "  RTP parts are of the base game; free spins add {}% on top in the same shares.",
                percent(self.free_spins_rtp, 4)
            )?;
        }
        Ok(())
    }
}

fn inverse(r: Ratio) -> String {
    if r.is_zero() {
        "-".to_string()
    } else {
        Ratio::new(r.denom(), r.numer()).to_decimal(1).to_string()
    }
}

#[cfg(test)]
mod tests;
