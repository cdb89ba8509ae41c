//! The node's face: connections, frames, HTTP, error codes, readiness and build.

use prometheus::{IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Registry};

use super::{counter, counter_vec, gauge, gauge_vec};

pub struct ServerMetrics {
    pub ws_connections: IntGauge,
    pub ws_connections_opened: IntCounter,
    pub ws_messages_received: IntCounterVec,
    pub ws_messages_sent: IntCounter,
    pub ws_closed: IntCounterVec,
    pub errors: IntCounterVec,
    pub http_requests: IntCounterVec,
    pub sessions_opened: IntCounter,
    pub ready: IntGauge,
    pub build_info: IntGaugeVec,
}

impl ServerMetrics {
    pub(super) fn new(r: &Registry) -> Self {
        Self {
            ws_connections: gauge(
                r,
                "websocket_connections",
                "Open player WebSocket connections.",
            ),
            ws_connections_opened: counter(
                r,
                "websocket_connections_opened_total",
                "Player WebSocket connections accepted since start.",
            ),
            ws_messages_received: counter_vec(
                r,
                "websocket_messages_received_total",
                "Client frames received, by frame type (unknown types counted as 'invalid').",
                &["type"],
            ),
            ws_messages_sent: counter(
                r,
                "websocket_messages_sent_total",
                "Frames sent to players.",
            ),
            ws_closed: counter_vec(
                r,
                "websocket_closed_total",
                "Player connections closed, by reason.",
                &["reason"],
            ),
            errors: counter_vec(
                r,
                "errors_total",
                "Error replies sent to clients, by stable error code.",
                &["code"],
            ),
            http_requests: counter_vec(
                r,
                "http_requests_total",
                "HTTP requests served, by route and status class.",
                &["route", "status"],
            ),
            sessions_opened: counter(r, "sessions_opened_total", "Sessions opened over HTTP."),
            ready: gauge(
                r,
                "ready",
                "1 while the node accepts new players, 0 while starting or draining.",
            ),
            build_info: {
                let info = gauge_vec(
                    r,
                    "build_info",
                    "Always 1; labels carry the version of the running build.",
                    &["version"],
                );
                info.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
                info
            },
        }
    }
}
