//! TLS on the players' listener: certificate reloads, a renewal that does not load, expiry.

use prometheus::{IntCounter, IntGauge, Registry};

use super::{counter, gauge};

/// Cloned into the reloader task (prometheus handles are shared counters).
#[derive(Clone)]
pub struct TlsMetrics {
    pub reloads: IntCounter,
    pub failing: IntGauge,
    pub not_after: IntGauge,
}

impl TlsMetrics {
    pub(super) fn new(r: &Registry) -> Self {
        Self {
            reloads: counter(
                r,
                "tls_certificate_reloads_total",
                "Times a changed certificate and key were loaded and served to new connections.",
            ),
            failing: gauge(
                r,
                "tls_reload_failing",
                "1 while the certificate files on disk do not load (the previous pair is still \
                 served), 0 otherwise.",
            ),
            not_after: gauge(
                r,
                "tls_certificate_not_after_timestamp_seconds",
                "notAfter of the certificate served on the players' listener, Unix seconds \
                 (0 without TLS).",
            ),
        }
    }
}
