//! The HTTP listener: accepts TCP connections and serves each with hyper. It replaces poem's
//! own `Server` because that one cannot bound how long a client may take to send its request
//! headers. Here a connection must deliver its first request's headers within the header
//! deadline counted from accept (a socket that never sends a byte is closed too), hyper's
//! header-read deadline then closes a keep-alive connection that starts no next request in time
//! (and headers that trickle in), and connections are capped in total and per client address,
//! the excess refused at accept before it costs more than its socket. Shutdown stops accepting,
//! lets in-flight requests finish within a grace period, then returns.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use poem::http::uri::Scheme;
use poem::web::{LocalAddr, RemoteAddr};
use poem::{Addr, Endpoint, Request};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

use crate::telemetry::metrics::{CONNECTIONS_OPEN, CONNECTIONS_REFUSED};
use crate::limits::ProxyNet;

/// How many connections may be open at once.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    pub total: usize,
    pub per_ip: usize,
    /// How long the client may leave what the server sends unread before the kernel gives up on
    /// the connection: a stalled live stream is dropped, not held open.
    pub stalled_client: Duration,
    /// Reverse proxies carry many clients' connections: they count towards the total only.
    pub exempt: Vec<ProxyNet>,
}

#[derive(Default)]
struct OpenConnections {
    total: usize,
    by_ip: HashMap<IpAddr, usize>,
}

struct Admission {
    limits: ConnectionLimits,
    open: Mutex<OpenConnections>,
}

/// A place among the open connections, given back when the connection ends.
struct Slot {
    admission: Arc<Admission>,
    ip: Option<IpAddr>,
}

impl Admission {
    fn admit(self: &Arc<Self>, peer: IpAddr) -> Result<Slot, &'static str> {
        let key = crate::limits::ip_key(peer);
        let per_ip = !self.limits.exempt.iter().any(|net| net.contains(&peer));
        let mut open = self.open.lock().expect("connection counts are never poisoned");
        if open.total >= self.limits.total {
            return Err("total");
        }
        if per_ip {
            let n = open.by_ip.entry(key).or_default();
            if *n >= self.limits.per_ip {
                return Err("per_ip");
            }
            *n += 1;
        }
        open.total += 1;
        metrics::gauge!(CONNECTIONS_OPEN).set(open.total as f64);
        Ok(Slot { admission: self.clone(), ip: per_ip.then_some(key) })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.admission.open.lock().expect("connection counts are never poisoned");
        open.total -= 1;
        if let Some(ip) = self.ip
            && let Some(n) = open.by_ip.get_mut(&ip)
        {
            *n -= 1;
            if *n == 0 {
                open.by_ip.remove(&ip);
            }
        }
        metrics::gauge!(CONNECTIONS_OPEN).set(open.total as f64);
    }
}

/// Answers a connection past the caps without reading from it, and closes it.
fn refuse(stream: TcpStream, reason: &'static str) {
    const BODY: &str = r#"{"error":{"code":"too_many_connections","message":"too many open connections; retry shortly"}}"#;
    metrics::counter!(CONNECTIONS_REFUSED, "reason" => reason).increment(1);
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{BODY}",
        BODY.len()
    );
    // Best effort: a socket whose buffer is full just gets closed.
    let _ = stream.try_write(answer.as_bytes());
}

/// Serves `app` on `listener` until `shutdown` completes, then waits at most `grace` for open
/// requests. `header_timeout` bounds the wait for a request's complete headers, counted from
/// accept for the first request and from the previous response for the next ones.
pub async fn serve(
    listener: TcpListener,
    app: impl Endpoint + 'static,
    header_timeout: Duration,
    connection_limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> std::io::Result<()> {
    let admission = Arc::new(Admission { limits: connection_limits, open: Mutex::default() });
    let app = Arc::new(app);
    let local = LocalAddr(Addr::SocketAddr(listener.local_addr()?));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(header_timeout);
    let builder = Arc::new(builder);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);

    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                // Out of file descriptors or a connection reset before accept: keep serving.
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let slot = match admission.admit(peer.ip()) {
            Ok(slot) => slot,
            Err(reason) => {
                tracing::debug!(%peer, reason, "connection refused: too many open");
                refuse(stream, reason);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        // A stream's body is pulled by the socket: one whose client stops reading waits on a
        // full window, costing only its buffers, until the kernel gives up on it.
        if let Err(e) = socket2::SockRef::from(&stream).set_tcp_user_timeout(Some(admission.limits.stalled_client)) {
            tracing::debug!(error = %e, "TCP_USER_TIMEOUT not set");
        }
        let (app, local, builder, watcher) = (app.clone(), local.clone(), builder.clone(), graceful.watcher());
        let remote = RemoteAddr(Addr::SocketAddr(peer));
        let first_request = Arc::new(Notify::new());
        let request_seen = first_request.clone();
        let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            request_seen.notify_one();
            let app = app.clone();
            let req = Request::from((req, local.clone(), remote.clone(), Scheme::HTTP));
            async move { Ok::<_, std::convert::Infallible>(hyper::Response::from(app.get_response(req).await)) }
        });
        tokio::spawn(async move {
            let _slot = slot;
            let conn = watcher.watch(builder.serve_connection_with_upgrades(TokioIo::new(stream), service));
            tokio::pin!(conn);
            // hyper's own header deadline starts only once bytes arrive (and the HTTP/1-or-2
            // detection before it waits without one), so the first request's deadline is kept
            // here, from accept.
            let ended = tokio::select! {
                ended = &mut conn => Some(ended),
                first = tokio::time::timeout(header_timeout, first_request.notified()) => match first {
                    Ok(()) => None,
                    Err(_) => {
                        tracing::debug!(%peer, "no request headers within the header timeout; closing");
                        return;
                    }
                },
            };
            let ended = match ended {
                Some(ended) => ended,
                None => conn.await,
            };
            if let Err(e) = ended {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }

    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(grace) => tracing::warn!("shutdown grace period over; closing the remaining connections"),
    }
    Ok(())
}
