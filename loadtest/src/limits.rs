//! Every bound of the load tester, each a named constant that says why it is there, plus the
//! start-up checks of the machine's own limits: open files (RLIMIT_NOFILE, raised where the hard
//! limit allows) and local ports, so a player count that cannot be reached is refused up front.

use std::time::Duration;

/// Most virtual players in one run: each is one WebSocket (one fd here, one on the server) and the
/// ephemeral port range of one client address toward one target is ~28k ports on Linux.
pub const MAX_PLAYERS: usize = 50_000;
/// Longest spin phase: a load test that runs longer is a soak test and wants its own tooling.
pub const MAX_DURATION: Duration = Duration::from_secs(3600);
/// Longest ramp-up: past this the run is not a load test any more.
pub const MAX_RAMP_UP: Duration = Duration::from_secs(600);
/// Most spins one player makes (bounds a `--spins-per-player` run that has no duration).
pub const MAX_SPINS_PER_PLAYER: u64 = 10_000_000;
/// Highest open-loop rate (spins/s over all players); far above what two cores can do.
pub const MAX_RATE: f64 = 1_000_000.0;
/// Most `--target` URLs.
pub const MAX_TARGETS: usize = 64;
/// Hard stop of a whole run whatever the flags say, so nothing runs unattended forever.
pub const DEFAULT_MAX_RUN_TIME: Duration = Duration::from_secs(3600);

/// One HTTP session request (`POST /v1/sessions`, `GET /v1/games`).
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts to open one player's session before the player counts as failed.
pub const SESSION_ATTEMPTS: u32 = 3;
/// WebSocket connect: TCP + upgrade + the `welcome` frame.
pub const WS_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Waiting for one reply; past it the connection counts as dropped and the request is resent
/// with the same `req_id` on a new connection.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// Reconnects (with a resend of the same `req_id`) for one request before the player gives up.
pub const MAX_RECONNECTS_PER_REQUEST: u32 = 5;
/// Pause before reconnect attempt n is n times this (linear back-off).
pub const RECONNECT_BACKOFF: Duration = Duration::from_millis(100);
/// Resends of one `req_id` after `server_busy` / `service_unavailable`.
pub const MAX_BUSY_RETRIES: u32 = 20;
/// Closed loop: each player sends at most this fraction of the per-connection rate the server
/// announces in `welcome` (`limits.rate_per_second`), so an unthrottled loop measures the server
/// instead of its rate limiter (resends and probes need the margin).
pub const RATE_LIMIT_MARGIN: f64 = 0.9;
/// Pause after `server_busy` / `service_unavailable` / `internal` before trying again.
pub const BUSY_BACKOFF: Duration = Duration::from_millis(50);
/// Error frames in a row after which a player stops (something is wrong with the setup).
pub const MAX_CONSECUTIVE_ERRORS: u32 = 50;
/// The money audit (resolve unanswered spins, fetch every balance) must finish within this.
pub const AUDIT_TIMEOUT: Duration = Duration::from_secs(120);
/// Extra time after the spin phase for in-flight requests (and their retries) to finish.
pub const DRAIN_GRACE: Duration = Duration::from_secs(60);
/// Connection attempts (TCP + upgrade) under way at once: a burst of thousands of SYNs overflows
/// the server's listen backlog (somaxconn) and costs 1 s SYN retries.
pub const DEFAULT_CONNECT_CONCURRENCY: usize = 128;
/// HTTP session requests under way at once (each a ledger write on the server; too few and
/// thousands of players take longer to get a session than the ramp-up lasts).
pub const SESSION_CONCURRENCY: usize = 128;
/// Idle HTTP keep-alive connections kept per target (bounds the fds HTTP uses).
pub const HTTP_POOL_IDLE_PER_HOST: usize = 128;
/// File descriptors the tester needs besides its players (runtime, stdio, HTTP pool, slack).
pub const FD_OVERHEAD: u64 = 64 + SESSION_CONCURRENCY as u64 + HTTP_POOL_IDLE_PER_HOST as u64;

/// WebSocket read buffer: tokio-tungstenite ≥ 0.25 allocates 128 KiB per connection by default,
/// 640 MiB for 5,000 players; frames here are under 4 KiB (`max_frame_bytes` of croupier).
pub const WS_READ_BUFFER: usize = 4 * 1024;
/// Write buffer target: 0 writes each frame out at once (we flush after every frame anyway).
pub const WS_WRITE_BUFFER: usize = 0;
/// Write buffer cap: back-pressure instead of unbounded growth when the peer stops reading.
pub const WS_MAX_WRITE_BUFFER: usize = 256 * 1024;
/// Largest message accepted (a `history` reply of 50 rounds is ~30 KiB).
pub const WS_MAX_MESSAGE: usize = 1024 * 1024;

/// Echo server: most connections at once.
pub const ECHO_MAX_CONNECTIONS: usize = 60_000;
/// Echo server: file descriptors it needs besides its connections.
pub const ECHO_FD_OVERHEAD: u64 = 32;
/// Echo server: a connection silent this long is closed.
pub const ECHO_IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// Echo server started from the command line exits after this unless told otherwise.
pub const ECHO_DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);
/// Echo server: longest lifetime that may be asked for.
pub const ECHO_MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// The small-buffer WebSocket configuration both the tester and the echo server use.
pub fn ws_config() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(WS_READ_BUFFER)
        .write_buffer_size(WS_WRITE_BUFFER)
        .max_write_buffer_size(WS_MAX_WRITE_BUFFER)
        .max_message_size(Some(WS_MAX_MESSAGE))
        .max_frame_size(Some(WS_MAX_MESSAGE))
}

/// What the open-files limit looked like, and what it is now.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct FdLimits {
    pub soft_before: u64,
    pub soft: u64,
    pub hard: u64,
}

/// Raises the soft RLIMIT_NOFILE to the hard limit (never lowers it).
pub fn raise_nofile() -> std::io::Result<FdLimits> {
    let (soft_before, hard) = rlimit::Resource::NOFILE.get()?;
    let soft = if soft_before < hard {
        rlimit::increase_nofile_limit(hard)?
    } else {
        soft_before
    };
    Ok(FdLimits {
        soft_before,
        soft,
        hard,
    })
}

/// Local ports Linux hands out to outgoing connections (`ip_local_port_range`), if readable.
pub fn ephemeral_ports() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let mut it = s.split_whitespace().map(|x| x.parse::<u64>());
    let (lo, hi) = (it.next()?.ok()?, it.next()?.ok()?);
    hi.checked_sub(lo).map(|d| d + 1)
}

/// Why a requested player count cannot be reached on this machine, if it cannot.
pub fn check_capacity(players: usize, targets: usize, fds: &FdLimits) -> Result<(), String> {
    let needed = players as u64 + FD_OVERHEAD;
    if needed > fds.soft {
        return Err(format!(
            "{players} players need about {needed} open files (one socket each plus {FD_OVERHEAD} \
             for the runtime and HTTP), but RLIMIT_NOFILE is soft {} / hard {} (soft was {} at \
             start and cannot go above the hard limit). Raise the hard limit (ulimit -Hn as root, \
             /etc/security/limits.conf or LimitNOFILE= in systemd), or run fewer players per \
             tester process. Note that the server needs as many open files too.",
            fds.soft, fds.hard, fds.soft_before
        ));
    }
    if let Some(ports) = ephemeral_ports() {
        // One local port per connection toward one target address; spread over the targets.
        let per_target = players.div_ceil(targets.max(1)) as u64;
        if per_target + FD_OVERHEAD > ports {
            return Err(format!(
                "{per_target} connections to one target need as many local ports, but \
                 net.ipv4.ip_local_port_range gives only {ports}: widen it, or add targets \
                 (other ports or 127.0.0.x addresses)"
            ));
        }
    }
    Ok(())
}

/// Linux errno values the failure table names (std exposes them only as raw numbers).
const ENFILE: i32 = 23;
const EMFILE: i32 = 24;
const EADDRNOTAVAIL: i32 = 99;

/// A short reason for an I/O error, naming the limits that matter for a load test.
pub fn io_reason(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(EMFILE) => {
            return "too many open files (EMFILE: RLIMIT_NOFILE of this process)".into()
        }
        Some(ENFILE) => return "system file table full (ENFILE: fs.file-max)".into(),
        Some(EADDRNOTAVAIL) => {
            return "no free local port (EADDRNOTAVAIL: ip_local_port_range)".into()
        }
        _ => {}
    }
    use std::io::ErrorKind as K;
    match e.kind() {
        K::ConnectionRefused => "connection refused".into(),
        K::ConnectionReset => "connection reset".into(),
        K::ConnectionAborted => "connection aborted".into(),
        K::BrokenPipe => "broken pipe".into(),
        K::TimedOut => "timed out".into(),
        K::UnexpectedEof => "closed mid-frame".into(),
        k => format!("io: {k}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_refuses_with_a_reason() {
        let fds = FdLimits {
            soft_before: 1024,
            soft: 4096,
            hard: 4096,
        };
        let err = check_capacity(10_000, 1, &fds).expect_err("must refuse");
        assert!(err.contains("RLIMIT_NOFILE"), "{err}");
        assert!(check_capacity(100, 1, &fds).is_ok());
    }

    #[test]
    fn small_buffers() {
        let c = ws_config();
        assert_eq!(c.read_buffer_size, WS_READ_BUFFER);
        assert!(c.read_buffer_size < 128 * 1024);
    }
}
