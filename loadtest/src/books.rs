//! The tester's own money books for one virtual player, and the money audit that compares them
//! with the server: start balance − Σ bet + Σ win must equal the server's balance, to the cent.
//! Each spin is booked at most once: spins carry increasing sequence numbers (their `req_id` is
//! built from it), so a replayed reply for an already booked spin is recognised and ignored.

use crate::protocol::SpinResult;
use rust_decimal::Decimal;
use serde::Serialize;

/// One player's books.
#[derive(Debug, Clone)]
pub struct Books {
    pub start: Decimal,
    pub bets: Decimal,
    pub wins: Decimal,
    pub spins: u64,
    pub free_spins: u64,
    /// Sequence number of the last booked spin.
    last_seq: Option<u64>,
    /// Spin results whose `balance` disagreed with the books right after booking them.
    pub drift: Vec<String>,
    /// Paid spins that debited another amount than the bet we asked for.
    pub bet_mismatches: Vec<String>,
}

/// Most drift / bet-mismatch notes kept per player (the counts stay exact in the audit).
const MAX_NOTES: usize = 5;

/// What booking a spin result did.
#[derive(Debug, PartialEq, Eq)]
pub enum Booked {
    New,
    /// This `req_id` was booked before: the reply is a replay and changes nothing.
    Duplicate,
}

impl Books {
    pub fn new(start: Decimal) -> Self {
        Books {
            start,
            bets: Decimal::ZERO,
            wins: Decimal::ZERO,
            spins: 0,
            free_spins: 0,
            last_seq: None,
            drift: Vec::new(),
            bet_mismatches: Vec::new(),
        }
    }

    /// start − Σ bet + Σ win.
    pub fn expected(&self) -> Decimal {
        self.start - self.bets + self.wins
    }

    /// Books the result `r` of spin `seq` with the amounts the server reported, once per spin,
    /// and cross-checks the `balance` it carries and the amount it debited against `asked_bet`.
    pub fn book_spin(&mut self, seq: u64, asked_bet: Decimal, r: &SpinResult) -> Booked {
        // A jackpot is credited on top of the slot win: the balance includes both.
        let (req_id, bet, win, free_spin) = (&r.req_id, r.bet, r.credited(), r.free_spin);
        let server_balance = r.balance;
        if self.last_seq.is_some_and(|last| seq <= last) {
            return Booked::Duplicate;
        }
        self.last_seq = Some(seq);
        self.bets += bet;
        self.wins += win;
        self.spins += 1;
        if free_spin {
            self.free_spins += 1;
        }
        let expected_debit = if free_spin { Decimal::ZERO } else { asked_bet };
        if bet != expected_debit && self.bet_mismatches.len() < MAX_NOTES {
            self.bet_mismatches.push(format!(
                "{req_id}: debited {bet}, expected {expected_debit} (free_spin={free_spin})"
            ));
        }
        if self.expected() != server_balance && self.drift.len() < MAX_NOTES {
            self.drift.push(format!(
                "{req_id}: server balance {server_balance}, books {}",
                self.expected()
            ));
        }
        Booked::New
    }
}

/// One player whose books and server balance differ.
#[derive(Debug, Clone, Serialize)]
pub struct Mismatch {
    pub player_id: String,
    #[serde(with = "rust_decimal::serde::str")]
    pub expected: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub server: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub difference: Decimal,
    pub spins: u64,
}

/// The money audit of a whole run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Audit {
    /// False in echo mode (no money moves).
    pub performed: bool,
    /// Players with a session, whose books must match.
    pub players: u64,
    pub matched: u64,
    pub mismatches: Vec<Mismatch>,
    /// Players whose balance could not be fetched, or whose last spin stayed unanswered: their
    /// money is unproven, which fails the audit too.
    pub unverified: Vec<String>,
    /// Spin results whose `balance` disagreed with the books as they came in.
    pub drift_notes: Vec<String>,
    /// Paid spins that debited another amount than asked.
    pub bet_mismatch_notes: Vec<String>,
    #[serde(with = "rust_decimal::serde::str")]
    pub total_bets: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub total_wins: Decimal,
    /// Sum of start − bets + wins over all players (what the server should hold for them).
    #[serde(with = "rust_decimal::serde::str")]
    pub total_expected: Decimal,
    /// Exactly-once violations: a resent `req_id` whose reply differed from the first one.
    pub replay_mismatches: u64,
}

/// How one player's audit ended.
#[derive(Debug, Clone)]
pub enum PlayerAudit {
    /// The server's balance, fetched at the end.
    Balance(Decimal),
    /// Could not be fetched (reason).
    Unverified(String),
}

impl Audit {
    /// Adds one player's books and the audit outcome.
    pub fn add(&mut self, player_id: &str, books: &Books, outcome: PlayerAudit) {
        self.players += 1;
        self.total_bets += books.bets;
        self.total_wins += books.wins;
        self.total_expected += books.expected();
        for n in &books.drift {
            self.drift_notes.push(format!("{player_id} {n}"));
        }
        for n in &books.bet_mismatches {
            self.bet_mismatch_notes.push(format!("{player_id} {n}"));
        }
        match outcome {
            PlayerAudit::Balance(server) if server == books.expected() => self.matched += 1,
            PlayerAudit::Balance(server) => self.mismatches.push(Mismatch {
                player_id: player_id.to_owned(),
                expected: books.expected(),
                server,
                difference: server - books.expected(),
                spins: books.spins,
            }),
            PlayerAudit::Unverified(why) => self.unverified.push(format!("{player_id}: {why}")),
        }
    }

    /// True when every player's money is proven right.
    pub fn passed(&self) -> bool {
        !self.performed
            || (self.mismatches.is_empty()
                && self.unverified.is_empty()
                && self.drift_notes.is_empty()
                && self.bet_mismatch_notes.is_empty()
                && self.replay_mismatches == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).expect("decimal")
    }

    fn r(req_id: &str, bet: &str, win: &str, free_spin: bool, balance: &str) -> SpinResult {
        SpinResult {
            req_id: req_id.into(),
            round_id: None,
            game: None,
            bet: d(bet),
            win: d(win),
            balance: d(balance),
            free_spin,
            jackpot_wins: Vec::new(),
        }
    }

    #[test]
    fn a_jackpot_counts_as_credited() {
        let mut b = Books::new(d("1000.00"));
        let mut won = r("s1", "1.00", "0.50", false, "1011.50");
        won.jackpot_wins.push(crate::protocol::JackpotWin {
            level: "mini".into(),
            amount: d("12.00"),
        });
        b.book_spin(1, d("1.00"), &won);
        assert_eq!(b.expected(), d("1011.50"));
    }

    #[test]
    fn books_count_each_req_id_once() {
        let mut b = Books::new(d("1000.00"));
        assert_eq!(
            b.book_spin(1, d("1.00"), &r("s1", "1.00", "0.00", false, "999.00")),
            Booked::New
        );
        assert_eq!(
            b.book_spin(1, d("1.00"), &r("s1", "1.00", "0.00", false, "999.00")),
            Booked::Duplicate
        );
        // A free spin debits nothing.
        b.book_spin(2, d("1.00"), &r("s2", "0.00", "2.50", true, "1001.50"));
        assert_eq!(b.expected(), d("1001.50"));
        assert_eq!(b.spins, 2);
        assert_eq!(b.free_spins, 1);
        assert!(b.drift.is_empty() && b.bet_mismatches.is_empty());
    }

    #[test]
    fn drift_and_wrong_debit_are_noted() {
        let mut b = Books::new(d("10.00"));
        b.book_spin(1, d("1.00"), &r("s1", "2.00", "0.00", false, "9.00"));
        assert_eq!(b.bet_mismatches.len(), 1);
        assert_eq!(b.drift.len(), 1);
    }

    #[test]
    fn audit_to_the_cent() {
        let mut b = Books::new(d("100.00"));
        b.book_spin(1, d("0.10"), &r("s1", "0.10", "0.00", false, "99.90"));
        let mut a = Audit {
            performed: true,
            ..Audit::default()
        };
        a.add("p1", &b, PlayerAudit::Balance(d("99.9")));
        a.add("p2", &b, PlayerAudit::Balance(d("99.89")));
        assert_eq!(a.matched, 1);
        assert_eq!(a.mismatches.len(), 1);
        assert_eq!(a.mismatches[0].difference, d("-0.01"));
        assert!(!a.passed());
        let mut ok = Audit {
            performed: true,
            ..Audit::default()
        };
        ok.add("p1", &b, PlayerAudit::Balance(d("99.90")));
        assert!(ok.passed());
        ok.add("p3", &b, PlayerAudit::Unverified("timeout".into()));
        assert!(!ok.passed());
    }
}
