//! Monte-Carlo simulator: plays paid spins through [`spin_tally`] (the live spin's draws, in
//! the same order, and its pay rules, without building the grid and win list a player is
//! shown) on several threads, each with its own OS-seeded ChaCha20 shard (or, in
//! [`SimSource::Fair`], provably fair rounds of one server and client seed), plays out every
//! free spin exactly as live play does, and reports the empirical RTP with a confidence
//! interval, hit and trigger frequencies and volatility. It checks the exact PAR sheet against
//! the code path that pays players: the live `spin` computes its win with the same
//! `tally_columns` (eval.rs), and a test holds the two paths equal on every draw.
//!
//! Wins are summed exactly in integers (units of 1/lines of the total bet); floats appear only
//! in the statistics (mean, standard deviation, interval).

use std::fmt;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rust_decimal::Decimal;

use crate::rng::fair::{ClientSeed, FairStream, ServerSeed};
use crate::rng::{RandomSource, ReseedPolicy, ShardRng};

use super::config::SlotGame;
use super::config::SpinMode;
use super::eval::spin_tally;

/// Reseed each simulator shard after this many 32-bit draws (16 GiB of ChaCha20 output): far
/// inside the cipher's safe range, and rare enough that OS calls cost nothing measurable.
pub const SIM_RESEED_AFTER_DRAWS: u64 = 1 << 32;
/// …or after this long, as the live shards do.
pub const SIM_RESEED_AFTER: Duration = Duration::from_secs(3600);
/// Most simulator threads: more than any machine we run on has cores.
pub const MAX_SIM_THREADS: usize = 1024;
/// Paid spins between progress-bar updates (keeps the bar off the hot path).
const PROGRESS_CHUNK: u64 = 1 << 15;
/// Two-sided 99% normal quantile.
pub const Z_99: f64 = 2.576;

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("the number of spins must be at least 1")]
    NoSpins,
    #[error("threads must be between 1 and {MAX_SIM_THREADS}, got {0}")]
    BadThreads(usize),
    #[error("cannot seed a simulator shard: {0}")]
    Rng(String),
    #[error("a simulator thread panicked")]
    ThreadPanicked,
}

/// Results of a simulation. Amounts are in total bets (one paid spin stakes 1).
#[derive(Debug, Clone)]
pub struct SimReport {
    pub game_id: String,
    pub threads: usize,
    pub paid_spins: u64,
    pub free_spins: u64,
    /// Stakes, in total bets: equal to `paid_spins`.
    pub total_bet: Decimal,
    /// Exact sum of all wins, free spins included, in total bets.
    pub total_win: Decimal,
    /// Mean return per paid spin.
    pub rtp: f64,
    /// Standard error of `rtp`.
    pub std_error: f64,
    /// `rtp ± 2.576 · std_error`.
    pub rtp_ci99: (f64, f64),
    /// Share of paid spins whose own grid wins (free spins excluded, as in the PAR sheet).
    pub hit_frequency: f64,
    /// Share of paid spins that award free spins.
    pub trigger_frequency: f64,
    /// Standard deviation of the return of one paid spin (its free spins included), in bets.
    pub volatility: f64,
    /// Largest return of one paid spin with its free spins, in total bets.
    pub largest_win: Decimal,
    pub elapsed: Duration,
    /// Spins evaluated (paid and free) per second, all threads together.
    pub spins_per_second: f64,
}

#[derive(Default)]
struct Totals {
    paid_spins: u64,
    free_spins: u64,
    winning: u64,
    triggers: u64,
    /// Sums of x and x², x = return of one paid spin in 1/lines units.
    sum_x: u128,
    sum_x2: u128,
    max_x: u64,
}

impl Totals {
    fn merge(&mut self, o: &Totals) {
        self.paid_spins += o.paid_spins;
        self.free_spins += o.free_spins;
        self.winning += o.winning;
        self.triggers += o.triggers;
        self.sum_x += o.sum_x;
        self.sum_x2 += o.sum_x2;
        self.max_x = self.max_x.max(o.max_x);
    }
}

/// Where a simulation's draws come from.
#[derive(Debug, Clone)]
pub enum SimSource {
    /// One OS-seeded ChaCha20 shard per thread, as live play's RNG shards.
    Shards,
    /// Provably fair rounds ([`crate::rng::fair`]): every spin, paid or free, its own round
    /// with its own nonce on this server and client seed (thread `t` takes nonces from
    /// `t · 2^40`), as a player in provably fair mode plays them.
    Fair(ServerSeed, ClientSeed),
}

/// Draws, round by round: a shard keeps one stream; a fair source starts each round afresh.
trait Rounds: RandomSource {
    fn next_round(&mut self) {}
}

impl Rounds for ShardRng {}

struct FairRounds {
    server: ServerSeed,
    client: ClientSeed,
    nonce: u64,
    stream: FairStream,
}

impl RandomSource for FairRounds {
    fn next_u32(&mut self) -> u32 {
        self.stream.next_u32()
    }
}

impl Rounds for FairRounds {
    fn next_round(&mut self) {
        self.stream = FairStream::new(&self.server, &self.client, self.nonce);
        self.nonce += 1;
    }
}

/// Plays `spins` paid spins (and all the free spins they lead to) on `threads` threads.
/// Shows a progress bar on stderr when `progress` is true.
pub fn simulate(
    game: &SlotGame,
    spins: u64,
    threads: usize,
    progress: bool,
) -> Result<SimReport, SimError> {
    simulate_from(game, spins, threads, progress, &SimSource::Shards)
}

/// [`simulate`] with the draws from `source`.
pub fn simulate_from(
    game: &SlotGame,
    spins: u64,
    threads: usize,
    progress: bool,
    source: &SimSource,
) -> Result<SimReport, SimError> {
    if spins == 0 {
        return Err(SimError::NoSpins);
    }
    if threads == 0 || threads > MAX_SIM_THREADS {
        return Err(SimError::BadThreads(threads));
    }
    let bar = progress_bar(spins, progress);
    let started = Instant::now();
    let per_thread = spins / threads as u64;
    let extra = spins % threads as u64;

    let results: Vec<Result<Totals, SimError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|index| {
                let share = per_thread + u64::from((index as u64) < extra);
                let bar = bar.clone();
                scope.spawn(move || play(game, source, index as u64, share, &bar))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or(Err(SimError::ThreadPanicked)))
            .collect()
    });
    let mut totals = Totals::default();
    for result in results {
        totals.merge(&result?);
    }
    let elapsed = started.elapsed();
    bar.finish_and_clear();
    Ok(report(game, threads, &totals, elapsed))
}

/// The first nonce of thread `t` in fair mode is `t << FAIR_NONCES_PER_THREAD_BITS`: more
/// rounds than any thread plays, so no two threads share a round.
const FAIR_NONCES_PER_THREAD_BITS: u32 = 40;

/// One thread's share of the paid spins, on its own draws (`stream` = thread index).
fn play(
    game: &SlotGame,
    source: &SimSource,
    stream: u64,
    paid_spins: u64,
    bar: &ProgressBar,
) -> Result<Totals, SimError> {
    match source {
        SimSource::Shards => {
            let policy = ReseedPolicy {
                after_draws: SIM_RESEED_AFTER_DRAWS,
                after: SIM_RESEED_AFTER,
            };
            let mut rng =
                ShardRng::from_os(stream, policy).map_err(|e| SimError::Rng(e.to_string()))?;
            Ok(play_on(game, &mut rng, paid_spins, bar))
        }
        SimSource::Fair(server, client) => {
            let nonce = stream << FAIR_NONCES_PER_THREAD_BITS;
            let mut rng = FairRounds {
                stream: FairStream::new(server, client, nonce),
                server: server.clone(),
                client: client.clone(),
                nonce,
            };
            Ok(play_on(game, &mut rng, paid_spins, bar))
        }
    }
}

fn play_on(game: &SlotGame, rng: &mut impl Rounds, paid_spins: u64, bar: &ProgressBar) -> Totals {
    let free_mode = game.free_spin_mode().unwrap_or(SpinMode::Base);
    let mut t = Totals::default();
    for done in 1..=paid_spins {
        rng.next_round();
        let base = spin_tally(game, SpinMode::Base, rng);
        let mut x = base.units;
        t.winning += u64::from(base.units > 0);
        let mut pending = u64::from(base.free_spins_awarded);
        t.triggers += u64::from(pending > 0);
        while pending > 0 {
            pending -= 1;
            rng.next_round();
            let free = spin_tally(game, free_mode, rng);
            x += free.units;
            pending += u64::from(free.free_spins_awarded);
            t.free_spins += 1;
        }
        t.paid_spins += 1;
        t.sum_x += u128::from(x);
        t.sum_x2 += u128::from(x) * u128::from(x);
        t.max_x = t.max_x.max(x);
        if done % PROGRESS_CHUNK == 0 {
            bar.inc(PROGRESS_CHUNK);
        }
    }
    bar.inc(paid_spins % PROGRESS_CHUNK);
    t
}

fn progress_bar(spins: u64, show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(spins), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} paid spins ({per_sec}, eta {eta})",
    ) {
        bar.set_style(style);
    }
    bar
}

fn report(game: &SlotGame, threads: usize, t: &Totals, elapsed: Duration) -> SimReport {
    let lines = game.lines() as f64;
    let n = t.paid_spins as f64;
    let units_to_bets =
        |u: u128| Decimal::from_i128_with_scale(u as i128, 0) / Decimal::from(game.lines() as u64);
    let mean = t.sum_x as f64 / n / lines;
    // Variance from exact integer sums where they fit: n·Σx² − (Σx)² over n², in units².
    let variance_units = t
        .sum_x2
        .checked_mul(u128::from(t.paid_spins))
        .and_then(|a| a.checked_sub(t.sum_x.checked_mul(t.sum_x)?))
        .map(|num| num as f64 / (n * n))
        .unwrap_or_else(|| {
            let m = t.sum_x as f64 / n;
            (t.sum_x2 as f64 / n - m * m).max(0.0)
        });
    let sd = variance_units.sqrt() / lines;
    let std_error = sd / n.sqrt();
    let spins_evaluated = (t.paid_spins + t.free_spins) as f64;
    SimReport {
        game_id: game.id().to_string(),
        threads,
        paid_spins: t.paid_spins,
        free_spins: t.free_spins,
        total_bet: Decimal::from(t.paid_spins),
        total_win: units_to_bets(t.sum_x).normalize(),
        rtp: mean,
        std_error,
        rtp_ci99: (mean - Z_99 * std_error, mean + Z_99 * std_error),
        hit_frequency: t.winning as f64 / n,
        trigger_frequency: t.triggers as f64 / n,
        volatility: sd,
        largest_win: units_to_bets(u128::from(t.max_x)).normalize(),
        elapsed,
        spins_per_second: spins_evaluated / elapsed.as_secs_f64().max(1e-9),
    }
}

impl fmt::Display for SimReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Simulation: {}", self.game_id)?;
        writeln!(
            f,
            "  paid spins          {} (+ {} free spins), {} threads",
            self.paid_spins, self.free_spins, self.threads
        )?;
        writeln!(f, "  total bet           {} bets", self.total_bet)?;
        writeln!(f, "  total win           {} bets", self.total_win)?;
        writeln!(
            f,
            "  RTP                 {:.4}%  (99% CI {:.4}% .. {:.4}%, standard error {:.4}%)",
            self.rtp * 100.0,
            self.rtp_ci99.0 * 100.0,
            self.rtp_ci99.1 * 100.0,
            self.std_error * 100.0
        )?;
        writeln!(
            f,
            "  hit frequency       {:.3}%  (1 in {:.2})",
            self.hit_frequency * 100.0,
            1.0 / self.hit_frequency.max(f64::MIN_POSITIVE)
        )?;
        if self.trigger_frequency > 0.0 {
            writeln!(
                f,
                "  free spins trigger  {:.4}%  (1 in {:.1})",
                self.trigger_frequency * 100.0,
                1.0 / self.trigger_frequency
            )?;
        }
        writeln!(
            f,
            "  volatility          {:.3} (sd per paid spin, in bets)",
            self.volatility
        )?;
        writeln!(f, "  largest win         {} bets", self.largest_win)?;
        writeln!(
            f,
            "  speed               {:.0} spins/s ({:.0} per thread), {:.2} s",
            self.spins_per_second,
            self.spins_per_second / self.threads as f64,
            self.elapsed.as_secs_f64()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::games::slot::test_games::{classic, classic_par, starfall, starfall_par, tiny};
    use crate::games::slot::{exact_rtp, ParSheet};
    use rust_decimal::prelude::ToPrimitive;

    /// Paid spins of the shipped-game checks.
    const LONG_RUN: u64 = 10_000_000;
    const THREADS: usize = 2;

    /// How many standard errors a simulated figure may lie from the exact one. Two-sided, one
    /// check fails by chance with probability 2.0e-9; the suite makes 11 such checks, so a false
    /// alarm comes about once in 50 million runs (at 4 it was once in 1,400).
    const SIGMAS: f64 = 6.0;

    /// The simulated RTP must lie within [`SIGMAS`] standard errors of the exact one; the
    /// standard error uses the exact volatility.
    fn check_against_par(report: &SimReport, par: &ParSheet) {
        let exact = par.total_rtp.to_f64();
        let se = par.volatility / (report.paid_spins as f64).sqrt();
        println!("{report}");
        println!(
            "  exact RTP {:.4}%, simulated {:.4}%: {:+.2} standard errors; 99% CI {:.4}%..{:.4}%",
            exact * 100.0,
            report.rtp * 100.0,
            (report.rtp - exact) / se,
            report.rtp_ci99.0 * 100.0,
            report.rtp_ci99.1 * 100.0
        );
        assert!(
            (report.rtp - exact).abs() < SIGMAS * se,
            "RTP {} vs exact {exact} (se {se})",
            report.rtp
        );
        // Binomial frequencies, same rule.
        let n = report.paid_spins as f64;
        for (name, simulated, exact) in [
            (
                "hit frequency",
                report.hit_frequency,
                par.hit_frequency.to_f64(),
            ),
            (
                "trigger frequency",
                report.trigger_frequency,
                par.trigger_frequency.to_f64(),
            ),
        ] {
            let sigma = (exact * (1.0 - exact) / n).sqrt().max(f64::MIN_POSITIVE);
            assert!(
                (simulated - exact).abs() < SIGMAS * sigma,
                "{name}: {simulated} vs {exact}"
            );
        }
        assert_eq!(report.total_bet, Decimal::from(report.paid_spins));
        let rtp_from_totals = (report.total_win / report.total_bet)
            .to_f64()
            .unwrap_or(f64::NAN);
        assert!((rtp_from_totals - report.rtp).abs() < 1e-12);
    }

    #[test]
    fn starfall_ten_million_spins_match_the_par_sheet() {
        let report = simulate(&starfall(), LONG_RUN, THREADS, false).unwrap();
        assert_eq!(report.paid_spins, LONG_RUN);
        assert!(report.free_spins > 0);
        check_against_par(&report, starfall_par());
        // Volatility: heavy tails make the sample sd noisy, so only a loose check.
        let ratio = report.volatility / starfall_par().volatility;
        assert!(
            (0.8..1.25).contains(&ratio),
            "volatility {} vs exact {}",
            report.volatility,
            starfall_par().volatility
        );
    }

    /// Provably fair mode (issue 20): the same games, their draws from HMAC-SHA256 rounds of
    /// one server and client seed, every spin its own nonce: the RTP and frequencies still
    /// match the exact PAR sheets. Fixed seeds, so the run is repeatable.
    #[test]
    fn in_provably_fair_mode_both_games_match_their_par_sheets() {
        let server = ServerSeed::from_bytes([7; 32]);
        let client = ClientSeed::parse("par-sheet-check").unwrap();
        let source = SimSource::Fair(server, client);
        for (game, par, spins) in [
            (starfall(), starfall_par(), 4_000_000),
            (classic(), classic_par(), 2_000_000),
        ] {
            let report = simulate_from(&game, spins, THREADS, false, &source).unwrap();
            assert_eq!(report.paid_spins, spins);
            check_against_par(&report, par);
        }
    }

    #[test]
    fn classic_sevens_ten_million_spins_match_the_par_sheet() {
        let report = simulate(&classic(), LONG_RUN, THREADS, false).unwrap();
        assert_eq!((report.paid_spins, report.free_spins), (LONG_RUN, 0));
        check_against_par(&report, classic_par());
        let ratio = report.volatility / classic_par().volatility;
        assert!(
            (0.9..1.1).contains(&ratio),
            "volatility {} vs exact {}",
            report.volatility,
            classic_par().volatility
        );
    }

    #[test]
    fn tiny_game_volatility_matches_the_exact_moments() {
        for retrigger in [true, false] {
            let game = tiny(retrigger);
            let par = exact_rtp(&game);
            let report = simulate(&game, 1_000_000, THREADS, false).unwrap();
            check_against_par(&report, &par);
            let ratio = report.volatility / par.volatility;
            assert!(
                (0.95..1.05).contains(&ratio),
                "volatility {} vs exact {}",
                report.volatility,
                par.volatility
            );
            // Free spins per paid spin: 1/5 with retriggers, 1/6 without.
            let per_paid = report.free_spins as f64 / report.paid_spins as f64;
            assert!(
                (per_paid - par.free_spins_per_paid_spin.to_f64()).abs() < 0.01,
                "{per_paid}"
            );
        }
    }

    #[test]
    fn spins_are_shared_across_threads_exactly() {
        let report = simulate(&classic(), 7, 4, false).unwrap();
        assert_eq!(report.paid_spins, 7);
        assert_eq!(report.threads, 4);
        let report = simulate(&classic(), 1001, 3, false).unwrap();
        assert_eq!(report.paid_spins, 1001);
        assert!(report.to_string().contains("paid spins          1001"));
    }

    #[test]
    fn bad_arguments_are_errors() {
        assert!(matches!(
            simulate(&classic(), 0, 2, false),
            Err(SimError::NoSpins)
        ));
        assert!(matches!(
            simulate(&classic(), 10, 0, false),
            Err(SimError::BadThreads(0))
        ));
        assert!(matches!(
            simulate(&classic(), 10, MAX_SIM_THREADS + 1, false),
            Err(SimError::BadThreads(_))
        ));
    }
}
