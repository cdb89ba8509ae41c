//! The one wall clock of croupier: Unix time in milliseconds (ledger timestamps, round
//! deadlines, session records) and in seconds (token expiry). Pure code takes time as an
//! argument; only the shells read this clock.

/// Milliseconds since the Unix epoch (0 if the system clock is before it).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Seconds since the Unix epoch (0 if the system clock is before it).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn both_clocks_read_the_same_time() {
        let (ms, s) = (super::now_ms(), super::unix_now());
        assert!(ms > 1_700_000_000_000, "after 2023: {ms}");
        assert!((ms / 1000 - s as i64).abs() <= 1);
    }
}
