//! The game file as written (`Raw*`, straight from TOML) and its validation into a
//! [`SlotGame`]: every key checked once, each error naming the file and the key, and the
//! lookup tables the evaluator and the PAR sheet share precomputed. About 680 lines in one
//! file on purpose: it is one job (the file format and its rules, key by key), read top to
//! bottom by whoever certifies a game.

use std::collections::{BTreeMap, HashSet};

use rust_decimal::Decimal;
use serde::Deserialize;

use super::*;

/// Parses and validates one game file's text: its main game first, then one game per
/// `[[variant]]` (the same game on other reel strips, with its own id `<id>_<variant>`).
pub(super) fn parse(text: &str, source_name: &str) -> Result<Vec<SlotGame>, SlotConfigError> {
    let mut raw: RawGame = toml::from_str(text).map_err(|e| SlotConfigError::Parse {
        source_name: source_name.to_string(),
        message: e.to_string().trim_end().to_string(),
    })?;
    let validator = Validator { source_name };
    let variants = std::mem::take(&mut raw.variant);
    validator.check_variant_ids(raw.rtp_variant.as_deref(), &variants)?;
    let family = raw.id.clone();
    let version = super::file_version(text);
    let mut games = Vec::with_capacity(1 + variants.len());
    let mut main = raw.clone();
    main.rtp_variant = None;
    games.push(validator.build(main, &family, raw.rtp_variant.clone())?);
    for (i, v) in variants.into_iter().enumerate() {
        let mut other = raw.clone();
        other.id = format!("{family}_{}", v.id);
        other.reels = v.reels;
        other.target_rtp = v.target_rtp;
        other.rtp = v.rtp;
        // Only the strips, the band and the stated RTP differ from the main game, which has
        // passed: any error here is the variant's own, and its key says which variant.
        let game = validator
            .build(other, &family, Some(v.id))
            .map_err(|e| match e {
                SlotConfigError::Invalid {
                    source_name,
                    key,
                    message,
                } => SlotConfigError::Invalid {
                    source_name,
                    key: format!("variant[{i}].{key}"),
                    message,
                },
                other => other,
            })?;
        games.push(game);
    }
    for game in &mut games {
        game.version.clone_from(&version);
    }
    Ok(games)
}

// ---------------------------------------------------------------------------------------------
// The file format, as written.

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGame {
    id: String,
    /// The name of the RTP variant the top-level strips make (needed once variants exist).
    #[serde(default)]
    rtp_variant: Option<String>,
    /// The RTP the game states to players, checked against the PAR sheet by the tests.
    #[serde(default)]
    rtp: Option<String>,
    #[serde(default)]
    variant: Vec<RawVariant>,
    name: String,
    rows: u64,
    symbols: Vec<String>,
    #[serde(default)]
    wild: Option<String>,
    min_bet: String,
    max_bet: String,
    bet_step: String,
    target_rtp: RawRtpRange,
    reels: Vec<Vec<String>>,
    paylines: Vec<Vec<u64>>,
    paytable: BTreeMap<String, BTreeMap<String, u64>>,
    #[serde(default)]
    scatter: Option<RawScatter>,
    #[serde(default)]
    free_spins: Option<RawFreeSpins>,
}

/// Another RTP variant of the same game: its own strips, band and stated RTP.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVariant {
    id: String,
    target_rtp: RawRtpRange,
    #[serde(default)]
    rtp: Option<String>,
    reels: Vec<Vec<String>>,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRtpRange {
    min: String,
    max: String,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScatter {
    symbol: String,
    #[serde(default)]
    pays: BTreeMap<String, u64>,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFreeSpins {
    trigger: u64,
    spins: BTreeMap<String, u64>,
    multiplier: u64,
    retrigger: bool,
}

// ---------------------------------------------------------------------------------------------
// Validation.

struct Validator<'a> {
    source_name: &'a str,
}

type Checked<T> = Result<T, SlotConfigError>;

impl Validator<'_> {
    fn err(&self, key: impl Into<String>, message: impl Into<String>) -> SlotConfigError {
        SlotConfigError::Invalid {
            source_name: self.source_name.to_string(),
            key: key.into(),
            message: message.into(),
        }
    }

    fn build(&self, raw: RawGame, family: &str, variant: Option<String>) -> Checked<SlotGame> {
        self.check_id(&raw.id)?;
        let name = raw.name.trim().to_string();
        if name.is_empty() || name.chars().count() > MAX_NAME_LEN {
            return Err(self.err("name", format!("must be 1 to {MAX_NAME_LEN} characters")));
        }
        let rows = self.check_count("rows", raw.rows, 1, MAX_ROWS as u64)? as usize;
        let symbols = self.check_symbols(&raw.symbols)?;
        let find = |key: &str, id: &str| -> Checked<Sym> {
            symbols
                .iter()
                .position(|s| s == id)
                .map(|i| i as Sym)
                .ok_or_else(|| self.err(key, format!("unknown symbol {id:?}")))
        };

        let wild = raw.wild.as_deref().map(|w| find("wild", w)).transpose()?;
        let scatter = raw
            .scatter
            .as_ref()
            .map(|s| find("scatter.symbol", &s.symbol))
            .transpose()?;
        if wild.is_some() && wild == scatter {
            return Err(self.err("scatter.symbol", "the scatter cannot also be the wild"));
        }

        // Reel strips.
        if raw.reels.is_empty() || raw.reels.len() > MAX_REELS {
            return Err(self.err("reels", format!("must list 1 to {MAX_REELS} reel strips")));
        }
        let reels = raw.reels.len();
        let mut strips = Vec::with_capacity(reels);
        for (i, strip) in raw.reels.iter().enumerate() {
            if strip.len() < rows || strip.len() > MAX_STRIP_LEN {
                return Err(self.err(
                    format!("reels[{i}]"),
                    format!(
                        "has {} stops; a strip needs {rows} (one per row) to {MAX_STRIP_LEN}",
                        strip.len()
                    ),
                ));
            }
            let ids = strip
                .iter()
                .enumerate()
                .map(|(j, id)| find(&format!("reels[{i}][{j}]"), id))
                .collect::<Checked<Vec<Sym>>>()?;
            strips.push(ids);
        }
        let cycle: u128 = strips.iter().map(|s| s.len() as u128).product();
        if cycle > MAX_CYCLE {
            return Err(self.err(
                "reels",
                format!("{cycle} stop combinations; at most {MAX_CYCLE} can be enumerated"),
            ));
        }

        let paylines = self.check_paylines(&raw.paylines, reels, rows)?;
        let line_pays = self.check_paytable(&raw.paytable, &symbols, reels, scatter, &find)?;

        let max_scatters = reels * rows;
        let scatter_pays = match &raw.scatter {
            Some(s) => {
                let pays = self.check_count_table(
                    "scatter.pays",
                    &s.pays,
                    1,
                    max_scatters,
                    MAX_SCATTER_PAY,
                )?;
                expand_at_least(&pays, max_scatters)
            }
            None => vec![0; max_scatters + 1],
        };

        let free_spins = match (&raw.free_spins, scatter) {
            (None, _) => None,
            (Some(_), None) => {
                return Err(self.err(
                    "free_spins",
                    "free spins are triggered by scatters: add a [scatter] table",
                ))
            }
            (Some(fs), Some(_)) => Some(self.check_free_spins(fs, max_scatters)?),
        };

        let min_bet = self.check_amount("min_bet", &raw.min_bet)?;
        let max_bet = self.check_amount("max_bet", &raw.max_bet)?;
        let bet_step = self.check_amount("bet_step", &raw.bet_step)?;
        self.check_bets(min_bet, max_bet, bet_step, paylines.len())?;
        let target_rtp = self.check_target_rtp(&raw.target_rtp)?;
        let rtp = raw
            .rtp
            .as_deref()
            .map(|text| self.check_stated_rtp(text, target_rtp))
            .transpose()?;

        let windows = strips
            .iter()
            .map(|strip| {
                (0..strip.len())
                    .flat_map(|stop| (0..rows).map(move |r| strip[(stop + r) % strip.len()]))
                    .collect::<Vec<Sym>>()
            })
            .collect::<Vec<_>>();
        let scatters_in_view = windows
            .iter()
            .map(|w| {
                w.chunks(rows)
                    .map(|view| view.iter().filter(|&&s| Some(s) == scatter).count() as u8)
                    .collect()
            })
            .collect();

        let symbol_ids = symbols
            .iter()
            .map(|s| SymbolId::new(s).ok_or_else(|| self.err("symbols", "symbol id too long")))
            .collect::<Checked<Vec<_>>>()?;
        let stop_ranges = strips
            .iter()
            .map(|strip| crate::rng::Below::new(strip.len() as u32))
            .collect();
        // rows <= MAX_ROWS and reels <= MAX_REELS (checked above): every cell fits in a u8.
        let line_cells = paylines
            .iter()
            .map(|line| {
                std::array::from_fn(|reel| match line.get(reel) {
                    Some(&row) => (reel * rows + row) as u8,
                    None => 0,
                })
            })
            .collect();
        let mut line_pay_table = vec![0u32; line_pays.len() * super::PAY_STRIDE];
        for (symbol, pays) in line_pays.iter().enumerate() {
            let at = symbol * super::PAY_STRIDE;
            line_pay_table[at..at + pays.len()].copy_from_slice(pays);
        }
        let game = SlotGame {
            id: raw.id,
            family: family.to_string(),
            variant,
            rtp,
            name,
            rows,
            symbols,
            symbol_ids,
            wild,
            scatter,
            strips,
            paylines,
            line_pays,
            line_pay_table,
            scatter_pays,
            free_spins,
            min_bet,
            max_bet,
            bet_step,
            target_rtp,
            windows,
            scatters_in_view,
            stop_ranges,
            line_cells,
            version: String::new(),
        };
        self.check_free_spins_end(&game)?;
        Ok(game)
    }

    fn check_id(&self, id: &str) -> Checked<()> {
        let snake = id.len() <= MAX_GAME_ID_LEN
            && id.starts_with(|c: char| c.is_ascii_lowercase())
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !snake {
            return Err(self.err(
                "id",
                format!("{id:?} must be snake_case (a-z, 0-9, _; starting with a letter), at most {MAX_GAME_ID_LEN} characters"),
            ));
        }
        Ok(())
    }

    /// `rtp_variant` is given once there are variants; variant ids are short, distinct and
    /// not the main one's.
    fn check_variant_ids(&self, main: Option<&str>, variants: &[RawVariant]) -> Checked<()> {
        let well_formed = is_variant_id;
        let rule = format!("must be 1 to {MAX_VARIANT_ID_LEN} characters of a-z and 0-9");
        if let Some(main) = main {
            if !well_formed(main) {
                return Err(self.err("rtp_variant", format!("{main:?} {rule}")));
            }
        } else if !variants.is_empty() {
            return Err(self.err(
                "rtp_variant",
                "missing: a game with [[variant]] names the variant its top-level reels make",
            ));
        }
        if variants.len() > MAX_VARIANTS {
            return Err(self.err(
                "variant",
                format!("at most {MAX_VARIANTS} variants besides the main one"),
            ));
        }
        let mut seen: HashSet<&str> = main.into_iter().collect();
        for (i, v) in variants.iter().enumerate() {
            if !well_formed(&v.id) {
                return Err(self.err(format!("variant[{i}].id"), format!("{:?} {rule}", v.id)));
            }
            if !seen.insert(&v.id) {
                return Err(self.err(
                    format!("variant[{i}].id"),
                    format!("{:?} is named twice in this game", v.id),
                ));
            }
        }
        Ok(())
    }

    /// The RTP a game states must lie in its own band (the PAR sheet checks the figure).
    fn check_stated_rtp(&self, text: &str, (min, max): (Decimal, Decimal)) -> Checked<Decimal> {
        let rtp = Decimal::from_str(text.trim())
            .map_err(|_| self.err("rtp", format!("{text:?} is not a decimal fraction")))?;
        if rtp < min || rtp > max {
            return Err(self.err(
                "rtp",
                format!("{rtp} is outside the game's target_rtp {min}..{max}"),
            ));
        }
        Ok(rtp)
    }

    fn check_count(&self, key: &str, value: u64, min: u64, max: u64) -> Checked<u64> {
        if value < min || value > max {
            return Err(self.err(key, format!("{value} is outside {min}..={max}")));
        }
        Ok(value)
    }

    fn check_symbols(&self, symbols: &[String]) -> Checked<Vec<String>> {
        if symbols.is_empty() || symbols.len() > MAX_SYMBOLS {
            return Err(self.err("symbols", format!("must list 1 to {MAX_SYMBOLS} symbols")));
        }
        let mut seen = HashSet::new();
        for (i, s) in symbols.iter().enumerate() {
            let valid = !s.is_empty()
                && s.len() <= MAX_SYMBOL_ID_LEN
                && s.starts_with(|c: char| c.is_ascii_uppercase())
                && s.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
            if !valid {
                return Err(self.err(
                    format!("symbols[{i}]"),
                    format!("{s:?} must be A-Z, 0-9 and _, starting with a letter, at most {MAX_SYMBOL_ID_LEN} characters"),
                ));
            }
            if !seen.insert(s.as_str()) {
                return Err(self.err(format!("symbols[{i}]"), format!("duplicate symbol {s:?}")));
            }
        }
        Ok(symbols.to_vec())
    }

    fn check_paylines(
        &self,
        raw: &[Vec<u64>],
        reels: usize,
        rows: usize,
    ) -> Checked<Vec<Vec<usize>>> {
        if raw.is_empty() || raw.len() > MAX_LINES {
            return Err(self.err("paylines", format!("must list 1 to {MAX_LINES} lines")));
        }
        if !divides_a_power_of_ten(raw.len() as u64) {
            return Err(self.err(
                "paylines",
                format!(
                    "{} lines: the number of lines may have no prime factors but 2 and 5, \
                     so that line pays ÷ lines is an exact decimal",
                    raw.len()
                ),
            ));
        }
        let mut lines: Vec<Vec<usize>> = Vec::with_capacity(raw.len());
        for (i, line) in raw.iter().enumerate() {
            if line.len() != reels {
                return Err(self.err(
                    format!("paylines[{i}]"),
                    format!(
                        "has {} rows, one per reel is needed ({reels} reels)",
                        line.len()
                    ),
                ));
            }
            for (j, &row) in line.iter().enumerate() {
                if row >= rows as u64 {
                    return Err(self.err(
                        format!("paylines[{i}][{j}]"),
                        format!("row {row} is outside 0..{rows}"),
                    ));
                }
            }
            let line: Vec<usize> = line.iter().map(|&r| r as usize).collect();
            if let Some(k) = lines.iter().position(|l| *l == line) {
                return Err(self.err(
                    format!("paylines[{i}]"),
                    format!("duplicates paylines[{k}]"),
                ));
            }
            lines.push(line);
        }
        Ok(lines)
    }

    fn check_paytable(
        &self,
        raw: &BTreeMap<String, BTreeMap<String, u64>>,
        symbols: &[String],
        reels: usize,
        scatter: Option<Sym>,
        find: &dyn Fn(&str, &str) -> Checked<Sym>,
    ) -> Checked<Vec<Vec<u32>>> {
        if raw.is_empty() {
            return Err(self.err("paytable", "no symbol pays on lines"));
        }
        let mut line_pays = vec![vec![0u32; reels + 1]; symbols.len()];
        for (id, pays) in raw {
            let key = format!("paytable.{id}");
            let sym = find(&key, id)?;
            if Some(sym) == scatter {
                return Err(self.err(key, "the scatter pays anywhere, not on lines"));
            }
            let table = self.check_count_table(&key, pays, 1, reels, MAX_LINE_PAY)?;
            // Every count from the smallest paying one up to the number of reels is given,
            // so a longer run never silently pays less.
            let (&smallest, _) = table
                .iter()
                .next()
                .ok_or_else(|| self.err(&key, "no pays"))?;
            let pays_of_symbol = &mut line_pays[sym as usize];
            for (count, slot) in pays_of_symbol.iter_mut().enumerate().skip(smallest) {
                match table.get(&count) {
                    Some(&pay) => *slot = pay,
                    None => {
                        return Err(self.err(
                            &key,
                            format!("no pay for {count} of a kind (every count from {smallest} to {reels} must be given)"),
                        ))
                    }
                }
            }
        }
        Ok(line_pays)
    }

    /// A `{ count = value }` table: counts in `min..=max`, values 1..=`max_value`, values not
    /// decreasing as the count grows.
    fn check_count_table(
        &self,
        key: &str,
        raw: &BTreeMap<String, u64>,
        min: usize,
        max: usize,
        max_value: u32,
    ) -> Checked<BTreeMap<usize, u32>> {
        let mut table = BTreeMap::new();
        for (count_text, &value) in raw {
            let entry_key = format!("{key}.{count_text}");
            let count: usize = count_text
                .parse()
                .map_err(|_| self.err(&entry_key, "keys must be counts such as 3"))?;
            if count < min || count > max {
                return Err(self.err(
                    &entry_key,
                    format!("count {count} is outside {min}..={max}"),
                ));
            }
            if value < 1 || value > u64::from(max_value) {
                return Err(self.err(&entry_key, format!("{value} is outside 1..={max_value}")));
            }
            table.insert(count, value as u32);
        }
        let mut previous: Option<(usize, u32)> = None;
        for (&count, &value) in &table {
            if let Some((prev_count, prev_value)) = previous {
                if value < prev_value {
                    return Err(self.err(
                        format!("{key}.{count}"),
                        format!("{value} is less than {prev_value} for {prev_count}: more must never pay less"),
                    ));
                }
            }
            previous = Some((count, value));
        }
        Ok(table)
    }

    fn check_free_spins(&self, raw: &RawFreeSpins, max_scatters: usize) -> Checked<FreeSpins> {
        let trigger =
            self.check_count("free_spins.trigger", raw.trigger, 1, max_scatters as u64)? as usize;
        let table = self.check_count_table(
            "free_spins.spins",
            &raw.spins,
            1,
            max_scatters,
            MAX_FREE_SPINS_AWARD,
        )?;
        match table.keys().next() {
            Some(&first) if first == trigger => {}
            Some(&first) if first < trigger => {
                return Err(self.err(
                    format!("free_spins.spins.{first}"),
                    format!("{first} scatters are below the trigger {trigger}"),
                ))
            }
            _ => {
                return Err(self.err(
                    "free_spins.spins",
                    format!("must give the spins for the trigger count {trigger}"),
                ))
            }
        }
        let multiplier = self.check_count(
            "free_spins.multiplier",
            raw.multiplier,
            1,
            MAX_MULTIPLIER.into(),
        )?;
        Ok(FreeSpins {
            trigger: trigger as u32,
            awards: expand_at_least(&table, max_scatters),
            multiplier: multiplier as u32,
            retrigger: raw.retrigger,
        })
    }

    /// With retriggers, free spins must award fewer than one free spin each on average
    /// (a < 1), or the expected bonus length a/(1−a) is infinite.
    fn check_free_spins_end(&self, game: &SlotGame) -> Checked<()> {
        let Some(fs) = game.free_spins.as_ref().filter(|fs| fs.retrigger) else {
            return Ok(());
        };
        let dist = game.scatter_count_distribution();
        let awarded: u128 = dist
            .iter()
            .enumerate()
            .map(|(n, &combos)| combos * u128::from(fs.spins_for(n as u32)))
            .sum();
        let cycle = game.cycle();
        if awarded >= cycle {
            let mean = Decimal::from_i128_with_scale((awarded * 1000 / cycle) as i128, 3);
            return Err(self.err(
                "free_spins",
                format!("with retrigger on, a spin awards {mean} free spins on average; it must be below 1 or the free spins never end on average"),
            ));
        }
        Ok(())
    }

    fn check_amount(&self, key: &str, text: &str) -> Checked<Decimal> {
        let trimmed = text.trim();
        let bad = || self.err(key, format!("{text:?} is not a decimal such as \"0.20\""));
        if trimmed.is_empty() || trimmed.contains(['e', 'E', '_']) {
            return Err(bad());
        }
        let value = Decimal::from_str(trimmed).map_err(|_| bad())?;
        if value <= Decimal::ZERO {
            return Err(self.err(key, format!("{value} must be greater than zero")));
        }
        if value.normalize().scale() > MAX_BET_DECIMALS {
            return Err(self.err(
                key,
                format!("{value} has more than {MAX_BET_DECIMALS} decimals"),
            ));
        }
        Ok(value)
    }

    fn check_bets(&self, min: Decimal, max: Decimal, step: Decimal, lines: usize) -> Checked<()> {
        if min > max {
            return Err(self.err("min_bet", format!("{min} is above max_bet {max}")));
        }
        if !(min % step).is_zero() {
            return Err(self.err(
                "min_bet",
                format!("{min} is not a multiple of bet_step {step}"),
            ));
        }
        if !(max % step).is_zero() {
            return Err(self.err(
                "max_bet",
                format!("{max} is not a multiple of bet_step {step}"),
            ));
        }
        // Every bet is then a whole number of cents per line, so bet × win_multiple is exact
        // in any currency with two or more decimals.
        let line_unit = Decimal::from(lines as u64) * Decimal::new(1, 2);
        if !(step % line_unit).is_zero() {
            return Err(self.err(
                "bet_step",
                format!("{step} is not a multiple of {line_unit} ({lines} lines × 0.01), so wins would need rounding"),
            ));
        }
        Ok(())
    }

    fn check_target_rtp(&self, raw: &RawRtpRange) -> Checked<(Decimal, Decimal)> {
        let parse = |key: &str, text: &str| -> Checked<Decimal> {
            let value = self.check_amount(key, text)?;
            if value > Decimal::ONE {
                return Err(self.err(key, format!("{value} is above 1")));
            }
            Ok(value)
        };
        let min = parse("target_rtp.min", &raw.min)?;
        let max = parse("target_rtp.max", &raw.max)?;
        if min > max {
            return Err(self.err(
                "target_rtp.min",
                format!("{min} is above target_rtp.max {max}"),
            ));
        }
        Ok((min, max))
    }
}

/// "n or more" tables: entry `n` of the result is the value of the largest key ≤ n (0 if none).
fn expand_at_least(table: &BTreeMap<usize, u32>, max: usize) -> Vec<u32> {
    (0..=max)
        .map(|n| table.range(..=n).next_back().map_or(0, |(_, &v)| v))
        .collect()
}

/// True when `n` divides some power of ten (only prime factors 2 and 5).
fn divides_a_power_of_ten(mut n: u64) -> bool {
    if n == 0 {
        return false;
    }
    for prime in [2, 5] {
        while n % prime == 0 {
            n /= prime;
        }
    }
    n == 1
}
