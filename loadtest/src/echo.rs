//! The transport ceiling: a minimal WebSocket echo server on the same stack as the tester
//! (tokio + tokio-tungstenite, small buffers). It greets each connection with a `welcome` frame
//! like croupier does, then sends every text or binary frame back unchanged.

use crate::limits;
use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;

/// The greeting frame (the tester reads one `welcome` after every connect).
pub const WELCOME: &str = r#"{"type":"welcome","mode":"echo"}"#;
/// Upgrade handshake must finish within this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Counters of an echo server.
#[derive(Debug, Default)]
pub struct EchoStats {
    pub accepted: AtomicU64,
    pub refused_over_limit: AtomicU64,
    pub handshake_failures: AtomicU64,
    /// accept() failures (EMFILE and friends): those clients wait in the backlog and time out.
    pub accept_errors: AtomicU64,
    pub frames: AtomicU64,
    pub open: AtomicI64,
    pub open_peak: AtomicI64,
}

/// A running echo server.
pub struct EchoServer {
    pub addr: SocketAddr,
    pub stats: Arc<EchoStats>,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl EchoServer {
    /// Binds `addr` (e.g. `127.0.0.1:0`) and starts serving on the current runtime.
    pub async fn bind(addr: SocketAddr, max_connections: usize) -> std::io::Result<EchoServer> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let stats = Arc::new(EchoStats::default());
        let (shutdown, rx) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, stats.clone(), max_connections, rx));
        Ok(EchoServer {
            addr,
            stats,
            shutdown,
            task,
        })
    }

    /// The URL to pass as `--target` with `--echo`.
    pub fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// Stops accepting, closes every connection, and waits (bounded) for the accept loop.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = timeout(Duration::from_secs(5), self.task).await;
    }
}

async fn accept_loop(
    listener: TcpListener,
    stats: Arc<EchoStats>,
    max_connections: usize,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.wait_for(|s| *s) => return,
        };
        let stream = match accepted {
            Ok((s, _)) => s,
            Err(e) => {
                // EMFILE and friends: say so once, back off a little instead of spinning.
                if stats.accept_errors.fetch_add(1, Relaxed) == 0 {
                    eprintln!(
                        "echo server: accept failed: {} — clients wait in the backlog and time out",
                        crate::limits::io_reason(&e)
                    );
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if stats.open.load(Relaxed) >= max_connections as i64 {
            stats.refused_over_limit.fetch_add(1, Relaxed);
            drop(stream);
            continue;
        }
        stats.accepted.fetch_add(1, Relaxed);
        let stats = stats.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let now = stats.open.fetch_add(1, Relaxed) + 1;
            stats.open_peak.fetch_max(now, Relaxed);
            serve(stream, &stats, shutdown).await;
            stats.open.fetch_sub(1, Relaxed);
        });
    }
}

async fn serve(stream: TcpStream, stats: &EchoStats, mut shutdown: watch::Receiver<bool>) {
    let _ = stream.set_nodelay(true);
    let handshake = timeout(
        HANDSHAKE_TIMEOUT,
        tokio_tungstenite::accept_async_with_config(stream, Some(limits::ws_config())),
    )
    .await;
    let mut ws = match handshake {
        Ok(Ok(ws)) => ws,
        _ => {
            stats.handshake_failures.fetch_add(1, Relaxed);
            return;
        }
    };
    if ws.send(Message::text(WELCOME)).await.is_err() {
        return;
    }
    loop {
        let next = tokio::select! {
            n = timeout(limits::ECHO_IDLE_TIMEOUT, ws.next()) => Some(n),
            r = shutdown.wait_for(|s| *s) => {
                drop(r);
                None
            }
        };
        let msg = match next {
            None => {
                let _ = timeout(Duration::from_secs(1), ws.close(None)).await;
                return;
            }
            Some(Ok(Some(Ok(m)))) => m,
            // Idle, closed or broken: done.
            _ => return,
        };
        match msg {
            Message::Text(_) | Message::Binary(_) => {
                stats.frames.fetch_add(1, Relaxed);
                if ws.send(msg).await.is_err() {
                    return;
                }
            }
            // Close is answered by tungstenite; the next read ends the loop. Pings likewise.
            _ => {}
        }
    }
}
