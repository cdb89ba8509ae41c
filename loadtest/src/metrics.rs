//! Run-wide measurements shared by all virtual players: HDR latency histograms per request type
//! (sharded so thousands of players do not queue on one lock, and never one per player: a
//! histogram is ~150 KiB), counters, error frames by code and connection failures by reason.

use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Largest latency a histogram holds (µs); larger values are clamped to it.
const HIST_MAX_US: u64 = 10 * 60 * 1_000_000;
/// Significant digits of the histograms (0.1 % resolution).
const HIST_SIGFIG: u8 = 3;
/// Histogram shards: players record into shard `player % SHARDS`.
const SHARDS: usize = 8;

/// The request types latency is measured for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A spin (or an echo round trip): from the scheduled send time in open loop, from the send
    /// in closed loop, to its reply (including reconnects and resends).
    Spin,
    /// A spin from the moment it was actually sent to its reply (service time, open loop).
    SpinService,
    /// A `balance` request (the audit).
    Balance,
    /// `POST /v1/sessions`.
    Session,
    /// WebSocket connect: TCP, upgrade and the `welcome` frame.
    Connect,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Spin,
        Kind::SpinService,
        Kind::Balance,
        Kind::Session,
        Kind::Connect,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Spin => "spin",
            Kind::SpinService => "spin_service",
            Kind::Balance => "balance",
            Kind::Session => "session",
            Kind::Connect => "connect",
        }
    }
}

type Hists = [Histogram<u64>; 5];

fn new_hist() -> Histogram<u64> {
    // The bounds are constants that hdrhistogram accepts; failure would be a programming error.
    Histogram::new_with_bounds(1, HIST_MAX_US, HIST_SIGFIG).expect("valid histogram bounds")
}

fn new_hists() -> Hists {
    [new_hist(), new_hist(), new_hist(), new_hist(), new_hist()]
}

/// Every counter of a run. Cheap to update from any task.
pub struct Metrics {
    start: Instant,
    shards: Vec<Mutex<Hists>>,
    /// Spin replies (or echo round trips) received.
    pub spins: AtomicU64,
    /// Of those, free spins.
    pub free_spins: AtomicU64,
    /// Players that got a session (server mode) or were created (echo mode).
    pub sessions: AtomicU64,
    /// Players whose start (session and first connect) is over, successful or not.
    pub started: AtomicU64,
    /// WebSockets open right now, and the most at once.
    pub connected: AtomicI64,
    pub connected_peak: AtomicI64,
    /// Resends of a `req_id` after a dropped connection or reply timeout (chaos drops included).
    pub retries: AtomicU64,
    /// Connections dropped on purpose by `--chaos-drop`.
    pub chaos_drops: AtomicU64,
    /// Connections lost without us asking (closed, reset, timed out) while a request was out.
    pub drops: AtomicU64,
    /// Of those, reply timeouts.
    pub timeouts: AtomicU64,
    /// Resends of the same `req_id` after `server_busy` / `service_unavailable`.
    pub busy_retries: AtomicU64,
    /// Exactly-once probes (a second resend of a retried `req_id`) and how many differed.
    pub replay_checks: AtomicU64,
    pub replay_mismatches: AtomicU64,
    /// `reconnect` pushes received (server draining or shutting down).
    pub reconnect_pushes: AtomicU64,
    /// The per-connection rate limit (frames/s) the server announced in `welcome`; 0 if none.
    pub server_rate_limit: AtomicU64,
    /// Frames that answered nothing we were waiting for.
    pub unexpected_frames: AtomicU64,
    /// Error frames (all codes) and connection failures (all reasons).
    pub error_frames: AtomicU64,
    pub connection_failures: AtomicU64,
    errors: Mutex<BTreeMap<String, u64>>,
    failures: Mutex<BTreeMap<String, u64>>,
    first_spin_us: AtomicU64,
    last_reply_us: AtomicU64,
    /// Spins counted and time (µs) when ramp-up ended: the start of the steady-state window.
    steady_spins: AtomicU64,
    steady_us: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        Metrics {
            start: Instant::now(),
            shards: (0..SHARDS).map(|_| Mutex::new(new_hists())).collect(),
            spins: AtomicU64::new(0),
            free_spins: AtomicU64::new(0),
            sessions: AtomicU64::new(0),
            started: AtomicU64::new(0),
            connected: AtomicI64::new(0),
            connected_peak: AtomicI64::new(0),
            retries: AtomicU64::new(0),
            chaos_drops: AtomicU64::new(0),
            drops: AtomicU64::new(0),
            timeouts: AtomicU64::new(0),
            busy_retries: AtomicU64::new(0),
            replay_checks: AtomicU64::new(0),
            replay_mismatches: AtomicU64::new(0),
            reconnect_pushes: AtomicU64::new(0),
            server_rate_limit: AtomicU64::new(0),
            unexpected_frames: AtomicU64::new(0),
            error_frames: AtomicU64::new(0),
            connection_failures: AtomicU64::new(0),
            errors: Mutex::new(BTreeMap::new()),
            failures: Mutex::new(BTreeMap::new()),
            first_spin_us: AtomicU64::new(u64::MAX),
            last_reply_us: AtomicU64::new(0),
            steady_spins: AtomicU64::new(0),
            steady_us: AtomicU64::new(u64::MAX),
        }
    }

    /// Records one latency of `kind` for player `player`.
    pub fn record(&self, player: usize, kind: Kind, d: Duration) {
        let us = (d.as_micros().min(u128::from(HIST_MAX_US)) as u64).max(1);
        let mut shard = lock(&self.shards[player % SHARDS]);
        shard[kind as usize].saturating_record(us);
    }

    /// Marks a spin sent at `at` (for the throughput window).
    pub fn spin_sent(&self, at: Instant) {
        let us = at.saturating_duration_since(self.start).as_micros() as u64;
        self.first_spin_us.fetch_min(us, Relaxed);
    }

    /// Marks a spin reply received at `at`.
    pub fn spin_replied(&self, at: Instant) {
        let us = at.saturating_duration_since(self.start).as_micros() as u64;
        self.last_reply_us.fetch_max(us, Relaxed);
        self.spins.fetch_add(1, Relaxed);
    }

    /// From the first spin sent to the last spin reply received.
    pub fn spin_window(&self) -> Duration {
        let (a, b) = (
            self.first_spin_us.load(Relaxed),
            self.last_reply_us.load(Relaxed),
        );
        if a == u64::MAX || b <= a {
            Duration::ZERO
        } else {
            Duration::from_micros(b - a)
        }
    }

    /// Marks the end of ramp-up: throughput after it is the steady-state figure.
    pub fn mark_steady(&self) {
        self.steady_spins.store(self.spins.load(Relaxed), Relaxed);
        let us = self.start.elapsed().as_micros() as u64;
        self.steady_us.store(us, Relaxed);
    }

    /// When the steady-state window began (time since the run's clock started), if it did.
    pub fn steady_since(&self) -> Option<Duration> {
        let us = self.steady_us.load(Relaxed);
        (us != u64::MAX).then(|| Duration::from_micros(us))
    }

    /// Spins/s from the end of ramp-up to the last spin reply, if that window exists.
    pub fn steady_throughput(&self) -> Option<f64> {
        let from = self.steady_us.load(Relaxed);
        let to = self.last_reply_us.load(Relaxed);
        if from == u64::MAX || to <= from {
            return None;
        }
        let n = self.spins.load(Relaxed) - self.steady_spins.load(Relaxed);
        Some(n as f64 / ((to - from) as f64 / 1e6))
    }

    pub fn error_frame(&self, code: &str) {
        self.error_frames.fetch_add(1, Relaxed);
        *lock(&self.errors).entry(code.to_owned()).or_insert(0) += 1;
    }

    pub fn connection_failure(&self, reason: &str) {
        self.connection_failures.fetch_add(1, Relaxed);
        *lock(&self.failures).entry(reason.to_owned()).or_insert(0) += 1;
    }

    pub fn connection_opened(&self) {
        let now = self.connected.fetch_add(1, Relaxed) + 1;
        self.connected_peak.fetch_max(now, Relaxed);
    }

    pub fn connection_closed(&self) {
        self.connected.fetch_sub(1, Relaxed);
    }

    pub fn errors_by_code(&self) -> BTreeMap<String, u64> {
        lock(&self.errors).clone()
    }

    pub fn failures_by_reason(&self) -> BTreeMap<String, u64> {
        lock(&self.failures).clone()
    }

    /// All shards of one request type merged.
    pub fn histogram(&self, kind: Kind) -> Histogram<u64> {
        let mut out = new_hist();
        for s in &self.shards {
            // Same bounds on both sides: add cannot fail.
            let _ = out.add(&lock(s)[kind as usize]);
        }
        out
    }

    /// Time since the metrics were created (the run's clock).
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }
}

/// A poisoned lock only means another player panicked mid-record; the counts are still usable.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Latency figures of one request type, in milliseconds.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct LatencySummary {
    pub count: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl LatencySummary {
    pub fn of(h: &Histogram<u64>) -> Self {
        let ms = |us: u64| us as f64 / 1000.0;
        LatencySummary {
            count: h.len(),
            mean_ms: h.mean() / 1000.0,
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_merge_across_shards() {
        let m = Metrics::new();
        for p in 0..100 {
            m.record(p, Kind::Spin, Duration::from_millis(p as u64 + 1));
        }
        let h = m.histogram(Kind::Spin);
        assert_eq!(h.len(), 100);
        let s = LatencySummary::of(&h);
        assert!(s.p50_ms >= 49.0 && s.p50_ms <= 51.0, "{s:?}");
        assert!(s.max_ms >= 99.0);
        assert_eq!(m.histogram(Kind::Balance).len(), 0);
    }

    #[test]
    fn errors_by_code() {
        let m = Metrics::new();
        m.error_frame("rate_limited");
        m.error_frame("rate_limited");
        m.error_frame("internal");
        let e = m.errors_by_code();
        assert_eq!(e.get("rate_limited"), Some(&2));
        assert_eq!(m.error_frames.load(Relaxed), 3);
    }
}
