//! One player's WebSocket, as tokio-tungstenite speaks it over the connection actix-http handed
//! over at the upgrade: the buffer sizes and frame caps (each a constant that says why), and the
//! connection loop, the only code that touches the socket. It hands what the client sends to the
//! `PlayerSession` actor one message at a time (waiting for the actor to take each, so a flood
//! cannot pile up in its mailbox), writes what the connection's send queue holds in order, lets
//! a close the actor asks for at once jump the queue, and after a close frame reads on until
//! the client answers it (bounded), so the socket ends with a FIN, never a reset that could
//! destroy the close frame before the client reads it.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_util::sync::CancellationToken;

use crate::table::seat::Outbound;

/// Bytes read from the socket at once. Client frames are small (`session.max_frame_bytes`,
/// 4 KiB shipped; a spin is about 100 bytes); a bigger frame grows the buffer while it lasts.
/// Every idle connection keeps this much, so it is most of a connection's memory.
pub const READ_BUFFER: usize = 1024;
/// 0: each frame goes to the socket as it is sent (replies and pushes are single frames).
pub const WRITE_BUFFER: usize = 0;
/// Bytes a connection may have waiting for the kernel to take them: a client that stops
/// reading is dropped when its send queue fills, long before this.
pub const MAX_WRITE_BUFFER: usize = 256 * 1024;
/// After our close frame, how long the client has to answer it before the socket is dropped.
pub const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// After our close frame, the most frames read (and dropped) while waiting for the answer.
pub const CLOSE_DRAIN_FRAMES: usize = 1024;

/// The WebSocket settings of every player connection; `frame_cap` is
/// [`crate::server::HARD_FRAME_CAP`]: a message past it closes the connection (1009).
pub fn config(frame_cap: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
        .max_message_size(Some(frame_cap))
        .max_frame_size(Some(frame_cap))
}

/// A close frame with its code and reason.
pub fn close_frame(code: CloseCode, reason: &str) -> CloseFrame {
    CloseFrame {
        code,
        reason: reason.into(),
    }
}

/// What the socket gave: a message, a read error, or its end.
pub type Incoming = Option<Result<Message, WsError>>;

/// The connection loop's ends of what the actor holds: its send queue, its "close now", and
/// the signal that it is gone; and the node's pushes every player gets (jackpot values and
/// wins), written straight to the socket once the first frame (the welcome) is out.
pub struct Connection {
    pub queue: mpsc::Receiver<Outbound>,
    pub close_now: oneshot::Receiver<CloseFrame>,
    pub gone: CancellationToken,
    pub pushes: Option<BroadcastStream<Arc<str>>>,
}

/// The next push; a connection that lagged skips to the latest. `None`: no more pushes.
/// (A stream, not `recv()` per turn: a fresh `recv()` would take the channel's lock, shared by
/// every connection, each time the loop goes round.)
async fn next_push(pushes: &mut Option<BroadcastStream<Arc<str>>>) -> Option<Arc<str>> {
    let pushes = pushes.as_mut()?;
    loop {
        match pushes.next().await? {
            Ok(text) => return Some(text),
            Err(BroadcastStreamRecvError::Lagged(_)) => continue,
        }
    }
}

/// What one turn of the loop does.
enum Step {
    Send(Outbound),
    Read(Incoming),
    End,
}

/// Text of a frame as tungstenite sends it (one copy into a shared buffer).
fn text(text: &Arc<str>) -> Message {
    Message::Text(text.as_ref().into())
}

impl Connection {
    /// Runs the socket `ws` until it closes. `deliver` hands the actor one incoming message and
    /// says whether the actor took it (false: it is gone, read no more). Ends when a close
    /// frame has gone out, the socket ends or fails, or the actor is gone and the queue is
    /// empty; a close frame goes out then if none has, and the client's answer is awaited
    /// (at most [`CLOSE_GRACE`]).
    pub async fn run<S, F, Fut>(mut self, mut ws: S, mut deliver: F)
    where
        S: Stream<Item = Result<Message, WsError>> + Sink<Message, Error = WsError> + Unpin,
        F: FnMut(Incoming) -> Fut,
        Fut: Future<Output = bool>,
    {
        // Until the actor asks or drops its end (it does when it stops; queued frames go on).
        let mut may_close_now = true;
        let mut reading = true;
        let mut welcomed = false;
        loop {
            let step = tokio::select! {
                biased;
                close = &mut self.close_now, if may_close_now => match close {
                    Ok(frame) => Step::Send(Outbound::Close(Box::new(frame))),
                    Err(_) => {
                        may_close_now = false;
                        continue;
                    }
                },
                out = self.queue.recv() => out.map_or(Step::End, Step::Send),
                push = next_push(&mut self.pushes), if welcomed && self.pushes.is_some() => {
                    match push {
                        Some(text) => Step::Send(Outbound::Text(text)),
                        None => {
                            self.pushes = None;
                            continue;
                        }
                    }
                }
                incoming = ws.next(), if reading => Step::Read(incoming),
                _ = self.gone.cancelled() => Step::End,
            };
            match step {
                Step::Send(Outbound::Text(t)) => {
                    if ws.send(text(&t)).await.is_err() {
                        break;
                    }
                    welcomed = true;
                }
                Step::Send(Outbound::Close(frame)) => {
                    // Refused if the client closed first (tungstenite has answered it then).
                    let _ = ws.send(Message::Close(Some(*frame))).await;
                    break;
                }
                Step::Read(incoming) => {
                    // The end of the stream, or a read error: nothing more can be said.
                    let ended = !matches!(incoming, Some(Ok(_)));
                    let taken = deliver(incoming).await;
                    if ended {
                        break;
                    }
                    reading = taken;
                }
                Step::End => break,
            }
        }
        // A close frame unless one went out already, then the client's answer.
        let _ = ws.close().await;
        drain_until_closed(&mut ws).await;
    }
}

/// After our close frame: read (and drop) until the client's answer or the end of the stream,
/// at most [`CLOSE_DRAIN_FRAMES`] frames within [`CLOSE_GRACE`].
async fn drain_until_closed<S>(ws: &mut S)
where
    S: Stream<Item = Result<Message, WsError>> + Unpin,
{
    let drain = async {
        for _ in 0..CLOSE_DRAIN_FRAMES {
            match ws.next().await {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            }
        }
    };
    let _ = tokio::time::timeout(CLOSE_GRACE, drain).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_tungstenite::tungstenite::protocol::Role;
    use tokio_tungstenite::WebSocketStream;

    /// A connection's loop and the actor's three handles.
    fn connection() -> (
        Connection,
        mpsc::Sender<Outbound>,
        oneshot::Sender<CloseFrame>,
        CancellationToken,
    ) {
        let (out, queue) = mpsc::channel(8);
        let (close, close_now) = oneshot::channel();
        let gone = CancellationToken::new();
        let connection = Connection {
            queue,
            close_now,
            gone: gone.clone(),
            pushes: None,
        };
        (connection, out, close, gone)
    }

    /// A real WebSocket pair over an in-memory pipe: the server's end and a client's.
    async fn pair() -> (
        WebSocketStream<tokio::io::DuplexStream>,
        WebSocketStream<tokio::io::DuplexStream>,
    ) {
        let (server, client) = tokio::io::duplex(64 * 1024);
        let server = WebSocketStream::from_raw_socket(
            server,
            Role::Server,
            Some(config(crate::server::HARD_FRAME_CAP)),
        );
        let client = WebSocketStream::from_raw_socket(client, Role::Client, None);
        tokio::join!(server, client)
    }

    /// Everything the client reads until its socket ends (it answers a close, as clients do).
    async fn read_all(client: &mut WebSocketStream<tokio::io::DuplexStream>) -> Vec<Message> {
        let mut read = Vec::new();
        while let Some(Ok(message)) = client.next().await {
            read.push(message);
        }
        read
    }

    /// Runs the loop with an actor that records what it is handed and always takes it.
    async fn run_recording(
        connection: Connection,
        server: WebSocketStream<tokio::io::DuplexStream>,
    ) -> Vec<Incoming> {
        let handed = std::sync::Mutex::new(Vec::new());
        connection
            .run(server, |incoming| {
                handed.lock().unwrap().push(incoming);
                async { true }
            })
            .await;
        handed.into_inner().unwrap()
    }

    #[tokio::test]
    async fn frames_go_out_in_order_and_a_queued_close_is_answered_then_ends_the_loop() {
        let (connection, out, _close, _gone) = connection();
        let (server, mut client) = pair().await;
        for t in ["a", "b"] {
            out.try_send(Outbound::Text(Arc::from(t))).unwrap();
        }
        out.try_send(Outbound::Close(Box::new(close_frame(
            CloseCode::Away,
            "bye",
        ))))
        .unwrap();
        out.try_send(Outbound::Text(Arc::from("after"))).unwrap();
        let (_, read) = tokio::join!(run_recording(connection, server), read_all(&mut client));
        assert_eq!(
            read,
            vec![
                Message::Text("a".into()),
                Message::Text("b".into()),
                Message::Close(Some(close_frame(CloseCode::Away, "bye"))),
            ]
        );
    }

    #[tokio::test]
    async fn close_now_jumps_the_queue() {
        let (connection, out, close, _gone) = connection();
        let (server, mut client) = pair().await;
        out.try_send(Outbound::Text(Arc::from("queued"))).unwrap();
        close
            .send(close_frame(CloseCode::Policy, "send queue full"))
            .unwrap();
        let (_, read) = tokio::join!(run_recording(connection, server), read_all(&mut client));
        assert_eq!(
            read,
            vec![Message::Close(Some(close_frame(
                CloseCode::Policy,
                "send queue full"
            )))]
        );
    }

    #[tokio::test]
    async fn what_the_client_sends_reaches_the_actor_in_order_and_its_close_ends_it() {
        let (connection, _out, _close, _gone) = connection();
        let (server, mut client) = pair().await;
        let talk = async {
            client.send(Message::Text("one".into())).await.unwrap();
            client
                .send(Message::Binary(vec![1, 2].into()))
                .await
                .unwrap();
            client.close(None).await.unwrap();
            read_all(&mut client).await
        };
        let (handed, _) = tokio::join!(run_recording(connection, server), talk);
        let handed: Vec<String> = handed.iter().map(|m| format!("{m:?}")).collect();
        assert_eq!(handed.len(), 4, "{handed:?}");
        assert!(handed[0].contains("one"), "{handed:?}");
        assert!(handed[1].contains("Binary"), "{handed:?}");
        assert!(handed[2].contains("Close"), "{handed:?}");
        assert_eq!(handed[3], "None", "then the end of the stream");
    }

    #[tokio::test]
    async fn a_client_flooding_past_our_close_still_reads_the_close_frame() {
        let (connection, _out, close, _gone) = connection();
        let (server, mut client) = pair().await;
        for i in 0..200 {
            client
                .send(Message::Text(format!("f{i}").into()))
                .await
                .unwrap();
        }
        close
            .send(close_frame(CloseCode::Policy, "rate limit exceeded"))
            .unwrap();
        let (_, read) = tokio::join!(run_recording(connection, server), read_all(&mut client));
        assert_eq!(
            read.last(),
            Some(&Message::Close(Some(close_frame(
                CloseCode::Policy,
                "rate limit exceeded"
            ))))
        );
    }

    #[tokio::test]
    async fn an_actor_that_stops_after_queueing_a_close_still_gets_it_sent() {
        let (connection, out, close, gone) = connection();
        let (server, mut client) = pair().await;
        out.try_send(Outbound::Text(Arc::from("reconnect")))
            .unwrap();
        out.try_send(Outbound::Close(Box::new(close_frame(
            CloseCode::Away,
            "draining",
        ))))
        .unwrap();
        drop(close);
        gone.cancel();
        let (_, read) = tokio::join!(run_recording(connection, server), read_all(&mut client));
        assert_eq!(
            read,
            vec![
                Message::Text("reconnect".into()),
                Message::Close(Some(close_frame(CloseCode::Away, "draining"))),
            ]
        );
    }

    #[tokio::test]
    async fn a_gone_actor_ends_the_loop_once_the_queue_is_empty() {
        let (connection, out, _close, gone) = connection();
        let (server, mut client) = pair().await;
        out.try_send(Outbound::Text(Arc::from("last"))).unwrap();
        gone.cancel();
        let (_, read) = tokio::join!(run_recording(connection, server), read_all(&mut client));
        assert_eq!(
            read,
            vec![Message::Text("last".into()), Message::Close(None)]
        );
    }

    #[tokio::test]
    async fn pushes_wait_for_the_first_frame_and_a_lagging_connection_skips_ahead() {
        let (mut connection, out, close, _gone) = connection();
        let (events, rx) = tokio::sync::broadcast::channel(2);
        connection.pushes = Some(BroadcastStream::new(rx));
        for i in 0..4 {
            events
                .send(Arc::from(format!("jackpot {i}").as_str()))
                .unwrap();
        }
        let (server, mut client) = pair().await;
        let run = run_recording(connection, server);
        let talk = async {
            out.try_send(Outbound::Text(Arc::from("welcome"))).unwrap();
            let mut read = Vec::new();
            for _ in 0..3 {
                read.push(client.next().await.unwrap().unwrap());
            }
            close.send(close_frame(CloseCode::Normal, "done")).unwrap();
            read.extend(read_all(&mut client).await);
            read
        };
        let (_, read) = tokio::join!(run, talk);
        assert_eq!(
            read,
            vec![
                Message::Text("welcome".into()),
                // The first two were overwritten in the channel of two: skipped.
                Message::Text("jackpot 2".into()),
                Message::Text("jackpot 3".into()),
                Message::Close(Some(close_frame(CloseCode::Normal, "done"))),
            ]
        );
    }

    #[test]
    fn the_buffers_are_small_and_the_cap_is_the_hard_frame_cap() {
        let c = config(crate::server::HARD_FRAME_CAP);
        assert_eq!(c.read_buffer_size, READ_BUFFER);
        let default = WebSocketConfig::default().read_buffer_size;
        assert!(
            c.read_buffer_size * 32 <= default,
            "tungstenite's default is {default}"
        );
        assert_eq!(c.max_message_size, Some(crate::server::HARD_FRAME_CAP));
        assert_eq!(c.max_frame_size, Some(crate::server::HARD_FRAME_CAP));
    }
}
