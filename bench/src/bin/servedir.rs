//! The site's static files served by tower-http's `ServeDir`, with the
//! build's precompressed `.br`/`.gz` files: what loadtest's `static` phase
//! compares the server's in-memory files against (bench/README.md).
//!
//! ```sh
//! servedir --root target/site --addr 127.0.0.1:3100
//! ```
//!
//! Only what a static server needs, and the same year-long `Cache-Control`
//! the site's server sends for fingerprinted files, so the comparison is of
//! the file serving alone.

use std::{net::SocketAddr, path::PathBuf, process::ExitCode};

use axum::{
    http::{header, HeaderValue},
    serve::ListenerExt,
    Router,
};
use tower_http::{services::ServeDir, set_header::SetResponseHeaderLayer};

#[tokio::main]
async fn main() -> ExitCode {
    let mut root = None;
    let mut addr = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--root" => root = args.next().map(PathBuf::from),
            "--addr" => addr = args.next().and_then(|a| a.parse::<SocketAddr>().ok()),
            _ => {}
        }
    }
    let (Some(root), Some(addr)) = (root, addr) else {
        eprintln!("usage: servedir --root DIR --addr HOST:PORT");
        return ExitCode::from(2);
    };
    let files = ServeDir::new(root).precompressed_br().precompressed_gzip();
    let app = Router::new()
        .fallback_service(files)
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        ));
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("servedir: cannot listen on {addr}: {err}");
            return ExitCode::FAILURE;
        }
    };
    // As the site's server does: small answers must not wait for a delayed ACK.
    let listener = listener.tap_io(|stream| {
        let _ = stream.set_nodelay(true);
    });
    match axum::serve(listener, app).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("servedir: {err}");
            ExitCode::FAILURE
        }
    }
}
