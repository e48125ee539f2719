//! The listener: an accept loop of our own around hyper's HTTP/1
//! connection builder, with the axum [`Router`] as the service, behind a
//! [`Gate`] (the server's protocol checks, called per request). It puts
//! the limits `axum::serve` cannot set on every connection:
//!
//! - request headers must arrive within `header_read_timeout` of the
//!   connection opening or of their first byte; else the connection is
//!   closed and the peer logged, after a bare `408 Request Timeout` when
//!   part of a head had arrived (a client that sent nothing gets no
//!   answer to misread);
//! - an idle keep-alive connection is closed after `idle_timeout`;
//! - hyper's parser refuses heads above `2 × max_header_bytes` (or with
//!   more than `max_headers` fields) with a bare 431; the server's own
//!   check refuses those above `max_header_bytes` with an OperationOutcome;
//! - at the descriptor limit `accept` fails: that is logged and the loop
//!   backs off instead of spinning;
//! - on shutdown it stops accepting, closes idle connections at once, lets
//!   requests in flight finish within `shutdown_timeout`, then returns;
//! - with TLS ([`crate::tls`]), each connection's handshake must complete
//!   within `header_read_timeout`; a failed one (no, expired or foreign
//!   client certificate, no shared version or cipher suite) is logged
//!   with the peer's address and the reason, and the connection closed.
//!   The limits above then apply to the decrypted stream as to a plain one.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::response::Response;
use axum::Router;
use bytes::Bytes;
use http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt as _;

use crate::rewake::Rewake;

/// The connection limits, from `serve`'s flags.
#[derive(Debug, Clone)]
pub struct Limits {
    /// `--header-read-timeout`: from connect (or the first byte of a
    /// following request) to the end of the request head.
    pub header_read_timeout: Duration,
    /// `--idle-timeout`: how long a keep-alive connection may wait for its
    /// next request.
    pub idle_timeout: Duration,
    /// `--body-read-timeout`: how long reading one request body may take.
    pub body_read_timeout: Duration,
    /// `--max-header-bytes`: the request line and headers together.
    pub max_header_bytes: usize,
    /// `--max-headers`: header fields per request.
    pub max_headers: usize,
    /// `--shutdown-timeout`: how long requests in flight may take to finish.
    pub shutdown_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(75),
            body_read_timeout: Duration::from_secs(60),
            max_header_bytes: 64 * 1024,
            max_headers: 100,
            shutdown_timeout: Duration::from_secs(10),
        }
    }
}

/// hyper's read buffer may not be smaller than this.
const MIN_BUFFER: usize = 8192;
/// How often each connection's deadlines are looked at.
const TICK: Duration = Duration::from_millis(100);
/// The pause after `accept` failed for want of descriptors or memory.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(500);

/// A check every request passes before the router (the server's protocol
/// checks): `Some` is the answer that refuses it, and the router never
/// sees it. A plain call per request, where a middleware layer boxed a
/// future and cloned a boxed service.
pub type Gate = Arc<dyn Fn(&Request<Incoming>) -> Option<Response> + Send + Sync>;

/// Serves `router` (behind `gate`) on `listener` until `shutdown`
/// completes, then drains.
/// With `tls`, every connection is a TLS one (see [`crate::tls`]).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    gate: Gate,
    limits: Limits,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let tls = tls.map(tokio_rustls::TlsAcceptor::from);
    let mut builder = http1::Builder::new();
    let hard_limit = limits.max_header_bytes.saturating_mul(2).max(MIN_BUFFER);
    builder
        .timer(TokioTimer::new())
        // The deadlines are kept below, per connection phase: hyper's own
        // timer runs from the end of one answer to the next head, so it
        // cannot tell idling from sending slowly.
        .header_read_timeout(None)
        .max_headers(limits.max_headers)
        .max_header_size(hard_limit)
        .max_buf_size(hard_limit);
    let builder = Arc::new(builder);
    let limits = Arc::new(limits);
    let (stop_sender, stop) = tokio::sync::watch::channel(false);
    // Each connection task holds a sender; when all are gone, all are done.
    let (live, mut all_done) = tokio::sync::mpsc::channel::<()>(1);
    let mut shutdown = std::pin::pin!(shutdown);
    let mut exhausted_since: Option<Instant> = None;
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(error) if is_per_connection(&error) => {
                tracing::debug!("a connection failed before it was accepted: {error}");
                continue;
            }
            Err(error) => {
                if exhausted_since.is_none() {
                    tracing::error!(
                        "cannot accept connections: {error}{}; new clients wait in the backlog, retrying every {} ms",
                        if is_descriptor_limit(&error) {
                            " (the open-file limit is reached: raise `ulimit -n` or close connections)"
                        } else {
                            ""
                        },
                        ACCEPT_BACKOFF.as_millis()
                    );
                    exhausted_since = Some(Instant::now());
                }
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                }
            }
        };
        if let Some(since) = exhausted_since.take() {
            tracing::info!(
                "accepting connections again after {:.1} s",
                since.elapsed().as_secs_f64()
            );
        }
        let _ = stream.set_nodelay(true);
        let task = Connection {
            builder: builder.clone(),
            limits: limits.clone(),
            router: router.clone(),
            gate: gate.clone(),
            stop: stop.clone(),
            _live: live.clone(),
            peer,
        };
        match &tls {
            Some(acceptor) => {
                tokio::spawn(Rewake::new(task.run_tls(acceptor.clone(), stream)));
            }
            None => {
                tokio::spawn(Rewake::new(task.run(stream)));
            }
        }
    }
    drop(listener);
    let _ = stop_sender.send(true);
    drop(live);
    let timeout = limits.shutdown_timeout;
    tracing::info!(
        "shutting down: no new connections; requests in flight have {} s to finish",
        timeout.as_secs_f64()
    );
    if tokio::time::timeout(timeout, all_done.recv())
        .await
        .is_err()
    {
        tracing::warn!(
            "requests still in flight after {} s: closing them",
            timeout.as_secs_f64()
        );
    }
    Ok(())
}

/// Errors of one would-be connection, not of the listener.
fn is_per_connection(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
    )
}

/// EMFILE or ENFILE.
fn is_descriptor_limit(error: &io::Error) -> bool {
    matches!(error.raw_os_error(), Some(23 | 24))
}

struct Connection {
    builder: Arc<http1::Builder>,
    limits: Arc<Limits>,
    router: Router,
    gate: Gate,
    stop: tokio::sync::watch::Receiver<bool>,
    _live: tokio::sync::mpsc::Sender<()>,
    peer: SocketAddr,
}

impl Connection {
    /// The TLS handshake, within `header_read_timeout`, then [`Self::run`]
    /// on the decrypted stream. A failure is logged (peer and reason).
    async fn run_tls(self, acceptor: tokio_rustls::TlsAcceptor, stream: TcpStream) {
        let peer = self.peer;
        let timeout = self.limits.header_read_timeout;
        let mut stop = self.stop.clone();
        let handshake = tokio::select! {
            result = tokio::time::timeout(timeout, acceptor.accept(stream)) => result,
            _ = stop.changed() => return,
        };
        match handshake {
            Ok(Ok(stream)) => self.run(stream).await,
            Ok(Err(error)) => tracing::warn!(
                %peer,
                "TLS handshake failed: {}",
                crate::tls::handshake_failure(&error)
            ),
            Err(_) => tracing::warn!(
                %peer,
                "TLS handshake failed: not completed within {} s",
                timeout.as_secs_f64()
            ),
        }
    }

    async fn run<S>(self, stream: S)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let phase = Arc::new(Phase::new());
        let io = TokioIo::new(Watched {
            inner: stream,
            phase: phase.clone(),
        });
        let peer = self.peer;
        let router = self.router.clone();
        let gate = self.gate.clone();
        let service_phase = phase.clone();
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            service_phase.set(Phase::BUSY);
            request.extensions_mut().insert(ConnectInfo(peer));
            let phase = service_phase.clone();
            let answer = match gate(&request) {
                Some(refusal) => Err(refusal),
                None => Ok(router.clone().oneshot(request)),
            };
            async move {
                let response = match answer {
                    Ok(answer) => answer.await?,
                    Err(refusal) => refusal,
                };
                Ok::<_, std::convert::Infallible>(response.map(|body| {
                    Body::new(Tracked {
                        inner: body,
                        phase: Some(phase),
                    })
                }))
            }
        });
        // Unpin, so a connection cut off mid-head can give its socket back
        // for the 408 (`into_parts`).
        let mut connection = self.builder.serve_connection(io, service);
        let mut since = Since::new(&phase);
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut stopping = false;
        // One wait for the stop signal for the connection's life: made
        // afresh on every wake-up, it registered with (and left) the
        // signal's shared waiter list each time.
        let mut stop = self.stop.clone();
        let mut stopped = std::pin::pin!(stop.changed());
        loop {
            tokio::select! {
                // The connection first: it is what wakes the task nearly always.
                biased;
                result = &mut connection => {
                    if let Err(error) = result {
                        log_connection_error(peer, &error);
                    }
                    return;
                }
                changed = &mut stopped, if !stopping => {
                    stopping = true;
                    if changed.is_ok() {
                        // Idle connections close now; one with a request
                        // in flight closes after answering it.
                        std::pin::Pin::new(&mut connection).graceful_shutdown();
                    }
                }
                now = tick.tick() => {
                    let (current, elapsed) = since.observe(&phase, now);
                    if current == Phase::HEAD && elapsed > self.limits.header_read_timeout {
                        let partial = phase.partial();
                        tracing::warn!(
                            %peer,
                            "closed a connection: the request head did not arrive within {} s{}",
                            self.limits.header_read_timeout.as_secs_f64(),
                            if partial { " (answered 408)" } else { "" }
                        );
                        if partial {
                            request_timeout(connection.into_parts().io.into_inner()).await;
                        }
                        return;
                    }
                    if current == Phase::IDLE && elapsed > self.limits.idle_timeout {
                        tracing::debug!(
                            %peer,
                            "closed an idle keep-alive connection after {} s",
                            self.limits.idle_timeout.as_secs_f64()
                        );
                        return;
                    }
                }
            }
        }
    }
}

/// The answer to a head that stopped arriving: no body, and the socket
/// closes after it. Best effort within a second: the peer may be gone.
async fn request_timeout<S: AsyncWrite + Unpin>(mut socket: Watched<S>) {
    use tokio::io::AsyncWriteExt as _;
    const ANSWER: &[u8] =
        b"HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
    let write = async {
        socket.write_all(ANSWER).await?;
        socket.shutdown().await
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), write).await;
}

fn log_connection_error(peer: SocketAddr, error: &hyper::Error) {
    if error.is_parse_too_large() {
        tracing::warn!(%peer, "refused a request: its head is too large (431), connection closed");
    } else if error.is_parse() {
        tracing::warn!(%peer, "refused a malformed request (400), connection closed: {error}");
    } else if error.is_incomplete_message() || error.is_canceled() {
        tracing::debug!(%peer, "connection closed mid-request: {error}");
    } else {
        tracing::debug!(%peer, "connection ended: {error}");
    }
}

/// Where a connection is: waiting for a head, answering, or idle between
/// requests; and how many times that changed.
///
/// No clock is read when the phase changes (three times a request): the
/// connection's tick notes when it first sees a change (see [`Since`]), so
/// a phase's length is known to within one tick ([`TICK`]), well inside
/// timeouts counted in seconds. Reading the clock at every change cost
/// three `clock_gettime` calls a request, about 1 % of a small GET's CPU
/// in `perf`.
struct Phase {
    /// The phase in the low two bits, the count of changes above them.
    word: AtomicU64,
    /// Bytes arrived since the last change: a head is partly here.
    partial: AtomicBool,
}

impl Phase {
    const HEAD: u8 = 0;
    const BUSY: u8 = 1;
    const IDLE: u8 = 2;

    fn new() -> Self {
        Self {
            word: AtomicU64::new(u64::from(Self::HEAD)),
            partial: AtomicBool::new(false),
        }
    }

    /// The next change's word. Only the connection's own task changes the
    /// phase, so a load and a store do not race with another writer.
    fn next(word: u64, state: u8) -> u64 {
        ((word >> 2).wrapping_add(1) << 2) | u64::from(state)
    }

    fn set(&self, state: u8) {
        self.partial.store(false, Ordering::Relaxed);
        let word = self.word.load(Ordering::Relaxed);
        self.word.store(Self::next(word, state), Ordering::Release);
    }

    /// The phase and its change count, as one word ([`Phase::state_of`]).
    fn word(&self) -> u64 {
        self.word.load(Ordering::Acquire)
    }

    fn state_of(word: u64) -> u8 {
        (word & 0b11) as u8
    }

    /// Whether part of a head has arrived in this phase.
    fn partial(&self) -> bool {
        self.partial.load(Ordering::Relaxed)
    }

    /// Bytes arrived: an idle connection now waits for a head.
    fn received(&self) {
        self.partial.store(true, Ordering::Relaxed);
        let word = self.word.load(Ordering::Relaxed);
        if Self::state_of(word) == Self::IDLE {
            self.word
                .store(Self::next(word, Self::HEAD), Ordering::Release);
        }
    }
}

/// How long the connection has been in its phase, as its ticks see it: the
/// tick that first sees a new phase word starts the count.
struct Since {
    word: u64,
    at: tokio::time::Instant,
}

impl Since {
    fn new(phase: &Phase) -> Self {
        Self {
            word: phase.word(),
            at: tokio::time::Instant::now(),
        }
    }

    /// The phase now, and how long it has lasted at the tick `now`.
    fn observe(&mut self, phase: &Phase, now: tokio::time::Instant) -> (u8, Duration) {
        let word = phase.word();
        if word != self.word {
            self.word = word;
            self.at = now;
        }
        (
            Phase::state_of(word),
            now.saturating_duration_since(self.at),
        )
    }
}

/// The socket, telling [`Phase`] when bytes arrive.
struct Watched<S> {
    inner: S,
    phase: Arc<Phase>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.phase.received();
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// A response body that marks the connection idle once written (hyper
/// drops it then).
struct Tracked {
    inner: Body,
    phase: Option<Arc<Phase>>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if let Some(phase) = self.phase.take() {
            phase.set(Phase::IDLE);
        }
    }
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phase_lasts_from_the_tick_that_first_sees_it() {
        let phase = Phase::new();
        let start = tokio::time::Instant::now();
        let mut since = Since {
            word: phase.word(),
            at: start,
        };
        let later = |ms| start + Duration::from_millis(ms);
        assert_eq!(
            since.observe(&phase, later(100)),
            (Phase::HEAD, Duration::from_millis(100))
        );
        phase.set(Phase::BUSY);
        phase.set(Phase::IDLE);
        // Seen first at 200 ms: counted from there.
        assert_eq!(
            since.observe(&phase, later(200)),
            (Phase::IDLE, Duration::ZERO)
        );
        assert_eq!(
            since.observe(&phase, later(900)),
            (Phase::IDLE, Duration::from_millis(700))
        );
        // A new request between two ticks is a new phase, even if it is
        // idle again by the next tick.
        phase.received();
        phase.set(Phase::BUSY);
        phase.set(Phase::IDLE);
        assert_eq!(
            since.observe(&phase, later(1000)),
            (Phase::IDLE, Duration::ZERO)
        );
    }

    #[test]
    fn bytes_move_only_an_idle_connection_to_waiting_for_a_head() {
        let phase = Phase::new();
        phase.set(Phase::BUSY);
        let busy = phase.word();
        phase.received();
        assert_eq!(phase.word(), busy, "a busy connection stays busy");
        assert!(phase.partial());
        phase.set(Phase::IDLE);
        assert!(!phase.partial());
        phase.received();
        assert_eq!(Phase::state_of(phase.word()), Phase::HEAD);
        assert!(phase.partial());
    }
}
