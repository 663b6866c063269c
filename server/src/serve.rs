//! The HTTP accept loop: what `axum::serve` does, plus the limits that keep connections which
//! send nothing from locking everyone else out.
//!
//! With `axum::serve` (axum 0.8), a connection that never sends a byte, or trickles a header,
//! stays open for ever: hyper's header-read timeout needs a timer, which `axum::serve` does not
//! give it. 1,100 such sockets used up a 1,024 open-file limit, after which every new client was
//! refused without a log line.
//! Here each connection has a deadline for its request head, one address may hold only so many
//! connections, a lack of file descriptors is logged, and shutdown has a deadline of its own: a
//! client holding a half-sent request kept the process alive until it left.

use std::{
    collections::HashMap,
    future::Future,
    io,
    net::{IpAddr, SocketAddr},
    num::NonZeroUsize,
    pin::{Pin, pin},
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::Duration,
};

use axum::{Router, extract::ConnectInfo, http::Request};
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore, watch},
    task::JoinSet,
    time::Instant,
};
use tower::ServiceExt;
use tower_http::timeout::TimeoutBody;

use crate::edge;

/// How long accepting pauses after it failed for want of a resource (file descriptors, buffers,
/// memory). The pending connections wait in the kernel's backlog; retrying at once would spin on
/// the same error.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// Bounds on connections, so that idle or abusive clients cannot exhaust the process's file
/// descriptors or hold up a shutdown.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// How long a connection has to send a complete request head (also between two requests on a
    /// kept-alive connection), and a new Engine.IO session has to join the Socket.io namespace.
    /// Past it the connection is closed: a client that sends nothing holds no descriptor for long.
    pub handshake_timeout: Duration,
    /// Most connections one IP address may hold open at once (WebSockets included); past it new
    /// ones are closed as soon as they are accepted. `None`: no cap. Behind a reverse proxy every
    /// client has the proxy's address, so the cap must be raised or lifted there.
    pub max_per_ip: Option<NonZeroUsize>,
    /// Most connections the server holds open at once, from everyone; past it new ones are
    /// closed as soon as they are accepted. `None`: no cap.
    pub max_connections: Option<NonZeroUsize>,
    /// Reverse proxies whose `X-Forwarded-For` names the client. Their connections are not
    /// capped per address (every client behind them shares it); the budgets per address apply
    /// to the forwarded client address instead.
    pub trusted_proxies: Vec<IpAddr>,
    /// How long shutdown waits for sockets and requests to finish before it cuts them and `run`
    /// returns: a client holding a half-sent request must not keep the process alive.
    pub shutdown_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            handshake_timeout: Duration::from_secs(10),
            max_per_ip: NonZeroUsize::new(256),
            max_connections: NonZeroUsize::new(100_000),
            trusted_proxies: Vec::new(),
            shutdown_timeout: Duration::from_secs(5),
        }
    }
}

/// Raises this process's soft limit on open files to the hard limit, and returns the new soft
/// limit. Every connection is a file descriptor, and the usual soft limit (1,024) is far below
/// what the server can hold (the hard limit is often 500 times higher).
pub fn raise_open_file_limit() -> io::Result<u64> {
    rlimit::increase_nofile_limit(u64::MAX)
}

/// Serves `app` on `listener` until `shutdown` resolves; then stops accepting, runs
/// `close_sockets`, lets open requests finish, and returns once all connections have closed or
/// `limits.shutdown_timeout` has passed since `shutdown` resolved, whichever comes first (the
/// connections still open are then closed).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: &ConnectionLimits,
    shutdown: impl Future<Output = ()>,
    close_sockets: impl Future<Output = ()>,
) {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.handshake_timeout);
    let per_ip = limits.max_per_ip.map(OpenPerIp::new);
    let open = limits
        .max_connections
        .map(|max| Arc::new(Semaphore::new(max.get())));
    let trusted: Arc<[IpAddr]> = limits.trusted_proxies.iter().copied().collect();
    // Each connection task watches this and finishes its current request when it turns true.
    let (draining, drain) = watch::channel(false);
    // Dropping the set aborts every task still in it: that is how a shutdown past its deadline
    // closes the connections that did not finish.
    let mut connections = JoinSet::new();
    let mut shutdown = pin!(shutdown);

    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            Some(finished) = connections.join_next(), if !connections.is_empty() => {
                log_panic(finished);
                continue;
            }
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) if is_connection_error(&error) => continue,
                Err(error) => {
                    if out_of_descriptors(&error) {
                        crate::throttled!(
                            error,
                            %error,
                            "cannot accept connections: out of file descriptors; new clients \
                             wait until some close (raise the open-file limit, or lower \
                             --max-connections-per-ip)"
                        );
                    } else {
                        crate::throttled!(warn, %error, "accept failed");
                    }
                    // Out of descriptors, buffers or memory: accepting again at once would spin.
                    tokio::select! {
                        () = tokio::time::sleep(ACCEPT_PAUSE) => {}
                        () = &mut shutdown => break,
                    }
                    continue;
                }
            },
        };
        let place = match &open {
            None => None,
            Some(open) => match open.clone().try_acquire_owned() {
                Ok(place) => Some(place),
                Err(_) => {
                    crate::throttled!(
                        warn,
                        peer = %peer.ip(),
                        "refused a connection: the server holds the most allowed \
                         (--max-connections)"
                    );
                    continue;
                }
            },
        };
        let permit = match &per_ip {
            Some(per_ip) if !trusted.contains(&peer.ip().to_canonical()) => {
                match per_ip.admit(peer.ip()) {
                    Ok(permit) => Some(permit),
                    Err(open) => {
                        crate::throttled!(
                            warn,
                            peer = %peer.ip(),
                            open,
                            "refused a connection: this address already holds the most allowed \
                             (--max-connections-per-ip)"
                        );
                        continue;
                    }
                }
            }
            _ => None,
        };
        // Chat packets are small and latency matters: send each one now, not when Nagle's
        // algorithm has gathered enough (on loopback that waits up to the 40 ms delayed ACK).
        if let Err(error) = stream.set_nodelay(true) {
            tracing::warn!(%error, "could not set TCP_NODELAY");
        }
        let io = TokioIo::new(Connection {
            stream,
            _permits: (permit, place),
        });
        // Each request carries the client's address, for the budgets per address, and its body
        // a deadline: a client that announces a body and stops sending is cut off, as one that
        // stops in its head is.
        let trusted = trusted.clone();
        let body_timeout = limits.handshake_timeout;
        let tagged = app
            .clone()
            .map_request(move |mut request: Request<Incoming>| {
                let client = edge::client_address(peer.ip(), request.headers(), &trusted);
                let client = SocketAddr::new(client, peer.port());
                request.extensions_mut().insert(ConnectInfo(client));
                request.map(|body| TimeoutBody::new(body_timeout, body))
            });
        let connection = http
            .serve_connection(io, TowerToHyperService::new(tagged))
            .with_upgrades();
        let mut drain = drain.clone();
        connections.spawn(async move {
            let mut connection = pin!(connection);
            tokio::select! {
                result = connection.as_mut() => return log_closed(peer, result),
                _ = drain.wait_for(|draining| *draining) => {}
            }
            connection.as_mut().graceful_shutdown();
            log_closed(peer, connection.await);
        });
    }

    drop(listener);
    let deadline = Instant::now() + limits.shutdown_timeout;
    let drained = tokio::time::timeout_at(deadline, async {
        close_sockets.await;
        draining.send_replace(true);
        while let Some(finished) = connections.join_next().await {
            log_panic(finished);
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            timeout = ?limits.shutdown_timeout,
            "shutdown deadline passed; closing the connections still open"
        );
    }
}

fn log_closed(peer: SocketAddr, result: hyper::Result<()>) {
    if let Err(error) = result {
        tracing::debug!(%peer, %error, "connection closed with an error");
    }
}

fn log_panic(finished: Result<(), tokio::task::JoinError>) {
    if let Err(error) = finished
        && error.is_panic()
    {
        tracing::error!(%error, "a connection task panicked");
    }
}

/// EMFILE: this process's limit; ENFILE: the system's. Both pass once connections close.
fn out_of_descriptors(error: &io::Error) -> bool {
    matches!(error.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

/// Errors about one connection that went away before it was accepted: nothing to report.
fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Open connections per client address, shared by the accept loop and the connections' permits.
#[derive(Debug)]
struct OpenPerIp {
    max: usize,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl OpenPerIp {
    fn new(max: NonZeroUsize) -> Self {
        Self {
            max: max.get(),
            open: Arc::default(),
        }
    }

    /// A permit for one more connection from `ip`, or the number it already holds.
    fn admit(&self, ip: IpAddr) -> Result<IpPermit, usize> {
        // An IPv4 client of a dual-stack socket arrives as ::ffff:a.b.c.d; count it as a.b.c.d.
        let ip = ip.to_canonical();
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = open.entry(ip).or_default();
        if *count >= self.max {
            return Err(*count);
        }
        *count += 1;
        Ok(IpPermit {
            ip,
            open: Arc::clone(&self.open),
        })
    }
}

/// One open connection counted against its address; dropping it gives the place back.
#[derive(Debug)]
struct IpPermit {
    ip: IpAddr,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl Drop for IpPermit {
    fn drop(&mut self) {
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// A TCP stream carrying its places: its address's and the server's. hyper hands the stream
/// itself to the WebSocket after an upgrade, so the places are held exactly as long as the
/// socket, whatever speaks on it.
#[derive(Debug)]
struct Connection {
    stream: TcpStream,
    _permits: (Option<IpPermit>, Option<OwnedSemaphorePermit>),
}

impl AsyncRead for Connection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_gets_its_places_back_when_connections_close() {
        let per_ip = OpenPerIp::new(NonZeroUsize::new(2).expect("non-zero"));
        let ip: IpAddr = "192.0.2.1".parse().expect("ip");
        let other: IpAddr = "192.0.2.2".parse().expect("ip");
        let first = per_ip.admit(ip).expect("first");
        let _second = per_ip.admit(ip).expect("second");
        assert_eq!(per_ip.admit(ip).err(), Some(2));
        let _elsewhere = per_ip
            .admit(other)
            .expect("another address is not affected");
        drop(first);
        let _third = per_ip.admit(ip).expect("a place was given back");
    }

    #[test]
    fn mapped_ipv4_counts_as_ipv4() {
        let per_ip = OpenPerIp::new(NonZeroUsize::new(1).expect("non-zero"));
        let _v4 = per_ip.admit("192.0.2.1".parse().expect("ip")).expect("v4");
        assert_eq!(
            per_ip.admit("::ffff:192.0.2.1".parse().expect("ip")).err(),
            Some(1)
        );
    }
}
