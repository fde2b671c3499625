//! The connection loop: HTTP/1.1 over hyper, with the limits of [`ServerLimits`].
//!
//! `axum::serve` never times out a request's head, so a client sending a header line every few seconds keeps
//! its connection (and a file descriptor) forever; enough of them and the process can accept nothing else.
//! Here every connection must deliver each request head within `header_read_timeout` (hyper's own timer,
//! which is not reset by partial data), lives at most `max_connection_age`, and at most `max_connections`
//! are served at once: a permit is taken *before* accepting, so excess connections wait in the kernel's listen
//! backlog (costing this process nothing) until a served one closes, as Go's `netutil.LimitListener` does.
//!
//! Only HTTP/1.1 is spoken. A TLS-terminating proxy in front may offer HTTP/2 to browsers; cleartext HTTP/2
//! (h2c) would need the connection's first bytes read before any timeout applies.

use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

use crate::{AppState, ServerLimits, router};

/// Serves the application on `listener` until `shutdown` resolves, then stops accepting, lets every connection
/// finish its request in flight and returns when all are closed. Tests call this with a listener on port 0.
///
/// Handlers see the client's address as `ConnectInfo<SocketAddr>` (login throttling uses it).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.settings.server.clone();
    let app = router(state);
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (stop_tx, stop_rx) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout).keep_alive(limits.keep_alive);

    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    accept_failed(err).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        metrics::gauge!("govshare_http_connections").increment(1.0);
        let conn = Connection { app: app.clone(), remote, limits: limits.clone(), stop: stop_rx.clone() };
        let builder = builder.clone();
        tokio::spawn(async move {
            conn.run(&builder, stream).await;
            metrics::gauge!("govshare_http_connections").decrement(1.0);
            drop(permit);
        });
    }

    drop(listener);
    drop(stop_rx);
    // Every connection is told to finish; each holds a permit until it has closed.
    drop(stop_tx);
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _all_closed = permits.acquire_many(all).await.expect("the semaphore is never closed");
    Ok(())
}

/// Errors of `accept` are about one connection (reset before accept) or the process (out of file descriptors);
/// neither ends the server. After the latter, a short pause lets connections close.
async fn accept_failed(err: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(err.kind(), ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused) {
        return;
    }
    tracing::warn!(error = %err, "accepting a connection failed");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

struct Connection {
    app: Router,
    remote: SocketAddr,
    limits: ServerLimits,
    stop: watch::Receiver<()>,
}

impl Connection {
    async fn run(mut self, builder: &http1::Builder, stream: tokio::net::TcpStream) {
        let (app, remote) = (self.app, self.remote);
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let mut request = request.map(Body::new);
            request.extensions_mut().insert(ConnectInfo(remote));
            app.clone().oneshot(request)
        });
        let mut conn = pin!(builder.serve_connection(TokioIo::new(stream), service));
        let mut too_old = pin!(tokio::time::sleep(self.limits.max_connection_age));
        let mut closing = false;
        loop {
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(err) = result {
                        tracing::debug!(client = %remote, error = %err, "connection ended with an error");
                    }
                    return;
                }
                // Shutdown (the sender is dropped) or the connection's age: finish the request in flight, then close.
                _ = self.stop.changed(), if !closing => {
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
                () = &mut too_old, if !closing => {
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}
