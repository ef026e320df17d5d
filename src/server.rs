//! The HTTP listener: accepts TCP connections and serves each with hyper. It replaces poem's
//! own `Server` because that one cannot bound how long a client may take to send its request
//! headers: here hyper's header-read deadline closes a connection whose headers trickle in
//! (slowloris) and a keep-alive connection that starts no next request in time. Shutdown stops
//! accepting, lets in-flight requests finish within a grace period, then returns.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use poem::http::uri::Scheme;
use poem::web::{LocalAddr, RemoteAddr};
use poem::{Addr, Endpoint, Request};
use tokio::net::TcpListener;

/// Serves `app` on `listener` until `shutdown` completes, then waits at most `grace` for open
/// requests. `header_timeout` bounds the wait for a request's complete headers, counted from
/// when the connection is ready to read them (after accept, or after the previous response).
pub async fn serve(
    listener: TcpListener,
    app: impl Endpoint + 'static,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> std::io::Result<()> {
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
        let _ = stream.set_nodelay(true);
        let (app, local, builder, watcher) = (app.clone(), local.clone(), builder.clone(), graceful.watcher());
        let remote = RemoteAddr(Addr::SocketAddr(peer));
        let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let app = app.clone();
            let req = Request::from((req, local.clone(), remote.clone(), Scheme::HTTP));
            async move { Ok::<_, std::convert::Infallible>(hyper::Response::from(app.get_response(req).await)) }
        });
        tokio::spawn(async move {
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            if let Err(e) = watcher.watch(conn).await {
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
