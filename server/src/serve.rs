//! The HTTP server loop: accepts connections and serves the router on each,
//! with a header-read timeout, TCP_NODELAY and a graceful shutdown.
//!
//! `axum::serve` cannot set a header-read timeout, so a client that opens
//! connections and sends its request head slowly (or never) would hold them
//! forever ("slowloris"). hyper's HTTP/1 connection can: the timeout also
//! closes a kept-alive connection that stays idle that long.
//!
//! Only HTTP/1.1 is spoken: browsers use HTTP/2 only over TLS, which the
//! reverse proxy in front ends, and it talks HTTP/1.1 to us. Cleartext
//! HTTP/2 (h2c) would be a second protocol with no header-read timeout of
//! its own.

use std::{future::Future, io, time::Duration};

use axum::{
    body::Body,
    extract::{ConnectInfo, Request},
    Extension, Router,
};
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
    service::TowerToHyperService,
};
use tokio::net::TcpListener;
use tower::{Layer, ServiceExt};

/// Serves `router` on `listener` until `signal` resolves, then stops
/// accepting, calls `stopping` (so long-lived responses can end) and waits
/// for open connections to finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    header_read_timeout: Duration,
    signal: impl Future<Output = ()>,
    stopping: impl FnOnce(),
) -> io::Result<()> {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    let graceful = GracefulShutdown::new();
    let mut signal = std::pin::pin!(signal);

    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    pause_after(err).await;
                    continue;
                }
            },
            () = &mut signal => break,
        };
        // Without it, small responses wait for the client's delayed ACK
        // (Nagle's algorithm): ~40 ms per static file.
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!("cannot set TCP_NODELAY: {err}");
        }
        let service = Extension(ConnectInfo(remote))
            .layer(router.clone())
            .map_request(|request: Request<Incoming>| request.map(Body::new));
        let connection =
            builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(client = %remote, "connection ended: {err}");
            }
        });
    }

    drop(listener);
    tracing::info!("stopping: finishing open requests");
    stopping();
    graceful.shutdown().await;
    Ok(())
}

/// After a failed accept: a connection that died before we took it is
/// nothing; anything else (out of file descriptors…) would fail again at
/// once, so wait a little instead of spinning.
async fn pause_after(err: io::Error) {
    use io::ErrorKind::*;
    if matches!(
        err.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted
    ) {
        return;
    }
    tracing::error!("cannot accept a connection: {err}");
    tokio::time::sleep(Duration::from_millis(100)).await;
}
